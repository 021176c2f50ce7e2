//! What an operator sees: `/healthz` and `/readyz`, `/metrics` parsed by the Prometheus
//! project's own text parser (`prometheus_client` from PyPI) with counters that move as a
//! pipeline runs, a worker's metrics port, and logs as JSON lines.

use std::process::Command;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

use crate::support::{Server, Worker, create, eventually, finished, start, temp_dir};

/// The samples of a Prometheus text exposition as `[name, labels, value]`, parsed by
/// `prometheus_client` (None, with a notice, when it is not installed and CI does not
/// require it).
fn parse(text: &str) -> Option<Vec<(String, Value, f64)>> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3 ends");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No module named 'prometheus_client'") {
            assert!(
                std::env::var("CI_REQUIRE_AWSCLI").as_deref() != Ok("1"),
                "prometheus_client is required in CI"
            );
            eprintln!("notice: prometheus_client not installed; skipping the metrics parse");
            return None;
        }
        panic!("the exposition does not parse: {err}\n{text}");
    }
    let rows: Vec<(String, Value, f64)> = serde_json::from_slice(&out.stdout).expect("JSON");
    Some(rows)
}

fn sample(rows: &[(String, Value, f64)], name: &str, labels: Value) -> f64 {
    rows.iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .as_object()
                    .expect("labels")
                    .iter()
                    .all(|(k, v)| l.get(k) == Some(v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("GET");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_metrics_and_json_logs() {
    let dir = temp_dir("observability");
    let server = Server::start_env(
        &format!("sqlite:{}", dir.join("s.db").display()),
        &[],
        &[("SLUICE_LOG", "info"), ("SLUICE_LOG_FORMAT", "json")],
    );
    let ep = server.endpoint.clone();
    assert_eq!(get(&format!("{ep}/healthz")).await, (200, "ok".into()));
    assert_eq!(get(&format!("{ep}/readyz")).await.0, 200);
    let c = server.client();
    let machine = create(
        &c,
        "observed",
        json!({"StartAt": "Echo", "States": {"Echo": {"Type": "Task",
            "Resource": "arn:aws:states:us-east-1:123456789012:activity:sluice-echo", "End": true}}}),
    )
    .await;
    let metrics_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("addr").port()
    };
    let worker_metrics = format!("127.0.0.1:{metrics_port}");
    let _worker = Worker::start_args(
        &ep,
        "sluice-echo",
        &["--metrics-listen", &worker_metrics],
        &[],
    );
    for _ in 0..3 {
        let exec = start(&c, &machine, r#"{"n": 1}"#).await;
        assert_eq!(
            finished(&c, &exec).await.status(),
            &ExecutionStatus::Succeeded
        );
    }
    let (status, text) = get(&format!("{ep}/metrics")).await;
    assert_eq!(status, 200);
    let Some(rows) = parse(&text) else { return };
    let labels = json!({"state_machine": "observed"});
    assert_eq!(
        sample(
            &rows,
            "sluice_executions_started_total",
            json!({"state_machine": "observed", "type": "STANDARD"})
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &rows,
            "sluice_executions_finished_total",
            json!({"state_machine": "observed", "status": "SUCCEEDED"})
        ),
        3.0
    );
    let _ = labels;
    assert!(
        sample(
            &rows,
            "sluice_api_requests_total",
            json!({"action": "StartExecution", "status": "200"})
        ) >= 3.0
    );
    assert!(sample(&rows, "sluice_state_transitions_total", json!({})) >= 3.0);
    assert!(
        sample(
            &rows,
            "sluice_store_commit_duration_seconds_count",
            json!({})
        ) >= 1.0
    );
    assert!(sample(&rows, "sluice_step_duration_seconds_count", json!({})) >= 3.0);
    // The worker's own port.
    let worker_rows = eventually(Duration::from_secs(10), || async {
        let (_, text) = get(&format!("http://{worker_metrics}/metrics")).await;
        let rows = parse(&text)?;
        (sample(
            &rows,
            "sluice_worker_tasks_total",
            json!({"activity": "sluice-echo", "outcome": "succeeded"}),
        ) >= 3.0)
            .then_some(rows)
    })
    .await;
    assert!(
        sample(
            &worker_rows,
            "sluice_worker_task_duration_seconds_count",
            json!({"activity": "sluice-echo"})
        ) >= 3.0
    );
    assert_eq!(
        get(&format!("http://{worker_metrics}/healthz")).await.0,
        200
    );
    // Logs are JSON lines with the request's fields, the address line too.
    assert!(
        server
            .logged("")
            .iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "a log line is not JSON: {:?}",
        server.logged("")
    );
    let requests = server.logged("\"request\"");
    assert!(!requests.is_empty(), "no request log lines");
    for line in requests.iter().take(5) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["fields"]["message"], "request", "{v}");
        assert!(v["level"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_reach_an_otlp_receiver() {
    use std::io::{BufRead, BufReader};
    let dir = temp_dir("otlp");
    let spans = dir.join("spans");
    let mut receiver = Command::new("python3")
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http/otlp_receiver.py"),
            &spans.display().to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs the receiver");
    let mut line = String::new();
    BufReader::new(receiver.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the receiver prints its address");
    let endpoint = line.trim().trim_start_matches("listening on ").to_string();
    let server = Server::start_env(
        &format!("sqlite:{}", dir.join("s.db").display()),
        &[],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    );
    let c = server.client();
    let machine = create(
        &c,
        "traced",
        json!({"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "End": true}}}),
    )
    .await;
    let exec = start(&c, &machine, "{}").await;
    assert_eq!(
        finished(&c, &exec).await.status(),
        &ExecutionStatus::Succeeded
    );
    // SIGTERM flushes the spans not yet sent.
    let (status, _) = server.stop();
    assert!(status.success());
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&spans).expect("spans were received") {
        bytes.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
    }
    let _ = receiver.kill();
    let _ = receiver.wait();
    let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    // Protobuf keeps strings as they are: the span names, the service, the execution.
    assert!(has("sluice-serve"), "no spans from sluice-serve");
    assert!(has("step") && has("api"), "the step and API spans");
    assert!(has(&exec), "the execution ARN is on its spans");
    assert!(has("Hello"), "the state name is on the step span");
}
