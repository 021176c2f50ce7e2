//! Numeric and timestamp fields that may be literals, `…Path` references, intrinsic calls or
//! JSONata expressions (`TimeoutSeconds`, `MaxConcurrency`, Wait's `Seconds`, ...).

// The parent module holds the imports the interpreter's parts share.
use super::*;

/// What a state's dynamic fields are evaluated against: paths resolve in `env`, JSONata
/// expressions see `states`.
pub(super) struct FieldScope<'e, 'a, 'c> {
    pub env: PathEnv<'a, 'c>,
    pub states: Option<&'e Value>,
}

/// Longest wait or delay honoured, so absurd values cannot overflow a `Duration`.
const MAX_WAIT_SECONDS: u64 = 100 * 365 * 24 * 3600;

impl Runner<'_> {
    /// The value of a field and whether it came from JSONata (which decides the error name).
    fn field_value(
        &self,
        state: &State,
        field: &Field,
        name: &str,
        scope: &FieldScope<'_, '_, '_>,
    ) -> Result<(Value, bool), Failure> {
        let env = &scope.env;
        Ok(match field {
            Field::Literal(v) => (v.clone(), false),
            Field::Path(p) => (self.resolve(state, p, env.input, env.ctx, env.vars)?, false),
            Field::Dynamic(t) => (self.payload(state, t, env.input, env.ctx, env.vars)?, false),
            Field::Jsonata(t) => {
                let states = scope
                    .states
                    .ok_or_else(|| runtime(&state.name, "JSONata field in a JSONPath state"))?;
                (self.jsonata(state, name, t, states, env.vars)?, true)
            }
        })
    }

    /// A non-negative number.
    pub(super) fn number(
        &self,
        state: &State,
        field: Option<&Field>,
        name: &str,
        scope: &FieldScope<'_, '_, '_>,
    ) -> Result<Option<f64>, Failure> {
        let Some(field) = field else { return Ok(None) };
        let (value, jsonata) = self.field_value(state, field, name, scope)?;
        match value.as_f64() {
            Some(n) if n >= 0.0 => Ok(Some(n)),
            _ => Err(field_error(
                state,
                jsonata,
                format!("The {name} field must be a non-negative number, but it is {value}"),
            )),
        }
    }

    /// A non-negative integer (`MaxConcurrency`, `ToleratedFailureCount`, Wait's `Seconds`).
    pub(super) fn count(
        &self,
        state: &State,
        field: Option<&Field>,
        name: &str,
        scope: &FieldScope<'_, '_, '_>,
    ) -> Result<Option<u64>, Failure> {
        let Some(n) = self.number(state, field, name, scope)? else {
            return Ok(None);
        };
        if n.fract() != 0.0 || n > u64::MAX as f64 {
            let jsonata = matches!(field, Some(Field::Jsonata(_)));
            return Err(field_error(
                state,
                jsonata,
                format!("The {name} field must be a non-negative integer, but it is {n}"),
            ));
        }
        Ok(Some(n as u64))
    }

    /// A Map's `MaxConcurrency`, `ToleratedFailureCount` (`integer`) or
    /// `ToleratedFailurePercentage` (a float from 0 to 100). Read through a `…Path`, a string
    /// holding a number counts as that number, as AWS recorded (`"1"` is one); anything else
    /// is refused the way AWS words it.
    pub(super) fn map_limit(
        &self,
        state: &State,
        field: Option<&Field>,
        name: &str,
        integer: bool,
        scope: &FieldScope<'_, '_, '_>,
    ) -> Result<Option<f64>, Failure> {
        let n = match field {
            Some(Field::Path(path)) => {
                let value =
                    self.resolve(state, path, scope.env.input, scope.env.ctx, scope.env.vars)?;
                let parsed = match &value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) if integer => s.parse::<i64>().ok().map(|n| n as f64),
                    Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
                    _ => None,
                };
                let Some(n) = parsed else {
                    let shown = match &value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let kind = if integer { "integer" } else { "float" };
                    return Err(runtime(
                        &state.name,
                        format!(
                            "The {name}Path field refers to value \"{shown}\" which is not a valid {kind}: {path}"
                        ),
                    ));
                };
                n
            }
            Some(other) => {
                let (value, jsonata) = self.field_value(state, other, name, scope)?;
                value.as_f64().ok_or_else(|| {
                    field_error(
                        state,
                        jsonata,
                        format!("The {name} field must be a number, but it is {value}"),
                    )
                })?
            }
            None => return Ok(None),
        };
        if !integer {
            if !(0.0..=100.0).contains(&n) {
                return Err(runtime(
                    &state.name,
                    "ToleratedFailurePercentage must be between 0 and 100.",
                ));
            }
        } else if n < 0.0 || n.fract() != 0.0 {
            let jsonata = matches!(field, Some(Field::Jsonata(_)));
            return Err(field_error(
                state,
                jsonata,
                format!("The {name} field must be a non-negative integer, but it is {n}"),
            ));
        }
        Ok(Some(n))
    }

    /// Several non-negative integer fields of one state, evaluated against its input
    /// (`MaxItems`, `MaxItemsPerBatch`, …); `None` where a field is absent.
    pub(super) fn counts<const N: usize>(
        &self,
        state: &State,
        fields: [(Option<&Field>, &str); N],
        input: &Value,
        states: Option<&Value>,
        vars: &Vars,
    ) -> Result<[Option<u64>; N], Failure> {
        let ctx = self.ctx(state);
        let scope = FieldScope {
            env: PathEnv {
                input,
                ctx: &ctx,
                vars,
                rng: self.rng,
            },
            states,
        };
        let mut out = [None; N];
        for (slot, (field, name)) in out.iter_mut().zip(fields) {
            *slot = self.count(state, field, name, &scope)?;
        }
        Ok(out)
    }

    /// A positive number of seconds given through a path or expression (`TimeoutSecondsPath`).
    pub(super) fn seconds(
        &self,
        state: &State,
        field: Option<&Field>,
        name: &str,
        scope: &FieldScope<'_, '_, '_>,
    ) -> Result<Option<u64>, Failure> {
        match self.count(state, field, name, scope)? {
            Some(0) if !matches!(field, Some(Field::Literal(_))) => Err(runtime(
                &state.name,
                format!("The {name} field must be a positive integer"),
            )),
            other => Ok(other),
        }
    }

    /// How long a Wait state waits from now.
    pub(super) fn wait_duration(
        &self,
        state: &State,
        wait: &WaitFor,
        scope: &FieldScope<'_, '_, '_>,
    ) -> Result<Duration, Failure> {
        // A value as AWS shows it after `==`: strings bare, the rest as JSON.
        let shown = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match wait {
            WaitFor::Seconds(Field::Path(path)) => {
                let env = &scope.env;
                let value = self
                    .resolve(state, path, env.input, env.ctx, env.vars)
                    .map_err(|_| {
                        runtime(
                            &state.name,
                            format!("The SecondsPath parameter does not reference an input value: {path}"),
                        )
                    })?;
                let secs = match value.as_i64() {
                    Some(n) if n < 0 => {
                        return Err(runtime(
                            &state.name,
                            format!(
                                "The SecondsPath parameter references a negative value: {path} == {}",
                                shown(&value)
                            ),
                        ));
                    }
                    Some(n) => n.unsigned_abs(),
                    None => match value.as_u64() {
                        Some(n) => n,
                        None => {
                            return Err(runtime(
                                &state.name,
                                format!(
                                    "The SecondsPath parameter cannot be parsed as a long value: {path} == {}",
                                    shown(&value)
                                ),
                            ));
                        }
                    },
                };
                Ok(Duration::from_secs(secs.min(MAX_WAIT_SECONDS)))
            }
            WaitFor::Seconds(field) => {
                let secs = self
                    .count(state, Some(field), "Seconds", scope)?
                    .unwrap_or(0);
                Ok(Duration::from_secs(secs.min(MAX_WAIT_SECONDS)))
            }
            WaitFor::Timestamp(field) => {
                let (value, jsonata) = self.field_value(state, field, "Timestamp", scope)?;
                let Some(at) = value.as_str().and_then(parse_timestamp) else {
                    let message = match field {
                        Field::Path(path) => format!(
                            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {path} == {}",
                            shown(&value)
                        ),
                        _ => format!(
                            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                            shown(&value)
                        ),
                    };
                    return Err(field_error(state, jsonata, message));
                };
                let until = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
                Ok(until
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(Duration::from_secs(MAX_WAIT_SECONDS)))
            }
        }
    }
}

/// JSONata fields fail with `States.QueryEvaluationError`, the others with `States.Runtime`.
fn field_error(state: &State, jsonata: bool, message: String) -> Failure {
    if jsonata {
        query_error(&state.name, message)
    } else {
        runtime(&state.name, message)
    }
}
