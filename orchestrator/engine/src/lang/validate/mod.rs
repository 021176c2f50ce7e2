//! Static validation of Amazon States Language definitions.
//!
//! The validator walks the raw JSON (not a parsed model) so that it can report
//! every problem in one pass, each located by a JSON pointer, the way AWS's
//! `ValidateStateMachineDefinition` does. Syntax of embedded expression
//! languages is delegated to an [`ExpressionChecker`] so that this module stays
//! independent of the engine's parsers.

mod choice;
mod duplicates;
mod helpers;
mod machine;
mod map;
mod payload;
mod resource;
mod retry;
mod states;
mod tables;

use crate::lang::NameMap;

use serde_json::Value;

use duplicates::duplicate_keys;
use helpers::not_an_object;

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// JSON pointer to the offending value.
    pub pointer: String,
    /// Name of the innermost state that holds the problem, if any.
    pub state: Option<String>,
    /// AWS-style code, e.g. "SCHEMA_VALIDATION_FAILED", "MISSING_TRANSITION_TARGET", "INVALID_JSON_PATH".
    pub code: &'static str,
    /// Human-readable explanation of the problem and how to fix it.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        match &self.state {
            Some(state) => write!(
                f,
                "{}: {} at {} (state \"{}\")",
                self.code, self.message, at, state
            ),
            None => write!(f, "{}: {} at {}", self.code, self.message, at),
        }
    }
}

/// Syntax checks for embedded expression languages; the engine implements it with the real parsers.
pub trait ExpressionChecker {
    /// Checks a JSONPath (InputPath, OutputPath, `.$` values starting with `$`).
    fn check_path(&self, text: &str) -> Result<(), String>;
    /// Checks a reference path (ResultPath, Choice Variable, `...Path` operators): must be definite.
    fn check_reference_path(&self, text: &str) -> Result<(), String>;
    /// Checks an intrinsic function call (`.$` values starting with "States.").
    fn check_intrinsic(&self, text: &str) -> Result<(), String>;
    /// Checks the JSONata expression found inside `{% %}`.
    fn check_jsonata(&self, text: &str) -> Result<(), String>;
}

/// Code for structural problems (AWS reports most problems under it).
pub const SCHEMA_VALIDATION_FAILED: &str = "SCHEMA_VALIDATION_FAILED";
/// Code for a transition to a state that does not exist, or a state nothing transitions to.
pub const MISSING_TRANSITION_TARGET: &str = "MISSING_TRANSITION_TARGET";
/// Code for a malformed JSONPath or reference path.
pub const INVALID_JSON_PATH: &str = "INVALID_JSON_PATH";
/// Code for a malformed intrinsic function call.
pub const INVALID_INTRINSIC: &str = "INVALID_INTRINSIC_FUNCTION";
/// Code for a malformed JSONata expression.
pub const INVALID_JSONATA: &str = "INVALID_JSONATA";
/// Code for a state name that appears more than once in the machine.
pub const DUPLICATE_STATE_NAME: &str = "DUPLICATE_STATE_NAME";
/// Code for a state name that breaks the naming rules.
pub const INVALID_STATE_NAME: &str = "INVALID_STATE_NAME";
/// Code for a scope in which no state ends the execution.
pub const MISSING_END_STATE: &str = "MISSING_END_STATE";
/// Code for text that is not JSON at all.
pub const INVALID_JSON_DESCRIPTION: &str = "INVALID_JSON_DESCRIPTION";

/// Deepest nesting (of scopes, choice rules and payload templates) that is inspected.
///
/// Bounding recursion keeps hostile input from overflowing the stack; real
/// definitions stay far below this.
pub const MAX_DEPTH: usize = 200;

/// Longest state name AWS accepts, in characters.
pub const MAX_STATE_NAME_CHARS: usize = 80;

/// Largest value AWS accepts for the second-valued integer fields.
const MAX_SECONDS: u64 = 99_999_999;

