//! JSONata evaluation for `QueryLanguage: JSONata` states.
//!
//! This is the only module that talks to the JSONata implementation (`jsonata-core`), so the
//! crate behind it can be swapped without touching the engine. It adds what AWS Step Functions
//! layers on top of plain JSONata: the `$states` variable, workflow variables, the extra
//! functions (`$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`), the removal of
//! `$eval`, and the rule that a field's expression must not evaluate to `undefined`.
//!
//! `jsonata-core` values are reference counted and not `Send`, so everything crate-specific is
//! created and dropped inside one synchronous [`Expression::evaluate`] call; only the parsed AST
//! (plain data) is kept, which makes compiled expressions and templates shareable across threads.

mod convert;
mod functions;
mod references;

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions};
use jsonata_core::parser;
use jsonata_core::value::JValue;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Map, Value};

use convert::{from_jvalue, to_jvalue};
use functions::register_extensions;
use references::{References, StatesUse, is_function_name};

/// Deepest JSON value converted into or out of JSONata. Conversion recurses, and so do serde's
/// serializer and `Value`'s drop in the engine, so a bound keeps a value built by a runaway
/// `$reduce` from overflowing a worker thread's stack. Parsed JSON input is far shallower
/// (serde_json stops at 128 levels).
const MAX_VALUE_DEPTH: usize = 1_000;

/// Wall-clock cap on one evaluation. JSONata has no loops but does have tail calls, so
/// `($f := function(){ $f() }; $f())` would otherwise spin forever on an engine thread.
const EVALUATION_TIMEOUT_MS: u64 = 10_000;

/// Is this string a JSONata expression string `{% … %}`?
///
/// Only an exact `{%` prefix and `%}` suffix count: `" {% x %} "` is a literal string.
pub fn is_expression(s: &str) -> bool {
    s.len() >= 4 && s.starts_with("{%") && s.ends_with("%}")
}

/// The AWS name of a JSON value's type, as used in `States.QueryEvaluationError` causes.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Why a JSONata expression could not be compiled or evaluated.
///
/// `expression` is the text between the delimiters, trimmed, as AWS quotes it in causes.
/// `location` is where the expression sits inside a [`Template`] (`"result"`, `"list/0/key"`),
/// empty for the template's root or a bare [`Expression`]; [`JsonataError::cause`] joins it onto
/// the state field name. The engine reports every variant as `States.QueryEvaluationError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonataError {
    /// The text is not a valid JSONata expression.
    #[error("{}", describe(.expression, .location, "could not be parsed. ", .message))]
    Syntax {
        /// The expression text.
        expression: String,
        /// Where the expression sits in its template.
        location: String,
        /// The parser's message, starting with the JSONata error code.
        message: String,
    },
    /// Evaluating the expression raised an error.
    #[error("{}", describe(.expression, .location, "threw an error during evaluation. ", .message))]
    Evaluation {
        /// The expression text.
        expression: String,
        /// Where the expression sits in its template.
        location: String,
        /// The JSONata error, e.g. `T1006: Attempted to invoke a non-function`.
        message: String,
    },
    /// The expression evaluated to `undefined` where a value is required.
    #[error("{}", describe(.expression, .location, "returned nothing (undefined).", ""))]
    Undefined {
        /// The expression text.
        expression: String,
        /// Where the expression sits in its template.
        location: String,
    },
    /// The result has no JSON form (a function, a regex, an infinite number, or nests too deeply).
    #[error("{}", describe(.expression, .location, "returned an unsupported result type.", ""))]
    UnsupportedResult {
        /// The expression text.
        expression: String,
        /// Where the expression sits in its template.
        location: String,
    },
}

impl JsonataError {
    /// The expression text the error is about.
    pub fn expression(&self) -> &str {
        match self {
            Self::Syntax { expression, .. }
            | Self::Evaluation { expression, .. }
            | Self::Undefined { expression, .. }
            | Self::UnsupportedResult { expression, .. } => expression,
        }
    }

    /// Where the failing expression sits inside its template (`""` at the root).
    pub fn location(&self) -> &str {
        match self {
            Self::Syntax { location, .. }
            | Self::Evaluation { location, .. }
            | Self::Undefined { location, .. }
            | Self::UnsupportedResult { location, .. } => location,
        }
    }

    /// The AWS cause text for this error in state field `field` (e.g. `"Output"`), without the
    /// `An error occurred while executing the state …` prefix the engine adds.
    pub fn cause(&self, field: &str) -> String {
        let location = join_location(field, self.location());
        let (verb, message) = match self {
            Self::Syntax { message, .. } => ("could not be parsed. ", message.as_str()),
            Self::Evaluation { message, .. } => {
                ("threw an error during evaluation. ", message.as_str())
            }
            Self::Undefined { .. } => ("returned nothing (undefined).", ""),
            Self::UnsupportedResult { .. } => ("returned an unsupported result type.", ""),
        };
        describe(self.expression(), &location, verb, message)
    }

