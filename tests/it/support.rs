//! Starting `sluice serve` as a real process and pointing AWS clients at it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_sfn::config::interceptors::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_sfn::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;

/// StartSyncExecution puts `sync-` before the endpoint's host, as AWS serves it from
/// `sync-states.<region>…`; against `127.0.0.1` that name does not resolve, so the tests drop
/// the prefix (users of a local endpoint do the same, or use a resolvable name).
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_serialization(
        &self,
        _context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_sfn::error::BoxError> {
        cfg.interceptor_state().unset::<EndpointPrefix>();
        Ok(())
    }
}

/// A running `sluice serve`; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// What it logged after its address, line by line.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Start a server on a free port over `store` (e.g. `sqlite:/tmp/x.db`).
    pub fn start(store: &str) -> Server {
        Self::start_with(store, &[])
    }

    /// Start with extra flags.
    pub fn start_with(store: &str, extra: &[&str]) -> Server {
        Self::start_env(store, extra, &[])
    }

    /// Start with extra flags and environment variables.
    pub fn start_env(store: &str, extra: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
            .args(extra)
            .env("SLUICE_LOG", "warn")
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sluice serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let endpoint = loop {
            let line = lines
                .next()
                .expect("sluice serve printed its address before exiting")
                .expect("stderr is readable");
            // A plain line, or the same message inside a JSON log line.
            if let Some((_, rest)) = line.split_once("sluice serve listening on ") {
                break rest
                    .split(|c: char| c == '"' || c.is_whitespace())
                    .next()
                    .unwrap_or("")
                    .to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        Server {
            child,
            endpoint,
            log,
        }
    }

    /// The lines it logged so far that contain `needle`.
    pub fn logged(&self, needle: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stop the server as an orchestrator would (SIGTERM) and wait until it exited; how it
    /// exited and how long that took.
    pub fn stop(mut self) -> (std::process::ExitStatus, Duration) {
        let started = std::time::Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM was delivered");
        let status = self.child.wait().expect("the server exits");
        (status, started.elapsed())
    }

    /// An aws-sdk-sfn client for this server.
    pub fn client(&self) -> aws_sdk_sfn::Client {
        client(&self.endpoint)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `sluice worker`; killed when dropped.
pub struct Worker(Child);

impl Worker {
    /// Poll `activity` on `endpoint` with `concurrency` tasks at once.
    pub fn start(
        endpoint: &str,
        activity: &str,
        concurrency: usize,
        envs: &[(&str, &str)],
    ) -> Worker {
        Self::start_args(
            endpoint,
            activity,
            &["--concurrency", &concurrency.to_string()],
            envs,
        )
    }

    /// With extra flags.
    pub fn start_args(
        endpoint: &str,
        activity: &str,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Worker {
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["worker", "--endpoint", endpoint, "--activity", activity])
            .args(extra)
            .env("SLUICE_LOG", "warn")
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sluice worker starts");
        Worker(child)
    }

    /// SIGTERM, as Kubernetes stops a pod; how the worker exited and how long it took.
    pub fn stop(mut self) -> (std::process::ExitStatus, Duration) {
        let started = std::time::Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM was delivered");
        let status = self.0.wait().expect("the worker exits");
        (status, started.elapsed())
    }

    /// `kill -9`: the worker drops whatever it is doing.
    pub fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The ARN of activity `name` once a worker has registered it.
pub async fn activity_arn(client: &aws_sdk_sfn::Client, name: &str) -> String {
    eventually(Duration::from_secs(20), || async {
        let listed = client.list_activities().send().await.ok()?;
        listed
            .activities()
            .iter()
            .find(|a| a.name() == name)
            .map(|a| a.activity_arn().to_string())
    })
    .await
}

/// An aws-sdk-sfn client with dummy credentials, plain HTTP, for `endpoint`.
pub fn client(endpoint: &str) -> aws_sdk_sfn::Client {
    client_with_key(endpoint, "AKIDTEST", "secret")
}

/// An aws-sdk-sfn client signing with the given key.
pub fn client_with_key(endpoint: &str, key_id: &str, secret: &str) -> aws_sdk_sfn::Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let conf = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(key_id, secret, None, None, "test"))
        .http_client(http)
        .interceptor(NoHostPrefix)
        .build();
    aws_sdk_sfn::Client::from_conf(conf)
}

/// How [`client_signing`] departs from a correctly signed request.
pub enum Signing {
    /// Sign with a clock reading this time.
    At(std::time::SystemTime),
    /// Sign, then replace the body (what a man in the middle would do).
    ReplaceBody(String),
}

/// Replaces the body of a request after it was signed.
#[derive(Debug)]
struct ReplaceBody(String);

impl Intercept for ReplaceBody {
    fn name(&self) -> &'static str {
        "ReplaceBody"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_sfn::error::BoxError> {
        let request = context.request_mut();
        *request.body_mut() = aws_smithy_types::body::SdkBody::from(self.0.clone());
        request
            .headers_mut()
            .insert("content-length", self.0.len().to_string());
        Ok(())
    }
}

/// A clock stopped at one time.
#[derive(Debug)]
struct FixedClock(std::time::SystemTime);

impl aws_smithy_async::time::TimeSource for FixedClock {
    fn now(&self) -> std::time::SystemTime {
        self.0
    }
}

/// An aws-sdk-sfn client (key AKIDTEST/secret) whose requests are wrong in one way.
pub fn client_signing(endpoint: &str, how: Signing) -> aws_sdk_sfn::Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let mut conf = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .http_client(http)
        .interceptor(NoHostPrefix)
        // Without this the SDK corrects its clock from the server's Date header and retries,
        // which hides the first refusal.
        .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled());
    conf = match how {
        Signing::At(time) => conf
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .time_source(FixedClock(time)),
        Signing::ReplaceBody(body) => conf
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .interceptor(ReplaceBody(body)),
    };
    aws_sdk_sfn::Client::from_conf(conf.build())
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Poll `check` until it returns Some, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A state machine role ARN for tests.
pub const ROLE: &str = "arn:aws:iam::123456789012:role/sluice-test";

/// Wait (up to 30 s) until an execution is no longer RUNNING, and describe it.
pub async fn finished(
    client: &aws_sdk_sfn::Client,
    arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    eventually(Duration::from_secs(30), || async {
        let d = client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("DescribeExecution succeeds");
        (d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running).then_some(d)
    })
    .await
}

/// CreateStateMachine: the new machine's ARN.
pub async fn create(
    client: &aws_sdk_sfn::Client,
    name: &str,
    definition: serde_json::Value,
) -> String {
    client
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("CreateStateMachine succeeds")
        .state_machine_arn()
        .to_string()
}

/// StartExecution of `machine` with `input`: the execution's ARN.
pub async fn start(client: &aws_sdk_sfn::Client, machine: &str, input: &str) -> String {
    client
        .start_execution()
        .state_machine_arn(machine)
        .input(input)
        .send()
        .await
        .expect("StartExecution succeeds")
        .execution_arn()
        .to_string()
}

/// The whole history of an execution, every page.
pub async fn history(
    client: &aws_sdk_sfn::Client,
    execution: &str,
) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
    let mut events = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = client
            .get_execution_history()
            .execution_arn(execution)
            .max_results(1000)
            .set_next_token(next)
            .send()
            .await
            .expect("GetExecutionHistory succeeds");
        events.extend_from_slice(page.events());
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            return events;
        }
    }
}
