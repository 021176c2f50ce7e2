//! Throughput of `sluice serve` (a bench command, not criterion: the figures are rates of many
//! concurrent executions). Run with
//!
//! ```sh
//! cargo bench -p sluice-server --bench server                      # embedded (SQLite file)
//! SLUICE_BENCH_POSTGRES_URL=postgres://… cargo bench -p sluice-server --bench server
//! ```
//!
//! It measures (1) durable Standard transitions per second driven directly by the service,
//! (2) StartExecution→ExecutionSucceeded through the HTTP API with many clients, Express and
//! Standard, (3) the activity round trip (GetActivityTask → SendTaskSuccess → next state), and
//! (4) task dispatch: no-op activity tasks fanned out by Map states, answered over HTTP by
//! `sluice worker`'s polling loop (`sluice-echo`, official SDK client) and by bare unsigned
//! JSON-protocol pollers (what the server sustains when its clients cost little), and (5) a
//! Distributed Map's STANDARD children: each a durable execution with its history. Everything
//! shares the machine's cores: on 2 cores the SDK client takes about half the CPU.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_server::client::Client;
use sluice_server::lifecycle::ExecutionStatus;
use sluice_server::service::{Config, Service};
use sluice_server::store::{ExecutionRecord, PostgresStore, SqliteStore, Store};

const ROLE: &str = "arn:aws:iam::123456789012:role/bench";

// The allocator of the `sluice` binary, so the figures are the ones users get.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn store(label: &str) -> Arc<dyn Store> {
    match std::env::var("SLUICE_BENCH_POSTGRES_URL") {
        Ok(url) => Arc::new(
            PostgresStore::connect(&url)
                .await
                .expect("PostgreSQL reachable"),
        ),
        Err(_) => {
            let dir =
                std::env::temp_dir().join(format!("sluice-bench-{}-{label}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Arc::new(
                SqliteStore::open(&dir.join("bench.db"))
                    .await
                    .expect("SQLite opens"),
            )
        }
    }
}

/// A chain of `n` Pass states.
fn chain(n: usize) -> Value {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s = json!({"Type": "Pass", "Parameters": {"step": i, "v.$": "$.v"}});
        if i + 1 < n {
            s["Next"] = json!(format!("S{}", i + 1));
        } else {
            s["End"] = json!(true);
        }
        states.insert(format!("S{i}"), s);
    }
    json!({"StartAt": "S0", "States": states})
}

async fn wait_all_done(store: &dyn Store, arns: &[String]) {
    for arn in arns {
        loop {
            let e = store
                .get_execution(arn)
                .await
                .expect("readable")
                .expect("exists");
            if e.status.is_terminal() {
                assert_eq!(
                    e.status,
                    ExecutionStatus::Succeeded,
                    "{arn}: {:?} {:?}",
                    e.error,
                    e.cause
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// (1) Durable transitions per second: many executions of a 20-state chain at once.
async fn durable_transitions(label: &str) {
    let store = store(label).await;
    let service = Service::new(store.clone(), Config::default());
    let states = 20;
    let executions = 2000;
    let definition = chain(states).to_string();
    let started = Instant::now();
    let mut arns = Vec::with_capacity(executions);
    for i in 0..executions {
        let record = ExecutionRecord {
            arn: format!("arn:aws:states:us-east-1:123456789012:execution:chain:{label}-{i}"),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:chain".into(),
            name: format!("{label}-{i}"),
            status: ExecutionStatus::Running,
            input: r#"{"v": 1}"#.into(),
            output: None,
            error: None,
            cause: None,
            start: sluice_server::time::now(),
            stop: None,
            definition: definition.clone(),
            role_arn: ROLE.into(),
            kind: sluice_server::lifecycle::MachineType::Standard,
            redrive_count: 0,
            map_run_arn: None,
        };
        arns.push(record.arn.clone());
        service.start_standard(record, 0).await.expect("started");
    }
    wait_all_done(store.as_ref(), &arns).await;
    let secs = started.elapsed().as_secs_f64();
    let transitions = (executions * states) as f64;
    println!(
        "durable transitions [{label}]: {executions} executions x {states} states in {secs:.2} s = {:.0} transitions/s",
        transitions / secs
    );
}

/// (5) STANDARD child executions per second: one Distributed Map over `items` numbers whose
/// children (one Pass state each) are kept as executions with their history.
///
/// `split`: two replicas on one store. The driving one has 100 child slots and queues the
/// other children; the second one (2,000 slots) takes them from the queue.
async fn map_run_children(label: &str, split: bool) {
    let store = store(&format!("{label}-children")).await;
    let config = |replica: &str, slots: usize| Config {
        replica_id: replica.into(),
        child_slots: slots,
        ..Config::default()
    };
    let (service, helper) = if split {
        let (a, b) = (
            Service::new(store.clone(), config("bench-a", 100)),
            Service::new(store.clone(), config("bench-b", 2000)),
        );
        a.start_maintenance();
        b.start_maintenance();
        (a, Some(b))
    } else {
        (Service::new(store.clone(), Config::default()), None)
    };
    let items: usize = std::env::var("SLUICE_BENCH_CHILDREN")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(30_000);
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map",
        "MaxConcurrency": 2000,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Done", "States": {"Done": {"Type": "Pass",
                "Parameters": {"n.$": "States.MathAdd($, $)"}, "OutputPath": "$.n",
                "End": true}}},
        "ResultSelector": {"count.$": "States.ArrayLength($)"},
        "End": true}}})
    .to_string();
    // A PostgreSQL database outlives the run: a fresh name each time.
    let name = format!("{label}-{}", uuid::Uuid::new_v4());
    let record = ExecutionRecord {
        arn: format!("arn:aws:states:us-east-1:123456789012:execution:fan:{name}"),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:fan".into(),
        name,
        status: ExecutionStatus::Running,
        input: json!((0..items).collect::<Vec<_>>()).to_string(),
        output: None,
        error: None,
        cause: None,
        start: sluice_server::time::now(),
        stop: None,
        definition,
        role_arn: ROLE.into(),
        kind: sluice_server::lifecycle::MachineType::Standard,
        redrive_count: 0,
        map_run_arn: None,
    };
    let arn = record.arn.clone();
    let started = Instant::now();
    service.start_standard(record, 0).await.expect("started");
    wait_all_done(store.as_ref(), std::slice::from_ref(&arn)).await;
    let secs = started.elapsed().as_secs_f64();
    let done = store
        .get_execution(&arn)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    let how = if helper.is_some() {
        "split over two replicas"
    } else {
        "one replica"
    };
    println!(
        "Map Run STANDARD children [{label}, {how}]: {items} child executions (row + 4 events each) in {secs:.2} s = {:.0} children/s",
        items as f64 / secs
    );
}