    fn location_mut(&mut self) -> &mut String {
        match self {
            Self::Syntax { location, .. }
            | Self::Evaluation { location, .. }
            | Self::Undefined { location, .. }
            | Self::UnsupportedResult { location, .. } => location,
        }
    }

    /// Records that the error happened under `segment` of an enclosing template.
    fn nest_under(mut self, segment: &str) -> Self {
        let location = self.location_mut();
        *location = join_location(segment, location);
        self
    }
}

fn join_location(outer: &str, inner: &str) -> String {
    match (outer.is_empty(), inner.is_empty()) {
        (true, _) => inner.to_owned(),
        (false, true) => outer.to_owned(),
        (false, false) => format!("{outer}/{inner}"),
    }
}

fn describe(expression: &str, location: &str, verb: &str, message: &str) -> String {
    if location.is_empty() {
        format!("The JSONata expression '{expression}' {verb}{message}")
    } else {
        format!(
            "The JSONata expression '{expression}' specified for the field '{location}' {verb}{message}"
        )
    }
}

/// What an expression can see.
pub struct EvalContext<'a> {
    /// The `$states` object: {"input":…, "context":…, and when present "result", "errorOutput"}.
    pub states: &'a Value,
    /// Workflow variables visible in this scope (`Assign`), looked up by name without `$`.
    pub variables: &'a dyn Fn(&str) -> Option<Value>,
    /// Randomness for $random/$uuid, injected so the language layer stays deterministic in tests.
    pub random_u64: &'a mut dyn FnMut() -> u64,
}

/// A parsed JSONata expression (the text between `{%` and `%}`).
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    ast: AstNode,
    refs: References,
}

impl Expression {
    /// Parses `text`, the expression between `{%` and `%}` (the delimiters may be included).
    pub fn compile(text: &str) -> Result<Expression, JsonataError> {
        let inner = if is_expression(text) {
            &text[2..text.len() - 2]
        } else {
            text
        };
        let source = inner.trim().to_owned();
        let syntax_error = |message: String| JsonataError::Syntax {
            expression: source.clone(),
            location: String::new(),
            message,
        };
        // jsonata-core bounds its own recursion (U1002 beyond 1,000 levels, on a stack it grows
        // on the heap), so deep nesting needs no pre-check here; the unwind guard is for
        // anything it still gets wrong, which must fail the state rather than the process.
        let parsed = catch_unwind(AssertUnwindSafe(|| parser::parse(inner)))
            .map_err(|_| syntax_error("the JSONata parser failed on this expression".to_owned()))?;
        let ast = parsed.map_err(|e| syntax_error(e.to_string()))?;
        let refs = References::of(&ast);
        Ok(Expression { source, ast, refs })
    }

    /// The expression text, trimmed, as AWS quotes it in error causes.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Names of the `$variables` the expression references (so the engine/validator can check them).
    ///
    /// Sorted, without `$`. Includes `states` when `$states` is used. Leaves out names the
    /// expression binds itself (`:=`, lambda parameters, `@$x`, `#$i`) and names of JSONata or
    /// Step Functions functions (`$string` passed to `$map` is a function, not a variable).
    pub fn variable_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .refs
            .variables
            .iter()
            .filter(|name| !self.refs.bound.contains(*name))
            .filter(|name| !is_function_name(name))
            .cloned()
            .collect();
        if self.refs.states.is_some() {
            names.push("states".to_owned());
            names.sort();
        }
        names
    }

    /// Whether evaluation may read `$states.<field>` (e.g. `"result"`, `"errorOutput"`).
    ///
    /// True also when `$states` is used as a whole, since any field may then be read.
    pub fn may_read_states_field(&self, field: &str) -> bool {
        match &self.refs.states {
            None => false,
            Some(StatesUse::Whole) => true,
            Some(StatesUse::Fields(fields)) => fields.contains_key(field),
        }
    }

    /// Evaluates the expression; `Ok(None)` is JSONata's `undefined`.
    pub fn evaluate(&self, ctx: &mut EvalContext<'_>) -> Result<Option<Value>, JsonataError> {
        let eval_error = |message: String| JsonataError::Evaluation {
            expression: self.source.clone(),
            location: String::new(),
            message,
        };
        let mut bindings = Context::new();
        if let Some(states) = &self.refs.states {
            bindings.bind(
                "states".to_owned(),
                states.pick(ctx.states, 0).map_err(eval_error)?,
            );
        }
        for name in &self.refs.variables {
            if let Some(value) = (ctx.variables)(name) {
                bindings.bind(name.clone(), to_jvalue(&value, 0).map_err(eval_error)?);
            }
        }
        let rng = (self.refs.mentions("random") || self.refs.mentions("uuid"))
            .then(|| Rc::new(RefCell::new(StdRng::seed_from_u64((ctx.random_u64)()))));

        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let options = EvaluatorOptions {
                timeout_ms: Some(EVALUATION_TIMEOUT_MS),
                ..EvaluatorOptions::default()
            };
            let mut evaluator = Evaluator::with_options(bindings, options);
            register_extensions(&mut evaluator, &self.refs, rng)?;
            // AWS gives an expression no input document (`$` and bare field names find
            // nothing); everything arrives through `$states` and workflow variables.
            let result = evaluator.evaluate(&self.ast, &JValue::Undefined)?;
            Ok::<_, EvaluatorError>(from_jvalue(&result, 0))
        }));
        let converted = match outcome {
            Ok(Ok(converted)) => converted,
            Ok(Err(e)) => return Err(eval_error(jsonata_message(&e))),
            // jsonata-core is a large young crate; a panic inside it must fail this one
            // evaluation (a catchable States.QueryEvaluationError), not take down the runner.
            Err(_) => {
                return Err(eval_error(
                    "the JSONata evaluator failed on this expression".to_owned(),
                ));
            }
        };
        converted.map_err(|_| JsonataError::UnsupportedResult {
            expression: self.source.clone(),
            location: String::new(),
        })
    }
}

