//! The task contract: where sluice's engine hands a Task state's work to whoever does it.
//! Every Task goes through one [`TaskHandler`] chosen by its parsed [`Resource`]; the engine,
//! the integrations (Lambda, Batch, S3, SQL, …) and the worker all meet here, so none of them
//! depends on another.

pub mod resource;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

pub use resource::{Pattern, Resource, Target};

/// The getObject parameter with which a Distributed Map's ItemReader asks the S3 integration
/// for a Parquet object's rows as JSON lines (`"PARQUET"`): the integration has the Parquet
/// reader, the engine does not. sluice's own; AWS's reader decodes Parquet itself.
pub const ITEM_READER_DECODE: &str = "SluiceDecode";

/// With [`ITEM_READER_DECODE`] `"PARQUET"`: only this row group (0-based) is decoded, and the
/// answer's [`ITEM_READER_ROW_GROUPS`] says how many the object has, so a reader goes through
/// a Parquet object of any size one row group at a time.
pub const ITEM_READER_ROW_GROUP: &str = "SluiceRowGroup";

/// How many row groups a Parquet object has, in the answer to a [`ITEM_READER_ROW_GROUP`]
/// request.
pub const ITEM_READER_ROW_GROUPS: &str = "SluiceRowGroups";

/// The error of a Task whose `Resource` no handler serves.
pub const NO_HANDLER: &str = "Sluice.NoTaskHandler";

/// One invocation of a Task state's resource.
#[derive(Debug, Clone)]
pub struct TaskRequest {
    /// The `Resource` field, parsed.
    pub resource: Resource,
    /// The effective parameters (after InputPath/Parameters or Arguments).
    pub input: Value,
    /// The Task state's name.
    pub state_name: String,
    /// 0 for the first attempt, then one more per retry.
    pub attempt: u64,
    /// The callback token for `.waitForTaskToken` resources.
    pub task_token: Option<String>,
    /// ARN of the execution the task belongs to.
    pub execution_arn: String,
    /// `HeartbeatSeconds`, when set.
    pub heartbeat_seconds: Option<u64>,
    /// `TimeoutSeconds`, when set (the engine enforces it unless the handler does).
    pub timeout_seconds: Option<u64>,
    /// `Credentials`, when set (passed through for handlers that assume roles).
    pub credentials: Option<Value>,
    /// Where the handler reports progress before the outcome (set by the engine).
    pub progress: Option<tokio::sync::mpsc::UnboundedSender<TaskProgress>>,
    /// For `.sync` resources: a key that is the same when a durable driver replays this
    /// task after a restart, under which a handler can keep the job it started and pick it
    /// up again instead of starting another.
    pub resume_key: Option<String>,
}

/// What a handler reports while a task runs, before its outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskProgress {
    /// A worker took the activity task (recorded as `ActivityStarted`).
    Started { worker: String },
    /// A `.sync` or `.waitForTaskToken` request was accepted with this response; the task
    /// goes on until the job ends or the token is answered (recorded as `TaskSubmitted`).
    Submitted { output: Value },
}

/// A task that ended in an error: the ASL error name and a cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}: {}", cause.as_deref().unwrap_or(""))]
pub struct TaskFailure {
    pub error: String,
    pub cause: Option<String>,
}

impl TaskFailure {
    /// A failure with an error name and a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskFailure {
            error: error.into(),
            cause: Some(cause.into()),
        }
    }
}

/// Runs the work of Task states.
///
/// Contract: `invoke` resolves to the task's result or its failure; it may be called
/// concurrently (Map and Parallel) and again for the same state on retry (with a higher
/// `attempt`). Dropping the future cancels the task: the engine does so on timeouts and when a
/// sibling branch fails, so implementations must not rely on being polled to completion.
pub trait TaskHandler: Send + Sync {
    /// Whether this handler serves `resource`.
    fn handles(&self, resource: &Resource) -> bool;
    /// True when the handler applies `timeout_seconds` itself (to record the timeout).
    fn enforces_timeouts(&self) -> bool {
        false
    }
    /// Run one task.
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>>;
}

/// Routes each Task to the first registered handler that accepts its `Resource`.
#[derive(Default, Clone)]
pub struct Dispatcher {
    handlers: Vec<Arc<dyn TaskHandler>>,
}

impl Dispatcher {
    /// A dispatcher with no handlers: every Task fails with `Sluice.NoTaskHandler`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a handler; earlier registrations win.
    pub fn register(&mut self, handler: Arc<dyn TaskHandler>) -> &mut Self {
        self.handlers.push(handler);
        self
    }

    /// Does the handler of `resource` enforce `TimeoutSeconds` itself?
    pub fn enforces_timeouts(&self, resource: &Resource) -> bool {
        self.handlers
            .iter()
            .find(|h| h.handles(resource))
            .is_some_and(|h| h.enforces_timeouts())
    }

    /// Run a task through its handler.
    pub async fn dispatch(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        match self.handlers.iter().find(|h| h.handles(&request.resource)) {
            Some(handler) => handler.invoke(request).await,
            None => Err(TaskFailure::new(
                NO_HANDLER,
                format!(
                    "No task handler serves the resource '{}' of state '{}'. Give a mock file (--mock) or run the state under `sluice serve` with a worker.",
                    request.resource, request.state_name
                ),
            )),
        }
    }
}

/// Where a `.sync` handler keeps the job it started, under [`TaskRequest::resume_key`], so an
/// orchestrator that restarts waits for the same job instead of starting another. Writes are
/// best effort: without the record, a restart starts the job again.
pub trait JobLedger: Send + Sync {
    /// The job recorded under `key`: its submission response, and its outcome if it ended.
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<RecordedJob>>;
    /// Record that `request` submitted a job that answered `submission`.
    fn record<'a>(
        &'a self,
        key: &'a str,
        request: &'a TaskRequest,
        submission: &'a Value,
    ) -> BoxFuture<'a, ()>;
    /// Record how the job under `key` ended.
    fn finish<'a>(
        &'a self,
        key: &'a str,
        outcome: &'a Result<Value, TaskFailure>,
    ) -> BoxFuture<'a, ()>;
    /// True once the orchestrator is shutting down: a wait abandoned then leaves its job
    /// running for the next orchestrator (a stopped execution still ends it).
    fn shutting_down(&self) -> bool;
}

/// A job a [`JobLedger`] holds.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedJob {
    /// What the submission answered.
    pub submission: Value,
    /// How the job ended, if it did.
    pub outcome: Option<Result<Value, TaskFailure>>,
}

/// Makes the call of a `.waitForTaskToken` resource (its input carries the token); the
/// orchestrator then parks the Task until SendTaskSuccess/Failure with that token. Each
/// integration that supports the pattern (Lambda, and later SQS, SNS, …) provides one.
pub trait CallbackStarter: Send + Sync {
    /// Whether this starter calls `resource` (a `.waitForTaskToken` resource).
    fn starts(&self, resource: &Resource) -> bool;
    /// Make the call; its response is recorded as the task's `TaskSubmitted`.
    fn start<'a>(&'a self, request: &'a TaskRequest) -> BoxFuture<'a, Result<Value, TaskFailure>>;
}
