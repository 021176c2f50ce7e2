//! ASL intrinsic functions (`States.Format(...)` and friends) as AWS evaluates them.
//!
//! AWS implements these in Java on Jackson trees, which shows through in the
//! details reproduced here: `States.Format` renders objects like `Map.toString`
//! (`{a=1, b=[]}`), numbers are rounded with `Math.round`, lengths are counted
//! in UTF-16 code units, and JSON text is compact.

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{Number, Value};
use sha2::Digest as _;

use super::path::{Path, PathError, java_number, to_compact_json};

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

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> IntrinsicError {
        IntrinsicError::Syntax {
            text: self.text.to_string(),
            position: self.pos,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn call(&mut self, depth: usize) -> Result<Call, IntrinsicError> {
        if depth >= MAX_NESTING {
            return Err(self.error(&format!(
                "intrinsic functions are nested more than {MAX_NESTING} levels deep"
            )));
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.')
        {
            self.pos += 1;
        }
        let name = &self.text[start..self.pos];
        if !name.starts_with("States.") {
            return Err(self.error("expected an intrinsic function name such as States.Format"));
        }
        let function =
            Function::from_name(name).ok_or_else(|| IntrinsicError::UnknownFunction {
                name: name.to_string(),
            })?;
        self.skip_ws();
        if self.peek() != Some(b'(') {
            return Err(self.error("expected '(' after the function name"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg(depth)?);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or ')' after an argument")),
                }
            }
        }
        let (min, max) = function.arity();
        if args.len() < min || max.is_some_and(|m| args.len() > m) {
            let expected = match (min, max) {
                (min, None) => format!("at least {min} argument(s)"),
                (min, Some(max)) if min == max => format!("{min} argument(s)"),
                (min, Some(max)) => format!("{min} to {max} arguments"),
            };
            return Err(IntrinsicError::Arity {
                function: function.name().to_string(),
                expected,
                found: args.len(),
            });
        }
        Ok(Call { function, args })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, IntrinsicError> {
        self.skip_ws();
        match self.peek() {
            Some(b'\'') => self.text_literal().map(Arg::Text),
            Some(b'$') => self.path().map(Arg::Path),
            Some(b) if b == b'-' || b.is_ascii_digit() => self.number().map(Arg::Literal),
            Some(b'S') if self.text[self.pos..].starts_with("States.") => {
                self.call(depth + 1).map(|c| Arg::Call(Box::new(c)))
            }
            _ => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    let rest = &self.bytes[self.pos..];
                    if rest.starts_with(word.as_bytes())
                        && !rest
                            .get(word.len())
                            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    {
                        self.pos += word.len();
                        return Ok(Arg::Literal(value));
                    }
                }
                Err(self.error(
                    "expected an argument: a 'string', a number, true, false, null, a path or an intrinsic function",
                ))
            }
        }
    }

    fn text_literal(&mut self) -> Result<TextLiteral, IntrinsicError> {
        self.pos += 1;
        let mut value = String::new();
        let mut holes = Vec::new();
        loop {
            let Some(c) = self.text[self.pos..].chars().next() else {
                return Err(self.error("unterminated string literal"));
            };
            self.pos += c.len_utf8();
            match c {
                '\'' => return Ok(TextLiteral { value, holes }),
                '\\' => {
                    let Some(escaped) = self.text[self.pos..].chars().next() else {
                        return Err(self.error("unterminated escape sequence"));
                    };
                    // AWS accepts only these four escapes; `\"` and friends make the
                    // definition invalid (recorded: ESCAPE_SEQUENCES_ILLEGAL_INTRINSIC_FUNCTION).
                    if !matches!(escaped, '\'' | '{' | '}' | '\\') {
                        return Err(self.error(&format!(
                            "invalid escape sequence '\\{escaped}': only \\', \\{{, \\}} and \\\\ may be escaped"
                        )));
                    }
                    self.pos += escaped.len_utf8();
                    value.push(escaped);
                }
                '{' if self.peek() == Some(b'}') => {
                    self.pos += 1;
                    holes.push(value.len());
                    value.push_str("{}");
                }
                c => value.push(c),
            }
        }
    }

    /// A path runs to the next top-level `,` or `)`; brackets, parentheses and quotes inside it are skipped over.
    fn path(&mut self) -> Result<Path, IntrinsicError> {
        let start = self.pos;
        let mut brackets = 0usize;
        let mut parens = 0usize;
        let mut quote: Option<u8> = None;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            if let Some(q) = quote {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == q {
                    quote = None;
                }
            } else {
                match b {
                    b'\'' | b'"' if brackets > 0 => quote = Some(b),
                    b'[' => brackets += 1,
                    b']' => brackets = brackets.saturating_sub(1),
                    b'(' => parens += 1,
                    b')' if parens == 0 => break,
                    b')' => parens -= 1,
                    b',' if brackets == 0 && parens == 0 => break,
                    _ => {}
                }
            }
            self.pos += 1;
        }
        let text = self.text[start..self.pos].trim_end();
        Path::parse(text).map_err(|e| IntrinsicError::Syntax {
            text: self.text.to_string(),
            position: start,
            message: format!("invalid path argument: {e}"),
        })
    }

    fn number(&mut self) -> Result<Value, IntrinsicError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_digit() || b".eE+-".contains(&b))
        {
            self.pos += 1;
        }
        let text = &self.text[start..self.pos];
        let mut value = serde_json::from_str::<Number>(text)
            .map(Value::Number)
            .map_err(|_| self.error(&format!("invalid number '{text}'")))?;
        normalize_negative_zero(&mut value);
        Ok(value)
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

