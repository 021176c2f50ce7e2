//! Retry and Catch: retriers, catchers and their ErrorEquals lists.

use serde_json::{Map, Value};

use super::helpers::{child, index, type_name};
use super::{At, Lang, MAX_SECONDS, StateFacts, Validator};

impl<'a> Validator<'a> {
    pub(super) fn retriers(&mut self, obj: &Map<String, Value>, pointer: &str, at: At<'_>) {
        let st = at.state;
        let Some(v) = obj.get("Retry") else { return };
        let ptr = child(pointer, "Retry");
        let Some(items) = v.as_array() else {
            self.schema(
                &ptr,
                st,
                format!("Retry must be an array, not {}", type_name(v)),
            );
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let item_ptr = index(&ptr, i);
            let Some(map) = item.as_object() else {
                self.schema(
                    &item_ptr,
                    st,
                    format!("A retrier must be an object, not {}", type_name(item)),
                );
                continue;
            };
            const ALLOWED: &[&str] = &[
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ];
            self.only_fields(map, &item_ptr, st, ALLOWED, "a retrier");
            self.error_equals(map, &item_ptr, st, i + 1 == items.len(), "Retry");
            if let Some(v) = map.get("IntervalSeconds") {
                self.int_in(
                    v,
                    &child(&item_ptr, "IntervalSeconds"),
                    st,
                    "IntervalSeconds",
                    1,
                    MAX_SECONDS,
                );
            }
            if let Some(v) = map.get("MaxAttempts") {
                self.int_in(
                    v,
                    &child(&item_ptr, "MaxAttempts"),
                    st,
                    "MaxAttempts",
                    0,
                    MAX_SECONDS,
                );
            }
            if let Some(v) = map.get("MaxDelaySeconds") {
                self.int_in(
                    v,
                    &child(&item_ptr, "MaxDelaySeconds"),
                    st,
                    "MaxDelaySeconds",
                    1,
                    MAX_SECONDS,
                );
            }
            if let Some(v) = map.get("BackoffRate")
                && !v.as_f64().is_some_and(|r| r >= 1.0)
            {
                self.schema(
                    &child(&item_ptr, "BackoffRate"),
                    st,
                    "BackoffRate must be a number greater than or equal to 1.0".to_string(),
                );
            }
            if let Some(v) = map.get("JitterStrategy")
                && !matches!(v.as_str(), Some("FULL") | Some("NONE"))
            {
                self.schema(
                    &child(&item_ptr, "JitterStrategy"),
                    st,
                    "JitterStrategy must be \"FULL\" or \"NONE\"".to_string(),
                );
            }
        }
    }

    pub(super) fn catchers(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        at: At<'_>,
        depth: usize,
        facts: &mut StateFacts,
    ) {
        let st = at.state;
        let Some(v) = obj.get("Catch") else { return };
        let ptr = child(pointer, "Catch");
        let Some(items) = v.as_array() else {
            self.schema(
                &ptr,
                st,
                format!("Catch must be an array, not {}", type_name(v)),
            );
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let item_ptr = index(&ptr, i);
            let Some(map) = item.as_object() else {
                self.schema(
                    &item_ptr,
                    st,
                    format!("A catcher must be an object, not {}", type_name(item)),
                );
                continue;
            };
            let allowed: &[&str] = match at.lang {
                Lang::JsonPath => &["ErrorEquals", "Next", "ResultPath", "Assign", "Comment"],
                Lang::Jsonata => &["ErrorEquals", "Next", "Output", "Assign", "Comment"],
            };
            for key in map.keys() {
                if !allowed.contains(&key.as_str()) {
                    let why = match (key.as_str(), at.lang) {
                        ("ResultPath", Lang::Jsonata) => {
                            "; ResultPath is JSONPath-only, use Output in JSONata states"
                                .to_string()
                        }
                        ("Output", Lang::JsonPath) => {
                            "; Output is JSONata-only, use ResultPath in JSONPath states"
                                .to_string()
                        }
                        _ => String::new(),
                    };
                    self.schema(
                        &child(&item_ptr, key),
                        st,
                        format!(
                            "Field '{key}' is not supported in a catcher (allowed: {}){why}",
                            allowed.join(", ")
                        ),
                    );
                }
            }
            self.error_equals(map, &item_ptr, st, i + 1 == items.len(), "Catch");
            match map.get("Next") {
                Some(next) => self.target(next, &child(&item_ptr, "Next"), st, "Next", facts),
                None => self.schema(
                    &item_ptr,
                    st,
                    "These fields are required: [Next]".to_string(),
                ),
            }
            if at.lang == Lang::JsonPath {
                if let Some(v) = map.get("ResultPath") {
                    self.result_path(v, &child(&item_ptr, "ResultPath"), st);
                }
            } else if let Some(v) = map.get("Output") {
                self.jsonata_value(v, &child(&item_ptr, "Output"), st, depth + 2);
            }
            if let Some(v) = map.get("Assign") {
                self.assign(v, &child(&item_ptr, "Assign"), at, depth + 2);
            }
        }
    }

    pub(super) fn only_fields(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        st: Option<&str>,
        allowed: &[&str],
        what: &str,
    ) {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                self.schema(
                    &child(pointer, key),
                    st,
                    format!(
                        "Field '{key}' is not supported in {what} (allowed: {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    fn error_equals(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        st: Option<&str>,
        last: bool,
        field: &str,
    ) {
        let ptr = child(pointer, "ErrorEquals");
        let Some(v) = map.get("ErrorEquals") else {
            self.schema(
                pointer,
                st,
                "These fields are required: [ErrorEquals]".to_string(),
            );
            return;
        };
        let Some(items) = v.as_array().filter(|a| !a.is_empty()) else {
            self.schema(
                &ptr,
                st,
                "ErrorEquals must be a non-empty array of error names".to_string(),
            );
            return;
        };
        let mut has_all = false;
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some("States.ALL") => has_all = true,
                Some(_) => {}
                None => self.schema(
                    &index(&ptr, i),
                    st,
                    format!("Error names must be strings, not {}", type_name(item)),
                ),
            }
        }
        if has_all && items.len() > 1 {
            self.schema(
                &ptr,
                st,
                "States.ALL must appear alone in ErrorEquals".to_string(),
            );
        }
        if has_all && !last {
            self.schema(
                &ptr,
                st,
                format!("The {field} entry matching States.ALL must be the last one"),
            );
        }
    }
}
