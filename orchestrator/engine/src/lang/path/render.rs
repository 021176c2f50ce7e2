//! Jayway-style rendering of paths and Java class names for error messages.

use std::fmt::Write as _;

use serde_json::Value;

use super::filter::PathFunction;
use super::{Segment, Selector};

pub(super) fn java_class(value: &Value) -> &'static str {
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

pub(super) fn render_names(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("[{}]", quoted.join(","))
}

pub(super) fn render_segments(segments: &[Segment], out: &mut String) {
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
