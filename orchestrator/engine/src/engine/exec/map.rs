//! The Map state: items (from the input or an ItemReader), ItemSelector, batching,
//! concurrency, tolerated failures and the ResultWriter.

// The parent module holds the imports the interpreter's parts share.
use super::*;
use crate::engine::context::now_iso8601;
use crate::lang::distributed::IterationRecord;

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
            (Some(reader), _, _) => Cow::Owned(Value::Array(
                self.read_items(state, reader, input, states, vars).await?,
            )),
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
        let max_concurrency = self.count(
            state,
            spec.max_concurrency.as_ref(),
            "MaxConcurrency",
            &scope,
        )?;
        let tolerated_count = self.count(
            state,
            spec.tolerated_failure_count.as_ref(),
            "ToleratedFailureCount",
            &scope,
        )?;
        let tolerated_percentage = self.number(
            state,
            spec.tolerated_failure_percentage.as_ref(),
            "ToleratedFailurePercentage",
            &scope,
        )?;
        let tolerant = tolerated_count.is_some() || tolerated_percentage.is_some();
        let limit = match max_concurrency {
            Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => self.limits.unlimited_map_concurrency,
        }
        .max(1);
        // Batching selects every item up front (batch sizes depend on the selected items).
        let batched = match &spec.batcher {
            Some(batcher) => {
                Some(self.batch_items(state, spec, batcher, items, input, states, vars)?)
            }
            None => None,
        };
        let (children, select): (&[Value], bool) = match &batched {
            Some(b) => (b, false),
            None => (items, true),
        };
        let recording = spec.writer.is_some();
        let run_id = if recording {
            self.run_id()
        } else {
            String::new()
        };
        let total = children.len();
        self.emit(|| {
            Event::new(
                "MapStateStarted",
                "mapStateStartedEventDetails",
                json!({"length": total}),
            )
        });
        // Selector inputs are computed lazily, item by item, as the stream pulls them: memory
        // grows with the concurrency, not the item count.
        let parent = Arc::new(vars.clone());
        let seeds = &self.rng.children();
        let selector_input = states.map(states_input).unwrap_or(input);
        let iterations =
            // `cloned()` is lazy: an item is copied when its iteration starts.
            futures::stream::iter(children.iter().cloned().enumerate()).map(|(index, item)| {
                let prepared = if select {
                    self.item_input(state, spec, selector_input, states, index, item, &parent)
                } else {
                    Ok(item)
                };
                let parent = parent.clone();
                async move {
                    let iteration = |kind: &str| {
                        Event::new(kind, "mapIterationStartedEventDetails", json!({"name": state.name, "index": index}))
                    };
                    self.emit(|| iteration("MapIterationStarted"));
                    let item_input = match prepared {
                        Ok(v) => v,
                        Err(f) => return (Err(f), None),
                    };
                    // A result writer records each child's input and times.
                    let started = recording.then(|| (item_input.clone(), now_iso8601()));
                    let mut scope = Vars::child_of(parent);
                    let rng = seeds.rng(index);
                    let outcome = self
                        .with_rng(&rng)
                        .run_graph(&spec.processor, item_input, &mut scope)
                        .await;
                    self.emit(|| {
                        let mut e = iteration(if outcome.is_ok() { "MapIterationSucceeded" } else { "MapIterationFailed" });
                        e.details = e.details.map(|(_, d)| {
                            (if outcome.is_ok() { "mapIterationSucceededEventDetails" } else { "mapIterationFailedEventDetails" }, d)
                        });
                        e
                    });
                    let timing = started.map(|(input, start)| (input, start, now_iso8601()));
                    (outcome, timing)
                }
            });
        let mut results = Vec::with_capacity(total);
        let mut records = Vec::new();
        let mut failures = 0usize;
        let mut stream = iterations.buffered(limit);
        while let Some((outcome, timing)) = stream.next().await {
            if let Some((child_input, start, stop)) = timing {
                records.push(self.iteration_record(
                    state,
                    spec,
                    &run_id,
                    records.len(),
                    child_input,
                    &outcome,
                    start,
                    stop,
                ));
            }
            match outcome {
                Ok(v) => results.push(v),
                Err(f) if !tolerant => {
                    self.emit(|| Event::bare("MapStateFailed"));
                    return Err(f);
                }
                Err(f) => {
                    failures += 1;
                    results.push(f.error_output());
                    // Exceeding either threshold fails the state.
                    let over_count = tolerated_count.is_some_and(|c| failures as u64 > c);
                    let over_pct = tolerated_percentage
                        .is_some_and(|p| (failures as f64) * 100.0 / (total as f64) > p);
                    if over_count || over_pct {
                        self.emit(|| Event::bare("MapStateFailed"));
                        return Err(Failure::new(
                            errors::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                            "The specified tolerated failure threshold was exceeded",
                        ));
                    }
                }
            }
        }
        self.emit(|| Event::bare("MapStateSucceeded"));
        match &spec.writer {
            Some(writer) => {
                self.write_results(state, spec, writer, &records, &run_id, input, states, vars)
                    .await
            }
            None => Ok(Value::Array(results)),
        }
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
                self.jsonata(state, template, &item_states, parent)
            }
        }
    }
}