async fn serve(store: Arc<dyn Store>) -> (String, Arc<Service>) {
    let service = Service::new(store, Config::default());
    let app = sluice_server::api::router(service.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), service)
}

/// (2) StartExecution → ExecutionSucceeded of a one-state machine through HTTP.
async fn http_executions(label: &str) {
    let store = store(&format!("{label}-http")).await;
    let (endpoint, _service) = serve(store.clone()).await;
    let client = Arc::new(Client::new(&endpoint));
    let one = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string();
    let mut arns = Vec::new();
    for (name, kind) in [("one-express", "EXPRESS"), ("one-standard", "STANDARD")] {
        let r = client
            .call(
                "CreateStateMachine",
                &json!({"name": name, "definition": one, "roleArn": ROLE, "type": kind}),
            )
            .await
            .expect("created");
        arns.push(r["stateMachineArn"].as_str().expect("arn").to_string());
    }
    let clients = 64;
    let per_client = 200;
    // Express: StartSyncExecution returns when the execution has succeeded.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        let arn = arns[0].clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_client {
                let r = client
                    .call(
                        "StartSyncExecution",
                        &json!({"stateMachineArn": arn, "input": "{}"}),
                    )
                    .await
                    .expect("sync execution");
                assert_eq!(r["status"], "SUCCEEDED");
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let n = (clients * per_client) as f64;
    println!(
        "HTTP Express [{label}]: {n} StartSyncExecution→SUCCEEDED with {clients} clients: {:.0} executions/s",
        n / started.elapsed().as_secs_f64()
    );
    // Standard: StartExecution, then every execution has succeeded.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let arn = arns[1].clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let r = client
                    .call(
                        "StartExecution",
                        &json!({"stateMachineArn": arn, "name": format!("c{c}-{i}")}),
                    )
                    .await
                    .expect("started");
                mine.push(r["executionArn"].as_str().expect("arn").to_string());
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    wait_all_done(store.as_ref(), &all).await;
    println!(
        "HTTP Standard [{label}]: {n} StartExecution→SUCCEEDED with {clients} clients: {:.0} executions/s",
        n / started.elapsed().as_secs_f64()
    );
}

