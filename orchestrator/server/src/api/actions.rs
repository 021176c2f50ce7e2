//! The actions of the Step Functions API, each a function from the request object to the
//! response object.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use sluice_engine::lang::checker;
use sluice_engine::lang::load::parse_json;

use super::{ApiError, Caller};
use crate::service::Service;
use crate::store::{
    ActivityRecord, ExecutionFilter, ExecutionRecord, ExecutionStatus, MachineType,
    StateMachineRecord, StoreError, TaskOutcome,
};
use crate::time::now;

type Reply = Result<Value, ApiError>;

/// Every action [`dispatch`] serves (the decoding test and the fuzz target cover these).
pub const ACTIONS: &[&str] = &[
    "CreateStateMachine",
    "DescribeStateMachine",
    "UpdateStateMachine",
    "DeleteStateMachine",
    "ListStateMachines",
    "ValidateStateMachineDefinition",
    "StartExecution",
    "StartSyncExecution",
    "DescribeExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "StopExecution",
    "RedriveExecution",
    "DescribeStateMachineForExecution",
    "DescribeMapRun",
    "ListMapRuns",
    "UpdateMapRun",
    "CreateActivity",
    "DeleteActivity",
    "DescribeActivity",
    "ListActivities",
    "GetActivityTask",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "TestState",
];

/// Route one action.
pub async fn dispatch(svc: &Arc<Service>, caller: &Caller, action: &str, input: Value) -> Reply {
    match action {
        "CreateStateMachine" => create_state_machine(svc, caller, &input).await,
        "DescribeStateMachine" => describe_state_machine(svc, &input).await,
        "UpdateStateMachine" => update_state_machine(svc, &input).await,
        "DeleteStateMachine" => delete_state_machine(svc, &input).await,
        "ListStateMachines" => list_state_machines(svc, &input).await,
        "ValidateStateMachineDefinition" => validate_definition(&input),
        "StartExecution" => start_execution(svc, &input, false).await,
        "StartSyncExecution" => start_execution(svc, &input, true).await,
        "DescribeExecution" => describe_execution(svc, &input).await,
        "ListExecutions" => list_executions(svc, &input).await,
        "GetExecutionHistory" => history(svc, &input).await,
        "StopExecution" => stop_execution(svc, &input).await,
        "RedriveExecution" => redrive_execution(svc, &input).await,
        "DescribeStateMachineForExecution" => machine_for_execution(svc, &input).await,
        "DescribeMapRun" => describe_map_run(svc, &input).await,
        "ListMapRuns" => list_map_runs(svc, &input).await,
        "UpdateMapRun" => update_map_run(svc, &input).await,
        "CreateActivity" => create_activity(svc, caller, &input).await,
        "DeleteActivity" => delete_activity(svc, &input).await,
        "DescribeActivity" => describe_activity(svc, &input).await,
        "ListActivities" => list_activities(svc, &input).await,
        "GetActivityTask" => get_activity_task(svc, &input).await,
        "SendTaskSuccess" => send_task_success(svc, &input).await,
        "SendTaskFailure" => send_task_failure(svc, &input).await,
        "SendTaskHeartbeat" => send_task_heartbeat(svc, &input).await,
        "TestState" => super::test_state::test_state(svc, &input).await,
        other => Err(ApiError::unknown_operation(other)),
    }
}

// ---- request helpers ------------------------------------------------------------------------

fn required<'a>(input: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    match input.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::validation(format!("{field} must be a string"))),
        None => Err(ApiError::validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))),
    }
}

fn optional<'a>(input: &'a Value, field: &str) -> Option<&'a str> {
    input.get(field).and_then(Value::as_str)
}

/// `maxResults` (1–1000, default 100) and `nextToken`.
fn page(input: &Value) -> Result<(usize, Option<&str>), ApiError> {
    let limit = match input.get("maxResults").and_then(Value::as_u64) {
        None | Some(0) => 100,
        Some(n) if n <= 1000 => n as usize,
        Some(_) => {
            return Err(ApiError::validation(
                "maxResults must be between 0 and 1000",
            ));
        }
    };
    Ok((limit, optional(input, "nextToken")))
}

