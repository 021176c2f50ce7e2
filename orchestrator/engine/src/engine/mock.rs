//! Mocked Task responses in the format of AWS Step Functions Local
//! (`StateMachines → TestCases → state → MockedResponses`), so definitions with Task states run
//! offline and tests can script successes, failures and retries.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::task::{TaskFailure, TaskHandler, TaskRequest};

/// Problems with a mock configuration file.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    #[error("mock file is not valid: {0}")]
    Format(#[from] serde_json::Error),
    #[error("mock file has no test case {0:?}{1}")]
    NoTestCase(String, String),
    #[error(
        "test case {case:?} maps state {state:?} to mocked response {response:?}, which is not defined under MockedResponses"
    )]
    NoResponse {
        case: String,
        state: String,
        response: String,
    },
    #[error(
        "mocked response {response:?}: attempt key {key:?} must be a number or a range like \"1-3\""
    )]
    BadAttemptKey { response: String, key: String },
    #[error("mocked response {response:?}, attempt {key:?}: give exactly one of Return or Throw")]
    BadOutcome { response: String, key: String },
    #[error("the mock file has several state machines ({0}); name one with --state-machine")]
    Ambiguous(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct File {
    #[serde(default)]
    state_machines: HashMap<String, Machine>,
    #[serde(default)]
    mocked_responses: HashMap<String, HashMap<String, Outcome>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Machine {
    #[serde(default)]
    test_cases: HashMap<String, HashMap<String, String>>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
struct Outcome {
    #[serde(rename = "Return")]
    ret: Option<Value>,
    throw: Option<Throw>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
struct Throw {
    error: String,
    #[serde(default)]
    cause: Option<String>,
}

/// One scripted answer: the first and last call it covers, and the outcome.
type Scripted = (u64, u64, Result<Value, TaskFailure>);

/// Scripted responses for one test case: per state, a list of (attempt range, outcome).
pub struct MockHandler {
    states: HashMap<String, Vec<Scripted>>,
    calls: Mutex<HashMap<String, u64>>,
}

impl MockHandler {
    /// Load `test_case` (of `state_machine`, or of the only state machine in the file).
    pub fn from_json(
        text: &str,
        state_machine: Option<&str>,
        test_case: &str,
    ) -> Result<Self, MockError> {
        let file: File = serde_json::from_str(text)?;
        let machine = match state_machine {
            Some(name) => file.state_machines.get(name).ok_or_else(|| {
                MockError::NoTestCase(test_case.into(), format!(" (no state machine {name:?})"))
            })?,
            None => {
                let mut with_case: Vec<(&String, &Machine)> = file
                    .state_machines
                    .iter()
                    .filter(|(_, m)| m.test_cases.contains_key(test_case))
                    .collect();
                match with_case.len() {
                    0 => return Err(MockError::NoTestCase(test_case.into(), String::new())),
                    1 => with_case.remove(0).1,
                    _ => {
                        let mut names: Vec<&str> =
                            with_case.iter().map(|(n, _)| n.as_str()).collect();
                        names.sort_unstable();
                        return Err(MockError::Ambiguous(names.join(", ")));
                    }
                }
            }
        };
        let case = machine
            .test_cases
            .get(test_case)
            .ok_or_else(|| MockError::NoTestCase(test_case.into(), String::new()))?;
        let mut states = HashMap::new();
        for (state, response) in case {
            let attempts =
                file.mocked_responses
                    .get(response)
                    .ok_or_else(|| MockError::NoResponse {
                        case: test_case.into(),
                        state: state.clone(),
                        response: response.clone(),
                    })?;
            let mut list = Vec::new();
            for (key, outcome) in attempts {
                let bad_key = || MockError::BadAttemptKey {
                    response: response.clone(),
                    key: key.clone(),
                };
                let (lo, hi) = match key.split_once('-') {
                    Some((a, b)) => (
                        a.trim().parse().map_err(|_| bad_key())?,
                        b.trim().parse().map_err(|_| bad_key())?,
                    ),
                    None => {
                        let n = key.trim().parse().map_err(|_| bad_key())?;
                        (n, n)
                    }
                };
                let result = match (&outcome.ret, &outcome.throw) {
                    (Some(v), None) => Ok(v.clone()),
                    (None, Some(t)) => Err(TaskFailure {
                        error: t.error.clone(),
                        cause: t.cause.clone(),
                    }),
                    _ => {
                        return Err(MockError::BadOutcome {
                            response: response.clone(),
                            key: key.clone(),
                        });
                    }
                };
                list.push((lo, hi, result));
            }
            list.sort_by_key(|(lo, ..)| *lo);
            states.insert(state.clone(), list);
        }
        Ok(MockHandler {
            states,
            calls: Mutex::new(HashMap::new()),
        })
    }

    fn next_outcome(&self, state: &str) -> Option<Result<Value, TaskFailure>> {
        let list = self.states.get(state)?;
        let n = {
            // A poisoned lock only means another task panicked mid-increment; the count is still usable.
            let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
            let c = calls.entry(state.to_string()).or_insert(0);
            let n = *c;
            *c += 1;
            n
        };
        // Past the last scripted attempt, Step Functions Local repeats the last response.
        list.iter()
            .find(|(lo, hi, _)| (*lo..=*hi).contains(&n))
            .or_else(|| list.last())
            .map(|(_, _, r)| r.clone())
    }
}

impl TaskHandler for MockHandler {
    fn handles(&self, _resource: &sluice_task::Resource) -> bool {
        // Mocks are keyed by state, not resource; `invoke` declines unmocked states.
        true
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        let outcome = self.next_outcome(&request.state_name);
        Box::pin(async move {
            outcome.unwrap_or_else(|| {
                Err(TaskFailure::new(
                    crate::lang::errors::NO_HANDLER,
                    format!(
                        "The mock test case has no response for state '{}' (resource '{}')",
                        request.state_name, request.resource
                    ),
                ))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
      "StateMachines": {"Orders": {"TestCases": {"Flaky": {"Charge": "ChargeFlaky"}}}},
      "MockedResponses": {"ChargeFlaky": {
         "0-1": {"Throw": {"Error": "Payment.Declined", "Cause": "try later"}},
         "2": {"Return": {"charged": true}}}}
    }"#;

    #[test]
    fn attempts_follow_the_script() {
        let m = MockHandler::from_json(FILE, None, "Flaky").expect("valid mock");
        let a = m.next_outcome("Charge").expect("scripted");
        assert_eq!(
            a.expect_err("first two calls throw").error,
            "Payment.Declined"
        );
        assert!(m.next_outcome("Charge").expect("scripted").is_err());
        assert_eq!(
            m.next_outcome("Charge")
                .expect("scripted")
                .expect("third succeeds")["charged"],
            true
        );
        assert!(m.next_outcome("Other").is_none());
    }

    #[test]
    fn unknown_case_is_an_error() {
        assert!(matches!(
            MockHandler::from_json(FILE, None, "Nope"),
            Err(MockError::NoTestCase(..))
        ));
    }
}
