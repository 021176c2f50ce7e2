//! Map Runs of the executions this server drives: the latest progress of each running one is
//! kept in memory (DescribeMapRun reads it live) and written to the store when the run starts,
//! when it ends, and at most once a second in between, so a million children do not make a
//! million writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice_engine::engine::events::{MapRunProgress, MapRunStatus, MapRunUpdate};
use tokio::sync::mpsc;

use crate::store::{MapRunRecord, Store, StoreError};

/// How often a running Map Run's counts reach the store.
const WRITE_EVERY: Duration = Duration::from_secs(1);

/// Live Map Runs and their writer.
pub(crate) struct MapRunBook {
    live: Arc<Mutex<HashMap<String, Live>>>,
    writes: mpsc::UnboundedSender<MapRunRecord>,
    /// The writer task; it ends when the book (and with it the sender) is dropped.
    _writer: tokio::task::JoinHandle<()>,
    /// Counts the items of runs as they end (`sluice_map_run_items_total`).
    metrics: Arc<crate::metrics::Metrics>,
}

struct Live {
    record: MapRunRecord,
    written: Option<Instant>,
    /// Settings from UpdateMapRun, handed to the run with its next report.
    update: Option<MapRunUpdate>,
    /// The run has ended; the entry stays until its final record is in the store, so no
    /// reader sees the stale RUNNING row in between.
    ended: bool,
}

