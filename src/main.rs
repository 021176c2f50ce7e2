//! The `sluice` command: flags in, library calls out.

mod commands;
mod config;
mod progress;
mod remote;
mod schedules;
mod settings;
mod shutdown;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

// The engine allocates many small JSON values per transition; mimalloc is markedly faster at
// that than the system allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run Amazon States Language (AWS Step Functions) pipelines locally and at scale.
#[derive(Parser)]
#[command(name = "sluice", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a state machine in-process to completion and print its output.
    Run(RunArgs),
    /// Check a definition and report every problem with its location.
    Validate(ValidateArgs),
    /// Draw a definition as a graph: SVG (the default) or Mermaid text.
    Graph(GraphArgs),
    /// Run the orchestrator: durable executions behind the AWS Step Functions API.
    Serve(ServeArgs),
    /// Print the configuration `sluice serve` would run with (secrets redacted): defaults <
    /// config file < SLUICE_* environment < flags.
    Config(ServeArgs),
    /// Poll activities and run their tasks with a built-in handler (sluice-sql, sluice-lambda, sluice-echo).
    Worker(WorkerArgs),
    /// Inspect and control executions on a running server.
    #[command(subcommand)]
    Executions(remote::ExecutionsCommand),
    /// Register and list state machines on a running server.
    #[command(subcommand, name = "state-machines")]
    StateMachines(remote::StateMachinesCommand),
    /// Follow and tune the Map Runs of Distributed Maps on a running server.
    #[command(subcommand, name = "map-runs")]
    MapRuns(remote::MapRunsCommand),
    /// Run state machines on a clock: cron, rate and at() schedules (the EventBridge
    /// Scheduler API of a running server), and backfills over a time range.
    #[command(subcommand)]
    Schedules(schedules::SchedulesCommand),
    /// Start state machines when objects land under an S3 prefix.
    #[command(subcommand)]
    Triggers(schedules::TriggersCommand),
}

#[derive(clap::Args)]
struct WorkerArgs {
    /// The config file whose `[aws]`, `[lambda]`, `[batch]` and `[s3]` tables configure the
    /// services the built-in handlers call (the same file as `sluice serve --config`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The Step Functions endpoint: sluice serve's URL, or AWS's.
    #[arg(long, env = "SLUICE_ENDPOINT", default_value = "http://127.0.0.1:8083")]
    endpoint: String,
    /// Activity to poll, by name (created if missing) or ARN; repeatable. The name picks the
    /// built-in handler: sluice-sql, sluice-infer, sluice-lambda or sluice-echo.
    #[arg(long = "activity", required = true)]
    activities: Vec<String>,
    /// Tasks run at once per activity.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Name reported to GetActivityTask.
    #[arg(long, default_value = "sluice-worker")]
    worker_name: String,
    /// Seconds between heartbeats of a running task.
    #[arg(long, default_value_t = 20)]
    heartbeat_seconds: u64,
    /// Region for request signing.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Serve `/metrics` (Prometheus text) and `/healthz` on this address (env:
    /// SLUICE_METRICS_LISTEN).
    #[arg(long, env = "SLUICE_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// The access key id to sign requests to the endpoint with (one of `sluice serve --auth`'s
    /// keys; env: SLUICE_ENDPOINT_ACCESS_KEY_ID). Without it they are signed with the
    /// standard AWS chain. With it, the chain (an IAM role, say) is left to the services the
    /// handlers call, such as Lambda and Batch.
    #[arg(
        long,
        env = "SLUICE_ENDPOINT_ACCESS_KEY_ID",
        requires = "endpoint_secret_access_key",
        value_name = "ID"
    )]
    endpoint_access_key_id: Option<String>,
    /// Its secret (env: SLUICE_ENDPOINT_SECRET_ACCESS_KEY; prefer the environment: flags show
    /// in process listings).
    #[arg(
        long,
        env = "SLUICE_ENDPOINT_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "endpoint_access_key_id",
        value_name = "SECRET"
    )]
    endpoint_secret_access_key: Option<String>,
}

