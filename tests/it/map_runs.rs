//! Map Runs under `sluice serve`: a failed Map Run redriven with its execution runs only the
//! children that did not succeed; two replicas on one PostgreSQL database split a Map Run's
//! children, and a replica killed in the middle leaves its children to another.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::json;

use crate::support::{Server, create, eventually, start, temp_dir};

const ITEMS: usize = 20;

/// Children read `inputs/<i>.json`; four objects are missing, so four children fail and the
/// third failure is past `ToleratedFailureCount` 2. Once the objects exist, a redrive reopens
/// the same Map Run: the failed children and those never started run again, the succeeded
/// ones keep their first run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redriven_map_run_runs_only_what_did_not_succeed() {
    let dir = temp_dir("redrive-map-run");
    let inputs = dir.join("s3").join("data").join("inputs");
    std::fs::create_dir_all(&inputs).expect("bucket");
    let missing = [3usize, 7, 11, 15];
    let write = |i: usize| {
        std::fs::write(inputs.join(format!("{i}.json")), format!("{{\"v\": {i}}}")).expect("object")
    };
    for i in (0..ITEMS).filter(|i| !missing.contains(i)) {
        write(i);
    }
    let s3_dir = dir.join("s3").display().to_string();
    let server = Server::start_env(
        "sqlite::memory:",
        &[],
        &[("SLUICE_S3_DIR", s3_dir.as_str())],
    );
    let c = server.client();
    let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map",
        // One at a time, so which children ran before the failure is known.
        "MaxConcurrency": 1,
        "ToleratedFailureCount": 2,
        "ItemSelector": {"i.$": "$$.Map.Item.Value"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Read", "States": {"Read": {"Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "data", "Key.$": "States.Format('inputs/{}.json', $.i)"},
                "ResultSelector": {"body.$": "States.StringToJson($.Body)"},
                "End": true}}},
        "End": true}}});
    let sm = create(&c, "redrivable", def).await;
    let input = json!((0..ITEMS).collect::<Vec<_>>()).to_string();
    let exec = start(&c, &sm, &input).await;
    let failed = ended(&c, &exec).await;
    assert_eq!(failed.status(), &ExecutionStatus::Failed);
    assert_eq!(
        failed.error(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    let run_arn = c
        .list_map_runs()
        .execution_arn(&exec)
        .send()
        .await
        .expect("ListMapRuns")
        .map_runs()[0]
        .map_run_arn()
        .to_string();
    let before = children(&c, &run_arn).await;
    // Items 0..=11 ran (3, 7 and 11 failed); 12.. never started.
    assert_eq!(before.len(), 12);
    let failed_before: Vec<usize> = before
        .iter()
        .filter(|(_, e)| e.status() == &ExecutionStatus::Failed)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(failed_before, [3, 7, 11]);

    for i in missing {
        write(i);
    }
    let redriven_at = now();
    c.redrive_execution()
        .execution_arn(&exec)
        .send()
        .await
        .expect("RedriveExecution");
    let done = eventually(Duration::from_secs(60), || async {
        let d = c
            .describe_execution()
            .execution_arn(&exec)
            .send()
            .await
            .ok()?;
        (d.status() != &ExecutionStatus::Running && d.redrive_count() == Some(1)).then_some(d)
    })
    .await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?}",
        done.cause()
    );
    let output: serde_json::Value =
        serde_json::from_str(done.output().expect("output")).expect("JSON");
    let expected: Vec<serde_json::Value> = (0..ITEMS).map(|i| json!({"body": {"v": i}})).collect();
    assert_eq!(output, json!(expected));

    let after = children(&c, &run_arn).await;
    assert_eq!(after.len(), ITEMS);
    for (i, child) in &after {
        assert_eq!(child.status(), &ExecutionStatus::Succeeded, "child {i}");
        let reran = child.start_date().as_secs_f64() >= redriven_at;
        let should = missing.contains(i) || *i > 11;
        assert_eq!(reran, should, "child {i} ran again: {reran}");
        let redrives = if failed_before.contains(i) { 1 } else { 0 };
        assert_eq!(child.redrive_count(), Some(redrives), "child {i}");
    }
    let run = c
        .describe_map_run()
        .map_run_arn(&run_arn)
        .send()
        .await
        .expect("DescribeMapRun");
    assert_eq!(run.redrive_count(), Some(1));
    assert_eq!(run.status(), &aws_sdk_sfn::types::MapRunStatus::Succeeded);
    let history = crate::support::history(&c, &exec).await;
    let redriven = history
        .iter()
        .find_map(|e| e.map_run_redriven_event_details())
        .expect("MapRunRedriven in the parent's history");
    assert_eq!(redriven.map_run_arn(), Some(run_arn.as_str()));
    assert_eq!(redriven.redrive_count(), Some(1));
}

