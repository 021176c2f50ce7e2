//! `sluice serve` driven by the official Rust SDK (aws-sdk-sfn).

use std::time::Duration;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType, StateMachineType};
use serde_json::{Value, json};

use crate::support::{ROLE, Server, create, eventually, finished, history, start};

#[tokio::test]
async fn state_machines_executions_and_history() {
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    // The Wait keeps the execution running while the idempotent start below is tried.
    let def = json!({"StartAt": "Pause", "States": {
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}], "Default": "Small"},
        "Big": {"Type": "Pass", "Parameters": {"size": "big", "n.$": "$.n"}, "End": true},
        "Small": {"Type": "Pass", "Result": {"size": "small"}, "End": true}}});
    let arn = create(&client, "sizes", def.clone()).await;
    // The region comes from the client's signature scope.
    assert!(arn.starts_with("arn:aws:states:eu-west-1:"), "{arn}");
    // Creating the identical machine again is idempotent; a different one is not.
    assert_eq!(create(&client, "sizes", def).await, arn);
    let err = client
        .create_state_machine()
        .name("sizes")
        .definition(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}).to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect_err("a different definition under the same name is refused");
    assert!(err.into_service_error().is_state_machine_already_exists());
    let bad = client
        .create_state_machine()
        .name("broken")
        .definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}"#)
        .role_arn(ROLE)
        .send()
        .await
        .expect_err("an invalid definition is refused");
    let bad = bad.into_service_error();
    assert!(bad.is_invalid_definition(), "{bad:?}");

    let d = client
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect("described");
    assert_eq!(d.name(), "sizes");
    assert_eq!(d.r#type(), &StateMachineType::Standard);
    let listed = client.list_state_machines().send().await.expect("listed");
    assert_eq!(listed.state_machines().len(), 1);

    let started = client
        .start_execution()
        .state_machine_arn(&arn)
        .name("first")
        .input(r#"{"n": 5}"#)
        .send()
        .await
        .expect("StartExecution succeeds");
    let exec = started.execution_arn().to_string();
    // Starting again with the same name and input is idempotent; other input is refused.
    let again = client
        .start_execution()
        .state_machine_arn(&arn)
        .name("first")
        .input(r#"{"n": 5}"#)
        .send()
        .await
        .expect("idempotent");
    assert_eq!(again.execution_arn(), exec);
    let clash = client
        .start_execution()
        .state_machine_arn(&arn)
        .name("first")
        .input(r#"{"n": 6}"#)
        .send()
        .await
        .expect_err("name reused");
    assert!(clash.into_service_error().is_execution_already_exists());

    let done = finished(&client, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(done.output().expect("output")).expect("JSON output");
    assert_eq!(output, json!({"size": "big", "n": 5}));

    let history = client
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .expect("history");
    let kinds: Vec<HistoryEventType> = history
        .events()
        .iter()
        .map(|e| e.r#type().clone())
        .collect();
    assert_eq!(
        kinds,
        [
            HistoryEventType::ExecutionStarted,
            HistoryEventType::WaitStateEntered,
            HistoryEventType::WaitStateExited,
            HistoryEventType::ChoiceStateEntered,
            HistoryEventType::ChoiceStateExited,
            HistoryEventType::PassStateEntered,
            HistoryEventType::PassStateExited,
            HistoryEventType::ExecutionSucceeded,
        ]
    );
    let ids: Vec<i64> = history.events().iter().map(|e| e.id()).collect();
    assert_eq!(ids, (1..=8).collect::<Vec<i64>>());
    // Pages in reverse order.
    let page = client
        .get_execution_history()
        .execution_arn(&exec)
        .reverse_order(true)
        .max_results(4)
        .send()
        .await
        .expect("page 1");
    assert_eq!(
        page.events().iter().map(|e| e.id()).collect::<Vec<_>>(),
        [8, 7, 6, 5]
    );
    let rest = client
        .get_execution_history()
        .execution_arn(&exec)
        .reverse_order(true)
        .max_results(4)
        .next_token(page.next_token().expect("more pages"))
        .send()
        .await
        .expect("page 2");
    assert_eq!(
        rest.events().iter().map(|e| e.id()).collect::<Vec<_>>(),
        [4, 3, 2, 1]
    );
    assert!(rest.next_token().is_none());
    // Once closed, the name cannot be reused even with the same input.
    let closed = client
        .start_execution()
        .state_machine_arn(&arn)
        .name("first")
        .input(r#"{"n": 5}"#)
        .send()
        .await
        .expect_err("closed");
    assert!(closed.into_service_error().is_execution_already_exists());

    let listed = client
        .list_executions()
        .state_machine_arn(&arn)
        .status_filter(ExecutionStatus::Succeeded)
        .send()
        .await
        .expect("ListExecutions");
    assert_eq!(listed.executions().len(), 1);
    let missing = client
        .describe_execution()
        .execution_arn(format!("{}-nope", exec.replace(":first", ":none")))
        .send()
        .await
        .expect_err("no such execution");
    assert!(missing.into_service_error().is_execution_does_not_exist());
}

#[tokio::test]
async fn activities_deliver_tasks_to_workers() {
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    let activity = client
        .create_activity()
        .name("resize")
        .send()
        .await
        .expect("CreateActivity");
    let activity_arn = activity.activity_arn().to_string();
    let def = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity_arn, "HeartbeatSeconds": 30, "ResultPath": "$.result", "End": true}}});
    let arn = create(&client, "with-activity", def).await;
    let exec = client
        .start_execution()
        .state_machine_arn(&arn)
        .input(r#"{"image": "cat.png"}"#)
        .send()
        .await
        .expect("started")
        .execution_arn()
        .to_string();
    let task = client
        .get_activity_task()
        .activity_arn(&activity_arn)
        .worker_name("w1")
        .send()
        .await
        .expect("GetActivityTask");
    let token = task
        .task_token()
        .expect("a task was handed out")
        .to_string();
    assert_eq!(
        serde_json::from_str::<Value>(task.input().expect("input")).expect("JSON"),
        json!({"image": "cat.png"})
    );
    client
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .expect("heartbeat");
    client
        .send_task_success()
        .task_token(&token)
        .output(r#"{"width": 64}"#)
        .send()
        .await
        .expect("SendTaskSuccess");
    let done = finished(&client, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(done.output().expect("output")).expect("JSON"),
        json!({"image": "cat.png", "result": {"width": 64}})
    );
    // A repeated answer is stale; an unknown token is invalid.
    let late = client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .expect_err("stale");
    assert!(late.into_service_error().is_task_timed_out());
    let unknown = client
        .send_task_failure()
        .task_token("not-a-token")
        .send()
        .await
        .expect_err("unknown");
    assert!(unknown.into_service_error().is_invalid_token());
    let history = client
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .expect("history");
    let kinds: Vec<&str> = history
        .events()
        .iter()
        .map(|e| e.r#type().as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let started = history
        .events()
        .iter()
        .find_map(|e| e.activity_started_event_details())
        .expect("ActivityStarted details");
    assert_eq!(started.worker_name(), Some("w1"));
}

#[tokio::test]
async fn callbacks_heartbeats_and_stop() {
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    let callback = json!({"StartAt": "Approve", "States": {
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
                    "Catch": [{"ErrorEquals": ["Rejected"], "Next": "Denied"}], "End": true},
        "Denied": {"Type": "Fail", "Error": "Denied"}}});
    let arn = create(&client, "approval", callback).await;
    let exec = client
        .start_execution()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect("started")
        .execution_arn()
        .to_string();
    // The token travels in the task's parameters; read it from the history.
    let token = eventually(Duration::from_secs(10), || async {
        let h = client
            .get_execution_history()
            .execution_arn(&exec)
            .send()
            .await
            .expect("history");
        h.events().iter().find_map(|e| {
            let params = e.task_scheduled_event_details()?.parameters();
            let v: Value = serde_json::from_str(params).ok()?;
            v["MessageBody"]["token"].as_str().map(str::to_string)
        })
    })
    .await;
    client
        .send_task_failure()
        .task_token(&token)
        .error("Rejected")
        .cause("no")
        .send()
        .await
        .expect("SendTaskFailure");
    let done = finished(&client, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Failed);
    assert_eq!(done.error(), Some("Denied"));

    // A worker that never heartbeats: the task ends with States.HeartbeatTimeout.
    let activity_arn = client
        .create_activity()
        .name("slow")
        .send()
        .await
        .expect("activity")
        .activity_arn()
        .to_string();
    let def = json!({"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": activity_arn, "HeartbeatSeconds": 1, "End": true}}});
    let arn = create(&client, "heartbeat", def).await;
    let exec = client
        .start_execution()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect("started")
        .execution_arn()
        .to_string();
    let task = client
        .get_activity_task()
        .activity_arn(&activity_arn)
        .send()
        .await
        .expect("poll");
    let token = task.task_token().expect("task").to_string();
    let done = finished(&client, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Failed);
    assert_eq!(done.error(), Some("States.HeartbeatTimeout"));
    let late = client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .expect_err("too late");
    assert!(late.into_service_error().is_task_timed_out());

    // StopExecution aborts a waiting execution.
    let wait =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let arn = create(&client, "waits", wait).await;
    let exec = client
        .start_execution()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect("started")
        .execution_arn()
        .to_string();
    client
        .stop_execution()
        .execution_arn(&exec)
        .cause("test")
        .send()
        .await
        .expect("StopExecution");
    let d = client
        .describe_execution()
        .execution_arn(&exec)
        .send()
        .await
        .expect("described");
    assert_eq!(d.status(), &ExecutionStatus::Aborted);
}

#[tokio::test]
async fn express_sync_execution() {
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    let arn = client
        .create_state_machine()
        .name("quick")
        .r#type(StateMachineType::Express)
        .definition(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"}, "End": true}}}).to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_string();
    let out = client
        .start_sync_execution()
        .state_machine_arn(&arn)
        .input(r#"{"a": 2, "b": 3}"#)
        .send()
        .await
        .expect("StartSyncExecution");
    assert_eq!(
        out.status(),
        &aws_sdk_sfn::types::SyncExecutionStatus::Succeeded
    );
    assert_eq!(
        serde_json::from_str::<Value>(out.output().expect("output")).expect("JSON"),
        json!({"sum": 5})
    );
    assert!(out.execution_arn().contains(":express:quick:"));
}

/// The same orchestrator over PostgreSQL (when `SLUICE_TEST_POSTGRES_URL` is set; `.ci/run`
/// sets it, and `CI_REQUIRE_POSTGRES=1` makes its absence a failure).
#[tokio::test]
async fn postgres_backed_server() {
    let Some(url) = postgres_url() else { return };
    let server = Server::start(&url);
    let client = server.client();
    let suffix = unique_suffix();
    let activity_arn = client
        .create_activity()
        .name(format!("pg-{suffix}"))
        .send()
        .await
        .expect("activity")
        .activity_arn()
        .to_string();
    let def = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity_arn, "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 1, "End": true}}});
    let arn = create(&client, &format!("pg-machine-{suffix}"), def).await;
    let exec = client
        .start_execution()
        .state_machine_arn(&arn)
        .input(r#"{"x": 1}"#)
        .send()
        .await
        .expect("started")
        .execution_arn()
        .to_string();
    let task = client
        .get_activity_task()
        .activity_arn(&activity_arn)
        .send()
        .await
        .expect("poll");
    let token = task.task_token().expect("task").to_string();
    client
        .send_task_success()
        .task_token(&token)
        .output(r#"{"ok": true}"#)
        .send()
        .await
        .expect("answered");
    let done = finished(&client, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(done.output().expect("output")).expect("JSON"),
        json!({"ok": true})
    );
}

/// The PostgreSQL server to test against, or `None` to skip (allowed unless
/// `CI_REQUIRE_POSTGRES=1`).
pub(crate) fn postgres_url() -> Option<String> {
    let Ok(url) = std::env::var("SLUICE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "SLUICE_TEST_POSTGRES_URL is required here"
        );
        eprintln!("notice: SLUICE_TEST_POSTGRES_URL not set; skipping a PostgreSQL server test");
        return None;
    };
    Some(url)
}

/// A new, empty database on the test PostgreSQL server, for replicas whose shared queues no
/// other test's servers may serve; its URL, or `None` to skip as [`postgres_url`] does.
pub(crate) async fn fresh_postgres(label: &str) -> Option<String> {
    use sqlx::Connection;
    let url = postgres_url()?;
    let name = format!("{label}_{}", unique_suffix().replace('-', "_"));
    let mut admin = sqlx::PgConnection::connect(&url)
        .await
        .expect("the test PostgreSQL server accepts connections");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("CREATE DATABASE");
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}

/// Names unique per run: the PostgreSQL database outlives the tests.
pub(crate) fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}

/// Two replicas on one database: a task parked by replica A and taken and answered through
/// replica B still gets its `ActivityStarted` (with B's worker) before its outcome in A's
/// history, and once only.
#[tokio::test]
async fn a_task_taken_through_another_replica_records_its_start() {
    let Some(url) = postgres_url() else { return };
    let a = Server::start_with(&url, &["--replica-id", "replica-a"]);
    let b = Server::start_with(&url, &["--replica-id", "replica-b"]);
    let (client_a, client_b) = (a.client(), b.client());
    let suffix = unique_suffix();
    let activity_arn = client_a
        .create_activity()
        .name(format!("replicas-{suffix}"))
        .send()
        .await
        .expect("activity")
        .activity_arn()
        .to_string();
    let def = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity_arn, "End": true}}});
    let arn = create(&client_a, &format!("replicas-{suffix}"), def).await;
    let exec = start(&client_a, &arn, r#"{"x": 1}"#).await;
    let task = client_b
        .get_activity_task()
        .activity_arn(&activity_arn)
        .worker_name("replica-b-worker")
        .send()
        .await
        .expect("poll");
    let token = task.task_token().expect("replica B hands out A's task");
    client_b
        .send_task_success()
        .task_token(token)
        .output(r#"{"ok": true}"#)
        .send()
        .await
        .expect("answered");
    let done = finished(&client_a, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    let events = history(&client_a, &exec).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e.r#type().as_str())
        .filter(|k| k.starts_with("Activity"))
        .collect();
    assert_eq!(
        kinds,
        ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    );
    let started = events
        .iter()
        .find_map(|e| e.activity_started_event_details())
        .expect("started details");
    assert_eq!(started.worker_name(), Some("replica-b-worker"));
}

/// A task whose lease ran out goes to the next poller, but it started once: its history has
/// one `ActivityStarted`, the first worker's.
#[tokio::test]
async fn a_task_claimed_again_after_its_lease_started_once() {
    let server = Server::start_with("sqlite::memory:", &["--activity-lease-seconds", "1"]);
    let client = server.client();
    let activity_arn = client
        .create_activity()
        .name("leased")
        .send()
        .await
        .expect("activity")
        .activity_arn()
        .to_string();
    let def = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity_arn, "End": true}}});
    let arn = create(&client, "leased", def).await;
    let exec = start(&client, &arn, "{}").await;
    let poll = |worker: &'static str| {
        let (client, activity_arn) = (client.clone(), activity_arn.clone());
        async move {
            client
                .get_activity_task()
                .activity_arn(activity_arn)
                .worker_name(worker)
                .send()
                .await
                .expect("poll")
                .task_token()
                .map(str::to_string)
        }
    };
    let first = poll("gone").await.expect("a task for the first worker");
    // The first worker never answers; after its lease the task is handed out again.
    let again = poll("second")
        .await
        .expect("the task again, after the lease");
    assert_eq!(first, again);
    client
        .send_task_success()
        .task_token(&again)
        .output("{}")
        .send()
        .await
        .expect("answered");
    assert_eq!(
        finished(&client, &exec).await.status(),
        &ExecutionStatus::Succeeded
    );
    let events = history(&client, &exec).await;
    let workers: Vec<Option<&str>> = events
        .iter()
        .filter_map(|e| e.activity_started_event_details())
        .map(|d| d.worker_name())
        .collect();
    assert_eq!(workers, [Some("gone")]);
}

