//! Engine behaviour that the conformance corpus cannot show: timing of retries and waits,
//! cancellation, concurrency limits, scoping. Time is paused, so waits cost nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::*;
use crate::lang::model::StateMachine;
use sluice_task::Resource;

/// A handler scripted by a closure over (state name, attempt, input).
struct Scripted<F>(F);

impl<F> TaskHandler for Scripted<F>
where
    F: Fn(&TaskRequest) -> Result<Value, TaskFailure> + Send + Sync,
{
    fn handles(&self, _: &Resource) -> bool {
        true
    }
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        let out = (self.0)(&request);
        Box::pin(async move { out })
    }
}

/// A handler that sleeps `millis` per call and records the peak number of calls in flight.
struct Slow {
    millis: u64,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl TaskHandler for Slow {
    fn handles(&self, _: &Resource) -> bool {
        true
    }
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(self.millis)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(request.input)
        })
    }
}

fn machine(def: Value) -> StateMachine {
    let problems = crate::lang::checker::validate(&def);
    assert!(problems.is_empty(), "test definition invalid: {problems:?}");
    StateMachine::compile(&def).expect("test definition compiles")
}

async fn run_with(engine: &Engine, def: Value, input: Value) -> Outcome {
    let m = machine(def);
    let mut request = RunRequest::new("test", input);
    request.seed = Some(1);
    engine.run(&m, &request).await
}

async fn run(def: Value, input: Value) -> Outcome {
    run_with(&Engine::default(), def, input).await
}

fn engine_with(handler: impl TaskHandler + 'static) -> Engine {
    let mut d = Dispatcher::new();
    d.register(Arc::new(handler));
    Engine::new(d)
}

fn failed(error: &str) -> impl Fn(&Outcome) -> bool + '_ {
    move |o| matches!(o, Outcome::Failed { error: Some(e), .. } if e == error)
}

#[tokio::test(start_paused = true)]
async fn retry_backs_off_then_succeeds() {
    let engine = engine_with(Scripted(|r: &TaskRequest| {
        if r.attempt < 2 {
            Err(TaskFailure::new("Flaky", "try again"))
        } else {
            Ok(json!({"attempt": r.attempt}))
        }
    }));
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 2}],
        "End": true}}});
    let start = tokio::time::Instant::now();
    let out = run_with(&engine, def, json!({})).await;
    assert_eq!(out, Outcome::Succeeded(json!({"attempt": 2})));
    // 2 s, then 2 × 3 = 6 s.
    assert_eq!(start.elapsed().as_secs(), 8);
}

#[tokio::test(start_paused = true)]
async fn max_delay_caps_the_backoff() {
    let engine = engine_with(Scripted(|r: &TaskRequest| {
        if r.attempt < 3 {
            Err(TaskFailure::new("Flaky", ""))
        } else {
            Ok(json!(1))
        }
    }));
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "BackoffRate": 10, "MaxAttempts": 5, "MaxDelaySeconds": 15}],
        "End": true}}});
    let start = tokio::time::Instant::now();
    assert_eq!(
        run_with(&engine, def, json!({})).await,
        Outcome::Succeeded(json!(1))
    );
    assert_eq!(start.elapsed().as_secs(), 10 + 15 + 15);
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_fall_through_to_catch() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let engine = engine_with(Scripted(move |_: &TaskRequest| {
        seen.fetch_add(1, Ordering::SeqCst);
        Err(TaskFailure::new("Broken", "always"))
    }));
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
              "Retry": [{"ErrorEquals": ["Broken"], "MaxAttempts": 2, "IntervalSeconds": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Handled"}],
              "End": true},
        "Handled": {"Type": "Pass", "End": true}}});
    let out = run_with(&engine, def, json!({"keep": 1})).await;
    assert_eq!(
        out,
        Outcome::Succeeded(json!({"keep": 1, "err": {"Error": "Broken", "Cause": "always"}}))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn states_all_does_not_catch_runtime_errors() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "Bad", "States": {
            "Bad": {"Type": "Pass", "InputPath": "$.missing", "End": true}}}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Succeed"}}});
    let out = run(def, json!({})).await;
    assert!(failed("States.Runtime")(&out), "{out:?}");
}

#[tokio::test]
async fn missing_handler_is_a_catchable_error() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets",
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Pass", "End": true}}});
    match run(def, json!({})).await {
        Outcome::Succeeded(v) => {
            assert_eq!(v["Error"], "Sluice.NoTaskHandler");
            assert!(
                v["Cause"]
                    .as_str()
                    .is_some_and(|c| c.contains("arn:aws:states:::aws-sdk:s3:listBuckets"))
            );
        }
        other => panic!("expected the Catch to handle it: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn task_timeout_raises_states_timeout() {
    let engine = engine_with(Slow {
        millis: 120_000,
        in_flight: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    });
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
        "TimeoutSeconds": 5, "End": true}}});
    let start = tokio::time::Instant::now();
    let out = run_with(&engine, def, json!({})).await;
    assert!(failed("States.Timeout")(&out), "{out:?}");
    assert_eq!(start.elapsed().as_secs(), 5);
}

#[tokio::test(start_paused = true)]
async fn execution_timeout_ends_timed_out() {
    let def = json!({"TimeoutSeconds": 3, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 60, "End": true}}});
    assert_eq!(run(def, json!({})).await, Outcome::TimedOut);
}

#[tokio::test(start_paused = true)]
async fn waits_really_wait() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "B"},
        "B": {"Type": "Wait", "Seconds": 2, "End": true}}});
    let start = tokio::time::Instant::now();
    assert_eq!(
        run(def, json!({"delay": 3})).await,
        Outcome::Succeeded(json!({"delay": 3}))
    );
    assert_eq!(start.elapsed().as_secs(), 5);
}

