//! Services whose `.sync` form starts a job and waits for it, over the AWS JSON protocol:
//! Athena (`athena:startQueryExecution`, and `getQueryExecution`, `getQueryResults`,
//! `stopQueryExecution`), Glue (`glue:startJobRun`) and ECS (`ecs:runTask`, also
//! `.waitForTaskToken`). Request-response calls return the API's response with the SDK
//! metadata. `.sync` polls until the job ends, as Batch's does: under `sluice serve` the
//! started job is recorded (`JobLedger`), so a restarted server waits for the same job
//! instead of starting another. A job that ends badly fails with `States.TaskFailed`, its
//! last description as the cause.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use sluice_task::{
    CallbackStarter, JobLedger, Pattern, Resource, TaskFailure, TaskHandler, TaskProgress,
    TaskRequest,
};

use crate::awsjson::{self, AwsJson, CallError, JsonService, api_action, with_sdk_metadata};

/// One service's job API.
struct Kind {
    /// The service in resources (`athena`) and its JSON-protocol name (`athena`).
    service: &'static str,
    sdk_name: &'static str,
    /// Request-response actions served.
    actions: &'static [&'static str],
    /// The action whose `.sync` form waits.
    sync_action: &'static str,
    /// Error names: `Athena`, `AmazonAthena`, `AmazonAthenaException`.
    prefix: &'static str,
    java_service: &'static str,
    generic: &'static str,
}

const KINDS: &[Kind] = &[
    Kind {
        service: "athena",
        sdk_name: "athena",
        actions: &[
            "startQueryExecution",
            "stopQueryExecution",
            "getQueryExecution",
            "getQueryResults",
        ],
        sync_action: "startQueryExecution",
        prefix: "Athena",
        java_service: "AmazonAthena",
        generic: "AmazonAthenaException",
    },
    Kind {
        service: "glue",
        sdk_name: "glue",
        actions: &["startJobRun"],
        sync_action: "startJobRun",
        prefix: "Glue",
        java_service: "AWSGlue",
        generic: "AWSGlueException",
    },
    Kind {
        service: "ecs",
        sdk_name: "ecs",
        actions: &["runTask"],
        sync_action: "runTask",
        prefix: "ECS",
        java_service: "AmazonECS",
        generic: "AmazonECSException",
    },
];

/// How a polled job stands.
enum Progress {
    Running,
    Succeeded(Value),
    Failed(Value),
}

/// The call that describes the job `started` (the start response, with the request).
fn describe_call(kind: &Kind, request: &Value, started: &Value) -> Option<(&'static str, Value)> {
    match kind.service {
        "athena" => Some((
            "GetQueryExecution",
            json!({"QueryExecutionId": started.get("QueryExecutionId")?}),
        )),
        "glue" => Some((
            "GetJobRun",
            json!({"JobName": request.get("JobName")?, "RunId": started.get("JobRunId")?}),
        )),
        "ecs" => {
            let task = started.pointer("/Tasks/0/TaskArn")?;
            let mut members = json!({"Tasks": [task]});
            if let Some(cluster) = request.get("Cluster") {
                members["Cluster"] = cluster.clone();
            }
            Some(("DescribeTasks", members))
        }
        _ => None,
    }
}

/// What a description says about the job.
fn progress(kind: &Kind, request: &Value, described: &Value) -> Progress {
    match kind.service {
        "athena" => {
            let state = described
                .pointer("/QueryExecution/Status/State")
                .and_then(Value::as_str)
                .unwrap_or("");
            match state {
                "SUCCEEDED" => Progress::Succeeded(described.clone()),
                "FAILED" | "CANCELLED" => Progress::Failed(described.clone()),
                _ => Progress::Running,
            }
        }
        "glue" => {
            let mut run = described
                .get("JobRun")
                .cloned()
                .unwrap_or_else(|| json!({}));
            if let (Some(fields), Some(name)) = (run.as_object_mut(), request.get("JobName")) {
                fields.insert("JobName".into(), name.clone());
            }
            match run.get("JobRunState").and_then(Value::as_str).unwrap_or("") {
                "SUCCEEDED" | "STOPPED" => Progress::Succeeded(run),
                "FAILED" | "TIMEOUT" | "ERROR" => Progress::Failed(run),
                _ => Progress::Running,
            }
        }
        "ecs" => {
            let task = described
                .pointer("/Tasks/0")
                .cloned()
                .unwrap_or_else(|| json!({}));
            if task.get("LastStatus").and_then(Value::as_str) != Some("STOPPED") {
                return Progress::Running;
            }
            // An essential container that exited non-zero fails the task.
            let failed = task
                .get("Containers")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.get("ExitCode")
                            .and_then(Value::as_i64)
                            .is_some_and(|code| code != 0)
                    })
                });
            if failed {
                Progress::Failed(task)
            } else {
                Progress::Succeeded(task)
            }
        }
        _ => Progress::Failed(described.clone()),
    }
}

/// Serves the Athena, Glue and ECS resources.
pub struct JobTasks {
    aws: AwsJson,
    poll: Duration,
    jobs: Option<Arc<dyn JobLedger>>,
}

