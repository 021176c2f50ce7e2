//! Static validation of Amazon States Language definitions.
//!
//! The validator walks the raw JSON (not a parsed model) so that it can report
//! every problem in one pass, each located by a JSON pointer, the way AWS's
//! `ValidateStateMachineDefinition` does. Syntax of embedded expression
//! languages is delegated to an [`ExpressionChecker`] so that this module stays
//! independent of the engine's parsers.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// JSON pointer to the offending value.
    pub pointer: String,
    /// Name of the innermost state that holds the problem, if any.
    pub state: Option<String>,
    /// AWS-style code, e.g. "SCHEMA_VALIDATION_FAILED", "MISSING_TRANSITION_TARGET", "INVALID_JSON_PATH".
    pub code: &'static str,
    /// Human-readable explanation of the problem and how to fix it.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        match &self.state {
            Some(state) => write!(
                f,
                "{}: {} at {} (state \"{}\")",
                self.code, self.message, at, state
            ),
            None => write!(f, "{}: {} at {}", self.code, self.message, at),
        }
    }
}

/// Syntax checks for embedded expression languages; the engine implements it with the real parsers.
pub trait ExpressionChecker {
    /// Checks a JSONPath (InputPath, OutputPath, `.$` values starting with `$`).
    fn check_path(&self, text: &str) -> Result<(), String>;
    /// Checks a reference path (ResultPath, Choice Variable, `...Path` operators): must be definite.
    fn check_reference_path(&self, text: &str) -> Result<(), String>;
    /// Checks an intrinsic function call (`.$` values starting with "States.").
    fn check_intrinsic(&self, text: &str) -> Result<(), String>;
    /// Checks the JSONata expression found inside `{% %}`.
    fn check_jsonata(&self, text: &str) -> Result<(), String>;
}

/// Code for structural problems (AWS reports most problems under it).
pub const SCHEMA_VALIDATION_FAILED: &str = "SCHEMA_VALIDATION_FAILED";
/// Code for a transition to a state that does not exist, or a state nothing transitions to.
pub const MISSING_TRANSITION_TARGET: &str = "MISSING_TRANSITION_TARGET";
/// Code for a malformed JSONPath or reference path.
pub const INVALID_JSON_PATH: &str = "INVALID_JSON_PATH";
/// Code for a malformed intrinsic function call.
pub const INVALID_INTRINSIC: &str = "INVALID_INTRINSIC_FUNCTION";
/// Code for a malformed JSONata expression.
pub const INVALID_JSONATA: &str = "INVALID_JSONATA";
/// Code for a state name that appears more than once in the machine.
pub const DUPLICATE_STATE_NAME: &str = "DUPLICATE_STATE_NAME";
/// Code for a state name that breaks the naming rules.
pub const INVALID_STATE_NAME: &str = "INVALID_STATE_NAME";
/// Code for a scope in which no state ends the execution.
pub const MISSING_END_STATE: &str = "MISSING_END_STATE";
/// Code for text that is not JSON at all.
pub const INVALID_JSON_DESCRIPTION: &str = "INVALID_JSON_DESCRIPTION";

/// Deepest nesting (of scopes, choice rules and payload templates) that is inspected.
///
/// Bounding recursion keeps hostile input from overflowing the stack; real
/// definitions stay far below this.
pub const MAX_DEPTH: usize = 200;

/// Longest state name AWS accepts, in characters.
pub const MAX_STATE_NAME_CHARS: usize = 80;

/// Largest value AWS accepts for the second-valued integer fields.
const MAX_SECONDS: u64 = 99_999_999;

/// Validates a definition and returns every problem found (empty when valid).
pub fn validate(definition: &Value, checker: &dyn ExpressionChecker) -> Vec<Diagnostic> {
    let mut v = Validator {
        checker,
        out: Vec::new(),
        names: HashMap::new(),
        scopes: Vec::new(),
    };
    v.machine(definition);
    v.out
}

/// Parses JSON text and validates it; syntax errors become diagnostics too.
pub fn validate_text(text: &str, checker: &dyn ExpressionChecker) -> Vec<Diagnostic> {
    if text.trim().is_empty() {
        return vec![not_an_object()];
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) => {
            // A parsed Value keeps only the last of duplicate keys, so duplicates (two states
            // with one name, say) are only visible in the text.
            let mut out = duplicate_keys(text);
            out.extend(validate(&value, checker));
            out
        }
        Err(err) => vec![Diagnostic {
            pointer: String::new(),
            state: None,
            code: INVALID_JSON_DESCRIPTION,
            message: format!("Definition is not valid JSON: {err}"),
        }],
    }
}

/// Reports keys that occur twice in one JSON object of `text` (already known to parse).
fn duplicate_keys(text: &str) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = DupScan {
        pointer: String::new(),
        found: &mut found,
    };
    // The text parsed as a Value already, so the scan cannot fail for syntax reasons.
    let _ = serde::de::DeserializeSeed::deserialize(seed, &mut de);
    found
        .into_iter()
        .map(|(parent, key)| {
            let in_states = parent.rsplit('/').next() == Some("States");
            let pointer = child(&parent, &key);
            if in_states {
                Diagnostic {
                    state: Some(key.clone()),
                    code: DUPLICATE_STATE_NAME,
                    message: format!(
                        "State \"{key}\" is defined more than once in this States object; state names must be unique"
                    ),
                    pointer,
                }
            } else {
                Diagnostic {
                    state: None,
                    code: SCHEMA_VALIDATION_FAILED,
                    message: format!(
                        "Field '{key}' appears more than once in the same object; only the last one would be used"
                    ),
                    pointer,
                }
            }
        })
        .collect()
}