/// Validates a definition and returns every problem found (empty when valid).
pub fn validate(definition: &Value, checker: &dyn ExpressionChecker) -> Vec<Diagnostic> {
    let mut v = Validator {
        checker,
        out: Vec::new(),
        names: NameMap::default(),
        scopes: Vec::new(),
    };
    v.machine(definition);
    v.out
}

/// Parses JSON text and validates it; syntax errors become diagnostics too.
pub fn validate_text(text: &str, checker: &dyn ExpressionChecker) -> Vec<Diagnostic> {
    if text.trim().is_empty() {
        return vec![not_an_object()];
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) => {
            // A parsed Value keeps only the last of duplicate keys, so duplicates (two states
            // with one name, say) are only visible in the text.
            let mut out = duplicate_keys(text);
            out.extend(validate(&value, checker));
            out
        }
        Err(err) => vec![Diagnostic {
            pointer: String::new(),
            state: None,
            code: INVALID_JSON_DESCRIPTION,
            message: format!("Definition is not valid JSON: {err}"),
        }],
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lang {
    JsonPath,
    Jsonata,
}

impl Lang {
    fn name(self) -> &'static str {
        match self {
            Lang::JsonPath => "JSONPath",
            Lang::Jsonata => "JSONata",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Top,
    Branch,
    Processor,
    Iterator,
}

/// What a scope needs for its cross-state checks, gathered while walking it.
struct ScopeInfo {
    pointer: String,
    /// The enclosing state (for nested scopes) to attribute StartAt problems to.
    owner: Option<String>,
    start_at: Option<String>,
    /// State names in document order.
    names: Vec<String>,
    /// `(from state, target, pointer of the transition field)`.
    transitions: Vec<(String, String, String)>,
    has_terminal: bool,
    /// Whether a States object was present (otherwise StartAt problems are just noise).
    states_present: bool,
}

/// Per-state facts the enclosing scope needs.
struct StateFacts {
    transitions: Vec<(String, String)>,
    terminal: bool,
}

struct Validator<'a> {
    checker: &'a dyn ExpressionChecker,
    out: Vec<Diagnostic>,
    /// Every state name in the machine with the pointer of its first definition.
    names: NameMap<String, String>,
    scopes: Vec<ScopeInfo>,
}

/// Location context while inside a state.
#[derive(Clone, Copy)]
struct At<'s> {
    state: Option<&'s str>,
    lang: Lang,
}

impl<'a> Validator<'a> {
    fn report(&mut self, pointer: &str, state: Option<&str>, code: &'static str, message: String) {
        self.out.push(Diagnostic {
            pointer: pointer.to_string(),
            state: state.map(str::to_string),
            code,
            message,
        });
    }

    fn schema(&mut self, pointer: &str, state: Option<&str>, message: String) {
        self.report(pointer, state, SCHEMA_VALIDATION_FAILED, message);
    }

    fn too_deep(&mut self, pointer: &str, state: Option<&str>) {
        self.schema(
            pointer,
            state,
            format!("Definition nests deeper than {MAX_DEPTH} levels; flatten it"),
        );
    }
}

/// Checks `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)` with plausible field ranges.
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Option<u32> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0u32, |acc, d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
    };
    let sep = |at: usize, chars: &[u8]| b.get(at).is_some_and(|c| chars.contains(c));
    let (Some(_year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) = (
        digits(0, 4),
        digits(5, 2),
        digits(8, 2),
        digits(11, 2),
        digits(14, 2),
        digits(17, 2),
    ) else {
        return false;
    };
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return false;
    }
    if !((1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && min <= 59
        && sec <= 60)
    {
        return false;
    }
    let mut i = 19;
    if sep(i, b".") {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z') | Some(b'z') => i + 1 == b.len(),
        Some(b'+') | Some(b'-') => {
            let ok = digits(i + 1, 2).is_some_and(|h| h <= 23)
                && sep(i + 3, b":")
                && digits(i + 4, 2).is_some_and(|m| m <= 59);
            ok && i + 6 == b.len()
        }
        _ => false,
    }
}

#[cfg(test)]
mod generated;
#[cfg(test)]
mod tests;
