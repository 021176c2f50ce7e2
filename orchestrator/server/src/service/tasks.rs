//! Activity tasks and `.waitForTaskToken` callbacks: the Task handler that parks a Task state
//! until a worker or a callback answers its token, and the registry those answers go through.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_engine::engine::task::{
    CallbackStarter, Pattern, Resource, TaskFailure, TaskHandler, TaskProgress, TaskRequest,
};
use sluice_engine::lang::errors;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use super::task_writer::TaskWriter;
use crate::store::{Store, StoreError, TaskOutcome, TaskRecord, TaskStatus, TaskWrite};
use crate::time::now;

/// How often a parked task looks in the store for an answer it was not handed directly.
const STORE_RECHECK: Duration = Duration::from_secs(2);

/// What a parked task hears: its answer, or a heartbeat.
enum Signal {
    Done(Result<Value, TaskFailure>),
}

/// The live waiter of one token.
struct Waiter {
    done: Option<oneshot::Sender<Signal>>,
    heartbeat: Arc<Notify>,
    /// Where the Task state hears that a worker took its task.
    progress: Option<UnboundedSender<TaskProgress>>,
}

/// Tasks of one activity that this process queued, and the pollers waiting for them.
#[derive(Default)]
struct ActivityQueue {
    /// Tokens of PENDING tasks in the order they were queued. An entry may be stale (the
    /// task was claimed through the store or ended): claiming it by token then fails.
    pending: VecDeque<String>,
    notify: Arc<Notify>,
    /// When a poller last looked in the store for tasks this queue does not hold.
    scanned: Option<tokio::time::Instant>,
    /// The activity was found in the store (and not deleted through this process since).
    known: bool,
}

/// Tokens whose Task states are waiting in this process, and the activity tasks and pollers
/// of each activity.
#[derive(Default)]
pub struct Registry {
    waiters: Mutex<HashMap<String, Waiter>>,
    activities: Mutex<HashMap<String, ActivityQueue>>,
}

impl Registry {
    fn with_queue<T>(&self, activity_arn: &str, f: impl FnOnce(&mut ActivityQueue) -> T) -> T {
        // A poisoned lock only means a panic elsewhere; the map itself stays consistent.
        let mut map = self.activities.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(activity_arn.to_string()).or_default())
    }

    /// Whether `activity_arn` was seen to exist, so a poll need not read the store for it.
    /// (An activity deleted through another replica stays pollable here; it has no tasks.)
    pub fn activity_known(&self, activity_arn: &str) -> bool {
        let map = self.activities.lock().unwrap_or_else(|p| p.into_inner());
        map.get(activity_arn).is_some_and(|q| q.known)
    }

    /// Remember whether `activity_arn` exists.
    pub fn set_activity_known(&self, activity_arn: &str, known: bool) {
        self.with_queue(activity_arn, |q| q.known = known);
    }

    /// The notifier GetActivityTask pollers of `activity_arn` wait on.
    fn activity_notify(&self, activity_arn: &str) -> Arc<Notify> {
        self.with_queue(activity_arn, |q| q.notify.clone())
    }

    /// Queue a PENDING task for the pollers of its activity and wake one of them: waking
    /// every long-poll would send them all after a task only one can take.
    fn offer(&self, activity_arn: &str, token: &str) {
        self.with_queue(activity_arn, |q| {
            q.pending.push_back(token.to_string());
            q.notify.notify_one();
        });
    }

    fn take(&self, activity_arn: &str) -> Option<String> {
        self.with_queue(activity_arn, |q| q.pending.pop_front())
    }

    /// Whether it is time to look in the store for this activity's tasks (queued by other
    /// replicas, before a restart, or with an expired lease); at most once per `every`
    /// across all pollers, which the caller then does.
    fn scan_due(&self, activity_arn: &str, every: Duration) -> bool {
        self.with_queue(activity_arn, |q| {
            let now = tokio::time::Instant::now();
            let due = q.scanned.is_none_or(|at| now.duration_since(at) >= every);
            if due {
                q.scanned = Some(now);
            }
            due
        })
    }

    fn register(
        &self,
        token: &str,
        progress: Option<UnboundedSender<TaskProgress>>,
    ) -> (oneshot::Receiver<Signal>, Arc<Notify>) {
        let (tx, rx) = oneshot::channel();
        let heartbeat = Arc::new(Notify::new());
        let mut map = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(
            token.to_string(),
            Waiter {
                done: Some(tx),
                heartbeat: heartbeat.clone(),
                progress,
            },
        );
        (rx, heartbeat)
    }

    fn unregister(&self, token: &str) {
        let mut map = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(token);
    }

    /// Is a Task state in this process waiting on `token`?
    pub fn is_awaited(&self, token: &str) -> bool {
        let map = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        map.contains_key(token)
    }

    /// Hand an answer to the waiting Task state; false when nobody waits any more.
    pub fn answer(&self, token: &str, outcome: Result<Value, TaskFailure>) -> bool {
        let sender = {
            let mut map = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
            map.remove(token).and_then(|mut w| w.done.take())
        };
        match sender {
            Some(tx) => tx.send(Signal::Done(outcome)).is_ok(),
            None => false,
        }
    }

    /// Tell the waiting Task state that `worker` took its task. Once per waiter: a task
    /// claimed again after its lease expired has started already, and a replayed step
    /// expects the one `ActivityStarted` its history holds.
    fn started(&self, token: &str, worker: &str) {
        let mut map = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(progress) = map.get_mut(token).and_then(|w| w.progress.take()) {
            let _ = progress.send(TaskProgress::Started {
                worker: worker.to_string(),
            });
        }
    }

    /// Tell the waiting Task state its worker is alive.
    pub fn heartbeat(&self, token: &str) {
        let map = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = map.get(token) {
            w.heartbeat.notify_one();
        }
    }
}

