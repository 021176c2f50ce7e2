//! Evaluation of indefinite paths: child and descendant steps, unions, slices and filters.

use serde_json::Value;

use super::filter::apply_function;
use super::{Segment, Selector, merge_names, resolve_index};

/// Evaluates `segments` against `node`, appending every match to `out` in document order.
pub(super) fn collect(
    segments: &[Segment],
    node: &Value,
    doc: &Value,
    out: &mut Vec<Value>,
    depth: usize,
) {
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
