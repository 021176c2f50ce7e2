//! What a parsed expression refers to: `$states` fields, workflow variables and functions.

use std::collections::{BTreeMap, BTreeSet};

use jsonata_core::ast::{AstNode, BinaryOp, PathStep, Stage};
use jsonata_core::value::JValue;
use serde_json::Value;

use super::MAX_VALUE_DEPTH;
use super::convert::to_jvalue;

/// Functions AWS adds to JSONata.
const EXTENSION_FUNCTIONS: [&str; 6] = ["partition", "range", "hash", "random", "uuid", "parse"];

/// The functions of JSONata 2.0: a `$name` that is one of these refers to the function, not to a
/// workflow variable, as far as [`Expression::variable_names`] is concerned.
///
/// [`Expression::variable_names`]: super::Expression::variable_names
const STANDARD_FUNCTIONS: &[&str] = &[
    "abs",
    "append",
    "assert",
    "average",
    "base64decode",
    "base64encode",
    "boolean",
    "ceil",
    "contains",
    "count",
    "decodeUrl",
    "decodeUrlComponent",
    "distinct",
    "each",
    "encodeUrl",
    "encodeUrlComponent",
    "error",
    "eval",
    "exists",
    "filter",
    "floor",
    "formatBase",
    "formatInteger",
    "formatNumber",
    "fromMillis",
    "join",
    "keys",
    "length",
    "lookup",
    "lowercase",
    "map",
    "match",
    "max",
    "merge",
    "millis",
    "min",
    "not",
    "now",
    "number",
    "pad",
    "parseInteger",
    "power",
    "random",
    "reduce",
    "replace",
    "reverse",
    "round",
    "shuffle",
    "sift",
    "single",
    "sort",
    "split",
    "spread",
    "sqrt",
    "string",
    "substring",
    "substringAfter",
    "substringBefore",
    "sum",
    "toMillis",
    "trim",
    "type",
    "uppercase",
    "zip",
];

/// The parts of `$states` an expression reads, so evaluation converts only those: a field name
/// maps to what is read below it. `$states.input.a + $states.context.Map` reads
/// `{input: {a: Whole}, context: {Map: Whole}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StatesUse {
    /// Only these fields, each read as described.
    Fields(BTreeMap<String, StatesUse>),
    /// Any part (`$states.input` itself, `$states.items[0]`, `$lookup($states, …)`, `%`).
    Whole,
}

impl StatesUse {
    /// Records a read of the value at `path` (all of it).
    fn read(&mut self, path: &[&str]) {
        let Some((first, rest)) = path.split_first() else {
            *self = StatesUse::Whole;
            return;
        };
        if let StatesUse::Fields(fields) = self {
            fields
                .entry((*first).to_owned())
                .or_insert_with(|| StatesUse::Fields(BTreeMap::new()))
                .read(rest);
        }
    }

    /// The part of `value` this use reads, converted.
    pub(super) fn pick(&self, value: &Value, depth: usize) -> Result<JValue, String> {
        match (self, value) {
            (StatesUse::Fields(fields), Value::Object(all)) if depth <= MAX_VALUE_DEPTH => {
                let mut picked = Vec::with_capacity(fields.len());
                for (field, use_) in fields {
                    if let Some(value) = all.get(field) {
                        picked.push((field.clone(), use_.pick(value, depth + 1)?));
                    }
                }
                Ok(JValue::object(picked.into_iter().collect()))
            }
            // A path step over an array maps over its items, and a scalar has no fields, so
            // anything but an object is taken whole.
            _ => to_jvalue(value, depth),
        }
    }
}

/// What a parsed expression refers to, worked out once at compile time.
#[derive(Debug, Clone, Default)]
pub(super) struct References {
    /// Every `$name` read, except `$`, `$$` and `$states`: the candidates for binding.
    pub(super) variables: BTreeSet<String>,
    /// Names the expression binds itself (`:=`, lambda parameters, `@$x`, `#$i`).
    pub(super) bound: BTreeSet<String>,
    /// Names called as `$name(…)`.
    called: BTreeSet<String>,
    /// `None` when `$states` is not mentioned at all.
    pub(super) states: Option<StatesUse>,
    /// Whether the parent operator `%` appears: it can climb from a field to the object
    /// holding it, so `$states` must then be bound whole.
    climbs_to_parent: bool,
}

impl References {
    pub(super) fn of(ast: &AstNode) -> Self {
        let mut refs = Self::default();
        // An explicit work list rather than recursion: the parser accepts 1,000 levels of
        // nesting, and this walk runs on whatever thread compiles the definition.
        let mut pending = vec![ast];
        while let Some(node) = pending.pop() {
            refs.visit(node, &mut pending);
        }
        if refs.climbs_to_parent && refs.states.is_some() {
            refs.states = Some(StatesUse::Whole);
        }
        refs
    }