/// Removes the waiter when the Task state stops waiting for any reason (answer, timeout,
/// cancellation by a failing sibling branch), so a late answer finds nobody and is rejected.
struct Registration<'a> {
    registry: &'a Registry,
    token: String,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.registry.unregister(&self.token);
    }
}

/// Serves activity ARNs and `.waitForTaskToken` resources by parking the Task state until
/// SendTaskSuccess/SendTaskFailure, enforcing `TimeoutSeconds` and `HeartbeatSeconds`.
pub struct ParkedTasks {
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    writer: TaskWriter,
    /// The integrations that make the call of a `.waitForTaskToken` resource; a resource
    /// none of them starts is only parked (something else hands out its token).
    callbacks: Vec<Arc<dyn CallbackStarter>>,
    /// Cancelled when the server shuts down: long polls answer at once with no task.
    shutdown: CancellationToken,
}

/// How long GetActivityTask waits for work before answering with no task.
const LONG_POLL: Duration = Duration::from_secs(60);
/// How often a waiting poller wakes to look again without being told.
const RECHECK: Duration = Duration::from_secs(1);
/// At most one store scan per activity in this period: tasks queued in this process reach
/// pollers through memory, so the store only holds what other replicas queued, what was
/// queued before a restart, and expired claims.
const SCAN_EVERY: Duration = Duration::from_millis(100);

