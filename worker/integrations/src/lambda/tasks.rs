//! Task states on Lambda resources: `arn:…:states:::lambda:invoke`, a plain function ARN, and
//! the call that starts `lambda:invoke.waitForTaskToken` (the orchestrator then waits for the
//! callback).

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_task::{
    CallbackStarter, Pattern, Resource, Target, TaskFailure, TaskHandler, TaskRequest,
};

use super::{
    InvokeOptions, Lambda, LambdaConfig, LambdaFailure, invoke_payload, invoke_result,
    plain_result, spaced_json,
};

/// The error of a Task whose input cannot be sent: AWS reports it as a runtime failure.
const RUNTIME: &str = "States.Runtime";

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

    /// `lambda:invoke`: `{"FunctionName", "Payload"}` in, the invoke result object out.
    async fn invoke_optimized(&self, input: &Value) -> Result<Value, TaskFailure> {
        let function = input
            .get("FunctionName")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                TaskFailure::new(RUNTIME, "lambda:invoke needs a FunctionName parameter")
            })?;
        let options =
            InvokeOptions::from_parameters(input).map_err(|e| TaskFailure::new(RUNTIME, e))?;
        let body = invoke_payload(input.get("Payload"));
        let done = self
            .lambda
            .invoke(function, body, &options)
            .await
            .map_err(failure)?;
        Ok(invoke_result(&done))
    }
}

fn failure(f: LambdaFailure) -> TaskFailure {
    TaskFailure {
        error: f.error,
        cause: Some(f.cause),
    }
}

/// `lambda:invoke` with the given pattern.
fn is_invoke(resource: &Resource, wanted: Pattern) -> bool {
    resource
        .service_action()
        .is_some_and(|(service, action, pattern)| {
            service == "lambda" && action == "invoke" && pattern == wanted
        })
}

impl TaskHandler for LambdaTasks {
    fn handles(&self, resource: &Resource) -> bool {
        is_invoke(resource, Pattern::RequestResponse)
            || matches!(resource.target, Target::LambdaFunction { .. })
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            if is_invoke(&request.resource, Pattern::RequestResponse) {
                return self.invoke_optimized(&request.input).await;
            }
            let body = serde_json::to_vec(&request.input).unwrap_or_default();
            let done = self
                .lambda
                .invoke(&request.resource.text, body, &InvokeOptions::default())
                .await
                .map_err(|mut f| {
                    // The legacy integration reports the error payload re-spaced.
                    if !f.error.starts_with("Lambda.") {
                        f.cause = spaced_json(&f.cause);
                    }
                    failure(f)
                })?;
            Ok(plain_result(&done))
        })
    }
}

impl CallbackStarter for LambdaTasks {
    fn starts(&self, resource: &Resource) -> bool {
        is_invoke(resource, Pattern::WaitForTaskToken)
    }

    /// Invoke the function; its payload carries the token (`$$.Task.Token`), and the
    /// function (or something it hands the token to) answers with SendTaskSuccess/Failure.
    fn start<'a>(&'a self, request: &'a TaskRequest) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(self.invoke_optimized(&request.input))
    }
}