#[tokio::test(start_paused = true)]
async fn map_respects_max_concurrency() {
    let handler = Arc::new(Slow {
        millis: 100,
        in_flight: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    });
    let mut d = Dispatcher::new();
    d.register(handler.clone());
    let engine = Engine::new(d);
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 3,
        "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work", "End": true}}},
        "End": true}}});
    let items: Vec<Value> = (0..10).map(|i| json!(i)).collect();
    let start = tokio::time::Instant::now();
    let out = run_with(&engine, def, Value::Array(items.clone())).await;
    assert_eq!(out, Outcome::Succeeded(Value::Array(items)));
    assert_eq!(handler.peak.load(Ordering::SeqCst), 3);
    // ceil(10 / 3) rounds of 100 ms.
    assert_eq!(start.elapsed().as_millis(), 400);
}

/// A Distributed Map without MaxConcurrency runs up to AWS's 10,000 children at once (an
/// inline one stays at 40), and without a ResultWriter its results obey the payload limit.
#[tokio::test(start_paused = true)]
async fn distributed_map_concurrency_and_payload_limit() {
    let handler = Arc::new(Slow {
        millis: 100,
        in_flight: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    });
    let mut d = Dispatcher::new();
    d.register(handler.clone());
    let engine = Engine::new(d);
    let mut def = distributed(json!({}));
    def["States"]["M"]["ItemProcessor"]["States"]["P"] = json!({"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work", "End": true});
    let items: Vec<Value> = (0..500).map(|i| json!(i)).collect();
    let out = run_with(&engine, def.clone(), Value::Array(items.clone())).await;
    assert_eq!(out, Outcome::Succeeded(Value::Array(items)));
    assert_eq!(handler.peak.load(Ordering::SeqCst), 500);
    let big: Vec<Value> = (0..300).map(|_| json!("x".repeat(1000))).collect();
    let out = run_with(&engine, def, Value::Array(big)).await;
    assert!(
        matches!(&out, Outcome::Failed { error, .. } if error.as_deref() == Some("States.DataLimitExceeded")),
        "{out:?}"
    );
}

#[tokio::test]
async fn map_tolerated_failures() {
    let def = |tolerated: u64| {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": tolerated,
        "ItemProcessor": {"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": 2, "Next": "Boom"}], "Default": "Ok"},
            "Boom": {"Type": "Fail", "Error": "TooBig"},
            "Ok": {"Type": "Pass", "End": true}}},
        "End": true}}})
    };
    let input = json!([1, 2, 3, 4]);
    match run(def(2), input.clone()).await {
        Outcome::Succeeded(v) => {
            assert_eq!(v[0], 1);
            assert_eq!(v[2]["Error"], "TooBig");
        }
        other => panic!("two failures are tolerated: {other:?}"),
    }
    let out = run(def(1), input).await;
    assert!(
        failed("States.ExceedToleratedFailureThreshold")(&out),
        "{out:?}"
    );
}

/// A runtime error names the event that entered its state, counted as AWS numbers a history
/// (ExecutionStarted is 1; each state's entry and exit, a Task's scheduling, ... follow).
#[tokio::test]
async fn runtime_errors_say_which_event_entered_their_state() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Pass", "OutputPath": "$.missing", "End": true}}});
    match run(def, json!({})).await {
        Outcome::Failed { cause, .. } => assert!(
            cause.as_deref().is_some_and(|c| c.starts_with(
                "An error occurred while executing the state 'C' (entered at the event id #6). "
            )),
            "{cause:?}"
        ),
        other => panic!("{other:?}"),
    }
}

