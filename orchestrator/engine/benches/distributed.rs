//! A Distributed Map over N items end to end in the engine: a JSONL object of N records read
//! by the ItemReader, EXPRESS children of one Pass state, results exported by a ResultWriter.
//! The object store is an in-memory handler (the object's text is built once; written files
//! are counted and dropped), so the figures are the engine's own. Run with
//! `cargo bench -p sluice-engine --bench distributed -- 1000000` under `/usr/bin/time -v` for
//! the peak RSS; it prints items, seconds and items/s. With `--list` the items are keys listed
//! from a prefix instead (listObjectsV2 pages of 1,000, generated as they are asked for).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use sluice_engine::engine::{Dispatcher, Engine, Outcome, RunRequest};
use sluice_engine::lang::model::StateMachine;
use sluice_task::{Resource, TaskFailure, TaskHandler, TaskRequest};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serves one JSONL object and accepts writes, keeping only their sizes.
struct MemoryS3 {
    body: String,
    /// Keys under the listed prefix (`--list`).
    keys: usize,
    written_bytes: AtomicUsize,
    files: AtomicUsize,
}

impl TaskHandler for MemoryS3 {
    fn handles(&self, resource: &Resource) -> bool {
        resource.text.contains(":s3:")
    }
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        let out = if request.resource.text.ends_with("listObjectsV2") {
            // A page of keys after the continuation token (the index of the next key).
            let from: usize = request.input["ContinuationToken"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let to = (from + 1000).min(self.keys);
            let contents: Vec<Value> = (from..to)
                .map(|i| {
                    json!({"Key": format!("prefix/object-{i:08}.json"), "Size": 100 + i % 900,
                        "ETag": "\"e\"", "LastModified": "2026-12-02T00:00:00Z",
                        "StorageClass": "STANDARD"})
                })
                .collect();
            let mut page = json!({"Contents": contents, "IsTruncated": to < self.keys});
            if to < self.keys {
                page["NextContinuationToken"] = json!(to.to_string());
            }
            page
        } else if request.resource.text.ends_with("getObject") {
            // A byte range when asked (the reader asks for JSONL), as S3 answers it; the
            // handler hands out a copy, as a real one does with what it downloaded.
            let size = self.body.len();
            let range = request.input["Range"]
                .as_str()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.split_once('-'))
                .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
            match range {
                Some((first, last)) => {
                    let end = (last + 1).min(size);
                    json!({"Body": &self.body[first..end],
                        "ContentRange": format!("bytes {first}-{}/{size}", end - 1)})
                }
                None => json!({"Body": self.body}),
            }
        } else {
            let size = request.input["Body"].as_str().map_or(0, str::len);
            self.written_bytes.fetch_add(size, Ordering::Relaxed);
            self.files.fetch_add(1, Ordering::Relaxed);
            json!({"ETag": "\"x\""})
        };
        Box::pin(async move { Ok(out) })
    }
}

fn main() {
    let items: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let list = std::env::args().any(|a| a == "--list");
    let mut body = String::with_capacity(if list { 0 } else { items * 32 });
    for i in (0..items).filter(|_| !list) {
        body.push_str(&format!("{{\"id\":{i},\"name\":\"item-{i}\"}}\n"));
    }
    let s3 = Arc::new(MemoryS3 {
        body,
        keys: if list { items } else { 0 },
        written_bytes: AtomicUsize::new(0),
        files: AtomicUsize::new(0),
    });
    let mut dispatcher = Dispatcher::new();
    dispatcher.register(s3.clone());
    let engine = Engine::new(dispatcher);
    let reader = if list {
        json!({"Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": "in", "Prefix": "prefix/"}})
    } else {
        json!({"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket": "in", "Key": "items.jsonl"}})
    };
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemReader": reader,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "MaxConcurrency": 1000,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "out", "Prefix": "res"}},
        "End": true}}});
    let machine = StateMachine::compile(&definition).expect("the bench machine compiles");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let outcome = runtime.block_on(engine.run(&machine, &RunRequest::new("bench", json!({}))));
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Outcome::Succeeded(_) => {}
        other => panic!("the Map did not succeed: {other:?}"),
    }
    println!(
        "distributed map ({}): {items} items in {seconds:.2} s ({:.0} items/s), {} result files, {} MB written",
        if list { "listed keys" } else { "JSONL object" },
        items as f64 / seconds,
        s3.files.load(Ordering::Relaxed),
        s3.written_bytes.load(Ordering::Relaxed) / 1_000_000,
    );
}
