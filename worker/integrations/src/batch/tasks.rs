//! Task states on AWS Batch (`arn:aws:states:::batch:submitJob` and `…:submitJob.sync`),
//! handed to the worker crate's Batch client. `.sync` waits in the orchestrator, polling
//! DescribeJobs, as Step Functions does. Under `sluice serve` a `.sync` job is recorded in the
//! store once submitted, so a server that restarts goes on waiting for the same job.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_task::{
    JobLedger, Pattern, Resource, TaskFailure, TaskHandler, TaskProgress, TaskRequest,
};

use tokio_util::task::TaskTracker;

use super::{Batch, BatchFailure, Submitted};
use crate::aws::ServiceConfig;

/// Serves Batch Task resources.
pub struct BatchTasks {
    batch: Batch,
    /// Where `.sync` jobs are recorded (`sluice serve`); `None` keeps them in memory only.
    jobs: Option<Arc<dyn JobLedger>>,
}

/// Which Batch resource a Task names, in any partition: `Some(true)` for `.sync`.
fn pattern(resource: &Resource) -> Option<bool> {
    match resource.service_action()? {
        ("batch", "submitJob", Pattern::RequestResponse) => Some(false),
        ("batch", "submitJob", Pattern::Sync) => Some(true),
        _ => None,
    }
}

impl BatchTasks {
    /// A handler calling Batch as configured, polling `.sync` jobs every `poll`.
    pub fn new(config: &ServiceConfig, poll: Duration, cleanup: TaskTracker) -> Self {
        BatchTasks {
            batch: Batch::new(config, poll, cleanup),
            jobs: None,
        }
    }

    /// Record `.sync` jobs in `ledger`, so they outlive a restart.
    pub fn recorded_in(mut self, ledger: Arc<dyn JobLedger>) -> Self {
        self.jobs = Some(ledger);
        self
    }

    /// `submitJob.sync`: submit (or find the job submitted before a restart), report the
    /// submission, wait for the job to end, and record how it ended.
    async fn run_sync(&self, request: &TaskRequest) -> Result<Value, BatchFailure> {
        let record = self.jobs.as_ref().zip(request.resume_key.as_deref());
        let earlier = match record {
            Some((ledger, key)) => ledger.lookup(key).await,
            None => None,
        };
        let submitted = match earlier.as_ref().and_then(|j| submission(&j.submission)) {
            Some(submitted) => submitted,
            None => {
                let submitted = self.batch.submit(&request.input, true).await?;
                if let Some((ledger, key)) = record {
                    ledger.record(key, request, &submitted.to_json()).await;
                }
                submitted
            }
        };
        if let Some(progress) = &request.progress {
            let _ = progress.send(TaskProgress::Submitted {
                output: submitted.to_json(),
            });
        }
        if let Some(done) = earlier.and_then(|j| j.outcome) {
            return done.map_err(|f| BatchFailure {
                error: f.error,
                cause: f.cause.unwrap_or_default(),
            });
        }
        // Only a recorded job is left running at shutdown: the next server waits for it.
        let keep = record.map(|(ledger, _)| ledger.clone());
        let outcome = self.batch.wait(&submitted, keep).await;
        if let Some((ledger, key)) = record {
            let ended = outcome
                .clone()
                .map_err(|f| TaskFailure::new(f.error, f.cause));
            ledger.finish(key, &ended).await;
        }
        outcome
    }
}

/// The SubmitJob response a job record holds.
fn submission(v: &Value) -> Option<Submitted> {
    Some(Submitted {
        job_arn: v.get("JobArn").and_then(Value::as_str).map(str::to_string),
        job_id: v.get("JobId")?.as_str()?.to_string(),
        job_name: v.get("JobName").and_then(Value::as_str)?.to_string(),
    })
}

impl TaskHandler for BatchTasks {
    fn handles(&self, resource: &Resource) -> bool {
        pattern(resource).is_some()
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let outcome = match pattern(&request.resource) {
                Some(true) => self.run_sync(&request).await,
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
