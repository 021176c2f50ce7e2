//! The in-memory engine: runs one execution of a compiled state machine to completion.
//! `sluice run` and Express executions use it; durable Standard executions will reuse the same
//! state semantics with a store behind them.

pub mod children;
mod context;
pub mod events;
mod exec;
pub mod mock;
/// The task contract, from `sluice-task` (where the integrations meet the engine too).
pub mod task {
    pub use sluice_task::*;
}
mod vars;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

pub use context::{ExecutionInfo, Rng, TokenKey, now_iso8601};
pub use exec::{Failure, Limits, Timers};
pub use task::{Dispatcher, TaskFailure, TaskHandler, TaskProgress, TaskRequest};
pub use vars::Vars;

use crate::lang::model::StateMachine;

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded(Value),
    Failed {
        error: Option<String>,
        cause: Option<String>,
    },
    TimedOut,
    Aborted,
}

impl Outcome {
    /// The status name Step Functions uses.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Succeeded(_) => "SUCCEEDED",
            Outcome::Failed { .. } => "FAILED",
            Outcome::TimedOut => "TIMED_OUT",
            Outcome::Aborted => "ABORTED",
        }
    }

    /// The `{"status", "output" | "error", "cause"}` object of `sluice run --json`.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("status".into(), Value::String(self.status().into()));
        match self {
            Outcome::Succeeded(v) => {
                m.insert("output".into(), v.clone());
            }
            Outcome::Failed { error, cause } => {
                if let Some(e) = error {
                    m.insert("error".into(), Value::String(e.clone()));
                }
                if let Some(c) = cause {
                    m.insert("cause".into(), Value::String(c.clone()));
                }
            }
            Outcome::TimedOut | Outcome::Aborted => {}
        }
        Value::Object(m)
    }
}

/// Standard (durable, exactly-once) or Express (in-memory, at-least-once) semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionType {
    #[default]
    Standard,
    Express,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub input: Arc<Value>,
    /// Execution name; a UUID when absent.
    pub name: Option<String>,
    pub state_machine_name: String,
    pub execution_type: ExecutionType,
    /// Seed for `States.UUID`, `$random()` and retry jitter; random when absent.
    pub seed: Option<u64>,
    pub region: String,
    pub account: String,
}

impl RunRequest {
    /// A request with defaults for a local run.
    pub fn new(state_machine_name: impl Into<String>, input: Value) -> Self {
        RunRequest {
            input: Arc::new(input),
            name: None,
            state_machine_name: state_machine_name.into(),
            execution_type: ExecutionType::Standard,
            seed: None,
            region: "us-east-1".into(),
            account: "123456789012".into(),
        }
    }

    /// The context-object facts of this execution.
    pub fn execution_info(&self, name: String) -> ExecutionInfo {
        let (region, account, sm) = (&self.region, &self.account, &self.state_machine_name);
        let arn = match self.execution_type {
            ExecutionType::Standard => {
                format!("arn:aws:states:{region}:{account}:execution:{sm}:{name}")
            }
            ExecutionType::Express => format!(
                "arn:aws:states:{region}:{account}:express:{sm}:{name}:{}",
                uuid::Uuid::new_v4()
            ),
        };
        ExecutionInfo {
            arn,
            name,
            state_machine_arn: format!("arn:aws:states:{region}:{account}:stateMachine:{sm}"),
            state_machine_name: sm.clone(),
            role_arn: format!("arn:aws:iam::{account}:role/sluice-execution"),
            start_time: now_iso8601(),
            input: Arc::clone(&self.input),
            redrive_count: 0,
        }
    }
}

/// One top-level state of an execution, for drivers that checkpoint between states.
pub struct StepRequest<'a> {
    pub machine: &'a StateMachine,
    pub info: &'a ExecutionInfo,
    pub rng: &'a Rng,
    /// Index of the state to run in the machine's top-level states.
    pub state: usize,
    pub input: Value,
    /// The execution's variables; updated by the state's `Assign`.
    pub vars: &'a mut Vars,
    pub events: Option<&'a dyn events::EventSink>,
    /// Durable waits; `None` sleeps in memory.
    pub timers: Option<&'a dyn Timers>,
    /// Where a Distributed Map's STANDARD children are kept; `None` keeps them in memory.
    pub children: Option<&'a dyn children::ChildLedger>,
    /// Transitions the execution made before this step; the step adds its own. A durable
    /// driver keeps the count with its checkpoint, so `Limits::max_transitions` holds across
    /// checkpoints and restarts as it does in one in-memory run.
    pub transitions: &'a std::sync::atomic::AtomicU64,
}

/// How a top-level state ended.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// Go on with the state at this index.
    Next { state: usize, output: Value },
    /// The execution succeeded with this output.
    Succeeded(Value),
    /// The execution failed.
    Failed(Failure),
}

/// A Map Run child another host handed over, to run here ([`Engine::run_delegated`]).
pub struct DelegatedRequest<'a> {
    /// The compiled definition of the execution whose Map Run this is (it holds the
    /// ItemProcessor).
    pub machine: &'a StateMachine,
    pub child: &'a children::DelegatedChild,
    /// Signs the child's task tokens: the deployment's key, as on the host that handed it.
    pub key: TokenKey,
    /// Where the child's own Distributed Maps keep their children.
    pub children: Option<&'a dyn children::ChildLedger>,
}