/// Wait and Map errors are worded as AWS words them (recorded causes of the corpus).
#[tokio::test]
async fn wait_and_map_errors_use_aws_words() {
    let cause_of = |out: Outcome| match out {
        Outcome::Failed { cause, .. } => cause.unwrap_or_default(),
        other => panic!("{other:?}"),
    };
    let wait = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}});
    for (input, words) in [
        (
            json!({"s": -1}),
            "The SecondsPath parameter references a negative value: $.s == -1",
        ),
        (
            json!({"s": 1.5}),
            "The SecondsPath parameter cannot be parsed as a long value: $.s == 1.5",
        ),
        (
            json!({}),
            "The SecondsPath parameter does not reference an input value: $.s",
        ),
    ] {
        let cause = cause_of(run(wait.clone(), input).await);
        assert!(cause.ends_with(words), "{cause}");
    }
    let until = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.t", "End": true}}});
    let cause = cause_of(run(until, json!({"t": "2016-13-05T21:29:29Z"})).await);
    assert!(
        cause.ends_with("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.t == 2016-13-05T21:29:29Z"),
        "{cause}"
    );
    let items = |field: Value| {
        let mut map = json!({"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true});
        if !field.is_null() {
            map["Items"] = field;
        }
        json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": map}})
    };
    let cause = cause_of(run(items(json!("{% $states.input.n %}")), json!({"n": 1})).await);
    assert!(
        cause.ends_with("The JSONata expression '$states.input.n' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'number' for value: 1"),
        "{cause}"
    );
    let cause = cause_of(run(items(Value::Null), json!({"n": 1})).await);
    assert!(
        cause.ends_with(r#"Map state input must be an array but was: {"n":1}"#),
        "{cause}"
    );
}

/// A Fail state's CausePath that finds nothing names the field, as AWS does.
#[tokio::test]
async fn a_cause_path_that_finds_nothing_names_its_field() {
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.nothing"}}});
    match run(def, json!({"e": "E"})).await {
        Outcome::Failed { cause, .. } => assert!(
            cause.as_deref().is_some_and(|c| c.contains(
                "The JSONPath '$.nothing' specified for the field 'CausePath' could not be found in the input '{\"e\":\"E\"}'"
            )),
            "{cause:?}"
        ),
        other => panic!("{other:?}"),
    }
}

/// A Map's limits read through paths: a string holding a number is that number, other
/// values and a percentage outside 0–100 fail with AWS's words.
#[tokio::test]
async fn map_limits_read_through_paths() {
    let def = |field: &str| {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", field: "$.v",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}})
    };
    let cause = |out: &Outcome| match out {
        Outcome::Failed { error, cause } if error.as_deref() == Some("States.Runtime") => {
            cause.clone().unwrap_or_default()
        }
        other => panic!("States.Runtime expected: {other:?}"),
    };
    for field in [
        "MaxConcurrencyPath",
        "ToleratedFailureCountPath",
        "ToleratedFailurePercentagePath",
    ] {
        let out = run(def(field), json!({"v": "1", "items": [1, 2, 3]})).await;
        assert_eq!(out, Outcome::Succeeded(json!([1, 2, 3])), "{field}");
        let out = run(def(field), json!({"v": "NoNumber", "items": [1]})).await;
        let kind = if field.contains("Percentage") {
            "float"
        } else {
            "integer"
        };
        assert!(
            cause(&out).ends_with(&format!(
                "The {field} field refers to value \"NoNumber\" which is not a valid {kind}: $.v"
            )),
            "{out:?}"
        );
        let out = run(def(field), json!({"v": {}, "items": [1]})).await;
        assert!(cause(&out).contains("refers to value \"{}\""), "{out:?}");
    }
    for bad in [json!(100.1), json!(-1), json!("101")] {
        let out = run(
            def("ToleratedFailurePercentagePath"),
            json!({"v": bad, "items": [1]}),
        )
        .await;
        assert!(
            cause(&out).ends_with("ToleratedFailurePercentage must be between 0 and 100."),
            "{out:?}"
        );
    }
    let out = run(
        def("ToleratedFailurePercentagePath"),
        json!({"v": 100, "items": [1]}),
    )
    .await;
    assert_eq!(out, Outcome::Succeeded(json!([1])));
    // An integer field takes no fraction, even in a string.
    let out = run(def("MaxConcurrencyPath"), json!({"v": "1.5", "items": [1]})).await;
    assert!(cause(&out).contains("not a valid integer"), "{out:?}");
}

#[tokio::test]
async fn parallel_branch_failure_fails_the_state_with_the_branch_error() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1000, "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Fail", "Error": "BranchBroke", "Cause": "b"}}}]}}});
    // The sibling's long Wait is cancelled: this test would take 1000 s otherwise.
    let out = tokio::time::timeout(Duration::from_secs(5), run(def, json!({})))
        .await
        .expect("the failing branch cancels its sibling");
    assert_eq!(
        out,
        Outcome::Failed {
            error: Some("BranchBroke".into()),
            cause: Some("b".into())
        }
    );
}

#[tokio::test]
async fn variables_are_scoped_to_branches_and_iterations() {
    let def = json!({"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"x": 1}, "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "In", "States": {
            "In": {"Type": "Pass", "Assign": {"x": 99}, "Parameters": {"outer.$": "$x"}, "Next": "Read"},
            "Read": {"Type": "Pass", "Parameters": {"inner.$": "$x", "item.$": "$.outer"}, "End": true}}},
            "ResultPath": "$.r", "Next": "After"},
        "After": {"Type": "Pass", "Parameters": {"x.$": "$x", "r.$": "$.r"}, "End": true}}});
    let out = run(def, json!({"items": [1, 2]})).await;
    assert_eq!(
        out,
        Outcome::Succeeded(
            json!({"x": 1, "r": [{"inner": 99, "item": 1}, {"inner": 99, "item": 1}]})
        )
    );
}

#[tokio::test]
async fn jsonata_arguments_output_and_assign() {
    let engine = engine_with(Scripted(|r: &TaskRequest| {
        Ok(json!({"echo": r.input.clone()}))
    }));
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
              "Arguments": {"sum": "{% $sum($states.input.n) %}"},
              "Assign": {"total": "{% $states.result.echo.sum %}"},
              "Output": {"got": "{% $states.result.echo %}"}, "Next": "U"},
        "U": {"Type": "Pass", "Output": {"total": "{% $total %}", "prev": "{% $states.input.got.sum %}"}, "End": true}}});
    let out = run_with(&engine, def, json!({"n": [1, 2, 3]})).await;
    assert_eq!(out, Outcome::Succeeded(json!({"total": 6, "prev": 6})));
}

#[tokio::test]
async fn jsonata_errors_are_query_evaluation_errors() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": "{% $nosuchfn(1) %}", "End": true}}});
    let out = run(def, json!({})).await;
    assert!(failed("States.QueryEvaluationError")(&out), "{out:?}");
}

#[tokio::test]
async fn oversized_task_results_exceed_the_data_limit() {
    let engine = engine_with(Scripted(|_: &TaskRequest| {
        Ok(json!("a".repeat(300 * 1024)))
    }));
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Pass", "End": true}}});
    // AWS's recordings show States.ALL catching an oversized task result.
    match run_with(&engine, def, json!({})).await {
        Outcome::Succeeded(v) => assert_eq!(v["Error"], "States.DataLimitExceeded"),
        other => panic!("the Catch handles it: {other:?}"),
    }
}

