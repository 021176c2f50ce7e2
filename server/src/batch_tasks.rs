//! Task states on AWS Batch (`arn:aws:states:::batch:submitJob` and `…:submitJob.sync`),
//! handed to the worker crate's Batch client. `.sync` waits in the orchestrator, polling
//! DescribeJobs, as Step Functions does. Under `sluice serve` a `.sync` job is recorded in the
//! store once submitted, so a server that restarts goes on waiting for the same job.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_orchestrator::engine::{TaskFailure, TaskHandler, TaskProgress, TaskRequest};
use sluice_worker::aws::ServiceConfig;
use sluice_worker::batch::{Batch, BatchFailure, Submitted};

use crate::store::{Store, TaskOutcome, TaskRecord, task_status};

/// Serves Batch Task resources.
pub struct BatchTasks {
    batch: Batch,
    /// Where `.sync` jobs are recorded (`sluice serve`); `None` keeps them in memory only.
    jobs: Option<Arc<dyn Store>>,
    /// Set when the server shuts down: recorded jobs are then left running for the next one.
    shutting_down: Option<Arc<AtomicBool>>,
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
            jobs: None,
            shutting_down: None,
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

    /// Record `.sync` jobs in `store`, so they outlive a restart; once `shutting_down` is
    /// set, an abandoned wait leaves its job running (a stopped execution still ends it).
    pub fn recorded_in(mut self, store: Arc<dyn Store>, shutting_down: Arc<AtomicBool>) -> Self {
        self.jobs = Some(store);
        self.shutting_down = Some(shutting_down);
        self
    }

    /// `submitJob.sync`: submit (or find the job submitted before a restart), report the
    /// submission, wait for the job to end, and record how it ended.
    async fn run_sync(&self, request: &TaskRequest) -> Result<Value, BatchFailure> {
        let record = self.jobs.as_ref().zip(request.resume_key.as_deref());
        let earlier = match record {
            Some((store, key)) => store.get_task(key).await.ok().flatten(),
            None => None,
        };
        let submitted = match earlier.as_ref().and_then(|t| submission(&t.input)) {
            Some(submitted) => submitted,
            None => {
                let submitted = self.batch.submit(&request.input, true).await?;
                if let Some((store, key)) = record {
                    // Best effort: without the record, a restart submits the job again.
                    let _ = store.put_task(&job_record(key, request, &submitted)).await;
                }
                submitted
            }
        };
        if let Some(progress) = &request.progress {
            let _ = progress.send(TaskProgress::Submitted {
                output: submitted.to_json(),
            });
        }
        if let Some(done) = earlier.as_ref().and_then(crate::service::tasks::finished) {
            return done.map_err(|f| BatchFailure {
                error: f.error,
                cause: f.cause.unwrap_or_default(),
            });
        }
        let keep = record.and(self.shutting_down.clone());
        let outcome = self.batch.wait(&submitted, keep).await;
        if let Some((store, key)) = record {
            let ended = match &outcome {
                Ok(v) => TaskOutcome::Succeeded(v.to_string()),
                Err(f) => TaskOutcome::Failed {
                    error: Some(f.error.clone()),
                    cause: Some(f.cause.clone()),
                },
            };
            let _ = store.complete_task(key, &ended).await;
        }
        outcome
    }
}

/// The stored record of a submitted `.sync` job: a task row that no worker polls (it has no
/// activity) and whose token is never handed out, holding the SubmitJob response.
fn job_record(key: &str, request: &TaskRequest, submitted: &Submitted) -> TaskRecord {
    TaskRecord {
        token: key.to_string(),
        activity_arn: None,
        execution_arn: request.execution_arn.clone(),
        state_name: request.state_name.clone(),
        input: submitted.to_json().to_string(),
        status: task_status::PENDING.to_string(),
        worker: None,
        lease_until: None,
        heartbeat_seconds: None,
        last_heartbeat: None,
        output: None,
        error: None,
        cause: None,
        created: crate::time::now(),
    }
}

/// The SubmitJob response a job record holds.
fn submission(text: &str) -> Option<Submitted> {
    let v: Value = serde_json::from_str(text).ok()?;
    Some(Submitted {
        job_arn: v.get("JobArn").and_then(Value::as_str).map(str::to_string),
        job_id: v.get("JobId")?.as_str()?.to_string(),
        job_name: v.get("JobName").and_then(Value::as_str)?.to_string(),
    })
}

impl TaskHandler for BatchTasks {
    fn handles(&self, resource: &str) -> bool {
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
