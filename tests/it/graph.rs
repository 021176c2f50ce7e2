//! `sluice graph`: every definition under `pipelines/`, and a sample of the conformance
//! corpus when it is there (`SLUICE_SHARED`), drawn as SVG with no two state boxes
//! overlapping and no edge through a box (checked on the SVG's geometry), and as Mermaid text.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The state boxes of an SVG `sluice graph` wrote: `(id, x, y, w, h)`.
fn boxes(svg: &str) -> Vec<(String, f64, f64, f64, f64)> {
    let mut out = Vec::new();
    for part in svg.split(r#"<g class="state" data-id=""#).skip(1) {
        let id = part.split('"').next().unwrap_or("").to_string();
        let attr = |name: &str| -> f64 {
            part.split(&format!(" {name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} of {id}"))
        };
        out.push((
            id.clone(),
            attr("x"),
            attr("y"),
            attr("width"),
            attr("height"),
        ));
    }
    out
}

fn check(definition: &Path) -> usize {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("graph")
        .arg(definition)
        .output()
        .expect("sluice runs");
    assert!(
        out.status.success(),
        "{}: {}",
        definition.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(svg.starts_with("<svg"), "{}", definition.display());
    let b = boxes(&svg);
    for (i, (a, ax, ay, aw, ah)) in b.iter().enumerate() {
        for (c, cx, cy, cw, ch) in &b[i + 1..] {
            let apart = ax + aw <= *cx || cx + cw <= *ax || ay + ah <= *cy || cy + ch <= *ay;
            assert!(apart, "{}: {a} and {c} overlap", definition.display());
        }
    }
    // No edge passes through a state box: straight where nothing is in the way, else along
    // the gaps between rows and a lane beside them.
    for path in svg.split(r#"<path class="edge "#).skip(1) {
        let d = path
            .split(r#"d=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("an edge has a path");
        let points: Vec<(f64, f64)> = d
            .split(['M', 'L'])
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                let mut xy = p
                    .split_whitespace()
                    .map(|v| v.parse::<f64>().expect("a number"));
                (xy.next().expect("x"), xy.next().expect("y"))
            })
            .collect();
        for w in points.windows(2) {
            for (id, x, y, bw, bh) in &b {
                let through = (1..64).any(|i| {
                    let t = f64::from(i) / 64.0;
                    let (px, py) = (
                        w[0].0 + (w[1].0 - w[0].0) * t,
                        w[0].1 + (w[1].1 - w[0].1) * t,
                    );
                    px > *x + 0.5 && px < x + bw - 0.5 && py > *y + 0.5 && py < y + bh - 0.5
                });
                assert!(
                    !through,
                    "{}: an edge ({d}) passes through {id}",
                    definition.display()
                );
            }
        }
    }
    b.len()
}

fn definitions(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            definitions(&path, out);
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".asl.json") || n.ends_with(".asl.yaml"))
        {
            out.push(path);
        }
    }
}

#[test]
fn pipelines_draw_without_overlap() {
    let mut found = Vec::new();
    definitions(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines"),
        &mut found,
    );
    assert!(found.len() >= 6, "{found:?}");
    for d in &found {
        assert!(check(d) > 0, "{} drew no state", d.display());
    }
    let mermaid = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["graph", "--mermaid"])
        .arg(&found[0])
        .output()
        .expect("sluice runs");
    assert!(String::from_utf8_lossy(&mermaid.stdout).starts_with("flowchart TD"));
}

#[test]
fn conformance_definitions_draw_without_overlap() {
    let shared = std::env::var("SLUICE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let Ok(text) = std::fs::read_to_string(shared.join("conformance/cases.jsonl")) else {
        eprintln!("notice: no conformance corpus; skipping its graphs");
        return;
    };
    let dir = crate::support::temp_dir("graphs");
    let mut drawn = 0;
    // Every fifth case: a sample across the corpus's sources.
    for (i, line) in text.lines().enumerate().filter(|(i, _)| i % 5 == 0) {
        let Ok(case) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(definition) = case.get("definition") else {
            continue;
        };
        let text = match definition {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let path = dir.join(format!("case-{i}.asl.json"));
        std::fs::write(&path, text).expect("write");
        check(&path);
        drawn += 1;
    }
    assert!(drawn > 50, "only {drawn} definitions drawn");
}
