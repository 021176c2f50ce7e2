//! The HTTP Task (`http:invoke`) and API Gateway (`apigateway:invoke`) against a local HTTP
//! server: methods, headers, query arrays, bodies, a connection's secret, status-code errors
//! and a timeout, each caught by AWS's error name.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::support::temp_dir;

struct HttpServer(Child, String);

impl HttpServer {
    fn start() -> HttpServer {
        let mut child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http/server.py"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the test server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the server prints its address");
        let url = line.trim().trim_start_matches("listening on ").to_string();
        HttpServer(child, url)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn http_tasks_follow_aws() {
    let server = HttpServer::start();
    let base = &server.1;
    let dir = temp_dir("http-task");
    let config = dir.join("sluice.toml");
    std::fs::write(
        &config,
        r#"
[http]
timeout_seconds = 1.5

[connections.orders-api]
api_key_name = "x-api-key"
api_key_value = "s3cret-key"
headers = { "x-team" = "data" }
"#,
    )
    .expect("config");
    let conn = "arn:aws:events:us-east-1:123456789012:connection/orders-api/0f8e1c2a";
    let task = |name: &str, resource: &str, params: Value, next: &str, catch: Option<&str>| {
        let mut state = json!({"Type": "Task", "Resource": resource, "Parameters": params,
            "ResultPath": format!("$.{name}"), "Next": next});
        if let Some(error) = catch {
            state["Catch"] =
                json!([{"ErrorEquals": [error], "ResultPath": format!("$.{name}"), "Next": next}]);
        }
        (name.to_string(), state)
    };
    let http = "arn:aws:states:::http:invoke";
    let states = [
        task(
            "get",
            http,
            json!({"ApiEndpoint": format!("{base}/echo"), "Method": "GET",
            "Authentication": {"ConnectionArn": conn},
            "Headers": {"X-Request": "1"}, "QueryParameters": {"ids": [1, 2], "q": "a b"}}),
            "post",
            None,
        ),
        task(
            "post",
            http,
            json!({"ApiEndpoint": format!("{base}/echo"), "Method": "POST",
            "InvocationConfig": {"ConnectionArn": conn}, "RequestBody": {"order": 7}}),
            "form",
            None,
        ),
        task(
            "form",
            http,
            json!({"ApiEndpoint": format!("{base}/echo"), "Method": "PUT",
            "Authentication": {"ConnectionArn": conn}, "RequestBody": {"tags": ["x", "y"]},
            "Transform": {"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": "REPEAT"}}}),
            "notFound",
            None,
        ),
        task(
            "notFound",
            http,
            json!({"ApiEndpoint": format!("{base}/status/404"), "Method": "GET",
            "Authentication": {"ConnectionArn": conn}}),
            "slow",
            Some("States.Http.StatusCode.404"),
        ),
        task(
            "slow",
            http,
            json!({"ApiEndpoint": format!("{base}/slow"), "Method": "GET",
            "Authentication": {"ConnectionArn": conn}}),
            "noConnection",
            Some("States.Http.Socket"),
        ),
        task(
            "noConnection",
            http,
            json!({"ApiEndpoint": format!("{base}/echo"), "Method": "GET",
            "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:1:connection/nope/1"}}),
            "gateway",
            Some("Events.ConnectionResource.ResourceNotFound"),
        ),
        task(
            "gateway",
            "arn:aws:states:::apigateway:invoke",
            json!({"ApiEndpoint": base, "Method": "GET",
            "Stage": "prod", "Path": "echo/orders", "Headers": {"X-Multi": ["a", "b"]}}),
            "gatewayDenied",
            None,
        ),
        task(
            "gatewayDenied",
            "arn:aws:states:::apigateway:invoke",
            json!({"ApiEndpoint": base, "Method": "GET",
            "Path": "status/403"}),
            "End",
            Some("ApiGateway.403"),
        ),
    ];
    let mut map = serde_json::Map::new();
    for (name, state) in states {
        map.insert(name, state);
    }
    map.insert("End".into(), json!({"Type": "Succeed"}));
    let run = |definition: Value| {
        let path = dir.join("http.asl.json");
        std::fs::write(&path, definition.to_string()).expect("write");
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "run",
                &path.display().to_string(),
                "--json",
                "--config",
                &config.display().to_string(),
            ])
            .output()
            .expect("sluice runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("s3cret-key"),
            "a secret reached the log: {stderr}"
        );
        let result: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
        result
    };
    // What AWS refuses at run time fails the execution with States.Runtime (not catchable).
    for (path, headers) in [
        ("/echo", json!({"Authorization": "x"})),
        ("/binary", json!({})),
    ] {
        let failed = run(
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": http,
            "Parameters": {"ApiEndpoint": format!("{base}{path}"), "Method": "GET", "Headers": headers}, "End": true}}}),
        );
        assert_eq!(
            (failed["status"].as_str(), failed["error"].as_str()),
            (Some("FAILED"), Some("States.Runtime")),
            "{failed}"
        );
    }
    let result = run(json!({"StartAt": "get", "States": map}));
    assert_eq!(result["status"], "SUCCEEDED", "{result:#}");
    let o = &result["output"];
    let echo = &o["get"]["ResponseBody"];
    assert_eq!(o["get"]["StatusCode"], 200);
    assert_eq!(o["get"]["StatusText"], "OK");
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["headers"]["x-api-key"], "s3cret-key");
    assert_eq!(echo["headers"]["x-team"], "data");
    assert_eq!(echo["headers"]["x-request"], "1");
    assert_eq!(
        echo["query"],
        json!([["ids[0]", "1"], ["ids[1]", "2"], ["q", "a b"]])
    );
    assert!(o["get"]["Headers"]["content-type"][0].is_string());
    let posted = &o["post"]["ResponseBody"];
    assert_eq!(posted["body"], r#"{"order":7}"#);
    assert!(
        posted["headers"]["content-type"]
            .as_str()
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert_eq!(o["form"]["ResponseBody"]["body"], "tags=x&tags=y");
    assert_eq!(o["notFound"]["Error"], "States.Http.StatusCode.404");
    let cause: Value =
        serde_json::from_str(o["notFound"]["Cause"].as_str().expect("cause")).expect("JSON");
    assert_eq!(cause["StatusCode"], 404);
    assert_eq!(o["slow"]["Error"], "States.Http.Socket");
    assert_eq!(
        o["noConnection"]["Error"],
        "Events.ConnectionResource.ResourceNotFound"
    );
    assert_eq!(o["gateway"]["ResponseBody"]["path"], "/prod/echo/orders");
    assert_eq!(o["gateway"]["ResponseBody"]["headers"]["x-multi"], "a, b");
    assert_eq!(o["gatewayDenied"]["Error"], "ApiGateway.403");
    assert_eq!(o["gatewayDenied"]["Cause"], r#"{"status": 403}"#);
}