impl JobTasks {
    /// Jobs polled every `poll`.
    pub fn new(aws: AwsJson, poll: Duration) -> Self {
        JobTasks {
            aws,
            poll,
            jobs: None,
        }
    }

    /// Record `.sync` jobs in `ledger`, so they outlive a restart.
    pub fn recorded_in(mut self, ledger: Option<Arc<dyn JobLedger>>) -> Self {
        self.jobs = ledger;
        self
    }

    fn service(kind: &Kind) -> Result<&'static JsonService, TaskFailure> {
        awsjson::service(kind.sdk_name).ok_or_else(|| {
            TaskFailure::new("States.Runtime", format!("{} is not known", kind.prefix))
        })
    }

    async fn call(
        &self,
        kind: &Kind,
        action: &str,
        members: &Value,
    ) -> Result<awsjson::JsonResponse, TaskFailure> {
        let service = Self::service(kind)?;
        self.aws
            .call(service, action, members)
            .await
            .map_err(|e| failure(kind, service, &e))
    }

    async fn request_response(
        &self,
        kind: &Kind,
        action: &str,
        input: &Value,
    ) -> Result<Value, TaskFailure> {
        let response = self.call(kind, &api_action(action), input).await?;
        Ok(with_sdk_metadata(response.body.clone(), &response))
    }

    async fn run_sync(&self, kind: &Kind, request: &TaskRequest) -> Result<Value, TaskFailure> {
        let input = &request.input;
        let mut members = input.clone();
        if kind.service == "ecs"
            && let Some(fields) = members.as_object_mut()
        {
            // Step Functions marks the tasks it starts.
            fields.insert("StartedBy".into(), json!("AWS Step Functions"));
        }
        let record = self.jobs.as_ref().zip(request.resume_key.as_deref());
        let earlier = match record {
            Some((ledger, key)) => ledger.lookup(key).await,
            None => None,
        };
        if let Some(done) = earlier.as_ref().and_then(|j| j.outcome.clone()) {
            return done;
        }
        let started = match earlier {
            Some(job) => job.submission,
            None => {
                let response = self
                    .call(kind, &api_action(kind.sync_action), &members)
                    .await?;
                let started = with_sdk_metadata(response.body.clone(), &response);
                if let Some((ledger, key)) = record {
                    ledger.record(key, request, &started).await;
                }
                started
            }
        };
        if let Some(progress) = &request.progress {
            let _ = progress.send(TaskProgress::Submitted {
                output: started.clone(),
            });
        }
        let (action, describe) = describe_call(kind, input, &started).ok_or_else(|| {
            TaskFailure::new(
                "States.Runtime",
                format!(
                    "the {} response names no job to wait for: {started}",
                    kind.prefix
                ),
            )
        })?;
        let outcome = loop {
            let described = self.call(kind, action, &describe).await?;
            match progress(kind, input, &described.body) {
                Progress::Running => tokio::time::sleep(self.poll).await,
                Progress::Succeeded(v) => break Ok(v),
                Progress::Failed(v) => {
                    break Err(TaskFailure::new("States.TaskFailed", v.to_string()));
                }
            }
        };
        if let Some((ledger, key)) = record {
            ledger.finish(key, &outcome).await;
        }
        outcome
    }
}

fn failure(kind: &Kind, service: &JsonService, e: &CallError) -> TaskFailure {
    let (error, cause) =
        awsjson::optimized_failure(kind.prefix, kind.java_service, kind.generic, service, e);
    TaskFailure::new(error, cause)
}

/// The kind, action and pattern a resource names, when served here.
fn served(resource: &Resource) -> Option<(&'static Kind, &str, Pattern)> {
    let (service, action, pattern) = resource.service_action()?;
    let kind = KINDS.iter().find(|k| k.service == service)?;
    if !kind.actions.contains(&action) {
        return None;
    }
    let ok = match pattern {
        Pattern::RequestResponse => true,
        Pattern::Sync => action == kind.sync_action,
        Pattern::WaitForTaskToken => kind.service == "ecs",
        Pattern::Sync2 => false,
    };
    ok.then_some((kind, action, pattern))
}

impl TaskHandler for JobTasks {
    fn handles(&self, resource: &Resource) -> bool {
        served(resource).is_some_and(|(_, _, p)| p != Pattern::WaitForTaskToken)
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let Some((kind, action, pattern)) = served(&request.resource) else {
                return Err(TaskFailure::new("States.Runtime", "not a job resource"));
            };
            match pattern {
                Pattern::Sync => self.run_sync(kind, &request).await,
                _ => self.request_response(kind, action, &request.input).await,
            }
        })
    }
}

impl CallbackStarter for JobTasks {
    fn starts(&self, resource: &Resource) -> bool {
        served(resource).is_some_and(|(_, _, p)| p == Pattern::WaitForTaskToken)
    }

    fn start<'a>(&'a self, request: &'a TaskRequest) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let Some((kind, action, _)) = served(&request.resource) else {
                return Err(TaskFailure::new("States.Runtime", "not a job resource"));
            };
            self.request_response(kind, action, &request.input).await
        })
    }
}
