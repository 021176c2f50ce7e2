//! Task writes of the SQLite store. A batch takes a few statements whatever its size (every
//! statement is a round trip to SQLite's worker thread, which bounds dispatch) when it can be
//! applied one phase (put, claim, complete) at a time; other batches go write by write.

use std::collections::HashMap;

use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::sqlite::{CHUNK, task};
use super::task_batch::{Applied, ByToken, Claim, Outcome, Phases, ending, in_phase_order};
use super::{Result, TaskOutcome, TaskRecord, TaskWrite};

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

/// Write by write, each as a batch of one (trivially in phase order), so each sees the ones
/// before it.
async fn write_in_order(conn: &mut SqliteConnection, batch: &[TaskWrite]) -> Result<Vec<Outcome>> {
    let mut results = Vec::with_capacity(batch.len());
    for write in batch {
        results.extend(write_by_phase(conn, std::slice::from_ref(write)).await?);
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
