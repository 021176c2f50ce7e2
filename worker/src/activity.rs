//! `sluice worker`: polls Step Functions activities (on `sluice serve` or on AWS itself) with
//! the official `aws-sdk-sfn` client, runs each task with a built-in handler, heartbeats while
//! it runs, and answers with SendTaskSuccess / SendTaskFailure.
//!
//! Built-in handlers are chosen by the activity's name, so a definition addresses them with
//! an ordinary activity ARN:
//!
//! | activity name | input | output |
//! | --- | --- | --- |
//! | `sluice-lambda` | `{"FunctionName": …, "Payload": …}` | the `lambda:invoke` result object |
//! | `sluice-sql` | `{"query", "inputs", "output"?, "inline"?}` (see [`crate::sql`]) | a reference to the result |
//! | `sluice-echo` | anything; `"delayMillis"` waits that long first | the input itself |
//!
//! `sluice-echo` does no work: it checks that a deployment's workers are reachable and
//! measures the orchestrator's dispatch overhead.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::lambda::{Lambda, LambdaConfig, invoke_payload, invoke_result};

/// Flags of `sluice worker`.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Step Functions endpoint (`sluice serve`'s URL, or AWS's).
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Activity names (created if missing) or ARNs.
    pub activities: Vec<String>,
    /// Tasks run at once per activity.
    pub concurrency: usize,
    pub worker_name: String,
    /// How often a running task sends a heartbeat.
    pub heartbeat: Duration,
    /// Where the `sluice-lambda` handler sends invocations.
    pub lambda: Option<LambdaConfig>,
}

/// Why the worker could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(
        "no built-in handler serves activity {0:?}; built-in: sluice-lambda, sluice-sql, sluice-echo"
    )]
    NoHandler(String),
    #[error("the sluice-lambda handler needs a Lambda endpoint or AWS credentials")]
    NoLambda,
    #[error("registering activity {name:?}: {message}")]
    Register { name: String, message: String },
}

/// A task handler: input JSON to output JSON, or an (error, cause) failure.
#[derive(Clone)]
pub enum Handler {
    Lambda(Lambda),
    Sql,
    Echo,
}

impl Handler {
    /// The built-in handler an activity name selects.
    pub fn for_activity(name: &str, lambda: Option<&LambdaConfig>) -> Result<Handler, WorkerError> {
        match name {
            "sluice-lambda" => Ok(Handler::Lambda(Lambda::new(
                lambda.ok_or(WorkerError::NoLambda)?,
            ))),
            "sluice-sql" => Ok(Handler::Sql),
            "sluice-echo" => Ok(Handler::Echo),
            other => Err(WorkerError::NoHandler(other.to_string())),
        }
    }

    /// Run one task.
    pub async fn run(&self, input: Value) -> Result<Value, (String, String)> {
        match self {
            Handler::Echo => {
                if let Some(ms) = input.get("delayMillis").and_then(Value::as_u64) {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                Ok(input)
            }
            Handler::Sql => crate::sql::run(&input)
                .await
                .map_err(|f| (f.error.to_string(), f.cause)),
            Handler::Lambda(lambda) => {
                let function = input
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        (
                            "Sluice.InvalidInput".to_string(),
                            "sluice-lambda needs {\"FunctionName\": …, \"Payload\": …}".to_string(),
                        )
                    })?;
                let body = invoke_payload(input.get("Payload"));
                let done = lambda
                    .invoke(function, body)
                    .await
                    .map_err(|f| (f.error, f.cause))?;
                Ok(invoke_result(&done))
            }
        }
    }
}

/// The Step Functions client the pollers share, as `sluice worker` configures it.
pub fn sfn_client(options: &WorkerOptions) -> aws_sdk_sfn::Client {
    let config = crate::aws::ServiceConfig {
        endpoint: Some(options.endpoint.clone()),
        region: options.region.clone(),
        access_key_id: options.access_key_id.clone(),
        secret_access_key: options.secret_access_key.clone(),
    };
    // A long poll sends nothing for up to a minute by design: stall detection only costs.
    let sfn = aws_sdk_sfn::config::Builder::from(&config.sdk_config())
        .stalled_stream_protection(aws_sdk_sfn::config::StalledStreamProtectionConfig::disabled())
        .build();
    aws_sdk_sfn::Client::from_conf(sfn)
}

/// Run until `stop` is set: then stop polling, finish the tasks in hand, and return.
pub async fn run(options: WorkerOptions, stop: Arc<AtomicBool>) -> Result<(), WorkerError> {
    let sfn = sfn_client(&options);
    let mut pollers = Vec::new();
    for activity in &options.activities {
        let name = activity.rsplit(':').next().unwrap_or(activity).to_string();
        let handler = Handler::for_activity(&name, options.lambda.as_ref())?;
        let arn = if activity.starts_with("arn:") {
            activity.clone()
        } else {
            // CreateActivity is idempotent: it returns the existing activity's ARN.
            sfn.create_activity()
                .name(&name)
                .send()
                .await
                .map_err(|e| WorkerError::Register {
                    name: name.clone(),
                    message: format!("{e:?}"),
                })?
                .activity_arn()
                .to_string()
        };
        tracing::info!(activity = %arn, concurrency = options.concurrency, "polling");
        for _ in 0..options.concurrency.max(1) {
            pollers.push(tokio::spawn(poll(
                sfn.clone(),
                arn.clone(),
                handler.clone(),
                options.worker_name.clone(),
                options.heartbeat,
                stop.clone(),
            )));
        }
    }
    for p in pollers {
        // A poller that panicked has already logged; the others still finish their tasks.
        let _ = p.await;
    }
    Ok(())
}

async fn poll(
    sfn: aws_sdk_sfn::Client,
    activity: String,
    handler: Handler,
    worker: String,
    heartbeat: Duration,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        let task = match sfn
            .get_activity_task()
            .activity_arn(&activity)
            .worker_name(&worker)
            .send()
            .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = ?e, "GetActivityTask failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(token) = task.task_token().map(str::to_string) else {
            continue;
        };
        let input: Value =
            serde_json::from_str(task.input().unwrap_or("{}")).unwrap_or(Value::Null);
        let work = handler.run(input);
        tokio::pin!(work);
        let outcome = loop {
            tokio::select! {
                out = &mut work => break out,
                _ = tokio::time::sleep(heartbeat) => {
                    if let Err(e) = sfn.send_task_heartbeat().task_token(&token).send().await {
                        tracing::warn!(error = ?e, "heartbeat failed");
                    }
                }
            }
        };
        let sent = match outcome {
            Ok(output) => sfn
                .send_task_success()
                .task_token(&token)
                .output(output.to_string())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            Err((error, cause)) => sfn
                .send_task_failure()
                .task_token(&token)
                .error(error)
                .cause(cause)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
        };
        if let Err(e) = sent {
            // The task timed out or was answered elsewhere: the server rejects stale answers.
            tracing::warn!(error = %e, "the answer was not accepted");
        }
    }
}
