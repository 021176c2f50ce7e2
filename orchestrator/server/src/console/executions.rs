//! Executions: the list with its filters and paging, one execution's page (its graph painted
//! by each state's status, the history, the states' input and output, Stop and Redrive), and
//! the JSON the page polls while the execution runs.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use serde_json::{Value, json};
use sluice_engine::lang::graph;

use super::histories::Folded;
use super::session::Session;
use super::status::{HistoryReader, StateStatus, StateView};
use super::view::{self, Section};
use super::{Console, Shared, api_error, check_csrf};
use crate::store::{
    ExecutionFilter, ExecutionRecord, ExecutionStatus, HistoryEvent, MachineType, Store,
};

/// Executions per page of the list.
const PAGE: usize = 50;
/// History rows per page of an execution.
const HISTORY_PAGE: usize = 500;
/// Events read to paint the graph: ten times AWS's quota of 25,000 events per execution. A
/// longer history is painted from its first events; the table pages through all of them.
const PAINT_EVENTS: usize = 250_000;
/// Events read from the store at a time while painting, so memory holds one chunk.
const PAINT_CHUNK: usize = 5_000;
/// Largest input or output shown for a state before it is cut.
const SHOWN_BYTES: usize = 64 * 1024;

/// A table of executions.
pub(super) fn table(rows: &[ExecutionRecord]) -> Markup {
    html! {
        @if rows.is_empty() {
            p.empty { "No executions." }
        } @else {
            table.executions {
                thead { tr { th { "Name" } th { "Status" } th { "State machine" } th { "Started" } th { "Duration" } } }
                tbody {
                    @for e in rows {
                        tr {
                            td { a href={ "/console/execution?arn=" (view::q(&e.arn)) } { (e.name) } }
                            td { (view::badge(e.status.as_str())) }
                            td {
                                @if let Some(run) = &e.map_run_arn {
                                    a href={ "/console/map-run?arn=" (view::q(run)) } { (view::arn_name(&e.state_machine_arn)) " (Map Run)" }
                                } @else {
                                    a href={ "/console/state-machine?arn=" (view::q(&e.state_machine_arn)) } { (view::arn_name(&e.state_machine_arn)) }
                                }
                            }
                            td { (view::time(e.start)) }
                            td { @if let Some(stop) = e.stop { (view::duration(stop - e.start)) } @else { "—" } }
                        }
                    }
                }
            }
        }
    }
}

#[derive(serde::Deserialize, Default)]
pub(super) struct ListQuery {
    #[serde(default)]
    machine: String,
    #[serde(default)]
    status: String,
    /// `YYYY-MM-DDTHH:MM` (UTC), as a `datetime-local` field sends it.
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    map_run: String,
    /// The last row of the previous page: `<start>|<arn>`.
    #[serde(default)]
    after: String,
}

/// A `datetime-local` value (read as UTC) as seconds since the epoch.
fn parse_time(field: &str, text: &str) -> Result<Option<f64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(t.and_utc().timestamp() as f64));
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(text, format) {
            return Ok(d
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp() as f64));
        }
    }
    Err(format!(
        "{field}: '{text}' is not a time (write 2026-12-03T07:00, read as UTC)"
    ))
}

