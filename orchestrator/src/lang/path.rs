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

use std::cmp::Ordering;
use std::fmt::Write as _;

use regex::Regex;
use serde_json::{Map, Number, Value};

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
    /// Jayway-style rendering (`$['a'][0]`) used in error messages.
    canonical: String,
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum PathFunction {
    Length,
    Min,
    Max,
    Avg,
    Stddev,
    Sum,
    Keys,
    First,
    Last,
    Index(i64),
}

#[derive(Debug, Clone)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Exists(Operand),
    Compare(Operand, CmpOp, Operand),
    Constant(bool),
}

#[derive(Debug, Clone)]
enum Operand {
    /// `@...`: relative to the item being filtered.
    Current(Vec<Segment>, bool),
    /// `$...`: relative to the document root.
    Document(Vec<Segment>, bool),
    Literal(Value),
    Pattern(Regex),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Matches,
    In,
    Nin,
    SubsetOf,
    AnyOf,
    NoneOf,
    Size,
    Empty,
    Contains,
}

impl Path {
    /// Parses `$...`, `$$...` or `$name...` path text.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        let mut p = Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
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
        let mut canonical = String::from("$");
        render_segments(&segments, &mut canonical);
        Ok(Path {
            root,
            segments,
            text: text.to_string(),
            single,
            canonical,
        })
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
                                self.no_match(format!("No results for path: {}", self.canonical))
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
                                self.no_match(format!("No results for path: {}", self.canonical))
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

/// Evaluates `segments` against `node`, appending every match to `out` in document order.
fn collect(segments: &[Segment], node: &Value, doc: &Value, out: &mut Vec<Value>, depth: usize) {
    let Some((last, upstream)) = segments.split_last() else {
        out.push(node.clone());
        return;
    };
    let mut current = vec![node];
    for segment in upstream {
        let mut next = Vec::new();
        for item in current {
            step(segment, item, doc, &mut next, depth);
        }
        current = next;
    }
    match last {
        Segment::Function(function) => {
            for item in current {
                // Jayway aborts on function errors; in a list context we skip the item instead.
                if let Ok(v) = apply_function(*function, item) {
                    out.push(v);
                }
            }
        }
        Segment::Child(Selector::Names(names)) => {
            for item in current {
                if let Value::Object(map) = item {
                    out.push(merge_names(map, names));
                }
            }
        }
        _ => {
            let mut matched = Vec::new();
            for item in current {
                step(last, item, doc, &mut matched, depth);
            }
            out.extend(matched.into_iter().cloned());
        }
    }
}

/// Applies one navigation segment to `node`.
fn step<'a>(
    segment: &Segment,
    node: &'a Value,
    doc: &'a Value,
    out: &mut Vec<&'a Value>,
    depth: usize,
) {
    match segment {
        Segment::Child(selector) => select_children(selector, node, doc, out, depth),
        Segment::Descendant(selector) => {
            // Explicit stack: input documents may be deeper than the call stack allows.
            let mut stack = vec![node];
            while let Some(current) = stack.pop() {
                match selector {
                    // Jayway's scan only looks for names inside objects.
                    Selector::Name(name) => {
                        if let Value::Object(map) = current
                            && let Some(v) = map.get(name)
                        {
                            out.push(v);
                        }
                    }
                    // Jayway's scan tests a filter against each object it visits, so
                    // array elements are not tested twice (once via their array).
                    Selector::Filter(expr) => {
                        if matches!(current, Value::Object(_)) && expr.test(current, doc, depth) {
                            out.push(current);
                        }
                    }
                    _ => select_children(selector, current, doc, out, depth),
                }
                match current {
                    Value::Object(map) => stack.extend(map.values().rev()),
                    Value::Array(items) => stack.extend(items.iter().rev()),
                    _ => {}
                }
            }
        }
        Segment::Function(_) => {}
    }
}

fn select_children<'a>(
    selector: &Selector,
    node: &'a Value,
    doc: &'a Value,
    out: &mut Vec<&'a Value>,
    depth: usize,
) {
    match (selector, node) {
        (Selector::Name(name), Value::Object(map)) => out.extend(map.get(name)),
        (Selector::Names(names), Value::Object(map)) => {
            out.extend(names.iter().filter_map(|n| map.get(n)));
        }
        (Selector::Index(index), Value::Array(items)) => {
            out.extend(resolve_index(*index, items.len()).and_then(|i| items.get(i)));
        }
        (Selector::Indexes(indexes), Value::Array(items)) => out.extend(
            indexes
                .iter()
                .filter_map(|i| resolve_index(*i, items.len()).and_then(|i| items.get(i))),
        ),
        (Selector::Slice(from, to), Value::Array(items)) => {
            for i in slice_indexes(*from, *to, items.len()) {
                out.extend(resolve_index(i, items.len()).and_then(|i| items.get(i)));
            }
        }
        (Selector::Wildcard, Value::Object(map)) => out.extend(map.values()),
        (Selector::Wildcard, Value::Array(items)) => out.extend(items.iter()),
        (Selector::Filter(expr), Value::Array(items)) => {
            out.extend(items.iter().filter(|item| expr.test(item, doc, depth)));
        }
        // Jayway applies a filter to an object by testing the object itself.
        (Selector::Filter(expr), Value::Object(_)) if expr.test(node, doc, depth) => {
            out.push(node);
        }
        _ => {}
    }
}

/// Jayway's slice rules: no step, and a negative start of `[from:to]` wraps element by element.
fn slice_indexes(from: Option<i64>, to: Option<i64>, len: usize) -> Vec<i64> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    match (from, to) {
        (Some(from), None) => {
            let from = if from < 0 { (len + from).max(0) } else { from };
            (from..len).collect()
        }
        (None, Some(to)) => {
            let to = if to < 0 { len + to } else { to };
            (0..to.min(len)).collect()
        }
        (Some(from), Some(to)) => {
            let to = to.min(len);
            if from >= to || len == 0 {
                Vec::new()
            } else {
                (from..to).collect()
            }
        }
        (None, None) => Vec::new(),
    }
}