/// The message AWS shows for a JSONata error: `CODE: text`, as jsonata-js words it.
fn jsonata_message(e: &EvaluatorError) -> String {
    let message = e.message();
    // jsonata-core appends the function name to T1006 ("…: $foo"); jsonata-js, which AWS runs,
    // does not, and AWS causes quote its text verbatim.
    if message.starts_with("T1006: Attempted to invoke a non-function:") {
        return "T1006: Attempted to invoke a non-function".to_owned();
    }
    message.to_owned()
}

/// A JSON value whose strings may hold `{% expr %}` at any depth, compiled once.
#[derive(Debug, Clone)]
pub enum Template {
    /// A value with no expression anywhere in it.
    Constant(Value),
    /// A `{% … %}` string.
    Expression(Box<Expression>),
    /// An array with at least one expression inside.
    Array(Vec<Template>),
    /// An object with at least one expression inside, in the definition's key order.
    Object(Vec<(String, Template)>),
}

impl Template {
    /// Compiles every `{% … %}` string in `v`; other strings stay literal.
    pub fn compile(v: &Value) -> Result<Template, JsonataError> {
        match v {
            Value::String(s) if is_expression(s) => {
                Ok(Template::Expression(Box::new(Expression::compile(s)?)))
            }
            Value::Array(items) => {
                let parts = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        Template::compile(item).map_err(|e| e.nest_under(&i.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if parts.iter().all(Template::is_constant) {
                    return Ok(Template::Constant(v.clone()));
                }
                Ok(Template::Array(parts))
            }
            Value::Object(map) => {
                let parts = map
                    .iter()
                    .map(|(key, item)| {
                        Template::compile(item)
                            .map(|part| (key.clone(), part))
                            .map_err(|e| e.nest_under(key))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if parts.iter().all(|(_, part)| part.is_constant()) {
                    return Ok(Template::Constant(v.clone()));
                }
                Ok(Template::Object(parts))
            }
            _ => Ok(Template::Constant(v.clone())),
        }
    }

    /// Evaluates every expression; one that yields `undefined` is an error, as in AWS.
    pub fn evaluate(&self, ctx: &mut EvalContext<'_>) -> Result<Value, JsonataError> {
        match self {
            Template::Constant(v) => Ok(v.clone()),
            Template::Expression(expression) => {
                expression
                    .evaluate(ctx)?
                    .ok_or_else(|| JsonataError::Undefined {
                        expression: expression.source().to_owned(),
                        location: String::new(),
                    })
            }
            Template::Array(parts) => parts
                .iter()
                .enumerate()
                .map(|(i, part)| part.evaluate(ctx).map_err(|e| e.nest_under(&i.to_string())))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Object(parts) => {
                let mut out = Map::with_capacity(parts.len());
                for (key, part) in parts {
                    let value = part.evaluate(ctx).map_err(|e| e.nest_under(key))?;
                    out.insert(key.clone(), value);
                }
                Ok(Value::Object(out))
            }
        }
    }

    /// True when the template holds no expression, so evaluating it just clones a value.
    pub fn is_constant(&self) -> bool {
        matches!(self, Template::Constant(_))
    }

    /// Every expression in the template, in definition order.
    pub fn expressions(&self) -> Vec<&Expression> {
        let mut found = Vec::new();
        let mut pending = vec![self];
        while let Some(template) = pending.pop() {
            match template {
                Template::Constant(_) => {}
                Template::Expression(expression) => found.push(expression.as_ref()),
                Template::Array(parts) => pending.extend(parts.iter().rev()),
                Template::Object(parts) => pending.extend(parts.iter().rev().map(|(_, p)| p)),
            }
        }
        found
    }
}

#[cfg(test)]
mod tests;