/// Runs executions in memory, dispatching Task states to registered handlers.
#[derive(Clone, Default)]
pub struct Engine {
    pub dispatcher: Dispatcher,
    pub limits: Limits,
}

impl Engine {
    /// An engine with the given task dispatcher and default limits.
    pub fn new(dispatcher: Dispatcher) -> Self {
        Engine {
            dispatcher,
            limits: Limits::default(),
        }
    }

    /// Run one execution to its end.
    pub async fn run(&self, machine: &StateMachine, request: &RunRequest) -> Outcome {
        self.run_reporting(machine, request, None).await
    }

    /// [`Engine::run`], reporting history events and Map Run progress to `events`.
    pub async fn run_reporting(
        &self,
        machine: &StateMachine,
        request: &RunRequest,
        events: Option<&dyn events::EventSink>,
    ) -> Outcome {
        let name = request
            .name
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let info = request.execution_info(name);
        let rng = Rng::new(request.seed.unwrap_or_else(rand::random));
        self.run_observed(machine, &info, &rng, events).await
    }

    /// Run a single top-level state (with its retries, branches and iterations).
    pub async fn step(&self, request: StepRequest<'_>) -> StepOutcome {
        let runner = exec::Runner {
            machine: request.machine,
            info: request.info,
            tasks: &self.dispatcher,
            rng: request.rng,
            limits: &self.limits,
            transitions: request.transitions,
            events: request.events,
            event_ids: None,
            timers: request.timers,
            children: request.children,
        };
        let Some(state) = request.machine.graph.states.get(request.state) else {
            return StepOutcome::Failed(Failure::new(
                crate::lang::errors::RUNTIME,
                format!(
                    "the checkpoint names state #{}, which the definition does not have",
                    request.state
                ),
            ));
        };
        if let Err(f) = runner.count_transition() {
            return StepOutcome::Failed(f);
        }
        match runner
            .run_state_observed(state, request.input, request.vars)
            .await
        {
            Ok(exec::Step::Next(next, output)) => StepOutcome::Next {
                state: next,
                output,
            },
            Ok(exec::Step::End(output)) => StepOutcome::Succeeded(output),
            Err(f) => StepOutcome::Failed(f),
        }
    }

    /// Run a Map Run child that another host handed over, to its end, with its history.
    pub async fn run_delegated(&self, request: DelegatedRequest<'_>) -> children::ChildExecution {
        let child = request.child;
        let start = std::time::SystemTime::now();
        let rng = Rng::keyed(child.seed, request.key);
        let transitions = std::sync::atomic::AtomicU64::new(0);
        let runner = exec::Runner {
            machine: request.machine,
            info: &child.info,
            tasks: &self.dispatcher,
            rng: &rng,
            limits: &self.limits,
            transitions: &transitions,
            events: None,
            event_ids: None,
            timers: None,
            children: request.children,
        };
        let parent = Arc::new(Vars::from_json(child.vars.clone()));
        let (outcome, events) = match request.machine.map_run_processor(&child.label) {
            Some(processor) => {
                let (outcome, history) = runner
                    .run_child(
                        processor,
                        &child.info,
                        &rng,
                        (*child.info.input).clone(),
                        parent,
                        true,
                    )
                    .await;
                (
                    outcome,
                    history.map(|h| h.into_events()).unwrap_or_default(),
                )
            }
            None => (
                Err(Failure::new(
                    crate::lang::errors::RUNTIME,
                    format!(
                        "the definition has no Distributed Map labelled '{}'",
                        child.label
                    ),
                )),
                Vec::new(),
            ),
        };
        children::ChildExecution {
            info: Arc::clone(&child.info),
            map_run_arn: child.map_run_arn.clone(),
            index: child.index,
            outcome,
            start,
            stop: std::time::SystemTime::now(),
            events,
            rerun: child.rerun,
        }
    }

    /// Run one execution whose context facts the caller supplies.
    pub async fn run_with(
        &self,
        machine: &StateMachine,
        info: &ExecutionInfo,
        rng: &Rng,
    ) -> Outcome {
        self.run_observed(machine, info, rng, None).await
    }

    /// Run one execution, reporting its history events to `events`.
    pub async fn run_observed(
        &self,
        machine: &StateMachine,
        info: &ExecutionInfo,
        rng: &Rng,
        events: Option<&dyn events::EventSink>,
    ) -> Outcome {
        let transitions = std::sync::atomic::AtomicU64::new(0);
        // ExecutionStarted is event 1; the engine counts the events after it.
        let event_ids = std::sync::atomic::AtomicU64::new(1);
        let runner = exec::Runner {
            machine,
            info,
            tasks: &self.dispatcher,
            rng,
            limits: &self.limits,
            transitions: &transitions,
            events,
            event_ids: Some(&event_ids),
            timers: None,
            children: None,
        };
        let mut vars = Vars::default();
        let run = runner.run(&mut vars);
        let result = match machine.timeout_seconds {
            Some(secs) => match tokio::time::timeout(Duration::from_secs(secs), run).await {
                Ok(r) => r,
                Err(_) => return Outcome::TimedOut,
            },
            None => run.await,
        };
        match result {
            Ok(output) => Outcome::Succeeded(output),
            Err(f) => Outcome::Failed {
                error: f.error,
                cause: f.cause,
            },
        }
    }
}

#[cfg(test)]
mod tests;
