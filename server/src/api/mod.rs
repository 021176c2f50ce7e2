//! The AWS Step Functions JSON protocol (`POST /`, `X-Amz-Target: AWSStepFunctions.<Action>`,
//! `application/x-amz-json-1.0`), so the AWS CLI, boto3 and the AWS SDKs work against sluice.

mod actions;
pub mod auth;
mod error;
mod test_state;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

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
    Router::new()
        .route("/", post(endpoint))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(service)
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
    body: Bytes,
) -> Response {
    let result = async {
        if !service.config.access_keys.is_empty() {
            auth::verify(&service.config.access_keys, &method, &uri, &headers, &body)?;
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
            serde_json::from_slice(&body)
                .map_err(|e| ApiError::serialization(format!("request body is not JSON: {e}")))?
        };
        let caller = Caller {
            region: region_of(&headers).unwrap_or_else(|| service.config.region.clone()),
        };
        actions::dispatch(&service, &caller, action, input).await
    }
    .await;
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
