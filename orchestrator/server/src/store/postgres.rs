//! The shared store: PostgreSQL, for several orchestrator replicas over one database. Rows an
//! operation decides on are locked in the operation's transaction (`FOR UPDATE`), so replicas
//! never apply a transition twice, and workers claim tasks with `SKIP LOCKED`, so two replicas
//! never hand out the same task. Semantics follow `sqlite.rs` and the suite in `tests.rs`.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

use super::task_batch::{Applied, ByToken, Outcome, Phases, ending, in_phase_order};

use super::*;

// Names, ARNs and tokens use the "C" collation so that lists sort bytewise, as in SQLite,
// whatever locale the cluster was created with (and paging by `name > $1` agrees with it).
/// Connections per replica: transitions are group-committed, so a few connections carry the
/// load, and many replicas times a large pool would exhaust the server's `max_connections`.
const POOL_SIZE: u32 = 8;

/// PostgreSQL-backed [`Store`], safe to share between several processes.
#[derive(Clone)]
pub struct PostgresStore {
    pub(super) pool: PgPool,
}

impl PostgresStore {
    /// [`Store::commit`], one attempt.
    async fn commit_once(&self, batch: &[Transition]) -> Result<Vec<Result<()>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut arns: Vec<&str> = batch.iter().map(|t| t.execution_arn.as_str()).collect();
        arns.sort_unstable();
        arns.dedup();

        let mut tx = self.pool.begin().await?;
        // Lock all the batch's executions up front and in ARN order (PostgreSQL locks the rows
        // after sorting them): replicas committing overlapping batches then queue behind one
        // another instead of deadlocking, and a replica that waited reads the version the
        // other one wrote, so a transition both attempt applies once.
        let rows = sqlx::query(
            "SELECT arn, version, next_event_id, step_events, status FROM executions WHERE arn = ANY($1) ORDER BY arn FOR UPDATE",
        )
        .bind(&arns)
        .fetch_all(&mut *tx)
        .await?;
        let mut heads = HashMap::with_capacity(rows.len());
        for row in &rows {
            let arn: String = row.try_get("arn")?;
            let head = Head {
                version: row.try_get("version")?,
                next_event_id: row.try_get("next_event_id")?,
                step_events: row.try_get("step_events")?,
                status: row.try_get("status")?,
                changed: false,
                cursor: None,
                finish: None,
            };
            heads.insert(arn, head);
        }

        let mut results = Vec::with_capacity(batch.len());
        let mut events = EventRows::default();
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
            events.push(&t.execution_arn, head.next_event_id, &t.events);
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
        events.insert(&mut tx).await?;

        // One row per changed execution, written with one statement. A NULL cursor state
        // keeps the stored cursor; a NULL status keeps the stored outcome.
        let mut u_arn = Vec::new();
        let mut u_state = Vec::new();
        let mut u_input = Vec::new();
        let mut u_vars = Vec::new();
        let mut u_transitions = Vec::new();
        let mut u_status = Vec::new();
        let mut u_output = Vec::new();
        let mut u_error = Vec::new();
        let mut u_cause = Vec::new();
        let mut u_stop = Vec::new();
        let mut u_version = Vec::new();
        let mut u_next_event_id = Vec::new();
        let mut u_step_events = Vec::new();
        let mut finished = Vec::new();
        for (arn, head) in heads.iter().filter(|(_, h)| h.changed) {
            u_arn.push(arn.as_str());
            u_state.push(head.cursor.map(|c| c.state));
            u_input.push(head.cursor.map(|c| c.input.as_str()));
            u_vars.push(head.cursor.map(|c| c.vars.as_str()));
            u_transitions.push(head.cursor.map(|c| c.transitions));
            u_status.push(head.finish.map(|f| f.status.as_str()));
            u_output.push(head.finish.and_then(|f| f.output.as_deref()));
            u_error.push(head.finish.and_then(|f| f.error.as_deref()));
            u_cause.push(head.finish.and_then(|f| f.cause.as_deref()));
            u_stop.push(head.finish.map(|f| f.stop));
            u_version.push(head.version);
            u_next_event_id.push(head.next_event_id);
            u_step_events.push(head.step_events);
            if head.finish.is_some() {
                finished.push(arn.as_str());
            }
        }
        if !u_arn.is_empty() {
            sqlx::query(
                "UPDATE executions AS e SET
                    cursor_state = COALESCE(u.state, e.cursor_state),
                    cursor_input = CASE WHEN u.state IS NULL THEN e.cursor_input ELSE u.input END,
                    cursor_vars = CASE WHEN u.state IS NULL THEN e.cursor_vars ELSE u.vars END,
                    cursor_transitions = CASE WHEN u.state IS NULL THEN e.cursor_transitions ELSE u.transitions END,
                    status = COALESCE(u.status, e.status),
                    output = CASE WHEN u.status IS NULL THEN e.output ELSE u.output END,
                    error = CASE WHEN u.status IS NULL THEN e.error ELSE u.error END,
                    cause = CASE WHEN u.status IS NULL THEN e.cause ELSE u.cause END,
                    stop = CASE WHEN u.status IS NULL THEN e.stop ELSE u.stop END,
                    version = u.version,
                    next_event_id = u.next_event_id,
                    step_events = u.step_events
                 FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::float8[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[])
                    AS u(arn, state, input, vars, status, output, error, cause, stop, version, next_event_id, step_events, transitions)
                 WHERE e.arn = u.arn",
            )
            .bind(u_arn)
            .bind(u_state)
            .bind(u_input)
            .bind(u_vars)
            .bind(u_status)
            .bind(u_output)
            .bind(u_error)
            .bind(u_cause)
            .bind(u_stop)
            .bind(u_version)
            .bind(u_next_event_id)
            .bind(u_step_events)
            .bind(u_transitions)
            .execute(&mut *tx)
            .await?;
        }
        if !finished.is_empty() {
            // Tasks of an ended execution can no longer be answered.
            sqlx::query(
                "UPDATE tasks SET status = 'TIMED_OUT' WHERE execution_arn = ANY($1) AND status IN ('PENDING', 'CLAIMED')",
            )
            .bind(&finished)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM timers WHERE execution_arn = ANY($1)")
                .bind(&finished)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(results)
    }

