//! The compiled form of a state machine: states addressed by index, with every path,
//! intrinsic call, JSONata expression and Choice rule parsed once.
//!
//! `compile` trusts nothing: a definition that slipped past validation still yields a
//! `CompileError` with its location, never a panic.

use serde_json::{Map, Value};

use super::NameMap;
use super::choice::Rule;
use super::distributed::{
    CsvHeader, InputType, ItemBatcher, ItemReader, OutputType, ResultWriter, Transformation,
};
use super::jsonata::{self, Template};
use super::path::Path;
use super::payload::{PayloadTemplate, compile_dynamic, pointer_escape};

/// The query language a state's fields are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryLanguage {
    JsonPath,
    Jsonata,
}

/// A whole state machine.
#[derive(Debug)]
pub struct StateMachine {
    /// The top-level states.
    pub graph: Graph,
    /// Execution timeout.
    pub timeout_seconds: Option<u64>,
    /// The machine-wide default query language.
    pub query_language: QueryLanguage,
}

/// One scope of states: the machine, a Parallel branch or a Map item processor.
#[derive(Debug)]
pub struct Graph {
    /// Index of `StartAt`.
    pub start: usize,
    /// The states, in definition order.
    pub states: Vec<State>,
}

/// One state.
#[derive(Debug)]
pub struct State {
    pub name: String,
    pub language: QueryLanguage,
    /// Where control goes after the state succeeds (Choice picks its own).
    pub next: Transition,
    pub io: Io,
    pub assign: Option<Assign>,
    pub kind: Kind,
    /// How much of the context object the state's JSONata expressions can read.
    pub context: ContextUse,
}

/// How much of the context object a JSONata state needs in `$states.context`. Building it
/// copies the execution input, so states that cannot read it are spared the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextUse {
    /// `$states.context` is never read.
    None,
    /// Read, but never `Execution.Input`.
    WithoutInput,
    /// Anything may be read.
    Full,
}

impl ContextUse {
    /// Work out from the text of a state's own fields (not its nested states).
    fn of_state(obj: &Map<String, Value>) -> ContextUse {
        let mut text = String::new();
        for (key, value) in obj {
            if !matches!(key.as_str(), "Branches" | "ItemProcessor" | "Iterator") {
                text.push_str(&value.to_string());
                text.push('\n');
            }
        }
        let mut usage = ContextUse::None;
        let mut rest = text.as_str();
        while let Some(at) = rest.find("$states") {
            rest = &rest[at + "$states".len()..];
            let field = dotted_names(rest, 3);
            let this = match field.as_slice() {
                [] => ContextUse::Full,
                ["input" | "result" | "errorOutput", ..] => ContextUse::None,
                ["context"] | ["context", "Execution"] | ["context", "Execution", "Input"] => {
                    ContextUse::Full
                }
                ["context", ..] => ContextUse::WithoutInput,
                _ => ContextUse::None,
            };
            usage = usage.max(this);
        }
        usage
    }