fn apply_function(function: PathFunction, node: &Value) -> Result<Value, String> {
    let numbers = |node: &Value| -> Result<Vec<f64>, String> {
        let values: Vec<f64> = match node {
            Value::Array(items) => items.iter().filter_map(Value::as_f64).collect(),
            _ => Vec::new(),
        };
        if values.is_empty() {
            Err("Aggregation function attempted to calculate value using empty array".to_string())
        } else {
            Ok(values)
        }
    };
    let float = |f: f64| Number::from_f64(f).map_or(Value::Null, Value::Number);
    Ok(match function {
        PathFunction::Length => match node {
            Value::Array(items) => Value::from(items.len()),
            Value::Object(map) => Value::from(map.len()),
            _ => Value::Null,
        },
        PathFunction::Min => float(numbers(node)?.into_iter().fold(f64::INFINITY, f64::min)),
        PathFunction::Max => float(numbers(node)?.into_iter().fold(f64::NEG_INFINITY, f64::max)),
        PathFunction::Sum => float(numbers(node)?.into_iter().sum()),
        PathFunction::Avg => {
            let values = numbers(node)?;
            float(values.iter().sum::<f64>() / values.len() as f64)
        }
        PathFunction::Stddev => {
            let values = numbers(node)?;
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let square_mean = values.iter().map(|v| v * v).sum::<f64>() / n;
            float((square_mean - mean * mean).max(0.0).sqrt())
        }
        PathFunction::Keys => match node {
            Value::Object(map) => Value::Array(map.keys().cloned().map(Value::String).collect()),
            _ => Value::Null,
        },
        PathFunction::First => match node {
            Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        },
        PathFunction::Last => match node {
            Value::Array(items) => items.last().cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        },
        PathFunction::Index(index) => match node {
            Value::Array(items) => resolve_index(index, items.len())
                .and_then(|i| items.get(i))
                .cloned()
                .unwrap_or(Value::Null),
            _ => Value::Null,
        },
    })
}

impl Expr {
    fn test(&self, item: &Value, doc: &Value, depth: usize) -> bool {
        match self {
            Expr::Or(a, b) => a.test(item, doc, depth) || b.test(item, doc, depth),
            Expr::And(a, b) => a.test(item, doc, depth) && b.test(item, doc, depth),
            Expr::Not(e) => !e.test(item, doc, depth),
            Expr::Constant(b) => *b,
            Expr::Exists(operand) => operand.resolve(item, doc, depth + 1).is_some(),
            Expr::Compare(left, op, right) => {
                let l = left.resolve(item, doc, depth + 1);
                let r = right.resolve(item, doc, depth + 1);
                compare(l.as_ref(), *op, r.as_ref(), right)
            }
        }
    }
}

impl Operand {
    /// The operand's value; `None` when a path is missing (Jayway's "undefined").
    fn resolve(&self, item: &Value, doc: &Value, depth: usize) -> Option<Value> {
        let (segments, single, start) = match self {
            Operand::Current(s, single) => (s, *single, item),
            Operand::Document(s, single) => (s, *single, doc),
            Operand::Literal(v) => return Some(v.clone()),
            Operand::Pattern(_) => return None,
        };
        let mut found = Vec::new();
        collect(segments, start, doc, &mut found, depth);
        if single {
            found.into_iter().next()
        } else {
            Some(Value::Array(found))
        }
    }
}

fn compare(
    left: Option<&Value>,
    op: CmpOp,
    right: Option<&Value>,
    right_operand: &Operand,
) -> bool {
    match op {
        CmpOp::Eq => loose_eq(left, right),
        CmpOp::Ne => !loose_eq(left, right),
        CmpOp::Lt => ordering(left, right).is_some_and(Ordering::is_lt),
        CmpOp::Le => ordering(left, right).is_some_and(Ordering::is_le),
        CmpOp::Gt => ordering(left, right).is_some_and(Ordering::is_gt),
        CmpOp::Ge => ordering(left, right).is_some_and(Ordering::is_ge),
        CmpOp::Matches => {
            let Operand::Pattern(regex) = right_operand else {
                return false;
            };
            let input = match left {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                _ => String::new(),
            };
            regex.is_match(&input)
        }
        CmpOp::In | CmpOp::Nin => {
            let found = match right {
                Some(Value::Array(items)) => items.iter().any(|v| loose_eq(left, Some(v))),
                _ => return false,
            };
            found == (op == CmpOp::In)
        }
        CmpOp::SubsetOf => match (left, right) {
            (Some(Value::Array(l)), Some(Value::Array(r))) => l
                .iter()
                .all(|a| r.iter().any(|b| loose_eq(Some(a), Some(b)))),
            _ => false,
        },
        CmpOp::AnyOf => match (left, right) {
            (Some(Value::Array(l)), Some(Value::Array(r))) => l
                .iter()
                .any(|a| r.iter().any(|b| loose_eq(Some(a), Some(b)))),
            _ => false,
        },
        CmpOp::NoneOf => match (left, right) {
            (Some(Value::Array(l)), Some(Value::Array(r))) => !l
                .iter()
                .any(|a| r.iter().any(|b| loose_eq(Some(a), Some(b)))),
            _ => false,
        },
        CmpOp::Size => {
            let expected = right.and_then(Value::as_u64);
            let actual = match left {
                Some(Value::Array(items)) => Some(items.len()),
                Some(Value::String(s)) => Some(s.encode_utf16().count()),
                _ => None,
            };
            matches!((actual, expected), (Some(a), Some(e)) if a as u64 == e)
        }
        CmpOp::Empty => {
            let empty = match left {
                Some(Value::Array(items)) => items.is_empty(),
                Some(Value::String(s)) => s.is_empty(),
                _ => return false,
            };
            right.and_then(Value::as_bool) == Some(empty)
        }
        CmpOp::Contains => match (left, right) {
            (Some(Value::Array(items)), r) => items.iter().any(|v| loose_eq(Some(v), r)),
            (Some(Value::String(s)), Some(Value::String(needle))) => s.contains(needle.as_str()),
            _ => false,
        },
    }
}

