//! ASL intrinsic functions (`States.Format(...)` and friends) as AWS evaluates them.
//!
//! AWS implements these in Java on Jackson trees, which shows through in the
//! details reproduced here: `States.Format` renders objects like `Map.toString`
//! (`{a=1, b=[]}`), numbers are rounded with `Math.round`, lengths are counted
//! in UTF-16 code units, and JSON text is compact.

mod functions;
mod parser;

use serde_json::Value;

use super::path::{Path, PathError};

use functions::apply;
use parser::Parser;

/// Deepest nesting of intrinsic calls accepted.
///
/// AWS documents a limit of 10; this is looser but keeps the recursive parser
/// and evaluator well inside a 1 MiB thread stack even in debug builds.
pub const MAX_NESTING: usize = 50;
/// Most items `States.ArrayRange` may produce.
pub const MAX_RANGE_ITEMS: usize = 1_000;
/// Longest input, in characters, for the Base64 and hash functions.
pub const MAX_ENCODING_INPUT: usize = 10_000;

/// What an intrinsic needs from the engine.
pub trait Env {
    /// Resolve a path argument (the engine picks input, context or a variable by `path.root()`).
    fn resolve(&mut self, path: &Path) -> Result<Value, PathError>;
    /// Source of randomness for States.UUID and States.MathRandom (injected so tests are deterministic).
    fn random_u64(&mut self) -> u64;
}

/// A parsed intrinsic function call, possibly with nested calls as arguments.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    call: Call,
    text: String,
}

