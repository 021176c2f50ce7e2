//! Nested workflows: `arn:aws:states:::states:startExecution` (and `.sync`, `.sync:2`)
//! starts an execution of another state machine on this same orchestrator. The child is an
//! ordinary execution of the store. `.sync` children are named from the step's replay-stable
//! key, so a parent replayed after a crash finds its child again instead of starting a
//! second one, and waits for it; a `.sync` parent that is stopped stops its child.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sluice_engine::engine::task::{
    Pattern, Resource, TaskFailure, TaskHandler, TaskProgress, TaskRequest,
};

use super::Service;
use super::schedules::execution_arn;
use crate::store::{ExecutionRecord, ExecutionStatus, MachineType};

/// How often a `.sync` parent looks at its child.
const POLL: Duration = Duration::from_millis(200);

/// Serves `states:startExecution` resources against the service that owns it.
pub(crate) struct NestedExecutions {
    service: Weak<Service>,
}

impl NestedExecutions {
    pub(crate) fn new(service: Weak<Service>) -> Self {
        NestedExecutions { service }
    }
}

fn pattern(resource: &Resource) -> Option<Pattern> {
    match resource.service_action()? {
        (
            "states",
            "startExecution",
            p @ (Pattern::RequestResponse | Pattern::Sync | Pattern::Sync2),
        ) => Some(p),
        _ => None,
    }
}

/// Epoch milliseconds, as Step Functions writes dates in integration results.
fn millis(seconds: f64) -> Value {
    json!((seconds * 1000.0).round() as i64)
}

/// The AWS SDK for Java 1.x's error of a StartExecution refused with `code`.
fn api_failure(code: &str, message: String) -> TaskFailure {
    TaskFailure::new(
        format!("StepFunctions.{code}Exception"),
        format!(
            "{message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; Request ID: {}; Proxy: null)",
            uuid::Uuid::new_v4()
        ),
    )
}

/// DescribeExecution of `e` as `.sync` returns it (PascalCase); `parsed` gives Input and
/// Output as JSON (`.sync:2`) instead of text.
pub(crate) fn described(e: &ExecutionRecord, parsed: bool) -> Value {
    let text_or_json = |text: &str| {
        if parsed {
            serde_json::from_str(text).unwrap_or_else(|_| json!(text))
        } else {
            json!(text)
        }
    };
    let mut out = json!({
        "ExecutionArn": e.arn,
        "Input": text_or_json(&e.input),
        "InputDetails": {"Included": true},
        "Name": e.name,
        "StartDate": millis(e.start),
        "StateMachineArn": e.state_machine_arn,
        "Status": e.status.as_str(),
    });
    if let Some(stop) = e.stop {
        out["StopDate"] = millis(stop);
    }
    if let Some(output) = &e.output {
        out["Output"] = text_or_json(output);
        out["OutputDetails"] = json!({"Included": true});
    }
    if let Some(error) = &e.error {
        out["Error"] = json!(error);
    }
    if let Some(cause) = &e.cause {
        out["Cause"] = json!(cause);
    }
    out
}

