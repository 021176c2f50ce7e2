//! EventBridge's optimized integration: `arn:aws:states:::events:putEvents` and
//! `events:putEvents.waitForTaskToken`. As Step Functions does, a `Detail` that is not a
//! string is sent as its JSON text, and each entry's `Resources` gets the state machine's
//! and the execution's ARNs. The result is the API's (`Entries`, `FailedEntryCount`, no SDK
//! metadata); a failed entry fails the task with `EventBridge.FailedEntry`, the response as
//! its cause.

use futures::future::BoxFuture;
use serde_json::{Value, json};
use sluice_task::{CallbackStarter, Pattern, Resource, TaskFailure, TaskHandler, TaskRequest};

use crate::awsjson::{self, AwsJson};

/// Serves `events:putEvents` Task resources.
pub struct EventBridgeTasks {
    aws: AwsJson,
}

impl EventBridgeTasks {
    pub fn new(aws: AwsJson) -> Self {
        EventBridgeTasks { aws }
    }

    async fn put(&self, request: &TaskRequest) -> Result<Value, TaskFailure> {
        let service = awsjson::service("eventbridge")
            .ok_or_else(|| TaskFailure::new("States.Runtime", "EventBridge is not known"))?;
        let mut members = request.input.clone();
        let Some(entries) = members.get_mut("Entries").and_then(Value::as_array_mut) else {
            return Err(TaskFailure::new(
                "States.Runtime",
                "events:putEvents needs an Entries array",
            ));
        };
        let execution = request.execution_arn.clone();
        let machine = state_machine_of(&execution);
        for entry in entries.iter_mut() {
            let Some(fields) = entry.as_object_mut() else {
                continue;
            };
            if let Some(detail) = fields.get_mut("Detail")
                && !detail.is_string()
            {
                *detail = Value::String(detail.to_string());
            }
            let resources = fields.entry("Resources").or_insert_with(|| json!([]));
            if let Some(list) = resources.as_array_mut() {
                list.extend([json!(machine), json!(execution)]);
            }
        }
        let response = self
            .aws
            .call(service, "PutEvents", &members)
            .await
            .map_err(|e| {
                let (error, cause) = awsjson::optimized_failure(
                    "EventBridge",
                    "AmazonEventBridge",
                    "AmazonEventBridgeException",
                    service,
                    &e,
                );
                TaskFailure::new(error, cause)
            })?;
        let failed = response
            .body
            .get("FailedEntryCount")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if failed > 0 {
            return Err(TaskFailure::new(
                "EventBridge.FailedEntry",
                response.body.to_string(),
            ));
        }
        Ok(response.body)
    }
}

/// `…:execution:MACHINE:NAME` → `…:stateMachine:MACHINE`.
fn state_machine_of(execution: &str) -> String {
    match execution.split_once(":execution:") {
        Some((head, rest)) => {
            let machine = rest.split(':').next().unwrap_or(rest);
            format!("{head}:stateMachine:{machine}")
        }
        None => execution.to_string(),
    }
}

fn is_put(resource: &Resource, wanted: Pattern) -> bool {
    resource
        .service_action()
        .is_some_and(|(service, action, pattern)| {
            service == "events" && action == "putEvents" && pattern == wanted
        })
}

impl TaskHandler for EventBridgeTasks {
    fn handles(&self, resource: &Resource) -> bool {
        is_put(resource, Pattern::RequestResponse)
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move { self.put(&request).await })
    }
}

impl CallbackStarter for EventBridgeTasks {
    fn starts(&self, resource: &Resource) -> bool {
        is_put(resource, Pattern::WaitForTaskToken)
    }

    fn start<'a>(&'a self, request: &'a TaskRequest) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(self.put(request))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_state_machine_of_an_execution() {
        assert_eq!(
            super::state_machine_of("arn:aws:states:us-east-1:1:execution:m:e"),
            "arn:aws:states:us-east-1:1:stateMachine:m"
        );
    }
}
