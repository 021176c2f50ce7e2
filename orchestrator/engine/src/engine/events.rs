//! History events: what an execution did, in the vocabulary and detail shapes of AWS Step
//! Functions (`PassStateEntered`, `TaskScheduled`, `MapIterationStarted`, ...). The engine
//! emits them to an [`EventSink`]; a store numbers and keeps them. Without a sink nothing is
//! built, so in-memory runs pay nothing.

use serde_json::{Value, json};
use sluice_task::{Resource, Target};

use crate::engine::TaskFailure;
use crate::lang::errors;
use crate::lang::model::{Kind, State};

/// One history event before the store gives it an id and a timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The AWS event type, e.g. `TaskStateEntered`.
    pub kind: String,
    /// The details member (e.g. `stateEnteredEventDetails`) and its value, when the type has one.
    pub details: Option<(&'static str, Value)>,
}

impl Event {
    /// An event with details.
    pub fn new(kind: impl Into<String>, key: &'static str, details: Value) -> Self {
        Event {
            kind: kind.into(),
            details: Some((key, details)),
        }
    }

    /// An event without details.
    pub fn bare(kind: impl Into<String>) -> Self {
        Event {
            kind: kind.into(),
            details: None,
        }
    }
}

/// Receives events as they happen. Called from the execution's task; must not block.
pub trait EventSink: Send + Sync {
    /// Record one event.
    fn emit(&self, event: Event);

    /// How a Distributed Map's run is going: called when it starts, as each child finishes
    /// and when it ends. Not a history event; a progress display or a Map Run record uses it.
    /// What it returns changes the running Map Run at once (`UpdateMapRun`).
    fn map_run(&self, _progress: &MapRunProgress<'_>) -> Option<MapRunUpdate> {
        None
    }
}

/// New settings for a running Map Run (`UpdateMapRun`); `None` keeps a setting.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MapRunUpdate {
    pub max_concurrency: Option<u64>,
    pub tolerated_failure_percentage: Option<f64>,
    pub tolerated_failure_count: Option<u64>,
}

/// A Map Run's lifecycle, as `DescribeMapRun` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapRunStatus {
    Running,
    Succeeded,
    Failed,
    Aborted,
}

impl MapRunStatus {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MapRunStatus::Running => "RUNNING",
            MapRunStatus::Succeeded => "SUCCEEDED",
            MapRunStatus::Failed => "FAILED",
            MapRunStatus::Aborted => "ABORTED",
        }
    }
}

/// One report of a Map Run's progress.
#[derive(Debug, Clone, Copy)]
pub struct MapRunProgress<'a> {
    pub map_run_arn: &'a str,
    /// The Map state's name.
    pub state: &'a str,
    pub status: MapRunStatus,
    /// Children in all, once the reader has been read to the end.
    pub total: Option<u64>,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// `MaxConcurrency` as given (0 when absent).
    pub max_concurrency: u64,
    /// `ToleratedFailurePercentage` and `ToleratedFailureCount` (0 when absent).
    pub tolerated_failure_percentage: f64,
    pub tolerated_failure_count: u64,
    /// The items: the counts above are children, and with an ItemBatcher a child is a batch.
    pub items: ItemCounts,
    /// How often the run was redriven.
    pub redrive_count: u64,
    /// Children whose results the ResultWriter stored.
    pub results_written: u64,
}

/// Items of a Map Run by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemCounts {
    /// Once the reader has been read to the end.
    pub total: Option<u64>,
    pub succeeded: u64,
    pub failed: u64,
    /// Items whose results the ResultWriter stored.
    pub results_written: u64,
}

/// The prefix AWS puts before `StateEntered`/`StateExited` for a state type.
pub fn type_prefix(kind: &Kind) -> &'static str {
    match kind {
        Kind::Pass { .. } => "Pass",
        Kind::Task(_) => "Task",
        Kind::Choice(_) => "Choice",
        Kind::Wait(_) => "Wait",
        Kind::Succeed => "Succeed",
        Kind::Fail(_) => "Fail",
        Kind::Parallel { .. } => "Parallel",
        Kind::Map(_) => "Map",
    }
}

