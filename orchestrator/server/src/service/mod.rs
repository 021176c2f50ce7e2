//! The orchestrator: starts executions, drives durable Standard executions one checkpointed
//! transition at a time, runs Express executions in memory, and connects Task states to
//! activity workers and callbacks.

mod batches;
mod child_pool;
mod children;
mod committer;
mod driver;
mod jobs;
mod map_runs;
mod nested;
pub mod schedules;
pub mod triggers;
pub(crate) use map_runs::UpdateError as UpdateMapRunError;
mod task_writer;
pub mod tasks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sluice_engine::engine::{Engine, Limits, TokenKey};
use sluice_engine::lang::load::parse_json;
use sluice_engine::lang::model::StateMachine;
use sluice_integrations::{Builtins, DispatchOptions, Integrations};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use committer::Committer;
pub use driver::{ExpressOutcome, redriven_event};
use tasks::{ParkedTasks, Registry};

use crate::store::{Store, StoreError};

/// Service-level failures, mapped to AWS error shapes by the API layer.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored definition or input that no longer parses (should not happen: both were
    /// checked when they were accepted).
    #[error("stored data is damaged: {0}")]
    Damaged(String),
}

/// Settings of the orchestrator.
#[derive(Debug, Clone)]
pub struct Config {
    /// Region used in ARNs when the client does not say (its SigV4 scope usually does).
    pub region: String,
    /// Account id used in ARNs.
    pub account: String,
    /// How long a claimed activity task stays with its worker without a heartbeat before it is
    /// handed out again (when the state sets no HeartbeatSeconds).
    pub activity_lease_seconds: f64,
    /// Engine limits (transitions per execution, payload size, Map concurrency).
    pub limits: Limits,
    /// When not empty, requests must carry a SigV4 signature made with one of these keys.
    pub access_keys: Vec<crate::api::auth::AccessKey>,
    /// Names this process among replicas sharing a database; a restarted replica with the
    /// same id takes its executions back at once, others wait for the leases to expire.
    pub replica_id: String,
    /// How long a replica holds the executions it drives without renewing its leases.
    pub execution_lease_seconds: f64,
    /// Largest API request body, in bytes; larger ones are refused before they are parsed.
    pub max_request_bytes: usize,
    /// The services Task states call (Lambda, Batch, S3).
    pub integrations: Integrations,
    /// The secret task tokens are signed with. `None`: the one kept in the store (generated
    /// on the first start), which replicas sharing a database share.
    pub token_secret: Option<String>,
    /// Map Run children this replica runs at once. A Map Run driven here whose children
    /// would exceed it queues the rest for whichever replica has room.
    pub child_slots: usize,
    /// How often this replica looks for due schedules.
    pub schedule_poll: std::time::Duration,
    /// How often this replica looks for triggers whose listing interval has passed.
    pub trigger_poll: std::time::Duration,
    /// When set, pushed S3 event notifications must carry it (`Authorization: Bearer …`).
    pub webhook_token: Option<String>,
    /// The clock schedules fire by (real time unless a test speeds it up).
    pub schedule_clock: crate::time::ScheduleClock,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            activity_lease_seconds: 300.0,
            limits: Limits::default(),
            access_keys: Vec::new(),
            replica_id: "local".into(),
            execution_lease_seconds: 30.0,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            token_secret: None,
            integrations: Integrations::default(),
            child_slots: DEFAULT_CHILD_SLOTS,
            schedule_poll: std::time::Duration::from_millis(250),
            trigger_poll: std::time::Duration::from_secs(1),
            webhook_token: None,
            schedule_clock: crate::time::ScheduleClock::default(),
        }
    }
}

/// Default [`Config::max_request_bytes`]: room for AWS's 256 KiB input, escaped inside a
/// JSON string (each quote or backslash doubles), plus the request's other fields.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Default [`Config::child_slots`]: AWS's largest Map Run concurrency, so one Map Run never
/// waits on another replica while this one has room.
pub const DEFAULT_CHILD_SLOTS: usize = 10_000;

/// Where the store keeps the generated task-token secret.
const TOKEN_SECRET_SETTING: &str = "task_token_secret";

/// The key of a secret: SHA-256 of its text, so a secret of any length and alphabet works.
fn token_key(secret: &str) -> TokenKey {
    use sha2::{Digest, Sha256};
    TokenKey::new(Sha256::digest(secret.as_bytes()).into())
}

