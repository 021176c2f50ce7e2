//! HTTPS APIs: `arn:aws:states:::http:invoke` (Step Functions' HTTP Task) and
//! `arn:aws:states:::apigateway:invoke`. Parameters, result and errors follow AWS: the result
//! is `{Headers, ResponseBody, StatusCode, StatusText}`, a non-2xx answer fails with
//! `States.Http.StatusCode.<code>` (`ApiGateway.<code>` for API Gateway), no answer within 60
//! seconds with `States.Http.Socket`. On AWS an HTTP Task authenticates through an
//! EventBridge connection; here the connection is named in sluice's configuration
//! (`[connections.<name>]`), where its secret stays: it is added to the request and never
//! logged or returned.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use sluice_task::{Pattern, Resource, TaskFailure, TaskHandler, TaskRequest};

const RUNTIME: &str = "States.Runtime";

/// How long a request may take by default (AWS's limit for the HTTP Task).
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Largest response body read; Step Functions asks for at most 256 KiB (`Range`).
const MAX_BODY: usize = 262_144;

/// An EventBridge connection as sluice knows it: how requests through it authenticate, and
/// the parameters it adds. Secrets live only here.
#[derive(Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Connection {
    /// API_KEY: the header `api_key_name: api_key_value`.
    pub api_key_name: Option<String>,
    pub api_key_value: Option<String>,
    /// BASIC: `Authorization: Basic …`.
    pub username: Option<String>,
    pub password: Option<String>,
    /// A bearer token (`Authorization: Bearer …`), e.g. one an OAuth flow gave.
    pub bearer_token: Option<String>,
    /// Invocation parameters every request through the connection gets (they win over the
    /// Task's on the same key, as on AWS).
    pub headers: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
    pub body: BTreeMap<String, Value>,
}

// Secrets never reach a log.
impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("api_key_name", &self.api_key_name)
            .field("username", &self.username)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Connections by name (the `<name>` of `arn:aws:events:…:connection/<name>/<id>`, or the
/// whole ARN).
pub type Connections = BTreeMap<String, Connection>;

/// Serves `http:invoke` and `apigateway:invoke`.
pub struct HttpTasks {
    http: reqwest::Client,
    connections: Connections,
    timeout: Duration,
}

/// Headers a Task may not set (AWS's list), compared in lower case; `x-amz-`, `x-amzn-` and
/// `x-forwarded-` prefixes too.
const FORBIDDEN: &[&str] = &[
    "a-im",
    "accept-charset",
    "accept-datetime",
    "accept-encoding",
    "authorization",
    "cache-control",
    "connection",
    "content-encoding",
    "content-md5",
    "date",
    "expect",
    "forwarded",
    "from",
    "host",
    "http2-settings",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "origin",
    "pragma",
    "proxy-authorization",
    "referer",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "warning",
];

fn forbidden(header: &str) -> bool {
    let h = header.to_ascii_lowercase();
    FORBIDDEN.contains(&h.as_str())
        || h.starts_with("x-amz-")
        || h.starts_with("x-amzn-")
        || h.starts_with("x-forwarded-")
}

fn runtime(message: impl Into<String>) -> TaskFailure {
    TaskFailure::new(RUNTIME, message)
}

/// Which of the two a resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    ApiGateway,
}

fn kind(resource: &Resource) -> Option<Kind> {
    match resource.service_action()? {
        ("http", "invoke", Pattern::RequestResponse) => Some(Kind::Http),
        ("apigateway", "invoke", Pattern::RequestResponse) => Some(Kind::ApiGateway),
        _ => None,
    }
}

impl HttpTasks {
    /// Requests through `connections`, each given at most `timeout`.
    pub fn new(connections: Connections, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        HttpTasks {
            http,
            connections,
            timeout,
        }
    }

