//! What every AWS SDK client the worker builds (Step Functions, Lambda, Batch) is configured
//! with: an endpoint, a region and static credentials, read from the environment.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::SdkConfig;
use aws_types::region::Region;

/// Where and as whom to call an AWS service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Endpoint URL (`http://…` for a local server).
    pub endpoint: Option<String>,
    pub region: String,
    /// Static credentials; a local endpoint accepts any.
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl ServiceConfig {
    /// From the environment, when one of `endpoint_vars` (then `AWS_ENDPOINT_URL`) or AWS
    /// credentials are set: the region from `AWS_REGION`/`AWS_DEFAULT_REGION`, credentials from
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
    pub fn from_env(endpoint_vars: &[&str]) -> Option<ServiceConfig> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let endpoint = endpoint_vars
            .iter()
            .chain(&["AWS_ENDPOINT_URL"])
            .find_map(|k| var(k));
        let key = var("AWS_ACCESS_KEY_ID");
        if endpoint.is_none() && key.is_none() {
            return None;
        }
        Some(ServiceConfig {
            endpoint,
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            access_key_id: key.unwrap_or_else(|| "sluice".into()),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|| "sluice".into()),
        })
    }

    /// The SDK configuration every service client is built from.
    pub fn sdk_config(&self) -> SdkConfig {
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                self.access_key_id.clone(),
                self.secret_access_key.clone(),
                None,
                None,
                "sluice",
            )))
            .http_client(http_client(self.endpoint.as_deref()));
        if let Some(endpoint) = &self.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        builder.build()
    }
}

/// Plain HTTP for an `http://` endpoint (a local server), else HTTPS with rustls.
pub fn http_client(endpoint: Option<&str>) -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let builder = aws_smithy_http_client::Builder::new();
    match endpoint {
        Some(url) if url.starts_with("http://") => builder.build_http(),
        _ => builder
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https(),
    }
}
