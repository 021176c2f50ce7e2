//! Map Runs of the executions this server drives: the latest progress of each running one is
//! kept in memory (DescribeMapRun reads it live) and written to the store when the run starts,
//! when it ends, and at most once a second in between, so a million children do not make a
//! million writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice_engine::engine::events::{MapRunProgress, MapRunStatus};
use tokio::sync::mpsc;

use crate::store::{MapRunRecord, Store, StoreError};

/// How often a running Map Run's counts reach the store.
const WRITE_EVERY: Duration = Duration::from_secs(1);

/// Live Map Runs and their writer.
pub(crate) struct MapRunBook {
    live: Mutex<HashMap<String, Live>>,
    writes: mpsc::UnboundedSender<MapRunRecord>,
    /// The writer task; it ends when the book (and with it the sender) is dropped.
    _writer: tokio::task::JoinHandle<()>,
}

struct Live {
    record: MapRunRecord,
    written: Option<Instant>,
}

impl MapRunBook {
    /// A book writing to `store`.
    pub(crate) fn start(store: Arc<dyn Store>) -> MapRunBook {
        let (writes, mut pending) = mpsc::unbounded_channel::<MapRunRecord>();
        let writer = tokio::spawn(async move {
            while let Some(record) = pending.recv().await {
                if let Err(e) = store.put_map_run(&record).await {
                    tracing::warn!(map_run = %record.arn, error = %e, "a Map Run could not be recorded");
                }
            }
        });
        MapRunBook {
            live: Mutex::new(HashMap::new()),
            writes,
            _writer: writer,
        }
    }

    /// Takes one progress report of a Map Run started by `execution_arn`.
    pub(crate) fn report(&self, execution_arn: &str, progress: &MapRunProgress<'_>) {
        let now = crate::time::now();
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let entry = live
            .entry(progress.map_run_arn.to_string())
            .or_insert_with(|| Live {
                record: MapRunRecord {
                    arn: progress.map_run_arn.to_string(),
                    execution_arn: execution_arn.to_string(),
                    state_machine_arn: children_machine(progress.map_run_arn),
                    status: String::new(),
                    start: now,
                    stop: None,
                    max_concurrency: 0,
                    tolerated_failure_percentage: 0.0,
                    tolerated_failure_count: 0,
                    total: None,
                    running: 0,
                    succeeded: 0,
                    failed: 0,
                },
                written: None,
            });
        let record = &mut entry.record;
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        record.status = progress.status.as_str().to_string();
        // An abort report carries no counts: the last ones stand.
        if progress.status == MapRunStatus::Aborted {
            record.stop = Some(now);
            record.running = 0;
            let _ = self.writes.send(record.clone());
            live.remove(progress.map_run_arn);
            return;
        }
        record.max_concurrency = count(progress.max_concurrency);
        record.tolerated_failure_percentage = progress.tolerated_failure_percentage;
        record.tolerated_failure_count = count(progress.tolerated_failure_count);
        record.total = progress.total.map(count);
        record.running = count(progress.running);
        record.succeeded = count(progress.succeeded);
        record.failed = count(progress.failed);
        let ended = progress.status != MapRunStatus::Running;
        if ended {
            record.stop = Some(now);
            record.running = 0;
        }
        let due = ended || entry.written.is_none_or(|at| at.elapsed() >= WRITE_EVERY);
        if due {
            entry.written = Some(Instant::now());
            // The writer only stops with the book, so a send cannot fail while we hold it.
            let _ = self.writes.send(entry.record.clone());
        }
        if ended {
            live.remove(progress.map_run_arn);
        }
    }

    /// A Map Run: the live state of a running one, else what the store has.
    pub(crate) async fn describe(
        &self,
        store: &dyn Store,
        arn: &str,
    ) -> Result<Option<MapRunRecord>, StoreError> {
        if let Some(live) = self.live.lock().unwrap_or_else(|p| p.into_inner()).get(arn) {
            return Ok(Some(live.record.clone()));
        }
        store.get_map_run(arn).await
    }

    /// The Map Runs of an execution, live state first.
    pub(crate) async fn list(
        &self,
        store: &dyn Store,
        execution_arn: &str,
    ) -> Result<Vec<MapRunRecord>, StoreError> {
        let mut runs = store.list_map_runs(execution_arn).await?;
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        for run in live
            .values()
            .filter(|l| l.record.execution_arn == execution_arn)
        {
            match runs.iter_mut().find(|r| r.arn == run.record.arn) {
                Some(stored) => *stored = run.record.clone(),
                None => runs.push(run.record.clone()),
            }
        }
        Ok(runs)
    }
}

/// `…:mapRun:<machine>/<label>:<id>` → `…:stateMachine:<machine>/<label>`, the children's
/// state machine as AWS names it.
fn children_machine(map_run_arn: &str) -> String {
    match map_run_arn.split_once(":mapRun:") {
        Some((head, rest)) => {
            let machine = rest.rsplit_once(':').map_or(rest, |(m, _)| m);
            format!("{head}:stateMachine:{machine}")
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::children_machine;

    #[test]
    fn children_are_named_after_the_map_run() {
        assert_eq!(
            children_machine("arn:aws:states:us-east-1:1:mapRun:orders/Fan:1a2b"),
            "arn:aws:states:us-east-1:1:stateMachine:orders/Fan"
        );
    }
}
