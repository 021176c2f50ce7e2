//! AWS credentials and the integrations, read at the binary's edge (no library reads the
//! environment); the rest of the configuration is in `settings.rs`.

use std::path::PathBuf;
use std::time::Duration;

use sluice_integrations::Integrations;
use sluice_integrations::aws::{
    ServiceConfig, SharedCredentials, default_credentials, static_credentials,
};
use sluice_integrations::awsjson::AwsJsonConfig;
use sluice_integrations::objects::Buckets;

use crate::settings::Settings;

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The region and the static key of the environment, for clients that sign with a fixed key
/// (the CLI's client commands).
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
            .finish_non_exhaustive()
    }
}

impl Aws {
    /// From `AWS_REGION` / `AWS_DEFAULT_REGION` (default us-east-1), `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
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
}

/// Whether the standard credential chain has a source here: a key in the environment, a
/// profile or shared config/credentials file, a web identity token (IAM roles for service
/// accounts on EKS), the ECS container endpoint, or, when `aws.instance_metadata` is set,
/// EC2 instance metadata (which cannot be detected without a network call).
fn chain_has_source(settings: &Settings) -> bool {
    let home_file = |name: &str| {
        var("HOME").is_some_and(|home| PathBuf::from(home).join(".aws").join(name).is_file())
    };
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|v| var(v).is_some())
        || var("AWS_SHARED_CREDENTIALS_FILE").is_some_and(|f| PathBuf::from(f).is_file())
        || var("AWS_CONFIG_FILE").is_some_and(|f| PathBuf::from(f).is_file())
        || home_file("credentials")
        || home_file("config")
        || settings.aws.instance_metadata
}

/// The credentials integrations sign with: the standard chain when it has a source, else
/// `None` (then only services with a local endpoint are served, with a placeholder key they
/// accept).
async fn credentials(settings: &Settings, region: &str) -> Option<SharedCredentials> {
    if chain_has_source(settings) {
        Some(default_credentials(region).await)
    } else {
        None
    }
}

/// The integrations as `settings` configure them, with credentials from the standard AWS
/// chain. Lambda and Batch are served when they have an endpoint or the chain has a source.
pub async fn integrations(settings: &Settings) -> Integrations {
    let region = settings
        .aws
        .region
        .clone()
        .unwrap_or_else(|| Aws::from_env().region);
    let credentials = credentials(settings, &region).await;
    let service = |endpoint: &Option<String>| {
        let credentials = match (&credentials, endpoint) {
            (Some(c), _) => c.clone(),
            // A local server (moto, a test double) accepts any key.
            (None, Some(_)) => static_credentials("sluice", "sluice"),
            (None, None) => return None,
        };
        Some(ServiceConfig {
            endpoint: endpoint.clone(),
            region: region.clone(),
            credentials,
        })
    };
    Integrations {
        lambda: service(&settings.lambda.endpoint),
        batch: service(&settings.batch.endpoint).map(|c| {
            (
                c,
                Duration::from_secs_f64(settings.batch.poll_seconds.max(0.001)),
            )
        }),
        buckets: Buckets::new(settings.s3.local_dir.clone(), settings.s3.endpoint.clone()),
        sns: service(&settings.sns.endpoint),
        connections: settings.connections.clone(),
        job_poll: Some(Duration::from_secs_f64(
            settings.batch.poll_seconds.max(0.001),
        )),
        http_timeout: settings
            .http
            .timeout_seconds
            .map(|s| Duration::from_secs_f64(s.clamp(0.001, 3600.0))),
        aws_json: {
            // Served with credentials from the chain, or against local endpoints with a
            // placeholder key.
            let local = settings.aws.endpoint.is_some() || !settings.aws.endpoints.is_empty();
            let credentials = match (&credentials, local) {
                (Some(c), _) => Some(c.clone()),
                (None, true) => Some(static_credentials("sluice", "sluice")),
                (None, false) => None,
            };
            credentials.map(|credentials| AwsJsonConfig {
                region: region.clone(),
                credentials,
                endpoint: settings.aws.endpoint.clone(),
                endpoints: settings.aws.endpoints.clone(),
            })
        },
    }
}

/// The credentials `sluice worker` signs its Step Functions requests with: the chain when it
/// has a source, else a placeholder key (`sluice serve` without `--auth` takes any).
pub async fn worker_credentials(settings: &Settings, region: &str) -> SharedCredentials {
    credentials(settings, region)
        .await
        .unwrap_or_else(|| static_credentials("sluice", "sluice"))
}
