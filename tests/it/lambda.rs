//! Lambda hand-off: Task states on Lambda resources through aws-sdk-lambda, against the
//! Lambda API test double in `tests/lambda/double.py`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The test double, killed when dropped.
pub(crate) struct Double {
    child: Child,
    pub(crate) endpoint: String,
}

impl Double {
    /// The Lambda API double.
    pub(crate) fn start() -> Double {
        Self::script("tests/lambda/double.py")
    }

    /// A double from a script under the repository that prints `listening on URL` when ready.
    pub(crate) fn script(path: &str) -> Double {
        Self::script_env(path, &[])
    }

    /// [`Double::script`] with environment variables for the double.
    pub(crate) fn script_env(path: &str, envs: &[(&str, &str)]) -> Double {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let mut child = Command::new("python3")
            .arg(script)
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the test double");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the double prints its address");
        let endpoint = line
            .trim()
            .strip_prefix("listening on ")
            .expect("the double's first line is its address")
            .to_string();
        Double { child, endpoint }
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(double: &Double, definition: Value, input: Value) -> Value {
    let dir = crate::support::temp_dir("lambda");
    let path = dir.join(format!("{}.asl.json", std::process::id()));
    std::fs::write(&path, definition.to_string()).expect("write definition");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "run",
            path.to_str().expect("utf-8 path"),
            "--json",
            "--input-json",
        ])
        .arg(input.to_string())
        .env("SLUICE_LAMBDA_ENDPOINT", &double.endpoint)
        .output()
        .expect("sluice runs");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn lambda_tasks_invoke_functions_and_report_their_errors() {
    let double = Double::start();
    // The optimized integration wraps the payload in AWS's result object.
    let invoke = json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "id_function", "Payload.$": "$"}, "End": true}}});
    let out = run(&double, invoke, json!({"n": 1}));
    assert_eq!(out["status"], "SUCCEEDED", "{out}");
    assert_eq!(out["output"]["Payload"], json!({"n": 1}));
    assert_eq!(out["output"]["StatusCode"], 200);
    assert_eq!(out["output"]["ExecutedVersion"], "$LATEST");
    // A plain function ARN returns the payload itself.
    let plain = json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:echo_function", "End": true}}});
    assert_eq!(
        run(&double, plain, json!({}))["output"],
        json!({"Return": "HelloWorld"})
    );
    // A function error is named by its errorType and can be caught.
    let raising = json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:raise_exception",
        "Catch": [{"ErrorEquals": ["Exception"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Pass", "End": true}}});
    let out = run(&double, raising, json!({}));
    assert_eq!(out["output"]["Error"], "Exception", "{out}");
    assert!(
        out["output"]["Cause"]
            .as_str()
            .is_some_and(|c| c.contains("Some exception was raised."))
    );
    // A missing function is a Lambda service error.
    let missing = json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "no_such_function"}, "End": true}}});
    let out = run(&double, missing, json!({}));
    assert_eq!(out["error"], "Lambda.ResourceNotFoundException", "{out}");
}

/// `lambda:invoke` passes Invoke's options on: `LogType: Tail` returns the log's end,
/// `Qualifier` picks the version, `InvocationType: Event` does not wait for a result, and an
/// option of the wrong type is a located runtime error.
#[test]
fn lambda_invoke_passes_its_options_on() {
    let double = Double::start();
    let call = |parameters: Value| {
        json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke", "Parameters": parameters, "End": true}}})
    };
    let out = run(
        &double,
        call(
            json!({"FunctionName": "id_function", "Payload": {"a": 1}, "LogType": "Tail", "Qualifier": "7"}),
        ),
        json!({}),
    );
    assert_eq!(out["status"], "SUCCEEDED", "{out}");
    let log = out["output"]["LogResult"].as_str().expect("LogResult");
    let headers = &out["output"]["SdkHttpMetadata"];
    assert_eq!(headers["AllHttpHeaders"]["X-Amz-Log-Result"], json!([log]));
    assert_eq!(headers["HttpHeaders"]["X-Amz-Log-Result"], json!(log));
    assert_eq!(out["output"]["ExecutedVersion"], "7");
    assert_eq!(out["output"]["Payload"], json!({"a": 1}));

    let out = run(
        &double,
        call(
            json!({"FunctionName": "id_function", "Payload": {"a": 1}, "InvocationType": "Event"}),
        ),
        json!({}),
    );
    assert_eq!(out["status"], "SUCCEEDED", "{out}");
    assert_eq!(out["output"]["StatusCode"], 202);
    assert_eq!(out["output"]["Payload"], "");
    assert!(out["output"].get("ExecutedVersion").is_none(), "{out}");
    assert!(out["output"].get("LogResult").is_none(), "{out}");

    let out = run(
        &double,
        call(json!({"FunctionName": "id_function", "LogType": 5})),
        json!({}),
    );
    assert_eq!(out["error"], "States.Runtime", "{out}");
    assert!(
        out["cause"].as_str().is_some_and(|c| c.contains("LogType")),
        "{out}"
    );
}

/// `lambda:invoke.waitForTaskToken` on `sluice serve`: the function is invoked with the
/// token in its payload and the Task waits for the function's SendTaskSuccess; a function
/// that fails fails the Task with its error, and nothing waits for a callback.
#[tokio::test]
async fn callback_tasks_invoke_their_function_and_wait_for_its_answer() {
    use crate::support::{Server, create, finished, history, start};
    use aws_sdk_sfn::types::ExecutionStatus;

    let double = Double::start();
    let server = Server::start_env(
        "sqlite::memory:",
        &[],
        &[("SLUICE_LAMBDA_ENDPOINT", double.endpoint.as_str())],
    );
    let client = server.client();
    let machine = |function: &str| {
        json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": function, "Payload": {
                "TaskToken.$": "$$.Task.Token", "Endpoint": server.endpoint,
                "Output": {"approved.$": "$.approved"}}},
            "End": true}}})
    };
    let run = |name: &'static str, definition: Value| {
        let client = client.clone();
        async move {
            let arn = create(&client, name, definition).await;
            let exec = start(&client, &arn, r#"{"approved": true}"#).await;
            finished(&client, &exec).await
        }
    };
    let done = run("callback", machine("callback_function")).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded, "{done:?}");
    let output: Value = serde_json::from_str(done.output().expect("output")).expect("JSON");
    assert_eq!(output, json!({"approved": true}), "the callback's output");
    let events = history(&client, done.execution_arn()).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e.r#type().as_str())
        .filter(|k| k.starts_with("Task") && !k.starts_with("TaskState"))
        .collect();
    assert_eq!(
        kinds,
        [
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded"
        ]
    );
    let submitted = events
        .iter()
        .find_map(|e| e.task_submitted_event_details())
        .expect("TaskSubmitted details");
    assert_eq!(submitted.resource_type(), "lambda");
    assert_eq!(submitted.resource(), "invoke.waitForTaskToken");
    let response: Value = serde_json::from_str(submitted.output().expect("output")).expect("JSON");
    assert_eq!(
        response["StatusCode"], 200,
        "the invocation's response: {response}"
    );
    assert_eq!(response["Payload"], json!({"sent": true}));

    let failed = run("callback-fails", machine("raise_exception")).await;
    assert_eq!(failed.status(), &ExecutionStatus::Failed);
    assert_eq!(failed.error(), Some("Exception"));
}
