//! Schedules and object triggers from the outside: boto3's `scheduler` client and the AWS CLI
//! against `sluice serve`, ticks across `kill -9`, two replicas on one PostgreSQL database,
//! backfills, and triggers on the S3 server of `.ci/run`.
//!
//! Servers here read schedules by a clock that runs 60 times faster than real time
//! (`SLUICE_SCHEDULE_CLOCK`), so a minute's tick comes every real second; everything else
//! (leases, timestamps) keeps real time.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Server, create, eventually, temp_dir};

const PASS: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;

/// A clock that read `at` (seconds since the epoch) now and runs 60 times faster.
fn fast_clock(at: f64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    format!("{now},{at},60")
}

/// 2030-01-01T00:00:00Z: whole minutes, far from any real date.
const EPOCH_2030: f64 = 1_893_456_000.0;

fn sluice(endpoint: &str, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env("SLUICE_ENDPOINT", endpoint)
        .output()
        .expect("sluice runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        value,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The execution names of a state machine.
async fn names(c: &aws_sdk_sfn::Client, machine: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = c
            .list_executions()
            .state_machine_arn(machine)
            .max_results(1000)
            .set_next_token(next)
            .send()
            .await
            .expect("ListExecutions");
        out.extend(page.executions().iter().map(|e| e.name().to_string()));
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            return out;
        }
    }
}

/// The ticks (minutes since 2030) of a schedule's executions, each name once: `None` if a
/// tick had two executions (impossible by name, but checked).
fn minutes(names: &[String], schedule: &str) -> Vec<i64> {
    let mut ticks: Vec<i64> = names
        .iter()
        .filter_map(|n| n.strip_prefix(&format!("{schedule}-")))
        .map(|stamp| {
            let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
                .expect("a tick stamp")
                .and_utc()
                .timestamp();
            (t - EPOCH_2030 as i64) / 60
        })
        .collect();
    ticks.sort_unstable();
    let unique: BTreeSet<i64> = ticks.iter().copied().collect();
    assert_eq!(unique.len(), ticks.len(), "a tick started twice: {ticks:?}");
    ticks
}

