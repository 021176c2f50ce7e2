//! The EventBridge Scheduler API (REST JSON at AWS's paths: `POST /schedules/{Name}` and so
//! on), so `aws scheduler … --endpoint-url` and boto3's `scheduler` client manage sluice's
//! schedules; and sluice's own object-trigger API under `/sluice/triggers`, with the
//! endpoint S3-compatible servers push event notifications to.

use std::sync::Arc;

use axum::http::{Method, StatusCode, Uri};
use chrono::Utc;
use serde_json::{Map, Value, json};
use sluice_schedule::{Expression, Schedule};

use super::{ApiError, Caller};
use crate::service::Service;
use crate::service::schedules::{
    DEFAULT_CATCH_UP_LIMIT, DEFAULT_GROUP, compile, render_input, seconds, utc,
};
use crate::store::{
    ScheduleFilter, ScheduleGroupRecord, ScheduleRecord, StoreError, Switch, TriggerRecord,
};

type Reply = Result<Value, ApiError>;

/// Route one REST request to its operation. `None`: not a path this module serves.
pub async fn route(
    svc: &Arc<Service>,
    caller: &Caller,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Option<Reply> {
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let query = Query::parse(uri.query().unwrap_or(""));
    let reply = match (method.as_str(), segments.as_slice()) {
        ("GET", ["schedules"]) => list_schedules(svc, &query).await,
        ("POST", ["schedules", name]) => match json_body(body) {
            Ok(input) => create_schedule(svc, caller, name, &input).await,
            Err(e) => Err(e),
        },
        ("PUT", ["schedules", name]) => match json_body(body) {
            Ok(input) => update_schedule(svc, caller, name, &input).await,
            Err(e) => Err(e),
        },
        ("GET", ["schedules", name]) => get_schedule(svc, name, &query).await,
        ("DELETE", ["schedules", name]) => delete_schedule(svc, name, &query).await,
        ("GET", ["schedule-groups"]) => list_groups(svc, caller, &query).await,
        ("POST", ["schedule-groups", name]) => match json_body(body) {
            Ok(_) => create_group(svc, caller, name).await,
            Err(e) => Err(e),
        },
        ("GET", ["schedule-groups", name]) => get_group(svc, caller, name).await,
        ("DELETE", ["schedule-groups", name]) => delete_group(svc, name).await,
        ("GET", ["sluice", "triggers"]) => list_triggers(svc).await,
        ("POST", ["sluice", "triggers", name]) => match json_body(body) {
            Ok(input) => create_trigger(svc, caller, name, &input).await,
            Err(e) => Err(e),
        },
        ("GET", ["sluice", "triggers", name]) => get_trigger(svc, name).await,
        ("PUT", ["sluice", "triggers", name]) => match json_body(body) {
            Ok(input) => set_trigger_state(svc, name, &input).await,
            Err(e) => Err(e),
        },
        ("DELETE", ["sluice", "triggers", name]) => delete_trigger(svc, name).await,
        ("POST", ["sluice", "triggers", name, "list"]) => list_trigger_now(svc, name).await,
        (_, ["schedules", ..]) | (_, ["schedule-groups", ..]) | (_, ["sluice", "triggers", ..]) => {
            Err(ApiError::new(
                "UnknownOperationException",
                format!("sluice has no operation {method} {}", uri.path()),
            )
            .with_status(StatusCode::NOT_FOUND))
        }
        _ => return None,
    };
    Some(reply)
}

/// Query parameters, percent-decoded.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(text: &str) -> Query {
        Query(
            text.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    let decode = |s: &str| {
                        percent_encoding::percent_decode_str(&s.replace('+', " "))
                            .decode_utf8_lossy()
                            .into_owned()
                    };
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::serialization(format!("request body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::serialization(
            "request body must be a JSON object",
        ));
    }
    Ok(value)
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::validation(format!("{field}: {message}"))
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFoundException",
        format!("{what} does not exist."),
    )
    .with_status(StatusCode::NOT_FOUND)
}

