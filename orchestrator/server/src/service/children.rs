//! The ledger of Map Run children under `sluice serve`: each STANDARD child is kept as an
//! execution of its own (row and history, linked to its Map Run), written by the group
//! committer as it ends. A step replayed after a crash finds the children that ended and
//! takes their outcomes instead of running them again; a redriven execution reopens its
//! failed Map Run and runs only the children that did not succeed.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use sluice_engine::engine::Failure;
use sluice_engine::engine::children::{
    ChildExecution, ChildLedger, DelegatedChild, EndedChildren, MapRunKey, OpenedRun, Placement,
    RunningChild, child_index,
};
use sluice_engine::engine::events::{self, Event};

use super::Committer;
use super::driver::{finish_event, started_event, stored_event};
use crate::lifecycle::{ExecutionStatus, MachineType};
use crate::store::{ExecutionRecord, Finish, NewEvent, Store, StoreError};

/// Children of the Map Runs of one execution's step.
pub(crate) struct StoredChildren<'a> {
    pub store: &'a dyn Store,
    pub committer: &'a Committer,
    /// This replica's child slots, and the queue for children beyond them.
    pub pool: &'a super::child_pool::ChildPool,
    /// The execution whose definition holds the Map states (the one driven; for a child's
    /// own Distributed Maps, its root's).
    pub root_arn: &'a str,
}

impl ChildLedger for StoredChildren<'_> {
    fn open<'a>(&'a self, fresh: &'a MapRunKey<'a>) -> BoxFuture<'a, Result<OpenedRun, String>> {
        async move { self.open_run(fresh).await.map_err(|e| e.to_string()) }.boxed()
    }

    fn finished<'a>(
        &'a self,
        child_arn: &'a str,
    ) -> BoxFuture<'a, Result<Option<ChildExecution>, String>> {
        async move {
            let Some(e) = self
                .store
                .get_execution(child_arn)
                .await
                .map_err(|e| e.to_string())?
            else {
                return Ok(None);
            };
            // Shown as running, not ended: it runs again.
            if e.status == ExecutionStatus::Running {
                return Ok(None);
            }
            Ok(Some(child_of(e)?))
        }
        .boxed()
    }

    fn abandon(&self, children: Vec<RunningChild>) {
        let now = SystemTime::now();
        let mut lost = 0;
        for child in children {
            let (record, events) = aborted_child(&child, now);
            if !self.committer.try_record_child(record, events) {
                lost += 1;
            }
        }
        if lost > 0 {
            // They stay unrecorded: a redrive runs them like children never started.
            tracing::warn!(
                children = lost,
                "aborted children of a Map Run were not recorded (the write queue is full or closed)"
            );
        }
    }

    fn started(&self, child: &RunningChild) {
        // Best effort, without waiting: a full write queue only hides the child until it ends.
        let (record, events) = running_child(child);
        let _ = self.committer.try_record_child(record, events);
    }

    fn place(&self, map_run_arn: &str) -> Placement {
        // A Map Run of a child (`…:mapRun:<machine>/<label>/<label>:<id>`; names cannot hold
        // a '/') runs its children where its parent runs and takes no slot: a child holding
        // a slot while it waits on children that wait for a slot could wait forever.
        let machine = map_run_arn
            .split_once(":mapRun:")
            .and_then(|(_, rest)| rest.rsplit_once(':'))
            .map_or("", |(machine, _)| machine);
        if machine.matches('/').count() > 1 {
            return Placement::Here(Box::new(()));
        }
        match self.pool.try_slot() {
            Some(slot) => Placement::Here(Box::new(slot)),
            None => Placement::Elsewhere,
        }
    }

    fn delegate(&self, child: DelegatedChild) -> BoxFuture<'_, Result<ChildExecution, String>> {
        async move {
            let queued = crate::store::QueuedChild {
                child_arn: child.info.arn.clone(),
                map_run_arn: child.map_run_arn.clone(),
                root_arn: self.root_arn.to_string(),
                label: child.label.clone(),
                name: child.info.name.clone(),
                state_machine_arn: child.info.state_machine_arn.clone(),
                role_arn: child.info.role_arn.clone(),
                index: i64::try_from(child.index).unwrap_or(i64::MAX),
                input: events::text(&child.info.input),
                vars: events::text(&child.vars),
                // The seed's bits; the replica that runs it reads them back as a u64.
                seed: child.seed as i64,
                redrive_count: i64::try_from(child.info.redrive_count).unwrap_or(i64::MAX),
                rerun: child.rerun,
                queued: seconds(SystemTime::now()),
            };
            let (map_run_arn, child_arn) = (queued.map_run_arn.clone(), queued.child_arn.clone());
            self.committer
                .queue_child(queued)
                .await
                .map_err(|e| e.to_string())?;
            // Closed only when the pool is gone (a shutdown): the child stays queued.
            self.pool
                .wait(&map_run_arn, &child_arn)
                .await
                .map_err(|_| "this replica is shutting down".to_string())?;
            match self.store.get_execution(&child_arn).await {
                Ok(Some(e)) if e.status != ExecutionStatus::Running => child_of(e),
                Ok(_) => Err("it left the queue without being recorded".into()),
                Err(e) => Err(e.to_string()),
            }
        }
        .boxed()
    }

    fn record(&self, child: ChildExecution) -> BoxFuture<'_, Result<(), String>> {
        async move {
            let (record, events) = stored_child(&child);
            self.committer
                .record_child(record, events)
                .await
                .map_err(|e| e.to_string())
        }
        .boxed()
    }
}

