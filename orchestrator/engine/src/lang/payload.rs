//! JSONPath-mode payload templates (`Parameters`, `ItemSelector`, `ResultSelector`, `Assign`):
//! keys ending in `.$` take their value from a path or an intrinsic function call.

use serde_json::{Map, Value};

use super::intrinsics::{Env, Intrinsic, IntrinsicError};
use super::path::{Path, PathError};

/// A compiled payload template. Constant subtrees are kept as one literal so that evaluating
/// them is a clone.
#[derive(Debug, Clone)]
pub enum PayloadTemplate {
    /// A value used as-is.
    Literal(Value),
    /// The value a path selects.
    Path(Path),
    /// The value an intrinsic function returns.
    Intrinsic(Box<Intrinsic>),
    /// An object whose fields are templates; keys have their `.$` suffix removed.
    Object(Vec<(String, PayloadTemplate)>),
    /// An array whose items are templates.
    Array(Vec<PayloadTemplate>),
}

/// Why a template could not be compiled.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct TemplateError {
    /// JSON pointer, relative to the template, of the offending field.
    pub pointer: String,
    pub message: String,
}

/// Why a template could not be evaluated; the engine reports both as `States.Runtime`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EvalError {
    /// A path in a `.$` field matched nothing.
    #[error(
        "The JSONPath '{path}' specified for the field '{field}' could not be found in the input"
    )]
    PathNotFound { path: String, field: String },
    /// An intrinsic function failed.
    #[error("{0}")]
    Intrinsic(#[from] IntrinsicError),
    /// Any other path failure.
    #[error("{0}")]
    Path(#[from] PathError),
}

/// Escape a key for use inside a JSON pointer (RFC 6901).
pub fn pointer_escape(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

impl PayloadTemplate {
    /// Compile a template from its JSON form.
    pub fn compile(value: &Value) -> Result<PayloadTemplate, TemplateError> {
        compile_at(value, &mut String::new(), 0)
    }

    /// Does evaluating this template never read anything?
    pub fn is_literal(&self) -> bool {
        matches!(self, PayloadTemplate::Literal(_))
    }

    /// Evaluate against the values the `env` resolves paths in.
    pub fn evaluate(&self, env: &mut dyn Env) -> Result<Value, EvalError> {
        self.eval_field(env, "")
    }

    fn eval_field(&self, env: &mut dyn Env, field: &str) -> Result<Value, EvalError> {
        match self {
            PayloadTemplate::Literal(v) => Ok(v.clone()),
            PayloadTemplate::Path(path) => match env.resolve(path) {
                Ok(v) => Ok(v),
                Err(PathError::NoMatch { .. }) => Err(EvalError::PathNotFound {
                    path: path.text().to_string(),
                    field: format!("{field}.$"),
                }),
                Err(e) => Err(EvalError::Path(e)),
            },
            PayloadTemplate::Intrinsic(call) => Ok(call.eval(env)?),
            PayloadTemplate::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (key, template) in fields {
                    out.insert(key.clone(), template.eval_field(env, key)?);
                }
                Ok(Value::Object(out))
            }
            PayloadTemplate::Array(items) => items
                .iter()
                .map(|t| t.eval_field(env, field))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }

    /// Every path the template reads, for validation.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        match self {
            PayloadTemplate::Literal(_) => {}
            PayloadTemplate::Path(p) => out.push(p),
            PayloadTemplate::Intrinsic(call) => out.extend(call.paths()),
            PayloadTemplate::Object(fields) => {
                fields.iter().for_each(|(_, t)| t.collect_paths(out))
            }
            PayloadTemplate::Array(items) => items.iter().for_each(|t| t.collect_paths(out)),
        }
    }
}

/// Deep nesting is bounded by the JSON parser already; this guards templates built in code.
const MAX_DEPTH: usize = 512;

/// `pointer` is one buffer extended and truncated on the way down, so a template of many
/// fields costs no string per field unless one is wrong.
fn compile_at(
    value: &Value,
    pointer: &mut String,
    depth: usize,
) -> Result<PayloadTemplate, TemplateError> {
    use std::fmt::Write as _;
    if depth > MAX_DEPTH {
        return Err(TemplateError {
            pointer: pointer.clone(),
            message: format!("template nested deeper than {MAX_DEPTH} levels"),
        });
    }
    match value {
        Value::Object(map) => {
            let mut fields = Vec::with_capacity(map.len());
            let mut all_literal = true;
            for (key, v) in map {
                let parent = pointer.len();
                let _ = write!(pointer, "/{}", pointer_escape(key));
                let (name, template) = match key.strip_suffix(".$") {
                    Some(name) => {
                        let Value::String(text) = v else {
                            return Err(TemplateError {
                                pointer: pointer.clone(),
                                message: format!(
                                    "the value of \"{key}\" must be a string holding a path or an intrinsic function call"
                                ),
                            });
                        };
                        (name.to_string(), compile_dynamic(text, pointer)?)
                    }
                    None => (key.clone(), compile_at(v, pointer, depth + 1)?),
                };
                all_literal &= template.is_literal();
                if fields.iter().any(|(k, _): &(String, _)| *k == name) {
                    return Err(TemplateError {
                        pointer: pointer.clone(),
                        message: format!(
                            "field \"{name}\" is given twice (with and without \".$\")"
                        ),
                    });
                }
                pointer.truncate(parent);
                fields.push((name, template));
            }
            if all_literal {
                Ok(PayloadTemplate::Literal(value.clone()))
            } else {
                Ok(PayloadTemplate::Object(fields))
            }
        }
        Value::Array(items) => {
            let mut compiled = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                let parent = pointer.len();
                let _ = write!(pointer, "/{i}");
                compiled.push(compile_at(v, pointer, depth + 1)?);
                pointer.truncate(parent);
            }
            if compiled.iter().all(PayloadTemplate::is_literal) {
                Ok(PayloadTemplate::Literal(value.clone()))
            } else {
                Ok(PayloadTemplate::Array(compiled))
            }
        }
        other => Ok(PayloadTemplate::Literal(other.clone())),
    }
}

/// Compile the string value of a `.$` field: an intrinsic call or a path.
pub fn compile_dynamic(text: &str, pointer: &str) -> Result<PayloadTemplate, TemplateError> {
    if Intrinsic::looks_like_call(text) {
        Intrinsic::parse(text)
            .map(|call| PayloadTemplate::Intrinsic(Box::new(call)))
            .map_err(|e| TemplateError {
                pointer: pointer.to_string(),
                message: format!("invalid intrinsic function call {text:?}: {e}"),
            })
    } else {
        Path::parse(text)
            .map(PayloadTemplate::Path)
            .map_err(|e| TemplateError {
                pointer: pointer.to_string(),
                message: format!("invalid path {text:?}: {e}"),
            })
    }
}