fn conflict(what: &str) -> ApiError {
    ApiError::new("ConflictException", format!("{what} already exists."))
        .with_status(StatusCode::CONFLICT)
}

/// Schedule, group and trigger names: 1–64 of `0-9 a-z A-Z - _ .`, as EventBridge allows.
fn check_name(field: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{name:?} must be 1 to 64 characters of 0-9, a-z, A-Z, '-', '_' and '.'"),
        ))
    }
}

fn text_field<'a>(input: &'a Value, field: &str) -> Result<Option<&'a str>, ApiError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

fn required_text<'a>(input: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    text_field(input, field)?.ok_or_else(|| invalid(field, "is required"))
}

/// A timestamp: epoch seconds (what the AWS SDKs send) or an RFC 3339 string.
fn time_field(input: &Value, field: &str) -> Result<Option<f64>, ApiError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|s| s.is_finite() && (0.0..=7_258_118_400.0).contains(s))
            .map(Some)
            .ok_or_else(|| invalid(field, "must be a time between 1970 and 2199")),
        Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.timestamp_micros() as f64 / 1e6))
            .map_err(|e| invalid(field, format!("{s:?} is not an RFC 3339 time: {e}"))),
        Some(_) => Err(invalid(field, "must be a timestamp")),
    }
}

fn schedule_arn(caller: &Caller, svc: &Service, group: &str, name: &str) -> String {
    format!(
        "arn:aws:scheduler:{}:{}:schedule/{group}/{name}",
        caller.region, svc.config.account
    )
}

