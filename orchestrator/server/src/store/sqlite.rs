//! The embedded store: one SQLite file in WAL mode. A process crash loses nothing committed
//! (WAL with `synchronous = NORMAL` is durable against process death; an OS crash may lose the
//! last group commit), and group commit makes one transaction carry many transitions.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use std::collections::HashMap;

use sqlx::{ConnectOptions, QueryBuilder, Row, Sqlite, SqlitePool};

use super::*;

/// Bound parameters per statement (SQLite allows 32,766).
pub(super) const CHUNK: usize = 840;

/// An execution's row while a batch is applied in memory.
struct Head<'a> {
    version: i64,
    next_event_id: i64,
    step_events: i64,
    status: ExecutionStatus,
    /// Whether a transition of the batch applied, so the row needs writing.
    changed: bool,
    cursor: Option<&'a Cursor>,
    finish: Option<&'a Finish>,
}

/// SQLite-backed [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
    /// For an in-memory database, a connection outside the pool that keeps it alive. sqlx
    /// closes a pooled connection that fails its release check (a query cancelled mid-flight,
    /// say a long poll whose client went away) and opens another; the database is shared-cache
    /// memory named by sqlx, so it survives that only while some connection holds it.
    _keeper: Option<Arc<std::sync::Mutex<SqliteConnection>>>,
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(30));
        Self::with_options(options).await
    }

    /// A private in-memory database (for tests and `sluice run`).
    pub async fn in_memory() -> Result<Self> {
        // sqlx names each `:memory:` database uniquely and opens it with a shared cache, so
        // every connection made from these options reaches the same database.
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
        let keeper = options.connect().await?;
        let mut store = Self::with_options(options).await?;
        store._keeper = Some(Arc::new(std::sync::Mutex::new(keeper)));
        Ok(store)
    }

    async fn with_options(options: SqliteConnectOptions) -> Result<Self> {
        // One connection: SQLite has one writer anyway, and a single connection keeps an
        // in-memory database shared and avoids SQLITE_BUSY between our own writers.
        // The connection must never be recycled: an in-memory database dies with it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        super::migrations::sqlite().run(&pool).await?;
        Ok(SqliteStore {
            pool,
            _keeper: None,
        })
    }
}

fn state_machine(row: &SqliteRow) -> StateMachineRecord {
    StateMachineRecord {
        arn: row.get("arn"),
        name: row.get("name"),
        definition: row.get("definition"),
        role_arn: row.get("role_arn"),
        kind: row.get("kind"),
        created: row.get("created"),
        revision: row.get("revision"),
    }
}

fn execution(row: &SqliteRow) -> ExecutionRecord {
    ExecutionRecord {
        arn: row.get("arn"),
        state_machine_arn: row.get("state_machine_arn"),
        name: row.get("name"),
        status: row.get("status"),
        input: row.get("input"),
        output: row.get("output"),
        error: row.get("error"),
        cause: row.get("cause"),
        start: row.get("start"),
        stop: row.get("stop"),
        definition: row.get("definition"),
        role_arn: row.get("role_arn"),
        kind: row.get("kind"),
        redrive_count: row.get("redrive_count"),
        map_run_arn: row.get("map_run_arn"),
    }
}

fn activity(row: &SqliteRow) -> ActivityRecord {
    ActivityRecord {
        arn: row.get("arn"),
        name: row.get("name"),
        created: row.get("created"),
    }
}

/// Claims of `claim_task`, tried in order: a lease-expired claim, then the oldest PENDING
/// task. Parameters: worker, lease end, now, activity.
const CLAIM_TASK: [&str; 2] = [
    "UPDATE tasks SET status = 'CLAIMED', worker = ?1, lease_until = ?2, last_heartbeat = ?3
     WHERE token = (SELECT token FROM tasks
                    WHERE activity_arn = ?4 AND status = 'CLAIMED' AND lease_until < ?3
                    ORDER BY lease_until LIMIT 1)
     RETURNING *",
    "UPDATE tasks SET status = 'CLAIMED', worker = ?1, lease_until = ?2, last_heartbeat = ?3
     WHERE token = (SELECT token FROM tasks
                    WHERE activity_arn = ?4 AND status = 'PENDING'
                    ORDER BY created, token LIMIT 1)
     RETURNING *",
];