    /// [`Store::write_tasks`], one attempt.
    async fn write_tasks_once(
        &self,
        batch: &[TaskWrite],
    ) -> Result<Vec<Result<Option<TaskRecord>>>> {
        let mut tx = self.pool.begin().await?;
        // Every statement is a network round trip: a batch in phase order takes a few.
        let results = if in_phase_order(batch) {
            write_by_phase(&mut tx, batch).await?
        } else {
            write_in_order(&mut tx, batch).await?
        };
        tx.commit().await?;
        Ok(results)
    }

    /// Connect to `url` (`postgres://user:password@host:port/database`) and create the schema.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connect with explicit options and create the schema.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        super::migrations::postgres().run(&pool).await?;
        Ok(PostgresStore { pool })
    }

    /// Close every connection of the pool (waits for those in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn state_machine(row: &PgRow) -> sqlx::Result<StateMachineRecord> {
    Ok(StateMachineRecord {
        arn: row.try_get("arn")?,
        name: row.try_get("name")?,
        definition: row.try_get("definition")?,
        role_arn: row.try_get("role_arn")?,
        kind: row.try_get("kind")?,
        created: row.try_get("created")?,
        revision: row.try_get("revision")?,
    })
}

fn execution(row: &PgRow) -> sqlx::Result<ExecutionRecord> {
    Ok(ExecutionRecord {
        arn: row.try_get("arn")?,
        state_machine_arn: row.try_get("state_machine_arn")?,
        name: row.try_get("name")?,
        status: row.try_get("status")?,
        input: row.try_get("input")?,
        output: row.try_get("output")?,
        error: row.try_get("error")?,
        cause: row.try_get("cause")?,
        start: row.try_get("start")?,
        stop: row.try_get("stop")?,
        definition: row.try_get("definition")?,
        role_arn: row.try_get("role_arn")?,
        kind: row.try_get("kind")?,
        redrive_count: row.try_get("redrive_count")?,
        map_run_arn: row.try_get("map_run_arn")?,
    })
}

fn activity(row: &PgRow) -> sqlx::Result<ActivityRecord> {
    Ok(ActivityRecord {
        arn: row.try_get("arn")?,
        name: row.try_get("name")?,
        created: row.try_get("created")?,
    })
}

fn task(row: &PgRow) -> sqlx::Result<TaskRecord> {
    Ok(TaskRecord {
        token: row.try_get("token")?,
        activity_arn: row.try_get("activity_arn")?,
        execution_arn: row.try_get("execution_arn")?,
        state_name: row.try_get("state_name")?,
        input: row.try_get("input")?,
        status: row.try_get("status")?,
        worker: row.try_get("worker")?,
        lease_until: row.try_get("lease_until")?,
        heartbeat_seconds: row.try_get("heartbeat_seconds")?,
        last_heartbeat: row.try_get("last_heartbeat")?,
        output: row.try_get("output")?,
        error: row.try_get("error")?,
        cause: row.try_get("cause")?,
        created: row.try_get("created")?,
    })
}

fn history_event(row: &PgRow) -> sqlx::Result<HistoryEvent> {
    let key: Option<String> = row.try_get("details_key")?;
    let details: Option<String> = row.try_get("details")?;
    Ok(HistoryEvent {
        id: row.try_get("id")?,
        previous_id: row.try_get("previous_id")?,
        timestamp: row.try_get("timestamp")?,
        kind: row.try_get("kind")?,
        details: key.zip(details),
    })
}

