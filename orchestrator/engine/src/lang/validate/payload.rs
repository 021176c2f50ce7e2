//! Input/output fields, paths, payload templates, intrinsic and JSONata expressions, and Assign.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::helpers::{child, index, type_name};
use super::{
    At, INVALID_INTRINSIC, INVALID_JSON_PATH, INVALID_JSONATA, Lang, MAX_DEPTH, Validator,
};

impl<'a> Validator<'a> {
    /// InputPath/OutputPath/Parameters/ResultSelector/ResultPath/Output/Arguments/Assign.
    pub(super) fn common_io(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        at: At<'_>,
        depth: usize,
    ) {
        let st = at.state;
        for field in ["InputPath", "OutputPath"] {
            if let Some(v) = obj.get(field)
                && !v.is_null()
            {
                self.path_field(v, &child(pointer, field), st, field);
            }
        }
        if let Some(v) = obj.get("ResultPath") {
            self.result_path(v, &child(pointer, "ResultPath"), st);
        }
        for field in ["Parameters", "ResultSelector", "Arguments", "Output"] {
            if let Some(v) = obj.get(field) {
                self.template(v, &child(pointer, field), at, depth + 1);
            }
        }
        if let Some(v) = obj.get("Assign") {
            self.assign(v, &child(pointer, "Assign"), at, depth);
        }
    }

    pub(super) fn path_field(&mut self, v: &Value, pointer: &str, st: Option<&str>, field: &str) {
        match v.as_str() {
            Some(text) => {
                if let Err(why) = self.checker.check_path(text) {
                    self.report(
                        pointer,
                        st,
                        INVALID_JSON_PATH,
                        format!("{field} \"{text}\" is not a valid JSONPath: {why}"),
                    );
                }
            }
            None => self.schema(
                pointer,
                st,
                format!("{field} must be a string, not {}", type_name(v)),
            ),
        }
    }

    pub(super) fn reference_path(
        &mut self,
        v: &Value,
        pointer: &str,
        st: Option<&str>,
        field: &str,
    ) {
        match v.as_str() {
            Some(text) => {
                if let Err(why) = self.checker.check_reference_path(text) {
                    self.report(
                        pointer,
                        st,
                        INVALID_JSON_PATH,
                        format!(
                            "{field} \"{text}\" is not a valid reference path (a definite path such as $.a.b[0]): {why}"
                        ),
                    );
                }
            }
            None => self.schema(
                pointer,
                st,
                format!(
                    "{field} must be a string holding a reference path, not {}",
                    type_name(v)
                ),
            ),
        }
    }

    pub(super) fn result_path(&mut self, v: &Value, pointer: &str, st: Option<&str>) {
        let Some(text) = v.as_str() else {
            if !v.is_null() {
                self.schema(
                    pointer,
                    st,
                    format!(
                        "ResultPath must be a reference path string or null, not {}",
                        type_name(v)
                    ),
                );
            }
            return;
        };
        // ResultPath writes into the state's own data; the context object and variables are
        // read-only, which the generic reference-path check cannot know.
        let rest = text.strip_prefix('$');
        let writable =
            matches!(rest, Some(r) if r.is_empty() || r.starts_with('.') || r.starts_with('['));
        if rest.is_some() && !writable {
            self.report(
                pointer,
                st,
                INVALID_JSON_PATH,
                format!(
                    "ResultPath \"{text}\" must start with \"$.\" or be \"$\"; it cannot write to the context object or to a variable"
                ),
            );
            return;
        }
        self.reference_path(v, pointer, st, "ResultPath");
    }

    /// Checks a payload template (Parameters, ItemSelector, ...) in the state's query language.
    pub(super) fn template(&mut self, v: &Value, pointer: &str, at: At<'_>, depth: usize) {
        match at.lang {
            Lang::JsonPath => self.jsonpath_template(v, pointer, at.state, depth),
            Lang::Jsonata => self.jsonata_value(v, pointer, at.state, depth),
        }
    }

