//! Schedules and triggers at volume (a bench command: the figures are latencies and rates).
//!
//! ```sh
//! cargo bench -p sluice-server --bench schedules
//! SLUICE_BENCH_S3_ENDPOINT=$(.ci/s3.sh) cargo bench -p sluice-server --bench schedules
//! ```
//!
//! (1) 10,000 schedules due in the same minute on the embedded store (a SQLite file), fired
//! by the service's own scheduler loop on the real clock: each execution's lateness is its
//! start time minus its tick (p50, p99, max). (2) With an S3 server, a trigger on a prefix
//! holding 10,000 new objects: one listing round starts an execution per object; the rate,
//! and a second round that must start none.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_server::service::schedules::{DEFAULT_GROUP, utc};
use sluice_server::service::{Config, Service};
use sluice_server::store::{
    ExecutionFilter, MachineType, ScheduleRecord, SqliteStore, StateMachineRecord, Store, Switch,
    TriggerRecord,
};

// The allocator of the `sluice` binary, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:bench";

async fn service(label: &str, config: Config) -> Arc<Service> {
    let dir = std::env::temp_dir().join(format!("sluice-bench-{}-{label}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.join("bench.db"))
            .await
            .expect("SQLite opens"),
    );
    store
        .create_state_machine(&StateMachineRecord {
            arn: MACHINE.into(),
            name: "bench".into(),
            definition: r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#.into(),
            role_arn: "arn:aws:iam::123456789012:role/bench".into(),
            kind: MachineType::Standard,
            created: 0.0,
            revision: 1,
        })
        .await
        .expect("machine");
    Service::open(store, config, Default::default())
        .await
        .expect("service")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn same_minute(n: usize) {
    let svc = service("schedules", Config::default()).await;
    let now = sluice_server::time::now();
    // The first whole minute at least 20 s away, so creating them all fits before it.
    let tick = ((now + 20.0) / 60.0).ceil() * 60.0;
    let made = Instant::now();
    for i in 0..n {
        let name = format!("s{i:05}");
        svc.store
            .create_schedule(&ScheduleRecord {
                group: DEFAULT_GROUP.into(),
                name: name.clone(),
                arn: format!("arn:aws:scheduler:us-east-1:123456789012:schedule/default/{name}"),
                expression: "cron(* * * * ? *)".into(),
                timezone: "UTC".into(),
                start: None,
                end: None,
                state: Switch::Enabled,
                description: None,
                target_arn: MACHINE.into(),
                role_arn: "arn:aws:iam::123456789012:role/bench".into(),
                input: Some(r#"{"t":"<aws.scheduler.scheduled-time>"}"#.into()),
                extra: "{}".into(),
                catch_up: "LATEST".into(),
                catch_up_limit: 1,
                after_completion: "NONE".into(),
                created: now,
                modified: now,
                next_fire: Some(tick),
                version: 0,
            })
            .await
            .expect("create");
    }
    eprintln!(
        "created {n} schedules in {:.1} s; due at {}",
        made.elapsed().as_secs_f64(),
        utc(tick)
    );
    svc.start_clocks();
    let wait = (tick - sluice_server::time::now()).max(0.0);
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    let all = loop {
        let all = svc
            .store
            .list_executions(&ExecutionFilter {
                state_machine_arn: Some(MACHINE.into()),
                limit: n + 1,
                ..Default::default()
            })
            .await
            .expect("list");
        if all.len() >= n {
            break all;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut lateness: Vec<f64> = all.iter().map(|e| e.start - tick).collect();
    lateness.sort_by(f64::total_cmp);
    println!(
        "schedules  {n} due at one tick: all started; lateness p50 {:.3} s, p99 {:.3} s, max {:.3} s (min {:.3} s)",
        percentile(&lateness, 0.5),
        percentile(&lateness, 0.99),
        lateness[lateness.len() - 1],
        lateness[0],
    );
    // The next minute: the same again, with the first minute's executions in the store.
    let next = tick + 60.0;
    tokio::time::sleep(Duration::from_secs_f64(
        (next - sluice_server::time::now()).max(0.0) + 0.5,
    ))
    .await;
    let second = loop {
        let all = svc
            .store
            .list_executions(&ExecutionFilter {
                state_machine_arn: Some(MACHINE.into()),
                limit: 2 * n + 1,
                ..Default::default()
            })
            .await
            .expect("list");
        if all.len() >= 2 * n {
            break all;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut lateness: Vec<f64> = second
        .iter()
        .filter(|e| {
            e.name
                .ends_with(&utc(next).format("%Y%m%dT%H%M%SZ").to_string())
        })
        .map(|e| e.start - next)
        .collect();
    lateness.sort_by(f64::total_cmp);
    println!(
        "schedules  the next tick ({} executions): lateness p50 {:.3} s, p99 {:.3} s, max {:.3} s; {} executions in all (one per schedule per tick)",
        lateness.len(),
        percentile(&lateness, 0.5),
        percentile(&lateness, 0.99),
        lateness[lateness.len() - 1],
        second.len(),
    );
    svc.shut_down(Duration::from_secs(5)).await;
}

async fn trigger(endpoint: &str, n: usize) {
    use object_store::{ObjectStoreExt, PutPayload};
    let mut config = Config::default();
    config.integrations.buckets =
        sluice_integrations::objects::Buckets::new(None, Some(endpoint.to_string()));
    let svc = service("triggers", config).await;
    let bucket = format!("bench-{}", std::process::id());
    let made = std::process::Command::new("aws")
        .args([
            "s3api",
            "create-bucket",
            "--endpoint-url",
            endpoint,
            "--bucket",
            &bucket,
        ])
        .status()
        .expect("aws runs");
    assert!(made.success(), "create-bucket");
    let s3 = svc
        .config
        .integrations
        .buckets
        .open(&bucket)
        .expect("bucket");
    let t0 = sluice_server::time::now();
    let upload = Instant::now();
    futures::future::join_all((0..16).map(|w| {
        let s3 = s3.clone();
        async move {
            for i in (w..n).step_by(16) {
                s3.put(
                    &format!("landing/part-{i:05}.csv").into(),
                    PutPayload::from_static(b"a,b\n1,2\n"),
                )
                .await
                .expect("put");
            }
        }
    }))
    .await;
    eprintln!(
        "uploaded {n} objects in {:.1} s",
        upload.elapsed().as_secs_f64()
    );
    let record = TriggerRecord {
        name: "landing".into(),
        arn: "arn:aws:sluice:us-east-1:123456789012:trigger/landing".into(),
        bucket: bucket.clone(),
        prefix: "landing/".into(),
        suffix: ".csv".into(),
        target_arn: MACHINE.into(),
        interval_seconds: 60.0,
        state: Switch::Enabled,
        include_existing: false,
        created: t0.floor(),
        modified: t0,
        last_listed: None,
    };
    svc.store.create_trigger(&record).await.expect("trigger");
    let started = Instant::now();
    let report = svc.list_trigger(&record).await.expect("listing");
    let took = started.elapsed().as_secs_f64();
    let again = svc.list_trigger(&record).await.expect("second listing");
    let count = svc
        .store
        .list_executions(&ExecutionFilter {
            state_machine_arn: Some(MACHINE.into()),
            limit: 2 * n,
            ..Default::default()
        })
        .await
        .expect("list")
        .len();
    println!(
        "trigger    {n} new objects: {} matched, {} executions started in {took:.1} s ({:.0} executions/s, listing included); {count} executions in the store; a second round started {}",
        report.matched,
        report.started,
        report.started as f64 / took,
        again.started,
    );
    svc.shut_down(Duration::from_secs(5)).await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let only = std::env::var("SLUICE_BENCH_ONLY").unwrap_or_default();
        if only.is_empty() || only == "schedules" {
            same_minute(10_000).await;
        }
        if (only.is_empty() || only == "triggers")
            && let Ok(endpoint) = std::env::var("SLUICE_BENCH_S3_ENDPOINT")
        {
            trigger(&endpoint, 10_000).await;
        }
    });
}
