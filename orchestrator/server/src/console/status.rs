//! What each state of an execution did, read from its history: the colours of the console's
//! graph and the input and output shown when a state is clicked. Pure: events in, a map out.
//!
//! The history is read as a stack of open states. A failure event (`TaskFailed`,
//! `MapStateFailed`, …) belongs to the innermost open state. What happens next decides what
//! the failure was: another attempt (`TaskScheduled` again) puts the state back to running,
//! a state entered after it means a Catch took the error (caught), and a failure that is
//! still open when the execution fails is the failure itself.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::store::HistoryEvent;

/// How far a state got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StateStatus {
    Running,
    Succeeded,
    /// Failed and a Catch moved the execution on.
    Caught,
    Failed,
    /// Still open when the execution was stopped or timed out.
    Aborted,
}

impl StateStatus {
    /// The CSS class the console paints the state's box with.
    pub fn as_str(self) -> &'static str {
        match self {
            StateStatus::Running => "running",
            StateStatus::Succeeded => "succeeded",
            StateStatus::Caught => "caught",
            StateStatus::Failed => "failed",
            StateStatus::Aborted => "aborted",
        }
    }
}

/// One state's latest visit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateView {
    pub status: StateStatus,
    /// How often it was entered (Map iterations and loops enter a state many times).
    pub entered: u64,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// Each state's latest status by name.
pub fn state_views(events: &[HistoryEvent]) -> BTreeMap<String, StateView> {
    let mut reader = HistoryReader::default();
    reader.read(events);
    reader.into_views()
}

/// The history read so far, a page at a time: each state's view and the states still open.
#[derive(Debug, Default, Clone)]
pub struct HistoryReader {
    views: BTreeMap<String, StateView>,
    open: Vec<String>,
}

impl HistoryReader {
    /// Each state's latest status by name, once every event has been read.
    pub fn into_views(self) -> BTreeMap<String, StateView> {
        self.views
    }

