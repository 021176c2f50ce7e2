//! Invoking AWS Lambda functions with `aws-sdk-lambda`, and shaping the outcome the way Step
//! Functions reports it: the `lambda:invoke` result object (`Payload`, `StatusCode`,
//! `SdkHttpMetadata`, …), function errors named by their `errorType`, service errors as
//! `Lambda.<ErrorCode>`.

use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use serde_json::{Value, json};

/// Where and as whom to call Lambda.
pub type LambdaConfig = crate::aws::ServiceConfig;

/// A failed invocation in Step Functions terms.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct LambdaFailure {
    /// `errorType` of a function error, or `Lambda.<Code>` for a service error.
    pub error: String,
    pub cause: String,
}

/// What a successful call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub status: i32,
    /// The version that ran; Lambda leaves it out of an `Event` invocation's answer.
    pub executed_version: Option<String>,
    pub request_id: String,
    /// The function's response bytes (none for `Event` and `DryRun`).
    pub payload: Vec<u8>,
    /// The base64 tail of the function's log, asked for with `LogType: Tail`.
    pub log_result: Option<String>,
}

/// The optional parameters of Lambda's Invoke that `lambda:invoke` passes on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvokeOptions {
    /// `RequestResponse` (the default), `Event` or `DryRun`.
    pub invocation_type: Option<String>,
    /// `Tail` to get the end of the log back.
    pub log_type: Option<String>,
    /// A version or alias.
    pub qualifier: Option<String>,
    /// Base64 JSON handed to the function's context.
    pub client_context: Option<String>,
}

impl InvokeOptions {
    /// The options among a `lambda:invoke` Task's parameters. A parameter that is there but not
    /// a string is refused, naming it.
    pub fn from_parameters(parameters: &Value) -> Result<Self, String> {
        let text = |name: &str| -> Result<Option<String>, String> {
            match parameters.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(format!(
                    "lambda:invoke parameter {name} must be a string, got {other}"
                )),
            }
        };
        Ok(InvokeOptions {
            invocation_type: text("InvocationType")?,
            log_type: text("LogType")?,
            qualifier: text("Qualifier")?,
            client_context: text("ClientContext")?,
        })
    }

    fn waits_for_the_result(&self) -> bool {
        self.invocation_type
            .as_deref()
            .is_none_or(|t| t == "RequestResponse")
    }
}

/// Calls Lambda functions.
#[derive(Clone)]
pub struct Lambda {
    client: aws_sdk_lambda::Client,
}

impl Lambda {
    /// A client for `config`.
    pub fn new(config: &LambdaConfig) -> Self {
        Lambda {
            client: aws_sdk_lambda::Client::new(&config.sdk_config()),
        }
    }

    /// Invoke `function` (name or ARN) with a request body.
    pub async fn invoke(
        &self,
        function: &str,
        body: Vec<u8>,
        options: &InvokeOptions,
    ) -> Result<Invocation, LambdaFailure> {
        use aws_sdk_lambda::types::{InvocationType, LogType};
        let out = self
            .client
            .invoke()
            .function_name(function)
            .payload(Blob::new(body))
            .set_invocation_type(options.invocation_type.as_deref().map(InvocationType::from))
            .set_log_type(options.log_type.as_deref().map(LogType::from))
            .set_qualifier(options.qualifier.clone())
            .set_client_context(options.client_context.clone())
            .send()
            .await
            .map_err(service_failure)?;
        let request_id = out
            .request_id()
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let payload = out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        if let Some(kind) = out.function_error() {
            return Err(function_failure(kind, &payload));
        }
        let executed_version = out.executed_version().map(str::to_string).or_else(|| {
            options
                .waits_for_the_result()
                .then(|| "$LATEST".to_string())
        });
        Ok(Invocation {
            status: out.status_code(),
            executed_version,
            request_id,
            payload,
            log_result: out.log_result().map(str::to_string),
        })
    }
}

trait RequestId {
    fn request_id(&self) -> Option<&str>;
}