    fn max(self, other: ContextUse) -> ContextUse {
        let rank = |c: ContextUse| match c {
            ContextUse::None => 0,
            ContextUse::WithoutInput => 1,
            ContextUse::Full => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// Up to `n` leading `.name` steps of `text`.
fn dotted_names(text: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while out.len() < n {
        let Some(after) = rest.strip_prefix('.') else {
            break;
        };
        let end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if end == 0 {
            break;
        }
        out.push(&after[..end]);
        rest = &after[end..];
    }
    out
}

/// The successor of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Next(usize),
    End,
}

/// Input and output processing, per query language.
#[derive(Debug)]
pub enum Io {
    JsonPath(Box<PathIo>),
    Jsonata(Box<JsonataIo>),
}

/// JSONPath-mode input/output fields.
#[derive(Debug, Default)]
pub struct PathIo {
    pub input_path: Selector,
    pub parameters: Option<PayloadTemplate>,
    pub result_selector: Option<PayloadTemplate>,
    pub result_path: ResultPath,
    pub output_path: Selector,
}

/// JSONata-mode input/output fields.
#[derive(Debug, Default)]
pub struct JsonataIo {
    pub arguments: Option<Template>,
    pub output: Option<Template>,
}

/// `InputPath` / `OutputPath`.
#[derive(Debug, Default)]
pub enum Selector {
    /// Absent or `$`: the whole value.
    #[default]
    Whole,
    /// `null`: an empty object.
    Discard,
    /// Boxed: most states have no InputPath or OutputPath, and an absent one stays small.
    Path(Box<Path>),
}

/// `ResultPath`.
#[derive(Debug, Default)]
pub enum ResultPath {
    /// Absent or `$`: the result replaces the input.
    #[default]
    Whole,
    /// `null`: the result is dropped, the input passes through.
    Discard,
    Path(Box<Path>),
}

/// `Assign`.
#[derive(Debug)]
pub enum Assign {
    JsonPath(Vec<(String, PayloadTemplate)>),
    Jsonata(Vec<(String, Template)>),
}

/// A field that may be a literal, a path, an intrinsic call or a JSONata expression.
#[derive(Debug)]
pub enum Field {
    Literal(Value),
    Path(Path),
    Dynamic(PayloadTemplate),
    Jsonata(Template),
}

/// What kind of state it is, with its type-specific fields.
#[derive(Debug)]
pub enum Kind {
    Pass {
        result: Option<Value>,
    },
    Task(Box<TaskSpec>),
    Choice(Box<ChoiceSpec>),
    Wait(Box<WaitFor>),
    Succeed,
    Fail(Box<FailSpec>),
    Parallel {
        branches: Vec<Graph>,
        handlers: Handlers,
    },
    Map(Box<MapSpec>),
}

/// A Fail state's `Error` and `Cause` (boxed in [`Kind`]: most states are not Fail states).
#[derive(Debug)]
pub struct FailSpec {
    pub error: Option<Field>,
    pub cause: Option<Field>,
}

/// Retry and Catch of Task, Parallel and Map.
#[derive(Debug, Default)]
pub struct Handlers {
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

/// One `Retry` entry.
#[derive(Debug)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub jitter: bool,
}

/// One `Catch` entry.
#[derive(Debug)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: usize,
    pub result_path: ResultPath,
    pub output: Option<Template>,
    pub assign: Option<Assign>,
}

/// A Task state.
#[derive(Debug)]
pub struct TaskSpec {
    /// The `Resource`, parsed once here for every dispatch of the state.
    pub resource: sluice_task::Resource,
    pub timeout_seconds: Option<Field>,
    pub heartbeat_seconds: Option<Field>,
    pub credentials: Option<Value>,
    pub handlers: Handlers,
}

/// A Choice state.
#[derive(Debug)]
pub struct ChoiceSpec {
    pub choices: Vec<ChoiceBranch>,
    pub default: Option<usize>,
}

/// One Choice rule with its target.
#[derive(Debug)]
pub struct ChoiceBranch {
    pub condition: Condition,
    pub next: usize,
    pub assign: Option<Assign>,
    pub output: Option<Template>,
}

/// The test of a Choice rule.
#[derive(Debug)]
pub enum Condition {
    JsonPath(Rule),
    Jsonata(Template),
}

/// What a Wait state waits for.
#[derive(Debug)]
pub enum WaitFor {
    Seconds(Field),
    Timestamp(Field),
}

/// A Map state.
#[derive(Debug)]
pub struct MapSpec {
    pub processor: Graph,
    pub items: Items,
    pub item_selector: Option<Arguments>,
    /// `ItemReader`: items come from object storage instead of the input.
    pub reader: Option<ItemReader>,
    pub batcher: Option<ItemBatcher>,
    pub writer: Option<ResultWriter>,
    /// `Label` (names the map run).
    pub label: Option<String>,
    pub max_concurrency: Option<Field>,
    pub tolerated_failure_percentage: Option<Field>,
    pub tolerated_failure_count: Option<Field>,
    pub distributed: bool,
    /// `ProcessorConfig.ExecutionType` is `EXPRESS`: a Distributed Map's children run in
    /// memory and are not kept as executions.
    pub express_children: bool,
    pub handlers: Handlers,
}

/// Where a Map state's items come from.
#[derive(Debug)]
pub enum Items {
    /// `ItemsPath` (JSONPath; absent means `$`).
    Path(Selector),
    /// `Items` (JSONata): an array or an expression yielding one; absent means the input.
    Jsonata(Option<Template>),
}

/// A payload in the state's query language: a Map's `ItemSelector` (or `Parameters`), an
/// ItemBatcher's `BatchInput`, an ItemReader's or ResultWriter's `Parameters`/`Arguments`.
#[derive(Debug)]
pub enum Arguments {
    JsonPath(PayloadTemplate),
    Jsonata(Template),
}

/// A definition that cannot be compiled, with its location.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct CompileError {
    /// JSON pointer of the offending value.
    pub pointer: String,
    pub message: String,
    /// Valid ASL that sluice does not run yet (as opposed to a broken definition).
    pub unsupported: bool,
}

fn cerr(pointer: impl Into<String>, message: impl Into<String>) -> CompileError {
    CompileError {
        pointer: pointer.into(),
        message: message.into(),
        unsupported: false,
    }
}

