//! `sluice worker`: polls Step Functions activities (on `sluice serve` or on AWS itself) with
//! the official `aws-sdk-sfn` client, runs each task through the integrations' dispatcher
//! (the built-in activities: `sluice-sql`, `sluice-lambda`, `sluice-echo`; see
//! `sluice_integrations::builtin`), heartbeats while it runs, and answers with
//! SendTaskSuccess / SendTaskFailure.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use serde_json::Value;
use sluice_integrations::{Builtins, DispatchOptions, Integrations};
use sluice_task::{Dispatcher, Resource, TaskRequest};

/// Flags of `sluice worker`.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Step Functions endpoint (`sluice serve`'s URL, or AWS's).
    pub endpoint: String,
    pub region: String,
    /// How requests to the endpoint are signed.
    pub credentials: sluice_integrations::aws::SharedCredentials,
    /// Activity names (created if missing) or ARNs.
    pub activities: Vec<String>,
    /// Tasks run at once per activity.
    pub concurrency: usize,
    pub worker_name: String,
    /// How often a running task sends a heartbeat.
    pub heartbeat: Duration,
    /// The services the built-in handlers call (Lambda for `sluice-lambda`, S3 for SQL).
    pub integrations: Integrations,
    /// Where tasks are counted (`--metrics-listen`).
    pub metrics: Option<std::sync::Arc<crate::metrics::WorkerMetrics>>,
}

/// Why the worker could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("no built-in handler serves activity {0:?}; built-in: {builtin}", builtin = sluice_integrations::builtin::NAMES.join(", "))]
    NoHandler(String),
    #[error("the sluice-lambda handler needs a Lambda endpoint or AWS credentials")]
    NoLambda,
    #[error("registering activity {name:?}: {message}")]
    Register { name: String, message: String },
}

/// The Step Functions client the pollers share, as `sluice worker` configures it.
pub fn sfn_client(options: &WorkerOptions) -> aws_sdk_sfn::Client {
    let config = sluice_integrations::aws::ServiceConfig {
        endpoint: Some(options.endpoint.clone()),
        region: options.region.clone(),
        credentials: options.credentials.clone(),
    };
    // A long poll sends nothing for up to a minute by design: stall detection only costs.
    let sfn = aws_sdk_sfn::config::Builder::from(&config.sdk_config())
        .stalled_stream_protection(aws_sdk_sfn::config::StalledStreamProtectionConfig::disabled())
        .build();
    aws_sdk_sfn::Client::from_conf(sfn)
}

/// Run until `stop` is cancelled: then stop polling at once (an open long poll is dropped),
/// finish the tasks in hand, and return.
pub async fn run(options: WorkerOptions, stop: CancellationToken) -> Result<(), WorkerError> {
    let sfn = sfn_client(&options);
    let dispatcher = Arc::new(options.integrations.dispatcher(DispatchOptions {
        first: Vec::new(),
        jobs: None,
        builtins: Builtins::Polled,
        // The built-in activities start nothing that outlives a task.
        cleanup: TaskTracker::new(),
    }));
    let pollers = TaskTracker::new();
    for activity in &options.activities {
        let name = activity.rsplit(':').next().unwrap_or(activity).to_string();
        if !sluice_integrations::builtin::NAMES.contains(&name.as_str()) {
            return Err(WorkerError::NoHandler(name));
        }
        if name == "sluice-lambda" && options.integrations.lambda.is_none() {
            return Err(WorkerError::NoLambda);
        }
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
            pollers.spawn(poll(
                sfn.clone(),
                arn.clone(),
                dispatcher.clone(),
                options.worker_name.clone(),
                options.heartbeat,
                options.metrics.clone(),
                stop.clone(),
            ));
        }
    }
    pollers.close();
    pollers.wait().await;
    Ok(())
}

async fn poll(
    sfn: aws_sdk_sfn::Client,
    activity: String,
    dispatcher: Arc<Dispatcher>,
    worker: String,
    heartbeat: Duration,
    metrics: Option<Arc<crate::metrics::WorkerMetrics>>,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        let polled = tokio::select! {
            polled = sfn
                .get_activity_task()
                .activity_arn(&activity)
                .worker_name(&worker)
                .send() => polled,
            // A long poll lasts up to a minute: a stopping worker does not wait for it. A
            // task the server handed out just then comes back when its lease expires.
            _ = stop.cancelled() => break,
        };
        let task = match polled {
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
        let work = dispatcher.dispatch(TaskRequest {
            resource: Resource::parse(&activity),
            input,
            state_name: String::new(),
            attempt: 0,
            task_token: Some(token.clone()),
            execution_arn: String::new(),
            heartbeat_seconds: None,
            timeout_seconds: None,
            credentials: None,
            progress: None,
            resume_key: None,
        });
        tokio::pin!(work);
        let name = activity
            .rsplit(":activity:")
            .next()
            .unwrap_or(&activity)
            .to_string();
        let started = std::time::Instant::now();
        if let Some(m) = &metrics {
            m.running.with_label_values(&[&name]).inc();
        }
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
        if let Some(m) = &metrics {
            m.running.with_label_values(&[&name]).dec();
            let result = if outcome.is_ok() {
                "succeeded"
            } else {
                "failed"
            };
            m.tasks.with_label_values(&[&name, result]).inc();
            m.task_duration
                .with_label_values(&[&name])
                .observe(started.elapsed().as_secs_f64());
        }
        let sent = match outcome {
            Ok(output) => sfn
                .send_task_success()
                .task_token(&token)
                .output(output.to_string())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            Err(failure) => sfn
                .send_task_failure()
                .task_token(&token)
                .error(failure.error)
                .cause(failure.cause.unwrap_or_default())
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
