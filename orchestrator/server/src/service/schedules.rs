//! Firing schedules: every replica looks for due schedules a few times a second and fires
//! them. A fire is one store transaction that moves the schedule's next fire time on (only
//! if nobody moved it first) and creates the tick's executions under names derived from the
//! schedule and the tick, so a tick starts one execution however many replicas, restarts
//! and backfills meet it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use sha2::{Digest, Sha256};
use sluice_schedule::{CatchUp, Expression, Schedule};

use super::{Service, ServiceError};
use crate::store::{
    Cursor, ExecutionRecord, ExecutionStatus, Lease, MachineType, NewExecution, ScheduleFire,
    ScheduleRecord, StateMachineRecord,
};

/// Due schedules read, and fires written, per store round trip.
const FIRE_BATCH: usize = 2000;

/// The name of the group every schedule belongs to unless it names another.
pub const DEFAULT_GROUP: &str = "default";

/// Catch-up limit of `ALL` when the request gives none.
pub const DEFAULT_CATCH_UP_LIMIT: i64 = 100;

/// What one pass over the due schedules did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FireReport {
    /// Executions created.
    pub started: usize,
    /// Schedules fired by this pass.
    pub fired: usize,
    /// Missed ticks left out by a catch-up policy.
    pub skipped: u64,
}