#[tokio::test]
async fn no_choice_matched_is_a_runtime_error() {
    let def = json!({"StartAt": "C", "States": {"C": {"Type": "Choice",
        "Choices": [{"Variable": "$.a", "StringEquals": "x", "Next": "D"}]},
        "D": {"Type": "Succeed"}}});
    let out = run(def, json!({"a": "y"})).await;
    assert!(failed("States.Runtime")(&out), "{out:?}");
}

#[tokio::test]
async fn task_token_reaches_the_handler_and_the_context() {
    let engine = engine_with(Scripted(|r: &TaskRequest| {
        Ok(json!({"token": r.task_token.clone(), "param": r.input["t"].clone()}))
    }));
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"t.$": "$$.Task.Token"}, "End": true}}});
    match run_with(&engine, def, json!({})).await {
        Outcome::Succeeded(v) => {
            assert!(v["token"].is_string());
            assert_eq!(v["token"], v["param"]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn endless_loops_end() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "A"},
        "Done": {"Type": "Succeed"}}});
    let mut engine = Engine::default();
    engine.limits.max_transitions = 5_000;
    let out = run_with(&engine, def, json!({})).await;
    assert!(failed("States.Runtime")(&out), "{out:?}");
}

#[tokio::test]
async fn execution_timeout_stops_a_busy_loop() {
    // No state here ever waits: only the periodic yield lets the timeout fire.
    let def = json!({"TimeoutSeconds": 1, "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "A"},
        "Done": {"Type": "Succeed"}}});
    let mut engine = Engine::default();
    engine.limits.max_transitions = u64::MAX;
    assert_eq!(run_with(&engine, def, json!({})).await, Outcome::TimedOut);
}

/// Collects event types.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

impl events::EventSink for Recorder {
    fn emit(&self, event: events::Event) {
        self.0
            .lock()
            .expect("no panics while held")
            .push(event.kind);
    }
}

/// A Distributed Map is a Map Run in the parent's history: MapRunStarted (with its ARN) and
/// MapRunSucceeded or MapRunFailed, none of its children's events.
#[tokio::test]
async fn distributed_map_history_is_a_map_run() {
    type Report = (events::MapRunStatus, Option<u64>, u64, u64);
    #[derive(Default)]
    struct Details(
        std::sync::Mutex<Vec<(String, Option<Value>)>>,
        std::sync::Mutex<Vec<Report>>,
    );
    impl events::EventSink for Details {
        fn emit(&self, event: events::Event) {
            let details = event.details.map(|(_, v)| v);
            self.0
                .lock()
                .expect("held briefly")
                .push((event.kind, details));
        }
        fn map_run(&self, p: &events::MapRunProgress<'_>) -> Option<events::MapRunUpdate> {
            let report = (p.status, p.total, p.succeeded, p.failed);
            self.1.lock().expect("held briefly").push(report);
            None
        }
    }
    let engine = Engine::default();
    for (input, succeeded) in [(json!([1, 2, 3]), true), (json!([1, "x"]), false)] {
        let mut def = distributed(json!({}));
        def["States"]["M"]["ItemProcessor"]["States"]["P"] = json!({"Type": "Choice",
            "Choices": [{"Variable": "$", "IsNumeric": true, "Next": "Ok"}], "Default": "No"});
        def["States"]["M"]["ItemProcessor"]["States"]["Ok"] = json!({"Type": "Pass", "End": true});
        def["States"]["M"]["ItemProcessor"]["States"]["No"] =
            json!({"Type": "Fail", "Error": "NotANumber"});
        let m = machine(def);
        let request = RunRequest::new("t", input);
        let info = request.execution_info("e".into());
        let sink = Details::default();
        let out = engine
            .run_observed(&m, &info, &Rng::new(1), Some(&sink))
            .await;
        assert_eq!(matches!(out, Outcome::Succeeded(_)), succeeded, "{out:?}");
        let reports = sink.1.into_inner().expect("not poisoned");
        // Progress: a first report, one per finished child, and the end.
        let last = reports.last().copied().expect("reports");
        if succeeded {
            assert_eq!(reports.len(), 5, "{reports:?}");
            assert_eq!(last, (events::MapRunStatus::Succeeded, Some(3), 3, 0));
        } else {
            assert_eq!(
                (last.0, last.3),
                (events::MapRunStatus::Failed, 1),
                "{reports:?}"
            );
        }
        let events = sink.0.into_inner().expect("not poisoned");
        let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
        let expected: &[&str] = if succeeded {
            &[
                "MapStateEntered",
                "MapRunStarted",
                "MapRunSucceeded",
                "MapStateExited",
            ]
        } else {
            &["MapStateEntered", "MapRunStarted", "MapRunFailed"]
        };
        assert_eq!(kinds, expected, "{events:?}");
        let arn = events[1].1.as_ref().and_then(|d| d["mapRunArn"].as_str());
        assert!(arn.is_some_and(|a| a.contains(":mapRun:")), "{events:?}");
        if !succeeded {
            assert_eq!(
                events[2].1.as_ref().map(|d| &d["error"]),
                Some(&json!("NotANumber"))
            );
        }
    }
}

/// With an ItemBatcher a Map Run's children are batches: the report counts both.
#[tokio::test]
async fn map_run_reports_count_items_and_children() {
    #[derive(Default)]
    struct Last(std::sync::Mutex<Option<(Option<u64>, u64, events::ItemCounts)>>);
    impl events::EventSink for Last {
        fn emit(&self, _: events::Event) {}
        fn map_run(&self, p: &events::MapRunProgress<'_>) -> Option<events::MapRunUpdate> {
            *self.0.lock().expect("held briefly") = Some((p.total, p.succeeded, p.items));
            None
        }
    }
    let def = distributed(json!({"ItemBatcher": {"MaxItemsPerBatch": 3}}));
    let m = machine(def);
    let request = RunRequest::new("t", json!((0..10).collect::<Vec<_>>()));
    let info = request.execution_info("e".into());
    let sink = Last::default();
    let out = Engine::default()
        .run_observed(&m, &info, &Rng::new(1), Some(&sink))
        .await;
    assert!(matches!(out, Outcome::Succeeded(_)), "{out:?}");
    let last = sink
        .0
        .into_inner()
        .expect("not poisoned")
        .expect("a report");
    let items = events::ItemCounts {
        total: Some(10),
        succeeded: 10,
        failed: 0,
        results_written: 0,
    };
    assert_eq!(last, (Some(4), 4, items));
}

