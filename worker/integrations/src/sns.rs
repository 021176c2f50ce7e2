//! SNS's optimized integration: `arn:aws:states:::sns:publish` and
//! `sns:publish.waitForTaskToken`, through `aws-sdk-sns` (SNS speaks the Query protocol, so
//! the JSON caller does not reach it). A `Message` that is not a string is published as its
//! JSON text, as Step Functions does. The result is `MessageId` (and `SequenceNumber` for a
//! FIFO topic) with `SdkHttpMetadata`; errors are `SNS.<Code>Exception`.

use std::collections::HashMap;

use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::primitives::Blob;
use aws_sdk_sns::types::MessageAttributeValue;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use sluice_task::{CallbackStarter, Pattern, Resource, TaskFailure, TaskHandler, TaskRequest};

use crate::aws::ServiceConfig;
use crate::awsjson::{JsonResponse, with_sdk_metadata};

const RUNTIME: &str = "States.Runtime";

/// Serves `sns:publish` Task resources.
pub struct SnsTasks {
    client: aws_sdk_sns::Client,
}

impl SnsTasks {
    pub fn new(config: &ServiceConfig) -> Self {
        SnsTasks {
            client: aws_sdk_sns::Client::new(&config.sdk_config()),
        }
    }

    async fn publish(&self, input: &Value) -> Result<Value, TaskFailure> {
        let text = |field: &str| -> Result<Option<String>, TaskFailure> {
            match input.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(TaskFailure::new(
                    RUNTIME,
                    format!("sns:publish: {field} must be a string"),
                )),
            }
        };
        let message = match input.get("Message") {
            None | Some(Value::Null) => {
                return Err(TaskFailure::new(RUNTIME, "sns:publish needs a Message"));
            }
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let mut call = self
            .client
            .publish()
            .message(message)
            .set_topic_arn(text("TopicArn")?)
            .set_target_arn(text("TargetArn")?)
            .set_phone_number(text("PhoneNumber")?)
            .set_subject(text("Subject")?)
            .set_message_structure(text("MessageStructure")?)
            .set_message_group_id(text("MessageGroupId")?)
            .set_message_deduplication_id(text("MessageDeduplicationId")?);
        if let Some(attributes) = input.get("MessageAttributes") {
            call = call.set_message_attributes(Some(message_attributes(attributes)?));
        }
        let out = call.send().await.map_err(failure)?;
        let mut body = json!({"MessageId": out.message_id().unwrap_or_default()});
        if let Some(n) = out.sequence_number() {
            body["SequenceNumber"] = json!(n);
        }
        let request_id = aws_sdk_sns::operation::RequestId::request_id(&out)
            .unwrap_or_default()
            .to_string();
        let response = JsonResponse {
            status: 200,
            headers: vec![
                ("x-amzn-requestid".into(), request_id.clone()),
                ("content-type".into(), "text/xml".into()),
                (
                    "date".into(),
                    chrono::Utc::now()
                        .format("%a, %d %b %Y %H:%M:%S GMT")
                        .to_string(),
                ),
            ],
            body: body.clone(),
            request_id,
        };
        Ok(with_sdk_metadata(body, &response))
    }
}

/// `{"name": {"DataType": "String", "StringValue": "v"}}` (or `BinaryValue`, base64).
fn message_attributes(
    value: &Value,
) -> Result<HashMap<String, MessageAttributeValue>, TaskFailure> {
    use base64::Engine;
    let bad = |m: String| TaskFailure::new(RUNTIME, format!("sns:publish: MessageAttributes{m}"));
    let fields = value
        .as_object()
        .ok_or_else(|| bad(" must be an object".into()))?;
    let mut out = HashMap::new();
    for (name, attribute) in fields {
        let data_type = attribute
            .get("DataType")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!(".{name}.DataType must be a string")))?;
        let mut built = MessageAttributeValue::builder().data_type(data_type);
        if let Some(s) = attribute.get("StringValue").and_then(Value::as_str) {
            built = built.string_value(s);
        }
        if let Some(b) = attribute.get("BinaryValue").and_then(Value::as_str) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| bad(format!(".{name}.BinaryValue is not base64: {e}")))?;
            built = built.binary_value(Blob::new(bytes));
        }
        let built = built.build().map_err(|e| bad(format!(".{name}: {e}")))?;
        out.insert(name.clone(), built);
    }
    Ok(out)
}

fn failure<E, R>(e: SdkError<E, R>) -> TaskFailure
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match &e {
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or("AmazonSNS").to_string();
            let message = s.err().message().unwrap_or("").to_string();
            let status = match code.as_str() {
                "NotFound" => 404,
                "AuthorizationError" => 403,
                "InternalError" => 500,
                _ => 400,
            };
            let request_id = s
                .err()
                .meta()
                .extra("aws_request_id")
                .unwrap_or("")
                .to_string();
            let name = if code.ends_with("Exception") {
                code.clone()
            } else {
                format!("{code}Exception")
            };
            TaskFailure::new(
                format!("SNS.{name}"),
                format!(
                    "{message} (Service: AmazonSNS; Status Code: {status}; Error Code: {code}; Request ID: {request_id}; Proxy: null)"
                ),
            )
        }
        other => TaskFailure::new(
            "SNS.SdkClientException",
            format!("Unable to execute HTTP request: {other:?}"),
        ),
    }
}

fn is_publish(resource: &Resource, wanted: Pattern) -> bool {
    resource
        .service_action()
        .is_some_and(|(service, action, pattern)| {
            service == "sns" && action == "publish" && pattern == wanted
        })
}

impl TaskHandler for SnsTasks {
    fn handles(&self, resource: &Resource) -> bool {
        is_publish(resource, Pattern::RequestResponse)
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move { self.publish(&request.input).await })
    }
}

impl CallbackStarter for SnsTasks {
    fn starts(&self, resource: &Resource) -> bool {
        is_publish(resource, Pattern::WaitForTaskToken)
    }

    fn start<'a>(&'a self, request: &'a TaskRequest) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(self.publish(&request.input))
    }
}
