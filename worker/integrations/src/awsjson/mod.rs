//! The AWS JSON protocol, called directly: `POST /` with `X-Amz-Target: <prefix>.<Action>`,
//! the request members as a JSON body, SigV4-signed. Most AWS services speak it (DynamoDB,
//! SQS, EventBridge, Step Functions, Athena, Glue, ECS, Secrets Manager, SSM, Kinesis, … 143
//! in botocore's models), and Step Functions' own shapes are that JSON: a Task's `Parameters`
//! are the request members and its result is the response members, both in PascalCase.
//!
//! Why not the `aws-sdk-*` crates here: they parse every response into typed structs, so
//! giving a Task its result would mean writing each operation's output back to JSON by hand
//! (and a crate per service, 143 of them, for `aws-sdk:<service>:<action>`). Passing the
//! service's own JSON through is exact by construction. Signing is `aws-sigv4`'s and
//! credentials come from the standard chain as for every other client.

#[rustfmt::skip]
mod services;

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde_json::{Map, Value, json};

/// What reaching one JSON-protocol service takes, and the names Step Functions gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonService {
    /// The service in `aws-sdk:<name>:<action>` (`dynamodb`, `sfn`, `secretsmanager`).
    pub sdk_name: &'static str,
    /// The `X-Amz-Target` prefix (`DynamoDB_20120810`).
    pub target_prefix: &'static str,
    /// `1.0` or `1.1` (the content type `application/x-amz-json-<v>`).
    pub json_version: &'static str,
    /// The SigV4 service name.
    pub signing_name: &'static str,
    /// The host prefix of its regional endpoint.
    pub endpoint_prefix: &'static str,
    /// What Step Functions puts before the names of its `aws-sdk:` errors (`DynamoDb`).
    pub error_prefix: &'static str,
}

/// Step Functions names a few services by their AWS SDK for Java 2 module rather than by
/// their service id: `aws-sdk:config` is AWS Config (`configservice`).
const ALIASES: &[(&str, &str)] = &[("config", "configservice")];

/// The JSON-protocol service named `sdk_name` in an `aws-sdk:` resource.
pub fn service(sdk_name: &str) -> Option<&'static JsonService> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == sdk_name)
        .map_or(sdk_name, |(_, real)| real);
    services::SERVICES.iter().find(|s| s.sdk_name == name)
}

/// Every JSON-protocol service (for documentation and validation).
pub fn all_services() -> &'static [JsonService] {
    services::SERVICES
}

/// `AWS_ENDPOINT_URL_<NAME>`'s name for a service: its SDK name in capitals
/// (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SFN`).
pub fn endpoint_variable(service: &JsonService) -> String {
    format!("AWS_ENDPOINT_URL_{}", service.sdk_name.to_uppercase())
}

/// Where and as whom to call JSON-protocol services.
#[derive(Debug, Clone)]
pub struct AwsJsonConfig {
    pub region: String,
    pub credentials: SharedCredentialsProvider,
    /// One endpoint for every service (`AWS_ENDPOINT_URL`, a local server such as moto).
    pub endpoint: Option<String>,
    /// Endpoints of single services, by SDK name.
    pub endpoints: BTreeMap<String, String>,
}

/// A response the service accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonResponse {
    pub status: u16,
    /// Response headers in the order received.
    pub headers: Vec<(String, String)>,
    /// The response members (`{}` for an empty body).
    pub body: Value,
    pub request_id: String,
}

/// A call that failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The service answered with an error.
    #[error("{code}: {message}")]
    Service {
        status: u16,
        /// The error's short name (`ResourceNotFoundException`, `QueueDoesNotExist`).
        code: String,
        /// For services that keep their older Query error codes
        /// (`AWS.SimpleQueueService.NonExistentQueue`).
        query_code: Option<String>,
        message: String,
        request_id: String,
    },
    /// The request did not get an answer (no route, refused, timed out) or could not be made.
    #[error("{0}")]
    Client(String),
}

/// Calls JSON-protocol services.
#[derive(Clone)]
pub struct AwsJson {
    config: AwsJsonConfig,
    http: reqwest::Client,
}

/// How long one call may take.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Largest response body read (Step Functions' payload limit is far below it).
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

impl AwsJson {
    /// A caller for `config`.
    pub fn new(config: AwsJsonConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .unwrap_or_default();
        AwsJson { config, http }
    }

    /// The endpoint URL of `service`.
    pub fn endpoint(&self, service: &JsonService) -> String {
        if let Some(url) = self.config.endpoints.get(service.sdk_name) {
            return url.trim_end_matches('/').to_string();
        }
        if let Some(url) = &self.config.endpoint {
            return url.trim_end_matches('/').to_string();
        }
        let suffix = if self.config.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!(
            "https://{}.{}.{suffix}",
            service.endpoint_prefix, self.config.region
        )
    }

