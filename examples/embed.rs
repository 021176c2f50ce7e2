//! The sluice engine embedded in a Rust program: compile a definition, plug in a Task handler
//! written in Rust, run an execution in memory and read its outcome. No server, no store.
//!
//! Run it with `cargo run --example embed`.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use sluice_engine::engine::task::Resource;
use sluice_engine::engine::{
    Dispatcher, Engine, Outcome, RunRequest, TaskFailure, TaskHandler, TaskRequest,
};
use sluice_engine::lang::{checker, model::StateMachine};

/// Serves the `pricing` activity in process, where AWS would need an activity worker.
struct Pricing;

impl TaskHandler for Pricing {
    fn handles(&self, resource: &Resource) -> bool {
        resource.activity_name() == Some("pricing")
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let qty = request.input["qty"].as_f64().unwrap_or(0.0);
            if qty <= 0.0 {
                // Becomes the Task's error, which Retry and Catch see by name.
                return Err(TaskFailure::new(
                    "Pricing.NoQuantity",
                    "qty must be positive",
                ));
            }
            Ok(json!({"total": qty * 2.5}))
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let definition = json!({
        "StartAt": "Price",
        "States": {
            "Price": {
                "Type": "Task",
                "Resource": "arn:aws:states:us-east-1:123456789012:activity:pricing",
                "ResultPath": "$.price",
                "Catch": [{"ErrorEquals": ["Pricing.NoQuantity"], "ResultPath": "$.error", "Next": "Rejected"}],
                "Next": "Accepted"
            },
            "Accepted": {"Type": "Pass", "Parameters": {"status": "accepted", "total.$": "$.price.total"}, "End": true},
            "Rejected": {"Type": "Pass", "Parameters": {"status": "rejected", "why.$": "$.error.Cause"}, "End": true}
        }
    });
    // Validation reports every problem with its JSON pointer; compile builds the plan.
    let problems = checker::validate(&definition);
    if !problems.is_empty() {
        return Err(format!("invalid definition: {problems:?}").into());
    }
    let machine = StateMachine::compile(&definition)?;

    let mut dispatcher = Dispatcher::new();
    dispatcher.register(Arc::new(Pricing));
    let engine = Engine::new(dispatcher);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for (input, expected) in [
        (
            json!({"qty": 4}),
            json!({"status": "accepted", "total": 10.0}),
        ),
        (
            json!({"qty": 0}),
            json!({"status": "rejected", "why": "qty must be positive"}),
        ),
    ] {
        let outcome =
            runtime.block_on(engine.run(&machine, &RunRequest::new("orders", input.clone())));
        println!("{input} -> {}", outcome.to_json());
        // CI runs this example: a wrong answer fails it.
        if outcome != Outcome::Succeeded(expected.clone()) {
            return Err(format!("expected {expected}, got {}", outcome.to_json()).into());
        }
    }
    println!("embed: ok");
    Ok(())
}