impl StateMachine {
    /// The ItemProcessor of the Distributed Map labelled `label` (its `Label`, or its name
    /// when it has none), searched in definition order through every scope, as the Map Run
    /// ARN `…:mapRun:<machine>/<label>:<id>` names it.
    pub fn map_run_processor(&self, label: &str) -> Option<&Graph> {
        fn search<'g>(graph: &'g Graph, label: &str) -> Option<&'g Graph> {
            graph.states.iter().find_map(|state| match &state.kind {
                Kind::Map(spec) => {
                    let own = spec.label.as_deref().unwrap_or(&state.name);
                    if spec.distributed && own == label {
                        Some(&spec.processor)
                    } else {
                        search(&spec.processor, label)
                    }
                }
                Kind::Parallel { branches, .. } => branches.iter().find_map(|b| search(b, label)),
                _ => None,
            })
        }
        search(&self.graph, label)
    }

    /// Compile a definition (already parsed from JSON or YAML).
    pub fn compile(definition: &Value) -> Result<StateMachine, CompileError> {
        let obj = definition
            .as_object()
            .ok_or_else(|| cerr("", "a state machine definition must be a JSON object"))?;
        let query_language = match obj.get("QueryLanguage") {
            None => QueryLanguage::JsonPath,
            Some(v) => parse_language(v, "/QueryLanguage")?,
        };
        let timeout_seconds = match obj.get("TimeoutSeconds") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                cerr(
                    "/TimeoutSeconds",
                    "TimeoutSeconds must be a non-negative integer",
                )
            })?),
        };
        let graph = compile_graph(obj, "", query_language, 0)?;
        Ok(StateMachine {
            graph,
            timeout_seconds,
            query_language,
        })
    }
}

fn parse_language(v: &Value, pointer: &str) -> Result<QueryLanguage, CompileError> {
    match v.as_str() {
        Some("JSONPath") => Ok(QueryLanguage::JsonPath),
        Some("JSONata") => Ok(QueryLanguage::Jsonata),
        _ => Err(cerr(
            pointer,
            "QueryLanguage must be \"JSONPath\" or \"JSONata\"",
        )),
    }
}

/// Nesting of Parallel/Map scopes; the JSON parser already bounds depth, this bounds recursion.
const MAX_SCOPE_DEPTH: usize = 64;

/// Compile one scope; `language` is the machine-wide default query language.
fn compile_graph(
    obj: &Map<String, Value>,
    pointer: &str,
    language: QueryLanguage,
    depth: usize,
) -> Result<Graph, CompileError> {
    if depth > MAX_SCOPE_DEPTH {
        return Err(cerr(
            pointer,
            format!("Parallel/Map nested deeper than {MAX_SCOPE_DEPTH} levels"),
        ));
    }
    let states = obj
        .get("States")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            cerr(
                format!("{pointer}/States"),
                "States must be an object of named states",
            )
        })?;
    let names: NameMap<&str, usize> = states
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let start_name = obj
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or_else(|| cerr(format!("{pointer}/StartAt"), "StartAt must name a state"))?;
    let start = *names.get(start_name).ok_or_else(|| {
        cerr(
            format!("{pointer}/StartAt"),
            format!("StartAt names {start_name:?}, which is not a state here"),
        )
    })?;
    let scope = Scope {
        names: &names,
        depth,
        default_language: language,
    };
    let mut compiled = Vec::with_capacity(states.len());
    for (name, def) in states {
        let here = format!("{pointer}/States/{}", pointer_escape(name));
        compiled.push(scope.state(name, def, &here, language)?);
    }
    Ok(Graph {
        start,
        states: compiled,
    })
}

struct Scope<'a> {
    names: &'a NameMap<&'a str, usize>,
    depth: usize,
    /// The machine's `QueryLanguage`: states without their own inherit it, also inside
    /// Parallel branches and Map processors (not the enclosing state's).
    default_language: QueryLanguage,
}