/// Why UpdateMapRun could not change a Map Run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpdateError {
    #[error("Map Run Does Not Exist: '{0}'")]
    NotFound(String),
    #[error("Map Run '{0}' is {1}; only a RUNNING Map Run can be updated")]
    NotRunning(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Live {
    /// Takes new settings: shown at once, handed to the run with its next report.
    fn apply(&mut self, update: MapRunUpdate) {
        let pending = self.update.get_or_insert_with(MapRunUpdate::default);
        *pending = merge(*pending, update);
        let record = &mut self.record;
        if let Some(n) = update.max_concurrency {
            record.max_concurrency = i64::try_from(n).unwrap_or(i64::MAX);
        }
        if let Some(p) = update.tolerated_failure_percentage {
            record.tolerated_failure_percentage = p;
        }
        if let Some(c) = update.tolerated_failure_count {
            record.tolerated_failure_count = i64::try_from(c).unwrap_or(i64::MAX);
        }
    }
}

/// `later`'s settings over `earlier`'s.
fn merge(earlier: MapRunUpdate, later: MapRunUpdate) -> MapRunUpdate {
    MapRunUpdate {
        max_concurrency: later.max_concurrency.or(earlier.max_concurrency),
        tolerated_failure_percentage: later
            .tolerated_failure_percentage
            .or(earlier.tolerated_failure_percentage),
        tolerated_failure_count: later
            .tolerated_failure_count
            .or(earlier.tolerated_failure_count),
    }
}

/// An update as the row keeps it: UpdateMapRun's own field names.
fn encode_update(u: &MapRunUpdate) -> String {
    serde_json::json!({
        "maxConcurrency": u.max_concurrency,
        "toleratedFailurePercentage": u.tolerated_failure_percentage,
        "toleratedFailureCount": u.tolerated_failure_count,
    })
    .to_string()
}

/// The update a row keeps; what does not parse is no change.
fn decode_update(text: &str) -> MapRunUpdate {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    MapRunUpdate {
        max_concurrency: v["maxConcurrency"].as_u64(),
        tolerated_failure_percentage: v["toleratedFailurePercentage"].as_f64(),
        tolerated_failure_count: v["toleratedFailureCount"].as_u64(),
    }
}

impl MapRunBook {
    /// A book writing to `store`.
    pub(crate) fn start(
        store: Arc<dyn Store>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> MapRunBook {
        let (writes, mut pending) = mpsc::unbounded_channel::<MapRunRecord>();
        let live: Arc<Mutex<HashMap<String, Live>>> = Arc::default();
        let book = Arc::clone(&live);
        let writer = tokio::spawn(async move {
            while let Some(record) = pending.recv().await {
                if let Err(e) = store.put_map_run(&record).await {
                    // The entry stays in memory, so this replica still answers for the run.
                    tracing::warn!(map_run = %record.arn, error = %e, "a Map Run could not be recorded");
                    continue;
                }
                // An UpdateMapRun sent to another replica waits in the row for this one.
                if record.status == MapRunStatus::Running.as_str() {
                    match store.take_map_run_update(&record.arn).await {
                        Ok(Some(text)) => {
                            let mut live = book.lock().unwrap_or_else(|p| p.into_inner());
                            if let Some(entry) = live.get_mut(&record.arn) {
                                entry.apply(decode_update(&text));
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(map_run = %record.arn, error = %e, "a Map Run's pending update could not be read");
                        }
                    }
                }
                if record.status != MapRunStatus::Running.as_str() {
                    let mut live = book.lock().unwrap_or_else(|p| p.into_inner());
                    if live.get(&record.arn).is_some_and(|l| l.ended) {
                        live.remove(&record.arn);
                    }
                }
            }
        });
        MapRunBook {
            live,
            writes,
            _writer: writer,
            metrics,
        }
    }

    /// Takes one progress report of a Map Run started by `execution_arn`; returns the
    /// settings UpdateMapRun asked for since the last report.
    pub(crate) fn report(
        &self,
        execution_arn: &str,
        progress: &MapRunProgress<'_>,
    ) -> Option<MapRunUpdate> {
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
                    items_total: None,
                    items_succeeded: 0,
                    items_failed: 0,
                    redrive_count: 0,
                    results_written: 0,
                    items_results_written: 0,
                },
                written: None,
                update: None,
                ended: false,
            });
        let record = &mut entry.record;
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        record.status = progress.status.as_str().to_string();
        // An abort report carries no counts: the last ones stand.
        if progress.status == MapRunStatus::Aborted {
            record.stop = Some(now);
            record.running = 0;
            entry.ended = true;
            let _ = self.writes.send(entry.record.clone());
            return None;
        }
        record.redrive_count = count(progress.redrive_count);
        record.results_written = count(progress.results_written);
        record.items_results_written = count(progress.items.results_written);
        record.max_concurrency = count(progress.max_concurrency);
        record.tolerated_failure_percentage = progress.tolerated_failure_percentage;
        record.tolerated_failure_count = count(progress.tolerated_failure_count);
        record.total = progress.total.map(count);
        record.running = count(progress.running);
        record.succeeded = count(progress.succeeded);
        record.failed = count(progress.failed);
        record.items_total = progress.items.total.map(count);
        record.items_succeeded = count(progress.items.succeeded);
        record.items_failed = count(progress.items.failed);
        let ended = progress.status != MapRunStatus::Running;
        if ended {
            record.stop = Some(now);
            record.running = 0;
            if !entry.ended {
                let items = &self.metrics.map_run_items;
                let add = |status: &str, n: i64| {
                    items
                        .with_label_values(&[status])
                        .inc_by(u64::try_from(n).unwrap_or(0));
                };
                add("SUCCEEDED", record.items_succeeded);
                add("FAILED", record.items_failed);
            }
        }
        let due = ended || entry.written.is_none_or(|at| at.elapsed() >= WRITE_EVERY);
        if due {
            entry.written = Some(Instant::now());
            // The writer only stops with the book, so a send cannot fail while we hold it.
            let _ = self.writes.send(entry.record.clone());
        }
        entry.ended = ended;
        entry.update.take()
    }

    /// UpdateMapRun: new concurrency or tolerance for a running Map Run, taken by the run
    /// with its next report (at once when children are finishing).
    pub(crate) async fn update(
        &self,
        store: &dyn Store,
        arn: &str,
        update: MapRunUpdate,
    ) -> Result<(), UpdateError> {
        {
            let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = live.get_mut(arn) {
                if entry.ended {
                    let status = entry.record.status.clone();
                    return Err(UpdateError::NotRunning(arn.to_string(), status));
                }
                entry.apply(update);
                let _ = self.writes.send(entry.record.clone());
                return Ok(());
            }
        }
        match store.get_map_run(arn).await? {
            None => Err(UpdateError::NotFound(arn.to_string())),
            // Driven by another replica: it takes the update with its next write (at most a
            // second after its next child ends).
            Some(run) if run.status == "RUNNING" => {
                let pending = match store.take_map_run_update(arn).await? {
                    Some(text) => merge(decode_update(&text), update),
                    None => update,
                };
                if store
                    .request_map_run_update(arn, &encode_update(&pending))
                    .await?
                {
                    Ok(())
                } else {
                    Err(UpdateError::NotRunning(
                        arn.to_string(),
                        "no longer RUNNING".into(),
                    ))
                }
            }
            Some(run) => Err(UpdateError::NotRunning(arn.to_string(), run.status)),
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
    use super::*;

    #[test]
    fn updates_merge_and_survive_the_row() {
        let first = MapRunUpdate {
            max_concurrency: Some(5),
            tolerated_failure_percentage: Some(1.5),
            tolerated_failure_count: None,
        };
        let second = MapRunUpdate {
            max_concurrency: Some(9),
            tolerated_failure_percentage: None,
            tolerated_failure_count: Some(2),
        };
        let merged = merge(first, second);
        assert_eq!(
            merged,
            MapRunUpdate {
                max_concurrency: Some(9),
                tolerated_failure_percentage: Some(1.5),
                tolerated_failure_count: Some(2),
            }
        );
        assert_eq!(decode_update(&encode_update(&merged)), merged);
        assert_eq!(decode_update("not json"), MapRunUpdate::default());
    }

    #[test]
    fn children_are_named_after_the_map_run() {
        assert_eq!(
            children_machine("arn:aws:states:us-east-1:1:mapRun:orders/Fan:1a2b"),
            "arn:aws:states:us-east-1:1:stateMachine:orders/Fan"
        );
    }
}