/// Logs of the child pool only: which replica took which queued children.
const POOL_LOG: (&str, &str) = ("SLUICE_LOG", "warn,sluice_server::service::child_pool=info");

/// How many queued children a replica took, from its log.
fn taken(server: &Server) -> usize {
    server
        .logged("took queued Map Run children")
        .iter()
        .filter_map(|l| l.rsplit("children=").next()?.trim().parse::<usize>().ok())
        .sum()
}

/// A Map Run of `items` children that each wait `seconds`, then return their item and name.
fn waiting_children(items: usize, seconds: u64) -> (serde_json::Value, String) {
    let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map",
        "MaxConcurrency": items,
        "ItemSelector": {"i.$": "$$.Map.Item.Value"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Work", "States": {
                "Work": {"Type": "Wait", "Seconds": seconds, "Next": "Done"},
                "Done": {"Type": "Pass",
                    "Parameters": {"i.$": "$.i", "name.$": "$$.Execution.Name"}, "End": true}}},
        "End": true}}});
    (def, json!((0..items).collect::<Vec<_>>()).to_string())
}

/// Each child returned its own item under its own name, in item order.
fn check_output(output: &str, items: usize) {
    let out: serde_json::Value = serde_json::from_str(output).expect("JSON output");
    let out = out.as_array().expect("an array");
    assert_eq!(out.len(), items);
    for (i, child) in out.iter().enumerate() {
        assert_eq!(child["i"], json!(i), "{child}");
        let name = child["name"].as_str().expect("a name");
        assert!(name.ends_with(&format!("-{i}")), "{name}");
    }
}

/// Replica A has two child slots; replica B has room. A drives the Map Run of 40 children,
/// runs two itself and queues the rest; B takes them. Every child runs once and the output is
/// in item order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_split_one_map_run() {
    // A database of its own: replicas of other tests would take children from a shared one.
    let Some(url) = crate::api::fresh_postgres("split").await else {
        return;
    };
    let a = Server::start_env(
        &url,
        &["--replica-id", "split-a", "--child-slots", "2"],
        &[POOL_LOG],
    );
    let b = Server::start_env(
        &url,
        &["--replica-id", "split-b", "--child-slots", "64"],
        &[POOL_LOG],
    );
    let c = a.client();
    let items = 40;
    let (def, input) = waiting_children(items, 1);
    let name = format!("split-{}", crate::api::unique_suffix());
    let sm = create(&c, &name, def).await;
    let exec = start(&c, &sm, &input).await;
    let done = ended(&c, &exec).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?}: {:?}",
        done.error(),
        done.cause()
    );
    check_output(done.output().expect("output"), items);
    let (by_a, by_b) = (taken(&a), taken(&b));
    assert!(by_b > 0, "replica B took no child (A took {by_a})");
    // Two ran in A's own slots; every other child was taken from the queue once.
    assert_eq!(by_a + by_b, items - 2, "A took {by_a}, B took {by_b}");
    let runs = c
        .list_map_runs()
        .execution_arn(&exec)
        .send()
        .await
        .expect("ListMapRuns");
    let run_arn = runs.map_runs()[0].map_run_arn().to_string();
    let kids = children(&c, &run_arn).await;
    assert_eq!(kids.len(), items);
    assert!(
        kids.iter()
            .all(|(_, e)| e.status() == &ExecutionStatus::Succeeded)
    );
    // Each child's history is one run: started once, succeeded once.
    for (i, e) in kids.iter().take(3) {
        let history = c
            .get_execution_history()
            .execution_arn(e.execution_arn())
            .send()
            .await
            .expect("child history");
        let kinds: Vec<String> = history
            .events()
            .iter()
            .map(|e| e.r#type().as_str().to_string())
            .collect();
        assert_eq!(
            kinds.iter().filter(|k| *k == "ExecutionStarted").count(),
            1,
            "child {i}: {kinds:?}"
        );
        assert_eq!(kinds.last().map(String::as_str), Some("ExecutionSucceeded"));
    }
}