impl Scope<'_> {
    fn target(&self, v: Option<&Value>, pointer: &str) -> Result<usize, CompileError> {
        let name = v
            .and_then(Value::as_str)
            .ok_or_else(|| cerr(pointer, "must name a state"))?;
        self.names.get(name).copied().ok_or_else(|| {
            cerr(
                pointer,
                format!("names {name:?}, which is not a state in this scope"),
            )
        })
    }

    fn state(
        &self,
        name: &str,
        def: &Value,
        pointer: &str,
        inherited: QueryLanguage,
    ) -> Result<State, CompileError> {
        let obj = def
            .as_object()
            .ok_or_else(|| cerr(pointer, "a state must be an object"))?;
        let at = |field: &str| format!("{pointer}/{field}");
        // The pointer of an optional field, built only when the field is there: an absent one
        // never reaches an error, and 10,000 states would otherwise format 80,000 strings.
        let at_present = |field: &str| {
            if obj.contains_key(field) {
                at(field)
            } else {
                String::new()
            }
        };
        let language = match obj.get("QueryLanguage") {
            Some(v) => parse_language(v, &at_present("QueryLanguage"))?,
            None => inherited,
        };
        let ty = obj
            .get("Type")
            .and_then(Value::as_str)
            .ok_or_else(|| cerr(at("Type"), "Type is required"))?;
        let next = match (obj.get("Next"), obj.get("End")) {
            (Some(n), _) => Transition::Next(self.target(Some(n), &at_present("Next"))?),
            _ => Transition::End,
        };
        let io = match language {
            QueryLanguage::JsonPath => Io::JsonPath(Box::new(PathIo {
                input_path: selector(obj.get("InputPath"), &at_present("InputPath"))?,
                parameters: template_field(obj.get("Parameters"), &at_present("Parameters"))?,
                result_selector: template_field(
                    obj.get("ResultSelector"),
                    &at_present("ResultSelector"),
                )?,
                result_path: result_path(obj.get("ResultPath"), &at_present("ResultPath"))?,
                output_path: selector(obj.get("OutputPath"), &at_present("OutputPath"))?,
            })),
            QueryLanguage::Jsonata => Io::Jsonata(Box::new(JsonataIo {
                arguments: jsonata_field(obj.get("Arguments"), &at_present("Arguments"))?,
                output: jsonata_field(obj.get("Output"), &at_present("Output"))?,
            })),
        };
        let assign = assign(obj.get("Assign"), &at_present("Assign"), language)?;
        let kind = match ty {
            "Pass" => Kind::Pass {
                result: obj.get("Result").cloned(),
            },
            "Succeed" => Kind::Succeed,
            "Fail" => Kind::Fail(Box::new(FailSpec {
                error: self.string_field(obj, "Error", "ErrorPath", pointer, language)?,
                cause: self.string_field(obj, "Cause", "CausePath", pointer, language)?,
            })),
            "Wait" => Kind::Wait(Box::new(self.wait(obj, pointer, language)?)),
            "Task" => {
                let resource = obj
                    .get("Resource")
                    .and_then(Value::as_str)
                    .ok_or_else(|| cerr(at("Resource"), "a Task needs a Resource string"))?;
                let resource = sluice_task::Resource::parse(resource);
                Kind::Task(Box::new(TaskSpec {
                    resource,
                    timeout_seconds: self.number_field(obj, "TimeoutSeconds", pointer, language)?,
                    heartbeat_seconds: self.number_field(
                        obj,
                        "HeartbeatSeconds",
                        pointer,
                        language,
                    )?,
                    credentials: obj.get("Credentials").cloned(),
                    handlers: self.handlers(obj, pointer, language)?,
                }))
            }
            "Choice" => Kind::Choice(Box::new(self.choice(obj, pointer, language)?)),
            "Parallel" => {
                let branches = obj
                    .get("Branches")
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        cerr(at("Branches"), "a Parallel state needs a Branches array")
                    })?;
                let branches = branches
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let here = format!("{pointer}/Branches/{i}");
                        let b = b.as_object().ok_or_else(|| {
                            cerr(&here, "a branch must be an object with StartAt and States")
                        })?;
                        compile_graph(b, &here, self.default_language, self.depth + 1)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Kind::Parallel {
                    branches,
                    handlers: self.handlers(obj, pointer, language)?,
                }
            }
            "Map" => Kind::Map(Box::new(self.map(obj, pointer, language)?)),
            other => return Err(cerr(at("Type"), format!("unknown state type {other:?}"))),
        };
        Ok(State {
            name: name.to_string(),
            language,
            next,
            io,
            assign,
            kind,
            context: match language {
                QueryLanguage::Jsonata => ContextUse::of_state(obj),
                QueryLanguage::JsonPath => ContextUse::Full,
            },
        })
    }

    /// `Error`/`ErrorPath` and `Cause`/`CausePath` of a Fail state.
    fn string_field(
        &self,
        obj: &Map<String, Value>,
        plain: &str,
        path: &str,
        pointer: &str,
        language: QueryLanguage,
    ) -> Result<Option<Field>, CompileError> {
        if let Some(v) = obj.get(plain) {
            return literal_or_jsonata(v, &format!("{pointer}/{plain}"), language).map(Some);
        }
        match obj.get(path) {
            None => Ok(None),
            Some(Value::String(s)) => compile_dynamic(s, &format!("{pointer}/{path}"))
                .map(|t| Some(Field::Dynamic(t)))
                .map_err(|e| cerr(e.pointer, e.message)),
            Some(_) => Err(cerr(
                format!("{pointer}/{path}"),
                format!("{path} must be a path string"),
            )),
        }
    }

    /// A numeric field with an optional `…Path` variant (`TimeoutSeconds`, `MaxConcurrency`, ...).
    fn number_field(
        &self,
        obj: &Map<String, Value>,
        name: &str,
        pointer: &str,
        language: QueryLanguage,
    ) -> Result<Option<Field>, CompileError> {
        if let Some(v) = obj.get(name) {
            return literal_or_jsonata(v, &format!("{pointer}/{name}"), language).map(Some);
        }
        let path_name = format!("{name}Path");
        match obj.get(&path_name) {
            None => Ok(None),
            Some(Value::String(s)) => Path::parse(s).map(|p| Some(Field::Path(p))).map_err(|e| {
                cerr(
                    format!("{pointer}/{path_name}"),
                    format!("invalid path {s:?}: {e}"),
                )
            }),
            Some(_) => Err(cerr(
                format!("{pointer}/{path_name}"),
                format!("{path_name} must be a path string"),
            )),
        }
    }

    fn wait(
        &self,
        obj: &Map<String, Value>,
        pointer: &str,
        language: QueryLanguage,
    ) -> Result<WaitFor, CompileError> {
        if let Some(f) = self.number_field(obj, "Seconds", pointer, language)? {
            return Ok(WaitFor::Seconds(f));
        }
        if let Some(f) = self.number_field(obj, "Timestamp", pointer, language)? {
            return Ok(WaitFor::Timestamp(f));
        }
        Err(cerr(
            pointer,
            "a Wait state needs one of Seconds, Timestamp, SecondsPath or TimestampPath",
        ))
    }

    fn handlers(
        &self,
        obj: &Map<String, Value>,
        pointer: &str,
        language: QueryLanguage,
    ) -> Result<Handlers, CompileError> {
        let mut handlers = Handlers::default();
        if let Some(retry) = obj.get("Retry") {
            let list = retry
                .as_array()
                .ok_or_else(|| cerr(format!("{pointer}/Retry"), "Retry must be an array"))?;
            for (i, r) in list.iter().enumerate() {
                handlers
                    .retry
                    .push(retrier(r, &format!("{pointer}/Retry/{i}"))?);
            }
        }
        if let Some(catch) = obj.get("Catch") {
            let list = catch
                .as_array()
                .ok_or_else(|| cerr(format!("{pointer}/Catch"), "Catch must be an array"))?;
            for (i, c) in list.iter().enumerate() {
                let here = format!("{pointer}/Catch/{i}");
                let c = c
                    .as_object()
                    .ok_or_else(|| cerr(&here, "a Catch entry must be an object"))?;
                let (result_path, output) = match language {
                    QueryLanguage::JsonPath => (
                        result_path(c.get("ResultPath"), &format!("{here}/ResultPath"))?,
                        None,
                    ),
                    QueryLanguage::Jsonata => (
                        ResultPath::Whole,
                        jsonata_field(c.get("Output"), &format!("{here}/Output"))?,
                    ),
                };
                handlers.catch.push(Catcher {
                    error_equals: error_equals(
                        c.get("ErrorEquals"),
                        &format!("{here}/ErrorEquals"),
                    )?,
                    next: self.target(c.get("Next"), &format!("{here}/Next"))?,
                    result_path,
                    output,
                    assign: assign(c.get("Assign"), &format!("{here}/Assign"), language)?,
                });
            }
        }
        Ok(handlers)
    }

    fn choice(
        &self,
        obj: &Map<String, Value>,
        pointer: &str,
        language: QueryLanguage,
    ) -> Result<ChoiceSpec, CompileError> {
        let list = obj
            .get("Choices")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                cerr(
                    format!("{pointer}/Choices"),
                    "a Choice state needs a Choices array",
                )
            })?;
        let mut choices = Vec::with_capacity(list.len());
        for (i, rule) in list.iter().enumerate() {
            let here = format!("{pointer}/Choices/{i}");
            let robj = rule
                .as_object()
                .ok_or_else(|| cerr(&here, "a Choice rule must be an object"))?;
            let condition = match language {
                QueryLanguage::JsonPath => Condition::JsonPath(
                    Rule::compile(rule, &here).map_err(|e| cerr(e.pointer, e.message))?,
                ),
                QueryLanguage::Jsonata => {
                    let c = robj
                        .get("Condition")
                        .ok_or_else(|| cerr(&here, "a JSONata Choice rule needs a Condition"))?;
                    Condition::Jsonata(jsonata_template(c, &format!("{here}/Condition"))?)
                }
            };
            choices.push(ChoiceBranch {
                condition,
                next: self.target(robj.get("Next"), &format!("{here}/Next"))?,
                assign: assign(robj.get("Assign"), &format!("{here}/Assign"), language)?,
                output: match language {
                    QueryLanguage::Jsonata => {
                        jsonata_field(robj.get("Output"), &format!("{here}/Output"))?
                    }
                    QueryLanguage::JsonPath => None,
                },
            });
        }
        let default = match obj.get("Default") {
            None => None,
            v => Some(self.target(v, &format!("{pointer}/Default"))?),
        };
        Ok(ChoiceSpec { choices, default })
    }

    fn item_reader(
        &self,
        v: &Value,
        pointer: &str,
        language: QueryLanguage,
    ) -> Result<ItemReader, CompileError> {
        let obj = v
            .as_object()
            .ok_or_else(|| cerr(pointer, "ItemReader must be an object"))?;
        let resource = obj
            .get("Resource")
            .and_then(Value::as_str)
            .ok_or_else(|| cerr(pointer, "ItemReader needs a Resource"))?
            .to_string();
        let empty = Map::new();
        let cfg_ptr = format!("{pointer}/ReaderConfig");
        let cfg = match obj.get("ReaderConfig") {
            None => &empty,
            Some(c) => c
                .as_object()
                .ok_or_else(|| cerr(&cfg_ptr, "ReaderConfig must be an object"))?,
        };
        let text = |name: &str| cfg.get(name).and_then(Value::as_str);
        let input_type = match text("InputType") {
            None => None,
            Some(t) => Some(InputType::parse(t).ok_or_else(|| {
                cerr(
                    format!("{cfg_ptr}/InputType"),
                    format!("unknown InputType {t:?} (CSV, JSON, JSONL, PARQUET or MANIFEST)"),
                )
            })?),
        };
        let load_and_flatten = match text("Transformation") {
            None | Some("NONE") => false,
            Some("LOAD_AND_FLATTEN") => true,
            Some(t) => {
                return Err(cerr(
                    format!("{cfg_ptr}/Transformation"),
                    format!("unknown Transformation {t:?} (NONE or LOAD_AND_FLATTEN)"),
                ));
            }
        };
        let csv_header = match text("CSVHeaderLocation") {
            Some("GIVEN") => CsvHeader::Given(
                cfg.get("CSVHeaders")
                    .and_then(Value::as_array)
                    .and_then(|a| {
                        a.iter()
                            .map(|h| h.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| {
                        cerr(
                            format!("{cfg_ptr}/CSVHeaders"),
                            "CSVHeaderLocation GIVEN needs CSVHeaders, an array of strings",
                        )
                    })?,
            ),
            _ => CsvHeader::FirstRow,
        };
        let csv_delimiter = match text("CSVDelimiter") {
            None | Some("COMMA") => b',',
            Some("PIPE") => b'|',
            Some("SEMICOLON") => b';',
            Some("SPACE") => b' ',
            Some("TAB") => b'\t',
            Some(d) => {
                return Err(cerr(
                    format!("{cfg_ptr}/CSVDelimiter"),
                    format!("unknown CSVDelimiter {d:?} (COMMA, PIPE, SEMICOLON, SPACE or TAB)"),
                ));
            }
        };
        Ok(ItemReader {
            resource,
            arguments: resource_arguments(obj, pointer, language)?,
            input_type,
            load_and_flatten,
            csv_header,
            csv_delimiter,
            max_items: self.number_field(cfg, "MaxItems", &cfg_ptr, language)?,
            items_pointer: text("ItemsPointer").map(str::to_string),
        })
    }

    fn item_batcher(
        &self,
        v: &Value,
        pointer: &str,
        language: QueryLanguage,
    ) -> Result<ItemBatcher, CompileError> {
        let obj = v
            .as_object()
            .ok_or_else(|| cerr(pointer, "ItemBatcher must be an object"))?;
        Ok(ItemBatcher {
            max_items: self.number_field(obj, "MaxItemsPerBatch", pointer, language)?,
            max_bytes: self.number_field(obj, "MaxInputBytesPerBatch", pointer, language)?,
            batch_input: obj
                .get("BatchInput")
                .map(|b| arguments(b, &format!("{pointer}/BatchInput"), language))
                .transpose()?,
        })
    }

    fn map(
        &self,
        obj: &Map<String, Value>,
        pointer: &str,
        language: QueryLanguage,
    ) -> Result<MapSpec, CompileError> {
        let (proc_name, proc_def) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(p), _) => ("ItemProcessor", p),
            (None, Some(i)) => ("Iterator", i),
            (None, None) => {
                return Err(cerr(
                    pointer,
                    "a Map state needs an ItemProcessor (or the older Iterator)",
                ));
            }
        };
        let proc_ptr = format!("{pointer}/{proc_name}");
        let proc_obj = proc_def
            .as_object()
            .ok_or_else(|| cerr(&proc_ptr, "must be an object with StartAt and States"))?;
        let distributed = proc_obj
            .get("ProcessorConfig")
            .and_then(|c| c.get("Mode"))
            .and_then(Value::as_str)
            == Some("DISTRIBUTED");
        let express_children = proc_obj
            .get("ProcessorConfig")
            .and_then(|c| c.get("ExecutionType"))
            .and_then(Value::as_str)
            == Some("EXPRESS");
        let processor = compile_graph(proc_obj, &proc_ptr, self.default_language, self.depth + 1)?;
        let items = match language {
            QueryLanguage::JsonPath => Items::Path(selector(
                obj.get("ItemsPath"),
                &format!("{pointer}/ItemsPath"),
            )?),
            QueryLanguage::Jsonata => Items::Jsonata(jsonata_field(
                obj.get("Items"),
                &format!("{pointer}/Items"),
            )?),
        };
        let selector_def = obj.get("ItemSelector").or_else(|| obj.get("Parameters"));
        let selector_name = if obj.contains_key("ItemSelector") {
            "ItemSelector"
        } else {
            "Parameters"
        };
        let item_selector = selector_def
            .map(|v| arguments(v, &format!("{pointer}/{selector_name}"), language))
            .transpose()?;
        let reader = match obj.get("ItemReader") {
            Some(v) => Some(self.item_reader(v, &format!("{pointer}/ItemReader"), language)?),
            None => None,
        };
        let batcher = match obj.get("ItemBatcher") {
            Some(v) => Some(self.item_batcher(v, &format!("{pointer}/ItemBatcher"), language)?),
            None => None,
        };
        let writer = match obj.get("ResultWriter") {
            Some(v) => Some(result_writer(
                v,
                &format!("{pointer}/ResultWriter"),
                language,
            )?),
            None => None,
        };
        Ok(MapSpec {
            processor,
            items,
            item_selector,
            reader,
            batcher,
            writer,
            label: obj.get("Label").and_then(Value::as_str).map(str::to_string),
            max_concurrency: self.number_field(obj, "MaxConcurrency", pointer, language)?,
            tolerated_failure_percentage: self.number_field(
                obj,
                "ToleratedFailurePercentage",
                pointer,
                language,
            )?,
            tolerated_failure_count: self.number_field(
                obj,
                "ToleratedFailureCount",
                pointer,
                language,
            )?,
            distributed,
            express_children,
            handlers: self.handlers(obj, pointer, language)?,
        })
    }
}