pub(super) fn task(row: &SqliteRow) -> TaskRecord {
    TaskRecord {
        token: row.get("token"),
        activity_arn: row.get("activity_arn"),
        execution_arn: row.get("execution_arn"),
        state_name: row.get("state_name"),
        input: row.get("input"),
        status: row.get("status"),
        worker: row.get("worker"),
        lease_until: row.get("lease_until"),
        heartbeat_seconds: row.get("heartbeat_seconds"),
        last_heartbeat: row.get("last_heartbeat"),
        output: row.get("output"),
        error: row.get("error"),
        cause: row.get("cause"),
        created: row.get("created"),
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Insert history events `(execution, id, event)` with as few statements as the parameter
/// limit allows; with `skip_existing`, rows that are already there are left alone.
async fn insert_event_rows(
    tx: &mut sqlx::SqliteConnection,
    rows: &[(&str, i64, &NewEvent)],
    skip_existing: bool,
) -> Result<()> {
    for chunk in rows.chunks(CHUNK / 7) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (execution_arn, id, previous_id, timestamp, kind, details_key, details) ",
        );
        q.push_values(chunk, |mut row, (arn, id, e)| {
            let (key, details) = match &e.details {
                Some((k, d)) => (Some(k.as_str()), Some(d.as_str())),
                None => (None, None),
            };
            row.push_bind(*arn)
                .push_bind(*id)
                .push_bind(*id - 1)
                .push_bind(e.timestamp)
                .push_bind(e.kind.as_str())
                .push_bind(key)
                .push_bind(details);
        });
        if skip_existing {
            q.push(" ON CONFLICT DO NOTHING");
        }
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// Number `events` of one execution from `first_id` on.
fn numbered<'a>(
    arn: &'a str,
    first_id: i64,
    events: &'a [NewEvent],
) -> Vec<(&'a str, i64, &'a NewEvent)> {
    (first_id..)
        .zip(events)
        .map(|(id, e)| (arn, id, e))
        .collect()
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_state_machine(&self, sm: &StateMachineRecord) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO state_machines (arn, name, definition, role_arn, kind, created, revision) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&sm.arn)
        .bind(&sm.name)
        .bind(&sm.definition)
        .bind(&sm.role_arn)
        .bind(sm.kind)
        .bind(sm.created)
        .bind(sm.revision)
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists(sm.name.clone())),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>> {
        let row = sqlx::query("SELECT * FROM state_machines WHERE arn = ?")
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(state_machine))
    }

    async fn update_state_machine(
        &self,
        arn: &str,
        definition: Option<&str>,
        role_arn: Option<&str>,
    ) -> Result<StateMachineRecord> {
        let done = sqlx::query(
            "UPDATE state_machines SET definition = COALESCE(?, definition), role_arn = COALESCE(?, role_arn), revision = revision + 1 WHERE arn = ?",
        )
        .bind(definition)
        .bind(role_arn)
        .bind(arn)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(arn.to_string()));
        }
        self.get_state_machine(arn)
            .await?
            .ok_or_else(|| StoreError::NotFound(arn.to_string()))
    }

    async fn delete_state_machine(&self, arn: &str) -> Result<()> {
        sqlx::query("DELETE FROM state_machines WHERE arn = ?")
            .bind(arn)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_state_machines(
        &self,
        after_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StateMachineRecord>> {
        let rows = sqlx::query("SELECT * FROM state_machines WHERE name > ? ORDER BY name LIMIT ?")
            .bind(after_name.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(state_machine).collect())
    }

    async fn create_execution(
        &self,
        e: &ExecutionRecord,
        cursor: Option<&Cursor>,
        started: &[NewEvent],
    ) -> Result<Option<ExecutionRecord>> {
        let mut tx = self.pool.begin().await?;
        let existing =
            sqlx::query("SELECT * FROM executions WHERE state_machine_arn = ? AND name = ?")
                .bind(&e.state_machine_arn)
                .bind(&e.name)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(row) = existing {
            return Ok(Some(execution(&row)));
        }
        sqlx::query(
            "INSERT INTO executions (arn, state_machine_arn, name, status, input, output, error, cause, start, stop, definition, role_arn, kind, redrive_count, cursor_state, cursor_input, cursor_vars, version, next_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        )
        .bind(&e.arn)
        .bind(&e.state_machine_arn)
        .bind(&e.name)
        .bind(e.status)
        .bind(&e.input)
        .bind(&e.output)
        .bind(&e.error)
        .bind(&e.cause)
        .bind(e.start)
        .bind(e.stop)
        .bind(&e.definition)
        .bind(&e.role_arn)
        .bind(e.kind)
        .bind(e.redrive_count)
        .bind(cursor.map(|c| c.state))
        .bind(cursor.map(|c| c.input.as_str()))
        .bind(cursor.map(|c| c.vars.as_str()))
        .bind(1 + started.len() as i64)
        .execute(&mut *tx)
        .await?;
        insert_event_rows(&mut tx, &numbered(&e.arn, 1, started), false).await?;
        tx.commit().await?;
        Ok(None)
    }

    async fn record_finished(&self, batch: &[(ExecutionRecord, Vec<NewEvent>)]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for chunk in batch.chunks(CHUNK / 14) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO executions (arn, state_machine_arn, name, status, input, output, error, cause, start, stop, definition, role_arn, kind, next_event_id) ",
            );
            q.push_values(chunk, |mut row, (e, events)| {
                row.push_bind(&e.arn)
                    .push_bind(&e.state_machine_arn)
                    .push_bind(&e.name)
                    .push_bind(e.status)
                    .push_bind(&e.input)
                    .push_bind(&e.output)
                    .push_bind(&e.error)
                    .push_bind(&e.cause)
                    .push_bind(e.start)
                    .push_bind(e.stop)
                    .push_bind(&e.definition)
                    .push_bind(&e.role_arn)
                    .push_bind(e.kind)
                    .push_bind(1 + events.len() as i64);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        let events: Vec<(&str, i64, &NewEvent)> = batch
            .iter()
            .flat_map(|(e, evs)| (1..).zip(evs).map(move |(id, ev)| (e.arn.as_str(), id, ev)))
            .collect();
        insert_event_rows(&mut tx, &events, true).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_children(&self, batch: &[(ExecutionRecord, Vec<NewEvent>)]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for chunk in batch.chunks(CHUNK / 16) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO executions (arn, state_machine_arn, name, status, input, output, error, cause, start, stop, definition, role_arn, kind, redrive_count, map_run_arn, next_event_id) ",
            );
            q.push_values(chunk, |mut row, (e, events)| {
                row.push_bind(&e.arn)
                    .push_bind(&e.state_machine_arn)
                    .push_bind(&e.name)
                    .push_bind(e.status)
                    .push_bind(&e.input)
                    .push_bind(&e.output)
                    .push_bind(&e.error)
                    .push_bind(&e.cause)
                    .push_bind(e.start)
                    .push_bind(e.stop)
                    .push_bind(&e.definition)
                    .push_bind(&e.role_arn)
                    .push_bind(e.kind)
                    .push_bind(e.redrive_count)
                    .push_bind(&e.map_run_arn)
                    .push_bind(1 + events.len() as i64);
            });
            q.push(
                " ON CONFLICT (arn) DO UPDATE SET status = excluded.status, input = excluded.input, output = excluded.output, error = excluded.error, cause = excluded.cause, start = excluded.start, stop = excluded.stop, redrive_count = excluded.redrive_count, next_event_id = excluded.next_event_id",
            );
            q.build().execute(&mut *tx).await?;
        }
        // A child that ran again (redriven, or aborted before) gets the history of its last
        // run.
        for chunk in batch.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM events WHERE execution_arn IN (");
            let mut arns = q.separated(", ");
            for (e, _) in chunk {
                arns.push_bind(&e.arn);
            }
            q.push(")");
            q.build().execute(&mut *tx).await?;
        }
        // Recorded, a queued child is off the queue (in the same transaction, so a child is
        // never both recorded and waiting to run).
        for chunk in batch.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM child_queue WHERE child_arn IN (");
            let mut arns = q.separated(", ");
            for (e, _) in chunk {
                arns.push_bind(&e.arn);
            }
            q.push(")");
            q.build().execute(&mut *tx).await?;
        }
        let events: Vec<(&str, i64, &NewEvent)> = batch
            .iter()
            .flat_map(|(e, evs)| (1..).zip(evs).map(move |(id, ev)| (e.arn.as_str(), id, ev)))
            .collect();
        insert_event_rows(&mut tx, &events, true).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn queue_children(&self, children: &[QueuedChild]) -> Result<()> {
        if children.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for chunk in children.chunks(CHUNK / 16) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO child_queue (child_arn, map_run_arn, root_arn, label, name, state_machine_arn, role_arn, child_index, input, vars, seed, redrive_count, rerun, queued) ",
            );
            q.push_values(chunk, |mut row, c| {
                row.push_bind(&c.child_arn)
                    .push_bind(&c.map_run_arn)
                    .push_bind(&c.root_arn)
                    .push_bind(&c.label)
                    .push_bind(&c.name)
                    .push_bind(&c.state_machine_arn)
                    .push_bind(&c.role_arn)
                    .push_bind(c.index)
                    .push_bind(&c.input)
                    .push_bind(&c.vars)
                    .push_bind(c.seed)
                    .push_bind(c.redrive_count)
                    .push_bind(c.rerun)
                    .push_bind(c.queued);
            });
            q.push(" ON CONFLICT (child_arn) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim_children(
        &self,
        owner: &str,
        now: f64,
        until: f64,
        limit: usize,
    ) -> Result<Vec<QueuedChild>> {
        // One connection serialises this with every other write of the process.
        let rows = sqlx::query(
            "UPDATE child_queue SET owner = ?, lease_until = ?
             WHERE child_arn IN (SELECT child_arn FROM child_queue
                                 WHERE lease_until IS NULL OR lease_until < ?
                                 ORDER BY queued LIMIT ?)
             RETURNING *",
        )
        .bind(owner)
        .bind(until)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(queued_child).collect())
    }

    async fn renew_child_leases(&self, owner: &str, until: Option<f64>) -> Result<u64> {
        let sql = if until.is_some() {
            "UPDATE child_queue SET lease_until = ? WHERE owner = ?"
        } else {
            "UPDATE child_queue SET lease_until = ?, owner = NULL WHERE owner = ?"
        };
        let done = sqlx::query(sql)
            .bind(until)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn queued_children(&self, map_run_arn: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT child_arn FROM child_queue WHERE map_run_arn = ?")
            .bind(map_run_arn)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.get("child_arn")).collect())
    }

    async fn ended_children(&self, map_run_arn: &str) -> Result<Vec<(String, ExecutionStatus)>> {
        let rows = sqlx::query(
            "SELECT name, status FROM executions WHERE map_run_arn = ? AND status <> 'RUNNING'",
        )
        .bind(map_run_arn)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("name"), r.get("status")))
            .collect())
    }

    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>> {
        let row = sqlx::query("SELECT * FROM executions WHERE arn = ?")
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(execution))
    }

    async fn list_executions(&self, f: &ExecutionFilter) -> Result<Vec<ExecutionRecord>> {
        // Only the filters given are in the query, so the planner can use the index that
        // fits them (by machine, by Map Run, or by start time): a rare machine among many
        // executions is found through its own index, not by scanning everyone's.
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM executions WHERE 1 = 1");
        if let Some(machine) = &f.state_machine_arn {
            q.push(" AND state_machine_arn = ")
                .push_bind(machine.clone());
        }
        if let Some(run) = &f.map_run_arn {
            q.push(" AND map_run_arn = ").push_bind(run.clone());
        }
        if let Some(status) = f.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some((start, arn)) = &f.after {
            q.push(" AND (start < ")
                .push_bind(*start)
                .push(" OR (start = ")
                .push_bind(*start)
                .push(" AND arn > ")
                .push_bind(arn.clone())
                .push("))");
        }
        if let Some(after) = f.started_after {
            q.push(" AND start >= ").push_bind(after);
        }
        if let Some(before) = f.started_before {
            q.push(" AND start < ").push_bind(before);
        }
        q.push(" ORDER BY start DESC, arn LIMIT ")
            .push_bind(f.limit as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(execution).collect())
    }

    async fn get_cursor(&self, arn: &str) -> Result<Option<Cursor>> {
        let row = sqlx::query(
            "SELECT cursor_state, cursor_input, cursor_vars, version, next_event_id, step_events, cursor_transitions FROM executions WHERE arn = ? AND cursor_state IS NOT NULL",
        )
        .bind(arn)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Cursor {
            state: r.get("cursor_state"),
            input: r.get("cursor_input"),
            vars: r.get("cursor_vars"),
            version: r.get("version"),
            next_event_id: r.get("next_event_id"),
            step_events: r.get("step_events"),
            transitions: r.get("cursor_transitions"),
        }))
    }

    async fn commit(&self, batch: &[Transition]) -> Result<Vec<Result<()>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // A handful of statements per batch, not per transition: every statement is a round
        // trip to SQLite's worker thread, which is what bounds throughput here.
        let mut tx = self.pool.begin().await?;
        let mut arns: Vec<&str> = batch.iter().map(|t| t.execution_arn.as_str()).collect();
        arns.sort_unstable();
        arns.dedup();
        let mut heads: HashMap<&str, Head<'_>> = HashMap::with_capacity(arns.len());
        for chunk in arns.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT arn, version, next_event_id, step_events, status FROM executions WHERE arn IN (",
            );
            let mut list = q.separated(", ");
            for arn in chunk {
                list.push_bind(*arn);
            }
            q.push(")");
            for row in q.build().fetch_all(&mut *tx).await? {
                let arn: String = row.get("arn");
                if let Some(key) = chunk.iter().find(|a| **a == arn) {
                    heads.insert(
                        key,
                        Head {
                            version: row.get("version"),
                            next_event_id: row.get("next_event_id"),
                            step_events: row.get("step_events"),
                            status: row.get("status"),
                            changed: false,
                            cursor: None,
                            finish: None,
                        },
                    );
                }
            }
        }
        let mut results = Vec::with_capacity(batch.len());
        let mut events: Vec<(&str, i64, &NewEvent)> = Vec::new();
        for t in batch {
            let Some(head) = heads.get_mut(t.execution_arn.as_str()) else {
                results.push(Err(StoreError::NotFound(t.execution_arn.clone())));
                continue;
            };
            // A step needs a running execution; an end must be one the lifecycle allows.
            let allowed = match &t.finish {
                Some(f) => head.status.can_become(f.status) && f.status.is_terminal(),
                None => !head.status.is_terminal(),
            };
            if head.version != t.expected_version || !allowed {
                results.push(Err(StoreError::Conflict(t.execution_arn.clone())));
                continue;
            }
            for (id, e) in (head.next_event_id..).zip(&t.events) {
                events.push((&t.execution_arn, id, e));
            }
            head.next_event_id += t.events.len() as i64;
            head.changed = true;
            if t.next.is_none() && t.finish.is_none() {
                // Events of a step still running: their ids are used, the version stays.
                head.step_events += t.events.len() as i64;
            } else {
                head.version += 1;
                head.step_events = 0;
            }
            if let Some(c) = &t.next {
                head.cursor = Some(c);
            }
            if let Some(f) = &t.finish {
                head.status = f.status;
                head.finish = Some(f);
            }
            results.push(Ok(()));
        }
        insert_event_rows(&mut tx, &events, false).await?;
        let changed: Vec<(&str, &Head<'_>)> = heads
            .iter()
            .filter(|(_, h)| h.changed)
            .map(|(a, h)| (*a, h))
            .collect();
        for chunk in changed.chunks(CHUNK / 13) {
            // NULL cursor state keeps the stored cursor; NULL status keeps the outcome.
            let mut q = QueryBuilder::<Sqlite>::new(
                "WITH u(arn, state, input, vars, transitions, status, output, error, cause, stop, version, next_event_id, step_events) AS (",
            );
            q.push_values(chunk, |mut row, (arn, h)| {
                row.push_bind(*arn)
                    .push_bind(h.cursor.map(|c| c.state))
                    .push_bind(h.cursor.map(|c| c.input.as_str()))
                    .push_bind(h.cursor.map(|c| c.vars.as_str()))
                    .push_bind(h.cursor.map(|c| c.transitions))
                    .push_bind(h.finish.map(|f| f.status.as_str()))
                    .push_bind(h.finish.and_then(|f| f.output.as_deref()))
                    .push_bind(h.finish.and_then(|f| f.error.as_deref()))
                    .push_bind(h.finish.and_then(|f| f.cause.as_deref()))
                    .push_bind(h.finish.map(|f| f.stop))
                    .push_bind(h.version)
                    .push_bind(h.next_event_id)
                    .push_bind(h.step_events);
            });
            q.push(
                ") UPDATE executions SET
                    cursor_state = COALESCE(u.state, executions.cursor_state),
                    cursor_input = CASE WHEN u.state IS NULL THEN executions.cursor_input ELSE u.input END,
                    cursor_vars = CASE WHEN u.state IS NULL THEN executions.cursor_vars ELSE u.vars END,
                    cursor_transitions = CASE WHEN u.state IS NULL THEN executions.cursor_transitions ELSE u.transitions END,
                    status = COALESCE(u.status, executions.status),
                    output = CASE WHEN u.status IS NULL THEN executions.output ELSE u.output END,
                    error = CASE WHEN u.status IS NULL THEN executions.error ELSE u.error END,
                    cause = CASE WHEN u.status IS NULL THEN executions.cause ELSE u.cause END,
                    stop = CASE WHEN u.status IS NULL THEN executions.stop ELSE u.stop END,
                    version = u.version,
                    next_event_id = u.next_event_id,
                    step_events = u.step_events
                 FROM u WHERE executions.arn = u.arn",
            );
            q.build().execute(&mut *tx).await?;
        }
        let finished: Vec<&str> = changed
            .iter()
            .filter(|(_, h)| h.finish.is_some())
            .map(|(a, _)| *a)
            .collect();
        for chunk in finished.chunks(CHUNK) {
            // Tasks of an ended execution can no longer be answered; its timers are over.
            for sql in [
                "UPDATE tasks SET status = 'TIMED_OUT' WHERE status IN ('PENDING', 'CLAIMED') AND execution_arn IN (",
                "DELETE FROM timers WHERE execution_arn IN (",
            ] {
                let mut q = QueryBuilder::<Sqlite>::new(sql);
                let mut list = q.separated(", ");
                for arn in chunk {
                    list.push_bind(*arn);
                }
                q.push(")");
                q.build().execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(results)
    }

    async fn history(
        &self,
        arn: &str,
        after: Option<i64>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<HistoryEvent>> {
        let sql = if reverse {
            "SELECT * FROM events WHERE execution_arn = ? AND id < ? ORDER BY id DESC LIMIT ?"
        } else {
            "SELECT * FROM events WHERE execution_arn = ? AND id > ? ORDER BY id LIMIT ?"
        };
        let bound = after.unwrap_or(if reverse { i64::MAX } else { 0 });
        let rows = sqlx::query(sql)
            .bind(arn)
            .bind(bound)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let key: Option<String> = r.get("details_key");
                let details: Option<String> = r.get("details");
                HistoryEvent {
                    id: r.get("id"),
                    previous_id: r.get("previous_id"),
                    timestamp: r.get("timestamp"),
                    kind: r.get("kind"),
                    details: key.zip(details),
                }
            })
            .collect())
    }

    async fn running_executions(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT arn FROM executions WHERE status = 'RUNNING' AND kind = 'STANDARD' AND map_run_arn IS NULL ORDER BY start")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.get("arn")).collect())
    }

    async fn claim_executions(
        &self,
        owner: &str,
        now: f64,
        until: f64,
        limit: usize,
    ) -> Result<Vec<String>> {
        // One connection serialises this with every other write of the process.
        let rows = sqlx::query(
            "UPDATE executions SET owner = ?, lease_until = ?
             WHERE arn IN (SELECT arn FROM executions
                           WHERE status = 'RUNNING' AND kind = 'STANDARD' AND map_run_arn IS NULL
                             AND (lease_until IS NULL OR lease_until < ? OR owner = ?)
                           ORDER BY start LIMIT ?)
             RETURNING arn",
        )
        .bind(owner)
        .bind(until)
        .bind(now)
        .bind(owner)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get("arn")).collect())
    }

    async fn lease_execution(&self, arn: &str, owner: &str, now: f64, until: f64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE executions SET owner = ?, lease_until = ?
             WHERE arn = ? AND status = 'RUNNING' AND (lease_until IS NULL OR lease_until < ? OR owner = ?)",
        )
        .bind(owner)
        .bind(until)
        .bind(arn)
        .bind(now)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn renew_leases(&self, owner: &str, until: f64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE executions SET lease_until = ? WHERE owner = ? AND status = 'RUNNING'",
        )
        .bind(until)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn ended_among(&self, arns: &[String]) -> Result<Vec<String>> {
        let mut ended = Vec::new();
        for chunk in arns.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT arn FROM executions WHERE status <> 'RUNNING' AND arn IN (",
            );
            let mut list = q.separated(", ");
            for arn in chunk {
                list.push_bind(arn);
            }
            q.push(")");
            let rows = q.build().fetch_all(&self.pool).await?;
            ended.extend(rows.iter().map(|r| r.get::<String, _>("arn")));
        }
        Ok(ended)
    }

    async fn redrive(&self, arn: &str, event: &NewEvent) -> Result<ExecutionRecord> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT next_event_id, status FROM executions WHERE arn = ? AND cursor_state IS NOT NULL")
            .bind(arn)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(arn.to_string()))?;
        let status: ExecutionStatus = row.get("status");
        if !status.is_redrivable() {
            return Err(StoreError::Conflict(arn.to_string()));
        }
        let next_event_id: i64 = row.get("next_event_id");
        let event = std::slice::from_ref(event);
        insert_event_rows(&mut tx, &numbered(arn, next_event_id, event), false).await?;
        sqlx::query(
            "UPDATE executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL, stop = NULL, redrive_count = redrive_count + 1, version = version + 1, step_events = 0, next_event_id = ? WHERE arn = ?",
        )
        .bind(next_event_id + 1)
        .bind(arn)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_execution(arn)
            .await?
            .ok_or_else(|| StoreError::NotFound(arn.to_string()))
    }

    async fn create_activity(&self, a: &ActivityRecord) -> Result<ActivityRecord> {
        // CreateActivity is idempotent by name.
        sqlx::query("INSERT INTO activities (arn, name, created) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(&a.arn)
            .bind(&a.name)
            .bind(a.created)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT * FROM activities WHERE name = ?")
            .bind(&a.name)
            .fetch_one(&self.pool)
            .await?;
        Ok(activity(&row))
    }

    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>> {
        let row = sqlx::query("SELECT * FROM activities WHERE arn = ?")
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(activity))
    }

    async fn delete_activity(&self, arn: &str) -> Result<()> {
        sqlx::query("DELETE FROM activities WHERE arn = ?")
            .bind(arn)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_activities(
        &self,
        after_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ActivityRecord>> {
        let rows = sqlx::query("SELECT * FROM activities WHERE name > ? ORDER BY name LIMIT ?")
            .bind(after_name.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(activity).collect())
    }

    async fn write_tasks(&self, batch: &[TaskWrite]) -> Result<Vec<Result<Option<TaskRecord>>>> {
        let mut tx = self.pool.begin().await?;
        let results = super::sqlite_tasks::write(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(results)
    }

    async fn get_task(&self, token: &str) -> Result<Option<TaskRecord>> {
        super::sqlite_tasks::stored_task(&mut *self.pool.acquire().await?, token).await
    }

    async fn claim_task(
        &self,
        activity_arn: &str,
        worker: &str,
        now: f64,
        lease_seconds: f64,
    ) -> Result<Option<TaskRecord>> {
        // Each statement is atomic on the single connection. Expired claims go first: they
        // are the oldest work. Status literals (not parameters) let SQLite pick the partial
        // indexes.
        for sql in CLAIM_TASK {
            let row = sqlx::query(sql)
                .bind(worker)
                .bind(now + lease_seconds)
                .bind(now)
                .bind(activity_arn)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = row {
                return Ok(Some(task(&row)));
            }
        }
        Ok(None)
    }

    async fn heartbeat_task(&self, token: &str, now: f64) -> Result<TaskRecord> {
        let t = self
            .get_task(token)
            .await?
            .ok_or(StoreError::InvalidToken)?;
        if !t.status.is_open() {
            return Err(StoreError::TaskEnded);
        }
        sqlx::query("UPDATE tasks SET last_heartbeat = ?, lease_until = MAX(COALESCE(lease_until, 0), ?) WHERE token = ? AND status IN ('PENDING', 'CLAIMED')")
            .bind(now)
            .bind(now + t.heartbeat_seconds.unwrap_or(60) as f64)
            .bind(token)
            .execute(&self.pool)
            .await?;
        self.get_task(token).await?.ok_or(StoreError::InvalidToken)
    }

    async fn put_map_run(&self, run: &MapRunRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO map_runs (arn, execution_arn, state_machine_arn, status, start, stop, max_concurrency, tolerated_failure_percentage, tolerated_failure_count, total, running, succeeded, failed, items_total, items_succeeded, items_failed, redrive_count, results_written, items_results_written)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (arn) DO UPDATE SET status = excluded.status, redrive_count = excluded.redrive_count, results_written = excluded.results_written, items_results_written = excluded.items_results_written, stop = excluded.stop, max_concurrency = excluded.max_concurrency, tolerated_failure_percentage = excluded.tolerated_failure_percentage, tolerated_failure_count = excluded.tolerated_failure_count, total = excluded.total, running = excluded.running, succeeded = excluded.succeeded, failed = excluded.failed, items_total = excluded.items_total, items_succeeded = excluded.items_succeeded, items_failed = excluded.items_failed",
        )
        .bind(&run.arn)
        .bind(&run.execution_arn)
        .bind(&run.state_machine_arn)
        .bind(&run.status)
        .bind(run.start)
        .bind(run.stop)
        .bind(run.max_concurrency)
        .bind(run.tolerated_failure_percentage)
        .bind(run.tolerated_failure_count)
        .bind(run.total)
        .bind(run.running)
        .bind(run.succeeded)
        .bind(run.failed)
        .bind(run.items_total)
        .bind(run.items_succeeded)
        .bind(run.items_failed)
        .bind(run.redrive_count)
        .bind(run.results_written)
        .bind(run.items_results_written)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRecord>> {
        let row = sqlx::query("SELECT arn, execution_arn, state_machine_arn, status, start, stop, max_concurrency, tolerated_failure_percentage, tolerated_failure_count, total, running, succeeded, failed, items_total, items_succeeded, items_failed, redrive_count, results_written, items_results_written FROM map_runs WHERE arn = ?")
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| map_run_row(&r)).transpose()
    }

    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>> {
        let rows = sqlx::query(
            "SELECT arn, execution_arn, state_machine_arn, status, start, stop, max_concurrency, tolerated_failure_percentage, tolerated_failure_count, total, running, succeeded, failed, items_total, items_succeeded, items_failed, redrive_count, results_written, items_results_written FROM map_runs WHERE execution_arn = ? ORDER BY start, arn",
        )
        .bind(execution_arn)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(map_run_row).collect()
    }

    async fn request_map_run_update(&self, arn: &str, update: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE map_runs SET requested_update = ? WHERE arn = ? AND status = 'RUNNING'",
        )
        .bind(update)
        .bind(arn)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn take_map_run_update(&self, arn: &str) -> Result<Option<String>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT requested_update FROM map_runs WHERE arn = ?")
            .bind(arn)
            .fetch_optional(&mut *tx)
            .await?;
        let update: Option<String> = row.and_then(|r| r.get("requested_update"));
        if update.is_some() {
            sqlx::query("UPDATE map_runs SET requested_update = NULL WHERE arn = ?")
                .bind(arn)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(update)
    }

    async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String> {
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get("value"))
    }

    async fn timer(&self, execution_arn: &str, key: &str, fire_at: f64) -> Result<f64> {
        sqlx::query("INSERT INTO timers (execution_arn, key, fire_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .bind(execution_arn)
            .bind(key)
            .bind(fire_at)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT fire_at FROM timers WHERE execution_arn = ? AND key = ?")
            .bind(execution_arn)
            .bind(key)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get("fire_at"))
    }

    async fn create_schedule(&self, schedule: &ScheduleRecord) -> Result<()> {
        scheduling::create_schedule(&self.pool, schedule).await
    }

    async fn get_schedule(&self, group: &str, name: &str) -> Result<Option<ScheduleRecord>> {
        scheduling::get_schedule(&self.pool, group, name).await
    }

    async fn update_schedule(&self, schedule: &ScheduleRecord) -> Result<ScheduleRecord> {
        scheduling::update_schedule(&self.pool, schedule).await
    }

    async fn delete_schedule(&self, group: &str, name: &str) -> Result<()> {
        scheduling::delete_schedule(&self.pool, group, name).await
    }

    async fn list_schedules(&self, filter: &ScheduleFilter) -> Result<Vec<ScheduleRecord>> {
        scheduling::list_schedules(&self.pool, filter).await
    }

    async fn due_schedules(&self, now: f64, limit: usize) -> Result<Vec<ScheduleRecord>> {
        scheduling::due_schedules(&self.pool, now, limit).await
    }

    async fn next_fire_time(&self) -> Result<Option<f64>> {
        scheduling::next_fire_time(&self.pool).await
    }

    async fn fire_schedules(
        &self,
        fires: &[ScheduleFire],
        lease: &Lease,
    ) -> Result<Vec<Option<Vec<String>>>> {
        scheduling::fire_schedules(&self.pool, fires, lease).await
    }

    async fn create_schedule_group(&self, group: &ScheduleGroupRecord) -> Result<()> {
        scheduling::create_schedule_group(&self.pool, group).await
    }

    async fn get_schedule_group(&self, name: &str) -> Result<Option<ScheduleGroupRecord>> {
        scheduling::get_schedule_group(&self.pool, name).await
    }

    async fn list_schedule_groups(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ScheduleGroupRecord>> {
        scheduling::list_schedule_groups(&self.pool, after, limit).await
    }

    async fn delete_schedule_group(&self, name: &str) -> Result<()> {
        scheduling::delete_schedule_group(&self.pool, name).await
    }

    async fn ping(&self) -> Result<()> {
        scheduling::ping(&self.pool).await
    }

    async fn pending_tasks(&self) -> Result<Vec<(String, i64, f64)>> {
        scheduling::pending_tasks(&self.pool).await
    }

    async fn open_tasks(&self, limit: usize) -> Result<Vec<TaskRecord>> {
        // Status literals let SQLite use the partial index `open_tasks_by_created`.
        let rows = sqlx::query(
            "SELECT * FROM tasks WHERE status IN ('PENDING', 'CLAIMED') ORDER BY created, token LIMIT ?",
        )
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(task).collect())
    }

    async fn create_trigger(&self, trigger: &TriggerRecord) -> Result<()> {
        scheduling::create_trigger(&self.pool, trigger).await
    }

    async fn get_trigger(&self, name: &str) -> Result<Option<TriggerRecord>> {
        scheduling::get_trigger(&self.pool, name).await
    }

    async fn list_triggers(&self) -> Result<Vec<TriggerRecord>> {
        scheduling::list_triggers(&self.pool).await
    }

    async fn set_trigger_state(
        &self,
        name: &str,
        state: Switch,
        now: f64,
    ) -> Result<TriggerRecord> {
        scheduling::set_trigger_state(&self.pool, name, state, now).await
    }

    async fn delete_trigger(&self, name: &str) -> Result<()> {
        scheduling::delete_trigger(&self.pool, name).await
    }

    async fn claim_trigger_listing(&self, name: &str, now: f64) -> Result<bool> {
        scheduling::claim_trigger_listing(&self.pool, name, now).await
    }

    async fn unseen_objects(
        &self,
        trigger: &str,
        objects: &[(String, String)],
    ) -> Result<Vec<bool>> {
        scheduling::unseen_objects(&self.pool, trigger, objects).await
    }

    async fn fire_objects(
        &self,
        fires: &[ObjectFire],
        lease: &Lease,
    ) -> Result<Vec<Option<String>>> {
        scheduling::fire_objects(&self.pool, fires, lease).await
    }
}

