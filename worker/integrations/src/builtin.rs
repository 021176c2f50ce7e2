//! The built-in activities: Task states on `…:activity:sluice-sql`, `…:activity:sluice-lambda`
//! and `…:activity:sluice-echo` are served by sluice itself. `sluice worker` runs them for the
//! activities it polls; `sluice run` runs them in process, so it needs no worker.
//!
//! | activity name | input | output |
//! | --- | --- | --- |
//! | `sluice-lambda` | `{"FunctionName": …, "Payload": …}` | the `lambda:invoke` result object |
//! | `sluice-sql` | `{"query", "inputs", "output"?, "inline"?}` (see [`crate::sql`]) | a reference to the result |
//! | `sluice-infer` | `{"model", "items" or "table", "preprocess", "postprocess", "output"}` (see [`crate::infer`]) | a reference to the predictions |
//! | `sluice-echo` | anything; `"delayMillis"` waits that long first | the input itself |
//!
//! `sluice-echo` does no work: it checks that a deployment's workers are reachable and
//! measures the orchestrator's dispatch overhead.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_task::{NO_HANDLER, Resource, TaskFailure, TaskHandler, TaskProgress, TaskRequest};

use crate::infer::Inference;
use crate::lambda::{InvokeOptions, Lambda, LambdaConfig, invoke_payload, invoke_result};
use crate::objects::Buckets;

/// The names of the built-in activities.
pub const NAMES: [&str; 4] = ["sluice-lambda", "sluice-sql", "sluice-infer", "sluice-echo"];

/// Serves the built-in activities.
pub struct BuiltinActivities {
    /// Where `sluice-lambda` sends invocations, when configured.
    lambda: Option<Lambda>,
    /// Where `sluice-sql` and `sluice-infer` read and write `s3://` data.
    buckets: Buckets,
    /// `sluice-infer`'s loaded models, shared by every task of the process.
    inference: Arc<Inference>,
    /// The worker name reported when a task starts (`ActivityStarted`), or `None` when the
    /// caller reports starts itself (`sluice worker`, through GetActivityTask).
    reports_start_as: Option<String>,
}

impl BuiltinActivities {
    /// Handlers for the built-in activities; `sluice-lambda` needs a Lambda configuration.
    pub fn new(lambda: Option<&LambdaConfig>, buckets: Buckets) -> Self {
        BuiltinActivities {
            lambda: lambda.map(Lambda::new),
            buckets,
            inference: Arc::new(Inference::new()),
            reports_start_as: None,
        }
    }

    /// Report each task as started by `worker` (for in-process runs).
    pub fn reporting_start_as(mut self, worker: impl Into<String>) -> Self {
        self.reports_start_as = Some(worker.into());
        self
    }

    async fn run(&self, name: &str, input: Value) -> Result<Value, TaskFailure> {
        match name {
            "sluice-echo" => {
                if let Some(ms) = input.get("delayMillis").and_then(Value::as_u64) {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                Ok(input)
            }
            "sluice-sql" => crate::sql::run(&input, &self.buckets)
                .await
                .map_err(|f| TaskFailure::new(f.error, f.cause)),
            "sluice-infer" => self
                .inference
                .run(&input, &self.buckets)
                .await
                .map_err(|f| TaskFailure::new(f.error, f.cause)),
            "sluice-lambda" => {
                let lambda = self.lambda.as_ref().ok_or_else(|| {
                    TaskFailure::new(
                        NO_HANDLER,
                        "the sluice-lambda activity needs a Lambda endpoint or AWS credentials",
                    )
                })?;
                let function = input
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        TaskFailure::new(
                            "Sluice.InvalidInput",
                            "sluice-lambda needs {\"FunctionName\": …, \"Payload\": …}",
                        )
                    })?;
                let options = InvokeOptions::from_parameters(&input)
                    .map_err(|e| TaskFailure::new("Sluice.InvalidInput", e))?;
                let body = invoke_payload(input.get("Payload"));
                let done = lambda
                    .invoke(function, body, &options)
                    .await
                    .map_err(|f| TaskFailure::new(f.error, f.cause))?;
                Ok(invoke_result(&done))
            }
            other => Err(TaskFailure::new(
                NO_HANDLER,
                format!(
                    "no built-in activity is named {other:?}; built-in: {}",
                    NAMES.join(", ")
                ),
            )),
        }
    }
}

/// The built-in activity `resource` names, if it names one.
pub fn builtin_name(resource: &Resource) -> Option<&str> {
    resource.activity_name().filter(|name| NAMES.contains(name))
}

impl TaskHandler for BuiltinActivities {
    fn handles(&self, resource: &Resource) -> bool {
        builtin_name(resource).is_some()
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let name = builtin_name(&request.resource)
                .unwrap_or_default()
                .to_string();
            if let (Some(worker), Some(progress)) = (&self.reports_start_as, &request.progress) {
                let _ = progress.send(TaskProgress::Started {
                    worker: worker.clone(),
                });
            }
            self.run(&name, request.input).await
        })
    }
}
