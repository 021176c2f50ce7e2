//! Field kinds shared by the state types, and the Task, Wait and Fail field rules.

use serde_json::{Map, Value};

use super::helpers::{child, type_name};
use super::resource::resource_arn;
use super::{At, INVALID_INTRINSIC, Lang, MAX_SECONDS, Validator, is_rfc3339};

impl<'a> Validator<'a> {
    // ---- field kinds -------------------------------------------------------------------

    pub(super) fn positive_int(&mut self, v: &Value, pointer: &str, st: Option<&str>, field: &str) {
        self.int_in(v, pointer, st, field, 1, MAX_SECONDS);
    }

    pub(super) fn int_in(
        &mut self,
        v: &Value,
        pointer: &str,
        st: Option<&str>,
        field: &str,
        min: u64,
        max: u64,
    ) {
        let ok = v.as_u64().is_some_and(|n| n >= min && n <= max);
        if !ok {
            let got = match v {
                Value::Number(n) => format!("{n}"),
                other => type_name(other).to_string(),
            };
            self.schema(
                pointer,
                st,
                format!("{field} must be an integer from {min} to {max}, got {got}"),
            );
        }
    }

    /// A field that holds either a literal (checked by `literal`) or, in JSONata, an expression.
    pub(super) fn literal_or_jsonata(
        &mut self,
        v: &Value,
        pointer: &str,
        at: At<'_>,
        literal: impl FnOnce(&mut Self),
    ) {
        if at.lang == Lang::Jsonata
            && let Some(s) = v.as_str()
            && self.jsonata_string(s, pointer, at.state)
        {
            return;
        }
        literal(self);
    }

    pub(super) fn int_field(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        at: At<'_>,
        field: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let v = obj.get(field)?;
        let ptr = child(pointer, field);
        self.literal_or_jsonata(v, &ptr, at, |me| {
            me.int_in(v, &ptr, at.state, field, min, max)
        });
        // Only an in-range value feeds cross-field checks, so one bad number is one problem.
        v.as_u64().filter(|n| (min..=max).contains(n))
    }

    /// Reports when both a literal field and its `...Path` twin are set.
    pub(super) fn exclusive(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        st: Option<&str>,
        a: &str,
        b: &str,
    ) {
        if obj.contains_key(a) && obj.contains_key(b) {
            self.schema(
                &child(pointer, b),
                st,
                format!("Fields '{a}' and '{b}' are mutually exclusive; keep only one"),
            );
        }
    }

    fn string_field(&mut self, v: &Value, pointer: &str, at: At<'_>, field: &str) {
        if v.is_string() {
            if at.lang == Lang::Jsonata
                && let Some(s) = v.as_str()
            {
                self.jsonata_string(s, pointer, at.state);
            }
        } else {
            self.schema(
                pointer,
                at.state,
                format!("{field} must be a string, not {}", type_name(v)),
            );
        }
    }

    // ---- state types -------------------------------------------------------------------

    pub(super) fn task(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        at: At<'_>,
        depth: usize,
    ) {
        let st = at.state;
        match obj.get("Resource") {
            None => self.schema(
                pointer,
                st,
                "These fields are required: [Resource]".to_string(),
            ),
            Some(Value::String(r)) => {
                if let Err(why) = resource_arn(r) {
                    self.schema(&child(pointer, "Resource"), st, why);
                }
            }
            Some(other) => self.schema(
                &child(pointer, "Resource"),
                st,
                format!("Resource must be an ARN string, not {}", type_name(other)),
            ),
        }
        let timeout = self.int_field(obj, pointer, at, "TimeoutSeconds", 1, MAX_SECONDS);
        let heartbeat = self.int_field(obj, pointer, at, "HeartbeatSeconds", 1, MAX_SECONDS);
        for field in ["TimeoutSecondsPath", "HeartbeatSecondsPath"] {
            if let Some(v) = obj.get(field) {
                self.reference_path(v, &child(pointer, field), st, field);
            }
        }
        self.exclusive(obj, pointer, st, "TimeoutSeconds", "TimeoutSecondsPath");
        self.exclusive(obj, pointer, st, "HeartbeatSeconds", "HeartbeatSecondsPath");
        if let (Some(t), Some(h)) = (timeout, heartbeat)
            && h >= t
        {
            self.schema(
                &child(pointer, "HeartbeatSeconds"),
                st,
                format!("HeartbeatSeconds ({h}) must be smaller than TimeoutSeconds ({t})"),
            );
        }
        if let Some(v) = obj.get("Credentials") {
            self.credentials(v, &child(pointer, "Credentials"), at, depth);
        }
    }