    /// Read the next events, in order.
    pub fn read(&mut self, events: &[HistoryEvent]) {
        let HistoryReader { views, open } = self;
        for e in events {
            let details = e
                .details
                .as_ref()
                .and_then(|(_, text)| serde_json::from_str::<Value>(text).ok());
            let field = |name: &str| {
                details
                    .as_ref()
                    .and_then(|d| d.get(name))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let kind = e.kind.as_str();
            if kind.ends_with("StateEntered") {
                // Failed states still open were caught: the execution moved on past them.
                settle_failed(open, views, StateStatus::Caught);
                let Some(name) = field("name") else { continue };
                let view = views.entry(name.clone()).or_insert(StateView {
                    status: StateStatus::Running,
                    entered: 0,
                    input: None,
                    output: None,
                    error: None,
                    cause: None,
                });
                // A Fail state fails as it is entered; its failure goes on outward.
                view.status = if kind == "FailStateEntered" {
                    StateStatus::Failed
                } else {
                    StateStatus::Running
                };
                view.entered += 1;
                view.input = field("input");
                view.output = None;
                view.error = None;
                view.cause = None;
                open.push(name);
            } else if kind.ends_with("StateExited") {
                let Some(name) = field("name") else { continue };
                // States opened inside it ended with it (failed ones stay failed: their failure
                // reached this state).
                if let Some(at) = open.iter().rposition(|n| *n == name) {
                    open.truncate(at);
                }
                if let Some(view) = views.get_mut(&name) {
                    // Exited after failing: a Catch of this state took the error.
                    view.status = match view.status {
                        StateStatus::Failed => StateStatus::Caught,
                        _ => StateStatus::Succeeded,
                    };
                    view.output = field("output");
                }
            } else if kind.starts_with("Execution") {
                match kind {
                    "ExecutionFailed" => {
                        settle_failed(open, views, StateStatus::Failed);
                        // The execution's error is the failed states' when their events had none.
                        for view in views.values_mut() {
                            if view.status == StateStatus::Failed && view.error.is_none() {
                                view.error = field("error");
                                view.cause = field("cause");
                            }
                        }
                    }
                    "ExecutionAborted" | "ExecutionTimedOut" => {
                        for name in open.drain(..) {
                            if let Some(view) = views.get_mut(&name)
                                && view.status == StateStatus::Running
                            {
                                view.status = StateStatus::Aborted;
                            }
                        }
                    }
                    // A redrive: the failed states run again from where they failed.
                    "ExecutionRedriven" => {
                        for name in open.iter() {
                            if let Some(view) = views.get_mut(name) {
                                view.status = StateStatus::Running;
                            }
                        }
                    }
                    _ => {}
                }
            } else if is_failure(kind) {
                // A failure inside a Map or Parallel reaches the container: the inner state ended.
                if kind.ends_with("StateFailed") {
                    pop_failed(open, views);
                }
                if let Some(view) = open.last().and_then(|n| views.get_mut(n)) {
                    view.status = StateStatus::Failed;
                    if field("error").is_some() || field("cause").is_some() {
                        view.error = field("error");
                        view.cause = field("cause");
                    }
                }
            } else if kind.ends_with("Scheduled") || kind.ends_with("Started") {
                // A retry: the failed state runs again.
                if !kind.starts_with("MapRun")
                    && !kind.starts_with("MapIteration")
                    && let Some(view) = open.last().and_then(|n| views.get_mut(n))
                    && view.status == StateStatus::Failed
                {
                    view.status = StateStatus::Running;
                }
            }
        }
    }
}

/// Events that report a state's failure (not an iteration's or the execution's).
fn is_failure(kind: &str) -> bool {
    (kind.ends_with("Failed") || kind.ends_with("TimedOut"))
        && !kind.starts_with("MapIteration")
        && !kind.starts_with("MapRun")
}

/// Pop failed states from the top of the stack (their failure went on outward).
fn pop_failed(open: &mut Vec<String>, views: &BTreeMap<String, StateView>) {
    while open
        .last()
        .and_then(|n| views.get(n))
        .is_some_and(|v| v.status == StateStatus::Failed)
    {
        open.pop();
    }
}

/// Give the failed states on top of the stack their final status and pop them.
fn settle_failed(open: &mut Vec<String>, views: &mut BTreeMap<String, StateView>, to: StateStatus) {
    while let Some(view) = open.last().and_then(|n| views.get_mut(n)) {
        if view.status != StateStatus::Failed {
            break;
        }
        view.status = to;
        open.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, details: Value) -> HistoryEvent {
        HistoryEvent {
            id: 0,
            previous_id: 0,
            timestamp: 0.0,
            kind: kind.to_string(),
            details: Some(("d".to_string(), details.to_string())),
        }
    }

    fn entered(kind: &str, name: &str) -> HistoryEvent {
        ev(
            &format!("{kind}StateEntered"),
            serde_json::json!({"name": name, "input": "{}"}),
        )
    }

    fn exited(kind: &str, name: &str) -> HistoryEvent {
        ev(
            &format!("{kind}StateExited"),
            serde_json::json!({"name": name, "output": "{\"ok\":1}"}),
        )
    }

    fn failed(kind: &str) -> HistoryEvent {
        ev(
            kind,
            serde_json::json!({"error": "Boom", "cause": "it broke"}),
        )
    }

    /// Each state's status; the history read in two pages, split anywhere, reads the same.
    fn statuses(events: &[HistoryEvent]) -> Vec<(String, &'static str)> {
        let whole = state_views(events);
        for split in 0..=events.len() {
            let mut reader = HistoryReader::default();
            reader.read(&events[..split]);
            reader.read(&events[split..]);
            assert_eq!(reader.into_views(), whole, "split at {split}");
        }
        whole
            .into_iter()
            .map(|(n, v)| (n, v.status.as_str()))
            .collect()
    }

    #[test]
    fn a_caught_failure_is_caught_and_the_handler_succeeds() {
        let events = [
            ev("ExecutionStarted", serde_json::json!({})),
            entered("Task", "Work"),
            ev("TaskScheduled", serde_json::json!({})),
            failed("TaskFailed"),
            entered("Pass", "Handle"),
            exited("Pass", "Handle"),
            ev("ExecutionSucceeded", serde_json::json!({})),
        ];
        let views = state_views(&events);
        assert_eq!(
            statuses(&events),
            [
                ("Handle".to_string(), "succeeded"),
                ("Work".to_string(), "caught")
            ]
        );
        assert_eq!(views["Work"].error.as_deref(), Some("Boom"));
        assert_eq!(views["Handle"].output.as_deref(), Some("{\"ok\":1}"));
    }

    #[test]
    fn an_uncaught_failure_fails_the_state_and_its_container() {
        let events = [
            entered("Map", "Each"),
            ev("MapIterationStarted", serde_json::json!({})),
            entered("Task", "Inner"),
            ev("TaskScheduled", serde_json::json!({})),
            failed("TaskFailed"),
            failed("MapIterationFailed"),
            failed("MapStateFailed"),
            failed("ExecutionFailed"),
        ];
        assert_eq!(
            statuses(&events),
            [
                ("Each".to_string(), "failed"),
                ("Inner".to_string(), "failed")
            ]
        );
    }

    #[test]
    fn a_retried_failure_that_then_succeeds_is_succeeded() {
        let events = [
            entered("Task", "Work"),
            ev("TaskScheduled", serde_json::json!({})),
            failed("TaskFailed"),
            ev("TaskScheduled", serde_json::json!({})),
            exited("Task", "Work"),
            entered("Task", "Next"),
        ];
        assert_eq!(
            statuses(&events),
            [
                ("Next".to_string(), "running"),
                ("Work".to_string(), "succeeded")
            ]
        );
    }

    #[test]
    fn a_parallel_caught_after_a_fail_state_is_caught_and_the_fail_state_failed() {
        let events = [
            entered("Parallel", "Load"),
            ev("ParallelStateStarted", serde_json::json!({})),
            entered("Pass", "Copy"),
            exited("Pass", "Copy"),
            entered("Fail", "Reject"),
            ev("ParallelStateFailed", serde_json::json!({})),
            exited("Parallel", "Load"),
            entered("Pass", "Quarantine"),
        ];
        assert_eq!(
            statuses(&events),
            [
                ("Copy".to_string(), "succeeded"),
                ("Load".to_string(), "caught"),
                ("Quarantine".to_string(), "running"),
                ("Reject".to_string(), "failed"),
            ]
        );
    }

    #[test]
    fn an_uncaught_fail_state_takes_the_execution_error() {
        let events = [entered("Fail", "Stop"), failed("ExecutionFailed")];
        let views = state_views(&events);
        assert_eq!(views["Stop"].status, StateStatus::Failed);
        assert_eq!(views["Stop"].cause.as_deref(), Some("it broke"));
    }

    #[test]
    fn a_stopped_execution_aborts_what_was_running() {
        let events = [
            entered("Wait", "Sleep"),
            ev("ExecutionAborted", serde_json::json!({})),
        ];
        assert_eq!(statuses(&events), [("Sleep".to_string(), "aborted")]);
    }
}
