//! Input and output processing: InputPath, Parameters, ResultSelector, ResultPath, OutputPath,
//! Assign, and the JSONata evaluation helpers.

// The parent module holds the imports the interpreter's parts share.
use super::*;

impl Runner<'_> {
    /// Apply `InputPath`: the effective input when it differs from the raw input.
    pub(super) fn input_path(
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
    pub(super) fn finish_jsonpath(
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
    pub(super) fn result_path(
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

    pub(super) fn output_path(
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

    pub(super) fn resolve(
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

    pub(super) fn payload(
        &self,
        state: &State,
        template: &PayloadTemplate,
        input: &Value,
        ctx: &StateCtx<'_>,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        self.payload_of_field(state, None, template, input, ctx, vars)
    }

    /// [`Runner::payload`] for a state field given as a path (`CausePath`): a path that finds
    /// nothing names that field, as AWS does, not the template's inner key.
    pub(super) fn payload_of_field(
        &self,
        state: &State,
        field_name: Option<&str>,
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
                    "The JSONPath '{path}' specified for the field '{}' could not be found in the input '{}'",
                    field_name.unwrap_or(&field),
                    compact(input)
                ),
            ),
            other => runtime(&state.name, other),
        })
    }

    pub(super) fn eval_assign_jsonpath(
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

    /// Evaluate a JSONata template of the state's field `field` (`Output`, `Assign/name`, …),
    /// which an error names as AWS does.
    pub(super) fn jsonata(
        &self,
        state: &State,
        field: &str,
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
            .map_err(|e| query_error(&state.name, e.cause(field)))
    }

    pub(super) fn jsonata_output(
        &self,
        state: &State,
        output: Option<&Template>,
        default: Value,
        states: &Value,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        match output {
            Some(t) => self.jsonata(state, "Output", t, states, vars),
            None => Ok(default),
        }
    }

    pub(super) fn eval_assign_jsonata(
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
                .map(|(name, t)| {
                    let field = format!("Assign/{name}");
                    Ok((name.clone(), self.jsonata(state, &field, t, states, vars)?))
                })
                .collect(),
            Assign::JsonPath(_) => Err(runtime(&state.name, "JSONPath Assign in a JSONata state")),
        }
    }
}
