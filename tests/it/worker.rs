//! `sluice worker` as a real process: it polls an activity on `sluice serve` and hands the
//! task to Lambda (the test double), and the execution completes with its answer.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

use crate::lambda::Double;
use crate::support::{ROLE, Server, Worker, activity_arn, eventually, finished};

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

/// A worker killed mid-task: the task's heartbeats stop, the heartbeat timeout hands it to the
/// Retry, and another worker finishes it. A stale worker's late answer is refused.
#[tokio::test]
async fn a_killed_workers_task_is_redelivered_and_late_answers_are_refused() {
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    let fast_heartbeats = ["--concurrency", "1", "--heartbeat-seconds", "1"];
    let first = Worker::start_args(&server.endpoint, "sluice-echo", &fast_heartbeats, &[]);
    let activity = activity_arn(&client, "sluice-echo").await;
    // Attempt 0 would run for ten minutes; the retries finish at once.
    let def = json!({"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": activity, "HeartbeatSeconds": 3, "TimeoutSeconds": 300,
        "Parameters": {
            "delayMillis.$": "States.ArrayGetItem(States.Array(600000, 0, 0), $$.State.RetryCount)",
            "attempt.$": "$$.State.RetryCount"
        },
        "Retry": [{"ErrorEquals": ["States.HeartbeatTimeout"], "IntervalSeconds": 1, "MaxAttempts": 2}],
        "End": true}}});
    let sm = client
        .create_state_machine()
        .name("redelivery")
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
        .send()
        .await
        .expect("started")
        .execution_arn()
        .to_string();
    let history = |client: aws_sdk_sfn::Client, exec: String| async move {
        client
            .get_execution_history()
            .execution_arn(exec)
            .send()
            .await
            .expect("history")
            .events()
            .iter()
            .map(|e| e.r#type().as_str().to_string())
            .collect::<Vec<_>>()
    };
    eventually(Duration::from_secs(20), || async {
        let events = history(client.clone(), exec.clone()).await;
        events
            .iter()
            .any(|e| e == "ActivityScheduled")
            .then_some(())
    })
    .await;
    // Alive, the worker's heartbeats keep the task past its 3 s HeartbeatSeconds.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let events = history(client.clone(), exec.clone()).await;
    assert!(
        !events.iter().any(|e| e == "ActivityTimedOut"),
        "{events:?}"
    );
    first.kill();

    // The retry's task goes to a worker that takes it and never answers…
    let stale = client
        .get_activity_task()
        .activity_arn(&activity)
        .worker_name("stale")
        .send()
        .await
        .expect("GetActivityTask");
    let stale_token = stale
        .task_token()
        .expect("a task was delivered")
        .to_string();
    let stale_input: Value = serde_json::from_str(stale.input().expect("input")).expect("JSON");
    assert_eq!(stale_input["attempt"], 1);
    // …so it times out in turn, and a healthy worker finishes the next attempt.
    let _second = Worker::start_args(&server.endpoint, "sluice-echo", &fast_heartbeats, &[]);
    let done = finished(&client, &exec).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?} {:?}",
        done.error(),
        done.cause()
    );
    let output: Value = serde_json::from_str(done.output().expect("output")).expect("JSON");
    assert_eq!(output, json!({"delayMillis": 0, "attempt": 2}));
    let events = history(client.clone(), exec.clone()).await;
    assert_eq!(
        events.iter().filter(|e| *e == "ActivityTimedOut").count(),
        2,
        "{events:?}"
    );
    // The stale worker's late answer is refused.
    let late = client
        .send_task_success()
        .task_token(stale_token)
        .output("{}")
        .send()
        .await
        .expect_err("a late answer is refused");
    assert!(format!("{late:?}").contains("TaskTimedOut"), "{late:?}");
}

