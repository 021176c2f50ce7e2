//! Driving executions: durable Standard executions advance one top-level state per
//! checkpointed transition; Express executions run in memory and keep only their outcome.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use sluice_engine::engine::events::{self, Event, EventSink};
use sluice_engine::engine::{
    ExecutionInfo, Outcome, Rng, StepOutcome, StepRequest, Timers, TokenKey, Vars,
};

use super::{Committer, Service, ServiceError, stored_json};
use crate::store::{
    Cursor, ExecutionRecord, ExecutionStatus, Finish, NewEvent, StoreError, Transition,
};
use crate::time::{iso8601, now};

/// Collects the events of one step, to commit them with the step. When the step parks on a
/// task, what it has so far is written at once (a person approving a task needs to see it);
/// a replay of the step after a crash skips the events already written.
pub(crate) struct Buffer<'a> {
    events: Mutex<Vec<NewEvent>>,
    /// Events of this step the history already has (written before a crash), by content.
    written: Mutex<Written>,
    committer: &'a Committer,
    map_runs: &'a super::map_runs::MapRunBook,
    arn: &'a str,
    version: i64,
}

impl EventSink for Buffer<'_> {
    fn emit(&self, event: Event) {
        let e = stored_event(event);
        if self
            .written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(&e.kind, e.details.as_ref())
        {
            return;
        }
        // Written at once: what a running task has done so far (scheduled, taken by a
        // worker, submitted), a Wait being waited out and a Map Run that started show in the
        // history while they run.
        // Scheduled and started events come in pairs for Lambda and service tasks; the
        // second one writes both.
        let parks = matches!(
            e.kind.as_str(),
            "ActivityScheduled"
                | "ActivityStarted"
                | "WaitStateEntered"
                | "LambdaFunctionStarted"
                | "TaskStarted"
                | "TaskSubmitted"
                | "MapRunStarted"
                | "MapRunRedriven"
        );
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events.push(e);
        if parks {
            let t = Transition {
                execution_arn: self.arn.to_string(),
                expected_version: self.version,
                events: std::mem::take(&mut *events),
                next: None,
                finish: None,
            };
            // Queued behind nothing of this step and ahead of its final commit; if the queue
            // is full the events simply go with the final commit.
            if let Err(back) = self.committer.enqueue(t) {
                *events = back;
            }
        }
    }

    fn map_run(&self, progress: &events::MapRunProgress<'_>) -> Option<events::MapRunUpdate> {
        self.map_runs.report(self.arn, progress)
    }
}

impl Buffer<'_> {
    fn take(&self) -> Vec<NewEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The events of a step that the history already holds, as a multiset of their contents.
/// A replayed step emits the same events again, but concurrent iterations and branches may
/// emit them in another order; matching by content (not by position) skips exactly the ones
/// already written. An event whose content differs on replay (say, an external service
/// answered differently the second time) is written again.
#[derive(Default)]
struct Written(std::collections::HashMap<u64, u32>);

impl Written {
    fn key(kind: &str, details: Option<&(String, String)>) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        kind.hash(&mut h);
        details.hash(&mut h);
        h.finish()
    }

    fn add(&mut self, kind: &str, details: Option<&(String, String)>) {
        *self.0.entry(Self::key(kind, details)).or_default() += 1;
    }

    /// Whether this event was written already (then it is counted off).
    fn take(&mut self, kind: &str, details: Option<&(String, String)>) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let key = Self::key(kind, details);
        match self.0.get_mut(&key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => {
                self.0.remove(&key);
                true
            }
            None => false,
        }
    }
}

/// The events the history already holds for the step at `cursor` (written before a crash).
async fn written_events(
    store: &dyn crate::store::Store,
    arn: &str,
    cursor: &Cursor,
) -> Result<Written, StoreError> {
    let mut written = Written::default();
    let mut after = cursor.next_event_id - cursor.step_events - 1;
    let mut left = usize::try_from(cursor.step_events).unwrap_or(0);
    while left > 0 {
        let page = store
            .history(arn, Some(after), false, left.min(1000))
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        left = left.saturating_sub(page.len());
        for e in &page {
            written.add(&e.kind, e.details.as_ref());
        }
    }
    Ok(written)
}

