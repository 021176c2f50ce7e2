//! AWS credentials and the integrations, read at the binary's edge (no library reads the
//! environment); the rest of the configuration is in `settings.rs`.

use std::time::Duration;

use sluice_integrations::Integrations;
use sluice_integrations::aws::ServiceConfig;
use sluice_integrations::objects::Buckets;

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// AWS region and static credentials from the standard variables. Local endpoints accept any
/// credentials, so `sluice` stands in when none are set.
#[derive(Clone)]
pub struct Aws {
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
}

// Secrets never reach a log.
impl std::fmt::Debug for Aws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws")
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Aws {
    /// From `AWS_REGION` / `AWS_DEFAULT_REGION` (default us-east-1) and
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
    pub fn from_env() -> Aws {
        Aws {
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
        }
    }

    /// A service reached at `endpoint`: configured when there is an endpoint or credentials.
    fn service(&self, endpoint: Option<String>) -> Option<ServiceConfig> {
        if endpoint.is_none() && self.access_key_id.is_none() {
            return None;
        }
        Some(ServiceConfig {
            endpoint,
            region: self.region.clone(),
            access_key_id: self
                .access_key_id
                .clone()
                .unwrap_or_else(|| "sluice".into()),
            secret_access_key: self
                .secret_access_key
                .clone()
                .unwrap_or_else(|| "sluice".into()),
        })
    }
}

/// The integrations as `settings` configure them (endpoints, Batch polling, the directory
/// standing in for S3) with the region and credentials of the environment. Lambda and Batch
/// are served when an endpoint or AWS credentials are set.
pub fn integrations(settings: &crate::settings::Settings) -> Integrations {
    let aws = Aws::from_env();
    Integrations {
        lambda: aws.service(settings.lambda.endpoint.clone()),
        batch: aws.service(settings.batch.endpoint.clone()).map(|c| {
            (
                c,
                Duration::from_secs_f64(settings.batch.poll_seconds.max(0.001)),
            )
        }),
        buckets: Buckets {
            local_root: settings.s3.local_dir.clone(),
            endpoint: settings.s3.endpoint.clone(),
        },
    }
}
