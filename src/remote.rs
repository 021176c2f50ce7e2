//! Client commands that talk to a running `sluice serve` over the Step Functions API.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{Value, json};
use sluice_server::client::{Client, Signer};

/// Where the server listens; `SLUICE_ENDPOINT` overrides the default.
#[derive(clap::Args, Clone)]
pub struct Endpoint {
    /// URL of the sluice server.
    #[arg(
        long,
        env = "SLUICE_ENDPOINT",
        default_value = "http://127.0.0.1:8083",
        global = true
    )]
    endpoint: String,
}

#[derive(Subcommand)]
pub enum ExecutionsCommand {
    /// Start an execution.
    Start {
        /// State machine ARN.
        #[arg(long)]
        state_machine: String,
        /// Input as inline JSON.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Execution name (idempotency key).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// List the executions of a state machine, or the children of a Map Run.
    List {
        #[arg(long, required_unless_present = "map_run", conflicts_with = "map_run")]
        state_machine: Option<String>,
        /// A Map Run's ARN: list its children (STANDARD child executions).
        #[arg(long)]
        map_run: Option<String>,
        /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Show one execution.
    Describe {
        arn: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Print an execution's history events.
    History {
        arn: String,
        /// Newest first.
        #[arg(long)]
        reverse: bool,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Stop a running execution.
    Stop {
        arn: String,
        #[arg(long)]
        error: Option<String>,
        #[arg(long)]
        cause: Option<String>,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Redrive a failed, aborted or timed-out execution from the state that failed
    /// (a failed Map Run runs only its children that did not succeed).
    Redrive {
        arn: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Approve a waiting task (SendTaskSuccess): the human-approval path.
    Approve {
        /// The task token the execution handed out.
        token: String,
        /// Output of the task, as JSON.
        #[arg(long, default_value = r#"{"approved": true}"#)]
        output: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Reject a waiting task (SendTaskFailure).
    Reject {
        token: String,
        #[arg(long, default_value = "Rejected")]
        error: String,
        #[arg(long, default_value = "")]
        cause: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
}

#[derive(Subcommand)]
pub enum StateMachinesCommand {
    /// Register a state machine from a definition file (JSON or YAML).
    Create {
        #[arg(long)]
        name: String,
        definition: PathBuf,
        /// STANDARD or EXPRESS.
        #[arg(long, default_value = "STANDARD")]
        r#type: String,
        #[arg(long, default_value = "arn:aws:iam::123456789012:role/sluice")]
        role_arn: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// List registered state machines.
    List {
        #[command(flatten)]
        endpoint: Endpoint,
    },
}

/// A client of the server, signed with the environment's AWS key (or a placeholder a server
/// without --auth takes).
pub(crate) fn client(endpoint: &Endpoint) -> Client {
    let aws = crate::config::Aws::from_env();
    Client::new(&endpoint.endpoint).signed(Signer {
        access_key_id: aws.access_key_id.unwrap_or_else(|| "sluice".into()),
        secret_access_key: aws.secret_access_key.unwrap_or_else(|| "sluice".into()),
        session_token: aws.session_token,
        region: aws.region,
    })
}

fn call(endpoint: &Endpoint, action: &str, request: Value) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let reply = runtime.block_on(client(endpoint).call(action, &request))?;
    println!("{}", serde_json::to_string_pretty(&reply)?);
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum MapRunsCommand {
    /// List the Map Runs of an execution.
    List {
        execution_arn: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Show one Map Run: status and counts.
    Describe {
        arn: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Follow a Map Run until it ends: a live bar of children done, failures and rate.
    Watch {
        arn: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Change a running Map Run's concurrency or tolerated failures.
    Update {
        arn: String,
        #[arg(long)]
        max_concurrency: Option<u64>,
        #[arg(long)]
        tolerated_failure_percentage: Option<f64>,
        #[arg(long)]
        tolerated_failure_count: Option<u64>,
        #[command(flatten)]
        endpoint: Endpoint,
    },
}

/// `sluice map-runs …`.
pub fn map_runs(cmd: MapRunsCommand) -> Result<ExitCode> {
    match cmd {
        MapRunsCommand::List {
            execution_arn,
            endpoint,
        } => call(
            &endpoint,
            "ListMapRuns",
            json!({"executionArn": execution_arn}),
        ),
        MapRunsCommand::Describe { arn, endpoint } => {
            call(&endpoint, "DescribeMapRun", json!({"mapRunArn": arn}))
        }
        MapRunsCommand::Watch { arn, endpoint } => watch(&endpoint, &arn),
        MapRunsCommand::Update {
            arn,
            max_concurrency,
            tolerated_failure_percentage,
            tolerated_failure_count,
            endpoint,
        } => {
            let mut req = json!({"mapRunArn": arn});
            if let Some(n) = max_concurrency {
                req["maxConcurrency"] = json!(n);
            }
            if let Some(p) = tolerated_failure_percentage {
                req["toleratedFailurePercentage"] = json!(p);
            }
            if let Some(c) = tolerated_failure_count {
                req["toleratedFailureCount"] = json!(c);
            }
            call(&endpoint, "UpdateMapRun", req)
        }
    }
}

/// Polls DescribeMapRun twice a second, drawing the counts, until the run ends; prints the
/// final description and exits 0 only if the run succeeded.
fn watch(endpoint: &Endpoint, arn: &str) -> Result<ExitCode> {
    use indicatif::{ProgressBar, ProgressStyle};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = client(endpoint);
    let bar = ProgressBar::no_length();
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {human_pos}/{human_len} {msg} ({per_sec}, {elapsed})",
        )
        .context("progress template")?
        .progress_chars("=> "),
    );
    bar.set_prefix("Map Run");
    let last = runtime.block_on(async {
        loop {
            let run = client
                .call("DescribeMapRun", &json!({"mapRunArn": arn}))
                .await?;
            let counts = &run["itemCounts"];
            let n = |field: &str| counts[field].as_u64().unwrap_or(0);
            bar.set_length(n("total"));
            bar.set_position(n("succeeded") + n("failed"));
            bar.set_message(format!("{} failed, {} running", n("failed"), n("running")));
            if run["status"] != "RUNNING" {
                bar.finish();
                return anyhow::Ok(run);
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    })?;
    println!("{}", serde_json::to_string_pretty(&last)?);
    Ok(if last["status"] == "SUCCEEDED" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `sluice executions …`.
pub fn executions(cmd: ExecutionsCommand) -> Result<ExitCode> {
    match cmd {
        ExecutionsCommand::Start {
            state_machine,
            input,
            name,
            endpoint,
        } => {
            let mut req = json!({"stateMachineArn": state_machine, "input": input});
            if let Some(n) = name {
                req["name"] = json!(n);
            }
            call(&endpoint, "StartExecution", req)
        }
        ExecutionsCommand::List {
            state_machine,
            map_run,
            status,
            endpoint,
        } => {
            let mut req = match (state_machine, map_run) {
                (_, Some(run)) => json!({"mapRunArn": run}),
                (machine, None) => json!({"stateMachineArn": machine}),
            };
            if let Some(s) = status {
                req["statusFilter"] = json!(s);
            }
            call(&endpoint, "ListExecutions", req)
        }
        ExecutionsCommand::Describe { arn, endpoint } => {
            call(&endpoint, "DescribeExecution", json!({"executionArn": arn}))
        }
        ExecutionsCommand::History {
            arn,
            reverse,
            endpoint,
        } => call(
            &endpoint,
            "GetExecutionHistory",
            json!({"executionArn": arn, "reverseOrder": reverse, "maxResults": 1000}),
        ),
        ExecutionsCommand::Stop {
            arn,
            error,
            cause,
            endpoint,
        } => call(
            &endpoint,
            "StopExecution",
            json!({"executionArn": arn, "error": error, "cause": cause}),
        ),
        ExecutionsCommand::Redrive { arn, endpoint } => {
            call(&endpoint, "RedriveExecution", json!({"executionArn": arn}))
        }
        ExecutionsCommand::Approve {
            token,
            output,
            endpoint,
        } => {
            serde_json::from_str::<Value>(&output).context("--output must be JSON")?;
            call(
                &endpoint,
                "SendTaskSuccess",
                json!({"taskToken": token, "output": output}),
            )
        }
        ExecutionsCommand::Reject {
            token,
            error,
            cause,
            endpoint,
        } => call(
            &endpoint,
            "SendTaskFailure",
            json!({"taskToken": token, "error": error, "cause": cause}),
        ),
    }
}

/// `sluice state-machines …`.
pub fn state_machines(cmd: StateMachinesCommand) -> Result<ExitCode> {
    match cmd {
        StateMachinesCommand::Create {
            name,
            definition,
            r#type,
            role_arn,
            endpoint,
        } => {
            let text = std::fs::read_to_string(&definition)
                .with_context(|| format!("reading {}", definition.display()))?;
            // YAML definitions are sent as JSON: the API takes JSON.
            let value = sluice_engine::lang::load::parse_document(
                &text,
                &definition.display().to_string(),
            )?;
            call(
                &endpoint,
                "CreateStateMachine",
                json!({"name": name, "definition": value.to_string(), "roleArn": role_arn, "type": r#type}),
            )
        }
        StateMachinesCommand::List { endpoint } => call(&endpoint, "ListStateMachines", json!({})),
    }
}
