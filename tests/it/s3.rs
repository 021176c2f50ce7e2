//! The pipelines against a real S3-compatible server (moto's, started by `.ci/s3.sh`), through
//! `sluice serve` and `sluice worker` processes; the AWS CLI puts the sample data in and reads
//! the results back.

use std::path::Path;
use std::process::Command;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

use crate::support::{ROLE, Server, Worker, activity_arn, finished};

/// The S3 endpoint from `SLUICE_TEST_S3_ENDPOINT`, or None (and a notice) when it is unset and
/// CI does not require it.
fn s3_endpoint() -> Option<String> {
    if let Ok(url) = std::env::var("SLUICE_TEST_S3_ENDPOINT")
        && !url.is_empty()
    {
        return Some(url);
    }
    assert!(
        std::env::var("CI_REQUIRE_S3").as_deref() != Ok("1"),
        "an S3 server is required here (CI_REQUIRE_S3=1) but SLUICE_TEST_S3_ENDPOINT is unset"
    );
    eprintln!("notice: SLUICE_TEST_S3_ENDPOINT unset; skipping (start one with .ci/s3.sh)");
    None
}

/// What every process talking to the S3 server gets: its endpoint and dummy credentials.
fn s3_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_S3", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", "sluice-test".into()),
        ("AWS_SECRET_ACCESS_KEY", "sluice-test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
    ]
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// `aws s3 …` against the test server; stdout on success.
fn aws_s3(endpoint: &str, args: &[&str]) -> String {
    let out = Command::new("aws")
        .args(["--endpoint-url", endpoint])
        .args(args)
        .envs(s3_env(endpoint))
        .env("AWS_PAGER", "")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("the AWS CLI runs (.ci/run installs it)");
    assert!(
        out.status.success(),
        "aws {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh bucket for one test.
fn bucket(endpoint: &str, name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let bucket = format!("sluice-it-{name}-{}-{nanos}", std::process::id());
    aws_s3(endpoint, &["s3", "mb", &format!("s3://{bucket}")]);
    bucket
}

fn pipeline(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).expect("pipeline definition")
}

async fn run_to_end(client: &aws_sdk_sfn::Client, name: &str, def: &str, input: Value) -> Value {
    let sm = client
        .create_state_machine()
        .name(name)
        .definition(def)
        .role_arn(ROLE)
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_string();
    let exec = client
        .start_execution()
        .state_machine_arn(&sm)
        .input(input.to_string())
        .send()
        .await
        .expect("started")
        .execution_arn()
        .to_string();
    let done = finished(client, &exec).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{name}: {:?} {:?}",
        done.error(),
        done.cause()
    );
    serde_json::from_str(done.output().expect("output")).expect("JSON output")
}

#[tokio::test]
async fn pipelines_run_on_serve_and_worker_against_s3() {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let root = env!("CARGO_MANIFEST_DIR");
    let bucket = bucket(&endpoint, "pipelines");
    aws_s3(
        &endpoint,
        &[
            "s3",
            "cp",
            "--recursive",
            &format!("{root}/pipelines/store-sales-map/buckets/sluice-demo/incoming"),
            &format!("s3://{bucket}/incoming/"),
        ],
    );
    aws_s3(
        &endpoint,
        &[
            "s3",
            "cp",
            &format!("{root}/pipelines/sales-etl/data/sales.csv"),
            &format!("s3://{bucket}/raw/sales.csv"),
        ],
    );
    let env = s3_env(&endpoint);
    let server = Server::start_env("sqlite::memory:", &[], &borrowed(&env));
    let client = server.client();
    let _worker = Worker::start(&server.endpoint, "sluice-sql", 4, &borrowed(&env));
    activity_arn(&client, "sluice-sql").await;

    // Map over the prefix: the server lists it, the worker runs one SQL step per file.
    let out = run_to_end(
        &client,
        "store-sales-map",
        &pipeline("pipelines/store-sales-map/store-sales-map.asl.json"),
        json!({"bucket": bucket, "prefix": "incoming/"}),
    )
    .await;
    assert_eq!(
        out["report"],
        format!("s3://{bucket}/reports/by-sku.parquet")
    );
    let skus = out["skus"].as_array().expect("inline rows");
    assert_eq!(skus.len(), 5, "{out}");
    let units: i64 = skus.iter().filter_map(|r| r["units"].as_i64()).sum();
    assert_eq!(units, 354, "every row of every file is counted once: {out}");
    let summaries = aws_s3(
        &endpoint,
        &["s3", "ls", &format!("s3://{bucket}/summaries/incoming/")],
    );
    assert_eq!(summaries.matches(".csv.parquet").count(), 6, "{summaries}");
    // The ResultWriter's manifest lists the exported per-file references.
    let manifest_key = out["perFileResults"]["Key"].as_str().expect("manifest key");
    let manifest: Value = serde_json::from_str(&aws_s3(
        &endpoint,
        &["s3", "cp", &format!("s3://{bucket}/{manifest_key}"), "-"],
    ))
    .expect("manifest JSON");
    let succeeded = &manifest["ResultFiles"]["SUCCEEDED"][0]["Key"];
    let results: Value = serde_json::from_str(&aws_s3(
        &endpoint,
        &[
            "s3",
            "cp",
            &format!("s3://{bucket}/{}", succeeded.as_str().expect("key")),
            "-",
        ],
    ))
    .expect("results JSON");
    assert_eq!(results.as_array().map(Vec::len), Some(6), "{results}");

    // The ETL pipeline with its data and outputs in S3.
    let out = run_to_end(
        &client,
        "sales-etl",
        &pipeline("pipelines/sales-etl/sales-etl.asl.json"),
        json!({"data": format!("s3://{bucket}/raw"), "out": format!("s3://{bucket}/etl")}),
    )
    .await;
    assert_eq!(out["report"], format!("s3://{bucket}/etl/report.parquet"));
    assert!(out["cleanRows"].as_u64().is_some_and(|n| n > 0), "{out}");
    // A glob over S3 keys picks some of the files.
    let sql = activity_arn(&client, "sluice-sql").await;
    let glob = json!({"StartAt": "Count", "States": {"Count": {"Type": "Task", "Resource": sql,
        "Parameters": {"query": "SELECT count(*) AS n FROM f",
            "inputs": {"f.$": "States.Format('s3://{}/incoming/store-0[1-3].csv', $.bucket)"},
            "inline": 1},
        "OutputPath": "$.inline[0]", "End": true}}});
    let out = run_to_end(
        &client,
        "glob",
        &glob.to_string(),
        json!({"bucket": bucket}),
    )
    .await;
    assert_eq!(out, json!({"n": 36}));
    let etl = aws_s3(&endpoint, &["s3", "ls", &format!("s3://{bucket}/etl/")]);
    assert!(
        etl.contains("clean.parquet") && etl.contains("report.parquet"),
        "{etl}"
    );
}