/// Jayway's equality: numbers compare by value, and a number equals a string spelling it.
fn loose_eq(left: Option<&Value>, right: Option<&Value>) -> bool {
    let (Some(l), Some(r)) = (left, right) else {
        return false;
    };
    match (l, r) {
        (Value::Number(a), Value::Number(b)) => number_cmp(a, b) == Some(Ordering::Equal),
        (Value::Number(a), Value::String(b)) => b
            .trim()
            .parse::<f64>()
            .ok()
            .zip(a.as_f64())
            .is_some_and(|(b, a)| a == b),
        (Value::String(a), Value::Number(b)) => *a == b.to_string(),
        _ => l == r,
    }
}

fn ordering(left: Option<&Value>, right: Option<&Value>) -> Option<Ordering> {
    match (left?, right?) {
        (Value::Number(a), Value::Number(b)) => number_cmp(a, b),
        // Java compares strings by UTF-16 code units.
        (Value::String(a), Value::String(b)) => Some(a.encode_utf16().cmp(b.encode_utf16())),
        _ => None,
    }
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

fn java_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(n) if n.is_f64() => "java.lang.Double",
        Value::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => {
            "java.lang.Integer"
        }
        Value::Number(_) => "java.lang.Long",
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.LinkedHashMap",
    }
}

fn render_names(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("[{}]", quoted.join(","))
}

fn render_segments(segments: &[Segment], out: &mut String) {
    for segment in segments {
        match segment {
            Segment::Child(selector) => render_selector(selector, out),
            Segment::Descendant(selector) => {
                out.push_str("..");
                render_selector(selector, out);
            }
            Segment::Function(function) => {
                let _ = write!(out, ".{}", function_name(*function));
            }
        }
    }
}

fn render_selector(selector: &Selector, out: &mut String) {
    match selector {
        Selector::Name(n) => {
            let _ = write!(out, "['{n}']");
        }
        Selector::Names(ns) => out.push_str(&render_names(ns)),
        Selector::Index(i) => {
            let _ = write!(out, "[{i}]");
        }
        Selector::Indexes(is) => {
            let parts: Vec<String> = is.iter().map(i64::to_string).collect();
            let _ = write!(out, "[{}]", parts.join(","));
        }
        Selector::Slice(from, to) => {
            let f = from.map(|v| v.to_string()).unwrap_or_default();
            let t = to.map(|v| v.to_string()).unwrap_or_default();
            let _ = write!(out, "[{f}:{t}]");
        }
        Selector::Wildcard => out.push_str("[*]"),
        Selector::Filter(_) => out.push_str("[?]"),
    }
}