/// Names: 1–80 characters, none of the characters AWS forbids.
fn check_name(name: &str) -> Result<(), ApiError> {
    const FORBIDDEN: &str = " <>{}[]?*\"#%\\^|~`$&,;:/";
    let bad = name.is_empty()
        || name.chars().count() > 80
        || name
            .chars()
            .any(|c| FORBIDDEN.contains(c) || c.is_control() || c.is_whitespace());
    if bad {
        return Err(ApiError::new(
            "InvalidName",
            format!("Invalid Name: '{name}'"),
        ));
    }
    Ok(())
}

/// Check an ARN has the `arn:partition:states:region:account:<kind>:…` shape.
fn check_arn<'a>(arn: &'a str, kinds: &[&str]) -> Result<&'a str, ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok =
        parts.len() >= 7 && parts[0] == "arn" && parts[2] == "states" && kinds.contains(&parts[5]);
    if ok {
        Ok(arn)
    } else {
        Err(ApiError::new("InvalidArn", format!("Invalid Arn: '{arn}'")))
    }
}

fn not_found(code: &'static str, what: &str, arn: &str) -> ApiError {
    ApiError::new(code, format!("{what} Does Not Exist: '{arn}'"))
}

/// Parse and validate a definition the way CreateStateMachine does.
fn checked_definition(text: &str) -> Result<Value, ApiError> {
    let value = parse_json(text, "definition").map_err(|e| {
        ApiError::new(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {e}'"),
        )
    })?;
    let problems = checker::validate(&value);
    if !problems.is_empty() {
        let listed: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
        return Err(ApiError::new(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: '{}'", listed.join(", ")),
        ));
    }
    Ok(value)
}

// ---- state machines ---------------------------------------------------------------------------