    fn visit<'n>(&mut self, node: &'n AstNode, pending: &mut Vec<&'n AstNode>) {
        match node {
            AstNode::Variable(name) => self.read_variable(name),
            AstNode::Path { steps } => {
                let rest = match states_path(steps) {
                    Some(path) => {
                        self.states
                            .get_or_insert_with(|| StatesUse::Fields(BTreeMap::new()))
                            .read(&path);
                        // The `$states` step is accounted for; the field steps may still carry
                        // predicates that read variables.
                        &steps[1..]
                    }
                    None => &steps[..],
                };
                for step in rest {
                    self.visit_step(step, pending);
                }
            }
            AstNode::Binary { op, lhs, rhs } => {
                if *op == BinaryOp::ColonEqual
                    && let AstNode::Variable(name) = lhs.as_ref()
                {
                    self.bound.insert(name.clone());
                }
                pending.push(lhs);
                pending.push(rhs);
            }
            AstNode::Unary { operand, .. } => pending.push(operand),
            AstNode::Function { name, args, .. } => {
                self.called.insert(name.clone());
                pending.extend(args);
            }
            AstNode::Call { procedure, args } => {
                pending.push(procedure);
                pending.extend(args);
            }
            AstNode::Lambda { params, body, .. } => {
                self.bound.extend(params.iter().cloned());
                pending.push(body);
            }
            AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
                pending.extend(items);
            }
            AstNode::Object(pairs) => {
                for (key, value) in pairs {
                    pending.push(key);
                    pending.push(value);
                }
            }
            AstNode::ObjectTransform { input, pattern } => {
                pending.push(input);
                for (key, value) in pattern {
                    pending.push(key);
                    pending.push(value);
                }
            }
            AstNode::Conditional {
                condition,
                then_branch,
                else_branch,
            } => {
                pending.push(condition);
                pending.push(then_branch);
                if let Some(else_branch) = else_branch {
                    pending.push(else_branch);
                }
            }
            AstNode::FunctionApplication(inner) => pending.push(inner),
            AstNode::Sort { input, terms } => {
                pending.push(input);
                pending.extend(terms.iter().map(|(term, _)| term));
            }
            AstNode::Transform {
                location,
                update,
                delete,
            } => {
                pending.push(location);
                pending.push(update);
                if let Some(delete) = delete {
                    pending.push(delete);
                }
            }
            // Listed one by one so that a variant added to the AST fails to compile here instead
            // of hiding a variable reference.
            AstNode::String(_)
            | AstNode::Name(_)
            | AstNode::Number(_)
            | AstNode::Boolean(_)
            | AstNode::Null
            | AstNode::Undefined
            | AstNode::Placeholder
            | AstNode::Regex { .. }
            | AstNode::ParentVariable(_)
            | AstNode::Wildcard
            | AstNode::Descendant => {}
            AstNode::Parent(_) => self.climbs_to_parent = true,
        }
    }

    fn visit_step<'n>(&mut self, step: &'n PathStep, pending: &mut Vec<&'n AstNode>) {
        pending.push(&step.node);
        for stage in &step.stages {
            match stage {
                Stage::Filter(predicate) => pending.push(predicate),
                Stage::Index(name) => {
                    self.bound.insert(name.clone());
                }
                Stage::KeepArray => {}
            }
        }
        self.bound.extend(step.focus.iter().cloned());
        self.bound.extend(step.index_var.iter().cloned());
    }

    fn read_variable(&mut self, name: &str) {
        match name {
            "" => {}
            "states" => self.states = Some(StatesUse::Whole),
            _ => {
                self.variables.insert(name.to_owned());
            }
        }
    }

    /// Whether `$name` or `$name(…)` appears, i.e. whether function `name` may be used.
    pub(super) fn mentions(&self, name: &str) -> bool {
        self.called.contains(name) || self.variables.contains(name)
    }
}

pub(super) fn is_function_name(name: &str) -> bool {
    STANDARD_FUNCTIONS.contains(&name) || EXTENSION_FUNCTIONS.contains(&name)
}

/// The field names a path reads below `$states`, when it starts with a plain `$states` step:
/// `$states.input.a[0].b` reads `input.a` (the predicate needs all of `a`).
fn states_path(steps: &[PathStep]) -> Option<Vec<&str>> {
    let (first, rest) = steps.split_first()?;
    let plain = |step: &PathStep| {
        step.stages.is_empty()
            && step.focus.is_none()
            && step.index_var.is_none()
            && step.ancestor_label.is_none()
    };
    if !matches!(&first.node, AstNode::Variable(name) if name == "states") || !plain(first) {
        return None;
    }
    let mut path = Vec::new();
    for step in rest {
        let AstNode::Name(field) = &step.node else {
            break;
        };
        path.push(field.as_str());
        if !plain(step) {
            break;
        }
    }
    Some(path)
}
