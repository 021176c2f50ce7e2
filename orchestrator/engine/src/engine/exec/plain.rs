//! States without Retry/Catch: Pass, Choice, Wait, Succeed and Fail, in both query languages.

// The parent module holds the imports the interpreter's parts share.
use super::*;

impl Runner<'_> {
    pub(super) async fn run_plain(
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
                    Kind::Fail(spec) => {
                        let (error, cause) = (&spec.error, &spec.cause);
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
                        let scope = FieldScope {
                            env: PathEnv {
                                input: &effective,
                                ctx: &ctx,
                                vars,
                                rng: self.rng,
                            },
                            states: None,
                        };
                        let deadline = self.wait_duration(state, wait, &scope)?;
                        let assignments = self.eval_assign_jsonpath(
                            state,
                            state.assign.as_ref(),
                            &effective,
                            &ctx,
                            vars,
                        )?;
                        let output = self.output_path(state, io, effective, &ctx, vars)?;
                        drop(ctx);
                        self.sleep(deadline).await;
                        apply(vars, assignments);
                        Ok(Self::step(state, output))
                    }
                    _ => Err(runtime(&state.name, "state type not handled here")),
                }
            }
            (Io::Jsonata(io), kind) => self.run_plain_jsonata(state, io, kind, input, vars).await,
        }
    }

    pub(super) async fn run_plain_jsonata(
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
            Kind::Fail(spec) => {
                let (error, cause) = (&spec.error, &spec.cause);
                let input = states_input(&states).clone();
                Err(self.fail_state_jsonata(state, error, cause, &states, &input, &ctx, vars)?)
            }
            Kind::Choice(spec) => {
                let mut chosen = None;
                for branch in &spec.choices {
                    let Condition::Jsonata(cond) = &branch.condition else {
                        return Err(runtime(&state.name, "JSONPath rule in a JSONata state"));
                    };
                    match self.jsonata(state, "Condition", cond, &states, vars)? {
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
                let scope = FieldScope {
                    env: PathEnv {
                        input: states_input(&states),
                        ctx: &ctx,
                        vars,
                        rng: self.rng,
                    },
                    states: Some(&states),
                };
                let duration = self.wait_duration(state, wait, &scope)?;
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
                self.sleep(duration).await;
                apply(vars, assignments);
                Ok(Self::step(state, output))
            }
            _ => Err(runtime(&state.name, "state type not handled here")),
        }
    }

    pub(super) fn fail_state(
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
                    let field = format!("{name}Path");
                    let v = self.payload_of_field(state, Some(&field), t, input, ctx, vars)?;
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
    pub(super) fn fail_state_jsonata(
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
                Some(Field::Jsonata(t)) => match self.jsonata(state, name, t, states, vars)? {
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
                    let field = format!("{name}Path");
                    let value = self.payload_of_field(state, Some(&field), t, input, ctx, vars)?;
                    Some(value_text(&value))
                }
            })
        };
        Ok(Failure {
            error: text(error, "Error")?,
            cause: text(cause, "Cause")?,
        })
    }
}