/// An engine event stamped with the current time.
pub(crate) fn stored_event(event: Event) -> NewEvent {
    NewEvent {
        timestamp: now(),
        kind: event.kind,
        details: event
            .details
            .map(|(k, v)| (k.to_string(), serde_json::to_string(&v).unwrap_or_default())),
    }
}

/// Durable waits of one step: the n-th wait of step `version` keeps its first deadline, so a
/// step replayed after a crash waits only for what was left.
struct StepTimers<'a> {
    store: &'a dyn crate::store::Store,
    arn: &'a str,
    version: i64,
    count: std::sync::atomic::AtomicU64,
}

impl Timers for StepTimers<'_> {
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let n = self
                .count
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let key = format!("{}/{n}", self.version);
            let wanted = now() + duration.as_secs_f64();
            // If the store cannot record the timer, waiting in memory is the best we can do.
            let fire_at = match self.store.timer(self.arn, &key, wanted).await {
                Ok(at) => at,
                Err(e) => {
                    tracing::warn!(execution = %self.arn, error = %e, "a durable timer could not be recorded; waiting in memory (a restart starts the wait again)");
                    wanted
                }
            };
            let left = (fire_at - now()).max(0.0);
            tokio::time::sleep(Duration::from_secs_f64(left)).await;
        })
    }
}