    pub(super) fn jsonpath_template(
        &mut self,
        v: &Value,
        pointer: &str,
        st: Option<&str>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            self.too_deep(pointer, st);
            return;
        }
        match v {
            Value::Object(map) => {
                let mut seen: HashMap<&str, &str> = HashMap::new();
                for (key, value) in map {
                    let field_ptr = child(pointer, key);
                    let (bare, dynamic) = match key.strip_suffix(".$") {
                        Some(bare) => (bare, true),
                        None => (key.as_str(), false),
                    };
                    if let Some(other) = seen.insert(bare, key) {
                        self.schema(
                            &field_ptr,
                            st,
                            format!(
                                "Fields '{other}' and '{key}' both produce the key '{bare}' once '.$' is removed; keep only one"
                            ),
                        );
                    }
                    if dynamic {
                        self.dynamic_value(key, value, &field_ptr, st);
                    } else {
                        self.jsonpath_template(value, &field_ptr, st, depth + 1);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.jsonpath_template(item, &index(pointer, i), st, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Checks the value of a `key.$` field: a path or an intrinsic function call.
    fn dynamic_value(&mut self, key: &str, value: &Value, pointer: &str, st: Option<&str>) {
        let Some(text) = value.as_str() else {
            self.schema(
                pointer,
                st,
                format!(
                    "The value for the field '{key}' must be a string holding a JSONPath or an intrinsic function call, not {}",
                    type_name(value)
                ),
            );
            return;
        };
        let (result, code, what) = if text.starts_with("States.") {
            (
                self.checker.check_intrinsic(text),
                INVALID_INTRINSIC,
                "intrinsic function call",
            )
        } else {
            (self.checker.check_path(text), INVALID_JSON_PATH, "JSONPath")
        };
        if let Err(why) = result {
            self.report(
                pointer,
                st,
                code,
                format!(
                    "The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call; \"{text}\" is not a valid {what}: {why}"
                ),
            );
        }
    }

    /// Checks every `{% %}` string inside a JSONata-state value.
    pub(super) fn jsonata_value(
        &mut self,
        v: &Value,
        pointer: &str,
        st: Option<&str>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            self.too_deep(pointer, st);
            return;
        }
        match v {
            Value::String(s) => {
                self.jsonata_string(s, pointer, st);
            }
            Value::Object(map) => {
                for (key, value) in map {
                    self.jsonata_value(value, &child(pointer, key), st, depth + 1);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.jsonata_value(item, &index(pointer, i), st, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Checks a string that may be a JSONata expression; returns whether it is one.
    pub(super) fn jsonata_string(&mut self, s: &str, pointer: &str, st: Option<&str>) -> bool {
        match jsonata_form(s) {
            JsonataForm::Literal => false,
            JsonataForm::Expression(inner) => {
                if let Err(why) = self.checker.check_jsonata(inner) {
                    self.report(
                        pointer,
                        st,
                        INVALID_JSONATA,
                        format!("Invalid JSONata expression \"{s}\": {why}"),
                    );
                }
                true
            }
            JsonataForm::Malformed(why) => {
                self.report(
                    pointer,
                    st,
                    INVALID_JSONATA,
                    format!(
                        "\"{s}\" {why}; JSONata expressions are written as \"{{% expression %}}\""
                    ),
                );
                true
            }
        }
    }

    pub(super) fn assign(&mut self, v: &Value, pointer: &str, at: At<'_>, depth: usize) {
        let st = at.state;
        let Some(map) = v.as_object() else {
            self.schema(
                pointer,
                st,
                format!(
                    "Assign must be an object mapping variable names to values, not {}",
                    type_name(v)
                ),
            );
            return;
        };
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for (key, value) in map {
            let field_ptr = child(pointer, key);
            let (name, dynamic) = match (at.lang, key.strip_suffix(".$")) {
                (Lang::JsonPath, Some(bare)) => (bare, true),
                _ => (key.as_str(), false),
            };
            if let Err(why) = variable_name(name) {
                self.schema(
                    &field_ptr,
                    st,
                    format!("'{name}' is not a valid variable name: {why}"),
                );
            }
            if let Some(other) = seen.insert(name, key) {
                self.schema(
                    &field_ptr,
                    st,
                    format!("Fields '{other}' and '{key}' both assign the variable '{name}'"),
                );
            }
            match at.lang {
                Lang::JsonPath if dynamic => self.dynamic_value(key, value, &field_ptr, st),
                Lang::JsonPath => self.jsonpath_template(value, &field_ptr, st, depth + 2),
                Lang::Jsonata => self.jsonata_value(value, &field_ptr, st, depth + 2),
            }
        }
    }
}

pub(super) fn jsonata_replacement(key: &str) -> &'static str {
    match key {
        "Parameters" => "; use Arguments (or ItemSelector in a Map)",
        "InputPath" | "OutputPath" | "ResultSelector" | "ResultPath" => {
            "; use Output (and Assign) with {% %} expressions"
        }
        "Result" => "; use Output",
        "ItemsPath" => "; use Items",
        _ if key.ends_with("Path") => {
            "; put a {% %} expression in the field without the Path suffix"
        }
        _ => "",
    }
}

enum JsonataForm<'s> {
    Literal,
    Expression(&'s str),
    Malformed(&'static str),
}

/// Classifies a string in a JSONata state: plain text, `{% expr %}`, or a broken attempt.
fn jsonata_form(s: &str) -> JsonataForm<'_> {
    let Some(rest) = s.strip_prefix("{%") else {
        return JsonataForm::Literal;
    };
    let Some(inner) = rest.strip_suffix("%}") else {
        return JsonataForm::Malformed("starts with {% but does not end with %}");
    };
    if inner.trim().is_empty() {
        return JsonataForm::Malformed("holds an empty expression");
    }
    // Source: AWS's rule is the exact `{%` prefix and `%}` suffix, nothing about the inside;
    // deployed definitions write "{%$states.input%}" and the CDK's isJsonataExpression tests
    // only the delimiters. asl-validator's fixture invalid-jsonata-surround-syntax-no-spaces
    // demands inner spaces; AWS does not, so neither does sluice.
    JsonataForm::Expression(inner.trim())
}

/// Checks a workflow variable name as used in Assign.
fn variable_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.chars().count() > 80 {
        return Err("it is longer than 80 characters");
    }
    if name == "states" {
        return Err("'states' is reserved for the $states variable");
    }
    if name.starts_with('$') {
        return Err("write the name without the leading '$'");
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("it must not start with a digit");
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || ".[]$\"'(){},:;*?/\\".contains(c))
    {
        return Err("it contains characters that cannot appear in a $variable reference");
    }
    Ok(())
}
