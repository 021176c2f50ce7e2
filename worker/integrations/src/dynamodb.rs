//! DynamoDB's optimized integration: `arn:aws:states:::dynamodb:getItem|putItem|updateItem|
//! deleteItem` (request-response only, as on AWS). The parameters are the API's members
//! (typed attribute values, `{"S": "…"}`), the result is the API's response with Step
//! Functions' `SdkHttpMetadata`, errors are `DynamoDB.<Code>Exception`.

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_task::{Pattern, Resource, TaskFailure, TaskHandler, TaskRequest};

use crate::awsjson::{self, AwsJson, api_action, with_sdk_metadata};

/// The four actions AWS serves as `dynamodb:<action>` (anything else goes through `aws-sdk:`).
const ACTIONS: &[&str] = &["getItem", "putItem", "updateItem", "deleteItem"];

/// Serves `dynamodb:*` Task resources.
pub struct DynamoDbTasks {
    aws: AwsJson,
}

impl DynamoDbTasks {
    pub fn new(aws: AwsJson) -> Self {
        DynamoDbTasks { aws }
    }
}

impl TaskHandler for DynamoDbTasks {
    fn handles(&self, resource: &Resource) -> bool {
        resource
            .service_action()
            .is_some_and(|(service, action, pattern)| {
                service == "dynamodb"
                    && ACTIONS.contains(&action)
                    && pattern == Pattern::RequestResponse
            })
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let Some((_, action, _)) = request.resource.service_action() else {
                return Err(TaskFailure::new(
                    "States.Runtime",
                    "not a DynamoDB resource",
                ));
            };
            let service = awsjson::service("dynamodb")
                .ok_or_else(|| TaskFailure::new("States.Runtime", "DynamoDB is not known"))?;
            let response = self
                .aws
                .call(service, &api_action(action), &request.input)
                .await
                .map_err(|e| {
                    let (error, cause) = awsjson::optimized_failure(
                        "DynamoDB",
                        "AmazonDynamoDBv2",
                        "AmazonDynamoDBException",
                        service,
                        &e,
                    );
                    TaskFailure::new(error, cause)
                })?;
            Ok(with_sdk_metadata(response.body.clone(), &response))
        })
    }
}
