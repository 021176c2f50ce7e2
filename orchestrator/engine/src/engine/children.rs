//! The children of a Distributed Map as executions of their own: the facts each child runs
//! with, and the ledger a durable host keeps of them, so that a Map Run replayed after a crash
//! or redriven after a failure never runs a finished child again.

use std::sync::Arc;
use std::time::SystemTime;

use futures::future::BoxFuture;
use serde_json::Value;

use super::context::ExecutionInfo;
use super::events::Event;
use super::exec::Failure;

/// Keeps a Distributed Map's STANDARD children. `sluice serve` stores them as executions;
/// without a ledger (`sluice run`) children live only in memory.
pub trait ChildLedger: Send + Sync {
    /// Opens the Map Run that `fresh` names, or the earlier run of the same Map state that
    /// this one continues: after a crash the same run goes on, after a redrive the failed run
    /// is redriven. Says which children already ended.
    fn open<'a>(&'a self, fresh: &'a MapRunKey<'a>) -> BoxFuture<'a, Result<OpenedRun, String>>;

    /// A child that ended earlier, with what it was given and what it returned.
    fn finished<'a>(
        &'a self,
        child_arn: &'a str,
    ) -> BoxFuture<'a, Result<Option<ChildExecution>, String>>;

    /// Keeps a child that ended. The Map Run counts the child once this returns, so a
    /// restart finds every child whose result the Map Run used.
    fn record(&self, child: ChildExecution) -> BoxFuture<'_, Result<(), String>>;

    /// Children still running when their Map Run was dropped (its execution stopped, or the
    /// run failed): kept as ABORTED, without waiting. They run again when the run goes on.
    fn abandon(&self, children: Vec<RunningChild>);

    /// A child starts running here: a host may show it as RUNNING until it is recorded.
    fn started(&self, _child: &RunningChild) {}

    /// Where the next child of `map_run_arn` runs: here, holding one of this host's child
    /// slots until it ends, or on whichever host has room ([`ChildLedger::delegate`]).
    fn place(&self, _map_run_arn: &str) -> Placement {
        Placement::Here(Box::new(()))
    }

    /// Hands a child to whichever host has room and waits until it ended there (recorded,
    /// like a child run here). Only asked after [`ChildLedger::place`] said `Elsewhere`.
    fn delegate(&self, child: DelegatedChild) -> BoxFuture<'_, Result<ChildExecution, String>> {
        let arn = child.info.arn.clone();
        Box::pin(async move { Err(format!("no other host can run the child '{arn}'")) })
    }
}

/// Where a Map Run's child runs.
pub enum Placement {
    /// In this process; the box holds the host's slot until the child ends.
    Here(Box<dyn Send + Sync>),
    /// On whichever host has room.
    Elsewhere,
}

/// A child handed to another host, with everything it needs to run there: the host finds
/// the ItemProcessor by its Map state's label in the definition it already keeps.
#[derive(Debug, Clone)]
pub struct DelegatedChild {
    /// `$$.Execution` of the child, its input included.
    pub info: Arc<ExecutionInfo>,
    pub map_run_arn: String,
    pub index: usize,
    /// The Map state's `Label` (its name when it has none).
    pub label: String,
    /// Where the child's random draws (task tokens, `States.UUID`) start, so that it draws
    /// the same values wherever it runs.
    pub seed: u64,
    /// The variables the child can read, as one JSON object.
    pub vars: Value,
    /// It runs again after failing (a redrive).
    pub rerun: bool,
}

/// A child that started and has not ended.
#[derive(Debug, Clone)]
pub struct RunningChild {
    pub info: Arc<ExecutionInfo>,
    pub map_run_arn: String,
    pub start: SystemTime,
}

/// The Map Run an entering Distributed Map would start.
#[derive(Debug)]
pub struct MapRunKey<'a> {
    /// The parent execution.
    pub execution: &'a ExecutionInfo,
    /// `…:mapRun:<machine>/<label>:<id>`, with an id that is the same on every replay of
    /// the step.
    pub map_run_arn: &'a str,
}

/// What [`ChildLedger::open`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedRun {
    /// The run to go on with: the fresh one, or the earlier run being redriven.
    pub map_run_arn: String,
    /// An earlier failed or aborted run is redriven (`MapRunRedriven`, and its failed
    /// children run again).
    pub redriven: bool,
    /// How often the run was redriven, this time included.
    pub redrive_count: u64,
    /// How each child ended so far, by child index.
    pub ended: EndedChildren,
}

