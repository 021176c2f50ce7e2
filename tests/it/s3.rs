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
pub(crate) fn s3_endpoint() -> Option<String> {
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
pub(crate) fn s3_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_S3", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", "sluice-test".into()),
        ("AWS_SECRET_ACCESS_KEY", "sluice-test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
    ]
}

pub(crate) fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
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

/// `sluice run` of `definition` against the test server: the execution's output.
fn run_against(endpoint: &str, dir: &Path, name: &str, definition: Value) -> Value {
    let file = dir.join(format!("{name}.asl.json"));
    std::fs::write(&file, definition.to_string()).expect("definition");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", &file.display().to_string(), "--json"])
        .envs(s3_env(endpoint))
        .output()
        .expect("sluice runs");
    let result: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        result["status"],
        "SUCCEEDED",
        "{name}: {result} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    result["output"].clone()
}

/// A Distributed Map reading `reader` whose EXPRESS children hand back `selected`.
fn reading(reader: Value, selected: Value) -> Value {
    json!({"StartAt": "Each", "States": {"Each": {"Type": "Map",
        "ItemReader": reader,
        "MaxConcurrency": 50,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Take", "States": {"Take": {"Type": "Pass",
                "Parameters": selected, "End": true}}},
        "End": true}}})
}

/// Every ItemReader against a real S3 server, checked item by item: a prefix of 1,500 objects
/// (several pages of listObjectsV2), CSV, JSONL, Parquet with 15 row groups (each read on its
/// own, with ranged GETs) and an S3 Inventory manifest with a gzip CSV data file.
#[test]
fn item_readers_against_s3() {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let bucket = bucket(&endpoint, "readers");
    let dir = crate::support::temp_dir("s3-readers");
    let local = dir.join("upload");
    let objects = 1500;
    std::fs::create_dir_all(local.join("many")).expect("dir");
    for i in 0..objects {
        std::fs::write(
            local.join(format!("many/obj-{i:05}.json")),
            format!("{{\"i\":{i}}}"),
        )
        .expect("object");
    }
    let rows = 100;
    let mut csv = String::from("id,name\n");
    let mut jsonl = String::new();
    for i in 0..rows {
        csv.push_str(&format!("{i},row {i}\n"));
        jsonl.push_str(&format!("{{\"id\":{i},\"name\":\"row {i}\"}}\n"));
    }
    std::fs::write(local.join("rows.csv"), csv).expect("csv");
    std::fs::write(local.join("rows.jsonl"), jsonl).expect("jsonl");
    write_parquet(&local.join("rows.parquet"), rows, 7);
    std::fs::create_dir_all(local.join("inv/data")).expect("dir");
    std::fs::write(
        local.join("inv/data/part-1.csv"),
        "\"src\",\"a/1.jpg\",\"10\"\n\"src\",\"a/2.jpg\",\"20\"\n",
    )
    .expect("data file");
    let gzip = Command::new("gzip")
        .arg(local.join("inv/data/part-1.csv"))
        .status()
        .expect("gzip runs");
    assert!(gzip.success());
    std::fs::write(
        local.join("inv/manifest.json"),
        json!({"sourceBucket": "src", "destinationBucket": format!("arn:aws:s3:::{bucket}"),
            "version": "2016-11-30", "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size",
            "files": [{"key": "inv/data/part-1.csv.gz", "size": 1, "MD5checksum": "x"}]})
        .to_string(),
    )
    .expect("manifest");
    aws_s3(
        &endpoint,
        &[
            "s3",
            "cp",
            "--recursive",
            "--quiet",
            &local.display().to_string(),
            &format!("s3://{bucket}/"),
        ],
    );

    let listed = run_against(
        &endpoint,
        &dir,
        "listed",
        reading(
            json!({"Resource": "arn:aws:states:::s3:listObjectsV2",
                "Parameters": {"Bucket": bucket, "Prefix": "many/"}}),
            json!({"key.$": "$.Key"}),
        ),
    );
    let keys: Vec<&str> = listed
        .as_array()
        .expect("an array")
        .iter()
        .map(|o| o["key"].as_str().expect("a key"))
        .collect();
    let expected: Vec<String> = (0..objects)
        .map(|i| format!("many/obj-{i:05}.json"))
        .collect();
    assert_eq!(keys, expected);

    let by_row = |v: &Value| -> Vec<(i64, String)> {
        v.as_array()
            .expect("an array")
            .iter()
            .map(|r| {
                let id = match &r["id"] {
                    Value::String(s) => s.parse().expect("a numeric id"),
                    other => other.as_i64().expect("an id"),
                };
                (id, r["name"].as_str().expect("a name").to_string())
            })
            .collect()
    };
    let want: Vec<(i64, String)> = (0..rows as i64).map(|i| (i, format!("row {i}"))).collect();
    for (name, input_type) in [
        (
            "rows.csv",
            json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}),
        ),
        ("rows.jsonl", json!({"InputType": "JSONL"})),
        ("rows.parquet", json!({"InputType": "PARQUET"})),
    ] {
        let out = run_against(
            &endpoint,
            &dir,
            name,
            reading(
                json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": input_type,
                    "Parameters": {"Bucket": bucket, "Key": name}}),
                json!({"id.$": "$.id", "name.$": "$.name"}),
            ),
        );
        assert_eq!(by_row(&out), want, "{name}");
    }

    let inventory = run_against(
        &endpoint,
        &dir,
        "inventory",
        reading(
            json!({"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "MANIFEST"},
                "Parameters": {"Bucket": bucket, "Key": "inv/manifest.json"}}),
            json!({"key.$": "$.Key", "size.$": "$.Size"}),
        ),
    );
    assert_eq!(
        inventory,
        json!([{"key": "a/1.jpg", "size": "10"}, {"key": "a/2.jpg", "size": "20"}])
    );
}

/// `rows` rows of `{id, name}` in row groups of `group` rows.
fn write_parquet(path: &Path, rows: usize, group: usize) {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::WriterProperties;
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from((0..rows as i64).collect::<Vec<_>>())),
            Arc::new(StringArray::from(
                (0..rows).map(|i| format!("row {i}")).collect::<Vec<_>>(),
            )),
        ],
    )
    .expect("batch");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    let file = std::fs::File::create(path).expect("file");
    let mut writer = ArrowWriter::try_new(file, schema, Some(props)).expect("writer");
    writer.write(&batch).expect("write");
    let meta = writer.close().expect("close");
    assert_eq!(meta.num_row_groups(), rows.div_ceil(group));
}
