//! `sluice schedules …` and `sluice triggers …`: schedules through the EventBridge Scheduler
//! API of a running `sluice serve` (the same API `aws scheduler` uses), object triggers
//! through sluice's own, and backfills that start one execution per tick of a time range.

use std::collections::VecDeque;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use serde_json::{Value, json};
use sluice_schedule::{Expression, Schedule};
use sluice_server::client::{Client, ClientError};
use sluice_server::service::schedules::{execution_name, render_input, utc};

use crate::remote::{Endpoint, client};

#[derive(Subcommand)]
pub enum SchedulesCommand {
    /// Create a schedule that starts a state machine.
    Create {
        name: String,
        /// `cron(0 2 * * ? *)` (AWS's six fields), `0 2 * * *` (five-field cron),
        /// `rate(1 hour)` or `at(2026-12-24T18:00:00)`.
        #[arg(long)]
        expression: String,
        /// IANA time zone the cron or at() expression is read in.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// The state machine to start.
        #[arg(long)]
        state_machine: String,
        /// The execution's input: JSON, with `<aws.scheduler.scheduled-time>`,
        /// `<aws.scheduler.schedule-arn>` and `<aws.scheduler.execution-id>` filled in.
        #[arg(long)]
        input: Option<String>,
        /// No tick before this time (RFC 3339, or a date).
        #[arg(long)]
        start: Option<String>,
        /// No tick after this time (RFC 3339, or a date).
        #[arg(long)]
        end: Option<String>,
        /// After downtime: start every missed tick (`all`, up to --catch-up-limit, the
        /// latest ones) or only the latest (`latest`).
        #[arg(long, value_parser = ["all", "latest"], default_value = "latest")]
        catch_up: String,
        #[arg(long, default_value_t = 100)]
        catch_up_limit: u32,
        /// Create it paused.
        #[arg(long)]
        disabled: bool,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, default_value = "default")]
        group: String,
        #[arg(
            long,
            default_value = "arn:aws:iam::123456789012:role/sluice-scheduler"
        )]
        role_arn: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// List schedules.
    List {
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        prefix: Option<String>,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Show one schedule, with its next fire time.
    Get {
        name: String,
        #[arg(long, default_value = "default")]
        group: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Stop a schedule from firing (ticks while paused are not caught up).
    Pause {
        name: String,
        #[arg(long, default_value = "default")]
        group: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Let a paused schedule fire again, from its next tick on.
    Resume {
        name: String,
        #[arg(long, default_value = "default")]
        group: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    Delete {
        name: String,
        #[arg(long, default_value = "default")]
        group: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Print the schedule's next fire times.
    Next {
        name: String,
        #[arg(long, default_value = "default")]
        group: String,
        #[arg(long, default_value_t = 5)]
        count: usize,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Start one execution per tick from --from to --to (both included), at most
    /// --concurrency running at once. Ticks that already have their execution (fired by the
    /// schedule or an earlier backfill) start nothing.
    Backfill {
        name: String,
        #[arg(long, default_value = "default")]
        group: String,
        /// RFC 3339 time or a date (midnight UTC).
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        #[command(flatten)]
        endpoint: Endpoint,
    },
}

#[derive(Subcommand)]
pub enum TriggersCommand {
    /// Start a state machine for every new object under s3://BUCKET/PREFIX ending in SUFFIX.
    Create {
        name: String,
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long, default_value = "")]
        suffix: String,
        #[arg(long)]
        state_machine: String,
        /// Seconds between listings of the prefix (pushed notifications start at once).
        #[arg(long, default_value_t = 60.0)]
        interval: f64,
        /// Objects already under the prefix start executions too.
        #[arg(long)]
        include_existing: bool,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    List {
        #[command(flatten)]
        endpoint: Endpoint,
    },
    Get {
        name: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    Pause {
        name: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    Resume {
        name: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    Delete {
        name: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// List the trigger's prefix now and start what is new.
    Scan {
        name: String,
        #[command(flatten)]
        endpoint: Endpoint,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn print(value: &Value) -> Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

/// `RFC 3339` or `YYYY-MM-DD` (midnight UTC).
fn parse_time(flag: &str, text: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").with_context(|| {
        format!("--{flag} {text:?}: expected an RFC 3339 time (2026-12-01T02:00:00Z) or a date (2026-12-01)")
    })?;
    Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

fn schedule_path(name: &str, group: &str) -> String {
    format!("/schedules/{name}?groupName={group}")
}

async fn get(client: &Client, name: &str, group: &str) -> Result<Value, ClientError> {
    client
        .rest("scheduler", "GET", &schedule_path(name, group), None)
        .await
}

/// The schedule a GetSchedule answer describes.
fn compiled(s: &Value) -> Result<Schedule> {
    let text = |f: &str| s[f].as_str().unwrap_or_default().to_string();
    Ok(Schedule {
        expression: Expression::parse(&text("ScheduleExpression"))?,
        zone: sluice_schedule::parse_zone(&text("ScheduleExpressionTimezone"))?,
        start: s["StartDate"].as_f64().map(utc),
        end: s["EndDate"].as_f64().map(utc),
        anchor: utc(s["CreationDate"].as_f64().unwrap_or(0.0).floor()),
    })
}

/// `sluice schedules …`.
pub fn schedules(cmd: SchedulesCommand) -> Result<ExitCode> {
    let rt = runtime()?;
    match cmd {
        SchedulesCommand::Create {
            name,
            expression,
            timezone,
            state_machine,
            input,
            start,
            end,
            catch_up,
            catch_up_limit,
            disabled,
            description,
            group,
            role_arn,
            endpoint,
        } => {
            let mut target = json!({"Arn": state_machine, "RoleArn": role_arn});
            if let Some(i) = input {
                target["Input"] = json!(i);
            }
            let mut req = json!({
                "GroupName": group,
                "ScheduleExpression": expression,
                "ScheduleExpressionTimezone": timezone,
                "State": if disabled { "DISABLED" } else { "ENABLED" },
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": target,
                "SluiceCatchUp": {"Mode": catch_up.to_uppercase(), "Limit": catch_up_limit},
            });
            if let Some(s) = start {
                req["StartDate"] = json!(parse_time("start", &s)?.timestamp());
            }
            if let Some(e) = end {
                req["EndDate"] = json!(parse_time("end", &e)?.timestamp());
            }
            if let Some(d) = description {
                req["Description"] = json!(d);
            }
            let reply = rt.block_on(client(&endpoint).rest(
                "scheduler",
                "POST",
                &format!("/schedules/{name}"),
                Some(&req),
            ))?;
            print(&reply)
        }
        SchedulesCommand::List {
            group,
            prefix,
            endpoint,
        } => {
            let client = client(&endpoint);
            let mut all = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut query = vec!["MaxResults=100".to_string()];
                if let Some(g) = &group {
                    query.push(format!("ScheduleGroup={g}"));
                }
                if let Some(p) = &prefix {
                    query.push(format!("NamePrefix={p}"));
                }
                if let Some(t) = &token {
                    query.push(format!("NextToken={t}"));
                }
                let page = rt.block_on(client.rest(
                    "scheduler",
                    "GET",
                    &format!("/schedules?{}", query.join("&")),
                    None,
                ))?;
                all.extend(page["Schedules"].as_array().cloned().unwrap_or_default());
                match page["NextToken"].as_str() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
            print(&json!({"Schedules": all}))
        }
        SchedulesCommand::Get {
            name,
            group,
            endpoint,
        } => print(&rt.block_on(get(&client(&endpoint), &name, &group))?),
        SchedulesCommand::Pause {
            name,
            group,
            endpoint,
        } => rt.block_on(set_state(&client(&endpoint), &name, &group, "DISABLED")),
        SchedulesCommand::Resume {
            name,
            group,
            endpoint,
        } => rt.block_on(set_state(&client(&endpoint), &name, &group, "ENABLED")),
        SchedulesCommand::Delete {
            name,
            group,
            endpoint,
        } => {
            rt.block_on(client(&endpoint).rest(
                "scheduler",
                "DELETE",
                &schedule_path(&name, &group),
                None,
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        SchedulesCommand::Next {
            name,
            group,
            count,
            endpoint,
        } => {
            let s = rt.block_on(get(&client(&endpoint), &name, &group))?;
            let schedule = compiled(&s)?;
            let mut times = Vec::new();
            let mut at = s["SluiceNextFire"].as_f64().map(utc);
            while let Some(t) = at
                && times.len() < count
            {
                times.push(json!(sluice_server::service::schedules::scheduled_time(t)));
                at = schedule.next_after(t);
            }
            print(&json!({"Name": name, "State": s["State"], "NextFireTimes": times}))
        }
        SchedulesCommand::Backfill {
            name,
            group,
            from,
            to,
            concurrency,
            endpoint,
        } => {
            let (from, to) = (parse_time("from", &from)?, parse_time("to", &to)?);
            if to < from {
                bail!("--to is before --from");
            }
            if concurrency == 0 {
                bail!("--concurrency must be at least 1");
            }
            rt.block_on(backfill(
                &client(&endpoint),
                &name,
                &group,
                from,
                to,
                concurrency,
            ))
        }
    }
}

/// UpdateSchedule with everything as it is but the state.
async fn set_state(client: &Client, name: &str, group: &str, state: &str) -> Result<ExitCode> {
    let mut s = get(client, name, group).await?;
    if let Some(fields) = s.as_object_mut() {
        for read_only in [
            "Arn",
            "Name",
            "CreationDate",
            "LastModificationDate",
            "SluiceNextFire",
        ] {
            fields.remove(read_only);
        }
        fields.insert("State".into(), json!(state));
    }
    client
        .rest("scheduler", "PUT", &format!("/schedules/{name}"), Some(&s))
        .await?;
    print(&get(client, name, group).await?)
}

/// What a backfill did.
#[derive(Debug, Default)]
struct Backfilled {
    ticks: u64,
    started: u64,
    existing: u64,
    failed: Vec<String>,
}

async fn backfill(
    client: &Client,
    name: &str,
    group: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    concurrency: usize,
) -> Result<ExitCode> {
    use indicatif::{ProgressBar, ProgressStyle};
    let s = get(client, name, group).await?;
    let schedule = compiled(&s)?;
    let machine = s["Target"]["Arn"].as_str().unwrap_or_default().to_string();
    let arn = s["Arn"].as_str().unwrap_or_default().to_string();
    let template = s["Target"]["Input"].as_str().map(str::to_string);
    let ticks: Vec<DateTime<Utc>> = schedule.ticks(from, to).collect();
    let bar = ProgressBar::new(ticks.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} ticks {msg} ({per_sec}, {elapsed})",
        )
        .context("progress template")?
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("backfill {name}"));
    let mut done = Backfilled {
        ticks: ticks.len() as u64,
        ..Backfilled::default()
    };
    let mut running: VecDeque<String> = VecDeque::new();
    for tick in ticks {
        while running.len() >= concurrency {
            settle(client, &mut running, &mut done, &bar).await?;
        }
        let req = json!({
            "stateMachineArn": machine,
            "name": execution_name(group, name, tick),
            "input": render_input(template.as_deref(), &arn, tick),
        });
        match client.call("StartExecution", &req).await {
            Ok(reply) => {
                let execution = reply["executionArn"].as_str().unwrap_or_default();
                done.started += 1;
                running.push_back(execution.to_string());
            }
            Err(ClientError::Api { code, .. }) if code == "ExecutionAlreadyExists" => {
                done.existing += 1;
                bar.inc(1);
            }
            Err(e) => return Err(e.into()),
        }
        bar.set_message(format!(
            "{} started, {} already there, {} running",
            done.started,
            done.existing,
            running.len()
        ));
    }
    while !running.is_empty() {
        settle(client, &mut running, &mut done, &bar).await?;
    }
    bar.finish();
    print(&json!({
        "Ticks": done.ticks,
        "Started": done.started,
        "AlreadyThere": done.existing,
        "Failed": done.failed,
    }))?;
    Ok(if done.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Wait a moment, then drop the executions that ended from `running`.
async fn settle(
    client: &Client,
    running: &mut VecDeque<String>,
    done: &mut Backfilled,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut still = VecDeque::new();
    for arn in running.drain(..) {
        let e = client
            .call("DescribeExecution", &json!({"executionArn": arn}))
            .await?;
        match e["status"].as_str() {
            Some("RUNNING") | Some("PENDING_REDRIVE") => still.push_back(arn),
            Some("SUCCEEDED") => bar.inc(1),
            _ => {
                done.failed.push(arn);
                bar.inc(1);
            }
        }
    }
    *running = still;
    Ok(())
}

/// `sluice triggers …`.
pub fn triggers(cmd: TriggersCommand) -> Result<ExitCode> {
    let rt = runtime()?;
    let call = |endpoint: &Endpoint, method: &str, path: String, body: Option<Value>| {
        rt.block_on(client(endpoint).rest("sluice", method, &path, body.as_ref()))
            .map_err(anyhow::Error::from)
            .and_then(|v| print(&v))
    };
    match cmd {
        TriggersCommand::Create {
            name,
            bucket,
            prefix,
            suffix,
            state_machine,
            interval,
            include_existing,
            endpoint,
        } => call(
            &endpoint,
            "POST",
            format!("/sluice/triggers/{name}"),
            Some(json!({
                "Bucket": bucket, "Prefix": prefix, "Suffix": suffix,
                "StateMachineArn": state_machine, "IntervalSeconds": interval,
                "IncludeExisting": include_existing,
            })),
        ),
        TriggersCommand::List { endpoint } => {
            call(&endpoint, "GET", "/sluice/triggers".into(), None)
        }
        TriggersCommand::Get { name, endpoint } => {
            call(&endpoint, "GET", format!("/sluice/triggers/{name}"), None)
        }
        TriggersCommand::Pause { name, endpoint } => call(
            &endpoint,
            "PUT",
            format!("/sluice/triggers/{name}"),
            Some(json!({"State": "DISABLED"})),
        ),
        TriggersCommand::Resume { name, endpoint } => call(
            &endpoint,
            "PUT",
            format!("/sluice/triggers/{name}"),
            Some(json!({"State": "ENABLED"})),
        ),
        TriggersCommand::Delete { name, endpoint } => call(
            &endpoint,
            "DELETE",
            format!("/sluice/triggers/{name}"),
            None,
        ),
        TriggersCommand::Scan { name, endpoint } => call(
            &endpoint,
            "POST",
            format!("/sluice/triggers/{name}/list"),
            None,
        ),
    }
}
