//! `sluice worker` as a real process: it polls an activity on `sluice serve` and hands the
//! task to Lambda (the test double), and the execution completes with its answer.

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

use crate::lambda::Double;
use crate::support::{ROLE, Server, Worker, activity_arn, finished};

#[tokio::test]
async fn worker_runs_activity_tasks_through_lambda() {
    let double = Double::start();
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    let _worker = Worker::start(
        &server.endpoint,
        "sluice-lambda",
        2,
        &[("SLUICE_LAMBDA_ENDPOINT", &double.endpoint)],
    );
    // The worker registers the activity; an ARN in the definition addresses it.
    let activity = activity_arn(&client, "sluice-lambda").await;
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