async fn create_state_machine(svc: &Arc<Service>, caller: &Caller, input: &Value) -> Reply {
    let name = required(input, "name")?;
    check_name(name)?;
    let definition = required(input, "definition")?;
    let role_arn = required(input, "roleArn")?;
    let kind = optional(input, "type")
        .unwrap_or("STANDARD")
        .parse::<MachineType>()
        .map_err(|_| ApiError::validation("type must be STANDARD or EXPRESS"))?;
    checked_definition(definition)?;
    let record = StateMachineRecord {
        arn: format!(
            "arn:aws:states:{}:{}:stateMachine:{name}",
            caller.region, svc.config.account
        ),
        name: name.to_string(),
        definition: definition.to_string(),
        role_arn: role_arn.to_string(),
        kind,
        created: now(),
        revision: 1,
    };
    match svc.store.create_state_machine(&record).await {
        Ok(()) => Ok(json!({"stateMachineArn": record.arn, "creationDate": record.created})),
        Err(StoreError::AlreadyExists(_)) => {
            // Creating the same machine again is idempotent; a different one is an error.
            match svc.store.get_state_machine(&record.arn).await? {
                Some(existing)
                    if existing.definition == record.definition
                        && existing.role_arn == record.role_arn
                        && existing.kind == record.kind =>
                {
                    Ok(json!({"stateMachineArn": existing.arn, "creationDate": existing.created}))
                }
                _ => Err(ApiError::new(
                    "StateMachineAlreadyExists",
                    format!("State Machine Already Exists: '{}'", record.arn),
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

async fn machine(svc: &Arc<Service>, arn: &str) -> Result<StateMachineRecord, ApiError> {
    check_arn(arn, &["stateMachine"])?;
    svc.store
        .get_state_machine(arn)
        .await?
        .ok_or_else(|| not_found("StateMachineDoesNotExist", "State Machine", arn))
}

fn describe_machine(sm: &StateMachineRecord) -> Value {
    json!({
        "stateMachineArn": sm.arn,
        "name": sm.name,
        "status": "ACTIVE",
        "definition": sm.definition,
        "roleArn": sm.role_arn,
        "type": sm.kind.as_str(),
        "creationDate": sm.created,
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
        "tracingConfiguration": {"enabled": false},
        "revisionId": sm.revision.to_string(),
    })
}

async fn describe_state_machine(svc: &Arc<Service>, input: &Value) -> Reply {
    let sm = machine(svc, required(input, "stateMachineArn")?).await?;
    Ok(describe_machine(&sm))
}

async fn update_state_machine(svc: &Arc<Service>, input: &Value) -> Reply {
    let arn = required(input, "stateMachineArn")?;
    machine(svc, arn).await?;
    let definition = optional(input, "definition");
    let role = optional(input, "roleArn");
    if definition.is_none() && role.is_none() {
        return Err(ApiError::new(
            "MissingRequiredParameter",
            "Either the definition or the roleArn must be specified",
        ));
    }
    if let Some(d) = definition {
        checked_definition(d)?;
    }
    let sm = svc
        .store
        .update_state_machine(arn, definition, role)
        .await?;
    Ok(json!({"updateDate": now(), "revisionId": sm.revision.to_string()}))
}

async fn delete_state_machine(svc: &Arc<Service>, input: &Value) -> Reply {
    let arn = check_arn(required(input, "stateMachineArn")?, &["stateMachine"])?;
    svc.store.delete_state_machine(arn).await?;
    Ok(json!({}))
}

async fn list_state_machines(svc: &Arc<Service>, input: &Value) -> Reply {
    let (limit, token) = page(input)?;
    let rows = svc.store.list_state_machines(token, limit + 1).await?;
    let more = rows.len() > limit;
    let items: Vec<Value> = rows
        .iter()
        .take(limit)
        .map(|sm| {
            json!({"stateMachineArn": sm.arn, "name": sm.name, "type": sm.kind.as_str(), "creationDate": sm.created})
        })
        .collect();
    let mut out = json!({"stateMachines": items});
    if more && let Some(last) = rows.get(limit - 1) {
        out["nextToken"] = json!(last.name);
    }
    Ok(out)
}

fn validate_definition(input: &Value) -> Reply {
    let text = required(input, "definition")?;
    let diagnostics: Vec<Value> = match parse_json(text, "definition") {
        Err(e) => vec![json!({"severity": "ERROR", "code": "INVALID_JSON_DESCRIPTION", "message": e.to_string()})],
        Ok(value) => checker::validate(&value)
            .into_iter()
            .map(|d| {
                json!({"severity": "ERROR", "code": d.code, "message": d.message, "location": d.pointer})
            })
            .collect(),
    };
    let result = if diagnostics.is_empty() { "OK" } else { "FAIL" };
    Ok(json!({"result": result, "diagnostics": diagnostics, "truncated": false}))
}

// ---- executions -------------------------------------------------------------------------------

async fn start_execution(svc: &Arc<Service>, input: &Value, sync: bool) -> Reply {
    let sm = machine(svc, required(input, "stateMachineArn")?).await?;
    let name = match optional(input, "name") {
        Some(n) => {
            check_name(n)?;
            n.to_string()
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let input_text = optional(input, "input").unwrap_or("{}");
    parse_json(input_text, "input").map_err(|e| {
        ApiError::new(
            "InvalidExecutionInput",
            format!("Invalid State Machine Execution Input: '{e}'"),
        )
    })?;
    // Valid ASL that uses a feature sluice does not run yet is refused here, clearly. The
    // plan is kept: the execution's driver uses it without compiling again.
    let compiled = svc
        .plans
        .get(&sm.definition)
        .map_err(|e| ApiError::validation(format!("sluice cannot run this state machine: {e}")))?;
    let (_, _, region, account) = arn_parts(&sm.arn);
    let express = sm.kind == MachineType::Express;
    if sync && !express {
        return Err(ApiError::new(
            "StateMachineTypeNotSupported",
            "This operation is only supported for EXPRESS state machines",
        ));
    }
    let arn = if express {
        format!(
            "arn:aws:states:{region}:{account}:express:{}:{name}:{}",
            sm.name,
            uuid::Uuid::new_v4()
        )
    } else {
        format!(
            "arn:aws:states:{region}:{account}:execution:{}:{name}",
            sm.name
        )
    };
    let record = ExecutionRecord {
        arn,
        state_machine_arn: sm.arn.clone(),
        name,
        status: ExecutionStatus::Running,
        input: input_text.to_string(),
        output: None,
        error: None,
        cause: None,
        start: now(),
        stop: None,
        definition: sm.definition.clone(),
        role_arn: sm.role_arn.clone(),
        kind: sm.kind,
        redrive_count: 0,
        map_run_arn: None,
    };
    if express {
        if sync {
            let done = svc.run_express(record).await?.record;
            return Ok(sync_reply(&done));
        }
        let reply = json!({"executionArn": record.arn, "startDate": record.start});
        // The outcome is written when the execution ends; the service owns the run.
        svc.spawn_express(record);
        return Ok(reply);
    }
    let (stored, created) = svc.start_standard(record, compiled.graph.start).await?;
    if !created && (stored.input != input_text || stored.status != ExecutionStatus::Running) {
        return Err(ApiError::new(
            "ExecutionAlreadyExists",
            format!("Execution Already Exists: '{}'", stored.arn),
        ));
    }
    Ok(json!({"executionArn": stored.arn, "startDate": stored.start}))
}

/// `(partition, service, region, account)` of an ARN.
fn arn_parts(arn: &str) -> (&str, &str, &str, &str) {
    let mut p = arn.split(':').skip(1);
    (
        p.next().unwrap_or("aws"),
        p.next().unwrap_or("states"),
        p.next().unwrap_or(""),
        p.next().unwrap_or(""),
    )
}

fn sync_reply(e: &ExecutionRecord) -> Value {
    let mut out = json!({
        "executionArn": e.arn,
        "stateMachineArn": e.state_machine_arn,
        "name": e.name,
        "startDate": e.start,
        "stopDate": e.stop,
        "status": e.status.as_str(),
        "input": e.input,
        "inputDetails": {"included": true},
        "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100},
    });
    put_outcome(&mut out, e);
    out
}

fn put_outcome(out: &mut Value, e: &ExecutionRecord) {
    if let Some(o) = &e.output {
        out["output"] = json!(o);
        out["outputDetails"] = json!({"included": true});
    }
    if let Some(err) = &e.error {
        out["error"] = json!(err);
    }
    if let Some(c) = &e.cause {
        out["cause"] = json!(c);
    }
}

async fn execution(svc: &Arc<Service>, arn: &str) -> Result<ExecutionRecord, ApiError> {
    check_arn(arn, &["execution", "express"])?;
    svc.store
        .get_execution(arn)
        .await?
        .ok_or_else(|| not_found("ExecutionDoesNotExist", "Execution", arn))
}

async fn describe_execution(svc: &Arc<Service>, input: &Value) -> Reply {
    let e = execution(svc, required(input, "executionArn")?).await?;
    let mut out = json!({
        "executionArn": e.arn,
        "stateMachineArn": e.state_machine_arn,
        "name": e.name,
        "status": e.status.as_str(),
        "startDate": e.start,
        "input": e.input,
        "inputDetails": {"included": true},
        "redriveCount": e.redrive_count,
        "redriveStatus": match (e.kind == MachineType::Standard && e.status.is_redrivable(), &e.map_run_arn) {
            (true, Some(_)) => "REDRIVABLE_BY_MAP_RUN",
            (true, None) => "REDRIVABLE",
            (false, _) => "NOT_REDRIVABLE",
        },
    });
    if let Some(stop) = e.stop {
        out["stopDate"] = json!(stop);
    }
    if let Some(run) = &e.map_run_arn {
        out["mapRunArn"] = json!(run);
    }
    put_outcome(&mut out, &e);
    Ok(out)
}

async fn describe_map_run(svc: &Arc<Service>, input: &Value) -> Reply {
    let arn = required(input, "mapRunArn")?;
    let run = svc
        .map_runs
        .describe(svc.store.as_ref(), arn)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                "ResourceNotFound",
                format!("Map Run Does Not Exist: '{arn}'"),
            )
        })?;
    // Children and items differ with an ItemBatcher (a child holds a batch).
    let counts = |total: Option<i64>, running: i64, succeeded: i64, failed: i64, written: i64| {
        let total = total.unwrap_or(running + succeeded + failed);
        json!({
            "pending": (total - running - succeeded - failed).max(0),
            "running": running,
            "succeeded": succeeded,
            "failed": failed,
            "timedOut": 0,
            "aborted": 0,
            "total": total,
            "resultsWritten": written,
            "failuresNotRedrivable": 0,
            "pendingRedrive": 0,
        })
    };
    let executions = counts(
        run.total,
        run.running,
        run.succeeded,
        run.failed,
        run.results_written,
    );
    // A running child holds at least one item (exactly one without an ItemBatcher).
    let items_running = match run.items_total {
        Some(t) => run
            .running
            .min((t - run.items_succeeded - run.items_failed).max(0)),
        None => run.running,
    };
    let items = counts(
        run.items_total,
        items_running,
        run.items_succeeded,
        run.items_failed,
        run.items_results_written,
    );
    let mut out = json!({
        "mapRunArn": run.arn,
        "executionArn": run.execution_arn,
        "status": run.status,
        "startDate": run.start,
        "maxConcurrency": run.max_concurrency,
        "toleratedFailurePercentage": run.tolerated_failure_percentage,
        "toleratedFailureCount": run.tolerated_failure_count,
        "itemCounts": items,
        "executionCounts": executions,
        "redriveCount": run.redrive_count,
    });
    if let Some(stop) = run.stop {
        out["stopDate"] = json!(stop);
    }
    Ok(out)
}

async fn update_map_run(svc: &Arc<Service>, input: &Value) -> Reply {
    use crate::service::UpdateMapRunError as E;
    let arn = required(input, "mapRunArn")?;
    let count = |field: &str| -> Result<Option<u64>, ApiError> {
        match input.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                ApiError::validation(format!("{field} must be a whole number of 0 or more"))
            }),
        }
    };
    let percentage = match input.get("toleratedFailurePercentage") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(p) if (0.0..=100.0).contains(&p) => Some(p),
            _ => {
                return Err(ApiError::validation(
                    "toleratedFailurePercentage must be a number from 0 to 100",
                ));
            }
        },
    };
    let update = sluice_engine::engine::events::MapRunUpdate {
        max_concurrency: count("maxConcurrency")?,
        tolerated_failure_percentage: percentage,
        tolerated_failure_count: count("toleratedFailureCount")?,
    };
    match svc.map_runs.update(svc.store.as_ref(), arn, update).await {
        Ok(()) => Ok(json!({})),
        Err(E::NotFound(_)) => Err(ApiError::new(
            "ResourceNotFound",
            format!("Map Run Does Not Exist: '{arn}'"),
        )),
        Err(E::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::validation(e.to_string())),
    }
}