fn all<T>(rows: &[PgRow], map: fn(&PgRow) -> sqlx::Result<T>) -> Result<Vec<T>> {
    Ok(rows.iter().map(map).collect::<sqlx::Result<_>>()?)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// SQL `LIMIT` for a page size (`usize::MAX` means no limit).
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// History events collected column by column, so that any number of them is one `INSERT`.
#[derive(Default)]
struct EventRows<'a> {
    execution_arn: Vec<&'a str>,
    id: Vec<i64>,
    previous_id: Vec<i64>,
    timestamp: Vec<f64>,
    kind: Vec<&'a str>,
    details_key: Vec<Option<&'a str>>,
    details: Vec<Option<&'a str>>,
}

impl<'a> EventRows<'a> {
    /// Number `events` from `first_id` on.
    fn push(&mut self, execution_arn: &'a str, first_id: i64, events: &'a [NewEvent]) {
        for (id, e) in (first_id..).zip(events) {
            self.execution_arn.push(execution_arn);
            self.id.push(id);
            self.previous_id.push(id - 1);
            self.timestamp.push(e.timestamp);
            self.kind.push(&e.kind);
            self.details_key
                .push(e.details.as_ref().map(|(k, _)| k.as_str()));
            self.details
                .push(e.details.as_ref().map(|(_, d)| d.as_str()));
        }
    }

    async fn insert(self, conn: &mut PgConnection) -> Result<()> {
        if self.id.is_empty() {
            return Ok(());
        }
        sqlx::query(
            r#"INSERT INTO events (execution_arn, id, previous_id, "timestamp", kind, details_key, details)
               SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::float8[], $5::text[], $6::text[], $7::text[])"#,
        )
        .bind(self.execution_arn)
        .bind(self.id)
        .bind(self.previous_id)
        .bind(self.timestamp)
        .bind(self.kind)
        .bind(self.details_key)
        .bind(self.details)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// An execution's row as a batch sees it: read (and locked) at the start, then advanced by
/// each applied transition; written back once at the end.
struct Head<'a> {
    version: i64,
    next_event_id: i64,
    step_events: i64,
    status: ExecutionStatus,
    /// Whether some transition of the batch applied, so the row needs writing.
    changed: bool,
    cursor: Option<&'a Cursor>,
    finish: Option<&'a Finish>,
}

/// Attempts of a batch that PostgreSQL keeps aborting before the error reaches the caller.
const ATTEMPTS: u32 = 10;