impl NestedExecutions {
    async fn run(&self, request: &TaskRequest) -> Result<Value, TaskFailure> {
        let svc = self.service.upgrade().ok_or_else(|| {
            TaskFailure::new("States.Runtime", "the orchestrator is shutting down")
        })?;
        let pattern = pattern(&request.resource).unwrap_or(Pattern::RequestResponse);
        let params = &request.input;
        let machine_arn = params
            .get("StateMachineArn")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                TaskFailure::new(
                    "States.Runtime",
                    "states:startExecution needs a StateMachineArn parameter",
                )
            })?;
        // An object (or null) input is sent as its JSON text, as Step Functions does.
        let input = match params.get("Input") {
            None | Some(Value::Null) => "{}".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        if serde_json::from_str::<Value>(&input).is_err() {
            return Err(api_failure(
                "InvalidExecutionInput",
                "Invalid State Machine Execution Input: the Input is not JSON".into(),
            ));
        }
        let machine = svc
            .store
            .get_state_machine(machine_arn)
            .await
            .map_err(|e| TaskFailure::new("States.Runtime", e.to_string()))?
            .ok_or_else(|| {
                api_failure(
                    "StateMachineDoesNotExist",
                    format!("State Machine Does Not Exist: '{machine_arn}'"),
                )
            })?;
        let name = match params.get("Name").and_then(Value::as_str) {
            Some(n) => n.to_string(),
            // A `.sync` child is named from the step's replay-stable key: the parent replayed
            // after a restart finds it again.
            None => match &request.resume_key {
                Some(key) => {
                    let digest = Sha256::digest(key.as_bytes());
                    let mut bytes = [0u8; 16];
                    bytes.copy_from_slice(&digest[..16]);
                    uuid::Builder::from_random_bytes(bytes)
                        .into_uuid()
                        .to_string()
                }
                None => uuid::Uuid::new_v4().to_string(),
            },
        };
        let plan = svc
            .plans
            .get(&machine.definition)
            .map_err(|e| TaskFailure::new("States.Runtime", e.to_string()))?;
        let record = ExecutionRecord {
            arn: execution_arn(&machine, &name),
            state_machine_arn: machine.arn.clone(),
            name: name.clone(),
            status: ExecutionStatus::Running,
            input: input.clone(),
            output: None,
            error: None,
            cause: None,
            start: crate::time::now(),
            stop: None,
            definition: machine.definition.clone(),
            role_arn: machine.role_arn.clone(),
            kind: machine.kind,
            redrive_count: 0,
            map_run_arn: None,
        };
        if machine.kind == MachineType::Express {
            let arn = format!(
                "{}:{}",
                record.arn.replacen(":execution:", ":express:", 1),
                uuid::Uuid::new_v4()
            );
            let record = ExecutionRecord { arn, ..record };
            if pattern == Pattern::RequestResponse {
                let reply = started_reply(&record);
                svc.spawn_express(record);
                return Ok(reply);
            }
            report(request, started_reply(&record));
            let done = svc
                .run_express(record)
                .await
                .map_err(|e| TaskFailure::new("States.Runtime", e.to_string()))?
                .record;
            return ended(&done, pattern == Pattern::Sync2);
        }
        let (child, created) = svc
            .start_standard(record, plan.graph.start)
            .await
            .map_err(|e| TaskFailure::new("States.Runtime", e.to_string()))?;
        if !created && (child.input != input || pattern == Pattern::RequestResponse) {
            return Err(api_failure(
                "ExecutionAlreadyExists",
                format!("Execution Already Exists: '{}'", child.arn),
            ));
        }
        let reply = started_reply(&child);
        if pattern == Pattern::RequestResponse {
            return Ok(reply);
        }
        report(request, reply);
        // Stopping the parent (its driver dropped) stops the child; a shutdown does not.
        let guard = StopChild {
            service: self.service.clone(),
            child: Some(child.arn.clone()),
        };
        let done = loop {
            match svc.store.get_execution(&child.arn).await {
                Ok(Some(e)) if e.status != ExecutionStatus::Running => break e,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(child = %child.arn, error = %e, "reading the child execution failed; trying again")
                }
            }
            tokio::time::sleep(POLL).await;
        };
        drop(guard.defuse());
        ended(&done, pattern == Pattern::Sync2)
    }
}

fn report(request: &TaskRequest, output: Value) {
    if let Some(progress) = &request.progress {
        let _ = progress.send(TaskProgress::Submitted { output });
    }
}

/// The request-response result: the StartExecution response with the SDK metadata.
fn started_reply(e: &ExecutionRecord) -> Value {
    let request_id = uuid::Uuid::new_v4().to_string();
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    json!({
        "ExecutionArn": e.arn,
        "StartDate": millis(e.start),
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "x-amzn-RequestId": [request_id],
                "Content-Type": ["application/x-amz-json-1.0"],
                "Date": [date],
            },
            "HttpHeaders": {
                "Content-Type": "application/x-amz-json-1.0",
                "Date": date,
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    })
}

/// A `.sync` result: the child's description, or `States.TaskFailed` with it as the cause.
fn ended(child: &ExecutionRecord, parsed: bool) -> Result<Value, TaskFailure> {
    let description = described(child, parsed);
    if child.status == ExecutionStatus::Succeeded {
        Ok(description)
    } else {
        Err(TaskFailure::new(
            "States.TaskFailed",
            description.to_string(),
        ))
    }
}

/// Stops the child when dropped armed: the parent's wait was abandoned.
struct StopChild {
    service: Weak<Service>,
    child: Option<String>,
}

impl StopChild {
    fn defuse(mut self) -> Self {
        self.child = None;
        self
    }
}

impl Drop for StopChild {
    fn drop(&mut self) {
        let (Some(child), Some(svc)) = (self.child.take(), self.service.upgrade()) else {
            return;
        };
        if svc.is_shutting_down() {
            // The next server resumes the parent, which waits for the same child.
            return;
        }
        let owner = svc.clone();
        svc.cleanup.spawn(async move {
            if let Err(e) = owner
                .stop(
                    &child,
                    Some("States.Aborted".into()),
                    Some("The parent execution was stopped".into()),
                )
                .await
            {
                tracing::warn!(child = %child, error = %e, "stopping the child of a stopped parent failed");
            }
        });
    }
}

impl TaskHandler for NestedExecutions {
    fn handles(&self, resource: &Resource) -> bool {
        pattern(resource).is_some()
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move { self.run(&request).await })
    }
}

/// Registered first among the orchestrator's own handlers.
pub(crate) fn handler(service: Weak<Service>) -> Arc<dyn TaskHandler> {
    Arc::new(NestedExecutions::new(service))
}