/// A schedule from a CreateSchedule or UpdateSchedule request, every field checked.
async fn schedule_from(
    svc: &Arc<Service>,
    caller: &Caller,
    name: &str,
    input: &Value,
    now: f64,
) -> Result<ScheduleRecord, ApiError> {
    check_name("Name", name)?;
    let group = text_field(input, "GroupName")?.unwrap_or(DEFAULT_GROUP);
    check_name("GroupName", group)?;
    let expression_text = required_text(input, "ScheduleExpression")?;
    let expression =
        Expression::parse(expression_text).map_err(|e| invalid("ScheduleExpression", e))?;
    let timezone = text_field(input, "ScheduleExpressionTimezone")?.unwrap_or("UTC");
    let zone = sluice_schedule::parse_zone(timezone)
        .map_err(|e| invalid("ScheduleExpressionTimezone", e))?;
    let start = time_field(input, "StartDate")?;
    let end = time_field(input, "EndDate")?;
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        return Err(invalid("EndDate", "must be later than StartDate"));
    }
    let state = match text_field(input, "State")? {
        None => Switch::Enabled,
        Some(s) => {
            Switch::parse(s).ok_or_else(|| invalid("State", "must be ENABLED or DISABLED"))?
        }
    };
    let window = input
        .get("FlexibleTimeWindow")
        .ok_or_else(|| invalid("FlexibleTimeWindow", "is required"))?;
    match window.get("Mode").and_then(Value::as_str) {
        Some("OFF") => {}
        Some("FLEXIBLE") => {
            let minutes = window.get("MaximumWindowInMinutes").and_then(Value::as_u64);
            if !matches!(minutes, Some(1..=1440)) {
                return Err(invalid(
                    "FlexibleTimeWindow.MaximumWindowInMinutes",
                    "must be 1 to 1440 when Mode is FLEXIBLE",
                ));
            }
        }
        _ => {
            return Err(invalid(
                "FlexibleTimeWindow.Mode",
                "must be OFF or FLEXIBLE",
            ));
        }
    }
    let target = input
        .get("Target")
        .filter(|t| t.is_object())
        .ok_or_else(|| invalid("Target", "is required (an object with Arn and RoleArn)"))?;
    let target_arn = required_text(target, "Arn").map_err(|e| prefixed("Target.", e))?;
    let role_arn = required_text(target, "RoleArn").map_err(|e| prefixed("Target.", e))?;
    let template = text_field(target, "Input").map_err(|e| prefixed("Target.", e))?;
    let parts: Vec<&str> = target_arn.split(':').collect();
    if parts.len() != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" {
        return Err(invalid(
            "Target.Arn",
            format!(
                "{target_arn:?} is not a state machine ARN; sluice's schedules start state machines"
            ),
        ));
    }
    if svc.store.get_state_machine(target_arn).await?.is_none() {
        return Err(invalid(
            "Target.Arn",
            format!("the state machine {target_arn} does not exist"),
        ));
    }
    let arn = schedule_arn(caller, svc, group, name);
    if let Some(t) = template {
        let sample = render_input(Some(t), &arn, Utc::now());
        serde_json::from_str::<Value>(&sample).map_err(|e| {
            invalid(
                "Target.Input",
                format!("is not JSON once its <aws.scheduler.…> attributes are filled in: {e}"),
            )
        })?;
    }
    let (catch_up, catch_up_limit) = match input.get("SluiceCatchUp") {
        None | Some(Value::Null) => ("LATEST", DEFAULT_CATCH_UP_LIMIT),
        Some(c) => {
            let mode = match c.get("Mode").and_then(Value::as_str) {
                Some(m @ ("ALL" | "LATEST")) => m,
                _ => return Err(invalid("SluiceCatchUp.Mode", "must be ALL or LATEST")),
            };
            let limit = match c.get("Limit") {
                None | Some(Value::Null) => DEFAULT_CATCH_UP_LIMIT,
                Some(v) => v
                    .as_i64()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| invalid("SluiceCatchUp.Limit", "must be 1 to 100000"))?,
            };
            (mode, limit)
        }
    };
    let after_completion = match text_field(input, "ActionAfterCompletion")? {
        None | Some("NONE") => "NONE",
        Some("DELETE") => "DELETE",
        Some(_) => {
            return Err(invalid("ActionAfterCompletion", "must be NONE or DELETE"));
        }
    };
    let description = text_field(input, "Description")?;
    if description.is_some_and(|d| d.chars().count() > 512) {
        return Err(invalid("Description", "must be at most 512 characters"));
    }
    // Fields sluice keeps and returns but does not act on.
    let mut extra = Map::new();
    extra.insert("FlexibleTimeWindow".into(), window.clone());
    let mut target_rest = target.as_object().cloned().unwrap_or_default();
    for known in ["Arn", "RoleArn", "Input"] {
        target_rest.remove(known);
    }
    extra.insert("Target".into(), Value::Object(target_rest));
    if let Some(k) = text_field(input, "KmsKeyArn")? {
        extra.insert("KmsKeyArn".into(), json!(k));
    }
    let schedule = Schedule {
        expression,
        zone,
        start: start.map(utc),
        end: end.map(utc),
        anchor: utc(now.floor()),
    };
    Ok(ScheduleRecord {
        group: group.to_string(),
        name: name.to_string(),
        arn,
        expression: expression_text.to_string(),
        timezone: timezone.to_string(),
        start,
        end,
        state,
        description: description.map(str::to_string),
        target_arn: target_arn.to_string(),
        role_arn: role_arn.to_string(),
        input: template.map(str::to_string),
        extra: Value::Object(extra).to_string(),
        catch_up: catch_up.to_string(),
        catch_up_limit,
        after_completion: after_completion.to_string(),
        created: now,
        modified: now,
        // A schedule without a start date starts at once (a rate's first tick is its creation).
        next_fire: schedule.first_at_or_after(utc(now.floor())).map(seconds),
        version: 0,
    })
}

fn prefixed(prefix: &str, mut e: ApiError) -> ApiError {
    e.message = format!("{prefix}{}", e.message);
    e
}