/// The execution list.
pub(super) async fn list(
    State(console): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Response {
    let store = &console.svc.store;
    let mut problems = Vec::new();
    let status = match query.status.as_str() {
        "" => None,
        s => match s.parse::<ExecutionStatus>() {
            Ok(s) => Some(s),
            Err(_) => {
                problems.push(format!("status: '{s}' is not an execution status"));
                None
            }
        },
    };
    let since = parse_time("since", &query.since).unwrap_or_else(|e| {
        problems.push(e);
        None
    });
    let until = parse_time("until", &query.until).unwrap_or_else(|e| {
        problems.push(e);
        None
    });
    let after = match query.after.split_once('|') {
        Some((start, arn)) => match start.parse::<f64>() {
            Ok(start) if start.is_finite() => Some((start, arn.to_string())),
            _ => {
                problems.push("after: not a page marker of this list".to_string());
                None
            }
        },
        None if query.after.is_empty() => None,
        None => {
            problems.push("after: not a page marker of this list".to_string());
            None
        }
    };
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let rows = if problems.is_empty() {
        match store
            .list_executions(&ExecutionFilter {
                state_machine_arn: non_empty(&query.machine),
                map_run_arn: non_empty(&query.map_run),
                status,
                after,
                started_after: since,
                started_before: until,
                limit: PAGE + 1,
            })
            .await
        {
            Ok(rows) => rows,
            Err(e) => return api_error(&session, &e.into()),
        }
    } else {
        Vec::new()
    };
    let machines = store
        .list_state_machines(None, 1000)
        .await
        .unwrap_or_default();
    let next = (rows.len() > PAGE)
        .then(|| rows.get(PAGE - 1))
        .flatten()
        .map(|last| {
            format!(
                "/console/executions?machine={}&status={}&since={}&until={}&map_run={}&after={}",
                view::q(&query.machine),
                view::q(&query.status),
                view::q(&query.since),
                view::q(&query.until),
                view::q(&query.map_run),
                view::q(&format!("{}|{}", last.start, last.arn)),
            )
        });
    let statuses = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];
    let body = html! {
        h1 { "Executions" }
        form.filters method="get" action="/console/executions" {
            label { "State machine"
                select name="machine" {
                    option value="" { "all" }
                    @for m in &machines {
                        option value=(m.arn) selected[m.arn == query.machine] { (m.name) }
                    }
                }
            }
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in statuses { option value=(s) selected[s == query.status] { (s) } }
                }
            }
            label { "Started from (UTC)" input type="datetime-local" name="since" value=(query.since); }
            label { "until" input type="datetime-local" name="until" value=(query.until); }
            @if !query.map_run.is_empty() { input type="hidden" name="map_run" value=(query.map_run); }
            button type="submit" { "Filter" }
        }
        @for p in &problems { p.error-box { (p) } }
        (table(&rows[..rows.len().min(PAGE)]))
        @if let Some(next) = next { p { a.next href=(next) { "Next page →" } } }
    };
    view::respond(view::page(
        "Executions",
        &session,
        Section::Executions,
        body,
    ))
}

#[derive(serde::Deserialize)]
pub(super) struct PageQuery {
    arn: String,
    /// Show history rows after this event id.
    events_after: Option<i64>,
}

/// One history row.
fn history_row(e: &HistoryEvent, start: f64) -> Markup {
    let failure =
        e.kind.ends_with("Failed") || e.kind.ends_with("TimedOut") || e.kind.ends_with("Aborted");
    html! {
        tr class=[failure.then_some("failure")] data-event=(e.id) {
            td { (e.id) }
            td { (e.kind) }
            td title=(view::time(e.timestamp)) { "+" (format!("{:.3}", (e.timestamp - start).max(0.0))) " s" }
            td {
                @if let Some((_, details)) = &e.details {
                    @let name = serde_json::from_str::<Value>(details).ok()
                        .and_then(|d| d.get("name").and_then(Value::as_str).map(str::to_string));
                    details {
                        summary { @if let Some(name) = name { (name) } @else { "details" } }
                        pre.json { (view::pretty(details, SHOWN_BYTES)) }
                    }
                }
            }
        }
    }
}

/// The states' views as the JSON the page's script reads.
fn views_json(views: &BTreeMap<String, StateView>) -> Value {
    let cut = |s: &Option<String>| s.as_deref().map(|t| view::pretty(t, SHOWN_BYTES));
    Value::Object(
        views
            .iter()
            .map(|(name, v)| {
                (
                    name.clone(),
                    json!({"status": v.status.as_str(), "entered": v.entered, "input": cut(&v.input),
                           "output": cut(&v.output), "error": v.error, "cause": v.cause}),
                )
            })
            .collect(),
    )
}

/// A state of a definition by name, at any depth (Parallel branches, Map processors).
fn find_state<'a>(graph: &'a Value, name: &str) -> Option<&'a Value> {
    let states = graph.get("States")?.as_object()?;
    if let Some(state) = states.get(name) {
        return Some(state);
    }
    states.values().find_map(|state| {
        let branches = state.get("Branches").and_then(Value::as_array);
        branches
            .into_iter()
            .flatten()
            .chain(state.get("ItemProcessor"))
            .chain(state.get("Iterator"))
            .find_map(|inner| find_state(inner, name))
    })
}

