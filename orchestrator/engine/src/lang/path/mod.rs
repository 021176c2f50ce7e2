//! JSONPath as AWS Step Functions evaluates it.
//!
//! AWS evaluates JSONPath with the Jayway JsonPath library, so this module
//! follows Jayway's observable behaviour rather than RFC 9535 where the two
//! differ: slices ignore a step, bracket names are taken verbatim, a union of
//! names at the end of a path merges into one object, a definite path that
//! matches nothing is an error while an indefinite one yields `[]`.
//!
//! Besides `$` (the state input) a path may start at `$$` (the context object)
//! or at `$name` (a workflow variable); the caller picks the document to
//! evaluate against from [`Path::root`].

mod eval;
mod filter;
mod parser;
mod render;

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

use eval::collect;
use filter::{Expr, PathFunction, apply_function};
use parser::Parser;
use render::{java_class, render_names, render_segments};

/// Deepest nesting of filters, parentheses and literals a path may contain.
///
/// Kept small because the parser is recursive: at this depth a debug build
/// still parses comfortably inside a 1 MiB thread stack.
pub const MAX_DEPTH: usize = 32;

/// Where a path starts reading.
#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    /// `$`: the state input (or whatever document the caller evaluates against).
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: the workflow variable `name`.
    Variable(String),
}

/// A parsed JSONPath, ASL reference path, context path or variable path.
#[derive(Debug, Clone)]
pub struct Path {
    root: Root,
    segments: Vec<Segment>,
    text: String,
    /// Jayway's notion of definite: the result is one value, not a list.
    single: bool,
    /// Set when the path parses but cannot be evaluated (a bare-word filter operand):
    /// every evaluation returns this error.
    unusable: Option<Box<PathError>>,
}

/// Why a path could not be parsed, evaluated or assigned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathError {
    /// The text is not a valid path.
    #[error("Invalid path '{text}': {message} (at position {position})")]
    Syntax {
        /// The whole path text.
        text: String,
        /// Byte offset of the problem.
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// A definite path selected nothing; `message` is Jayway's wording.
    #[error("{message}")]
    NoMatch {
        /// The path as written.
        path: String,
        /// Jayway-style explanation, e.g. `No results for path: $['a']`.
        message: String,
    },
    /// A ResultPath-style assignment could not be applied.
    #[error("{message}")]
    Assign {
        /// The path as written.
        path: String,
        /// What prevented the assignment.
        message: String,
    },
    /// A path function (`.min()`, `.avg()`, ...) failed.
    #[error("{message}")]
    Function {
        /// The path as written.
        path: String,
        /// Jayway-style explanation.
        message: String,
    },
}

#[derive(Debug, Clone)]
enum Segment {
    Child(Selector),
    Descendant(Selector),
    Function(PathFunction),
}

#[derive(Debug, Clone)]
enum Selector {
    Name(String),
    Names(Vec<String>),
    Index(i64),
    Indexes(Vec<i64>),
    Slice(Option<i64>, Option<i64>),
    Wildcard,
    Filter(Box<Expr>),
}

