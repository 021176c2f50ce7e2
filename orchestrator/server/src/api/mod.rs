//! The AWS Step Functions JSON protocol (`POST /`, `X-Amz-Target: AWSStepFunctions.<Action>`,
//! `application/x-amz-json-1.0`), so the AWS CLI, boto3 and the AWS SDKs work against sluice.

mod actions;
pub mod auth;
#[cfg(test)]
mod decoding_tests;
mod error;
pub mod scheduler;
mod test_state;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::Value;

pub use actions::ACTIONS;
pub(crate) use actions::dispatch;
pub use error::ApiError;

use crate::service::Service;

/// Content type of every request and response of the protocol.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// Facts about the caller taken from the request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Region of the request's SigV4 credential scope, or the configured default.
    pub region: String,
}

/// The HTTP routes: the protocol endpoint and a health check.
pub fn router(service: Arc<Service>) -> Router {
    let limit = service.config.max_request_bytes;
    Router::new()
        .route("/", post(endpoint))
        .route("/schedules", any(rest_endpoint))
        .route("/schedules/{*rest}", any(rest_endpoint))
        .route("/schedule-groups", any(rest_endpoint))
        .route("/schedule-groups/{*rest}", any(rest_endpoint))
        .route("/sluice/triggers", any(rest_endpoint))
        .route("/sluice/triggers/{*rest}", any(rest_endpoint))
        .route("/sluice/s3-events", post(s3_events))
        .layer(DefaultBodyLimit::max(limit))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(service.clone())
        .merge(crate::console::router(service))
}

/// One request of the protocol, after its body was read: check the signature (when keys are
/// configured), decode the action and its JSON input, run it. Every failure is an AWS error;
/// hostile input never panics (the decoding test and `fuzz/fuzz_targets/api_request.rs`
/// hold it to that).
pub async fn handle(
    service: &Arc<Service>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, ApiError> {
    if !service.config.access_keys.is_empty() {
        auth::verify(
            &service.config.access_keys,
            method,
            uri,
            headers,
            body,
            unix_now(),
        )?;
    }
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::validation("missing X-Amz-Target header"))?;
    let action = target
        .strip_prefix("AWSStepFunctions.")
        .ok_or_else(|| ApiError::unknown_operation(target))?;
    let input: Value = if body.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::serialization(format!("request body is not JSON: {e}")))?
    };
    let caller = Caller {
        region: region_of(headers).unwrap_or_else(|| service.config.region.clone()),
    };
    actions::dispatch(service, &caller, action, input).await
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `Credential=AKID/DATE/REGION/states/aws4_request` → REGION.
fn region_of(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    scope.split('/').nth(2).map(str::to_string)
}

async fn endpoint(
    State(service): State<Arc<Service>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = std::time::Instant::now();
    let action = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("AWSStepFunctions."))
        .unwrap_or("")
        .to_string();
    let result = async {
        let body = body.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(
                    "ValidationException",
                    format!(
                        "The request body is larger than this server accepts ({} bytes; AWS caps execution input at 262144 bytes). Pass large data by reference (an s3:// URI) or raise --max-request-bytes.",
                        service.config.max_request_bytes
                    ),
                )
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            }
            other => ApiError::serialization(format!("reading the request body: {other}")),
        })?;
        handle(&service, &method, &uri, &headers, &body).await
    };
    let result =
        tracing::Instrument::instrument(result, tracing::info_span!("api", action = %action)).await;
    // One line per request: what was asked, how it ended, how long it took.
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = result.as_ref().map_or_else(|e| e.status.as_u16(), |_| 200);
    let label = if ACTIONS.contains(&action.as_str()) {
        action.as_str()
    } else {
        "unknown"
    };
    service
        .metrics
        .api_requests
        .with_label_values(&[label, &status.to_string()])
        .inc();
    service
        .metrics
        .api_latency
        .with_label_values(&[label])
        .observe(latency_ms / 1000.0);
    match &result {
        Ok(_) => {
            tracing::info!(target: "sluice::api", action = %action, status = 200, latency_ms, "request")
        }
        Err(e) => {
            tracing::info!(target: "sluice::api", action = %action, status = e.status.as_u16(), error = e.code, latency_ms, "request")
        }
    }
    match result {
        Ok(value) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, CONTENT_TYPE)],
            value.to_string(),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The REST operations (EventBridge Scheduler's schedules, sluice's triggers): checked like
/// the JSON protocol (SigV4 when keys are configured), answered in AWS's REST JSON shapes.
async fn rest_endpoint(
    State(service): State<Arc<Service>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let body =
            body.map_err(|e| ApiError::serialization(format!("reading the request body: {e}")))?;
        if !service.config.access_keys.is_empty() {
            auth::verify(
                &service.config.access_keys,
                &method,
                &uri,
                &headers,
                &body,
                unix_now(),
            )?;
        }
        let caller = Caller {
            region: region_of(&headers).unwrap_or_else(|| service.config.region.clone()),
        };
        scheduler::route(&service, &caller, &method, &uri, &body)
            .await
            .unwrap_or_else(|| {
                Err(ApiError::unknown_operation(uri.path()).with_status(StatusCode::NOT_FOUND))
            })
    }
    .await;
    let status = result.as_ref().map_or_else(|e| e.status.as_u16(), |_| 200);
    tracing::info!(target: "sluice::api", method = %method, path = %uri.path(), status, "request");
    // A bounded label: the method and the first path segment.
    let segment = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    let label = format!("{method} /{segment}");
    service
        .metrics
        .api_requests
        .with_label_values(&[&label, &status.to_string()])
        .inc();
    match result {
        Ok(value) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// S3 event notifications pushed by an S3-compatible server (MinIO's webhook target, say).
/// Such servers do not sign requests: with `--webhook-token` the request must carry it as
/// `Authorization: Bearer <token>` (or the bare token); a server with access keys and no
/// token refuses every push.
async fn s3_events(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v));
        match (&service.config.webhook_token, presented) {
            (Some(token), Some(given)) if auth::same_secret(token, given) => {}
            (None, _) if service.config.access_keys.is_empty() => {}
            _ => {
                return Err(ApiError::new(
                    "AccessDeniedException",
                    "the notification does not carry the webhook token",
                )
                .with_status(StatusCode::FORBIDDEN));
            }
        }
        let body =
            body.map_err(|e| ApiError::serialization(format!("reading the request body: {e}")))?;
        let report = service
            .accept_notification(&body)
            .await
            .map_err(|e| match e {
                crate::service::triggers::NotificationError::Service(s) => ApiError::from(s),
                other => ApiError::validation(other.to_string()),
            })?;
        Ok(serde_json::json!({"Matched": report.matched, "Started": report.started}))
    }
    .await;
    match result {
        Ok(value) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Ready to serve: the store answers and no shutdown has begun (503 otherwise).
async fn readyz(State(service): State<Arc<Service>>) -> Response {
    match service.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}"),
        )
            .into_response(),
    }
}

/// The Prometheus text exposition.
async fn metrics(State(service): State<Arc<Service>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        service.render_metrics().await,
    )
        .into_response()
}