impl StoredChildren<'_> {
    async fn open_run(&self, fresh: &MapRunKey<'_>) -> Result<OpenedRun, StoreError> {
        let mut opened = OpenedRun {
            map_run_arn: fresh.map_run_arn.to_string(),
            redriven: false,
            redrive_count: 0,
            ended: EndedChildren::default(),
        };
        // A replay of the step that started the run draws the same id: the run goes on.
        if let Some(run) = self.store.get_map_run(fresh.map_run_arn).await? {
            opened.redrive_count = u64::try_from(run.redrive_count).unwrap_or(0);
        } else if fresh.execution.redrive_count > 0 {
            // A redriven execution draws a new id. The run it continues is the execution's
            // latest Map Run, when that one belongs to this Map state (same
            // `<machine>/<label>`) and did not succeed: the run that failed the execution.
            // An older failed run (caught, and the loop went on) is not reopened.
            let prefix = fresh
                .map_run_arn
                .rsplit_once(':')
                .map_or(fresh.map_run_arn, |(p, _)| p);
            let latest = self
                .store
                .list_map_runs(&fresh.execution.arn)
                .await?
                .into_iter()
                .max_by(|a, b| a.start.total_cmp(&b.start));
            let same_state = |r: &crate::store::MapRunRecord| {
                r.arn.rsplit_once(':').is_some_and(|(p, _)| p == prefix)
            };
            if let Some(run) = latest.filter(|r| same_state(r) && r.status != "SUCCEEDED") {
                let count = u64::try_from(run.redrive_count).unwrap_or(0);
                // A run already RUNNING was reopened by this redrive before a crash.
                opened.redrive_count = if run.status == "RUNNING" {
                    count
                } else {
                    count + 1
                };
                opened.map_run_arn = run.arn;
                opened.redriven = true;
            }
        }
        for (name, status) in self.store.ended_children(&opened.map_run_arn).await? {
            // An aborted child did not end on its own: it runs again when the run goes on.
            if let (Some(index), false) = (child_index(&name), status == ExecutionStatus::Aborted) {
                opened
                    .ended
                    .set(index, status == ExecutionStatus::Succeeded);
            }
        }
        Ok(opened)
    }
}

/// A stored child as the engine sees it.
fn child_of(e: ExecutionRecord) -> Result<ChildExecution, String> {
    let input: Value = serde_json::from_str(&e.input)
        .map_err(|err| format!("the stored input of '{}' does not parse: {err}", e.arn))?;
    let outcome = match (e.status, &e.output) {
        (ExecutionStatus::Succeeded, Some(out)) => Ok(serde_json::from_str(out)
            .map_err(|err| format!("the stored output of '{}' does not parse: {err}", e.arn))?),
        _ => Err(Failure {
            error: e.error.clone(),
            cause: e.cause.clone(),
        }),
    };
    let state_machine_name = e
        .state_machine_arn
        .split_once(":stateMachine:")
        .map_or("", |(_, n)| n)
        .to_string();
    let index = child_index(&e.name).unwrap_or(0);
    Ok(ChildExecution {
        info: Arc::new(sluice_engine::engine::ExecutionInfo {
            arn: e.arn,
            name: e.name,
            state_machine_arn: e.state_machine_arn,
            state_machine_name,
            role_arn: e.role_arn,
            start_time: String::new(),
            input: Arc::new(input),
            redrive_count: u64::try_from(e.redrive_count).unwrap_or(0),
        }),
        map_run_arn: e.map_run_arn.unwrap_or_default(),
        index,
        outcome,
        start: at(e.start),
        stop: at(e.stop.unwrap_or(e.start)),
        events: Vec::new(),
        rerun: false,
    })
}

