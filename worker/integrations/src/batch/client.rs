//! AWS Batch with `aws-sdk-batch`, shaped the way Step Functions' Batch integration reports it:
//! `batch:submitJob` returns `{"JobArn", "JobId", "JobName"}`; `batch:submitJob.sync` waits
//! (polling DescribeJobs) and returns the job's detail with PascalCase keys, or fails with
//! `States.TaskFailed` and that detail as the cause. Service errors are `Batch.<ErrorCode>`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_batch::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_batch::types::{
    ArrayJobDependency, ArrayProperties, ContainerOverrides, JobDependency, JobDetail, JobStatus,
    JobTimeout, KeyValuePair, ResourceRequirement, ResourceType, RetryStrategy,
};
use serde_json::{Map, Value, json};

use sluice_task::JobLedger;
use tokio_util::task::TaskTracker;

use crate::aws::ServiceConfig;

/// A failed Batch task in Step Functions terms.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct BatchFailure {
    pub error: String,
    pub cause: String,
}

fn invalid(cause: impl Into<String>) -> BatchFailure {
    BatchFailure {
        error: "States.Runtime".into(),
        cause: cause.into(),
    }
}

fn service_failure<E: ProvideErrorMetadata, R>(e: SdkError<E, R>) -> BatchFailure {
    let (code, message) = match e.as_service_error() {
        Some(service) => (
            service.code().unwrap_or("ServiceException").to_string(),
            service.message().unwrap_or("").to_string(),
        ),
        None => ("ServiceException".to_string(), format!("{e}")),
    };
    BatchFailure {
        cause: format!("{message} (Service: AWSBatch; Error Code: {code})"),
        error: format!("Batch.{code}"),
    }
}

/// The parameters of `batch:submitJob`, checked: the ASL names and shapes of SubmitJob's input.
fn str_field<'a>(params: &'a Value, name: &str) -> Result<Option<&'a str>, BatchFailure> {
    match params.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(format!("{name} must be a string, not {other}"))),
    }
}

fn int_field(params: &Value, name: &str) -> Result<Option<i32>, BatchFailure> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| invalid(format!("{name} must be an integer, not {v}"))),
    }
}

fn string_map(params: &Value, name: &str) -> Result<Option<HashMap<String, String>>, BatchFailure> {
    match params.get(name) {
        None => Ok(None),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(invalid(format!("{name}.{k} must be a string, not {other}"))),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(other) => Err(invalid(format!("{name} must be an object, not {other}"))),
    }
}

const SUBMIT_FIELDS: &[&str] = &[
    "JobName",
    "JobQueue",
    "JobDefinition",
    "Parameters",
    "ContainerOverrides",
    "ArrayProperties",
    "RetryStrategy",
    "Timeout",
    "DependsOn",
    "Tags",
    "PropagateTags",
];

fn container_overrides(v: &Value, sync: bool) -> Result<ContainerOverrides, BatchFailure> {
    let known = [
        "Command",
        "Environment",
        "Vcpus",
        "Memory",
        "InstanceType",
        "ResourceRequirements",
    ];
    if let Some(extra) = v
        .as_object()
        .and_then(|o| o.keys().find(|k| !known.contains(&k.as_str())))
    {
        return Err(invalid(format!(
            "ContainerOverrides.{extra} is not supported by sluice's Batch integration"
        )));
    }
    let mut b = ContainerOverrides::builder();
    if let Some(command) = v.get("Command") {
        let words = command
            .as_array()
            .and_then(|a| a.iter().map(|w| w.as_str().map(str::to_string)).collect())
            .ok_or_else(|| invalid("ContainerOverrides.Command must be an array of strings"))?;
        b = b.set_command(Some(words));
    }
    let mut environment = Vec::new();
    for pair in v
        .get("Environment")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        environment.push(
            KeyValuePair::builder()
                .set_name(pair.get("Name").and_then(Value::as_str).map(str::to_string))
                .set_value(
                    pair.get("Value")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                )
                .build(),
        );
    }
    // Step Functions marks the jobs it runs synchronously.
    if sync {
        environment.push(
            KeyValuePair::builder()
                .name("MANAGED_BY_AWS")
                .value("STARTED_BY_STEP_FUNCTIONS")
                .build(),
        );
    }
    if !environment.is_empty() {
        b = b.set_environment(Some(environment));
    }
    for req in v
        .get("ResourceRequirements")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        b = b.resource_requirements(
            ResourceRequirement::builder()
                .set_type(
                    req.get("Type")
                        .and_then(Value::as_str)
                        .map(ResourceType::from),
                )
                .set_value(req.get("Value").and_then(Value::as_str).map(str::to_string))
                .build(),
        );
    }
    // Vcpus and Memory are deprecated in favour of ResourceRequirements, but definitions
    // written for the older API still pass them and Batch still honours them.
    #[allow(deprecated)]
    let b = b
        .set_vcpus(int_field(v, "Vcpus")?)
        .set_memory(int_field(v, "Memory")?);
    Ok(
        b.set_instance_type(str_field(v, "InstanceType")?.map(str::to_string))
            .build(),
    )
}

