//! Task states on AWS Batch (`arn:aws:states:::batch:submitJob` and `…:submitJob.sync`),
//! handed to the worker crate's Batch client. `.sync` waits in the orchestrator, polling
//! DescribeJobs, as Step Functions does.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_orchestrator::engine::{TaskFailure, TaskHandler, TaskProgress, TaskRequest};
use sluice_worker::aws::ServiceConfig;
use sluice_worker::batch::Batch;

/// Serves Batch Task resources.
pub struct BatchTasks {
    batch: Batch,
}

/// Which Batch resource a Task names, in any partition.
fn pattern(resource: &str) -> Option<bool> {
    let rest = resource.strip_prefix("arn:")?;
    let (_, name) = rest.split_once(":states:::batch:")?;
    match name {
        "submitJob" => Some(false),
        "submitJob.sync" => Some(true),
        _ => None,
    }
}

impl BatchTasks {
    /// A handler calling Batch as configured, polling `.sync` jobs every `poll`.
    pub fn new(config: &ServiceConfig, poll: Duration) -> Self {
        BatchTasks {
            batch: Batch::new(config, poll),
        }
    }

    /// From the environment, when a Batch endpoint or AWS credentials are set:
    /// `SLUICE_BATCH_ENDPOINT` (or `AWS_ENDPOINT_URL_BATCH`, `AWS_ENDPOINT_URL`), the usual
    /// region and credential variables, and `SLUICE_BATCH_POLL_SECONDS` (default 5).
    pub fn from_env() -> Option<Self> {
        let config = ServiceConfig::from_env(&["SLUICE_BATCH_ENDPOINT", "AWS_ENDPOINT_URL_BATCH"])?;
        let poll = std::env::var("SLUICE_BATCH_POLL_SECONDS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(5.0);
        Some(Self::new(&config, Duration::from_secs_f64(poll)))
    }
}

impl TaskHandler for BatchTasks {
    fn handles(&self, resource: &str) -> bool {
        pattern(resource).is_some()
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let outcome = match pattern(&request.resource) {
                Some(true) => match self.batch.submit(&request.input, true).await {
                    Ok(submitted) => {
                        if let Some(progress) = &request.progress {
                            let _ = progress.send(TaskProgress::Submitted {
                                output: submitted.to_json(),
                            });
                        }
                        self.batch.wait(&submitted).await
                    }
                    Err(f) => Err(f),
                },
                _ => self
                    .batch
                    .submit(&request.input, false)
                    .await
                    .map(|s| s.to_json()),
            };
            outcome.map_err(|f| TaskFailure::new(f.error, f.cause))
        })
    }
}
