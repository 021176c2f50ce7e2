//! Durable state of the orchestrator: state machines, executions with their checkpoints and
//! history, activities and activity tasks. One trait, two backends (SQLite for the embedded
//! default, PostgreSQL for several replicas) that pass the same test suite (`tests.rs`).

mod migrations;
mod postgres;
pub mod schedules;
mod sqlite;
mod sqlite_tasks;
mod task_batch;
#[cfg(test)]
pub(crate) mod tests;

use async_trait::async_trait;

pub use crate::lifecycle::{ExecutionStatus, MachineType, TaskStatus, UnknownStatus};

pub use postgres::PostgresStore;
pub use schedules::{
    Lease, NewExecution, ObjectFire, ScheduleFilter, ScheduleFire, ScheduleGroupRecord,
    ScheduleRecord, Switch, TriggerRecord,
};
pub use sqlite::SqliteStore;

/// Errors of a store; `Backend` wraps the database's own.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named thing does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// A state machine, execution or activity with that name exists with other contents.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The checkpoint moved on since it was read (another writer applied this transition).
    #[error("transition of {0} conflicts with a newer checkpoint")]
    Conflict(String),
    /// A task token that is unknown.
    #[error("task token is not valid")]
    InvalidToken,
    /// A task that has already ended (answered, timed out, or its execution ended).
    #[error("task has already ended")]
    TaskEnded,
    /// The database failed.
    #[error("store backend: {0}")]
    Backend(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("schema migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A registered state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineRecord {
    pub arn: String,
    pub name: String,
    /// The definition as submitted (JSON text).
    pub definition: String,
    pub role_arn: String,
    pub kind: MachineType,
    /// Seconds since the epoch.
    pub created: f64,
    /// Bumped by every update.
    pub revision: i64,
}

/// A Map Run child waiting for a replica with room: what that replica needs to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedChild {
    pub child_arn: String,
    pub map_run_arn: String,
    /// The execution whose definition holds the ItemProcessor.
    pub root_arn: String,
    /// The Distributed Map's label, which finds its ItemProcessor in that definition.
    pub label: String,
    pub name: String,
    pub state_machine_arn: String,
    pub role_arn: String,
    pub index: i64,
    /// JSON text.
    pub input: String,
    /// The variables the child reads, as JSON object text.
    pub vars: String,
    /// Where its random draws start (a u64 kept as its bits).
    pub seed: i64,
    pub redrive_count: i64,
    /// It runs again after failing (a redrive).
    pub rerun: bool,
    /// When it was queued (seconds since the epoch).
    pub queued: f64,
}

