//! Tests of the validator, including the recorded AWS conformance corpus.

use super::resource::resource_arn;
use super::*;
use serde_json::json;

/// A deliberately small stand-in for the engine's parsers: enough syntax to tell the
/// corpus's good expressions from its broken ones.
struct TestChecker;

/// Finds unbalanced brackets outside quoted strings.
fn balanced(text: &str, quotes: &[char]) -> Result<(), String> {
    let mut stack = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            _ if quotes.contains(&c) => quote = Some(c),
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return Err(format!("unexpected '{c}'"));
                }
            }
            _ => {}
        }
    }
    if quote.is_some() {
        return Err("unterminated string".to_string());
    }
    if let Some(open) = stack.pop() {
        return Err(format!("unclosed '{open}'"));
    }
    Ok(())
}

impl ExpressionChecker for TestChecker {
    fn check_path(&self, text: &str) -> Result<(), String> {
        if !text.starts_with('$') {
            return Err("a path starts with '$'".to_string());
        }
        if text.contains("...") || text.ends_with('.') {
            return Err("dangling '.'".to_string());
        }
        balanced(text, &['\'', '"'])
    }

    fn check_reference_path(&self, text: &str) -> Result<(), String> {
        self.check_path(text)?;
        if text.contains("..") || text.contains(['*', '?', '@', '(']) {
            return Err("reference paths must be definite".to_string());
        }
        Ok(())
    }

    fn check_intrinsic(&self, text: &str) -> Result<(), String> {
        let Some(open) = text.find('(') else {
            return Err("missing '('".to_string());
        };
        let name = &text[..open];
        if !name.starts_with("States.")
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            return Err(format!("bad function name {name}"));
        }
        if !text.ends_with(')') {
            return Err("missing ')'".to_string());
        }
        let mut in_str = false;
        let mut chars = text[open..].chars();
        while let Some(c) = chars.next() {
            if in_str {
                match c {
                    '\\' => match chars.next() {
                        Some('\'' | '{' | '}' | '\\') => {}
                        Some(other) => return Err(format!("illegal escape \\{other}")),
                        None => return Err("dangling backslash".to_string()),
                    },
                    '\'' => in_str = false,
                    _ => {}
                }
            } else if c == '\'' {
                in_str = true;
            }
        }
        balanced(&text[open..], &['\''])
    }

    fn check_jsonata(&self, text: &str) -> Result<(), String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty".to_string());
        }
        if t.ends_with(['.', ',', '+', '&', '=']) {
            return Err("expression ends with an operator".to_string());
        }
        balanced(t, &['\'', '"', '`'])
    }
}

fn check(def: &Value) -> Vec<Diagnostic> {
    validate(def, &TestChecker)
}

fn codes(diags: &[Diagnostic]) -> Vec<&'static str> {
    diags.iter().map(|d| d.code).collect()
}

fn conformance_file(name: &str) -> Option<String> {
    let mut dirs = Vec::new();
    if let Ok(dir) = std::env::var("SLUICE_CONFORMANCE_DIR") {
        dirs.push(std::path::PathBuf::from(dir));
    }
    let manifest = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dirs.push(manifest.join("../shared/conformance"));
    dirs.push(manifest.join("../../shared/conformance"));
    dirs.push(std::path::PathBuf::from("/work/shared/conformance"));
    dirs.into_iter()
        .find_map(|d| std::fs::read_to_string(d.join(name)).ok())
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus lines are JSON objects"))
        .collect()
}

#[test]
fn validation_corpus_agreement() {
    let Some(text) = conformance_file("validation.jsonl") else {
        eprintln!("validation.jsonl not found; skipping");
        return;
    };
    let cases = jsonl(&text);
    let mut agree = 0;
    let mut report = String::new();
    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?");
        let expected = case["valid"].as_bool().expect("every case has a verdict");
        let diags = match case.get("definition_text").and_then(Value::as_str) {
            Some(text) => validate_text(text, &TestChecker),
            None => check(&case["definition"]),
        };
        if std::env::var_os("SLUICE_VALIDATE_VERBOSE").is_some() {
            eprintln!("== {id} (valid={expected})");
            for d in &diags {
                eprintln!("   {d}");
            }
        }
        if diags.is_empty() == expected {
            agree += 1;
        } else {
            report.push_str(&format!(
                "\n{id}: expected valid={expected}, got {diags:#?}"
            ));
        }
    }
    eprintln!(
        "validation.jsonl agreement: {agree}/{} {report}",
        cases.len()
    );
    assert!(
        agree * 100 >= cases.len() * 95,
        "agreement {agree}/{} is below 95%",
        cases.len()
    );
}

