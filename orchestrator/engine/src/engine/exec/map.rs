//! The Map state: items (from the input or an ItemReader), ItemSelector, batching,
//! concurrency, tolerated failures and the ResultWriter.

// The parent module holds the imports the interpreter's parts share.
use super::distributed::ItemSource;
use super::*;
use crate::engine::children::{
    ChildExecution, ChildLedger, DelegatedChild, MapRunKey, OpenedRun, Placement, RunningChild,
    child_info,
};
use crate::engine::context::{ChildSeeds, now_iso8601};
use crate::engine::events::{ItemCounts, MapRunProgress, MapRunStatus};
use crate::lang::distributed::{self, Batcher, IterationRecord};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::SystemTime;

/// Where a Map's children come from.
enum Feed<'a, 'r> {
    /// Items of the state's input, selected as their iterations start.
    Items { values: &'a [Value], next: usize },
    /// Child inputs computed up front (batches of in-memory items).
    Prepared(std::vec::IntoIter<Value>),
    /// An ItemReader, pulled as iterations need items (and batched as they arrive).
    Reader(Box<ItemSource<'r>>, Option<Batcher>),
}

/// Where a Map Run's children are kept, and what the ledger knew of them when it opened.
struct ChildRun<'a> {
    map_run_arn: &'a str,
    /// The Map state's label, by which another host finds the ItemProcessor.
    label: &'a str,
    /// The variables children read, as one object, for children handed to other hosts
    /// (computed once per run).
    vars: std::sync::OnceLock<Value>,
    ledger: Option<&'a dyn ChildLedger>,
    opened: Option<&'a OpenedRun>,
    /// Kept children that started and have not ended, by index.
    running: std::sync::Mutex<std::collections::HashMap<usize, RunningChild>>,
}

impl Drop for ChildRun<'_> {
    /// Children in flight when the Map Run is dropped (stopped, or failed) are aborted.
    fn drop(&mut self) {
        let running = std::mem::take(self.running.get_mut().unwrap_or_else(|p| p.into_inner()));
        if let Some(ledger) = self.ledger
            && !running.is_empty()
        {
            ledger.abandon(running.into_values().collect());
        }
    }
}

/// A child's history as it happens, for the ledger.
#[derive(Default)]
pub(crate) struct History(std::sync::Mutex<Vec<(SystemTime, Event)>>);

impl History {
    pub(crate) fn into_events(self) -> Vec<(SystemTime, Event)> {
        self.0.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl EventSink for History {
    fn emit(&self, event: Event) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((SystemTime::now(), event));
    }
}

/// A child the ledger could not keep or give back fails, naming it.
fn unrecorded(child_arn: &str, error: &str) -> Failure {
    Failure::new(
        errors::RUNTIME,
        format!("The Map Run's child execution '{child_arn}' could not be recorded: {error}"),
    )
}

fn iso8601(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Children of a Distributed Map in flight when `MaxConcurrency` is 0 or absent.
const DISTRIBUTED_CONCURRENCY: usize = 10_000;

/// A Map's concurrency and failure tolerance, as given and as UpdateMapRun changes them.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    max_concurrency: Option<u64>,
    /// Children in flight at most.
    limit: usize,
    tolerated_count: Option<u64>,
    tolerated_percentage: Option<f64>,
}

impl Tuning {
    fn tolerant(&self) -> bool {
        self.tolerated_count.is_some() || self.tolerated_percentage.is_some()
    }
}

/// Reports a Map Run as ABORTED if it is dropped before reporting its end.
struct AbortReport<'a, F: Fn(MapRunStatus, Option<usize>, usize, usize, usize)> {
    report: &'a F,
    ended: &'a AtomicBool,
}

impl<F: Fn(MapRunStatus, Option<usize>, usize, usize, usize)> Drop for AbortReport<'_, F> {
    fn drop(&mut self) {
        if !self.ended.load(Ordering::Relaxed) {
            (self.report)(MapRunStatus::Aborted, None, 0, 0, 0);
        }
    }
}