/// A `map_runs` row.
fn map_run_row(r: &sqlx::sqlite::SqliteRow) -> Result<MapRunRecord> {
    Ok(MapRunRecord {
        arn: r.try_get("arn")?,
        execution_arn: r.try_get("execution_arn")?,
        state_machine_arn: r.try_get("state_machine_arn")?,
        status: r.try_get("status")?,
        start: r.try_get("start")?,
        stop: r.try_get("stop")?,
        max_concurrency: r.try_get("max_concurrency")?,
        tolerated_failure_percentage: r.try_get("tolerated_failure_percentage")?,
        tolerated_failure_count: r.try_get("tolerated_failure_count")?,
        total: r.try_get("total")?,
        running: r.try_get("running")?,
        succeeded: r.try_get("succeeded")?,
        failed: r.try_get("failed")?,
        items_total: r.try_get("items_total")?,
        items_succeeded: r.try_get("items_succeeded")?,
        items_failed: r.try_get("items_failed")?,
        redrive_count: r.try_get("redrive_count")?,
        results_written: r.try_get("results_written")?,
        items_results_written: r.try_get("items_results_written")?,
    })
}

fn queued_child(r: &sqlx::sqlite::SqliteRow) -> QueuedChild {
    QueuedChild {
        child_arn: r.get("child_arn"),
        map_run_arn: r.get("map_run_arn"),
        root_arn: r.get("root_arn"),
        label: r.get("label"),
        name: r.get("name"),
        state_machine_arn: r.get("state_machine_arn"),
        role_arn: r.get("role_arn"),
        index: r.get("child_index"),
        input: r.get("input"),
        vars: r.get("vars"),
        seed: r.get("seed"),
        redrive_count: r.get("redrive_count"),
        rerun: r.get("rerun"),
        queued: r.get("queued"),
    }
}

