//! `sluice-infer` end to end in process, with small ONNX models built here (so the runtime,
//! the cache, the preprocessing and the Parquet output are the real ones) over a directory
//! standing in for S3. The real classifier on real photos is tested across processes in
//! `tests/it/inference.rs`.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, Float64Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use image::{ImageFormat, RgbImage};
use prost::Message;
use serde_json::{Value, json};
use tract_onnx::pb;

use super::Inference;
use crate::objects::Buckets;

fn dim(d: Option<i64>) -> pb::tensor_shape_proto::Dimension {
    use pb::tensor_shape_proto::dimension::Value as D;
    pb::tensor_shape_proto::Dimension {
        value: Some(d.map_or_else(|| D::DimParam("N".into()), D::DimValue)),
        ..Default::default()
    }
}

fn value(name: &str, dims: &[Option<i64>]) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape: Some(pb::TensorShapeProto {
                    dim: dims.iter().map(|d| dim(*d)).collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: output.into(),
        ..Default::default()
    }
}

fn model(graph: pb::GraphProto, metadata: &[(&str, &str)]) -> Vec<u8> {
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(graph),
        metadata_props: metadata
            .iter()
            .map(|(k, v)| pb::StringStringEntryProto {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Class scores = each channel's mean: input x[N,3,4,4] → GlobalAveragePool → Flatten → [N,3].
fn channel_means() -> Vec<u8> {
    model(
        pb::GraphProto {
            name: "channel-means".into(),
            node: vec![
                node("GlobalAveragePool", &["x"], "pooled"),
                node("Flatten", &["pooled"], "scores"),
            ],
            input: vec![value("x", &[None, Some(3), Some(4), Some(4)])],
            output: vec![value("scores", &[None, Some(3)])],
            ..Default::default()
        },
        &[("classes", "red,green,blue")],
    )
}

/// y = 2a + 3b + 1 over x[N,2].
fn linear() -> Vec<u8> {
    let tensor = |name: &str, dims: Vec<i64>, data: Vec<f32>| pb::TensorProto {
        name: name.into(),
        dims,
        data_type: pb::tensor_proto::DataType::Float as i32,
        float_data: data,
        ..Default::default()
    };
    model(
        pb::GraphProto {
            name: "linear".into(),
            node: vec![
                node("MatMul", &["x", "w"], "xw"),
                node("Add", &["xw", "b"], "y"),
            ],
            initializer: vec![
                tensor("w", vec![2, 1], vec![2.0, 3.0]),
                tensor("b", vec![1], vec![1.0]),
            ],
            input: vec![value("x", &[None, Some(2)])],
            output: vec![value("y", &[None, Some(1)])],
            ..Default::default()
        },
        &[],
    )
}

struct Fixture {
    root: PathBuf,
    buckets: Buckets,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let root = std::env::temp_dir().join(format!("sluice-infer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("b")).expect("bucket dir");
        Fixture {
            buckets: Buckets::local(&root),
            root,
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) {
        let path = self.root.join("b").join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(path, bytes).expect("written");
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join("b").join(key)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn solid(rgb: [u8; 3], format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    RgbImage::from_pixel(9, 6, image::Rgb(rgb))
        .write_to(&mut out, format)
        .expect("encoded");
    out.into_inner()
}

fn images_task(items: Value) -> Value {
    json!({
        "model": "s3://b/models/means.onnx",
        "bucket": "b",
        "items": items,
        "preprocess": {"size": 4, "resize": "stretch", "scale": 1.0},
        "postprocess": {"topK": 2, "labels": {"metadata": "classes"}},
        "output": "s3://b/predictions/"
    })
}

async fn rows(path: &Path, query: &str) -> Vec<datafusion::arrow::record_batch::RecordBatch> {
    let ctx = SessionContext::new();
    ctx.register_parquet("p", path.to_str().expect("utf-8"), Default::default())
        .await
        .expect("registered");
    ctx.sql(query)
        .await
        .expect("query")
        .collect()
        .await
        .expect("rows")
}

#[tokio::test]
async fn a_batch_of_images_with_a_bad_one() {
    let f = Fixture::new("images");
    f.put("models/means.onnx", &channel_means());
    f.put("img/red.png", &solid([200, 10, 10], ImageFormat::Png));
    f.put("img/blue.jpg", &solid([0, 0, 250], ImageFormat::Jpeg));
    f.put("img/broken.png", b"\x89PNG\r\n\x1a\n not really");
    let inference = Inference::new();
    let task = images_task(json!([
        {"Key": "img/red.png"}, {"Key": "img/broken.png"}, {"Key": "img/missing.png"},
        {"Key": "img/blue.jpg"}
    ]));
    let result = inference
        .run(&task, &f.buckets)
        .await
        .expect("the batch succeeds");
    assert_eq!(
        (&result["items"], &result["succeeded"], &result["failed"]),
        (&json!(4), &json!(2), &json!(2)),
        "{result:#}"
    );
    let failures = result["failures"].as_array().expect("failures");
    assert_eq!(failures[0]["key"], "img/broken.png");
    assert_eq!(failures[0]["error"], "Sluice.ImageUndecodable");
    assert_eq!(failures[1]["key"], "img/missing.png");
    assert_eq!(failures[1]["error"], "Sluice.ObjectUnreadable");
    assert_eq!(result["model"]["loads"], 1);
    let uri = result["uri"].as_str().expect("uri");
    assert!(uri.starts_with("s3://b/predictions/predictions-"), "{uri}");
    let file = f.path(uri.trim_start_matches("s3://b/"));
    let batches = rows(&file, "SELECT key, label, score, error FROM p ORDER BY key").await;
    let b = &batches[0];
    let col = |i: usize| {
        let text = datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8).expect("cast");
        text.as_any()
            .downcast_ref::<StringArray>()
            .expect("strings")
            .clone()
    };
    let (keys, labels, errors) = (col(0), col(1), col(3));
    let scores = b
        .column(2)
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("floats");
    assert_eq!(keys.value(0), "img/blue.jpg");
    assert_eq!(labels.value(0), "blue");
    assert!(
        scores.value(0) > 240.0,
        "the blue channel's mean: {}",
        scores.value(0)
    );
    assert_eq!(labels.value(3), "red");
    assert!((scores.value(3) - 200.0).abs() < 1e-3);
    assert!(errors.is_null(0) && !errors.is_null(1) && labels.is_null(1));

    // The same batch again: same file, the model from the cache.
    let again = inference.run(&task, &f.buckets).await.expect("ok");
    assert_eq!(again["uri"], result["uri"]);
    assert_eq!(inference.model_loads(), 1);

    // "fail": the batch fails, naming the failed items, after writing the others.
    let mut failing = task.clone();
    failing["itemErrors"] = json!("fail");
    let err = inference
        .run(&failing, &f.buckets)
        .await
        .expect_err("fails");
    assert_eq!(err.error, "Sluice.ItemsFailed");
    let cause: Value = serde_json::from_str(&err.cause).expect("the cause is JSON");
    assert_eq!(cause["failed"], 2);
    assert_eq!(cause["uri"], result["uri"]);
}

#[tokio::test]
async fn the_model_is_loaded_once_and_again_when_replaced() {
    let f = Fixture::new("cache");
    f.put("models/means.onnx", &channel_means());
    f.put("img/red.png", &solid([200, 10, 10], ImageFormat::Png));
    let inference = Inference::new();
    let task = images_task(json!(["s3://b/img/red.png"]));
    let runs = (0..6).map(|_| inference.run(&task, &f.buckets));
    for result in futures::future::join_all(runs).await {
        result.expect("ok");
    }
    assert_eq!(
        inference.model_loads(),
        1,
        "six concurrent tasks share one load"
    );
    // A new model at the same URL (a new ETag) is loaded again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    f.put("models/means.onnx", &channel_means());
    inference.run(&task, &f.buckets).await.expect("ok");
    assert_eq!(inference.model_loads(), 2);
}

#[tokio::test]
async fn models_that_do_not_fit_fail_the_task_clearly() {
    let f = Fixture::new("mismatch");
    f.put("models/means.onnx", &channel_means());
    f.put("models/garbage.onnx", b"this is not a protobuf at all");
    f.put("img/red.png", &solid([200, 10, 10], ImageFormat::Png));
    let inference = Inference::new();
    let mut task = images_task(json!(["s3://b/img/red.png"]));
    task["preprocess"]["size"] = json!(8);
    let err = inference
        .run(&task, &f.buckets)
        .await
        .expect_err("mismatch");
    assert_eq!(err.error, "Sluice.ModelMismatch");
    assert!(
        err.cause.contains("[N, 3, 4, 4]") && err.cause.contains("[1, 3, 8, 8]"),
        "{}",
        err.cause
    );

    let mut task = images_task(json!(["s3://b/img/red.png"]));
    task["postprocess"]["labels"] = json!(["a", "b"]);
    let err = inference.run(&task, &f.buckets).await.expect_err("labels");
    assert_eq!(err.error, "Sluice.ModelMismatch");
    assert!(
        err.cause.contains("2 labels for a model with 3 classes"),
        "{}",
        err.cause
    );

    task["model"] = json!("s3://b/models/garbage.onnx");
    let err = inference.run(&task, &f.buckets).await.expect_err("garbage");
    assert_eq!(err.error, "Sluice.ModelLoadFailed");
    task["model"] = json!("s3://b/models/none.onnx");
    let err = inference.run(&task, &f.buckets).await.expect_err("missing");
    assert_eq!(err.error, "Sluice.ModelLoadFailed");
    assert!(
        err.cause.contains("s3://b/models/none.onnx"),
        "{}",
        err.cause
    );
    // Only the model that fits was loaded (for the labels check).
    assert_eq!(inference.model_loads(), 1);
}

#[tokio::test]
async fn a_table_is_scored_row_by_row() {
    let f = Fixture::new("table");
    f.put("models/linear.onnx", &linear());
    let mut csv = String::from("id,a,b\n");
    for i in 0..20_000 {
        csv.push_str(&format!("r{i},{},{}\n", i % 7, i % 5));
    }
    f.put("rows/features.csv", csv.as_bytes());
    let inference = Inference::new();
    let task = json!({
        "model": "s3://b/models/linear.onnx",
        "table": {"uri": "s3://b/rows/features.csv", "features": ["a", "b"], "prediction": "y"},
        "output": "s3://b/scored/rows.parquet"
    });
    let result = inference.run(&task, &f.buckets).await.expect("scored");
    assert_eq!(result["rows"], 20_000, "{result:#}");
    let batches = rows(
        &f.path("scored/rows.parquet"),
        "SELECT count(*) AS n, sum(CASE WHEN abs(y - (2 * a + 3 * b + 1)) < 1e-4 THEN 1 ELSE 0 END) AS right FROM p",
    )
    .await;
    let ints = |i: usize| {
        datafusion::arrow::compute::cast(
            batches[0].column(i),
            &datafusion::arrow::datatypes::DataType::Int64,
        )
        .expect("cast")
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .expect("ints")
        .value(0)
    };
    assert_eq!((ints(0), ints(1)), (20_000, 20_000));

    let mut missing = task.clone();
    missing["table"]["features"] = json!(["a", "c"]);
    let err = inference
        .run(&missing, &f.buckets)
        .await
        .expect_err("no column c");
    assert!(err.cause.starts_with("table.features[1]:"), "{}", err.cause);
    let mut text = task.clone();
    text["table"]["features"] = json!(["id", "a"]);
    let err = inference
        .run(&text, &f.buckets)
        .await
        .expect_err("not numeric");
    assert!(err.cause.contains("table.features[0]"), "{}", err.cause);
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

/// Memory stays flat over many batches: what a batch allocates (images, tensors, the
/// Parquet file) is freed when it ends, and the model is not copied per batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_over_many_batches() {
    let f = Fixture::new("rss");
    f.put("models/means.onnx", &channel_means());
    let mut items = Vec::new();
    for i in 0..8 {
        let key = format!("img/{i}.png");
        let mut out = Cursor::new(Vec::new());
        RgbImage::from_fn(160, 120, |x, y| image::Rgb([x as u8, y as u8, i]))
            .write_to(&mut out, ImageFormat::Png)
            .expect("png");
        f.put(&key, out.get_ref());
        items.push(json!({"Key": key}));
    }
    let inference = Inference::new();
    let task = images_task(Value::Array(items));
    let mut warm = 0;
    for round in 1..=300 {
        inference.run(&task, &f.buckets).await.expect("ok");
        if round == 30 {
            warm = rss_kib();
        }
    }
    let after = rss_kib();
    assert!(
        after <= warm + 4096,
        "resident memory grew from {warm} KiB after 30 batches to {after} KiB after 300"
    );
    assert_eq!(inference.model_loads(), 1);
}
