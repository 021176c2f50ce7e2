//! Task writes of the SQLite store. A batch takes a few statements whatever its size (every
//! statement is a round trip to SQLite's worker thread, which bounds dispatch) when it can be
//! applied one phase (put, claim, complete) at a time; other batches go write by write.

use std::collections::HashMap;

use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::sqlite::{CHUNK, task};
use super::task_batch::{Applied, ByToken, Claim, Outcome, Phases, ending, in_phase_order};
use super::{Result, StoreError, TaskOutcome, TaskRecord, TaskWrite, is_task_outcome};

/// Apply `batch` inside the caller's transaction; see [`super::Store::write_tasks`].
pub(super) async fn write(
    conn: &mut SqliteConnection,
    batch: &[TaskWrite],
) -> Result<Vec<Outcome>> {
    if in_phase_order(batch) {
        write_by_phase(conn, batch).await
    } else {
        write_in_order(conn, batch).await
    }
}

async fn write_in_order(conn: &mut SqliteConnection, batch: &[TaskWrite]) -> Result<Vec<Outcome>> {
    let mut results = Vec::with_capacity(batch.len());
    for write in batch {
        let result = match write {
            TaskWrite::Put(t) => insert_task(conn, t).await.map(Some),
            TaskWrite::Claim {
                token,
                worker,
                now,
                lease_seconds,
            } => claim_pending(conn, token, worker, *now, *lease_seconds).await,
            TaskWrite::Complete { token, outcome } => {
                end_task(conn, token, outcome).await.map(Some)
            }
        };
        match result {
            Err(e) if !is_task_outcome(&e) => return Err(e),
            other => results.push(other),
        }
    }
    Ok(results)
}

/// A few statements per phase, whatever the batch size.
async fn write_by_phase(conn: &mut SqliteConnection, batch: &[TaskWrite]) -> Result<Vec<Outcome>> {
    let phases = Phases::of(batch);
    let mut applied = Applied {
        inserted: insert_tasks(conn, &phases.puts).await?,
        ..Applied::default()
    };
    applied.existed = read_tasks(conn, &applied.existing(&phases)).await?;
    applied.claimed = claim_tasks(conn, &phases.claims).await?;
    applied.ended = end_tasks(conn, &phases.completes).await?;
    applied.known = read_tasks(conn, &applied.unmatched(&phases)).await?;
    Ok(applied.outcomes(batch))
}

async fn read_tasks(conn: &mut SqliteConnection, tokens: &[&str]) -> Result<ByToken> {
    let mut found = HashMap::new();
    for chunk in tokens.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM tasks WHERE token IN (");
        let mut list = q.separated(", ");
        for token in chunk {
            list.push_bind(*token);
        }
        q.push(")");
        collect(q.build().fetch_all(&mut *conn).await?, &mut found);
    }
    Ok(found)
}

async fn insert_tasks(conn: &mut SqliteConnection, puts: &[&TaskRecord]) -> Result<ByToken> {
    let mut done = HashMap::with_capacity(puts.len());
    for chunk in puts.chunks(CHUNK / 14) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO tasks (token, activity_arn, execution_arn, state_name, input, status, worker, lease_until, heartbeat_seconds, last_heartbeat, output, error, cause, created) ",
        );
        q.push_values(chunk, |mut row, t| {
            row.push_bind(&t.token)
                .push_bind(&t.activity_arn)
                .push_bind(&t.execution_arn)
                .push_bind(&t.state_name)
                .push_bind(&t.input)
                .push_bind(&t.status)
                .push_bind(&t.worker)
                .push_bind(t.lease_until)
                .push_bind(t.heartbeat_seconds)
                .push_bind(t.last_heartbeat)
                .push_bind(&t.output)
                .push_bind(&t.error)
                .push_bind(&t.cause)
                .push_bind(t.created);
        });
        // RETURNING yields only the rows inserted; the others are read afterwards.
        q.push(" ON CONFLICT (token) DO NOTHING RETURNING *");
        collect(q.build().fetch_all(&mut *conn).await?, &mut done);
    }
    Ok(done)
}