#[tokio::test]
async fn history_events_follow_aws_vocabulary() {
    let engine = engine_with(Scripted(|r: &TaskRequest| Ok(r.input.clone())));
    let m = machine(json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work", "Next": "M"},
        "M": {"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "Next": "Done"},
        "Done": {"Type": "Succeed"}}}));
    let request = RunRequest::new("t", json!([1, 2]));
    let info = request.execution_info("e".into());
    let sink = Recorder::default();
    let out = engine
        .run_observed(&m, &info, &Rng::new(1), Some(&sink))
        .await;
    assert_eq!(out, Outcome::Succeeded(json!([1, 2])));
    let kinds = sink.0.into_inner().expect("not poisoned");
    assert_eq!(
        kinds,
        [
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "MapStateEntered",
            "MapStateStarted",
            "MapIterationStarted",
            "PassStateEntered",
            "PassStateExited",
            "MapIterationSucceeded",
            "MapIterationStarted",
            "PassStateEntered",
            "PassStateExited",
            "MapIterationSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
        ]
    );
}

/// A handler that reports progress before answering, as every kind of handler might: a
/// worker's start (a polled activity does) and a submission (a `.sync` job does).
struct ReportsProgress;

impl TaskHandler for ReportsProgress {
    fn handles(&self, _resource: &Resource) -> bool {
        true
    }
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        if let Some(progress) = &request.progress {
            let _ = progress.send(crate::engine::TaskProgress::Started {
                worker: "w1".to_string(),
            });
            let _ = progress.send(crate::engine::TaskProgress::Submitted {
                output: json!({"JobId": "j-1"}),
            });
        }
        Box::pin(async move { Ok(request.input) })
    }
}

#[tokio::test]
async fn task_progress_is_recorded_in_each_resources_vocabulary() {
    let engine = engine_with(ReportsProgress);
    let m = machine(json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:work", "Next": "L"},
        "L": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "Next": "S"},
        "S": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets", "End": true}}}));
    let request = RunRequest::new("t", json!({"x": 1}));
    let info = request.execution_info("e".into());
    let sink = Recorder::default();
    let out = engine
        .run_observed(&m, &info, &Rng::new(1), Some(&sink))
        .await;
    assert_eq!(out, Outcome::Succeeded(json!({"x": 1})));
    let kinds = sink.0.into_inner().expect("not poisoned");
    assert_eq!(
        kinds,
        [
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
        ],
        "a worker's start only for activities, a submission only for service integrations"
    );
}

#[test]
fn task_events_name_the_integration_as_aws_does() {
    use events::TaskEvents;
    let details = |e: events::Event| e.details.expect("details").1;
    let sdk = TaskEvents::of(&Resource::parse(
        "arn:aws:states:::aws-sdk:s3:listObjectsV2",
    ));
    assert_eq!(
        sdk,
        TaskEvents::Service {
            resource_type: "aws-sdk:s3".into(),
            resource: "listObjectsV2".into()
        }
    );
    let batch = TaskEvents::of(&Resource::parse(
        "arn:aws-us-gov:states:::batch:submitJob.sync",
    ));
    let scheduled = batch.scheduled(
        "arn:aws-us-gov:states:::batch:submitJob.sync",
        &json!({"JobName": "j"}),
        "us-gov-west-1",
        Some(60),
        None,
    );
    assert_eq!(scheduled.kind, "TaskScheduled");
    assert_eq!(
        details(scheduled),
        json!({"resourceType": "batch", "resource": "submitJob.sync", "region": "us-gov-west-1",
               "parameters": "{\"JobName\":\"j\"}", "timeoutInSeconds": 60})
    );
    let lambda = TaskEvents::of(&Resource::parse(
        "arn:aws:lambda:us-east-1:123456789012:function:f:live",
    ));
    assert_eq!(lambda, TaskEvents::LambdaFunction);
    let failed = lambda.outcome(&Err(TaskFailure::new("Boom", "it broke")));
    assert_eq!(failed.kind, "LambdaFunctionFailed");
    assert_eq!(
        failed.details.expect("details"),
        (
            "lambdaFunctionFailedEventDetails",
            json!({"error": "Boom", "cause": "it broke"})
        )
    );
    let timed_out = sdk.outcome(&Err(TaskFailure::new("States.Timeout", "late")));
    assert_eq!(timed_out.kind, "TaskTimedOut");
    assert_eq!(
        details(timed_out)["resourceType"],
        json!("aws-sdk:s3"),
        "service outcomes name their integration"
    );
    assert_eq!(
        TaskEvents::of(&Resource::parse(
            "arn:aws:states:us-east-1:123456789012:activity:a"
        )),
        TaskEvents::Activity
    );
}

/// An in-memory stand-in for the S3 resources a Distributed Map reads and writes: `keys`
/// objects listed two per page, one CSV object, and every write kept.
struct FakeS3 {
    keys: Vec<String>,
    written: std::sync::Mutex<Vec<(String, String)>>,
    /// listObjectsV2 calls so far.
    pages: AtomicUsize,
}