/// What SubmitJob returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    pub job_arn: Option<String>,
    pub job_id: String,
    pub job_name: String,
}

impl Submitted {
    /// The request-response result of `batch:submitJob`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(arn) = &self.job_arn {
            m.insert("JobArn".into(), json!(arn));
        }
        m.insert("JobId".into(), json!(self.job_id));
        m.insert("JobName".into(), json!(self.job_name));
        Value::Object(m)
    }
}

/// Calls AWS Batch.
#[derive(Clone)]
pub struct Batch {
    client: aws_sdk_batch::Client,
    /// How often `.sync` asks DescribeJobs whether the job ended.
    pub poll: Duration,
    /// Where TerminateJob calls of abandoned waits run; their owner waits for them.
    cleanup: TaskTracker,
}

impl Batch {
    /// A client for `config` (endpoint, region, credentials), polling every `poll`.
    pub fn new(config: &ServiceConfig, poll: Duration, cleanup: TaskTracker) -> Self {
        Batch {
            client: aws_sdk_batch::Client::new(&config.sdk_config()),
            poll,
            cleanup,
        }
    }

    /// SubmitJob with the Task's parameters (ASL names: `JobName`, `JobQueue`, …).
    pub async fn submit(&self, params: &Value, sync: bool) -> Result<Submitted, BatchFailure> {
        let obj = params
            .as_object()
            .ok_or_else(|| invalid("batch:submitJob needs an object of parameters"))?;
        if let Some(extra) = obj.keys().find(|k| !SUBMIT_FIELDS.contains(&k.as_str())) {
            return Err(invalid(format!(
                "the parameter {extra} is not supported by sluice's Batch integration (supported: {})",
                SUBMIT_FIELDS.join(", ")
            )));
        }
        let mut req = self.client.submit_job();
        for name in ["JobName", "JobQueue", "JobDefinition"] {
            if str_field(params, name)?.is_none() {
                return Err(invalid(format!("batch:submitJob needs {name}")));
            }
        }
        req = req
            .set_job_name(str_field(params, "JobName")?.map(str::to_string))
            .set_job_queue(str_field(params, "JobQueue")?.map(str::to_string))
            .set_job_definition(str_field(params, "JobDefinition")?.map(str::to_string))
            .set_parameters(string_map(params, "Parameters")?)
            .set_tags(string_map(params, "Tags")?)
            .set_propagate_tags(params.get("PropagateTags").and_then(Value::as_bool));
        match params.get("ContainerOverrides") {
            Some(v) => req = req.container_overrides(container_overrides(v, sync)?),
            None if sync => req = req.container_overrides(container_overrides(&json!({}), sync)?),
            None => {}
        }
        if let Some(v) = params.get("ArrayProperties") {
            req = req.array_properties(
                ArrayProperties::builder()
                    .set_size(int_field(v, "Size")?)
                    .build(),
            );
        }
        if let Some(v) = params.get("RetryStrategy") {
            req = req.retry_strategy(
                RetryStrategy::builder()
                    .set_attempts(int_field(v, "Attempts")?)
                    .build(),
            );
        }
        if let Some(v) = params.get("Timeout") {
            req = req.timeout(
                JobTimeout::builder()
                    .set_attempt_duration_seconds(int_field(v, "AttemptDurationSeconds")?)
                    .build(),
            );
        }
        for dep in params
            .get("DependsOn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            req = req.depends_on(
                JobDependency::builder()
                    .set_job_id(dep.get("JobId").and_then(Value::as_str).map(str::to_string))
                    .set_type(
                        dep.get("Type")
                            .and_then(Value::as_str)
                            .map(ArrayJobDependency::from),
                    )
                    .build(),
            );
        }
        let out = req.send().await.map_err(service_failure)?;
        Ok(Submitted {
            job_arn: out.job_arn().map(str::to_string),
            job_id: out.job_id().unwrap_or_default().to_string(),
            job_name: out.job_name().unwrap_or_default().to_string(),
        })
    }

    /// The job's detail, if Batch knows it.
    pub async fn describe(&self, job_id: &str) -> Result<Option<JobDetail>, BatchFailure> {
        let out = self
            .client
            .describe_jobs()
            .jobs(job_id)
            .send()
            .await
            .map_err(service_failure)?;
        Ok(out.jobs().first().cloned())
    }

    /// `batch:submitJob.sync`: submit, wait for the job to end, and report it. If the future
    /// is dropped first (a timeout, a stopped execution), the job is terminated.
    pub async fn run_sync(&self, params: &Value) -> Result<Value, BatchFailure> {
        let submitted = self.submit(params, true).await?;
        self.wait(&submitted, None).await
    }

    /// The second half of `.sync`: poll DescribeJobs until the submitted job ends, and report
    /// it. If the future is dropped first, the job is terminated, unless `ledger` (which
    /// recorded the job) says the orchestrator is shutting down by then: the next one waits
    /// for the job.
    pub async fn wait(
        &self,
        submitted: &Submitted,
        ledger: Option<Arc<dyn JobLedger>>,
    ) -> Result<Value, BatchFailure> {
        let mut guard = Terminate {
            client: Some(self.client.clone()),
            job_id: submitted.job_id.clone(),
            keep: ledger,
            cleanup: self.cleanup.clone(),
        };
        loop {
            tokio::time::sleep(self.poll).await;
            let Some(detail) = self.describe(&submitted.job_id).await? else {
                continue;
            };
            match detail.status() {
                Some(JobStatus::Succeeded) => {
                    guard.client = None;
                    return Ok(job_json(&detail));
                }
                Some(JobStatus::Failed) => {
                    guard.client = None;
                    return Err(BatchFailure {
                        error: "States.TaskFailed".into(),
                        cause: job_json(&detail).to_string(),
                    });
                }
                _ => {}
            }
        }
    }
}

