//! Activities and schedules: each activity's queue (tasks waiting, the oldest one's age),
//! each schedule's next fire time, and the object triggers.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use maud::html;

use super::session::Session;
use super::view::{self, Section};
use super::{Shared, api_error};
use crate::store::ScheduleFilter;

/// Rows listed per table.
const LISTED: usize = 500;

pub(super) async fn page(
    State(console): Shared,
    Extension(session): Extension<Session>,
) -> Response {
    let store = &console.svc.store;
    let activities = match store.list_activities(None, LISTED).await {
        Ok(a) => a,
        Err(e) => return api_error(&session, &e.into()),
    };
    let queues: HashMap<String, (i64, f64)> = store
        .pending_tasks()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(arn, n, oldest)| (arn, (n, oldest)))
        .collect();
    let schedules = store
        .list_schedules(&ScheduleFilter {
            limit: LISTED,
            ..Default::default()
        })
        .await
        .unwrap_or_default();
    let triggers = store.list_triggers().await.unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let body = html! {
        h1 { "Activities" }
        @if activities.is_empty() { p.empty { "No activities." } } @else {
            table #activities {
                thead { tr { th { "Activity" } th { "Tasks waiting" } th { "Oldest waiting for" } th { "Created" } } }
                tbody {
                    @for a in &activities {
                        @let queue = queues.get(&a.arn);
                        tr {
                            td { (a.name) br; code.small { (a.arn) } }
                            td.depth { (queue.map_or(0, |q| q.0)) }
                            td { (queue.map_or("—".to_string(), |q| view::duration(now - q.1))) }
                            td { (view::time(a.created)) }
                        }
                    }
                }
            }
        }
        h1 { "Schedules" }
        @if schedules.is_empty() { p.empty { "No schedules." } } @else {
            table #schedules {
                thead { tr { th { "Schedule" } th { "Expression" } th { "State" } th { "Next fire" } th { "Target" } } }
                tbody {
                    @for s in &schedules {
                        tr {
                            td { (s.group) " / " (s.name) }
                            td { code { (s.expression) } " " span.small { (s.timezone) } }
                            td { (s.state.as_str()) }
                            td { (s.next_fire.map_or("none left".to_string(), view::time)) }
                            td { a href={ "/console/state-machine?arn=" (view::q(&s.target_arn)) } { (view::arn_name(&s.target_arn)) } }
                        }
                    }
                }
            }
        }
        h1 { "Triggers" }
        @if triggers.is_empty() { p.empty { "No object triggers." } } @else {
            table #triggers {
                thead { tr { th { "Trigger" } th { "Watches" } th { "State" } th { "Last listed" } th { "Target" } } }
                tbody {
                    @for t in &triggers {
                        tr {
                            td { (t.name) }
                            td { code { "s3://" (t.bucket) "/" (t.prefix) "…" (t.suffix) } " every " (t.interval_seconds) " s" }
                            td { (t.state.as_str()) }
                            td { (t.last_listed.map_or("never".to_string(), view::time)) }
                            td { a href={ "/console/state-machine?arn=" (view::q(&t.target_arn)) } { (view::arn_name(&t.target_arn)) } }
                        }
                    }
                }
            }
        }
    };
    view::respond(view::page(
        "Activities & schedules",
        &session,
        Section::Queues,
        body,
    ))
}