#[test]
fn executed_definitions_are_valid() {
    let Some(text) = conformance_file("cases.jsonl") else {
        eprintln!("cases.jsonl not found; skipping");
        return;
    };
    let cases = jsonl(&text);
    let mut bad = String::new();
    let mut failures = 0;
    for case in &cases {
        let diags = check(&case["definition"]);
        if !diags.is_empty() {
            failures += 1;
            bad.push_str(&format!("\n{}: {:#?}", case["id"], diags));
        }
    }
    eprintln!(
        "cases.jsonl definitions valid: {}/{}",
        cases.len() - failures,
        cases.len()
    );
    assert_eq!(failures, 0, "definitions AWS ran were rejected:{bad}");
}

#[test]
fn valid_minimal_machine() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}});
    assert_eq!(check(&def), vec![]);
}

#[test]
fn non_objects_are_reported_at_the_root() {
    for def in [json!(null), json!(""), json!([1]), json!(3)] {
        let diags = check(&def);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].pointer, "");
        assert_eq!(diags[0].code, SCHEMA_VALIDATION_FAILED);
    }
    assert_eq!(validate_text(" ", &TestChecker)[0].pointer, "");
    assert_eq!(
        validate_text("{", &TestChecker)[0].code,
        INVALID_JSON_DESCRIPTION
    );
    assert_eq!(
        validate_text("{}", &TestChecker)[0].message,
        "These fields are required: [States, StartAt]"
    );
}

#[test]
fn duplicate_keys_in_text() {
    let text = r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "End": true, "Comment": "x", "Comment": "y"},
            "A": {"Type": "Succeed"}
        }}"#;
    let diags = validate_text(text, &TestChecker);
    assert!(
        diags
            .iter()
            .any(|d| d.code == DUPLICATE_STATE_NAME && d.pointer == "/States/A"),
        "{diags:#?}"
    );
    assert!(
        diags.iter().any(|d| d.pointer == "/States/A/Comment"),
        "{diags:#?}"
    );
    assert_eq!(diags.len(), 2, "{diags:#?}");
}

#[test]
fn missing_target_names_the_alternatives() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "Foo"},
        "B": {"Type": "Succeed"}
    }});
    let diags = check(&def);
    let missing = diags
        .iter()
        .find(|d| d.pointer == "/States/A/Next")
        .expect("the bad Next is reported");
    assert_eq!(missing.code, MISSING_TRANSITION_TARGET);
    assert_eq!(missing.state.as_deref(), Some("A"));
    assert!(missing.message.contains("\"Foo\""), "{}", missing.message);
    assert!(missing.message.contains("A, B"), "{}", missing.message);
    // B is unreachable as well.
    assert!(
        diags
            .iter()
            .any(|d| d.pointer == "/States/B" && d.code == MISSING_TRANSITION_TARGET)
    );
}

#[test]
fn reports_every_problem_at_once() {
    let def = json!({"StartAt": "A", "Bogus": 1, "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
              "TimeoutSeconds": 0, "Next": "B", "End": true},
        "B": {"Type": "Wait", "Seconds": 1, "Timestamp": "2020-01-01T00:00:00Z", "End": true},
        "C": {"Type": "Fail", "ResultPath": "$.x"}
    }});
    let diags = check(&def);
    let pointers: Vec<&str> = diags.iter().map(|d| d.pointer.as_str()).collect();
    for expected in [
        "/Bogus",
        "/States/A/TimeoutSeconds",
        "/States/A",
        "/States/B",
        "/States/C/ResultPath",
        "/States/C",
    ] {
        assert!(
            pointers.contains(&expected),
            "{expected} missing from {diags:#?}"
        );
    }
}

#[test]
fn pointer_tokens_are_escaped() {
    let def = json!({"StartAt": "a/b~c", "States": {"a/b~c": {"Type": "Pass", "Next": "x"}}});
    let diags = check(&def);
    assert!(
        diags.iter().any(|d| d.pointer == "/States/a~1b~0c/Next"),
        "{diags:#?}"
    );
}