fn literal_or_jsonata(
    v: &Value,
    pointer: &str,
    language: QueryLanguage,
) -> Result<Field, CompileError> {
    match (language, v) {
        (QueryLanguage::Jsonata, Value::String(s)) if jsonata::is_expression(s) => {
            Ok(Field::Jsonata(jsonata_template(v, pointer)?))
        }
        _ => Ok(Field::Literal(v.clone())),
    }
}

/// A payload template in the state's language.
fn arguments(v: &Value, pointer: &str, language: QueryLanguage) -> Result<Arguments, CompileError> {
    match language {
        QueryLanguage::JsonPath => Ok(Arguments::JsonPath(
            PayloadTemplate::compile(v)
                .map_err(|e| cerr(format!("{pointer}{}", e.pointer), e.message))?,
        )),
        QueryLanguage::Jsonata => Ok(Arguments::Jsonata(jsonata_template(v, pointer)?)),
    }
}

/// The `Parameters` (JSONPath) or `Arguments` (JSONata) of an ItemReader or ResultWriter.
fn resource_arguments(
    obj: &Map<String, Value>,
    pointer: &str,
    language: QueryLanguage,
) -> Result<Option<Arguments>, CompileError> {
    let name = match language {
        QueryLanguage::JsonPath => "Parameters",
        QueryLanguage::Jsonata => "Arguments",
    };
    obj.get(name)
        .map(|v| arguments(v, &format!("{pointer}/{name}"), language))
        .transpose()
}