/// Kept out of line so the recursive `eval_call` frame stays small.
#[inline(never)]
fn apply(
    function: Function,
    args: Vec<Value>,
    holes: Option<&[usize]>,
    env: &mut dyn Env,
) -> Result<Value, IntrinsicError> {
    let name = function.name();
    let bad = |message: String| IntrinsicError::ArgumentType {
        function: name.to_string(),
        message,
    };
    let failed = |message: String| IntrinsicError::Runtime {
        function: name.to_string(),
        message,
    };
    let arg_count = args.len();
    let mut args = args.into_iter();
    // Arity was checked at parse time, so a missing argument cannot occur; Null keeps this total.
    let mut next = move || args.next().unwrap_or(Value::Null);
    match function {
        Function::Format => {
            let template = match next() {
                Value::String(s) => s,
                other => {
                    return Err(bad(format!(
                        "the first argument must be a string, but was {}",
                        type_name(&other)
                    )));
                }
            };
            let rest: Vec<Value> = (1..arg_count).map(|_| next()).collect();
            format(&template, holes, &rest).map_err(failed)
        }
        Function::StringToJson => {
            let text = expect_string(next(), 1, &bad)?;
            string_to_json(&text).map_err(failed)
        }
        Function::JsonToString => Ok(Value::String(to_compact_json(&next()))),
        Function::Array => Ok(Value::Array((0..arg_count).map(|_| next()).collect())),
        Function::ArrayPartition => {
            let items = expect_array(next(), 1, &bad)?;
            let size = expect_integer(&next(), 2, &bad)?;
            if size <= 0 {
                return Err(failed(format!(
                    "the chunk size must be a positive integer, but was {size}"
                )));
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            Ok(Value::Array(
                items
                    .chunks(size)
                    .map(|chunk| Value::Array(chunk.to_vec()))
                    .collect(),
            ))
        }
        Function::ArrayContains => {
            let items = expect_array(next(), 1, &bad)?;
            let needle = next();
            Ok(Value::Bool(items.contains(&needle)))
        }
        Function::ArrayRange => {
            let start = expect_integer(&next(), 1, &bad)?;
            let end = expect_integer(&next(), 2, &bad)?;
            let step = expect_integer(&next(), 3, &bad)?;
            array_range(start, end, step).map_err(failed)
        }
        Function::ArrayGetItem => {
            let items = expect_array(next(), 1, &bad)?;
            let index = expect_integer(&next(), 2, &bad)?;
            usize::try_from(index)
                .ok()
                .and_then(|i| items.into_iter().nth(i))
                .ok_or_else(|| failed(format!("the index {index} is out of bounds for the array")))
        }
        Function::ArrayLength => Ok(Value::from(expect_array(next(), 1, &bad)?.len())),
        Function::ArrayUnique => {
            let items = expect_array(next(), 1, &bad)?;
            let mut unique: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                if !unique.contains(&item) {
                    unique.push(item);
                }
            }
            Ok(Value::Array(unique))
        }
        Function::Base64Encode => {
            let text = expect_string(next(), 1, &bad)?;
            check_length(&text, &failed)?;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
            ))
        }
        Function::Base64Decode => {
            let text = expect_string(next(), 1, &bad)?;
            check_length(&text, &failed)?;
            let engine = base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
            );
            let bytes = engine
                .decode(text.as_bytes())
                .map_err(|e| failed(format!("the input is not valid Base64: {e}")))?;
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Function::Hash => {
            let data = expect_string(next(), 1, &bad)?;
            let algorithm = expect_string(next(), 2, &bad)?;
            check_length(&data, &failed)?;
            hash(&data, &algorithm).map(Value::String).map_err(failed)
        }
        Function::JsonMerge => {
            let Value::Object(mut left) = next() else {
                return Err(bad("the first argument must be a JSON object".to_string()));
            };
            let Value::Object(right) = next() else {
                return Err(bad("the second argument must be a JSON object".to_string()));
            };
            match next() {
                Value::Bool(false) => {}
                Value::Bool(true) => {
                    return Err(failed(
                        "only shallow merging is supported; the third argument must be false"
                            .to_string(),
                    ));
                }
                other => {
                    return Err(bad(format!(
                        "the third argument must be a boolean, but was {}",
                        type_name(&other)
                    )));
                }
            }
            for (k, v) in right {
                left.insert(k, v);
            }
            Ok(Value::Object(left))
        }
        Function::MathRandom => {
            let start = expect_rounded(&next(), 1, &bad)?;
            let end = expect_rounded(&next(), 2, &bad)?;
            let seed = if arg_count > 2 {
                Some(expect_rounded(&next(), 3, &bad)?)
            } else {
                None
            };
            math_random(start, end, seed, env).map_err(failed)
        }
        Function::MathAdd => {
            let a = expect_rounded(&next(), 1, &bad)?;
            let b = expect_rounded(&next(), 2, &bad)?;
            Ok(Value::from(a + b))
        }
        Function::StringSplit => {
            let text = expect_string(next(), 1, &bad)?;
            let delimiters = expect_string(next(), 2, &bad)?;
            // Java's StringTokenizer: any delimiter character splits, empty tokens vanish.
            Ok(Value::Array(
                text.split(|c| delimiters.contains(c))
                    .filter(|t| !t.is_empty())
                    .map(|t| Value::String(t.to_string()))
                    .collect(),
            ))
        }
        Function::Uuid => {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&env.random_u64().to_le_bytes());
            bytes[8..].copy_from_slice(&env.random_u64().to_le_bytes());
            let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
            Ok(Value::String(uuid.hyphenated().to_string()))
        }
    }
}

fn format(template: &str, holes: Option<&[usize]>, args: &[Value]) -> Result<Value, String> {
    let found: Vec<usize>;
    let holes = match holes {
        Some(h) => h,
        None => {
            found = template.match_indices("{}").map(|(i, _)| i).collect();
            &found
        }
    };
    if holes.len() != args.len() {
        return Err(format!(
            "the format string has {} placeholder(s) but {} argument(s) were supplied",
            holes.len(),
            args.len()
        ));
    }
    let mut out = String::with_capacity(template.len());
    let mut copied = 0;
    for (hole, arg) in holes.iter().zip(args) {
        out.push_str(&template[copied..*hole]);
        render_java(arg, &mut out);
        copied = hole + 2;
    }
    out.push_str(&template[copied..]);
    Ok(Value::String(out))
}