/// Run a write transaction again when PostgreSQL aborted it to break a deadlock (replicas
/// writing the same rows in different orders) or a serialization conflict. Nothing of an
/// aborted transaction was applied, so running it again is applying it later.
async fn retry_aborted<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut n = 1;
    loop {
        match attempt().await {
            Err(StoreError::Backend(sqlx::Error::Database(e)))
                if n < ATTEMPTS && matches!(e.code().as_deref(), Some("40P01" | "40001")) =>
            {
                // A short random pause, so the two sides do not meet again at once.
                let pause = rand::random::<u64>() % (2 * u64::from(n)) + 1;
                tokio::time::sleep(Duration::from_millis(pause)).await;
                n += 1;
            }
            other => return other,
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_state_machine(&self, sm: &StateMachineRecord) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO state_machines (arn, name, definition, role_arn, kind, created, revision) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
        let row = sqlx::query("SELECT * FROM state_machines WHERE arn = $1")
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(state_machine).transpose()?)
    }

    async fn update_state_machine(
        &self,
        arn: &str,
        definition: Option<&str>,
        role_arn: Option<&str>,
    ) -> Result<StateMachineRecord> {
        let row = sqlx::query(
            "UPDATE state_machines SET definition = COALESCE($1, definition), role_arn = COALESCE($2, role_arn), revision = revision + 1 WHERE arn = $3 RETURNING *",
        )
        .bind(definition)
        .bind(role_arn)
        .bind(arn)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(arn.to_string()))?;
        Ok(state_machine(&row)?)
    }

    async fn delete_state_machine(&self, arn: &str) -> Result<()> {
        sqlx::query("DELETE FROM state_machines WHERE arn = $1")
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
        let rows =
            sqlx::query("SELECT * FROM state_machines WHERE name > $1 ORDER BY name LIMIT $2")
                .bind(after_name.unwrap_or(""))
                .bind(sql_limit(limit))
                .fetch_all(&self.pool)
                .await?;
        all(&rows, state_machine)
    }

    async fn create_execution(
        &self,
        e: &ExecutionRecord,
        cursor: Option<&Cursor>,
        started: &[NewEvent],
    ) -> Result<Option<ExecutionRecord>> {
        let mut tx = self.pool.begin().await?;
        // No conflict target: every unique index arbitrates, so a concurrent start of the same
        // execution (same ARN and same name) waits for the other and then does nothing,
        // instead of failing on whichever index it happens to check second.
        let inserted = sqlx::query(
            "INSERT INTO executions (arn, state_machine_arn, name, status, input, output, error, cause, start, stop, definition, role_arn, kind, redrive_count, cursor_state, cursor_input, cursor_vars, version, next_event_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 0, $18)
             ON CONFLICT DO NOTHING",
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
        if inserted.rows_affected() == 1 {
            let mut events = EventRows::default();
            events.push(&e.arn, 1, started);
            events.insert(&mut tx).await?;
            tx.commit().await?;
            return Ok(None);
        }
        // The conflicting row is committed (the insert waited for it), so this statement's
        // fresh snapshot sees it.
        let existing =
            sqlx::query("SELECT * FROM executions WHERE state_machine_arn = $1 AND name = $2")
                .bind(&e.state_machine_arn)
                .bind(&e.name)
                .fetch_optional(&mut *tx)
                .await?;
        match existing {
            Some(row) => Ok(Some(execution(&row)?)),
            // The ARN is taken by an execution with another machine or name.
            None => Err(StoreError::AlreadyExists(e.arn.clone())),
        }
    }

    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>> {
        let row = sqlx::query("SELECT * FROM executions WHERE arn = $1")
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(execution).transpose()?)
    }

    async fn list_executions(&self, f: &ExecutionFilter) -> Result<Vec<ExecutionRecord>> {
        // Only the filters given are in the query, so the planner can use the index that
        // fits them (by machine, by Map Run, or by start time): a rare machine among many
        // executions is found through its own index, not by scanning everyone's.
        let mut q = QueryBuilder::<Postgres>::new("SELECT * FROM executions WHERE 1 = 1");
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
            .push_bind(sql_limit(f.limit));
        let rows = q.build().fetch_all(&self.pool).await?;
        all(&rows, execution)
    }

    async fn record_children(&self, batch: &[(ExecutionRecord, Vec<NewEvent>)]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch: a Map Run ends children by the thousand.
        let column = |f: fn(&ExecutionRecord) -> Option<&str>| -> Vec<Option<&str>> {
            batch.iter().map(|(e, _)| f(e)).collect()
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO executions (arn, state_machine_arn, name, status, input, output, error, cause, start, stop, definition, role_arn, kind, redrive_count, map_run_arn, next_event_id)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::float8[], $10::float8[], $11::text[], $12::text[], $13::text[], $14::int8[], $15::text[], $16::int8[])
             ON CONFLICT (arn) DO UPDATE SET status = excluded.status, input = excluded.input, output = excluded.output, error = excluded.error, cause = excluded.cause, start = excluded.start, stop = excluded.stop, redrive_count = excluded.redrive_count, next_event_id = excluded.next_event_id",
        )
        .bind(column(|e| Some(&e.arn)))
        .bind(column(|e| Some(&e.state_machine_arn)))
        .bind(column(|e| Some(&e.name)))
        .bind(column(|e| Some(e.status.as_str())))
        .bind(column(|e| Some(&e.input)))
        .bind(column(|e| e.output.as_deref()))
        .bind(column(|e| e.error.as_deref()))
        .bind(column(|e| e.cause.as_deref()))
        .bind(batch.iter().map(|(e, _)| e.start).collect::<Vec<f64>>())
        .bind(batch.iter().map(|(e, _)| e.stop).collect::<Vec<Option<f64>>>())
        .bind(column(|e| Some(&e.definition)))
        .bind(column(|e| Some(&e.role_arn)))
        .bind(column(|e| Some(e.kind.as_str())))
        .bind(batch.iter().map(|(e, _)| e.redrive_count).collect::<Vec<i64>>())
        .bind(column(|e| e.map_run_arn.as_deref()))
        .bind(
            batch
                .iter()
                .map(|(_, evs)| 1 + evs.len() as i64)
                .collect::<Vec<i64>>(),
        )
        .execute(&mut *tx)
        .await?;
        // A child that ran again gets the history of its last run (and a row written twice
        // keeps one history).
        let arns: Vec<&str> = batch.iter().map(|(e, _)| e.arn.as_str()).collect();
        // Recorded, a queued child is off the queue (in the same transaction, so a child is
        // never both recorded and waiting to run).
        sqlx::query("DELETE FROM child_queue WHERE child_arn = ANY($1)")
            .bind(&arns)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM events WHERE execution_arn = ANY($1)")
            .bind(&arns)
            .execute(&mut *tx)
            .await?;
        let mut events = EventRows::default();
        for (e, evs) in batch {
            events.push(&e.arn, 1, evs);
        }
        events.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn ended_children(&self, map_run_arn: &str) -> Result<Vec<(String, ExecutionStatus)>> {
        let rows = sqlx::query(
            "SELECT name, status FROM executions WHERE map_run_arn = $1 AND status <> 'RUNNING'",
        )
        .bind(map_run_arn)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("status")?)))
            .collect()
    }

    async fn queue_children(&self, children: &[QueuedChild]) -> Result<()> {
        if children.is_empty() {
            return Ok(());
        }
        let text = |f: fn(&QueuedChild) -> &str| -> Vec<&str> { children.iter().map(f).collect() };
        let int = |f: fn(&QueuedChild) -> i64| -> Vec<i64> { children.iter().map(f).collect() };
        sqlx::query(
            "INSERT INTO child_queue (child_arn, map_run_arn, root_arn, label, name, state_machine_arn, role_arn, child_index, input, vars, seed, redrive_count, rerun, queued)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[], $9::text[], $10::text[], $11::int8[], $12::int8[], $13::int8[], $14::float8[])
             ON CONFLICT (child_arn) DO NOTHING",
        )
        .bind(text(|c| &c.child_arn))
        .bind(text(|c| &c.map_run_arn))
        .bind(text(|c| &c.root_arn))
        .bind(text(|c| &c.label))
        .bind(text(|c| &c.name))
        .bind(text(|c| &c.state_machine_arn))
        .bind(text(|c| &c.role_arn))
        .bind(int(|c| c.index))
        .bind(text(|c| &c.input))
        .bind(text(|c| &c.vars))
        .bind(int(|c| c.seed))
        .bind(int(|c| c.redrive_count))
        .bind(int(|c| i64::from(c.rerun)))
        .bind(children.iter().map(|c| c.queued).collect::<Vec<f64>>())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_children(
        &self,
        owner: &str,
        now: f64,
        until: f64,
        limit: usize,
    ) -> Result<Vec<QueuedChild>> {
        // SKIP LOCKED: replicas claiming at the same moment take disjoint children.
        let rows = sqlx::query(
            "UPDATE child_queue SET owner = $1, lease_until = $2
             WHERE child_arn IN (SELECT child_arn FROM child_queue
                                 WHERE lease_until IS NULL OR lease_until < $3
                                 ORDER BY queued LIMIT $4
                                 FOR UPDATE SKIP LOCKED)
             RETURNING *",
        )
        .bind(owner)
        .bind(until)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(queued_child).collect()
    }

    async fn renew_child_leases(&self, owner: &str, until: Option<f64>) -> Result<u64> {
        let sql = if until.is_some() {
            "UPDATE child_queue SET lease_until = $1 WHERE owner = $2"
        } else {
            "UPDATE child_queue SET lease_until = $1, owner = NULL WHERE owner = $2"
        };
        let done = sqlx::query(sql)
            .bind(until)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn queued_children(&self, map_run_arn: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT child_arn FROM child_queue WHERE map_run_arn = $1")
            .bind(map_run_arn)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("child_arn"))
            .collect::<sqlx::Result<_>>()?)
    }

    async fn get_cursor(&self, arn: &str) -> Result<Option<Cursor>> {
        let row = sqlx::query(
            "SELECT cursor_state, cursor_input, cursor_vars, version, next_event_id, step_events, cursor_transitions FROM executions WHERE arn = $1 AND cursor_state IS NOT NULL",
        )
        .bind(arn)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Cursor {
            state: r.try_get("cursor_state")?,
            input: r.try_get("cursor_input")?,
            vars: r.try_get("cursor_vars")?,
            version: r.try_get("version")?,
            next_event_id: r.try_get("next_event_id")?,
            step_events: r.try_get("step_events")?,
            transitions: r.try_get("cursor_transitions")?,
        }))
    }

    async fn commit(&self, batch: &[Transition]) -> Result<Vec<Result<()>>> {
        retry_aborted(|| self.commit_once(batch)).await
    }

    async fn history(
        &self,
        arn: &str,
        after: Option<i64>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<HistoryEvent>> {
        let sql = if reverse {
            "SELECT * FROM events WHERE execution_arn = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        } else {
            "SELECT * FROM events WHERE execution_arn = $1 AND id > $2 ORDER BY id LIMIT $3"
        };
        let bound = after.unwrap_or(if reverse { i64::MAX } else { 0 });
        let rows = sqlx::query(sql)
            .bind(arn)
            .bind(bound)
            .bind(sql_limit(limit))
            .fetch_all(&self.pool)
            .await?;
        all(&rows, history_event)
    }

    async fn running_executions(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT arn FROM executions WHERE status = 'RUNNING' AND kind = 'STANDARD' AND map_run_arn IS NULL ORDER BY start, arn",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("arn"))
            .collect::<sqlx::Result<_>>()?)
    }

    async fn claim_executions(
        &self,
        owner: &str,
        now: f64,
        until: f64,
        limit: usize,
    ) -> Result<Vec<String>> {
        // SKIP LOCKED: replicas claiming at the same moment take disjoint executions.
        let rows = sqlx::query(
            "UPDATE executions SET owner = $1, lease_until = $2
             WHERE arn IN (SELECT arn FROM executions
                           WHERE status = 'RUNNING' AND kind = 'STANDARD' AND map_run_arn IS NULL
                             AND (lease_until IS NULL OR lease_until < $3 OR owner = $1)
                           ORDER BY start LIMIT $4
                           FOR UPDATE SKIP LOCKED)
             RETURNING arn",
        )
        .bind(owner)
        .bind(until)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("arn"))
            .collect::<sqlx::Result<_>>()?)
    }

    async fn lease_execution(&self, arn: &str, owner: &str, now: f64, until: f64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE executions SET owner = $1, lease_until = $2
             WHERE arn = $3 AND status = 'RUNNING' AND (lease_until IS NULL OR lease_until < $4 OR owner = $1)",
        )
        .bind(owner)
        .bind(until)
        .bind(arn)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_map_run(&self, run: &MapRunRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO map_runs (arn, execution_arn, state_machine_arn, status, start, stop, max_concurrency, tolerated_failure_percentage, tolerated_failure_count, total, running, succeeded, failed, items_total, items_succeeded, items_failed, redrive_count, results_written, items_results_written)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
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
        let row = sqlx::query("SELECT arn, execution_arn, state_machine_arn, status, start, stop, max_concurrency, tolerated_failure_percentage, tolerated_failure_count, total, running, succeeded, failed, items_total, items_succeeded, items_failed, redrive_count, results_written, items_results_written FROM map_runs WHERE arn = $1")
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| map_run_row(&r)).transpose()
    }

    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>> {
        let rows = sqlx::query(
            "SELECT arn, execution_arn, state_machine_arn, status, start, stop, max_concurrency, tolerated_failure_percentage, tolerated_failure_count, total, running, succeeded, failed, items_total, items_succeeded, items_failed, redrive_count, results_written, items_results_written FROM map_runs WHERE execution_arn = $1 ORDER BY start, arn",
        )
        .bind(execution_arn)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(map_run_row).collect()
    }

    async fn request_map_run_update(&self, arn: &str, update: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE map_runs SET requested_update = $1 WHERE arn = $2 AND status = 'RUNNING'",
        )
        .bind(update)
        .bind(arn)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn take_map_run_update(&self, arn: &str) -> Result<Option<String>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT requested_update FROM map_runs WHERE arn = $1 FOR UPDATE")
            .bind(arn)
            .fetch_optional(&mut *tx)
            .await?;
        let update: Option<String> = match row {
            Some(r) => r.try_get("requested_update")?,
            None => None,
        };
        if update.is_some() {
            sqlx::query("UPDATE map_runs SET requested_update = NULL WHERE arn = $1")
                .bind(arn)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(update)
    }

    async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String> {
        // The no-op update makes RETURNING give the stored row when the key exists.
        let row = sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = settings.value
             RETURNING value",
        )
        .bind(key)
        .bind(value)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("value")?)
    }

    async fn timer(&self, execution_arn: &str, key: &str, fire_at: f64) -> Result<f64> {
        // The first deadline wins: a replayed step waits only for what is left.
        let row = sqlx::query(
            "INSERT INTO timers (execution_arn, key, fire_at) VALUES ($1, $2, $3)
             ON CONFLICT (execution_arn, key) DO UPDATE SET fire_at = timers.fire_at
             RETURNING fire_at",
        )
        .bind(execution_arn)
        .bind(key)
        .bind(fire_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("fire_at")?)
    }

    async fn renew_leases(&self, owner: &str, until: f64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE executions SET lease_until = $1 WHERE owner = $2 AND status = 'RUNNING'",
        )
        .bind(until)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn ended_among(&self, arns: &[String]) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT arn FROM executions WHERE arn = ANY($1) AND status <> 'RUNNING'")
                .bind(arns)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("arn"))
            .collect::<sqlx::Result<_>>()?)
    }

    async fn redrive(&self, arn: &str, event: &NewEvent) -> Result<ExecutionRecord> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT next_event_id, status FROM executions WHERE arn = $1 AND cursor_state IS NOT NULL FOR UPDATE",
        )
        .bind(arn)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(arn.to_string()))?;
        let status: ExecutionStatus = row.try_get("status")?;
        if !status.is_redrivable() {
            return Err(StoreError::Conflict(arn.to_string()));
        }
        let next_event_id: i64 = row.try_get("next_event_id")?;
        let mut events = EventRows::default();
        events.push(arn, next_event_id, std::slice::from_ref(event));
        events.insert(&mut tx).await?;
        let row = sqlx::query(
            "UPDATE executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL, stop = NULL, redrive_count = redrive_count + 1, version = version + 1, step_events = 0, next_event_id = $1 WHERE arn = $2 RETURNING *",
        )
        .bind(next_event_id + 1)
        .bind(arn)
        .fetch_one(&mut *tx)
        .await?;
        let record = execution(&row)?;
        tx.commit().await?;
        Ok(record)
    }

    async fn create_activity(&self, a: &ActivityRecord) -> Result<ActivityRecord> {
        // CreateActivity is idempotent by name; no conflict target for the same reason as in
        // `create_execution`.
        let done =
            sqlx::query("INSERT INTO activities (arn, name, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(&a.arn)
                .bind(&a.name)
                .bind(a.created)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 1 {
            return Ok(a.clone());
        }
        let row = sqlx::query("SELECT * FROM activities WHERE name = $1")
            .bind(&a.name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::AlreadyExists(a.arn.clone()))?;
        Ok(activity(&row)?)
    }

    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>> {
        let row = sqlx::query("SELECT * FROM activities WHERE arn = $1")
            .bind(arn)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(activity).transpose()?)
    }

    async fn delete_activity(&self, arn: &str) -> Result<()> {
        sqlx::query("DELETE FROM activities WHERE arn = $1")
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
        let rows = sqlx::query("SELECT * FROM activities WHERE name > $1 ORDER BY name LIMIT $2")
            .bind(after_name.unwrap_or(""))
            .bind(sql_limit(limit))
            .fetch_all(&self.pool)
            .await?;
        all(&rows, activity)
    }

    async fn write_tasks(&self, batch: &[TaskWrite]) -> Result<Vec<Result<Option<TaskRecord>>>> {
        retry_aborted(|| self.write_tasks_once(batch)).await
    }

    async fn get_task(&self, token: &str) -> Result<Option<TaskRecord>> {
        stored_task(&mut *self.pool.acquire().await?, token).await
    }

    async fn claim_task(
        &self,
        activity_arn: &str,
        worker: &str,
        now: f64,
        lease_seconds: f64,
    ) -> Result<Option<TaskRecord>> {
        // SKIP LOCKED: a task another worker is claiming right now is passed over rather than
        // waited for, and a row whose claim committed meanwhile is re-checked against the
        // condition. Expired claims go first: they are the oldest work.
        for sql in CLAIM_TASK {
            let row = sqlx::query(sql)
                .bind(activity_arn)
                .bind(worker)
                .bind(now)
                .bind(lease_seconds)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = row {
                return Ok(Some(task(&row)?));
            }
        }
        Ok(None)
    }

    async fn heartbeat_task(&self, token: &str, now: f64) -> Result<TaskRecord> {
        let row = sqlx::query(
            "UPDATE tasks SET last_heartbeat = $2,
                 lease_until = GREATEST(COALESCE(lease_until, 0), $2 + COALESCE(heartbeat_seconds, 60))
             WHERE token = $1 AND status IN ('PENDING', 'CLAIMED')
             RETURNING *",
        )
        .bind(token)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(task(&row)?),
            None => Err(why_not_open(&mut *self.pool.acquire().await?, token).await?),
        }
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
        retry_aborted(|| scheduling::fire_schedules(&self.pool, fires, lease)).await
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
        let rows = sqlx::query(
            "SELECT * FROM tasks WHERE status IN ('PENDING', 'CLAIMED') ORDER BY created, token LIMIT $1",
        )
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        all(&rows, task)
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
        retry_aborted(|| scheduling::fire_objects(&self.pool, fires, lease)).await
    }
}