/// Schedules go in `default` or in a group created before them, as on AWS.
async fn check_group_exists(svc: &Arc<Service>, group: &str) -> Result<(), ApiError> {
    if group != DEFAULT_GROUP && svc.store.get_schedule_group(group).await?.is_none() {
        return Err(not_found(&format!("Schedule group {group}")));
    }
    Ok(())
}

async fn create_schedule(svc: &Arc<Service>, caller: &Caller, name: &str, input: &Value) -> Reply {
    check_group_exists(
        svc,
        text_field(input, "GroupName")?.unwrap_or(DEFAULT_GROUP),
    )
    .await?;
    let record = schedule_from(svc, caller, name, input, svc.config.schedule_clock.now()).await?;
    match svc.store.create_schedule(&record).await {
        Ok(()) => Ok(json!({"ScheduleArn": record.arn})),
        Err(StoreError::AlreadyExists(_)) => Err(conflict(&format!(
            "Schedule {name} in group {}",
            record.group
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn update_schedule(svc: &Arc<Service>, caller: &Caller, name: &str, input: &Value) -> Reply {
    let now = svc.config.schedule_clock.now();
    let mut record = schedule_from(svc, caller, name, input, now).await?;
    let Some(old) = svc.store.get_schedule(&record.group, name).await? else {
        return Err(not_found(&format!(
            "Schedule {name} in group {}",
            record.group
        )));
    };
    // A rate keeps counting from when the schedule was created.
    record.created = old.created;
    let compiled = compile(&record).map_err(ApiError::internal)?;
    record.next_fire = compiled.first_at_or_after(utc(now)).map(seconds);
    match svc.store.update_schedule(&record).await {
        Ok(stored) => Ok(json!({"ScheduleArn": stored.arn})),
        Err(StoreError::NotFound(_)) => Err(not_found(&format!("Schedule {name}"))),
        Err(e) => Err(e.into()),
    }
}

fn group_of(query: &Query) -> Result<&str, ApiError> {
    let group = query.get("groupName").unwrap_or(DEFAULT_GROUP);
    check_name("groupName", group)?;
    Ok(group)
}

async fn get_schedule(svc: &Arc<Service>, name: &str, query: &Query) -> Reply {
    check_name("Name", name)?;
    let group = group_of(query)?;
    let record = svc
        .store
        .get_schedule(group, name)
        .await?
        .ok_or_else(|| not_found(&format!("Schedule {name} in group {group}")))?;
    Ok(describe(&record))
}

/// GetSchedule's answer, plus sluice's catch-up policy and next fire time.
pub fn describe(r: &ScheduleRecord) -> Value {
    let extra: Value = serde_json::from_str(&r.extra).unwrap_or_else(|_| json!({}));
    let mut target = extra
        .get("Target")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    target.insert("Arn".into(), json!(r.target_arn));
    target.insert("RoleArn".into(), json!(r.role_arn));
    if let Some(input) = &r.input {
        target.insert("Input".into(), json!(input));
    }
    let mut out = json!({
        "Arn": r.arn,
        "Name": r.name,
        "GroupName": r.group,
        "ScheduleExpression": r.expression,
        "ScheduleExpressionTimezone": r.timezone,
        "State": r.state.as_str(),
        "Target": target,
        "FlexibleTimeWindow": extra.get("FlexibleTimeWindow").cloned().unwrap_or_else(|| json!({"Mode": "OFF"})),
        "ActionAfterCompletion": r.after_completion,
        "CreationDate": r.created,
        "LastModificationDate": r.modified,
        "SluiceCatchUp": {"Mode": r.catch_up, "Limit": r.catch_up_limit},
    });
    for (field, value) in [
        ("StartDate", r.start.map(Value::from)),
        ("EndDate", r.end.map(Value::from)),
        ("Description", r.description.clone().map(Value::from)),
        ("KmsKeyArn", extra.get("KmsKeyArn").cloned()),
        ("SluiceNextFire", r.next_fire.map(Value::from)),
    ] {
        if let Some(v) = value {
            out[field] = v;
        }
    }
    out
}

async fn delete_schedule(svc: &Arc<Service>, name: &str, query: &Query) -> Reply {
    check_name("Name", name)?;
    let group = group_of(query)?;
    match svc.store.delete_schedule(group, name).await {
        Ok(()) => Ok(json!({})),
        Err(StoreError::NotFound(_)) => {
            Err(not_found(&format!("Schedule {name} in group {group}")))
        }
        Err(e) => Err(e.into()),
    }
}

async fn list_schedules(svc: &Arc<Service>, query: &Query) -> Reply {
    let limit = match query.get("MaxResults") {
        None => 100,
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| invalid("MaxResults", "must be 1 to 100"))?,
    };
    let state = match query.get("State") {
        None => None,
        Some(s) => {
            Some(Switch::parse(s).ok_or_else(|| invalid("State", "must be ENABLED or DISABLED"))?)
        }
    };
    let after = match query.get("NextToken") {
        None => None,
        Some(t) => Some(
            t.split_once('/')
                .map(|(g, n)| (g.to_string(), n.to_string()))
                .ok_or_else(|| invalid("NextToken", "is not a token this server gave"))?,
        ),
    };
    let filter = ScheduleFilter {
        group: query.get("ScheduleGroup").map(str::to_string),
        name_prefix: query.get("NamePrefix").map(str::to_string),
        state,
        after,
        limit: limit + 1,
    };
    let mut rows = svc.store.list_schedules(&filter).await?;
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last()
            .map(|r| format!("{}/{}", r.group, r.name))
            .unwrap_or_default()
    });
    let schedules: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "Arn": r.arn,
                "Name": r.name,
                "GroupName": r.group,
                "State": r.state.as_str(),
                "CreationDate": r.created,
                "LastModificationDate": r.modified,
                "Target": {"Arn": r.target_arn},
            })
        })
        .collect();
    let mut out = json!({"Schedules": schedules});
    if let Some(token) = next {
        out["NextToken"] = json!(token);
    }
    Ok(out)
}

