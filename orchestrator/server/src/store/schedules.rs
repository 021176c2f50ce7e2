//! Schedules and object triggers as stored, and their SQL. The statements are the same for
//! both backends (sqlx numbers `$N` parameters for SQLite too), so one macro writes them
//! for each pool type; only inserting a started execution differs, and each backend passes
//! its own.

use super::{Cursor, ExecutionRecord, NewEvent};

/// ENABLED or DISABLED: whether a schedule or trigger starts executions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Enabled,
    Disabled,
}

impl Switch {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Switch::Enabled => "ENABLED",
            Switch::Disabled => "DISABLED",
        }
    }

    /// Parse the API's spelling.
    pub fn parse(text: &str) -> Option<Switch> {
        match text {
            "ENABLED" => Some(Switch::Enabled),
            "DISABLED" => Some(Switch::Disabled),
            _ => None,
        }
    }
}

/// A schedule (EventBridge Scheduler's `CreateSchedule`), with its durable next fire time.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRecord {
    pub group: String,
    pub name: String,
    pub arn: String,
    /// `cron(…)`, `rate(…)` or `at(…)`, as submitted.
    pub expression: String,
    /// IANA time zone name.
    pub timezone: String,
    /// Seconds since the epoch.
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub state: Switch,
    pub description: Option<String>,
    /// The state machine the schedule starts.
    pub target_arn: String,
    pub role_arn: String,
    /// The input template (with `<aws.scheduler.…>` placeholders), as submitted.
    pub input: Option<String>,
    /// JSON object of the API fields sluice keeps but does not act on, echoed by GetSchedule.
    pub extra: String,
    /// `ALL` or `LATEST`.
    pub catch_up: String,
    pub catch_up_limit: i64,
    /// `NONE` or `DELETE`.
    pub after_completion: String,
    pub created: f64,
    pub modified: f64,
    /// `None` once the schedule has no tick left.
    pub next_fire: Option<f64>,
    /// Bumped by every write; a fire names the version it read.
    pub version: i64,
}

/// A schedule group (EventBridge Scheduler's `CreateScheduleGroup`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleGroupRecord {
    pub name: String,
    pub arn: String,
    pub created: f64,
    pub modified: f64,
}

/// Filter and page of `ListSchedules`.
#[derive(Debug, Clone, Default)]
pub struct ScheduleFilter {
    pub group: Option<String>,
    pub name_prefix: Option<String>,
    pub state: Option<Switch>,
    /// Schedules that sort after this `(group, name)`.
    pub after: Option<(String, String)>,
    pub limit: usize,
}

/// An execution to create, with its first checkpoint and `ExecutionStarted` event.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExecution {
    pub record: ExecutionRecord,
    pub cursor: Cursor,
    pub events: Vec<NewEvent>,
}

/// The replica that creates executions holds them until `until`, so it drives them at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    pub owner: String,
    pub until: f64,
}

/// One firing of a schedule: its executions and where it goes next, applied only if the
/// schedule is still at `version` (another replica, or an update, did not move it first).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleFire {
    pub group: String,
    pub name: String,
    pub version: i64,
    pub next_fire: Option<f64>,
    /// Delete the schedule (its last tick fired and `after_completion` is DELETE).
    pub delete: bool,
    pub modified: f64,
    pub executions: Vec<NewExecution>,
}

/// An object trigger: new objects under `s3://bucket/prefix…suffix` start `target_arn`.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRecord {
    pub name: String,
    pub arn: String,
    pub bucket: String,
    pub prefix: String,
    pub suffix: String,
    pub target_arn: String,
    pub interval_seconds: f64,
    pub state: Switch,
    /// Objects already there when the trigger was created start executions too.
    pub include_existing: bool,
    pub created: f64,
    pub modified: f64,
    pub last_listed: Option<f64>,
}

/// An object version a trigger saw, and the execution it starts if it was not seen before.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectFire {
    pub trigger: String,
    pub key: String,
    pub etag: String,
    pub seen: f64,
    pub execution: NewExecution,
}

