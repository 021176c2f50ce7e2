//! Walking the machine: scopes, state names, transitions, reachability and per-state dispatch.

use crate::lang::{NameMap, NameSet};

use serde_json::{Map, Value};

use super::helpers::{child, list_names, not_an_object, type_name};
use super::payload::jsonata_replacement;
use super::tables::{
    BRANCH_FIELDS, CHOICE, FAIL, FieldLang, MAP, PARALLEL, PROCESSOR_FIELDS, STATE_FIELDS,
    STATE_TYPES, SUCCEED, TASK, TOP_FIELDS, TRANSITIONING, WAIT, WITH_ERRORS,
};
use super::{
    At, DUPLICATE_STATE_NAME, INVALID_STATE_NAME, Lang, MAX_DEPTH, MAX_STATE_NAME_CHARS,
    MISSING_END_STATE, MISSING_TRANSITION_TARGET, ScopeInfo, ScopeKind, StateFacts, Validator,
};

impl<'a> Validator<'a> {
    pub(super) fn machine(&mut self, definition: &Value) {
        let Some(obj) = definition.as_object() else {
            self.out.push(not_an_object());
            return;
        };
        let lang = match obj.get("QueryLanguage") {
            None => Lang::JsonPath,
            Some(v) => self
                .query_language(v, "/QueryLanguage", None)
                .unwrap_or(Lang::JsonPath),
        };
        if let Some(v) = obj.get("TimeoutSeconds") {
            self.positive_int(v, "/TimeoutSeconds", None, "TimeoutSeconds");
        }
        if let Some(v) = obj.get("Version")
            && !v.is_string()
        {
            self.schema(
                "/Version",
                None,
                format!("Version must be a string, not {}", type_name(v)),
            );
        }
        self.scope(obj, "", ScopeKind::Top, lang, None, 0);
        self.cross_checks();
    }

    fn query_language(&mut self, v: &Value, pointer: &str, state: Option<&str>) -> Option<Lang> {
        match v.as_str() {
            Some("JSONPath") => Some(Lang::JsonPath),
            Some("JSONata") => Some(Lang::Jsonata),
            _ => {
                self.schema(
                    pointer,
                    state,
                    "QueryLanguage must be \"JSONPath\" or \"JSONata\"".to_string(),
                );
                None
            }
        }
    }