/// A failed Fail state whose failure a Catch took has no failure event of its own: its error
/// and cause are the ones its definition names.
fn fill_fail_states(views: &mut BTreeMap<String, StateView>, definition: &Value) {
    for (name, view) in views.iter_mut() {
        if view.error.is_some() || view.cause.is_some() {
            continue;
        }
        if let Some(state) = find_state(definition, name)
            && state.get("Type").and_then(Value::as_str) == Some("Fail")
        {
            let text = |k: &str| state.get(k).and_then(Value::as_str).map(str::to_string);
            view.error = text("Error");
            view.cause = text("Cause");
        }
    }
}

/// A running execution whose step has not written its events yet (a Wait, say) is at the
/// state its checkpoint names: paint that one running.
async fn mark_current(
    store: &dyn Store,
    e: &ExecutionRecord,
    definition: &Value,
    views: &mut BTreeMap<String, StateView>,
) {
    if e.status != ExecutionStatus::Running
        || views.values().any(|v| v.status == StateStatus::Running)
    {
        return;
    }
    let Ok(Some(cursor)) = store.get_cursor(&e.arn).await else {
        return;
    };
    // The checkpoint's state is an index into the top-level states in definition order.
    let name = definition
        .get("States")
        .and_then(Value::as_object)
        .and_then(|states| states.keys().nth(usize::try_from(cursor.state).ok()?));
    if let Some(name) = name {
        let view = views.entry(name.clone()).or_insert(StateView {
            status: StateStatus::Running,
            entered: 1,
            input: Some(view::pretty(&cursor.input, SHOWN_BYTES)),
            output: None,
            error: None,
            cause: None,
        });
        view.status = StateStatus::Running;
    }
}

