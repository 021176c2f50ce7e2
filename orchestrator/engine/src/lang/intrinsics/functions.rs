//! The 18 intrinsic functions and the argument checks they share.

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;

use super::{
    Env, Function, IntrinsicError, MAX_ENCODING_INPUT, MAX_RANGE_ITEMS, normalize_negative_zero,
};
use crate::lang::path::{java_number, to_compact_json};

/// Kept out of line so the recursive `eval_call` frame stays small.
#[inline(never)]
pub(super) fn apply(
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
pub(super) fn render_java(value: &Value, out: &mut String) {
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
pub(super) struct JavaRandom {
    state: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    pub(super) fn new(seed: i64) -> Self {
        JavaRandom {
            state: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    pub(super) fn next(&mut self, bits: u32) -> i32 {
        self.state = (self.state.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.state >> (48 - bits)) as i32
    }

    pub(super) fn next_int(&mut self, bound: i32) -> i32 {
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