    fn connection(&self, arn: &str) -> Result<&Connection, TaskFailure> {
        let name = arn
            .split(":connection/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or(arn);
        self.connections
            .get(arn)
            .or_else(|| self.connections.get(name))
            .ok_or_else(|| {
                TaskFailure::new(
                    "Events.ConnectionResource.ResourceNotFound",
                    format!("Connection {arn} does not exist: name it under [connections.{name}] in sluice's configuration"),
                )
            })
    }

    async fn invoke_http(&self, params: &Value, kind: Kind) -> Result<Value, TaskFailure> {
        let endpoint = params
            .get("ApiEndpoint")
            .and_then(Value::as_str)
            .ok_or_else(|| runtime("the HTTP Task needs an ApiEndpoint"))?;
        let method = params
            .get("Method")
            .and_then(Value::as_str)
            .ok_or_else(|| runtime("the HTTP Task needs a Method"))?;
        let method = match method {
            "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "HEAD" => {
                reqwest::Method::from_bytes(method.as_bytes())
                    .map_err(|e| runtime(e.to_string()))?
            }
            other => {
                return Err(runtime(format!(
                    "Method {other:?} is not one of GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD"
                )));
            }
        };
        let mut url = match kind {
            Kind::Http => endpoint.to_string(),
            Kind::ApiGateway => {
                let base = if endpoint.contains("://") {
                    endpoint.to_string()
                } else {
                    format!("https://{endpoint}")
                };
                let stage = params.get("Stage").and_then(Value::as_str).unwrap_or("");
                let path = params.get("Path").and_then(Value::as_str).unwrap_or("");
                [
                    base.trim_end_matches('/'),
                    stage.trim_matches('/'),
                    path.trim_start_matches('/'),
                ]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("/")
            }
        };
        let parsed =
            url::Url::parse(&url).map_err(|e| runtime(format!("ApiEndpoint {url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(runtime(format!(
                "ApiEndpoint {url:?} is not an http(s) URL"
            )));
        }
        let connection = match kind {
            Kind::Http => {
                let arn = params
                    .pointer("/InvocationConfig/ConnectionArn")
                    .or_else(|| params.pointer("/Authentication/ConnectionArn"))
                    .and_then(Value::as_str);
                match arn {
                    Some(arn) => Some(self.connection(arn)?),
                    None => None,
                }
            }
            Kind::ApiGateway => None,
        };

