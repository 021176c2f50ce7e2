//! Choice states: JSONata conditions and JSONPath rules with their comparison operators.

use serde_json::{Map, Value};

use super::helpers::{child, index, type_name};
use super::{At, Lang, MAX_DEPTH, StateFacts, Validator, is_rfc3339};

/// Comparison operators of JSONPath Choice rules and the operand each expects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operand {
    Str,
    Num,
    Bool,
    Time,
    Path,
}

const COMPARISONS: &[(&str, Operand)] = &[
    ("StringEquals", Operand::Str),
    ("StringEqualsPath", Operand::Path),
    ("StringLessThan", Operand::Str),
    ("StringLessThanPath", Operand::Path),
    ("StringGreaterThan", Operand::Str),
    ("StringGreaterThanPath", Operand::Path),
    ("StringLessThanEquals", Operand::Str),
    ("StringLessThanEqualsPath", Operand::Path),
    ("StringGreaterThanEquals", Operand::Str),
    ("StringGreaterThanEqualsPath", Operand::Path),
    ("StringMatches", Operand::Str),
    ("NumericEquals", Operand::Num),
    ("NumericEqualsPath", Operand::Path),
    ("NumericLessThan", Operand::Num),
    ("NumericLessThanPath", Operand::Path),
    ("NumericGreaterThan", Operand::Num),
    ("NumericGreaterThanPath", Operand::Path),
    ("NumericLessThanEquals", Operand::Num),
    ("NumericLessThanEqualsPath", Operand::Path),
    ("NumericGreaterThanEquals", Operand::Num),
    ("NumericGreaterThanEqualsPath", Operand::Path),
    ("BooleanEquals", Operand::Bool),
    ("BooleanEqualsPath", Operand::Path),
    ("TimestampEquals", Operand::Time),
    ("TimestampEqualsPath", Operand::Path),
    ("TimestampLessThan", Operand::Time),
    ("TimestampLessThanPath", Operand::Path),
    ("TimestampGreaterThan", Operand::Time),
    ("TimestampGreaterThanPath", Operand::Path),
    ("TimestampLessThanEquals", Operand::Time),
    ("TimestampLessThanEqualsPath", Operand::Path),
    ("TimestampGreaterThanEquals", Operand::Time),
    ("TimestampGreaterThanEqualsPath", Operand::Path),
    ("IsNull", Operand::Bool),
    ("IsPresent", Operand::Bool),
    ("IsNumeric", Operand::Bool),
    ("IsString", Operand::Bool),
    ("IsBoolean", Operand::Bool),
    ("IsTimestamp", Operand::Bool),
];

impl<'a> Validator<'a> {
    pub(super) fn choice(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        at: At<'_>,
        depth: usize,
        facts: &mut StateFacts,
    ) {
        let st = at.state;
        match obj.get("Choices") {
            None => self.schema(
                pointer,
                st,
                "These fields are required: [Choices]".to_string(),
            ),
            Some(Value::Array(rules)) => {
                if rules.is_empty() {
                    self.schema(
                        &child(pointer, "Choices"),
                        st,
                        "Choices must contain at least one rule".to_string(),
                    );
                }
                let choices_ptr = child(pointer, "Choices");
                for (i, rule) in rules.iter().enumerate() {
                    let rule_ptr = index(&choices_ptr, i);
                    match at.lang {
                        Lang::JsonPath => {
                            self.jsonpath_rule(rule, &rule_ptr, at, true, depth + 1, facts)
                        }
                        Lang::Jsonata => self.jsonata_rule(rule, &rule_ptr, at, depth + 1, facts),
                    }
                }
            }
            Some(other) => self.schema(
                &child(pointer, "Choices"),
                st,
                format!(
                    "Choices must be an array of rules, not {}",
                    type_name(other)
                ),
            ),
        }
        if let Some(default) = obj.get("Default") {
            self.target(default, &child(pointer, "Default"), st, "Default", facts);
        }
    }

    fn jsonata_rule(
        &mut self,
        rule: &Value,
        pointer: &str,
        at: At<'_>,
        depth: usize,
        facts: &mut StateFacts,
    ) {
        let st = at.state;
        let Some(map) = rule.as_object() else {
            self.schema(
                pointer,
                st,
                format!("A choice rule must be an object, not {}", type_name(rule)),
            );
            return;
        };
        const ALLOWED: &[&str] = &["Condition", "Next", "Comment", "Assign", "Output"];
        for key in map.keys() {
            if !ALLOWED.contains(&key.as_str()) {
                let hint = if COMPARISONS.iter().any(|(n, _)| n == key)
                    || ["Variable", "And", "Or", "Not"].contains(&key.as_str())
                {
                    "; JSONata choice rules use \"Condition\": \"{% ... %}\" instead"
                } else {
                    ""
                };
                self.schema(
                    &child(pointer, key),
                    st,
                    format!(
                        "Field '{key}' is not supported in a JSONata choice rule (allowed: {}){hint}",
                        ALLOWED.join(", ")
                    ),
                );
            }
        }
        let mut missing = Vec::new();
        for field in ["Condition", "Next"] {
            if !map.contains_key(field) {
                missing.push(field);
            }
        }
        if !missing.is_empty() {
            self.schema(
                pointer,
                st,
                format!("These fields are required: [{}]", missing.join(", ")),
            );
        }
        if let Some(cond) = map.get("Condition") {
            let ptr = child(pointer, "Condition");
            match cond {
                Value::Bool(_) => {}
                Value::String(s) => {
                    if !self.jsonata_string(s, &ptr, st) {
                        self.schema(
                            &ptr,
                            st,
                            "Condition must be a JSONata expression \"{% ... %}\" or a boolean"
                                .to_string(),
                        );
                    }
                }
                other => self.schema(
                    &ptr,
                    st,
                    format!(
                        "Condition must be a JSONata expression or a boolean, not {}",
                        type_name(other)
                    ),
                ),
            }
        }
        if let Some(next) = map.get("Next") {
            self.target(next, &child(pointer, "Next"), st, "Next", facts);
        }
        if let Some(v) = map.get("Output") {
            self.jsonata_value(v, &child(pointer, "Output"), st, depth + 1);
        }
        if let Some(v) = map.get("Assign") {
            self.assign(v, &child(pointer, "Assign"), at, depth);
        }
    }