/// Seconds since the epoch as a UTC time (whole microseconds).
pub fn utc(seconds: f64) -> DateTime<Utc> {
    let micros = (seconds * 1e6).round() as i64;
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A UTC time as seconds since the epoch.
pub fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

/// The schedule a stored record describes. Fails only for a damaged row: everything was
/// checked when the schedule was accepted.
pub fn compile(record: &ScheduleRecord) -> Result<Schedule, String> {
    let expression = Expression::parse(&record.expression).map_err(|e| e.to_string())?;
    let zone = sluice_schedule::parse_zone(&record.timezone).map_err(|e| e.to_string())?;
    Ok(Schedule {
        expression,
        zone,
        start: record.start.map(utc),
        end: record.end.map(utc),
        // Rates count from the creation second.
        anchor: utc(record.created.floor()),
    })
}

/// The catch-up policy of a stored record.
pub fn catch_up(record: &ScheduleRecord) -> CatchUp {
    match record.catch_up.as_str() {
        "ALL" => CatchUp::All {
            limit: u32::try_from(record.catch_up_limit.max(1)).unwrap_or(u32::MAX),
        },
        _ => CatchUp::Latest,
    }
}

/// `2026-12-03T04:00:00Z`: how the scheduled time reaches an execution's input.
pub fn scheduled_time(tick: DateTime<Utc>) -> String {
    tick.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The name of the execution a schedule starts for `tick`: readable (the schedule, then the
/// tick in UTC) and the same every time, so starting it twice is idempotent. Within the 80
/// characters AWS allows; a long schedule name is cut and a hash keeps it unique.
pub fn execution_name(group: &str, name: &str, tick: DateTime<Utc>) -> String {
    let base = if group == DEFAULT_GROUP {
        name.to_string()
    } else {
        format!("{group}.{name}")
    };
    let stamp = tick.format("%Y%m%dT%H%M%SZ").to_string();
    let full = format!("{base}-{stamp}");
    if full.len() <= 80 {
        return full;
    }
    let hash = Sha256::digest(base.as_bytes());
    let hash: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    let keep = 80 - stamp.len() - hash.len() - 2;
    let cut: String = base.chars().take(keep).collect();
    format!("{cut}-{hash}-{stamp}")
}

/// The input a schedule hands its target for `tick`: the template with EventBridge
/// Scheduler's context attributes put in, or `{}` without a template.
pub fn render_input(template: Option<&str>, schedule_arn: &str, tick: DateTime<Utc>) -> String {
    let Some(template) = template else {
        return "{}".to_string();
    };
    let execution_id = {
        let digest = Sha256::digest(format!("{schedule_arn}\n{}", scheduled_time(tick)));
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    };
    template
        .replace("<aws.scheduler.schedule-arn>", schedule_arn)
        .replace("<aws.scheduler.scheduled-time>", &scheduled_time(tick))
        .replace("<aws.scheduler.execution-id>", &execution_id)
        .replace("<aws.scheduler.attempt-number>", "1")
}

/// The ARN of the Standard execution `name` of `machine`.
pub fn execution_arn(machine: &StateMachineRecord, name: &str) -> String {
    let tail = machine.arn.split(":stateMachine:").next().unwrap_or("");
    format!("{tail}:execution:{}:{name}", machine.name)
}

impl Service {
    /// Fire every schedule due at `now` (seconds since the epoch). The clock is the
    /// caller's, so tests drive it.
    pub async fn fire_due_schedules(
        self: &Arc<Self>,
        now: f64,
    ) -> Result<FireReport, ServiceError> {
        let mut report = FireReport::default();
        let mut machines: HashMap<String, Option<(StateMachineRecord, usize)>> = HashMap::new();
        // Drivers start once every due schedule has fired: the executions of a busy minute
        // are created first, then run.
        let mut to_drive = Vec::new();
        let outcome = self
            .fire_pass(now, &mut report, &mut machines, &mut to_drive)
            .await;
        for arn in to_drive {
            self.spawn_driver(arn);
        }
        outcome.map(|()| report)
    }

    async fn fire_pass(
        self: &Arc<Self>,
        now: f64,
        report: &mut FireReport,
        machines: &mut HashMap<String, Option<(StateMachineRecord, usize)>>,
        to_drive: &mut Vec<String>,
    ) -> Result<(), ServiceError> {
        loop {
            let due = self.store.due_schedules(now, FIRE_BATCH).await?;
            if due.is_empty() {
                return Ok(());
            }
            let full = due.len() == FIRE_BATCH;
            let mut fires = Vec::with_capacity(due.len());
            let mut express = Vec::new();
            for record in &due {
                let (fire, runs, skipped) = self.plan_fire(record, now, machines).await?;
                report.skipped += skipped;
                express.push(runs);
                fires.push(fire);
            }
            let lease = Lease {
                owner: self.config.replica_id.clone(),
                until: crate::time::now() + self.config.execution_lease_seconds,
            };
            let results = self.store.fire_schedules(&fires, &lease).await?;
            for ((result, fire), runs) in results.into_iter().zip(&fires).zip(express) {
                let Some(created) = result else {
                    continue;
                };
                report.fired += 1;
                report.started += created.len() + runs.len();
                for e in fire
                    .executions
                    .iter()
                    .filter(|e| created.contains(&e.record.arn))
                {
                    self.count_started(&e.record);
                }
                tracing::info!(
                    target: "sluice::schedules",
                    schedule = %format!("{}/{}", fire.group, fire.name),
                    started = created.len() + runs.len(),
                    next = ?fire.next_fire.map(utc),
                    "schedule fired"
                );
                to_drive.extend(created);
                // Express executions live in memory: they start once their tick is taken.
                for record in runs {
                    self.spawn_express(record);
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// The fire of one due schedule: its ticks' executions (Standard ones for the store,
    /// Express ones to start after the fire commits) and its next fire time.
    async fn plan_fire(
        &self,
        record: &ScheduleRecord,
        now: f64,
        machines: &mut HashMap<String, Option<(StateMachineRecord, usize)>>,
    ) -> Result<(ScheduleFire, Vec<ExecutionRecord>, u64), ServiceError> {
        let mut fire = ScheduleFire {
            group: record.group.clone(),
            name: record.name.clone(),
            version: record.version,
            next_fire: None,
            delete: false,
            modified: now,
            executions: Vec::new(),
        };
        let schedule = match compile(record) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(schedule = %record.arn, error = %e, "stored schedule does not parse; it is stopped");
                return Ok((fire, Vec::new(), 0));
            }
        };
        let Some(next) = record.next_fire else {
            return Ok((fire, Vec::new(), 0));
        };
        let due = sluice_schedule::due(&schedule, utc(next), utc(now), catch_up(record));
        fire.next_fire = due.next.map(seconds);
        fire.delete = due.next.is_none() && record.after_completion == "DELETE";
        if due.skipped > 0 {
            tracing::warn!(schedule = %record.arn, skipped = due.skipped, "missed ticks left out by the catch-up policy");
        }
        if !machines.contains_key(&record.target_arn) {
            let found = match self.store.get_state_machine(&record.target_arn).await? {
                Some(m) => {
                    let start = self.plans.get(&m.definition)?.graph.start;
                    Some((m, start))
                }
                None => None,
            };
            machines.insert(record.target_arn.clone(), found);
        }
        let Some(Some((machine, start))) = machines.get(&record.target_arn) else {
            tracing::warn!(schedule = %record.arn, target = %record.target_arn, "the schedule's target no longer exists; the tick is dropped");
            return Ok((fire, Vec::new(), due.skipped));
        };
        let mut express = Vec::new();
        let clock_now = self.config.schedule_clock.now();
        for tick in due.fire {
            self.metrics
                .schedule_lateness
                .observe((clock_now - seconds(tick)).max(0.0));
            let name = execution_name(&record.group, &record.name, tick);
            let input = render_input(record.input.as_deref(), &record.arn, tick);
            let execution = ExecutionRecord {
                arn: execution_arn(machine, &name),
                state_machine_arn: machine.arn.clone(),
                name,
                status: ExecutionStatus::Running,
                input: input.clone(),
                output: None,
                error: None,
                cause: None,
                start: crate::time::now(),
                stop: None,
                definition: machine.definition.clone(),
                role_arn: record.role_arn.clone(),
                kind: machine.kind,
                redrive_count: 0,
                map_run_arn: None,
            };
            if machine.kind == MachineType::Express {
                express.push(ExecutionRecord {
                    arn: format!(
                        "{}:{}",
                        execution.arn.replacen(":execution:", ":express:", 1),
                        uuid::Uuid::new_v4()
                    ),
                    ..execution
                });
                continue;
            }
            let started = super::driver::started_event(&input, &record.role_arn);
            fire.executions.push(NewExecution {
                cursor: Cursor {
                    state: *start as i64,
                    input,
                    vars: "{}".into(),
                    version: 0,
                    next_event_id: 2,
                    step_events: 0,
                    transitions: 0,
                },
                record: execution,
                events: vec![started],
            });
        }
        Ok((fire, express, due.skipped))
    }

    /// Fire due schedules until shutdown: at the earliest next fire time when it comes
    /// within `period`, else after `period` (a schedule created meanwhile, on any replica, is
    /// seen then).
    pub(crate) async fn run_scheduler(self: Arc<Self>, period: std::time::Duration) {
        let clock = self.config.schedule_clock;
        let mut failed = false;
        loop {
            let wait = match self.store.next_fire_time().await {
                // After a failure, wait a whole period rather than spin on a due schedule.
                Ok(Some(_)) if failed => period,
                Ok(Some(next)) => {
                    let until = clock.real((next - clock.now()).max(0.0));
                    period.min(std::time::Duration::from_secs_f64(until))
                }
                Ok(None) => period,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the next fire time failed");
                    period
                }
            };
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            failed = match self.fire_due_schedules(clock.now()).await {
                Ok(_) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "firing schedules failed; trying again");
                    true
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Config;
    use crate::store::{ExecutionFilter, SqliteStore, Store, Switch};

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:etl";

    /// A service over an in-memory store with the `etl` machine (a Pass state).
    async fn service() -> Arc<Service> {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.expect("store"));
        store
            .create_state_machine(&StateMachineRecord {
                arn: MACHINE.into(),
                name: "etl".into(),
                definition: r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#.into(),
                role_arn: "arn:aws:iam::123456789012:role/r".into(),
                kind: MachineType::Standard,
                created: 0.0,
                revision: 1,
            })
            .await
            .expect("machine");
        Service::new(store, Config::default())
    }

    /// A schedule created at `created` (seconds), its first tick computed as the API does.
    async fn schedule(
        svc: &Service,
        name: &str,
        expression: &str,
        zone: &str,
        catch_up: &str,
        created: f64,
    ) {
        let mut record = ScheduleRecord {
            group: DEFAULT_GROUP.into(),
            name: name.into(),
            arn: format!("arn:aws:scheduler:us-east-1:123456789012:schedule/default/{name}"),
            expression: expression.into(),
            timezone: zone.into(),
            start: None,
            end: None,
            state: Switch::Enabled,
            description: None,
            target_arn: MACHINE.into(),
            role_arn: "arn:aws:iam::123456789012:role/s".into(),
            input: Some(r#"{"at":"<aws.scheduler.scheduled-time>"}"#.into()),
            extra: "{}".into(),
            catch_up: catch_up.into(),
            catch_up_limit: 3,
            after_completion: "NONE".into(),
            created,
            modified: created,
            next_fire: None,
            version: 0,
        };
        let compiled = compile(&record).expect("compiles");
        record.next_fire = compiled.first_at_or_after(utc(created)).map(seconds);
        svc.store.create_schedule(&record).await.expect("create");
    }

    /// The scheduled times of the executions started so far, in order.
    async fn ticks(svc: &Service) -> Vec<String> {
        let all = svc
            .store
            .list_executions(&ExecutionFilter {
                state_machine_arn: Some(MACHINE.into()),
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("list");
        let mut at: Vec<String> = all
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_str(&e.input).expect("JSON");
                v["at"].as_str().expect("at").to_string()
            })
            .collect();
        at.sort();
        at
    }

    fn at(text: &str) -> f64 {
        seconds(
            DateTime::parse_from_rfc3339(text)
                .expect("time")
                .with_timezone(&Utc),
        )
    }

    #[tokio::test]
    async fn a_tick_fires_once_at_its_time() {
        let svc = service().await;
        schedule(
            &svc,
            "hourly",
            "cron(0 * * * ? *)",
            "UTC",
            "LATEST",
            at("2026-12-03T04:10:00Z"),
        )
        .await;
        let early = svc
            .fire_due_schedules(at("2026-12-03T04:59:59Z"))
            .await
            .expect("fire");
        assert_eq!(early.started, 0);
        let on_time = svc
            .fire_due_schedules(at("2026-12-03T05:00:00Z"))
            .await
            .expect("fire");
        assert_eq!((on_time.fired, on_time.started), (1, 1));
        let again = svc
            .fire_due_schedules(at("2026-12-03T05:00:30Z"))
            .await
            .expect("fire");
        assert_eq!(again.started, 0, "the tick is not fired twice");
        assert_eq!(ticks(&svc).await, ["2026-12-03T05:00:00Z"]);
    }

    #[tokio::test]
    async fn after_downtime_catch_up_starts_the_missed_ticks_or_the_latest() {
        let svc = service().await;
        let created = at("2026-12-03T00:30:00Z");
        schedule(&svc, "all", "cron(0 * * * ? *)", "UTC", "ALL", created).await;
        // Down from 00:30 to 05:30: ticks 01:00 … 05:00 were missed; the limit is 3.
        let report = svc
            .fire_due_schedules(at("2026-12-03T05:30:00Z"))
            .await
            .expect("fire");
        assert_eq!((report.started, report.skipped), (3, 2));
        assert_eq!(
            ticks(&svc).await,
            [
                "2026-12-03T03:00:00Z",
                "2026-12-03T04:00:00Z",
                "2026-12-03T05:00:00Z"
            ]
        );

        let svc = service().await;
        schedule(
            &svc,
            "latest",
            "cron(0 * * * ? *)",
            "UTC",
            "LATEST",
            created,
        )
        .await;
        let report = svc
            .fire_due_schedules(at("2026-12-03T05:30:00Z"))
            .await
            .expect("fire");
        assert_eq!((report.started, report.skipped), (1, 4));
        assert_eq!(ticks(&svc).await, ["2026-12-03T05:00:00Z"]);
        // The next tick is the next hour, not a missed one.
        svc.fire_due_schedules(at("2026-12-03T06:00:00Z"))
            .await
            .expect("fire");
        assert_eq!(ticks(&svc).await.len(), 2);
    }

    #[tokio::test]
    async fn daylight_saving_changes_follow_eventbridge_scheduler() {
        let svc = service().await;
        // 02:30 New York time every day: 2026-03-08 has no 02:30 (clocks jump 02:00 -> 03:00).
        schedule(
            &svc,
            "dst",
            "cron(30 2 * * ? *)",
            "America/New_York",
            "ALL",
            at("2026-03-06T12:00:00Z"),
        )
        .await;
        let mut now = at("2026-03-06T12:00:00Z");
        while now < at("2026-03-10T12:00:00Z") {
            now += 900.0;
            svc.fire_due_schedules(now).await.expect("fire");
        }
        assert_eq!(
            ticks(&svc).await,
            // EST is UTC-5 before the change, EDT UTC-4 after; the 8th has no run.
            [
                "2026-03-07T07:30:00Z",
                "2026-03-09T06:30:00Z",
                "2026-03-10T06:30:00Z"
            ]
        );
    }

    #[tokio::test]
    async fn at_fires_once_and_a_missing_target_drops_the_tick() {
        let svc = service().await;
        schedule(
            &svc,
            "once",
            "at(2026-12-24T18:00:00)",
            "Europe/Paris",
            "LATEST",
            at("2026-12-01T00:00:00Z"),
        )
        .await;
        svc.fire_due_schedules(at("2026-12-24T17:00:00Z"))
            .await
            .expect("fire");
        svc.fire_due_schedules(at("2026-12-25T17:00:00Z"))
            .await
            .expect("fire");
        assert_eq!(ticks(&svc).await, ["2026-12-24T17:00:00Z"]);
        let done = svc
            .store
            .get_schedule(DEFAULT_GROUP, "once")
            .await
            .expect("get")
            .expect("kept");
        assert_eq!(done.next_fire, None, "no tick left");

        svc.store
            .delete_state_machine(MACHINE)
            .await
            .expect("delete");
        schedule(
            &svc,
            "orphan",
            "rate(1 minute)",
            "UTC",
            "ALL",
            at("2026-12-01T00:00:00Z"),
        )
        .await;
        let report = svc
            .fire_due_schedules(at("2026-12-01T00:05:00Z"))
            .await
            .expect("fire");
        assert_eq!((report.fired, report.started), (1, 0));
    }

    #[test]
    fn execution_names_are_stable_and_short() {
        let tick = utc(1_796_270_400.0);
        assert_eq!(
            execution_name("default", "nightly-etl", tick),
            "nightly-etl-20261203T040000Z"
        );
        assert_eq!(
            execution_name("team", "etl", tick),
            "team.etl-20261203T040000Z"
        );
        let long = "x".repeat(64);
        let name = execution_name("g", &long, tick);
        assert!(name.len() <= 80, "{name}");
        assert!(name.ends_with("-20261203T040000Z"));
        assert_ne!(name, execution_name("h", &long, tick));
    }

    #[test]
    fn input_templates_get_the_context_attributes() {
        let tick = utc(1_796_270_400.0);
        let arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/n";
        let input = render_input(
            Some(
                r#"{"t":"<aws.scheduler.scheduled-time>","s":"<aws.scheduler.schedule-arn>","id":"<aws.scheduler.execution-id>","n":<aws.scheduler.attempt-number>}"#,
            ),
            arn,
            tick,
        );
        let v: serde_json::Value = serde_json::from_str(&input).expect("JSON");
        assert_eq!(v["t"], "2026-12-03T04:00:00Z");
        assert_eq!(v["s"], arn);
        assert_eq!(v["n"], 1);
        assert_eq!(input, render_input(Some(&input), arn, tick));
        assert_eq!(render_input(None, arn, tick), "{}");
    }
}
