//! What every AWS SDK client sluice builds (Step Functions, Lambda, Batch) is configured
//! with: an endpoint, a region and credentials, as the configuration gives them.

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::provider_config::ProviderConfig;
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
    /// Where credentials come from: the standard chain, or a static key.
    pub credentials: SharedCredentialsProvider,
}

/// A source of AWS credentials, shared by clients.
pub type SharedCredentials = SharedCredentialsProvider;

/// The standard AWS credential chain, in AWS's order: environment variables, the shared
/// config and credentials files (profiles, `credential_process`), web identity (IAM roles for
/// service accounts on EKS), the ECS container endpoint, EC2 instance metadata. Nothing is
/// resolved until a client signs its first request; credentials are cached and refreshed.
pub async fn default_credentials(region: &str) -> SharedCredentialsProvider {
    // The chain's own clients (STS, instance metadata) use the same rustls client as ours.
    let conf = ProviderConfig::default().with_http_client(http_client(None));
    let chain = DefaultCredentialsChain::builder()
        .region(Region::new(region.to_string()))
        .configure(conf)
        .build()
        .await;
    SharedCredentialsProvider::new(chain)
}

/// A fixed key (a local server accepts any; tests and benchmarks).
pub fn static_credentials(
    access_key_id: &str,
    secret_access_key: &str,
) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        access_key_id,
        secret_access_key,
        None,
        None,
        "sluice",
    ))
}

impl ServiceConfig {
    /// The SDK configuration every service client is built from.
    pub fn sdk_config(&self) -> SdkConfig {
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(self.credentials.clone())
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