/// JSON text, as AWS puts inputs and outputs in event details.
pub fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// `<Type>StateEntered`.
pub fn entered(state: &State, input: &Value) -> Event {
    Event::new(
        format!("{}StateEntered", type_prefix(&state.kind)),
        "stateEnteredEventDetails",
        json!({"name": state.name, "input": text(input), "inputDetails": {"truncated": false}}),
    )
}

/// `<Type>StateExited`.
pub fn exited(state: &State, output: &Value) -> Event {
    Event::new(
        format!("{}StateExited", type_prefix(&state.kind)),
        "stateExitedEventDetails",
        json!({"name": state.name, "output": text(output), "outputDetails": {"truncated": false}}),
    )
}

/// The `resourceType`/`resource` pair of task events, in any partition:
/// `lambda`/`invoke` for `arn:aws:states:::lambda:invoke` (and for a plain function ARN),
/// `aws-sdk:s3`/`listObjectsV2` for an SDK integration, `batch`/`submitJob.sync`.
pub fn resource_parts(resource: &Resource) -> (String, String) {
    match &resource.target {
        Target::Service {
            service,
            action,
            pattern,
        } => (service.clone(), format!("{action}{}", pattern.suffix())),
        Target::AwsSdk {
            service,
            action,
            pattern,
        } => (
            format!("aws-sdk:{service}"),
            format!("{action}{}", pattern.suffix()),
        ),
        Target::LambdaFunction { .. } => ("lambda".into(), "invoke".into()),
        Target::Activity { .. } | Target::Other => (
            resource.text.split(':').nth(2).unwrap_or("").to_string(),
            String::new(),
        ),
    }
}

/// The family of history events a Task state records, which AWS names by how the resource is
/// reached: `Activity…` for activities, `LambdaFunction…` for a plain function ARN, `Task…`
/// (with `resourceType`/`resource`) for service integrations.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskEvents {
    Activity,
    LambdaFunction,
    Service {
        resource_type: String,
        resource: String,
    },
}

/// `timeoutInSeconds`/`heartbeatInSeconds` when set (AWS leaves them out otherwise).
fn limits(m: &mut serde_json::Map<String, Value>, timeout: Option<u64>, heartbeat: Option<u64>) {
    if let Some(t) = timeout {
        m.insert("timeoutInSeconds".into(), json!(t));
    }
    if let Some(h) = heartbeat {
        m.insert("heartbeatInSeconds".into(), json!(h));
    }
}

impl TaskEvents {
    /// The family of `resource`'s events.
    pub fn of(resource: &Resource) -> TaskEvents {
        match resource.target {
            Target::Activity { .. } => TaskEvents::Activity,
            Target::LambdaFunction { .. } => TaskEvents::LambdaFunction,
            _ => {
                let (resource_type, resource) = resource_parts(resource);
                TaskEvents::Service {
                    resource_type,
                    resource,
                }
            }
        }
    }

    /// `ActivityScheduled`, `LambdaFunctionScheduled` or `TaskScheduled`.
    pub fn scheduled(
        &self,
        resource: &str,
        input: &Value,
        region: &str,
        timeout: Option<u64>,
        heartbeat: Option<u64>,
    ) -> Event {
        let mut m = serde_json::Map::new();
        let (kind, key) = match self {
            TaskEvents::Activity => {
                m.insert("resource".into(), json!(resource));
                m.insert("input".into(), json!(text(input)));
                m.insert("inputDetails".into(), json!({"truncated": false}));
                limits(&mut m, timeout, heartbeat);
                ("ActivityScheduled", "activityScheduledEventDetails")
            }
            TaskEvents::LambdaFunction => {
                m.insert("resource".into(), json!(resource));
                m.insert("input".into(), json!(text(input)));
                m.insert("inputDetails".into(), json!({"truncated": false}));
                limits(&mut m, timeout, None);
                (
                    "LambdaFunctionScheduled",
                    "lambdaFunctionScheduledEventDetails",
                )
            }
            TaskEvents::Service {
                resource_type,
                resource,
            } => {
                m.insert("resourceType".into(), json!(resource_type));
                m.insert("resource".into(), json!(resource));
                m.insert("region".into(), json!(region));
                m.insert("parameters".into(), json!(text(input)));
                limits(&mut m, timeout, heartbeat);
                ("TaskScheduled", "taskScheduledEventDetails")
            }
        };
        Event::new(kind, key, Value::Object(m))
    }