/// Flags of `sluice serve`. Each overrides the config file and the environment (see
/// `settings.rs`); unset flags leave them as they are.
#[derive(clap::Args)]
struct ServeArgs {
    /// The config file (TOML; `sluice config` prints the effective configuration).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8083].
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Where executions are kept: sqlite:PATH, sqlite::memory: or postgres://user@host:port/db
    /// [default: sqlite:.sluice/sluice.db; env: SLUICE_STORE].
    #[arg(long)]
    store: Option<String>,
    /// Region used in ARNs when a request does not name one [default: us-east-1].
    #[arg(long)]
    region: Option<String>,
    /// Account id used in ARNs [default: 123456789012].
    #[arg(long)]
    account: Option<String>,
    /// Seconds a claimed activity task stays with its worker without a heartbeat [default: 300].
    #[arg(long)]
    activity_lease_seconds: Option<f64>,
    /// Require SigV4-signed requests made with this key (ACCESS_KEY_ID:SECRET; repeatable;
    /// env: SLUICE_AUTH, comma-separated). Without it, any signature is accepted.
    #[arg(long = "auth", value_name = "KEY:SECRET")]
    access_keys: Vec<sluice_server::api::auth::AccessKey>,
    /// This replica's name among servers sharing one PostgreSQL database (stable across
    /// restarts, e.g. the pod name, so a restart takes its executions back at once). Default:
    /// the host name (env: SLUICE_REPLICA_ID). Two replicas with one name would both drive the
    /// same executions.
    #[arg(long)]
    replica_id: Option<String>,
    /// Seconds a replica holds its executions without renewing (renewed every third of it)
    /// [default: 30].
    #[arg(long)]
    execution_lease_seconds: Option<f64>,
    /// The secret task tokens are signed with (give every replica the same one; env:
    /// SLUICE_TOKEN_SECRET). Default: one generated on the first start and kept in the store.
    #[arg(long)]
    token_secret: Option<String>,
    /// The token pushed S3 event notifications (POST /sluice/s3-events) must carry, as
    /// `Authorization: Bearer TOKEN` (env: SLUICE_WEBHOOK_TOKEN).
    #[arg(long)]
    webhook_token: Option<String>,
    /// Seconds between this replica's looks for due schedules [default: 0.25].
    #[arg(long)]
    schedule_poll_seconds: Option<f64>,
    /// Map Run children this replica runs at once; children of Map Runs driven here beyond
    /// it are queued for whichever replica has room [default: 10000].
    #[arg(long)]
    child_slots: Option<usize>,
    /// Fail an execution (States.Runtime) after this many state transitions, counted across
    /// checkpoints and restarts [default: 10000000].
    #[arg(long, value_name = "N")]
    max_transitions: Option<u64>,
    /// Largest API request body in bytes; larger requests get a ValidationException (HTTP
    /// 413) before they are parsed [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    max_request_bytes: Option<usize>,
    /// Largest result a Task, Map or Parallel state may produce, in bytes of JSON
    /// [default: 262144; env: SLUICE_MAX_PAYLOAD_BYTES].
    #[arg(long, value_name = "BYTES")]
    max_payload_bytes: Option<usize>,
    /// Seconds a shutdown (SIGTERM) may take: steps reach their checkpoint, group commits are
    /// flushed, then what is left is cut off [default: 25, below Kubernetes' 30].
    #[arg(long, value_name = "SECONDS")]
    shutdown_grace_seconds: Option<f64>,
}

impl ServeArgs {
    /// The flags that were given, over `settings`.
    fn apply(&self, settings: &mut settings::Settings) {
        let s = &mut settings.serve;
        if let Some(v) = self.listen {
            s.listen = v.to_string();
        }
        if let Some(v) = &self.store {
            s.store.clone_from(v);
        }
        if let Some(v) = &self.region {
            s.region.clone_from(v);
        }
        if let Some(v) = &self.account {
            s.account.clone_from(v);
        }
        if let Some(v) = self.activity_lease_seconds {
            s.activity_lease_seconds = v;
        }
        if !self.access_keys.is_empty() {
            s.auth = self
                .access_keys
                .iter()
                .map(|k| format!("{}:{}", k.id, k.secret))
                .collect();
        }
        if let Some(v) = &self.replica_id {
            s.replica_id = Some(v.clone());
        }
        if let Some(v) = self.execution_lease_seconds {
            s.execution_lease_seconds = v;
        }
        if let Some(v) = &self.token_secret {
            s.token_secret = Some(v.clone());
        }
        if let Some(v) = &self.webhook_token {
            s.webhook_token = Some(v.clone());
        }
        if let Some(v) = self.schedule_poll_seconds {
            s.schedule_poll_seconds = v;
        }
        if let Some(v) = self.child_slots {
            s.child_slots = v;
        }
        if let Some(v) = self.max_transitions {
            s.max_transitions = v;
        }
        if let Some(v) = self.max_request_bytes {
            s.max_request_bytes = v;
        }
        if let Some(v) = self.max_payload_bytes {
            s.max_payload_bytes = v;
        }
        if let Some(v) = self.shutdown_grace_seconds {
            s.shutdown_grace_seconds = v;
        }
    }
}