/// The running orchestrator.
pub struct Service {
    pub store: Arc<dyn Store>,
    /// What `/metrics` shows.
    pub metrics: Arc<crate::metrics::Metrics>,
    pub registry: Arc<Registry>,
    /// Activity tasks and callbacks: parked Task states, pollers and answers.
    pub parked: Arc<ParkedTasks>,
    pub config: Config,
    engine: Engine,
    /// Signs task tokens (see [`TokenKey`]).
    token_key: TokenKey,
    /// Compiled definitions, shared by the executions that run them.
    pub(crate) plans: Plans,
    committer: Committer,
    /// Map Runs of the executions driven here.
    pub(crate) map_runs: map_runs::MapRunBook,
    /// This replica's Map Run child slots, and the children it queued for others.
    pub(crate) children: child_pool::ChildPool,
    child_pool: Mutex<Option<AbortHandle>>,
    /// The schedule and trigger loops (they also stop on the shutdown token).
    clocks: Mutex<Vec<AbortHandle>>,
    drivers: Mutex<HashMap<String, AbortHandle>>,
    maintenance: Mutex<Option<AbortHandle>>,
    /// Set by [`Service::shut_down`]: tasks abandoned then are resumed by the next server.
    shutting_down: Arc<std::sync::atomic::AtomicBool>,
    /// Cancelled when the server shuts down: drivers stop at their next checkpoint, long
    /// polls answer, no new work starts. A child of the process's token.
    shutdown: CancellationToken,
    /// Express executions started asynchronously: they run in memory, so a shutdown waits
    /// for them (up to its grace period).
    express: TaskTracker,
    /// Work integrations leave behind (TerminateJob of a stopped execution's Batch job).
    cleanup: TaskTracker,
}

impl Service {
    /// Build the service over a store, with the deployment's token secret (from the
    /// configuration, else from the store, created there on the first start); call
    /// [`Service::resume`] to pick up running executions.
    pub async fn open(
        store: Arc<dyn Store>,
        config: Config,
        shutdown: CancellationToken,
    ) -> Result<Arc<Service>, ServiceError> {
        let secret = match &config.token_secret {
            Some(secret) => secret.clone(),
            None => {
                let fresh: [u8; 32] = rand::random();
                let fresh: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
                store
                    .setting_or_insert(TOKEN_SECRET_SETTING, &fresh)
                    .await?
            }
        };
        Ok(Self::with_key(store, config, token_key(&secret), shutdown))
    }

    /// A service whose token key lives only in this process (benchmarks, tests): tokens it
    /// hands out are not accepted after a restart.
    pub fn new(store: Arc<dyn Store>, config: Config) -> Arc<Service> {
        Self::with_key(
            store,
            config,
            TokenKey::new(rand::random()),
            CancellationToken::new(),
        )
    }

    fn with_key(
        store: Arc<dyn Store>,
        config: Config,
        token_key: TokenKey,
        shutdown: CancellationToken,
    ) -> Arc<Service> {
        // Nested workflows start executions on this same service: their handler holds it
        // weakly (the service owns the engine that owns the handler).
        Arc::new_cyclic(|weak| Self::build(store, config, token_key, shutdown, weak.clone()))
    }

    fn build(
        store: Arc<dyn Store>,
        config: Config,
        token_key: TokenKey,
        shutdown: CancellationToken,
        weak: std::sync::Weak<Service>,
    ) -> Service {
        let registry = Arc::new(Registry::default());
        let shutting_down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cleanup = TaskTracker::new();
        let parked = Arc::new(ParkedTasks::new(
            store.clone(),
            registry.clone(),
            config.integrations.callback_starters(),
            shutdown.clone(),
        ));
        // Activities and callbacks park here; the built-in activities go to workers; S3
        // resources (Distributed Map readers and writers, aws-sdk:s3) run in process.
        let dispatcher = config.integrations.dispatcher(DispatchOptions {
            first: vec![parked.clone(), nested::handler(weak)],
            jobs: Some(Arc::new(jobs::StoreJobs {
                store: store.clone(),
                shutting_down: shutting_down.clone(),
            })),
            builtins: Builtins::Remote,
            cleanup: cleanup.clone(),
        });
        let mut engine = Engine::new(dispatcher);
        engine.limits = config.limits.clone();
        // The writer task lives as long as a Committer exists, i.e. as long as the service.
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let committer = Committer::start(store.clone(), metrics.clone());
        let map_runs = map_runs::MapRunBook::start(store.clone(), metrics.clone());
        let children = child_pool::ChildPool::new(config.child_slots);
        Service {
            store,
            metrics,
            registry,
            parked,
            config,
            engine,
            token_key,
            plans: Plans::default(),
            committer,
            map_runs,
            children,
            child_pool: Mutex::new(None),
            clocks: Mutex::new(Vec::new()),
            drivers: Mutex::new(HashMap::new()),
            maintenance: Mutex::new(None),
            shutting_down,
            shutdown,
            express: TaskTracker::new(),
            cleanup,
        }
    }