/// Write by write, each as a batch of one (trivially in phase order), so each sees the ones
/// before it.
async fn write_in_order(conn: &mut PgConnection, batch: &[TaskWrite]) -> Result<Vec<Outcome>> {
    let mut results = Vec::with_capacity(batch.len());
    for write in batch {
        results.extend(write_by_phase(conn, std::slice::from_ref(write)).await?);
    }
    Ok(results)
}

/// One statement per phase (per chunk of the parameter limit), whatever the batch size.
async fn write_by_phase(conn: &mut PgConnection, batch: &[TaskWrite]) -> Result<Vec<Outcome>> {
    let phases = Phases::of(batch);
    let mut applied = Applied::default();
    for chunk in phases.puts.chunks(PG_CHUNK / 14) {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO tasks (token, activity_arn, execution_arn, state_name, input, status, worker, lease_until, heartbeat_seconds, last_heartbeat, output, error, cause, created) ",
        );
        q.push_values(chunk, |mut row, t| {
            row.push_bind(&t.token)
                .push_bind(&t.activity_arn)
                .push_bind(&t.execution_arn)
                .push_bind(&t.state_name)
                .push_bind(&t.input)
                .push_bind(t.status)
                .push_bind(&t.worker)
                .push_bind(t.lease_until)
                .push_bind(t.heartbeat_seconds)
                .push_bind(t.last_heartbeat)
                .push_bind(&t.output)
                .push_bind(&t.error)
                .push_bind(&t.cause)
                .push_bind(t.created);
        });
        q.push(" ON CONFLICT (token) DO NOTHING RETURNING *");
        by_token(
            q.build().fetch_all(&mut *conn).await?,
            &mut applied.inserted,
        )?;
    }
    applied.existed = read_tasks(conn, &applied.existing(&phases)).await?;
    for chunk in phases.claims.chunks(PG_CHUNK / 4) {
        let mut q = QueryBuilder::<Postgres>::new(
            "UPDATE tasks SET status = 'CLAIMED', worker = c.worker, lease_until = c.lease_until, last_heartbeat = c.now FROM (",
        );
        q.push_values(chunk, |mut row, c| {
            row.push_bind(c.token)
                .push_bind(c.worker)
                .push_bind(c.lease_until)
                .push_bind(c.now);
        });
        q.push(
            ") AS c(token, worker, lease_until, now)
             WHERE tasks.token = c.token AND tasks.status = 'PENDING' RETURNING tasks.*",
        );
        by_token(q.build().fetch_all(&mut *conn).await?, &mut applied.claimed)?;
    }
    for chunk in phases.completes.chunks(PG_CHUNK / 5) {
        let mut q = QueryBuilder::<Postgres>::new(
            "UPDATE tasks SET status = e.status, output = e.output, error = e.error, cause = e.cause FROM (",
        );
        q.push_values(chunk, |mut row, (token, outcome)| {
            let (status, output, error, cause) = ending(outcome);
            row.push_bind(*token)
                .push_bind(status)
                .push_bind(output)
                .push_bind(error)
                .push_bind(cause);
        });
        q.push(
            ") AS e(token, status, output, error, cause)
             WHERE tasks.token = e.token AND tasks.status IN ('PENDING', 'CLAIMED') RETURNING tasks.*",
        );
        by_token(q.build().fetch_all(&mut *conn).await?, &mut applied.ended)?;
    }
    applied.known = read_tasks(conn, &applied.unmatched(&phases)).await?;
    Ok(applied.outcomes(batch))
}

