//! The interpreter: runs a compiled graph state by state. Pure states run synchronously inside
//! the loop; Task, Wait, Parallel and Map await. Only Parallel and Map recurse (boxed).

mod distributed;
mod fields;
mod io;
mod map;
mod plain;
mod recovery;

use fields::FieldScope;

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::children::ChildLedger;
use super::context::{ExecutionInfo, PathEnv, Rng, StateCtx};
use super::events::{self, Event, EventSink};
use super::task::{Dispatcher, Pattern, TaskFailure, TaskProgress, TaskRequest};
use super::vars::Vars;
use crate::lang::choice::parse_timestamp;
use crate::lang::errors;
use crate::lang::jsonata::{EvalContext, Template};
use crate::lang::model::{
    Arguments, Assign, Catcher, Condition, ContextUse, Field, Graph, Handlers, Io, Items,
    JsonataIo, Kind, MapSpec, PathIo, ResultPath, Retrier, Selector, State, StateMachine, TaskSpec,
    Transition, WaitFor,
};
use crate::lang::path::{Path, PathError, Root};
use crate::lang::payload::{EvalError, PayloadTemplate};

/// How a state ended, or the execution failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// ASL error name (`None` for a Fail state without `Error`).
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Failure {
    /// A failure with a name and a cause.
    pub fn new(error: &str, cause: impl Into<String>) -> Self {
        Failure {
            error: Some(error.to_string()),
            cause: Some(cause.into()),
        }
    }

    fn name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    /// The error output a Catch hands on: `{"Error": …, "Cause": …}`.
    fn error_output(&self) -> Value {
        // Absent parts stay absent: a Fail state without Cause yields `{"Error": …}` only.
        let mut m = Map::new();
        if let Some(e) = &self.error {
            m.insert("Error".into(), json!(e));
        }
        if let Some(c) = &self.cause {
            m.insert("Cause".into(), json!(c));
        }
        Value::Object(m)
    }
}

fn runtime(state: &str, message: impl std::fmt::Display) -> Failure {
    Failure::new(
        errors::RUNTIME,
        format!("An error occurred while executing the state '{state}'. {message}"),
    )
}

/// A runtime or query error of `state` saying which event entered the state, as AWS words
/// it: `… the state 'S' (entered at the event id #4). …`.
fn located(mut f: Failure, state: &State, entered: Option<u64>) -> Failure {
    let Some(id) = entered else { return f };
    if !matches!(
        f.error.as_deref(),
        Some(errors::RUNTIME | errors::QUERY_EVALUATION_ERROR)
    ) {
        return f;
    }
    if let Some(cause) = &mut f.cause {
        let plain = format!(
            "An error occurred while executing the state '{}'. ",
            state.name
        );
        if let Some(rest) = cause.strip_prefix(&plain) {
            *cause = format!(
                "An error occurred while executing the state '{}' (entered at the event id #{id}). {rest}",
                state.name
            );
        }
    }
    f
}

fn query_error(state: &str, message: impl std::fmt::Display) -> Failure {
    Failure::new(
        errors::QUERY_EVALUATION_ERROR,
        format!("An error occurred while executing the state '{state}'. {message}"),
    )
}

/// Engine-wide limits and knobs.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Iterations in flight for an inline Map with `MaxConcurrency` 0 ("as many as possible").
    /// AWS runs at most 40 inline iterations at once; the same bound keeps memory flat.
    pub unlimited_map_concurrency: usize,
    /// Largest task result, in bytes of JSON, before `States.DataLimitExceeded`.
    pub max_payload_bytes: usize,
    /// A Distributed Map's result file is closed and stored once it holds this many bytes.
    /// AWS splits at 5 GB; sluice stores as it goes, so the bound is also the memory a
    /// ResultWriter holds per status.
    pub result_file_bytes: usize,
    /// Bytes a Distributed Map's reader asks for per getObject of a JSONL or CSV object, so
    /// memory holds one chunk of an object whatever its size.
    pub read_chunk_bytes: u64,
    /// State transitions an execution may make (all branches and iterations together) before
    /// it fails with `States.Runtime`, so a definition that loops forever ends. AWS bounds
    /// Standard executions by their 25,000-event history instead.
    pub max_transitions: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            unlimited_map_concurrency: 40,
            max_payload_bytes: 256 * 1024,
            result_file_bytes: 32 * 1024 * 1024,
            read_chunk_bytes: 8 * 1024 * 1024,
            max_transitions: 10_000_000,
        }
    }
}