    /// Validates one state machine body: the top level, a Parallel branch or a Map processor.
    pub(super) fn scope(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        kind: ScopeKind,
        lang: Lang,
        owner: Option<&str>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            self.too_deep(pointer, owner);
            return;
        }
        let allowed = match kind {
            ScopeKind::Top => TOP_FIELDS,
            ScopeKind::Branch => BRANCH_FIELDS,
            // AWS still accepts ProcessorConfig inside the legacy Iterator.
            ScopeKind::Processor | ScopeKind::Iterator => PROCESSOR_FIELDS,
        };
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                let what = match kind {
                    ScopeKind::Top => "at the top level of a state machine",
                    ScopeKind::Branch => "in a Parallel branch",
                    ScopeKind::Processor => "in a Map ItemProcessor",
                    ScopeKind::Iterator => "in a Map Iterator",
                };
                self.schema(
                    &child(pointer, key),
                    owner,
                    format!(
                        "Field '{key}' is not supported {what}; allowed fields are: {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
        self.comment(obj, pointer, owner);
        let mut missing = Vec::new();
        if !obj.contains_key("States") {
            missing.push("States");
        }
        if !obj.contains_key("StartAt") {
            missing.push("StartAt");
        }
        if !missing.is_empty() {
            self.schema(
                pointer,
                owner,
                format!("These fields are required: [{}]", missing.join(", ")),
            );
        }
        let start_at = match obj.get("StartAt") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.schema(
                    &child(pointer, "StartAt"),
                    owner,
                    format!("StartAt must be a string, not {}", type_name(other)),
                );
                None
            }
            None => None,
        };
        if kind != ScopeKind::Branch
            && let Some(cfg) = obj.get("ProcessorConfig")
        {
            self.processor_config(cfg, &child(pointer, "ProcessorConfig"), owner);
        }
        let mut info = ScopeInfo {
            pointer: pointer.to_string(),
            owner: owner.map(str::to_string),
            start_at,
            names: Vec::new(),
            transitions: Vec::new(),
            has_terminal: false,
            states_present: matches!(obj.get("States"), Some(Value::Object(_))),
        };
        let states_ptr = child(pointer, "States");
        match obj.get("States") {
            Some(Value::Object(states)) => {
                if states.is_empty() {
                    self.schema(
                        &states_ptr,
                        owner,
                        "States must contain at least one state".to_string(),
                    );
                }
                for (name, state) in states {
                    let state_ptr = child(&states_ptr, name);
                    self.state_name(name, &state_ptr);
                    let facts = self.state(name, state, &state_ptr, lang, depth + 1);
                    info.names.push(name.clone());
                    info.has_terminal |= facts.terminal;
                    for (target, at) in facts.transitions {
                        info.transitions.push((name.clone(), target, at));
                    }
                }
            }
            Some(other) => {
                self.schema(
                    &states_ptr,
                    owner,
                    format!(
                        "States must be an object mapping state names to states, not {}",
                        type_name(other)
                    ),
                );
            }
            None => {}
        }
        self.scopes.push(info);
    }

    fn state_name(&mut self, name: &str, pointer: &str) {
        let chars = name.chars().count();
        if chars == 0 {
            self.report(
                pointer,
                Some(name),
                INVALID_STATE_NAME,
                "State names must not be empty".to_string(),
            );
        } else if chars > MAX_STATE_NAME_CHARS {
            self.report(
                pointer,
                Some(name),
                INVALID_STATE_NAME,
                format!(
                    "State name is {chars} characters long; the limit is {MAX_STATE_NAME_CHARS}"
                ),
            );
        }
        if let Some(first) = self.names.get(name) {
            let message = format!(
                "State name \"{name}\" is already used at {first}; state names must be unique across the whole state machine, including Parallel branches and Map processors"
            );
            self.report(pointer, Some(name), DUPLICATE_STATE_NAME, message);
        } else {
            self.names.insert(name.to_string(), pointer.to_string());
        }
    }

    /// Transition and reachability checks, which need every scope to have been walked.
    fn cross_checks(&mut self) {
        let scopes = std::mem::take(&mut self.scopes);
        for scope in &scopes {
            let here: NameSet<&str> = scope.names.iter().map(String::as_str).collect();
            let mut edges: NameMap<&str, Vec<&str>> = NameMap::default();
            for (from, target, at) in &scope.transitions {
                if here.contains(target.as_str()) {
                    edges.entry(from).or_default().push(target);
                } else {
                    let message = self.missing_target_message("Next", target, &scope.names);
                    self.report(at, Some(from), MISSING_TRANSITION_TARGET, message);
                }
            }
            let mut reached: NameSet<&str> = NameSet::default();
            if let Some(start) = &scope.start_at {
                if here.contains(start.as_str()) {
                    let mut todo = vec![start.as_str()];
                    reached.insert(start);
                    while let Some(name) = todo.pop() {
                        for next in edges.get(name).map(Vec::as_slice).unwrap_or(&[]) {
                            if reached.insert(next) {
                                todo.push(next);
                            }
                        }
                    }
                } else if scope.states_present {
                    let message = self.missing_target_message("StartAt", start, &scope.names);
                    let at = child(&scope.pointer, "StartAt");
                    self.report(
                        &at,
                        scope.owner.as_deref(),
                        MISSING_TRANSITION_TARGET,
                        message,
                    );
                }
            }
            // Without a usable StartAt every state would be "unreachable"; that only repeats the
            // StartAt problem, so reachability is reported only when the entry point is sound.
            let start_ok = scope.start_at.as_deref().is_some_and(|s| here.contains(s));
            if start_ok {
                for name in &scope.names {
                    if !reached.contains(name.as_str()) {
                        let at = child(&child(&scope.pointer, "States"), name);
                        self.report(
                            &at,
                            Some(name),
                            MISSING_TRANSITION_TARGET,
                            format!(
                                "State \"{name}\" is not reachable: no StartAt, Next, Default or Catch Next in this scope names it"
                            ),
                        );
                    }
                }
            }
            if !scope.names.is_empty() && !scope.has_terminal {
                self.report(
                    &child(&scope.pointer, "States"),
                    scope.owner.as_deref(),
                    MISSING_END_STATE,
                    "No state here ends the execution; add a Succeed or Fail state or set \"End\": true on one state".to_string(),
                );
            }
        }
    }

    fn missing_target_message(&self, field: &str, target: &str, names: &[String]) -> String {
        let mut message = format!(
            "{field} names state \"{target}\", which does not exist; states here are: {}",
            list_names(names.iter())
        );
        if self.names.contains_key(target) {
            message.push_str(&format!(
                " (\"{target}\" is defined in another scope; transitions cannot cross Parallel branch or Map boundaries)"
            ));
        }
        message
    }

    fn state(
        &mut self,
        name: &str,
        value: &Value,
        pointer: &str,
        inherited: Lang,
        depth: usize,
    ) -> StateFacts {
        let mut facts = StateFacts {
            transitions: Vec::new(),
            terminal: false,
        };
        let st = Some(name);
        let Some(obj) = value.as_object() else {
            self.schema(
                pointer,
                st,
                format!("A state must be an object, not {}", type_name(value)),
            );
            return facts;
        };
        let lang = match obj.get("QueryLanguage") {
            Some(v) => self
                .query_language(v, &child(pointer, "QueryLanguage"), st)
                .unwrap_or(inherited),
            None => inherited,
        };
        // A JSONata machine's own states cannot go back to JSONPath (AWS documents it, and
        // the CDK refuses such a machine: "If JSONata is specified at the top level, JSONPath
        // cannot be used"). States nested in a Map or Parallel are left alone: a recorded
        // valid definition has a JSONPath state inside a JSONata machine's ItemProcessor.
        if depth == 1 && inherited == Lang::Jsonata && lang == Lang::JsonPath {
            self.schema(
                &child(pointer, "QueryLanguage"),
                st,
                "This state machine's top-level QueryLanguage is JSONata; its states cannot set \"QueryLanguage\": \"JSONPath\"".to_string(),
            );
        }
        let type_bit = match obj.get("Type") {
            None => {
                self.schema(pointer, st, "These fields are required: [Type]".to_string());
                return facts;
            }
            Some(Value::String(t)) => match STATE_TYPES.iter().find(|(n, _)| n == t) {
                Some((_, bit)) => *bit,
                None => {
                    self.schema(
                        &child(pointer, "Type"),
                        st,
                        format!(
                            "Unknown state Type \"{t}\"; expected one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map"
                        ),
                    );
                    return facts;
                }
            },
            Some(other) => {
                self.schema(
                    &child(pointer, "Type"),
                    st,
                    format!("Type must be a string, not {}", type_name(other)),
                );
                return facts;
            }
        };
        let type_name_str = STATE_TYPES
            .iter()
            .find(|(_, b)| *b == type_bit)
            .map(|(n, _)| *n)
            .unwrap_or("?");
        self.state_fields(obj, pointer, st, type_bit, type_name_str, lang);
        let at = At { state: st, lang };

        if type_bit & TRANSITIONING != 0 {
            self.next_or_end(obj, pointer, at, &mut facts);
        }
        if type_bit & (SUCCEED | FAIL) != 0 {
            facts.terminal = true;
        }
        self.common_io(obj, pointer, at, depth);
        if type_bit & WITH_ERRORS != 0 {
            self.retriers(obj, pointer, at);
            self.catchers(obj, pointer, at, depth, &mut facts);
        }
        match type_bit {
            TASK => self.task(obj, pointer, at, depth),
            CHOICE => self.choice(obj, pointer, at, depth, &mut facts),
            WAIT => self.wait(obj, pointer, at),
            FAIL => self.fail(obj, pointer, at),
            PARALLEL => self.parallel(obj, pointer, at, inherited, depth),
            MAP => self.map(obj, pointer, at, inherited, depth),
            _ => {}
        }
        facts
    }

    fn state_fields(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        st: Option<&str>,
        type_bit: u8,
        type_name_str: &str,
        lang: Lang,
    ) {
        for key in obj.keys() {
            let entry = STATE_FIELDS.iter().find(|(n, _, _)| n == key);
            let message = match entry {
                Some((_, types, field_lang)) if types & type_bit != 0 => match (field_lang, lang) {
                    (FieldLang::JsonPathOnly, Lang::Jsonata) => Some(format!(
                        "Field '{key}' is only supported in JSONPath states, but this {type_name_str} state uses JSONata{}",
                        jsonata_replacement(key)
                    )),
                    (FieldLang::JsonataOnly, Lang::JsonPath) => Some(format!(
                        "Field '{key}' is only supported in JSONata states, but this {type_name_str} state uses JSONPath; set \"QueryLanguage\": \"JSONata\" or use the JSONPath equivalent"
                    )),
                    _ => None,
                },
                Some(_) => Some(format!(
                    "Field '{key}' is not supported by {type_name_str} states"
                )),
                None => Some(format!(
                    "Field '{key}' is not a known field of {type_name_str} states"
                )),
            };
            if let Some(message) = message {
                self.schema(&child(pointer, key), st, message);
            }
        }
        self.comment(obj, pointer, st);
    }

    /// Source: ASL spec, "A Comment field ... a human-readable description": a string.
    pub(super) fn comment(&mut self, obj: &Map<String, Value>, pointer: &str, st: Option<&str>) {
        if let Some(v) = obj.get("Comment")
            && !v.is_string()
        {
            self.schema(
                &child(pointer, "Comment"),
                st,
                format!("Comment must be a string, not {}", type_name(v)),
            );
        }
    }

    fn next_or_end(
        &mut self,
        obj: &Map<String, Value>,
        pointer: &str,
        at: At<'_>,
        facts: &mut StateFacts,
    ) {
        let st = at.state;
        let end = match obj.get("End") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.schema(
                    &child(pointer, "End"),
                    st,
                    format!("End must be a boolean, not {}", type_name(other)),
                );
                false
            }
        };
        let next = obj.get("Next");
        match (next, end) {
            (Some(_), true) => self.schema(
                pointer,
                st,
                "A state may have Next or \"End\": true, not both".to_string(),
            ),
            (None, false) => self.schema(
                pointer,
                st,
                "A state must have either Next or \"End\": true".to_string(),
            ),
            _ => {}
        }
        if end {
            facts.terminal = true;
        }
        if let Some(next) = next {
            self.target(next, &child(pointer, "Next"), st, "Next", facts);
        }
    }

    pub(super) fn target(
        &mut self,
        value: &Value,
        pointer: &str,
        st: Option<&str>,
        field: &str,
        facts: &mut StateFacts,
    ) {
        match value.as_str() {
            Some(target) => facts
                .transitions
                .push((target.to_string(), pointer.to_string())),
            None => self.schema(
                pointer,
                st,
                format!(
                    "{field} must be a string naming a state, not {}",
                    type_name(value)
                ),
            ),
        }
    }
}
