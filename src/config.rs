//! The configuration of the process, read at the binary's edge: no library reads the
//! environment. Precedence, lowest first: built-in defaults < `SLUICE_*` / standard `AWS_*`
//! environment variables < flags.

use std::path::PathBuf;
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

/// The integrations, from the environment:
/// - Lambda: `SLUICE_LAMBDA_ENDPOINT`, else `AWS_ENDPOINT_URL_LAMBDA`, else `AWS_ENDPOINT_URL`;
/// - Batch: `SLUICE_BATCH_ENDPOINT`, else `AWS_ENDPOINT_URL_BATCH`, else `AWS_ENDPOINT_URL`;
///   `.sync` jobs polled every `SLUICE_BATCH_POLL_SECONDS` (5);
/// - S3: `SLUICE_S3_DIR` (a directory standing in for S3), `AWS_ENDPOINT_URL_S3`, else
///   `AWS_ENDPOINT_URL`.
///
/// Lambda and Batch are served when an endpoint or AWS credentials are set.
pub fn integrations() -> Integrations {
    let aws = Aws::from_env();
    let endpoint = |names: &[&str]| {
        names
            .iter()
            .chain(&["AWS_ENDPOINT_URL"])
            .find_map(|n| var(n))
    };
    let poll = var("SLUICE_BATCH_POLL_SECONDS")
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(5.0);
    Integrations {
        lambda: aws.service(endpoint(&[
            "SLUICE_LAMBDA_ENDPOINT",
            "AWS_ENDPOINT_URL_LAMBDA",
        ])),
        batch: aws
            .service(endpoint(&[
                "SLUICE_BATCH_ENDPOINT",
                "AWS_ENDPOINT_URL_BATCH",
            ]))
            .map(|c| (c, Duration::from_secs_f64(poll))),
        buckets: Buckets {
            local_root: var("SLUICE_S3_DIR").map(PathBuf::from),
            endpoint: endpoint(&["AWS_ENDPOINT_URL_S3"]),
        },
    }
}
