//! The store as the [`JobLedger`] of `.sync` integrations: a submitted job is kept as a task
//! row that no worker polls (it has no activity) and whose token (the step's replay-stable
//! resume key) is never handed out, holding the submission response.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_engine::engine::task::{JobLedger, RecordedJob, TaskFailure, TaskRequest};

use super::tasks::finished;
use crate::store::{Store, TaskOutcome, TaskRecord, TaskStatus};
use crate::time::now;

/// Jobs recorded in the store, shared by every replica on it.
pub struct StoreJobs {
    pub store: Arc<dyn Store>,
    /// Set when this server shuts down (see [`JobLedger::shutting_down`]).
    pub shutting_down: Arc<AtomicBool>,
}

impl JobLedger for StoreJobs {
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<RecordedJob>> {
        Box::pin(async move {
            let task = self.store.get_task(key).await.ok().flatten()?;
            Some(RecordedJob {
                submission: serde_json::from_str(&task.input).ok()?,
                outcome: finished(&task),
            })
        })
    }

    fn record<'a>(
        &'a self,
        key: &'a str,
        request: &'a TaskRequest,
        submission: &'a Value,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let record = TaskRecord {
                token: key.to_string(),
                activity_arn: None,
                execution_arn: request.execution_arn.clone(),
                state_name: request.state_name.clone(),
                input: submission.to_string(),
                status: TaskStatus::Pending,
                worker: None,
                lease_until: None,
                heartbeat_seconds: None,
                last_heartbeat: None,
                output: None,
                error: None,
                cause: None,
                created: now(),
            };
            if let Err(e) = self.store.put_task(&record).await {
                // Without the record a restart submits the job again: worth a warning.
                tracing::warn!(execution = %request.execution_arn, state = %request.state_name, error = %e, "recording a submitted job failed");
            }
        })
    }

    fn finish<'a>(
        &'a self,
        key: &'a str,
        outcome: &'a Result<Value, TaskFailure>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let ended = match outcome {
                Ok(v) => TaskOutcome::Succeeded(v.to_string()),
                Err(f) => TaskOutcome::Failed {
                    error: Some(f.error.clone()),
                    cause: f.cause.clone(),
                },
            };
            if let Err(e) = self.store.complete_task(key, &ended).await {
                tracing::warn!(error = %e, "recording how a job ended failed");
            }
        })
    }

    fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}