/// Insert executions with their first checkpoints and events, held by `lease`, except those
/// whose ARN or machine and name exist; the ARNs inserted.
async fn insert_new_executions(
    conn: &mut sqlx::SqliteConnection,
    news: &[&NewExecution],
    lease: &Lease,
) -> Result<Vec<String>> {
    let mut created = Vec::new();
    for chunk in news.chunks(CHUNK / 16) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO executions (arn, state_machine_arn, name, status, input, start, definition, role_arn, kind, cursor_state, cursor_input, cursor_vars, version, next_event_id, owner, lease_until) ",
        );
        q.push_values(chunk, |mut row, n| {
            let (e, c) = (&n.record, &n.cursor);
            row.push_bind(&e.arn)
                .push_bind(&e.state_machine_arn)
                .push_bind(&e.name)
                .push_bind(e.status)
                .push_bind(&e.input)
                .push_bind(e.start)
                .push_bind(&e.definition)
                .push_bind(&e.role_arn)
                .push_bind(e.kind)
                .push_bind(c.state)
                .push_bind(&c.input)
                .push_bind(&c.vars)
                .push_bind(0i64)
                .push_bind(1 + n.events.len() as i64)
                .push_bind(&lease.owner)
                .push_bind(lease.until);
        });
        q.push(" ON CONFLICT DO NOTHING RETURNING arn");
        for row in q.build().fetch_all(&mut *conn).await? {
            created.push(row.get::<String, _>("arn"));
        }
    }
    let inserted: std::collections::HashSet<&str> = created.iter().map(String::as_str).collect();
    let events: Vec<(&str, i64, &NewEvent)> = news
        .iter()
        .filter(|n| inserted.contains(n.record.arn.as_str()))
        .flat_map(|n| numbered(&n.record.arn, 1, &n.events))
        .collect();
    insert_event_rows(conn, &events, false).await?;
    Ok(created)
}

/// The schedule and trigger statements (`schedules.rs`), for SQLite.
mod scheduling {
    super::super::schedules::schedule_sql!(
        sqlx::Sqlite,
        sqlx::sqlite::SqliteRow,
        super::insert_new_executions
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pooled connection closed and reopened (as sqlx does after a cancelled query) finds
    /// the same in-memory database.
    #[tokio::test]
    async fn an_in_memory_database_outlives_its_pooled_connection() {
        let store = SqliteStore::in_memory().await.expect("store");
        store
            .create_activity(&ActivityRecord {
                arn: "arn:aws:states:us-east-1:123456789012:activity:keep".into(),
                name: "keep".into(),
                created: 1.0,
            })
            .await
            .expect("activity");
        let conn = store.pool.acquire().await.expect("connection");
        sqlx::Connection::close(conn.detach())
            .await
            .expect("closed");
        let activities = store
            .list_activities(None, 10)
            .await
            .expect("the tables are still there");
        assert_eq!(activities.len(), 1);
    }
}
