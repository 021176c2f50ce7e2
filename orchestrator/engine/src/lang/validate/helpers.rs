//! Small helpers: JSON pointers, type names and name lists for messages.

use serde_json::Value;

use super::{Diagnostic, SCHEMA_VALIDATION_FAILED};

pub(super) fn not_an_object() -> Diagnostic {
    Diagnostic {
        pointer: String::new(),
        state: None,
        code: SCHEMA_VALIDATION_FAILED,
        message: "Definition must be a valid JSON object".to_string(),
    }
}

/// Appends one reference token to a JSON pointer, escaping per RFC 6901.
pub(super) fn child(pointer: &str, token: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + token.len() + 1);
    out.push_str(pointer);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            _ => out.push(c),
        }
    }
    out
}

pub(super) fn index(pointer: &str, i: usize) -> String {
    format!("{pointer}/{i}")
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Lists names for a message, cut short so huge machines keep messages readable.
pub(super) fn list_names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    const SHOWN: usize = 20;
    let all: Vec<&String> = names.collect();
    if all.is_empty() {
        return "(none)".to_string();
    }
    let mut text = all
        .iter()
        .take(SHOWN)
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > SHOWN {
        text.push_str(&format!(", ... ({} more)", all.len() - SHOWN));
    }
    text
}