// ---- schedule groups ----------------------------------------------------------------------------

fn group_arn(caller: &Caller, svc: &Service, name: &str) -> String {
    format!(
        "arn:aws:scheduler:{}:{}:schedule-group/{name}",
        caller.region, svc.config.account
    )
}

fn describe_group(g: &ScheduleGroupRecord) -> Value {
    json!({
        "Arn": g.arn,
        "Name": g.name,
        "State": "ACTIVE",
        "CreationDate": g.created,
        "LastModificationDate": g.modified,
    })
}

/// `default` exists always and is not stored.
fn default_group(caller: &Caller, svc: &Service) -> ScheduleGroupRecord {
    ScheduleGroupRecord {
        name: DEFAULT_GROUP.into(),
        arn: group_arn(caller, svc, DEFAULT_GROUP),
        created: 0.0,
        modified: 0.0,
    }
}

async fn create_group(svc: &Arc<Service>, caller: &Caller, name: &str) -> Reply {
    check_name("Name", name)?;
    if name == DEFAULT_GROUP {
        return Err(conflict("Schedule group default"));
    }
    let now = crate::time::now();
    let group = ScheduleGroupRecord {
        name: name.to_string(),
        arn: group_arn(caller, svc, name),
        created: now,
        modified: now,
    };
    match svc.store.create_schedule_group(&group).await {
        Ok(()) => Ok(json!({"ScheduleGroupArn": group.arn})),
        Err(StoreError::AlreadyExists(_)) => Err(conflict(&format!("Schedule group {name}"))),
        Err(e) => Err(e.into()),
    }
}

