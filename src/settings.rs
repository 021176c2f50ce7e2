//! The typed configuration of `sluice serve`, loaded once: built-in defaults < the config file
//! (`--config sluice.toml`) < `SLUICE_*` environment variables < flags. `sluice config` prints
//! the result with secrets redacted.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Shown instead of a secret.
const REDACTED: &str = "<redacted>";

/// Everything `sluice serve` is configured with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub aws: Aws,
    pub serve: Serve,
    pub lambda: Endpoint,
    pub batch: Batch,
    pub s3: S3,
    /// `[sns]`: `SLUICE_SNS_ENDPOINT`, `AWS_ENDPOINT_URL_SNS`.
    pub sns: Endpoint,
    /// `[connections.<name>]`: the EventBridge connections HTTP Tasks name, with their
    /// secrets (API key, basic credentials or a bearer token) and invocation parameters.
    pub connections: sluice_integrations::http::Connections,
    /// `[http] timeout_seconds` (`SLUICE_HTTP_TIMEOUT_SECONDS`): how long an HTTP Task's
    /// request may take (default AWS's 60).
    pub http: Http,
}

/// The `[http]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Http {
    pub timeout_seconds: Option<f64>,
}

/// The `[serve]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Serve {
    /// Address to listen on.
    pub listen: String,
    /// `sqlite:PATH`, `sqlite::memory:` or `postgres://user@host:port/db` (`SLUICE_STORE`).
    pub store: String,
    /// Region used in ARNs when a request names none.
    pub region: String,
    /// Account id used in ARNs.
    pub account: String,
    pub activity_lease_seconds: f64,
    /// `ACCESS_KEY_ID:SECRET` keys requests must be signed with (`SLUICE_AUTH`, comma-separated).
    pub auth: Vec<String>,
    /// This replica's name (`SLUICE_REPLICA_ID`); default: the host name.
    pub replica_id: Option<String>,
    pub execution_lease_seconds: f64,
    /// The task-token secret (`SLUICE_TOKEN_SECRET`); default: kept in the store.
    pub token_secret: Option<String>,
    pub max_transitions: u64,
    pub max_request_bytes: usize,
    /// Largest Task/Map/Parallel result (`SLUICE_MAX_PAYLOAD_BYTES`).
    pub max_payload_bytes: usize,
    /// How long a shutdown may take (`SLUICE_SHUTDOWN_GRACE_SECONDS`).
    pub shutdown_grace_seconds: f64,
    /// Map Run children this replica runs at once; a Map Run driven here queues the rest
    /// for other replicas (`SLUICE_CHILD_SLOTS`).
    pub child_slots: usize,
    /// The token pushed S3 event notifications must carry (`SLUICE_WEBHOOK_TOKEN`).
    pub webhook_token: Option<String>,
    /// How often a replica looks for due schedules, in seconds.
    pub schedule_poll_seconds: f64,
}

impl Default for Serve {
    fn default() -> Self {
        Serve {
            listen: "127.0.0.1:8083".into(),
            store: "sqlite:.sluice/sluice.db".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            activity_lease_seconds: 300.0,
            auth: Vec::new(),
            replica_id: None,
            execution_lease_seconds: 30.0,
            token_secret: None,
            max_transitions: 10_000_000,
            max_request_bytes: sluice_server::service::DEFAULT_MAX_REQUEST_BYTES,
            max_payload_bytes: 262_144,
            shutdown_grace_seconds: 25.0,
            child_slots: sluice_server::service::DEFAULT_CHILD_SLOTS,
            webhook_token: None,
            schedule_poll_seconds: 0.25,
        }
    }
}

/// The `[aws]` table. Credentials always come from the standard AWS chain (environment,
/// profiles, web identity, container and instance metadata), never from this file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Aws {
    /// Region of the AWS clients (`AWS_REGION`, `AWS_DEFAULT_REGION`; default us-east-1).
    pub region: Option<String>,
    /// Also try EC2 instance metadata for credentials when nothing else names a source
    /// (`SLUICE_AWS_INSTANCE_METADATA=true`).
    pub instance_metadata: bool,
    /// One endpoint for every AWS service without its own (`AWS_ENDPOINT_URL`): a local
    /// server such as moto or LocalStack.
    pub endpoint: Option<String>,
    /// Endpoints of single services called over the AWS JSON protocol, by their `aws-sdk:`
    /// name (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SQS`, …).
    pub endpoints: std::collections::BTreeMap<String, String>,
}