impl Path {
    /// Parses `$...`, `$$...` or `$name...` path text. Whitespace around the path is ignored,
    /// as Jayway JsonPath (which AWS runs) trims it before compiling: deployed definitions
    /// contain paths such as `"$$.Execution.Name "`.
    pub fn parse(original: &str) -> Result<Path, PathError> {
        let text = original.trim();
        // Source: an AWS sample deployed with SAM has the Choice Variable "$.flag.Payload.";
        // AWS creates it, and Jayway refuses to compile it when it runs. So it loads, and
        // evaluating it fails with Jayway's message (States.Runtime).
        if let Some(stripped) = text.strip_suffix('.')
            && stripped.len() > 1
            && !stripped.ends_with('.')
        {
            let mut path = Path::parse(stripped)?;
            path.text = original.to_string();
            path.unusable = Some(Box::new(PathError::Syntax {
                text: text.to_string(),
                position: text.len() - 1,
                message: "Path must not end with a '.' or '..'".to_string(),
            }));
            return Ok(path);
        }
        let mut p = Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            deferred: None,
        };
        if !text.starts_with('$') {
            return Err(p.error("a path must start with '$'"));
        }
        p.pos = 1;
        let root = if p.peek() == Some(b'$') {
            p.pos += 1;
            Root::Context
        } else if p.peek().is_some_and(|b| b != b'.' && b != b'[') {
            let start = p.pos;
            while let Some(c) = p.peek_char() {
                if c.is_alphanumeric() || c == '_' {
                    p.pos += c.len_utf8();
                } else {
                    break;
                }
            }
            if p.pos == start {
                return Err(p.error("expected '.', '[' or a variable name after '$'"));
            }
            Root::Variable(text[start..p.pos].to_string())
        } else {
            Root::Input
        };
        let segments = p.segments(false, 0)?;
        if p.pos != p.bytes.len() {
            return Err(p.error("unexpected character"));
        }
        let single = is_single(&segments);
        Ok(Path {
            root,
            segments,
            text: original.to_string(),
            single,
            unusable: p.deferred.map(Box::new),
        })
    }

    /// Jayway-style rendering (`$['a'][0]`) used in error messages; built only when one is.
    fn canonical(&self) -> String {
        let mut canonical = String::from("$");
        render_segments(&self.segments, &mut canonical);
        canonical
    }

    /// Where the path starts reading.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The path exactly as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True when the path names at most one node (an ASL "reference path").
    pub fn is_definite(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Child(Selector::Name(_) | Selector::Index(_))))
    }

    /// True for the bare root (`$`, `$$`, `$var`).
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Borrowing lookup for definite paths; `None` when a step is missing or the path is indefinite.
    pub fn get<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        if self.unusable.is_some() {
            return None;
        }
        let mut current = root;
        for segment in &self.segments {
            current = match (segment, current) {
                (Segment::Child(Selector::Name(name)), Value::Object(map)) => map.get(name)?,
                (Segment::Child(Selector::Index(index)), Value::Array(items)) => {
                    items.get(resolve_index(*index, items.len())?)?
                }
                _ => return None,
            };
        }
        Some(current)
    }

    /// Jayway semantics: a definite path yields its value or [`PathError::NoMatch`]; an indefinite one a JSON array of all matches.
    pub fn select(&self, root: &Value) -> Result<Value, PathError> {
        if let Some(error) = &self.unusable {
            return Err((**error).clone());
        }
        if self.single {
            // Fast path without the bookkeeping that only error messages need.
            if let Some(found) = self.get(root) {
                return Ok(found.clone());
            }
            self.select_single(root)
        } else {
            let mut found = Vec::new();
            collect(&self.segments, root, root, &mut found, 0);
            Ok(Value::Array(found))
        }
    }

    /// Puts `value` at this definite path inside `target`, creating missing intermediate objects; `$` replaces `target`.
    pub fn assign(&self, target: &mut Value, value: Value) -> Result<(), PathError> {
        if !self.is_definite() {
            return Err(PathError::Assign {
                path: self.text.clone(),
                message: format!(
                    "The path '{}' is not a reference path: it must name a single node",
                    self.text
                ),
            });
        }
        let Some((last, intermediate)) = self.segments.split_last() else {
            *target = value;
            return Ok(());
        };
        // Checked up front so a failed assignment leaves `target` untouched.
        if !self.assignable(target) {
            return Err(PathError::Assign {
                path: self.text.clone(),
                message: format!(
                    "Unable to apply ReferencePath {} to input {}",
                    self.text,
                    to_compact_json(target)
                ),
            });
        }
        let mut current = target;
        for segment in intermediate {
            current = match (segment, current) {
                (Segment::Child(Selector::Name(name)), Value::Object(map)) => map
                    .entry(name.clone())
                    .or_insert_with(|| Value::Object(Map::new())),
                (Segment::Child(Selector::Index(index)), Value::Array(items)) => {
                    let len = items.len();
                    match resolve_index(*index, len).and_then(|i| items.get_mut(i)) {
                        Some(item) => item,
                        None => return Err(self.unassignable()),
                    }
                }
                _ => return Err(self.unassignable()),
            };
        }
        match (last, current) {
            (Segment::Child(Selector::Name(name)), Value::Object(map)) => {
                map.insert(name.clone(), value);
                Ok(())
            }
            (Segment::Child(Selector::Index(index)), Value::Array(items)) => {
                let len = items.len();
                match resolve_index(*index, len).and_then(|i| items.get_mut(i)) {
                    Some(slot) => {
                        *slot = value;
                        Ok(())
                    }
                    None => Err(self.unassignable()),
                }
            }
            _ => Err(self.unassignable()),
        }
    }

    fn unassignable(&self) -> PathError {
        PathError::Assign {
            path: self.text.clone(),
            message: format!("Unable to apply ReferencePath {}", self.text),
        }
    }

    /// Dry run of [`Path::assign`] so that errors never leave half-created objects behind.
    fn assignable(&self, target: &Value) -> bool {
        let mut current = Some(target);
        let last = self.segments.len().saturating_sub(1);
        for (i, segment) in self.segments.iter().enumerate() {
            let Some(node) = current else {
                // Everything below a freshly created object is creatable too,
                // except array indexes, which cannot be invented.
                return self.segments[i..]
                    .iter()
                    .all(|s| matches!(s, Segment::Child(Selector::Name(_))));
            };
            current = match (segment, node) {
                (Segment::Child(Selector::Name(name)), Value::Object(map)) => map.get(name),
                (Segment::Child(Selector::Index(index)), Value::Array(items)) => {
                    match resolve_index(*index, items.len()) {
                        Some(i) => items.get(i),
                        None => return false,
                    }
                }
                _ => return false,
            };
            if i == last {
                return true;
            }
        }
        true
    }

    fn no_match(&self, message: String) -> PathError {
        PathError::NoMatch {
            path: self.text.clone(),
            message,
        }
    }

    /// Walks a Jayway-definite path, producing Jayway's error messages on the way.
    fn select_single(&self, root: &Value) -> Result<Value, PathError> {
        let mut current = root;
        let mut walked = String::from("$");
        let last = self.segments.len().saturating_sub(1);
        for (i, segment) in self.segments.iter().enumerate() {
            let leaf = i == last;
            match segment {
                Segment::Child(Selector::Name(name)) => {
                    let Value::Object(map) = current else {
                        return Err(self.no_match(format!(
                            "Expected to find an object with property ['{name}'] in path {walked} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonProvider'.",
                            java_class(current)
                        )));
                    };
                    let _ = write!(walked, "['{name}']");
                    match map.get(name) {
                        Some(v) => current = v,
                        None if leaf => {
                            return Err(
                                self.no_match(format!("No results for path: {}", self.canonical()))
                            );
                        }
                        None => {
                            return Err(self.no_match(format!("Missing property in path {walked}")));
                        }
                    }
                }
                Segment::Child(Selector::Index(index)) => {
                    let items = match current {
                        Value::Array(items) => items,
                        Value::Null => {
                            return Err(self.no_match(format!("The path {walked} is null")));
                        }
                        other => {
                            return Err(self.no_match(format!(
                                "Filter: [{index}] can only be applied to arrays. Current context is: {}",
                                to_compact_json(other)
                            )));
                        }
                    };
                    let _ = write!(walked, "[{index}]");
                    match resolve_index(*index, items.len()).and_then(|i| items.get(i)) {
                        Some(v) => current = v,
                        None => {
                            return Err(
                                self.no_match(format!("No results for path: {}", self.canonical()))
                            );
                        }
                    }
                }
                Segment::Child(Selector::Names(names)) => {
                    // Only reachable as the leaf: Jayway merges the named properties.
                    let Value::Object(map) = current else {
                        return Err(self.no_match(format!(
                            "Expected to find an object with property {} in path {walked} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonProvider'.",
                            render_names(names),
                            java_class(current)
                        )));
                    };
                    return Ok(merge_names(map, names));
                }
                Segment::Function(function) => {
                    return apply_function(*function, current).map_err(|message| {
                        PathError::Function {
                            path: self.text.clone(),
                            message,
                        }
                    });
                }
                Segment::Child(_) | Segment::Descendant(_) => {
                    // `single` excludes these; fall back to the general evaluator.
                    let mut found = Vec::new();
                    collect(&self.segments, root, root, &mut found, 0);
                    return Ok(Value::Array(found));
                }
            }
        }
        Ok(current.clone())
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Path {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Path::parse(s)
    }
}