async fn list_map_runs(svc: &Arc<Service>, input: &Value) -> Reply {
    let execution_arn = required(input, "executionArn")?;
    execution(svc, execution_arn).await?;
    let (limit, _) = page(input)?;
    let runs = svc.map_runs.list(svc.store.as_ref(), execution_arn).await?;
    let items: Vec<Value> = runs
        .into_iter()
        .take(limit)
        .map(|run| {
            let mut item = json!({
                "executionArn": run.execution_arn,
                "mapRunArn": run.arn,
                "stateMachineArn": run.state_machine_arn,
                "startDate": run.start,
            });
            if let Some(stop) = run.stop {
                item["stopDate"] = json!(stop);
            }
            item
        })
        .collect();
    Ok(json!({"mapRuns": items}))
}

async fn list_executions(svc: &Arc<Service>, input: &Value) -> Reply {
    // Either a state machine's executions or a Map Run's children, as on AWS.
    let map_run = optional(input, "mapRunArn");
    let sm_arn = match (map_run, optional(input, "stateMachineArn")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "Only one of stateMachineArn and mapRunArn may be given",
            ));
        }
        (Some(run), None) => {
            svc.map_runs
                .describe(svc.store.as_ref(), run)
                .await?
                .ok_or_else(|| {
                    ApiError::new(
                        "ResourceNotFound",
                        format!("Map Run Does Not Exist: '{run}'"),
                    )
                })?;
            None
        }
        (None, _) => {
            let sm_arn = required(input, "stateMachineArn")?;
            machine(svc, sm_arn).await?;
            Some(sm_arn)
        }
    };
    let (limit, token) = page(input)?;
    let status = match optional(input, "statusFilter") {
        None => None,
        // A redrive starts at once here: no execution waits in PENDING_REDRIVE.
        Some("PENDING_REDRIVE") => return Ok(json!({"executions": []})),
        Some(name) => Some(name.parse::<ExecutionStatus>().map_err(|_| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{name}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]"
            ))
        })?),
    };
    let after = match token {
        Some(t) => {
            let (start, arn) = t
                .split_once('|')
                .ok_or_else(|| ApiError::new("InvalidToken", "Invalid nextToken"))?;
            let start: f64 = start
                .parse()
                .map_err(|_| ApiError::new("InvalidToken", "Invalid nextToken"))?;
            Some((start, arn.to_string()))
        }
        None => None,
    };
    let rows = svc
        .store
        .list_executions(&ExecutionFilter {
            state_machine_arn: sm_arn.map(str::to_string),
            map_run_arn: map_run.map(str::to_string),
            status,
            after,
            limit: limit + 1,
            ..Default::default()
        })
        .await?;
    let items: Vec<Value> = rows
        .iter()
        .take(limit)
        .map(|e| {
            let mut item = json!({"executionArn": e.arn, "stateMachineArn": e.state_machine_arn,
                "name": e.name, "status": e.status.as_str(), "startDate": e.start, "redriveCount": e.redrive_count});
            if let Some(stop) = e.stop {
                item["stopDate"] = json!(stop);
            }
            if let Some(run) = &e.map_run_arn {
                item["mapRunArn"] = json!(run);
            }
            item
        })
        .collect();
    let mut out = json!({"executions": items});
    if rows.len() > limit
        && let Some(last) = rows.get(limit - 1)
    {
        out["nextToken"] = json!(format!("{}|{}", last.start, last.arn));
    }
    Ok(out)
}

