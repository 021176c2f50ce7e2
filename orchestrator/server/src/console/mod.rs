//! The web console `sluice serve` serves at `/`: state machines drawn as graphs, executions
//! as they run, Map Runs, approvals, activities and schedules. Pages are rendered on the
//! server; one small script (embedded, like the stylesheet) makes the execution page live and
//! the graph clickable. Same port and same keys as the API: with `--auth` the console asks for
//! an access key and its secret (`session`), and every POST is checked against cross-site
//! forgery.
//!
//! Actions (start, stop, redrive, approve, reject) go through the API's own action functions,
//! so they validate and fail exactly as the API does.

mod approvals;
mod executions;
mod histories;
mod machines;
mod map_runs;
mod queues;
pub mod session;
pub mod status;
pub mod throttle;
mod view;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::api::{ApiError, Caller};
use crate::service::Service;
use session::Session;

/// The console's state: the service, and the key CSRF tokens are made with when auth is off.
pub struct Console {
    svc: Arc<Service>,
    shared_key: OnceCell<String>,
    sign_ins: throttle::SignInThrottle,
    histories: histories::Histories,
}

type Shared = State<Arc<Console>>;

/// The console's routes, guarded by its session check.
pub fn router(svc: Arc<Service>) -> Router {
    let console = Arc::new(Console {
        svc,
        shared_key: OnceCell::new(),
        sign_ins: throttle::SignInThrottle::default(),
        histories: histories::Histories::default(),
    });
    Router::new()
        .route("/", get(machines::home))
        .route("/console/state-machine", get(machines::machine))
        .route("/console/start", post(machines::start))
        .route(
            "/console/check",
            get(machines::check_form).post(machines::check),
        )
        .route("/console/executions", get(executions::list))
        .route("/console/execution", get(executions::page))
        .route("/console/execution/live", get(executions::live))
        .route("/console/stop", post(executions::stop))
        .route("/console/redrive", post(executions::redrive))
        .route("/console/map-run", get(map_runs::page))
        .route("/console/approvals", get(approvals::list))
        .route("/console/approve", post(approvals::approve))
        .route("/console/reject", post(approvals::reject))
        .route("/console/queues", get(queues::page))
        .route("/console/logout", post(sign_out))
        .route_layer(axum::middleware::from_fn_with_state(console.clone(), guard))
        .route("/console/login", get(sign_in_form).post(sign_in))
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .route("/favicon.ico", get(icon))
        .with_state(console)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Console {
    fn auth_on(&self) -> bool {
        !self.svc.config.access_keys.is_empty()
    }

    /// The key CSRF tokens are made with when auth is off: one per deployment, kept in the
    /// store so every replica accepts a form another one rendered.
    async fn shared_key(&self) -> Result<&str, ApiError> {
        self.shared_key
            .get_or_try_init(|| async {
                let fresh: String = (0..32)
                    .map(|_| format!("{:02x}", rand::random::<u8>()))
                    .collect();
                self.svc
                    .store
                    .setting_or_insert("console_csrf_key", &fresh)
                    .await
                    .map_err(ApiError::from)
            })
            .await
            .map(String::as_str)
    }

    /// The session a request carries, if any.
    async fn session(&self, headers: &axum::http::HeaderMap) -> Result<Option<Session>, ApiError> {
        if !self.auth_on() {
            let key = self.shared_key().await?;
            return Ok(Some(Session {
                key_id: None,
                csrf: session::csrf_token(key.as_bytes(), None),
            }));
        }
        let Some(value) = session::cookie(headers) else {
            return Ok(None);
        };
        Ok(
            session::verify(&self.svc.config.access_keys, value, now()).map(|key| Session {
                key_id: Some(key.id.clone()),
                csrf: session::csrf_token(key.secret.as_bytes(), Some(value)),
            }),
        )
    }

    /// Run an API action as the console; the caller's region is the server's.
    async fn act(&self, action: &str, input: Value) -> Result<Value, ApiError> {
        let caller = Caller {
            region: self.svc.config.region.clone(),
        };
        crate::api::dispatch(&self.svc, &caller, action, input).await
    }
}

/// Every guarded route: a session, or a sign-in (GET) or 403 (POST); no cross-site POST.
async fn guard(State(console): Shared, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let anonymous = Session {
        key_id: None,
        csrf: String::new(),
    };
    if request.method() == Method::POST && session::cross_site(headers) {
        return view::error_page(
            &anonymous,
            StatusCode::FORBIDDEN,
            "Refused",
            "This form was posted from another site.",
        );
    }
    let found = match console.session(headers).await {
        Ok(found) => found,
        Err(e) => {
            return view::error_page(
                &anonymous,
                StatusCode::SERVICE_UNAVAILABLE,
                "The store is unavailable",
                &e.message,
            );
        }
    };
    match found {
        Some(session) => {
            request.extensions_mut().insert(session);
            next.run(request).await
        }
        None if request.method() == Method::GET => {
            let here = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            Redirect::to(&format!("/console/login?next={}", view::q(&here))).into_response()
        }
        None => view::error_page(
            &anonymous,
            StatusCode::FORBIDDEN,
            "Signed out",
            "Your session has ended. Sign in again and repeat the action.",
        ),
    }
}

/// A form's CSRF token must be the session's.
fn check_csrf(session: &Session, given: &str) -> Result<(), Box<Response>> {
    if crate::api::auth::same_secret(&session.csrf, given) {
        Ok(())
    } else {
        Err(Box::new(view::error_page(
            session,
            StatusCode::FORBIDDEN,
            "Refused",
            "The form's security token does not match this session. Reload the page and try again.",
        )))
    }
}

/// An API error as a console page.
fn api_error(session: &Session, e: &ApiError) -> Response {
    view::error_page(session, e.status, e.code, &e.message)
}

#[derive(serde::Deserialize)]
struct SignInQuery {
    next: Option<String>,
    #[serde(default)]
    failed: bool,
}

/// Why the sign-in page is shown again.
enum SignInRefusal {
    /// First visit.
    None,
    /// The key id and secret were not accepted.
    WrongKey,
    /// This client was refused too often; it may try again in `wait` seconds.
    TooMany { wait: i64 },
}

fn sign_in_page(next: &str, refusal: SignInRefusal) -> maud::Markup {
    let anonymous = Session {
        key_id: None,
        csrf: String::new(),
    };
    view::page(
        "Sign in",
        &anonymous,
        view::Section::Machines,
        maud::html! {
            h1 { "Sign in" }
            p { "This server checks requests with access keys. Sign in with one of them: the same access key id and secret access key the AWS CLI uses against it." }
            @match refusal {
                SignInRefusal::None => {}
                SignInRefusal::WrongKey => p.error-box { "That access key id and secret are not accepted here." },
                SignInRefusal::TooMany { wait } => p.error-box { "Too many refused sign-ins from your address: try again in " ((wait + 59) / 60) " min." },
            }
            form.card method="post" action="/console/login" {
                input type="hidden" name="next" value=(next);
                label { "Access key id" input name="key_id" autocomplete="username" required; }
                label { "Secret access key" input type="password" name="secret" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
        },
    )
}

async fn sign_in_form(
    State(console): Shared,
    query: axum::extract::Query<SignInQuery>,
) -> Response {
    if !console.auth_on() {
        return Redirect::to("/").into_response();
    }
    let next = session::safe_next(query.next.as_deref());
    view::respond_with(
        if query.failed {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        },
        sign_in_page(
            next,
            if query.failed {
                SignInRefusal::WrongKey
            } else {
                SignInRefusal::None
            },
        ),
    )
}

#[derive(serde::Deserialize)]
struct SignIn {
    key_id: String,
    secret: String,
    next: Option<String>,
}

async fn sign_in(
    State(console): Shared,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: axum::http::HeaderMap,
    form: axum::extract::Form<SignIn>,
) -> Response {
    let next = session::safe_next(form.next.as_deref()).to_string();
    if session::cross_site(&headers) || !console.auth_on() {
        return Redirect::to("/").into_response();
    }
    let client = peer.map(|p| p.0.0.ip());
    if let Some(wait) = client.and_then(|c| console.sign_ins.wait(c, now())) {
        tracing::warn!(target: "sluice::console", client = ?client, key_id = %form.key_id, "console sign-in refused: too many refusals from this client");
        let mut page = view::respond_with(
            StatusCode::TOO_MANY_REQUESTS,
            sign_in_page(&next, SignInRefusal::TooMany { wait }),
        );
        if let Ok(value) = wait.to_string().parse() {
            page.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return page;
    }
    let key =
        console.svc.config.access_keys.iter().find(|k| {
            k.id == form.key_id && crate::api::auth::same_secret(&k.secret, &form.secret)
        });
    let Some(key) = key else {
        // The key id is logged (it names who tried), never the secret.
        tracing::warn!(target: "sluice::console", client = ?client, key_id = %form.key_id, "console sign-in refused");
        if let Some(c) = client {
            console.sign_ins.refused(c, now());
        }
        // A pause before a refusal also slows guessing over one connection.
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        return view::respond_with(
            StatusCode::UNAUTHORIZED,
            sign_in_page(&next, SignInRefusal::WrongKey),
        );
    };
    if let Some(c) = client {
        console.sign_ins.accepted(c);
    }
    let value = session::issue(key, now() + session::LIFETIME_SECONDS);
    tracing::info!(target: "sluice::console", key_id = %key.id, "console sign-in");
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!(
                    "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
                    session::COOKIE,
                    session::LIFETIME_SECONDS,
                    secure_attribute(&headers)
                ),
            ),
            (header::LOCATION, next),
        ],
    )
        .into_response()
}

/// `; Secure` when the browser reached us over HTTPS through a proxy that says so, so the
/// cookie never travels in clear text from then on. A client that lies about it only keeps
/// its own cookie from coming back over plain HTTP.
fn secure_attribute(headers: &axum::http::HeaderMap) -> &'static str {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    if https { "; Secure" } else { "" }
}

#[derive(serde::Deserialize)]
struct CsrfOnly {
    csrf: String,
}

async fn sign_out(
    axum::Extension(session): axum::Extension<Session>,
    headers: axum::http::HeaderMap,
    form: axum::extract::Form<CsrfOnly>,
) -> Response {
    if let Err(refused) = check_csrf(&session, &form.csrf) {
        return *refused;
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!(
                    "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
                    session::COOKIE,
                    secure_attribute(&headers)
                ),
            ),
            (header::LOCATION, "/console/login".to_string()),
        ],
    )
        .into_response()
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    )
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    )
}

async fn icon() -> Response {
    asset("image/svg+xml", include_str!("assets/icon.svg"))
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
