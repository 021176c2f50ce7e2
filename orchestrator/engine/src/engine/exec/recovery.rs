//! Task, Parallel and Map attempts with Retry and Catch, and the Task dispatch itself.

// The parent module holds the imports the interpreter's parts share.
use super::*;

impl Runner<'_> {
    pub(super) async fn run_with_handlers(
        &self,
        state: &State,
        handlers: &Handlers,
        input: Value,
        vars: &mut Vars,
        entered: Option<u64>,
    ) -> Result<Step, Failure> {
        let mut attempts = vec![0u64; handlers.retry.len()];
        let mut retry_count = 0u64;
        loop {
            let failure = match self.attempt(state, &input, vars, retry_count).await {
                Ok(output) => return Ok(Self::step(state, output)),
                // Located before Retry and Catch see it: a caught cause names the event too.
                Err(f) => located(f, state, entered),
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
                    self.sleep(delay).await;
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

    pub(super) fn backoff(&self, retrier: &Retrier, attempt: u64) -> Duration {
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

    pub(super) fn catch(
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
    pub(super) async fn attempt(
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
                        Some(args) => self.jsonata(state, "Arguments", args, &states, vars)?,
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

    pub(super) async fn action(
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
                let seeds = &self.rng.children();
                let runs = branches.iter().enumerate().map(|(i, graph)| {
                    let input = input.clone().into_owned();
                    let parent = parent.clone();
                    async move {
                        let rng = seeds.rng(i);
                        let mut scope = Vars::child_of(parent);
                        self.with_rng(&rng)
                            .run_graph(graph, input, &mut scope)
                            .await
                    }
                });
                self.emit(|| Event::bare("ParallelStateStarted"));
                let outputs = futures::future::try_join_all(runs).await;
                self.emit(|| {
                    Event::bare(if outputs.is_ok() {
                        "ParallelStateSucceeded"
                    } else {
                        "ParallelStateFailed"
                    })
                });
                let result = Value::Array(outputs?);
                self.within_data_limit(&state.name, &result)?;
                Ok(result)
            }
            Kind::Map(spec) => {
                let result = self.map(state, spec, &input, states, vars).await?;
                self.within_data_limit(&state.name, &result)?;
                Ok(result)
            }
            _ => Err(runtime(&state.name, "not an action state")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn task(
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
            let scope = FieldScope {
                env: PathEnv {
                    input: states.map(states_input).unwrap_or(&input),
                    ctx: &ctx,
                    vars,
                    rng: self.rng,
                },
                states,
            };
            let timeout = self.seconds(
                state,
                spec.timeout_seconds.as_ref(),
                "TimeoutSeconds",
                &scope,
            )?;
            let heartbeat = self.seconds(
                state,
                spec.heartbeat_seconds.as_ref(),
                "HeartbeatSeconds",
                &scope,
            )?;
            (timeout, heartbeat)
        };
        let resource = &spec.resource;
        let family = events::TaskEvents::of(resource);
        let (progress, mut progressed) = tokio::sync::mpsc::unbounded_channel();
        let request = TaskRequest {
            resource: resource.clone(),
            input,
            state_name: state.name.clone(),
            attempt: retry_count,
            task_token: token,
            execution_arn: self.info.arn.clone(),
            heartbeat_seconds: heartbeat,
            timeout_seconds: timeout,
            credentials: spec.credentials.clone(),
            progress: Some(progress),
            // Drawn from the branch's source: a replayed step draws the same key.
            resume_key: matches!(resource.pattern(), Pattern::Sync | Pattern::Sync2)
                .then(|| format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64())),
        };
        self.emit(|| {
            family.scheduled(
                &spec.resource.text,
                &request.input,
                self.info.region(),
                timeout,
                heartbeat,
            )
        });
        if let Some(started) = family.started() {
            self.emit(|| started);
        }
        let engine_timeout = if self.tasks.enforces_timeouts(resource) {
            None
        } else {
            timeout
        };
        // A task's log lines carry its execution, state, attempt and a fingerprint of its
        // token (the token itself answers the task, so it never reaches a log).
        let span = tracing::info_span!(
            "task",
            execution = %self.info.arn,
            state = %state.name,
            attempt = retry_count,
            resource = %resource.text,
            task = request.task_token.as_deref().map(fingerprint).unwrap_or_default(),
        );
        let dispatched = async {
            let dispatched = self.tasks.dispatch(request);
            tokio::pin!(dispatched);
            // Only events of the resource's family: a worker's start for an activity, a
            // submission for a service integration.
            let record = |p: TaskProgress| {
                let event = match (p, &family) {
                    (TaskProgress::Started { worker }, events::TaskEvents::Activity) => {
                        Some(events::TaskEvents::activity_started(&worker))
                    }
                    (TaskProgress::Submitted { output }, family) => family.submitted(&output),
                    _ => None,
                };
                if let Some(event) = event {
                    self.emit(|| event);
                }
            };
            // Progress first: a replayed task reports its earlier progress and its outcome
            // at once, and the history must keep their order.
            loop {
                tokio::select! {
                    biased;
                    Some(p) = progressed.recv() => record(p),
                    outcome = &mut dispatched => {
                        while let Ok(p) = progressed.try_recv() {
                            record(p);
                        }
                        return outcome;
                    }
                }
            }
        };
        let dispatched = tracing::Instrument::instrument(
            async {
                tracing::debug!("task dispatched");
                let outcome = match engine_timeout {
                    Some(secs) => {
                        match tokio::time::timeout(Duration::from_secs(secs), dispatched).await {
                            Ok(r) => r,
                            Err(_) => Err(TaskFailure::new(errors::TIMEOUT, "Task timed out.")),
                        }
                    }
                    None => dispatched.await,
                };
                match &outcome {
                    Ok(_) => tracing::debug!("task succeeded"),
                    Err(f) => tracing::debug!(error = %f.error, "task failed"),
                }
                outcome
            },
            span,
        );
        let outcome = dispatched.await;
        self.emit(|| family.outcome(&outcome));
        let result = outcome.map_err(|f| Failure {
            error: Some(f.error),
            cause: f.cause,
        })?;
        // AWS names the task by its service (`lambda`), or the state for others.
        let (resource_type, _) = events::resource_parts(resource);
        let name = if resource_type.is_empty() {
            state.name.as_str()
        } else {
            resource_type.as_str()
        };
        self.within_data_limit(name, &result)?;
        Ok(result)
    }

    /// `States.DataLimitExceeded` when a state's result is larger than the payload limit:
    /// big data travels by reference (an object-store URI), not through the execution.
    pub(super) fn within_data_limit(&self, name: &str, result: &Value) -> Result<(), Failure> {
        let size = json_size(result);
        if size > self.limits.max_payload_bytes {
            return Err(Failure::new(
                errors::DATA_LIMIT_EXCEEDED,
                format!(
                    "The state/task '{name}' returned a result with a size exceeding the maximum number of bytes service limit."
                ),
            ));
        }
        Ok(())
    }
}

/// A short, one-way fingerprint of a task token for logs: enough to follow one task, useless
/// for answering it.
fn fingerprint(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Bytes of a value's compact JSON, counted without building the text.
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Value to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}