/// Renders like Java's `toString` on Jackson-converted values: strings bare, maps as `{k=v, ...}`.
fn render_java(value: &Value, out: &mut String) {
    // An explicit stack keeps arbitrarily deep inputs off the call stack.
    enum Step<'a> {
        Value(&'a Value),
        Text(&'static str),
        Key(&'a str),
    }
    let mut stack = vec![Step::Value(value)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Text(t) => out.push_str(t),
            Step::Key(k) => {
                out.push_str(k);
                out.push('=');
            }
            Step::Value(v) => match v {
                Value::Null => out.push_str("null"),
                Value::Bool(b) => {
                    let _ = write!(out, "{b}");
                }
                Value::Number(n) => out.push_str(&java_number(n)),
                Value::String(s) => out.push_str(s),
                Value::Array(items) => {
                    out.push('[');
                    stack.push(Step::Text("]"));
                    for (i, item) in items.iter().enumerate().rev() {
                        stack.push(Step::Value(item));
                        if i > 0 {
                            stack.push(Step::Text(", "));
                        }
                    }
                }
                Value::Object(map) => {
                    out.push('{');
                    stack.push(Step::Text("}"));
                    for (i, (k, v)) in map.iter().enumerate().rev() {
                        stack.push(Step::Value(v));
                        stack.push(Step::Key(k));
                        if i > 0 {
                            stack.push(Step::Text(", "));
                        }
                    }
                }
            },
        }
    }
}

/// Jackson's `readTree`: blank text is `null`, and text after the first value is ignored.
fn string_to_json(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    match values.next() {
        Some(Ok(mut v)) => {
            normalize_negative_zero(&mut v);
            Ok(v)
        }
        Some(Err(e)) => Err(format!("the string is not valid JSON: {e}")),
        None => Ok(Value::Null),
    }
}

fn array_range(start: i64, end: i64, step: i64) -> Result<Value, String> {
    if step == 0 {
        return Err("the step (third argument) must not be zero".to_string());
    }
    let span = i128::from(end) - i128::from(start);
    let count = if (span >= 0) == (step > 0) || span == 0 {
        span / i128::from(step) + 1
    } else {
        0
    };
    if count > MAX_RANGE_ITEMS as i128 {
        return Err(format!(
            "the range would contain {count} items, more than the limit of {MAX_RANGE_ITEMS}"
        ));
    }
    let mut items = Vec::new();
    for i in 0..count {
        // Every item lies between `start` and `end`, both i64, so the conversion cannot fail.
        let item = i64::try_from(i128::from(start) + i * i128::from(step))
            .map_err(|_| "the range overflows a 64-bit integer".to_string())?;
        items.push(Value::from(item));
    }
    Ok(Value::Array(items))
}

fn hash(data: &str, algorithm: &str) -> Result<String, String> {
    let bytes = data.as_bytes();
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        other => {
            return Err(format!(
                "the hash algorithm '{other}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
            ));
        }
    };
    let mut hex = String::with_capacity(digest.len() * 2);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    Ok(hex)
}

fn math_random(
    start: i64,
    end: i64,
    seed: Option<i64>,
    env: &mut dyn Env,
) -> Result<Value, String> {
    if start >= end {
        return Err(format!(
            "the start ({start}) must be less than the end ({end})"
        ));
    }
    let span = end - start;
    let offset = match (seed, i32::try_from(span)) {
        // Seeded draws mimic java.util.Random so a seed gives a stable result.
        (Some(seed), Ok(bound)) => i64::from(JavaRandom::new(seed).next_int(bound)),
        (Some(seed), Err(_)) => {
            let mut r = JavaRandom::new(seed);
            i64::try_from(r.next_u64() % span.unsigned_abs()).unwrap_or(0)
        }
        (None, _) => i64::try_from(env.random_u64() % span.unsigned_abs()).unwrap_or(0),
    };
    Ok(Value::from(start + offset))
}

/// The linear congruential generator of `java.util.Random`.
struct JavaRandom {
    state: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom {
            state: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.state = (self.state.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.state >> (48 - bits)) as i32
    }

    fn next_int(&mut self, bound: i32) -> i32 {
        if bound & bound.wrapping_neg() == bound {
            return ((i64::from(bound) * i64::from(self.next(31))) >> 31) as i32;
        }
        loop {
            let bits = self.next(31);
            let value = bits % bound;
            if bits.wrapping_sub(value).wrapping_add(bound - 1) >= 0 {
                return value;
            }
        }
    }

    fn next_u64(&mut self) -> u64 {
        let high = i64::from(self.next(32)) << 32;
        (high + i64::from(self.next(32))) as u64
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn ordinal(index: usize) -> &'static str {
    match index {
        1 => "first",
        2 => "second",
        3 => "third",
        _ => "an",
    }
}

fn expect_string(
    value: Value,
    index: usize,
    bad: &dyn Fn(String) -> IntrinsicError,
) -> Result<String, IntrinsicError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(bad(format!(
            "the {} argument must be a string, but was {}",
            ordinal(index),
            type_name(&other)
        ))),
    }
}

fn expect_array(
    value: Value,
    index: usize,
    bad: &dyn Fn(String) -> IntrinsicError,
) -> Result<Vec<Value>, IntrinsicError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(bad(format!(
            "the {} argument must be an array, but was {}",
            ordinal(index),
            type_name(&other)
        ))),
    }
}

/// An integer argument; integral doubles such as `2.0` count, `2.5` does not.
fn expect_integer(
    value: &Value,
    index: usize,
    bad: &dyn Fn(String) -> IntrinsicError,
) -> Result<i64, IntrinsicError> {
    let n = match value {
        Value::Number(n) => n,
        other => {
            return Err(bad(format!(
                "the {} argument must be an integer, but was {}",
                ordinal(index),
                type_name(other)
            )));
        }
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(bad(format!(
            "the {} argument must be an integer, but was {}",
            ordinal(index),
            java_number(n)
        ))),
    }
}

/// A number rounded like Java's `Math.round` (half up), limited to Java's `int` range.
fn expect_rounded(
    value: &Value,
    index: usize,
    bad: &dyn Fn(String) -> IntrinsicError,
) -> Result<i64, IntrinsicError> {
    let Value::Number(n) = value else {
        return Err(bad(format!(
            "the {} argument must be a number, but was {}",
            ordinal(index),
            type_name(value)
        )));
    };
    let rounded = match n.as_i64() {
        Some(i) => Some(i),
        None => n.as_f64().map(java_round),
    };
    match rounded {
        Some(r) if i32::try_from(r).is_ok() => Ok(r),
        _ => Err(bad(format!(
            "the {} argument must be an integer between {} and {}, but was {}",
            ordinal(index),
            i32::MIN,
            i32::MAX,
            java_number(n)
        ))),
    }
}