async fn history(svc: &Arc<Service>, input: &Value) -> Reply {
    let e = execution(svc, required(input, "executionArn")?).await?;
    let (limit, token) = page(input)?;
    let reverse = input
        .get("reverseOrder")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let include_data = input
        .get("includeExecutionData")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let after = match token {
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| ApiError::new("InvalidToken", "Invalid nextToken"))?,
        ),
        None => None,
    };
    let rows = svc.store.history(&e.arn, after, reverse, limit + 1).await?;
    let events: Vec<Value> = rows
        .iter()
        .take(limit)
        .map(|ev| {
            let mut item = Map::new();
            item.insert("timestamp".into(), json!(ev.timestamp));
            item.insert("type".into(), json!(ev.kind));
            item.insert("id".into(), json!(ev.id));
            item.insert("previousEventId".into(), json!(ev.previous_id));
            if let Some((key, details)) = &ev.details {
                let mut d: Value = serde_json::from_str(details).unwrap_or(Value::Null);
                if !include_data && let Value::Object(m) = &mut d {
                    m.remove("input");
                    m.remove("output");
                }
                item.insert(key.clone(), d);
            }
            Value::Object(item)
        })
        .collect();
    let mut out = json!({"events": events});
    if rows.len() > limit
        && let Some(last) = rows.get(limit - 1)
    {
        out["nextToken"] = json!(last.id.to_string());
    }
    Ok(out)
}

