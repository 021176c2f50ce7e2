//! A Map Run's page: progress (items and children by status, the rate), failed children with
//! their causes, and the children themselves. It reloads itself while the run is going.

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::session::Session;
use super::view::{self, Section};
use super::{Shared, api_error};
use crate::store::{ExecutionFilter, ExecutionStatus};

/// Failed children shown with their causes.
const FAILURES: usize = 20;
/// Children listed on the page (the executions list pages through all of them).
const CHILDREN: usize = 50;

#[derive(serde::Deserialize)]
pub(super) struct RunQuery {
    arn: String,
}

pub(super) async fn page(
    State(console): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<RunQuery>,
) -> Response {
    let store = &console.svc.store;
    // The book has the live counts of a run this replica drives, else the stored ones.
    let run = match console
        .svc
        .map_runs
        .describe(store.as_ref(), &query.arn)
        .await
    {
        Ok(Some(run)) => run,
        Ok(None) => {
            return view::error_page(
                &session,
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                &format!("Map Run Does Not Exist: '{}'", query.arn),
            );
        }
        Err(e) => return api_error(&session, &e.into()),
    };
    let children = |status: Option<ExecutionStatus>, limit: usize| ExecutionFilter {
        map_run_arn: Some(run.arn.clone()),
        status,
        limit,
        ..Default::default()
    };
    let failures = store
        .list_executions(&children(Some(ExecutionStatus::Failed), FAILURES))
        .await
        .unwrap_or_default();
    let listed = store
        .list_executions(&children(None, CHILDREN))
        .await
        .unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let elapsed = run.stop.unwrap_or(now) - run.start;
    let done = run.items_succeeded + run.items_failed;
    let rate = if elapsed > 0.0 {
        done as f64 / elapsed
    } else {
        0.0
    };
    let running = run.status == "RUNNING";
    let pending = run
        .items_total
        .map(|t| (t - done).max(0))
        .map_or("not known yet (still reading)".to_string(), |p| {
            p.to_string()
        });
    let body = html! {
        div #map-run data-status=(run.status) data-refresh=[running.then_some("2")] {
            p.crumbs {
                a href={ "/console/execution?arn=" (view::q(&run.execution_arn)) } { (view::arn_name(&run.execution_arn)) }
                " / Map Run"
            }
            h1 { "Map Run " span #status { (view::badge(&run.status)) } }
            p.meta { code { (run.arn) } br; "started " (view::time(run.start))
                @if let Some(stop) = run.stop { " · ended " (view::time(stop)) }
                " · took " (view::duration(elapsed))
                @if run.redrive_count > 0 { " · redriven " (run.redrive_count) "×" } }
            @if let Some(total) = run.items_total.filter(|t| *t > 0) {
                progress #progress max=(total) value=(done) { (done) " of " (total) }
            }
            table.counts {
                thead { tr { th {} th { "Succeeded" } th { "Failed" } th { "Running" } th { "Pending" } th { "Total" } } }
                tbody {
                    tr { th { "Items" } td #items-succeeded { (run.items_succeeded) } td #items-failed { (run.items_failed) } td { "—" }
                         td { (pending) } td { (run.items_total.map_or("—".to_string(), |t| t.to_string())) } }
                    tr { th { "Child executions" } td { (run.succeeded) } td { (run.failed) } td { (run.running) } td { "—" }
                         td { (run.total.map_or("—".to_string(), |t| t.to_string())) } }
                }
            }
            p.meta {
                (format!("{rate:.1}")) " items/s · max concurrency " @if run.max_concurrency > 0 { (run.max_concurrency) } @else { "unlimited" }
                " · tolerated failures " (run.tolerated_failure_percentage) " % or " (run.tolerated_failure_count)
                @if run.results_written > 0 { " · results written for " (run.items_results_written) " items" }
            }
            h2 { "Failures" }
            @if failures.is_empty() { p.empty { "None." } } @else {
                table {
                    thead { tr { th { "Child" } th { "Error" } th { "Cause" } } }
                    tbody {
                        @for f in &failures {
                            tr.failure {
                                td { a href={ "/console/execution?arn=" (view::q(&f.arn)) } { (f.name) } }
                                td { (f.error.as_deref().unwrap_or("")) }
                                td { pre { (view::pretty(f.cause.as_deref().unwrap_or(""), 2000)) } }
                            }
                        }
                    }
                }
            }
            h2 { "Children " a.small href={ "/console/executions?map_run=" (view::q(&run.arn)) } { "all →" } }
            (super::executions::table(&listed))
        }
    };
    view::respond(view::page("Map Run", &session, Section::Executions, body))
}