fn result_writer(
    v: &Value,
    pointer: &str,
    language: QueryLanguage,
) -> Result<ResultWriter, CompileError> {
    let obj = v
        .as_object()
        .ok_or_else(|| cerr(pointer, "ResultWriter must be an object"))?;
    let resource = obj
        .get("Resource")
        .and_then(Value::as_str)
        .map(str::to_string);
    let cfg = obj.get("WriterConfig");
    let text = |name: &str| cfg.and_then(|c| c.get(name)).and_then(Value::as_str);
    let cfg_ptr = format!("{pointer}/WriterConfig");
    // Exporting without a WriterConfig writes full records; reshaping only, compact outputs.
    let transformation = match text("Transformation") {
        None if resource.is_some() => Transformation::None,
        None | Some("COMPACT") => Transformation::Compact,
        Some("NONE") => Transformation::None,
        Some("FLATTEN") => Transformation::Flatten,
        Some(t) => {
            return Err(cerr(
                format!("{cfg_ptr}/Transformation"),
                format!("unknown Transformation {t:?} (NONE, COMPACT or FLATTEN)"),
            ));
        }
    };
    let output_type = match text("OutputType") {
        None | Some("JSON") => OutputType::Json,
        Some("JSONL") => OutputType::Jsonl,
        Some(t) => {
            return Err(cerr(
                format!("{cfg_ptr}/OutputType"),
                format!("unknown OutputType {t:?} (JSON or JSONL)"),
            ));
        }
    };
    if resource.is_none() && cfg.is_none() {
        return Err(cerr(
            pointer,
            "ResultWriter needs a Resource with Parameters/Arguments, a WriterConfig, or both",
        ));
    }
    Ok(ResultWriter {
        arguments: resource_arguments(obj, pointer, language)?,
        resource,
        transformation,
        output_type,
    })
}

