//! State machines: the list (the console's home), one machine's page with its graph, its
//! validation problems and a form to start it, and a page that checks a pasted definition.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use serde_json::{Value, json};
use sluice_engine::lang::validate::Diagnostic;
use sluice_engine::lang::{checker, graph};

use super::session::Session;
use super::view::{self, Section};
use super::{Shared, api_error, check_csrf};
use crate::store::ExecutionFilter;

/// How many state machines the home page lists per page.
const PAGE: usize = 100;

#[derive(serde::Deserialize)]
pub(super) struct HomeQuery {
    after: Option<String>,
}

/// The home page: every state machine, and the latest executions.
pub(super) async fn home(
    State(console): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<HomeQuery>,
) -> Response {
    let store = &console.svc.store;
    let machines = match store
        .list_state_machines(query.after.as_deref(), PAGE + 1)
        .await
    {
        Ok(m) => m,
        Err(e) => return api_error(&session, &e.into()),
    };
    let recent = store
        .list_executions(&ExecutionFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap_or_default();
    let more = machines.len() > PAGE;
    let body = html! {
        h1 { "State machines" }
        @if machines.is_empty() {
            p.empty { "No state machines yet. Create one with "
                code { "aws stepfunctions create-state-machine --endpoint-url …" }
                ", or try a definition on the " a href="/console/check" { "check page" } "." }
        } @else {
            table {
                thead { tr { th { "Name" } th { "Type" } th { "Created" } th { "Revision" } th {} } }
                tbody {
                    @for m in machines.iter().take(PAGE) {
                        tr {
                            td { a href={ "/console/state-machine?arn=" (view::q(&m.arn)) } { (m.name) } }
                            td { (m.kind.as_str()) }
                            td { (view::time(m.created)) }
                            td { (m.revision) }
                            td { a href={ "/console/executions?machine=" (view::q(&m.arn)) } { "Executions" } }
                        }
                    }
                }
            }
            @if more {
                @if let Some(last) = machines.get(PAGE - 1) {
                    p { a.next href={ "/?after=" (view::q(&last.name)) } { "Next page →" } }
                }
            }
        }
        h2 { "Latest executions" }
        (super::executions::table(&recent))
    };
    view::respond(view::page(
        "State machines",
        &session,
        Section::Machines,
        body,
    ))
}

#[derive(serde::Deserialize)]
pub(super) struct ArnQuery {
    arn: String,
}

/// The graph of a definition with its problems marked on the states they are in.
pub(super) fn graph_with_problems(definition: &Value, problems: &[Diagnostic]) -> Markup {
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for p in problems {
        if let Some(state) = &p.state {
            *by_state.entry(state.as_str()).or_default() += 1;
        }
    }
    let layout = graph::layout(definition);
    let svg = graph::svg_painted(&layout, &|n| {
        by_state
            .contains_key(n.name.as_str())
            .then(|| "problem".to_string())
    });
    html! {
        div.graph { (PreEscaped(svg)) }
        (legend())
        @if problems.is_empty() {
            p.ok-box { "No problems: the definition is valid." }
        } @else {
            h2 { (problems.len()) " problem" @if problems.len() != 1 { "s" } }
            table.problems {
                thead { tr { th { "State" } th { "Where" } th { "Code" } th { "Problem" } } }
                tbody {
                    @for p in problems {
                        tr data-state=[p.state.as_deref()] {
                            td { (p.state.as_deref().unwrap_or("—")) }
                            td { code { (if p.pointer.is_empty() { "/" } else { &p.pointer }) } }
                            td { code { (p.code) } }
                            td { (p.message) }
                        }
                    }
                }
            }
        }
    }
}

/// What the colours of a graph mean.
pub(super) fn legend() -> Markup {
    html! {
        p.legend {
            span.key.succeeded { "succeeded" } span.key.caught { "caught" } span.key.failed { "failed" }
            span.key.running { "running" } span.key.aborted { "aborted" } span.key.unreached { "not reached" }
            span.key.problem { "has a problem" }
            span.edge-key.catch { "Catch" } span.edge-key.default { "Default" } span.edge-key.choice { "Choice rule" }
        }
    }
}

/// One state machine: graph, problems, a start form, its latest executions, the definition.
pub(super) async fn machine(
    State(console): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ArnQuery>,
) -> Response {
    let store = &console.svc.store;
    let sm = match store.get_state_machine(&query.arn).await {
        Ok(Some(sm)) => sm,
        Ok(None) => {
            return view::error_page(
                &session,
                StatusCode::NOT_FOUND,
                "StateMachineDoesNotExist",
                &format!("State Machine Does Not Exist: '{}'", query.arn),
            );
        }
        Err(e) => return api_error(&session, &e.into()),
    };
    let definition: Value = serde_json::from_str(&sm.definition).unwrap_or(Value::Null);
    let problems = checker::validate(&definition);
    let recent = store
        .list_executions(&ExecutionFilter {
            state_machine_arn: Some(sm.arn.clone()),
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap_or_default();
    let body = html! {
        p.crumbs { a href="/" { "State machines" } " / " (sm.name) }
        h1 { (sm.name) " " span.kind { (sm.kind.as_str()) } }
        p.meta { code { (sm.arn) } " · created " (view::time(sm.created)) " · revision " (sm.revision) }
        (graph_with_problems(&definition, &problems))
        h2 { "Start an execution" }
        form.card method="post" action="/console/start" {
            (view::csrf(&session))
            input type="hidden" name="arn" value=(sm.arn);
            label { "Name (optional)" input name="name" maxlength="80" placeholder="a UUID when empty"; }
            label { "Input (JSON)" textarea name="input" rows="6" spellcheck="false" { "{}" } }
            button type="submit" { "Start execution" }
        }
        h2 { "Latest executions " a.small href={ "/console/executions?machine=" (view::q(&sm.arn)) } { "all →" } }
        (super::executions::table(&recent))
        details {
            summary { "Definition" }
            pre.json { (view::pretty(&sm.definition, 1 << 20)) }
        }
    };
    view::respond(view::page(&sm.name, &session, Section::Machines, body))
}

#[derive(serde::Deserialize)]
pub(super) struct StartForm {
    csrf: String,
    arn: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    input: String,
}

/// Start an execution (StartExecution, so the API's checks apply) and show it.
pub(super) async fn start(
    State(console): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<StartForm>,
) -> Response {
    if let Err(refused) = check_csrf(&session, &form.csrf) {
        return *refused;
    }
    let mut request = json!({"stateMachineArn": form.arn});
    let input = form.input.trim();
    request["input"] = json!(if input.is_empty() { "{}" } else { input });
    let name = form.name.trim();
    if !name.is_empty() {
        request["name"] = json!(name);
    }
    match console.act("StartExecution", request).await {
        Ok(reply) => {
            let arn = reply
                .get("executionArn")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Redirect::to(&format!("/console/execution?arn={}", view::q(arn))).into_response()
        }
        Err(e) => api_error(&session, &e),
    }
}

/// The check page, empty.
pub(super) async fn check_form(Extension(session): Extension<Session>) -> Response {
    view::respond(check_page(&session, "", None))
}

#[derive(serde::Deserialize)]
pub(super) struct CheckForm {
    csrf: String,
    definition: String,
}

/// Check a pasted definition: its graph and every problem, located.
pub(super) async fn check(
    Extension(session): Extension<Session>,
    Form(form): Form<CheckForm>,
) -> Response {
    if let Err(refused) = check_csrf(&session, &form.csrf) {
        return *refused;
    }
    let result = match sluice_engine::lang::load::parse_document(&form.definition, "definition") {
        Ok(definition) => {
            let problems = checker::validate(&definition);
            graph_with_problems(&definition, &problems)
        }
        Err(e) => html! { p.error-box { "The definition is not JSON or YAML: " (e) } },
    };
    view::respond(check_page(&session, &form.definition, Some(result)))
}

fn check_page(session: &Session, text: &str, result: Option<Markup>) -> Markup {
    view::page(
        "Check a definition",
        session,
        Section::Check,
        html! {
            h1 { "Check a definition" }
            p { "Paste an Amazon States Language definition (JSON or YAML). It is drawn and validated here; nothing is stored." }
            form.card method="post" action="/console/check" {
                (view::csrf(session))
                textarea name="definition" rows="14" spellcheck="false" { (text) }
                button type="submit" { "Check" }
            }
            @if let Some(result) = result { (result) }
        },
    )
}
