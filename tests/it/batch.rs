//! Batch hand-off: `batch:submitJob` and `batch:submitJob.sync` through aws-sdk-batch, against
//! the Batch API test double in `tests/batch/double.py` (no local Batch runs containers).

use std::process::Command;

use serde_json::{Value, json};

use crate::lambda::Double;

fn run(double: &Double, definition: Value) -> Value {
    let dir = crate::support::temp_dir("batch");
    let path = dir.join("batch.asl.json");
    std::fs::write(&path, definition.to_string()).expect("write definition");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", path.to_str().expect("utf-8 path"), "--json"])
        .env("SLUICE_BATCH_ENDPOINT", &double.endpoint)
        .env("SLUICE_BATCH_POLL_SECONDS", "0.05")
        .output()
        .expect("sluice runs");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn job(resource: &str, command: &[&str]) -> Value {
    json!({"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": resource,
        "Parameters": {
            "JobName": "nightly-train", "JobQueue": "gpu", "JobDefinition": "trainer",
            "ContainerOverrides": {"Command": command, "Environment": [{"Name": "EPOCHS", "Value": "3"}]},
            "Parameters": {"model": "resnet"}
        },
        "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Failed"}],
        "End": true},
        "Failed": {"Type": "Pass", "End": true}}})
}

fn requests(double: &Double) -> Value {
    log(double, "_requests")
}

/// One of the double's logs (`_requests`: SubmitJob bodies, `_terminated`: TerminateJob).
fn log(double: &Double, name: &str) -> Value {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1] + '/' + sys.argv[2]).read().decode())",
            &double.endpoint,
            name,
        ])
        .output()
        .expect("python3 reads the double's log");
    serde_json::from_slice(&out.stdout).expect("log JSON")
}

