//! The interpreter: runs a compiled graph state by state. Pure states run synchronously inside
//! the loop; Task, Wait, Parallel and Map await. Only Parallel and Map recurse (boxed).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::context::{ExecutionInfo, PathEnv, Rng, StateCtx};
use super::task::{Dispatcher, TaskRequest};
use super::vars::Vars;
use crate::lang::choice::parse_timestamp;
use crate::lang::errors;
use crate::lang::jsonata::{EvalContext, Template};
use crate::lang::model::{
    Assign, Catcher, Condition, ContextUse, Field, Graph, Handlers, Io, ItemSelector, Items,
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            unlimited_map_concurrency: 40,
            max_payload_bytes: 256 * 1024,
        }
    }
}

/// What a state did: where control goes and with which value.
enum Step {
    Next(usize, Value),
    End(Value),
}

/// Everything one execution shares across its states, branches and iterations.
pub struct Runner<'a> {
    pub machine: &'a StateMachine,
    pub info: &'a ExecutionInfo,
    pub tasks: &'a Dispatcher,
    pub rng: &'a Rng,
    pub limits: &'a Limits,
}

impl<'a> Runner<'a> {
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
                let state = graph
                    .states
                    .get(index)
                    .ok_or_else(|| runtime("?", "transition to a state that does not exist"))?;
                match self.run_state(state, value, vars).await? {
                    Step::Next(next, v) => {
                        index = next;
                        value = v;
                    }
                    Step::End(v) => return Ok(v),
                }
            }
        })
    }

    async fn run_state(
        &self,
        state: &State,
        input: Value,
        vars: &mut Vars,
    ) -> Result<Step, Failure> {
        let handlers = match &state.kind {
            Kind::Task(spec) => &spec.handlers,
            Kind::Parallel { handlers, .. } => handlers,
            Kind::Map(spec) => &spec.handlers,
            _ => return self.run_plain(state, input, vars).await,
        };
        // Boxed: the Task/Parallel/Map future is large, and keeping it out of line keeps the
        // future of every Pass and Choice small (it is moved and allocated per iteration).
        Box::pin(self.run_with_handlers(state, handlers, input, vars)).await
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

    // ---- states without Retry/Catch -------------------------------------------------------

    async fn run_plain(
        &self,
        state: &State,
        input: Value,
        vars: &mut Vars,
    ) -> Result<Step, Failure> {
        match (&state.io, &state.kind) {
            // The hot path of long Pass chains: borrow, evaluate, move; never clone the input.
            (Io::JsonPath(io), Kind::Pass { result }) => {
                let ctx = self.ctx(state);
                let raw = input;
                let effective = self.input_path(state, io, &raw, &ctx, vars)?;
                let result = match (result, &io.parameters) {
                    (Some(r), _) => r.clone(),
                    (None, Some(params)) => {
                        let eff = effective.as_ref().unwrap_or(&raw);
                        self.payload(state, params, eff, &ctx, vars)?
                    }
                    (None, None) => match effective {
                        Some(e) => e,
                        None if matches!(io.result_path, ResultPath::Whole)
                            && state.assign.is_none() =>
                        {
                            let output = self.output_path(state, io, raw, &ctx, vars)?;
                            return Ok(Self::step(state, output));
                        }
                        None => raw.clone(),
                    },
                };
                let output =
                    self.finish_jsonpath(state, io, Cow::Owned(raw), result, &ctx, vars, false)?;
                Ok(Self::step(state, output))
            }
            (Io::JsonPath(io), kind) => {
                let ctx = self.ctx(state);
                let effective = self.input_path(state, io, &input, &ctx, vars)?;
                let effective = effective.unwrap_or(input);
                match kind {
                    Kind::Succeed => Ok(Step::End(
                        self.output_path(state, io, effective, &ctx, vars)?,
                    )),
                    Kind::Fail { error, cause } => {
                        Err(self.fail_state(state, error, cause, &effective, &ctx, vars)?)
                    }
                    Kind::Choice(spec) => {
                        let mut chosen = None;
                        for branch in &spec.choices {
                            let Condition::JsonPath(rule) = &branch.condition else {
                                return Err(runtime(
                                    &state.name,
                                    "JSONata condition in a JSONPath state",
                                ));
                            };
                            let mut env = PathEnv {
                                input: &effective,
                                ctx: &ctx,
                                vars,
                                rng: self.rng,
                            };
                            if rule
                                .evaluate(&mut env)
                                .map_err(|e| runtime(&state.name, e))?
                            {
                                chosen = Some(branch);
                                break;
                            }
                        }
                        let (next, assign) = match chosen {
                            Some(b) => (b.next, b.assign.as_ref()),
                            None => match spec.default {
                                Some(d) => (d, state.assign.as_ref()),
                                None => return Err(runtime(&state.name, "No Matches!")),
                            },
                        };
                        let assignments =
                            self.eval_assign_jsonpath(state, assign, &effective, &ctx, vars)?;
                        let output = self.output_path(state, io, effective, &ctx, vars)?;
                        apply(vars, assignments);
                        Ok(Step::Next(next, output))
                    }
                    Kind::Wait(wait) => {
                        let deadline = {
                            let mut env = PathEnv {
                                input: &effective,
                                ctx: &ctx,
                                vars,
                                rng: self.rng,
                            };
                            self.wait_duration(state, wait, &mut env, None)?
                        };
                        let assignments = self.eval_assign_jsonpath(
                            state,
                            state.assign.as_ref(),
                            &effective,
                            &ctx,
                            vars,
                        )?;
                        let output = self.output_path(state, io, effective, &ctx, vars)?;
                        drop(ctx);
                        tokio::time::sleep(deadline).await;
                        apply(vars, assignments);
                        Ok(Self::step(state, output))
                    }
                    _ => Err(runtime(&state.name, "state type not handled here")),
                }
            }
            (Io::Jsonata(io), kind) => self.run_plain_jsonata(state, io, kind, input, vars).await,
        }
    }

    async fn run_plain_jsonata(
        &self,
        state: &State,
        io: &JsonataIo,
        kind: &Kind,
        input: Value,
        vars: &mut Vars,
    ) -> Result<Step, Failure> {
        let ctx = self.ctx(state);
        let mut states = states_object(input, &ctx, state.context);
        match kind {
            Kind::Pass { result } => {
                if let Some(r) = result {
                    states_set(&mut states, "result", r.clone());
                }
                let default = result
                    .clone()
                    .unwrap_or_else(|| states_input(&states).clone());
                let output =
                    self.jsonata_output(state, io.output.as_ref(), default, &states, vars)?;
                let assignments =
                    self.eval_assign_jsonata(state, state.assign.as_ref(), &states, vars)?;
                apply(vars, assignments);
                Ok(Self::step(state, output))
            }
            Kind::Succeed => {
                let output = self.jsonata_output(
                    state,
                    io.output.as_ref(),
                    states_input(&states).clone(),
                    &states,
                    vars,
                )?;
                Ok(Step::End(output))
            }
            Kind::Fail { error, cause } => {
                let input = states_input(&states).clone();
                Err(self.fail_state_jsonata(state, error, cause, &states, &input, &ctx, vars)?)
            }
            Kind::Choice(spec) => {
                let mut chosen = None;
                for branch in &spec.choices {
                    let Condition::Jsonata(cond) = &branch.condition else {
                        return Err(runtime(&state.name, "JSONPath rule in a JSONata state"));
                    };
                    match self.jsonata(state, cond, &states, vars)? {
                        Value::Bool(true) => {
                            chosen = Some(branch);
                            break;
                        }
                        Value::Bool(false) => {}
                        other => {
                            return Err(query_error(
                                &state.name,
                                format!(
                                    "The Condition field evaluated to {other}, but a boolean was expected."
                                ),
                            ));
                        }
                    }
                }
                let (next, assign, output) = match chosen {
                    Some(b) => (b.next, b.assign.as_ref(), b.output.as_ref()),
                    None => match spec.default {
                        Some(d) => (d, state.assign.as_ref(), io.output.as_ref()),
                        None => return Err(runtime(&state.name, "No Matches!")),
                    },
                };
                let output = self.jsonata_output(
                    state,
                    output,
                    states_input(&states).clone(),
                    &states,
                    vars,
                )?;
                let assignments = self.eval_assign_jsonata(state, assign, &states, vars)?;
                apply(vars, assignments);
                Ok(Step::Next(next, output))
            }
            Kind::Wait(wait) => {
                let duration = {
                    let input = states_input(&states).clone();
                    let mut env = PathEnv {
                        input: &input,
                        ctx: &ctx,
                        vars,
                        rng: self.rng,
                    };
                    self.wait_duration(state, wait, &mut env, Some(&states))?
                };
                let output = self.jsonata_output(
                    state,
                    io.output.as_ref(),
                    states_input(&states).clone(),
                    &states,
                    vars,
                )?;
                let assignments =
                    self.eval_assign_jsonata(state, state.assign.as_ref(), &states, vars)?;
                drop(ctx);
                drop(states);
                tokio::time::sleep(duration).await;
                apply(vars, assignments);
                Ok(Self::step(state, output))
            }
            _ => Err(runtime(&state.name, "state type not handled here")),
        }
    }

    // ---- Retry and Catch ------------------------------------------------------------------

    async fn run_with_handlers(
        &self,
        state: &State,
        handlers: &Handlers,
        input: Value,
        vars: &mut Vars,
    ) -> Result<Step, Failure> {
        let mut attempts = vec![0u64; handlers.retry.len()];
        let mut retry_count = 0u64;
        loop {
            let failure = match self.attempt(state, &input, vars, retry_count).await {
                Ok(output) => return Ok(Self::step(state, output)),
                Err(f) => f,
            };
            let name = failure.name();
            if let Some(i) = handlers
                .retry
                .iter()
                .position(|r| errors::any_matches(&r.error_equals, name))
            {
                let retrier = &handlers.retry[i];
                if attempts[i] < retrier.max_attempts {
                    let delay = self.backoff(retrier, attempts[i]);
                    attempts[i] += 1;
                    retry_count += 1;
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return match handlers
                .catch
                .iter()
                .find(|c| errors::any_matches(&c.error_equals, name))
            {
                Some(catcher) => self.catch(state, catcher, input, failure, vars),
                None => Err(failure),
            };
        }
    }

    fn backoff(&self, retrier: &Retrier, attempt: u64) -> Duration {
        let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
        let mut seconds = retrier.interval_seconds * retrier.backoff_rate.powi(exponent);
        if let Some(max) = retrier.max_delay_seconds {
            seconds = seconds.min(max);
        }
        if retrier.jitter {
            seconds *= self.rng.next_f64();
        }
        // Bounded so a huge BackoffRate cannot overflow Duration.
        Duration::from_secs_f64(seconds.clamp(0.0, 31_536_000.0 * 100.0))
    }

    fn catch(
        &self,
        state: &State,
        catcher: &Catcher,
        raw: Value,
        failure: Failure,
        vars: &mut Vars,
    ) -> Result<Step, Failure> {
        let error_output = failure.error_output();
        let ctx = self.ctx(state);
        match state.language {
            crate::lang::model::QueryLanguage::JsonPath => {
                let assignments = self.eval_assign_jsonpath(
                    state,
                    catcher.assign.as_ref(),
                    &error_output,
                    &ctx,
                    vars,
                )?;
                let output =
                    self.result_path(state, &catcher.result_path, Cow::Owned(raw), error_output)?;
                apply(vars, assignments);
                Ok(Step::Next(catcher.next, output))
            }
            crate::lang::model::QueryLanguage::Jsonata => {
                let mut states = states_object(raw, &ctx, state.context);
                states_set(&mut states, "errorOutput", error_output.clone());
                let output = self.jsonata_output(
                    state,
                    catcher.output.as_ref(),
                    error_output,
                    &states,
                    vars,
                )?;
                let assignments =
                    self.eval_assign_jsonata(state, catcher.assign.as_ref(), &states, vars)?;
                apply(vars, assignments);
                Ok(Step::Next(catcher.next, output))
            }
        }
    }

    /// One attempt at a Task, Parallel or Map state: input processing, action, output processing.
    async fn attempt(
        &self,
        state: &State,
        raw: &Value,
        vars: &mut Vars,
        retry_count: u64,
    ) -> Result<Value, Failure> {
        match &state.io {
            Io::JsonPath(io) => {
                let (action_input, token) = {
                    let mut ctx = self.ctx(state);
                    ctx.retry_count = Some(retry_count);
                    let token = task_token(state, self.rng);
                    ctx.task_token = token.as_deref();
                    let effective = self.input_path(state, io, raw, &ctx, vars)?;
                    let action_input = match (&state.kind, &io.parameters, effective) {
                        // A Map reads its items by reference: no copy of a large input.
                        (Kind::Map(_), _, e) => e.map_or(Cow::Borrowed(raw), Cow::Owned),
                        (_, None, e) => e.map_or(Cow::Borrowed(raw), Cow::Owned),
                        (_, Some(params), e) => Cow::Owned(self.payload(
                            state,
                            params,
                            e.as_ref().unwrap_or(raw),
                            &ctx,
                            vars,
                        )?),
                    };
                    (action_input, token)
                };
                let result = self
                    .action(state, action_input, None, vars, retry_count, token)
                    .await?;
                let mut ctx = self.ctx(state);
                ctx.retry_count = Some(retry_count);
                self.finish_jsonpath(state, io, Cow::Borrowed(raw), result, &ctx, vars, true)
            }
            Io::Jsonata(io) => {
                let token = task_token(state, self.rng);
                let (action_input, states) = {
                    let mut ctx = self.ctx(state);
                    ctx.retry_count = Some(retry_count);
                    ctx.task_token = token.as_deref();
                    let states = states_object(raw.clone(), &ctx, state.context);
                    let action_input = match &io.arguments {
                        Some(args) => self.jsonata(state, args, &states, vars)?,
                        None => raw.clone(),
                    };
                    (action_input, states)
                };
                let result = self
                    .action(
                        state,
                        Cow::Owned(action_input),
                        Some(&states),
                        vars,
                        retry_count,
                        token,
                    )
                    .await?;
                let mut states = states;
                states_set(&mut states, "result", result.clone());
                let output =
                    self.jsonata_output(state, io.output.as_ref(), result, &states, vars)?;
                let assignments =
                    self.eval_assign_jsonata(state, state.assign.as_ref(), &states, vars)?;
                apply(vars, assignments);
                Ok(output)
            }
        }
    }

    async fn action(
        &self,
        state: &State,
        input: Cow<'_, Value>,
        states: Option<&Value>,
        vars: &mut Vars,
        retry_count: u64,
        token: Option<String>,
    ) -> Result<Value, Failure> {
        match &state.kind {
            Kind::Task(spec) => {
                self.task(
                    state,
                    spec,
                    input.into_owned(),
                    states,
                    vars,
                    retry_count,
                    token,
                )
                .await
            }
            Kind::Parallel { branches, .. } => {
                let parent = Arc::new(vars.clone());
                let runs = branches.iter().map(|graph| {
                    let input = input.clone().into_owned();
                    let parent = parent.clone();
                    async move {
                        let mut scope = Vars::child_of(parent);
                        self.run_graph(graph, input, &mut scope).await
                    }
                });
                let outputs = futures::future::try_join_all(runs).await?;
                Ok(Value::Array(outputs))
            }
            Kind::Map(spec) => self.map(state, spec, &input, states, vars).await,
            _ => Err(runtime(&state.name, "not an action state")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn task(
        &self,
        state: &State,
        spec: &TaskSpec,
        input: Value,
        states: Option<&Value>,
        vars: &Vars,
        retry_count: u64,
        token: Option<String>,
    ) -> Result<Value, Failure> {
        let (timeout, heartbeat) = {
            let ctx = self.ctx(state);
            let mut env = PathEnv {
                input: &input,
                ctx: &ctx,
                vars,
                rng: self.rng,
            };
            let raw_input = states.map(states_input);
            let env_input = raw_input.unwrap_or(&input);
            env.input = env_input;
            let timeout = self.seconds_field(
                state,
                spec.timeout_seconds.as_ref(),
                "TimeoutSeconds",
                &mut env,
                states,
                vars,
            )?;
            let heartbeat = self.seconds_field(
                state,
                spec.heartbeat_seconds.as_ref(),
                "HeartbeatSeconds",
                &mut env,
                states,
                vars,
            )?;
            (timeout, heartbeat)
        };
        let request = TaskRequest {
            resource: spec.resource.clone(),
            input,
            state_name: state.name.clone(),
            attempt: retry_count,
            task_token: token,
            execution_arn: self.info.arn.clone(),
            heartbeat_seconds: heartbeat,
            credentials: spec.credentials.clone(),
        };
        let dispatched = self.tasks.dispatch(request);
        let outcome = match timeout {
            Some(secs) => match tokio::time::timeout(Duration::from_secs(secs), dispatched).await {
                Ok(r) => r,
                Err(_) => return Err(Failure::new(errors::TIMEOUT, "Task timed out.")),
            },
            None => dispatched.await,
        };
        let result = outcome.map_err(|f| Failure {
            error: Some(f.error),
            cause: f.cause,
        })?;
        let size = serde_json::to_vec(&result).map(|v| v.len()).unwrap_or(0);
        if size > self.limits.max_payload_bytes {
            return Err(Failure::new(
                errors::DATA_LIMIT_EXCEEDED,
                format!(
                    "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                    state.name
                ),
            ));
        }
        Ok(result)
    }

    // ---- Map ------------------------------------------------------------------------------

    async fn map(
        &self,
        state: &State,
        spec: &MapSpec,
        input: &Value,
        states: Option<&Value>,
        vars: &mut Vars,
    ) -> Result<Value, Failure> {
        let ctx = self.ctx(state);
        // Items are borrowed where possible and copied one at a time as iterations start.
        let selected: Cow<'_, Value> = match (&spec.items, states) {
            (Items::Path(selector), _) => {
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
            (Items::Jsonata(template), Some(states)) => {
                let value = match template {
                    Some(t) => self.jsonata(state, t, states, vars)?,
                    None => states_input(states).clone(),
                };
                match value {
                    Value::Array(_) => Cow::Owned(value),
                    other => {
                        return Err(query_error(
                            &state.name,
                            format!(
                                "The Items field must evaluate to a JSON array, but it evaluated to {other}"
                            ),
                        ));
                    }
                }
            }
            (Items::Jsonata(_), None) => {
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
        let mut env = PathEnv {
            input,
            ctx: &ctx,
            vars,
            rng: self.rng,
        };
        let max_concurrency = self.count_field(
            state,
            spec.max_concurrency.as_ref(),
            "MaxConcurrency",
            &mut env,
            states,
            vars,
        )?;
        let tolerated_count = self.count_field(
            state,
            spec.tolerated_failure_count.as_ref(),
            "ToleratedFailureCount",
            &mut env,
            states,
            vars,
        )?;
        let tolerated_percentage = self.number(
            state,
            spec.tolerated_failure_percentage.as_ref(),
            "ToleratedFailurePercentage",
            &mut env,
            states,
            vars,
        )?;
        let tolerant = tolerated_count.is_some() || tolerated_percentage.is_some();
        let limit = match max_concurrency {
            Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => self.limits.unlimited_map_concurrency,
        }
        .max(1);
        let total = items.len();
        // Selector inputs are computed lazily, item by item, as the stream pulls them: memory
        // grows with the concurrency, not the item count.
        let parent = Arc::new(vars.clone());
        let selector_input = states.map(states_input).unwrap_or(input);
        let iterations =
            // `cloned()` is lazy: an item is copied when its iteration starts.
            futures::stream::iter(items.iter().cloned().enumerate()).map(|(index, item)| {
                let prepared =
                    self.item_input(state, spec, selector_input, states, index, item, &parent);
                let parent = parent.clone();
                async move {
                    let item_input = prepared?;
                    let mut scope = Vars::child_of(parent);
                    self.run_graph(&spec.processor, item_input, &mut scope)
                        .await
                }
            });
        let mut results = Vec::with_capacity(total);
        let mut failures = 0usize;
        let mut stream = iterations.buffered(limit);
        while let Some(outcome) = stream.next().await {
            match outcome {
                Ok(v) => results.push(v),
                Err(f) if !tolerant => return Err(f),
                Err(f) => {
                    failures += 1;
                    results.push(f.error_output());
                    // Exceeding either threshold fails the state.
                    let over_count = tolerated_count.is_some_and(|c| failures as u64 > c);
                    let over_pct = tolerated_percentage
                        .is_some_and(|p| (failures as f64) * 100.0 / (total as f64) > p);
                    if over_count || over_pct {
                        return Err(Failure::new(
                            errors::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                            "The specified tolerated failure threshold was exceeded",
                        ));
                    }
                }
            }
        }
        Ok(Value::Array(results))
    }

    #[allow(clippy::too_many_arguments)]
    fn item_input(
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
            ItemSelector::JsonPath(template) => {
                self.payload(state, template, map_input, &ctx, parent)
            }
            ItemSelector::Jsonata(template) => {
                let mut item_states = match states {
                    Some(s) => s.clone(),
                    None => json!({}),
                };
                if let Some(context) = ctx.for_use(state.context) {
                    states_set(&mut item_states, "context", context.clone());
                }
                self.jsonata(state, template, &item_states, parent)
            }
        }
    }

    // ---- input and output processing (JSONPath) ---------------------------------------------

    /// Apply `InputPath`: the effective input when it differs from the raw input.
    fn input_path(
        &self,
        state: &State,
        io: &PathIo,
        raw: &Value,
        ctx: &StateCtx<'_>,
        vars: &Vars,
    ) -> Result<Option<Value>, Failure> {
        Ok(match &io.input_path {
            Selector::Whole => None,
            Selector::Discard => Some(json!({})),
            Selector::Path(p) => Some(self.resolve(state, p, raw, ctx, vars)?),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_jsonpath(
        &self,
        state: &State,
        io: &PathIo,
        raw: Cow<'_, Value>,
        result: Value,
        ctx: &StateCtx<'_>,
        vars: &mut Vars,
        selects: bool,
    ) -> Result<Value, Failure> {
        let result = match (&io.result_selector, selects) {
            (Some(selector), true) => self.payload(state, selector, &result, ctx, vars)?,
            _ => result,
        };
        let assignments =
            self.eval_assign_jsonpath(state, state.assign.as_ref(), &result, ctx, vars)?;
        let output = self.result_path(state, &io.result_path, raw, result)?;
        let output = self.output_path(state, io, output, ctx, vars)?;
        apply(vars, assignments);
        Ok(output)
    }

    /// Combine the raw input and the result; the raw input is copied only when it is kept.
    fn result_path(
        &self,
        state: &State,
        rp: &ResultPath,
        raw: Cow<'_, Value>,
        result: Value,
    ) -> Result<Value, Failure> {
        match rp {
            ResultPath::Whole => Ok(result),
            ResultPath::Discard => Ok(raw.into_owned()),
            ResultPath::Path(p) => {
                let mut raw = raw.into_owned();
                p.assign(&mut raw, result).map_err(|e| {
                    runtime(
                        &state.name,
                        format!("Unable to apply ResultPath '{}': {e}", p.text()),
                    )
                })?;
                Ok(raw)
            }
        }
    }

    fn output_path(
        &self,
        state: &State,
        io: &PathIo,
        value: Value,
        ctx: &StateCtx<'_>,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        match &io.output_path {
            Selector::Whole => Ok(value),
            Selector::Discard => Ok(json!({})),
            Selector::Path(p) => self.resolve(state, p, &value, ctx, vars),
        }
    }

    fn resolve(
        &self,
        state: &State,
        path: &Path,
        input: &Value,
        ctx: &StateCtx<'_>,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        let env = PathEnv {
            input,
            ctx,
            vars,
            rng: self.rng,
        };
        let root = env
            .root_value(path)
            .map_err(|e| invalid_path(state, path, &e))?;
        if path.is_definite()
            && let Some(v) = path.get(root)
        {
            return Ok(v.clone());
        }
        path.select(root).map_err(|e| invalid_path(state, path, &e))
    }

    fn payload(
        &self,
        state: &State,
        template: &PayloadTemplate,
        input: &Value,
        ctx: &StateCtx<'_>,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        let mut env = PathEnv {
            input,
            ctx,
            vars,
            rng: self.rng,
        };
        template.evaluate(&mut env).map_err(|e| match e {
            EvalError::PathNotFound { path, field } => runtime(
                &state.name,
                format!(
                    "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
                    compact(input)
                ),
            ),
            other => runtime(&state.name, other),
        })
    }

    fn eval_assign_jsonpath(
        &self,
        state: &State,
        assign: Option<&Assign>,
        input: &Value,
        ctx: &StateCtx<'_>,
        vars: &Vars,
    ) -> Result<Vec<(String, Value)>, Failure> {
        let Some(assign) = assign else {
            return Ok(Vec::new());
        };
        let Assign::JsonPath(fields) = assign else {
            return Err(runtime(&state.name, "JSONata Assign in a JSONPath state"));
        };
        fields
            .iter()
            .map(|(name, t)| Ok((name.clone(), self.payload(state, t, input, ctx, vars)?)))
            .collect()
    }

    fn fail_state(
        &self,
        state: &State,
        error: &Option<Field>,
        cause: &Option<Field>,
        input: &Value,
        ctx: &StateCtx<'_>,
        vars: &Vars,
    ) -> Result<Failure, Failure> {
        let text = |f: &Option<Field>, name: &str| -> Result<Option<String>, Failure> {
            Ok(match f {
                None => None,
                Some(Field::Literal(v)) => Some(value_text(v)),
                Some(Field::Path(p)) => {
                    Some(value_text(&self.resolve(state, p, input, ctx, vars)?))
                }
                Some(Field::Dynamic(t)) => {
                    let v = self.payload(state, t, input, ctx, vars)?;
                    match v {
                        Value::String(s) => Some(s),
                        other => {
                            return Err(runtime(
                                &state.name,
                                format!(
                                    "The {name}Path field must resolve to a string, but resolved to {other}"
                                ),
                            ));
                        }
                    }
                }
                Some(Field::Jsonata(_)) => {
                    return Err(runtime(&state.name, "JSONata field in a JSONPath state"));
                }
            })
        };
        Ok(Failure {
            error: text(error, "Error")?,
            cause: text(cause, "Cause")?,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn fail_state_jsonata(
        &self,
        state: &State,
        error: &Option<Field>,
        cause: &Option<Field>,
        states: &Value,
        input: &Value,
        ctx: &StateCtx<'_>,
        vars: &Vars,
    ) -> Result<Failure, Failure> {
        let text = |f: &Option<Field>, name: &str| -> Result<Option<String>, Failure> {
            Ok(match f {
                None => None,
                Some(Field::Literal(v)) => Some(value_text(v)),
                Some(Field::Jsonata(t)) => match self.jsonata(state, t, states, vars)? {
                    Value::String(s) => Some(s),
                    other => {
                        return Err(query_error(
                            &state.name,
                            format!(
                                "The {name} field must evaluate to a string, but evaluated to {other}"
                            ),
                        ));
                    }
                },
                Some(Field::Path(p)) => {
                    Some(value_text(&self.resolve(state, p, input, ctx, vars)?))
                }
                Some(Field::Dynamic(t)) => {
                    Some(value_text(&self.payload(state, t, input, ctx, vars)?))
                }
            })
        };
        Ok(Failure {
            error: text(error, "Error")?,
            cause: text(cause, "Cause")?,
        })
    }

    // ---- numeric fields ---------------------------------------------------------------------

    /// A number from a literal, a `…Path` or a JSONata expression.
    fn number(
        &self,
        state: &State,
        field: Option<&Field>,
        name: &str,
        env: &mut PathEnv<'_, '_>,
        states: Option<&Value>,
        vars: &Vars,
    ) -> Result<Option<f64>, Failure> {
        let Some(field) = field else { return Ok(None) };
        let (value, jsonata) = match field {
            Field::Literal(v) => (v.clone(), false),
            Field::Path(p) => (self.resolve(state, p, env.input, env.ctx, vars)?, false),
            Field::Dynamic(t) => (self.payload(state, t, env.input, env.ctx, vars)?, false),
            Field::Jsonata(t) => {
                let states = states
                    .ok_or_else(|| runtime(&state.name, "JSONata field in a JSONPath state"))?;
                (self.jsonata(state, t, states, vars)?, true)
            }
        };
        match value.as_f64() {
            Some(n) if n >= 0.0 => Ok(Some(n)),
            _ => {
                let msg =
                    format!("The {name} field must be a non-negative number, but it is {value}");
                Err(if jsonata {
                    query_error(&state.name, msg)
                } else {
                    runtime(&state.name, msg)
                })
            }
        }
    }

    /// A non-negative integer field (`MaxConcurrency`, `ToleratedFailureCount`, ...).
    fn count_field(
        &self,
        state: &State,
        field: Option<&Field>,
        name: &str,
        env: &mut PathEnv<'_, '_>,
        states: Option<&Value>,
        vars: &Vars,
    ) -> Result<Option<u64>, Failure> {
        let Some(n) = self.number(state, field, name, env, states, vars)? else {
            return Ok(None);
        };
        if n.fract() != 0.0 || n > u64::MAX as f64 {
            let msg = format!("The {name} field must be a non-negative integer, but it is {n}");
            return Err(if matches!(field, Some(Field::Jsonata(_))) {
                query_error(&state.name, msg)
            } else {
                runtime(&state.name, msg)
            });
        }
        Ok(Some(n as u64))
    }

    fn seconds_field(
        &self,
        state: &State,
        field: Option<&Field>,
        name: &str,
        env: &mut PathEnv<'_, '_>,
        states: Option<&Value>,
        vars: &Vars,
    ) -> Result<Option<u64>, Failure> {
        match self.count_field(state, field, name, env, states, vars)? {
            Some(0) if !matches!(field, Some(Field::Literal(_))) => Err(runtime(
                &state.name,
                format!("The {name} field must be a positive integer"),
            )),
            other => Ok(other),
        }
    }

    fn wait_duration(
        &self,
        state: &State,
        wait: &WaitFor,
        env: &mut PathEnv<'_, '_>,
        states: Option<&Value>,
    ) -> Result<Duration, Failure> {
        let vars = env.vars;
        match wait {
            WaitFor::Seconds(field) => {
                let secs = self
                    .count_field(state, Some(field), "Seconds", env, states, vars)?
                    .unwrap_or(0);
                Ok(Duration::from_secs(secs.min(31_536_000 * 100)))
            }
            WaitFor::Timestamp(field) => {
                let (value, jsonata) = match field {
                    Field::Literal(v) => (v.clone(), false),
                    Field::Path(p) => (self.resolve(state, p, env.input, env.ctx, vars)?, false),
                    Field::Dynamic(t) => (self.payload(state, t, env.input, env.ctx, vars)?, false),
                    Field::Jsonata(t) => {
                        let states = states.ok_or_else(|| {
                            runtime(&state.name, "JSONata field in a JSONPath state")
                        })?;
                        (self.jsonata(state, t, states, vars)?, true)
                    }
                };
                let Some(at) = value.as_str().and_then(parse_timestamp) else {
                    let msg = format!(
                        "The Timestamp field must be an ISO-8601 timestamp string, but it is {value}"
                    );
                    return Err(if jsonata {
                        query_error(&state.name, msg)
                    } else {
                        runtime(&state.name, msg)
                    });
                };
                let now = chrono::Utc::now();
                Ok((at.with_timezone(&chrono::Utc) - now)
                    .to_std()
                    .unwrap_or(Duration::ZERO))
            }
        }
    }

    // ---- JSONata ------------------------------------------------------------------------------

    fn jsonata(
        &self,
        state: &State,
        template: &Template,
        states: &Value,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        let lookup = |name: &str| vars.get(name).cloned();
        let mut random = || self.rng.next_u64();
        let mut ctx = EvalContext {
            states,
            variables: &lookup,
            random_u64: &mut random,
        };
        template
            .evaluate(&mut ctx)
            .map_err(|e| query_error(&state.name, e))
    }

    fn jsonata_output(
        &self,
        state: &State,
        output: Option<&Template>,
        default: Value,
        states: &Value,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        match output {
            Some(t) => self.jsonata(state, t, states, vars),
            None => Ok(default),
        }
    }

    fn eval_assign_jsonata(
        &self,
        state: &State,
        assign: Option<&Assign>,
        states: &Value,
        vars: &Vars,
    ) -> Result<Vec<(String, Value)>, Failure> {
        let Some(assign) = assign else {
            return Ok(Vec::new());
        };
        match assign {
            Assign::Jsonata(fields) => fields
                .iter()
                .map(|(name, t)| Ok((name.clone(), self.jsonata(state, t, states, vars)?)))
                .collect(),
            Assign::JsonPath(_) => Err(runtime(&state.name, "JSONPath Assign in a JSONata state")),
        }
    }
}

/// Apply assignments after every expression of the state was evaluated (they see old values).
fn apply(vars: &mut Vars, assignments: Vec<(String, Value)>) {
    for (name, value) in assignments {
        vars.set(name, value);
    }
}

fn task_token(state: &State, rng: &Rng) -> Option<String> {
    match &state.kind {
        Kind::Task(spec) if spec.resource.ends_with(".waitForTaskToken") => {
            Some(format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64()))
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