async fn get_group(svc: &Arc<Service>, caller: &Caller, name: &str) -> Reply {
    check_name("Name", name)?;
    if name == DEFAULT_GROUP {
        return Ok(describe_group(&default_group(caller, svc)));
    }
    let group = svc
        .store
        .get_schedule_group(name)
        .await?
        .ok_or_else(|| not_found(&format!("Schedule group {name}")))?;
    Ok(describe_group(&group))
}

async fn delete_group(svc: &Arc<Service>, name: &str) -> Reply {
    check_name("Name", name)?;
    if name == DEFAULT_GROUP {
        return Err(invalid(
            "Name",
            "the default schedule group cannot be deleted",
        ));
    }
    match svc.store.delete_schedule_group(name).await {
        Ok(()) => Ok(json!({})),
        Err(StoreError::NotFound(_)) => Err(not_found(&format!("Schedule group {name}"))),
        Err(e) => Err(e.into()),
    }
}

async fn list_groups(svc: &Arc<Service>, caller: &Caller, query: &Query) -> Reply {
    let limit = match query.get("MaxResults") {
        None => 100,
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| invalid("MaxResults", "must be 1 to 100"))?,
    };
    let prefix = query.get("NamePrefix").unwrap_or("");
    let after = query.get("NextToken");
    // `default` sorts first among the names it is listed with.
    let mut groups = Vec::new();
    if after.is_none() && DEFAULT_GROUP.starts_with(prefix) {
        groups.push(default_group(caller, svc));
    }
    let mut cursor = after.map(str::to_string);
    while groups.len() <= limit {
        let page = svc
            .store
            .list_schedule_groups(cursor.as_deref(), limit + 1)
            .await?;
        let done = page.len() <= limit;
        cursor = page.last().map(|g| g.name.clone());
        groups.extend(page.into_iter().filter(|g| g.name.starts_with(prefix)));
        if done {
            break;
        }
    }
    let next = (groups.len() > limit).then(|| {
        groups.truncate(limit);
        groups.last().map(|g| g.name.clone()).unwrap_or_default()
    });
    let mut out = json!({"ScheduleGroups": groups.iter().map(describe_group).collect::<Vec<_>>()});
    if let Some(token) = next {
        out["NextToken"] = json!(token);
    }
    Ok(out)
}

// ---- object triggers ----------------------------------------------------------------------------

/// Shortest listing interval a trigger may ask for.
const MIN_INTERVAL_SECONDS: f64 = 1.0;

async fn create_trigger(svc: &Arc<Service>, caller: &Caller, name: &str, input: &Value) -> Reply {
    check_name("Name", name)?;
    let bucket = required_text(input, "Bucket")?;
    if bucket.is_empty() || bucket.contains('/') {
        return Err(invalid(
            "Bucket",
            format!("{bucket:?} is not a bucket name"),
        ));
    }
    let prefix = text_field(input, "Prefix")?.unwrap_or("");
    let suffix = text_field(input, "Suffix")?.unwrap_or("");
    let target = required_text(input, "StateMachineArn")?;
    match svc.store.get_state_machine(target).await? {
        None => {
            return Err(invalid(
                "StateMachineArn",
                format!("the state machine {target} does not exist"),
            ));
        }
        Some(m) if m.kind == crate::store::MachineType::Express => {
            return Err(invalid(
                "StateMachineArn",
                "triggers start STANDARD state machines (an execution per object, kept durably)",
            ));
        }
        Some(_) => {}
    }
    let interval = match input.get("IntervalSeconds") {
        None | Some(Value::Null) => 60.0,
        Some(v) => v
            .as_f64()
            .filter(|s| (MIN_INTERVAL_SECONDS..=86_400.0).contains(s))
            .ok_or_else(|| invalid("IntervalSeconds", "must be a number from 1 to 86400"))?,
    };
    let state = match text_field(input, "State")? {
        None => Switch::Enabled,
        Some(s) => {
            Switch::parse(s).ok_or_else(|| invalid("State", "must be ENABLED or DISABLED"))?
        }
    };
    let include_existing = match input.get("IncludeExisting") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("IncludeExisting", "must be true or false")),
    };
    let now = crate::time::now();
    let record = TriggerRecord {
        name: name.to_string(),
        arn: format!(
            "arn:aws:sluice:{}:{}:trigger/{name}",
            caller.region, svc.config.account
        ),
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        suffix: suffix.to_string(),
        target_arn: target.to_string(),
        interval_seconds: interval,
        state,
        include_existing,
        created: now,
        modified: now,
        last_listed: None,
    };
    match svc.store.create_trigger(&record).await {
        Ok(()) => Ok(json!({"TriggerArn": record.arn})),
        Err(StoreError::AlreadyExists(_)) => Err(conflict(&format!("Trigger {name}"))),
        Err(e) => Err(e.into()),
    }
}