    /// Call `action` (PascalCase, `PutItem`) of `service` with `members` (a JSON object).
    pub async fn call(
        &self,
        service: &JsonService,
        action: &str,
        members: &Value,
    ) -> Result<JsonResponse, CallError> {
        let url = format!("{}/", self.endpoint(service));
        let body = members.to_string();
        let headers = [
            (
                "content-type",
                format!("application/x-amz-json-{}", service.json_version),
            ),
            (
                "x-amz-target",
                format!("{}.{action}", service.target_prefix),
            ),
        ];
        let signed = self.sign(service, &url, &headers, body.as_bytes()).await?;
        let mut request = self.http.post(&url);
        for (k, v) in headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .chain(signed)
        {
            request = request.header(k, v);
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| CallError::Client(format!("Unable to execute HTTP request: {e}")))?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let request_id = header("x-amzn-requestid")
            .or_else(|| header("x-amz-request-id"))
            .unwrap_or_default();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CallError::Client(format!("reading the response: {e}")))?;
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(CallError::Client(format!(
                "the response is {} bytes, more than the {MAX_RESPONSE_BYTES} this task reads",
                bytes.len()
            )));
        }
        let body: Value = if bytes.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if (200..300).contains(&status) {
            return Ok(JsonResponse {
                status,
                headers,
                body,
                request_id,
            });
        }
        // `__type` (or the header) is `namespace#Code` or `Code:…`.
        let raw = body
            .get("__type")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| header("x-amzn-errortype"))
            .unwrap_or_else(|| "UnknownError".into());
        let code = raw
            .rsplit('#')
            .next()
            .unwrap_or(&raw)
            .split(':')
            .next()
            .unwrap_or("")
            .to_string();
        let message = body
            .get("message")
            .or_else(|| body.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let query_code =
            header("x-amzn-query-error").and_then(|q| q.split(';').next().map(str::to_string));
        Err(CallError::Service {
            status,
            code,
            query_code,
            message,
            request_id,
        })
    }

    async fn sign(
        &self,
        service: &JsonService,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, CallError> {
        let failed = |m: String| CallError::Client(format!("signing the request: {m}"));
        let credentials = self
            .config
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| CallError::Client(format!("no AWS credentials: {e}")))?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.config.region)
            .name(service.signing_name)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| failed(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            "POST",
            url,
            headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| failed(e.to_string()))?;
        let (instructions, _) = sign(request, &params)
            .map_err(|e| failed(e.to_string()))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }
}