#[test]
fn scopes_are_separate_and_names_global() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "P"}}},
            {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}
        ]}
    }});
    let diags = check(&def);
    assert!(
        diags
            .iter()
            .any(|d| d.code == DUPLICATE_STATE_NAME
                && d.pointer == "/States/P/Branches/1/States/P"),
        "{diags:#?}"
    );
    let cross = diags
        .iter()
        .find(|d| d.pointer == "/States/P/Branches/0/States/X/Next")
        .expect("cross-scope Next is reported");
    assert!(cross.message.contains("another scope"), "{}", cross.message);
}

#[test]
fn choice_rules() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Default": "D", "Choices": [
            {"Variable": "$.a", "NumericEquals": "1", "Next": "D"},
            {"Variable": "$.a", "StringEquals": "x", "IsPresent": true, "Next": "D"},
            {"And": [{"Variable": "$.a", "IsNull": true, "Next": "D"}], "Next": "D"},
            {"Variable": "$.a", "BooleanEquals": true},
            {"Not": {"Variable": "$.a", "TimestampEquals": "yesterday"}, "Next": "D"}
        ]},
        "D": {"Type": "Succeed"}
    }});
    let diags = check(&def);
    for p in [
        "/States/C/Choices/0/NumericEquals",
        "/States/C/Choices/1",
        "/States/C/Choices/2/And/0/Next",
        "/States/C/Choices/3",
        "/States/C/Choices/4/Not/TimestampEquals",
    ] {
        assert!(
            diags.iter().any(|d| d.pointer == p),
            "{p} missing from {diags:#?}"
        );
    }
}

#[test]
fn jsonata_rules() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Default": "W", "Choices": [
            {"Condition": "{% $states.input.x > 1 %}", "Next": "W"},
            {"Variable": "$.x", "BooleanEquals": true, "Next": "W"}
        ]},
        "W": {"Type": "Wait", "Seconds": "{% 3 %}", "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"a.$": "$"}, "Arguments": {"x": "{% (1 + %}"}, "End": true}
    }});
    let diags = check(&def);
    for p in [
        "/States/C/Choices/1/Variable",
        "/States/C/Choices/1",
        "/States/T/Parameters",
        "/States/T/Arguments/x",
    ] {
        assert!(
            diags.iter().any(|d| d.pointer == p),
            "{p} missing from {diags:#?}"
        );
    }
    assert!(
        !diags.iter().any(|d| d.pointer.starts_with("/States/W")),
        "{diags:#?}"
    );
}

#[test]
fn retry_and_catch() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
              "Retry": [
                {"ErrorEquals": ["States.ALL"], "BackoffRate": 0.5, "IntervalSeconds": 0},
                {"ErrorEquals": [], "JitterStrategy": "SOME", "MaxAttempts": -1}
              ],
              "Catch": [{"ErrorEquals": ["States.ALL", "X"]}]}
    }});
    let diags = check(&def);
    for p in [
        "/States/T/Retry/0/ErrorEquals",
        "/States/T/Retry/0/BackoffRate",
        "/States/T/Retry/0/IntervalSeconds",
        "/States/T/Retry/1/ErrorEquals",
        "/States/T/Retry/1/JitterStrategy",
        "/States/T/Retry/1/MaxAttempts",
        "/States/T/Catch/0/ErrorEquals",
        "/States/T/Catch/0",
    ] {
        assert!(
            diags.iter().any(|d| d.pointer == p),
            "{p} missing from {diags:#?}"
        );
    }
}

#[test]
fn payload_templates() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "End": true, "Parameters": {
            "a": 1, "a.$": "$.a",
            "b.$": 5,
            "c": [{"d.$": "nope"}],
            "e.$": "States.Format('x\\\"y')"
        }, "Assign": {"$bad": 1, "states": 2, "ok.$": "$.x"}}
    }});
    let diags = check(&def);
    for (p, code) in [
        ("/States/P/Parameters/a.$", SCHEMA_VALIDATION_FAILED),
        ("/States/P/Parameters/b.$", SCHEMA_VALIDATION_FAILED),
        ("/States/P/Parameters/c/0/d.$", INVALID_JSON_PATH),
        ("/States/P/Parameters/e.$", INVALID_INTRINSIC),
        ("/States/P/Assign/$bad", SCHEMA_VALIDATION_FAILED),
        ("/States/P/Assign/states", SCHEMA_VALIDATION_FAILED),
    ] {
        assert!(
            diags.iter().any(|d| d.pointer == p && d.code == code),
            "{p} missing from {diags:#?}"
        );
    }
    assert_eq!(diags.len(), 6, "{diags:#?}");
}

