//! Schedule expressions: `cron(...)`, `rate(...)` and `at(...)`, as EventBridge Scheduler
//! writes them (<https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html>),
//! plus bare five-field unix cron.

use std::fmt;
use std::str::FromStr;

use chrono::{Duration, NaiveDateTime};

use crate::cron::{Cron, CronError};

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expression {
    /// Fires at the wall-clock minutes the cron matches, in the schedule's time zone.
    Cron(Cron),
    /// Fires every `every`, from the schedule's start (or creation) time on.
    Rate(Rate),
    /// Fires once, at this wall-clock time in the schedule's time zone.
    At(NaiveDateTime),
}

/// The unit of a `rate(...)` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateUnit {
    Minute,
    Hour,
    Day,
}

impl RateUnit {
    /// Seconds in one unit. A day is 24 hours: rates ignore time zones and daylight saving time.
    pub fn seconds(self) -> i64 {
        match self {
            RateUnit::Minute => 60,
            RateUnit::Hour => 3_600,
            RateUnit::Day => 86_400,
        }
    }

    fn name(self) -> &'static str {
        match self {
            RateUnit::Minute => "minute",
            RateUnit::Hour => "hour",
            RateUnit::Day => "day",
        }
    }
}

/// A `rate(value unit)` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// The period between two fire times: `value` times `unit`.
    pub every: Duration,
    /// The number written in the expression (positive).
    pub value: u64,
    /// The unit written in the expression.
    pub unit: RateUnit,
}

impl Rate {
    /// `value` units; `None` when `value` is 0 or the period does not fit a [`Duration`].
    pub fn new(value: u64, unit: RateUnit) -> Option<Rate> {
        if value == 0 {
            return None;
        }
        let seconds = i64::try_from(value).ok()?.checked_mul(unit.seconds())?;
        Some(Rate {
            every: Duration::try_seconds(seconds)?,
            value,
            unit,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.value == 1 { "" } else { "s" };
        write!(f, "rate({} {}{plural})", self.value, self.unit.name())
    }
}

/// Why a schedule expression was refused. Each message quotes the expression and says what is
/// wrong, naming the field for cron.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    /// Not `cron(...)`, `rate(...)`, `at(...)` nor a bare five-field cron.
    #[error("unknown expression {text:?}; expected cron(...), rate(...) or at(...)")]
    Unknown { text: String },
    /// A cron with a wrong number of fields.
    #[error(
        "{text} has {count} fields; AWS cron has 6 (minutes hours day-of-month month day-of-week \
         year), unix cron 5 (minute hour day-of-month month day-of-week)"
    )]
    FieldCount { text: String, count: usize },
    /// One cron field is wrong.
    #[error("{text}: {field}: {message}")]
    Field {
        text: String,
        field: &'static str,
        message: String,
    },
    /// Anything else: the expression and what is wrong with it.
    #[error("{text}: {message}")]
    Invalid { text: String, message: String },
}

/// `text` as a call `name(inner)`, the name case-insensitive. `Ok(None)` when it is not a call
/// of that name, an error when the parenthesis is not closed at the very end.
fn call<'a>(text: &'a str, name: &str) -> Result<Option<&'a str>, ExpressionError> {
    let Some(head) = text.get(..name.len() + 1) else {
        return Ok(None);
    };
    if !head
        .get(..name.len())
        .is_some_and(|n| n.eq_ignore_ascii_case(name))
        || !head.ends_with('(')
    {
        return Ok(None);
    }
    let rest = &text[name.len() + 1..];
    match rest.strip_suffix(')') {
        Some(inner) if !inner.contains([')', '(']) => Ok(Some(inner)),
        _ => Err(ExpressionError::Invalid {
            text: text.to_string(),
            message: format!("expected {name}(...) with a single closing parenthesis at the end"),
        }),
    }
}

fn parse_cron(text: &str, fields: &[&str]) -> Result<Cron, ExpressionError> {
    Cron::parse_fields(fields).map_err(|e| match e {
        CronError::Field(f) => ExpressionError::Field {
            text: text.to_string(),
            field: f.field,
            message: f.message,
        },
        CronError::Count(count) => ExpressionError::FieldCount {
            text: text.to_string(),
            count,
        },
        CronError::Whole(message) => ExpressionError::Invalid {
            text: text.to_string(),
            message,
        },
    })
}