/// Walks JSON text recording `(object pointer, key)` for every repeated key.
struct DupScan<'f> {
    pointer: String,
    found: &'f mut Vec<(String, String)>,
}

impl<'de> serde::de::DeserializeSeed<'de> for DupScan<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for DupScan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            let seed = DupScan {
                pointer: index(&self.pointer, i),
                found: &mut *self.found,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let seed = DupScan {
                pointer: child(&self.pointer, &key),
                found: &mut *self.found,
            };
            map.next_value_seed(seed)?;
            if !seen.insert(key.clone()) {
                self.found.push((self.pointer.clone(), key));
            }
        }
        Ok(())
    }
}

fn not_an_object() -> Diagnostic {
    Diagnostic {
        pointer: String::new(),
        state: None,
        code: SCHEMA_VALIDATION_FAILED,
        message: "Definition must be a valid JSON object".to_string(),
    }
}

/// Appends one reference token to a JSON pointer, escaping per RFC 6901.
fn child(pointer: &str, token: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + token.len() + 1);
    out.push_str(pointer);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            _ => out.push(c),
        }
    }
    out
}

fn index(pointer: &str, i: usize) -> String {
    format!("{pointer}/{i}")
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Lists names for a message, cut short so huge machines keep messages readable.
fn list_names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    const SHOWN: usize = 20;
    let all: Vec<&String> = names.collect();
    if all.is_empty() {
        return "(none)".to_string();
    }
    let mut text = all
        .iter()
        .take(SHOWN)
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > SHOWN {
        text.push_str(&format!(", ... ({} more)", all.len() - SHOWN));
    }
    text
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lang {
    JsonPath,
    Jsonata,
}

impl Lang {
    fn name(self) -> &'static str {
        match self {
            Lang::JsonPath => "JSONPath",
            Lang::Jsonata => "JSONata",
        }
    }
}

/// Which query language a field belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldLang {
    Both,
    JsonPathOnly,
    JsonataOnly,
}

const PASS: u8 = 1;
const TASK: u8 = 2;
const CHOICE: u8 = 4;
const WAIT: u8 = 8;
const SUCCEED: u8 = 16;
const FAIL: u8 = 32;
const PARALLEL: u8 = 64;
const MAP: u8 = 128;
const ALL: u8 = 255;
const TRANSITIONING: u8 = PASS | TASK | WAIT | PARALLEL | MAP;
const WITH_IO: u8 = ALL & !FAIL;
const WITH_ASSIGN: u8 = PASS | TASK | MAP | PARALLEL | CHOICE | WAIT;
const WITH_RESULT: u8 = PASS | TASK | PARALLEL | MAP;
const WITH_ERRORS: u8 = TASK | PARALLEL | MAP;

/// Which fields each state type accepts, and in which query language.
const STATE_FIELDS: &[(&str, u8, FieldLang)] = &[
    ("Type", ALL, FieldLang::Both),
    ("Comment", ALL, FieldLang::Both),
    ("QueryLanguage", ALL, FieldLang::Both),
    ("Next", TRANSITIONING, FieldLang::Both),
    ("End", TRANSITIONING, FieldLang::Both),
    ("InputPath", WITH_IO, FieldLang::JsonPathOnly),
    ("OutputPath", WITH_IO, FieldLang::JsonPathOnly),
    ("Output", WITH_IO, FieldLang::JsonataOnly),
    ("Assign", WITH_ASSIGN, FieldLang::Both),
    ("Parameters", WITH_RESULT, FieldLang::JsonPathOnly),
    ("Arguments", TASK | PARALLEL, FieldLang::JsonataOnly),
    ("Result", PASS, FieldLang::JsonPathOnly),
    ("ResultPath", WITH_RESULT, FieldLang::JsonPathOnly),
    ("ResultSelector", WITH_ERRORS, FieldLang::JsonPathOnly),
    ("Retry", WITH_ERRORS, FieldLang::Both),
    ("Catch", WITH_ERRORS, FieldLang::Both),
    ("Resource", TASK, FieldLang::Both),
    ("TimeoutSeconds", TASK, FieldLang::Both),
    ("TimeoutSecondsPath", TASK, FieldLang::JsonPathOnly),
    ("HeartbeatSeconds", TASK, FieldLang::Both),
    ("HeartbeatSecondsPath", TASK, FieldLang::JsonPathOnly),
    ("Credentials", TASK, FieldLang::Both),
    ("Choices", CHOICE, FieldLang::Both),
    ("Default", CHOICE, FieldLang::Both),
    ("Seconds", WAIT, FieldLang::Both),
    ("SecondsPath", WAIT, FieldLang::JsonPathOnly),
    ("Timestamp", WAIT, FieldLang::Both),
    ("TimestampPath", WAIT, FieldLang::JsonPathOnly),
    ("Error", FAIL, FieldLang::Both),
    ("ErrorPath", FAIL, FieldLang::JsonPathOnly),
    ("Cause", FAIL, FieldLang::Both),
    ("CausePath", FAIL, FieldLang::JsonPathOnly),
    ("Branches", PARALLEL, FieldLang::Both),
    ("ItemProcessor", MAP, FieldLang::Both),
    ("Iterator", MAP, FieldLang::Both),
    ("ItemReader", MAP, FieldLang::Both),
    ("ItemBatcher", MAP, FieldLang::Both),
    ("ResultWriter", MAP, FieldLang::Both),
    ("ItemSelector", MAP, FieldLang::Both),
    ("Items", MAP, FieldLang::JsonataOnly),
    ("ItemsPath", MAP, FieldLang::JsonPathOnly),
    ("MaxConcurrency", MAP, FieldLang::Both),
    ("MaxConcurrencyPath", MAP, FieldLang::JsonPathOnly),
    ("ToleratedFailurePercentage", MAP, FieldLang::Both),
    (
        "ToleratedFailurePercentagePath",
        MAP,
        FieldLang::JsonPathOnly,
    ),
    ("ToleratedFailureCount", MAP, FieldLang::Both),
    ("ToleratedFailureCountPath", MAP, FieldLang::JsonPathOnly),
    ("Label", MAP, FieldLang::Both),
];