/// `putItem` → `PutItem`: the API action of a resource's camelCase action.
pub fn api_action(action: &str) -> String {
    let mut chars = action.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `SdkHttpMetadata` and `SdkResponseMetadata` as Step Functions adds them to the result of
/// an optimized integration (the AWS SDK for Java 1.x's response metadata), from the
/// response's real headers.
pub fn with_sdk_metadata(mut body: Value, response: &JsonResponse) -> Value {
    let mut all = Map::new();
    let mut single = Map::new();
    for (k, v) in &response.headers {
        let name = canonical_header(k);
        single.insert(name.clone(), json!(v));
        match all.get_mut(&name) {
            Some(Value::Array(values)) => values.push(json!(v)),
            _ => {
                all.insert(name, json!([v]));
            }
        }
    }
    if !body.is_object() {
        body = json!({});
    }
    body["SdkHttpMetadata"] = json!({
        "AllHttpHeaders": all,
        "HttpHeaders": single,
        "HttpStatusCode": response.status,
    });
    body["SdkResponseMetadata"] = json!({"RequestId": response.request_id});
    body
}

/// `content-type` → `Content-Type`, AWS's request-id header as AWS writes it.
fn canonical_header(name: &str) -> String {
    match name {
        "x-amzn-requestid" => "x-amzn-RequestId".into(),
        "x-amz-crc32" => "x-amz-crc32".into(),
        other => other
            .split('-')
            .map(|part| {
                let mut c = part.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// The error Step Functions reports for a failed `aws-sdk:` call: `<Prefix>.<Code>Exception`
/// (the AWS SDK for Java 2 names), the cause in that SDK's words.
pub fn sdk_failure(service: &JsonService, error: &CallError) -> (String, String) {
    let prefix = service.error_prefix;
    match error {
        CallError::Service {
            status,
            code,
            message,
            request_id,
            ..
        } => {
            let name = if is_unmodelled(service, code) {
                format!("{prefix}Exception")
            } else {
                exception(code)
            };
            (
                format!("{prefix}.{name}"),
                format!(
                    "{message} (Service: {prefix}, Status Code: {status}, Request ID: {request_id})"
                ),
            )
        }
        CallError::Client(message) => (format!("{prefix}.SdkClientException"), message.clone()),
    }
}

/// The error Step Functions reports for a failed optimized integration (`dynamodb:putItem`,
/// `sqs:sendMessage`): `<prefix>.<Code>Exception` for an error the service models, else the
/// service's generic exception, the cause in the AWS SDK for Java 1.x's words.
pub fn optimized_failure(
    prefix: &str,
    java_service: &str,
    generic: &str,
    service: &JsonService,
    error: &CallError,
) -> (String, String) {
    match error {
        CallError::Service {
            status,
            code,
            query_code,
            message,
            request_id,
        } => {
            let name = if is_unmodelled(service, code) {
                generic.to_string()
            } else {
                exception(code)
            };
            (
                format!("{prefix}.{name}"),
                format!(
                    "{message} (Service: {java_service}; Status Code: {status}; Error Code: {}; Request ID: {request_id}; Proxy: null)",
                    query_code.as_deref().unwrap_or(code)
                ),
            )
        }
        CallError::Client(message) => (format!("{prefix}.SdkClientException"), message.clone()),
    }
}

fn exception(code: &str) -> String {
    if code.ends_with("Exception") {
        code.to_string()
    } else {
        format!("{code}Exception")
    }
}

/// Errors a service returns without a modelled shape for them: the SDKs report them as the
/// service's generic exception.
fn is_unmodelled(service: &JsonService, code: &str) -> bool {
    matches!(
        code,
        "ValidationException"
            | "SerializationException"
            | "UnrecognizedClientException"
            | "MissingAuthenticationTokenException"
            | "InvalidSignatureException"
            | "IncompleteSignature"
            | "MissingParameter"
            | "InvalidParameterValue"
            | "InvalidAction"
            | "UnknownOperationException"
            | "UnknownError"
    ) && !(service.sdk_name == "sfn" && code == "ValidationException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_come_from_the_models() {
        let dynamodb = service("dynamodb").expect("dynamodb");
        assert_eq!(dynamodb.target_prefix, "DynamoDB_20120810");
        assert_eq!(dynamodb.error_prefix, "DynamoDb");
        assert_eq!(service("sfn").expect("sfn").signing_name, "states");
        assert_eq!(
            service("eventbridge").expect("events").endpoint_prefix,
            "events"
        );
        assert_eq!(service("acmpca").expect("acm-pca").error_prefix, "AcmPca");
        assert!(service("s3").is_none(), "S3 is not a JSON service");
        assert_eq!(
            service("config").expect("AWS Config").target_prefix,
            "StarlingDoveService"
        );
        assert!(all_services().len() > 100);
        assert_eq!(api_action("putItem"), "PutItem");
        assert_eq!(endpoint_variable(dynamodb), "AWS_ENDPOINT_URL_DYNAMODB");
    }

    #[test]
    fn errors_are_named_as_step_functions_names_them() {
        let dynamodb = service("dynamodb").expect("dynamodb");
        let not_found = CallError::Service {
            status: 400,
            code: "ResourceNotFoundException".into(),
            query_code: None,
            message: "Requested resource not found".into(),
            request_id: "r1".into(),
        };
        assert_eq!(
            sdk_failure(dynamodb, &not_found),
            (
                "DynamoDb.ResourceNotFoundException".into(),
                "Requested resource not found (Service: DynamoDb, Status Code: 400, Request ID: r1)".into()
            )
        );
        let (error, cause) = optimized_failure(
            "DynamoDB",
            "AmazonDynamoDBv2",
            "AmazonDynamoDBException",
            dynamodb,
            &not_found,
        );
        assert_eq!(error, "DynamoDB.ResourceNotFoundException");
        assert_eq!(
            cause,
            "Requested resource not found (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ResourceNotFoundException; Request ID: r1; Proxy: null)"
        );
        let invalid = CallError::Service {
            status: 400,
            code: "ValidationException".into(),
            query_code: None,
            message: "bad".into(),
            request_id: "r2".into(),
        };
        assert_eq!(
            sdk_failure(dynamodb, &invalid).0,
            "DynamoDb.DynamoDbException"
        );
        let sqs = service("sqs").expect("sqs");
        let missing_queue = CallError::Service {
            status: 400,
            code: "QueueDoesNotExist".into(),
            query_code: Some("AWS.SimpleQueueService.NonExistentQueue".into()),
            message: "The specified queue does not exist.".into(),
            request_id: "r3".into(),
        };
        let (error, cause) = optimized_failure(
            "SQS",
            "AmazonSQS",
            "AmazonSQSException",
            sqs,
            &missing_queue,
        );
        assert_eq!(error, "SQS.QueueDoesNotExistException");
        assert!(cause.contains("Error Code: AWS.SimpleQueueService.NonExistentQueue"));
    }

    #[test]
    fn sdk_metadata_repeats_the_real_headers() {
        let response = JsonResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/x-amz-json-1.0".into()),
                ("x-amzn-requestid".into(), "abc".into()),
            ],
            body: json!({"MessageId": "m"}),
            request_id: "abc".into(),
        };
        let out = with_sdk_metadata(response.body.clone(), &response);
        assert_eq!(out["MessageId"], "m");
        assert_eq!(
            out["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Type"],
            json!(["application/x-amz-json-1.0"])
        );
        assert_eq!(
            out["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"],
            "abc"
        );
        assert_eq!(out["SdkHttpMetadata"]["HttpStatusCode"], 200);
        assert_eq!(out["SdkResponseMetadata"]["RequestId"], "abc");
    }
}
