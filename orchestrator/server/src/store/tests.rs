//! The store test suite, run against every backend: whatever one backend is expected to do,
//! all of them must do. [`suite`] takes an empty store; [`shared_database`] takes two stores
//! over one database (two replicas).

use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use futures::future::join_all;
use sqlx::postgres::PgConnectOptions;

use super::*;

// ---- fixtures

const REGION: &str = "arn:aws:states:us-east-1:123456789012";

fn machine(name: &str) -> StateMachineRecord {
    StateMachineRecord {
        arn: format!("{REGION}:stateMachine:{name}"),
        name: name.to_string(),
        definition: r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#.to_string(),
        role_arn: "arn:aws:iam::123456789012:role/r".to_string(),
        kind: MachineType::Standard,
        created: 1_700_000_000.25,
        revision: 1,
    }
}

fn execution(sm: &StateMachineRecord, name: &str, start: f64) -> ExecutionRecord {
    ExecutionRecord {
        arn: format!("{REGION}:execution:{}:{name}", sm.name),
        state_machine_arn: sm.arn.clone(),
        name: name.to_string(),
        status: ExecutionStatus::Running,
        input: r#"{"n":1}"#.to_string(),
        output: None,
        error: None,
        cause: None,
        start,
        stop: None,
        definition: sm.definition.clone(),
        role_arn: sm.role_arn.clone(),
        kind: sm.kind,
        redrive_count: 0,
        map_run_arn: None,
    }
}

