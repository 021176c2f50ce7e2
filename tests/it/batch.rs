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
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1] + '/_requests').read().decode())",
            &double.endpoint,
        ])
        .output()
        .expect("python3 reads the double's log");
    serde_json::from_slice(&out.stdout).expect("requests JSON")
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