    fn credentials(&mut self, v: &Value, pointer: &str, at: At<'_>, depth: usize) {
        let st = at.state;
        let Some(map) = v.as_object() else {
            self.schema(
                pointer,
                st,
                format!(
                    "Credentials must be an object with a RoleArn field, not {}",
                    type_name(v)
                ),
            );
            return;
        };
        let role_fields: &[&str] = match at.lang {
            Lang::JsonPath => &["RoleArn", "RoleArn.$"],
            Lang::Jsonata => &["RoleArn"],
        };
        let present = role_fields.iter().filter(|f| map.contains_key(**f)).count();
        if present == 0 {
            self.schema(
                pointer,
                st,
                "The field 'RoleArn' is required but was missing".to_string(),
            );
        } else if present > 1 {
            self.schema(
                pointer,
                st,
                "Fields 'RoleArn' and 'RoleArn.$' are mutually exclusive; keep only one"
                    .to_string(),
            );
        }
        for key in map.keys() {
            if !role_fields.contains(&key.as_str()) {
                self.schema(
                    &child(pointer, key),
                    st,
                    format!(
                        "Field '{key}' is not supported in Credentials; allowed: {}",
                        role_fields.join(", ")
                    ),
                );
            }
        }
        if let Some(role) = map.get("RoleArn") {
            self.string_field(role, &child(pointer, "RoleArn"), at, "RoleArn");
        }
        // The RoleArn.$ value follows the ordinary payload-template rules.
        if at.lang == Lang::JsonPath && map.contains_key("RoleArn.$") {
            let only_dynamic: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| k.as_str() == "RoleArn.$")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            self.jsonpath_template(&Value::Object(only_dynamic), pointer, st, depth + 1);
        }
    }

    pub(super) fn wait(&mut self, obj: &Map<String, Value>, pointer: &str, at: At<'_>) {
        let st = at.state;
        let fields = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"];
        let present: Vec<&str> = fields
            .iter()
            .copied()
            .filter(|f| obj.contains_key(*f))
            .collect();
        if present.len() != 1 {
            let which = match at.lang {
                Lang::JsonPath => "Seconds, Timestamp, SecondsPath or TimestampPath",
                Lang::Jsonata => "Seconds or Timestamp",
            };
            let got = if present.is_empty() {
                "none".to_string()
            } else {
                present.join(", ")
            };
            self.schema(
                pointer,
                st,
                format!("A Wait state needs exactly one of {which}; found: {got}"),
            );
        }
        self.int_field(obj, pointer, at, "Seconds", 0, MAX_SECONDS);
        if let Some(v) = obj.get("Timestamp") {
            let ptr = child(pointer, "Timestamp");
            self.literal_or_jsonata(v, &ptr, at, |me| match v.as_str() {
                Some(s) if is_rfc3339(s) => {}
                Some(_) => me.schema(
                    &ptr,
                    st,
                    "String does not match RFC3339 timestamp (e.g. 2016-03-14T01:59:00Z)"
                        .to_string(),
                ),
                None => me.schema(
                    &ptr,
                    st,
                    format!("Timestamp must be a string, not {}", type_name(v)),
                ),
            });
        }
        for field in ["SecondsPath", "TimestampPath"] {
            if let Some(v) = obj.get(field) {
                self.reference_path(v, &child(pointer, field), st, field);
            }
        }
    }

    pub(super) fn fail(&mut self, obj: &Map<String, Value>, pointer: &str, at: At<'_>) {
        let st = at.state;
        for field in ["Error", "Cause"] {
            if let Some(v) = obj.get(field) {
                self.string_field(v, &child(pointer, field), at, field);
            }
        }
        for field in ["ErrorPath", "CausePath"] {
            if let Some(v) = obj.get(field) {
                let ptr = child(pointer, field);
                match v.as_str() {
                    Some(text) if text.starts_with("States.") => {
                        if let Err(why) = self.checker.check_intrinsic(text) {
                            self.report(
                                &ptr,
                                st,
                                INVALID_INTRINSIC,
                                format!(
                                    "{field} \"{text}\" is not a valid intrinsic function call: {why}"
                                ),
                            );
                        }
                    }
                    Some(_) => self.path_field(v, &ptr, st, field),
                    None => self.schema(
                        &ptr,
                        st,
                        format!("{field} must be a string, not {}", type_name(v)),
                    ),
                }
            }
        }
        self.exclusive(obj, pointer, st, "Error", "ErrorPath");
        self.exclusive(obj, pointer, st, "Cause", "CausePath");
    }
}