/// With `--auth`, only requests signed with the configured key get through.
#[tokio::test]
async fn signatures_are_checked_when_enabled() {
    // The support client signs with AKIDTEST/secret.
    let server = Server::start_with("sqlite::memory:", &["--auth", "AKIDTEST:secret"]);
    let listed = server.client().list_state_machines().send().await;
    assert!(
        listed.is_ok(),
        "a correctly signed request passes: {listed:?}"
    );
    let wrong = crate::support::client_with_key(&server.endpoint, "AKIDTEST", "not-the-secret")
        .list_state_machines()
        .send()
        .await
        .expect_err("a wrong secret is refused");
    assert_eq!(
        wrong.into_service_error().meta().code(),
        Some("InvalidSignatureException")
    );
    let unknown = crate::support::client_with_key(&server.endpoint, "SOMEONE", "secret")
        .list_state_machines()
        .send()
        .await
        .expect_err("an unknown key is refused");
    assert_eq!(
        unknown.into_service_error().meta().code(),
        Some("UnrecognizedClientException")
    );

    // A request signed 20 minutes ago (outside AWS's 15-minute window) cannot be replayed.
    let stale = crate::support::client_signing(
        &server.endpoint,
        crate::support::Signing::At(std::time::SystemTime::now() - Duration::from_secs(20 * 60)),
    )
    .list_state_machines()
    .send()
    .await
    .expect_err("a stale signature is refused");
    let stale = stale.into_service_error();
    assert_eq!(stale.meta().code(), Some("InvalidSignatureException"));
    assert!(
        stale
            .meta()
            .message()
            .unwrap_or("")
            .starts_with("Signature expired"),
        "{stale:?}"
    );

    // A signed request whose body is replaced after signing: the server hashes the body.
    let tampered = crate::support::client_signing(
        &server.endpoint,
        crate::support::Signing::ReplaceBody(r#"{"maxResults": 1}"#.into()),
    )
    .list_state_machines()
    .send()
    .await
    .expect_err("a replaced body is refused");
    assert_eq!(
        tampered.into_service_error().meta().code(),
        Some("InvalidSignatureException")
    );
}

/// Request bodies above the limit get an AWS error before they are parsed.
#[tokio::test]
async fn oversized_requests_are_refused() {
    let server = Server::start_with("sqlite::memory:", &["--max-request-bytes", "4096"]);
    let client = server.client();
    let big = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "x".repeat(8000), "End": true}}});
    let err = client
        .create_state_machine()
        .name("big")
        .definition(big.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect_err("too large");
    let err = err.into_service_error();
    assert_eq!(err.meta().code(), Some("ValidationException"), "{err:?}");
    assert!(
        err.meta().message().unwrap_or("").contains("4096"),
        "{err:?}"
    );
    // The server is still there for requests of a normal size.
    create(
        &client,
        "small",
        json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
    )
    .await;
}