/// A service endpoint (`[lambda]`): `SLUICE_LAMBDA_ENDPOINT`, `AWS_ENDPOINT_URL_LAMBDA`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Endpoint {
    pub endpoint: Option<String>,
}

/// `[batch]`: `SLUICE_BATCH_ENDPOINT` / `AWS_ENDPOINT_URL_BATCH`, `SLUICE_BATCH_POLL_SECONDS`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Batch {
    pub endpoint: Option<String>,
    pub poll_seconds: f64,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            endpoint: None,
            poll_seconds: 5.0,
        }
    }
}

/// `[s3]`: `AWS_ENDPOINT_URL_S3`, and `SLUICE_S3_DIR`, a directory standing in for S3.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3 {
    pub endpoint: Option<String>,
    pub local_dir: Option<PathBuf>,
}

/// Reads one environment variable (the loader's only window on the environment, so tests can
/// give it a map instead).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, empty values treated as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    /// Defaults, then the file (when given), then the environment. Flags are applied by the
    /// caller afterwards, so they win.
    pub fn load(file: Option<&Path>, env: Env<'_>) -> Result<Settings> {
        let mut settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("the config file {} is not valid", path.display()))?
            }
            None => Settings::default(),
        };
        settings.apply_env(env)?;
        Ok(settings)
    }

    fn apply_env(&mut self, env: Env<'_>) -> Result<()> {
        fn parse<T: std::str::FromStr>(name: &str, text: String) -> Result<T>
        where
            T::Err: std::fmt::Display,
        {
            text.parse::<T>()
                .map_err(|e| anyhow::anyhow!("environment variable {name}={text:?}: {e}"))
        }
        if let Some(v) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
            self.aws.region = Some(v);
        }
        if let Some(v) = env("SLUICE_AWS_INSTANCE_METADATA") {
            self.aws.instance_metadata = parse("SLUICE_AWS_INSTANCE_METADATA", v)?;
        }
        if let Some(v) = env("AWS_ENDPOINT_URL") {
            self.aws.endpoint = Some(v);
        }
        for service in sluice_integrations::awsjson::all_services() {
            if let Some(v) = env(&sluice_integrations::awsjson::endpoint_variable(service)) {
                self.aws.endpoints.insert(service.sdk_name.to_string(), v);
            }
        }
        let s = &mut self.serve;
        if let Some(v) = env("SLUICE_LISTEN") {
            s.listen = v;
        }
        if let Some(v) = env("SLUICE_STORE") {
            s.store = v;
        }
        if let Some(v) = env("SLUICE_AUTH") {
            s.auth = v.split(',').map(|k| k.trim().to_string()).collect();
        }
        if let Some(v) = env("SLUICE_REPLICA_ID") {
            s.replica_id = Some(v);
        }
        if let Some(v) = env("SLUICE_TOKEN_SECRET") {
            s.token_secret = Some(v);
        }
        if let Some(v) = env("SLUICE_SHUTDOWN_GRACE_SECONDS") {
            s.shutdown_grace_seconds = parse("SLUICE_SHUTDOWN_GRACE_SECONDS", v)?;
        }
        if let Some(v) = env("SLUICE_MAX_PAYLOAD_BYTES") {
            s.max_payload_bytes = parse("SLUICE_MAX_PAYLOAD_BYTES", v)?;
        }
        if let Some(v) = env("SLUICE_HTTP_TIMEOUT_SECONDS") {
            self.http.timeout_seconds = Some(parse("SLUICE_HTTP_TIMEOUT_SECONDS", v)?);
        }
        if let Some(v) = env("SLUICE_WEBHOOK_TOKEN") {
            s.webhook_token = Some(v);
        }
        if let Some(v) = env("SLUICE_CHILD_SLOTS") {
            s.child_slots = parse("SLUICE_CHILD_SLOTS", v)?;
        }
        // The service's own variable, then AWS's standard per-service and global ones.
        let endpoint = |own: &str, aws: &str| {
            env(own)
                .or_else(|| env(aws))
                .or_else(|| env("AWS_ENDPOINT_URL"))
        };
        if let Some(v) = endpoint("SLUICE_SNS_ENDPOINT", "AWS_ENDPOINT_URL_SNS") {
            self.sns.endpoint = Some(v);
        }
        if let Some(v) = endpoint("SLUICE_LAMBDA_ENDPOINT", "AWS_ENDPOINT_URL_LAMBDA") {
            self.lambda.endpoint = Some(v);
        }
        if let Some(v) = endpoint("SLUICE_BATCH_ENDPOINT", "AWS_ENDPOINT_URL_BATCH") {
            self.batch.endpoint = Some(v);
        }
        if let Some(v) = env("SLUICE_BATCH_POLL_SECONDS") {
            self.batch.poll_seconds = parse("SLUICE_BATCH_POLL_SECONDS", v)?;
        }
        if let Some(v) = endpoint("SLUICE_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3") {
            self.s3.endpoint = Some(v);
        }
        if let Some(v) = env("SLUICE_S3_DIR") {
            self.s3.local_dir = Some(PathBuf::from(v));
        }
        Ok(())
    }

    /// The settings as TOML with every secret replaced by `<redacted>`.
    pub fn redacted_toml(&self) -> Result<String> {
        let mut shown = self.clone();
        for key in &mut shown.serve.auth {
            let id = key.split(':').next().unwrap_or("").to_string();
            *key = format!("{id}:{REDACTED}");
        }
        if shown.serve.token_secret.is_some() {
            shown.serve.token_secret = Some(REDACTED.into());
        }
        if shown.serve.webhook_token.is_some() {
            shown.serve.webhook_token = Some(REDACTED.into());
        }
        for c in shown.connections.values_mut() {
            for secret in [&mut c.api_key_value, &mut c.password, &mut c.bearer_token] {
                if secret.is_some() {
                    *secret = Some(REDACTED.into());
                }
            }
        }
        Ok(toml::to_string(&shown)?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn file_then_environment_override_defaults() {
        let dir = std::env::temp_dir().join(format!("sluice-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("sluice.toml");
        std::fs::write(
            &file,
            "[serve]\nstore = \"sqlite:/data/a.db\"\nregion = \"eu-west-1\"\n[batch]\npoll_seconds = 2.5\n",
        )
        .expect("write");
        let env = env_of(&[
            ("SLUICE_STORE", "postgres://db/sluice"),
            ("AWS_ENDPOINT_URL_LAMBDA", "http://lambda:9001"),
        ]);
        let s = Settings::load(Some(&file), &env).expect("loads");
        assert_eq!(
            s.serve.store, "postgres://db/sluice",
            "environment beats the file"
        );
        assert_eq!(s.serve.region, "eu-west-1", "the file beats the default");
        assert_eq!(s.serve.account, "123456789012", "defaults fill the rest");
        assert_eq!(s.batch.poll_seconds, 2.5);
        assert_eq!(s.lambda.endpoint.as_deref(), Some("http://lambda:9001"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_input_is_located() {
        let dir = std::env::temp_dir().join(format!("sluice-settings-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("sluice.toml");
        std::fs::write(&file, "[serve]\nstroe = \"x\"\n").expect("write");
        let err = Settings::load(Some(&file), &env_of(&[])).expect_err("unknown key");
        let text = format!("{err:#}");
        assert!(
            text.contains("sluice.toml") && text.contains("stroe"),
            "{text}"
        );
        let err = Settings::load(None, &env_of(&[("SLUICE_BATCH_POLL_SECONDS", "soon")]))
            .expect_err("not a number");
        assert!(format!("{err:#}").contains("SLUICE_BATCH_POLL_SECONDS"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn secrets_are_redacted() {
        let mut s = Settings::default();
        s.serve.auth = vec!["AKID:very-secret".into()];
        s.serve.token_secret = Some("also-secret".into());
        let shown = s.redacted_toml().expect("toml");
        assert!(!shown.contains("secret\""), "{shown}");
        assert!(!shown.contains("very-secret") && !shown.contains("also-secret"));
        assert!(shown.contains("AKID:<redacted>"), "{shown}");
    }
}
