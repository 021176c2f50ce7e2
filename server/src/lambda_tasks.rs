//! Task states on Lambda resources (`arn:aws:states:::lambda:invoke` and plain function ARNs),
//! handed to the worker crate's Lambda client.

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_orchestrator::engine::{TaskFailure, TaskHandler, TaskProgress, TaskRequest};
use sluice_orchestrator::lang::errors;
use sluice_worker::lambda::{
    Lambda, LambdaConfig, LambdaFailure, invoke_payload, invoke_result, plain_result, spaced_json,
};

/// The optimized integration's resource.
const INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// Serves Lambda Task resources.
pub struct LambdaTasks {
    lambda: Lambda,
}

impl LambdaTasks {
    /// A handler calling Lambda as configured.
    pub fn new(config: &LambdaConfig) -> Self {
        LambdaTasks {
            lambda: Lambda::new(config),
        }
    }

    /// Configuration from the environment, when a Lambda endpoint or AWS credentials are set:
    /// `SLUICE_LAMBDA_ENDPOINT` (or `AWS_ENDPOINT_URL_LAMBDA`, `AWS_ENDPOINT_URL`),
    /// `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
    pub fn config_from_env() -> Option<LambdaConfig> {
        LambdaConfig::from_env(&["SLUICE_LAMBDA_ENDPOINT", "AWS_ENDPOINT_URL_LAMBDA"])
    }
}

fn failure(f: LambdaFailure) -> TaskFailure {
    TaskFailure {
        error: f.error,
        cause: Some(f.cause),
    }
}

/// Is `resource` a plain Lambda function ARN (`arn:…:lambda:REGION:ACCOUNT:function:NAME`)?
fn is_function_arn(resource: &str) -> bool {
    let parts: Vec<&str> = resource.split(':').collect();
    parts.len() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function"
}

impl TaskHandler for LambdaTasks {
    fn handles(&self, resource: &str) -> bool {
        resource == INVOKE || is_function_arn(resource)
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            if request.resource == INVOKE {
                let function = request
                    .input
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        TaskFailure::new(
                            errors::RUNTIME,
                            "lambda:invoke needs a FunctionName parameter",
                        )
                    })?;
                let body = invoke_payload(request.input.get("Payload"));
                let done = self.lambda.invoke(function, body).await.map_err(failure)?;
                Ok(invoke_result(&done))
            } else {
                let body = serde_json::to_vec(&request.input).unwrap_or_default();
                let done = self
                    .lambda
                    .invoke(&request.resource, body)
                    .await
                    .map_err(|mut f| {
                        // The legacy integration reports the error payload re-spaced.
                        if !f.error.starts_with("Lambda.") {
                            f.cause = spaced_json(&f.cause);
                        }
                        failure(f)
                    })?;
                Ok(plain_result(&done))
            }
        })
    }
}

/// `sluice run`'s in-process workers: Task states on the built-in activities
/// (`…:activity:sluice-sql`, `…:activity:sluice-lambda`, `…:activity:sluice-echo`) run here instead of waiting for a
/// `sluice worker`.
pub struct BuiltinActivities {
    lambda: Option<sluice_worker::lambda::LambdaConfig>,
}

impl BuiltinActivities {
    /// Handlers for the built-in activities; `sluice-lambda` needs a Lambda configuration.
    pub fn new(lambda: Option<sluice_worker::lambda::LambdaConfig>) -> Self {
        BuiltinActivities { lambda }
    }
}

fn builtin_name(resource: &str) -> Option<&str> {
    let name = resource.split(":activity:").nth(1)?;
    matches!(name, "sluice-sql" | "sluice-lambda" | "sluice-echo").then_some(name)
}

impl TaskHandler for BuiltinActivities {
    fn handles(&self, resource: &str) -> bool {
        builtin_name(resource).is_some()
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let name = builtin_name(&request.resource).unwrap_or_default();
            // The in-process worker takes the task at once.
            if let Some(progress) = &request.progress {
                let _ = progress.send(TaskProgress::Started {
                    worker: "sluice-run".to_string(),
                });
            }
            let handler =
                sluice_worker::activity::Handler::for_activity(name, self.lambda.as_ref())
                    .map_err(|e| TaskFailure::new(errors::NO_HANDLER, e.to_string()))?;
            handler
                .run(request.input)
                .await
                .map_err(|(error, cause)| TaskFailure {
                    error,
                    cause: Some(cause),
                })
        })
    }
}