impl TaskHandler for FakeS3 {
    fn handles(&self, resource: &Resource) -> bool {
        resource.text.contains(":s3:")
    }
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        let input = request.input;
        let out = if request.resource.text.ends_with("listObjectsV2") {
            self.pages.fetch_add(1, Ordering::SeqCst);
            let after = input["ContinuationToken"].as_str().unwrap_or("");
            let page: Vec<&String> = self
                .keys
                .iter()
                .filter(|k| k.as_str() > after)
                .take(2)
                .collect();
            let truncated = page
                .last()
                .is_some_and(|l| *l != self.keys.last().unwrap_or(l));
            let mut out = json!({
                "Contents": page.iter().map(|k| json!({"Key": k, "Size": 1})).collect::<Vec<_>>(),
                "IsTruncated": truncated,
            });
            if truncated {
                out["NextContinuationToken"] = json!(page.last());
            }
            Ok(out)
        } else if request.resource.text.ends_with("getObject") {
            match input["Key"].as_str() {
                Some("rows.csv") => Ok(json!({"Body": "id,n\na,1\nb,2\nc,3\n"})),
                _ => Err(TaskFailure::new(
                    "S3.NoSuchKey",
                    "The specified key does not exist.",
                )),
            }
        } else {
            let key = input["Key"].as_str().unwrap_or("").to_string();
            let body = input["Body"].as_str().unwrap_or("").to_string();
            self.written.lock().expect("lock").push((key, body));
            Ok(json!({"ETag": "\"x\""}))
        };
        Box::pin(async move { out })
    }
}

fn fake_s3(keys: usize) -> Arc<FakeS3> {
    Arc::new(FakeS3 {
        keys: (0..keys).map(|i| format!("in/{i:03}")).collect(),
        written: std::sync::Mutex::new(Vec::new()),
        pages: AtomicUsize::new(0),
    })
}

/// Serves one object's text, honouring `Range` as S3 does (and cutting no character).
struct RangedObject {
    text: String,
    calls: AtomicUsize,
}

impl TaskHandler for RangedObject {
    fn handles(&self, resource: &Resource) -> bool {
        resource.text.ends_with(":s3:getObject")
    }
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let size = self.text.len();
        let range = request.input["Range"]
            .as_str()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.split_once('-'))
            .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
        let out = match range {
            Some((first, last)) => {
                let mut end = (last + 1).min(size);
                while !self.text.is_char_boundary(end) {
                    end -= 1;
                }
                json!({"Body": &self.text[first..end],
                    "ContentRange": format!("bytes {first}-{}/{size}", end - 1)})
            }
            None => json!({"Body": self.text}),
        };
        Box::pin(async move { Ok(out) })
    }
}

/// JSONL and CSV objects are read in byte ranges: with 7-byte chunks the items are the
/// same as reading the object whole, quoted newlines and multi-byte characters included.
#[tokio::test]
async fn distributed_map_reads_objects_in_chunks() {
    let cases = [
        ("JSONL", "{\"n\":\"é1\"}\n\n{\"n\":\"2\"}\n{\"n\":3}\n"),
        ("CSV", "id,note\n1,\"two\nlines\"\n2,plain é\n3,\"a,b\"\n"),
    ];
    for (input_type, text) in cases {
        let def = distributed(json!({
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "Parameters": {"Bucket": "b", "Key": "k"},
                "ReaderConfig": {"InputType": input_type}
            }
        }));
        let mut outputs = Vec::new();
        for chunk in [7, 1 << 20] {
            let object = Arc::new(RangedObject {
                text: text.to_string(),
                calls: AtomicUsize::new(0),
            });
            let mut d = Dispatcher::new();
            d.register(object.clone());
            let mut engine = Engine::new(d);
            engine.limits.read_chunk_bytes = chunk;
            match run_with(&engine, def.clone(), json!({})).await {
                Outcome::Succeeded(v) => outputs.push(v),
                other => panic!("{input_type} at {chunk}: {other:?}"),
            }
            let calls = object.calls.load(Ordering::SeqCst);
            assert!(chunk > 7 || calls > 4, "{input_type}: {calls} calls");
        }
        assert_eq!(outputs[0], outputs[1], "{input_type}");
        assert_eq!(outputs[0].as_array().map(Vec::len), Some(3), "{input_type}");
    }
}

/// A PARQUET reader asks its handler for the rows as JSON lines (the S3 integration decodes
/// Parquet), one row group at a time until the last, never in byte ranges.
#[tokio::test]
async fn distributed_map_reads_parquet_a_row_group_at_a_time() {
    let handler = Scripted(|r: &TaskRequest| {
        assert_eq!(
            r.input[sluice_task::ITEM_READER_DECODE],
            "PARQUET",
            "{}",
            r.input
        );
        assert!(r.input.get("Range").is_none(), "{}", r.input);
        let group = r.input[sluice_task::ITEM_READER_ROW_GROUP]
            .as_u64()
            .expect("a row group");
        assert!(group < 3, "asked past the last row group: {}", r.input);
        Ok(json!({
            "Body": format!("{{\"id\":{}}}\n{{\"id\":{}}}\n", 2 * group, 2 * group + 1),
            (sluice_task::ITEM_READER_ROW_GROUPS): 3,
        }))
    });
    let engine = engine_with(handler);
    let def = distributed(json!({
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "Parameters": {"Bucket": "b", "Key": "rows.parquet"},
            "ReaderConfig": {"InputType": "PARQUET"}
        }
    }));
    let ids: Vec<Value> = (0..6).map(|id| json!({"id": id})).collect();
    assert_eq!(
        run_with(&engine, def, json!({})).await,
        Outcome::Succeeded(Value::Array(ids))
    );
}

