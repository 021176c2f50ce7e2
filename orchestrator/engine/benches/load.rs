//! What a definition costs before its first transition: parse the JSON text, validate it, compile
//! it. Run on 10,000 Pass states (W1's state shape), each phase timed by criterion; the heap
//! bytes each phase allocates and what its result keeps are counted by a wrapping allocator
//! and printed once. Figures per state go to BENCHMARKS.md.

use std::hint::black_box;

use cap::Cap;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use sluice_engine::lang::checker;
use sluice_engine::lang::model::StateMachine;

/// mimalloc (the binary's allocator) wrapped in a counter of live and total bytes.
#[global_allocator]
static GLOBAL: Cap<mimalloc::MiMalloc> = Cap::new(mimalloc::MiMalloc, usize::MAX);

const STATES: usize = 10_000;

/// The W1 chain at 10,000 states: `Parameters` with a path, a `ResultPath`, a `Next`.
fn definition_text() -> String {
    let mut states = serde_json::Map::new();
    for i in 0..STATES {
        let mut state = serde_json::json!({"Type": "Pass",
            "Parameters": {"v.$": "$.x", "step": i}, "ResultPath": "$.last"});
        if i + 1 < STATES {
            state["Next"] = Value::String(format!("S{:05}", i + 1));
        } else {
            state["End"] = Value::Bool(true);
        }
        states.insert(format!("S{i:05}"), state);
    }
    serde_json::to_string(&serde_json::json!({"StartAt": "S00000", "States": states}))
        .expect("a definition serializes")
}

/// Heap bytes allocated while `f` runs, and bytes still held by what it returns.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let start_total = GLOBAL.total_allocated();
    let start_live = GLOBAL.allocated();
    let out = f();
    let allocated = GLOBAL.total_allocated() - start_total;
    let retained = GLOBAL.allocated().saturating_sub(start_live);
    (out, allocated, retained)
}

fn load(c: &mut Criterion) {
    let text = definition_text();
    let (definition, parse_bytes, parse_kept) =
        measure(|| serde_json::from_str::<Value>(&text).expect("valid JSON"));
    let (problems, validate_bytes, validate_kept) = measure(|| checker::validate(&definition));
    assert!(problems.is_empty(), "{problems:?}");
    let (machine, compile_bytes, compile_kept) = measure(|| StateMachine::compile(&definition));
    let machine = machine.expect("the chain compiles");
    let per_state = |bytes: usize| bytes / STATES;
    println!(
        "load memory, {STATES} states, {} bytes of JSON: \
         parse {} B/state allocated ({} retained), validate {} ({} retained), compile {} ({} retained)",
        text.len(),
        per_state(parse_bytes),
        per_state(parse_kept),
        per_state(validate_bytes),
        per_state(validate_kept),
        per_state(compile_bytes),
        per_state(compile_kept),
    );
    drop(machine);

    let mut group = c.benchmark_group("load_10000_pass");
    group.sample_size(20);
    group.throughput(Throughput::Elements(STATES as u64));
    group.bench_function("parse", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(&text)).expect("valid JSON"));
    });
    group.bench_function("validate", |b| {
        b.iter(|| checker::validate(black_box(&definition)));
    });
    group.bench_function("compile", |b| {
        b.iter(|| StateMachine::compile(black_box(&definition)).expect("compiles"));
    });
    group.bench_function("parse_validate_compile", |b| {
        b.iter(|| {
            let definition = serde_json::from_str::<Value>(black_box(&text)).expect("valid JSON");
            assert!(checker::validate(&definition).is_empty());
            StateMachine::compile(&definition).expect("compiles")
        });
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