#[test]
fn map_fields() {
    let def = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "End": true, "MaxConcurrency": 2, "MaxConcurrencyPath": "$.n",
              "ToleratedFailurePercentage": 101, "ItemSelector": {}, "Parameters": {},
              "ItemProcessor": {"ProcessorConfig": {"Mode": "SIDEWAYS"},
                                "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
              "Iterator": {"StartAt": "J", "States": {"J": {"Type": "Pass", "End": true}}}}
    }});
    let diags = check(&def);
    for p in [
        "/States/M/MaxConcurrencyPath",
        "/States/M/ToleratedFailurePercentage",
        "/States/M/Parameters",
        "/States/M/ItemProcessor/ProcessorConfig/Mode",
        "/States/M/Iterator",
    ] {
        assert!(
            diags.iter().any(|d| d.pointer == p),
            "{p} missing from {diags:#?}"
        );
    }
}

#[test]
fn terminal_state_required() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "A"}
    }});
    assert_eq!(codes(&check(&def)), vec![MISSING_END_STATE]);
}

#[test]
fn long_state_names() {
    let long = "x".repeat(81);
    let def = json!({"StartAt": long, "States": {long.clone(): {"Type": "Succeed"}}});
    assert_eq!(codes(&check(&def)), vec![INVALID_STATE_NAME]);
    let ok = "é".repeat(80);
    let def = json!({"StartAt": ok, "States": {ok.clone(): {"Type": "Succeed"}}});
    assert_eq!(check(&def), vec![]);
}

#[test]
fn resources() {
    assert!(resource_arn("arn:aws:states:::lambda:invoke.waitForTaskToken").is_ok());
    assert!(resource_arn("arn:aws:states:::states:startExecution.sync:2").is_ok());
    assert!(resource_arn("arn:aws:states:::aws-sdk:s3:listBuckets").is_ok());
    assert!(resource_arn("arn:aws:states:us-east-1:1:activity:a").is_ok());
    assert!(resource_arn("arn:aws:lambda:r:1:function:f:$LATEST").is_ok());
    assert!(resource_arn("${LambdaArn}").is_ok());
    assert!(resource_arn("arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:${Fn}").is_ok());
    assert!(resource_arn("arn:aws:states:::lambda:invoke${Suffix}").is_ok());
    // An unclosed or empty placeholder is never filled in.
    assert!(resource_arn("${lambdaArn").is_err());
    assert!(resource_arn("${}").is_err());
    assert!(resource_arn("${a${b}").is_err());
    assert!(resource_arn("arn:aws:states:::dynamodb:query").is_err());
    assert!(resource_arn("arn:aws:lambda:r:1:function:f:").is_err());
    assert!(resource_arn("createToken").is_err());
    // An SDK integration ARN that names a region and account, as deployed definitions do.
    assert!(resource_arn("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject").is_ok());
    assert!(resource_arn("arn:aws:states:us-east-1:123456789012:stateMachine:m").is_err());
    // A service newer than the table: well formed, so accepted; a malformed one is not.
    assert!(resource_arn("arn:aws:states:::bedrockagentcore:invokeAgentRuntime").is_ok());
    assert!(resource_arn("arn:aws:states:::newservice:doThing.sync").is_ok());
    assert!(resource_arn("arn:aws:states:::NewService:DoThing").is_err());
    assert!(resource_arn("arn:aws:states:::newservice").is_err());
    // A known service's unlisted action stays an error, as AWS recorded for dynamodb:query.
    assert!(resource_arn("arn:aws:states:::sns:publishBatch").is_err());
}

#[test]
fn timestamps() {
    for ok in [
        "2016-03-14T01:59:00Z",
        "2016-03-14T01:59:00.123+01:00",
        "2016-03-14t01:59:00z",
    ] {
        assert!(is_rfc3339(ok), "{ok}");
    }
    for bad in [
        "05-12-2016T21:29:29Z",
        "2016-03-14T01:59:00",
        "2016-13-14T01:59:00Z",
        "{% 'x' %}",
        "2016-03-14T01:59:00.Z",
        "",
    ] {
        assert!(!is_rfc3339(bad), "{bad}");
    }
}