/// What a state did: where control goes and with which value.
pub(crate) enum Step {
    Next(usize, Value),
    End(Value),
}

/// Everything one execution shares across its states, branches and iterations.
pub struct Runner<'a> {
    pub machine: &'a StateMachine,
    pub info: &'a ExecutionInfo,
    pub tasks: &'a Dispatcher,
    /// This branch's random source (task tokens, UUIDs, retry jitter): Map iterations and
    /// Parallel branches each have their own, so a replay draws the same values per branch.
    pub rng: &'a Rng,
    pub limits: &'a Limits,
    /// Transitions made so far by the whole execution.
    pub transitions: &'a AtomicU64,
    /// Where history events go; `None` builds none.
    pub events: Option<&'a dyn EventSink>,
    /// The id of the execution's last history event, counted (sink or not) when the ids are
    /// known from the start, so a runtime error can say which event entered its state, as
    /// AWS's causes do. `None` where a store numbers events the engine does not see.
    pub event_ids: Option<&'a AtomicU64>,
    /// How Waits and retry back-offs wait; `None` sleeps in memory.
    pub timers: Option<&'a dyn Timers>,
    /// Where a Distributed Map's STANDARD children are kept; `None` keeps them in memory.
    pub children: Option<&'a dyn ChildLedger>,
}

/// Waiting that may outlive the process: a durable driver records each deadline so that a
/// replayed step waits only for what is left.
pub trait Timers: Send + Sync {
    /// Wait `duration` (the n-th wait of the current step).
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()>;
}

/// Pure states never wait, so a long run of them would starve timers (the execution timeout)
/// and sibling branches; every this many transitions the loop yields to the runtime.
const YIELD_EVERY: u64 = 1024;

impl<'a> Runner<'a> {
    /// The same execution, drawing from `rng`: for one Map iteration or Parallel branch.
    pub(crate) fn with_rng<'b>(&'b self, rng: &'b Rng) -> Runner<'b> {
        Runner {
            machine: self.machine,
            info: self.info,
            tasks: self.tasks,
            rng,
            limits: self.limits,
            transitions: self.transitions,
            events: self.events,
            event_ids: self.event_ids,
            timers: self.timers,
            children: self.children,
        }
    }

    /// Count one state transition against `Limits::max_transitions`; the count so far.
    pub(crate) fn count_transition(&self) -> Result<u64, Failure> {
        let made = self.transitions.fetch_add(1, Ordering::Relaxed) + 1;
        if made > self.limits.max_transitions {
            return Err(Failure::new(
                errors::RUNTIME,
                format!(
                    "The execution made more than {} state transitions and was stopped; raise the limit (--max-transitions) if the loop is intended",
                    self.limits.max_transitions
                ),
            ));
        }
        Ok(made)
    }

    /// Run the whole machine on the execution input.
    pub async fn run(&self, vars: &mut Vars) -> Result<Value, Failure> {
        self.run_graph(&self.machine.graph, (*self.info.input).clone(), vars)
            .await
    }

