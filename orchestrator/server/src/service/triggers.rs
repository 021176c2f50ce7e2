//! Object triggers: a new object under a trigger's `s3://bucket/prefix` (ending in its
//! suffix) starts the trigger's state machine with an EventBridge-shaped `Object Created`
//! event. New objects are found two ways, by listing the prefix at the trigger's interval
//! and by S3 event notifications pushed to `sluice serve`; both go through the store's
//! seen-set in the transaction that creates the execution, so each object version starts
//! one execution whichever way, and however often, it is seen.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::SecondsFormat;
use futures::TryStreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::schedules::{execution_arn, utc};
use super::{Service, ServiceError};
use crate::store::{
    Cursor, ExecutionRecord, ExecutionStatus, Lease, MachineType, NewExecution, ObjectFire,
    StateMachineRecord, Switch, TriggerRecord,
};

/// Objects per seen-set lookup and per firing transaction.
const OBJECT_BATCH: usize = 500;

/// One object version as a listing or a notification reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectVersion {
    pub bucket: String,
    pub key: String,
    /// Without quotes.
    pub etag: String,
    pub size: u64,
    pub version_id: Option<String>,
    /// Seconds since the epoch.
    pub modified: f64,
    pub sequencer: Option<String>,
}

/// Failures of a pushed notification.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("the notification is not JSON: {0}")]
    NotJson(String),
    #[error("{pointer}: {message}")]
    Field { pointer: String, message: String },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// What a listing round or a notification did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TriggerReport {
    /// Object versions that matched a trigger.
    pub matched: usize,
    /// Executions started for versions not seen before.
    pub started: usize,
}

/// Whether `key` falls under the trigger.
pub fn matches(trigger: &TriggerRecord, bucket: &str, key: &str) -> bool {
    trigger.bucket == bucket && key.starts_with(&trigger.prefix) && key.ends_with(&trigger.suffix)
}

/// The execution name of an object version: the trigger's name and a hash of the version,
/// the same for a listing and a notification of it.
pub fn execution_name(trigger: &str, object: &ObjectVersion) -> String {
    let digest = Sha256::digest(format!(
        "{}\n{}\n{}",
        object.bucket, object.key, object.etag
    ));
    let hash: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let keep = 80 - hash.len() - 1;
    let cut: String = trigger.chars().take(keep).collect();
    format!("{cut}-{hash}")
}

/// The input of the execution: EventBridge's S3 `Object Created` event.
pub fn object_created_event(
    object: &ObjectVersion,
    region: &str,
    account: &str,
    reason: &str,
) -> Value {
    let digest = Sha256::digest(format!(
        "{}\n{}\n{}",
        object.bucket, object.key, object.etag
    ));
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    let mut detail_object = json!({"key": object.key, "size": object.size, "etag": object.etag});
    if let Some(v) = &object.version_id {
        detail_object["version-id"] = json!(v);
    }
    if let Some(s) = &object.sequencer {
        detail_object["sequencer"] = json!(s);
    }
    json!({
        "version": "0",
        "id": uuid::Builder::from_random_bytes(id).into_uuid().to_string(),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": utc(object.modified).to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": region,
        "resources": [format!("arn:aws:s3:::{}", object.bucket)],
        "detail": {
            "version": "0",
            "bucket": {"name": object.bucket},
            "object": detail_object,
            "request-id": "",
            "requester": account,
            "reason": reason,
        }
    })
}

