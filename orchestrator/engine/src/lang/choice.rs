//! Choice rules in JSONPath mode: comparison operators, their `…Path` variants, the `Is…`
//! type tests, `StringMatches` and the `And`/`Or`/`Not` combinators.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::path::{Path, PathError};

/// A compiled Boolean rule.
#[derive(Debug, Clone)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    /// A test of the value at `variable`.
    Test {
        variable: Path,
        test: Test,
    },
}

/// What a data-test rule checks.
#[derive(Debug, Clone)]
pub enum Test {
    /// A comparison of the variable against a literal or the value at another path.
    Compare {
        kind: Kind,
        op: Ordering,
        /// `true` for `…LessThanEquals`/`…GreaterThanEquals`: equality also passes.
        or_equal: bool,
        operand: Operand,
    },
    IsNull(bool),
    IsPresent(bool),
    IsNumeric(bool),
    IsString(bool),
    IsBoolean(bool),
    IsTimestamp(bool),
    /// `StringMatches` with `*` wildcards (`\*` and `\\` escape).
    StringMatches(Vec<Glob>),
}

/// The type a comparison operates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone)]
pub enum Operand {
    Literal(Value),
    Path(Path),
}

/// One piece of a `StringMatches` pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Glob {
    Text(String),
    Star,
}

/// Why a rule could not be compiled (the validator reports these with locations).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct RuleError {
    pub pointer: String,
    pub message: String,
}

/// Why a rule could not be evaluated: the engine reports it as `States.Runtime`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuleEvalError {
    #[error("Invalid path '{path}' : {source}")]
    Path {
        path: String,
        #[source]
        source: PathError,
    },
    #[error("variable ${0} is not defined")]
    UnknownVariable(String),
}

/// Resolves the paths a rule reads.
pub trait Lookup {
    /// The value at `path`, `Ok(None)` when the path matches nothing.
    fn lookup(&mut self, path: &Path) -> Result<Option<Value>, RuleEvalError>;
}

const COMPARISONS: &[(&str, Kind, Ordering, bool)] = &[
    ("StringEquals", Kind::String, Ordering::Equal, false),
    ("StringLessThan", Kind::String, Ordering::Less, false),
    ("StringGreaterThan", Kind::String, Ordering::Greater, false),
    ("StringLessThanEquals", Kind::String, Ordering::Less, true),
    (
        "StringGreaterThanEquals",
        Kind::String,
        Ordering::Greater,
        true,
    ),
    ("NumericEquals", Kind::Numeric, Ordering::Equal, false),
    ("NumericLessThan", Kind::Numeric, Ordering::Less, false),
    (
        "NumericGreaterThan",
        Kind::Numeric,
        Ordering::Greater,
        false,
    ),
    ("NumericLessThanEquals", Kind::Numeric, Ordering::Less, true),
    (
        "NumericGreaterThanEquals",
        Kind::Numeric,
        Ordering::Greater,
        true,
    ),
    ("BooleanEquals", Kind::Boolean, Ordering::Equal, false),
    ("TimestampEquals", Kind::Timestamp, Ordering::Equal, false),
    ("TimestampLessThan", Kind::Timestamp, Ordering::Less, false),
    (
        "TimestampGreaterThan",
        Kind::Timestamp,
        Ordering::Greater,
        false,
    ),
    (
        "TimestampLessThanEquals",
        Kind::Timestamp,
        Ordering::Less,
        true,
    ),
    (
        "TimestampGreaterThanEquals",
        Kind::Timestamp,
        Ordering::Greater,
        true,
    ),
];