async fn claim_tasks(conn: &mut SqliteConnection, claims: &[Claim<'_>]) -> Result<ByToken> {
    let mut done = HashMap::with_capacity(claims.len());
    for chunk in claims.chunks(CHUNK / 4) {
        let mut q = QueryBuilder::<Sqlite>::new("WITH c(token, worker, lease_until, now) AS (");
        q.push_values(chunk, |mut row, c| {
            row.push_bind(c.token)
                .push_bind(c.worker)
                .push_bind(c.lease_until)
                .push_bind(c.now);
        });
        q.push(
            ") UPDATE tasks SET status = 'CLAIMED', worker = c.worker, lease_until = c.lease_until, last_heartbeat = c.now
             FROM c WHERE tasks.token = c.token AND tasks.status = 'PENDING' RETURNING *",
        );
        collect(q.build().fetch_all(&mut *conn).await?, &mut done);
    }
    Ok(done)
}

async fn end_tasks(
    conn: &mut SqliteConnection,
    completes: &[(&str, &TaskOutcome)],
) -> Result<ByToken> {
    let mut done = HashMap::with_capacity(completes.len());
    for chunk in completes.chunks(CHUNK / 5) {
        let mut q = QueryBuilder::<Sqlite>::new("WITH e(token, status, output, error, cause) AS (");
        q.push_values(chunk, |mut row, (token, outcome)| {
            let (status, output, error, cause) = ending(outcome);
            row.push_bind(*token)
                .push_bind(status)
                .push_bind(output)
                .push_bind(error)
                .push_bind(cause);
        });
        q.push(
            ") UPDATE tasks SET status = e.status, output = e.output, error = e.error, cause = e.cause
             FROM e WHERE tasks.token = e.token AND tasks.status IN ('PENDING', 'CLAIMED') RETURNING *",
        );
        collect(q.build().fetch_all(&mut *conn).await?, &mut done);
    }
    Ok(done)
}

fn collect(rows: Vec<sqlx::sqlite::SqliteRow>, done: &mut ByToken) {
    for row in rows {
        let token: String = row.get("token");
        done.insert(token, task(&row));
    }
}

/// Insert a task unless its token exists; the stored task either way.
async fn insert_task(conn: &mut SqliteConnection, t: &TaskRecord) -> Result<TaskRecord> {
    let inserted = sqlx::query(
        "INSERT INTO tasks (token, activity_arn, execution_arn, state_name, input, status, worker, lease_until, heartbeat_seconds, last_heartbeat, output, error, cause, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token) DO NOTHING RETURNING *",
    )
    .bind(&t.token)
    .bind(&t.activity_arn)
    .bind(&t.execution_arn)
    .bind(&t.state_name)
    .bind(&t.input)
    .bind(&t.status)
    .bind(&t.worker)
    .bind(t.lease_until)
    .bind(t.heartbeat_seconds)
    .bind(t.last_heartbeat)
    .bind(&t.output)
    .bind(&t.error)
    .bind(&t.cause)
    .bind(t.created)
    .fetch_optional(&mut *conn)
    .await?;
    // RETURNING yields the row only when it was inserted; otherwise read the stored one.
    match inserted {
        Some(row) => Ok(task(&row)),
        None => stored_task(conn, &t.token)
            .await?
            .ok_or(StoreError::InvalidToken),
    }
}

pub(super) async fn stored_task(
    conn: &mut SqliteConnection,
    token: &str,
) -> Result<Option<TaskRecord>> {
    let row = sqlx::query("SELECT * FROM tasks WHERE token = ?")
        .bind(token)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(task))
}

/// Claim one task by token if it is still PENDING.
async fn claim_pending(
    conn: &mut SqliteConnection,
    token: &str,
    worker: &str,
    now: f64,
    lease_seconds: f64,
) -> Result<Option<TaskRecord>> {
    let row = sqlx::query(
        "UPDATE tasks SET status = 'CLAIMED', worker = ?, lease_until = ?, last_heartbeat = ?
         WHERE token = ? AND status = 'PENDING' RETURNING *",
    )
    .bind(worker)
    .bind(now + lease_seconds)
    .bind(now)
    .bind(token)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(task))
}

/// End a PENDING/CLAIMED task.
async fn end_task(
    conn: &mut SqliteConnection,
    token: &str,
    outcome: &TaskOutcome,
) -> Result<TaskRecord> {
    let (status, output, error, cause) = ending(outcome);
    let done = sqlx::query(
        "UPDATE tasks SET status = ?, output = ?, error = ?, cause = ? WHERE token = ? AND status IN ('PENDING', 'CLAIMED') RETURNING *",
    )
    .bind(status)
    .bind(output)
    .bind(error)
    .bind(cause)
    .bind(token)
    .fetch_optional(&mut *conn)
    .await?;
    match done {
        Some(row) => Ok(task(&row)),
        None => match stored_task(conn, token).await? {
            None => Err(StoreError::InvalidToken),
            Some(_) => Err(StoreError::TaskEnded),
        },
    }
}