/// The definition an execution runs. A Map Run's child runs its Map's ItemProcessor, which
/// DescribeStateMachineForExecution finds in the parent's definition.
async fn definition_of(console: &super::Console, e: &ExecutionRecord) -> Value {
    let text = if e.map_run_arn.is_some() {
        console
            .act(
                "DescribeStateMachineForExecution",
                json!({"executionArn": e.arn}),
            )
            .await
            .ok()
            .and_then(|d| {
                d.get("definition")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default()
    } else {
        e.definition.clone()
    };
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// An execution's history read through: each state's view, the events a page shows, and the
/// last event's id.
struct Painted {
    views: BTreeMap<String, StateView>,
    /// Up to `keep` events after `keep_after`, in order.
    kept: Vec<HistoryEvent>,
    last_event: i64,
}

/// Paint each state from an execution's whole history and keep up to `keep` events after the
/// id `keep_after`. The fold of the history read last time is taken up where it stopped, so
/// a page polled every second reads only the new events.
async fn paint(console: &Console, e: &ExecutionRecord, keep_after: i64, keep: usize) -> Painted {
    let store = console.svc.store.as_ref();
    let mut f = console.histories.get(&e.arn, e.start).unwrap_or(Folded {
        reader: HistoryReader::default(),
        last_event: 0,
        read: 0,
    });
    let before = f.last_event;
    while f.read < PAINT_EVENTS {
        let after = (f.last_event > 0).then_some(f.last_event);
        let chunk = match store.history(&e.arn, after, false, PAINT_CHUNK).await {
            Ok(chunk) => chunk,
            Err(err) => {
                tracing::warn!(target: "sluice::console", execution = %e.arn, error = %err, "history could not be read to paint the graph");
                break;
            }
        };
        f.reader.read(&chunk);
        f.read += chunk.len();
        let Some(last) = chunk.last() else { break };
        f.last_event = last.id;
        if chunk.len() < PAINT_CHUNK {
            break;
        }
    }
    let last_event = f.last_event;
    // Read after the fold and cut at its last event, so the rows and the colours are one
    // moment of the history.
    let mut kept = store
        .history(&e.arn, Some(keep_after).filter(|a| *a > 0), false, keep)
        .await
        .unwrap_or_default();
    kept.retain(|ev| ev.id <= last_event);
    let views = if last_event == before {
        f.reader.into_views()
    } else {
        let views = f.reader.clone().into_views();
        console.histories.put(&e.arn, e.start, f);
        views
    };
    Painted {
        views,
        kept,
        last_event,
    }
}

/// One execution's page.
pub(super) async fn page(
    State(console): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<PageQuery>,
) -> Response {
    let store = console.svc.store.as_ref();
    let e = match store.get_execution(&query.arn).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            return view::error_page(
                &session,
                StatusCode::NOT_FOUND,
                "ExecutionDoesNotExist",
                &format!("Execution Does Not Exist: '{}'", query.arn),
            );
        }
        Err(err) => return api_error(&session, &err.into()),
    };
    let definition = definition_of(&console, &e).await;
    let Painted {
        mut views,
        kept: shown,
        last_event,
    } = paint(
        &console,
        &e,
        query.events_after.unwrap_or(0),
        HISTORY_PAGE + 1,
    )
    .await;
    fill_fail_states(&mut views, &definition);
    mark_current(store, &e, &definition, &mut views).await;
    let map_runs = store.list_map_runs(&e.arn).await.unwrap_or_default();
    let layout = graph::layout(&definition);
    let svg = graph::svg_painted(&layout, &|n| {
        Some(
            views
                .get(&n.name)
                .map_or("unreached", |v| v.status.as_str())
                .to_string(),
        )
    });
    let running = e.status == ExecutionStatus::Running;
    let redrivable = matches!(
        e.status,
        ExecutionStatus::Failed | ExecutionStatus::Aborted | ExecutionStatus::TimedOut
    ) && e.kind == MachineType::Standard
        // A Map Run's children are redriven with their parent, not one by one (as on AWS).
        && e.map_run_arn.is_none();
    let more_events = shown.len() > HISTORY_PAGE;
    let body = html! {
        div #execution data-arn=(e.arn) data-status=(e.status.as_str()) data-last-event=(last_event)
            data-live={ "/console/execution/live?arn=" (view::q(&e.arn)) } {
            p.crumbs {
                @if let Some(run) = &e.map_run_arn {
                    (view::arn_name(&e.state_machine_arn)) " / "
                    a href={ "/console/map-run?arn=" (view::q(run)) } { "Map Run" } " / "
                } @else {
                    a href={ "/console/state-machine?arn=" (view::q(&e.state_machine_arn)) } { (view::arn_name(&e.state_machine_arn)) }
                    " / "
                }
                (e.name)
            }
            h1 { (e.name) " " span #status { (view::badge(e.status.as_str())) } }
            p.meta {
                code { (e.arn) } br;
                "started " (view::time(e.start))
                @if let Some(stop) = e.stop { " · ended " (view::time(stop)) " · took " (view::duration(stop - e.start)) }
                @if e.redrive_count > 0 { " · redriven " (e.redrive_count) "×" }
                " · " (e.kind.as_str())
            }
            @if e.error.is_some() || e.cause.is_some() {
                div.error-box #failure {
                    strong { (e.error.as_deref().unwrap_or("")) }
                    @if let Some(cause) = &e.cause { pre { (view::pretty(cause, SHOWN_BYTES)) } }
                }
            }
            div.actions {
                @if running {
                    form method="post" action="/console/stop" {
                        (view::csrf(&session))
                        input type="hidden" name="arn" value=(e.arn);
                        input name="error" placeholder="error (optional)" maxlength="256";
                        input name="cause" placeholder="cause (optional)" maxlength="32768";
                        button.danger #stop type="submit" { "Stop" }
                    }
                }
                @if redrivable {
                    form method="post" action="/console/redrive" {
                        (view::csrf(&session))
                        input type="hidden" name="arn" value=(e.arn);
                        button #redrive type="submit" { "Redrive" }
                    }
                }
                @if running { span.live #live { "● live" } }
            }
            div.split {
                div.graph #graph { (PreEscaped(svg)) }
                aside #state-panel {
                    p.empty { "Click a state to see its input and output." }
                }
            }
            (super::machines::legend())
            script #state-views type="application/json" { (view::script_json(&views_json(&views))) }
            @if !map_runs.is_empty() {
                h2 { "Map Runs" }
                table {
                    thead { tr { th { "Map Run" } th { "Status" } th { "Items" } th { "Started" } } }
                    tbody {
                        @for run in &map_runs {
                            tr {
                                td { a href={ "/console/map-run?arn=" (view::q(&run.arn)) } { (view::arn_name(&run.arn)) } }
                                td { (view::badge(&run.status)) }
                                td { (run.items_succeeded) " succeeded, " (run.items_failed) " failed"
                                     @if let Some(total) = run.items_total { " of " (total) } }
                                td { (view::time(run.start)) }
                            }
                        }
                    }
                }
            }
            div.io {
                details {
                    summary { "Execution input" }
                    pre.json { (view::pretty(&e.input, SHOWN_BYTES)) }
                }
                @if let Some(output) = &e.output {
                    details open {
                        summary { "Execution output" }
                        pre.json #output { (view::pretty(output, SHOWN_BYTES)) }
                    }
                }
            }
            h2 { "Events" }
            table.history {
                thead { tr { th { "#" } th { "Type" } th { "Time" } th { "Details" } } }
                tbody #history {
                    @for ev in shown.iter().take(HISTORY_PAGE) { (history_row(ev, e.start)) }
                }
            }
            @if more_events {
                @if let Some(last) = shown.get(HISTORY_PAGE - 1) {
                    p { a.next href={ "/console/execution?arn=" (view::q(&e.arn)) "&events_after=" (last.id) } { "Later events →" } }
                }
            }
        }
    };
    view::respond(view::page(&e.name, &session, Section::Executions, body))
}