/// `"abc"` → `abc`.
fn bare_etag(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

impl Service {
    /// Start the executions of the object versions `trigger` has not seen. Returns how many
    /// started here.
    pub async fn fire_objects(
        self: &Arc<Self>,
        trigger: &TriggerRecord,
        objects: &[ObjectVersion],
        reason: &str,
    ) -> Result<usize, ServiceError> {
        let Some(machine) = self.store.get_state_machine(&trigger.target_arn).await? else {
            tracing::warn!(trigger = %trigger.name, target = %trigger.target_arn, "the trigger's target no longer exists; new objects are not recorded");
            return Ok(0);
        };
        if machine.kind == MachineType::Express {
            tracing::warn!(trigger = %trigger.name, "triggers start Standard state machines only");
            return Ok(0);
        }
        let start = self.plans.get(&machine.definition)?.graph.start;
        let mut started = 0;
        for chunk in objects.chunks(OBJECT_BATCH) {
            let pairs: Vec<(String, String)> = chunk
                .iter()
                .map(|o| (o.key.clone(), o.etag.clone()))
                .collect();
            let unseen = self.store.unseen_objects(&trigger.name, &pairs).await?;
            let now = crate::time::now();
            let fires: Vec<ObjectFire> = chunk
                .iter()
                .zip(unseen)
                .filter(|(_, unseen)| *unseen)
                .map(|(o, _)| ObjectFire {
                    trigger: trigger.name.clone(),
                    key: o.key.clone(),
                    etag: o.etag.clone(),
                    seen: now,
                    execution: self.object_execution(trigger, &machine, start, o, reason, now),
                })
                .collect();
            if fires.is_empty() {
                continue;
            }
            let lease = Lease {
                owner: self.config.replica_id.clone(),
                until: now + self.config.execution_lease_seconds,
            };
            for arn in self
                .store
                .fire_objects(&fires, &lease)
                .await?
                .into_iter()
                .flatten()
            {
                started += 1;
                self.metrics
                    .executions_started
                    .with_label_values(&[crate::metrics::machine_label(&machine.arn), "STANDARD"])
                    .inc();
                self.metrics
                    .trigger_executions
                    .with_label_values(&[&trigger.name])
                    .inc();
                self.spawn_driver(arn);
            }
        }
        if started > 0 {
            tracing::info!(target: "sluice::triggers", trigger = %trigger.name, started, "new objects started executions");
        }
        Ok(started)
    }

    fn object_execution(
        &self,
        trigger: &TriggerRecord,
        machine: &StateMachineRecord,
        start: usize,
        object: &ObjectVersion,
        reason: &str,
        now: f64,
    ) -> NewExecution {
        let name = execution_name(&trigger.name, object);
        let (region, account) = region_account(&machine.arn);
        let input = object_created_event(object, region, account, reason).to_string();
        let started = super::driver::started_event(&input, &machine.role_arn);
        NewExecution {
            cursor: Cursor {
                state: start as i64,
                input: input.clone(),
                vars: "{}".into(),
                version: 0,
                next_event_id: 2,
                step_events: 0,
                transitions: 0,
            },
            record: ExecutionRecord {
                arn: execution_arn(machine, &name),
                state_machine_arn: machine.arn.clone(),
                name,
                status: ExecutionStatus::Running,
                input,
                output: None,
                error: None,
                cause: None,
                start: now,
                stop: None,
                definition: machine.definition.clone(),
                role_arn: machine.role_arn.clone(),
                kind: machine.kind,
                redrive_count: 0,
                map_run_arn: None,
            },
            events: vec![started],
        }
    }

    /// List a trigger's prefix once and start executions for the versions it has not seen.
    pub async fn list_trigger(
        self: &Arc<Self>,
        trigger: &TriggerRecord,
    ) -> Result<TriggerReport, ListError> {
        let store = self
            .config
            .integrations
            .buckets
            .open(&trigger.bucket)
            .map_err(|e| ListError::Bucket(e.to_string()))?;
        let prefix = object_store::path::Path::from(trigger.prefix.trim_end_matches('/'));
        let prefix = (!trigger.prefix.is_empty()).then_some(prefix);
        let mut listing = store.list(prefix.as_ref());
        let mut report = TriggerReport::default();
        let mut page = Vec::new();
        while let Some(meta) = listing
            .try_next()
            .await
            .map_err(|e| ListError::Bucket(e.to_string()))?
        {
            let key = meta.location.to_string();
            let modified = meta.last_modified.timestamp_micros() as f64 / 1e6;
            if !matches(trigger, &trigger.bucket, &key)
                || (!trigger.include_existing && modified < trigger.created.floor())
            {
                continue;
            }
            page.push(ObjectVersion {
                bucket: trigger.bucket.clone(),
                key,
                etag: bare_etag(meta.e_tag.as_deref().unwrap_or("")),
                size: meta.size,
                version_id: meta.version.clone(),
                modified,
                sequencer: None,
            });
            if page.len() == OBJECT_BATCH {
                report.matched += page.len();
                report.started += self.fire_objects(trigger, &page, "PutObject").await?;
                page.clear();
            }
        }
        report.matched += page.len();
        report.started += self.fire_objects(trigger, &page, "PutObject").await?;
        Ok(report)
    }

    /// Take an S3 event notification (the `Records` JSON that S3 and S3-compatible servers
    /// such as MinIO post): every created object under an enabled trigger starts that
    /// trigger's execution unless the version was seen.
    pub async fn accept_notification(
        self: &Arc<Self>,
        body: &[u8],
    ) -> Result<TriggerReport, NotificationError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| NotificationError::NotJson(e.to_string()))?;
        let objects = parse_notification(&value)?;
        let triggers: Vec<TriggerRecord> = self
            .store
            .list_triggers()
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .filter(|t| t.state == Switch::Enabled)
            .collect();
        let mut per_trigger: HashMap<&str, (&TriggerRecord, Vec<ObjectVersion>)> = HashMap::new();
        let mut report = TriggerReport::default();
        for object in objects {
            for t in &triggers {
                if matches(t, &object.bucket, &object.key) {
                    report.matched += 1;
                    per_trigger
                        .entry(t.name.as_str())
                        .or_insert_with(|| (t, Vec::new()))
                        .1
                        .push(object.clone());
                }
            }
        }
        for (trigger, objects) in per_trigger.into_values() {
            report.started += self.fire_objects(trigger, &objects, "PutObject").await?;
        }
        Ok(report)
    }

    /// List every enabled trigger whose interval has passed (replicas take turns), until
    /// shutdown, checking every `period`.
    pub(crate) async fn run_triggers(self: Arc<Self>, period: std::time::Duration) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let triggers = match self.store.list_triggers().await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "reading triggers failed");
                    continue;
                }
            };
            for trigger in triggers.into_iter().filter(|t| t.state == Switch::Enabled) {
                match self
                    .store
                    .claim_trigger_listing(&trigger.name, crate::time::now())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(trigger = %trigger.name, error = %e, "taking the listing round failed");
                        continue;
                    }
                }
                if let Err(e) = self.list_trigger(&trigger).await {
                    tracing::warn!(trigger = %trigger.name, error = %e, "listing the trigger's prefix failed; trying at the next interval");
                }
            }
        }
    }
}