fn function_name(function: PathFunction) -> String {
    match function {
        PathFunction::Length => "length()".into(),
        PathFunction::Min => "min()".into(),
        PathFunction::Max => "max()".into(),
        PathFunction::Avg => "avg()".into(),
        PathFunction::Stddev => "stddev()".into(),
        PathFunction::Sum => "sum()".into(),
        PathFunction::Keys => "keys()".into(),
        PathFunction::First => "first()".into(),
        PathFunction::Last => "last()".into(),
        PathFunction::Index(i) => format!("index({i})"),
    }
}

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> PathError {
        PathError::Syntax {
            text: self.text.to_string(),
            position: self.pos,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn peek_char(&self) -> Option<char> {
        self.text.get(self.pos..)?.chars().next()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), PathError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// Parses segments until the text ends or, inside a filter, a character that cannot continue a path.
    fn segments(&mut self, in_filter: bool, depth: usize) -> Result<Vec<Segment>, PathError> {
        let mut segments = Vec::new();
        while let Some(b) = self.peek() {
            if matches!(segments.last(), Some(Segment::Function(_))) {
                if in_filter {
                    break;
                }
                return Err(self.error("a function must be the last step of a path"));
            }
            match b {
                b'.' if self.peek_at(1) == Some(b'.') => {
                    self.pos += 2;
                    let selector = match self.peek() {
                        Some(b'[') => self.bracket(depth)?,
                        Some(b'*') => self.star()?,
                        Some(b'.') | None => {
                            return Err(
                                self.error("a path must not end with '..' or contain '...'")
                            );
                        }
                        _ => match self.dot_name(in_filter)? {
                            DotName::Name(n) => Selector::Name(n),
                            DotName::Function(_) => {
                                return Err(self.error("a function cannot follow '..'"));
                            }
                        },
                    };
                    segments.push(Segment::Descendant(selector));
                }
                b'.' => {
                    self.pos += 1;
                    match self.peek() {
                        None => return Err(self.error("a path must not end with '.'")),
                        Some(b'[') => segments.push(Segment::Child(self.bracket(depth)?)),
                        Some(b'*') => segments.push(Segment::Child(self.star()?)),
                        _ => match self.dot_name(in_filter)? {
                            DotName::Name(n) => segments.push(Segment::Child(Selector::Name(n))),
                            DotName::Function(f) => segments.push(Segment::Function(f)),
                        },
                    }
                }
                b'[' => segments.push(Segment::Child(self.bracket(depth)?)),
                _ if in_filter => break,
                _ => return Err(self.error("expected '.' or '['")),
            }
        }
        Ok(segments)
    }

    fn star(&mut self) -> Result<Selector, PathError> {
        self.pos += 1;
        match self.peek() {
            None | Some(b'.' | b'[') => Ok(Selector::Wildcard),
            Some(b) if b.is_ascii_whitespace() || b"()<>=!~&|,]".contains(&b) => {
                Ok(Selector::Wildcard)
            }
            _ => Err(self.error("unexpected character after '*'")),
        }
    }

    fn dot_name(&mut self, in_filter: bool) -> Result<DotName, PathError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b'.' || b == b'[' || b == b'(' {
                break;
            }
            if b == b' ' && !in_filter {
                return Err(self.error(
                    "use bracket notation ['my prop'] if a property contains blank characters",
                ));
            }
            if in_filter && (b.is_ascii_whitespace() || b")<>=!~&|,]".contains(&b)) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected a property name"));
        }
        let name = &self.text[start..self.pos];
        if self.peek() != Some(b'(') {
            return Ok(DotName::Name(name.to_string()));
        }
        self.pos += 1;
        let args_start = self.pos;
        while self.peek().is_some_and(|b| b != b')') {
            self.pos += 1;
        }
        if self.peek().is_none() {
            return Err(self.error("unterminated function call"));
        }
        let args = self.text[args_start..self.pos].trim();
        self.pos += 1;
        let function = match (name, args) {
            ("length", "") => PathFunction::Length,
            ("min", "") => PathFunction::Min,
            ("max", "") => PathFunction::Max,
            ("avg", "") => PathFunction::Avg,
            ("stddev", "") => PathFunction::Stddev,
            ("sum", "") => PathFunction::Sum,
            ("keys", "") => PathFunction::Keys,
            ("first", "") => PathFunction::First,
            ("last", "") => PathFunction::Last,
            ("index", n) => PathFunction::Index(
                n.parse()
                    .map_err(|_| self.error("index() takes one integer argument"))?,
            ),
            _ => {
                return Err(self.error(&format!(
                    "Function with name: {name} does not exist or has the wrong arguments."
                )));
            }
        };
        Ok(DotName::Function(function))
    }

    fn bracket(&mut self, depth: usize) -> Result<Selector, PathError> {
        self.pos += 1;
        self.skip_ws();
        let selector = match self.peek() {
            Some(quote @ (b'\'' | b'"')) => {
                let mut names = vec![self.raw_quoted(quote)?];
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => {
                            self.pos += 1;
                            self.skip_ws();
                            match self.peek() {
                                Some(q @ (b'\'' | b'"')) => names.push(self.raw_quoted(q)?),
                                _ => return Err(self.error("expected a quoted property name")),
                            }
                        }
                        _ => break,
                    }
                }
                if names.len() == 1 {
                    Selector::Name(names.remove(0))
                } else {
                    Selector::Names(names)
                }
            }
            Some(b'*') => {
                self.pos += 1;
                Selector::Wildcard
            }
            Some(b'?') => {
                self.pos += 1;
                self.expect(b'(', "expected '(' after '?'")?;
                let expr = self.or_expr(depth + 1)?;
                self.expect(b')', "expected ')' to close the filter")?;
                Selector::Filter(Box::new(expr))
            }
            Some(b) if b.is_ascii_digit() || b == b'-' || b == b':' => self.indexes()?,
            _ => return Err(self.error("unexpected character after '['")),
        };
        self.expect(b']', "expected ']'")?;
        Ok(selector)
    }

    /// A quoted bracket name, taken verbatim: AWS's Jayway skips escaped quotes but keeps the backslash.
    fn raw_quoted(&mut self, quote: u8) -> Result<String, PathError> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == quote {
                let name = self.text[start..self.pos].to_string();
                self.pos += 1;
                return Ok(name);
            }
            self.pos += 1;
        }
        Err(self.error("unterminated quoted property name"))
    }

    fn indexes(&mut self) -> Result<Selector, PathError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_digit() || b"-:, ".contains(&b))
        {
            self.pos += 1;
        }
        let body = self.text[start..self.pos].trim();
        let int = |s: &str| -> Result<Option<i64>, PathError> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<i64>()
                .map(Some)
                .map_err(|_| self.error(&format!("invalid array index '{s}'")))
        };
        if body.contains(':') {
            if body.contains([',', ' ']) {
                return Err(self.error(&format!("Failed to parse SliceOperation: {body}")));
            }
            // Jayway reads only `from:to`; a third part (a step) is accepted and ignored.
            let mut parts = body.split(':');
            let from = int(parts.next().unwrap_or(""))?;
            let to = int(parts.next().unwrap_or(""))?;
            for extra in parts {
                int(extra)?;
            }
            if from.is_none() && to.is_none() {
                return Err(self.error(&format!("Failed to parse SliceOperation: {body}")));
            }
            return Ok(Selector::Slice(from, to));
        }
        let mut indexes = Vec::new();
        for part in body.split(',') {
            match int(part)? {
                Some(i) => indexes.push(i),
                None => return Err(self.error("empty array index")),
            }
        }
        if indexes.len() == 1 {
            Ok(Selector::Index(indexes[0]))
        } else {
            Ok(Selector::Indexes(indexes))
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), PathError> {
        if depth > MAX_DEPTH {
            Err(self.error(&format!("nesting deeper than {MAX_DEPTH} levels")))
        } else {
            Ok(())
        }
    }

    fn or_expr(&mut self, depth: usize) -> Result<Expr, PathError> {
        self.check_depth(depth)?;
        let mut left = self.and_expr(depth)?;
        loop {
            self.skip_ws();
            if self.bytes[self.pos..].starts_with(b"||") {
                self.pos += 2;
                let right = self.and_expr(depth)?;
                left = Expr::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn and_expr(&mut self, depth: usize) -> Result<Expr, PathError> {
        let mut left = self.unary(depth)?;
        loop {
            self.skip_ws();
            if self.bytes[self.pos..].starts_with(b"&&") {
                self.pos += 2;
                let right = self.unary(depth)?;
                left = Expr::And(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, PathError> {
        self.check_depth(depth)?;
        self.skip_ws();
        match self.peek() {
            Some(b'!') if self.peek_at(1) != Some(b'=') => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some(b'(') => {
                self.pos += 1;
                let inner = self.or_expr(depth + 1)?;
                self.expect(b')', "expected ')'")?;
                Ok(inner)
            }
            _ => self.relation(depth),
        }
    }

    fn relation(&mut self, depth: usize) -> Result<Expr, PathError> {
        let left = self.operand(depth)?;
        self.skip_ws();
        let Some(op) = self.operator() else {
            return match left {
                Operand::Current(..) | Operand::Document(..) => Ok(Expr::Exists(left)),
                Operand::Literal(Value::Bool(b)) => Ok(Expr::Constant(b)),
                _ => Err(self.error("expected a comparison operator")),
            };
        };
        self.skip_ws();
        let right = self.operand(depth)?;
        if op == CmpOp::Matches && !matches!(right, Operand::Pattern(_)) {
            return Err(self.error("'=~' needs a /regular expression/ on its right"));
        }
        Ok(Expr::Compare(left, op, right))
    }

    fn operator(&mut self) -> Option<CmpOp> {
        const SYMBOLS: [(&str, CmpOp); 7] = [
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("=~", CmpOp::Matches),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
        ];
        const WORDS: [(&str, CmpOp); 8] = [
            ("nin", CmpOp::Nin),
            ("in", CmpOp::In),
            ("subsetof", CmpOp::SubsetOf),
            ("anyof", CmpOp::AnyOf),
            ("noneof", CmpOp::NoneOf),
            ("size", CmpOp::Size),
            ("empty", CmpOp::Empty),
            ("contains", CmpOp::Contains),
        ];
        let rest = &self.text[self.pos..];
        for (symbol, op) in SYMBOLS {
            if rest.starts_with(symbol) {
                self.pos += symbol.len();
                return Some(op);
            }
        }
        for (word, op) in WORDS {
            if rest.starts_with(word)
                && !rest[word.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                self.pos += word.len();
                return Some(op);
            }
        }
        None
    }

    fn operand(&mut self, depth: usize) -> Result<Operand, PathError> {
        self.check_depth(depth)?;
        self.skip_ws();
        match self.peek() {
            Some(b'@') => {
                self.pos += 1;
                let segments = self.segments(true, depth + 1)?;
                let single = is_single(&segments);
                Ok(Operand::Current(segments, single))
            }
            Some(b'$') => {
                self.pos += 1;
                let segments = self.segments(true, depth + 1)?;
                let single = is_single(&segments);
                Ok(Operand::Document(segments, single))
            }
            Some(b'/') => self.pattern(),
            _ => Ok(Operand::Literal(self.literal(depth + 1)?)),
        }
    }

    fn pattern(&mut self) -> Result<Operand, PathError> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'/' {
                break;
            }
            self.pos += 1;
        }
        if self.peek() != Some(b'/') {
            return Err(self.error("unterminated regular expression"));
        }
        let body = &self.text[start..self.pos];
        self.pos += 1;
        let mut flags = String::new();
        while let Some(b) = self.peek() {
            if !b.is_ascii_alphabetic() {
                break;
            }
            // Java flags without a Rust counterpart are accepted and ignored.
            if b"imsx".contains(&b) && !flags.contains(b as char) {
                flags.push(b as char);
            }
            self.pos += 1;
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("(?{flags})")
        };
        // Java's Matcher.matches() requires the whole input to match.
        Regex::new(&format!("{flags}^(?:{body})$"))
            .map(Operand::Pattern)
            .map_err(|e| self.error(&format!("invalid regular expression: {e}")))
    }

    /// A filter literal: JSON, but strings may use single quotes as Jayway allows.
    fn literal(&mut self, depth: usize) -> Result<Value, PathError> {
        self.check_depth(depth)?;
        self.skip_ws();
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => self.string_literal(q).map(Value::String),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.literal(depth + 1)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.error("expected ',' or ']' in array literal")),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut map = Map::new();
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                loop {
                    self.skip_ws();
                    let key = match self.peek() {
                        Some(q @ (b'\'' | b'"')) => self.string_literal(q)?,
                        _ => return Err(self.error("expected a quoted key in object literal")),
                    };
                    self.expect(b':', "expected ':' in object literal")?;
                    let value = self.literal(depth + 1)?;
                    map.insert(key, value);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Value::Object(map));
                        }
                        _ => return Err(self.error("expected ',' or '}' in object literal")),
                    }
                }
            }
            Some(b) if b == b'-' || b.is_ascii_digit() => {
                let start = self.pos;
                self.pos += 1;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                {
                    self.pos += 1;
                }
                let text = &self.text[start..self.pos];
                serde_json::from_str::<Number>(text)
                    .map(Value::Number)
                    .map_err(|_| self.error(&format!("invalid number '{text}'")))
            }
            _ => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self.text[self.pos..].starts_with(word) {
                        self.pos += word.len();
                        return Ok(value);
                    }
                }
                Err(self.error("expected a value"))
            }
        }
    }

    /// A quoted filter string; unlike bracket names these honour backslash escapes.
    fn string_literal(&mut self, quote: u8) -> Result<String, PathError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek_char() else {
                return Err(self.error("unterminated string literal"));
            };
            self.pos += c.len_utf8();
            if c as u32 == u32::from(quote) {
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.peek_char() else {
                return Err(self.error("unterminated string literal"));
            };
            self.pos += e.len_utf8();
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{08}'),
                'f' => out.push('\u{0c}'),
                'u' => {
                    let hex = self.text.get(self.pos..self.pos + 4).unwrap_or("");
                    let code = u32::from_str_radix(hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| self.error("invalid \\u escape"))?;
                    self.pos += 4;
                    out.push(code);
                }
                other => out.push(other),
            }
        }
    }
}

