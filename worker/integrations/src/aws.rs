//! What every AWS SDK client sluice builds (Step Functions, Lambda, Batch) is configured
//! with: an endpoint, a region and credentials, as the configuration gives them.

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
