//! Hostile requests against every action: random bodies (wrong types, missing and extra
//! fields, ARNs of the wrong kind, huge and negative numbers, broken JSON) must each get an
//! AWS error or an answer, never a panic and never a server error. A seeded generator, so a
//! failure repeats; `fuzz/fuzz_targets/api_request.rs` explores further with coverage.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use super::{ACTIONS, handle};
use crate::service::{Config, Service};
use crate::store::SqliteStore;

const FIELDS: &[&str] = &[
    "activityArn",
    "cause",
    "definition",
    "error",
    "executionArn",
    "input",
    "maxResults",
    "mock",
    "name",
    "nextToken",
    "output",
    "roleArn",
    "stateMachineArn",
    "statusFilter",
    "taskToken",
    "type",
    "variables",
    "workerName",
    "reverseOrder",
    "includeExecutionData",
];

/// A value of any JSON type, biased towards what the API parses.
fn value(rng: &mut StdRng, depth: u32) -> Value {
    let strings = [
        "",
        "x",
        "arn:aws:states:us-east-1:123456789012:stateMachine:m",
        "arn:aws:states:us-east-1:123456789012:execution:m:e",
        "arn:aws:states:us-east-1:123456789012:activity:a",
        "arn:aws:states:::lambda:invoke",
        "arn:aws:iam::123456789012:role/r",
        "arn:aws:states:us-east-1:123456789012:express:m:e:1",
        "arn::::::::",
        "RUNNING",
        "PENDING_REDRIVE",
        "EXPRESS",
        "{}",
        "[]",
        "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true}}}",
        "{\"StartAt\":\"A\",\"States\":{}}",
        "1|arn",
        "nan|x",
        "\u{0}\u{ffff}é",
        "00000000000000000000000000000000",
    ];
    match rng.random_range(0..10) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random::<i64>()),
        3 => [
            json!(-1),
            json!(0),
            json!(1),
            json!(1000),
            json!(i64::MAX),
            json!(u64::MAX),
        ][rng.random_range(0..6)]
        .clone(),
        4 => json!(rng.random::<f64>() * 1e300),
        5 | 6 => json!(strings[rng.random_range(0..strings.len())]),
        7 => json!("y".repeat(rng.random_range(0..3000))),
        8 if depth < 3 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| value(rng, depth + 1))
                .collect(),
        ),
        _ if depth < 3 => Value::Object(object(rng, depth + 1)),
        _ => Value::Null,
    }
}

fn object(rng: &mut StdRng, depth: u32) -> Map<String, Value> {
    let mut m = Map::new();
    for _ in 0..rng.random_range(0..6) {
        let key = FIELDS[rng.random_range(0..FIELDS.len())];
        m.insert(key.to_string(), value(rng, depth));
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_aws_errors_never_panics() {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let service = Service::new(store, Config::default());
    let mut rng = StdRng::seed_from_u64(0x51_1c_e0);
    let uri: Uri = "/".parse().expect("uri");
    let mut answered = 0;
    for i in 0..3000 {
        // One in 25 asks for an action that does not exist.
        let action = ACTIONS
            .get(rng.random_range(0..ACTIONS.len() + 1))
            .copied()
            .unwrap_or("NoSuchAction");
        let body = match rng.random_range(0..20) {
            0 => b"{not json".to_vec(),
            1 => Vec::new(),
            2 => b"[1,2,3]".to_vec(),
            3 => vec![0xff, 0xfe, 0x00],
            _ => Value::Object(object(&mut rng, 0)).to_string().into_bytes(),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amz-target",
            HeaderValue::from_str(&format!("AWSStepFunctions.{action}")).expect("header"),
        );
        // Some requests would wait (a long poll, a Wait state): those are cut short, which
        // is not a failure; what must not happen is a panic or a 5xx.
        let outcome = tokio::time::timeout(
            Duration::from_millis(500),
            handle(&service, &Method::POST, &uri, &headers, &body),
        )
        .await;
        match outcome {
            Ok(Ok(_)) => answered += 1,
            Ok(Err(e)) => assert!(
                e.status.is_client_error(),
                "request {i}: {action} {} -> {e:?}",
                String::from_utf8_lossy(&body)
            ),
            Err(_) => {}
        }
    }
    // Not every request is refused: the generator reaches real work too.
    assert!(answered > 100, "only {answered} requests were answered");
}

/// The list of actions is the one `dispatch` serves: none of them is an unknown operation.
#[tokio::test]
async fn every_listed_action_is_served() {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let service = Service::new(store, Config::default());
    let uri: Uri = "/".parse().expect("uri");
    for action in ACTIONS {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amz-target",
            HeaderValue::from_str(&format!("AWSStepFunctions.{action}")).expect("header"),
        );
        let outcome = tokio::time::timeout(
            Duration::from_secs(2),
            handle(&service, &Method::POST, &uri, &headers, b"{}"),
        )
        .await
        .expect("an empty request is answered at once");
        if let Err(e) = outcome {
            assert_ne!(e.code, "UnknownOperationException", "{action}");
        }
    }
}
