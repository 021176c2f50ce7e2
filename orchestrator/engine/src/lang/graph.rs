//! A definition drawn as a graph: states as boxes in layers (each state below the states that
//! lead to it), Parallel branches and Map processors as boxes holding their own graphs, and
//! edges for `Next`, Choice rules, `Default` and `Catch`. The layout is computed, then written
//! as SVG or as Mermaid text. Pure: a JSON value in, text out.
//!
//! Boxes never overlap by construction: a layer is one row whose height is its tallest box,
//! boxes in a row are placed left to right with a gap, and a container is sized from the
//! layout of what it holds.

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::Value;

/// Width of a plain state's box, and the height of one.
const BOX_W: f64 = 170.0;
const BOX_H: f64 = 40.0;
/// Space between boxes, and inside a container around what it holds.
const GAP_X: f64 = 30.0;
const GAP_Y: f64 = 50.0;
const PAD: f64 = 20.0;
/// Room for a container's title.
const TITLE: f64 = 24.0;

/// What an edge means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    Next,
    Choice,
    Default,
    Catch,
}

/// One state's box, placed.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The state's path: `Name`, or `Outer/branch 0/Inner` inside a container.
    pub id: String,
    pub name: String,
    pub kind: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// Inside a Parallel branch or a Map processor: the container's id.
    pub parent: Option<String>,
    /// A container (Parallel branch or Map processor) rather than a state.
    pub container: bool,
}

/// An edge between two boxes.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
}

/// A placed graph.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub width: f64,
    pub height: f64,
}

/// Lay out the states of a definition (`StartAt` and `States`).
pub fn layout(definition: &Value) -> Layout {
    let mut out = Layout::default();
    let (w, h) = place(definition, "", None, PAD, PAD, &mut out);
    out.width = w + 2.0 * PAD;
    out.height = h + 2.0 * PAD;
    out
}

/// The targets of a state's edges.
fn edges_of(state: &Value) -> Vec<(String, EdgeKind)> {
    let mut out = Vec::new();
    let text = |v: &Value| v.as_str().map(str::to_string);
    if let Some(n) = state.get("Next").and_then(text) {
        out.push((n, EdgeKind::Next));
    }
    if let Some(choices) = state.get("Choices").and_then(Value::as_array) {
        for c in choices {
            if let Some(n) = c.get("Next").and_then(text) {
                out.push((n, EdgeKind::Choice));
            }
        }
    }
    if let Some(n) = state.get("Default").and_then(text) {
        out.push((n, EdgeKind::Default));
    }
    if let Some(catches) = state.get("Catch").and_then(Value::as_array) {
        for c in catches {
            if let Some(n) = c.get("Next").and_then(text) {
                out.push((n, EdgeKind::Catch));
            }
        }
    }
    out
}

/// The graphs a state holds: Parallel branches, a Map's processor.
fn inner_graphs(state: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
        for (i, b) in branches.iter().enumerate() {
            out.push((format!("branch {i}"), b));
        }
    }
    for key in ["ItemProcessor", "Iterator"] {
        if let Some(p) = state.get(key).filter(|p| p.is_object()) {
            out.push(("items".to_string(), p));
            break;
        }
    }
    out
}