/// Writes the schedule and trigger functions of one backend. `$insert` is the backend's
/// `async fn(&mut Connection, &[&NewExecution], &Lease) -> Result<Vec<String>>`: it inserts
/// the executions not already there, with their events, and gives the ARNs it inserted.
macro_rules! schedule_sql {
    ($db:ty, $row:ty, $insert:path) => {
        use sqlx::{QueryBuilder, Row};

        use $crate::store::schedules::*;
        use $crate::store::{Result, StoreError};

        const SCHEDULE_COLUMNS: &str = "group_name, name, arn, expression, timezone, start_date, end_date, state, description, target_arn, role_arn, input, extra, catch_up, catch_up_limit, after_completion, created, modified, next_fire, version";

        fn switch(text: &str) -> Result<Switch> {
            Switch::parse(text)
                .ok_or_else(|| StoreError::NotFound(format!("state {text:?} (damaged row)")))
        }

        fn schedule_row(row: &$row) -> Result<ScheduleRecord> {
            Ok(ScheduleRecord {
                group: row.try_get("group_name")?,
                name: row.try_get("name")?,
                arn: row.try_get("arn")?,
                expression: row.try_get("expression")?,
                timezone: row.try_get("timezone")?,
                start: row.try_get("start_date")?,
                end: row.try_get("end_date")?,
                state: switch(row.try_get::<&str, _>("state")?)?,
                description: row.try_get("description")?,
                target_arn: row.try_get("target_arn")?,
                role_arn: row.try_get("role_arn")?,
                input: row.try_get("input")?,
                extra: row.try_get("extra")?,
                catch_up: row.try_get("catch_up")?,
                catch_up_limit: row.try_get("catch_up_limit")?,
                after_completion: row.try_get("after_completion")?,
                created: row.try_get("created")?,
                modified: row.try_get("modified")?,
                next_fire: row.try_get("next_fire")?,
                version: row.try_get("version")?,
            })
        }

        pub(super) async fn create_schedule(
            pool: &sqlx::Pool<$db>,
            s: &ScheduleRecord,
        ) -> Result<()> {
            let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO schedules ({SCHEDULE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) ON CONFLICT DO NOTHING"
            )))
            .bind(&s.group)
            .bind(&s.name)
            .bind(&s.arn)
            .bind(&s.expression)
            .bind(&s.timezone)
            .bind(s.start)
            .bind(s.end)
            .bind(s.state.as_str())
            .bind(&s.description)
            .bind(&s.target_arn)
            .bind(&s.role_arn)
            .bind(&s.input)
            .bind(&s.extra)
            .bind(&s.catch_up)
            .bind(s.catch_up_limit)
            .bind(&s.after_completion)
            .bind(s.created)
            .bind(s.modified)
            .bind(s.next_fire)
            .bind(s.version)
            .execute(pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::AlreadyExists(format!(
                    "schedule {}/{}",
                    s.group, s.name
                )));
            }
            Ok(())
        }

        pub(super) async fn get_schedule(
            pool: &sqlx::Pool<$db>,
            group: &str,
            name: &str,
        ) -> Result<Option<ScheduleRecord>> {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE group_name = $1 AND name = $2"
            )))
            .bind(group)
            .bind(name)
            .fetch_optional(pool)
            .await?;
            row.map(|r| schedule_row(&r)).transpose()
        }

        pub(super) async fn update_schedule(
            pool: &sqlx::Pool<$db>,
            s: &ScheduleRecord,
        ) -> Result<ScheduleRecord> {
            let done = sqlx::query(
                "UPDATE schedules SET expression = $3, timezone = $4, start_date = $5, end_date = $6, state = $7, description = $8, target_arn = $9, role_arn = $10, input = $11, extra = $12, catch_up = $13, catch_up_limit = $14, after_completion = $15, modified = $16, next_fire = $17, version = version + 1 WHERE group_name = $1 AND name = $2",
            )
            .bind(&s.group)
            .bind(&s.name)
            .bind(&s.expression)
            .bind(&s.timezone)
            .bind(s.start)
            .bind(s.end)
            .bind(s.state.as_str())
            .bind(&s.description)
            .bind(&s.target_arn)
            .bind(&s.role_arn)
            .bind(&s.input)
            .bind(&s.extra)
            .bind(&s.catch_up)
            .bind(s.catch_up_limit)
            .bind(&s.after_completion)
            .bind(s.modified)
            .bind(s.next_fire)
            .execute(pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!(
                    "schedule {}/{}",
                    s.group, s.name
                )));
            }
            get_schedule(pool, &s.group, &s.name).await?.ok_or_else(|| {
                StoreError::NotFound(format!("schedule {}/{}", s.group, s.name))
            })
        }

        pub(super) async fn delete_schedule(
            pool: &sqlx::Pool<$db>,
            group: &str,
            name: &str,
        ) -> Result<()> {
            let done = sqlx::query("DELETE FROM schedules WHERE group_name = $1 AND name = $2")
                .bind(group)
                .bind(name)
                .execute(pool)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("schedule {group}/{name}")));
            }
            Ok(())
        }

        pub(super) async fn list_schedules(
            pool: &sqlx::Pool<$db>,
            f: &ScheduleFilter,
        ) -> Result<Vec<ScheduleRecord>> {
            let mut q = QueryBuilder::<$db>::new(format!(
                "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE 1 = 1"
            ));
            if let Some(group) = &f.group {
                q.push(" AND group_name = ").push_bind(group.clone());
            }
            if let Some(prefix) = &f.name_prefix {
                // A range rather than LIKE: the prefix may hold `%` or `_`.
                q.push(" AND name >= ").push_bind(prefix.clone());
                q.push(" AND name < ")
                    .push_bind(format!("{prefix}\u{10FFFF}"));
            }
            if let Some(state) = f.state {
                q.push(" AND state = ").push_bind(state.as_str());
            }
            if let Some((group, name)) = &f.after {
                q.push(" AND (group_name > ")
                    .push_bind(group.clone())
                    .push(" OR (group_name = ")
                    .push_bind(group.clone())
                    .push(" AND name > ")
                    .push_bind(name.clone())
                    .push("))");
            }
            q.push(" ORDER BY group_name, name LIMIT ")
                .push_bind(i64::try_from(f.limit).unwrap_or(i64::MAX));
            let rows = q.build().fetch_all(pool).await?;
            rows.iter().map(schedule_row).collect()
        }

        pub(super) async fn due_schedules(
            pool: &sqlx::Pool<$db>,
            now: f64,
            limit: usize,
        ) -> Result<Vec<ScheduleRecord>> {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE state = 'ENABLED' AND next_fire <= $1 ORDER BY next_fire, group_name, name LIMIT $2"
            )))
            .bind(now)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await?;
            rows.iter().map(schedule_row).collect()
        }

        pub(super) async fn next_fire_time(pool: &sqlx::Pool<$db>) -> Result<Option<f64>> {
            let row = sqlx::query(
                "SELECT MIN(next_fire) AS next FROM schedules WHERE state = 'ENABLED'",
            )
            .fetch_one(pool)
            .await?;
            Ok(row.try_get("next")?)
        }

        pub(super) async fn fire_schedules(
            pool: &sqlx::Pool<$db>,
            fires: &[ScheduleFire],
            lease: &Lease,
        ) -> Result<Vec<Option<Vec<String>>>> {
            let mut tx = pool.begin().await?;
            let mut won = vec![false; fires.len()];
            // Moving schedules on: one statement per chunk, each row only if the schedule is
            // still at the version the fire read.
            let moves: Vec<(usize, &ScheduleFire)> =
                fires.iter().enumerate().filter(|(_, f)| !f.delete).collect();
            for chunk in moves.chunks(200) {
                let mut q = QueryBuilder::<$db>::new(
                    "UPDATE schedules SET next_fire = v.column4, modified = v.column5, version = schedules.version + 1 FROM (",
                );
                q.push_values(chunk, |mut row, (_, f)| {
                    row.push_bind(f.group.clone())
                        .push_bind(f.name.clone())
                        .push_bind(f.version)
                        .push_bind(f.next_fire)
                        .push_bind(f.modified);
                });
                q.push(
                    ") AS v WHERE schedules.group_name = v.column1 AND schedules.name = v.column2 AND schedules.version = v.column3 RETURNING schedules.group_name, schedules.name",
                );
                let moved: std::collections::HashSet<(String, String)> = q
                    .build()
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get("group_name")?, r.try_get("name")?)))
                    .collect::<Result<_>>()?;
                for (i, f) in chunk {
                    won[*i] = moved.contains(&(f.group.clone(), f.name.clone()));
                }
            }
            for (i, fire) in fires.iter().enumerate().filter(|(_, f)| f.delete) {
                let deleted = sqlx::query(
                    "DELETE FROM schedules WHERE group_name = $1 AND name = $2 AND version = $3",
                )
                .bind(&fire.group)
                .bind(&fire.name)
                .bind(fire.version)
                .execute(&mut *tx)
                .await?;
                won[i] = deleted.rows_affected() > 0;
            }
            // The winners' executions, in as few statements as the backend allows.
            let news: Vec<&NewExecution> = fires
                .iter()
                .zip(&won)
                .filter(|(_, won)| **won)
                .flat_map(|(f, _)| &f.executions)
                .collect();
            let created: std::collections::HashSet<String> =
                $insert(&mut *tx, &news, lease).await?.into_iter().collect();
            tx.commit().await?;
            Ok(fires
                .iter()
                .zip(won)
                .map(|(fire, won)| {
                    won.then(|| {
                        fire.executions
                            .iter()
                            .filter(|e| created.contains(&e.record.arn))
                            .map(|e| e.record.arn.clone())
                            .collect()
                    })
                })
                .collect())
        }

        fn group_row(row: &$row) -> Result<ScheduleGroupRecord> {
            Ok(ScheduleGroupRecord {
                name: row.try_get("name")?,
                arn: row.try_get("arn")?,
                created: row.try_get("created")?,
                modified: row.try_get("modified")?,
            })
        }

        pub(super) async fn create_schedule_group(
            pool: &sqlx::Pool<$db>,
            g: &ScheduleGroupRecord,
        ) -> Result<()> {
            let done = sqlx::query(
                "INSERT INTO schedule_groups (name, arn, created, modified) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(&g.name)
            .bind(&g.arn)
            .bind(g.created)
            .bind(g.modified)
            .execute(pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::AlreadyExists(format!("schedule group {}", g.name)));
            }
            Ok(())
        }

        pub(super) async fn get_schedule_group(
            pool: &sqlx::Pool<$db>,
            name: &str,
        ) -> Result<Option<ScheduleGroupRecord>> {
            let row = sqlx::query("SELECT name, arn, created, modified FROM schedule_groups WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?;
            row.map(|r| group_row(&r)).transpose()
        }

        pub(super) async fn list_schedule_groups(
            pool: &sqlx::Pool<$db>,
            after: Option<&str>,
            limit: usize,
        ) -> Result<Vec<ScheduleGroupRecord>> {
            let rows = sqlx::query("SELECT name, arn, created, modified FROM schedule_groups WHERE name > $1 ORDER BY name LIMIT $2")
                .bind(after.unwrap_or(""))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?;
            rows.iter().map(group_row).collect()
        }

        pub(super) async fn delete_schedule_group(pool: &sqlx::Pool<$db>, name: &str) -> Result<()> {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("DELETE FROM schedule_groups WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("schedule group {name}")));
            }
            sqlx::query("DELETE FROM schedules WHERE group_name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }

        pub(super) async fn ping(pool: &sqlx::Pool<$db>) -> Result<()> {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        }

        pub(super) async fn pending_tasks(pool: &sqlx::Pool<$db>) -> Result<Vec<(String, i64, f64)>> {
            let rows = sqlx::query(
                "SELECT activity_arn, COUNT(*) AS n, MIN(created) AS oldest FROM tasks WHERE status = 'PENDING' AND activity_arn IS NOT NULL GROUP BY activity_arn",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("activity_arn")?, r.try_get("n")?, r.try_get("oldest")?)))
                .collect()
        }

        const TRIGGER_COLUMNS: &str = "name, arn, bucket, prefix, suffix, target_arn, interval_seconds, state, include_existing, created, modified, last_listed";

        fn trigger_row(row: &$row) -> Result<TriggerRecord> {
            Ok(TriggerRecord {
                name: row.try_get("name")?,
                arn: row.try_get("arn")?,
                bucket: row.try_get("bucket")?,
                prefix: row.try_get("prefix")?,
                suffix: row.try_get("suffix")?,
                target_arn: row.try_get("target_arn")?,
                interval_seconds: row.try_get("interval_seconds")?,
                state: switch(row.try_get::<&str, _>("state")?)?,
                include_existing: row.try_get::<i64, _>("include_existing")? != 0,
                created: row.try_get("created")?,
                modified: row.try_get("modified")?,
                last_listed: row.try_get("last_listed")?,
            })
        }

        pub(super) async fn create_trigger(
            pool: &sqlx::Pool<$db>,
            t: &TriggerRecord,
        ) -> Result<()> {
            let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO triggers ({TRIGGER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING"
            )))
            .bind(&t.name)
            .bind(&t.arn)
            .bind(&t.bucket)
            .bind(&t.prefix)
            .bind(&t.suffix)
            .bind(&t.target_arn)
            .bind(t.interval_seconds)
            .bind(t.state.as_str())
            .bind(i64::from(t.include_existing))
            .bind(t.created)
            .bind(t.modified)
            .bind(t.last_listed)
            .execute(pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::AlreadyExists(format!("trigger {}", t.name)));
            }
            Ok(())
        }

        pub(super) async fn get_trigger(
            pool: &sqlx::Pool<$db>,
            name: &str,
        ) -> Result<Option<TriggerRecord>> {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {TRIGGER_COLUMNS} FROM triggers WHERE name = $1"
            )))
            .bind(name)
            .fetch_optional(pool)
            .await?;
            row.map(|r| trigger_row(&r)).transpose()
        }

        pub(super) async fn list_triggers(pool: &sqlx::Pool<$db>) -> Result<Vec<TriggerRecord>> {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {TRIGGER_COLUMNS} FROM triggers ORDER BY name"
            )))
            .fetch_all(pool)
            .await?;
            rows.iter().map(trigger_row).collect()
        }

        pub(super) async fn set_trigger_state(
            pool: &sqlx::Pool<$db>,
            name: &str,
            state: Switch,
            now: f64,
        ) -> Result<TriggerRecord> {
            let done = sqlx::query("UPDATE triggers SET state = $2, modified = $3 WHERE name = $1")
                .bind(name)
                .bind(state.as_str())
                .bind(now)
                .execute(pool)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("trigger {name}")));
            }
            get_trigger(pool, name)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("trigger {name}")))
        }

        pub(super) async fn delete_trigger(pool: &sqlx::Pool<$db>, name: &str) -> Result<()> {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("DELETE FROM triggers WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("trigger {name}")));
            }
            sqlx::query("DELETE FROM trigger_objects WHERE trigger_name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }

        pub(super) async fn claim_trigger_listing(
            pool: &sqlx::Pool<$db>,
            name: &str,
            now: f64,
        ) -> Result<bool> {
            let done = sqlx::query(
                "UPDATE triggers SET last_listed = $2 WHERE name = $1 AND state = 'ENABLED' AND (last_listed IS NULL OR last_listed + interval_seconds <= $2)",
            )
            .bind(name)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn unseen_objects(
            pool: &sqlx::Pool<$db>,
            trigger: &str,
            objects: &[(String, String)],
        ) -> Result<Vec<bool>> {
            let mut seen = std::collections::HashSet::new();
            for chunk in objects.chunks(500) {
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT object_key, etag FROM trigger_objects WHERE trigger_name = ",
                );
                q.push_bind(trigger.to_string()).push(" AND object_key IN (");
                let mut keys = q.separated(", ");
                for (key, _) in chunk {
                    keys.push_bind(key.clone());
                }
                q.push(")");
                for row in q.build().fetch_all(pool).await? {
                    seen.insert((
                        row.try_get::<String, _>("object_key")?,
                        row.try_get::<String, _>("etag")?,
                    ));
                }
            }
            Ok(objects
                .iter()
                .map(|(k, e)| !seen.contains(&(k.clone(), e.clone())))
                .collect())
        }

        pub(super) async fn fire_objects(
            pool: &sqlx::Pool<$db>,
            fires: &[ObjectFire],
            lease: &Lease,
        ) -> Result<Vec<Option<String>>> {
            let mut tx = pool.begin().await?;
            let mut fresh = Vec::with_capacity(fires.len());
            for fire in fires {
                let inserted = sqlx::query(
                    "INSERT INTO trigger_objects (trigger_name, object_key, etag, execution_arn, seen) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(&fire.trigger)
                .bind(&fire.key)
                .bind(&fire.etag)
                .bind(&fire.execution.record.arn)
                .bind(fire.seen)
                .execute(&mut *tx)
                .await?;
                fresh.push(inserted.rows_affected() > 0);
            }
            let news: Vec<&NewExecution> = fires
                .iter()
                .zip(&fresh)
                .filter(|(_, fresh)| **fresh)
                .map(|(f, _)| &f.execution)
                .collect();
            let created: std::collections::HashSet<String> =
                $insert(&mut *tx, &news, lease).await?.into_iter().collect();
            tx.commit().await?;
            Ok(fires
                .iter()
                .map(|f| {
                    created
                        .contains(&f.execution.record.arn)
                        .then(|| f.execution.record.arn.clone())
                })
                .collect())
        }
    };
}

pub(crate) use schedule_sql;