fn describe_trigger(t: &TriggerRecord) -> Value {
    json!({
        "Name": t.name,
        "Arn": t.arn,
        "Bucket": t.bucket,
        "Prefix": t.prefix,
        "Suffix": t.suffix,
        "StateMachineArn": t.target_arn,
        "IntervalSeconds": t.interval_seconds,
        "State": t.state.as_str(),
        "IncludeExisting": t.include_existing,
        "CreationDate": t.created,
        "LastModificationDate": t.modified,
        "LastListed": t.last_listed,
    })
}

async fn trigger(svc: &Arc<Service>, name: &str) -> Result<TriggerRecord, ApiError> {
    check_name("Name", name)?;
    svc.store
        .get_trigger(name)
        .await?
        .ok_or_else(|| not_found(&format!("Trigger {name}")))
}

async fn get_trigger(svc: &Arc<Service>, name: &str) -> Reply {
    Ok(describe_trigger(&trigger(svc, name).await?))
}

async fn list_triggers(svc: &Arc<Service>) -> Reply {
    let all = svc.store.list_triggers().await?;
    Ok(json!({"Triggers": all.iter().map(describe_trigger).collect::<Vec<_>>()}))
}

async fn set_trigger_state(svc: &Arc<Service>, name: &str, input: &Value) -> Reply {
    check_name("Name", name)?;
    let state = Switch::parse(required_text(input, "State")?)
        .ok_or_else(|| invalid("State", "must be ENABLED or DISABLED"))?;
    match svc
        .store
        .set_trigger_state(name, state, crate::time::now())
        .await
    {
        Ok(t) => Ok(describe_trigger(&t)),
        Err(StoreError::NotFound(_)) => Err(not_found(&format!("Trigger {name}"))),
        Err(e) => Err(e.into()),
    }
}

async fn delete_trigger(svc: &Arc<Service>, name: &str) -> Reply {
    check_name("Name", name)?;
    match svc.store.delete_trigger(name).await {
        Ok(()) => Ok(json!({})),
        Err(StoreError::NotFound(_)) => Err(not_found(&format!("Trigger {name}"))),
        Err(e) => Err(e.into()),
    }
}