/// (3) Activity round trip: a loop of activity tasks answered by one worker.
async fn activity_round_trip(label: &str) {
    let store = store(&format!("{label}-activity")).await;
    let (endpoint, _service) = serve(store).await;
    let client = Client::new(&endpoint);
    let activity = client
        .call("CreateActivity", &json!({"name": "bench"}))
        .await
        .expect("activity")["activityArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let rounds = 500;
    let def = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity, "Next": "More"},
        "More": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": rounds, "Next": "Work"}], "Default": "Done"},
        "Done": {"Type": "Succeed"}}});
    let sm = client
        .call(
            "CreateStateMachine",
            &json!({"name": "loop", "definition": def.to_string(), "roleArn": ROLE}),
        )
        .await
        .expect("created")["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    client
        .call(
            "StartExecution",
            &json!({"stateMachineArn": sm, "input": "{\"i\": 0}"}),
        )
        .await
        .expect("started");
    let mut latencies = Vec::with_capacity(rounds);
    let mut last_answer: Option<Instant> = None;
    for i in 1..=rounds {
        let task = client
            .call(
                "GetActivityTask",
                &json!({"activityArn": activity, "workerName": "bench"}),
            )
            .await
            .expect("task");
        // From our answer to the next task in hand: SendTaskSuccess → next states → next
        // task handed out.
        if let Some(at) = last_answer {
            latencies.push(at.elapsed());
        }
        let token = task["taskToken"].as_str().expect("a task").to_string();
        last_answer = Some(Instant::now());
        client
            .call(
                "SendTaskSuccess",
                &json!({"taskToken": token, "output": json!({"i": i}).to_string()}),
            )
            .await
            .expect("answered");
    }
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!(
        "activity round trip [{label}]: p50 {:?}, p90 {:?}, p99 {:?} over {} rounds",
        p(0.5),
        p(0.9),
        p(0.99),
        latencies.len()
    );
}

/// (4) No-op tasks through the worker: Map states fan out `sluice-echo` activity tasks, the
/// worker's pollers take and answer them over the HTTP API.
/// Who answers the activity tasks of the dispatch measurement.
#[derive(Clone, Copy, PartialEq)]
enum Pollers {
    /// `sluice worker`'s polling loop (the official aws-sdk-sfn client, signed requests).
    Worker,
    /// Bare JSON-protocol requests (unsigned, no SDK): what the server itself sustains
    /// when its clients cost little.
    Raw,
}

/// Raw pollers: GetActivityTask → SendTaskSuccess with the input as output, until `stop`.
async fn raw_poller(
    client: Arc<Client>,
    activity: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let Ok(task) = client
            .call(
                "GetActivityTask",
                &json!({"activityArn": activity, "workerName": "raw"}),
            )
            .await
        else {
            continue;
        };
        let (Some(token), Some(input)) = (task["taskToken"].as_str(), task["input"].as_str())
        else {
            continue;
        };
        let _ = client
            .call(
                "SendTaskSuccess",
                &json!({"taskToken": token, "output": input}),
            )
            .await;
    }
}

/// (4) Task dispatch: no-op activity tasks fanned out by Map states, answered by 256 pollers.
async fn worker_dispatch(label: &str, pollers: Pollers) {
    let name = match pollers {
        Pollers::Worker => "sluice worker",
        Pollers::Raw => "raw pollers",
    };
    let store = store(&format!("{label}-dispatch-{}", pollers as u8)).await;
    let (endpoint, _service) = serve(store.clone()).await;
    let client = Arc::new(Client::new(&endpoint));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let concurrency = 256;
    let mut tasks = Vec::new();
    let activity = if pollers == Pollers::Worker {
        let options = sluice_worker::activity::WorkerOptions {
            endpoint: endpoint.clone(),
            region: "us-east-1".into(),
            credentials: sluice_integrations::aws::static_credentials("bench", "bench"),
            activities: vec!["sluice-echo".into()],
            concurrency,
            worker_name: "bench".into(),
            heartbeat: Duration::from_secs(60),
            integrations: Default::default(),
            metrics: None,
        };
        tasks.push(tokio::spawn(async move {
            let _ =
                sluice_worker::activity::run(options, tokio_util::sync::CancellationToken::new())
                    .await;
        }));
        loop {
            let listed = client
                .call("ListActivities", &json!({}))
                .await
                .expect("activities");
            // A shared database (PostgreSQL) may hold other activities.
            let echo = listed["activities"]
                .as_array()
                .and_then(|a| a.iter().find(|a| a["name"] == "sluice-echo"));
            if let Some(a) = echo {
                break a["activityArn"].as_str().expect("arn").to_string();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    } else {
        let arn = client
            .call("CreateActivity", &json!({"name": "raw"}))
            .await
            .expect("activity")["activityArn"]
            .as_str()
            .expect("arn")
            .to_string();
        for _ in 0..concurrency {
            tasks.push(tokio::spawn(raw_poller(
                client.clone(),
                arn.clone(),
                stop.clone(),
            )));
        }
        arn
    };
    let (executions, items) = (8, 2000);
    let def = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "MaxConcurrency": 64,
        "ItemProcessor": {"StartAt": "Noop", "States": {"Noop": {"Type": "Task", "Resource": activity, "End": true}}},
        "ResultSelector": {"n.$": "States.ArrayLength($)"}, "End": true}}});
    let sm = client
        .call(
            "CreateStateMachine",
            &json!({"name": format!("fan-{}-{}", pollers as u8, std::process::id()),
                    "definition": def.to_string(), "roleArn": ROLE}),
        )
        .await
        .expect("created")["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let input = json!((0..items).collect::<Vec<_>>()).to_string();
    let started = Instant::now();
    let mut arns = Vec::new();
    for i in 0..executions {
        let r = client
            .call(
                "StartExecution",
                &json!({"stateMachineArn": sm, "name": format!("fan-{i}"), "input": input}),
            )
            .await
            .expect("started");
        arns.push(r["executionArn"].as_str().expect("arn").to_string());
    }
    wait_all_done(store.as_ref(), &arns).await;
    let n = (executions * items) as f64;
    println!(
        "task dispatch [{label}, {name}]: {n} no-op activity tasks (Map fan-out, {concurrency} pollers): {:.0} tasks/s",
        n / started.elapsed().as_secs_f64()
    );
    for t in tasks {
        t.abort();
    }
}