fn parse_rate(text: &str, inner: &str) -> Result<Rate, ExpressionError> {
    let invalid = |message: String| ExpressionError::Invalid {
        text: text.to_string(),
        message,
    };
    let parts: Vec<&str> = inner.split_whitespace().collect();
    let [value, unit] = parts.as_slice() else {
        return Err(invalid(
            "expected rate(value unit), e.g. rate(5 minutes) or rate(1 hour)".to_string(),
        ));
    };
    if !value.bytes().all(|b| b.is_ascii_digit()) || value.bytes().all(|b| b == b'0') {
        return Err(invalid("the value must be a positive integer".to_string()));
    }
    let unit = match unit.to_ascii_lowercase().as_str() {
        "minute" | "minutes" => RateUnit::Minute,
        "hour" | "hours" => RateUnit::Hour,
        "day" | "days" => RateUnit::Day,
        _ => {
            return Err(invalid(format!(
                "the unit must be minute(s), hour(s) or day(s), not {unit:?}"
            )));
        }
    };
    value
        .parse::<u64>()
        .ok()
        .and_then(|v| Rate::new(v, unit))
        .ok_or_else(|| invalid(format!("the value {value} is too large")))
}

fn parse_at(text: &str, inner: &str) -> Result<NaiveDateTime, ExpressionError> {
    // Exactly yyyy-mm-ddThh:mm:ss: chrono alone would accept other widths.
    let shape = inner.len() == 19
        && inner.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    let parsed = shape
        .then(|| NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S").ok())
        .flatten();
    parsed.ok_or_else(|| ExpressionError::Invalid {
        text: text.to_string(),
        message: format!(
            "{inner:?} is not a valid date and time; expected yyyy-mm-ddThh:mm:ss, \
             e.g. at(2026-03-08T14:30:00)"
        ),
    })
}

impl Expression {
    /// Parses `cron(m h dom mon dow year)` (AWS six fields), a five-field unix cron written bare
    /// or as `cron(m h dom mon dow)`, `rate(N minute|minutes|hour|hours|day|days)` or
    /// `at(yyyy-mm-ddThh:mm:ss)`. Surrounding white space is ignored; the keywords and names
    /// are case-insensitive. Never panics.
    pub fn parse(text: &str) -> Result<Expression, ExpressionError> {
        let text = text.trim();
        if let Some(inner) = call(text, "cron")? {
            let fields: Vec<&str> = inner.split_whitespace().collect();
            return parse_cron(text, &fields).map(Expression::Cron);
        }
        if let Some(inner) = call(text, "rate")? {
            return parse_rate(text, inner).map(Expression::Rate);
        }
        if let Some(inner) = call(text, "at")? {
            return parse_at(text, inner.trim()).map(Expression::At);
        }
        // A bare unix cron starts like one: a number, `*` or `?`.
        if text.starts_with(|c: char| c.is_ascii_digit() || c == '*' || c == '?') {
            let fields: Vec<&str> = text.split_whitespace().collect();
            if fields.len() != 5 {
                return Err(ExpressionError::Invalid {
                    text: text.to_string(),
                    message: format!(
                        "has {} fields; a bare unix cron has 5 (minute hour day-of-month month \
                         day-of-week); write AWS cron as cron(minutes hours day-of-month month \
                         day-of-week year)",
                        fields.len()
                    ),
                });
            }
            return parse_cron(text, &fields).map(Expression::Cron);
        }
        Err(ExpressionError::Unknown {
            text: text.to_string(),
        })
    }
}

impl FromStr for Expression {
    type Err = ExpressionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Expression::parse(s)
    }
}