fn cursor(state: i64) -> Cursor {
    Cursor {
        state,
        input: format!(r#"{{"at":{state}}}"#),
        vars: format!(r#"{{"v":{state}}}"#),
        // Set by the store; whatever is passed in must not matter.
        version: -1,
        next_event_id: -1,
        step_events: 0,
        transitions: state * 10,
    }
}

fn event(kind: &str, timestamp: f64) -> NewEvent {
    NewEvent {
        timestamp,
        kind: kind.to_string(),
        details: None,
    }
}

fn started_event(start: f64) -> NewEvent {
    NewEvent {
        timestamp: start,
        kind: "ExecutionStarted".to_string(),
        details: Some((
            "executionStartedEventDetails".to_string(),
            r#"{"input":"{\"n\":1}"}"#.to_string(),
        )),
    }
}

/// Create a RUNNING execution at state 0 with its `ExecutionStarted` event (id 1).
async fn start(store: &dyn Store, sm: &StateMachineRecord, name: &str) -> ExecutionRecord {
    let e = execution(sm, name, 1000.0);
    let existing = store
        .create_execution(&e, Some(&cursor(0)), &[started_event(e.start)])
        .await
        .expect("create_execution");
    assert_eq!(existing, None, "{name} is new");
    e
}

fn step(e: &ExecutionRecord, expected_version: i64, kinds: &[&str], next: i64) -> Transition {
    Transition {
        execution_arn: e.arn.clone(),
        expected_version,
        events: kinds.iter().map(|k| event(k, 1001.0)).collect(),
        next: Some(cursor(next)),
        finish: None,
    }
}

fn finish(e: &ExecutionRecord, expected_version: i64, status: &str) -> Transition {
    let failed = status != "SUCCEEDED";
    Transition {
        execution_arn: e.arn.clone(),
        expected_version,
        events: vec![event(&format!("Execution{}", title(status)), 1002.0)],
        next: None,
        finish: Some(Finish {
            status: status.parse().expect("an execution status"),
            output: (!failed).then(|| r#"{"done":true}"#.to_string()),
            error: failed.then(|| "States.TaskFailed".to_string()),
            cause: failed.then(|| "it broke".to_string()),
            stop: 1002.5,
        }),
    }
}

fn title(status: &str) -> String {
    match status {
        "SUCCEEDED" => "Succeeded",
        "FAILED" => "Failed",
        "TIMED_OUT" => "TimedOut",
        _ => "Aborted",
    }
    .to_string()
}

fn task(token: &str, activity_arn: Option<&str>, execution_arn: &str, created: f64) -> TaskRecord {
    TaskRecord {
        token: token.to_string(),
        activity_arn: activity_arn.map(str::to_string),
        execution_arn: execution_arn.to_string(),
        state_name: "Work".to_string(),
        input: format!(r#"{{"token":"{token}"}}"#),
        status: TaskStatus::Pending,
        worker: None,
        lease_until: None,
        heartbeat_seconds: Some(30),
        last_heartbeat: None,
        output: None,
        error: None,
        cause: None,
        created,
    }
}

fn activity(name: &str) -> ActivityRecord {
    ActivityRecord {
        arn: format!("{REGION}:activity:{name}"),
        name: name.to_string(),
        created: 1_700_000_000.5,
    }
}

async fn cursor_of(store: &dyn Store, e: &ExecutionRecord) -> Cursor {
    store
        .get_cursor(&e.arn)
        .await
        .expect("get_cursor")
        .expect("a running execution has a cursor")
}

async fn execution_of(store: &dyn Store, e: &ExecutionRecord) -> ExecutionRecord {
    store
        .get_execution(&e.arn)
        .await
        .expect("get_execution")
        .expect("the execution exists")
}

async fn all_events(store: &dyn Store, e: &ExecutionRecord) -> Vec<HistoryEvent> {
    store
        .history(&e.arn, None, false, usize::MAX)
        .await
        .expect("history")
}

fn ids(events: &[HistoryEvent]) -> Vec<i64> {
    events.iter().map(|e| e.id).collect()
}

/// Assert that a store call failed with the given error.
macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {{
        let result = &$result;
        assert!(
            matches!(result, Err($pattern)),
            "expected {}, got {result:?}",
            stringify!($pattern)
        );
    }};
}

// ---- the suite

/// Every check, in order, on one empty store.
pub(crate) async fn suite(store: &dyn Store) {
    state_machines(store).await;
    executions_and_commit(store).await;
    history_paging(store).await;
    listing_executions(store).await;
    redrive(store).await;
    activities(store).await;
    tasks(store).await;
    task_batches(store).await;
    concurrency(store, store).await;
    leases(store, store).await;
    settings_and_transitions(store, store).await;
    map_runs(store).await;
    map_run_children(store).await;
    child_queue(store, store).await;
    ended_among(store).await;
    schedules(store, store).await;
    triggers(store, store).await;
}

/// Two stores over one database behave as one: what one replica writes the other sees, and
/// their concurrent claims, commits and starts never overlap.
pub(crate) async fn shared_database(a: &dyn Store, b: &dyn Store) {
    let sm = machine("shared");
    a.create_state_machine(&sm).await.expect("create on a");
    assert_eq!(
        b.get_state_machine(&sm.arn).await.expect("get on b"),
        Some(sm.clone())
    );
    assert_err!(
        b.create_state_machine(&sm).await,
        StoreError::AlreadyExists(_)
    );
    concurrency(a, b).await;
    leases(a, b).await;
    crossing_task_batches(a, b).await;
    settings_and_transitions(a, b).await;
    child_queue(a, b).await;
    schedules(a, b).await;
    triggers(a, b).await;
}

fn schedule(group: &str, name: &str, target: &StateMachineRecord) -> ScheduleRecord {
    ScheduleRecord {
        group: group.to_string(),
        name: name.to_string(),
        arn: format!("arn:aws:scheduler:us-east-1:123456789012:schedule/{group}/{name}"),
        expression: "rate(1 minute)".to_string(),
        timezone: "UTC".to_string(),
        start: None,
        end: Some(5000.0),
        state: Switch::Enabled,
        description: Some("d".into()),
        target_arn: target.arn.clone(),
        role_arn: "arn:aws:iam::123456789012:role/s".to_string(),
        input: Some("{}".into()),
        extra: "{}".to_string(),
        catch_up: "ALL".to_string(),
        catch_up_limit: 10,
        after_completion: "NONE".to_string(),
        created: 1000.0,
        modified: 1000.0,
        next_fire: Some(1060.0),
        version: 0,
    }
}

fn new_execution(sm: &StateMachineRecord, name: &str) -> NewExecution {
    NewExecution {
        record: execution(sm, name, 1060.0),
        cursor: cursor(0),
        events: vec![started_event(1060.0)],
    }
}

/// Schedules are kept by group and name, listed in order, found when due, and fired once:
/// of two fires of one version (two replicas), one applies; the loser writes nothing.
async fn schedules(a: &dyn Store, b: &dyn Store) {
    let sm = machine("scheduled");
    let _ = a.create_state_machine(&sm).await;
    let first = schedule("default", "s1", &sm);
    a.create_schedule(&first).await.expect("create");
    assert_err!(
        b.create_schedule(&first).await,
        StoreError::AlreadyExists(_)
    );
    a.create_schedule(&schedule("team", "s1", &sm))
        .await
        .expect("same name, other group");
    let mut paused = schedule("default", "s2", &sm);
    paused.state = Switch::Disabled;
    a.create_schedule(&paused).await.expect("create paused");
    assert_eq!(
        b.get_schedule("default", "s1").await.expect("get"),
        Some(first.clone())
    );
    assert_eq!(b.get_schedule("default", "nope").await.expect("get"), None);

    let all = b
        .list_schedules(&ScheduleFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list");
    let names: Vec<(String, String)> = all
        .iter()
        .map(|s| (s.group.clone(), s.name.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("default".into(), "s1".into()),
            ("default".into(), "s2".into()),
            ("team".into(), "s1".into())
        ]
    );
    let page = b
        .list_schedules(&ScheduleFilter {
            after: Some(("default".into(), "s1".into())),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("page");
    assert_eq!(page[0].name, "s2");
    let enabled = b
        .list_schedules(&ScheduleFilter {
            state: Some(Switch::Enabled),
            name_prefix: Some("s".into()),
            group: Some("default".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("filtered");
    assert_eq!(enabled.len(), 1);

    // Only enabled schedules whose time has come are due.
    assert!(a.due_schedules(1059.0, 10).await.expect("due").is_empty());
    let due = a.due_schedules(1060.0, 10).await.expect("due");
    assert_eq!(due.len(), 2, "both groups' s1");

    let fire = |version: i64, names: &[&str]| ScheduleFire {
        group: "default".into(),
        name: "s1".into(),
        version,
        next_fire: Some(1120.0),
        delete: false,
        modified: 1061.0,
        executions: names.iter().map(|n| new_execution(&sm, n)).collect(),
    };
    let lease = Lease {
        owner: "r1".into(),
        until: 2000.0,
    };
    let (fa, fb) = ([fire(0, &["s1-t1"])], [fire(0, &["s1-t1-other"])]);
    let (x, y) = futures::join!(a.fire_schedules(&fa, &lease), b.fire_schedules(&fb, &lease));
    let (x, y) = (x.expect("fire a"), y.expect("fire b"));
    let winners: Vec<&Option<Vec<String>>> =
        [&x[0], &y[0]].into_iter().filter(|r| r.is_some()).collect();
    assert_eq!(
        winners.len(),
        1,
        "one of two concurrent fires applies: {x:?} {y:?}"
    );
    let s1 = a
        .get_schedule("default", "s1")
        .await
        .expect("get")
        .expect("there");
    assert_eq!((s1.next_fire, s1.version), (Some(1120.0), 1));
    let created = a
        .list_executions(&ExecutionFilter {
            state_machine_arn: Some(sm.arn.clone()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(created.len(), 1, "the loser created nothing");
    // The created execution is leased to the firing replica, and its history started.
    assert_eq!(all_events(a, &created[0]).await.len(), 1);
    assert!(
        a.claim_executions("r2", 1500.0, 1600.0, 10)
            .await
            .expect("claim")
            .iter()
            .all(|arn| *arn != created[0].arn)
    );
    // A fire that names an execution that exists (a backfill made it) moves the schedule
    // on and creates nothing.
    let again = a
        .fire_schedules(&[fire(1, &[created[0].name.as_str()])], &lease)
        .await
        .expect("fire");
    assert_eq!(again, vec![Some(vec![])]);

    // An update moves the version, so a fire computed before it does not apply.
    let mut changed = s1.clone();
    changed.expression = "rate(5 minutes)".into();
    changed.next_fire = Some(1300.0);
    let stored = b.update_schedule(&changed).await.expect("update");
    assert_eq!(
        (stored.version, stored.next_fire, stored.created),
        (3, Some(1300.0), 1000.0)
    );
    assert_eq!(
        a.fire_schedules(&[fire(2, &[])], &lease)
            .await
            .expect("stale"),
        vec![None]
    );
    // The last tick of a DELETE schedule removes it.
    let last = ScheduleFire {
        delete: true,
        next_fire: None,
        ..fire(3, &[])
    };
    assert_eq!(
        a.fire_schedules(&[last], &lease).await.expect("last"),
        vec![Some(vec![])]
    );
    assert_eq!(a.get_schedule("default", "s1").await.expect("get"), None);
    assert_err!(b.update_schedule(&changed).await, StoreError::NotFound(_));
    a.delete_schedule("team", "s1").await.expect("delete");
    a.delete_schedule("default", "s2").await.expect("delete");
    assert_err!(
        a.delete_schedule("team", "s1").await,
        StoreError::NotFound(_)
    );

    // Groups: deleting one deletes its schedules.
    let group = |name: &str| ScheduleGroupRecord {
        name: name.into(),
        arn: format!("arn:aws:scheduler:us-east-1:123456789012:schedule-group/{name}"),
        created: 1.0,
        modified: 1.0,
    };
    a.create_schedule_group(&group("g1")).await.expect("group");
    a.create_schedule_group(&group("g2")).await.expect("group");
    assert_err!(
        b.create_schedule_group(&group("g1")).await,
        StoreError::AlreadyExists(_)
    );
    assert_eq!(
        b.get_schedule_group("g1").await.expect("get"),
        Some(group("g1"))
    );
    let listed = b.list_schedule_groups(Some("g1"), 10).await.expect("list");
    assert_eq!(listed, vec![group("g2")]);
    a.create_schedule(&schedule("g1", "in-g1", &sm))
        .await
        .expect("create");
    a.delete_schedule_group("g1").await.expect("delete group");
    assert_eq!(a.get_schedule("g1", "in-g1").await.expect("get"), None);
    assert_err!(a.delete_schedule_group("g1").await, StoreError::NotFound(_));
    a.delete_schedule_group("g2").await.expect("delete group");
}

/// Triggers take turns listing, and each object version starts one execution however many
/// times (and by however many replicas) it is seen.
async fn triggers(a: &dyn Store, b: &dyn Store) {
    let sm = machine("triggered");
    let _ = a.create_state_machine(&sm).await;
    let t = TriggerRecord {
        name: "landing".into(),
        arn: "arn:aws:sluice:us-east-1:123456789012:trigger/landing".into(),
        bucket: "in".into(),
        prefix: "raw/".into(),
        suffix: ".csv".into(),
        target_arn: sm.arn.clone(),
        interval_seconds: 10.0,
        state: Switch::Enabled,
        include_existing: false,
        created: 1000.0,
        modified: 1000.0,
        last_listed: None,
    };
    a.create_trigger(&t).await.expect("create");
    assert_err!(b.create_trigger(&t).await, StoreError::AlreadyExists(_));
    assert_eq!(
        b.get_trigger("landing").await.expect("get"),
        Some(t.clone())
    );
    assert_eq!(b.list_triggers().await.expect("list").len(), 1);

    let (x, y) = futures::join!(
        a.claim_trigger_listing("landing", 1100.0),
        b.claim_trigger_listing("landing", 1100.0)
    );
    assert!(x.expect("a") ^ y.expect("b"), "one replica takes the round");
    assert!(
        !a.claim_trigger_listing("landing", 1105.0)
            .await
            .expect("too soon")
    );
    assert!(
        a.claim_trigger_listing("landing", 1110.0)
            .await
            .expect("next round")
    );

    let objects = vec![
        ("raw/1.csv".to_string(), "e1".to_string()),
        ("raw/2.csv".to_string(), "e2".to_string()),
    ];
    assert_eq!(
        a.unseen_objects("landing", &objects).await.expect("unseen"),
        [true, true]
    );
    let fire = |key: &str, etag: &str, name: &str| ObjectFire {
        trigger: "landing".into(),
        key: key.into(),
        etag: etag.into(),
        seen: 1100.0,
        execution: new_execution(&sm, name),
    };
    let lease = Lease {
        owner: "r1".into(),
        until: 2000.0,
    };
    let (fa, fb) = (
        [fire("raw/1.csv", "e1", "o1")],
        [fire("raw/1.csv", "e1", "o1")],
    );
    let (x, y) = futures::join!(a.fire_objects(&fa, &lease), b.fire_objects(&fb, &lease));
    let started: Vec<String> = x
        .expect("a")
        .into_iter()
        .chain(y.expect("b"))
        .flatten()
        .collect();
    assert_eq!(started.len(), 1, "one execution for one version");
    assert_eq!(
        a.unseen_objects("landing", &objects).await.expect("unseen"),
        [false, true]
    );
    // A new version of the same key is new.
    let fired = a
        .fire_objects(
            &[
                fire("raw/1.csv", "e1b", "o1b"),
                fire("raw/1.csv", "e1", "o1-again"),
            ],
            &lease,
        )
        .await
        .expect("fire");
    assert_eq!(fired.iter().filter(|f| f.is_some()).count(), 1);

    let paused = b
        .set_trigger_state("landing", Switch::Disabled, 1200.0)
        .await
        .expect("pause");
    assert_eq!((paused.state, paused.modified), (Switch::Disabled, 1200.0));
    assert!(
        !a.claim_trigger_listing("landing", 5000.0)
            .await
            .expect("paused")
    );
    a.delete_trigger("landing").await.expect("delete");
    assert_err!(a.delete_trigger("landing").await, StoreError::NotFound(_));
    a.create_trigger(&t).await.expect("created again");
    assert_eq!(
        a.unseen_objects("landing", &objects)
            .await
            .expect("a fresh seen-set"),
        [true, true]
    );
    a.delete_trigger("landing").await.expect("delete");
}

/// A Map Run is written, updated in place and listed by its execution, oldest first.
async fn map_runs(store: &dyn Store) {
    let execution = format!("arn:aws:states:us-east-1:1:execution:m:{}", unique_suffix());
    let mut run = MapRunRecord {
        arn: format!(
            "arn:aws:states:us-east-1:1:mapRun:m/Fan:{}",
            unique_suffix()
        ),
        execution_arn: execution.clone(),
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m/Fan".into(),
        status: "RUNNING".into(),
        start: 10.0,
        stop: None,
        max_concurrency: 0,
        tolerated_failure_percentage: 5.0,
        tolerated_failure_count: 0,
        total: None,
        running: 3,
        succeeded: 1,
        failed: 0,
        items_total: None,
        items_succeeded: 10,
        items_failed: 0,
        redrive_count: 0,
        results_written: 0,
        items_results_written: 0,
    };
    store.put_map_run(&run).await.expect("put");
    assert_eq!(
        store.get_map_run(&run.arn).await.expect("get"),
        Some(run.clone())
    );
    // An UpdateMapRun left for the driving replica is taken once.
    assert!(
        store
            .request_map_run_update(&run.arn, "{\"maxConcurrency\":5}")
            .await
            .expect("request")
    );
    assert_eq!(
        store.take_map_run_update(&run.arn).await.expect("take"),
        Some("{\"maxConcurrency\":5}".to_string())
    );
    assert_eq!(
        store.take_map_run_update(&run.arn).await.expect("take"),
        None
    );
    run.status = "SUCCEEDED".into();
    run.stop = Some(12.5);
    run.total = Some(4);
    run.running = 0;
    run.succeeded = 4;
    run.items_total = Some(40);
    run.items_succeeded = 40;
    run.results_written = 4;
    run.items_results_written = 40;
    store.put_map_run(&run).await.expect("update");
    assert!(
        !store
            .request_map_run_update(&run.arn, "{}")
            .await
            .expect("request"),
        "an ended run takes no update"
    );
    let mut second = run.clone();
    second.arn.push_str("-2");
    second.start = 11.0;
    store.put_map_run(&second).await.expect("second");
    let listed = store.list_map_runs(&execution).await.expect("list");
    assert_eq!(listed, vec![run.clone(), second]);
    assert_eq!(store.get_map_run("arn:nope").await.expect("get"), None);
    assert!(
        store
            .list_map_runs("arn:nope")
            .await
            .expect("list")
            .is_empty()
    );
}

/// Children of a Map Run are executions with their history, listed by their Map Run; a child
/// that runs again replaces its row and history.
async fn map_run_children(store: &dyn Store) {
    let run_arn = format!(
        "arn:aws:states:us-east-1:1:mapRun:m/Fan:{}",
        unique_suffix()
    );
    let machine = "arn:aws:states:us-east-1:1:stateMachine:m/Fan";
    let event = |kind: &str| NewEvent {
        timestamp: 1.0,
        kind: kind.into(),
        details: None,
    };
    let child = |n: usize, status: ExecutionStatus| ExecutionRecord {
        arn: format!("{}-{n}", run_arn.replace(":mapRun:", ":execution:")),
        state_machine_arn: machine.into(),
        name: format!("{}-{n}", run_arn.rsplit(':').next().unwrap_or("")),
        status,
        input: "{}".into(),
        output: (status == ExecutionStatus::Succeeded).then(|| "1".to_string()),
        error: (status == ExecutionStatus::Failed).then(|| "E".to_string()),
        cause: None,
        start: 5.0 + n as f64,
        stop: Some(9.0),
        definition: String::new(),
        role_arn: "r".into(),
        kind: MachineType::Standard,
        redrive_count: 0,
        map_run_arn: Some(run_arn.clone()),
    };
    let batch: Vec<_> = (0..3)
        .map(|n| {
            let status = if n == 1 {
                ExecutionStatus::Failed
            } else {
                ExecutionStatus::Succeeded
            };
            (
                child(n, status),
                vec![event("ExecutionStarted"), event("X")],
            )
        })
        .collect();
    store.record_children(&batch).await.expect("record");
    let mut ended = store.ended_children(&run_arn).await.expect("ended");
    ended.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(ended.len(), 3);
    assert_eq!(ended[1].1, ExecutionStatus::Failed);
    let listed = store
        .list_executions(&ExecutionFilter {
            state_machine_arn: None,
            map_run_arn: Some(run_arn.clone()),
            status: None,
            after: None,
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|e| e.map_run_arn.as_deref() == Some(run_arn.as_str()))
    );
    // The failed child runs again and succeeds: one row, the new history.
    let mut again = child(1, ExecutionStatus::Succeeded);
    again.redrive_count = 1;
    store
        .record_children(&[(
            again.clone(),
            vec![event("ExecutionStarted"), event("Y"), event("Z")],
        )])
        .await
        .expect("rerun");
    assert_eq!(
        store.get_execution(&again.arn).await.expect("get"),
        Some(again.clone())
    );
    let history = store
        .history(&again.arn, None, false, 10)
        .await
        .expect("history");
    let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["ExecutionStarted", "Y", "Z"]);
}

/// Of the executions a replica drives, those that ended (elsewhere) are found.
async fn ended_among(store: &dyn Store) {
    let sm = machine(&format!("ended-{}", unique_suffix()));
    store.create_state_machine(&sm).await.expect("machine");
    let running = start(store, &sm, "running").await;
    let stopped = start(store, &sm, "stopped").await;
    let results = store
        .commit(&[finish(&stopped, 0, "ABORTED")])
        .await
        .expect("commit");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let unknown = format!("{}-unknown", running.arn);
    let ended = store
        .ended_among(&[running.arn.clone(), stopped.arn.clone(), unknown])
        .await
        .expect("ended_among");
    assert_eq!(ended, vec![stopped.arn.clone()]);
    assert!(store.ended_among(&[]).await.expect("none").is_empty());
}

/// Queued Map Run children: queued once, claimed by one replica at a time (again once a lease
/// ran out or was given up), and off the queue once recorded.
async fn child_queue(a: &dyn Store, b: &dyn Store) {
    let run_arn = format!(
        "arn:aws:states:us-east-1:1:mapRun:q/Fan:{}",
        unique_suffix()
    );
    let queued = |n: i64| QueuedChild {
        child_arn: format!("{}-{n}", run_arn.replace(":mapRun:", ":execution:")),
        map_run_arn: run_arn.clone(),
        root_arn: "arn:aws:states:us-east-1:1:execution:q:root".into(),
        label: "Fan".into(),
        name: format!("{}-{n}", run_arn.rsplit(':').next().unwrap_or("")),
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:q/Fan".into(),
        role_arn: "r".into(),
        index: n,
        input: format!("{{\"n\":{n}}}"),
        vars: "{}".into(),
        // A seed with the top bit set survives the round trip through a signed column.
        seed: (0xF000_0000_0000_0001_u64 + n as u64) as i64,
        redrive_count: 0,
        rerun: n == 2,
        queued: 1.0 + n as f64,
    };
    let children: Vec<QueuedChild> = (0..6).map(queued).collect();
    a.queue_children(&children).await.expect("queue");
    // Queuing again changes nothing.
    b.queue_children(&children[..2]).await.expect("queue again");
    let mut listed = b.queued_children(&run_arn).await.expect("queued");
    listed.sort();
    let mut expected: Vec<String> = children.iter().map(|c| c.child_arn.clone()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    let mine = |claimed: Vec<QueuedChild>| -> Vec<QueuedChild> {
        claimed
            .into_iter()
            .filter(|c| c.map_run_arn == run_arn)
            .collect()
    };
    // Replicas claiming at once take disjoint children; with no lease left, nothing.
    let (x, y) = futures::join!(
        a.claim_children("qa", 100.0, 200.0, 1000),
        b.claim_children("qb", 100.0, 200.0, 1000)
    );
    let (x, y) = (mine(x.expect("claim on a")), mine(y.expect("claim on b")));
    assert_eq!(x.len() + y.len(), 6, "{x:?} {y:?}");
    assert!(
        x.iter()
            .all(|c| !y.iter().any(|d| d.child_arn == c.child_arn))
    );
    let by_a = x.len() as u64;
    let all: Vec<&QueuedChild> = x.iter().chain(&y).collect();
    for c in &children {
        assert_eq!(
            all.iter().find(|d| d.child_arn == c.child_arn),
            Some(&c),
            "read back whole"
        );
    }
    assert!(
        mine(
            a.claim_children("qc", 150.0, 250.0, 1000)
                .await
                .expect("claim")
        )
        .is_empty()
    );
    // Renewed leases hold past their first end; given-up ones are free at once.
    assert_eq!(
        a.renew_child_leases("qa", Some(400.0))
            .await
            .expect("renew"),
        by_a
    );
    let taken = mine(
        b.claim_children("qc", 300.0, 500.0, 1000)
            .await
            .expect("claim"),
    );
    assert_eq!(taken.len(), y.len(), "qb's leases ran out, qa's did not");
    b.renew_child_leases("qa", None).await.expect("give up");
    let freed = mine(
        a.claim_children("qd", 300.0, 500.0, 1000)
            .await
            .expect("claim"),
    );
    assert_eq!(freed.len() as u64, by_a);
    // Recorded children leave the queue.
    let record = |c: &QueuedChild| ExecutionRecord {
        arn: c.child_arn.clone(),
        state_machine_arn: c.state_machine_arn.clone(),
        name: c.name.clone(),
        status: ExecutionStatus::Succeeded,
        input: c.input.clone(),
        output: Some("1".into()),
        error: None,
        cause: None,
        start: 1.0,
        stop: Some(2.0),
        definition: String::new(),
        role_arn: c.role_arn.clone(),
        kind: MachineType::Standard,
        redrive_count: 0,
        map_run_arn: Some(run_arn.clone()),
    };
    b.record_children(&[
        (record(&children[0]), Vec::new()),
        (record(&children[3]), Vec::new()),
    ])
    .await
    .expect("record");
    let mut left = a.queued_children(&run_arn).await.expect("queued");
    left.sort();
    let mut expected: Vec<String> = [1, 2, 4, 5]
        .iter()
        .map(|&i| children[i].child_arn.clone())
        .collect();
    expected.sort();
    assert_eq!(left, expected);
}

/// A setting is written once (first writer wins, also between replicas racing), and a
/// checkpoint keeps the transitions made up to it.
async fn settings_and_transitions(a: &dyn Store, b: &dyn Store) {
    let key = format!("test-{}", unique_suffix());
    let (x, y) = futures::join!(
        a.setting_or_insert(&key, "x"),
        b.setting_or_insert(&key, "y")
    );
    let (x, y) = (x.expect("setting on a"), y.expect("setting on b"));
    assert_eq!(x, y, "racing replicas agree on one value");
    assert!(x == "x" || x == "y");
    assert_eq!(
        a.setting_or_insert(&key, "z").await.expect("setting again"),
        x,
        "a stored setting is never replaced"
    );

    let sm = machine(&format!("transitions-{}", unique_suffix()));
    a.create_state_machine(&sm).await.expect("create");
    let e = start(a, &sm, "counted").await;
    assert_eq!(cursor_of(b, &e).await.transitions, 0);
    a.commit(&[step(&e, 0, &["PassStateEntered"], 3)])
        .await
        .expect("commit")
        .remove(0)
        .expect("step applies");
    assert_eq!(
        cursor_of(b, &e).await.transitions,
        30,
        "kept with the cursor"
    );
    // Events of a step still running leave the count as it was.
    let running = Transition {
        execution_arn: e.arn.clone(),
        expected_version: 1,
        events: vec![event("TaskScheduled", 1003.0)],
        next: None,
        finish: None,
    };
    a.commit(&[running])
        .await
        .expect("commit")
        .remove(0)
        .expect("applies");
    assert_eq!(cursor_of(b, &e).await.transitions, 30);
}

/// Two replicas end the same tasks at once, in opposite orders: the row locks they take
/// cross, which PostgreSQL answers by aborting one transaction as a deadlock. The store
/// runs that batch again, so each task ends exactly once and no caller sees an error.
async fn crossing_task_batches(a: &dyn Store, b: &dyn Store) {
    let act = a
        .create_activity(&activity("crossing"))
        .await
        .expect("create activity");
    let exec = "arn:aws:states:us-east-1:123456789012:execution:tasks:crossing";
    for round in 0..10 {
        let tokens: Vec<String> = (0..200).map(|i| format!("x{round}-{i}")).collect();
        let puts: Vec<TaskWrite> = tokens
            .iter()
            .map(|t| TaskWrite::Put(Box::new(task(t, Some(&act.arn), exec, 1.0))))
            .collect();
        a.write_tasks(&puts).await.expect("put the tasks");
        let complete = |token: &String, by: &str| TaskWrite::Complete {
            token: token.clone(),
            outcome: TaskOutcome::Succeeded(format!("\"{by}\"")),
        };
        let forward: Vec<TaskWrite> = tokens.iter().map(|t| complete(t, "a")).collect();
        let backward: Vec<TaskWrite> = tokens.iter().rev().map(|t| complete(t, "b")).collect();
        let (from_a, from_b) = futures::join!(a.write_tasks(&forward), b.write_tasks(&backward));
        let from_a = from_a.expect("replica a's batch is applied");
        let mut from_b = from_b.expect("replica b's batch is applied");
        from_b.reverse();
        for (token, (x, y)) in tokens.iter().zip(from_a.iter().zip(&from_b)) {
            let ended = [x, y].iter().filter(|r| matches!(r, Ok(Some(_)))).count();
            assert_eq!(ended, 1, "{token} ends once: {x:?} / {y:?}");
        }
    }
}

/// Execution leases: one holder at a time, taken over when they expire, and concurrent
/// claimers never take the same execution.
async fn leases(a: &dyn Store, b: &dyn Store) {
    let sm = machine("leases");
    a.create_state_machine(&sm).await.expect("create");
    let mut mine = Vec::new();
    for n in 0..3 {
        mine.push(start(a, &sm, &format!("lease-{n}")).await.arn);
    }
    // Far in the future, every earlier lease has expired.
    let t = 1e12;
    let got = a
        .claim_executions("r1", t, t + 30.0, 10_000)
        .await
        .expect("claim");
    assert!(mine.iter().all(|m| got.contains(m)), "{got:?}");
    let other = b
        .claim_executions("r2", t + 10.0, t + 40.0, 10_000)
        .await
        .expect("claim");
    assert!(
        mine.iter().all(|m| !other.contains(m)),
        "held leases are not taken"
    );
    assert!(
        !b.lease_execution(&mine[0], "r2", t + 10.0, t + 40.0)
            .await
            .expect("lease")
    );
    assert!(
        a.lease_execution(&mine[0], "r1", t + 10.0, t + 40.0)
            .await
            .expect("lease")
    );
    let again = a
        .claim_executions("r1", t + 10.0, t + 60.0, 10_000)
        .await
        .expect("claim");
    assert!(
        mine.iter().all(|m| again.contains(m)),
        "the holder may claim again"
    );
    assert!(a.renew_leases("r1", t + 100.0).await.expect("renew") >= 3);
    let taken = b
        .claim_executions("r2", t + 101.0, t + 130.0, 10_000)
        .await
        .expect("claim");
    assert!(
        mine.iter().all(|m| taken.contains(m)),
        "expired leases are taken over"
    );
    assert_eq!(a.renew_leases("r1", t + 200.0).await.expect("renew"), 0);
    // Durable timers keep their first deadline.
    assert_eq!(a.timer(&mine[0], "3/0", 500.0).await.expect("timer"), 500.0);
    assert_eq!(b.timer(&mine[0], "3/0", 900.0).await.expect("timer"), 500.0);
    assert_eq!(a.timer(&mine[0], "3/1", 900.0).await.expect("timer"), 900.0);
    // Sixteen replicas claiming at once take disjoint sets.
    let claims = futures::future::join_all((0..16).map(|i| {
        let store = if i % 2 == 0 { a } else { b };
        async move {
            store
                .claim_executions(&format!("racer-{i}"), t + 1000.0, t + 1030.0, 10_000)
                .await
                .expect("claim")
        }
    }))
    .await;
    let all: Vec<&String> = claims.iter().flatten().collect();
    let unique: std::collections::HashSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len(), "an execution was claimed twice");
    assert!(mine.iter().all(|m| unique.contains(m)));
}

async fn state_machines(store: &dyn Store) {
    let sm = machine("orders");
    store.create_state_machine(&sm).await.expect("create");
    assert_eq!(
        store.get_state_machine(&sm.arn).await.expect("get"),
        Some(sm.clone())
    );
    assert_eq!(
        store.get_state_machine("arn:nope").await.expect("get"),
        None
    );

    // The name is taken, whatever the ARN.
    let mut again = machine("orders");
    again.arn.push_str("-2");
    let dup = store.create_state_machine(&again).await;
    assert_err!(dup, StoreError::AlreadyExists(_));
    assert_eq!(
        store.get_state_machine(&again.arn).await.expect("get"),
        None
    );

    let updated = store
        .update_state_machine(&sm.arn, Some(r#"{"new":1}"#), None)
        .await
        .expect("update definition");
    assert_eq!(updated.definition, r#"{"new":1}"#);
    assert_eq!(updated.role_arn, sm.role_arn);
    assert_eq!(updated.revision, sm.revision + 1);
    let updated = store
        .update_state_machine(&sm.arn, None, Some("arn:aws:iam::1:role/other"))
        .await
        .expect("update role");
    assert_eq!(updated.definition, r#"{"new":1}"#);
    assert_eq!(updated.role_arn, "arn:aws:iam::1:role/other");
    assert_eq!(updated.revision, sm.revision + 2);
    assert_eq!(
        store.get_state_machine(&sm.arn).await.expect("get"),
        Some(updated)
    );
    let missing = store
        .update_state_machine("arn:nope", Some("{}"), None)
        .await;
    assert_err!(missing, StoreError::NotFound(_));

    // Listing is by name, bytewise (uppercase before lowercase, '-' before '_'), in pages.
    for name in ["m-b", "m-B", "m-a_1", "m-a-1", "m-c"] {
        store
            .create_state_machine(&machine(name))
            .await
            .expect("create");
    }
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_state_machines(after.as_deref(), 2)
            .await
            .expect("list");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.name.clone());
        names.extend(page.into_iter().map(|m| m.name));
    }
    assert_eq!(names, ["m-B", "m-a-1", "m-a_1", "m-b", "m-c", "orders"]);

    store
        .delete_state_machine(&machine("m-b").arn)
        .await
        .expect("delete");
    assert_eq!(
        store
            .get_state_machine(&machine("m-b").arn)
            .await
            .expect("get"),
        None
    );
    store
        .delete_state_machine(&machine("m-b").arn)
        .await
        .expect("deleting a missing machine is not an error");
    let names: Vec<String> = store
        .list_state_machines(Some("m-a_1"), 10)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["m-c", "orders"]);
}

async fn executions_and_commit(store: &dyn Store) {
    let sm = machine("commits");
    store.create_state_machine(&sm).await.expect("create");
    let e1 = start(store, &sm, "e1").await;
    assert_eq!(execution_of(store, &e1).await, e1);

    // Starting again by the same machine and name returns the stored execution, writes
    // nothing, and ignores the new record (even its ARN).
    let mut again = execution(&sm, "e1", 2000.0);
    again.input = r#"{"other":true}"#.to_string();
    let existing = store
        .create_execution(&again, Some(&cursor(5)), &[started_event(2000.0)])
        .await
        .expect("create again");
    assert_eq!(existing, Some(e1.clone()));
    assert_eq!(ids(&all_events(store, &e1).await), [1]);

    let c = cursor_of(store, &e1).await;
    assert_eq!(
        c,
        Cursor {
            version: 0,
            next_event_id: 2,
            ..cursor(0)
        }
    );
    assert_eq!(
        store.get_cursor("arn:nope").await.expect("get_cursor"),
        None
    );
    assert_eq!(store.get_execution("arn:nope").await.expect("get"), None);

    // An execution without a checkpoint (Express) has no cursor.
    let mut express = execution(&sm, "express", 1000.0);
    express.kind = MachineType::Express;
    store
        .create_execution(&express, None, &[started_event(1000.0)])
        .await
        .expect("create express");
    assert_eq!(
        store.get_cursor(&express.arn).await.expect("get_cursor"),
        None
    );

    let e2 = start(store, &sm, "e2").await;
    let e3 = start(store, &sm, "e3").await;
    let other = start(store, &sm, "other").await;

    // Tasks of e3 in every status, and one of another execution.
    let act = store
        .create_activity(&activity("commit-work"))
        .await
        .expect("create activity");
    for t in [
        task("e3-pending", None, &e3.arn, 1.0),
        task("e3-claimed", Some(&act.arn), &e3.arn, 2.0),
        task("e3-done", None, &e3.arn, 3.0),
        task("other-pending", None, &other.arn, 4.0),
    ] {
        store.put_task(&t).await.expect("put_task");
    }
    let claimed = store
        .claim_task(&act.arn, "w", 10.0, 60.0)
        .await
        .expect("claim")
        .expect("a task to claim");
    assert_eq!(claimed.token, "e3-claimed");
    store
        .complete_task("e3-done", &TaskOutcome::Succeeded("{}".to_string()))
        .await
        .expect("complete");

    // One batch: an applied step, a stale one, a finish, and an unknown execution.
    let results = store
        .commit(&[
            step(&e1, 0, &["PassStateEntered", "PassStateExited"], 1),
            step(&e2, 7, &["PassStateEntered"], 1),
            finish(&e3, 0, "SUCCEEDED"),
            step(&execution(&sm, "ghost", 0.0), 0, &["PassStateEntered"], 1),
        ])
        .await
        .expect("commit");
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert_err!(results[1], StoreError::Conflict(_));
    assert!(results[2].is_ok(), "{:?}", results[2]);
    assert_err!(results[3], StoreError::NotFound(_));

    let c1 = cursor_of(store, &e1).await;
    assert_eq!(
        c1,
        Cursor {
            version: 1,
            next_event_id: 4,
            ..cursor(1)
        }
    );
    let h1 = all_events(store, &e1).await;
    assert_eq!(ids(&h1), [1, 2, 3]);
    assert_eq!(
        h1.iter().map(|e| e.previous_id).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(
        h1.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["ExecutionStarted", "PassStateEntered", "PassStateExited"]
    );
    assert_eq!(h1[0].details, started_event(0.0).details);
    assert_eq!(h1[1].details, None);
    assert_eq!(h1[1].timestamp, 1001.0);

    // The stale transition wrote nothing.
    assert_eq!(
        cursor_of(store, &e2).await,
        Cursor {
            version: 0,
            next_event_id: 2,
            ..cursor(0)
        }
    );
    assert_eq!(ids(&all_events(store, &e2).await), [1]);
    assert_eq!(
        execution_of(store, &e2).await.status,
        ExecutionStatus::Running
    );

    // The finish: outcome stored, open tasks of that execution (only) ended.
    let done = execution_of(store, &e3).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output.as_deref(), Some(r#"{"done":true}"#));
    assert_eq!((done.error, done.cause), (None, None));
    assert_eq!(done.stop, Some(1002.5));
    assert_eq!(ids(&all_events(store, &e3).await), [1, 2]);
    let status = |token: &'static str| async move {
        store
            .get_task(token)
            .await
            .expect("get_task")
            .expect("the task exists")
            .status
    };
    assert_eq!(status("e3-pending").await, TaskStatus::TimedOut);
    assert_eq!(status("e3-claimed").await, TaskStatus::TimedOut);
    assert_eq!(status("e3-done").await, TaskStatus::Succeeded);
    assert_eq!(status("other-pending").await, TaskStatus::Pending);
    let late = store
        .complete_task("e3-pending", &TaskOutcome::Succeeded("{}".to_string()))
        .await;
    assert_err!(late, StoreError::TaskEnded);

    // An ended execution takes no more transitions, even at its current version.
    let results = store
        .commit(&[step(&e3, 1, &["PassStateEntered"], 1)])
        .await
        .expect("commit");
    assert_err!(results[0], StoreError::Conflict(_));
    assert_eq!(ids(&all_events(store, &e3).await), [1, 2]);

    // Transitions of one execution chain within a batch. Events of a step still running take
    // their ids and count as the step's events, but leave the version: the step goes on.
    let results = store
        .commit(&[
            step(&e1, 1, &["A"], 2),
            Transition {
                next: None,
                ..step(&e1, 2, &["B", "C"], 0)
            },
        ])
        .await
        .expect("commit");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        cursor_of(store, &e1).await,
        Cursor {
            version: 2,
            next_event_id: 7,
            step_events: 2,
            ..cursor(2)
        }
    );
    let results = store
        .commit(&[step(&e1, 2, &["D"], 3), step(&e1, 2, &["stale"], 9)])
        .await
        .expect("commit");
    assert!(results[0].is_ok(), "{results:?}");
    assert_err!(results[1], StoreError::Conflict(_));
    assert_eq!(
        cursor_of(store, &e1).await,
        Cursor {
            version: 3,
            next_event_id: 8,
            ..cursor(3)
        }
    );
    let h1 = all_events(store, &e1).await;
    assert_eq!(ids(&h1), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(
        h1[3..].iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["A", "B", "C", "D"]
    );
    let results = store
        .commit(&[finish(&e1, 3, "FAILED")])
        .await
        .expect("commit");
    assert!(results[0].is_ok(), "{results:?}");
    let failed = execution_of(store, &e1).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.output, None);
    assert_eq!(failed.error.as_deref(), Some("States.TaskFailed"));
    assert_eq!(failed.cause.as_deref(), Some("it broke"));
    // The checkpoint stays where the execution failed, for a redrive.
    assert_eq!(
        cursor_of(store, &e1).await,
        Cursor {
            version: 4,
            next_event_id: 9,
            ..cursor(3)
        }
    );

    assert!(store.commit(&[]).await.expect("empty commit").is_empty());

    // Only running Standard executions resume after a restart.
    let running = store.running_executions().await.expect("running");
    for e in [&e2, &other] {
        assert!(running.contains(&e.arn), "{} in {running:?}", e.arn);
    }
    for e in [&e1, &e3, &express] {
        assert!(!running.contains(&e.arn), "{} in {running:?}", e.arn);
    }
}

async fn history_paging(store: &dyn Store) {
    let sm = machine("history");
    store.create_state_machine(&sm).await.expect("create");
    let e = &start(store, &sm, "long").await;
    let kinds: Vec<String> = (2..=10).map(|i| format!("E{i}")).collect();
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let results = store
        .commit(&[step(e, 0, &kinds, 1)])
        .await
        .expect("commit");
    assert!(results[0].is_ok());

    let page = |after: Option<i64>, reverse: bool| async move {
        ids(&store
            .history(&e.arn, after, reverse, 4)
            .await
            .expect("history"))
    };
    assert_eq!(page(None, false).await, [1, 2, 3, 4]);
    assert_eq!(page(Some(4), false).await, [5, 6, 7, 8]);
    assert_eq!(page(Some(8), false).await, [9, 10]);
    assert_eq!(page(Some(10), false).await, Vec::<i64>::new());
    assert_eq!(page(None, true).await, [10, 9, 8, 7]);
    assert_eq!(page(Some(7), true).await, [6, 5, 4, 3]);
    assert_eq!(page(Some(3), true).await, [2, 1]);
    assert_eq!(page(Some(1), true).await, Vec::<i64>::new());
    assert!(
        store
            .history("arn:nope", None, false, 10)
            .await
            .expect("history")
            .is_empty()
    );
}

async fn listing_executions(store: &dyn Store) {
    let sm = machine("listing");
    let other = machine("listing-other");
    for m in [&sm, &other] {
        store.create_state_machine(m).await.expect("create");
    }
    // Two start at the same time: ties go by ARN.
    let mut made = Vec::new();
    for (name, start) in [
        ("a", 10.0),
        ("b", 20.0),
        ("c", 20.0),
        ("d", 30.0),
        ("e", 40.0),
    ] {
        let e = execution(&sm, name, start);
        store
            .create_execution(&e, Some(&cursor(0)), &[started_event(start)])
            .await
            .expect("create");
        made.push(e);
    }
    let x = execution(&other, "x", 25.0);
    store
        .create_execution(&x, Some(&cursor(0)), &[started_event(25.0)])
        .await
        .expect("create");
    for name in ["b", "d"] {
        let e = execution(&sm, name, 0.0);
        let results = store
            .commit(&[finish(&e, 0, "FAILED")])
            .await
            .expect("commit");
        assert!(results[0].is_ok());
    }

    let pages = |status: Option<&'static str>| {
        let sm = &sm;
        async move {
            let mut names = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .list_executions(&ExecutionFilter {
                        state_machine_arn: Some(sm.arn.clone()),
                        map_run_arn: None,
                        status: status.map(|s| s.parse().expect("an execution status")),
                        after: after.clone(),
                        limit: 2,
                        ..Default::default()
                    })
                    .await
                    .expect("list_executions");
                assert!(page.len() <= 2);
                let Some(last) = page.last() else { break };
                after = Some((last.start, last.arn.clone()));
                names.extend(page.into_iter().map(|e| e.name));
            }
            names
        }
    };
    assert_eq!(pages(None).await, ["e", "d", "b", "c", "a"]);
    assert_eq!(pages(Some("RUNNING")).await, ["e", "c", "a"]);
    assert_eq!(pages(Some("FAILED")).await, ["d", "b"]);

    let everything = store
        .list_executions(&ExecutionFilter {
            limit: 1000,
            ..ExecutionFilter::default()
        })
        .await
        .expect("list_executions");
    let names: Vec<&str> = everything
        .iter()
        .filter(|e| e.state_machine_arn == sm.arn || e.state_machine_arn == other.arn)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["e", "d", "x", "b", "c", "a"]);
    let listed_b = everything
        .iter()
        .find(|e| e.arn == made[1].arn)
        .expect("b is listed");
    assert_eq!(listed_b.status, ExecutionStatus::Failed);

    // A time window: start in [20, 40).
    let window = store
        .list_executions(&ExecutionFilter {
            state_machine_arn: Some(sm.arn.clone()),
            started_after: Some(20.0),
            started_before: Some(40.0),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list_executions");
    let names: Vec<&str> = window.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["d", "b", "c"]);
}

async fn redrive(store: &dyn Store) {
    let sm = machine("redrive");
    store.create_state_machine(&sm).await.expect("create");
    let e = start(store, &sm, "r").await;
    let results = store
        .commit(&[
            step(&e, 0, &["TaskStateEntered"], 1),
            finish(&e, 1, "FAILED"),
        ])
        .await
        .expect("commit");
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let redriven = store
        .redrive(&e.arn, &event("ExecutionRedriven", 3000.0))
        .await
        .expect("redrive");
    assert_eq!(
        redriven,
        ExecutionRecord {
            redrive_count: 1,
            ..e.clone()
        }
    );
    assert_eq!(execution_of(store, &e).await, redriven);
    let history = all_events(store, &e).await;
    assert_eq!(ids(&history), [1, 2, 3, 4]);
    assert_eq!(history[3].kind, "ExecutionRedriven");
    assert_eq!(history[3].timestamp, 3000.0);
    let c = cursor_of(store, &e).await;
    assert_eq!(
        c,
        Cursor {
            version: 3,
            next_event_id: 5,
            ..cursor(1)
        }
    );
    assert!(
        store
            .running_executions()
            .await
            .expect("running")
            .contains(&e.arn)
    );

    // It runs on from its checkpoint.
    let results = store
        .commit(&[finish(&e, 3, "SUCCEEDED")])
        .await
        .expect("commit");
    assert!(results[0].is_ok(), "{results:?}");

    let succeeded = store
        .redrive(&e.arn, &event("ExecutionRedriven", 1.0))
        .await;
    assert_err!(succeeded, StoreError::Conflict(_));
    let running = start(store, &sm, "still-running").await;
    let result = store
        .redrive(&running.arn, &event("ExecutionRedriven", 1.0))
        .await;
    assert_err!(result, StoreError::Conflict(_));
    let missing = store
        .redrive("arn:nope", &event("ExecutionRedriven", 1.0))
        .await;
    assert_err!(missing, StoreError::NotFound(_));
    assert_eq!(ids(&all_events(store, &running).await), [1]);
}

async fn activities(store: &dyn Store) {
    let a = activity("act-b");
    assert_eq!(store.create_activity(&a).await.expect("create"), a);
    // Idempotent by name: the stored one comes back.
    let again = ActivityRecord {
        arn: format!("{}-other", a.arn),
        created: 5.0,
        ..a.clone()
    };
    assert_eq!(store.create_activity(&again).await.expect("create"), a);
    assert_eq!(store.get_activity(&again.arn).await.expect("get"), None);
    assert_eq!(
        store.get_activity(&a.arn).await.expect("get"),
        Some(a.clone())
    );

    for name in ["act-a", "act-C", "act-c"] {
        store
            .create_activity(&activity(name))
            .await
            .expect("create");
    }
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_activities(after.as_deref(), 3)
            .await
            .expect("list");
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.name.clone());
        names.extend(page.into_iter().map(|a| a.name));
    }
    let ours: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with("act-"))
        .collect();
    assert_eq!(ours, ["act-C", "act-a", "act-b", "act-c"]);

    store.delete_activity(&a.arn).await.expect("delete");
    assert_eq!(store.get_activity(&a.arn).await.expect("get"), None);
    store
        .delete_activity(&a.arn)
        .await
        .expect("deleting a missing activity is not an error");
    // The name is free again.
    let reborn = ActivityRecord {
        created: 9.0,
        ..a.clone()
    };
    assert_eq!(
        store.create_activity(&reborn).await.expect("create"),
        reborn
    );
}

async fn tasks(store: &dyn Store) {
    let act = store
        .create_activity(&activity("tasks"))
        .await
        .expect("create activity");
    let idle = store
        .create_activity(&activity("tasks-idle"))
        .await
        .expect("create activity");
    let exec = "arn:aws:states:us-east-1:123456789012:execution:tasks:t";
    let t1 = task("t1", Some(&act.arn), exec, 1.0);
    let t2 = task("t2", Some(&act.arn), exec, 2.0);
    let callback = task("cb", None, exec, 0.5);
    for t in [&t2, &t1, &callback] {
        assert_eq!(&store.put_task(t).await.expect("put_task"), t);
    }
    // Idempotent by token: the stored task comes back unchanged.
    let again = TaskRecord {
        input: r#"{"changed":true}"#.to_string(),
        ..t1.clone()
    };
    assert_eq!(store.put_task(&again).await.expect("put_task"), t1);
    assert_eq!(
        store.get_task("t1").await.expect("get_task"),
        Some(t1.clone())
    );
    assert_eq!(store.get_task("nope").await.expect("get_task"), None);
    // Open tasks (the console's approvals), oldest first: callbacks and activity tasks alike.
    let open: Vec<String> = store
        .open_tasks(1000)
        .await
        .expect("open_tasks")
        .into_iter()
        .map(|t| t.token)
        .filter(|t| ["t1", "t2", "cb"].contains(&t.as_str()))
        .collect();
    assert_eq!(open, ["cb", "t1", "t2"]);

    // Oldest first; a claimed task is not handed out again while its lease holds.
    let claim = |worker: &'static str, now: f64| {
        let arn = act.arn.clone();
        async move {
            store
                .claim_task(&arn, worker, now, 10.0)
                .await
                .expect("claim_task")
        }
    };
    let c1 = claim("w1", 100.0).await.expect("t1 is pending");
    assert_eq!(
        c1,
        TaskRecord {
            status: TaskStatus::Claimed,
            worker: Some("w1".to_string()),
            lease_until: Some(110.0),
            last_heartbeat: Some(100.0),
            ..t1.clone()
        }
    );
    assert_eq!(
        claim("w2", 101.0).await.map(|t| t.token).as_deref(),
        Some("t2")
    );
    assert_eq!(claim("w3", 102.0).await, None);
    assert_eq!(
        claim("w3", 110.0).await,
        None,
        "a lease holds until its end"
    );
    assert_eq!(
        store
            .claim_task(&idle.arn, "w", 100.0, 10.0)
            .await
            .expect("claim_task"),
        None,
        "callbacks and other activities' tasks are not handed out"
    );

    // After the lease expires, the task goes to the next worker.
    let c3 = claim("w3", 110.5).await.expect("t1's lease expired");
    assert_eq!(c3.token, "t1");
    assert_eq!(c3.worker.as_deref(), Some("w3"));
    assert_eq!(c3.lease_until, Some(120.5));

    // A heartbeat extends the lease by the task's heartbeat interval; it never shortens it.
    let hb = store.heartbeat_task("t1", 115.0).await.expect("heartbeat");
    assert_eq!(hb.last_heartbeat, Some(115.0));
    assert_eq!(hb.lease_until, Some(145.0));
    assert_eq!(hb.status, TaskStatus::Claimed);
    let hb = store.heartbeat_task("t1", 100.0).await.expect("heartbeat");
    assert_eq!(hb.lease_until, Some(145.0));
    // At 140 only t2's lease (until 111) has run out; t1's heartbeat kept its own.
    let c4 = claim("w4", 140.0).await.expect("t2's lease expired");
    assert_eq!(c4.token, "t2");
    assert_eq!(
        claim("w5", 140.0).await,
        None,
        "the heartbeat kept t1's lease"
    );
    let missing = store.heartbeat_task("nope", 1.0).await;
    assert_err!(missing, StoreError::InvalidToken);

    let done = store
        .complete_task("t1", &TaskOutcome::Succeeded(r#"{"ok":1}"#.to_string()))
        .await
        .expect("complete");
    assert_eq!(done.status, TaskStatus::Succeeded);
    assert_eq!(done.output.as_deref(), Some(r#"{"ok":1}"#));
    assert_eq!(store.get_task("t1").await.expect("get_task"), Some(done));
    let twice = store
        .complete_task("t1", &TaskOutcome::Succeeded("{}".to_string()))
        .await;
    assert_err!(twice, StoreError::TaskEnded);
    let late = store.heartbeat_task("t1", 116.0).await;
    assert_err!(late, StoreError::TaskEnded);
    let unknown = store
        .complete_task("nope", &TaskOutcome::Succeeded("{}".to_string()))
        .await;
    assert_err!(unknown, StoreError::InvalidToken);

    let failed = store
        .complete_task(
            "t2",
            &TaskOutcome::Failed {
                error: Some("Oops".to_string()),
                cause: Some("bad input".to_string()),
            },
        )
        .await
        .expect("fail");
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("Oops"));
    assert_eq!(failed.cause.as_deref(), Some("bad input"));
    assert_eq!(failed.output, None);

    // A callback is answered without being claimed.
    let hb = store.heartbeat_task("cb", 50.0).await.expect("heartbeat");
    assert_eq!(hb.status, TaskStatus::Pending);
    let timed_out = store
        .complete_task("cb", &TaskOutcome::TimedOut)
        .await
        .expect("time out");
    assert_eq!(timed_out.status, TaskStatus::TimedOut);

    assert_eq!(
        claim("w6", 1000.0).await,
        None,
        "ended tasks are never handed out"
    );
}

/// One batch of task writes: each write sees the ones before it, and each has its own outcome.
async fn task_batches(store: &dyn Store) {
    let act = store
        .create_activity(&activity("batched"))
        .await
        .expect("create activity");
    let exec = "arn:aws:states:us-east-1:123456789012:execution:tasks:batch";
    let b1 = task("b1", Some(&act.arn), exec, 1.0);
    let claim = |token: &str, worker: &str| TaskWrite::Claim {
        token: token.to_string(),
        worker: worker.to_string(),
        now: 100.0,
        lease_seconds: 10.0,
    };
    let complete = |token: &str| TaskWrite::Complete {
        token: token.to_string(),
        outcome: TaskOutcome::Succeeded("1".to_string()),
    };
    let results = store
        .write_tasks(&[
            TaskWrite::Put(Box::new(b1.clone())),
            claim("b1", "w1"),
            claim("b1", "w2"),
            complete("b1"),
            complete("b1"),
            claim("b1", "w3"),
            complete("nope"),
            claim("nope", "w4"),
        ])
        .await
        .expect("write_tasks");
    assert_eq!(results.len(), 8);
    assert_eq!(results[0].as_ref().expect("put"), &Some(b1.clone()));
    let claimed = results[1]
        .as_ref()
        .expect("claim")
        .clone()
        .expect("pending");
    assert_eq!(claimed.worker.as_deref(), Some("w1"));
    assert_eq!(claimed.lease_until, Some(110.0));
    assert_eq!(
        results[2].as_ref().expect("claim"),
        &None,
        "claimed already"
    );
    let done = results[3]
        .as_ref()
        .expect("complete")
        .clone()
        .expect("task");
    assert_eq!(done.status, TaskStatus::Succeeded);
    assert_err!(results[4], StoreError::TaskEnded);
    assert_eq!(results[5].as_ref().expect("claim"), &None, "ended");
    assert_err!(results[6], StoreError::InvalidToken);
    assert_eq!(results[7].as_ref().expect("claim"), &None, "unknown");
    assert_eq!(store.get_task("b1").await.expect("get_task"), Some(done));
    assert!(
        store
            .write_tasks(&[])
            .await
            .expect("empty batch")
            .is_empty()
    );

    // Distinct tokens (the common batch): every outcome at once.
    let put = |token: &str| TaskWrite::Put(Box::new(task(token, Some(&act.arn), exec, 2.0)));
    store
        .write_tasks(&[put("d-claimed"), put("d-open"), put("d-ended")])
        .await
        .expect("setup");
    store
        .write_tasks(&[claim("d-claimed", "w0"), complete("d-ended")])
        .await
        .expect("setup");
    let changed = TaskRecord {
        input: "changed".to_string(),
        ..task("d-open", Some(&act.arn), exec, 9.0)
    };
    let results = store
        .write_tasks(&[
            put("d-new"),
            TaskWrite::Put(Box::new(changed)),
            claim("d-claimed", "w1"),
            claim("d-unknown", "w1"),
            complete("d-open"),
            complete("d-ended"),
            complete("d-unknown"),
        ])
        .await
        .expect("write_tasks");
    let ok = |i: usize| results[i].as_ref().expect("ok").clone();
    assert_eq!(ok(0), Some(task("d-new", Some(&act.arn), exec, 2.0)));
    assert_eq!(
        ok(1).map(|t| t.input),
        Some(task("d-open", Some(&act.arn), exec, 2.0).input),
        "a put of a known token returns the stored task"
    );
    assert_eq!(ok(2), None, "claimed by w0");
    assert_eq!(ok(3), None, "unknown");
    assert_eq!(ok(4).map(|t| t.status), Some(TaskStatus::Succeeded));
    assert_err!(results[5], StoreError::TaskEnded);
    assert_err!(results[6], StoreError::InvalidToken);
    assert_eq!(
        store
            .get_task("d-claimed")
            .await
            .expect("get_task")
            .and_then(|t| t.worker),
        Some("w0".to_string())
    );

    // A task's life in one batch (put, claim, complete), as when a poller takes a task
    // before its insert committed.
    let results = store
        .write_tasks(&[
            put("p1"),
            put("p2"),
            put("d-claimed"),
            claim("p1", "w1"),
            claim("d-claimed", "w2"),
            complete("p1"),
            complete("p2"),
        ])
        .await
        .expect("write_tasks");
    let ok = |i: usize| results[i].as_ref().expect("ok").clone().map(|t| t.status);
    assert_eq!(ok(0), Some(TaskStatus::Pending));
    assert_eq!(ok(2), Some(TaskStatus::Claimed), "stored before this batch");
    assert_eq!(ok(3), Some(TaskStatus::Claimed));
    assert_eq!(ok(4), None);
    assert_eq!(ok(5), Some(TaskStatus::Succeeded));
    assert_eq!(ok(6), Some(TaskStatus::Succeeded));
}

/// Racing callers, through `a` and `b` alternately (the same store, or two replicas).
async fn concurrency(a: &dyn Store, b: &dyn Store) {
    const CALLERS: usize = 16;
    let pick = |i: usize| if i.is_multiple_of(2) { a } else { b };
    let tag = "race";

    // Two tasks, sixteen claimers: each task goes to exactly one of them.
    let act = a
        .create_activity(&activity(tag))
        .await
        .expect("create activity");
    for (i, token) in ["r1", "r2"].into_iter().enumerate() {
        let token = format!("{tag}-{token}");
        a.put_task(&task(&token, Some(&act.arn), "arn:race", i as f64))
            .await
            .expect("put_task");
    }
    let claims = join_all((0..CALLERS).map(|i| {
        let arn = act.arn.clone();
        async move {
            pick(i)
                .claim_task(&arn, &format!("w{i}"), 100.0, 60.0)
                .await
                .expect("claim_task")
        }
    }))
    .await;
    let mut won: Vec<(String, String)> = claims
        .into_iter()
        .flatten()
        .map(|t| (t.token, t.worker.expect("a claimed task has a worker")))
        .collect();
    won.sort();
    assert_eq!(won.len(), 2, "claims: {won:?}");
    assert_eq!(won[0].0, format!("{tag}-r1"));
    assert_eq!(won[1].0, format!("{tag}-r2"));
    for (token, worker) in &won {
        let stored = b
            .get_task(token)
            .await
            .expect("get_task")
            .expect("the task exists");
        assert_eq!(
            stored.worker.as_ref(),
            Some(worker),
            "the winner is the one stored"
        );
    }

    // Sixteen workers draining a queue, each claiming until nothing is left: every task is
    // handed out exactly once. (Longer than the race above, so the claims overlap in the
    // database, not just in the pool's queue.)
    const QUEUE: usize = 64;
    let queue = a
        .create_activity(&activity("race-queue"))
        .await
        .expect("create activity");
    for i in 0..QUEUE {
        a.put_task(&task(
            &format!("q{i:02}"),
            Some(&queue.arn),
            "arn:race",
            i as f64,
        ))
        .await
        .expect("put_task");
    }
    let drained = join_all((0..CALLERS).map(|i| {
        let arn = queue.arn.clone();
        async move {
            let mut got = Vec::new();
            while let Some(t) = pick(i)
                .claim_task(&arn, &format!("w{i}"), 100.0, 60.0)
                .await
                .expect("claim_task")
            {
                got.push(t.token);
            }
            got
        }
    }))
    .await;
    let mut tokens: Vec<String> = drained.into_iter().flatten().collect();
    tokens.sort();
    let expected: Vec<String> = (0..QUEUE).map(|i| format!("q{i:02}")).collect();
    assert_eq!(tokens, expected, "each task claimed exactly once");

    // Sixteen starts of one execution: one creates it, the rest get it back.
    let sm = &machine(tag);
    a.create_state_machine(sm).await.expect("create");
    let e = execution(sm, "once", 1000.0);
    let starts = join_all((0..CALLERS).map(|i| {
        let e = &e;
        async move {
            pick(i)
                .create_execution(e, Some(&cursor(0)), &[started_event(e.start)])
                .await
                .expect("create_execution")
        }
    }))
    .await;
    assert_eq!(
        starts.iter().filter(|s| s.is_none()).count(),
        1,
        "{starts:?}"
    );
    assert!(starts.iter().flatten().all(|s| s == &e), "{starts:?}");
    assert_eq!(ids(&all_events(b, &e).await), [1]);

    // Sixteen replays of one transition: it applies once.
    let commits = join_all((0..CALLERS).map(|i| {
        let e = &e;
        async move {
            pick(i)
                .commit(&[step(e, 0, &["PassStateEntered", "PassStateExited"], 1)])
                .await
                .expect("commit")
        }
    }))
    .await;
    let applied = commits.iter().filter(|r| r[0].is_ok()).count();
    assert_eq!(applied, 1, "{commits:?}");
    assert!(
        commits
            .iter()
            .filter(|r| r[0].is_err())
            .all(|r| matches!(r[0], Err(StoreError::Conflict(_)))),
        "{commits:?}"
    );
    assert_eq!(ids(&all_events(a, &e).await), [1, 2, 3]);
    assert_eq!(cursor_of(b, &e).await.version, 1);

    // Overlapping batches in opposite orders neither deadlock nor double-apply.
    let others: Vec<ExecutionRecord> =
        join_all((0..4).map(|i| async move { start(a, sm, &format!("batch-{i}")).await })).await;
    let forward: Vec<Transition> = others.iter().map(|e| step(e, 0, &["X"], 1)).collect();
    let backward: Vec<Transition> = others.iter().rev().map(|e| step(e, 0, &["X"], 1)).collect();
    let (r1, r2) = futures::join!(a.commit(&forward), b.commit(&backward));
    let (r1, r2) = (r1.expect("commit"), r2.expect("commit"));
    for (i, e) in others.iter().enumerate() {
        let (x, y) = (&r1[i], &r2[others.len() - 1 - i]);
        assert!(x.is_ok() != y.is_ok(), "{}: {x:?} {y:?}", e.name);
        assert_eq!(ids(&all_events(a, e).await), [1, 2]);
    }
}

// ---- the backends

#[tokio::test]
async fn sqlite_passes_the_suite() {
    let store = SqliteStore::in_memory().await.expect("in-memory SQLite");
    suite(&store).await;

    let dir = TempDir::new("suite");
    let store = SqliteStore::open(&dir.path.join("nested/sluice.db"))
        .await
        .expect("SQLite file");
    suite(&store).await;
}

#[tokio::test]
async fn sqlite_file_survives_reopening() {
    let dir = TempDir::new("reopen");
    let path = dir.path.join("sluice.db");
    let sm = machine("kept");
    {
        let store = SqliteStore::open(&path).await.expect("SQLite file");
        store.create_state_machine(&sm).await.expect("create");
        start(&store, &sm, "e").await;
    }
    let store = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(
        store.get_state_machine(&sm.arn).await.expect("get"),
        Some(sm.clone())
    );
    let e = execution(&sm, "e", 1000.0);
    assert_eq!(cursor_of(&store, &e).await.next_event_id, 2);
}

/// A database file written before numbered migrations (the baseline schema, applied the way
/// sluice applied it then) is upgraded in place on open, its executions intact.
#[tokio::test]
async fn sqlite_upgrades_a_database_from_before_migrations() {
    let dir = TempDir::new("upgrade");
    let path = dir.path.join("old.db");
    let sm = machine("old");
    let e = execution(&sm, "running", 1000.0);
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("open");
        sqlx::raw_sql(include_str!("migrations/sqlite/0001_baseline.sql"))
            .execute(&pool)
            .await
            .expect("old schema");
        sqlx::query(
            "INSERT INTO executions (arn, state_machine_arn, name, status, input, start, definition, role_arn, kind, cursor_state, cursor_input, cursor_vars, version, next_event_id)
             VALUES (?, ?, ?, 'RUNNING', '{}', 1000, ?, ?, 'STANDARD', 2, '{\"a\":1}', '{}', 5, 9)",
        )
        .bind(&e.arn)
        .bind(&sm.arn)
        .bind(&e.name)
        .bind(&sm.definition)
        .bind(&sm.role_arn)
        .execute(&pool)
        .await
        .expect("an execution of the old sluice");
        pool.close().await;
    }
    let store = SqliteStore::open(&path).await.expect("upgrade on open");
    let c = cursor_of(&store, &e).await;
    assert_eq!(
        (c.state, c.version, c.next_event_id, c.transitions),
        (2, 5, 9, 0)
    );
    assert_eq!(c.input, r#"{"a":1}"#);
    assert_eq!(
        store
            .setting_or_insert("k", "v")
            .await
            .expect("settings table"),
        "v"
    );
    drop(store);
    // Opening again applies nothing twice.
    SqliteStore::open(&path).await.expect("reopen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_upgrades_a_database_from_before_migrations() {
    let Some(url) = postgres_url() else { return };
    let db = TestDatabase::create(&url).await;
    {
        let pool = sqlx::PgPool::connect_with(db.options.clone())
            .await
            .expect("connect");
        sqlx::raw_sql(include_str!("migrations/postgres/0001_baseline.sql"))
            .execute(&pool)
            .await
            .expect("old schema");
        pool.close().await;
    }
    let store = PostgresStore::connect_with(db.options.clone())
        .await
        .expect("upgrade on connect");
    let outcome = AssertUnwindSafe(async {
        assert_eq!(
            store.setting_or_insert("k", "v").await.expect("settings"),
            "v"
        );
        // Both backends end with the same tables and columns.
        let pg: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'
             ORDER BY 1, 2",
        )
        .fetch_all(&store.pool)
        .await
        .expect("PostgreSQL columns");
        let lite = SqliteStore::in_memory().await.expect("SQLite");
        let mut sqlite: Vec<(String, String)> = sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name <> '_sqlx_migrations'",
        )
        .fetch_all(&lite.pool)
        .await
        .expect("SQLite columns");
        sqlite.sort();
        assert_eq!(pg, sqlite, "the two schemas drifted apart");
    })
    .catch_unwind()
    .await;
    store.close().await;
    db.drop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_suite() {
    let Some(url) = postgres_url() else { return };
    let db = TestDatabase::create(&url).await;
    let store = PostgresStore::connect_with(db.options.clone())
        .await
        .expect("connect to the test database");
    let outcome = AssertUnwindSafe(suite(&store)).catch_unwind().await;
    store.close().await;
    db.drop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_share_one_database() {
    let Some(url) = postgres_url() else { return };
    let db = TestDatabase::create(&url).await;
    // Replicas start together: schema creation must not trip over itself.
    let (a, b) = futures::join!(
        PostgresStore::connect_with(db.options.clone()),
        PostgresStore::connect_with(db.options.clone())
    );
    let a = a.expect("connect replica a");
    let b = b.expect("connect replica b");
    let outcome = AssertUnwindSafe(shared_database(&a, &b))
        .catch_unwind()
        .await;
    a.close().await;
    b.close().await;
    db.drop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The PostgreSQL to test against, or `None` to skip (allowed unless `CI_REQUIRE_POSTGRES=1`).
fn postgres_url() -> Option<String> {
    match std::env::var("SLUICE_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ => {
            assert!(
                std::env::var("CI_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "CI_REQUIRE_POSTGRES=1 but SLUICE_TEST_POSTGRES_URL is not set \
                 (export SLUICE_TEST_POSTGRES_URL=\"$(.ci/postgres.sh)\")"
            );
            eprintln!(
                "notice: SLUICE_TEST_POSTGRES_URL is not set, so the PostgreSQL store is not \
                 tested (export SLUICE_TEST_POSTGRES_URL=\"$(.ci/postgres.sh)\" to test it)"
            );
            None
        }
    }
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database of its own for one test, so that reruns and parallel tests start empty.
struct TestDatabase {
    admin: sqlx::PgPool,
    name: String,
    options: PgConnectOptions,
}

impl TestDatabase {
    async fn create(url: &str) -> Self {
        let server = PgConnectOptions::from_str(url).expect("SLUICE_TEST_POSTGRES_URL parses");
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(server.clone())
            .await
            .expect("connect to SLUICE_TEST_POSTGRES_URL");
        let name = format!("sluice_test_{}", unique_suffix());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create the test database");
        let options = server.database(&name);
        TestDatabase {
            admin,
            name,
            options,
        }
    }

    async fn drop(self) {
        // FORCE: a connection the pool has not closed yet must not keep the database alive.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&self.admin)
        .await
        .expect("drop the test database");
        self.admin.close().await;
    }
}

/// A directory removed on drop.
struct TempDir {
    path: std::path::PathBuf,
}

impl TempDir {
    fn new(what: &str) -> Self {
        let path = std::env::temp_dir().join(format!("sluice-store-{what}-{}", unique_suffix()));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temp dir harms nothing.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
