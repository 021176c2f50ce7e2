//! Errors in the shape AWS clients parse: HTTP 400 with `{"__type": "<Code>", "message": …}`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::service::ServiceError;
use crate::store::StoreError;

/// An error reply of the Step Functions API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The AWS error code, e.g. `ExecutionDoesNotExist`.
    pub code: &'static str,
    pub message: String,
    pub status: StatusCode,
}

impl ApiError {
    /// A client error with this code.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// A field is missing or malformed.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// The body is not JSON.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    /// An action sluice does not know.
    pub fn unknown_operation(action: &str) -> Self {
        Self::new(
            "UnknownOperationException",
            format!("sluice does not implement the operation {action}"),
        )
    }

    /// A failure on our side.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            code: "InternalServerError",
            message: message.into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidToken => {
                ApiError::new("InvalidToken", "Invalid Token: the task token is not known")
            }
            StoreError::TaskEnded => {
                ApiError::new("TaskTimedOut", "Task Timed Out: the task has already ended")
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Store(s) => s.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.code, "message": self.message});
        (
            self.status,
            [
                (header::CONTENT_TYPE, super::CONTENT_TYPE),
                (
                    header::HeaderName::from_static("x-amzn-errortype"),
                    self.code,
                ),
            ],
            body.to_string(),
        )
            .into_response()
    }
}