/// The seed of a step's random source: the same step replays the same tokens and UUIDs.
/// SHA-256 because its output is fixed by its definition: a seed that changed with the
/// toolchain (as `std`'s `DefaultHasher` may) would make a server upgraded mid-execution
/// hand out tokens other than the ones its workers hold.
fn step_seed(arn: &str, version: i64) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"sluice step seed\0")
        .chain_update(arn.as_bytes())
        .chain_update(b"\0")
        .chain_update(version.to_le_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The random source of the step at `version`: replay-stable, signing tokens with `key`.
pub(crate) fn step_rng(arn: &str, version: i64, key: &TokenKey) -> Rng {
    Rng::keyed(step_seed(arn, version), key.clone())
}

/// The context-object facts of a stored execution.
fn execution_info(e: &ExecutionRecord, input: Value, sm_name: &str) -> ExecutionInfo {
    ExecutionInfo {
        arn: e.arn.clone(),
        name: e.name.clone(),
        state_machine_arn: e.state_machine_arn.clone(),
        state_machine_name: sm_name.to_string(),
        role_arn: e.role_arn.clone(),
        start_time: iso8601(e.start),
        input: Arc::new(input),
        redrive_count: e.redrive_count.max(0) as u64,
    }
}

/// The name part of a state machine ARN.
pub(crate) fn name_of(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// What an Express execution ended with.
pub struct ExpressOutcome {
    pub record: ExecutionRecord,
}

/// The final event of an execution.
pub(crate) fn finish_event(outcome: &Finish) -> NewEvent {
    let event = match outcome.status {
        ExecutionStatus::Succeeded => Event::new(
            "ExecutionSucceeded",
            "executionSucceededEventDetails",
            json!({"output": outcome.output, "outputDetails": {"truncated": false}}),
        ),
        ExecutionStatus::Failed => Event::new(
            "ExecutionFailed",
            "executionFailedEventDetails",
            json!({"error": outcome.error, "cause": outcome.cause}),
        ),
        ExecutionStatus::TimedOut => Event::new(
            "ExecutionTimedOut",
            "executionTimedOutEventDetails",
            json!({"error": "States.Timeout"}),
        ),
        _ => Event::new(
            "ExecutionAborted",
            "executionAbortedEventDetails",
            json!({"error": outcome.error, "cause": outcome.cause}),
        ),
    };
    stored_event(event)
}

/// `ExecutionRedriven` for the `count`th redrive.
pub fn redriven_event(count: i64) -> NewEvent {
    stored_event(Event::new(
        "ExecutionRedriven",
        "executionRedrivenEventDetails",
        json!({"redriveCount": count}),
    ))
}

/// `ExecutionStarted` with its details.
pub(crate) fn started_event(input: &str, role_arn: &str) -> NewEvent {
    stored_event(Event::new(
        "ExecutionStarted",
        "executionStartedEventDetails",
        json!({"input": input, "inputDetails": {"truncated": false}, "roleArn": role_arn}),
    ))
}

impl Service {
    /// Advance a durable execution until it ends (or another process takes it over).
    pub(crate) async fn drive(self: &Arc<Self>, arn: &str) -> Result<(), ServiceError> {
        let execution = self
            .store
            .get_execution(arn)
            .await?
            .ok_or_else(|| StoreError::NotFound(arn.to_string()))?;
        let machine = self.plans.get(&execution.definition)?;
        let input = stored_json(&execution.input, "execution input")?;
        let sm_name = name_of(&execution.state_machine_arn).to_string();
        let info = execution_info(&execution, input, &sm_name);
        let deadline = machine.timeout_seconds.map(|s| execution.start + s as f64);
        let Some(mut cursor) = self.store.get_cursor(arn).await? else {
            return Ok(());
        };
        loop {
            let rng = step_rng(arn, cursor.version, &self.token_key);
            let written = if cursor.step_events > 0 {
                written_events(self.store.as_ref(), arn, &cursor).await?
            } else {
                Written::default()
            };
            let buffer = Buffer {
                events: Mutex::new(Vec::new()),
                written: Mutex::new(written),
                committer: &self.committer,
                map_runs: &self.map_runs,
                arn,
                version: cursor.version,
            };
            let mut vars = Vars::from_json(stored_json(&cursor.vars, "variables")?);
            let state_input = stored_json(&cursor.input, "state input")?;
            let children = super::children::StoredChildren {
                store: self.store.as_ref(),
                committer: &self.committer,
                pool: &self.children,
                root_arn: arn,
            };
            let timers = StepTimers {
                store: self.store.as_ref(),
                arn,
                version: cursor.version,
                count: Default::default(),
            };
            let transitions = AtomicU64::new(u64::try_from(cursor.transitions).unwrap_or(0));
            let step_started = std::time::Instant::now();
            let step_span = tracing::info_span!(
                "step",
                execution = %arn,
                state = %machine.graph.states.get(usize::try_from(cursor.state).unwrap_or(usize::MAX)).map(|s| s.name.as_str()).unwrap_or(""),
            );
            let step = tracing::Instrument::instrument(
                self.engine.step(StepRequest {
                    machine: &machine,
                    info: &info,
                    rng: &rng,
                    state: usize::try_from(cursor.state).unwrap_or(usize::MAX),
                    input: state_input,
                    vars: &mut vars,
                    events: Some(&buffer),
                    timers: Some(&timers),
                    children: Some(&children),
                    transitions: &transitions,
                }),
                step_span,
            );
            let outcome = match deadline {
                Some(at) => {
                    let left = Duration::from_secs_f64((at - now()).max(0.0));
                    tokio::time::timeout(left, step).await.ok()
                }
                None => Some(step.await),
            };
            let mut events = buffer.take();
            let (next, finish) = match outcome {
                None => (
                    None,
                    Finish {
                        status: ExecutionStatus::TimedOut,
                        output: None,
                        error: Some("States.Timeout".into()),
                        cause: None,
                        stop: now(),
                    },
                ),
                Some(StepOutcome::Next { state, output }) => {
                    let next = Cursor {
                        state: state as i64,
                        input: events::text(&output),
                        vars: events::text(&vars.to_json()),
                        version: cursor.version + 1,
                        next_event_id: cursor.next_event_id + events.len() as i64,
                        step_events: 0,
                        transitions: i64::try_from(transitions.load(Ordering::Relaxed))
                            .unwrap_or(i64::MAX),
                    };
                    let t = Transition {
                        execution_arn: arn.to_string(),
                        expected_version: cursor.version,
                        events,
                        next: Some(next.clone()),
                        finish: None,
                    };
                    match self.committer.commit(t).await {
                        // At a checkpoint: a shutting-down server starts no further step.
                        Ok(()) if self.shutdown.is_cancelled() => return Ok(()),
                        Ok(()) => {
                            cursor = next;
                            continue;
                        }
                        // Another process applied this step (or the execution was stopped).
                        Err(StoreError::Conflict(_)) => return Ok(()),
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(StepOutcome::Succeeded(output)) => (
                    None::<Cursor>,
                    Finish {
                        status: ExecutionStatus::Succeeded,
                        output: Some(events::text(&output)),
                        error: None,
                        cause: None,
                        stop: now(),
                    },
                ),
                Some(StepOutcome::Failed(f)) => (
                    None,
                    Finish {
                        status: ExecutionStatus::Failed,
                        output: None,
                        error: f.error,
                        cause: f.cause,
                        stop: now(),
                    },
                ),
            };
            events.push(finish_event(&finish));
            self.metrics
                .step_duration
                .observe(step_started.elapsed().as_secs_f64());
            let status = finish.status;
            let t = Transition {
                execution_arn: arn.to_string(),
                expected_version: cursor.version,
                events,
                next,
                finish: Some(finish),
            };
            return match self.committer.commit(t).await {
                Ok(()) => {
                    self.metrics
                        .executions_finished
                        .with_label_values(&[
                            crate::metrics::machine_label(&execution.state_machine_arn),
                            status.as_str(),
                        ])
                        .inc();
                    Ok(())
                }
                Err(StoreError::Conflict(_)) => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
    }

    /// Count an execution that started (`sluice_executions_started_total`).
    pub(crate) fn count_started(&self, record: &ExecutionRecord) {
        self.metrics
            .executions_started
            .with_label_values(&[
                crate::metrics::machine_label(&record.state_machine_arn),
                record.kind.as_str(),
            ])
            .inc();
    }

    /// Create a durable execution and start driving it. Returns the record (an existing one
    /// when the name was used before).
    pub async fn start_standard(
        self: &Arc<Self>,
        record: ExecutionRecord,
        start_state: usize,
    ) -> Result<(ExecutionRecord, bool), ServiceError> {
        let cursor = Cursor {
            state: start_state as i64,
            input: record.input.clone(),
            vars: "{}".into(),
            version: 0,
            next_event_id: 2,
            step_events: 0,
            transitions: 0,
        };
        let started = started_event(&record.input, &record.role_arn);
        match self
            .store
            .create_execution(&record, Some(&cursor), &[started])
            .await?
        {
            Some(existing) => Ok((existing, false)),
            None => {
                let now = now();
                let until = now + self.config.execution_lease_seconds;
                if self
                    .store
                    .lease_execution(&record.arn, &self.config.replica_id, now, until)
                    .await?
                {
                    self.spawn_driver(record.arn.clone());
                }
                self.count_started(&record);
                Ok((record, true))
            }
        }
    }

    /// Run an Express execution to its end in memory and record its outcome.
    pub async fn run_express(
        self: &Arc<Self>,
        mut record: ExecutionRecord,
    ) -> Result<ExpressOutcome, ServiceError> {
        self.count_started(&record);
        let machine = self.plans.get(&record.definition)?;
        let input = stored_json(&record.input, "execution input")?;
        let sm_name = name_of(&record.state_machine_arn).to_string();
        let info = execution_info(&record, input, &sm_name);
        let rng = Rng::keyed(rand::random(), self.token_key.clone());
        let outcome = self.engine.run_observed(&machine, &info, &rng, None).await;
        let finish = match outcome {
            Outcome::Succeeded(v) => Finish {
                status: ExecutionStatus::Succeeded,
                output: Some(events::text(&v)),
                error: None,
                cause: None,
                stop: now(),
            },
            Outcome::Failed { error, cause } => Finish {
                status: ExecutionStatus::Failed,
                output: None,
                error,
                cause,
                stop: now(),
            },
            Outcome::TimedOut => Finish {
                status: ExecutionStatus::TimedOut,
                output: None,
                error: Some("States.Timeout".into()),
                cause: None,
                stop: now(),
            },
            Outcome::Aborted => Finish {
                status: ExecutionStatus::Aborted,
                output: None,
                error: None,
                cause: None,
                stop: now(),
            },
        };
        let events = [
            started_event(&record.input, &record.role_arn),
            finish_event(&finish),
        ];
        record.status = finish.status;
        record.output = finish.output;
        record.error = finish.error;
        record.cause = finish.cause;
        record.stop = Some(finish.stop);
        // Express executions write only their outcome: one row, two events.
        self.committer
            .record_finished(record.clone(), events.to_vec())
            .await?;
        self.metrics
            .executions_finished
            .with_label_values(&[
                crate::metrics::machine_label(&record.state_machine_arn),
                record.status.as_str(),
            ])
            .inc();
        Ok(ExpressOutcome { record })
    }

    /// Stop a running execution: ABORTED, with `ExecutionAborted` in its history.
    pub async fn stop(
        self: &Arc<Self>,
        arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<f64, ServiceError> {
        // Map Runs still running end with their parent (`MapRunAborted`), before it.
        let running_runs = self
            .map_runs
            .list(self.store.as_ref(), arn)
            .await?
            .into_iter()
            .filter(|r| r.status == "RUNNING")
            .count();
        self.abort_driver(arn);
        // A driver elsewhere may still commit; retry on conflict with the newer version.
        for _ in 0..10 {
            let Some(cursor) = self.store.get_cursor(arn).await? else {
                return Err(StoreError::NotFound(arn.to_string()).into());
            };
            let finish = Finish {
                status: ExecutionStatus::Aborted,
                output: None,
                error: error.clone(),
                cause: cause.clone(),
                stop: now(),
            };
            let mut events: Vec<NewEvent> = (0..running_runs)
                .map(|_| stored_event(Event::bare("MapRunAborted")))
                .collect();
            events.push(finish_event(&finish));
            let t = Transition {
                execution_arn: arn.to_string(),
                expected_version: cursor.version,
                events,
                next: None,
                finish: Some(finish.clone()),
            };
            match self.committer.commit(t).await {
                Ok(()) => return Ok(finish.stop),
                Err(StoreError::Conflict(_)) => {
                    let e = self.store.get_execution(arn).await?;
                    if e.as_ref()
                        .is_some_and(|e| e.status != ExecutionStatus::Running)
                    {
                        return Ok(e.and_then(|e| e.stop).unwrap_or_else(now));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(arn.to_string()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens handed to workers must come out the same after any upgrade (the expected values
    /// were computed independently, with Python's hashlib and hmac): a replayed step
    /// would otherwise orphan the tasks workers hold. If this fails, the derivation changed.
    #[test]
    fn task_tokens_are_pinned() {
        let arn = "arn:aws:states:us-east-1:123456789012:execution:m:e";
        assert_eq!(step_seed(arn, 3), 0x388b_0887_1478_86d1);
        let key = TokenKey::new([7; 32]);
        let rng = step_rng(arn, 3, &key);
        assert_eq!(
            rng.task_token(),
            "95b5500bdc509db8cc1aed851d994cfca764b641fedc6f14097abb6f914d9566"
        );
        // Children (Map iterations) sign with the same key.
        let child = step_rng(arn, 3, &key).children().rng(5).task_token();
        assert_eq!(child.len(), 64);
        // Another deployment's key gives unrelated tokens for the same step.
        let other = step_rng(arn, 3, &TokenKey::new([8; 32])).task_token();
        assert_ne!(other, step_rng(arn, 3, &key).task_token());
    }
}