async fn stop_execution(svc: &Arc<Service>, input: &Value) -> Reply {
    let e = execution(svc, required(input, "executionArn")?).await?;
    if e.status != ExecutionStatus::Running {
        return Ok(json!({"stopDate": e.stop.unwrap_or_else(now)}));
    }
    let stop = svc
        .stop(
            &e.arn,
            optional(input, "error").map(str::to_string),
            optional(input, "cause").map(str::to_string),
        )
        .await?;
    Ok(json!({"stopDate": stop}))
}

async fn redrive_execution(svc: &Arc<Service>, input: &Value) -> Reply {
    let e = execution(svc, required(input, "executionArn")?).await?;
    if e.kind != MachineType::Standard || !e.status.is_redrivable() {
        return Err(ApiError::new(
            "ExecutionNotRedrivable",
            format!(
                "Execution is not redrivable: '{}' is {} ({})",
                e.arn, e.status, e.kind
            ),
        ));
    }
    if let Some(run) = &e.map_run_arn {
        return Err(ApiError::new(
            "ExecutionNotRedrivable",
            format!(
                "Execution is not redrivable: '{}' is a child of the Map Run '{run}'; redrive its parent execution",
                e.arn
            ),
        ));
    }
    let event = crate::service::redriven_event(e.redrive_count + 1);
    svc.store.redrive(&e.arn, &event).await?;
    let now = now();
    let until = now + svc.config.execution_lease_seconds;
    if svc
        .store
        .lease_execution(&e.arn, &svc.config.replica_id, now, until)
        .await?
    {
        svc.spawn_driver(e.arn.clone());
    }
    Ok(json!({"redriveDate": event.timestamp}))
}

async fn machine_for_execution(svc: &Arc<Service>, input: &Value) -> Reply {
    let e = execution(svc, required(input, "executionArn")?).await?;
    let name = e.state_machine_arn.rsplit(':').next().unwrap_or("");
    let mut out = json!({
        "stateMachineArn": e.state_machine_arn,
        "name": name,
        "definition": e.definition,
        "roleArn": e.role_arn,
        "updateDate": e.start,
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
        "tracingConfiguration": {"enabled": false},
    });
    // A Map Run's child runs its Map's ItemProcessor, kept in the parent's definition.
    if let Some(run_arn) = &e.map_run_arn {
        let label = name.rsplit_once('/').map_or(name, |(_, l)| l);
        out["mapRunArn"] = json!(run_arn);
        out["label"] = json!(label);
        let run = svc.map_runs.describe(svc.store.as_ref(), run_arn).await?;
        let parent = match run {
            Some(run) => svc.store.get_execution(&run.execution_arn).await?,
            None => None,
        };
        let processor = parent.and_then(|p| {
            let definition =
                sluice_engine::lang::load::parse_document(&p.definition, "definition").ok()?;
            sluice_engine::lang::distributed::processor_definition(&definition, label)
                .map(|d| d.to_string())
        });
        if let Some(definition) = processor {
            out["definition"] = json!(definition);
        }
    }
    Ok(out)
}

