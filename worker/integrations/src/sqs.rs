//! SQS's optimized integration: `arn:aws:states:::sqs:sendMessage` and
//! `sqs:sendMessage.waitForTaskToken` (the message carries the token; the orchestrator waits
//! for the answer). A `MessageBody` that is not a string is sent as its JSON text, as Step
//! Functions does; the result is the API's (`MD5OfMessageBody`, `MessageId`) with
//! `SdkHttpMetadata`; errors are `SQS.<Code>Exception`.

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_task::{CallbackStarter, Pattern, Resource, TaskFailure, TaskHandler, TaskRequest};

use crate::awsjson::{self, AwsJson, with_sdk_metadata};

/// Serves `sqs:sendMessage` Task resources.
pub struct SqsTasks {
    aws: AwsJson,
}

impl SqsTasks {
    pub fn new(aws: AwsJson) -> Self {
        SqsTasks { aws }
    }

    async fn send(&self, input: &Value) -> Result<Value, TaskFailure> {
        let service = awsjson::service("sqs")
            .ok_or_else(|| TaskFailure::new("States.Runtime", "SQS is not known"))?;
        let mut members = input.clone();
        if let Some(body) = members.get_mut("MessageBody")
            && !body.is_string()
            && !body.is_null()
        {
            *body = Value::String(body.to_string());
        }
        let response = self
            .aws
            .call(service, "SendMessage", &members)
            .await
            .map_err(|e| {
                let (error, cause) = awsjson::optimized_failure(
                    "SQS",
                    "AmazonSQS",
                    "AmazonSQSException",
                    service,
                    &e,
                );
                TaskFailure::new(error, cause)
            })?;
        Ok(with_sdk_metadata(response.body.clone(), &response))
    }
}

fn is_send(resource: &Resource, wanted: Pattern) -> bool {
    resource
        .service_action()
        .is_some_and(|(service, action, pattern)| {
            service == "sqs" && action == "sendMessage" && pattern == wanted
        })
}

impl TaskHandler for SqsTasks {
    fn handles(&self, resource: &Resource) -> bool {
        is_send(resource, Pattern::RequestResponse)
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move { self.send(&request.input).await })
    }
}

impl CallbackStarter for SqsTasks {
    fn starts(&self, resource: &Resource) -> bool {
        is_send(resource, Pattern::WaitForTaskToken)
    }

    fn start<'a>(&'a self, request: &'a TaskRequest) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(self.send(&request.input))
    }
}