#[derive(clap::Args)]
struct PayloadArgs {
    /// Largest result a Task, Map or Parallel state may produce, in bytes of JSON; larger ones
    /// fail with States.DataLimitExceeded (AWS's quota is 256 KiB). Pass big data by reference.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 262_144,
        env = "SLUICE_MAX_PAYLOAD_BYTES"
    )]
    max_payload_bytes: usize,
}

/// Execution semantics to emulate.
#[derive(Clone, Copy, ValueEnum)]
enum ExecType {
    #[value(name = "STANDARD", alias = "standard")]
    Standard,
    #[value(name = "EXPRESS", alias = "express")]
    Express,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The definition: JSON or YAML (by extension or content); `-` reads stdin.
    definition: PathBuf,
    /// The config file whose `[aws]`, `[lambda]`, `[batch]` and `[s3]` tables configure the
    /// services Task states call (the same file as `sluice serve --config`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// File holding the execution input (JSON or YAML); `-` reads stdin.
    #[arg(long, conflicts_with = "input_json")]
    input: Option<PathBuf>,
    /// The execution input as inline JSON.
    #[arg(long, value_name = "JSON")]
    input_json: Option<String>,
    /// Print exactly one JSON object: {"status", "output"} or {"status", "error", "cause"}.
    #[arg(long)]
    json: bool,
    /// Mocked Task responses in the AWS Step Functions Local format.
    #[arg(long, value_name = "FILE")]
    mock: Option<PathBuf>,
    /// The test case of the mock file to use.
    #[arg(long, value_name = "NAME", requires = "mock")]
    test_case: Option<String>,
    /// The state machine of the mock file (needed when it has several).
    #[arg(long, value_name = "NAME")]
    state_machine: Option<String>,
    /// Execution name (appears in `$$.Execution.Name`).
    #[arg(long)]
    name: Option<String>,
    /// STANDARD or EXPRESS.
    #[arg(long = "type", value_enum, default_value = "STANDARD")]
    exec_type: ExecType,
    /// Seed for States.UUID, $random() and retry jitter, to make a run repeatable.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop the execution (States.Runtime) after this many state transitions.
    #[arg(long, value_name = "N", default_value_t = 10_000_000)]
    max_transitions: u64,
    #[command(flatten)]
    payload: PayloadArgs,
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// The definition: JSON or YAML (by extension or content); `-` reads stdin.
    definition: PathBuf,
    /// Print the problems as a JSON array.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct GraphArgs {
    /// The definition: JSON or YAML; `-` reads stdin.
    definition: PathBuf,
    /// Write here instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Mermaid flowchart text instead of SVG.
    #[arg(long)]
    mermaid: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => commands::run(commands::RunOptions {
            definition: args.definition,
            input: args.input,
            input_json: args.input_json,
            json: args.json,
            mock: args.mock,
            test_case: args.test_case,
            state_machine: args.state_machine,
            name: args.name,
            express: matches!(args.exec_type, ExecType::Express),
            seed: args.seed,
            max_transitions: args.max_transitions,
            max_payload_bytes: args.payload.max_payload_bytes,
            config: args.config,
        }),
        Command::Validate(args) => commands::validate(&args.definition, args.json),
        Command::Graph(args) => {
            commands::graph(&args.definition, args.output.as_deref(), args.mermaid)
        }
        Command::Serve(args) => serve(args),
        Command::Config(args) => show_config(&args),
        Command::Worker(args) => worker(args),
        Command::Executions(cmd) => remote::executions(cmd),
        Command::StateMachines(cmd) => remote::state_machines(cmd),
        Command::MapRuns(cmd) => remote::map_runs(cmd),
        Command::Schedules(cmd) => schedules::schedules(cmd),
        Command::Triggers(cmd) => schedules::triggers(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sluice: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The settings of `sluice serve`: file, environment, then these flags.
fn serve_settings(args: &ServeArgs) -> anyhow::Result<settings::Settings> {
    let mut settings = settings::Settings::load(args.config.as_deref(), &settings::process_env)?;
    args.apply(&mut settings);
    Ok(settings)
}

fn show_config(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    print!("{}", serve_settings(args)?.redacted_toml()?);
    Ok(ExitCode::SUCCESS)
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = serve_settings(&args)?;
    // Declared before the runtime, so it is dropped (flushing traces) after it.
    let _telemetry = telemetry::init("sluice-serve");
    let s = &settings.serve;
    let grace_seconds = s.shutdown_grace_seconds;
    if !(grace_seconds.is_finite() && grace_seconds >= 0.0) {
        anyhow::bail!(
            "serve.shutdown_grace_seconds must be a number of seconds, not {grace_seconds}"
        );
    }
    let listen: std::net::SocketAddr = s
        .listen
        .parse()
        .with_context(|| format!("serve.listen {:?} is not an address", s.listen))?;
    let store: sluice_server::serve::StoreUrl = s
        .store
        .parse()
        .map_err(|e| anyhow::anyhow!("serve.store: {e}"))?;
    let access_keys = s
        .auth
        .iter()
        .map(|k| k.parse())
        .collect::<Result<Vec<sluice_server::api::auth::AccessKey>, String>>()
        .map_err(|e| anyhow::anyhow!("serve.auth: {e}"))?;
    let config = sluice_server::service::Config {
        region: s.region.clone(),
        account: s.account.clone(),
        activity_lease_seconds: s.activity_lease_seconds,
        access_keys,
        replica_id: s.replica_id.clone().unwrap_or_else(default_replica_id),
        execution_lease_seconds: s.execution_lease_seconds,
        max_request_bytes: s.max_request_bytes,
        token_secret: s.token_secret.clone(),
        child_slots: s.child_slots,
        webhook_token: s.webhook_token.clone(),
        schedule_poll: std::time::Duration::from_secs_f64(
            s.schedule_poll_seconds.clamp(0.01, 60.0),
        ),
        trigger_poll: std::time::Duration::from_secs(1),
        schedule_clock: match std::env::var("SLUICE_SCHEDULE_CLOCK") {
            Ok(text) => text
                .parse()
                .map_err(|e| anyhow::anyhow!("SLUICE_SCHEDULE_CLOCK {e}"))?,
            Err(_) => Default::default(),
        },
        integrations: Default::default(),
        limits: sluice_engine::engine::Limits {
            max_payload_bytes: s.max_payload_bytes,
            max_transitions: s.max_transitions,
            ..Default::default()
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = sluice_server::service::Config {
            integrations: config::integrations(&settings).await,
            ..config
        };
        let root = tokio_util::sync::CancellationToken::new();
        let serving = sluice_server::serve::serve(sluice_server::serve::ServeOptions {
            listen,
            store,
            config,
            shutdown: root.clone(),
            grace: std::time::Duration::from_secs_f64(grace_seconds),
            json_logs: std::env::var("SLUICE_LOG_FORMAT").as_deref() == Ok("json"),
        });
        shutdown::run_until_done(root, serving).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let _telemetry = telemetry::init("sluice-worker");
    let settings = settings::Settings::load(args.config.as_deref(), &settings::process_env)?;
    let stop = tokio_util::sync::CancellationToken::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let options = sluice_worker::activity::WorkerOptions {
            credentials: match (
                &args.endpoint_access_key_id,
                &args.endpoint_secret_access_key,
            ) {
                (Some(id), Some(secret)) => {
                    sluice_integrations::aws::static_credentials(id, secret)
                }
                _ => config::worker_credentials(&settings, &args.region).await,
            },
            endpoint: args.endpoint,
            region: args.region,
            activities: args.activities,
            concurrency: args.concurrency,
            worker_name: args.worker_name,
            heartbeat: std::time::Duration::from_secs(args.heartbeat_seconds.max(1)),
            integrations: config::integrations(&settings).await,
            metrics: args
                .metrics_listen
                .map(|_| std::sync::Arc::new(sluice_worker::metrics::WorkerMetrics::new())),
        };
        if let (Some(addr), Some(metrics)) = (args.metrics_listen, options.metrics.clone()) {
            let stop = stop.clone();
            tokio::spawn(async move {
                if let Err(e) = sluice_worker::metrics::serve(addr, metrics, stop).await {
                    eprintln!("sluice worker: the metrics port {addr} could not be served: {e}");
                }
            });
        }
        // Ctrl-C or SIGTERM: stop polling at once, finish the tasks in hand, then exit.
        shutdown::run_until_done(stop.clone(), sluice_worker::activity::run(options, stop)).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The host name (a pod's name on Kubernetes): distinct between machines and the same after
/// a restart; `local` if the system has none.
fn default_replica_id() -> String {
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    if name.is_empty() {
        "local".into()
    } else {
        name
    }
}