impl fmt::Display for Expression {
    /// The canonical text, which parses back to an equal expression.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expression::Cron(c) => c.fmt(f),
            Expression::Rate(r) => r.fmt(f),
            Expression::At(t) => write!(f, "at({})", t.format("%Y-%m-%dT%H:%M:%S")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match Expression::parse(text) {
            Ok(e) => panic!("{text:?} parsed as {e:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn ok(text: &str) -> Expression {
        Expression::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn parses_the_three_kinds() {
        assert!(matches!(ok("cron(0 12 * * ? *)"), Expression::Cron(_)));
        assert!(matches!(ok("0 2 * * *"), Expression::Cron(_)));
        assert!(matches!(ok("cron(0 2 * * 1-5)"), Expression::Cron(_)));
        let Expression::Rate(r) = ok("rate(5 minutes)") else {
            panic!("not a rate");
        };
        assert_eq!(r.every, Duration::minutes(5));
        assert_eq!((r.value, r.unit), (5, RateUnit::Minute));
        assert_eq!(
            ok("rate(1 day)"),
            Expression::Rate(Rate::new(1, RateUnit::Day).expect("rate"))
        );
        assert_eq!(
            ok("rate(2 hour)"),
            Expression::Rate(Rate::new(2, RateUnit::Hour).expect("rate"))
        );
        let Expression::At(t) = ok("at(2026-03-08T02:30:00)") else {
            panic!("not an at");
        };
        assert_eq!(t.to_string(), "2026-03-08 02:30:00");
        assert!(matches!(ok("  RATE(1 Minute)  "), Expression::Rate(_)));
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "cron(0 12 * * ? *)",
            "cron(0/15 8-17 ? jan-mar mon-fri 2026-2030)",
            "cron(0 0 L * ? *)",
            "cron(0 0 15W * ? *)",
            "cron(0 0 ? * 3#2 *)",
            "cron(0 0 ? * 6L *)",
            "0 2 * * 0,7",
            "cron(*/5 * * * *)",
            "rate(1 minute)",
            "rate(1 minutes)",
            "rate(10 days)",
            "at(2030-01-31T23:59:59)",
        ] {
            let e = ok(text);
            let shown = e.to_string();
            assert_eq!(ok(&shown), e, "{text} -> {shown}");
        }
        assert_eq!(ok("rate(1 minutes)").to_string(), "rate(1 minute)");
        assert_eq!(ok("rate(3 hour)").to_string(), "rate(3 hours)");
        assert_eq!(ok("0  2 * * mon").to_string(), "cron(0 2 * * MON)");
    }

    #[test]
    fn error_messages_say_what_and_where() {
        assert_eq!(
            err("cron(0 25 * * ? *)"),
            "cron(0 25 * * ? *): hours: 25 is out of range 0-23"
        );
        assert_eq!(
            err("cron(0 12 * * * *)"),
            "cron(0 12 * * * *): day-of-month and day-of-week cannot both be set; one of them \
             must be \"?\""
        );
        assert_eq!(
            err("cron(0 12 ? * ? *)"),
            "cron(0 12 ? * ? *): day-of-month and day-of-week cannot both be \"?\"; one of them \
             must be set"
        );
        assert!(
            err("cron(0 12 * *)").starts_with(
                "cron(0 12 * *) has 4 fields; AWS cron has 6 (minutes hours day-of-month month \
                 day-of-week year)"
            ),
            "{}",
            err("cron(0 12 * *)")
        );
        assert_eq!(
            err("rate(0 minutes)"),
            "rate(0 minutes): the value must be a positive integer"
        );
        assert_eq!(
            err("rate(-5 minutes)"),
            "rate(-5 minutes): the value must be a positive integer"
        );
        assert_eq!(
            err("foo"),
            "unknown expression \"foo\"; expected cron(...), rate(...) or at(...)"
        );
        assert!(err("rate(5 weeks)").contains("the unit must be minute(s), hour(s) or day(s)"));
        assert!(err("rate(5)").contains("expected rate(value unit)"));
        assert!(err("at(2026-13-01T00:00:00)").contains("is not a valid date and time"));
        assert!(err("at(2026-1-01T00:00:00)").contains("yyyy-mm-ddThh:mm:ss"));
        assert!(err("cron(0 12 * * ? *").contains("closing parenthesis"));
        assert!(err("0 2 * *").contains("has 4 fields; a bare unix cron has 5"));
        assert_eq!(
            err("cron(60 * * * ? *)"),
            "cron(60 * * * ? *): minutes: 60 is out of range 0-59"
        );
        assert_eq!(
            err("cron(0 0 32 * ? *)"),
            "cron(0 0 32 * ? *): day-of-month: 32 is out of range 1-31"
        );
        assert!(
            err("cron(0 0 1 FOO ? *)")
                .contains("month: \"FOO\" is not a number or a name (JAN-DEC)")
        );
        assert!(err("cron(0 0 ? * 8 *)").contains("day-of-week: 8 is out of range 1-7"));
        assert!(err("cron(0 0 ? * 0 *)").contains("day-of-week: 0 is out of range 1-7"));
        assert!(err("cron(0 0 1 * ? 1969)").contains("year: 1969 is out of range 1970-2199"));
        assert!(
            err("cron(0 0 1 * ? 2030-2026)").contains("year: the range \"2030-2026\" is reversed")
        );
        assert!(
            err("cron(*/0 * * * ? *)")
                .contains("minutes: the step in \"*/0\" must be a positive integer")
        );
        assert!(err("cron(0 ? * * ? *)").contains("hours: \"?\" is only allowed in day-of-month"));
        assert!(err("cron(0 0 ? * 3#6 *)").contains("the occurrence after # must be 1-5"));
        assert!(err("cron(0 0 ? * 3#1,6#3 *)").contains("only one expression"));
        assert!(err("cron(0 0 LW * ? *)").contains("day-of-month: \"LW\" is not supported"));
        assert!(err("cron(0 0 L-3 * ? *)").contains("\"L-3\" is not supported"));
        assert!(err("cron(L 0 1 * ? *)").contains("minutes: \"L\": L, W and # are only allowed"));
        assert!(
            err("0 0 L * *").contains(
                "day-of-month: \"L\": L, W and # are only supported in six-field AWS cron"
            )
        );
        assert!(err("cron(0 0 1,,2 * ? *)").contains("empty value"));
        assert!(
            err("cron(99999999999 0 1 * ? *)")
                .contains("minutes: 99999999999 is out of range 0-59")
        );
        assert!(err("rate(99999999999999999999 days)").contains("too large"));
        assert!(err("").contains("unknown expression"));
    }

    #[test]
    fn never_panics_on_garbage() {
        // A small deterministic generator (xorshift): no clock, no external crate.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet: Vec<char> = "0123456789 */,-?LW#()cronatedayminuhsJANFEBMONSUNx:T\té日"
            .chars()
            .collect();
        let seeds = [
            "cron(0 12 * * ? *)",
            "cron(0/15 8-17 ? JAN-MAR MON-FRI 2026-2030)",
            "cron(0 0 15W * ? *)",
            "cron(0 0 ? * 3#2 *)",
            "0 2 * * 1-5",
            "rate(5 minutes)",
            "at(2026-03-08T02:30:00)",
        ];
        let mut parsed = 0;
        for i in 0..600 {
            let text: String = if i % 2 == 0 {
                let len = (next() % 40) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            } else {
                // Mutate a valid expression: replace, insert or drop a few characters.
                let mut chars: Vec<char> = seeds[(next() % seeds.len() as u64) as usize]
                    .chars()
                    .collect();
                for _ in 0..(1 + next() % 3) {
                    let at = (next() % (chars.len() as u64 + 1)) as usize;
                    let c = alphabet[(next() % alphabet.len() as u64) as usize];
                    match next() % 3 {
                        0 if at < chars.len() => chars[at] = c,
                        1 if at < chars.len() => {
                            chars.remove(at);
                        }
                        _ => chars.insert(at, c),
                    }
                }
                chars.into_iter().collect()
            };
            if let Ok(e) = Expression::parse(&text) {
                parsed += 1;
                let again = Expression::parse(&e.to_string());
                assert_eq!(again.as_ref(), Ok(&e), "{text:?} -> {e}");
            }
        }
        assert!(parsed > 0);
    }
}
