//! The `run` and `validate` commands.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use sluice_engine::engine::mock::MockHandler;
use sluice_engine::engine::{Engine, ExecutionType, Outcome, RunRequest, TaskHandler};
use sluice_engine::lang::checker;
use sluice_engine::lang::load::parse_document;
use sluice_engine::lang::model::StateMachine;
use sluice_integrations::{Builtins, DispatchOptions};

/// Flags of `sluice run`.
pub struct RunOptions {
    pub definition: PathBuf,
    /// The config file (integrations' endpoints and AWS settings).
    pub config: Option<PathBuf>,
    pub input: Option<PathBuf>,
    pub input_json: Option<String>,
    pub json: bool,
    pub mock: Option<PathBuf>,
    pub test_case: Option<String>,
    pub state_machine: Option<String>,
    pub name: Option<String>,
    pub express: bool,
    pub seed: Option<u64>,
    pub max_transitions: u64,
    /// Largest Task/Map/Parallel result before States.DataLimitExceeded.
    pub max_payload_bytes: usize,
}

fn read_source(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading stdin")?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}

fn load(path: &Path) -> Result<Value> {
    let text = read_source(path)?;
    Ok(parse_document(&text, &path.display().to_string())?)
}

/// Name a state machine after its file: `pipelines/orders.asl.json` → `orders`.
fn machine_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stdin".into());
    let stem = file.split('.').next().unwrap_or("");
    let clean: String = stem
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if clean.is_empty() {
        "sluice".into()
    } else {
        clean
    }
}

/// `sluice run`.
pub fn run(opts: RunOptions) -> Result<ExitCode> {
    let definition = load(&opts.definition)?;
    let problems = checker::validate(&definition);
    if !problems.is_empty() {
        let cause = problems
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        if opts.json {
            println!(
                "{}",
                json!({"status": "FAILED", "error": "States.InvalidDefinition", "cause": cause})
            );
        } else {
            eprintln!(
                "{}: the definition is not valid:\n{cause}",
                opts.definition.display()
            );
        }
        return Ok(ExitCode::from(2));
    }
    let machine = match StateMachine::compile(&definition) {
        Ok(m) => m,
        Err(e) => {
            let cause = format!("{}: {e}", opts.definition.display());
            let (error, what) = if e.unsupported {
                (
                    "Sluice.Unsupported",
                    "uses a feature sluice does not run yet",
                )
            } else {
                ("States.InvalidDefinition", "cannot be compiled")
            };
            if opts.json {
                println!(
                    "{}",
                    json!({"status": "FAILED", "error": error, "cause": cause})
                );
            } else {
                eprintln!("the definition {what}: {cause}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    let input = match (&opts.input, &opts.input_json) {
        (Some(path), _) => load(path)?,
        (None, Some(text)) => {
            serde_json::from_str(text).context("--input-json is not valid JSON")?
        }
        (None, None) => json!({}),
    };
    let mut first: Vec<Arc<dyn TaskHandler>> = Vec::new();
    if let Some(mock_path) = &opts.mock {
        let text = read_source(mock_path)?;
        let case = opts
            .test_case
            .as_deref()
            .context("--mock needs --test-case NAME")?;
        let handler = MockHandler::from_json(&text, opts.state_machine.as_deref(), case)
            .with_context(|| format!("{}", mock_path.display()))?;
        first.push(Arc::new(handler));
    }
    // A mock answers first; the built-in activities run in process, so `sluice run` needs
    // no worker; Lambda, Batch and S3 as configured (a directory can stand in for S3).
    let settings =
        crate::settings::Settings::load(opts.config.as_deref(), &crate::settings::process_env)?;
    // I/O is on for Task handlers that call out (Lambda).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let integrations = runtime.block_on(crate::config::integrations(&settings));
    let cleanup = tokio_util::task::TaskTracker::new();
    let dispatcher = integrations.dispatcher(DispatchOptions {
        first,
        jobs: None,
        builtins: Builtins::InProcess {
            worker: "sluice-run".into(),
        },
        cleanup: cleanup.clone(),
    });
    let mut engine = Engine::new(dispatcher);
    engine.limits.max_transitions = opts.max_transitions;
    engine.limits.max_payload_bytes = opts.max_payload_bytes;
    let mut request = RunRequest::new(machine_name(&opts.definition), input);
    request.name = opts.name.clone();
    request.seed = opts.seed;
    if opts.express {
        request.execution_type = ExecutionType::Express;
    }
    // On a terminal a Distributed Map shows its progress live.
    let bars =
        std::io::IsTerminal::is_terminal(&std::io::stderr()).then(crate::progress::MapRunBars::new);
    let outcome = runtime.block_on(async {
        let sink = bars
            .as_ref()
            .map(|b| b as &dyn sluice_engine::engine::events::EventSink);
        let outcome = engine.run_reporting(&machine, &request, sink).await;
        // A job the run abandoned (a timed-out `.sync`) is terminated before exit.
        cleanup.close();
        if tokio::time::timeout(std::time::Duration::from_secs(10), cleanup.wait())
            .await
            .is_err()
        {
            eprintln!("sluice: some abandoned jobs could not be terminated in 10 s");
        }
        outcome
    });
    if opts.json {
        println!("{}", outcome.to_json());
    } else {
        match &outcome {
            Outcome::Succeeded(output) => println!("{}", serde_json::to_string_pretty(output)?),
            Outcome::Failed { error, cause } => eprintln!(
                "execution FAILED: {}{}",
                error.as_deref().unwrap_or("(no error name)"),
                cause
                    .as_deref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
            other => eprintln!("execution {}", other.status()),
        }
    }
    Ok(if matches!(outcome, Outcome::Succeeded(_)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `sluice validate`.
/// `sluice graph`: the definition drawn as SVG or Mermaid text.
pub fn graph(path: &Path, output: Option<&Path>, mermaid: bool) -> Result<ExitCode> {
    use sluice_engine::lang::graph;
    let definition = load(path)?;
    let layout = graph::layout(&definition);
    let text = if mermaid {
        graph::mermaid(&layout)
    } else {
        graph::svg(&layout)
    };
    match output {
        Some(file) => {
            std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn validate(path: &Path, as_json: bool) -> Result<ExitCode> {
    let definition = match load(path) {
        Ok(d) => d,
        Err(e) => {
            if as_json {
                println!("{}", json!([{"pointer": "", "message": format!("{e:#}")}]));
            } else {
                eprintln!("{e:#}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let problems = checker::validate(&definition);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&problems)?);
    } else if problems.is_empty() {
        println!("{}: valid", path.display());
    } else {
        for p in &problems {
            eprintln!("{}: {p}", path.display());
        }
        eprintln!("{} problem(s)", problems.len());
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
