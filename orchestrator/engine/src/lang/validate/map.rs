//! Parallel and Map states: branches, item processors, readers, batchers and result writers.

use serde_json::{Map, Value};

use super::helpers::{child, index, type_name};
use super::resource::resource_arn;
use super::{At, Lang, ScopeKind, Validator};

impl<'a> Validator<'a> {
    pub(super) fn parallel(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        at: At<'_>,
        inherited: Lang,
        depth: usize,
    ) {
        let st = at.state;
        let ptr = child(pointer, "Branches");
        match obj.get("Branches") {
            None => self.schema(
                pointer,
                st,
                "These fields are required: [Branches]".to_string(),
            ),
            Some(Value::Array(branches)) if !branches.is_empty() => {
                for (i, branch) in branches.iter().enumerate() {
                    let branch_ptr = index(&ptr, i);
                    match branch.as_object() {
                        Some(b) => {
                            self.scope(b, &branch_ptr, ScopeKind::Branch, inherited, st, depth + 1)
                        }
                        None => self.schema(
                            &branch_ptr,
                            st,
                            format!(
                                "A branch must be an object with StartAt and States, not {}",
                                type_name(branch)
                            ),
                        ),
                    }
                }
            }
            Some(_) => self.schema(
                &ptr,
                st,
                "Branches must be a non-empty array of state machines".to_string(),
            ),
        }
    }

