//! Crash recovery: 1,000 executions with Waits and activity tasks; the server is killed with
//! SIGKILL mid-way and restarted; every execution completes with a history that has no
//! transition twice and no gap. And a Map whose concurrent iterations each run two activity
//! tasks: after the crash every iteration still gets its own tasks' answers.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::json;

use crate::support::{ROLE, Server, client, create, eventually, start, temp_dir};

const EXECUTIONS: usize = 1000;

/// Answers activity tasks until told to stop, surviving server restarts.
async fn worker(
    endpoint: Arc<std::sync::Mutex<String>>,
    activity: String,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
) {
    while !stop.load(Ordering::SeqCst) {
        let ep = endpoint.lock().expect("not poisoned").clone();
        let c = client(&ep);
        let task = match c
            .get_activity_task()
            .activity_arn(&activity)
            .worker_name("crash-worker")
            .send()
            .await
        {
            Ok(t) => t,
            Err(_) => {
                // The server is down or restarting.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(token) = task.task_token() else {
            continue;
        };
        let input: serde_json::Value =
            serde_json::from_str(task.input().unwrap_or("{}")).unwrap_or_default();
        let output = json!({"doubled": input["n"].as_i64().unwrap_or(0) * 2}).to_string();
        // A worker that cannot reach the server retries its answer, as real workers do; a
        // service error (e.g. the task ended) is final.
        loop {
            let ep = endpoint.lock().expect("not poisoned").clone();
            let sent = client(&ep)
                .send_task_success()
                .task_token(token)
                .output(&output)
                .send()
                .await;
            match sent {
                Ok(_) => {
                    answered.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                Err(aws_sdk_sfn::error::SdkError::ServiceError(_)) => break,
                Err(_) if stop.load(Ordering::SeqCst) => break,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// Eight [`worker`]s answering one activity, following the server across restarts.
struct Workers {
    endpoint: Arc<std::sync::Mutex<String>>,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    fn start(endpoint: &str, activity: &str) -> Workers {
        let endpoint = Arc::new(std::sync::Mutex::new(endpoint.to_string()));
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let tasks = (0..8)
            .map(|_| {
                tokio::spawn(worker(
                    endpoint.clone(),
                    activity.to_string(),
                    stop.clone(),
                    answered.clone(),
                ))
            })
            .collect();
        Workers {
            endpoint,
            stop,
            answered,
            tasks,
        }
    }

    /// Tasks answered so far.
    fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Send everything to the restarted server at `endpoint`.
    fn follow(&self, endpoint: &str) {
        *self.endpoint.lock().expect("not poisoned") = endpoint.to_string();
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            t.abort();
        }
    }
}

/// The execution once it is no longer RUNNING (the restarted server may take a while).
async fn ended(
    c: &aws_sdk_sfn::Client,
    arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    eventually(Duration::from_secs(120), || async {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn executions_survive_kill_9() {
    executions_survive(Ending::Kill9).await;
}

/// SIGTERM under load: the server exits cleanly within its grace period (steps reach their
/// checkpoint, both group commits are flushed), and the next server finishes every execution
/// with each state entered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn executions_survive_sigterm_under_load() {
    executions_survive(Ending::Sigterm).await;
}

/// How the first server ends.
#[derive(Clone, Copy, PartialEq)]
enum Ending {
    Kill9,
    Sigterm,
}

async fn executions_survive(ending: Ending) {
    let dir = temp_dir(if ending == Ending::Kill9 {
        "crash"
    } else {
        "sigterm"
    });
    let store = format!("sqlite:{}", dir.join("sluice.db").display());
    // Short leases: a task whose worker vanished in the crash is handed out again soon.
    let flags = [
        "--activity-lease-seconds",
        "5",
        "--shutdown-grace-seconds",
        "10",
    ];
    let server = Server::start_with(&store, &flags);
    let c = server.client();
    let activity = c
        .create_activity()
        .name("double")
        .send()
        .await
        .expect("activity")
        .activity_arn()
        .to_string();
    let def = json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Next": "Pause"},
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Double"},
        "Double": {"Type": "Task", "Resource": activity, "ResultPath": "$.r", "Next": "Rest"},
        "Rest": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"n.$": "$.n", "doubled.$": "$.r.doubled"}, "End": true}}});
    let sm = c
        .create_state_machine()
        .name("crashy")
        .definition(def.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_string();
    let mut arns = Vec::with_capacity(EXECUTIONS);
    for i in 0..EXECUTIONS {
        let out = c
            .start_execution()
            .state_machine_arn(&sm)
            .name(format!("run-{i}"))
            .input(json!({"n": i}).to_string())
            .send()
            .await
            .expect("started");
        arns.push(out.execution_arn().to_string());
    }
    let workers = Workers::start(&server.endpoint, &activity);
    // Kill once some, but not all, tasks were answered.
    eventually(Duration::from_secs(60), || async {
        (workers.answered() >= EXECUTIONS / 4).then_some(())
    })
    .await;
    match ending {
        Ending::Kill9 => server.kill(),
        Ending::Sigterm => {
            let (status, took) = server.stop();
            assert!(status.success(), "a clean exit on SIGTERM: {status:?}");
            assert!(
                took < Duration::from_secs(12),
                "exited within the grace period (10 s): took {took:?}"
            );
        }
    }
    let server = Server::start_with(&store, &flags);
    workers.follow(&server.endpoint);
    let c = server.client();
    for arn in &arns {
        let d = ended(&c, arn).await;
        assert_eq!(
            d.status(),
            &ExecutionStatus::Succeeded,
            "{arn}: {:?} {:?}",
            d.error(),
            d.cause()
        );
    }
    workers.stop();
    for (i, arn) in arns.iter().enumerate() {
        let h = c
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .send()
            .await
            .expect("history");
        let events = h.events();
        let ids: Vec<i64> = events.iter().map(|e| e.id()).collect();
        assert_eq!(
            ids,
            (1..=ids.len() as i64).collect::<Vec<_>>(),
            "{arn}: gap in history"
        );
        let mut entered = HashSet::new();
        for e in events {
            if let Some(d) = e.state_entered_event_details() {
                assert!(
                    entered.insert(d.name().to_string()),
                    "{arn}: {} entered twice",
                    d.name()
                );
            }
        }
        assert_eq!(entered.len(), 5, "{arn}: every state entered once");
        assert_eq!(
            events.last().map(|e| e.r#type().as_str()),
            Some("ExecutionSucceeded")
        );
        let out = c
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("described");
        let output: serde_json::Value =
            serde_json::from_str(out.output().expect("output")).expect("JSON");
        assert_eq!(output, json!({"n": i, "doubled": 2 * i as i64}));
    }
}

/// A crash in the middle of a Map step replays the whole step. Its iterations run
/// concurrently and finish in any order, and each takes two activity tasks; the replay must
/// hand every iteration the tokens it had (answered tasks keep their answers), never another
/// iteration's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn map_iterations_keep_their_own_tasks_across_kill_9() {
    const ITEMS: usize = 120;
    let dir = temp_dir("crash-map");
    let store = format!("sqlite:{}", dir.join("sluice.db").display());
    let flags = ["--activity-lease-seconds", "5"];
    let server = Server::start_with(&store, &flags);
    let c = server.client();
    let activity = c
        .create_activity()
        .name("double")
        .send()
        .await
        .expect("activity")
        .activity_arn()
        .to_string();
    let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "MaxConcurrency": 24,
        "ItemSelector": {"n.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "First", "States": {
            "First": {"Type": "Task", "Resource": activity, "ResultPath": "$.a", "Next": "Second"},
            "Second": {"Type": "Task", "Resource": activity,
                       "Parameters": {"n.$": "$.a.doubled"},
                       "ResultSelector": {"v.$": "$.doubled"}, "End": true}}},
        "End": true}}});
    let sm = create(&c, "fan", def).await;
    let input = json!((0..ITEMS).collect::<Vec<_>>()).to_string();
    let exec = start(&c, &sm, &input).await;
    let workers = Workers::start(&server.endpoint, &activity);
    // Past the first wave: some iterations are on their second task, some finished.
    eventually(Duration::from_secs(60), || async {
        (workers.answered() >= ITEMS).then_some(())
    })
    .await;
    server.kill();
    let server = Server::start_with(&store, &flags);
    workers.follow(&server.endpoint);
    let c = server.client();
    let done = ended(&c, &exec).await;
    workers.stop();
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?}",
        done.cause()
    );
    let output: serde_json::Value =
        serde_json::from_str(done.output().expect("output")).expect("JSON");
    let expected: Vec<serde_json::Value> = (0..ITEMS).map(|n| json!({"v": 4 * n})).collect();
    assert_eq!(
        output,
        json!(expected),
        "each iteration got its own answers"
    );
    // The replayed step wrote only what the history lacked: every event exactly once.
    let events = crate::support::history(&c, &exec).await;
    let mut counts = std::collections::BTreeMap::new();
    for e in &events {
        *counts.entry(e.r#type().as_str()).or_insert(0) += 1;
    }
    let per_iteration = ITEMS as i32;
    let per_task = 2 * per_iteration;
    let expected = std::collections::BTreeMap::from([
        ("ActivityScheduled", per_task),
        ("ActivityStarted", per_task),
        ("ActivitySucceeded", per_task),
        ("ExecutionStarted", 1),
        ("ExecutionSucceeded", 1),
        ("MapIterationStarted", per_iteration),
        ("MapIterationSucceeded", per_iteration),
        ("MapStateEntered", 1),
        ("MapStateExited", 1),
        ("MapStateStarted", 1),
        ("MapStateSucceeded", 1),
        ("TaskStateEntered", per_task),
        ("TaskStateExited", per_task),
    ]);
    assert_eq!(counts, expected);
}