    /// `LambdaFunctionStarted` or `TaskStarted`, recorded as the call goes out. An activity
    /// starts when a worker takes it ([`TaskEvents::activity_started`]).
    pub fn started(&self) -> Option<Event> {
        match self {
            TaskEvents::Activity => None,
            TaskEvents::LambdaFunction => Some(Event::bare("LambdaFunctionStarted")),
            TaskEvents::Service {
                resource_type,
                resource,
            } => Some(Event::new(
                "TaskStarted",
                "taskStartedEventDetails",
                json!({"resourceType": resource_type, "resource": resource}),
            )),
        }
    }

    /// `ActivityStarted`: `worker` took the activity task.
    pub fn activity_started(worker: &str) -> Event {
        Event::new(
            "ActivityStarted",
            "activityStartedEventDetails",
            json!({"workerName": worker}),
        )
    }

    /// `TaskSubmitted`: the service accepted a `.sync` or `.waitForTaskToken` request, which
    /// answered `output`; the task goes on until the job ends or the token is answered.
    pub fn submitted(&self, output: &Value) -> Option<Event> {
        match self {
            TaskEvents::Service {
                resource_type,
                resource,
            } => Some(Event::new(
                "TaskSubmitted",
                "taskSubmittedEventDetails",
                json!({"resourceType": resource_type, "resource": resource,
                       "output": text(output), "outputDetails": {"truncated": false}}),
            )),
            _ => None,
        }
    }

    /// `…Succeeded`, `…Failed` or `…TimedOut` of the family.
    pub fn outcome(&self, outcome: &Result<Value, TaskFailure>) -> Event {
        let (prefix, lower) = match self {
            TaskEvents::Activity => ("Activity", "activity"),
            TaskEvents::LambdaFunction => ("LambdaFunction", "lambdaFunction"),
            TaskEvents::Service { .. } => ("Task", "task"),
        };
        let (suffix, mut details) = match outcome {
            Ok(output) => (
                "Succeeded",
                json!({"output": text(output), "outputDetails": {"truncated": false}}),
            ),
            Err(f) => (
                if f.error == errors::TIMEOUT || f.error == errors::HEARTBEAT_TIMEOUT {
                    "TimedOut"
                } else {
                    "Failed"
                },
                json!({"error": f.error, "cause": f.cause}),
            ),
        };
        if let (
            TaskEvents::Service {
                resource_type,
                resource,
            },
            Value::Object(m),
        ) = (self, &mut details)
        {
            m.insert("resourceType".into(), json!(resource_type));
            m.insert("resource".into(), json!(resource));
        }
        let key = match (lower, suffix) {
            ("activity", "Succeeded") => "activitySucceededEventDetails",
            ("activity", "Failed") => "activityFailedEventDetails",
            ("activity", _) => "activityTimedOutEventDetails",
            ("lambdaFunction", "Succeeded") => "lambdaFunctionSucceededEventDetails",
            ("lambdaFunction", "Failed") => "lambdaFunctionFailedEventDetails",
            ("lambdaFunction", _) => "lambdaFunctionTimedOutEventDetails",
            (_, "Succeeded") => "taskSucceededEventDetails",
            (_, "Failed") => "taskFailedEventDetails",
            _ => "taskTimedOutEventDetails",
        };
        Event::new(format!("{prefix}{suffix}"), key, details)
    }
}