/// Why an intrinsic could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntrinsicError {
    /// The text is not a well-formed intrinsic call.
    #[error(
        "The intrinsic function '{text}' could not be parsed: {message} (at position {position})"
    )]
    Syntax {
        /// The whole text.
        text: String,
        /// Byte offset of the problem.
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// `States.Xxx` is not one of the 18 intrinsic functions.
    #[error("The intrinsic function '{name}' is not supported")]
    UnknownFunction {
        /// The name as written.
        name: String,
    },
    /// The call has the wrong number of arguments.
    #[error("The intrinsic function {function} expects {expected} but received {found}")]
    Arity {
        /// Function name, e.g. `States.MathAdd`.
        function: String,
        /// Human description, e.g. `2 arguments`.
        expected: String,
        /// Number of arguments given.
        found: usize,
    },
    /// An argument has the wrong JSON type or an unusable value.
    #[error("Invalid arguments in {function}: {message}")]
    ArgumentType {
        /// Function name.
        function: String,
        /// What is wrong with the argument.
        message: String,
    },
    /// The function failed on valid-looking arguments (limits, bad JSON, ...).
    #[error("{function} failed: {message}")]
    Runtime {
        /// Function name.
        function: String,
        /// Why it failed.
        message: String,
    },
    /// A path argument could not be resolved.
    #[error(transparent)]
    Path(#[from] PathError),
}

#[derive(Debug, Clone)]
struct Call {
    function: Function,
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
enum Arg {
    Literal(Value),
    Text(TextLiteral),
    Path(Path),
    Call(Box<Call>),
}

/// A quoted literal; `holes` are byte offsets of unescaped `{}` so `\{\}` stays literal in States.Format.
#[derive(Debug, Clone)]
struct TextLiteral {
    value: String,
    holes: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Function {
    const ALL: [Function; 18] = [
        Function::Format,
        Function::StringToJson,
        Function::JsonToString,
        Function::Array,
        Function::ArrayPartition,
        Function::ArrayContains,
        Function::ArrayRange,
        Function::ArrayGetItem,
        Function::ArrayLength,
        Function::ArrayUnique,
        Function::Base64Encode,
        Function::Base64Decode,
        Function::Hash,
        Function::JsonMerge,
        Function::MathRandom,
        Function::MathAdd,
        Function::StringSplit,
        Function::Uuid,
    ];

    fn name(self) -> &'static str {
        match self {
            Function::Format => "States.Format",
            Function::StringToJson => "States.StringToJson",
            Function::JsonToString => "States.JsonToString",
            Function::Array => "States.Array",
            Function::ArrayPartition => "States.ArrayPartition",
            Function::ArrayContains => "States.ArrayContains",
            Function::ArrayRange => "States.ArrayRange",
            Function::ArrayGetItem => "States.ArrayGetItem",
            Function::ArrayLength => "States.ArrayLength",
            Function::ArrayUnique => "States.ArrayUnique",
            Function::Base64Encode => "States.Base64Encode",
            Function::Base64Decode => "States.Base64Decode",
            Function::Hash => "States.Hash",
            Function::JsonMerge => "States.JsonMerge",
            Function::MathRandom => "States.MathRandom",
            Function::MathAdd => "States.MathAdd",
            Function::StringSplit => "States.StringSplit",
            Function::Uuid => "States.UUID",
        }
    }

    /// Inclusive bounds on the argument count; `None` means unbounded.
    fn arity(self) -> (usize, Option<usize>) {
        match self {
            Function::Format => (1, None),
            Function::Array => (0, None),
            Function::Uuid => (0, Some(0)),
            Function::StringToJson
            | Function::JsonToString
            | Function::ArrayLength
            | Function::ArrayUnique
            | Function::Base64Encode
            | Function::Base64Decode => (1, Some(1)),
            Function::ArrayPartition
            | Function::ArrayContains
            | Function::ArrayGetItem
            | Function::Hash
            | Function::MathAdd
            | Function::StringSplit => (2, Some(2)),
            Function::ArrayRange | Function::JsonMerge => (3, Some(3)),
            Function::MathRandom => (2, Some(3)),
        }
    }

    fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl Intrinsic {
    /// Cheap test: does this string look like an intrinsic call ("States.Xxx(" prefix)?
    pub fn looks_like_call(text: &str) -> bool {
        let Some(rest) = text.strip_prefix("States.") else {
            return false;
        };
        let name_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        name_len > 0 && rest.as_bytes().get(name_len) == Some(&b'(')
    }

    /// Parses a whole field value such as `States.Format('{}', $.name)`.
    pub fn parse(text: &str) -> Result<Intrinsic, IntrinsicError> {
        let mut parser = Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        };
        parser.skip_ws();
        let call = parser.call(0)?;
        parser.skip_ws();
        if parser.pos != parser.bytes.len() {
            return Err(parser.error("unexpected text after the closing ')'"));
        }
        Ok(Intrinsic {
            call,
            text: text.to_string(),
        })
    }

    /// The call exactly as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Evaluates the call, resolving path arguments through `env`.
    pub fn eval(&self, env: &mut dyn Env) -> Result<Value, IntrinsicError> {
        eval_call(&self.call, env)
    }

    /// Every path argument, recursively (the validator checks them).
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        let mut stack = vec![&self.call];
        while let Some(call) = stack.pop() {
            for arg in &call.args {
                match arg {
                    Arg::Path(p) => out.push(p),
                    Arg::Call(c) => stack.push(c),
                    Arg::Literal(_) | Arg::Text(_) => {}
                }
            }
        }
        out
    }
}

impl std::fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// serde_json reads `-0` as the double `-0.0`; Jackson reads it as the integer `0`.
fn normalize_negative_zero(value: &mut Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Number(n)
                if n.is_f64() && n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) =>
            {
                *v = Value::from(0);
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
}

fn eval_call(call: &Call, env: &mut dyn Env) -> Result<Value, IntrinsicError> {
    let mut args = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        args.push(match arg {
            Arg::Literal(v) => v.clone(),
            Arg::Text(t) => Value::String(t.value.clone()),
            Arg::Path(p) => env.resolve(p)?,
            Arg::Call(c) => eval_call(c, env)?,
        });
    }
    let holes = match call.args.first() {
        Some(Arg::Text(t)) if call.function == Function::Format => Some(t.holes.as_slice()),
        _ => None,
    };
    apply(call.function, args, holes, env)
}

#[cfg(test)]
mod tests;