enum DotName {
    Name(String),
    Function(PathFunction),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(text: &str) -> Path {
        Path::parse(text).expect("test path parses")
    }

    fn sel(text: &str, doc: &Value) -> Result<Value, PathError> {
        p(text).select(doc)
    }

    fn store() -> Value {
        json!({
            "store": {
                "book": [
                    {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
                    {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
                    {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553", "price": 8.99},
                    {"category": "fiction", "author": "J. R. R. Tolkien", "title": "LOTR", "isbn": "0-395", "price": 22.99}
                ],
                "bicycle": {"color": "red", "price": 19.95}
            },
            "expensive": 10
        })
    }

    #[test]
    fn roots() {
        assert_eq!(p("$").root(), &Root::Input);
        assert!(p("$").is_root());
        assert_eq!(p("$$").root(), &Root::Context);
        assert_eq!(p("$$.Execution.Id").root(), &Root::Context);
        assert_eq!(p("$var").root(), &Root::Variable("var".into()));
        assert!(p("$var").is_root());
        assert_eq!(p("$x.a[0]").root(), &Root::Variable("x".into()));
        assert_eq!(p("$my_var2").root(), &Root::Variable("my_var2".into()));
        assert_eq!(p("$.a").text(), "$.a");
    }

    #[test]
    fn invalid_paths_from_validation_corpus() {
        for bad in [
            ".guid",
            "..guid",
            "()",
            "$...",
            "bug$.library.movies",
            "not a path",
            "ipsum",
            "",
            "$.",
            "$..",
            "$[",
            "$['a'",
            "$[?(@.a]",
            "$.a b",
            "$[:]",
            "$$$",
            "$.a.length().b",
            "$[1,]",
            "$.foo()",
        ] {
            assert!(Path::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn definiteness() {
        for d in [
            "$",
            "$.a",
            "$['a']",
            "$[\"a\"]",
            "$.a[0]",
            "$.books[-2]",
            "$$.Map.Item.Value",
            "$v.a[1].b",
        ] {
            assert!(p(d).is_definite(), "{d} is definite");
        }
        for i in [
            "$[*]",
            "$.*",
            "$..a",
            "$[0,1]",
            "$['a','b']",
            "$[1:]",
            "$[?(@.a)]",
            "$.a.length()",
        ] {
            assert!(!p(i).is_definite(), "{i} is indefinite");
        }
    }

    #[test]
    fn get_borrows() {
        let doc = json!({"a": {"b": [1, 2, {"c": true}]}});
        let path = p("$.a.b[2].c");
        let got = path.get(&doc).expect("present");
        assert!(std::ptr::eq(got, &doc["a"]["b"][2]["c"]));
        assert_eq!(p("$.a.b[-1].c").get(&doc), Some(&json!(true)));
        assert_eq!(p("$.a.x").get(&doc), None);
        assert_eq!(p("$.a.b[9]").get(&doc), None);
        assert_eq!(p("$.a.b[-9]").get(&doc), None);
        assert_eq!(p("$.a.b[*]").get(&doc), None);
        assert_eq!(p("$").get(&doc), Some(&doc));
    }

    #[test]
    fn corpus_array_access() {
        let items: Vec<Value> = (0..=10).map(|i| json!({"item_key": i})).collect();
        let doc = json!({ "items": items });
        assert_eq!(sel("$.items[10]", &doc), Ok(json!({"item_key": 10})));
        let empty = json!({});
        for path in [
            "$.item.items[*]",
            "$.item.items[1:5].itemValue",
            "$.item.items[1:5]",
            "$.item.items[1:]",
            "$.items[1:].itemValue",
            "$.items[1:]",
            "$.items[:1].itemValue",
            "$[*]",
        ] {
            assert_eq!(sel(path, &empty), Ok(json!([])), "{path}");
        }
    }

    #[test]
    fn corpus_error_messages() {
        let doc = json!({"int-literal": 0});
        let err = sel("$.NoSuchOutputPath", &doc).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "No results for path: $['NoSuchOutputPath']"
        );
        assert!(matches!(err, PathError::NoMatch { .. }));
        let err = sel("$.no.such.result.path", &json!({})).expect_err("missing");
        assert_eq!(err.to_string(), "Missing property in path $['no']");
        let err = sel("$.a[3]", &json!({"a": [1]})).expect_err("out of bounds");
        assert_eq!(err.to_string(), "No results for path: $['a'][3]");
        let err = sel("$.a.b", &json!({"a": 5})).expect_err("not an object");
        assert!(err.to_string().starts_with(
            "Expected to find an object with property ['b'] in path $['a'] but found 'java.lang.Integer'"
        ));
    }

    #[test]
    fn corpus_escape_sequence_bracket_name() {
        // ESCAPE_SEQUENCES_JSONPATH: the backslash is kept verbatim in the key.
        let doc = json!({"Test\\\"\"Name\"": "Value\"\\"});
        assert_eq!(sel("$['Test\\\"\"Name\"']", &doc), Ok(json!("Value\"\\")));
    }

    #[test]
    fn names_and_indexes() {
        let doc = json!({"a-b": 1, "a b": 2, "x": [10, 20, 30, 40, 50]});
        assert_eq!(sel("$.a-b", &doc), Ok(json!(1)));
        assert_eq!(sel("$['a b']", &doc), Ok(json!(2)));
        assert_eq!(sel("$[\"a b\"]", &doc), Ok(json!(2)));
        assert_eq!(sel("$.['a b']", &doc), Ok(json!(2)));
        assert_eq!(sel("$.x[-1]", &doc), Ok(json!(50)));
        assert_eq!(sel("$.x[0,2,9]", &doc), Ok(json!([10, 30])));
        assert_eq!(sel("$.x[ 1 ]", &doc), Ok(json!(20)));
        // Jayway merges a trailing name union into one object.
        assert_eq!(
            sel("$['a-b','zz','a b']", &doc),
            Ok(json!({"a-b": 1, "a b": 2}))
        );
    }

    #[test]
    fn slices_follow_jayway() {
        let doc = json!([0, 1, 2, 3, 4]);
        assert_eq!(sel("$[1:3]", &doc), Ok(json!([1, 2])));
        assert_eq!(sel("$[:2]", &doc), Ok(json!([0, 1])));
        assert_eq!(sel("$[-2:]", &doc), Ok(json!([3, 4])));
        assert_eq!(sel("$[:-2]", &doc), Ok(json!([0, 1, 2])));
        assert_eq!(sel("$[3:99]", &doc), Ok(json!([3, 4])));
        assert_eq!(sel("$[-2:1]", &doc), Ok(json!([3, 4, 0])));
        // Jayway ignores a step.
        assert_eq!(sel("$[0:4:2]", &doc), Ok(json!([0, 1, 2, 3])));
        assert_eq!(sel("$[4:1]", &doc), Ok(json!([])));
    }

    #[test]
    fn wildcards_and_descent() {
        let doc = store();
        assert_eq!(
            sel("$.store.book[*].author", &doc),
            Ok(json!([
                "Nigel Rees",
                "Evelyn Waugh",
                "Herman Melville",
                "J. R. R. Tolkien"
            ]))
        );
        assert_eq!(
            sel("$..price", &doc),
            Ok(json!([8.95, 12.99, 8.99, 22.99, 19.95]))
        );
        assert_eq!(
            sel("$.store.*", &doc).map(|v| v.as_array().map(Vec::len)),
            Ok(Some(2))
        );
        assert_eq!(sel("$..book[2].title", &doc), Ok(json!(["Moby Dick"])));
        assert_eq!(sel("$..book[-1:].title", &doc), Ok(json!(["LOTR"])));
        assert_eq!(sel("$.store.bicycle.*", &doc), Ok(json!(["red", 19.95])));
        let nested = json!({"a": {"a": {"a": 1}}});
        assert_eq!(
            sel("$..a", &nested),
            Ok(json!([{"a": {"a": 1}}, {"a": 1}, 1]))
        );
    }

    #[test]
    fn filters() {
        let doc = store();
        assert_eq!(
            sel("$.store.book[?(@.isbn)].title", &doc),
            Ok(json!(["Moby Dick", "LOTR"]))
        );
        assert_eq!(
            sel("$.store.book[?(@.price < 10)].title", &doc),
            Ok(json!(["Sayings", "Moby Dick"]))
        );
        assert_eq!(
            sel("$.store.book[?(@.price <= $.expensive)].title", &doc),
            Ok(json!(["Sayings", "Moby Dick"]))
        );
        assert_eq!(
            sel(
                "$..book[?(@.category == 'fiction' && @.price > 20)].title",
                &doc
            ),
            Ok(json!(["LOTR"]))
        );
        assert_eq!(
            sel(
                "$..book[?(@.price > 20 || @.category == \"reference\")].title",
                &doc
            ),
            Ok(json!(["Sayings", "LOTR"]))
        );
        assert_eq!(
            sel("$..book[?(!@.isbn)].title", &doc),
            Ok(json!(["Sayings", "Sword"]))
        );
        assert_eq!(
            sel("$..book[?(@.author =~ /.*REES/i)].title", &doc),
            Ok(json!(["Sayings"]))
        );
        assert_eq!(
            sel("$..book[?(@.author =~ /Rees/)].title", &doc),
            Ok(json!([])),
            "Java matches() anchors the whole input"
        );
        assert_eq!(
            sel("$..book[?(@.title in ['LOTR', 'Sword'])].price", &doc),
            Ok(json!([12.99, 22.99]))
        );
        assert_eq!(
            sel("$..book[?(@.category nin ['fiction'])].price", &doc),
            Ok(json!([8.95]))
        );
        assert_eq!(
            sel("$..book[?(@.category != 'fiction')].price", &doc),
            Ok(json!([8.95]))
        );
        assert_eq!(
            sel("$..book[?((@.price > 9) && !(@.price > 20))].title", &doc),
            Ok(json!(["Sword"]))
        );
        let nums = json!([{"v": 1}, {"v": 1.0}, {"v": "1"}, {"v": true}, {"v": null}, {}]);
        assert_eq!(sel("$[?(@.v == 1)].v", &nums), Ok(json!([1, 1.0, "1"])));
        assert_eq!(sel("$[?(@.v == null)]", &nums), Ok(json!([{"v": null}])));
        assert_eq!(sel("$[?(@.v == true)]", &nums), Ok(json!([{"v": true}])));
        assert_eq!(
            sel("$[?(@.v)]", &nums).map(|v| v.as_array().map(Vec::len)),
            Ok(Some(5))
        );
        let tags = json!([{"t": [1, 2]}, {"t": []}, {"t": "ab"}]);
        assert_eq!(
            sel("$[?(@.t size 2)]", &tags),
            Ok(json!([{"t": [1, 2]}, {"t": "ab"}]))
        );
        assert_eq!(sel("$[?(@.t empty true)]", &tags), Ok(json!([{"t": []}])));
        assert_eq!(
            sel("$[?(@.t contains 2)]", &tags),
            Ok(json!([{"t": [1, 2]}]))
        );
        assert_eq!(
            sel("$[?(@.t anyof [2, 9])]", &tags),
            Ok(json!([{"t": [1, 2]}]))
        );
        assert_eq!(
            sel("$[?(@.t subsetof [1, 2, 3])]", &tags),
            Ok(json!([{"t": [1, 2]}, {"t": []}]))
        );
        assert_eq!(
            sel("$[?(@.t.length() == 2)]", &tags),
            Ok(json!([{"t": [1, 2]}]))
        );
        // A filter on an object tests the object itself.
        assert_eq!(
            sel("$.a[?(@.b == 1)]", &json!({"a": {"b": 1}})),
            Ok(json!([{"b": 1}]))
        );
    }

    #[test]
    fn functions() {
        let doc = json!({"n": [1, 2, 3, 4], "o": {"x": 1, "y": 2}, "s": "abc"});
        assert_eq!(sel("$.n.length()", &doc), Ok(json!(4)));
        assert_eq!(sel("$.o.length()", &doc), Ok(json!(2)));
        assert_eq!(sel("$.s.length()", &doc), Ok(Value::Null));
        assert_eq!(sel("$.n.sum()", &doc), Ok(json!(10.0)));
        assert_eq!(sel("$.n.min()", &doc), Ok(json!(1.0)));
        assert_eq!(sel("$.n.max()", &doc), Ok(json!(4.0)));
        assert_eq!(sel("$.n.avg()", &doc), Ok(json!(2.5)));
        assert_eq!(sel("$.o.keys()", &doc), Ok(json!(["x", "y"])));
        assert_eq!(sel("$.n.first()", &doc), Ok(json!(1)));
        assert_eq!(sel("$.n.last()", &doc), Ok(json!(4)));
        assert_eq!(sel("$.n.index(-2)", &doc), Ok(json!(3)));
        assert!(sel("$.o.sum()", &doc).is_err());
        assert_eq!(
            sel("$.n.stddev()", &json!({"n": [2, 4, 4, 4, 5, 5, 7, 9]})),
            Ok(json!(2.0))
        );
    }

    #[test]
    fn assign_result_path() {
        let mut doc = json!({"a": 1});
        p("$.b.c").assign(&mut doc, json!(2)).expect("assignable");
        assert_eq!(doc, json!({"a": 1, "b": {"c": 2}}));
        p("$.a").assign(&mut doc, json!("x")).expect("assignable");
        assert_eq!(doc, json!({"a": "x", "b": {"c": 2}}));
        p("$").assign(&mut doc, json!([1])).expect("root");
        assert_eq!(doc, json!([1]));
        p("$[0]")
            .assign(&mut doc, json!(5))
            .expect("existing index");
        assert_eq!(doc, json!([5]));

        let mut doc = json!({"a": "str"});
        let err = p("$.a.b.c")
            .assign(&mut doc, json!(1))
            .expect_err("not an object");
        assert!(err.to_string().contains("$.a.b.c"), "{err}");
        assert_eq!(
            doc,
            json!({"a": "str"}),
            "failed assignment leaves target untouched"
        );
        let mut doc = json!({"a": {}});
        assert!(p("$.a[0]").assign(&mut doc, json!(1)).is_err());
        assert!(p("$.a[*]").assign(&mut doc, json!(1)).is_err());
        let mut doc = json!("scalar");
        assert!(p("$.x").assign(&mut doc, json!(1)).is_err());
    }

    #[test]
    fn context_and_variable_documents() {
        let ctx =
            json!({"Execution": {"Id": "arn"}, "Map": {"Item": {"Value": {"innerJobs": [1]}}}});
        assert_eq!(sel("$$.Execution.Id", &ctx), Ok(json!("arn")));
        assert_eq!(sel("$$.Map.Item.Value.innerJobs", &ctx), Ok(json!([1])));
        assert_eq!(sel("$var.x", &json!({"x": 3})), Ok(json!(3)));
    }

    #[test]
    fn java_number_formatting() {
        assert_eq!(java_double(1.1), "1.1");
        assert_eq!(java_double(2.0), "2.0");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.5e-4), "1.5E-4");
        assert_eq!(java_double(-0.001), "-0.001");
        assert_eq!(java_double(12345678.9), "1.23456789E7");
        assert_eq!(
            to_compact_json(&json!({"a": [1, 2.5, "x\"\u{1}"]})),
            "{\"a\":[1,2.5,\"x\\\"\\u0001\"]}"
        );
    }

    /// Runs `f` on a thread with a deliberately small stack to prove the depth limits leave headroom.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(f)
            .expect("spawn test thread")
            .join()
            .expect("no overflow or panic");
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed() {
        on_small_stack(|| {
            let parens = |n: usize| format!("$[?({}@.a{})]", "(".repeat(n), ")".repeat(n));
            assert!(Path::parse(&parens(MAX_DEPTH - 2)).is_ok());
            assert!(Path::parse(&parens(MAX_DEPTH + 1)).is_err());
            assert!(Path::parse(&parens(10_000)).is_err());
            let nots = |n: usize| format!("$[?({}@.a)]", "!".repeat(n));
            assert!(Path::parse(&nots(MAX_DEPTH - 2)).is_ok());
            assert!(Path::parse(&nots(10_000)).is_err());
            let lists = |n: usize| format!("$[?(@.a in {}1{})]", "[".repeat(n), "]".repeat(n));
            assert!(Path::parse(&lists(MAX_DEPTH - 2)).is_ok());
            assert!(Path::parse(&lists(10_000)).is_err());
            let filters = |n: usize| format!("$.x{}{}", "[?(@.y".repeat(n), ")]".repeat(n));
            let deepest_ok = (1..MAX_DEPTH)
                .take_while(|n| Path::parse(&filters(*n)).is_ok())
                .last();
            assert!(deepest_ok.is_some_and(|n| n >= 8), "{deepest_ok:?}");
            assert!(Path::parse(&filters(5_000)).is_err());
        });
    }

    #[test]
    fn deep_documents_are_walked_without_recursion() {
        let mut doc = json!({"k": 1});
        for _ in 0..50_000 {
            // Not `json!`: it serializes its argument recursively.
            let mut map = Map::new();
            map.insert("a".into(), doc);
            doc = Value::Object(map);
        }
        assert_eq!(sel("$..k", &doc), Ok(json!([1])));
        assert_eq!(sel("$..[?(@.k == 1)].k", &doc), Ok(json!([1])));
        let listed = json!({"a": [{"k": 1}, {"k": 2, "b": [{"k": 1}]}]});
        assert_eq!(
            sel("$..[?(@.k == 1)]", &listed),
            Ok(json!([{"k": 1}, {"k": 1}]))
        );
        // Drop iteratively: serde_json's recursive Drop would overflow on this depth.
        let mut stack = vec![doc];
        while let Some(v) = stack.pop() {
            if let Value::Object(map) = v {
                stack.extend(map.into_iter().map(|(_, v)| v));
            }
        }
    }

    #[test]
    fn junk_never_panics() {
        let alphabet: Vec<char> = "$@.[]()'\"?*,:-0123456789abc =!<>~&|/\\{}\u{e9}\u{1F600}\n"
            .chars()
            .collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let doc = store();
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let mut s = String::from(if seed.is_multiple_of(3) { "" } else { "$" });
            let mut x = seed;
            for _ in 0..len {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                s.push(alphabet[(x >> 33) as usize % alphabet.len()]);
            }
            if let Ok(path) = Path::parse(&s) {
                let _ = path.select(&doc);
                let _ = path.get(&doc);
                let mut target = doc.clone();
                let _ = path.assign(&mut target, json!(1));
            }
        }
        for bytes in [&[0xffu8, 0xfe][..], b"$\xc3", b"$['\xe2\x82"] {
            let s = String::from_utf8_lossy(bytes);
            let _ = Path::parse(&s);
        }
    }
}
