//! `sluice worker` as a real process: it polls an activity on `sluice serve` and hands the
//! task to Lambda (the test double), and the execution completes with its answer.

use std::process::{Command, Stdio};
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

use crate::lambda::Double;
use crate::support::{ROLE, Server, eventually, finished};

/// Killed when dropped.
struct Worker(std::process::Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn worker_runs_activity_tasks_through_lambda() {
    let double = Double::start();
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    let _worker = Worker(
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "worker",
                "--endpoint",
                &server.endpoint,
                "--activity",
                "sluice-lambda",
                "--concurrency",
                "2",
            ])
            .env("SLUICE_LAMBDA_ENDPOINT", &double.endpoint)
            .env("SLUICE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sluice worker starts"),
    );
    // The worker registers the activity; an ARN in the definition addresses it.
    let activity = eventually(Duration::from_secs(20), || async {
        let listed = client.list_activities().send().await.ok()?;
        listed
            .activities()
            .iter()
            .find(|a| a.name() == "sluice-lambda")
            .map(|a| a.activity_arn().to_string())
    })
    .await;
    let def = json!({"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": activity,
        "Parameters": {"FunctionName": "id_function", "Payload.$": "$"},
        "ResultSelector": {"echo.$": "$.Payload"}, "End": true}}});
    let sm = client
        .create_state_machine()
        .name("via-worker")
        .definition(def.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_string();
    let exec = client
        .start_execution()
        .state_machine_arn(&sm)
        .input(r#"{"image": "cat.png"}"#)
        .send()
        .await
        .expect("started")
        .execution_arn()
        .to_string();
    let done = finished(&client, &exec).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?} {:?}",
        done.error(),
        done.cause()
    );
    let output: Value = serde_json::from_str(done.output().expect("output")).expect("JSON");
    assert_eq!(output, json!({"echo": {"image": "cat.png"}}));
}