    fn run_graph<'s>(
        &'s self,
        graph: &'s Graph,
        input: Value,
        vars: &'s mut Vars,
    ) -> BoxFuture<'s, Result<Value, Failure>> {
        Box::pin(async move {
            let mut index = graph.start;
            let mut value = input;
            loop {
                if self.count_transition()?.is_multiple_of(YIELD_EVERY) {
                    tokio::task::yield_now().await;
                }
                let state = graph
                    .states
                    .get(index)
                    .ok_or_else(|| runtime("?", "transition to a state that does not exist"))?;
                match self.run_state_observed(state, value, vars).await? {
                    Step::Next(next, v) => {
                        index = next;
                        value = v;
                    }
                    Step::End(v) => return Ok(v),
                }
            }
        })
    }

    /// Run one state, reporting its entry and exit when events are recorded.
    pub(crate) async fn run_state_observed(
        &self,
        state: &State,
        input: Value,
        vars: &mut Vars,
    ) -> Result<Step, Failure> {
        let entered = self.next_event_id();
        let Some(sink) = self.events else {
            let step = self.run_state(state, input, vars, entered).await;
            let step = step.map_err(|f| located(f, state, entered))?;
            self.next_event_id();
            return Ok(step);
        };
        sink.emit(events::entered(state, &input));
        let step = self.run_state(state, input, vars, entered).await;
        let step = step.map_err(|f| located(f, state, entered))?;
        self.next_event_id();
        match &step {
            Step::Next(_, output) | Step::End(output) => sink.emit(events::exited(state, output)),
        }
        Ok(step)
    }

    /// Count one history event; its id when ids are counted.
    fn next_event_id(&self) -> Option<u64> {
        self.event_ids
            .map(|ids| ids.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Wait through the durable timers when there are some.
    async fn sleep(&self, duration: Duration) {
        match self.timers {
            Some(t) => t.sleep(duration).await,
            None => tokio::time::sleep(duration).await,
        }
    }

    /// Emit an event when a sink is attached; `make` runs only then.
    fn emit(&self, make: impl FnOnce() -> Event) {
        self.next_event_id();
        if let Some(sink) = self.events {
            sink.emit(make());
        }
    }

    async fn run_state(
        &self,
        state: &State,
        input: Value,
        vars: &mut Vars,
        entered: Option<u64>,
    ) -> Result<Step, Failure> {
        let handlers = match &state.kind {
            Kind::Task(spec) => &spec.handlers,
            Kind::Parallel { handlers, .. } => handlers,
            Kind::Map(spec) => &spec.handlers,
            _ => return self.run_plain(state, input, vars).await,
        };
        // Boxed: the Task/Parallel/Map future is large, and keeping it out of line keeps the
        // future of every Pass and Choice small (it is moved and allocated per iteration).
        Box::pin(self.run_with_handlers(state, handlers, input, vars, entered)).await
    }

    fn step(state: &State, output: Value) -> Step {
        match state.next {
            Transition::Next(n) => Step::Next(n, output),
            Transition::End => Step::End(output),
        }
    }

    fn ctx<'s>(&'s self, state: &'s State) -> StateCtx<'s> {
        StateCtx::new(self.info, &state.name)
    }
}

/// Apply assignments after every expression of the state was evaluated (they see old values).
fn apply(vars: &mut Vars, assignments: Vec<(String, Value)>) {
    for (name, value) in assignments {
        vars.set(name, value);
    }
}

/// Callback and activity tasks get a token. It comes from the execution's seeded generator,
/// so a durable driver that replays a step from its checkpoint hands out the same token.
fn task_token(state: &State, rng: &Rng) -> Option<String> {
    match &state.kind {
        Kind::Task(spec)
            if spec.resource.pattern() == Pattern::WaitForTaskToken
                || spec.resource.activity_name().is_some() =>
        {
            Some(rng.task_token())
        }
        _ => None,
    }
}

/// The `$states` object of a JSONata state: `input` and `context` (more keys are added later).
fn states_object(input: Value, ctx: &StateCtx<'_>, usage: ContextUse) -> Value {
    let mut m = Map::with_capacity(4);
    m.insert("input".into(), input);
    if let Some(context) = ctx.for_use(usage) {
        m.insert("context".into(), context.clone());
    }
    Value::Object(m)
}

fn states_set(states: &mut Value, key: &str, value: Value) {
    if let Value::Object(m) = states {
        m.insert(key.to_string(), value);
    }
}

fn states_input(states: &Value) -> &Value {
    states.get("input").unwrap_or(&Value::Null)
}

fn selector_text(s: &Selector) -> &str {
    match s {
        Selector::Whole => "$",
        Selector::Discard => "null",
        Selector::Path(p) => p.text(),
    }
}

fn invalid_path(state: &State, path: &Path, e: &PathError) -> Failure {
    runtime(&state.name, format!("Invalid path '{}' : {e}", path.text()))
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Error and Cause strings: strings as-is, other JSON as its text.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => compact(other),
    }
}