/// Jayway: a path is definite when every token is; a name union only counts at the leaf.
fn is_single(segments: &[Segment]) -> bool {
    let last = segments.len().saturating_sub(1);
    segments.iter().enumerate().all(|(i, s)| match s {
        Segment::Child(Selector::Name(_) | Selector::Index(_)) | Segment::Function(_) => true,
        Segment::Child(Selector::Names(_)) => i == last,
        _ => false,
    })
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    if index >= 0 {
        let i = usize::try_from(index).ok()?;
        (i < len).then_some(i)
    } else {
        let back = usize::try_from(index.unsigned_abs()).ok()?;
        len.checked_sub(back)
    }
}

fn merge_names(map: &Map<String, Value>, names: &[String]) -> Value {
    let mut merged = Map::new();
    for name in names {
        if let Some(v) = map.get(name) {
            merged.insert(name.clone(), v.clone());
        }
    }
    Value::Object(merged)
}

/// Compares two JSON numbers exactly when both are integers, else as doubles.
pub(crate) fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Serializes like Jackson: compact, non-ASCII kept, doubles in Java notation.
pub(crate) fn to_compact_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&java_number(n)),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_json(v, out);
            }
            out.push('}');
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Renders a number as Java would: integers plainly, doubles like `Double.toString`.
pub(crate) fn java_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    match n.as_f64() {
        Some(f) => java_double(f),
        None => n.to_string(),
    }
}

/// `Double.toString`: plain between 1e-3 and 1e7, otherwise `d.dddE±n`, always with a fraction digit.
pub(crate) fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let plain = format!("{f}");
        return if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        };
    }
    let sci = format!("{f:e}");
    match sci.split_once('e') {
        Some((mantissa, exponent)) => {
            let mantissa = if mantissa.contains('.') {
                mantissa.to_string()
            } else {
                format!("{mantissa}.0")
            };
            format!("{mantissa}E{exponent}")
        }
        None => sci,
    }
}

#[cfg(test)]
mod tests;