/// A Distributed Map's run, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRunRecord {
    pub arn: String,
    pub execution_arn: String,
    /// The children's state machine: `…:stateMachine:<machine>/<label>`.
    pub state_machine_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED` or `ABORTED`.
    pub status: String,
    pub start: f64,
    pub stop: Option<f64>,
    pub max_concurrency: i64,
    pub tolerated_failure_percentage: f64,
    pub tolerated_failure_count: i64,
    /// Children in all, once the reader has been read to the end.
    pub total: Option<i64>,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Items (with an ItemBatcher a child holds several).
    pub items_total: Option<i64>,
    pub items_succeeded: i64,
    pub items_failed: i64,
    /// How often the run was redriven.
    pub redrive_count: i64,
    /// Children, and items, whose results the ResultWriter stored.
    pub results_written: i64,
    pub items_results_written: i64,
}

/// An execution and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    pub arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    /// JSON text.
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start: f64,
    pub stop: Option<f64>,
    /// The definition the execution runs (a snapshot: updates to the machine do not affect it).
    pub definition: String,
    pub role_arn: String,
    pub kind: MachineType,
    pub redrive_count: i64,
    /// The Map Run this execution is a child of.
    pub map_run_arn: Option<String>,
}

/// Where a running execution stands: the next top-level state and its input.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// Index of the next state among the machine's top-level states.
    pub state: i64,
    /// JSON text of that state's input.
    pub input: String,
    /// JSON object text of the workflow variables.
    pub vars: String,
    /// Incremented by every applied transition; transitions name the version they follow.
    pub version: i64,
    /// Id the next history event gets.
    pub next_event_id: i64,
    /// Events of the current step already in the history: a step that parks on a task shows
    /// its events before it ends, and a replay of the step skips that many.
    pub step_events: i64,
    /// State transitions the execution made up to this checkpoint (all branches and
    /// iterations), so the limit on them holds across checkpoints and restarts.
    pub transitions: i64,
}

/// A history event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub id: i64,
    pub previous_id: i64,
    /// Seconds since the epoch.
    pub timestamp: f64,
    /// AWS event type, e.g. `TaskStateEntered`.
    pub kind: String,
    /// Details member name and its JSON text.
    pub details: Option<(String, String)>,
}

/// An event waiting to be numbered by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub timestamp: f64,
    pub kind: String,
    pub details: Option<(String, String)>,
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// How it ended (never RUNNING).
    pub status: ExecutionStatus,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub stop: f64,
}

/// One step of an execution, applied atomically: its events, and either the next
/// checkpoint or the end of the execution. With neither, the events of a step still running
/// are added: the version stays (the step is not done) and they count as `step_events`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub execution_arn: String,
    /// The cursor version this transition follows; a mismatch is a [`StoreError::Conflict`].
    pub expected_version: i64,
    pub events: Vec<NewEvent>,
    /// The next checkpoint (state, input, vars); its version and event id are set by the store.
    pub next: Option<Cursor>,
    pub finish: Option<Finish>,
}

/// A registered activity.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    pub arn: String,
    pub name: String,
    pub created: f64,
}

/// An activity task or a `.waitForTaskToken` callback.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    pub token: String,
    /// Set for activity tasks; `None` for callbacks.
    pub activity_arn: Option<String>,
    pub execution_arn: String,
    pub state_name: String,
    /// JSON text handed to the worker.
    pub input: String,
    pub status: TaskStatus,
    pub worker: Option<String>,
    /// Seconds since the epoch until which a claim holds.
    pub lease_until: Option<f64>,
    pub heartbeat_seconds: Option<i64>,
    /// Seconds since the epoch of the last heartbeat (or of the claim).
    pub last_heartbeat: Option<f64>,
    /// JSON text of the result, or the error and cause.
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub created: f64,
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    Succeeded(String),
    Failed {
        error: Option<String>,
        cause: Option<String>,
    },
    TimedOut,
}

/// One write of a batch of task writes ([`Store::write_tasks`]).
#[derive(Debug, Clone, PartialEq)]
pub enum TaskWrite {
    /// Insert a task unless its token exists (see [`Store::put_task`]).
    Put(Box<TaskRecord>),
    /// Claim this task for `worker` if it is still PENDING; `None` otherwise.
    Claim {
        token: String,
        worker: String,
        now: f64,
        lease_seconds: f64,
    },
    /// End a task (see [`Store::complete_task`]).
    Complete { token: String, outcome: TaskOutcome },
}

/// Filter and page of `ListExecutions`.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub state_machine_arn: Option<String>,
    /// Children of this Map Run.
    pub map_run_arn: Option<String>,
    pub status: Option<ExecutionStatus>,
    /// Return executions that sort after this ARN (newest first by start time, then ARN).
    pub after: Option<(f64, String)>,
    /// Started at or after this time (seconds since the epoch).
    pub started_after: Option<f64>,
    /// Started before this time.
    pub started_before: Option<f64>,
    pub limit: usize,
}

/// The orchestrator's durable state.
///
/// Contract: every method is atomic. `commit` applies each transition exactly once: it
/// checks `expected_version` against the stored cursor and writes the events, the new cursor
/// or the final status in one database transaction, so a crash leaves either all or nothing
/// of a transition. A batch is one transaction (group commit); a conflicting transition
/// fails alone. Claims (`claim_task`) never hand the same task to two workers while a lease
/// holds; PostgreSQL guarantees this also across several processes sharing the database,
/// SQLite within one process (one file belongs to one `sluice serve`).
#[async_trait]
pub trait Store: Send + Sync {
    // ---- state machines
    /// Register a state machine; [`StoreError::AlreadyExists`] if the name is taken.
    async fn create_state_machine(&self, sm: &StateMachineRecord) -> Result<()>;
    async fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>>;
    /// Replace definition and/or role; returns the updated record.
    async fn update_state_machine(
        &self,
        arn: &str,
        definition: Option<&str>,
        role_arn: Option<&str>,
    ) -> Result<StateMachineRecord>;
    async fn delete_state_machine(&self, arn: &str) -> Result<()>;
    /// State machines by name, starting after `after_name`.
    async fn list_state_machines(
        &self,
        after_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StateMachineRecord>>;

    // ---- executions
    /// Create an execution with its first cursor and `ExecutionStarted` event. If one with the
    /// same state machine and name exists, returns it instead (idempotent start) and writes
    /// nothing.
    async fn create_execution(
        &self,
        execution: &ExecutionRecord,
        cursor: Option<&Cursor>,
        started: &[NewEvent],
    ) -> Result<Option<ExecutionRecord>>;
    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>>;
    async fn list_executions(&self, filter: &ExecutionFilter) -> Result<Vec<ExecutionRecord>>;
    async fn get_cursor(&self, arn: &str) -> Result<Option<Cursor>>;
    /// Apply transitions (see the trait contract); one result per transition, in order.
    async fn commit(&self, batch: &[Transition]) -> Result<Vec<Result<()>>>;
    /// History events with id > `after`, ascending (or < `before` descending when `reverse`).
    async fn history(
        &self,
        arn: &str,
        after: Option<i64>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<HistoryEvent>>;
    /// ARNs of STANDARD executions still RUNNING (to resume after a restart).
    async fn running_executions(&self) -> Result<Vec<String>>;
    /// Lease RUNNING Standard executions to `owner` until `until`: those without a lease, with
    /// an expired one (`< now`), or already `owner`'s. Returns their ARNs, at most `limit`.
    /// Replicas sharing a database never hold the same execution at once.
    async fn claim_executions(
        &self,
        owner: &str,
        now: f64,
        until: f64,
        limit: usize,
    ) -> Result<Vec<String>>;
    /// Lease one execution to `owner` if nobody else holds it; true when `owner` holds it now.
    async fn lease_execution(&self, arn: &str, owner: &str, now: f64, until: f64) -> Result<bool>;
    /// Extend every lease `owner` holds to `until`; returns how many.
    async fn renew_leases(&self, owner: &str, until: f64) -> Result<u64>;
    /// Those of `arns` that are no longer RUNNING (stopped through another replica, say).
    async fn ended_among(&self, arns: &[String]) -> Result<Vec<String>>;
    /// Set a FAILED/TIMED_OUT/ABORTED execution RUNNING again from its cursor.
    async fn redrive(&self, arn: &str, event: &NewEvent) -> Result<ExecutionRecord>;

    // ---- activities
    async fn create_activity(&self, activity: &ActivityRecord) -> Result<ActivityRecord>;
    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>>;
    async fn delete_activity(&self, arn: &str) -> Result<()>;
    async fn list_activities(
        &self,
        after_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ActivityRecord>>;

    // ---- tasks
    /// Apply task writes in one transaction, in order; one result per write: the task as
    /// stored afterwards (`None` for a claim that found the task taken or ended), or
    /// [`StoreError::InvalidToken`]/[`StoreError::TaskEnded`]. A database failure fails the
    /// whole batch and writes nothing.
    async fn write_tasks(&self, batch: &[TaskWrite]) -> Result<Vec<Result<Option<TaskRecord>>>>;
    /// Insert a task; if the token exists, return the stored one unchanged.
    async fn put_task(&self, task: &TaskRecord) -> Result<TaskRecord> {
        single(
            self.write_tasks(&[TaskWrite::Put(Box::new(task.clone()))])
                .await,
        )?
        .ok_or(StoreError::InvalidToken)
    }
    async fn get_task(&self, token: &str) -> Result<Option<TaskRecord>>;
    /// Hand the oldest PENDING (or lease-expired CLAIMED) task of an activity to `worker`.
    async fn claim_task(
        &self,
        activity_arn: &str,
        worker: &str,
        now: f64,
        lease_seconds: f64,
    ) -> Result<Option<TaskRecord>>;
    /// Record a heartbeat; [`StoreError::TaskEnded`] if the task is over.
    async fn heartbeat_task(&self, token: &str, now: f64) -> Result<TaskRecord>;
    /// End a PENDING/CLAIMED task; [`StoreError::InvalidToken`] or [`StoreError::TaskEnded`].
    async fn complete_task(&self, token: &str, outcome: &TaskOutcome) -> Result<TaskRecord> {
        let write = TaskWrite::Complete {
            token: token.to_string(),
            outcome: outcome.clone(),
        };
        single(self.write_tasks(&[write]).await)?.ok_or(StoreError::InvalidToken)
    }

    /// Record executions that already ended (Express): each row with its events. Existing
    /// names are left alone. The default writes them one by one; backends batch.
    async fn record_finished(&self, batch: &[(ExecutionRecord, Vec<NewEvent>)]) -> Result<()> {
        for (execution, events) in batch {
            self.create_execution(execution, None, events).await?;
        }
        Ok(())
    }

    /// Record children of Map Runs that ended, each row with its events. A child that ran
    /// again (a redrive) replaces its earlier row and history.
    async fn record_children(&self, batch: &[(ExecutionRecord, Vec<NewEvent>)]) -> Result<()>;

    /// The children of a Map Run that ended: name and status.
    async fn ended_children(&self, map_run_arn: &str) -> Result<Vec<(String, ExecutionStatus)>>;

    /// Queue Map Run children for whichever replica has room. A child already queued stays
    /// as it is (with its lease). [`Store::record_children`] takes a child off the queue.
    async fn queue_children(&self, children: &[QueuedChild]) -> Result<()>;

    /// Lease to `owner`, until `until`, up to `limit` queued children nobody holds (never
    /// leased, or the lease expired before `now`), oldest first. Replicas claiming at once
    /// take disjoint children.
    async fn claim_children(
        &self,
        owner: &str,
        now: f64,
        until: f64,
        limit: usize,
    ) -> Result<Vec<QueuedChild>>;

    /// Extend the leases `owner` holds on queued children to `until` (`None`: give them
    /// up, as a restarted replica does for the children its previous life was running).
    async fn renew_child_leases(&self, owner: &str, until: Option<f64>) -> Result<u64>;

    /// The ARNs of a Map Run's children still queued (waiting, or running on a replica).
    async fn queued_children(&self, map_run_arn: &str) -> Result<Vec<String>>;

    // ---- settings
    /// The deployment-wide setting `key`: the stored value if there is one, else `value`,
    /// which is stored. Atomic: replicas racing to set the same key all get the winner's.
    async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String>;

    // ---- map runs
    /// Writes a Map Run's current state (insert or replace).
    async fn put_map_run(&self, run: &MapRunRecord) -> Result<()>;
    /// One Map Run.
    async fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRecord>>;
    /// The Map Runs an execution started, oldest first.
    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>>;
    /// Leaves an UpdateMapRun (JSON) for the replica driving a RUNNING Map Run; false when
    /// the run is not RUNNING.
    async fn request_map_run_update(&self, arn: &str, update: &str) -> Result<bool>;
    /// Takes the UpdateMapRun left for a Map Run, if any (it is gone afterwards).
    async fn take_map_run_update(&self, arn: &str) -> Result<Option<String>>;

    // ---- schedules
    /// Register a schedule; [`StoreError::AlreadyExists`] if its group holds the name.
    async fn create_schedule(&self, schedule: &ScheduleRecord) -> Result<()>;
    async fn get_schedule(&self, group: &str, name: &str) -> Result<Option<ScheduleRecord>>;
    /// Replace a schedule's settings and next fire time (its version moves on, so a fire
    /// computed from the old settings does not apply); returns it as stored.
    async fn update_schedule(&self, schedule: &ScheduleRecord) -> Result<ScheduleRecord>;
    async fn delete_schedule(&self, group: &str, name: &str) -> Result<()>;
    /// Schedules by group and name.
    async fn list_schedules(&self, filter: &ScheduleFilter) -> Result<Vec<ScheduleRecord>>;
    /// ENABLED schedules whose next fire time is at or before `now`, earliest first.
    async fn due_schedules(&self, now: f64, limit: usize) -> Result<Vec<ScheduleRecord>>;
    /// The earliest next fire time of an ENABLED schedule.
    async fn next_fire_time(&self) -> Result<Option<f64>>;
    /// Fire schedules in one transaction: each fire that still finds its schedule at the
    /// version it names moves it on and creates its executions (those not already there,
    /// leased to `lease.owner`), giving the ARNs it created; one that lost the race to
    /// another replica or an update gives `None` and writes nothing.
    async fn fire_schedules(
        &self,
        fires: &[ScheduleFire],
        lease: &Lease,
    ) -> Result<Vec<Option<Vec<String>>>>;

    /// Register a schedule group; [`StoreError::AlreadyExists`] if the name is taken.
    async fn create_schedule_group(&self, group: &ScheduleGroupRecord) -> Result<()>;
    async fn get_schedule_group(&self, name: &str) -> Result<Option<ScheduleGroupRecord>>;
    /// Groups by name, after `after`.
    async fn list_schedule_groups(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ScheduleGroupRecord>>;
    /// Delete a group and its schedules, in one transaction.
    async fn delete_schedule_group(&self, name: &str) -> Result<()>;

    // ---- object triggers
    /// Register a trigger; [`StoreError::AlreadyExists`] if the name is taken.
    async fn create_trigger(&self, trigger: &TriggerRecord) -> Result<()>;
    async fn get_trigger(&self, name: &str) -> Result<Option<TriggerRecord>>;
    async fn list_triggers(&self) -> Result<Vec<TriggerRecord>>;
    async fn set_trigger_state(&self, name: &str, state: Switch, now: f64)
    -> Result<TriggerRecord>;
    /// Delete a trigger and what it has seen.
    async fn delete_trigger(&self, name: &str) -> Result<()>;
    /// Take the trigger's next listing round: true when its interval has passed since the
    /// last one any replica took (which is now this one).
    async fn claim_trigger_listing(&self, name: &str, now: f64) -> Result<bool>;
    /// For each `(key, etag)`, whether the trigger has not seen it yet.
    async fn unseen_objects(
        &self,
        trigger: &str,
        objects: &[(String, String)],
    ) -> Result<Vec<bool>>;
    /// Record object versions as seen, in one transaction, and create the execution of each
    /// one not seen before: its ARN when it was created here, `None` when it was seen.
    async fn fire_objects(
        &self,
        fires: &[ObjectFire],
        lease: &Lease,
    ) -> Result<Vec<Option<String>>>;

    // ---- health
    /// A round trip to the database (readiness).
    async fn ping(&self) -> Result<()>;
    /// Activity tasks waiting for a worker: `(activity ARN, how many, oldest creation time)`.
    async fn pending_tasks(&self) -> Result<Vec<(String, i64, f64)>>;
    /// Activity tasks and callbacks not yet answered (pending or claimed), oldest first.
    async fn open_tasks(&self, limit: usize) -> Result<Vec<TaskRecord>>;

    // ---- timers
    /// The deadline of a durable timer: the stored one when `key` was set before (a replayed
    /// step), else `fire_at`, which is stored. Timers of an execution go when it ends.
    /// The default keeps nothing (waits restart after a crash).
    async fn timer(&self, execution_arn: &str, key: &str, fire_at: f64) -> Result<f64> {
        let _ = (execution_arn, key);
        Ok(fire_at)
    }
}

/// The one result of a one-write batch.
fn single(batch: Result<Vec<Result<Option<TaskRecord>>>>) -> Result<Option<TaskRecord>> {
    batch?.pop().unwrap_or(Err(StoreError::InvalidToken))
}
