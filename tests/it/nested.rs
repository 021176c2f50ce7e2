//! Nested workflows on one `sluice serve`: `states:startExecution` in its three patterns, a
//! failing child caught by name, a stopped parent stopping its `.sync` child, and a parent
//! killed (`kill -9`) while its child runs: after the restart, one child and one result.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

use crate::support::{Server, create, eventually, finished, start, temp_dir};

async fn children(
    c: &aws_sdk_sfn::Client,
    machine: &str,
) -> Vec<aws_sdk_sfn::types::ExecutionListItem> {
    c.list_executions()
        .state_machine_arn(machine)
        .send()
        .await
        .expect("ListExecutions")
        .executions()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_workflows_start_wait_fail_and_stop() {
    let dir = temp_dir("nested");
    let server = Server::start(&format!("sqlite:{}", dir.join("s.db").display()));
    let c = server.client();
    let child = create(
        &c,
        "child",
        json!({"StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [
                {"And": [{"Variable": "$.fail", "IsPresent": true}, {"Variable": "$.fail", "BooleanEquals": true}], "Next": "Boom"},
                {"Variable": "$.wait", "IsPresent": true, "Next": "Wait"}], "Default": "Done"},
            "Wait": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Done"},
            "Boom": {"Type": "Fail", "Error": "Child.Failed", "Cause": "asked to fail"},
            "Done": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)", "parent.$": "$.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"}, "End": true}}}),
    )
    .await;
    let parent = create(
        &c,
        "parent",
        json!({"StartAt": "Async", "States": {
            "Async": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {"StateMachineArn": child, "Input": {"n": 1, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
                "ResultPath": "$.async", "Next": "Sync"},
            "Sync": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                "Parameters": {"StateMachineArn": child, "Input": {"n": 2, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
                "ResultPath": "$.sync", "Next": "Sync2"},
            "Sync2": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child, "Input": {"n": 3, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
                "ResultPath": "$.sync2", "Next": "Failing"},
            "Failing": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child, "Input": {"fail": true, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failed", "Next": "Missing"}],
                "Next": "Missing"},
            "Missing": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {"StateMachineArn": format!("{child}-missing")},
                "Catch": [{"ErrorEquals": ["StepFunctions.StateMachineDoesNotExistException"], "ResultPath": "$.missing", "Next": "End"}],
                "Next": "End"},
            "End": {"Type": "Succeed"}}}),
    )
    .await;
    let exec = start(&c, &parent, "{}").await;
    let done = finished(&c, &exec).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?}",
        done.cause()
    );
    let out: Value = serde_json::from_str(done.output().expect("output")).expect("JSON");
    assert!(
        out["async"]["ExecutionArn"]
            .as_str()
            .is_some_and(|a| a.contains(":execution:child:"))
    );
    assert!(out["async"]["StartDate"].is_i64(), "{out:#}");
    assert_eq!(out["async"]["SdkHttpMetadata"]["HttpStatusCode"], 200);
    // .sync: the child's description, Output as text; .sync:2: as JSON.
    assert_eq!(out["sync"]["Status"], "SUCCEEDED");
    let sync_output: Value =
        serde_json::from_str(out["sync"]["Output"].as_str().expect("text")).expect("JSON");
    assert_eq!(sync_output, json!({"doubled": 4, "parent": exec}));
    assert_eq!(
        out["sync2"]["Output"],
        json!({"doubled": 6, "parent": exec})
    );
    assert_eq!(out["failed"]["Error"], "States.TaskFailed");
    let cause: Value =
        serde_json::from_str(out["failed"]["Cause"].as_str().expect("cause")).expect("JSON");
    assert_eq!(
        (cause["Status"].as_str(), cause["Error"].as_str()),
        (Some("FAILED"), Some("Child.Failed"))
    );
    assert_eq!(
        out["missing"]["Error"],
        "StepFunctions.StateMachineDoesNotExistException"
    );
    assert_eq!(children(&c, &child).await.len(), 4);

    // Stopping a parent that waits on a .sync child stops the child.
    let waiter = create(
        &c,
        "waiter",
        json!({"StartAt": "Run", "States": {"Run": {"Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child, "Input": {"n": 1, "wait": 60, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "x"}},
            "End": true}}}),
    )
    .await;
    let exec = start(&c, &waiter, "{}").await;
    let running_child = eventually(Duration::from_secs(10), || async {
        children(&c, &child)
            .await
            .into_iter()
            .find(|e| e.status() == &ExecutionStatus::Running)
    })
    .await;
    c.stop_execution()
        .execution_arn(&exec)
        .send()
        .await
        .expect("stop");
    eventually(Duration::from_secs(10), || async {
        let d = c
            .describe_execution()
            .execution_arn(running_child.execution_arn())
            .send()
            .await
            .expect("describe");
        (d.status() == &ExecutionStatus::Aborted).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_parent_finds_its_sync_child_again() {
    let dir = temp_dir("nested-crash");
    let store = format!("sqlite:{}", dir.join("s.db").display());
    let server = Server::start(&store);
    let c = server.client();
    let child = create(
        &c,
        "slow-child",
        json!({"StartAt": "Wait", "States": {
            "Wait": {"Type": "Wait", "Seconds": 3, "Next": "Done"},
            "Done": {"Type": "Pass", "Result": {"done": true}, "End": true}}}),
    )
    .await;
    let parent = create(
        &c,
        "crash-parent",
        json!({"StartAt": "Run", "States": {"Run": {"Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child, "Input": {}}, "OutputPath": "$.Output", "End": true}}}),
    )
    .await;
    let exec = start(&c, &parent, "{}").await;
    eventually(Duration::from_secs(10), || async {
        (!children(&c, &child).await.is_empty()).then_some(())
    })
    .await;
    server.kill();
    let server = Server::start(&store);
    let c = server.client();
    let done = finished(&c, &exec).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?}",
        done.cause()
    );
    assert_eq!(done.output(), Some(r#"{"done":true}"#));
    let kids = children(&c, &child).await;
    assert_eq!(kids.len(), 1, "one child across the crash: {kids:?}");
}