    fn jsonpath_rule(
        &mut self,
        rule: &Value,
        pointer: &str,
        at: At<'_>,
        top: bool,
        depth: usize,
        facts: &mut StateFacts,
    ) {
        let st = at.state;
        if depth > MAX_DEPTH {
            self.too_deep(pointer, st);
            return;
        }
        let Some(map) = rule.as_object() else {
            self.schema(
                pointer,
                st,
                format!("A choice rule must be an object, not {}", type_name(rule)),
            );
            return;
        };
        let mut operators: Vec<&str> = Vec::new();
        for (key, value) in map {
            let ptr = child(pointer, key);
            match key.as_str() {
                "Variable" => self.reference_path(value, &ptr, st, "Variable"),
                "Comment" => {}
                "Next" if top => self.target(value, &ptr, st, "Next", facts),
                "Assign" if top => self.assign(value, &ptr, at, depth),
                "Next" | "Assign" => self.schema(
                    &ptr,
                    st,
                    format!(
                        "Field '{key}' is only allowed on top-level choice rules, not inside And, Or or Not"
                    ),
                ),
                "And" | "Or" => {
                    operators.push(key);
                    match value {
                        Value::Array(items) if !items.is_empty() => {
                            for (i, item) in items.iter().enumerate() {
                                self.jsonpath_rule(item, &index(&ptr, i), at, false, depth + 1, facts);
                            }
                        }
                        _ => self.schema(
                            &ptr,
                            st,
                            format!("{key} must be a non-empty array of choice rules"),
                        ),
                    }
                }
                "Not" => {
                    operators.push(key);
                    if value.is_object() {
                        self.jsonpath_rule(value, &ptr, at, false, depth + 1, facts);
                    } else {
                        self.schema(
                            &ptr,
                            st,
                            format!("Not must hold one choice rule object, not {}", type_name(value)),
                        );
                    }
                }
                _ => match COMPARISONS.iter().find(|(n, _)| n == key) {
                    Some((_, operand)) => {
                        operators.push(key);
                        self.operand(key, *operand, value, &ptr, st);
                    }
                    None => {
                        let hint = if key == "End" {
                            "; a Choice state cannot end the execution, point Next at a Succeed state instead"
                        } else if key == "Condition" {
                            "; Condition is for JSONata states, set \"QueryLanguage\": \"JSONata\""
                        } else {
                            ""
                        };
                        self.schema(
                            &ptr,
                            st,
                            format!("Field '{key}' is not supported in a choice rule{hint}"),
                        );
                    }
                },
            }
        }
        match operators.len() {
            0 => self.schema(
                pointer,
                st,
                "A choice rule needs exactly one comparison operator (e.g. StringEquals, NumericLessThan, IsPresent) or And, Or, Not".to_string(),
            ),
            1 => {}
            _ => self.schema(
                pointer,
                st,
                format!(
                    "A choice rule needs exactly one comparison operator, found: {}",
                    operators.join(", ")
                ),
            ),
        }
        let boolean = operators.iter().any(|o| ["And", "Or", "Not"].contains(o));
        let comparison = operators.len() > usize::from(boolean);
        if comparison && !boolean && !map.contains_key("Variable") {
            self.schema(
                pointer,
                st,
                "These fields are required: [Variable]".to_string(),
            );
        }
        if boolean && map.contains_key("Variable") {
            self.schema(
                &child(pointer, "Variable"),
                st,
                "Variable is not allowed next to And, Or or Not".to_string(),
            );
        }
        if top && !map.contains_key("Next") {
            self.schema(pointer, st, "These fields are required: [Next]".to_string());
        }
    }

    fn operand(&mut self, op: &str, kind: Operand, value: &Value, pointer: &str, st: Option<&str>) {
        let problem = match kind {
            Operand::Str if !value.is_string() => Some("a string"),
            Operand::Num if !value.is_number() => Some("a number"),
            Operand::Bool if !value.is_boolean() => Some("a boolean"),
            Operand::Time => match value.as_str() {
                Some(s) if is_rfc3339(s) => None,
                _ => Some("an RFC3339 timestamp string (e.g. 2016-03-14T01:59:00Z)"),
            },
            Operand::Path => {
                self.reference_path(value, pointer, st, op);
                None
            }
            _ => None,
        };
        if let Some(expected) = problem {
            self.schema(
                pointer,
                st,
                format!("{op} expects {expected}, got {}", type_name(value)),
            );
        }
    }
}
