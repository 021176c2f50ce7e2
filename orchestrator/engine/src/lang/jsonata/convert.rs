//! Conversion of values between serde_json and jsonata-core.

use jsonata_core::value::JValue;
use serde_json::{Map, Value};

use super::MAX_VALUE_DEPTH;

pub(super) fn to_jvalue(v: &Value, depth: usize) -> Result<JValue, String> {
    if depth > MAX_VALUE_DEPTH {
        return Err(format!(
            "a value is nested more than {MAX_VALUE_DEPTH} levels deep"
        ));
    }
    Ok(match v {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        // JSONata numbers are doubles; u64/i64 beyond 2^53 round, as they do in AWS.
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(items) => JValue::array(
            items
                .iter()
                .map(|item| to_jvalue(item, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => JValue::object(
            map.iter()
                .map(|(k, item)| Ok((k.clone(), to_jvalue(item, depth + 1)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// A result with no JSON form.
#[derive(Debug)]
pub(super) struct Unsupported;

/// Converts a JSONata result; `Ok(None)` is `undefined`.
pub(super) fn from_jvalue(v: &JValue, depth: usize) -> Result<Option<Value>, Unsupported> {
    if depth > MAX_VALUE_DEPTH {
        return Err(Unsupported);
    }
    Ok(Some(match v {
        JValue::Undefined => return Ok(None),
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number_to_json(*n).ok_or(Unsupported)?,
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                // JSON.stringify's rule, which AWS's serialization follows: an undefined array
                // item becomes null.
                out.push(from_jvalue(item, depth + 1)?.unwrap_or(Value::Null));
            }
            Value::Array(out)
        }
        JValue::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, item) in map.iter() {
                if let Some(item) = from_jvalue(item, depth + 1)? {
                    out.insert(key.clone(), item);
                }
            }
            Value::Object(out)
        }
        // Functions and regexes (and any variant a later jsonata-core adds).
        _ => return Err(Unsupported),
    }))
}

/// JSON for a JSONata number: integral values come back as JSON integers (`7`, not `7.0`).
fn number_to_json(n: f64) -> Option<Value> {
    if !n.is_finite() {
        return None;
    }
    // Beyond 2^53 a double no longer holds every integer; printing it as one would claim a
    // precision it does not have.
    const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;
    if n.fract() == 0.0 && n.abs() <= EXACT_INTEGER_LIMIT {
        // The guard above makes the cast exact; -0.0 becomes 0 as in JavaScript.
        return Some(Value::from(n as i64));
    }
    serde_json::Number::from_f64(n).map(Value::Number)
}