    /// Take the leases of every RUNNING execution no other replica holds and drive them
    /// (after a crash or restart, or when a replica died).
    pub async fn resume(self: &Arc<Self>) -> Result<usize, ServiceError> {
        let mut n = 0;
        loop {
            if self.shutdown.is_cancelled() {
                return Ok(n);
            }
            let now = crate::time::now();
            let until = now + self.config.execution_lease_seconds;
            let claimed = self
                .store
                .claim_executions(&self.config.replica_id, now, until, 1000)
                .await?;
            let fresh: Vec<String> = claimed
                .into_iter()
                .filter(|arn| !self.is_driving(arn))
                .collect();
            if fresh.is_empty() {
                return Ok(n);
            }
            n += fresh.len();
            for arn in fresh {
                self.spawn_driver(arn);
            }
        }
    }

    /// Keep leases alive and adopt executions of replicas that stopped renewing theirs.
    pub fn start_maintenance(self: &Arc<Self>) {
        let service = self.clone();
        let period = std::time::Duration::from_secs_f64(
            (self.config.execution_lease_seconds / 3.0).max(0.1),
        );
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let until = crate::time::now() + service.config.execution_lease_seconds;
                if let Err(e) = service
                    .store
                    .renew_leases(&service.config.replica_id, until)
                    .await
                {
                    tracing::warn!(error = %e, "renewing execution leases failed");
                }
                service.drop_ended_drivers().await;
                if let Err(e) = service.resume().await {
                    tracing::warn!(error = %e, "adopting executions failed");
                }
            }
        });
        *self.maintenance.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle.abort_handle());
        let pool = tokio::spawn(self.clone().run_child_pool());
        *self.child_pool.lock().unwrap_or_else(|p| p.into_inner()) = Some(pool.abort_handle());
        self.start_clocks();
    }

    /// Start firing schedules and listing triggers (part of [`Service::start_maintenance`]).
    pub fn start_clocks(self: &Arc<Self>) {
        let scheduler = tokio::spawn(self.clone().run_scheduler(self.config.schedule_poll));
        let triggers = tokio::spawn(self.clone().run_triggers(self.config.trigger_poll));
        self.clocks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend([scheduler.abort_handle(), triggers.abort_handle()]);
    }

    /// Stops driving executions that ended elsewhere: one stopped through another replica
    /// is otherwise driven (its Map Run's children started) until its next checkpoint fails.
    async fn drop_ended_drivers(&self) {
        let driving: Vec<String> = self
            .drivers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        if driving.is_empty() {
            return;
        }
        match self.store.ended_among(&driving).await {
            Ok(ended) => {
                for arn in ended {
                    tracing::info!(execution = %arn, "the execution ended elsewhere; no longer driven here");
                    self.abort_driver(&arn);
                }
            }
            Err(e) => tracing::warn!(error = %e, "checking driven executions failed"),
        }
    }

    fn is_driving(&self, arn: &str) -> bool {
        self.drivers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(arn)
    }

    /// Whether a shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Shut down within `grace`: stop starting work, let drivers finish the step they are in
    /// (each reaches a checkpoint) while any still does, wait for Express executions, then
    /// stop the rest and flush both group commits. Executions left RUNNING resume on the next
    /// start, replaying their step; nothing committed is lost.
    pub async fn shut_down(&self, grace: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        self.shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.shutdown.cancel();
        if let Some(m) = self
            .maintenance
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            m.abort();
        }
        if let Some(p) = self
            .child_pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            p.abort();
        }
        for clock in std::mem::take(&mut *self.clocks.lock().unwrap_or_else(|p| p.into_inner())) {
            clock.abort();
        }
        // A step parked on a worker or a timer will not end by itself: stop waiting once no
        // driver has reached its checkpoint for a moment.
        let settle = std::time::Duration::from_millis(250);
        let mut left = self.active_drivers();
        let mut last_progress = tokio::time::Instant::now();
        while left > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let now_left = self.active_drivers();
            if now_left < left {
                last_progress = tokio::time::Instant::now();
            } else if last_progress.elapsed() >= settle {
                break;
            }
            left = now_left;
        }
        let drivers = std::mem::take(&mut *self.drivers.lock().unwrap_or_else(|p| p.into_inner()));
        let abandoned = drivers.len();
        for (_, handle) in drivers {
            handle.abort();
        }
        self.express.close();
        self.cleanup.close();
        let owned = async {
            self.express.wait().await;
            self.cleanup.wait().await;
        };
        if tokio::time::timeout_at(deadline, owned).await.is_err() {
            tracing::warn!(
                "express executions or job terminations still running at the end of the grace period were dropped"
            );
        }
        // Every transition and task write already queued reaches the store.
        self.committer.close().await;
        self.parked.close().await;
        tracing::info!(
            abandoned,
            "shut down; executions parked on tasks or timers resume on the next start"
        );
    }

    /// Run an Express execution in the background, owned by the service.
    pub fn spawn_express(self: &Arc<Self>, record: crate::store::ExecutionRecord) {
        let service = self.clone();
        self.express.spawn(async move {
            if let Err(e) = service.run_express(record).await {
                tracing::error!(error = %e, "express execution could not be recorded");
            }
        });
    }

    /// Drive a durable execution in the background.
    pub fn spawn_driver(self: &Arc<Self>, arn: String) {
        let service = self.clone();
        let key = arn.clone();
        let mut drivers = self.drivers.lock().unwrap_or_else(|p| p.into_inner());
        if drivers.contains_key(&key) || self.shutdown.is_cancelled() {
            return;
        }
        let span = tracing::info_span!("execution", execution = %arn);
        let handle = tokio::spawn(tracing::Instrument::instrument(
            async move {
                if let Err(e) = service.drive(&arn).await {
                    tracing::error!(execution = %arn, error = %e, "execution driver stopped");
                }
                service
                    .drivers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&arn);
            },
            span,
        ));
        drivers.insert(key, handle.abort_handle());
    }

    /// Stop driving an execution in this process (StopExecution).
    pub fn abort_driver(&self, arn: &str) {
        if let Some(handle) = self
            .drivers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(arn)
        {
            handle.abort();
        }
    }

    /// `/readyz`: the store answers and no shutdown has begun.
    pub async fn ready(&self) -> Result<(), String> {
        if self.is_shutting_down() {
            return Err("shutting down".into());
        }
        self.store.ping().await.map_err(|e| e.to_string())
    }

    /// `/metrics`: the counters, and the gauges read now.
    pub async fn render_metrics(&self) -> String {
        let m = &self.metrics;
        m.executions_driven.set(self.active_drivers() as f64);
        match self.store.pending_tasks().await {
            Ok(queues) => {
                m.tasks_pending.reset();
                m.task_oldest_age.reset();
                let now = crate::time::now();
                for (activity, n, oldest) in queues {
                    let name = activity.rsplit(":activity:").next().unwrap_or(&activity);
                    m.tasks_pending.with_label_values(&[name]).set(n as f64);
                    m.task_oldest_age
                        .with_label_values(&[name])
                        .set((now - oldest).max(0.0));
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading task queues for /metrics failed"),
        }
        m.render()
    }

    /// Executions currently driven by this process.
    pub fn active_drivers(&self) -> usize {
        self.drivers.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Parse JSON text the store holds.
fn stored_json(text: &str, what: &str) -> Result<Value, ServiceError> {
    parse_json(text, what).map_err(|e| ServiceError::Damaged(e.to_string()))
}

/// Compile a stored definition.
fn stored_machine(text: &str) -> Result<StateMachine, ServiceError> {
    let value = stored_json(text, "definition")?;
    StateMachine::compile(&value).map_err(|e| ServiceError::Damaged(e.to_string()))
}

/// Compiled plans by the SHA-256 of their definition text: an execution's definition is
/// compiled once when it starts, not again by its driver or on every resume. Bounded: when
/// full it starts over (plans are cheap to rebuild; a hot set refills at once).
#[derive(Default)]
pub(crate) struct Plans(Mutex<HashMap<[u8; 32], Arc<StateMachine>>>);

/// Plans kept at most.
const MAX_PLANS: usize = 1024;

impl Plans {
    /// The compiled plan of `definition` (JSON text), compiling it on first use.
    pub(crate) fn get(&self, definition: &str) -> Result<Arc<StateMachine>, ServiceError> {
        use sha2::{Digest, Sha256};
        let key: [u8; 32] = Sha256::digest(definition.as_bytes()).into();
        if let Some(plan) = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(plan.clone());
        }
        let plan = Arc::new(stored_machine(definition)?);
        let mut plans = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if plans.len() >= MAX_PLANS {
            plans.clear();
        }
        plans.insert(key, plan.clone());
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_is_compiled_once() {
        let plans = Plans::default();
        let text = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;
        let first = plans.get(text).expect("compiles");
        let again = plans.get(text).expect("cached");
        assert!(Arc::ptr_eq(&first, &again));
        let other = plans
            .get(r#"{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}"#)
            .expect("compiles");
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(matches!(plans.get("{"), Err(ServiceError::Damaged(_))));
    }
}