/// What an iteration hands back: its outcome, and for a result writer its input and times.
/// And how many items the child held (a batch holds several).
type Finished = (
    Result<Value, Failure>,
    Option<(Value, String, String)>,
    usize,
);

impl Runner<'_> {
    pub(super) async fn map(
        &self,
        state: &State,
        spec: &MapSpec,
        input: &Value,
        states: Option<&Value>,
        vars: &mut Vars,
    ) -> Result<Value, Failure> {
        let ctx = self.ctx(state);
        // Items are borrowed where possible and copied one at a time as iterations start.
        let selected: Cow<'_, Value> = match (&spec.reader, &spec.items, states) {
            (Some(_), _, _) => Cow::Owned(Value::Null),
            (None, Items::Path(selector), _) => {
                let selected = match selector {
                    Selector::Whole => Cow::Borrowed(input),
                    Selector::Discard => Cow::Owned(json!({})),
                    Selector::Path(p) => match p.root() {
                        Root::Input if p.is_definite() && p.get(input).is_some() => {
                            Cow::Borrowed(p.get(input).unwrap_or(&Value::Null))
                        }
                        _ => Cow::Owned(self.resolve(state, p, input, &ctx, vars)?),
                    },
                };
                match selected.as_ref() {
                    Value::Array(_) => selected,
                    other => {
                        return Err(runtime(
                            &state.name,
                            format!(
                                "Invalid path '{}': the value it selects is not an array: {other}",
                                selector_text(selector)
                            ),
                        ));
                    }
                }
            }
            (None, Items::Jsonata(template), Some(states)) => {
                let value = match template {
                    Some(t) => self.jsonata(state, "Items", t, states, vars)?,
                    None => states_input(states).clone(),
                };
                match value {
                    Value::Array(_) => Cow::Owned(value),
                    other => {
                        // AWS's words: the expression quoted when Items has one, else the
                        // state's input is what was not an array.
                        let expression = match template {
                            Some(crate::lang::jsonata::Template::Expression(e)) => {
                                Some(e.source().to_string())
                            }
                            _ => None,
                        };
                        let message = match expression {
                            Some(e) => format!(
                                "The JSONata expression '{e}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {other}",
                                crate::lang::jsonata::type_name(&other)
                            ),
                            None => format!("Map state input must be an array but was: {other}"),
                        };
                        return Err(query_error(&state.name, message));
                    }
                }
            }
            (None, Items::Jsonata(_), None) => {
                return Err(runtime(
                    &state.name,
                    "JSONata items outside a JSONata state",
                ));
            }
        };
        let items: &[Value] = match selected.as_ref() {
            Value::Array(items) => items,
            _ => &[],
        };
        let scope = FieldScope {
            env: PathEnv {
                input,
                ctx: &ctx,
                vars,
                rng: self.rng,
            },
            states,
        };
        let max_concurrency = self
            .map_limit(
                state,
                spec.max_concurrency.as_ref(),
                "MaxConcurrency",
                true,
                &scope,
            )?
            .map(|n| n as u64);
        let tolerated_count = self
            .map_limit(
                state,
                spec.tolerated_failure_count.as_ref(),
                "ToleratedFailureCount",
                true,
                &scope,
            )?
            .map(|n| n as u64);
        let tolerated_percentage = self.map_limit(
            state,
            spec.tolerated_failure_percentage.as_ref(),
            "ToleratedFailurePercentage",
            false,
            &scope,
        )?;
        let tolerant = tolerated_count.is_some() || tolerated_percentage.is_some();
        let limit = match max_concurrency {
            Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
            // Source: AWS runs up to 10,000 child executions of a Distributed Map at once.
            _ if spec.distributed => DISTRIBUTED_CONCURRENCY,
            _ => self.limits.unlimited_map_concurrency,
        }
        .max(1);
        let batcher = match &spec.batcher {
            Some(b) => {
                let [max_items, max_bytes] = self.counts(
                    state,
                    [
                        (b.max_items.as_ref(), "MaxItemsPerBatch"),
                        (b.max_bytes.as_ref(), "MaxInputBytesPerBatch"),
                    ],
                    input,
                    states,
                    vars,
                )?;
                let batch_input = match &b.batch_input {
                    Some(args) => Some(self.arguments(state, args, input, states, vars)?),
                    None => None,
                };
                Some(Batcher::new(max_items, max_bytes, batch_input))
            }
            None => None,
        };
        let parent = Arc::new(vars.clone());
        let selector_input = states.map(states_input).unwrap_or(input);
        let mut feed = match (&spec.reader, batcher) {
            (Some(reader), batcher) => Feed::Reader(
                Box::new(self.open_reader(state, reader, input, states, vars)?),
                batcher,
            ),
            (None, None) => Feed::Items {
                values: items,
                next: 0,
            },
            // In-memory items are batched up front, so the batch count is known from the start.
            (None, Some(mut batcher)) => {
                let mut batches = Vec::new();
                for (index, item) in items.iter().enumerate() {
                    let selected = self.item_input(
                        state,
                        spec,
                        selector_input,
                        states,
                        index,
                        item.clone(),
                        &parent,
                    )?;
                    batches.extend(batcher.push(selected));
                }
                batches.extend(batcher.finish());
                Feed::Prepared(batches.into_iter())
            }
        };
        let recording = spec.writer.is_some();
        let mut run_id = if recording || spec.distributed {
            self.run_id()
        } else {
            String::new()
        };
        // A durable host may continue an earlier run of this Map: the same run after a
        // crash, a failed one when the execution is redriven.
        let ledger = self
            .children
            .filter(|_| spec.distributed && !spec.express_children);
        let opened = match ledger {
            Some(ledger) => {
                let fresh = self.map_run_arn(state, spec, &run_id);
                let key = MapRunKey {
                    execution: self.info,
                    map_run_arn: &fresh,
                };
                let opened = ledger.open(&key).await.map_err(|e| {
                    runtime(&state.name, format!("the Map Run could not be opened: {e}"))
                })?;
                if let Some((_, id)) = opened.map_run_arn.rsplit_once(':') {
                    run_id = id.to_string();
                }
                Some(opened)
            }
            None => None,
        };
        let mut sink = match &spec.writer {
            Some(writer) => self.open_writer(state, spec, writer, &run_id, input, states, vars)?,
            None => None,
        };
        // A reader's item count is known only once it is read to the end.
        let known_total = match &feed {
            Feed::Items { values, .. } => Some(values.len()),
            Feed::Prepared(batches) => Some(batches.len()),
            Feed::Reader(..) => None,
        };
        // Source: AWS's history shows a Distributed Map as a Map Run (its children have
        // their own executions); an inline Map's iterations are events of the execution.
        self.emit(|| match &opened {
            Some(o) if o.redriven => Event::new(
                "MapRunRedriven",
                "mapRunRedrivenEventDetails",
                json!({"mapRunArn": o.map_run_arn, "redriveCount": o.redrive_count}),
            ),
            _ if spec.distributed => Event::new(
                "MapRunStarted",
                "mapRunStartedEventDetails",
                json!({"mapRunArn": self.map_run_arn(state, spec, &run_id)}),
            ),
            _ => Event::new(
                "MapStateStarted",
                "mapStateStartedEventDetails",
                json!({"length": known_total.unwrap_or(0)}),
            ),
        });
        // What UpdateMapRun may change while the run goes on.
        let tuning = std::sync::Mutex::new(Tuning {
            max_concurrency,
            limit,
            tolerated_count,
            tolerated_percentage,
        });
        let tuned = || *tuning.lock().unwrap_or_else(|p| p.into_inner());
        let over_threshold = |failures: usize, total: Option<usize>| {
            let t = tuned();
            let over_count = t.tolerated_count.is_some_and(|c| failures as u64 > c);
            let over_pct = t
                .tolerated_percentage
                .zip(total)
                .is_some_and(|(p, t)| (failures as f64) * 100.0 / (t.max(1) as f64) > p);
            over_count || over_pct
        };
        let exceeded = || {
            Failure::new(
                errors::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                "The specified tolerated failure threshold was exceeded",
            )
        };
        // Progress of a Distributed Map, for a display or a Map Run record (not history).
        let map_run_arn = spec
            .distributed
            .then(|| self.map_run_arn(state, spec, &run_id));
        let ended = AtomicBool::new(false);
        // Items (not children: a batch holds several) for the report; MAX while unknown.
        let items_total = AtomicUsize::new(match &feed {
            Feed::Reader(..) => usize::MAX,
            _ => items.len(),
        });
        let (items_succeeded, items_failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
        // Children and items whose results are stored, for the report.
        let (written_children, written_items) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let progress = |status: MapRunStatus,
                        total: Option<usize>,
                        running: usize,
                        finished: usize,
                        failed: usize| {
            if status != MapRunStatus::Running {
                ended.store(true, Ordering::Relaxed);
            }
            if let (Some(arn), Some(sink)) = (map_run_arn.as_deref(), self.events) {
                let t = tuned();
                let update = sink.map_run(&MapRunProgress {
                    map_run_arn: arn,
                    state: &state.name,
                    status,
                    total: total.map(|t| t as u64),
                    running: running as u64,
                    succeeded: finished.saturating_sub(failed) as u64,
                    failed: failed as u64,
                    max_concurrency: t.max_concurrency.unwrap_or(0),
                    tolerated_failure_percentage: t.tolerated_percentage.unwrap_or(0.0),
                    tolerated_failure_count: t.tolerated_count.unwrap_or(0),
                    items: ItemCounts {
                        total: match items_total.load(Ordering::Relaxed) {
                            usize::MAX => None,
                            n => Some(n as u64),
                        },
                        succeeded: items_succeeded.load(Ordering::Relaxed) as u64,
                        failed: items_failed.load(Ordering::Relaxed) as u64,
                        results_written: written_items.load(Ordering::Relaxed) as u64,
                    },
                    redrive_count: opened.as_ref().map_or(0, |o| o.redrive_count),
                    results_written: written_children.load(Ordering::Relaxed) as u64,
                });
                if let Some(update) = update {
                    let mut t = tuning.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(n) = update.max_concurrency {
                        t.max_concurrency = Some(n);
                        t.limit = if n == 0 {
                            DISTRIBUTED_CONCURRENCY
                        } else {
                            usize::try_from(n).unwrap_or(usize::MAX)
                        };
                    }
                    if let Some(p) = update.tolerated_failure_percentage {
                        t.tolerated_percentage = Some(p);
                    }
                    if let Some(c) = update.tolerated_failure_count {
                        t.tolerated_count = Some(c);
                    }
                }
            }
        };
        progress(MapRunStatus::Running, known_total, 0, 0, 0);
        // A Map Run that is dropped before it ends (its execution stopped, its driver gone)
        // reports ABORTED.
        let _aborted = AbortReport {
            report: &progress,
            ended: &ended,
        };
        let seeds = self.rng.children();
        let children = ChildRun {
            map_run_arn: map_run_arn.as_deref().unwrap_or(""),
            label: spec.label.as_deref().unwrap_or(&state.name),
            vars: std::sync::OnceLock::new(),
            ledger,
            opened: opened.as_ref(),
            running: Default::default(),
        };
        // Iterations in flight, yielded in item order; memory grows with the concurrency and
        // the reader's page, not with the item count.
        let mut running = futures::stream::FuturesOrdered::new();
        let mut results = Vec::new();
        let mut records = Vec::new();
        let (mut failures, mut finished, mut dispatched, mut item_index) = (0usize, 0, 0, 0);
        let mut total = known_total;
        loop {
            while total.is_none_or(|t| dispatched < t) && running.len() < tuned().limit {
                let next = self
                    .next_child(
                        state,
                        spec,
                        &mut feed,
                        selector_input,
                        states,
                        &parent,
                        &mut item_index,
                        dispatched,
                    )
                    .await;
                match next {
                    Ok(Some((index, prepared))) => {
                        running.push_back(self.iteration(
                            state,
                            spec,
                            index,
                            prepared,
                            parent.clone(),
                            &seeds,
                            recording,
                            &children,
                        ));
                        dispatched += 1;
                    }
                    Ok(None) => {
                        total = Some(dispatched);
                        if matches!(feed, Feed::Reader(..)) {
                            items_total.store(item_index, Ordering::Relaxed);
                        }
                        if over_threshold(failures, total) {
                            progress(MapRunStatus::Failed, total, 0, finished, failures);
                            return Err(self.map_failed(spec, exceeded()));
                        }
                    }
                    Err(f) => {
                        progress(MapRunStatus::Failed, total, 0, finished, failures);
                        return Err(self.map_failed(spec, f));
                    }
                }
            }
            let Some((outcome, timing, child_items)) = running.next().await else {
                break;
            };
            if let Some((child_input, start, stop)) = timing {
                let record = self.iteration_record(
                    state,
                    spec,
                    &run_id,
                    finished,
                    child_input,
                    &outcome,
                    start,
                    stop,
                );
                match &mut sink {
                    Some(sink) => {
                        if let Some(file) = sink.files.push(&record, child_items) {
                            if let Err(f) = self.store_result_file(state, sink, file).await {
                                progress(MapRunStatus::Failed, total, 0, finished, failures);
                                return Err(self.map_failed(spec, f));
                            }
                            written_children.store(sink.written.0, Ordering::Relaxed);
                            written_items.store(sink.written.1, Ordering::Relaxed);
                        }
                    }
                    None => records.push(record),
                }
            }
            finished += 1;
            let failed_now = usize::from(outcome.is_err());
            let counter = if outcome.is_ok() {
                &items_succeeded
            } else {
                &items_failed
            };
            counter.fetch_add(child_items, Ordering::Relaxed);
            progress(
                MapRunStatus::Running,
                total,
                running.len(),
                finished,
                failures + failed_now,
            );
            match outcome {
                Ok(v) => {
                    if spec.writer.is_none() {
                        results.push(v);
                    }
                }
                Err(f) if !tolerant && !tuned().tolerant() => {
                    progress(MapRunStatus::Failed, total, 0, finished, failures + 1);
                    return Err(self.map_failed(spec, f));
                }
                Err(f) => {
                    failures += 1;
                    if spec.writer.is_none() {
                        results.push(f.error_output());
                    }
                    if over_threshold(failures, total) {
                        progress(MapRunStatus::Failed, total, 0, finished, failures);
                        return Err(self.map_failed(spec, exceeded()));
                    }
                }
            }
        }
        // The last result files and the manifest are stored before the run reports its end,
        // so a failure to store them fails the run and its counts include them.
        let written = match (&spec.writer, &mut sink) {
            (Some(_), Some(sink)) => match self.finish_results(state, sink).await {
                Ok(manifest) => {
                    written_children.store(sink.written.0, Ordering::Relaxed);
                    written_items.store(sink.written.1, Ordering::Relaxed);
                    Some(manifest)
                }
                Err(f) => {
                    progress(MapRunStatus::Failed, total, 0, finished, failures);
                    return Err(self.map_failed(spec, f));
                }
            },
            _ => None,
        };
        progress(MapRunStatus::Succeeded, total, 0, finished, failures);
        self.emit(|| {
            Event::bare(if spec.distributed {
                "MapRunSucceeded"
            } else {
                "MapStateSucceeded"
            })
        });
        match (&spec.writer, written) {
            (Some(_), Some(manifest)) => Ok(manifest),
            (Some(writer), None) => Ok(Value::Array(distributed::shape_results(
                &records,
                writer.transformation,
            ))),
            (None, _) => {
                // Without a ResultWriter the results travel in the execution, under its
                // payload limit, as on AWS.
                let results = Value::Array(results);
                self.within_data_limit(&state.name, &results)?;
                Ok(results)
            }
        }
    }

    /// Records the Map's failure in the history (`MapRunFailed` for a Distributed Map,
    /// with AWS's details) and hands the failure back.
    fn map_failed(&self, spec: &MapSpec, failure: Failure) -> Failure {
        self.emit(|| {
            if spec.distributed {
                Event::new(
                    "MapRunFailed",
                    "mapRunFailedEventDetails",
                    json!({"error": failure.error, "cause": failure.cause}),
                )
            } else {
                Event::bare("MapStateFailed")
            }
        });
        failure
    }

    /// The next child input and its index: an item (selected), or a batch of them.
    /// `Ok(None)` when the items are used up; `Err` when the reader fails, which fails the
    /// Map state. A selection error fails only its own iteration, except inside a batch.
    #[allow(clippy::too_many_arguments)]
    async fn next_child(
        &self,
        state: &State,
        spec: &MapSpec,
        feed: &mut Feed<'_, '_>,
        selector_input: &Value,
        states: Option<&Value>,
        parent: &Vars,
        item_index: &mut usize,
        child_index: usize,
    ) -> Result<Option<(usize, Result<Value, Failure>)>, Failure> {
        let mut select = |item: Value| {
            let index = *item_index;
            *item_index += 1;
            let selected =
                self.item_input(state, spec, selector_input, states, index, item, parent);
            (index, selected)
        };
        Ok(match feed {
            Feed::Items { values, next } => match values.get(*next) {
                Some(item) => {
                    *next += 1;
                    Some(select(item.clone()))
                }
                None => None,
            },
            Feed::Prepared(batches) => batches.next().map(|b| (child_index, Ok(b))),
            Feed::Reader(source, None) => match self.next_item(state, source).await {
                Some(item) => Some(select(item?)),
                None => None,
            },
            Feed::Reader(source, Some(batcher)) => loop {
                match self.next_item(state, source).await {
                    Some(item) => {
                        let (_, selected) = select(item?);
                        if let Some(batch) = batcher.push(selected?) {
                            break Some((child_index, Ok(batch)));
                        }
                    }
                    None => break batcher.finish().map(|b| (child_index, Ok(b))),
                }
            },
        })
    }

    /// One child of the Map, run in the parent's process.
    #[allow(clippy::too_many_arguments)]
    async fn iteration(
        &self,
        state: &State,
        spec: &MapSpec,
        index: usize,
        prepared: Result<Value, Failure>,
        parent: Arc<Vars>,
        seeds: &ChildSeeds,
        recording: bool,
        children: &ChildRun<'_>,
    ) -> Finished {
        let iteration = |kind: &str| {
            Event::new(
                kind,
                "mapIterationStartedEventDetails",
                json!({"name": state.name, "index": index}),
            )
        };
        if !spec.distributed {
            self.emit(|| iteration("MapIterationStarted"));
        }
        let items = match (&prepared, &spec.batcher) {
            (Ok(batch), Some(_)) => batch["Items"].as_array().map_or(1, Vec::len),
            _ => 1,
        };
        let item_input = match prepared {
            Ok(v) => v,
            Err(f) => return (Err(f), None, items),
        };
        if spec.distributed {
            let (outcome, timing) = self
                .map_run_child(spec, children, index, item_input, parent, seeds, recording)
                .await;
            return (outcome, timing, items);
        }
        // A result writer records each child's input and times.
        let started = recording.then(|| (item_input.clone(), now_iso8601()));
        let mut scope = Vars::child_of(parent);
        let rng = seeds.rng(index);
        let child = self.with_rng(&rng);
        let outcome = child
            .run_graph(&spec.processor, item_input, &mut scope)
            .await;
        self.emit(|| {
            let (kind, details) = if outcome.is_ok() {
                ("MapIterationSucceeded", "mapIterationSucceededEventDetails")
            } else {
                ("MapIterationFailed", "mapIterationFailedEventDetails")
            };
            let mut e = iteration(kind);
            e.details = e.details.map(|(_, d)| (details, d));
            e
        });
        let timing = started.map(|(input, start)| (input, start, now_iso8601()));
        (outcome, timing, items)
    }

    /// One child of a Map Run: an execution of its own (`$$.Execution` is the child's),
    /// kept by the ledger when there is one, and taken from it when it ended before.
    #[allow(clippy::too_many_arguments)]
    async fn map_run_child(
        &self,
        spec: &MapSpec,
        run: &ChildRun<'_>,
        index: usize,
        input: Value,
        parent: Arc<Vars>,
        seeds: &ChildSeeds,
        recording: bool,
    ) -> (Result<Value, Failure>, Option<(Value, String, String)>) {
        let ended = run.opened.and_then(|o| o.ended.get(index));
        let input = Arc::new(input);
        let mut info = child_info(self.info, run.map_run_arn, index, Arc::clone(&input));
        if ended.is_some() {
            // A child that runs again is redriven with its Map Run.
            info.redrive_count = run.opened.map_or(0, |o| o.redrive_count);
        }
        if let (Some(ledger), Some(opened)) = (run.ledger, run.opened) {
            // After a crash every ended child stands; a redrive runs the failed ones again.
            let stands = ended.is_some_and(|succeeded| succeeded || !opened.redriven);
            if stands {
                match ledger.finished(&info.arn).await {
                    Ok(Some(child)) => {
                        let timing = recording
                            .then(|| ((*input).clone(), iso8601(child.start), iso8601(child.stop)));
                        return (child.outcome, timing);
                    }
                    Ok(None) => {}
                    Err(e) => return (Err(unrecorded(&info.arn, &e)), None),
                }
            }
        }
        let (start, start_text) = (SystemTime::now(), now_iso8601());
        let info = Arc::new(info);
        let rerun = ended.is_some();
        let Some(ledger) = run.ledger else {
            let rng = seeds.rng(index);
            let (outcome, _) = self
                .run_child(
                    &spec.processor,
                    &info,
                    &rng,
                    (*input).clone(),
                    parent,
                    false,
                )
                .await;
            let timing = recording.then(|| ((*input).clone(), start_text, now_iso8601()));
            return (outcome, timing);
        };
        let running = |on: bool| {
            let mut running = run.running.lock().unwrap_or_else(|p| p.into_inner());
            if on {
                running.insert(
                    index,
                    RunningChild {
                        info: Arc::clone(&info),
                        map_run_arn: run.map_run_arn.to_string(),
                        start,
                    },
                );
            } else {
                running.remove(&index);
            }
        };
        running(true);
        let _slot = match ledger.place(run.map_run_arn) {
            Placement::Here(slot) => {
                ledger.started(&RunningChild {
                    info: Arc::clone(&info),
                    map_run_arn: run.map_run_arn.to_string(),
                    start,
                });
                slot
            }
            Placement::Elsewhere => {
                let child = DelegatedChild {
                    info: Arc::clone(&info),
                    map_run_arn: run.map_run_arn.to_string(),
                    index,
                    label: run.label.to_string(),
                    seed: seeds.rng(index).position(),
                    vars: run.vars.get_or_init(|| parent.to_json()).clone(),
                    rerun,
                };
                let ended = ledger.delegate(child).await;
                running(false);
                return match ended {
                    Ok(child) => {
                        let timing = recording
                            .then(|| ((*input).clone(), iso8601(child.start), iso8601(child.stop)));
                        (child.outcome, timing)
                    }
                    Err(e) => (Err(unrecorded(&info.arn, &e)), None),
                };
            }
        };
        let rng = seeds.rng(index);
        let (outcome, history) = self
            .run_child(&spec.processor, &info, &rng, (*input).clone(), parent, true)
            .await;
        let timing = recording.then(|| ((*input).clone(), start_text, now_iso8601()));
        running(false);
        let record = ChildExecution {
            info,
            map_run_arn: run.map_run_arn.to_string(),
            index,
            outcome: outcome.clone(),
            start,
            stop: SystemTime::now(),
            events: history.map(History::into_events).unwrap_or_default(),
            rerun,
        };
        let arn = record.info.arn.clone();
        if let Err(e) = ledger.record(record).await {
            return (Err(unrecorded(&arn, &e)), timing);
        }
        (outcome, timing)
    }

    /// Runs one child of a Map Run to its end, as an execution of its own: its own
    /// `$$.Execution`, transitions and (when `keep_history`) history.
    pub(crate) async fn run_child(
        &self,
        processor: &Graph,
        info: &ExecutionInfo,
        rng: &Rng,
        input: Value,
        parent: Arc<Vars>,
        keep_history: bool,
    ) -> (Result<Value, Failure>, Option<History>) {
        let transitions = AtomicU64::new(0);
        // A child is an execution of its own: its ExecutionStarted is event 1.
        let child_event_ids = AtomicU64::new(1);
        let history = keep_history.then(History::default);
        let child = Runner {
            machine: self.machine,
            info,
            tasks: self.tasks,
            rng,
            limits: self.limits,
            transitions: &transitions,
            // A child's states' events are its own, not the parent's (and a million children
            // do not write millions of parent events).
            events: history.as_ref().map(|h| h as &dyn EventSink),
            event_ids: self.event_ids.map(|_| &child_event_ids),
            timers: self.timers,
            children: self.children,
        };
        let mut scope = Vars::child_of(parent);
        let outcome = child.run_graph(processor, input, &mut scope).await;
        (outcome, history)
    }

    #[allow(clippy::too_many_arguments)]
    fn iteration_record(
        &self,
        state: &State,
        spec: &MapSpec,
        run_id: &str,
        index: usize,
        input: Value,
        outcome: &Result<Value, Failure>,
        start_date: String,
        stop_date: String,
    ) -> IterationRecord {
        let head = self
            .info
            .state_machine_arn
            .split(":stateMachine:")
            .next()
            .unwrap_or("");
        let machine = format!(
            "{}/{}",
            self.info.state_machine_name,
            spec.label.as_deref().unwrap_or(&state.name)
        );
        let name = format!("{run_id}-{index}");
        IterationRecord {
            execution_arn: format!("{head}:execution:{machine}:{name}"),
            state_machine_arn: format!("{head}:stateMachine:{machine}"),
            name,
            input,
            output: match outcome {
                Ok(v) => v.clone(),
                Err(f) => f.error_output(),
            },
            succeeded: outcome.is_ok(),
            start_date,
            stop_date,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn item_input(
        &self,
        state: &State,
        spec: &MapSpec,
        map_input: &Value,
        states: Option<&Value>,
        index: usize,
        item: Value,
        parent: &Vars,
    ) -> Result<Value, Failure> {
        let Some(selector) = &spec.item_selector else {
            return Ok(item);
        };
        let mut ctx = self.ctx(state);
        ctx.map_item = Some((index, &item));
        match selector {
            Arguments::JsonPath(template) => self.payload(state, template, map_input, &ctx, parent),
            Arguments::Jsonata(template) => {
                let mut item_states = match states {
                    Some(s) => s.clone(),
                    None => json!({}),
                };
                if let Some(context) = ctx.for_use(state.context) {
                    states_set(&mut item_states, "context", context.clone());
                }
                self.jsonata(state, "ItemSelector", template, &item_states, parent)
            }
        }
    }
}