/// Terminates a job whose `.sync` wait was abandoned.
struct Terminate {
    client: Option<aws_sdk_batch::Client>,
    job_id: String,
    /// When it says it is shutting down, the wait is abandoned but the job is not.
    keep: Option<Arc<dyn JobLedger>>,
    /// Owns the TerminateJob call, which outlives the dropped wait.
    cleanup: TaskTracker,
}

impl Drop for Terminate {
    fn drop(&mut self) {
        if self.keep.as_ref().is_some_and(|k| k.shutting_down()) {
            return;
        }
        // Outside a runtime nothing can be sent (the process is ending anyway).
        let (Some(client), Ok(_)) = (self.client.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let job_id = std::mem::take(&mut self.job_id);
        self.cleanup.spawn(async move {
            let done = client
                .terminate_job()
                .job_id(&job_id)
                .reason("Step Functions task stopped")
                .send()
                .await;
            if let Err(e) = done {
                tracing::warn!(job = %job_id, error = %e, "could not terminate an abandoned Batch job");
            }
        });
    }
}

fn insert<T: Into<Value>>(m: &mut Map<String, Value>, key: &str, v: Option<T>) {
    if let Some(v) = v {
        m.insert(key.into(), v.into());
    }
}

fn pairs(list: &[KeyValuePair]) -> Value {
    list.iter()
        .map(|p| json!({"Name": p.name(), "Value": p.value()}))
        .collect()
}

/// A job's detail as Step Functions returns it: DescribeJobs' fields with PascalCase keys,
/// times in epoch milliseconds.
pub fn job_json(d: &JobDetail) -> Value {
    let mut m = Map::new();
    let attempts: Vec<Value> = d
        .attempts()
        .iter()
        .map(|a| {
            let mut am = Map::new();
            if let Some(c) = a.container() {
                let mut cm = Map::new();
                insert(&mut cm, "ContainerInstanceArn", c.container_instance_arn());
                insert(&mut cm, "ExitCode", c.exit_code());
                insert(&mut cm, "LogStreamName", c.log_stream_name());
                insert(&mut cm, "Reason", c.reason());
                insert(&mut cm, "TaskArn", c.task_arn());
                am.insert("Container".into(), Value::Object(cm));
            }
            insert(&mut am, "StartedAt", a.started_at());
            insert(&mut am, "StatusReason", a.status_reason());
            insert(&mut am, "StoppedAt", a.stopped_at());
            Value::Object(am)
        })
        .collect();
    m.insert("Attempts".into(), Value::Array(attempts));
    if let Some(c) = d.container() {
        let mut cm = Map::new();
        cm.insert("Command".into(), json!(c.command()));
        cm.insert("Environment".into(), pairs(c.environment()));
        insert(&mut cm, "ExitCode", c.exit_code());
        insert(&mut cm, "Image", c.image());
        insert(&mut cm, "InstanceType", c.instance_type());
        insert(&mut cm, "JobRoleArn", c.job_role_arn());
        insert(&mut cm, "LogStreamName", c.log_stream_name());
        insert(&mut cm, "Memory", c.memory());
        insert(&mut cm, "Reason", c.reason());
        insert(&mut cm, "TaskArn", c.task_arn());
        insert(&mut cm, "Vcpus", c.vcpus());
        m.insert("Container".into(), Value::Object(cm));
    }
    insert(&mut m, "CreatedAt", d.created_at());
    m.insert(
        "DependsOn".into(),
        d.depends_on()
            .iter()
            .map(|dep| json!({"JobId": dep.job_id(), "Type": dep.r#type().map(|t| t.as_str())}))
            .collect(),
    );
    insert(&mut m, "JobArn", d.job_arn());
    insert(&mut m, "JobDefinition", d.job_definition());
    insert(&mut m, "JobId", d.job_id());
    insert(&mut m, "JobName", d.job_name());
    insert(&mut m, "JobQueue", d.job_queue());
    if let Some(p) = d.parameters() {
        let sorted: std::collections::BTreeMap<_, _> = p.iter().collect();
        m.insert("Parameters".into(), json!(sorted));
    }
    insert(&mut m, "PropagateTags", d.propagate_tags());
    if let Some(r) = d.retry_strategy() {
        m.insert("RetryStrategy".into(), json!({"Attempts": r.attempts()}));
    }
    insert(&mut m, "StartedAt", d.started_at());
    insert(&mut m, "Status", d.status().map(|s| s.as_str().to_string()));
    insert(&mut m, "StatusReason", d.status_reason());
    insert(&mut m, "StoppedAt", d.stopped_at());
    if let Some(t) = d.tags() {
        let sorted: std::collections::BTreeMap<_, _> = t.iter().collect();
        m.insert("Tags".into(), json!(sorted));
    }
    if let Some(t) = d.timeout() {
        m.insert(
            "Timeout".into(),
            json!({"AttemptDurationSeconds": t.attempt_duration_seconds()}),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_detail_is_pascal_cased() {
        let detail = JobDetail::builder()
            .job_id("j-1")
            .job_name("train")
            .job_queue("q")
            .job_definition("def:1")
            .status(JobStatus::Failed)
            .status_reason("Essential container in task exited")
            .started_at(5)
            .build();
        let v = job_json(&detail);
        assert_eq!(v["JobId"], "j-1");
        assert_eq!(v["Status"], "FAILED");
        assert_eq!(v["StartedAt"], 5);
        assert_eq!(v["Attempts"], json!([]));
    }
}