fn java_round(x: f64) -> i64 {
    let floor = x.floor();
    let rounded = if x - floor == 0.5 {
        floor + 1.0
    } else {
        x.round()
    };
    // Saturating cast; the caller range-checks the result.
    rounded as i64
}

fn check_length(
    text: &str,
    failed: &dyn Fn(String) -> IntrinsicError,
) -> Result<(), IntrinsicError> {
    let length = text.encode_utf16().count();
    if length > MAX_ENCODING_INPUT {
        Err(failed(format!(
            "the input is {length} characters long, more than the limit of {MAX_ENCODING_INPUT}"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    /// Resolves `$...` against `input`, `$$...` against `context`, `$name` against `vars`.
    struct TestEnv {
        input: Value,
        context: Value,
        vars: Map<String, Value>,
        counter: u64,
    }

    impl TestEnv {
        fn new(input: Value) -> Self {
            TestEnv {
                input,
                context: json!({
                    "Execution": {"Name": "exec-name"},
                    "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:my-sm-name", "Name": "my-sm-name"}
                }),
                vars: Map::new(),
                counter: 0,
            }
        }
    }

    impl Env for TestEnv {
        fn resolve(&mut self, path: &Path) -> Result<Value, PathError> {
            match path.root() {
                super::super::path::Root::Input => path.select(&self.input),
                super::super::path::Root::Context => path.select(&self.context),
                super::super::path::Root::Variable(name) => {
                    let value = self.vars.get(name).cloned().unwrap_or(Value::Null);
                    path.select(&value)
                }
            }
        }

        fn random_u64(&mut self) -> u64 {
            self.counter = self.counter.wrapping_add(0x9E37_79B9_7F4A_7C15);
            self.counter
        }
    }

    fn run(text: &str, input: Value) -> Result<Value, IntrinsicError> {
        let call = Intrinsic::parse(text).expect("test call parses");
        call.eval(&mut TestEnv::new(input))
    }

    fn fi(text: &str, fst: Value, snd: Value) -> Result<Value, IntrinsicError> {
        run(text, json!({"FunctionInput": {"fst": fst, "snd": snd}}))
    }

    const FORMAT_1: &str = "States.Format('Formatting argument {}.', $.FunctionInput)";
    const FORMAT_2: &str = "States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)";

    #[test]
    fn looks_like_call() {
        assert!(Intrinsic::looks_like_call("States.Format('x')"));
        assert!(Intrinsic::looks_like_call("States.UUID()"));
        assert!(!Intrinsic::looks_like_call("States.Format ('x')"));
        assert!(!Intrinsic::looks_like_call("$.States"));
        assert!(!Intrinsic::looks_like_call("States.('x')"));
        assert!(!Intrinsic::looks_like_call(" States.Format('x')"));
    }

    #[test]
    fn corpus_format() {
        let f1 = |v: Value| run(FORMAT_1, json!({ "FunctionInput": v }));
        assert_eq!(f1(json!("")), Ok(json!("Formatting argument .")));
        assert_eq!(f1(json!(1)), Ok(json!("Formatting argument 1.")));
        assert_eq!(
            f1(json!("{\"Arg1\": 1, \"Arg2\": []}")),
            Ok(json!("Formatting argument {\"Arg1\": 1, \"Arg2\": []}."))
        );
        let f2 = |v: Value| fi(FORMAT_2, v.clone(), v);
        assert_eq!(
            f2(json!(" ")),
            Ok(json!("Formatting arguments fst=  and snd= ."))
        );
        assert_eq!(
            f2(json!("HelloWorld")),
            Ok(json!(
                "Formatting arguments fst=HelloWorld and snd=HelloWorld."
            ))
        );
        assert_eq!(
            f2(Value::Null),
            Ok(json!("Formatting arguments fst=null and snd=null."))
        );
        assert_eq!(
            f2(json!(1)),
            Ok(json!("Formatting arguments fst=1 and snd=1."))
        );
        assert_eq!(
            f2(json!({"Arg1": 1, "Arg2": []})),
            Ok(json!(
                "Formatting arguments fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}."
            ))
        );
        assert_eq!(
            f2(json!(1.1)),
            Ok(json!("Formatting arguments fst=1.1 and snd=1.1."))
        );
        assert_eq!(
            f2(json!(true)),
            Ok(json!("Formatting arguments fst=true and snd=true."))
        );
        assert_eq!(
            f2(json!(["a", [1, 2.5], {"k": null}])),
            Ok(json!(
                "Formatting arguments fst=[a, [1, 2.5], {k=null}] and snd=[a, [1, 2.5], {k=null}]."
            ))
        );
    }

    #[test]
    fn corpus_format_context_and_fail_state() {
        let out = run(
            "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)",
            json!({"FunctionInput": null}),
        );
        assert_eq!(
            out,
            Ok(json!(
                "Formatting arguments fst=exec-name and snd={Id=arn:aws:states:us-east-1:111111111111:stateMachine:my-sm-name, Name=my-sm-name}."
            ))
        );
        let input = json!({"Error": "error string", "Cause": "cause string"});
        assert_eq!(
            run("States.Format('{}', $.Error)", input.clone()),
            Ok(json!("error string"))
        );
        assert_eq!(
            run(
                "States.Format('This is a custom error message for {}, caused by {}.', $.Error, $.Cause)",
                input
            ),
            Ok(json!(
                "This is a custom error message for error string, caused by cause string."
            ))
        );
    }

    #[test]
    fn format_escapes_and_errors() {
        assert_eq!(
            run(r"States.Format('a \{\} b {} \' \\ c', 5)", json!({})),
            Ok(json!(r"a {} b 5 ' \ c"))
        );
        assert_eq!(
            run("States.Format('Format:{}', 101)", json!({})),
            Ok(json!("Format:101"))
        );
        assert_eq!(
            run("States.Format('no holes')", json!({})),
            Ok(json!("no holes"))
        );
        assert!(matches!(
            run("States.Format('{} {}', 1)", json!({})),
            Err(IntrinsicError::Runtime { .. })
        ));
        assert!(run("States.Format('{}', 1, 2)", json!({})).is_err());
        assert!(run("States.Format($.n, 1)", json!({"n": 5})).is_err());
        assert_eq!(
            run(
                "States.Format($.t, $.name)",
                json!({"t": "Hello, my name is {}.", "name": "Arnav"})
            ),
            Ok(json!("Hello, my name is Arnav."))
        );
    }

    #[test]
    fn corpus_array() {
        assert_eq!(run("States.Array()", json!({})), Ok(json!([])));
        let a2 = "States.Array($.FunctionInput.fst, $.FunctionInput.snd)";
        assert_eq!(fi(a2, json!(" "), json!(" ")), Ok(json!([" ", " "])));
        let s = json!("{\"Arg1\": 1, \"Arg2\": []}");
        assert_eq!(fi(a2, s.clone(), s.clone()), Ok(json!([s.clone(), s])));
        assert_eq!(
            run(
                "States.Array('a', 'b', 'c', 1, -2.5, true, null)",
                json!({})
            ),
            Ok(json!(["a", "b", "c", 1, -2.5, true, null]))
        );
    }

    #[test]
    fn corpus_array_contains() {
        let c = "States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)";
        assert_eq!(fi(c, json!([]), Value::Null), Ok(json!(false)));
        assert_eq!(fi(c, json!([]), json!([])), Ok(json!(false)));
        assert_eq!(fi(c, json!([]), json!(1)), Ok(json!(false)));
        assert_eq!(fi(c, json!([[1, 2, 3], 2]), Value::Null), Ok(json!(false)));
        assert_eq!(
            fi(c, json!([[1, 2, 3], 2]), json!([1, 2, 3])),
            Ok(json!(true))
        );
        assert_eq!(
            fi(c, json!([{"1": 2, "2": []}]), json!([])),
            Ok(json!(false))
        );
        assert_eq!(
            fi(c, json!([{"1": 2, "2": []}]), json!({"1": 2, "2": []})),
            Ok(json!(true))
        );
        assert_eq!(fi(c, json!([true, false]), json!(true)), Ok(json!(true)));
        assert_eq!(fi(c, json!([true, false]), json!(false)), Ok(json!(true)));
        assert_eq!(
            run(
                "States.ArrayContains($.a, 5)",
                json!({"a": [1, 2, 3, 4, 5, 6]})
            ),
            Ok(json!(true))
        );
    }

    #[test]
    fn corpus_array_get_item_length_unique() {
        assert_eq!(
            fi(
                "States.ArrayGetItem($.FunctionInput.fst, $.FunctionInput.snd)",
                json!([1, 2, 3, 4, 5, 6, 7, 8, 9]),
                json!(5)
            ),
            Ok(json!(6))
        );
        assert!(run("States.ArrayGetItem($.a, 3)", json!({"a": [1]})).is_err());
        assert!(run("States.ArrayGetItem($.a, -1)", json!({"a": [1]})).is_err());
        let mixed = json!([null, null, true, true, false, false, 1, 1, 1.1, 0, 0, "HelloWorld", "HelloWorld", [], [], [null], [null], {"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 1}]);
        assert_eq!(
            run(
                "States.ArrayLength($.FunctionInput)",
                json!({ "FunctionInput": mixed.clone() })
            ),
            Ok(json!(20))
        );
        assert_eq!(
            run(
                "States.ArrayUnique($.FunctionInput)",
                json!({ "FunctionInput": mixed })
            ),
            Ok(
                json!([null, true, false, 1, 1.1, 0, "HelloWorld", [], [null], {"a": 1, "b": 2}, {"a": 1, "b": 1}])
            )
        );
        assert_eq!(
            run("States.ArrayUnique($.d)", json!({"d": [1, 2, 2, 3, 3, 4]})),
            Ok(json!([1, 2, 3, 4]))
        );
        assert_eq!(
            run("States.ArrayLength($.a)", json!({"a": [1, 2, 3, 4, 5, 6]})),
            Ok(json!(6))
        );
        assert!(matches!(
            run("States.ArrayLength($.a)", json!({"a": "x"})),
            Err(IntrinsicError::ArgumentType { .. })
        ));
    }

    #[test]
    fn corpus_array_partition() {
        let p = "States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)";
        for (array, size, expected) in [
            (json!([]), 1, json!([])),
            (json!([]), 3, json!([])),
            (json!([]), 4, json!([])),
            (json!([0]), 3, json!([[0]])),
            (json!([0]), 4, json!([[0]])),
            (json!([0]), 5, json!([[0]])),
            (json!([0, 1]), 3, json!([[0, 1]])),
            (json!([0, 1]), 4, json!([[0, 1]])),
            (json!([0, 1, 2]), 1, json!([[0], [1], [2]])),
            (json!([0, 1, 2]), 3, json!([[0, 1, 2]])),
            (json!([0, 1, 2]), 4, json!([[0, 1, 2]])),
            (json!([0, 1, 2, 3]), 1, json!([[0], [1], [2], [3]])),
            (json!([0, 1, 2, 3]), 2, json!([[0, 1], [2, 3]])),
            (json!([0, 1, 2, 3]), 4, json!([[0, 1, 2, 3]])),
        ] {
            assert_eq!(
                fi(p, array.clone(), json!(size)),
                Ok(expected),
                "{array} / {size}"
            );
        }
        assert_eq!(
            run(
                "States.ArrayPartition($.a, 2)",
                json!({"a": [1, 2, 3, 4, 5, 6]})
            ),
            Ok(json!([[1, 2], [3, 4], [5, 6]]))
        );
        assert!(run("States.ArrayPartition($.a, 0)", json!({"a": [1]})).is_err());
        assert!(run("States.ArrayPartition($.a, -1)", json!({"a": [1]})).is_err());
        assert!(run("States.ArrayPartition($.a, 1.5)", json!({"a": [1]})).is_err());
    }

    #[test]
    fn corpus_array_range() {
        let r = "States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)";
        let rr = |a: i64, b: i64, c: i64| {
            run(r, json!({"FunctionInput": {"fst": a, "snd": b, "trd": c}}))
        };
        assert_eq!(rr(0, 10, 3), Ok(json!([0, 3, 6, 9])));
        assert_eq!(rr(1, 9, 2), Ok(json!([1, 3, 5, 7, 9])));
        assert_eq!(rr(0, 9, 3), Ok(json!([0, 3, 6, 9])));
        assert_eq!(rr(1, 9, 9), Ok(json!([1])));
        assert_eq!(rr(5, 1, -2), Ok(json!([5, 3, 1])));
        assert_eq!(rr(5, 5, 1), Ok(json!([5])));
        assert_eq!(rr(5, 1, 1), Ok(json!([])));
        assert_eq!(
            run("States.ArrayRange(0, 3, 1)", json!({})),
            Ok(json!([0, 1, 2, 3]))
        );
        assert_eq!(
            run("States.ArrayRange(1, 10, 2)", json!({})),
            Ok(json!([1, 3, 5, 7, 9]))
        );
        assert_eq!(
            run("States.ArrayRange(1, 1000, 1)", json!({})).map(|v| v.as_array().map(Vec::len)),
            Ok(Some(1000))
        );
        assert!(
            run("States.ArrayRange(0, 1000, 1)", json!({})).is_err(),
            "1001 items"
        );
        assert!(run("States.ArrayRange(0, 10, 0)", json!({})).is_err());
        assert!(run("States.ArrayRange(0, 10.5, 1)", json!({})).is_err());
        assert!(run("States.ArrayRange('0', 10, 1)", json!({})).is_err());
        assert!(
            run(
                "States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)",
                json!({})
            )
            .is_err()
        );
    }

    #[test]
    fn corpus_base64() {
        let e = |s: &str| {
            run(
                "States.Base64Encode($.FunctionInput)",
                json!({ "FunctionInput": s }),
            )
        };
        assert_eq!(e(""), Ok(json!("")));
        assert_eq!(e("Data to encode"), Ok(json!("RGF0YSB0byBlbmNvZGU=")));
        assert_eq!(e("Hello World"), Ok(json!("SGVsbG8gV29ybGQ=")));
        let d = |s: &str| {
            run(
                "States.Base64Decode($.FunctionInput)",
                json!({ "FunctionInput": s }),
            )
        };
        assert_eq!(d("SGVsbG8gV29ybGQ="), Ok(json!("Hello World")));
        assert_eq!(d("RGF0YSB0byBlbmNvZGU="), Ok(json!("Data to encode")));
        assert_eq!(
            d("SGVsbG8gV29ybGQ"),
            Ok(json!("Hello World")),
            "padding is optional"
        );
        assert_eq!(d(""), Ok(json!("")));
        assert!(d("not base64!").is_err());
        assert!(e(&"a".repeat(10_001)).is_err());
        assert!(e(&"a".repeat(10_000)).is_ok());
        assert!(d(&"A".repeat(10_004)).is_err());
        assert!(run("States.Base64Encode($.n)", json!({"n": 1})).is_err());
    }

    #[test]
    fn corpus_hash() {
        let h = |alg: &str| {
            fi(
                "States.Hash($.FunctionInput.fst, $.FunctionInput.snd)",
                json!("input data"),
                json!(alg),
            )
        };
        assert_eq!(h("MD5"), Ok(json!("812f45842bc6d66ee14572ce20db8e86")));
        assert_eq!(
            h("SHA-1"),
            Ok(json!("aaff4a450a104cd177d28d18d74485e8cae074b7"))
        );
        assert_eq!(
            h("SHA-256"),
            Ok(json!(
                "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"
            ))
        );
        assert_eq!(
            h("SHA-384"),
            Ok(json!(
                "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"
            ))
        );
        assert_eq!(
            h("SHA-512"),
            Ok(json!(
                "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"
            ))
        );
        assert_eq!(
            run(
                "States.Hash($.s, 'SHA-256')",
                json!({"s": "Hash this string"})
            ),
            Ok(json!(
                "1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e"
            ))
        );
        assert!(h("sha-256").is_err());
        assert!(h("SHA-224").is_err());
        assert!(
            run(
                "States.Hash($.s, 'MD5')",
                json!({ "s": "x".repeat(10_001) })
            )
            .is_err()
        );
    }

    #[test]
    fn corpus_json_to_string() {
        let j = |v: Value| {
            run(
                "States.JsonToString($.FunctionInput)",
                json!({ "FunctionInput": v }),
            )
        };
        assert_eq!(j(Value::Null), Ok(json!("null")));
        assert_eq!(j(json!(1)), Ok(json!("1")));
        assert_eq!(j(json!(1.1)), Ok(json!("1.1")));
        assert_eq!(j(json!(true)), Ok(json!("true")));
        assert_eq!(j(json!("HelloWorld")), Ok(json!("\"HelloWorld\"")));
        assert_eq!(
            j(json!([1, 2, "HelloWorld"])),
            Ok(json!("[1,2,\"HelloWorld\"]"))
        );
        assert_eq!(
            j(json!({"Arg1": 1, "Arg2": []})),
            Ok(json!("{\"Arg1\":1,\"Arg2\":[]}"))
        );
        assert_eq!(
            j(json!({"test": "object"})),
            Ok(json!("{\"test\":\"object\"}"))
        );
    }

    #[test]
    fn corpus_string_to_json() {
        let s = |v: &str| {
            run(
                "States.StringToJson($.FunctionInput)",
                json!({ "FunctionInput": v }),
            )
        };
        assert_eq!(s(" "), Ok(Value::Null));
        assert_eq!(s(""), Ok(Value::Null));
        assert_eq!(s("-0"), Ok(json!(0)));
        assert_eq!(s("true"), Ok(json!(true)));
        assert_eq!(s("\"HelloWorld\""), Ok(json!("HelloWorld")));
        assert_eq!(s("[1, 2, \"HelloWorld\"]"), Ok(json!([1, 2, "HelloWorld"])));
        assert_eq!(
            s("{\"Arg1\": 1, \"Arg2\": []}"),
            Ok(json!({"Arg1": 1, "Arg2": []}))
        );
        assert_eq!(s("{\"key\":\"value\"}"), Ok(json!({"key": "value"})));
        assert!(matches!(
            s("HelloWorld"),
            Err(IntrinsicError::Runtime { .. })
        ));
        assert!(s("{\"a\":").is_err());
        assert!(run("States.StringToJson($.n)", json!({"n": 1})).is_err());
    }

    #[test]
    fn corpus_json_merge() {
        let input = json!({"json1": {"a": 1, "b": 2}, "json2": {"c": 3, "d": 4}});
        assert_eq!(
            run("States.JsonMerge($.json1, $.json2, false)", input.clone()),
            Ok(json!({"a": 1, "b": 2, "c": 3, "d": 4}))
        );
        let shallow = json!({"x": {"a": {"k": 1}, "b": 1}, "y": {"a": {"j": 2}, "c": 3}});
        let merged = run("States.JsonMerge($.x, $.y, false)", shallow).expect("merges");
        assert_eq!(merged, json!({"a": {"j": 2}, "b": 1, "c": 3}));
        let keys: Vec<&String> = merged
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["a", "b", "c"], "existing keys keep their position");
        assert!(run("States.JsonMerge($.json1, $.json2, true)", input.clone()).is_err());
        assert!(run("States.JsonMerge($.json1, $.json2, 'false')", input.clone()).is_err());
        assert!(run("States.JsonMerge($.json1, 1, false)", input).is_err());
    }

    #[test]
    fn corpus_math_add() {
        let add = |a: Value, b: Value| {
            fi(
                "States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)",
                a,
                b,
            )
        };
        for (a, b, expected) in [
            (json!(-9), json!(3), -6),
            (json!(1.49), json!(1.50), 3),
            (json!(1.5), json!(1.51), 4),
            (json!(-1.49), json!(-1.5), -2),
            (json!(-1.5), json!(-1.51), -3),
            (json!(1.49), json!(0), 1),
            (json!(1.49), json!(-1.49), 0),
            (json!(1.5), json!(0), 2),
            (json!(1.51), json!(0), 2),
            (json!(-1.49), json!(0), -1),
            (json!(-1.5), json!(0), -1),
            (json!(-1.51), json!(0), -2),
            (json!(0.5), json!(0), 1),
            (json!(2.5), json!(0), 3),
            (json!(3.5), json!(0), 4),
            (json!(-0.5), json!(0.5), 1),
            (json!(-0.5), json!(0), 0),
            (json!(-2.5), json!(0), -2),
            (json!(-3.5), json!(0), -3),
        ] {
            assert_eq!(add(a.clone(), b.clone()), Ok(json!(expected)), "{a} + {b}");
        }
        assert_eq!(
            run("States.MathAdd($.v, -1)", json!({"v": 1})),
            Ok(json!(0))
        );
        let mut env = TestEnv::new(json!({}));
        for (name, v) in [("y", 9), ("x", 44), ("z", 6), ("b", 0)] {
            env.vars.insert(name.into(), json!(v));
        }
        let sum =
            Intrinsic::parse("States.MathAdd(States.MathAdd(States.MathAdd($y, $x), $z), $b)")
                .expect("parses");
        assert_eq!(sum.eval(&mut env), Ok(json!(59)));
        assert!(add(json!("1"), json!(1)).is_err());
        assert!(add(json!(3_000_000_000_i64), json!(1)).is_err());
    }

    #[test]
    fn corpus_math_random() {
        let r = |a: Value, b: Value| {
            fi(
                "States.MathRandom($.FunctionInput.fst, $.FunctionInput.snd)",
                a,
                b,
            )
        };
        for (a, b, lo, hi) in [
            (json!(12.5), json!(44.51), 13, 45),
            (json!(9999), json!(99999), 9999, 99999),
            (json!(-99999), json!(-9999), -99999, -9999),
        ] {
            for _ in 0..20 {
                let v = r(a.clone(), b.clone())
                    .expect("random")
                    .as_i64()
                    .expect("integer");
                assert!((lo..hi).contains(&v), "{v} in [{lo}, {hi})");
            }
        }
        let seeded = run(
            "States.MathRandom($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)",
            json!({"FunctionInput": {"fst": 0, "snd": 999, "trd": 3}}),
        );
        let again = run("States.MathRandom(0, 999, 3)", json!({}));
        assert_eq!(seeded, again, "a seed gives a stable result");
        let v = seeded.expect("seeded").as_i64().expect("integer");
        assert!((0..999).contains(&v));
        assert!(r(json!(5), json!(5)).is_err());
        assert!(r(json!("a"), json!(5)).is_err());
    }

    #[test]
    fn java_random_matches_reference_values() {
        // Well-known values: new Random(42).nextInt() and new Random(0).nextInt().
        assert_eq!(JavaRandom::new(42).next(32), -1_170_105_035);
        assert_eq!(JavaRandom::new(0).next(32), -1_155_484_576);
        // nextInt(bound) derives from next(31): 1562431130 for seed 42.
        assert_eq!(JavaRandom::new(42).next_int(100), 1_562_431_130 % 100);
        assert_eq!(
            JavaRandom::new(42).next_int(16),
            ((16_i64 * 1_562_431_130) >> 31) as i32
        );
    }

    #[test]
    fn corpus_string_split() {
        let s = |a: &str, b: &str| {
            fi(
                "States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)",
                json!(a),
                json!(b),
            )
        };
        assert_eq!(s(" , ", ","), Ok(json!([" ", " "])));
        assert_eq!(s(", , ,", ","), Ok(json!([" ", " "])));
        assert_eq!(s("1,2,3,4,5", ","), Ok(json!(["1", "2", "3", "4", "5"])));
        assert_eq!(
            s("This.is+a,test=string", ".+,="),
            Ok(json!(["This", "is", "a", "test", "string"]))
        );
        assert_eq!(s("", ","), Ok(json!([])));
        assert_eq!(s("abc", ""), Ok(json!(["abc"])));
        assert_eq!(
            run("States.StringSplit('Hello\nWorld', '\n')", json!({})),
            Ok(json!(["Hello", "World"]))
        );
        assert_eq!(
            run(
                "States.StringSplit($.csv, ',')",
                json!({"csv": "a,b,c,d,e"})
            ),
            Ok(json!(["a", "b", "c", "d", "e"]))
        );
    }

    #[test]
    fn uuid_is_v4_and_deterministic() {
        let a = run("States.UUID()", json!({})).expect("uuid");
        let b = run("States.UUID()", json!({})).expect("uuid");
        assert_eq!(a, b, "same injected randomness, same uuid");
        let text = a.as_str().expect("string");
        let parsed = uuid::Uuid::parse_str(text).expect("valid uuid");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(text, text.to_lowercase());
        assert_eq!(text.len(), 36);
    }

    #[test]
    fn corpus_nested_calls() {
        let call = Intrinsic::parse(
            "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
        )
        .expect("parses");
        assert_eq!(call.paths().len(), 2);
        assert_eq!(call.eval(&mut TestEnv::new(json!({}))), Ok(json!("name")));
        let docs = Intrinsic::parse(
            "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))",
        )
        .expect("parses");
        let input = json!({"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:1:image-recipe/my.recipe.v/1.0.0"}});
        assert_eq!(docs.eval(&mut TestEnv::new(input)), Ok(json!("1.0")));
    }

    #[test]
    fn variables_and_paths() {
        let mut env = TestEnv::new(json!({}));
        env.vars.insert("name".into(), json!("John"));
        env.vars.insert("obj".into(), json!({"x": [1, 2]}));
        let call =
            Intrinsic::parse("States.Format('Hello {}, {}', $name, $obj.x[1])").expect("parses");
        assert_eq!(call.eval(&mut env), Ok(json!("Hello John, 2")));
        let paths: Vec<&str> = call.paths().iter().map(|p| p.text()).collect();
        assert_eq!(paths, ["$name", "$obj.x[1]"]);
        let call = Intrinsic::parse("States.Array($, $.a[?(@.b, 1)], $.c['x,)'])");
        assert!(call.is_err(), "invalid filter inside a path argument");
        let call = Intrinsic::parse("States.Array($.c['x,)'], $.a[0].length())").expect("parses");
        assert_eq!(
            call.eval(&mut TestEnv::new(json!({"c": {"x,)": 1}, "a": [[1, 2]]}))),
            Ok(json!([1, 2]))
        );
        let missing = Intrinsic::parse("States.Array($.nope)").expect("parses");
        let err = missing
            .eval(&mut TestEnv::new(json!({})))
            .expect_err("missing path");
        assert!(matches!(
            err,
            IntrinsicError::Path(PathError::NoMatch { .. })
        ));
    }

    #[test]
    fn parse_errors() {
        for (text, what) in [
            ("States.Nope()", "unknown"),
            ("States.MathAdd(1)", "arity"),
            ("States.UUID(1)", "arity"),
            ("States.JsonMerge($.a, $.b)", "arity"),
            ("States.Format()", "arity"),
            ("States.MathRandom(1, 2, 3, 4)", "arity"),
            ("States.Format('x'", "syntax"),
            ("States.Format('x) ", "syntax"),
            ("States.Format('x') extra", "syntax"),
            ("States.Format(x)", "syntax"),
            ("States.Format(, 'x')", "syntax"),
            ("States.Format('x',)", "syntax"),
            ("States.Array(1 2)", "syntax"),
            ("States.Array(--1)", "syntax"),
            ("States.Array($.a b)", "syntax"),
            ("States.Array(truex)", "syntax"),
            ("$.a", "syntax"),
            ("", "syntax"),
            ("States.Format('\\", "syntax"),
        ] {
            let err = Intrinsic::parse(text).expect_err(text);
            let ok = match what {
                "unknown" => matches!(err, IntrinsicError::UnknownFunction { .. }),
                "arity" => matches!(err, IntrinsicError::Arity { .. }),
                _ => matches!(err, IntrinsicError::Syntax { .. }),
            };
            assert!(ok, "{text}: {err:?}");
        }
        assert!(Intrinsic::parse("  States.Array( 1 ,\t'a' , $ )  ").is_ok());
        assert_eq!(
            Intrinsic::parse("States.Array(1.5e3, -0, 10)")
                .expect("parses")
                .eval(&mut TestEnv::new(json!({}))),
            Ok(json!([1500.0, 0, 10]))
        );
    }

    #[test]
    fn nesting_limit() {
        let handle = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(|| {
                let nested = |n: usize| format!("{}1{}", "States.Array(".repeat(n), ")".repeat(n));
                let ok = Intrinsic::parse(&nested(MAX_NESTING)).expect("at the limit");
                let mut value = ok.eval(&mut TestEnv::new(json!({}))).expect("evaluates");
                let mut depth = 0;
                while let Value::Array(mut items) = value {
                    depth += 1;
                    value = items.pop().unwrap_or(Value::Null);
                }
                assert_eq!(depth, MAX_NESTING);
                assert!(matches!(
                    Intrinsic::parse(&nested(MAX_NESTING + 1)),
                    Err(IntrinsicError::Syntax { .. })
                ));
                assert!(Intrinsic::parse(&nested(100_000)).is_err());
            })
            .expect("spawn test thread");
        handle.join().expect("no overflow or panic");

        // Deep values are rendered without recursion (built by hand: `json!` recurses).
        let mut deep = json!(1);
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        let mut out = String::new();
        render_java(&deep, &mut out);
        assert_eq!(out.len(), 200_001);
        let mut stack = vec![deep];
        while let Some(v) = stack.pop() {
            if let Value::Array(items) = v {
                stack.extend(items);
            }
        }
    }

    #[test]
    fn junk_never_panics() {
        let alphabet: Vec<char> =
            "States.FormatArayUUIDHsh()'\\{},$@.[]?0123456789- truefalsn\u{e9}\u{1F600}"
                .chars()
                .collect();
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        for i in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let mut s = String::from(if i % 2 == 0 { "States." } else { "" });
            let mut x = seed;
            for _ in 0..len {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                s.push(alphabet[(x >> 33) as usize % alphabet.len()]);
            }
            let _ = Intrinsic::looks_like_call(&s);
            if let Ok(call) = Intrinsic::parse(&s) {
                let _ = call.paths();
                let _ = call.eval(&mut TestEnv::new(json!({"a": [1, "x"], "b": {"c": 2}})));
            }
        }
        let _ = Intrinsic::parse(&String::from_utf8_lossy(b"States.Format('\xff\xfe')"));
    }
}
