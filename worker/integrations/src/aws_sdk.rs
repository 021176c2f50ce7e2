//! `arn:aws:states:::aws-sdk:<service>:<action>` (and `.waitForTaskToken`) for every service
//! that speaks the AWS JSON protocol (`awsjson`): the parameters are the API's members, the
//! result is the API's response (no SDK metadata, as Step Functions returns it), errors are
//! `<Service>.<Code>Exception` in the AWS SDK for Java 2's names (`DynamoDb.…`, `Sfn.…`).
//! Services on other protocols (S3's REST XML aside, which `s3` serves for its common calls)
//! fail with `Sluice.UnsupportedIntegration`, which names the resource.

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_task::{
    CallbackStarter, Pattern, Resource, Target, TaskFailure, TaskHandler, TaskRequest,
};

use crate::awsjson::{self, AwsJson, api_action};

/// Serves `aws-sdk:` Task resources of JSON-protocol services.
pub struct AwsSdkTasks {
    aws: AwsJson,
}

impl AwsSdkTasks {
    pub fn new(aws: AwsJson) -> Self {
        AwsSdkTasks { aws }
    }

    async fn call(&self, request: &TaskRequest) -> Result<Value, TaskFailure> {
        let Target::AwsSdk {
            service, action, ..
        } = &request.resource.target
        else {
            return Err(TaskFailure::new(
                "States.Runtime",
                "not an aws-sdk resource",
            ));
        };
        let Some(json) = awsjson::service(service) else {
            return Err(TaskFailure::new(
                "Sluice.UnsupportedIntegration",
                format!(
                    "{}: sluice calls aws-sdk services that speak the AWS JSON protocol; {service} does not",
                    request.resource.text
                ),
            ));
        };
        self.aws
            .call(json, &api_action(action), &request.input)
            .await
            .map(|r| r.body)
            .map_err(|e| {
                let (error, cause) = awsjson::sdk_failure(json, &e);
                TaskFailure::new(error, cause)
            })
    }
}

/// An `aws-sdk:` resource of a JSON-protocol service with the given pattern.
fn is_json_sdk(resource: &Resource, wanted: Pattern) -> bool {
    matches!(&resource.target, Target::AwsSdk { service, pattern, .. }
        if *pattern == wanted && awsjson::service(service).is_some())
}

impl TaskHandler for AwsSdkTasks {
    fn handles(&self, resource: &Resource) -> bool {
        is_json_sdk(resource, Pattern::RequestResponse)
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move { self.call(&request).await })
    }
}

impl CallbackStarter for AwsSdkTasks {
    fn starts(&self, resource: &Resource) -> bool {
        is_json_sdk(resource, Pattern::WaitForTaskToken)
    }

    fn start<'a>(&'a self, request: &'a TaskRequest) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(self.call(request))
    }
}
