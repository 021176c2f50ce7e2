//! A small client of the Step Functions JSON protocol, for the `sluice` CLI's commands that
//! talk to a running `sluice serve`.

use serde_json::Value;

/// Failures talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach {endpoint}: {source}")]
    Http {
        endpoint: String,
        source: reqwest::Error,
    },
    /// The server answered with an AWS error.
    #[error("{code}: {message}")]
    Api { code: String, message: String },
}

/// Calls actions on one endpoint.
pub struct Client {
    endpoint: String,
    http: reqwest::Client,
}

impl Client {
    /// A client of the server at `endpoint` (e.g. `http://127.0.0.1:8083`).
    pub fn new(endpoint: &str) -> Self {
        Client {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Call `AWSStepFunctions.<action>` with a JSON request object.
    pub async fn call(&self, action: &str, request: &Value) -> Result<Value, ClientError> {
        let http_err = |source| ClientError::Http {
            endpoint: self.endpoint.clone(),
            source,
        };
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("X-Amz-Target", format!("AWSStepFunctions.{action}"))
            .header("Content-Type", crate::api::CONTENT_TYPE)
            .body(request.to_string())
            .send()
            .await
            .map_err(http_err)?;
        let ok = response.status().is_success();
        let body: Value = response.json().await.map_err(http_err)?;
        if ok {
            Ok(body)
        } else {
            Err(ClientError::Api {
                code: body["__type"].as_str().unwrap_or("Error").to_string(),
                message: body["message"].as_str().unwrap_or("").to_string(),
            })
        }
    }
}