/// Bound parameters per statement in the phased writes (PostgreSQL allows 65,535).
const PG_CHUNK: usize = 8_400;

async fn read_tasks(conn: &mut PgConnection, tokens: &[&str]) -> Result<ByToken> {
    let mut found = ByToken::new();
    if !tokens.is_empty() {
        let rows = sqlx::query("SELECT * FROM tasks WHERE token = ANY($1)")
            .bind(tokens)
            .fetch_all(conn)
            .await?;
        by_token(rows, &mut found)?;
    }
    Ok(found)
}

fn by_token(rows: Vec<PgRow>, into: &mut ByToken) -> Result<()> {
    for row in rows {
        let t = task(&row)?;
        into.insert(t.token.clone(), t);
    }
    Ok(())
}

/// Claims of `claim_task`, tried in order: a lease-expired claim, then the oldest PENDING
/// task. Parameters: activity, worker, now, lease seconds.
const CLAIM_TASK: [&str; 2] = [
    "UPDATE tasks SET status = 'CLAIMED', worker = $2, lease_until = $3 + $4, last_heartbeat = $3
     WHERE token = (SELECT token FROM tasks
                    WHERE activity_arn = $1 AND status = 'CLAIMED' AND lease_until < $3
                    ORDER BY lease_until LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING *",
    "UPDATE tasks SET status = 'CLAIMED', worker = $2, lease_until = $3 + $4, last_heartbeat = $3
     WHERE token = (SELECT token FROM tasks
                    WHERE activity_arn = $1 AND status = 'PENDING'
                    ORDER BY created, token LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING *",
];

async fn stored_task(conn: &mut PgConnection, token: &str) -> Result<Option<TaskRecord>> {
    let row = sqlx::query("SELECT * FROM tasks WHERE token = $1")
        .bind(token)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(task).transpose()?)
}

/// The error for a task that an update of open tasks did not find.
async fn why_not_open(conn: &mut PgConnection, token: &str) -> Result<StoreError> {
    let exists = sqlx::query("SELECT 1 FROM tasks WHERE token = $1")
        .bind(token)
        .fetch_optional(conn)
        .await?
        .is_some();
    Ok(if exists {
        StoreError::TaskEnded
    } else {
        StoreError::InvalidToken
    })
}

/// A `map_runs` row.
fn map_run_row(r: &sqlx::postgres::PgRow) -> Result<MapRunRecord> {
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

fn queued_child(r: &PgRow) -> Result<QueuedChild> {
    Ok(QueuedChild {
        child_arn: r.try_get("child_arn")?,
        map_run_arn: r.try_get("map_run_arn")?,
        root_arn: r.try_get("root_arn")?,
        label: r.try_get("label")?,
        name: r.try_get("name")?,
        state_machine_arn: r.try_get("state_machine_arn")?,
        role_arn: r.try_get("role_arn")?,
        index: r.try_get("child_index")?,
        input: r.try_get("input")?,
        vars: r.try_get("vars")?,
        seed: r.try_get("seed")?,
        redrive_count: r.try_get("redrive_count")?,
        rerun: r.try_get::<i64, _>("rerun")? != 0,
        queued: r.try_get("queued")?,
    })
}

/// Insert executions with their first checkpoints and events, held by `lease`, except those
/// whose ARN or machine and name exist; the ARNs inserted.
async fn insert_new_executions(
    conn: &mut PgConnection,
    news: &[&NewExecution],
    lease: &Lease,
) -> Result<Vec<String>> {
    let mut created = Vec::new();
    for chunk in news.chunks(2000) {
        let mut q = QueryBuilder::<Postgres>::new(
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
            created.push(row.try_get::<String, _>("arn")?);
        }
    }
    let inserted: std::collections::HashSet<&str> = created.iter().map(String::as_str).collect();
    let mut events = EventRows::default();
    for n in news
        .iter()
        .filter(|n| inserted.contains(n.record.arn.as_str()))
    {
        events.push(&n.record.arn, 1, &n.events);
    }
    events.insert(conn).await?;
    Ok(created)
}

/// The schedule and trigger statements (`schedules.rs`), for PostgreSQL.
mod scheduling {
    super::super::schedules::schedule_sql!(
        sqlx::Postgres,
        sqlx::postgres::PgRow,
        super::insert_new_executions
    );
}
