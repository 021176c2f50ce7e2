//! Throughput of the in-memory engine on the standard workloads (`benches/workloads`, copied
//! from the project's shared benchmark set): W1 Pass chain, W2 Choice loop, W3 inline Map,
//! W4 Parallel, W5 a one-state machine. Figures go to BENCHMARKS.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use sluice_engine::engine::{Engine, Outcome, RunRequest};
use sluice_engine::lang::model::StateMachine;

// The same allocator as the `sluice` binary, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load(name: &str) -> (StateMachine, Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/workloads/");
    let read = |suffix: &str| -> Value {
        let text = std::fs::read_to_string(format!("{dir}{name}.{suffix}.json"))
            .expect("workload files ship with the benches");
        serde_json::from_str(&text).expect("workloads are valid JSON")
    };
    let machine = StateMachine::compile(&read("asl")).expect("workloads compile");
    (machine, read("input"))
}

/// (workload, transitions or items per execution)
const WORKLOADS: &[(&str, u64)] = &[
    ("w1_chain_1000", 1_000),
    ("w2_loop_10000", 20_003),
    ("w3_map_10000_c0", 10_000),
    ("w3_map_10000_c40", 10_000),
    ("w4_parallel_10x100", 1_001),
    ("w5_trivial", 1),
];

fn engine(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let engine = Engine::default();
    let mut group = c.benchmark_group("engine");
    group.sample_size(20);
    for &(name, per_run) in WORKLOADS {
        let (machine, input) = load(name);
        let mut request = RunRequest::new(name, input);
        request.seed = Some(7);
        // Fail loudly if a workload does not succeed: a fast failure is not a result.
        match runtime.block_on(engine.run(&machine, &request)) {
            Outcome::Succeeded(_) => {}
            other => panic!("{name} did not succeed: {other:?}"),
        }
        group.throughput(Throughput::Elements(per_run));
        group.bench_function(name, |b| {
            b.iter(|| runtime.block_on(engine.run(&machine, &request)));
        });
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