/// A MANIFEST reader reads an S3 Inventory manifest, then each of its gzip CSV data files
/// (decoded by the handler) with the manifest's fileSchema as the header.
#[tokio::test]
async fn distributed_map_reads_an_inventory_manifest() {
    let handler = Scripted(|r: &TaskRequest| match r.input["Key"].as_str() {
        Some("inv/manifest.json") => Ok(json!({"Body": json!({
            "sourceBucket": "photos", "destinationBucket": "arn:aws:s3:::inventory",
            "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size",
            "files": [{"key": "inv/data/1.csv.gz"}, {"key": "inv/data/2.csv.gz"}]}).to_string()})),
        Some(key) if key.starts_with("inv/data/") => {
            assert_eq!(r.input["Bucket"], "inventory");
            assert_eq!(r.input[sluice_task::ITEM_READER_DECODE], "GZIP");
            let n = &key[9..10];
            Ok(
                json!({"Body": format!("\"photos\",\"{n}a.jpg\",\"1\"\n\"photos\",\"{n}b.jpg\",\"2\"\n")}),
            )
        }
        other => Err(TaskFailure::new("S3.NoSuchKey", format!("{other:?}"))),
    });
    let engine = engine_with(handler);
    let def = distributed(json!({
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "Parameters": {"Bucket": "inventory", "Key": "inv/manifest.json"},
            "ReaderConfig": {"InputType": "MANIFEST"}
        },
        "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"}
    }));
    assert_eq!(
        run_with(&engine, def, json!({})).await,
        Outcome::Succeeded(
            json!([{"key": "1a.jpg"}, {"key": "1b.jpg"}, {"key": "2a.jpg"}, {"key": "2b.jpg"}])
        )
    );
}

/// A child task that notes how many listing pages the reader had fetched when it ran.
struct PageProbe {
    s3: Arc<FakeS3>,
    seen: std::sync::Mutex<Vec<usize>>,
}

impl TaskHandler for PageProbe {
    fn handles(&self, resource: &Resource) -> bool {
        resource.text.ends_with(":function:probe")
    }
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        let pages = self.s3.pages.load(Ordering::SeqCst);
        self.seen.lock().expect("lock").push(pages);
        Box::pin(async move { Ok(request.input) })
    }
}

/// The reader is pulled as iterations need items: the first child runs after one page, not
/// after the whole listing, and result files are stored as they fill.
#[tokio::test]
async fn distributed_map_streams_pages_and_result_files() {
    let s3 = fake_s3(9);
    let probe = Arc::new(PageProbe {
        s3: s3.clone(),
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let mut d = Dispatcher::new();
    d.register(s3.clone());
    d.register(probe.clone());
    let mut engine = Engine::new(d);
    engine.limits.result_file_bytes = 40;
    let mut def = distributed(json!({
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": "b", "Prefix": "in/"}
        },
        "MaxConcurrency": 1,
        "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "out", "Prefix": "r"},
            "WriterConfig": {"OutputType": "JSONL", "Transformation": "COMPACT"}
        }
    }));
    def["States"]["M"]["ItemProcessor"]["States"]["P"] = json!({"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:probe", "End": true});
    let out = match run_with(&engine, def, json!({})).await {
        Outcome::Succeeded(v) => v,
        other => panic!("unexpected {other:?}"),
    };
    let seen = probe.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 9);
    assert_eq!(seen[0], 1, "the first child ran after one page: {seen:?}");
    assert_eq!(s3.pages.load(Ordering::SeqCst), 5);
    let written = s3.written.lock().expect("lock").clone();
    let (manifest_key, manifest) = written.last().expect("a manifest");
    assert_eq!(
        Some(manifest_key.as_str()),
        out["ResultWriterDetails"]["Key"].as_str()
    );
    let manifest: Value = serde_json::from_str(manifest).expect("manifest JSON");
    let files = manifest["ResultFiles"]["SUCCEEDED"]
        .as_array()
        .expect("files");
    assert!(files.len() >= 3, "split at 40 bytes: {files:?}");
    // Every item is in exactly one file, in order.
    let mut keys = Vec::new();
    for (key, body) in &written[..written.len() - 1] {
        assert!(
            files.iter().any(|f| f["Key"] == json!(key)),
            "{key} not in manifest"
        );
        for line in body.lines() {
            let v: Value = serde_json::from_str(line).expect("a JSONL line");
            keys.push(v["key"].as_str().expect("key").to_string());
        }
    }
    let expected: Vec<String> = (0..9).map(|i| format!("in/{i:03}")).collect();
    assert_eq!(keys, expected);
}

fn distributed(extra: Value) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": true}}
        },
        "End": true
    });
    for (k, v) in extra.as_object().expect("object") {
        map[k] = v.clone();
    }
    json!({"StartAt": "M", "States": {"M": map}})
}