/// Failures of a listing round.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("listing the bucket: {0}")]
    Bucket(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// `(region, account)` of an ARN.
fn region_account(arn: &str) -> (&str, &str) {
    let mut parts = arn.split(':').skip(3);
    (parts.next().unwrap_or(""), parts.next().unwrap_or(""))
}

/// The created objects of an S3 event notification, each field checked.
pub fn parse_notification(value: &Value) -> Result<Vec<ObjectVersion>, NotificationError> {
    let field = |pointer: String, message: &str| NotificationError::Field {
        pointer,
        message: message.to_string(),
    };
    let records = value
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| field("/Records".into(), "must be an array of event records"))?;
    let mut out = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let at = |rest: &str| format!("/Records/{i}{rest}");
        let name = record
            .get("eventName")
            .and_then(Value::as_str)
            .ok_or_else(|| field(at("/eventName"), "must be a string"))?;
        // S3 writes `ObjectCreated:Put`, MinIO `s3:ObjectCreated:Put`.
        if !name.trim_start_matches("s3:").starts_with("ObjectCreated:") {
            continue;
        }
        let s3 = record
            .get("s3")
            .ok_or_else(|| field(at("/s3"), "is missing"))?;
        let bucket = s3
            .pointer("/bucket/name")
            .and_then(Value::as_str)
            .ok_or_else(|| field(at("/s3/bucket/name"), "must be a string"))?;
        let object = s3
            .get("object")
            .ok_or_else(|| field(at("/s3/object"), "is missing"))?;
        let raw_key = object
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| field(at("/s3/object/key"), "must be a string"))?;
        // Keys arrive URL-encoded, with `+` for a space.
        let key = percent_encoding::percent_decode_str(&raw_key.replace('+', " "))
            .decode_utf8()
            .map_err(|_| field(at("/s3/object/key"), "is not URL-encoded UTF-8"))?
            .into_owned();
        let etag = object
            .get("eTag")
            .or_else(|| object.get("etag"))
            .and_then(Value::as_str)
            .ok_or_else(|| field(at("/s3/object/eTag"), "must be a string"))?;
        let size = object.get("size").and_then(Value::as_u64).unwrap_or(0);
        let modified = record
            .get("eventTime")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_micros() as f64 / 1e6)
            .unwrap_or_else(crate::time::now);
        let text = |name: &str| {
            object
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && *s != "null")
                .map(str::to_string)
        };
        out.push(ObjectVersion {
            bucket: bucket.to_string(),
            key,
            etag: bare_etag(etag),
            size,
            version_id: text("versionId"),
            modified,
            sequencer: text("sequencer"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minio_and_s3_notifications_parse() {
        let minio = json!({"EventName": "s3:ObjectCreated:Put", "Key": "in/a b.csv", "Records": [{
            "eventName": "s3:ObjectCreated:Put", "eventTime": "2026-12-03T04:00:00.000Z",
            "s3": {"bucket": {"name": "in"}, "object": {"key": "raw%2Fa+b.csv", "size": 5,
                "eTag": "\"abc\"", "versionId": "", "sequencer": "17"}}
        }, {"eventName": "s3:ObjectRemoved:Delete", "s3": {}}]});
        let objects = parse_notification(&minio).expect("parses");
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].key, "raw/a b.csv");
        assert_eq!(objects[0].etag, "abc");
        assert_eq!(objects[0].version_id, None);
        assert_eq!(objects[0].modified, 1_796_270_400.0);
        let bad = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {}}}]});
        let e = parse_notification(&bad).expect_err("no bucket name");
        assert_eq!(e.to_string(), "/Records/0/s3/bucket/name: must be a string");
        assert!(parse_notification(&json!({"records": []})).is_err());
    }

    #[test]
    fn object_names_are_stable_per_version() {
        let o = ObjectVersion {
            bucket: "b".into(),
            key: "k".into(),
            etag: "e".into(),
            size: 1,
            version_id: None,
            modified: 0.0,
            sequencer: None,
        };
        let name = execution_name("t", &o);
        assert_eq!(name, execution_name("t", &o.clone()));
        let other = ObjectVersion {
            etag: "f".into(),
            ..o.clone()
        };
        assert_ne!(name, execution_name("t", &other));
        assert!(execution_name(&"x".repeat(100), &o).len() <= 80);
        let event = object_created_event(&o, "us-east-1", "123456789012", "PutObject");
        assert_eq!(event["detail-type"], "Object Created");
        assert_eq!(event["detail"]["bucket"]["name"], "b");
    }
}
