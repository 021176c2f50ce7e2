//! The `sluice` binary end to end: the README's pipelines, the `--json` contract, validation
//! reports and hostile input. Each test starts the real executable.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the sluice binary runs")
}

fn sluice_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sluice binary starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("the sluice binary ends")
}

fn json_out(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON value ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn temp_file(name: &str, content: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write temp file");
    path
}

#[test]
fn record_scoring_pipeline() {
    let out = sluice(&[
        "run",
        "pipelines/record-scoring/record-scoring.asl.json",
        "--input",
        "pipelines/record-scoring/input.json",
        "--json",
        "--name",
        "nightly",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(
        v["output"],
        json!({"total": 5, "alerts": ["boiler-2", "chiller-1"],
               "invalid": ["record 2 has no numeric value"], "batch": "plant-3-nightly"})
    );
}

#[test]
fn order_validation_pipeline_with_mocks() {
    let run = |case: &str| {
        json_out(&sluice(&[
            "run",
            "pipelines/order-validation/order-validation.asl.json",
            "--input",
            "pipelines/order-validation/input.json",
            "--mock",
            "pipelines/order-validation/mock.json",
            "--test-case",
            case,
            "--json",
        ]))
    };
    let ok = run("HappyPath");
    assert_eq!(ok["output"]["status"], "CONFIRMED");
    assert_eq!(ok["output"]["chargeId"], "ch-9f2e");
    // Two Inventory.Busy throws are retried; jitter makes the waits at most 1 s and 2 s.
    assert_eq!(
        run("InventoryBusyThenOk")["output"]["reservationId"],
        "res-5532"
    );
    let declined = run("PaymentDeclined");
    assert_eq!(declined["status"], "FAILED");
    assert_eq!(declined["error"], "Order.PaymentFailed");
    assert_eq!(
        declined["cause"],
        "Payment for order ord-1042 failed: card expired"
    );
    assert_eq!(run("OutOfStock")["error"], "Order.OutOfStock");
}

#[test]
fn sales_report_pipeline_in_yaml_and_jsonata() {
    let out = sluice(&[
        "run",
        "pipelines/sales-report/sales-report.asl.yaml",
        "--input",
        "pipelines/sales-report/input.json",
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    assert_eq!(v["output"]["grandTotal"], 6610);
    assert_eq!(v["output"]["lines"][0], "north: 1,300.00 EUR");
}

#[test]
fn input_from_stdin_and_inline() {
    let def = temp_file(
        "echo.asl.json",
        r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#,
    );
    let def = def.to_str().expect("utf-8 temp path");
    let out = sluice_stdin(&["run", def, "--input", "-", "--json"], "a: 1\n");
    assert_eq!(json_out(&out)["output"], json!({"a": 1}));
    let out = sluice(&["run", def, "--input-json", "[1,2]", "--json"]);
    assert_eq!(json_out(&out)["output"], json!([1, 2]));
}

#[test]
fn validate_reports_every_problem_with_its_location() {
    let def = temp_file(
        "bad.asl.json",
        r#"{"StartAt":"A","States":{
            "A":{"Type":"Pass","Next":"Nowhere"},
            "B":{"Type":"Choice","Choices":[{"Variable":"$.x","NumericEquals":"one","Next":"A"}]},
            "C":{"Type":"Wait","End":true}}}"#,
    );
    let out = sluice(&["validate", def.to_str().expect("utf-8"), "--json"]);
    assert!(!out.status.success());
    let problems = json_out(&out);
    let pointers: Vec<&str> = problems
        .as_array()
        .expect("an array of problems")
        .iter()
        .filter_map(|p| p["pointer"].as_str())
        .collect();
    assert!(pointers.contains(&"/States/A/Next"), "{pointers:?}");
    assert!(
        pointers
            .iter()
            .any(|p| p.starts_with("/States/B/Choices/0")),
        "{pointers:?}"
    );
    assert!(
        pointers.iter().any(|p| p.starts_with("/States/C")),
        "{pointers:?}"
    );
    let ok = sluice(&[
        "validate",
        "pipelines/record-scoring/record-scoring.asl.json",
    ]);
    assert!(ok.status.success());
}

#[test]
fn hostile_definitions_fail_cleanly() {
    let cases: Vec<(&str, String)> = vec![
        ("empty.json", String::new()),
        ("truncated.json", r#"{"StartAt": "A", "States": {"#.into()),
        ("deep.json", "[".repeat(100_000)),
        ("deep.yaml", "- ".repeat(100_000)),
        ("huge-number.json", r#"{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":1e400,"End":true}}}"#.into()),
        ("wrong-types.json", r#"{"StartAt":5,"States":[]}"#.into()),
        ("bad-path.json", r#"{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$[[[","End":true}}}"#.into()),
        ("bad-intrinsic.json", r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"a.$":"States.Format('{}"},"End":true}}}"#.into()),
        ("bad-jsonata.json", r#"{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","Output":"{% (((( %}","End":true}}}"#.into()),
    ];
    for (name, text) in cases {
        let path = temp_file(name, &text);
        let path = path.to_str().expect("utf-8");
        for args in [vec!["validate", path], vec!["run", path, "--json"]] {
            let out = sluice(&args);
            // A clean rejection: exit status set, no panic, something a person can read.
            assert!(!out.status.success(), "{name} was accepted");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{name} panicked: {stderr}");
            assert!(out.status.code().is_some(), "{name} died from a signal");
        }
    }
}

#[test]
fn store_sales_map_pipeline_over_a_local_bucket_directory() {
    // A copy of the sample bucket, so the run's outputs stay out of the repository.
    let root = std::env::temp_dir().join(format!("sluice-s3dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let incoming = root.join("sluice-demo/incoming");
    std::fs::create_dir_all(&incoming).expect("temp bucket");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pipelines/store-sales-map/buckets/sluice-demo/incoming");
    for file in std::fs::read_dir(&sample).expect("sample data") {
        let file = file.expect("entry").path();
        std::fs::copy(&file, incoming.join(file.file_name().expect("name"))).expect("copy");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "run",
            "pipelines/store-sales-map/store-sales-map.asl.json",
            "--input",
            "pipelines/store-sales-map/input.json",
            "--json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("SLUICE_S3_DIR", &root)
        .output()
        .expect("the sluice binary runs");
    let v = json_out(&out);
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    let units: i64 = v["output"]["skus"]
        .as_array()
        .expect("skus")
        .iter()
        .filter_map(|r| r["units"].as_i64())
        .sum();
    assert_eq!(units, 354, "{v}");
    let summaries = std::fs::read_dir(root.join("sluice-demo/summaries/incoming"))
        .expect("per-file summaries")
        .count();
    assert_eq!(summaries, 6);
    let manifest = v["output"]["perFileResults"]["Key"].as_str().expect("key");
    assert!(root.join("sluice-demo").join(manifest).is_file());

    // A reader sluice cannot parse fails the Map with States.ItemReaderFailed, not a panic.
    let def = temp_file(
        "parquet-reader.asl.json",
        r#"{"StartAt":"M","States":{"M":{"Type":"Map","ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"PARQUET"},"Parameters":{"Bucket":"sluice-demo","Key":"incoming/store-01.csv"}},
            "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", def.to_str().expect("utf-8"), "--json"])
        .env("SLUICE_S3_DIR", &root)
        .output()
        .expect("the sluice binary runs");
    let v = json_out(&out);
    assert_eq!(v["error"], "States.ItemReaderFailed", "{v}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn help_on_every_command() {
    for args in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["validate", "--help"],
    ] {
        let out = sluice(&args);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    }
    assert!(Path::new(env!("CARGO_BIN_EXE_sluice")).exists());
}

#[test]
fn sales_etl_pipeline_runs_sql_in_process() {
    let out_dir = std::env::temp_dir().join(format!("sluice-etl-{}", std::process::id()));
    let input = json!({"data": "pipelines/sales-etl/data", "out": out_dir.display().to_string()});
    let out = sluice(&[
        "run",
        "pipelines/sales-etl/sales-etl.asl.json",
        "--input-json",
        &input.to_string(),
        "--json",
    ]);
    let v = json_out(&out);
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    assert_eq!(v["output"]["cleanRows"], 5);
    assert_eq!(
        v["output"]["regions"][0],
        json!({"region": "west", "orders": 2, "revenue": 355.25})
    );
    // The report is a real Parquet file the reference points at.
    assert!(
        out_dir
            .join("report.parquet")
            .metadata()
            .is_ok_and(|m| m.len() > 0)
    );
}

/// The client commands sign their requests with the environment's AWS key, so they work
/// against `sluice serve --auth`; a wrong key is refused with AWS's error.
#[test]
fn client_commands_sign_their_requests() {
    let server =
        crate::support::Server::start_with("sqlite::memory:", &["--auth", "AKIDTEST:secret"]);
    let run = |secret: &str| {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["state-machines", "list", "--endpoint", &server.endpoint])
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env_remove("AWS_SESSION_TOKEN")
            .output()
            .expect("the sluice binary runs")
    };
    let ok = run("secret");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let listed: Value = serde_json::from_slice(&ok.stdout).expect("JSON");
    assert_eq!(listed["stateMachines"], json!([]));
    let refused = run("wrong");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("InvalidSignatureException"), "{err}");
}

/// `sluice run --config FILE`: the file's `[s3]` table reaches the run's integrations (here a
/// directory standing in for S3), and a mistyped key is refused with the file's name.
#[test]
fn run_reads_integrations_from_the_config_file() {
    let dir = crate::support::temp_dir("run-config");
    std::fs::create_dir_all(dir.join("buckets/data")).expect("bucket dir");
    std::fs::write(dir.join("buckets/data/greeting.txt"), "hello from a file").expect("object");
    let config = dir.join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "[s3]\nlocal_dir = {:?}\n",
            dir.join("buckets").display().to_string()
        ),
    )
    .expect("config");
    let definition = dir.join("read.asl.json");
    std::fs::write(
        &definition,
        json!({"StartAt": "Read", "States": {"Read": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": "data", "Key": "greeting.txt"},
            "ResultSelector": {"text.$": "$.Body"}, "End": true}}})
        .to_string(),
    )
    .expect("definition");
    let path = |p: &Path| p.display().to_string();
    let out = sluice(&[
        "run",
        &path(&definition),
        "--config",
        &path(&config),
        "--json",
    ]);
    let result: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        result,
        json!({"status": "SUCCEEDED", "output": {"text": "hello from a file"}}),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&config, "[s3]\nlocal_directory = \"x\"\n").expect("config");
    let out = sluice(&["run", &path(&definition), "--config", &path(&config)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sluice.toml") && err.contains("local_directory"),
        "{err}"
    );
}

/// `sluice map-runs`: list an execution's Map Runs, update one, and watch it to its end (the
/// final description on stdout, exit 0 because it succeeded); then list its children.
#[test]
fn map_runs_commands_follow_a_distributed_map() {
    let server = crate::support::Server::start("sqlite::memory:");
    let endpoint = server.endpoint.clone();
    let def = dir_file(
        "map-runs",
        "fan.json",
        &json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 1, "End": true}}},
            "MaxConcurrency": 2, "End": true}}})
        .to_string(),
    );
    let json_of = |out: Output| -> Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let created = json_of(sluice(&[
        "state-machines",
        "create",
        "--name",
        "fan",
        &def,
        "--endpoint",
        &endpoint,
    ]));
    let sm = created["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let input = json!((0..12).collect::<Vec<_>>()).to_string();
    let started = json_of(sluice(&[
        "executions",
        "start",
        "--state-machine",
        &sm,
        "--input",
        &input,
        "--endpoint",
        &endpoint,
    ]));
    let exec = started["executionArn"].as_str().expect("arn").to_string();
    let mut run_arn = None;
    for _ in 0..100 {
        let listed = json_of(sluice(&[
            "map-runs",
            "list",
            &exec,
            "--endpoint",
            &endpoint,
        ]));
        if let Some(arn) = listed["mapRuns"][0]["mapRunArn"].as_str() {
            run_arn = Some(arn.to_string());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let run_arn = run_arn.expect("the Map Run is listed");
    json_of(sluice(&[
        "map-runs",
        "update",
        &run_arn,
        "--max-concurrency",
        "12",
        "--endpoint",
        &endpoint,
    ]));
    let last = json_of(sluice(&[
        "map-runs",
        "watch",
        &run_arn,
        "--endpoint",
        &endpoint,
    ]));
    assert_eq!(last["status"], "SUCCEEDED");
    assert_eq!(last["itemCounts"]["succeeded"], 12);
    assert_eq!(last["maxConcurrency"], 12);
    let children = json_of(sluice(&[
        "executions",
        "list",
        "--map-run",
        &run_arn,
        "--endpoint",
        &endpoint,
    ]));
    let children = children["executions"].as_array().expect("executions");
    assert_eq!(children.len(), 12);
    assert!(children.iter().all(|c| c["mapRunArn"] == json!(run_arn)));
}

/// Writes `text` to a file in a fresh test directory; its path.
fn dir_file(dir: &str, name: &str, text: &str) -> String {
    let dir = crate::support::temp_dir(dir);
    let path = dir.join(name);
    std::fs::write(&path, text).expect("test file");
    path.display().to_string()
}

/// `sluice run` reads an S3 Inventory manifest from a directory standing in for S3: its gzip
/// CSV data files (written here with the gzip tool) become one item per listed object.
#[test]
fn run_reads_an_inventory_manifest() {
    let dir = crate::support::temp_dir("inventory");
    let data = dir.join("buckets/inventory/photos/all/data");
    std::fs::create_dir_all(&data).expect("data dir");
    std::fs::write(
        data.join("part-1.csv"),
        "\"photos\",\"cats/1.jpg\",\"10\"\n\"photos\",\"cats/2.jpg\",\"20\"\n",
    )
    .expect("data file");
    let gzip = Command::new("gzip")
        .arg(data.join("part-1.csv"))
        .status()
        .expect("gzip runs");
    assert!(gzip.success());
    std::fs::write(
        dir.join("buckets/inventory/photos/all/manifest.json"),
        json!({"sourceBucket": "photos", "destinationBucket": "arn:aws:s3:::inventory",
            "version": "2016-11-30", "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size",
            "files": [{"key": "photos/all/data/part-1.csv.gz", "size": 1, "MD5checksum": "x"}]})
        .to_string(),
    )
    .expect("manifest");
    let def = dir.join("inventory.json");
    std::fs::write(
        &def,
        json!({"StartAt": "Each", "States": {"Each": {"Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "MANIFEST"},
                "Parameters": {"Bucket": "inventory", "Key": "photos/all/manifest.json"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "Key", "States": {"Key": {"Type": "Pass",
                    "Parameters": {"key.$": "$.Key", "size.$": "$.Size"}, "End": true}}},
            "End": true}}})
        .to_string(),
    )
    .expect("definition");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", &def.display().to_string(), "--json"])
        .env("SLUICE_S3_DIR", dir.join("buckets"))
        .output()
        .expect("sluice runs");
    let result: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        result,
        json!({"status": "SUCCEEDED", "output": [
            {"key": "cats/1.jpg", "size": "10"}, {"key": "cats/2.jpg", "size": "20"}]}),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