fn python_has(module: &str, require: &str) -> bool {
    let found = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found || std::env::var(require).as_deref() != Ok("1"),
        "{require}=1 but python3 cannot import {module}"
    );
    if !found {
        eprintln!("notice: python3 has no {module}; skipping");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_and_the_aws_cli_manage_schedules() {
    if !python_has("boto3", "CI_REQUIRE_AWSCLI") {
        return;
    }
    let dir = temp_dir("scheduler-clients");
    let server = Server::start(&format!("sqlite:{}", dir.join("s.db").display()));
    let c = server.client();
    let machine = create(&c, "etl", serde_json::from_str(PASS).expect("JSON")).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/schedules/scheduler_clients.py"
    );
    let out = Command::new("python3")
        .args([script, &server.endpoint, &machine])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The CLI's rate(1 minute) schedule starts at once: its first execution is recognisable
    // by its name, and its input is the template.
    let first = eventually(Duration::from_secs(10), || async {
        names(&c, &machine)
            .await
            .into_iter()
            .find(|n| n.starts_with("cli-every-minute-"))
    })
    .await;
    let arn = format!(
        "{}:{first}",
        machine.replace(":stateMachine:", ":execution:")
    );
    let described = c
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("DescribeExecution");
    assert_eq!(described.input(), Some(r#"{"from": "cli"}"#));
}

/// Creates the two every-minute schedules of the crash test: one catching up every missed
/// tick, one only the latest.
async fn every_minute(endpoint: &str, machine: &str) {
    for (name, mode) in [("all", "all"), ("latest", "latest")] {
        let (ok, _, err) = sluice(
            endpoint,
            &[
                "schedules",
                "create",
                name,
                "--expression",
                "cron(* * * * ? *)",
                "--state-machine",
                machine,
                "--catch-up",
                mode,
                "--catch-up-limit",
                "1000",
                "--input",
                r#"{"tick": "<aws.scheduler.scheduled-time>"}"#,
            ],
        );
        assert!(ok, "schedules create {name}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_catches_up_every_tick_or_only_the_latest() {
    let dir = temp_dir("schedule-crash");
    let store = format!("sqlite:{}", dir.join("s.db").display());
    let clock = fast_clock(EPOCH_2030 + 1.0);
    let env = [("SLUICE_SCHEDULE_CLOCK", clock.as_str())];
    let server = Server::start_env(&store, &[], &env);
    let c = server.client();
    let machine = create(&c, "ticks", serde_json::from_str(PASS).expect("JSON")).await;
    every_minute(&server.endpoint, &machine).await;
    // A few ticks, then kill -9; five ticks pass while the server is down.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let before = names(&c, &machine).await;
    server.kill();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let server = Server::start_env(&store, &[], &env);
    let c = server.client();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = names(&c, &machine).await;
    server.kill();

    let (all_before, all) = (minutes(&before, "all"), minutes(&after, "all"));
    assert!(
        all_before.len() >= 2,
        "ticks before the crash: {all_before:?}"
    );
    // Catch-up on: every minute from the first to the last has its one execution.
    let expected: Vec<i64> = (all[0]..=all[all.len() - 1]).collect();
    assert_eq!(all, expected, "every tick once, none missed");
    assert!(
        all.len() >= all_before.len() + 6,
        "{all_before:?} then {all:?}"
    );
    // Catch-up off: the ticks missed while down collapse into the latest one.
    let latest = minutes(&after, "latest");
    let gaps: Vec<i64> = latest.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().any(|g| *g >= 4),
        "the downtime left a gap: {latest:?}"
    );
    assert!(
        latest.len() + 3 <= all.len(),
        "latest {latest:?} vs all {all:?}"
    );
    // Each execution is recognisable: its input carries its tick.
    let one = after.iter().find(|n| n.starts_with("all-")).expect("one");
    let arn = format!("{}:{one}", machine.replace(":stateMachine:", ":execution:"));
    let server = Server::start_env(&store, &[], &env);
    let input = server
        .client()
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("describe")
        .input()
        .map(str::to_string)
        .expect("input");
    let stamp = one.trim_start_matches("all-");
    let tick = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .expect("stamp")
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        serde_json::from_str::<Value>(&input).expect("JSON"),
        json!({"tick": tick})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_start_each_tick_once() {
    let Some(url) = crate::api::fresh_postgres("schedules").await else {
        return;
    };
    let clock = fast_clock(EPOCH_2030 + 1.0);
    let env = [
        ("SLUICE_SCHEDULE_CLOCK", clock.as_str()),
        ("SLUICE_LOG", "sluice::schedules=info,warn"),
    ];
    let a = Server::start_env(&url, &["--replica-id", "sched-a"], &env);
    let b = Server::start_env(&url, &["--replica-id", "sched-b"], &env);
    let c = a.client();
    let machine = create(&c, "replicated", serde_json::from_str(PASS).expect("JSON")).await;
    every_minute(&a.endpoint, &machine).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let all = minutes(&names(&c, &machine).await, "all");
    let expected: Vec<i64> = (all[0]..=all[all.len() - 1]).collect();
    assert_eq!(all, expected, "each tick once across two replicas");
    assert!(all.len() >= 6, "{all:?}");
    // Both replicas look every quarter second; which one fires a tick is a race, and
    // both winning a tick is what the test rules out above. (Logs are read by a thread, so
    // the last line may come a moment later.)
    eventually(Duration::from_secs(10), || async {
        let fired = a.logged("schedule fired").len() + b.logged("schedule fired").len();
        (fired >= all.len()).then_some(())
    })
    .await;
    // Every execution ran to its end, driven by whichever replica fired it.
    eventually(Duration::from_secs(20), || async {
        let running = c
            .list_executions()
            .state_machine_arn(&machine)
            .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
            .send()
            .await
            .expect("list")
            .executions()
            .len();
        (running == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedules_command_pauses_resumes_and_backfills_idempotently() {
    let dir = temp_dir("schedule-cli");
    let server = Server::start(&format!("sqlite:{}", dir.join("s.db").display()));
    let c = server.client();
    let machine = create(&c, "nightly", serde_json::from_str(PASS).expect("JSON")).await;
    let ep = server.endpoint.as_str();
    let (ok, made, err) = sluice(
        ep,
        &[
            "schedules",
            "create",
            "nightly-etl",
            "--expression",
            "0 2 * * *",
            "--timezone",
            "America/New_York",
            "--state-machine",
            &machine,
            "--input",
            r#"{"day": "<aws.scheduler.scheduled-time>"}"#,
        ],
    );
    assert!(ok, "{err}");
    assert!(
        made["ScheduleArn"]
            .as_str()
            .is_some_and(|a| a.ends_with("/nightly-etl"))
    );
    // Bad input names the field.
    let (ok, _, err) = sluice(
        ep,
        &[
            "schedules",
            "create",
            "bad",
            "--expression",
            "cron(0 2 * *)",
            "--state-machine",
            &machine,
        ],
    );
    assert!(!ok && err.contains("ScheduleExpression"), "{err}");
    let (ok, next, err) = sluice(ep, &["schedules", "next", "nightly-etl", "--count", "3"]);
    assert!(ok, "{err}");
    let times: Vec<&str> = next["NextFireTimes"]
        .as_array()
        .expect("times")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(times.len(), 3);
    // 02:00 in New York is 07:00Z in winter, 06:00Z in summer.
    assert!(
        times
            .iter()
            .all(|t| t.ends_with("T07:00:00Z") || t.ends_with("T06:00:00Z")),
        "{times:?}"
    );
    let (ok, paused, _) = sluice(ep, &["schedules", "pause", "nightly-etl"]);
    assert!(ok && paused["State"] == "DISABLED", "{paused}");
    let (ok, resumed, _) = sluice(ep, &["schedules", "resume", "nightly-etl"]);
    assert!(ok && resumed["State"] == "ENABLED", "{resumed}");
    assert_eq!(resumed["ScheduleExpressionTimezone"], "America/New_York");

    // A week across the end of daylight saving time: seven nights.
    let backfill = [
        "schedules",
        "backfill",
        "nightly-etl",
        "--from",
        "2026-10-29",
        "--to",
        "2026-11-05",
        "--concurrency",
        "2",
    ];
    let (ok, first, err) = sluice(ep, &backfill);
    assert!(ok, "{err}");
    assert_eq!(
        (first["Ticks"].as_u64(), first["Started"].as_u64()),
        (Some(7), Some(7)),
        "{first}"
    );
    let (ok, again, err) = sluice(ep, &backfill);
    assert!(ok, "{err}");
    assert_eq!(
        (again["Started"].as_u64(), again["AlreadyThere"].as_u64()),
        (Some(0), Some(7)),
        "{again}"
    );
    let mut made = names(&c, &machine).await;
    made.sort();
    assert_eq!(made.len(), 7, "{made:?}");
    assert_eq!(made[0], "nightly-etl-20261029T060000Z");
    assert_eq!(made[6], "nightly-etl-20261104T070000Z");
    let (ok, _, _) = sluice(ep, &["schedules", "delete", "nightly-etl"]);
    assert!(ok);
    let (ok, _, err) = sluice(ep, &["schedules", "get", "nightly-etl"]);
    assert!(!ok && err.contains("ResourceNotFoundException"), "{err}");
}

// ---- object triggers

/// The S3 server `.ci/run` starts, or `None` to skip (a failure with `CI_REQUIRE_S3=1`).
fn s3_endpoint() -> Option<String> {
    match std::env::var("SLUICE_TEST_S3_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ => {
            assert!(
                std::env::var("CI_REQUIRE_S3").as_deref() != Ok("1"),
                "CI_REQUIRE_S3=1 but SLUICE_TEST_S3_ENDPOINT is not set"
            );
            eprintln!("notice: SLUICE_TEST_S3_ENDPOINT not set; skipping a trigger test");
            None
        }
    }
}

/// Put objects with the AWS CLI's S3 API (a real client against the real server).
fn s3(endpoint: &str, args: &[&str]) -> Value {
    let out = Command::new("aws")
        .args(["s3api", "--endpoint-url", endpoint, "--region", "us-east-1"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_PAGER", "")
        .output()
        .expect("aws runs");
    assert!(
        out.status.success(),
        "aws s3api {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_triggers_start_one_execution_per_object_version() {
    let Some(s3_url) = s3_endpoint() else { return };
    if !python_has("awscli", "CI_REQUIRE_AWSCLI") {
        return;
    }
    let bucket = format!("landing-{}", crate::api::unique_suffix());
    s3(&s3_url, &["create-bucket", "--bucket", &bucket]);
    let dir = temp_dir("triggers");
    let store = format!("sqlite:{}", dir.join("s.db").display());
    let env = [
        ("SLUICE_S3_ENDPOINT", s3_url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let server = Server::start_env(&store, &[], &env);
    let c = server.client();
    let machine = create(&c, "ingest", serde_json::from_str(PASS).expect("JSON")).await;
    let (ok, _, err) = sluice(
        &server.endpoint,
        &[
            "triggers",
            "create",
            "csv-landing",
            "--bucket",
            &bucket,
            "--prefix",
            "raw/",
            "--suffix",
            ".csv",
            "--state-machine",
            &machine,
            "--interval",
            "1",
        ],
    );
    assert!(ok, "{err}");
    let body = dir.join("body.csv");
    std::fs::write(&body, "a,b\n1,2\n").expect("write");
    let put = |key: &str| {
        s3(
            &s3_url,
            &[
                "put-object",
                "--bucket",
                &bucket,
                "--key",
                key,
                "--body",
                &body.display().to_string(),
            ],
        )
    };
    put("raw/one.csv");
    put("raw/skip.json");
    put("other/two.csv");
    let count = |n: usize| {
        let c = c.clone();
        let machine = machine.clone();
        async move {
            eventually(Duration::from_secs(15), || async {
                let got = names(&c, &machine).await;
                (got.len() >= n).then_some(got)
            })
            .await
        }
    };
    count(1).await;

    // A pushed notification (MinIO's webhook JSON) of an object the listing will also see,
    // and one of an object it already saw: one execution each, not two.
    let etag = s3(
        &s3_url,
        &["head-object", "--bucket", &bucket, "--key", "raw/one.csv"],
    )["ETag"]
        .as_str()
        .expect("etag")
        .to_string();
    put("raw/pushed.csv");
    let notification = |key: &str, etag: &str| {
        json!({"EventName": "s3:ObjectCreated:Put", "Key": format!("{bucket}/{key}"), "Records": [{
            "eventVersion": "2.0", "eventSource": "minio:s3", "eventName": "s3:ObjectCreated:Put",
            "eventTime": "2030-01-01T00:00:00.000Z",
            "s3": {"bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
                   "object": {"key": key.replace('/', "%2F"), "size": 8, "eTag": etag, "sequencer": "1"}}
        }]})
    };
    let pushed_etag = s3(
        &s3_url,
        &[
            "head-object",
            "--bucket",
            &bucket,
            "--key",
            "raw/pushed.csv",
        ],
    )["ETag"]
        .as_str()
        .expect("etag")
        .to_string();
    let http = reqwest::Client::new();
    for (key, tag) in [("raw/pushed.csv", &pushed_etag), ("raw/one.csv", &etag)] {
        let reply = http
            .post(format!("{}/sluice/s3-events", server.endpoint))
            .json(&notification(key, tag))
            .send()
            .await
            .expect("POST");
        assert!(reply.status().is_success(), "{:?}", reply.text().await);
    }
    let bad = http
        .post(format!("{}/sluice/s3-events", server.endpoint))
        .body(r#"{"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {"bucket": {}}}]}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(bad.status().as_u16(), 400);
    assert!(
        bad.text()
            .await
            .expect("body")
            .contains("/Records/0/s3/bucket/name")
    );
    count(2).await;

    // Objects uploaded while the server is down start once each after it comes back.
    server.kill();
    for i in 0..5 {
        put(&format!("raw/while-down-{i}.csv"));
    }
    let server = Server::start_env(&store, &[], &env);
    let c = server.client();
    let got = eventually(Duration::from_secs(20), || async {
        let got = names(&c, &machine).await;
        (got.len() >= 7).then_some(got)
    })
    .await;
    // A few more listing rounds change nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = names(&c, &machine).await;
    assert_eq!(settled.len(), 7, "{got:?} then {settled:?}");
    let unique: BTreeSet<&String> = settled.iter().collect();
    assert_eq!(unique.len(), 7);
    // The input is EventBridge's Object Created event.
    let arn = format!(
        "{}:{}",
        machine.replace(":stateMachine:", ":execution:"),
        settled[0]
    );
    let input: Value = serde_json::from_str(
        c.describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .expect("describe")
            .input()
            .expect("input"),
    )
    .expect("JSON");
    assert_eq!(input["detail-type"], "Object Created");
    assert_eq!(input["source"], "aws.s3");
    assert_eq!(input["detail"]["bucket"]["name"], json!(bucket));
    let key = input["detail"]["object"]["key"].as_str().expect("key");
    assert!(key.starts_with("raw/") && key.ends_with(".csv"), "{key}");
    // A new version of a seen key is new.
    std::fs::write(&body, "a,b\n3,4\n").expect("write");
    put("raw/one.csv");
    eventually(Duration::from_secs(15), || async {
        (names(&c, &machine).await.len() == 8).then_some(())
    })
    .await;
    let (ok, listed, _) = sluice(&server.endpoint, &["triggers", "list"]);
    assert!(
        ok && listed["Triggers"][0]["Name"] == "csv-landing",
        "{listed}"
    );
}
