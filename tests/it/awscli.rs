//! `sluice serve` driven by the AWS CLI (`pip install awscli`; `.ci/run` installs it).

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{ROLE, Server};

/// The AWS CLI, or None (and a notice) when it is not installed and CI does not require it.
fn aws_cli() -> Option<&'static str> {
    let found = Command::new("aws")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("aws");
    }
    assert!(
        std::env::var("CI_REQUIRE_AWSCLI").as_deref() != Ok("1"),
        "the AWS CLI is required here (CI_REQUIRE_AWSCLI=1) but `aws` is not installed"
    );
    eprintln!(
        "notice: AWS CLI not installed; skipping the AWS CLI test (run .ci/run to install it)"
    );
    None
}

fn aws(endpoint: &str, args: &[&str]) -> Result<Value, String> {
    let out = Command::new("aws")
        .args([
            "stepfunctions",
            "--endpoint-url",
            endpoint,
            "--region",
            "us-west-2",
            "--output",
            "json",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_PAGER", "")
        .env_remove("AWS_PROFILE")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
}

#[test]
fn aws_cli_round_trip() {
    if aws_cli().is_none() {
        return;
    }
    let server = Server::start("sqlite::memory:");
    let ep = server.endpoint.as_str();
    let def = json!({"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"}, "End": true}}}).to_string();
    let created = aws(
        ep,
        &[
            "create-state-machine",
            "--name",
            "hello",
            "--definition",
            &def,
            "--role-arn",
            ROLE,
        ],
    )
    .expect("create-state-machine");
    let sm = created["stateMachineArn"]
        .as_str()
        .expect("an ARN")
        .to_string();
    assert!(sm.starts_with("arn:aws:states:us-west-2:"), "{sm}");
    let started = aws(
        ep,
        &[
            "start-execution",
            "--state-machine-arn",
            &sm,
            "--input",
            r#"{"who": "cli"}"#,
        ],
    )
    .expect("start-execution");
    let exec = started["executionArn"]
        .as_str()
        .expect("an ARN")
        .to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let described = loop {
        let d =
            aws(ep, &["describe-execution", "--execution-arn", &exec]).expect("describe-execution");
        if d["status"] != "RUNNING" {
            break d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "execution did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(described["status"], "SUCCEEDED");
    let output: Value =
        serde_json::from_str(described["output"].as_str().expect("output")).expect("JSON");
    assert_eq!(output, json!({"greeting": "hello cli"}));
    let history = aws(ep, &["get-execution-history", "--execution-arn", &exec])
        .expect("get-execution-history");
    assert_eq!(history["events"].as_array().map(Vec::len), Some(4));
    let listed =
        aws(ep, &["list-executions", "--state-machine-arn", &sm]).expect("list-executions");
    assert_eq!(listed["executions"][0]["executionArn"], exec);
    let err = aws(
        ep,
        &[
            "describe-state-machine",
            "--state-machine-arn",
            "arn:aws:states:us-west-2:123456789012:stateMachine:nope",
        ],
    )
    .expect_err("missing machine");
    assert!(err.contains("StateMachineDoesNotExist"), "{err}");
    let activity =
        aws(ep, &["create-activity", "--name", "cli-activity"]).expect("create-activity");
    assert!(
        activity["activityArn"]
            .as_str()
            .is_some_and(|a| a.ends_with(":activity:cli-activity"))
    );
    let validated = aws(
        ep,
        &[
            "validate-state-machine-definition",
            "--definition",
            r#"{"StartAt": "X", "States": {}}"#,
        ],
    )
    .expect("validate");
    assert_eq!(validated["result"], "FAIL");
}

/// Against `serve --auth`, botocore's signed requests pass; an unsigned one or one signed
/// with another secret is refused with AWS's error codes.
#[test]
fn aws_cli_signatures() {
    if aws_cli().is_none() {
        return;
    }
    let server = Server::start_with("sqlite::memory:", &["--auth", "AKIDTEST:secret"]);
    let ep = server.endpoint.as_str();
    let listed = aws(ep, &["list-state-machines"]).expect("a signed request passes");
    assert_eq!(listed["stateMachines"], json!([]));
    let unsigned = aws(ep, &["list-state-machines", "--no-sign-request"])
        .expect_err("an unsigned request is refused");
    assert!(
        unsigned.contains("MissingAuthenticationToken"),
        "{unsigned}"
    );
    let out = Command::new("aws")
        .args([
            "stepfunctions",
            "--endpoint-url",
            ep,
            "--region",
            "us-west-2",
        ])
        .args(["list-state-machines"])
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .env("AWS_PAGER", "")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("aws runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("InvalidSignatureException"), "{err}");
}