/// Place one graph with its top-left corner at (x, y); returns its size.
fn place(
    graph: &Value,
    prefix: &str,
    parent: Option<&str>,
    x: f64,
    y: f64,
    out: &mut Layout,
) -> (f64, f64) {
    let Some(states) = graph.get("States").and_then(Value::as_object) else {
        return (0.0, 0.0);
    };
    let names: Vec<&String> = states.keys().collect();
    // A breadth-first order from StartAt: it orders the boxes within a row.
    let start = graph.get("StartAt").and_then(Value::as_str).unwrap_or("");
    let mut order: HashMap<&str, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::new();
    if states.contains_key(start) {
        order.insert(start, 0);
        queue.push_back(start);
    }
    while let Some(s) = queue.pop_front() {
        for (t, _) in edges_of(&states[s]) {
            if let Some((key, _)) = states.get_key_value(t.as_str())
                && !order.contains_key(key.as_str())
            {
                order.insert(key.as_str(), order.len());
                queue.push_back(key.as_str());
            }
        }
    }
    // States no path reaches still get drawn, after the others.
    for n in &names {
        let len = order.len();
        order.entry(n.as_str()).or_insert(len);
    }
    let mut by_order: Vec<&str> = order.keys().copied().collect();
    by_order.sort_by_key(|n| order[n]);
    // Layers: the longest path from the top over the edges that do not close a cycle (found
    // by a depth-first walk from StartAt, then from states no walk reached), so a state is
    // always below every state that leads to it except along a loop.
    let index: HashMap<&str, usize> = by_order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let targets: Vec<Vec<usize>> = by_order
        .iter()
        .map(|n| {
            edges_of(&states[*n])
                .into_iter()
                .filter_map(|(t, _)| index.get(t.as_str()).copied())
                .collect()
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Seen {
        Not,
        OnPath,
        Done,
    }
    let mut seen = vec![Seen::Not; by_order.len()];
    let mut forward: Vec<Vec<usize>> = vec![Vec::new(); by_order.len()];
    let mut finished = Vec::with_capacity(by_order.len());
    for root in 0..by_order.len() {
        if seen[root] != Seen::Not {
            continue;
        }
        seen[root] = Seen::OnPath;
        let mut path = vec![(root, 0usize)];
        while let Some((node, next)) = path.last_mut() {
            let node = *node;
            if let Some(&t) = targets[node].get(*next) {
                *next += 1;
                match seen[t] {
                    Seen::Not => {
                        forward[node].push(t);
                        seen[t] = Seen::OnPath;
                        path.push((t, 0));
                    }
                    // Back to a state on the current path: a loop, drawn upwards.
                    Seen::OnPath => {}
                    Seen::Done => forward[node].push(t),
                }
            } else {
                seen[node] = Seen::Done;
                finished.push(node);
                path.pop();
            }
        }
    }
    let mut depth = vec![0usize; by_order.len()];
    for &v in finished.iter().rev() {
        for &t in &forward[v] {
            depth[t] = depth[t].max(depth[v] + 1);
        }
    }
    let layer: HashMap<&str, usize> = by_order
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, depth[i]))
        .collect();
    let rows = layer.values().copied().max().map_or(0, |m| m + 1);
    let mut cursor_y = y;
    let mut width: f64 = 0.0;
    for row in 0..rows {
        let mut in_row: Vec<&str> = by_order
            .iter()
            .copied()
            .filter(|n| layer[n] == row)
            .collect();
        in_row.sort_by_key(|n| order[n]);
        let mut cursor_x = x;
        let mut row_h: f64 = 0.0;
        for name in in_row {
            let state = &states[name];
            let id = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            let kind = state
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            let inner = inner_graphs(state);
            let (w, h) = if inner.is_empty() {
                out.nodes.push(Node {
                    id: id.clone(),
                    name: name.to_string(),
                    kind,
                    x: cursor_x,
                    y: cursor_y,
                    w: BOX_W,
                    h: BOX_H,
                    parent: parent.map(str::to_string),
                    container: false,
                });
                (BOX_W, BOX_H)
            } else {
                // The state's box holds one box per inner graph, side by side.
                let index = out.nodes.len();
                out.nodes.push(Node {
                    id: id.clone(),
                    name: name.to_string(),
                    kind,
                    x: cursor_x,
                    y: cursor_y,
                    w: 0.0,
                    h: 0.0,
                    parent: parent.map(str::to_string),
                    container: true,
                });
                let mut inner_x = cursor_x + PAD;
                let mut inner_h: f64 = 0.0;
                for (label, g) in inner {
                    let gid = format!("{id}/{label}");
                    let gi = out.nodes.len();
                    out.nodes.push(Node {
                        id: gid.clone(),
                        name: label,
                        kind: "Branch".into(),
                        x: inner_x,
                        y: cursor_y + TITLE + PAD,
                        w: 0.0,
                        h: 0.0,
                        parent: Some(id.clone()),
                        container: true,
                    });
                    let (gw, gh) = place(
                        g,
                        &gid,
                        Some(&gid),
                        inner_x + PAD,
                        cursor_y + 2.0 * TITLE + 2.0 * PAD,
                        out,
                    );
                    let (bw, bh) = (gw.max(BOX_W) + 2.0 * PAD, gh + TITLE + 2.0 * PAD);
                    out.nodes[gi].w = bw;
                    out.nodes[gi].h = bh;
                    inner_x += bw + GAP_X;
                    inner_h = inner_h.max(bh);
                }
                let w = (inner_x - GAP_X - cursor_x + PAD).max(BOX_W);
                let h = inner_h + TITLE + 2.0 * PAD;
                out.nodes[index].w = w;
                out.nodes[index].h = h;
                (w, h)
            };
            for (t, kind) in edges_of(state) {
                let to = if prefix.is_empty() {
                    t
                } else {
                    format!("{prefix}/{t}")
                };
                out.edges.push(Edge {
                    from: id.clone(),
                    to,
                    kind,
                });
            }
            cursor_x += w + GAP_X;
            row_h = row_h.max(h);
        }
        width = width.max(cursor_x - GAP_X - x);
        cursor_y += row_h + GAP_Y;
    }
    (width.max(0.0), (cursor_y - GAP_Y - y).max(0.0))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The layout as an SVG document.
pub fn svg(layout: &Layout) -> String {
    svg_painted(layout, &|_| None)
}

/// The layout as SVG, with extra CSS classes on the boxes `paint` names (the console paints
/// each state with its status). Every state's group carries `data-id` (its path) and
/// `data-name` (its name, as history events name it).
pub fn svg_painted(layout: &Layout, paint: &dyn Fn(&Node) -> Option<String>) -> String {
    let classes = |n: &Node, base: &str| match paint(n) {
        Some(extra) => escape(&format!("{base} {extra}")),
        None => base.to_string(),
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>"##,
        w = layout.width,
        h = layout.height
    );
    for n in layout.nodes.iter().filter(|n| n.container) {
        let _ = write!(
            s,
            r##"<g class="{class}" data-id="{id}" data-name="{name}"><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="none" stroke="#999" stroke-dasharray="4 3"/><text x="{tx}" y="{ty}" fill="#555">{label}</text></g>"##,
            id = escape(&n.id),
            x = n.x,
            y = n.y,
            w = n.w,
            h = n.h,
            tx = n.x + 8.0,
            ty = n.y + 16.0,
            label = escape(&format!("{} ({})", n.name, n.kind)),
            class = classes(n, "container"),
            name = escape(&n.name),
        );
    }
    let by_id: HashMap<&str, &Node> = layout.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    for e in &layout.edges {
        let (Some(a), Some(b)) = (by_id.get(e.from.as_str()), by_id.get(e.to.as_str())) else {
            continue;
        };
        let points = route(layout, a, b);
        let style = match e.kind {
            EdgeKind::Next => r##"stroke="#555""##,
            EdgeKind::Choice => r##"stroke="#2a6fb0""##,
            EdgeKind::Default => r##"stroke="#2a6fb0" stroke-width="2""##,
            EdgeKind::Catch => r##"stroke="#c0392b" stroke-dasharray="5 3""##,
        };
        let d: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, (x, y))| format!("{}{x} {y}", if i == 0 { "M" } else { "L" }))
            .collect();
        let _ = write!(
            s,
            r##"<path class="edge {kind:?}" d="{d}" fill="none" {style} marker-end="url(#arrow)"/>"##,
            kind = e.kind,
            d = d.join(" "),
        );
        if e.kind == EdgeKind::Default {
            // On the middle segment, where it is least likely to meet another label.
            let mid = points.len() / 2;
            let ((x1, y1), (x2, y2)) = (points[mid - 1], points[mid]);
            let _ = write!(
                s,
                r##"<text x="{}" y="{}" fill="#2a6fb0">default</text>"##,
                (x1 + x2) / 2.0 + 4.0,
                (y1 + y2) / 2.0 - 2.0
            );
        }
    }
    for n in layout.nodes.iter().filter(|n| !n.container) {
        let _ = write!(
            s,
            r##"<g class="{class}" data-id="{id}" data-name="{name}"><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="#f4f6f8" stroke="#333"/><text x="{tx}" y="{ty}" text-anchor="middle">{name}</text><text x="{tx}" y="{ty2}" text-anchor="middle" fill="#777" font-size="10">{kind}</text></g>"##,
            id = escape(&n.id),
            x = n.x,
            y = n.y,
            w = n.w,
            h = n.h,
            tx = n.x + n.w / 2.0,
            ty = n.y + 17.0,
            ty2 = n.y + 31.0,
            name = escape(&n.name),
            kind = escape(&n.kind),
            class = classes(n, "state"),
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The points an edge from `a` to `b` passes through. From the bottom of `a` to the top of
/// `b`: straight when no other box is in the way; otherwise down into the gap below `a`'s
/// row, along it to a lane right of every box in the rows the edge spans, along that lane to
/// the gap above `b`'s row, and into `b`. Loops (an edge up, or within a row) take the same
/// lane. Gaps and lanes are free of boxes by construction: rows are separated by `GAP_Y`,
/// boxes by `GAP_X`, and a container keeps `PAD` around what it holds.
fn route(layout: &Layout, a: &Node, b: &Node) -> Vec<(f64, f64)> {
    let (x1, y1) = (a.x + a.w / 2.0, a.y + a.h);
    let (x2, y2) = (b.x + b.w / 2.0, b.y);
    let scope = || layout.nodes.iter().filter(|n| n.parent == a.parent);
    let downward = b.y > a.y;
    if downward {
        let in_the_way = scope().any(|n| {
            n.id != a.id
                && n.id != b.id
                && n.y + n.h > y1
                && n.y < y2
                && crosses(n, (x1, y1), (x2, y2))
        });
        if !in_the_way {
            return vec![(x1, y1), (x2, y2)];
        }
    }
    // The rows the lane runs beside: those strictly between a downward edge's ends; for a
    // loop, every row from `b`'s to `a`'s. The lane goes left or right of them, whichever
    // is the shorter way.
    let spanned = || {
        scope().filter(move |n| {
            if downward {
                n.y > a.y && n.y < b.y
            } else {
                n.y >= b.y && n.y <= a.y
            }
        })
    };
    let right = spanned().map(|n| n.x + n.w).fold(x1.max(x2), f64::max) + GAP_X / 2.0;
    let left = spanned().map(|n| n.x).fold(x1.min(x2), f64::min) - GAP_X / 2.0;
    let detour = |lane: f64| (lane - x1).abs() + (lane - x2).abs();
    let lane = if detour(left) < detour(right) {
        left
    } else {
        right
    };
    let row_bottom = scope()
        .filter(|n| n.y == a.y)
        .map(|n| n.y + n.h)
        .fold(y1, f64::max);
    let below_a = row_bottom + GAP_Y / 2.0;
    let above_b = y2 - GAP_Y / 2.0;
    vec![
        (x1, y1),
        (x1, below_a),
        (lane, below_a),
        (lane, above_b),
        (x2, above_b),
        (x2, y2),
    ]
}

/// Whether the segment from `p` to `q` passes through box `n` (sampled finely enough for
/// boxes tens of pixels wide).
fn crosses(n: &Node, p: (f64, f64), q: (f64, f64)) -> bool {
    (1..64).any(|i| {
        let t = f64::from(i) / 64.0;
        let (x, y) = (p.0 + (q.0 - p.0) * t, p.1 + (q.1 - p.1) * t);
        x > n.x && x < n.x + n.w && y > n.y && y < n.y + n.h
    })
}

/// The layout as Mermaid flowchart text (containers as subgraphs).
pub fn mermaid(layout: &Layout) -> String {
    let ids: HashMap<&str, String> = layout
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), format!("n{i}")))
        .collect();
    let label = |n: &Node| n.name.replace('"', "'");
    let mut s = String::from("flowchart TD\n");
    fn emit(
        s: &mut String,
        layout: &Layout,
        parent: Option<&str>,
        depth: usize,
        ids: &HashMap<&str, String>,
        label: &dyn Fn(&Node) -> String,
    ) {
        for n in layout
            .nodes
            .iter()
            .filter(|n| n.parent.as_deref() == parent)
        {
            let pad = "  ".repeat(depth);
            if n.container {
                let _ = writeln!(s, "{pad}subgraph {}[\"{}\"]", ids[n.id.as_str()], label(n));
                emit(s, layout, Some(&n.id), depth + 1, ids, label);
                let _ = writeln!(s, "{pad}end");
            } else {
                let _ = writeln!(s, "{pad}{}[\"{}\"]", ids[n.id.as_str()], label(n));
            }
        }
    }
    emit(&mut s, layout, None, 1, &ids, &label);
    for e in &layout.edges {
        let (Some(a), Some(b)) = (ids.get(e.from.as_str()), ids.get(e.to.as_str())) else {
            continue;
        };
        let arrow = match e.kind {
            EdgeKind::Next | EdgeKind::Choice => "-->",
            EdgeKind::Default => "-->|default|",
            EdgeKind::Catch => "-.->|catch|",
        };
        let _ = writeln!(s, "  {a} {arrow} {b}");
    }
    s
}