/// Replica B takes queued children and is killed (`kill -9`) while they run. Its leases run
/// out and replica C takes them; the Map Run finishes with every child succeeded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_of_a_killed_replica_go_to_another() {
    let Some(url) = crate::api::fresh_postgres("killed").await else {
        return;
    };
    let lease = ["--execution-lease-seconds", "2"];
    let a = Server::start_env(
        &url,
        &[
            &lease[..],
            &["--replica-id", "kill-a", "--child-slots", "1"],
        ]
        .concat(),
        &[POOL_LOG],
    );
    let b = Server::start_env(
        &url,
        &[
            &lease[..],
            &["--replica-id", "kill-b", "--child-slots", "64"],
        ]
        .concat(),
        &[POOL_LOG],
    );
    let c = a.client();
    let items = 20;
    let (def, input) = waiting_children(items, 4);
    let name = format!("killed-{}", crate::api::unique_suffix());
    let sm = create(&c, &name, def).await;
    let exec = start(&c, &sm, &input).await;
    eventually(Duration::from_secs(30), || async {
        (taken(&b) > 0).then_some(())
    })
    .await;
    b.kill();
    let rescuer = Server::start_env(
        &url,
        &[
            &lease[..],
            &["--replica-id", "kill-c", "--child-slots", "64"],
        ]
        .concat(),
        &[POOL_LOG],
    );
    let done = ended(&c, &exec).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?}: {:?}",
        done.error(),
        done.cause()
    );
    check_output(done.output().expect("output"), items);
    assert!(taken(&rescuer) > 0, "replica C took none of B's children");
}

/// Children are listed and described as RUNNING while they run, then as they ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_children_are_listed() {
    let server = Server::start("sqlite::memory:");
    let c = server.client();
    let (def, input) = waiting_children(3, 3);
    let sm = create(&c, "running-children", def).await;
    let exec = start(&c, &sm, &input).await;
    let run_arn = eventually(Duration::from_secs(30), || async {
        let runs = c.list_map_runs().execution_arn(&exec).send().await.ok()?;
        runs.map_runs().first().map(|r| r.map_run_arn().to_string())
    })
    .await;
    let running = eventually(Duration::from_secs(30), || async {
        let page = c
            .list_executions()
            .map_run_arn(&run_arn)
            .status_filter(ExecutionStatus::Running)
            .send()
            .await
            .ok()?;
        (page.executions().len() == 3).then(|| page.executions().to_vec())
    })
    .await;
    let child = c
        .describe_execution()
        .execution_arn(running[0].execution_arn())
        .send()
        .await
        .expect("DescribeExecution of a running child");
    assert_eq!(child.status(), &ExecutionStatus::Running);
    assert_eq!(child.map_run_arn(), Some(run_arn.as_str()));
    let done = ended(&c, &exec).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    check_output(done.output().expect("output"), 3);
    let kids = children(&c, &run_arn).await;
    assert_eq!(kids.len(), 3);
    assert!(
        kids.iter()
            .all(|(_, e)| e.status() == &ExecutionStatus::Succeeded)
    );
}

/// The children of a Map Run, by index.
async fn children(
    c: &aws_sdk_sfn::Client,
    run_arn: &str,
) -> Vec<(usize, aws_sdk_sfn::types::ExecutionListItem)> {
    let page = c
        .list_executions()
        .map_run_arn(run_arn)
        .max_results(1000)
        .send()
        .await
        .expect("ListExecutions --map-run-arn");
    let mut children: Vec<_> = page
        .executions()
        .iter()
        .map(|e| {
            let index = e.name().rsplit('-').next().and_then(|n| n.parse().ok());
            (
                index.expect("a child's name ends with its index"),
                e.clone(),
            )
        })
        .collect();
    children.sort_by_key(|(i, _)| *i);
    children
}

async fn ended(
    c: &aws_sdk_sfn::Client,
    arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    eventually(Duration::from_secs(60), || async {
        let d = c
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .ok()?;
        (d.status() != &ExecutionStatus::Running).then_some(d)
    })
    .await
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}