fn jsonata_template(v: &Value, pointer: &str) -> Result<Template, CompileError> {
    Template::compile(v).map_err(|e| cerr(pointer, format!("invalid JSONata: {e}")))
}

fn jsonata_field(v: Option<&Value>, pointer: &str) -> Result<Option<Template>, CompileError> {
    v.map(|v| jsonata_template(v, pointer)).transpose()
}

fn template_field(
    v: Option<&Value>,
    pointer: &str,
) -> Result<Option<PayloadTemplate>, CompileError> {
    v.map(|v| {
        PayloadTemplate::compile(v).map_err(|e| cerr(format!("{pointer}{}", e.pointer), e.message))
    })
    .transpose()
}

fn selector(v: Option<&Value>, pointer: &str) -> Result<Selector, CompileError> {
    match v {
        None => Ok(Selector::Whole),
        Some(Value::Null) => Ok(Selector::Discard),
        Some(Value::String(s)) => {
            let p =
                Path::parse(s).map_err(|e| cerr(pointer, format!("invalid path {s:?}: {e}")))?;
            Ok(
                if p.is_root() && matches!(p.root(), super::path::Root::Input) {
                    Selector::Whole
                } else {
                    Selector::Path(Box::new(p))
                },
            )
        }
        Some(_) => Err(cerr(pointer, "must be a path string or null")),
    }
}