const STATE_TYPES: &[(&str, u8)] = &[
    ("Pass", PASS),
    ("Task", TASK),
    ("Choice", CHOICE),
    ("Wait", WAIT),
    ("Succeed", SUCCEED),
    ("Fail", FAIL),
    ("Parallel", PARALLEL),
    ("Map", MAP),
];

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

/// Optimised service integrations (`arn:aws:states:::<service>:<action>`) AWS recognises.
///
/// AWS rejects an unknown one at creation time ("The resource provided ... is not
/// recognized"), so an unlisted pair is reported; SDK integrations
/// (`aws-sdk:<service>:<action>`) are open-ended and accepted as long as they are well formed.
const INTEGRATIONS: &[&str] = &[
    "lambda:invoke",
    "sns:publish",
    "sqs:sendMessage",
    "dynamodb:getItem",
    "dynamodb:putItem",
    "dynamodb:updateItem",
    "dynamodb:deleteItem",
    "batch:submitJob",
    "ecs:runTask",
    "glue:startJobRun",
    "databrew:startJobRun",
    "states:startExecution",
    "events:putEvents",
    "apigateway:invoke",
    "http:invoke",
    "s3:getObject",
    "s3:putObject",
    "s3:listObjectsV2",
    "athena:startQueryExecution",
    "athena:stopQueryExecution",
    "athena:getQueryExecution",
    "athena:getQueryResults",
    "bedrock:invokeModel",
    "bedrock:createModelCustomizationJob",
    "codebuild:startBuild",
    "codebuild:stopBuild",
    "codebuild:batchDeleteBuilds",
    "codebuild:batchGetReports",
    "codebuild:startBuildBatch",
    "codebuild:stopBuildBatch",
    "codebuild:retryBuild",
    "codebuild:retryBuildBatch",
    "codebuild:deleteBuildBatch",
    "eks:createCluster",
    "eks:deleteCluster",
    "eks:createFargateProfile",
    "eks:deleteFargateProfile",
    "eks:createNodegroup",
    "eks:deleteNodegroup",
    "eks:runJob",
    "eks:call",
    "elasticmapreduce:createCluster",
    "elasticmapreduce:terminateCluster",
    "elasticmapreduce:addStep",
    "elasticmapreduce:cancelStep",
    "elasticmapreduce:setClusterTerminationProtection",
    "elasticmapreduce:modifyInstanceFleetByName",
    "elasticmapreduce:modifyInstanceGroupByName",
    "emr-containers:startJobRun",
    "emr-containers:createVirtualCluster",
    "emr-containers:deleteVirtualCluster",
    "emr-serverless:createApplication",
    "emr-serverless:startApplication",
    "emr-serverless:stopApplication",
    "emr-serverless:deleteApplication",
    "emr-serverless:startJobRun",
    "emr-serverless:cancelJobRun",
    "sagemaker:createEndpoint",
    "sagemaker:createEndpointConfig",
    "sagemaker:createHyperParameterTuningJob",
    "sagemaker:createLabelingJob",
    "sagemaker:createModel",
    "sagemaker:createProcessingJob",
    "sagemaker:createTrainingJob",
    "sagemaker:createTransformJob",
    "sagemaker:updateEndpoint",
    "mediaconvert:createJob",
];

/// Fields allowed at the root of a (sub-)state machine, by kind of scope.
const TOP_FIELDS: &[&str] = &[
    "Comment",
    "StartAt",
    "States",
    "Version",
    "TimeoutSeconds",
    "QueryLanguage",
];
const BRANCH_FIELDS: &[&str] = &["Comment", "StartAt", "States"];
const PROCESSOR_FIELDS: &[&str] = &["Comment", "StartAt", "States", "ProcessorConfig"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Top,
    Branch,
    Processor,
    Iterator,
}

/// What a scope needs for its cross-state checks, gathered while walking it.
struct ScopeInfo {
    pointer: String,
    /// The enclosing state (for nested scopes) to attribute StartAt problems to.
    owner: Option<String>,
    start_at: Option<String>,
    /// State names in document order.
    names: Vec<String>,
    /// `(from state, target, pointer of the transition field)`.
    transitions: Vec<(String, String, String)>,
    has_terminal: bool,
    /// Whether a States object was present (otherwise StartAt problems are just noise).
    states_present: bool,
}

/// Per-state facts the enclosing scope needs.
struct StateFacts {
    transitions: Vec<(String, String)>,
    terminal: bool,
}

struct Validator<'a> {
    checker: &'a dyn ExpressionChecker,
    out: Vec<Diagnostic>,
    /// Every state name in the machine with the pointer of its first definition.
    names: HashMap<String, String>,
    scopes: Vec<ScopeInfo>,
}

/// Location context while inside a state.
#[derive(Clone, Copy)]
struct At<'s> {
    state: Option<&'s str>,
    lang: Lang,
}

impl<'a> Validator<'a> {
    fn report(&mut self, pointer: &str, state: Option<&str>, code: &'static str, message: String) {
        self.out.push(Diagnostic {
            pointer: pointer.to_string(),
            state: state.map(str::to_string),
            code,
            message,
        });
    }