/// List a trigger's prefix now, whatever its interval (`sluice triggers list-now`).
async fn list_trigger_now(svc: &Arc<Service>, name: &str) -> Reply {
    let t = trigger(svc, name).await?;
    let report = svc.list_trigger(&t).await.map_err(|e| match e {
        crate::service::triggers::ListError::Service(s) => ApiError::from(s),
        // The bucket is unreachable or refused the listing: not this server's fault.
        other => ApiError::new("ServiceUnavailableException", other.to_string())
            .with_status(StatusCode::SERVICE_UNAVAILABLE),
    })?;
    Ok(json!({"Matched": report.matched, "Started": report.started}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MachineType, SqliteStore, StateMachineRecord, Store};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:m";

    /// Hostile requests on every route (random fields of random types, broken JSON, odd
    /// paths and queries) get an answer or a client error: never a panic, never a 500.
    #[tokio::test]
    async fn hostile_requests_get_client_errors() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.expect("store"));
        store
            .create_state_machine(&StateMachineRecord {
                arn: MACHINE.into(),
                name: "m".into(),
                definition: r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#.into(),
                role_arn: "r".into(),
                kind: MachineType::Standard,
                created: 0.0,
                revision: 1,
            })
            .await
            .expect("machine");
        let dir = std::env::temp_dir().join(format!("sluice-hostile-{}", std::process::id()));
        let mut config = crate::service::Config::default();
        config.integrations.buckets = sluice_integrations::objects::Buckets::local(&dir);
        let svc = Service::new(store, config);
        let caller = Caller {
            region: "us-east-1".into(),
        };
        let mut rng = StdRng::seed_from_u64(14);
        let values = [
            json!(null),
            json!(""),
            json!("x"),
            json!(-1),
            json!(1e300),
            json!(true),
            json!([]),
            json!({}),
            json!(MACHINE),
            json!("cron(0 2 * * ? *)"),
            json!("rate(1 minute)"),
            json!("at(2030-01-01T00:00:00)"),
            json!("cron(L W # ? * *)"),
            json!("Europe/Paris"),
            json!("ENABLED"),
            json!("DELETE"),
            json!({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5}),
            json!({"Mode": "OFF"}),
            json!({"Arn": MACHINE, "RoleArn": "r", "Input": "{\"t\":\"<aws.scheduler.scheduled-time>\"}"}),
            json!({"Arn": MACHINE, "RoleArn": 5}),
            json!({"Mode": "ALL", "Limit": 0}),
            json!("2030-01-01T00:00:00Z"),
            json!(4_102_444_800u64),
        ];
        let fields = [
            "ScheduleExpression",
            "ScheduleExpressionTimezone",
            "FlexibleTimeWindow",
            "Target",
            "State",
            "StartDate",
            "EndDate",
            "GroupName",
            "ActionAfterCompletion",
            "SluiceCatchUp",
            "Description",
            "Bucket",
            "Prefix",
            "StateMachineArn",
            "IntervalSeconds",
            "IncludeExisting",
        ];
        let paths = [
            "/schedules",
            "/schedules/s1",
            "/schedules/s1?groupName=g",
            "/schedules/bad%20name",
            "/schedules?MaxResults=0",
            "/schedules?MaxResults=5&NextToken=nope",
            "/schedules?NextToken=a/b&State=PAUSED",
            "/schedules/s1/extra",
            "/sluice/triggers",
            "/sluice/triggers/t1",
            "/sluice/triggers/t1/list",
            "/sluice/triggers/../x",
            "/schedule-groups",
            "/schedule-groups/g1",
            "/schedule-groups/default",
            "/schedule-groups?MaxResults=1&NamePrefix=g",
        ];
        let methods = [Method::GET, Method::POST, Method::PUT, Method::DELETE];
        let mut created = 0;
        for round in 0..1500 {
            let mut body = Map::new();
            for _ in 0..rng.random_range(0..8) {
                let f = fields[rng.random_range(0..fields.len())];
                let v = values[rng.random_range(0..values.len())].clone();
                body.insert(f.into(), v);
            }
            let text = match round % 10 {
                0 => b"{not json".to_vec(),
                1 => b"[1,2]".to_vec(),
                _ => Value::Object(body).to_string().into_bytes(),
            };
            let path = paths[rng.random_range(0..paths.len())];
            let method = &methods[rng.random_range(0..methods.len())];
            let uri: Uri = path.parse().expect("uri");
            let Some(reply) = route(&svc, &caller, method, &uri, &text).await else {
                continue;
            };
            match reply {
                Ok(_) => created += 1,
                Err(e) => assert!(
                    e.status.is_client_error(),
                    "{method} {path} {}: {e}",
                    String::from_utf8_lossy(&text)
                ),
            }
        }
        assert!(created > 0, "some requests were valid");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