    pub(super) fn map(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        at: At<'_>,
        inherited: Lang,
        depth: usize,
    ) {
        let st = at.state;
        match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (None, None) => self.schema(
                pointer,
                st,
                "These fields are required: [ItemProcessor] (or the older Iterator)".to_string(),
            ),
            (Some(_), Some(_)) => self.schema(
                &child(pointer, "Iterator"),
                st,
                "Fields 'ItemProcessor' and 'Iterator' are mutually exclusive; keep ItemProcessor"
                    .to_string(),
            ),
            _ => {}
        }
        for (field, kind) in [
            ("ItemProcessor", ScopeKind::Processor),
            ("Iterator", ScopeKind::Iterator),
        ] {
            if let Some(v) = obj.get(field) {
                let ptr = child(pointer, field);
                match v.as_object() {
                    Some(p) => self.scope(p, &ptr, kind, inherited, st, depth + 1),
                    None => self.schema(
                        &ptr,
                        st,
                        format!(
                            "{field} must be an object with StartAt and States, not {}",
                            type_name(v)
                        ),
                    ),
                }
            }
        }
        if let Some(v) = obj.get("ItemsPath") {
            self.reference_path(v, &child(pointer, "ItemsPath"), st, "ItemsPath");
        }
        if let Some(v) = obj.get("Items") {
            let ptr = child(pointer, "Items");
            match v {
                Value::Array(_) | Value::Object(_) => self.jsonata_value(v, &ptr, st, depth + 1),
                Value::String(s) if self.jsonata_string(s, &ptr, st) => {}
                other => self.schema(
                    &ptr,
                    st,
                    format!(
                        "Items must be an array or a JSONata expression, not {}",
                        type_name(other)
                    ),
                ),
            }
        }
        self.exclusive(obj, pointer, st, "Items", "ItemsPath");
        if let Some(v) = obj.get("ItemSelector") {
            self.template(v, &child(pointer, "ItemSelector"), at, depth + 1);
        }
        self.exclusive(obj, pointer, st, "ItemSelector", "Parameters");
        self.int_field(obj, pointer, at, "MaxConcurrency", 0, u64::from(u32::MAX));
        self.exclusive(obj, pointer, st, "MaxConcurrency", "MaxConcurrencyPath");
        self.int_field(
            obj,
            pointer,
            at,
            "ToleratedFailureCount",
            0,
            u64::from(u32::MAX),
        );
        self.exclusive(
            obj,
            pointer,
            st,
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
        );
        if let Some(v) = obj.get("ToleratedFailurePercentage") {
            let ptr = child(pointer, "ToleratedFailurePercentage");
            self.literal_or_jsonata(v, &ptr, at, |me| {
                if !v.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p)) {
                    me.schema(
                        &ptr,
                        st,
                        "ToleratedFailurePercentage must be a number from 0 to 100".to_string(),
                    );
                }
            });
        }
        self.exclusive(
            obj,
            pointer,
            st,
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
        );
        for field in [
            "MaxConcurrencyPath",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentagePath",
        ] {
            if let Some(v) = obj.get(field) {
                self.reference_path(v, &child(pointer, field), st, field);
            }
        }
        if let Some(v) = obj.get("Label") {
            match v.as_str() {
                Some(label) if label.chars().count() <= 40 => {}
                _ => self.schema(
                    &child(pointer, "Label"),
                    st,
                    "Label must be a string of at most 40 characters".to_string(),
                ),
            }
        }
        if let Some(v) = obj.get("ItemReader") {
            self.item_reader(v, &child(pointer, "ItemReader"), at, depth);
        }
        if let Some(v) = obj.get("ItemBatcher") {
            self.item_batcher(v, &child(pointer, "ItemBatcher"), at, depth);
        }
        if let Some(v) = obj.get("ResultWriter") {
            self.result_writer(v, &child(pointer, "ResultWriter"), at, depth);
        }
    }

    pub(super) fn processor_config(&mut self, v: &Value, pointer: &str, st: Option<&str>) {
        let Some(map) = v.as_object() else {
            self.schema(
                pointer,
                st,
                format!("ProcessorConfig must be an object, not {}", type_name(v)),
            );
            return;
        };
        self.only_fields(
            map,
            pointer,
            st,
            &["Mode", "ExecutionType"],
            "ProcessorConfig",
        );
        if let Some(mode) = map.get("Mode")
            && !matches!(mode.as_str(), Some("INLINE") | Some("DISTRIBUTED"))
        {
            self.schema(
                &child(pointer, "Mode"),
                st,
                "Mode must be \"INLINE\" or \"DISTRIBUTED\"".to_string(),
            );
        }
        if let Some(et) = map.get("ExecutionType")
            && !matches!(et.as_str(), Some("STANDARD") | Some("EXPRESS"))
        {
            self.schema(
                &child(pointer, "ExecutionType"),
                st,
                "ExecutionType must be \"STANDARD\" or \"EXPRESS\"".to_string(),
            );
        }
    }

    /// Resource plus Parameters/Arguments, shared by ItemReader and ResultWriter.
    fn resource_block(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        at: At<'_>,
        depth: usize,
    ) {
        let st = at.state;
        match map.get("Resource") {
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
            None => self.schema(
                pointer,
                st,
                "These fields are required: [Resource]".to_string(),
            ),
        }
        let (good, bad) = match at.lang {
            Lang::JsonPath => ("Parameters", "Arguments"),
            Lang::Jsonata => ("Arguments", "Parameters"),
        };
        if let Some(v) = map.get(good) {
            self.template(v, &child(pointer, good), at, depth + 2);
        }
        if map.contains_key(bad) {
            self.schema(
                &child(pointer, bad),
                st,
                format!(
                    "Field '{bad}' is not supported in {} states; use '{good}'",
                    at.lang.name()
                ),
            );
        }
    }

    fn item_reader(&mut self, v: &Value, pointer: &str, at: At<'_>, depth: usize) {
        let st = at.state;
        let Some(map) = v.as_object() else {
            self.schema(
                pointer,
                st,
                format!("ItemReader must be an object, not {}", type_name(v)),
            );
            return;
        };
        self.only_fields(
            map,
            pointer,
            st,
            &["Resource", "Parameters", "Arguments", "ReaderConfig"],
            "ItemReader",
        );
        self.resource_block(map, pointer, at, depth);
        if let Some(cfg) = map.get("ReaderConfig") {
            let ptr = child(pointer, "ReaderConfig");
            match cfg.as_object() {
                Some(cfg) => {
                    self.int_field(cfg, &ptr, at, "MaxItems", 0, 100_000_000);
                    self.exclusive(cfg, &ptr, st, "MaxItems", "MaxItemsPath");
                    if let Some(p) = cfg.get("MaxItemsPath") {
                        self.reference_path(p, &child(&ptr, "MaxItemsPath"), st, "MaxItemsPath");
                    }
                }
                None => self.schema(
                    &ptr,
                    st,
                    format!("ReaderConfig must be an object, not {}", type_name(cfg)),
                ),
            }
        }
    }

    fn item_batcher(&mut self, v: &Value, pointer: &str, at: At<'_>, depth: usize) {
        let st = at.state;
        let Some(map) = v.as_object() else {
            self.schema(
                pointer,
                st,
                format!("ItemBatcher must be an object, not {}", type_name(v)),
            );
            return;
        };
        self.only_fields(
            map,
            pointer,
            st,
            &[
                "MaxItemsPerBatch",
                "MaxItemsPerBatchPath",
                "MaxInputBytesPerBatch",
                "MaxInputBytesPerBatchPath",
                "BatchInput",
            ],
            "ItemBatcher",
        );
        self.int_field(map, pointer, at, "MaxItemsPerBatch", 1, u64::from(u32::MAX));
        self.int_field(map, pointer, at, "MaxInputBytesPerBatch", 1, 262_144);
        self.exclusive(map, pointer, st, "MaxItemsPerBatch", "MaxItemsPerBatchPath");
        self.exclusive(
            map,
            pointer,
            st,
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
        );
        for field in ["MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"] {
            if let Some(p) = map.get(field) {
                self.reference_path(p, &child(pointer, field), st, field);
            }
        }
        if let Some(b) = map.get("BatchInput") {
            self.template(b, &child(pointer, "BatchInput"), at, depth + 2);
        }
    }

    fn result_writer(&mut self, v: &Value, pointer: &str, at: At<'_>, depth: usize) {
        let st = at.state;
        let Some(map) = v.as_object() else {
            self.schema(
                pointer,
                st,
                format!("ResultWriter must be an object, not {}", type_name(v)),
            );
            return;
        };
        self.only_fields(
            map,
            pointer,
            st,
            &["Resource", "Parameters", "Arguments", "WriterConfig"],
            "ResultWriter",
        );
        if map.contains_key("Resource") {
            self.resource_block(map, pointer, at, depth);
        }
    }
}
