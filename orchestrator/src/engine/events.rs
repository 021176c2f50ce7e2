//! History events: what an execution did, in the vocabulary and detail shapes of AWS Step
//! Functions (`PassStateEntered`, `TaskScheduled`, `MapIterationStarted`, ...). The engine
//! emits them to an [`EventSink`]; a store numbers and keeps them. Without a sink nothing is
//! built, so in-memory runs pay nothing.

use serde_json::{Value, json};

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
}

/// The prefix AWS puts before `StateEntered`/`StateExited` for a state type.
pub fn type_prefix(kind: &Kind) -> &'static str {
    match kind {
        Kind::Pass { .. } => "Pass",
        Kind::Task(_) => "Task",
        Kind::Choice(_) => "Choice",
        Kind::Wait(_) => "Wait",
        Kind::Succeed => "Succeed",
        Kind::Fail { .. } => "Fail",
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

/// Resources served by activity workers (`arn:…:states:…:activity:NAME`).
pub fn is_activity(resource: &str) -> bool {
    resource.starts_with("arn:") && resource.contains(":activity:")
}

/// The `resourceType`/`resource` pair of task events: `lambda`/`invoke` for
/// `arn:aws:states:::lambda:invoke`, `lambda`/`invoke` for a plain function ARN.
pub fn resource_parts(resource: &str) -> (String, String) {
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
        let mut parts = rest.splitn(2, ':');
        let service = parts.next().unwrap_or("").to_string();
        let action = parts.next().unwrap_or("").to_string();
        return (service, action);
    }
    let service = resource.split(':').nth(2).unwrap_or("").to_string();
    let action = if service == "lambda" { "invoke" } else { "" };
    (service, action.to_string())
}