/// CPU seconds this process has used (user + system), from /proc (Linux only; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is parenthesised and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// (5) The client's own cost: GetActivityTask against a stub server that answers `{}` at once
/// (no task), from 256 concurrent callers for a few seconds. Two such requests per task bound
/// what any dispatch through that client can reach on the same cores.
async fn client_floor(pollers: Pollers) {
    let stub = axum::Router::new().fallback(|| async {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/x-amz-json-1.0",
            )],
            "{}",
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move { axum::serve(listener, stub).await });
    let sfn = sluice_worker::activity::sfn_client(&sluice_worker::activity::WorkerOptions {
        endpoint: endpoint.clone(),
        region: "us-east-1".into(),
        credentials: sluice_integrations::aws::static_credentials("bench", "bench"),
        activities: vec![],
        concurrency: 1,
        worker_name: "bench".into(),
        heartbeat: Duration::from_secs(60),
        integrations: Default::default(),
        metrics: None,
    });
    let raw = Arc::new(Client::new(&endpoint));
    let arn = "arn:aws:states:us-east-1:123456789012:activity:floor";
    let window = Duration::from_secs(5);
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let mut tasks = Vec::new();
    for _ in 0..256 {
        let (sfn, raw, count) = (sfn.clone(), raw.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            while started.elapsed() < window {
                let ok = match pollers {
                    Pollers::Worker => sfn
                        .get_activity_task()
                        .activity_arn(arn)
                        .worker_name("bench")
                        .send()
                        .await
                        .is_ok(),
                    Pollers::Raw => raw
                        .call(
                            "GetActivityTask",
                            &json!({"activityArn": arn, "workerName": "raw"}),
                        )
                        .await
                        .is_ok(),
                };
                assert!(ok, "the stub answers every request");
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("caller");
    }
    let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let n = count.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let name = match pollers {
        Pollers::Worker => "aws-sdk-sfn (sluice worker's client)",
        Pollers::Raw => "bare JSON client",
    };
    println!(
        "client floor [{name}]: {:.0} requests/s against a stub, {:.0} µs CPU per request (client + stub), at most {:.0} tasks/s at two requests a task",
        n / secs,
        cpu * 1e6 / n,
        n / secs / 2.0
    );
    server.abort();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run quickly then.
    let full = std::env::args().any(|a| a == "--bench");
    if !full {
        println!("run with `cargo bench -p sluice-server --bench server`");
        return;
    }
    let label = if std::env::var("SLUICE_BENCH_POSTGRES_URL").is_ok() {
        "postgres"
    } else {
        "sqlite"
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // SLUICE_BENCH_ONLY=durable|http|activity|dispatch|dispatch-raw|client|children|
    // children-split runs one measurement.
    let only = std::env::var("SLUICE_BENCH_ONLY").ok();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    runtime.block_on(async {
        if wanted("durable") {
            durable_transitions(label).await;
        }
        if wanted("http") {
            http_executions(label).await;
        }
        if wanted("activity") {
            activity_round_trip(label).await;
        }
        if wanted("dispatch") {
            worker_dispatch(label, Pollers::Worker).await;
        }
        if wanted("dispatch") || wanted("dispatch-raw") {
            worker_dispatch(label, Pollers::Raw).await;
        }
        if wanted("client") {
            client_floor(Pollers::Worker).await;
            client_floor(Pollers::Raw).await;
        }
        if wanted("children") {
            map_run_children(label, false).await;
        }
        if wanted("children") || wanted("children-split") {
            map_run_children(label, true).await;
        }
    });
}