/// Builds a definition around `depth` nested values without recursion.
///
/// `json!` cannot be used to wrap the nested part: it interpolates through
/// `serde_json::to_value`, which recurses once per level.
fn deep(depth: usize, wrap: impl Fn(Value) -> Value, finish: impl FnOnce(Value) -> Value) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = wrap(v);
    }
    finish(v)
}

/// Inserts `value` at `path` (object keys or array indices) inside `outer`.
fn put(mut outer: Value, path: &[&str], value: Value) -> Value {
    let mut slot = &mut outer;
    for key in path {
        slot = match slot {
            Value::Array(a) => {
                &mut a[key
                    .parse::<usize>()
                    .expect("test paths index arrays with numbers")]
            }
            other => &mut other[*key],
        };
    }
    *slot = value;
    outer
}

/// Drops a value iteratively, because serde_json's own Drop recurses once per level.
fn teardown(v: Value) {
    let mut stack = vec![v];
    while let Some(mut v) = stack.pop() {
        match &mut v {
            Value::Object(m) => stack.extend(std::mem::take(m).into_iter().map(|(_, v)| v)),
            Value::Array(a) => stack.append(a),
            _ => {}
        }
    }
}

#[test]
fn deep_nesting_does_not_overflow() {
    let def = deep(
        100_000,
        |v| put(json!({}), &["k"], v),
        |v| {
            let base = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
                "Parameters": {"ok": 1}}}});
            put(base, &["States", "P", "Parameters", "deep"], v)
        },
    );
    let diags = check(&def);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].message.contains("deeper"));
    teardown(def);

    let def = deep(
        100_000,
        |v| {
            let base = json!({"StartAt": "S", "States": {"S": {"Type": "Parallel", "End": true,
                "Branches": [null]}}});
            put(base, &["States", "S", "Branches", "0"], v)
        },
        |v| v,
    );
    assert!(check(&def).iter().any(|d| d.message.contains("deeper")));
    teardown(def);

    let def = deep(
        100_000,
        |v| put(json!({}), &["Not"], v),
        |v| {
            let base = json!({"StartAt": "C", "States": {"C": {"Type": "Choice",
                "Choices": [{"Next": "C"}]}}});
            put(base, &["States", "C", "Choices", "0", "Not"], v)
        },
    );
    assert!(check(&def).iter().any(|d| d.message.contains("deeper")));
    teardown(def);

    let def = deep(
        100_000,
        |v| Value::Array(vec![v]),
        |v| {
            let base = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {
                "Type": "Pass", "End": true, "Assign": {"x": {}}}}});
            put(base, &["States", "P", "Assign", "x", "y"], v)
        },
    );
    assert!(check(&def).iter().any(|d| d.message.contains("deeper")));
    teardown(def);
}

#[test]
fn diagnostics_serialize() {
    let d = Diagnostic {
        pointer: "/States/A".to_string(),
        state: Some("A".to_string()),
        code: SCHEMA_VALIDATION_FAILED,
        message: "m".to_string(),
    };
    let v = serde_json::to_value(&d).expect("Diagnostic serializes");
    assert_eq!(v["code"], "SCHEMA_VALIDATION_FAILED");
    assert_eq!(
        d.to_string(),
        "SCHEMA_VALIDATION_FAILED: m at /States/A (state \"A\")"
    );
}

/// A JSONata machine's top-level states cannot downgrade to JSONPath; a state nested in a
/// Map's ItemProcessor may (a recorded valid definition does).
#[test]
fn jsonata_machines_keep_their_top_level_states_in_jsonata() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}});
    let found = check(&def);
    assert_eq!(codes(&found), ["SCHEMA_VALIDATION_FAILED"]);
    assert_eq!(found[0].pointer, "/States/A/QueryLanguage");
    let nested = json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {
            "P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}},
        "End": true}}});
    assert_eq!(check(&nested), vec![]);
    let upgrade = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "QueryLanguage": "JSONata", "End": true}}});
    assert_eq!(check(&upgrade), vec![]);
}
