//! A small client of the Step Functions JSON protocol, for the `sluice` CLI's commands that
//! talk to a running `sluice serve`. Requests are SigV4-signed (service `states`) when the
//! client has credentials, so the commands work against `sluice serve --auth` and AWS.

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde_json::Value;

/// The key a client signs with, and the region of its signature scope.
#[derive(Clone)]
pub struct Signer {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: String,
}

// The secret never reaches a log.
impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

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
    /// The request could not be signed (a malformed endpoint URL or key).
    #[error("signing the request to {endpoint}: {message}")]
    Sign { endpoint: String, message: String },
}

/// Calls actions on one endpoint.
pub struct Client {
    endpoint: String,
    http: reqwest::Client,
    signer: Option<Signer>,
}

impl Client {
    /// A client of the server at `endpoint` (e.g. `http://127.0.0.1:8083`).
    pub fn new(endpoint: &str) -> Self {
        Client {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            signer: None,
        }
    }

    /// The same client, signing every request with `signer`.
    pub fn signed(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The SigV4 headers of a request with these headers and body.
    fn signature(
        &self,
        signer: &Signer,
        service: &str,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, ClientError> {
        let failed = |message: String| ClientError::Sign {
            endpoint: self.endpoint.clone(),
            message,
        };
        let identity = aws_credential_types::Credentials::new(
            signer.access_key_id.clone(),
            signer.secret_access_key.clone(),
            signer.session_token.clone(),
            None,
            "sluice",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&signer.region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| failed(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            method,
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

    /// Call `AWSStepFunctions.<action>` with a JSON request object.
    pub async fn call(&self, action: &str, request: &Value) -> Result<Value, ClientError> {
        let http_err = |source| ClientError::Http {
            endpoint: self.endpoint.clone(),
            source,
        };
        let url = format!("{}/", self.endpoint);
        let body = request.to_string();
        let headers = [
            ("x-amz-target", format!("AWSStepFunctions.{action}")),
            ("content-type", crate::api::CONTENT_TYPE.to_string()),
        ];
        let signature = match &self.signer {
            Some(signer) => {
                self.signature(signer, "states", "POST", &url, &headers, body.as_bytes())?
            }
            None => Vec::new(),
        };
        let mut post = self.http.post(&url);
        for (k, v) in headers {
            post = post.header(k, v);
        }
        for (k, v) in signature {
            post = post.header(k, v);
        }
        let response = post.body(body).send().await.map_err(http_err)?;
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

    /// Call a REST JSON operation (the EventBridge Scheduler API, sluice's triggers):
    /// `method` on `path` (with its query), signed for `service`.
    pub async fn rest(
        &self,
        service: &str,
        method: &str,
        path: &str,
        request: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let http_err = |source| ClientError::Http {
            endpoint: self.endpoint.clone(),
            source,
        };
        let url = format!("{}{path}", self.endpoint);
        let body = request.map(Value::to_string).unwrap_or_default();
        let headers = [("content-type", "application/json".to_string())];
        let signature = match &self.signer {
            Some(signer) => {
                self.signature(signer, service, method, &url, &headers, body.as_bytes())?
            }
            None => Vec::new(),
        };
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| ClientError::Sign {
                endpoint: self.endpoint.clone(),
                message: e.to_string(),
            })?;
        let mut req = self.http.request(method, &url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        for (k, v) in signature {
            req = req.header(k, v);
        }
        let response = req.body(body).send().await.map_err(http_err)?;
        let ok = response.status().is_success();
        let code = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.map_err(http_err)?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if ok {
            Ok(body)
        } else {
            Err(ClientError::Api {
                code: code
                    .or_else(|| body["__type"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "Error".into()),
                message: body["message"]
                    .as_str()
                    .or_else(|| body["Message"].as_str())
                    .or_else(|| body.as_str())
                    .unwrap_or("")
                    .to_string(),
            })
        }
    }
}