const TYPE_TESTS: &[&str] = &[
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

/// Every field a rule may hold besides its operator.
const RULE_FIELDS: &[&str] = &[
    "Variable",
    "Next",
    "Comment",
    "Assign",
    "Output",
    "Condition",
];

/// Every comparison operator name, including the `…Path` forms and type tests.
pub fn operator_names() -> impl Iterator<Item = String> {
    COMPARISONS
        .iter()
        .flat_map(|(n, ..)| [n.to_string(), format!("{n}Path")])
        .chain(TYPE_TESTS.iter().map(|s| s.to_string()))
        .chain([
            "StringMatches".to_string(),
            "And".into(),
            "Or".into(),
            "Not".into(),
        ])
}

impl Rule {
    /// Compile a rule object found at `pointer`.
    pub fn compile(value: &Value, pointer: &str) -> Result<Rule, RuleError> {
        compile_rule(value, pointer, 0)
    }

    /// Evaluate the rule.
    pub fn evaluate(&self, lookup: &mut dyn Lookup) -> Result<bool, RuleEvalError> {
        match self {
            Rule::And(rules) => {
                for r in rules {
                    if !r.evaluate(lookup)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for r in rules {
                    if r.evaluate(lookup)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.evaluate(lookup)?),
            Rule::Test { variable, test } => {
                let value = lookup.lookup(variable)?;
                if let Test::IsPresent(expected) = test {
                    return Ok(value.is_some() == *expected);
                }
                let Some(value) = value else {
                    return Err(RuleEvalError::Path {
                        path: variable.text().to_string(),
                        source: no_match(variable),
                    });
                };
                test.check(&value, lookup)
            }
        }
    }
}

impl Test {
    fn check(&self, value: &Value, lookup: &mut dyn Lookup) -> Result<bool, RuleEvalError> {
        Ok(match self {
            Test::IsPresent(_) => true,
            Test::IsNull(b) => value.is_null() == *b,
            Test::IsNumeric(b) => value.is_number() == *b,
            Test::IsString(b) => value.is_string() == *b,
            Test::IsBoolean(b) => value.is_boolean() == *b,
            Test::IsTimestamp(b) => value.as_str().and_then(parse_timestamp).is_some() == *b,
            Test::StringMatches(globs) => match value.as_str() {
                Some(s) => glob_match(globs, s),
                None => false,
            },
            Test::Compare {
                kind,
                op,
                or_equal,
                operand,
            } => {
                let right = match operand {
                    Operand::Literal(v) => v.clone(),
                    Operand::Path(p) => match lookup.lookup(p)? {
                        Some(v) => v,
                        None => {
                            return Err(RuleEvalError::Path {
                                path: p.text().to_string(),
                                source: no_match(p),
                            });
                        }
                    },
                };
                match compare(*kind, value, &right) {
                    Some(ord) => ord == *op || (*or_equal && ord == Ordering::Equal),
                    None => false,
                }
            }
        })
    }
}

fn no_match(path: &Path) -> PathError {
    PathError::NoMatch {
        path: path.text().to_string(),
        message: format!("No results for path: {}", path.text()),
    }
}

/// Compare two values as `kind`; `None` when either is not of that kind.
fn compare(kind: Kind, left: &Value, right: &Value) -> Option<Ordering> {
    match kind {
        Kind::String => Some(left.as_str()?.cmp(right.as_str()?)),
        Kind::Numeric => {
            if !left.is_number() || !right.is_number() {
                return None;
            }
            // Integers compare exactly; anything else as doubles (what AWS's Java runtime does).
            if let (Some(a), Some(b)) = (left.as_i64(), right.as_i64()) {
                return Some(a.cmp(&b));
            }
            left.as_f64()?.partial_cmp(&right.as_f64()?)
        }
        Kind::Boolean => {
            let (a, b) = (left.as_bool()?, right.as_bool()?);
            Some(a.cmp(&b))
        }
        Kind::Timestamp => {
            let a = parse_timestamp(left.as_str()?)?;
            let b = parse_timestamp(right.as_str()?)?;
            Some(a.cmp(&b))
        }
    }
}

/// Parse an RFC 3339 timestamp the way Step Functions accepts them: an upper-case `T`
/// separator and an explicit zone (`Z` or an offset).
pub fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    let bytes = s.as_bytes();
    if bytes.len() < 20 || bytes.get(10) != Some(&b'T') {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok()
}

/// Match a `StringMatches` pattern against the whole string.
pub fn glob_match(globs: &[Glob], s: &str) -> bool {
    // Iterative matcher with backtracking to the last star: linear-ish, no recursion.
    let (mut gi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    let text = s.as_bytes();
    loop {
        if gi < globs.len() {
            match &globs[gi] {
                Glob::Star => {
                    star = Some((gi, si));
                    gi += 1;
                    continue;
                }
                Glob::Text(t) => {
                    if text[si..].starts_with(t.as_bytes()) {
                        si += t.len();
                        gi += 1;
                        continue;
                    }
                }
            }
        } else if si == text.len() {
            return true;
        }
        match star {
            Some((sg, ss)) if ss < text.len() => {
                // Let the star swallow one more character (a whole UTF-8 scalar).
                let step = s[ss..].chars().next().map_or(1, char::len_utf8);
                star = Some((sg, ss + step));
                gi = sg + 1;
                si = ss + step;
            }
            _ => return false,
        }
    }
}

/// Split a `StringMatches` pattern into literal runs and stars.
pub fn parse_glob(pattern: &str) -> Vec<Glob> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => text.push(n),
                None => text.push('\\'),
            },
            '*' => {
                if !text.is_empty() {
                    out.push(Glob::Text(std::mem::take(&mut text)));
                }
                if out.last() != Some(&Glob::Star) {
                    out.push(Glob::Star);
                }
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        out.push(Glob::Text(text));
    }
    out
}

const MAX_DEPTH: usize = 256;

fn err(pointer: &str, message: impl Into<String>) -> RuleError {
    RuleError {
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

fn compile_rule(value: &Value, pointer: &str, depth: usize) -> Result<Rule, RuleError> {
    if depth > MAX_DEPTH {
        return Err(err(
            pointer,
            format!("rules nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let Value::Object(map) = value else {
        return Err(err(pointer, "a Choice rule must be an object"));
    };
    let operators: Vec<&String> = map
        .keys()
        .filter(|k| !RULE_FIELDS.contains(&k.as_str()))
        .collect();
    let [op] = operators.as_slice() else {
        return Err(err(
            pointer,
            if operators.is_empty() {
                "a Choice rule needs exactly one operator (e.g. StringEquals, And, IsPresent)"
                    .to_string()
            } else {
                format!(
                    "a Choice rule needs exactly one operator, found: {}",
                    operators
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        ));
    };
    let op = op.as_str();
    let operand = &map[op];
    let here = format!("{pointer}/{op}");
    match op {
        "And" | "Or" => {
            let Value::Array(items) = operand else {
                return Err(err(&here, format!("{op} takes a non-empty array of rules")));
            };
            if items.is_empty() {
                return Err(err(&here, format!("{op} takes a non-empty array of rules")));
            }
            let rules = items
                .iter()
                .enumerate()
                .map(|(i, r)| compile_rule(r, &format!("{here}/{i}"), depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if op == "And" {
                Rule::And(rules)
            } else {
                Rule::Or(rules)
            })
        }
        "Not" => Ok(Rule::Not(Box::new(compile_rule(
            operand,
            &here,
            depth + 1,
        )?))),
        _ => {
            let variable = match map.get("Variable") {
                Some(Value::String(s)) => Path::parse(s).map_err(|e| {
                    err(
                        &format!("{pointer}/Variable"),
                        format!("invalid path {s:?}: {e}"),
                    )
                })?,
                Some(_) => {
                    return Err(err(
                        &format!("{pointer}/Variable"),
                        "Variable must be a string",
                    ));
                }
                None => return Err(err(pointer, format!("{op} needs a Variable"))),
            };
            Ok(Rule::Test {
                variable,
                test: compile_test(op, operand, &here)?,
            })
        }
    }
}

fn compile_test(op: &str, operand: &Value, here: &str) -> Result<Test, RuleError> {
    let want_bool = || {
        operand
            .as_bool()
            .ok_or_else(|| err(here, format!("{op} takes true or false")))
    };
    match op {
        "IsNull" => return Ok(Test::IsNull(want_bool()?)),
        "IsPresent" => return Ok(Test::IsPresent(want_bool()?)),
        "IsNumeric" => return Ok(Test::IsNumeric(want_bool()?)),
        "IsString" => return Ok(Test::IsString(want_bool()?)),
        "IsBoolean" => return Ok(Test::IsBoolean(want_bool()?)),
        "IsTimestamp" => return Ok(Test::IsTimestamp(want_bool()?)),
        "StringMatches" => {
            let s = operand
                .as_str()
                .ok_or_else(|| err(here, "StringMatches takes a string pattern"))?;
            return Ok(Test::StringMatches(parse_glob(s)));
        }
        _ => {}
    }
    let (base, is_path) = match op.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (op, false),
    };
    let Some(&(_, kind, ord, or_equal)) = COMPARISONS.iter().find(|(n, ..)| *n == base) else {
        return Err(err(here, format!("unknown Choice operator {op:?}")));
    };
    let operand = if is_path {
        let s = operand
            .as_str()
            .ok_or_else(|| err(here, format!("{op} takes a path string")))?;
        Operand::Path(Path::parse(s).map_err(|e| err(here, format!("invalid path {s:?}: {e}")))?)
    } else {
        let ok = match kind {
            Kind::String => operand.is_string(),
            Kind::Numeric => operand.is_number(),
            Kind::Boolean => operand.is_boolean(),
            Kind::Timestamp => operand.as_str().and_then(parse_timestamp).is_some(),
        };
        if !ok {
            let want = match kind {
                Kind::String => "a string",
                Kind::Numeric => "a number",
                Kind::Boolean => "true or false",
                Kind::Timestamp => "an RFC 3339 timestamp string",
            };
            return Err(err(here, format!("{op} takes {want}")));
        }
        Operand::Literal(operand.clone())
    };
    Ok(Test::Compare {
        kind,
        op: ord,
        or_equal,
        operand,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = parse_glob("log-*.txt");
        assert!(glob_match(&g, "log-1.txt"));
        assert!(glob_match(&g, "log-.txt"));
        assert!(!glob_match(&g, "log-1.txt.bak"));
        let lit = parse_glob(r"a\*b");
        assert!(glob_match(&lit, "a*b"));
        assert!(!glob_match(&lit, "axb"));
        assert!(glob_match(&parse_glob("*"), ""));
        assert!(glob_match(&parse_glob("*é*"), "café!"));
    }

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2016-08-18T17:33:00Z").is_some());
        assert!(parse_timestamp("2016-08-18T17:33:00.123+01:00").is_some());
        assert!(parse_timestamp("2016-08-18 17:33:00Z").is_none());
        assert!(parse_timestamp("nope").is_none());
    }

    #[test]
    fn compare_numbers() {
        let a = serde_json::json!(1);
        let b = serde_json::json!(1.0);
        assert_eq!(compare(Kind::Numeric, &a, &b), Some(Ordering::Equal));
        assert_eq!(compare(Kind::Numeric, &a, &serde_json::json!("1")), None);
    }
}