// ---- activities -------------------------------------------------------------------------------

async fn create_activity(svc: &Arc<Service>, caller: &Caller, input: &Value) -> Reply {
    let name = required(input, "name")?;
    check_name(name)?;
    let record = ActivityRecord {
        arn: format!(
            "arn:aws:states:{}:{}:activity:{name}",
            caller.region, svc.config.account
        ),
        name: name.to_string(),
        created: now(),
    };
    let stored = svc.store.create_activity(&record).await?;
    Ok(json!({"activityArn": stored.arn, "creationDate": stored.created}))
}

async fn activity(svc: &Arc<Service>, arn: &str) -> Result<ActivityRecord, ApiError> {
    check_arn(arn, &["activity"])?;
    svc.store
        .get_activity(arn)
        .await?
        .ok_or_else(|| not_found("ActivityDoesNotExist", "Activity", arn))
}

async fn delete_activity(svc: &Arc<Service>, input: &Value) -> Reply {
    let arn = check_arn(required(input, "activityArn")?, &["activity"])?;
    svc.store.delete_activity(arn).await?;
    svc.registry.set_activity_known(arn, false);
    Ok(json!({}))
}

async fn describe_activity(svc: &Arc<Service>, input: &Value) -> Reply {
    let a = activity(svc, required(input, "activityArn")?).await?;
    Ok(json!({"activityArn": a.arn, "name": a.name, "creationDate": a.created}))
}

async fn list_activities(svc: &Arc<Service>, input: &Value) -> Reply {
    let (limit, token) = page(input)?;
    let rows = svc.store.list_activities(token, limit + 1).await?;
    let items: Vec<Value> = rows
        .iter()
        .take(limit)
        .map(|a| json!({"activityArn": a.arn, "name": a.name, "creationDate": a.created}))
        .collect();
    let mut out = json!({"activities": items});
    if rows.len() > limit
        && let Some(last) = rows.get(limit - 1)
    {
        out["nextToken"] = json!(last.name);
    }
    Ok(out)
}

async fn get_activity_task(svc: &Arc<Service>, input: &Value) -> Reply {
    let arn = required(input, "activityArn")?;
    // Every poll names its activity; after the first, its existence comes from memory.
    if !svc.registry.activity_known(arn) {
        activity(svc, arn).await?;
        svc.registry.set_activity_known(arn, true);
    }
    let worker = optional(input, "workerName").unwrap_or("worker");
    let lease = svc.config.activity_lease_seconds;
    Ok(match svc.parked.poll(arn, worker, lease).await? {
        Some(task) => json!({"taskToken": task.token, "input": task.input}),
        None => json!({}),
    })
}

async fn complete(svc: &Arc<Service>, token: &str, outcome: TaskOutcome) -> Reply {
    svc.parked.answer(token, outcome).await?;
    Ok(json!({}))
}

async fn send_task_success(svc: &Arc<Service>, input: &Value) -> Reply {
    let token = required(input, "taskToken")?;
    let output = required(input, "output")?;
    parse_json(output, "output")
        .map_err(|e| ApiError::new("InvalidOutput", format!("Invalid Output: '{e}'")))?;
    complete(svc, token, TaskOutcome::Succeeded(output.to_string())).await
}

async fn send_task_failure(svc: &Arc<Service>, input: &Value) -> Reply {
    let token = required(input, "taskToken")?;
    let outcome = TaskOutcome::Failed {
        error: optional(input, "error").map(str::to_string),
        cause: optional(input, "cause").map(str::to_string),
    };
    complete(svc, token, outcome).await
}

async fn send_task_heartbeat(svc: &Arc<Service>, input: &Value) -> Reply {
    let token = required(input, "taskToken")?;
    svc.store.heartbeat_task(token, now()).await?;
    svc.registry.heartbeat(token);
    Ok(json!({}))
}