/// Pairs of boxes that overlap (siblings only: a box inside a container overlaps it by
/// design). Empty for every layout this module makes; tests hold it to that.
pub fn overlaps(layout: &Layout) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, a) in layout.nodes.iter().enumerate() {
        for b in &layout.nodes[i + 1..] {
            if a.parent != b.parent {
                continue;
            }
            let apart =
                a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
            if !apart {
                out.push((a.id.clone(), b.id.clone()));
            }
        }
    }
    out
}

/// Edges that pass through a box of their scope other than their own ends: `(from, to, box)`.
/// Empty for every layout (the routing keeps to gaps and lanes); the tests hold it to that.
pub fn edges_through_boxes(layout: &Layout) -> Vec<(String, String, String)> {
    let by_id: HashMap<&str, &Node> = layout.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut out = Vec::new();
    for e in &layout.edges {
        let (Some(a), Some(b)) = (by_id.get(e.from.as_str()), by_id.get(e.to.as_str())) else {
            continue;
        };
        let points = route(layout, a, b);
        for n in layout.nodes.iter().filter(|n| n.parent == a.parent) {
            if n.id == a.id || n.id == b.id {
                continue;
            }
            if points.windows(2).any(|w| crosses(n, w[0], w[1])) {
                out.push((e.from.clone(), e.to.clone(), n.id.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn choices_parallels_and_maps_are_laid_out_without_overlap() {
        let def = json!({"StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "Fan"}], "Default": "Done"},
            "Fan": {"Type": "Parallel", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": true}}},
                {"StartAt": "C", "States": {"C": {"Type": "Map", "ItemProcessor": {"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": "x", "End": true}}}, "End": true}}}
            ], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}], "Next": "Done"},
            "Failed": {"Type": "Fail"},
            "Done": {"Type": "Succeed"}}});
        let l = layout(&def);
        assert!(overlaps(&l).is_empty(), "{:?}", overlaps(&l));
        let at = |id: &str| l.nodes.iter().find(|n| n.id == id).expect(id);
        assert!(at("Fan").y > at("Check").y, "Fan below Check");
        assert!(at("Done").y > at("Fan").y, "Done below Fan");
        let d = at("Fan/branch 1/C/items/D");
        let fan = at("Fan");
        assert!(d.x > fan.x && d.x + d.w < fan.x + fan.w && d.y + d.h < fan.y + fan.h);
        assert!(
            l.edges
                .iter()
                .any(|e| e.kind == EdgeKind::Catch && e.to == "Failed")
        );
        assert!(
            l.edges
                .iter()
                .any(|e| e.kind == EdgeKind::Default && e.to == "Done")
        );
        let text = svg(&l);
        assert!(text.starts_with("<svg") && text.contains("data-id=\"Fan/branch 0/A\""));
        let m = mermaid(&l);
        assert!(
            m.starts_with("flowchart TD") && m.contains("subgraph") && m.contains("-.->|catch|")
        );
    }

    #[test]
    fn a_state_sits_below_every_state_that_leads_to_it() {
        // Report is reached by Next from Load and by Next from the Catch handler: it goes
        // below both, whichever the breadth-first walk met first. The loop back to Load
        // does not push anything down.
        let def = serde_json::json!({"StartAt": "Load", "States": {
            "Load": {"Type": "Task", "Resource": "x", "Next": "Report",
                     "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Quarantine"}]},
            "Quarantine": {"Type": "Pass", "Next": "Report"},
            "Report": {"Type": "Choice", "Choices": [{"Variable": "$.again", "BooleanEquals": true, "Next": "Load"}],
                       "Default": "Done"},
            "Done": {"Type": "Succeed"}}});
        let l = layout(&def);
        let y = |id: &str| {
            l.nodes
                .iter()
                .find(|n| n.id == id)
                .map(|n| n.y)
                .expect("drawn")
        };
        assert!(y("Load") < y("Quarantine"));
        assert!(y("Quarantine") < y("Report"));
        assert!(y("Report") < y("Done"));
        assert!(overlaps(&l).is_empty());
        // Load's Next to Report goes around Quarantine; the loop back to Load goes up a lane.
        assert_eq!(edges_through_boxes(&l), Vec::new());
        assert!(svg(&l).contains(r#"<path class="edge Next""#));
    }

    #[test]
    fn loops_and_unreachable_states_still_draw() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Choice", "Choices": [{"Variable": "$.again", "BooleanEquals": true, "Next": "A"}], "Default": "End"},
            "End": {"Type": "Succeed"},
            "Orphan": {"Type": "Pass", "End": true}}});
        let l = layout(&def);
        assert_eq!(l.nodes.len(), 4);
        assert!(overlaps(&l).is_empty());
        assert!(layout(&json!({"nope": 1})).nodes.is_empty());
    }
}
