//! Approvals: the tasks waiting on a callback token (`.waitForTaskToken`) or an activity
//! worker, each with Approve (SendTaskSuccess with the output typed in) and Reject
//! (SendTaskFailure with an error and a cause).

use axum::Extension;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::json;

use super::session::Session;
use super::view::{self, Section};
use super::{Shared, api_error, check_csrf};
use crate::store::TaskStatus;

/// Open tasks listed, oldest first.
const LISTED: usize = 200;

pub(super) async fn list(
    State(console): Shared,
    Extension(session): Extension<Session>,
) -> Response {
    let tasks = match console.svc.store.open_tasks(LISTED).await {
        Ok(t) => t,
        Err(e) => return api_error(&session, &e.into()),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let body = html! {
        h1 { "Approvals" }
        p { "Tasks waiting for an answer: callbacks (" code { ".waitForTaskToken" } ") and activity tasks. "
            "Approve sends the output you type as the task's result; Reject fails the task with your error and cause, which the state's Retry and Catch see." }
        @if tasks.is_empty() { p.empty { "Nothing is waiting." } }
        @for t in &tasks {
            section.card.task data-state=(t.state_name) {
                h3 {
                    a href={ "/console/execution?arn=" (view::q(&t.execution_arn)) } { (view::arn_name(&t.execution_arn)) }
                    " · " (t.state_name)
                }
                p.meta {
                    @match &t.activity_arn {
                        Some(a) => { "activity " code { (view::arn_name(a)) } }
                        None => { "callback" }
                    }
                    " · waiting " (view::duration(now - t.created))
                    @if t.status == TaskStatus::Claimed {
                        " · claimed by " (t.worker.as_deref().unwrap_or("a worker"))
                    }
                }
                details { summary { "Input" } pre.json { (view::pretty(&t.input, 64 * 1024)) } }
                div.decide {
                    form method="post" action="/console/approve" {
                        (view::csrf(&session))
                        input type="hidden" name="token" value=(t.token);
                        label { "Output (JSON)" textarea name="output" rows="3" spellcheck="false" { "{\"approved\": true}" } }
                        button.approve type="submit" { "Approve" }
                    }
                    form method="post" action="/console/reject" {
                        (view::csrf(&session))
                        input type="hidden" name="token" value=(t.token);
                        label { "Error" input name="error" value="Rejected" maxlength="256"; }
                        label { "Cause" input name="cause" maxlength="32768"; }
                        button.reject.danger type="submit" { "Reject" }
                    }
                }
            }
        }
    };
    view::respond(view::page("Approvals", &session, Section::Approvals, body))
}

#[derive(serde::Deserialize)]
pub(super) struct ApproveForm {
    csrf: String,
    token: String,
    #[serde(default)]
    output: String,
}

pub(super) async fn approve(
    State(console): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<ApproveForm>,
) -> Response {
    if let Err(refused) = check_csrf(&session, &form.csrf) {
        return *refused;
    }
    let output = if form.output.trim().is_empty() {
        "{}"
    } else {
        form.output.trim()
    };
    let request = json!({"taskToken": form.token, "output": output});
    answered(&session, console.act("SendTaskSuccess", request).await)
}

#[derive(serde::Deserialize)]
pub(super) struct RejectForm {
    csrf: String,
    token: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    cause: String,
}

pub(super) async fn reject(
    State(console): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<RejectForm>,
) -> Response {
    if let Err(refused) = check_csrf(&session, &form.csrf) {
        return *refused;
    }
    let mut request = json!({"taskToken": form.token});
    if !form.error.is_empty() {
        request["error"] = json!(form.error);
    }
    if !form.cause.is_empty() {
        request["cause"] = json!(form.cause);
    }
    answered(&session, console.act("SendTaskFailure", request).await)
}

fn answered(
    session: &Session,
    result: Result<serde_json::Value, crate::api::ApiError>,
) -> Response {
    match result {
        Ok(_) => Redirect::to("/console/approvals").into_response(),
        Err(e) => api_error(session, &e),
    }
}
