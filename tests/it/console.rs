//! The web console of `sluice serve`: in headless Chromium (`tests/console/browser.py`, driven
//! by Selenium), and over plain HTTP for sign-in, cross-site forgeries and hostile requests.

use std::process::Command;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};

use crate::support::{Server, client_with_key, create, temp_dir};

const PASS: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;

fn browser_available() -> bool {
    let selenium = Command::new("python3")
        .args(["-c", "import selenium, boto3"])
        .status()
        .is_ok_and(|s| s.success());
    let chromium = std::path::Path::new("/usr/bin/chromium").exists()
        && std::path::Path::new("/usr/bin/chromedriver").exists();
    let found = selenium && chromium;
    assert!(
        found || std::env::var("CI_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
        "CI_REQUIRE_CHROMIUM=1 but Selenium or Chromium is missing"
    );
    if !found {
        eprintln!("notice: no Selenium or no Chromium; skipping the browser test");
    }
    found
}

/// No redirects followed: the tests look at each answer.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    let at = page
        .find(r#"name="csrf" value=""#)
        .expect("the page has a form with a CSRF token")
        + r#"name="csrf" value=""#.len();
    page[at..].split('"').next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_headless_chromium() {
    if !browser_available() {
        return;
    }
    let dir = temp_dir("console-browser");
    let server = Server::start(&format!("sqlite:{}", dir.join("c.db").display()));
    let shots = std::env::var("SLUICE_CONSOLE_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.join("screenshots"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/console/browser.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(&server.endpoint)
        .arg(&shots)
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("console ok"), "{stdout}");
    assert!(
        shots.join("execution.png").exists(),
        "the screenshot is taken"
    );
    eprintln!("{stdout}screenshots in {}", shots.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_the_console_signs_in_with_an_access_key_and_refuses_forgeries() {
    let server = Server::start_with("sqlite::memory:", &["--auth", "AKIDCONSOLE:console-secret"]);
    let base = &server.endpoint;
    let web = http();
    let sdk = client_with_key(base, "AKIDCONSOLE", "console-secret");
    let machine = create(&sdk, "signed-in", serde_json::from_str(PASS).expect("JSON")).await;

    // Signed out: pages send you to sign in (and back afterwards); actions are refused.
    let r = web
        .get(format!("{base}/console/executions?status=FAILED"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str().expect("text");
    assert_eq!(
        to,
        "/console/login?next=%2Fconsole%2Fexecutions%3Fstatus%3DFAILED"
    );
    let r = web.get(format!("{base}/")).send().await.expect("GET");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = web
        .post(format!("{base}/console/start"))
        .form(&[("csrf", "x"), ("arn", machine.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A wrong secret is refused, and the secret tried is not logged.
    let r = web
        .post(format!("{base}/console/login"))
        .form(&[
            ("key_id", "AKIDCONSOLE"),
            ("secret", "guess-1234"),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.expect("body").contains("not accepted"));

    // The right key signs in; `next` cannot send you off-site.
    let r = web
        .post(format!("{base}/console/login"))
        .form(&[
            ("key_id", "AKIDCONSOLE"),
            ("secret", "console-secret"),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/");
    let set = r.headers()[SET_COOKIE].to_str().expect("text").to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().expect("name=value").to_string();

    let page = web
        .get(format!("{base}/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("body");
    assert!(
        page.contains("signed-in") && page.contains("AKIDCONSOLE"),
        "{page}"
    );
    let csrf = csrf_of(&page);

    let start = |token: String, origin: Option<&'static str>| {
        let mut request = web
            .post(format!("{base}/console/start"))
            .header(COOKIE, &cookie)
            .form(&[
                ("csrf", token.as_str()),
                ("arn", machine.as_str()),
                ("name", "from-the-console"),
                ("input", r#"{"x": 1}"#),
            ]);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send()
    };
    // Forged: no token of this session, or posted from another site.
    let r = start("0".repeat(64), None).await.expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = start(csrf.clone(), Some("http://evil.example"))
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Genuine.
    let r = start(csrf.clone(), Some("http://127.0.0.1:1"))
        .await
        .expect("POST");
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "another port is another origin"
    );
    let r = start(csrf.clone(), None).await.expect("POST");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()[LOCATION]
            .to_str()
            .expect("text")
            .starts_with("/console/execution?arn=")
    );
    let listed = sdk
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect("ListExecutions");
    assert_eq!(listed.executions()[0].name(), "from-the-console");

    // A tampered cookie is no session.
    let tampered = cookie.replace("AKIDCONSOLE.", "AKIDOTHER.");
    let r = web
        .get(format!("{base}/"))
        .header(COOKIE, tampered)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Signing out ends the cookie.
    let r = web
        .post(format!("{base}/console/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()[SET_COOKIE]
            .to_str()
            .expect("text")
            .contains("Max-Age=0")
    );

    assert!(
        server.logged("guess-1234").is_empty(),
        "a tried secret reached the log"
    );
    assert!(
        server.logged("console-secret").is_empty(),
        "the secret reached the log"
    );
    crate::support::eventually(std::time::Duration::from_secs(10), || async {
        (server.logged("console sign-in refused").len() == 1).then_some(())
    })
    .await;
}

/// One client guessing secrets is held back after ten refusals, even with the right secret,
/// and told when to come back; behind an HTTPS proxy the cookie is `Secure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_guessing_secrets_is_held_back() {
    let server = Server::start_with("sqlite::memory:", &["--auth", "AKIDCONSOLE:console-secret"]);
    let base = &server.endpoint;
    let web = http();
    let sign_in = |secret: &'static str| {
        web.post(format!("{base}/console/login"))
            .header("x-forwarded-proto", "https")
            .form(&[("key_id", "AKIDCONSOLE"), ("secret", secret), ("next", "/")])
            .send()
    };
    let r = sign_in("console-secret").await.expect("POST");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = r.headers()[SET_COOKIE].to_str().expect("text");
    assert!(set.contains("; Secure"), "{set}");
    for _ in 0..10 {
        let r = sign_in("a-guess").await.expect("POST");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = sign_in("console-secret").await.expect("POST");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: i64 = r.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=300).contains(&wait), "{wait}");
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("Too many refused sign-ins")
    );
    assert!(
        server.logged("a-guess").is_empty(),
        "a tried secret reached the log"
    );
    // The server's log is read by a thread: give it a moment.
    crate::support::eventually(std::time::Duration::from_secs(10), || async {
        (server.logged("too many refusals").len() == 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_console_requests_get_located_errors_never_a_crash() {
    let server = Server::start("sqlite::memory:");
    let base = &server.endpoint;
    let web = http();
    let sdk = server.client();
    let machine = create(&sdk, "hostile", serde_json::from_str(PASS).expect("JSON")).await;
    let page = web
        .get(format!("{base}/console/check"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    let csrf = csrf_of(&page);

    let get = |path: String| {
        let web = web.clone();
        async move {
            let r = web.get(format!("{base}{path}")).send().await.expect("GET");
            (r.status(), r.text().await.expect("body"))
        }
    };
    let (status, body) =
        get("/console/execution?arn=%3Cscript%3Ealert(1)%3C%2Fscript%3E".into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.contains("ExecutionDoesNotExist") && body.contains("&lt;script&gt;"),
        "{body}"
    );
    assert!(
        !body.contains("<script>alert"),
        "an ARN reached the page unescaped"
    );
    let (status, _) = get("/console/execution".into()).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the arn parameter is required"
    );
    let (status, body) =
        get("/console/executions?status=BOGUS&since=2026-13-45T99:00&after=nonsense".into()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("status: &#39;BOGUS&#39; is not an execution status")
            || body.contains("status: 'BOGUS' is not an execution status"),
        "{body}"
    );
    assert!(
        body.contains("since:") && body.contains("after: not a page marker"),
        "{body}"
    );
    let (status, body) = get(format!("/console/state-machine?arn={}", "x".repeat(5000))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = get("/console/execution/live?arn=nope".into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get("/console/map-run?arn=nope".into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let web = web.clone();
        async move {
            let r = web
                .post(format!("{base}{path}"))
                .form(&form)
                .send()
                .await
                .expect("POST");
            (r.status(), r.text().await.expect("body"))
        }
    };
    // No token: refused before anything runs.
    let (status, _) = post("/console/start", vec![("arn", machine.clone())]).await;
    assert!(status.is_client_error(), "{status}");
    // Input that is not JSON: the API's own error, on a page.
    let (status, body) = post(
        "/console/start",
        vec![
            ("csrf", csrf.clone()),
            ("arn", machine.clone()),
            ("input", "{not json".into()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("InvalidExecutionInput"), "{body}");
    // An answer for a task that does not exist.
    let (status, body) = post(
        "/console/approve",
        vec![
            ("csrf", csrf.clone()),
            ("token", "forged-token".into()),
            ("output", "{}".into()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("InvalidToken"), "{body}");
    // A definition that is neither JSON nor YAML is checked, not stored.
    let (status, body) = post(
        "/console/check",
        vec![("csrf", csrf.clone()), ("definition", "{[".into())],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("not JSON or YAML"), "{body}");
    // The API on the same path still answers as the API.
    let described = sdk
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect("DescribeStateMachine");
    assert_eq!(described.name(), "hostile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_wait_is_in_the_history_and_painted_running() {
    let server = Server::start("sqlite::memory:");
    let sdk = server.client();
    let machine = create(
        &sdk,
        "waits",
        serde_json::json!({"StartAt": "Sleep", "States": {
            "Sleep": {"Type": "Wait", "Seconds": 600, "Next": "After"},
            "After": {"Type": "Pass", "End": true}}}),
    )
    .await;
    let arn = crate::support::start(&sdk, &machine, "{}").await;
    // The Wait's entry is written while it waits, as AWS shows it.
    let kinds = crate::support::eventually(std::time::Duration::from_secs(10), || async {
        let kinds: Vec<String> = crate::support::history(&sdk, &arn)
            .await
            .iter()
            .map(|e| e.r#type().as_str().to_string())
            .collect();
        kinds
            .contains(&"WaitStateEntered".to_string())
            .then_some(kinds)
    })
    .await;
    assert_eq!(kinds, ["ExecutionStarted", "WaitStateEntered"]);
    let live: serde_json::Value = http()
        .get(format!(
            "{}/console/execution/live?arn={}&after=0",
            server.endpoint,
            arn.replace(':', "%3A")
        ))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(live["status"], "RUNNING");
    assert_eq!(live["states"]["Sleep"]["status"], "running");
    assert!(live["states"].get("After").is_none());
    assert_eq!(live["last"], 2);
    assert!(
        live["rows"]
            .as_str()
            .unwrap_or("")
            .contains("WaitStateEntered")
    );
}

/// A history longer than one read (here 20,000 events from an inline Map) is painted to its
/// end, and a running page catches up on the rows past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_is_painted_to_its_end() {
    let server = Server::start("sqlite::memory:");
    let sdk = server.client();
    let machine = create(
        &sdk,
        "long",
        serde_json::json!({"StartAt": "Each", "States": {
            "Each": {"Type": "Map", "ItemsPath": "$.items", "ResultSelector": {"done": true},
                "ItemProcessor": {"StartAt": "One", "States": {"One": {"Type": "Pass", "End": true}}},
                "Next": "Late"},
            "Late": {"Type": "Wait", "Seconds": 600, "End": true}}}),
    )
    .await;
    let items: Vec<u32> = (0..5_000).collect();
    let arn = crate::support::start(
        &sdk,
        &machine,
        &serde_json::json!({"items": items}).to_string(),
    )
    .await;
    let live = |after: i64| {
        let url = format!(
            "{}/console/execution/live?arn={}&after={after}",
            server.endpoint,
            arn.replace(':', "%3A")
        );
        async move {
            http()
                .get(url)
                .send()
                .await
                .expect("GET")
                .json::<serde_json::Value>()
                .await
                .expect("JSON")
        }
    };
    let state = crate::support::eventually(std::time::Duration::from_secs(120), || async {
        let state = live(20_000).await;
        (state["states"]["Late"]["status"] == "running").then_some(state)
    })
    .await;
    assert_eq!(state["states"]["Each"]["status"], "succeeded");
    assert_eq!(state["states"]["One"]["entered"], 5_000);
    let rows = state["rows"].as_str().unwrap_or("");
    assert!(
        rows.contains("MapStateExited") && rows.contains("WaitStateEntered"),
        "{rows}"
    );
    let last = state["last"].as_i64().expect("last");
    assert!(last > 20_000, "{last}");

    let page = http()
        .get(format!(
            "{}/console/execution?arn={}",
            server.endpoint,
            arn.replace(':', "%3A")
        ))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains(&format!(r#"data-last-event="{last}""#)),
        "the page knows the last event"
    );
}