/// How each child of a Map Run ended, by index: one byte per child up to the last that ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndedChildren(Vec<u8>);

const NOT_ENDED: u8 = 0;
const SUCCEEDED: u8 = 1;
const FAILED: u8 = 2;

impl EndedChildren {
    /// Notes child `index` as ended, succeeded or not.
    pub fn set(&mut self, index: usize, succeeded: bool) {
        if self.0.len() <= index {
            self.0.resize(index + 1, NOT_ENDED);
        }
        self.0[index] = if succeeded { SUCCEEDED } else { FAILED };
    }

    /// Whether child `index` ended (`Some(true)` when it succeeded).
    pub fn get(&self, index: usize) -> Option<bool> {
        match self.0.get(index) {
            Some(&SUCCEEDED) => Some(true),
            Some(&FAILED) => Some(false),
            _ => None,
        }
    }

    /// Whether no child ended.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == NOT_ENDED)
    }
}

/// One child of a Map Run as an execution.
#[derive(Debug, Clone)]
pub struct ChildExecution {
    /// `$$.Execution` of the child: its ARN, name, state machine (`<machine>/<label>`),
    /// input and start.
    pub info: Arc<ExecutionInfo>,
    /// The Map Run it belongs to.
    pub map_run_arn: String,
    /// Index among the Map Run's children.
    pub index: usize,
    pub outcome: Result<Value, Failure>,
    pub start: SystemTime,
    pub stop: SystemTime,
    /// Its history between `ExecutionStarted` and its last event, as it happened.
    pub events: Vec<(SystemTime, Event)>,
    /// It ran again after failing (a redrive): its record is replaced.
    pub rerun: bool,
}

/// The facts of child `index` of a Map Run: `$$.Execution` as the child sees it.
pub fn child_info(
    parent: &ExecutionInfo,
    map_run_arn: &str,
    index: usize,
    input: Arc<Value>,
) -> ExecutionInfo {
    // `…:mapRun:<machine>/<label>:<id>`: children are `…:execution:<machine>/<label>:<id>-<n>`
    // of the state machine `…:stateMachine:<machine>/<label>`.
    let (head, rest) = map_run_arn
        .split_once(":mapRun:")
        .unwrap_or((map_run_arn, ""));
    let (machine, run_id) = rest.rsplit_once(':').unwrap_or((rest, ""));
    let name = format!("{run_id}-{index}");
    ExecutionInfo {
        arn: format!("{head}:execution:{machine}:{name}"),
        name,
        state_machine_arn: format!("{head}:stateMachine:{machine}"),
        state_machine_name: machine.to_string(),
        role_arn: parent.role_arn.clone(),
        start_time: super::context::now_iso8601(),
        input,
        redrive_count: 0,
    }
}

/// The index a child's name ends with (`<run id>-<index>`).
pub fn child_index(name: &str) -> Option<usize> {
    name.rsplit_once('-')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_named_under_their_map_run() {
        let parent = ExecutionInfo {
            arn: "arn:aws:states:us-east-1:1:execution:orders:e1".into(),
            name: "e1".into(),
            state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:orders".into(),
            state_machine_name: "orders".into(),
            role_arn: "arn:aws:iam::1:role/r".into(),
            start_time: String::new(),
            input: Arc::new(Value::Null),
            redrive_count: 0,
        };
        let child = child_info(
            &parent,
            "arn:aws:states:us-east-1:1:mapRun:orders/Fan:abc-1",
            7,
            Arc::new(Value::Null),
        );
        assert_eq!(
            child.arn,
            "arn:aws:states:us-east-1:1:execution:orders/Fan:abc-1-7"
        );
        assert_eq!(
            child.state_machine_arn,
            "arn:aws:states:us-east-1:1:stateMachine:orders/Fan"
        );
        assert_eq!(child_index(&child.name), Some(7));
    }

    #[test]
    fn ended_children_grow_on_demand() {
        let mut ended = EndedChildren::default();
        assert!(ended.is_empty());
        ended.set(3, false);
        ended.set(1, true);
        assert_eq!(
            (ended.get(0), ended.get(1), ended.get(3), ended.get(9)),
            (None, Some(true), Some(false), None)
        );
    }
}