        // Headers: the Task's (checked), then the connection's, which win.
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(h) = params.get("Headers") {
            let fields = h
                .as_object()
                .ok_or_else(|| runtime("Headers must be an object"))?;
            for (name, value) in fields {
                if forbidden(name) {
                    return Err(runtime(format!(
                        "The header {name:?} is not allowed in an HTTP Task"
                    )));
                }
                let values: Vec<String> = match value {
                    Value::Array(items) => items.iter().map(text_of).collect(),
                    other => vec![text_of(other)],
                };
                headers.extend(values.into_iter().map(|v| (name.clone(), v)));
            }
        }
        // Query parameters.
        let array_format = params
            .pointer("/Transform/RequestEncodingOptions/ArrayFormat")
            .and_then(Value::as_str)
            .unwrap_or("INDICES");
        let mut query: Vec<(String, String)> = Vec::new();
        match params.get("QueryParameters") {
            None | Some(Value::Null) => {}
            Some(Value::Object(fields)) => {
                for (k, v) in fields {
                    encode_pair(k, v, array_format, &mut query);
                }
            }
            Some(Value::String(s)) => {
                query.extend(url::form_urlencoded::parse(s.as_bytes()).into_owned());
            }
            Some(_) => return Err(runtime("QueryParameters must be an object or a string")),
        }
        // The body.
        let url_encoded = params
            .pointer("/Transform/RequestBodyEncoding")
            .and_then(Value::as_str)
            == Some("URL_ENCODED");
        let mut body = params.get("RequestBody").cloned();
        if let Some(c) = connection {
            for (k, v) in &c.headers {
                headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
                headers.push((k.clone(), v.clone()));
            }
            for (k, v) in &c.query {
                query.retain(|(name, _)| name != k);
                query.push((k.clone(), v.clone()));
            }
            if !c.body.is_empty() {
                match &mut body {
                    None | Some(Value::Null) => body = Some(json!(c.body)),
                    Some(Value::Object(fields)) => {
                        for (k, v) in &c.body {
                            fields.insert(k.clone(), v.clone());
                        }
                    }
                    Some(_) => {
                        return Err(runtime(
                            "A string RequestBody cannot take the connection's body parameters",
                        ));
                    }
                }
            }
        }
        if !query.is_empty() {
            let mut with_query = parsed.clone();
            with_query.query_pairs_mut().extend_pairs(&query);
            url = with_query.to_string();
        }
        let mut request = self.http.request(method, &url);
        let mut content_type_set = false;
        for (k, v) in &headers {
            content_type_set |= k.eq_ignore_ascii_case("content-type");
            request = request.header(k, v);
        }
        if let Some(c) = connection {
            if let (Some(name), Some(value)) = (&c.api_key_name, &c.api_key_value) {
                request = request.header(name, value);
            }
            if let Some(user) = &c.username {
                request = request.basic_auth(user, c.password.as_ref());
            }
            if let Some(token) = &c.bearer_token {
                request = request.bearer_auth(token);
            }
        }
        request = request.header("user-agent", "Amazon|StepFunctions|HttpInvoke|sluice");
        match body {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => request = request.body(s),
            Some(value) if url_encoded => {
                let mut pairs = Vec::new();
                if let Some(fields) = value.as_object() {
                    for (k, v) in fields {
                        encode_pair(k, v, array_format, &mut pairs);
                    }
                }
                let encoded = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&pairs)
                    .finish();
                if !content_type_set {
                    request = request.header("content-type", "application/x-www-form-urlencoded");
                }
                request = request.body(encoded);
            }
            Some(value) => {
                if !content_type_set {
                    request = request.header("content-type", "application/json; charset=UTF-8");
                }
                request = request.body(value.to_string());
            }
        }
        let response = request.send().await.map_err(|e| {
            TaskFailure::new(
                "States.Http.Socket",
                if e.is_timeout() {
                    format!(
                        "The request to {url} timed out after {} seconds",
                        self.timeout.as_secs_f64()
                    )
                } else {
                    format!("The request to {url} failed: {e}")
                },
            )
        })?;
        let status = response.status();
        let mut response_headers = Map::new();
        for (k, v) in response.headers() {
            let entry = response_headers
                .entry(k.to_string())
                .or_insert_with(|| json!([]));
            if let Some(list) = entry.as_array_mut() {
                list.push(json!(v.to_str().unwrap_or("")));
            }
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if ["application/octet-stream", "image/", "video/", "audio/"]
            .iter()
            .any(|t| content_type.starts_with(t))
        {
            return Err(runtime(format!(
                "The response is {content_type}, which an HTTP Task cannot return"
            )));
        }
        let mut bytes = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            TaskFailure::new("States.Http.Socket", format!("reading the response: {e}"))
        })? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_BODY {
                return Err(runtime(format!(
                    "The response body is larger than {MAX_BODY} bytes"
                )));
            }
        }
        let text =
            String::from_utf8(bytes).map_err(|_| runtime("The response body is not text"))?;
        let response_body = if text.is_empty() {
            json!("")
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()))
        };
        let result = json!({
            "Headers": response_headers,
            "ResponseBody": response_body,
            "StatusCode": status.as_u16(),
            "StatusText": status.canonical_reason().unwrap_or(""),
        });
        if status.is_success() {
            return Ok(result);
        }
        let error = match kind {
            Kind::Http => format!("States.Http.StatusCode.{}", status.as_u16()),
            Kind::ApiGateway => format!("ApiGateway.{}", status.as_u16()),
        };
        let cause = match kind {
            Kind::Http => result.to_string(),
            // API Gateway's error cause is the body as it came.
            Kind::ApiGateway => text,
        };
        Err(TaskFailure::new(error, cause))
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One key of a form or query, arrays written as `ArrayFormat` says (AWS's four forms).
fn encode_pair(key: &str, value: &Value, format: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Array(items) => match format {
            "REPEAT" => out.extend(items.iter().map(|i| (key.to_string(), text_of(i)))),
            "COMMAS" => out.push((
                key.to_string(),
                items.iter().map(text_of).collect::<Vec<_>>().join(","),
            )),
            "BRACKETS" => out.extend(items.iter().map(|i| (format!("{key}[]"), text_of(i)))),
            _ => out.extend(
                items
                    .iter()
                    .enumerate()
                    .map(|(n, i)| (format!("{key}[{n}]"), text_of(i))),
            ),
        },
        Value::Object(fields) => {
            for (k, v) in fields {
                encode_pair(&format!("{key}[{k}]"), v, format, out);
            }
        }
        other => out.push((key.to_string(), text_of(other))),
    }
}

impl TaskHandler for HttpTasks {
    fn handles(&self, resource: &Resource) -> bool {
        kind(resource).is_some()
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let kind = kind(&request.resource).unwrap_or(Kind::Http);
            self.invoke_http(&request.input, kind).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_encoded_as_asked() {
        let v = json!(["a", "b"]);
        let run = |f: &str| {
            let mut out = Vec::new();
            encode_pair("k", &v, f, &mut out);
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&out)
                .finish()
        };
        assert_eq!(run("INDICES"), "k%5B0%5D=a&k%5B1%5D=b");
        assert_eq!(run("REPEAT"), "k=a&k=b");
        assert_eq!(run("COMMAS"), "k=a%2Cb");
        assert_eq!(run("BRACKETS"), "k%5B%5D=a&k%5B%5D=b");
    }

    #[test]
    fn forbidden_headers_are_refused() {
        assert!(forbidden("Authorization"));
        assert!(forbidden("X-Amz-Date"));
        assert!(forbidden("x-forwarded-for"));
        assert!(!forbidden("X-Team"));
        assert!(!forbidden("Content-Type"));
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let c = Connection {
            api_key_name: Some("x-api-key".into()),
            api_key_value: Some("hunter2".into()),
            password: Some("pw".into()),
            ..Default::default()
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("pw\""),
            "{shown}"
        );
    }
}