fn result_path(v: Option<&Value>, pointer: &str) -> Result<ResultPath, CompileError> {
    match v {
        None => Ok(ResultPath::Whole),
        Some(Value::Null) => Ok(ResultPath::Discard),
        Some(Value::String(s)) => {
            let p =
                Path::parse(s).map_err(|e| cerr(pointer, format!("invalid path {s:?}: {e}")))?;
            if !p.is_definite() || !matches!(p.root(), super::path::Root::Input) {
                return Err(cerr(
                    pointer,
                    format!(
                        "ResultPath {s:?} must be a reference path into the state input ($.a.b)"
                    ),
                ));
            }
            Ok(if p.is_root() {
                ResultPath::Whole
            } else {
                ResultPath::Path(Box::new(p))
            })
        }
        Some(_) => Err(cerr(pointer, "must be a path string or null")),
    }
}

fn error_equals(v: Option<&Value>, pointer: &str) -> Result<Vec<String>, CompileError> {
    let list = v.and_then(Value::as_array).ok_or_else(|| {
        cerr(
            pointer,
            "ErrorEquals must be a non-empty array of error names",
        )
    })?;
    list.iter()
        .map(|e| {
            e.as_str()
                .map(str::to_string)
                .ok_or_else(|| cerr(pointer, "error names must be strings"))
        })
        .collect()
}

fn retrier(v: &Value, pointer: &str) -> Result<Retrier, CompileError> {
    let obj = v
        .as_object()
        .ok_or_else(|| cerr(pointer, "a Retry entry must be an object"))?;
    let num = |name: &str, default: f64| -> Result<f64, CompileError> {
        match obj.get(name) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| {
                cerr(
                    format!("{pointer}/{name}"),
                    format!("{name} must be a number"),
                )
            }),
        }
    };
    Ok(Retrier {
        error_equals: error_equals(obj.get("ErrorEquals"), &format!("{pointer}/ErrorEquals"))?,
        interval_seconds: num("IntervalSeconds", 1.0)?,
        max_attempts: match obj.get("MaxAttempts") {
            None => 3,
            Some(v) => v.as_u64().ok_or_else(|| {
                cerr(
                    format!("{pointer}/MaxAttempts"),
                    "MaxAttempts must be a non-negative integer",
                )
            })?,
        },
        backoff_rate: num("BackoffRate", 2.0)?,
        max_delay_seconds: obj.get("MaxDelaySeconds").and_then(Value::as_f64),
        jitter: obj.get("JitterStrategy").and_then(Value::as_str) == Some("FULL"),
    })
}

fn assign(
    v: Option<&Value>,
    pointer: &str,
    language: QueryLanguage,
) -> Result<Option<Assign>, CompileError> {
    let Some(v) = v else { return Ok(None) };
    let obj = v.as_object().ok_or_else(|| {
        cerr(
            pointer,
            "Assign must be an object of variable names to values",
        )
    })?;
    match language {
        QueryLanguage::JsonPath => {
            let template = PayloadTemplate::compile(v)
                .map_err(|e| cerr(format!("{pointer}{}", e.pointer), e.message))?;
            let fields = match template {
                PayloadTemplate::Object(fields) => fields,
                PayloadTemplate::Literal(Value::Object(map)) => map
                    .into_iter()
                    .map(|(k, v)| (k, PayloadTemplate::Literal(v)))
                    .collect(),
                _ => return Err(cerr(pointer, "Assign must be an object")),
            };
            Ok(Some(Assign::JsonPath(fields)))
        }
        QueryLanguage::Jsonata => {
            let fields = obj
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        jsonata_template(v, &format!("{pointer}/{}", pointer_escape(k)))?,
                    ))
                })
                .collect::<Result<Vec<_>, CompileError>>()?;
            Ok(Some(Assign::Jsonata(fields)))
        }
    }
}

#[cfg(test)]
mod sizes {
    use std::mem::size_of;

    /// A compiled definition holds one State per state: rarely used parts stay boxed so a
    /// 10,000-state machine does not pay for fields it does not have (BENCHMARKS.md, load).
    #[test]
    fn states_stay_small() {
        assert!(
            size_of::<super::State>() <= 176,
            "{}",
            size_of::<super::State>()
        );
        assert!(
            size_of::<super::Kind>() <= 80,
            "{}",
            size_of::<super::Kind>()
        );
        assert!(size_of::<super::Io>() <= 16, "{}", size_of::<super::Io>());
        assert!(
            size_of::<super::PathIo>() <= 224,
            "{}",
            size_of::<super::PathIo>()
        );
    }
}