/// An endless top-level loop under `serve` fails with States.Runtime once it passes
/// `--max-transitions`, although every checkpointed step starts the engine afresh.
#[tokio::test]
async fn transition_limit_holds_across_checkpoints() {
    let server = Server::start_with("sqlite::memory:", &["--max-transitions", "40"]);
    let client = server.client();
    let def = json!({"StartAt": "Ping", "States": {
        "Ping": {"Type": "Pass", "Next": "Pong"},
        "Pong": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "Ping"},
        "Done": {"Type": "Succeed"}}});
    let arn = create(&client, "endless", def).await;
    let exec = start(&client, &arn, "{}").await;
    let done = finished(&client, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Failed);
    assert_eq!(done.error(), Some("States.Runtime"));
    assert!(
        done.cause().unwrap_or("").contains("40"),
        "{:?}",
        done.cause()
    );
    let entered = history(&client, &exec)
        .await
        .iter()
        .filter(|e| e.r#type() == &HistoryEventType::PassStateEntered)
        .count();
    assert_eq!(entered, 20, "the limit counts every transition once");
}

/// Task tokens are 256-bit HMACs under the deployment's secret: a token changed in one place
/// (or computed without the secret) is refused with InvalidToken; the real one is taken.
#[tokio::test]
async fn forged_task_tokens_are_refused() {
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    let activity = client
        .create_activity()
        .name("approve")
        .send()
        .await
        .expect("activity")
        .activity_arn()
        .to_string();
    let def = json!({"StartAt": "Wait", "States": {"Wait": {
        "Type": "Task", "Resource": activity, "End": true}}});
    let sm = create(&client, "approvals", def).await;
    let exec = start(&client, &sm, "{}").await;
    let task = client
        .get_activity_task()
        .activity_arn(&activity)
        .send()
        .await
        .expect("a task");
    let token = task.task_token().expect("a token").to_string();
    assert_eq!(token.len(), 64, "256 bits in hex: {token}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let mut forged = token.clone().into_bytes();
    forged[10] = if forged[10] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).expect("ASCII");
    for candidate in [
        forged.as_str(),
        &token[..32],
        "0123456789abcdef0123456789abcdef",
    ] {
        let err = client
            .send_task_success()
            .task_token(candidate)
            .output("{}")
            .send()
            .await
            .expect_err("a forged token is refused");
        assert_eq!(err.into_service_error().meta().code(), Some("InvalidToken"));
    }
    client
        .send_task_success()
        .task_token(&token)
        .output(r#"{"approved": true}"#)
        .send()
        .await
        .expect("the real token is taken");
    let done = finished(&client, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
}

/// A Distributed Map is a Map Run in the API: ListMapRuns names it, DescribeMapRun gives its
/// counts, and the parent's history has MapRunStarted and MapRunSucceeded, not its children.
#[tokio::test]
async fn distributed_map_runs_are_described() {
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Double", "States": {"Double": {"Type": "Pass",
                "Parameters": {"n.$": "States.MathAdd($, $)", "me.$": "$$.Execution.Id"},
                "End": true}}},
        "Label": "doubling", "MaxConcurrency": 7, "ToleratedFailurePercentage": 10,
        "End": true}}});
    let sm = create(&client, "fan", def).await;
    let input = json!((0..40).collect::<Vec<_>>()).to_string();
    let exec = start(&client, &sm, &input).await;
    let done = eventually(std::time::Duration::from_secs(30), || async {
        let d = client
            .describe_execution()
            .execution_arn(&exec)
            .send()
            .await
            .ok()?;
        (d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running).then_some(d)
    })
    .await;
    assert_eq!(
        done.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Succeeded
    );
    let runs = client
        .list_map_runs()
        .execution_arn(&exec)
        .send()
        .await
        .expect("ListMapRuns");
    assert_eq!(runs.map_runs().len(), 1);
    let listed = &runs.map_runs()[0];
    assert!(
        listed.map_run_arn().contains(":mapRun:fan/doubling:"),
        "{listed:?}"
    );
    assert!(
        listed
            .state_machine_arn()
            .ends_with(":stateMachine:fan/doubling")
    );
    assert!(listed.stop_date().is_some());
    // The final record is written as the run ends; give the writer a moment.
    let run = eventually(std::time::Duration::from_secs(10), || async {
        let d = client
            .describe_map_run()
            .map_run_arn(listed.map_run_arn())
            .send()
            .await
            .ok()?;
        (d.status() == &aws_sdk_sfn::types::MapRunStatus::Succeeded).then_some(d)
    })
    .await;
    assert_eq!(run.execution_arn(), exec);
    assert_eq!(run.max_concurrency(), 7);
    assert_eq!(run.tolerated_failure_percentage(), 10.0);
    let items = run.item_counts().expect("item counts");
    assert_eq!(
        (items.total(), items.succeeded(), items.failed()),
        (40, 40, 0)
    );
    let missing = client
        .describe_map_run()
        .map_run_arn(format!("{}-nope", listed.map_run_arn()))
        .send()
        .await
        .expect_err("no such Map Run");
    assert!(
        format!("{missing:?}").contains("ResourceNotFound"),
        "{missing:?}"
    );
    // STANDARD children are executions of their own, listed under their Map Run.
    let mut children = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_executions()
            .map_run_arn(listed.map_run_arn())
            .max_results(15)
            .set_next_token(token)
            .send()
            .await
            .expect("ListExecutions --map-run-arn");
        children.extend(page.executions().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(children.len(), 40);
    assert!(children.iter().all(|c| {
        c.map_run_arn() == Some(listed.map_run_arn())
            && c.state_machine_arn()
                .ends_with(":stateMachine:fan/doubling")
            && c.status() == &aws_sdk_sfn::types::ExecutionStatus::Succeeded
    }));
    let child = client
        .describe_execution()
        .execution_arn(children[0].execution_arn())
        .send()
        .await
        .expect("a child is described");
    assert_eq!(child.map_run_arn(), Some(listed.map_run_arn()));
    let output: serde_json::Value =
        serde_json::from_str(child.output().expect("output")).expect("json");
    let item: i64 = child.input().expect("input").parse().expect("a number");
    assert_eq!(
        output,
        json!({"n": 2 * item, "me": children[0].execution_arn()}),
        "a child sees its own $$.Execution"
    );
    let machine = client
        .describe_state_machine_for_execution()
        .execution_arn(children[0].execution_arn())
        .send()
        .await
        .expect("the child's state machine");
    assert_eq!(machine.map_run_arn(), Some(listed.map_run_arn()));
    assert_eq!(machine.label(), Some("doubling"));
    let processor: serde_json::Value =
        serde_json::from_str(machine.definition()).expect("the ItemProcessor");
    assert_eq!(processor["StartAt"], "Double");
    let child_history = crate::support::history(&client, children[0].execution_arn()).await;
    let child_kinds: Vec<&str> = child_history.iter().map(|e| e.r#type().as_str()).collect();
    assert_eq!(
        child_kinds,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    let redrive = client
        .redrive_execution()
        .execution_arn(children[0].execution_arn())
        .send()
        .await
        .expect_err("a child is redriven with its parent");
    assert!(
        format!("{redrive:?}").contains("ExecutionNotRedrivable"),
        "{redrive:?}"
    );
    let history = crate::support::history(&client, &exec).await;
    let kinds: Vec<&str> = history.iter().map(|e| e.r#type().as_str()).collect();
    assert!(
        kinds.contains(&"MapRunStarted") && kinds.contains(&"MapRunSucceeded"),
        "{kinds:?}"
    );
    assert!(
        !kinds.iter().any(|k| k.starts_with("Pass")),
        "children are not in the parent: {kinds:?}"
    );
}

/// Stopping the parent aborts its Map Run: DescribeMapRun says ABORTED, with the counts
/// reached before the stop, and the child that was running is an ABORTED execution.
#[tokio::test]
async fn stopping_the_parent_aborts_its_map_run() {
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    let (exec, run_arn) = slow_map_run(&client, "slowfan").await;
    let running = client
        .describe_map_run()
        .map_run_arn(&run_arn)
        .send()
        .await
        .expect("DescribeMapRun");
    assert_eq!(running.status(), &aws_sdk_sfn::types::MapRunStatus::Running);
    client
        .stop_execution()
        .execution_arn(&exec)
        .send()
        .await
        .expect("StopExecution");
    let aborted = eventually(Duration::from_secs(10), || async {
        let d = client
            .describe_map_run()
            .map_run_arn(&run_arn)
            .send()
            .await
            .ok()?;
        (d.status() == &aws_sdk_sfn::types::MapRunStatus::Aborted).then_some(d)
    })
    .await;
    assert!(aborted.stop_date().is_some());
    let items = aborted.item_counts().expect("counts");
    assert!(items.succeeded() < 100, "{items:?}");
    // The child that was running is ABORTED with its parent; the ended ones keep their end.
    let children = |status: ExecutionStatus| {
        let client = client.clone();
        let run_arn = run_arn.clone();
        async move {
            client
                .list_executions()
                .map_run_arn(run_arn)
                .status_filter(status)
                .send()
                .await
                .expect("ListExecutions --map-run-arn")
                .executions()
                .len()
        }
    };
    let stopped = eventually(Duration::from_secs(10), || async {
        let n = children(ExecutionStatus::Aborted).await;
        (n > 0).then_some(n)
    })
    .await;
    assert_eq!(stopped, 1, "MaxConcurrency 1: one child was running");
    let history = crate::support::history(&client, &exec).await;
    let kinds: Vec<&str> = history.iter().map(|e| e.r#type().as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapRunStarted",
            "MapRunAborted",
            "ExecutionAborted"
        ]
    );
    assert_eq!(
        children(ExecutionStatus::Succeeded).await as i64,
        items.succeeded()
    );
}

/// UpdateMapRun changes a running Map Run at once: raising MaxConcurrency from 1 to 100 lets
/// 100 one-second children finish in seconds instead of 100.
#[tokio::test]
async fn update_map_run_raises_concurrency() {
    let server = Server::start("sqlite::memory:");
    let client = server.client();
    let (exec, run_arn) = slow_map_run(&client, "tuned").await;
    client
        .update_map_run()
        .map_run_arn(&run_arn)
        .max_concurrency(100)
        .tolerated_failure_count(3)
        .send()
        .await
        .expect("UpdateMapRun");
    let now = client
        .describe_map_run()
        .map_run_arn(&run_arn)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        (now.max_concurrency(), now.tolerated_failure_count()),
        (100, 3)
    );
    let started = std::time::Instant::now();
    let done = eventually(Duration::from_secs(60), || async {
        let d = client
            .describe_execution()
            .execution_arn(&exec)
            .send()
            .await
            .ok()?;
        (d.status() != &ExecutionStatus::Running).then_some(d)
    })
    .await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let err = client
        .update_map_run()
        .map_run_arn(&run_arn)
        .max_concurrency(5)
        .send()
        .await
        .expect_err("a finished Map Run cannot be updated");
    assert!(
        format!("{err:?}").contains("only a RUNNING Map Run"),
        "{err:?}"
    );
    let err = client
        .update_map_run()
        .map_run_arn(format!("{run_arn}-nope"))
        .max_concurrency(5)
        .send()
        .await
        .expect_err("no such Map Run");
    assert!(format!("{err:?}").contains("ResourceNotFound"), "{err:?}");
}

/// UpdateMapRun sent to a replica that does not drive the run reaches the one that does:
/// raising MaxConcurrency through replica B lets replica A's 100 one-second children finish in
/// seconds.
#[tokio::test]
async fn update_map_run_reaches_the_driving_replica() {
    let Some(url) = postgres_url() else { return };
    let a = Server::start_with(&url, &["--replica-id", "map-a"]);
    let b = Server::start_with(&url, &["--replica-id", "map-b"]);
    let (client_a, client_b) = (a.client(), b.client());
    let (exec, run_arn) = slow_map_run(&client_a, &format!("tuned-{}", unique_suffix())).await;
    client_b
        .update_map_run()
        .map_run_arn(&run_arn)
        .max_concurrency(100)
        .send()
        .await
        .expect("UpdateMapRun through the other replica");
    let started = std::time::Instant::now();
    let done = eventually(Duration::from_secs(60), || async {
        let d = client_b
            .describe_execution()
            .execution_arn(&exec)
            .send()
            .await
            .ok()?;
        (d.status() != &ExecutionStatus::Running).then_some(d)
    })
    .await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let run = client_b
        .describe_map_run()
        .map_run_arn(&run_arn)
        .send()
        .await
        .expect("DescribeMapRun");
    assert_eq!(run.max_concurrency(), 100);
}

/// StopExecution through replica B of an execution replica A drives: A stops driving it (and
/// starting its Map Run's children) within a lease tick, not at the end of the Map Run.
#[tokio::test]
async fn stop_through_another_replica_stops_the_map_run() {
    let Some(url) = postgres_url() else { return };
    let lease = ["--execution-lease-seconds", "3"];
    let a = Server::start_with(&url, &[&lease[..], &["--replica-id", "stop-a"]].concat());
    let b = Server::start_with(&url, &[&lease[..], &["--replica-id", "stop-b"]].concat());
    let (client_a, client_b) = (a.client(), b.client());
    let (exec, run_arn) = slow_map_run(&client_a, &format!("stopped-{}", unique_suffix())).await;
    client_b
        .stop_execution()
        .execution_arn(&exec)
        .send()
        .await
        .expect("StopExecution through the other replica");
    let children = || async {
        client_b
            .list_executions()
            .map_run_arn(&run_arn)
            .max_results(1000)
            .send()
            .await
            .expect("ListExecutions --map-run-arn")
            .executions()
            .len()
    };
    // A notices within a tick (a second) and drops the run; then nothing more starts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = children().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        children().await,
        settled,
        "children still start after the stop"
    );
    let d = client_b
        .describe_execution()
        .execution_arn(&exec)
        .send()
        .await
        .expect("DescribeExecution");
    assert_eq!(d.status(), &ExecutionStatus::Aborted);
}

/// Starts a Distributed Map of 100 one-second children, one at a time, on machine `name`:
/// the execution's ARN and its Map Run's, once listed.
async fn slow_map_run(client: &aws_sdk_sfn::Client, name: &str) -> (String, String) {
    let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 1, "End": true}}},
        "MaxConcurrency": 1, "End": true}}});
    let sm = create(client, name, def).await;
    let input = json!((0..100).collect::<Vec<_>>()).to_string();
    let exec = start(client, &sm, &input).await;
    let run_arn = eventually(Duration::from_secs(30), || async {
        let runs = client
            .list_map_runs()
            .execution_arn(&exec)
            .send()
            .await
            .ok()?;
        runs.map_runs().first().map(|r| r.map_run_arn().to_string())
    })
    .await;
    (exec, run_arn)
}