#[test]
fn batch_jobs_submit_and_wait() {
    let double = Double::script("tests/batch/double.py");

    // Request-response: the job's ids, at once.
    let v = run(&double, job("arn:aws:states:::batch:submitJob", &["train"]));
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    assert_eq!(v["output"]["JobName"], "nightly-train");
    assert!(
        v["output"]["JobId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    // .sync: waits for the job and returns its detail in PascalCase.
    let v = run(
        &double,
        job("arn:aws:states:::batch:submitJob.sync", &["train"]),
    );
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    assert_eq!(v["output"]["Status"], "SUCCEEDED", "{v}");
    assert_eq!(v["output"]["Container"]["ExitCode"], 0);
    assert_eq!(v["output"]["Parameters"], json!({"model": "resnet"}));

    // A failed job is States.TaskFailed with the job's detail as the cause.
    let v = run(
        &double,
        job("arn:aws:states:::batch:submitJob.sync", &["fail"]),
    );
    assert_eq!(v["status"], "SUCCEEDED", "caught: {v}");
    assert_eq!(v["output"]["Error"], "States.TaskFailed");
    let cause: Value =
        serde_json::from_str(v["output"]["Cause"].as_str().expect("cause")).expect("JSON cause");
    assert_eq!(cause["Status"], "FAILED");
    assert_eq!(cause["Container"]["ExitCode"], 1);

    // What reached Batch: camelCase SubmitJob bodies, with Step Functions' marker on .sync jobs.
    let sent = requests(&double);
    assert_eq!(sent[0]["jobQueue"], "gpu");
    assert_eq!(sent[0]["containerOverrides"]["command"], json!(["train"]));
    let env = &sent[1]["containerOverrides"]["environment"];
    assert!(
        env.as_array().is_some_and(|e| e
            .iter()
            .any(|p| p["name"] == "MANAGED_BY_AWS" && p["value"] == "STARTED_BY_STEP_FUNCTIONS")),
        "{env}"
    );

    // A missing required parameter is a clear runtime error, not a request Batch rejects.
    let mut bad = job("arn:aws:states:::batch:submitJob", &["train"]);
    bad["States"]["Job"]["Parameters"]
        .as_object_mut()
        .expect("parameters")
        .remove("JobQueue");
    bad["States"]["Job"]
        .as_object_mut()
        .expect("state")
        .remove("Catch");
    bad["States"]
        .as_object_mut()
        .expect("states")
        .remove("Failed");
    let v = run(&double, bad);
    assert_eq!(v["status"], "FAILED");
    assert!(
        v["cause"].as_str().is_some_and(|c| c.contains("JobQueue")),
        "{v}"
    );
}

/// A `.sync` job outlives server restarts: after a graceful stop (SIGTERM) and after
/// `kill -9`, the restarted server goes on waiting for the job it submitted (Batch sees one
/// SubmitJob and no TerminateJob), and the execution ends with that job's outcome.
#[tokio::test]
async fn a_sync_job_survives_server_restarts() {
    use crate::support::{Server, create, finished, history, start, temp_dir};
    use aws_sdk_sfn::types::ExecutionStatus;

    // Each status lasts two seconds: the job still runs through both restarts.
    let double = Double::script_env(
        "tests/batch/double.py",
        &[("BATCH_DOUBLE_STEP_SECONDS", "2")],
    );
    let store = format!(
        "sqlite:{}",
        temp_dir("batch-restart").join("sluice.db").display()
    );
    let env = [
        ("SLUICE_BATCH_ENDPOINT", double.endpoint.as_str()),
        ("SLUICE_BATCH_POLL_SECONDS", "0.1"),
    ];
    let server = Server::start_env(&store, &[], &env);
    let client = server.client();
    let machine = create(
        &client,
        "train",
        job("arn:aws:states:::batch:submitJob.sync", &["train"]),
    )
    .await;
    let exec = start(&client, &machine, "{}").await;
    crate::support::eventually(std::time::Duration::from_secs(10), || async {
        history(&client, &exec)
            .await
            .iter()
            .any(|e| e.r#type().as_str() == "TaskSubmitted")
            .then_some(())
    })
    .await;
    server.stop();
    let server = Server::start_env(&store, &[], &env);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    server.kill();

    let server = Server::start_env(&store, &[], &env);
    let client = server.client();
    let done = finished(&client, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(done.output().expect("output")).expect("JSON");
    assert_eq!(output["Status"], "SUCCEEDED", "{output}");
    let sent = requests(&double);
    assert_eq!(
        sent.as_array().map(Vec::len),
        Some(1),
        "one SubmitJob: {sent}"
    );
    assert_eq!(
        log(&double, "_terminated"),
        json!([]),
        "the job was left running"
    );
    let events = history(&client, &exec).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e.r#type().as_str())
        .filter(|k| k.starts_with("Task") && !k.starts_with("TaskState"))
        .collect();
    assert_eq!(
        kinds,
        [
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded"
        ]
    );
}

/// Stopping the execution still ends its `.sync` job (TerminateJob), as Step Functions does.
#[tokio::test]
async fn stopping_an_execution_terminates_its_sync_job() {
    use crate::support::{Server, create, eventually, finished, start};
    use aws_sdk_sfn::types::ExecutionStatus;

    let double = Double::script_env(
        "tests/batch/double.py",
        &[("BATCH_DOUBLE_STEP_SECONDS", "5")],
    );
    let env = [
        ("SLUICE_BATCH_ENDPOINT", double.endpoint.as_str()),
        ("SLUICE_BATCH_POLL_SECONDS", "0.1"),
    ];
    let server = Server::start_env("sqlite::memory:", &[], &env);
    let client = server.client();
    let machine = create(
        &client,
        "stopped",
        job("arn:aws:states:::batch:submitJob.sync", &["train"]),
    )
    .await;
    let exec = start(&client, &machine, "{}").await;
    eventually(std::time::Duration::from_secs(10), || async {
        requests(&double)
            .as_array()
            .is_some_and(|r| r.len() == 1)
            .then_some(())
    })
    .await;
    client
        .stop_execution()
        .execution_arn(&exec)
        .send()
        .await
        .expect("StopExecution");
    assert_eq!(
        finished(&client, &exec).await.status(),
        &ExecutionStatus::Aborted
    );
    let terminated = eventually(std::time::Duration::from_secs(10), || async {
        let t = log(&double, "_terminated");
        t.as_array().is_some_and(|t| !t.is_empty()).then_some(t)
    })
    .await;
    assert_eq!(terminated[0]["reason"], "Step Functions task stopped");
}