#[tokio::test]
async fn distributed_map_lists_every_page_of_a_prefix() {
    let s3 = fake_s3(5);
    let mut d = Dispatcher::new();
    d.register(s3.clone());
    let engine = Engine::new(d);
    let def = distributed(json!({
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": "b", "Prefix": "in/"}
        },
        "ItemSelector": {"key.$": "$$.Map.Item.Value.Key", "i.$": "$$.Map.Item.Index"}
    }));
    match run_with(&engine, def, json!({})).await {
        Outcome::Succeeded(v) => {
            let keys: Vec<&str> = v
                .as_array()
                .expect("array")
                .iter()
                .map(|o| o["key"].as_str().expect("key"))
                .collect();
            assert_eq!(keys, ["in/000", "in/001", "in/002", "in/003", "in/004"]);
            assert_eq!(v[4]["i"], 4);
        }
        other => panic!("unexpected {other:?}"),
    }
    // MaxItems stops the reader early.
    let def = distributed(json!({
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": "b"},
            "ReaderConfig": {"MaxItems": 3}
        }
    }));
    match run_with(&engine, def, json!({})).await {
        Outcome::Succeeded(v) => assert_eq!(v.as_array().map(Vec::len), Some(3)),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn distributed_map_reads_csv_batches_and_writes_results() {
    let s3 = fake_s3(0);
    let mut d = Dispatcher::new();
    d.register(s3.clone());
    let engine = Engine::new(d);
    let def = distributed(json!({
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "Parameters": {"Bucket": "b", "Key": "rows.csv"},
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}
        },
        "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"run.$": "$.run"}},
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "out", "Prefix": "results/"}
        }
    }));
    let out = match run_with(&engine, def, json!({"run": 7})).await {
        Outcome::Succeeded(v) => v,
        other => panic!("unexpected {other:?}"),
    };
    let manifest_key = out["ResultWriterDetails"]["Key"].as_str().expect("key");
    assert!(manifest_key.starts_with("results/") && manifest_key.ends_with("/manifest.json"));
    assert_eq!(out["ResultWriterDetails"]["Bucket"], "out");
    assert!(
        out["MapRunArn"]
            .as_str()
            .is_some_and(|a| a.contains(":mapRun:test/M:"))
    );
    let written = s3.written.lock().expect("lock").clone();
    assert_eq!(
        written.len(),
        2,
        "SUCCEEDED_0.json and the manifest: {written:?}"
    );
    let results: Value = serde_json::from_str(&written[0].1).expect("results JSON");
    // Two batches; without a WriterConfig each record is the full record, Output a string.
    assert_eq!(results.as_array().map(Vec::len), Some(2));
    let output: Value =
        serde_json::from_str(results[0]["Output"].as_str().expect("output")).expect("json");
    assert_eq!(
        output,
        json!({"BatchInput": {"run": 7}, "Items": [{"id": "a", "n": "1"}, {"id": "b", "n": "2"}]})
    );
    let manifest: Value = serde_json::from_str(&written[1].1).expect("manifest");
    assert_eq!(
        manifest["ResultFiles"]["SUCCEEDED"][0]["Key"],
        json!(written[0].0)
    );

    // A reader that fails surfaces as States.ItemReaderFailed, which a Catch can handle.
    let def = distributed(json!({
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "Parameters": {"Bucket": "b", "Key": "missing.csv"},
            "ReaderConfig": {"InputType": "CSV"}
        }
    }));
    let outcome = run_with(&engine, def, json!({})).await;
    assert!(failed("States.ItemReaderFailed")(&outcome), "{outcome:?}");
}

#[tokio::test]
async fn map_results_over_the_payload_limit_exceed_the_data_limit() {
    let mut engine = Engine::new(Dispatcher::new());
    engine.limits.max_payload_bytes = 500;
    let items: Vec<Value> = (0..100).map(|i| json!({"n": i})).collect();
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let outcome = run_with(&engine, def.clone(), json!(items)).await;
    assert!(failed("States.DataLimitExceeded")(&outcome), "{outcome:?}");
    engine.limits.max_payload_bytes = 256 * 1024;
    assert!(matches!(
        run_with(&engine, def, json!(items)).await,
        Outcome::Succeeded(_)
    ));
}

/// Records the token each (item, state) got, answering after a delay that depends on the
/// item: `reversed` flips which items finish first.
struct TokenLog {
    reversed: bool,
    seen: std::sync::Mutex<std::collections::BTreeMap<(i64, String), String>>,
}

impl TaskHandler for TokenLog {
    fn handles(&self, _: &Resource) -> bool {
        true
    }
    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let item = request.input["item"].as_i64().unwrap_or(-1);
            let token = request.task_token.clone().unwrap_or_default();
            self.seen
                .lock()
                .expect("not poisoned")
                .insert((item, request.state_name.clone()), token);
            let delay = if self.reversed { 8 - item } else { item }.clamp(0, 8);
            tokio::time::sleep(Duration::from_millis(delay as u64 * 10)).await;
            Ok(request.input)
        })
    }
}

/// Task tokens (and every other random value) belong to their Map iteration or Parallel
/// branch, not to the order in which concurrent iterations happen to run: a durable driver
/// replays a step with the same seed and must hand each iteration its earlier tokens.
#[tokio::test(start_paused = true)]
async fn concurrent_iterations_draw_the_same_tokens_whatever_order_they_run_in() {
    let callback = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";
    let def = json!({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true,
        "Branches": [{"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "End": true,
            "ItemSelector": {"item.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"StartAt": "First", "States": {
                "First": {"Type": "Task", "Resource": callback, "Next": "Second"},
                "Second": {"Type": "Task", "Resource": callback, "End": true}}}}}},
            {"StartAt": "Solo", "States": {"Solo": {"Type": "Task", "Resource": callback,
                "Parameters": {"item": 100}, "End": true}}}]}}});
    let tokens = |reversed: bool| {
        let def = def.clone();
        async move {
            let log = Arc::new(TokenLog {
                reversed,
                seen: Default::default(),
            });
            let mut d = Dispatcher::new();
            d.register(log.clone());
            let out = run_with(&Engine::new(d), def, json!([0, 1, 2, 3, 4, 5, 6, 7, 8])).await;
            assert!(matches!(out, Outcome::Succeeded(_)), "{out:?}");
            log.seen.lock().expect("not poisoned").clone()
        }
    };
    let (forward, backward) = (tokens(false).await, tokens(true).await);
    assert_eq!(forward.len(), 9 * 2 + 1);
    assert_eq!(forward, backward);
}