    fn schema(&mut self, pointer: &str, state: Option<&str>, message: String) {
        self.report(pointer, state, SCHEMA_VALIDATION_FAILED, message);
    }

    fn too_deep(&mut self, pointer: &str, state: Option<&str>) {
        self.schema(
            pointer,
            state,
            format!("Definition nests deeper than {MAX_DEPTH} levels; flatten it"),
        );
    }

    fn machine(&mut self, definition: &Value) {
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
    fn scope(
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
            let here: HashSet<&str> = scope.names.iter().map(String::as_str).collect();
            let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
            for (from, target, at) in &scope.transitions {
                if here.contains(target.as_str()) {
                    edges.entry(from).or_default().push(target);
                } else {
                    let message = self.missing_target_message("Next", target, &scope.names);
                    self.report(at, Some(from), MISSING_TRANSITION_TARGET, message);
                }
            }
            let mut reached: HashSet<&str> = HashSet::new();
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

    fn target(
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

    /// InputPath/OutputPath/Parameters/ResultSelector/ResultPath/Output/Arguments/Assign.
    fn common_io(&mut self, obj: &Map<String, Value>, pointer: &str, at: At<'_>, depth: usize) {
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

    fn path_field(&mut self, v: &Value, pointer: &str, st: Option<&str>, field: &str) {
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

    fn reference_path(&mut self, v: &Value, pointer: &str, st: Option<&str>, field: &str) {
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

    fn result_path(&mut self, v: &Value, pointer: &str, st: Option<&str>) {
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
    fn template(&mut self, v: &Value, pointer: &str, at: At<'_>, depth: usize) {
        match at.lang {
            Lang::JsonPath => self.jsonpath_template(v, pointer, at.state, depth),
            Lang::Jsonata => self.jsonata_value(v, pointer, at.state, depth),
        }
    }

    fn jsonpath_template(&mut self, v: &Value, pointer: &str, st: Option<&str>, depth: usize) {
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
    fn jsonata_value(&mut self, v: &Value, pointer: &str, st: Option<&str>, depth: usize) {
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
    fn jsonata_string(&mut self, s: &str, pointer: &str, st: Option<&str>) -> bool {
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

    fn assign(&mut self, v: &Value, pointer: &str, at: At<'_>, depth: usize) {
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

    // ---- field kinds -------------------------------------------------------------------

    fn positive_int(&mut self, v: &Value, pointer: &str, st: Option<&str>, field: &str) {
        self.int_in(v, pointer, st, field, 1, MAX_SECONDS);
    }

    fn int_in(
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
    fn literal_or_jsonata(
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

    fn int_field(
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
        v.as_u64()
    }

    /// Reports when both a literal field and its `...Path` twin are set.
    fn exclusive(
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

    fn task(&mut self, obj: &Map<String, Value>, pointer: &str, at: At<'_>, depth: usize) {
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

    fn wait(&mut self, obj: &Map<String, Value>, pointer: &str, at: At<'_>) {
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

    fn fail(&mut self, obj: &Map<String, Value>, pointer: &str, at: At<'_>) {
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

    fn choice(
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

    fn retriers(&mut self, obj: &Map<String, Value>, pointer: &str, at: At<'_>) {
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

    fn catchers(
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

    fn only_fields(
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

    fn parallel(
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

    fn map(
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

    fn processor_config(&mut self, v: &Value, pointer: &str, st: Option<&str>) {
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

fn jsonata_replacement(key: &str) -> &'static str {
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
    // asl-validator insists on the documented "{% expr %}" spacing; without it the text is
    // ambiguous with literal strings, so it is rejected rather than guessed at.
    let spaced = inner.starts_with(char::is_whitespace) && inner.ends_with(char::is_whitespace);
    if !spaced {
        return JsonataForm::Malformed("needs whitespace after {% and before %}");
    }
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

/// Checks a Task (or ItemReader/ResultWriter) Resource ARN the way AWS does at creation time.
fn resource_arn(r: &str) -> Result<(), String> {
    // Infrastructure templates (CloudFormation DefinitionSubstitutions, SAM, Terraform) fill
    // these in before AWS sees the definition, so they cannot be judged here.
    if r.contains("${") {
        return Ok(());
    }
    let parts: Vec<&str> = r.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[1].is_empty() || parts[2].is_empty() {
        return Err(format!(
            "Resource \"{r}\" is not an ARN (expected arn:<partition>:<service>:<region>:<account>:<resource>)"
        ));
    }
    let (service, region, account, resource) = (parts[2], parts[3], parts[4], parts[5]);
    match service {
        "states" if region.is_empty() && account.is_empty() => integration(r, resource),
        "states" => {
            if resource.starts_with("activity:") && resource.len() > "activity:".len() {
                Ok(())
            } else {
                Err(format!(
                    "The resource provided {r} is not recognized: a regional states ARN must name an activity (arn:aws:states:<region>:<account>:activity:<name>)"
                ))
            }
        }
        "lambda" => lambda_function(r, resource),
        _ if resource.is_empty() => Err(format!("Resource \"{r}\" has an empty resource part")),
        _ => Ok(()),
    }
}

fn integration(r: &str, resource: &str) -> Result<(), String> {
    let base = [".sync:2", ".sync", ".waitForTaskToken"]
        .iter()
        .find_map(|suffix| resource.strip_suffix(suffix))
        .unwrap_or(resource);
    if let Some(sdk) = base.strip_prefix("aws-sdk:") {
        let mut it = sdk.splitn(2, ':');
        let svc = it.next().unwrap_or("");
        let action = it.next().unwrap_or("");
        let well_formed = !svc.is_empty()
            && !action.is_empty()
            && action.chars().all(|c| c.is_ascii_alphanumeric())
            && svc
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        return if well_formed {
            Ok(())
        } else {
            Err(format!(
                "The resource provided {r} is not recognized: SDK integrations look like arn:aws:states:::aws-sdk:<service>:<apiAction>"
            ))
        };
    }
    if INTEGRATIONS.contains(&base) {
        Ok(())
    } else {
        Err(format!(
            "The resource provided {r} is not recognized. The value is not a valid resource ARN; for an AWS SDK call use arn:aws:states:::aws-sdk:<service>:<apiAction>"
        ))
    }
}

fn lambda_function(r: &str, resource: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "Resource \"{r}\" is not a valid Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<alias or version>])"
        ))
    };
    let Some(rest) = resource.strip_prefix("function:") else {
        return bad();
    };
    let mut it = rest.split(':');
    let name = it.next().unwrap_or("");
    let qualifier = it.next();
    if it.next().is_some() {
        return bad();
    }
    let name_ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let qualifier_ok = match qualifier {
        None => true,
        Some("$LATEST") => true,
        Some(q) => {
            (1..=128).contains(&q.len())
                && q.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
    };
    if name_ok && qualifier_ok {
        Ok(())
    } else {
        bad()
    }
}

/// Checks `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)` with plausible field ranges.
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Option<u32> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0u32, |acc, d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
    };
    let sep = |at: usize, chars: &[u8]| b.get(at).is_some_and(|c| chars.contains(c));
    let (Some(_year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) = (
        digits(0, 4),
        digits(5, 2),
        digits(8, 2),
        digits(11, 2),
        digits(14, 2),
        digits(17, 2),
    ) else {
        return false;
    };
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return false;
    }
    if !((1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && min <= 59
        && sec <= 60)
    {
        return false;
    }
    let mut i = 19;
    if sep(i, b".") {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z') | Some(b'z') => i + 1 == b.len(),
        Some(b'+') | Some(b'-') => {
            let ok = digits(i + 1, 2).is_some_and(|h| h <= 23)
                && sep(i + 3, b":")
                && digits(i + 4, 2).is_some_and(|m| m <= 59);
            ok && i + 6 == b.len()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A deliberately small stand-in for the engine's parsers: enough syntax to tell the
    /// corpus's good expressions from its broken ones.
    struct TestChecker;

    /// Finds unbalanced brackets outside quoted strings.
    fn balanced(text: &str, quotes: &[char]) -> Result<(), String> {
        let mut stack = Vec::new();
        let mut quote: Option<char> = None;
        let mut escaped = false;
        for c in text.chars() {
            if let Some(q) = quote {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                _ if quotes.contains(&c) => quote = Some(c),
                '(' | '[' | '{' => stack.push(c),
                ')' | ']' | '}' => {
                    let open = match c {
                        ')' => '(',
                        ']' => '[',
                        _ => '{',
                    };
                    if stack.pop() != Some(open) {
                        return Err(format!("unexpected '{c}'"));
                    }
                }
                _ => {}
            }
        }
        if quote.is_some() {
            return Err("unterminated string".to_string());
        }
        if let Some(open) = stack.pop() {
            return Err(format!("unclosed '{open}'"));
        }
        Ok(())
    }

    impl ExpressionChecker for TestChecker {
        fn check_path(&self, text: &str) -> Result<(), String> {
            if !text.starts_with('$') {
                return Err("a path starts with '$'".to_string());
            }
            if text.contains("...") || text.ends_with('.') {
                return Err("dangling '.'".to_string());
            }
            balanced(text, &['\'', '"'])
        }

        fn check_reference_path(&self, text: &str) -> Result<(), String> {
            self.check_path(text)?;
            if text.contains("..") || text.contains(['*', '?', '@', '(']) {
                return Err("reference paths must be definite".to_string());
            }
            Ok(())
        }

        fn check_intrinsic(&self, text: &str) -> Result<(), String> {
            let Some(open) = text.find('(') else {
                return Err("missing '('".to_string());
            };
            let name = &text[..open];
            if !name.starts_with("States.")
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            {
                return Err(format!("bad function name {name}"));
            }
            if !text.ends_with(')') {
                return Err("missing ')'".to_string());
            }
            let mut in_str = false;
            let mut chars = text[open..].chars();
            while let Some(c) = chars.next() {
                if in_str {
                    match c {
                        '\\' => match chars.next() {
                            Some('\'' | '{' | '}' | '\\') => {}
                            Some(other) => return Err(format!("illegal escape \\{other}")),
                            None => return Err("dangling backslash".to_string()),
                        },
                        '\'' => in_str = false,
                        _ => {}
                    }
                } else if c == '\'' {
                    in_str = true;
                }
            }
            balanced(&text[open..], &['\''])
        }

        fn check_jsonata(&self, text: &str) -> Result<(), String> {
            let t = text.trim();
            if t.is_empty() {
                return Err("empty".to_string());
            }
            if t.ends_with(['.', ',', '+', '&', '=']) {
                return Err("expression ends with an operator".to_string());
            }
            balanced(t, &['\'', '"', '`'])
        }
    }

    fn check(def: &Value) -> Vec<Diagnostic> {
        validate(def, &TestChecker)
    }

    fn codes(diags: &[Diagnostic]) -> Vec<&'static str> {
        diags.iter().map(|d| d.code).collect()
    }

    fn conformance_file(name: &str) -> Option<String> {
        let mut dirs = Vec::new();
        if let Ok(dir) = std::env::var("SLUICE_CONFORMANCE_DIR") {
            dirs.push(std::path::PathBuf::from(dir));
        }
        let manifest = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        dirs.push(manifest.join("../shared/conformance"));
        dirs.push(manifest.join("../../shared/conformance"));
        dirs.push(std::path::PathBuf::from("/work/shared/conformance"));
        dirs.into_iter()
            .find_map(|d| std::fs::read_to_string(d.join(name)).ok())
    }

    fn jsonl(text: &str) -> Vec<Value> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("corpus lines are JSON objects"))
            .collect()
    }

    #[test]
    fn validation_corpus_agreement() {
        let Some(text) = conformance_file("validation.jsonl") else {
            eprintln!("validation.jsonl not found; skipping");
            return;
        };
        let cases = jsonl(&text);
        let mut agree = 0;
        let mut report = String::new();
        for case in &cases {
            let id = case["id"].as_str().unwrap_or("?");
            let expected = case["valid"].as_bool().expect("every case has a verdict");
            let diags = match case.get("definition_text").and_then(Value::as_str) {
                Some(text) => validate_text(text, &TestChecker),
                None => check(&case["definition"]),
            };
            if std::env::var_os("SLUICE_VALIDATE_VERBOSE").is_some() {
                eprintln!("== {id} (valid={expected})");
                for d in &diags {
                    eprintln!("   {d}");
                }
            }
            if diags.is_empty() == expected {
                agree += 1;
            } else {
                report.push_str(&format!(
                    "\n{id}: expected valid={expected}, got {diags:#?}"
                ));
            }
        }
        eprintln!(
            "validation.jsonl agreement: {agree}/{} {report}",
            cases.len()
        );
        assert!(
            agree * 100 >= cases.len() * 95,
            "agreement {agree}/{} is below 95%",
            cases.len()
        );
    }

    #[test]
    fn executed_definitions_are_valid() {
        let Some(text) = conformance_file("cases.jsonl") else {
            eprintln!("cases.jsonl not found; skipping");
            return;
        };
        let cases = jsonl(&text);
        let mut bad = String::new();
        let mut failures = 0;
        for case in &cases {
            let diags = check(&case["definition"]);
            if !diags.is_empty() {
                failures += 1;
                bad.push_str(&format!("\n{}: {:#?}", case["id"], diags));
            }
        }
        eprintln!(
            "cases.jsonl definitions valid: {}/{}",
            cases.len() - failures,
            cases.len()
        );
        assert_eq!(failures, 0, "definitions AWS ran were rejected:{bad}");
    }

    #[test]
    fn valid_minimal_machine() {
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}});
        assert_eq!(check(&def), vec![]);
    }

    #[test]
    fn non_objects_are_reported_at_the_root() {
        for def in [json!(null), json!(""), json!([1]), json!(3)] {
            let diags = check(&def);
            assert_eq!(diags.len(), 1);
            assert_eq!(diags[0].pointer, "");
            assert_eq!(diags[0].code, SCHEMA_VALIDATION_FAILED);
        }
        assert_eq!(validate_text(" ", &TestChecker)[0].pointer, "");
        assert_eq!(
            validate_text("{", &TestChecker)[0].code,
            INVALID_JSON_DESCRIPTION
        );
        assert_eq!(
            validate_text("{}", &TestChecker)[0].message,
            "These fields are required: [States, StartAt]"
        );
    }

    #[test]
    fn duplicate_keys_in_text() {
        let text = r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "End": true, "Comment": "x", "Comment": "y"},
            "A": {"Type": "Succeed"}
        }}"#;
        let diags = validate_text(text, &TestChecker);
        assert!(
            diags
                .iter()
                .any(|d| d.code == DUPLICATE_STATE_NAME && d.pointer == "/States/A"),
            "{diags:#?}"
        );
        assert!(
            diags.iter().any(|d| d.pointer == "/States/A/Comment"),
            "{diags:#?}"
        );
        assert_eq!(diags.len(), 2, "{diags:#?}");
    }

    #[test]
    fn missing_target_names_the_alternatives() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Foo"},
            "B": {"Type": "Succeed"}
        }});
        let diags = check(&def);
        let missing = diags
            .iter()
            .find(|d| d.pointer == "/States/A/Next")
            .expect("the bad Next is reported");
        assert_eq!(missing.code, MISSING_TRANSITION_TARGET);
        assert_eq!(missing.state.as_deref(), Some("A"));
        assert!(missing.message.contains("\"Foo\""), "{}", missing.message);
        assert!(missing.message.contains("A, B"), "{}", missing.message);
        // B is unreachable as well.
        assert!(
            diags
                .iter()
                .any(|d| d.pointer == "/States/B" && d.code == MISSING_TRANSITION_TARGET)
        );
    }

    #[test]
    fn reports_every_problem_at_once() {
        let def = json!({"StartAt": "A", "Bogus": 1, "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                  "TimeoutSeconds": 0, "Next": "B", "End": true},
            "B": {"Type": "Wait", "Seconds": 1, "Timestamp": "2020-01-01T00:00:00Z", "End": true},
            "C": {"Type": "Fail", "ResultPath": "$.x"}
        }});
        let diags = check(&def);
        let pointers: Vec<&str> = diags.iter().map(|d| d.pointer.as_str()).collect();
        for expected in [
            "/Bogus",
            "/States/A/TimeoutSeconds",
            "/States/A",
            "/States/B",
            "/States/C/ResultPath",
            "/States/C",
        ] {
            assert!(
                pointers.contains(&expected),
                "{expected} missing from {diags:#?}"
            );
        }
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        let def = json!({"StartAt": "a/b~c", "States": {"a/b~c": {"Type": "Pass", "Next": "x"}}});
        let diags = check(&def);
        assert!(
            diags.iter().any(|d| d.pointer == "/States/a~1b~0c/Next"),
            "{diags:#?}"
        );
    }

    #[test]
    fn scopes_are_separate_and_names_global() {
        let def = json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "P"}}},
                {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}
            ]}
        }});
        let diags = check(&def);
        assert!(
            diags
                .iter()
                .any(|d| d.code == DUPLICATE_STATE_NAME
                    && d.pointer == "/States/P/Branches/1/States/P"),
            "{diags:#?}"
        );
        let cross = diags
            .iter()
            .find(|d| d.pointer == "/States/P/Branches/0/States/X/Next")
            .expect("cross-scope Next is reported");
        assert!(cross.message.contains("another scope"), "{}", cross.message);
    }

    #[test]
    fn choice_rules() {
        let def = json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Default": "D", "Choices": [
                {"Variable": "$.a", "NumericEquals": "1", "Next": "D"},
                {"Variable": "$.a", "StringEquals": "x", "IsPresent": true, "Next": "D"},
                {"And": [{"Variable": "$.a", "IsNull": true, "Next": "D"}], "Next": "D"},
                {"Variable": "$.a", "BooleanEquals": true},
                {"Not": {"Variable": "$.a", "TimestampEquals": "yesterday"}, "Next": "D"}
            ]},
            "D": {"Type": "Succeed"}
        }});
        let diags = check(&def);
        for p in [
            "/States/C/Choices/0/NumericEquals",
            "/States/C/Choices/1",
            "/States/C/Choices/2/And/0/Next",
            "/States/C/Choices/3",
            "/States/C/Choices/4/Not/TimestampEquals",
        ] {
            assert!(
                diags.iter().any(|d| d.pointer == p),
                "{p} missing from {diags:#?}"
            );
        }
    }

    #[test]
    fn jsonata_rules() {
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
            "C": {"Type": "Choice", "Default": "W", "Choices": [
                {"Condition": "{% $states.input.x > 1 %}", "Next": "W"},
                {"Variable": "$.x", "BooleanEquals": true, "Next": "W"}
            ]},
            "W": {"Type": "Wait", "Seconds": "{% 3 %}", "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"a.$": "$"}, "Arguments": {"x": "{% (1 + %}"}, "End": true}
        }});
        let diags = check(&def);
        for p in [
            "/States/C/Choices/1/Variable",
            "/States/C/Choices/1",
            "/States/T/Parameters",
            "/States/T/Arguments/x",
        ] {
            assert!(
                diags.iter().any(|d| d.pointer == p),
                "{p} missing from {diags:#?}"
            );
        }
        assert!(
            !diags.iter().any(|d| d.pointer.starts_with("/States/W")),
            "{diags:#?}"
        );
    }

    #[test]
    fn retry_and_catch() {
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                  "Retry": [
                    {"ErrorEquals": ["States.ALL"], "BackoffRate": 0.5, "IntervalSeconds": 0},
                    {"ErrorEquals": [], "JitterStrategy": "SOME", "MaxAttempts": -1}
                  ],
                  "Catch": [{"ErrorEquals": ["States.ALL", "X"]}]}
        }});
        let diags = check(&def);
        for p in [
            "/States/T/Retry/0/ErrorEquals",
            "/States/T/Retry/0/BackoffRate",
            "/States/T/Retry/0/IntervalSeconds",
            "/States/T/Retry/1/ErrorEquals",
            "/States/T/Retry/1/JitterStrategy",
            "/States/T/Retry/1/MaxAttempts",
            "/States/T/Catch/0/ErrorEquals",
            "/States/T/Catch/0",
        ] {
            assert!(
                diags.iter().any(|d| d.pointer == p),
                "{p} missing from {diags:#?}"
            );
        }
    }

    #[test]
    fn payload_templates() {
        let def = json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "End": true, "Parameters": {
                "a": 1, "a.$": "$.a",
                "b.$": 5,
                "c": [{"d.$": "nope"}],
                "e.$": "States.Format('x\\\"y')"
            }, "Assign": {"$bad": 1, "states": 2, "ok.$": "$.x"}}
        }});
        let diags = check(&def);
        for (p, code) in [
            ("/States/P/Parameters/a.$", SCHEMA_VALIDATION_FAILED),
            ("/States/P/Parameters/b.$", SCHEMA_VALIDATION_FAILED),
            ("/States/P/Parameters/c/0/d.$", INVALID_JSON_PATH),
            ("/States/P/Parameters/e.$", INVALID_INTRINSIC),
            ("/States/P/Assign/$bad", SCHEMA_VALIDATION_FAILED),
            ("/States/P/Assign/states", SCHEMA_VALIDATION_FAILED),
        ] {
            assert!(
                diags.iter().any(|d| d.pointer == p && d.code == code),
                "{p} missing from {diags:#?}"
            );
        }
        assert_eq!(diags.len(), 6, "{diags:#?}");
    }

    #[test]
    fn map_fields() {
        let def = json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "End": true, "MaxConcurrency": 2, "MaxConcurrencyPath": "$.n",
                  "ToleratedFailurePercentage": 101, "ItemSelector": {}, "Parameters": {},
                  "ItemProcessor": {"ProcessorConfig": {"Mode": "SIDEWAYS"},
                                    "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
                  "Iterator": {"StartAt": "J", "States": {"J": {"Type": "Pass", "End": true}}}}
        }});
        let diags = check(&def);
        for p in [
            "/States/M/MaxConcurrencyPath",
            "/States/M/ToleratedFailurePercentage",
            "/States/M/Parameters",
            "/States/M/ItemProcessor/ProcessorConfig/Mode",
            "/States/M/Iterator",
        ] {
            assert!(
                diags.iter().any(|d| d.pointer == p),
                "{p} missing from {diags:#?}"
            );
        }
    }

    #[test]
    fn terminal_state_required() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "A"}
        }});
        assert_eq!(codes(&check(&def)), vec![MISSING_END_STATE]);
    }

    #[test]
    fn long_state_names() {
        let long = "x".repeat(81);
        let def = json!({"StartAt": long, "States": {long.clone(): {"Type": "Succeed"}}});
        assert_eq!(codes(&check(&def)), vec![INVALID_STATE_NAME]);
        let ok = "é".repeat(80);
        let def = json!({"StartAt": ok, "States": {ok.clone(): {"Type": "Succeed"}}});
        assert_eq!(check(&def), vec![]);
    }

    #[test]
    fn resources() {
        assert!(resource_arn("arn:aws:states:::lambda:invoke.waitForTaskToken").is_ok());
        assert!(resource_arn("arn:aws:states:::states:startExecution.sync:2").is_ok());
        assert!(resource_arn("arn:aws:states:::aws-sdk:s3:listBuckets").is_ok());
        assert!(resource_arn("arn:aws:states:us-east-1:1:activity:a").is_ok());
        assert!(resource_arn("arn:aws:lambda:r:1:function:f:$LATEST").is_ok());
        assert!(resource_arn("${LambdaArn}").is_ok());
        assert!(resource_arn("arn:aws:states:::dynamodb:query").is_err());
        assert!(resource_arn("arn:aws:lambda:r:1:function:f:").is_err());
        assert!(resource_arn("createToken").is_err());
    }

    #[test]
    fn timestamps() {
        for ok in [
            "2016-03-14T01:59:00Z",
            "2016-03-14T01:59:00.123+01:00",
            "2016-03-14t01:59:00z",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "05-12-2016T21:29:29Z",
            "2016-03-14T01:59:00",
            "2016-13-14T01:59:00Z",
            "{% 'x' %}",
            "2016-03-14T01:59:00.Z",
            "",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    /// Builds a definition around `depth` nested values without recursion.
    ///
    /// `json!` cannot be used to wrap the nested part: it interpolates through
    /// `serde_json::to_value`, which recurses once per level.
    fn deep(
        depth: usize,
        wrap: impl Fn(Value) -> Value,
        finish: impl FnOnce(Value) -> Value,
    ) -> Value {
        let mut v = json!(1);
        for _ in 0..depth {
            v = wrap(v);
        }
        finish(v)
    }

    /// Inserts `value` at `path` (object keys or array indices) inside `outer`.
    fn put(mut outer: Value, path: &[&str], value: Value) -> Value {
        let mut slot = &mut outer;
        for key in path {
            slot = match slot {
                Value::Array(a) => {
                    &mut a[key
                        .parse::<usize>()
                        .expect("test paths index arrays with numbers")]
                }
                other => &mut other[*key],
            };
        }
        *slot = value;
        outer
    }

    /// Drops a value iteratively, because serde_json's own Drop recurses once per level.
    fn teardown(v: Value) {
        let mut stack = vec![v];
        while let Some(mut v) = stack.pop() {
            match &mut v {
                Value::Object(m) => stack.extend(std::mem::take(m).into_iter().map(|(_, v)| v)),
                Value::Array(a) => stack.append(a),
                _ => {}
            }
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let def = deep(
            100_000,
            |v| put(json!({}), &["k"], v),
            |v| {
                let base = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
                    "Parameters": {"ok": 1}}}});
                put(base, &["States", "P", "Parameters", "deep"], v)
            },
        );
        let diags = check(&def);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert!(diags[0].message.contains("deeper"));
        teardown(def);

        let def = deep(
            100_000,
            |v| {
                let base = json!({"StartAt": "S", "States": {"S": {"Type": "Parallel", "End": true,
                    "Branches": [null]}}});
                put(base, &["States", "S", "Branches", "0"], v)
            },
            |v| v,
        );
        assert!(check(&def).iter().any(|d| d.message.contains("deeper")));
        teardown(def);

        let def = deep(
            100_000,
            |v| put(json!({}), &["Not"], v),
            |v| {
                let base = json!({"StartAt": "C", "States": {"C": {"Type": "Choice",
                    "Choices": [{"Next": "C"}]}}});
                put(base, &["States", "C", "Choices", "0", "Not"], v)
            },
        );
        assert!(check(&def).iter().any(|d| d.message.contains("deeper")));
        teardown(def);

        let def = deep(
            100_000,
            |v| Value::Array(vec![v]),
            |v| {
                let base = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {
                    "Type": "Pass", "End": true, "Assign": {"x": {}}}}});
                put(base, &["States", "P", "Assign", "x", "y"], v)
            },
        );
        assert!(check(&def).iter().any(|d| d.message.contains("deeper")));
        teardown(def);
    }

    #[test]
    fn diagnostics_serialize() {
        let d = Diagnostic {
            pointer: "/States/A".to_string(),
            state: Some("A".to_string()),
            code: SCHEMA_VALIDATION_FAILED,
            message: "m".to_string(),
        };
        let v = serde_json::to_value(&d).expect("Diagnostic serializes");
        assert_eq!(v["code"], "SCHEMA_VALIDATION_FAILED");
        assert_eq!(
            d.to_string(),
            "SCHEMA_VALIDATION_FAILED: m at /States/A (state \"A\")"
        );
    }
}
