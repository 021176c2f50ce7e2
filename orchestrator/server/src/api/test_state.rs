//! TestState: run one state on an input, optionally with a mocked task result, and report its
//! output and next state.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use sluice_engine::engine::{
    Dispatcher, Engine, RunRequest, StepOutcome, StepRequest, TaskFailure, TaskHandler,
    TaskRequest, Vars,
};
use sluice_engine::lang::load::parse_json;
use sluice_engine::lang::model::StateMachine;

use super::ApiError;
use crate::service::Service;

/// Answers every task with the request's `mock`.
struct Mocked(Result<Value, TaskFailure>);

impl TaskHandler for Mocked {
    fn handles(&self, _: &sluice_engine::engine::task::Resource) -> bool {
        true
    }
    fn invoke(&self, _: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        let out = self.0.clone();
        Box::pin(async move { out })
    }
}

/// The name the tested state gets inside the throwaway machine.
const NAME: &str = "TestState";

pub async fn test_state(svc: &Arc<Service>, input: &Value) -> Result<Value, ApiError> {
    let text = input
        .get("definition")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation("definition is required"))?;
    let state = parse_json(text, "definition")
        .map_err(|e| ApiError::new("InvalidDefinition", e.to_string()))?;
    let Value::Object(state_obj) = &state else {
        return Err(ApiError::new(
            "InvalidDefinition",
            "the definition of a state must be an object",
        ));
    };
    let state_input: Value = match input.get("input").and_then(Value::as_str) {
        Some(t) => parse_json(t, "input")
            .map_err(|e| ApiError::new("InvalidExecutionInput", e.to_string()))?,
        None => json!({}),
    };
    // Every state the tested one can go to exists as an end state, so the machine compiles.
    let mut states = Map::new();
    states.insert(NAME.into(), state.clone());
    let mut targets: Vec<String> = Vec::new();
    collect_targets(&state, &mut targets);
    for t in &targets {
        if t != NAME {
            states.insert(t.clone(), json!({"Type": "Succeed"}));
        }
    }
    let mut machine = json!({"StartAt": NAME, "States": states});
    if let Some(ql) = state_obj.get("QueryLanguage") {
        machine["QueryLanguage"] = ql.clone();
    }
    let compiled = StateMachine::compile(&machine)
        .map_err(|e| ApiError::new("InvalidDefinition", e.to_string()))?;
    let names: Vec<&str> = compiled
        .graph
        .states
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let mut dispatcher = Dispatcher::new();
    if let Some(mock) = input.get("mock") {
        let answer = if let Some(result) = mock.get("result").and_then(Value::as_str) {
            Ok(parse_json(result, "mock.result")
                .map_err(|e| ApiError::validation(e.to_string()))?)
        } else if let Some(err) = mock.get("errorOutput") {
            Err(TaskFailure {
                error: err
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                cause: err.get("cause").and_then(Value::as_str).map(str::to_string),
            })
        } else {
            return Err(ApiError::validation("mock needs result or errorOutput"));
        };
        dispatcher.register(Arc::new(Mocked(answer)));
    }
    let mut engine = Engine::new(dispatcher);
    engine.limits = svc.config.limits.clone();
    let request = RunRequest::new("TestState", state_input.clone());
    let info = request.execution_info(uuid::Uuid::new_v4().to_string());
    let rng = sluice_engine::engine::Rng::new(rand::random());
    let mut vars = match input.get("variables").and_then(Value::as_str) {
        Some(t) => Vars::from_json(
            parse_json(t, "variables").map_err(|e| ApiError::validation(e.to_string()))?,
        ),
        None => Vars::default(),
    };
    let outcome = engine
        .step(StepRequest {
            machine: &compiled,
            info: &info,
            rng: &rng,
            state: compiled.graph.start,
            input: state_input.clone(),
            vars: &mut vars,
            events: None,
            timers: None,
            children: None,
            transitions: &Default::default(),
        })
        .await;
    let mut out = match outcome {
        StepOutcome::Next { state, output } => json!({
            "status": "SUCCEEDED",
            "output": serde_json::to_string(&output).unwrap_or_default(),
            "nextState": names.get(state).copied().unwrap_or(""),
        }),
        StepOutcome::Succeeded(output) => json!({
            "status": "SUCCEEDED",
            "output": serde_json::to_string(&output).unwrap_or_default(),
        }),
        StepOutcome::Failed(f) => json!({"status": "FAILED", "error": f.error, "cause": f.cause}),
    };
    if input
        .get("inspectionLevel")
        .and_then(Value::as_str)
        .is_some_and(|l| l != "INFO")
    {
        out["inspectionData"] = json!({
            "input": serde_json::to_string(&state_input).unwrap_or_default(),
            "variables": serde_json::to_string(&vars.to_json()).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// `Next`, `Default` and Catch targets named by a state (and its Choice rules).
fn collect_targets(state: &Value, out: &mut Vec<String>) {
    if let Some(n) = state.get("Next").and_then(Value::as_str) {
        out.push(n.to_string());
    }
    if let Some(d) = state.get("Default").and_then(Value::as_str) {
        out.push(d.to_string());
    }
    for list in ["Choices", "Catch"] {
        if let Some(items) = state.get(list).and_then(Value::as_array) {
            for item in items {
                if let Some(n) = item.get("Next").and_then(Value::as_str) {
                    out.push(n.to_string());
                }
            }
        }
    }
}