/// `kill -9` in the middle of a Distributed Map of 10,000 STANDARD children with a
/// ResultWriter: after the restart the Map Run finishes, every item's result is in the
/// written files exactly once, and the children that had ended before the crash were not run
/// again (their executions keep their first start).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn map_run_children_survive_kill_9() {
    const ITEMS: usize = 10_000;
    let dir = temp_dir("crash-map-run");
    let s3 = dir.join("s3");
    std::fs::create_dir_all(s3.join("results")).expect("bucket");
    let s3_dir = s3.display().to_string();
    let envs = [("SLUICE_S3_DIR", s3_dir.as_str())];
    let store = format!("sqlite:{}", dir.join("sluice.db").display());
    let server = Server::start_env(&store, &[], &envs);
    let c = server.client();
    let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map",
        "MaxConcurrency": 20,
        "ItemSelector": {"i.$": "$$.Map.Item.Value"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Double", "States": {"Double": {"Type": "Pass",
                "Parameters": {"i.$": "$.i", "double.$": "States.MathAdd($.i, $.i)"},
                "End": true}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "results", "Prefix": "doubles"}},
        "End": true}}});
    let sm = create(&c, "fanout", def).await;
    let input = json!((0..ITEMS).collect::<Vec<_>>()).to_string();
    let exec = start(&c, &sm, &input).await;
    // Wait until a good share of the children ended, but not all.
    let (run_arn, ended_before) = eventually(Duration::from_secs(120), || async {
        let runs = c.list_map_runs().execution_arn(&exec).send().await.ok()?;
        let arn = runs.map_runs().first()?.map_run_arn().to_string();
        let d = c.describe_map_run().map_run_arn(&arn).send().await.ok()?;
        let succeeded = d.execution_counts()?.succeeded();
        (succeeded >= 1_000).then_some((arn, succeeded))
    })
    .await;
    server.kill();
    let restarted = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!(
        ended_before < ITEMS as i64,
        "the Map Run ended before the crash"
    );
    let server = Server::start_env(&store, &[], &envs);
    let c = server.client();
    let done = ended(&c, &exec).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?}",
        done.cause()
    );
    let output: serde_json::Value =
        serde_json::from_str(done.output().expect("output")).expect("JSON");
    assert_eq!(
        output["MapRunArn"],
        json!(run_arn),
        "the same Map Run went on"
    );
    let run = c
        .describe_map_run()
        .map_run_arn(&run_arn)
        .send()
        .await
        .expect("DescribeMapRun");
    let items = run.item_counts().expect("item counts");
    assert_eq!(
        (items.succeeded(), items.results_written()),
        (ITEMS as i64, ITEMS as i64)
    );
    // Every item's result is written exactly once.
    let manifest_key = output["ResultWriterDetails"]["Key"]
        .as_str()
        .expect("manifest key");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s3.join("results").join(manifest_key)).expect("manifest"),
    )
    .expect("manifest JSON");
    let mut doubles = Vec::new();
    for file in manifest["ResultFiles"]["SUCCEEDED"]
        .as_array()
        .expect("files")
    {
        let key = file["Key"].as_str().expect("key");
        let records: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(s3.join("results").join(key)).expect("file"))
                .expect("records");
        for r in records {
            let out: serde_json::Value =
                serde_json::from_str(r["Output"].as_str().expect("output")).expect("JSON");
            doubles.push(out["double"].as_i64().expect("double"));
        }
    }
    doubles.sort_unstable();
    let expected: Vec<i64> = (0..ITEMS as i64).map(|i| 2 * i).collect();
    assert!(doubles == expected, "{} results", doubles.len());
    // Each child is one execution; those that ended before the crash kept their run.
    let mut children = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_executions()
            .map_run_arn(&run_arn)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .expect("children");
        children.extend(page.executions().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(children.len(), ITEMS);
    let names: HashSet<&str> = children.iter().map(|e| e.name()).collect();
    assert_eq!(names.len(), ITEMS);
    assert!(
        children
            .iter()
            .all(|e| e.status() == &ExecutionStatus::Succeeded)
    );
    let kept = children
        .iter()
        .filter(|e| e.start_date().as_secs_f64() < restarted)
        .count();
    assert!(
        kept as i64 >= ended_before,
        "{kept} children kept their first run; {ended_before} had ended before the crash"
    );
}