impl RequestId for aws_sdk_lambda::operation::invoke::InvokeOutput {
    fn request_id(&self) -> Option<&str> {
        aws_sdk_lambda::operation::RequestId::request_id(self)
    }
}

/// A function that raised: Step Functions names the error by the payload's `errorType`.
fn function_failure(kind: &str, payload: &[u8]) -> LambdaFailure {
    let text = String::from_utf8_lossy(payload).into_owned();
    let error = serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| {
            v.get("errorType")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            if kind == "Unhandled" {
                "Lambda.Unknown".to_string()
            } else {
                kind.to_string()
            }
        });
    LambdaFailure { error, cause: text }
}

/// A Lambda service error, as the AWS Java SDK inside Step Functions words it.
fn service_failure<E, R>(e: SdkError<E, R>) -> LambdaFailure
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let (code, message, status) = match &e {
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or("ServiceException").to_string();
            let message = s.err().message().unwrap_or("").to_string();
            let status = match code.as_str() {
                "ResourceNotFoundException" => 404,
                "TooManyRequestsException" => 429,
                _ => 400,
            };
            (code, message, status)
        }
        other => ("ServiceException".to_string(), format!("{other:?}"), 500),
    };
    LambdaFailure {
        error: format!("Lambda.{code}"),
        cause: format!(
            "{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; Request ID: {}; Proxy: null)",
            uuid::Uuid::new_v4()
        ),
    }
}

/// The request body for the `Payload` parameter of `lambda:invoke`: a string is the JSON
/// document itself (sent as is), null or no Payload an empty object.
pub fn invoke_payload(payload: Option<&Value>) -> Vec<u8> {
    match payload {
        Some(Value::String(s)) => s.clone().into_bytes(),
        None | Some(Value::Null) => b"{}".to_vec(),
        Some(other) => serde_json::to_vec(other).unwrap_or_default(),
    }
}

/// Re-render JSON text with `", "` and `": "` separators, as the legacy Lambda integration
/// (a plain function ARN as Resource) reports a function's error payload in `Cause`.
pub fn spaced_json(text: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Spaced);
    match serde::Serialize::serialize(&value, &mut ser) {
        Ok(()) => String::from_utf8(out).unwrap_or_else(|_| text.to_string()),
        Err(_) => text.to_string(),
    }
}

/// One line, a space after `,` and `:`.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// The result object of `arn:aws:states:::lambda:invoke`: what Lambda answered, with its
/// headers the way the AWS SDK inside Step Functions reports them (each value once as a list,
/// once as a string).
pub fn invoke_result(inv: &Invocation) -> Value {
    let payload: Value = serde_json::from_slice(&inv.payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&inv.payload).into_owned()));
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let trace = format!("Root=1-{}", uuid::Uuid::new_v4().simple());
    let length = inv.payload.len().to_string();
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(log) = &inv.log_result {
        headers.push(("X-Amz-Log-Result", log));
    }
    if let Some(version) = &inv.executed_version {
        headers.push(("X-Amz-Executed-Version", version));
    }
    headers.extend([
        ("x-amzn-Remapped-Content-Length", "0"),
        ("Connection", "keep-alive"),
        ("x-amzn-RequestId", inv.request_id.as_str()),
        ("Content-Length", length.as_str()),
        ("Date", date.as_str()),
        ("X-Amzn-Trace-Id", trace.as_str()),
        ("Content-Type", "application/json"),
    ]);
    let all: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!([v])))
        .collect();
    let single: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut result = json!({
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": all,
            "HttpHeaders": single,
            "HttpStatusCode": inv.status,
        },
        "SdkResponseMetadata": {"RequestId": inv.request_id},
        "StatusCode": inv.status,
    });
    if let Some(version) = &inv.executed_version {
        result["ExecutedVersion"] = json!(version);
    }
    if let Some(log) = &inv.log_result {
        result["LogResult"] = json!(log);
    }
    result
}

/// The result of a plain function-ARN Task: the payload itself.
pub fn plain_result(inv: &Invocation) -> Value {
    serde_json::from_slice(&inv.payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&inv.payload).into_owned()))
}
