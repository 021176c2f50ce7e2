//! Filter expressions (`[?(...)]`) and path functions (`.length()`, `.avg()`, ...).

use std::cmp::Ordering;

use regex::Regex;
use serde_json::{Number, Value};

use super::eval::collect;
use super::{Segment, number_cmp, resolve_index};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum PathFunction {
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
pub(super) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Exists(Operand),
    Compare(Operand, CmpOp, Operand),
    Constant(bool),
}

#[derive(Debug, Clone)]
pub(super) enum Operand {
    /// `@...`: relative to the item being filtered.
    Current(Vec<Segment>, bool),
    /// `$...`: relative to the document root.
    Document(Vec<Segment>, bool),
    Literal(Value),
    Pattern(Regex),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum CmpOp {
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

pub(super) fn apply_function(function: PathFunction, node: &Value) -> Result<Value, String> {
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
    pub(super) fn test(&self, item: &Value, doc: &Value, depth: usize) -> bool {
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
