//! The messaging and data integrations (DynamoDB, SQS, SNS, EventBridge, `aws-sdk:`) against
//! moto's server, the one `.ci/run` starts for S3: real requests, AWS's result shapes, and
//! the error paths caught by name.

use std::process::Command;

use serde_json::Value;

/// moto's endpoint, or `None` to skip (a failure with `CI_REQUIRE_S3=1`).
fn moto() -> Option<String> {
    match std::env::var("SLUICE_TEST_S3_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ => {
            assert!(
                std::env::var("CI_REQUIRE_S3").as_deref() != Ok("1"),
                "CI_REQUIRE_S3=1 but SLUICE_TEST_S3_ENDPOINT is not set"
            );
            eprintln!("notice: SLUICE_TEST_S3_ENDPOINT not set; skipping the service tests");
            None
        }
    }
}

/// The AWS CLI against moto.
fn aws(endpoint: &str, args: &[&str]) -> Value {
    let out = Command::new("aws")
        .args([
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_PAGER", "")
        .output()
        .expect("aws runs");
    assert!(
        out.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn messaging_and_data_integrations_against_moto() {
    let Some(endpoint) = moto() else { return };
    if Command::new("aws").arg("--version").output().is_err() {
        assert!(std::env::var("CI_REQUIRE_AWSCLI").as_deref() != Ok("1"));
        return;
    }
    let suffix = crate::api::unique_suffix();
    let table = format!("orders-{suffix}");
    aws(
        &endpoint,
        &[
            "dynamodb",
            "create-table",
            "--table-name",
            &table,
            "--attribute-definitions",
            "AttributeName=id,AttributeType=S",
            "--key-schema",
            "AttributeName=id,KeyType=HASH",
            "--billing-mode",
            "PAY_PER_REQUEST",
        ],
    );
    let queue = aws(
        &endpoint,
        &[
            "sqs",
            "create-queue",
            "--queue-name",
            &format!("orders-{suffix}"),
        ],
    )["QueueUrl"]
        .as_str()
        .expect("queue url")
        .to_string();
    let topic = aws(
        &endpoint,
        &["sns", "create-topic", "--name", &format!("orders-{suffix}")],
    )["TopicArn"]
        .as_str()
        .expect("topic arn")
        .to_string();
    let job = format!("nightly-{suffix}");
    aws(
        &endpoint,
        &[
            "glue",
            "create-job",
            "--name",
            &job,
            "--role",
            "arn:aws:iam::123456789012:role/glue",
            "--command",
            "Name=glueetl,ScriptLocation=s3://scripts/job.py",
        ],
    );
    let input =
        serde_json::json!({"table": table, "queue": queue, "topic": topic, "job": job}).to_string();
    let definition = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/services/services.asl.json"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", definition, "--input-json", &input, "--json"])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("SLUICE_BATCH_POLL_SECONDS", "0.1")
        .output()
        .expect("sluice runs");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(result["status"], "SUCCEEDED", "{result:#}");
    let o = &result["output"];
    // DynamoDB: AWS's shapes, with the SDK metadata of optimized integrations.
    assert_eq!(o["put"]["SdkHttpMetadata"]["HttpStatusCode"], 200, "{o:#}");
    assert!(o["put"]["SdkResponseMetadata"]["RequestId"].is_string());
    assert_eq!(o["get"]["item"]["amount"]["N"], "42");
    assert_eq!(o["get"]["status"], 200);
    assert_eq!(o["update"]["attributes"]["amount"]["N"], "43");
    assert_eq!(
        o["conditional"]["Error"],
        "DynamoDB.ConditionalCheckFailedException"
    );
    assert!(
        o["conditional"]["Cause"]
            .as_str()
            .is_some_and(|c| c.contains("(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ConditionalCheckFailedException;")),
        "{o:#}"
    );
    assert_eq!(
        o["missingTable"]["Error"],
        "DynamoDB.ResourceNotFoundException"
    );
    // aws-sdk: the response alone, errors in the Java SDK 2's names.
    assert_eq!(o["sdkGet"]["Item"]["amount"]["N"], "43");
    assert!(o["sdkGet"].get("SdkHttpMetadata").is_none());
    assert_eq!(
        o["sdkMissing"]["Error"],
        "DynamoDb.ResourceNotFoundException"
    );
    // SQS: the body object went as its JSON text.
    assert!(o["send"]["md5"].as_str().is_some_and(|m| m.len() == 32));
    let received = aws(
        &endpoint,
        &[
            "sqs",
            "receive-message",
            "--queue-url",
            &queue,
            "--max-number-of-messages",
            "1",
        ],
    );
    let body: Value =
        serde_json::from_str(received["Messages"][0]["Body"].as_str().expect("a message"))
            .expect("the body is JSON text");
    assert_eq!(body, serde_json::json!({"order": "order-1", "amount": 43}));
    // SNS.
    assert!(o["publish"]["id"].is_string());
    assert_eq!(o["publish"]["status"], 200);
    assert_eq!(o["missingTopic"]["Error"], "SNS.NotFoundException");
    // EventBridge.
    assert_eq!(o["events"]["FailedEntryCount"], 0);
    assert!(o["events"]["Entries"][0]["EventId"].is_string());
    // Athena and Glue: .sync waits for the job and returns its description.
    assert_eq!(o["query"]["state"], "SUCCEEDED", "{o:#}");
    assert!(o["results"]["rows"].is_array(), "{o:#}");
    assert_eq!(o["glue"]["state"], "SUCCEEDED", "{o:#}");
    assert_eq!(o["glue"]["job"], serde_json::json!(job));
    assert_eq!(
        o["missingJob"]["Error"], "Glue.EntityNotFoundException",
        "{o:#}"
    );
}