#[derive(serde::Deserialize)]
pub(super) struct LiveQuery {
    arn: String,
    /// The last event the page shows.
    #[serde(default)]
    after: i64,
}

/// What a running execution's page needs to catch up: its status, every state's view, and
/// the history rows after the page's last one.
pub(super) async fn live(
    State(console): Shared,
    Extension(_session): Extension<Session>,
    Query(query): Query<LiveQuery>,
) -> Response {
    let store = console.svc.store.as_ref();
    let e = match store.get_execution(&query.arn).await {
        Ok(Some(e)) => e,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such execution").into_response(),
        Err(err) => return (StatusCode::SERVICE_UNAVAILABLE, err.to_string()).into_response(),
    };
    let Painted {
        mut views,
        kept: new,
        ..
    } = paint(&console, &e, query.after, HISTORY_PAGE).await;
    let definition = definition_of(&console, &e).await;
    fill_fail_states(&mut views, &definition);
    mark_current(store, &e, &definition, &mut views).await;
    let rows: String = new
        .iter()
        .map(|ev| history_row(ev, e.start).into_string())
        .collect();
    let last = new.last().map_or(query.after, |ev| ev.id);
    let body = json!({
        "status": e.status.as_str(),
        "states": views_json(&views),
        "rows": rows,
        "last": last,
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct StopForm {
    csrf: String,
    arn: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    cause: String,
}

/// Stop a running execution (StopExecution).
pub(super) async fn stop(
    State(console): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<StopForm>,
) -> Response {
    if let Err(refused) = check_csrf(&session, &form.csrf) {
        return *refused;
    }
    let mut request = json!({"executionArn": form.arn});
    if !form.error.is_empty() {
        request["error"] = json!(form.error);
    }
    if !form.cause.is_empty() {
        request["cause"] = json!(form.cause);
    }
    back_to_execution(
        &session,
        &form.arn,
        console.act("StopExecution", request).await,
    )
}

#[derive(serde::Deserialize)]
pub(super) struct ArnForm {
    csrf: String,
    arn: String,
}

/// Redrive a failed execution (RedriveExecution).
pub(super) async fn redrive(
    State(console): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<ArnForm>,
) -> Response {
    if let Err(refused) = check_csrf(&session, &form.csrf) {
        return *refused;
    }
    let request = json!({"executionArn": form.arn});
    back_to_execution(
        &session,
        &form.arn,
        console.act("RedriveExecution", request).await,
    )
}

fn back_to_execution(
    session: &Session,
    arn: &str,
    result: Result<Value, crate::api::ApiError>,
) -> Response {
    match result {
        Ok(_) => Redirect::to(&format!("/console/execution?arn={}", view::q(arn))).into_response(),
        Err(e) => api_error(session, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_utc_with_a_located_error() {
        assert_eq!(parse_time("since", "").expect("a time"), None);
        assert_eq!(
            parse_time("since", "1970-01-02T00:00").expect("a time"),
            Some(86_400.0)
        );
        assert_eq!(
            parse_time("since", "1970-01-02").expect("a time"),
            Some(86_400.0)
        );
        let err = parse_time("until", "yesterday").expect_err("not a time");
        assert!(err.starts_with("until:"), "{err}");
    }
}