/// A child's row and history (`ExecutionStarted`, its states' events, its end).
pub(crate) fn stored_child(child: &ChildExecution) -> (ExecutionRecord, Vec<NewEvent>) {
    let input = events::text(&child.info.input);
    let stop = seconds(child.stop);
    let finish = match &child.outcome {
        Ok(v) => Finish {
            status: ExecutionStatus::Succeeded,
            output: Some(events::text(v)),
            error: None,
            cause: None,
            stop,
        },
        Err(f) => Finish {
            status: ExecutionStatus::Failed,
            output: None,
            error: f.error.clone(),
            cause: f.cause.clone(),
            stop,
        },
    };
    let mut history = Vec::with_capacity(child.events.len() + 2);
    let mut started = started_event(&input, &child.info.role_arn);
    started.timestamp = seconds(child.start);
    history.push(started);
    history.extend(child.events.iter().map(|(at, e)| timed(*at, e)));
    let mut end = finish_event(&finish);
    end.timestamp = stop;
    history.push(end);
    let record = ExecutionRecord {
        arn: child.info.arn.clone(),
        state_machine_arn: child.info.state_machine_arn.clone(),
        name: child.info.name.clone(),
        status: finish.status,
        input,
        output: finish.output,
        error: finish.error,
        cause: finish.cause,
        start: seconds(child.start),
        stop: Some(stop),
        // The children's definition is the parent's ItemProcessor, kept with the parent.
        definition: String::new(),
        role_arn: child.info.role_arn.clone(),
        kind: MachineType::Standard,
        redrive_count: i64::try_from(child.info.redrive_count).unwrap_or(i64::MAX),
        map_run_arn: Some(child.map_run_arn.clone()),
    };
    (record, history)
}

/// A child that started: RUNNING, with its `ExecutionStarted`.
pub(crate) fn running_child(child: &RunningChild) -> (ExecutionRecord, Vec<NewEvent>) {
    let (mut record, mut events) = aborted_child(child, child.start);
    record.status = ExecutionStatus::Running;
    record.stop = None;
    events.truncate(1);
    (record, events)
}

/// A child dropped with its Map Run: ABORTED, with `ExecutionStarted` and `ExecutionAborted`.
pub(crate) fn aborted_child(
    child: &RunningChild,
    now: SystemTime,
) -> (ExecutionRecord, Vec<NewEvent>) {
    let input = events::text(&child.info.input);
    let finish = Finish {
        status: ExecutionStatus::Aborted,
        output: None,
        error: None,
        cause: None,
        stop: seconds(now),
    };
    let mut started = started_event(&input, &child.info.role_arn);
    started.timestamp = seconds(child.start);
    let mut end = finish_event(&finish);
    end.timestamp = finish.stop;
    let record = ExecutionRecord {
        arn: child.info.arn.clone(),
        state_machine_arn: child.info.state_machine_arn.clone(),
        name: child.info.name.clone(),
        status: finish.status,
        input,
        output: None,
        error: None,
        cause: None,
        start: seconds(child.start),
        stop: Some(finish.stop),
        definition: String::new(),
        role_arn: child.info.role_arn.clone(),
        kind: MachineType::Standard,
        redrive_count: i64::try_from(child.info.redrive_count).unwrap_or(i64::MAX),
        map_run_arn: Some(child.map_run_arn.clone()),
    };
    (record, vec![started, end])
}

fn timed(at: SystemTime, event: &Event) -> NewEvent {
    let mut stored = stored_event(event.clone());
    stored.timestamp = seconds(at);
    stored
}

fn seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn at(seconds: f64) -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_secs_f64(seconds.max(0.0))
}