/// The worker signs with credentials from the standard AWS chain: here a named profile in a
/// shared credentials file, no key in the environment, against `serve --auth` with that key.
#[tokio::test]
async fn worker_signs_with_a_profile_from_the_credential_chain() {
    let server = Server::start_with("sqlite::memory:", &["--auth", "AKIDTEST:secret"]);
    let client = server.client();
    let dir = crate::support::temp_dir("profile");
    let credentials = dir.join("credentials");
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = WRONG\naws_secret_access_key = wrong\n\n[ci]\naws_access_key_id = AKIDTEST\naws_secret_access_key = secret\n",
    )
    .expect("write the credentials file");
    let home = dir.to_string_lossy().into_owned();
    let file = credentials.to_string_lossy().into_owned();
    let missing = dir.join("no-config").to_string_lossy().into_owned();
    let _worker = Worker::start(
        &server.endpoint,
        "sluice-echo",
        1,
        &[
            ("AWS_PROFILE", "ci"),
            ("AWS_SHARED_CREDENTIALS_FILE", &file),
            ("AWS_CONFIG_FILE", &missing),
            ("HOME", &home),
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
        ],
    );
    // The worker registers its activity only if its signature is accepted.
    let activity = activity_arn(&client, "sluice-echo").await;
    let def = json!({"StartAt": "Echo", "States": {"Echo": {
        "Type": "Task", "Resource": activity, "End": true}}});
    let sm = crate::support::create(&client, "profile-echo", def).await;
    let exec = crate::support::start(&client, &sm, r#"{"from": "profile"}"#).await;
    let done = finished(&client, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(done.output().expect("output")).expect("JSON");
    assert_eq!(output, json!({"from": "profile"}));
}

/// With an endpoint key the worker signs its requests to serve with it, and leaves the
/// standard chain (here a key in the environment that serve does not accept, standing in for
/// an IAM role) to the services its handlers call.
#[tokio::test]
async fn worker_signs_with_its_endpoint_key_and_leaves_the_chain_to_aws_services() {
    let server = Server::start_with("sqlite::memory:", &["--auth", "AKIDTEST:secret"]);
    let client = server.client();
    let _worker = Worker::start(
        &server.endpoint,
        "sluice-echo",
        1,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDFROMTHEROLE"),
            ("AWS_SECRET_ACCESS_KEY", "role-secret"),
            ("SLUICE_ENDPOINT_ACCESS_KEY_ID", "AKIDTEST"),
            ("SLUICE_ENDPOINT_SECRET_ACCESS_KEY", "secret"),
        ],
    );
    let activity = activity_arn(&client, "sluice-echo").await;
    let def = json!({"StartAt": "Echo", "States": {"Echo": {
        "Type": "Task", "Resource": activity, "End": true}}});
    let sm = crate::support::create(&client, "endpoint-key-echo", def).await;
    let exec = crate::support::start(&client, &sm, r#"{"from": "endpoint key"}"#).await;
    let done = finished(&client, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);

    // Half a key is refused before the worker starts.
    let half = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "worker",
            "--endpoint",
            &server.endpoint,
            "--activity",
            "sluice-echo",
        ])
        .args(["--endpoint-access-key-id", "AKIDTEST"])
        .env_remove("SLUICE_ENDPOINT_SECRET_ACCESS_KEY")
        .output()
        .expect("sluice runs");
    assert!(!half.status.success());
    assert!(
        String::from_utf8_lossy(&half.stderr).contains("--endpoint-secret-access-key"),
        "{}",
        String::from_utf8_lossy(&half.stderr)
    );
}

/// A worker in the middle of a 60-second long poll stops at once on SIGTERM.
#[tokio::test]
async fn a_polling_worker_stops_promptly_on_sigterm() {
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    let worker = Worker::start(&server.endpoint, "sluice-echo", 2, &[]);
    activity_arn(&client, "sluice-echo").await;
    // Its pollers are now waiting in GetActivityTask, which answers after a minute.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, took) = worker.stop();
    assert!(status.success(), "a clean exit: {status:?}");
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
}