impl ParkedTasks {
    /// The handler, with its writer task (needs a Tokio runtime).
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<Registry>,
        callbacks: Vec<Arc<dyn CallbackStarter>>,
        shutdown: CancellationToken,
    ) -> ParkedTasks {
        let writer = TaskWriter::start(store.clone());
        ParkedTasks {
            store,
            registry,
            writer,
            callbacks,
            shutdown,
        }
    }

    /// Write every queued task write (a shutdown's flush).
    pub async fn close(&self) {
        self.writer.close().await;
    }

    /// GetActivityTask: the next task of `activity_arn` for `worker`, claimed for
    /// `lease_seconds`, waiting up to a minute; `None` when nothing came.
    pub async fn poll(
        &self,
        activity_arn: &str,
        worker: &str,
        lease_seconds: f64,
    ) -> Result<Option<TaskRecord>, StoreError> {
        let notify = self.registry.activity_notify(activity_arn);
        let deadline = tokio::time::Instant::now() + LONG_POLL;
        loop {
            // Register interest before looking, so a task queued in between wakes us.
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            while let Some(token) = self.registry.take(activity_arn) {
                let claim = TaskWrite::Claim {
                    token,
                    worker: worker.to_string(),
                    now: now(),
                    lease_seconds,
                };
                if let Some(task) = self.writer.write(claim).await? {
                    self.registry.started(&task.token, worker);
                    return Ok(Some(task));
                }
            }
            if self.registry.scan_due(activity_arn, SCAN_EVERY)
                && let Some(task) = self
                    .store
                    .claim_task(activity_arn, worker, now(), lease_seconds)
                    .await?
            {
                self.registry.started(&task.token, worker);
                return Ok(Some(task));
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            tokio::select! {
                _ = &mut woken => {}
                _ = tokio::time::sleep(left.min(RECHECK)) => {}
                // A shutting-down server hands out nothing more.
                _ = self.shutdown.cancelled() => return Ok(None),
            }
        }
    }

    /// SendTaskSuccess/SendTaskFailure: end the task and hand the answer to its Task state
    /// if it waits in this process (otherwise it finds the answer in the store).
    pub async fn answer(&self, token: &str, outcome: TaskOutcome) -> Result<(), StoreError> {
        let write = TaskWrite::Complete {
            token: token.to_string(),
            outcome: outcome.clone(),
        };
        self.writer.write(write).await?;
        let answer = match outcome {
            TaskOutcome::Succeeded(text) => Ok(serde_json::from_str(&text).unwrap_or(Value::Null)),
            TaskOutcome::Failed { error, cause } => Err(TaskFailure {
                error: error.unwrap_or_default(),
                cause,
            }),
            TaskOutcome::TimedOut => return Ok(()),
        };
        self.registry.answer(token, answer);
        Ok(())
    }

    async fn park(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        let activity = request
            .resource
            .activity_name()
            .is_some()
            .then(|| request.resource.text.clone());
        let token = request
            .task_token
            .clone()
            .ok_or_else(|| TaskFailure::new(errors::RUNTIME, "a parked task needs a task token"))?;
        let record = TaskRecord {
            token: token.clone(),
            activity_arn: activity.clone(),
            execution_arn: request.execution_arn.clone(),
            state_name: request.state_name.clone(),
            input: serde_json::to_string(&request.input).unwrap_or_default(),
            status: TaskStatus::Pending,
            worker: None,
            lease_until: None,
            heartbeat_seconds: request.heartbeat_seconds.map(|s| s as i64),
            last_heartbeat: None,
            output: None,
            error: None,
            cause: None,
            created: now(),
        };
        // Register before the task becomes visible, so an instant answer finds its waiter.
        let (answer, heartbeat) = self.registry.register(&token, request.progress.clone());
        let _registration = Registration {
            registry: &self.registry,
            token: token.clone(),
        };
        let put = self
            .writer
            .submit(TaskWrite::Put(Box::new(record)))
            .await
            .map_err(store_failure)?;
        // Pollers may have the task before its insert commits: their claim is queued behind
        // the insert, so it sees it (or fails with it, or finds a task that existed before a
        // restart and is no longer PENDING).
        if let Some(arn) = &activity {
            self.registry.offer(arn, &token);
        }
        let stored = put
            .await
            .and_then(|t| t.ok_or(StoreError::InvalidToken))
            .map_err(store_failure)?;
        // A task taken before a restart reports its start again: the replayed step skips
        // the event if the history has it, and writes it if the crash came first.
        if let Some(worker) = &stored.worker {
            self.registry.started(&token, worker);
        }
        // After a restart the same token may already have its answer.
        if let Some(done) = finished(&stored) {
            return done;
        }
        let timeout = request.timeout_seconds.map(Duration::from_secs);
        let heartbeat_every = request.heartbeat_seconds.map(Duration::from_secs);
        let wait = async {
            // Sent once: a task whose function was invoked before a restart is only waited
            // on (its `TaskSubmitted` is in the history already, unless the crash came
            // between recording the invocation and writing the event).
            if request.resource.pattern() == Pattern::WaitForTaskToken
                && stored.worker.is_none()
                && let Some(output) = self.start_callback(&token, &request).await?
                && let Some(progress) = &request.progress
            {
                let _ = progress.send(TaskProgress::Submitted { output });
            }
            let mut answer = answer;
            let mut beat_deadline = heartbeat_every.map(|d| tokio::time::Instant::now() + d);
            loop {
                let beat_missed = async {
                    match beat_deadline {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    signal = &mut answer => {
                        return match signal {
                            Ok(Signal::Done(outcome)) => outcome,
                            Err(_) => Err(TaskFailure::new(errors::RUNTIME, "the task's waiter was dropped")),
                        };
                    }
                    _ = heartbeat.notified() => {
                        beat_deadline = heartbeat_every.map(|d| tokio::time::Instant::now() + d);
                    }
                    _ = beat_missed => {
                        return Err(TaskFailure::new(errors::HEARTBEAT_TIMEOUT, "The task did not send a heartbeat in time."));
                    }
                    // Answers and heartbeats taken by another replica, or while this one
                    // restarted, are only in the store.
                    _ = tokio::time::sleep(STORE_RECHECK) => {
                        let stored = self.store.get_task(&token).await;
                        if let Err(e) = &stored {
                            tracing::warn!(execution = %request.execution_arn, state = %request.state_name, error = %e, "reading a parked task failed; checking again later");
                        }
                        if let Ok(Some(task)) = stored {
                            // Claimed through another replica: its start is news here.
                            if let Some(worker) = &task.worker {
                                self.registry.started(&token, worker);
                            }
                            if let Some(done) = finished(&task) {
                                return done;
                            }
                            if let (Some(d), Some(last)) = (heartbeat_every, task.last_heartbeat) {
                                let left = (last + d.as_secs_f64() - now()).max(0.0);
                                let at = tokio::time::Instant::now() + Duration::from_secs_f64(left);
                                beat_deadline = beat_deadline.map(|b| b.max(at));
                            }
                        }
                    }
                }
            }
        };
        let outcome = match timeout {
            Some(d) => tokio::time::timeout(d, wait)
                .await
                .unwrap_or_else(|_| Err(TaskFailure::new(errors::TIMEOUT, "Task timed out."))),
            None => wait.await,
        };
        if let Err(f) = &outcome
            && (f.error == errors::TIMEOUT || f.error == errors::HEARTBEAT_TIMEOUT)
        {
            // A late answer must be rejected: the task is over.
            let ended = TaskWrite::Complete {
                token: token.clone(),
                outcome: TaskOutcome::TimedOut,
            };
            if let Err(e) = self.writer.write(ended).await {
                tracing::warn!(execution = %request.execution_arn, state = %request.state_name, error = %e, "a timed-out task could not be ended; a late answer may still be taken");
            }
        }
        outcome
    }
}

impl ParkedTasks {
    /// A `.waitForTaskToken` resource: make its call through the integration that starts it
    /// (the input carries the token, `$$.Task.Token`), then the task waits for the callback.
    /// A failed call fails the task and ends it, so a late callback is refused. Without an
    /// integration the task only waits, except for Lambda, whose call is the whole point.
    async fn start_callback(
        &self,
        token: &str,
        request: &TaskRequest,
    ) -> Result<Option<Value>, TaskFailure> {
        let Some(starter) = self.callbacks.iter().find(|s| s.starts(&request.resource)) else {
            if is_lambda_callback(&request.resource) {
                return Err(TaskFailure::new(
                    errors::RUNTIME,
                    "lambda:invoke.waitForTaskToken needs a Lambda endpoint (SLUICE_LAMBDA_ENDPOINT) or AWS credentials",
                ));
            }
            return Ok(None);
        };
        let invoked = starter.start(request).await;
        let write = match &invoked {
            // Marks the invocation as made: a replay after a restart does not repeat it.
            Ok(_) => TaskWrite::Claim {
                token: token.to_string(),
                worker: CALL_MADE.to_string(),
                now: now(),
                lease_seconds: CALLBACK_LEASE_SECONDS,
            },
            Err(f) => TaskWrite::Complete {
                token: token.to_string(),
                outcome: TaskOutcome::Failed {
                    error: Some(f.error.clone()),
                    cause: f.cause.clone(),
                },
            },
        };
        // A callback may already have ended the task (the function answered while running):
        // then the write finds nothing to change, which is fine.
        if let Err(e) = self.writer.write(write).await {
            tracing::warn!(execution = %request.execution_arn, state = %request.state_name, error = %e, "the callback call could not be recorded; a restart may make it again");
        }
        invoked.map(Some)
    }
}

/// The worker name recorded on a callback task whose call was made.
const CALL_MADE: &str = "callback-started";
/// Callback tasks are never polled, so their claim only records the invocation: a year.
const CALLBACK_LEASE_SECONDS: f64 = 365.0 * 86_400.0;

/// `arn:<partition>:states:::lambda:invoke.waitForTaskToken`.
fn is_lambda_callback(resource: &Resource) -> bool {
    resource.service_action() == Some(("lambda", "invoke", Pattern::WaitForTaskToken))
}

/// The outcome of a task that already ended, if it did.
pub(crate) fn finished(task: &TaskRecord) -> Option<Result<Value, TaskFailure>> {
    match task.status {
        TaskStatus::Succeeded => Some(Ok(task
            .output
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or(Value::Null))),
        TaskStatus::Failed => Some(Err(TaskFailure {
            error: task.error.clone().unwrap_or_default(),
            cause: task.cause.clone(),
        })),
        TaskStatus::TimedOut => Some(Err(TaskFailure::new(errors::TIMEOUT, "Task timed out."))),
        _ => None,
    }
}

fn store_failure(e: StoreError) -> TaskFailure {
    TaskFailure::new(
        errors::RUNTIME,
        format!("the task could not be recorded: {e}"),
    )
}

impl TaskHandler for ParkedTasks {
    fn handles(&self, resource: &Resource) -> bool {
        resource.activity_name().is_some() || resource.pattern() == Pattern::WaitForTaskToken
    }

    fn enforces_timeouts(&self) -> bool {
        true
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(self.park(request))
    }
}
