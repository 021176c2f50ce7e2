//! Cron expressions: parsing of the fields and matching of wall-clock minutes.
//!
//! Two flavours are understood:
//!
//! * **AWS** (six fields: minutes, hours, day-of-month, month, day-of-week, year), as documented in
//!   <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html>:
//!   minutes 0-59, hours 0-23, day-of-month 1-31, month 1-12 or `JAN`-`DEC`, day-of-week 1-7 or
//!   `SUN`-`SAT` (1 = Sunday), year 1970-2199. `,` `-` `*` `/` work in every field; `?` only in
//!   day-of-month and day-of-week, and exactly one of those two must be `?` ("You can't use * in
//!   both the Day-of-month and Day-of-week fields. If you use it in one, you must use ? in the
//!   other"). `L` is the last day of the month (day-of-month) or of the week (day-of-week, that
//!   is Saturday); `nW` is the weekday nearest day `n` of the month, never leaving the month;
//!   `d#n` is the `n`-th weekday `d` of the month (`3#2` = the second Tuesday), and "If you use
//!   '#', you can only define one expression in the day-of-week field". Beyond the AWS page,
//!   `dL` in day-of-week (`5L` = the last Thursday of the month) is accepted with the meaning it
//!   has in Quartz, the cron dialect AWS's is modelled on. `L-n` and `LW`, which the AWS page
//!   does not document, are refused.
//! * **Unix** (five fields: minute, hour, day-of-month, month, day-of-week; Vixie cron):
//!   day-of-week 0-7 where both 0 and 7 are Sunday, names allowed. When both day fields are
//!   restricted a day matches if *either* matches; when one of them starts with `*` the two are
//!   combined with AND, so `*` in one of them leaves only the other to restrict (Vixie's exact
//!   rule, which also makes `*/2` in day-of-month AND with day-of-week). `?` is read as `*`.
//!   `L`, `W` and `#` are AWS-only. The search for fire times still ends in 2199.
//!
//! Names are case-insensitive. A range whose start is above its end wraps around
//! (`22-2` in hours = 22, 23, 0, 1, 2; `FRI-MON`), except in the year field. `a/n` means `a`,
//! `a+n`, ... up to the field's maximum (`1/10` in minutes = 1, 11, ..., 51).

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

/// The first year an AWS cron year field accepts, and where every search starts.
pub const MIN_YEAR: i32 = 1970;
/// The last year an AWS cron year field accepts, and where every search ends.
pub const MAX_YEAR: i32 = 2199;

/// Which cron dialect an expression was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronFlavor {
    /// Six fields, AWS style (`cron(0 12 * * ? *)`).
    Aws,
    /// Five fields, Vixie cron style (`0 12 * * *`).
    Unix,
}

/// A bit set of small integers (up to 256 values, enough for the 230 years 1970-2199).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
struct Bits([u64; 4]);

impl Bits {
    fn insert(&mut self, i: u32) {
        if let Some(word) = self.0.get_mut((i / 64) as usize) {
            *word |= 1u64 << (i % 64);
        }
    }

    fn contains(&self, i: u32) -> bool {
        self.0
            .get((i / 64) as usize)
            .is_some_and(|word| word & (1u64 << (i % 64)) != 0)
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    fn low(&self) -> u64 {
        self.0[0]
    }
}

/// Smallest member of `set` that is `>= from` (members are bit positions 0..64).
fn next_member(set: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = set >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

/// Largest member of `set` that is `<= upto`.
fn prev_member(set: u64, upto: u32) -> Option<u32> {
    let masked = if upto >= 63 {
        set
    } else {
        set & ((1u64 << (upto + 1)) - 1)
    };
    (masked != 0).then(|| 63 - masked.leading_zeros())
}

/// Number of days of `month` (1-12) in `year`.
pub(crate) fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            if leap { 29 } else { 28 }
        }
    }
}

/// Day of the week of a date, 0 = Sunday.
fn weekday(year: i32, month: u32, day: u32) -> Option<u32> {
    NaiveDate::from_ymd_opt(year, month, day).map(|d| d.weekday().num_days_from_sunday())
}

/// The day-of-month field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
struct DayOfMonth {
    /// Plain days, bit `d` for day `d` (1-31).
    days: u32,
    /// `L`: the last day of the month.
    last: bool,
    /// `nW`, bit `n`: the weekday nearest day `n`.
    nearest_weekday: u32,
}

impl DayOfMonth {
    fn matches(&self, year: i32, month: u32, day: u32) -> bool {
        if self.days & (1 << day) != 0 {
            return true;
        }
        let last = days_in_month(year, month);
        if self.last && day == last {
            return true;
        }
        if self.nearest_weekday != 0 {
            let mut n = 1;
            while n <= last {
                if self.nearest_weekday & (1 << n) != 0
                    && nearest_weekday(year, month, n) == Some(day)
                {
                    return true;
                }
                n += 1;
            }
        }
        false
    }
}

/// The weekday (Monday to Friday) nearest day `n` of the month, without leaving the month:
/// a Saturday moves to the Friday before (or to Monday the 3rd when `n` is 1), a Sunday to the
/// Monday after (or to the Friday before when that Monday is in the next month). A month without
/// day `n` (`30W` in February) has no such day.
fn nearest_weekday(year: i32, month: u32, n: u32) -> Option<u32> {
    let last = days_in_month(year, month);
    if n > last {
        return None;
    }
    match weekday(year, month, n)? {
        6 if n == 1 => Some(3),
        6 => Some(n - 1),
        0 if n == last => n.checked_sub(2),
        0 => Some(n + 1),
        _ => Some(n),
    }
}

/// The day-of-week field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
struct DayOfWeek {
    /// Plain weekdays, bit 0 = Sunday ... bit 6 = Saturday.
    days: u8,
    /// `dL`, bit `d`: the last such weekday of the month.
    last_of_month: u8,
    /// `d#n`: the `n`-th weekday `d` (0 = Sunday) of the month.
    nth: Option<(u8, u8)>,
}

impl DayOfWeek {
    fn matches(&self, year: i32, month: u32, day: u32) -> bool {
        let Some(wd) = weekday(year, month, day) else {
            return false;
        };
        if self.days & (1 << wd) != 0 {
            return true;
        }
        if self.last_of_month & (1 << wd) != 0 && day + 7 > days_in_month(year, month) {
            return true;
        }
        if let Some((d, n)) = self.nth
            && u32::from(d) == wd
            && (day - 1) / 7 + 1 == u32::from(n)
        {
            return true;
        }
        false
    }
}

/// A parsed cron expression (either flavour).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cron {
    flavor: CronFlavor,
    /// The fields as written, upper-cased: the canonical text.
    fields: Vec<String>,
    minutes: u64,
    hours: u64,
    /// Bit `m` for month `m` (1-12).
    months: u64,
    /// Bit `y - MIN_YEAR` for year `y`.
    years: Bits,
    /// `None` for `?`.
    day_of_month: Option<DayOfMonth>,
    /// `None` for `?`.
    day_of_week: Option<DayOfWeek>,
    /// Both day fields restricted: a day matches if either matches (Unix only).
    days_or: bool,
}

/// A field-level parse error: the field's name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// A cron parse error: either one field is wrong, or the combination is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CronError {
    /// Neither five nor six fields.
    Count(usize),
    Field(FieldError),
    Whole(String),
}

impl From<FieldError> for CronError {
    fn from(e: FieldError) -> Self {
        CronError::Field(e)
    }
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// How one field reads its values.
struct Spec {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names and the value of the first one.
    names: Option<(&'static [&'static str], u32, &'static str)>,
    /// Whether a reversed range wraps around.
    wrap: bool,
}

impl Spec {
    fn err(&self, message: String) -> FieldError {
        FieldError {
            field: self.name,
            message,
        }
    }

    fn value(&self, token: &str) -> Result<u32, FieldError> {
        if token.is_empty() {
            return Err(self.err("a value is missing".to_string()));
        }
        let value = if token.bytes().all(|b| b.is_ascii_digit()) {
            token.parse::<u32>().unwrap_or(u32::MAX)
        } else if let Some((names, first, _)) = self.names
            && let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(token))
        {
            first + i as u32
        } else {
            let what = match self.names {
                Some((_, _, range)) => format!("is not a number or a name ({range})"),
                None => "is not a number".to_string(),
            };
            return Err(self.err(format!("{token:?} {what}")));
        };
        if value < self.min || value > self.max {
            let shown = if value == u32::MAX {
                token.to_string()
            } else {
                value.to_string()
            };
            return Err(self.err(format!("{shown} is out of range {}-{}", self.min, self.max)));
        }
        Ok(value)
    }

    /// Parses a comma-separated list of `*`, `a`, `a-b`, with an optional `/step`, into bits
    /// indexed by `value - min`. `special` gets each item first and may claim it.
    fn parse_list(
        &self,
        text: &str,
        mut special: impl FnMut(&str) -> Result<bool, FieldError>,
    ) -> Result<Bits, FieldError> {
        let mut bits = Bits::default();
        for item in text.split(',') {
            if item.is_empty() {
                return Err(self.err(format!("{text:?} has an empty value in its list")));
            }
            if special(item)? {
                continue;
            }
            self.parse_item(item, &mut bits)?;
        }
        Ok(bits)
    }

    fn parse_item(&self, item: &str, bits: &mut Bits) -> Result<(), FieldError> {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step = if !step.is_empty() && step.bytes().all(|b| b.is_ascii_digit()) {
                    step.parse::<u32>().unwrap_or(u32::MAX)
                } else {
                    0
                };
                if step == 0 {
                    return Err(
                        self.err(format!("the step in {item:?} must be a positive integer"))
                    );
                }
                (range, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = if range == "*" {
            (self.min, self.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (self.value(a)?, self.value(b)?)
        } else {
            let a = self.value(range)?;
            // `a/n` runs to the field's maximum; a lone `a` is just `a`.
            (a, if step.is_some() { self.max } else { a })
        };
        if start > end && !self.wrap {
            return Err(self.err(format!(
                "the range {item:?} is reversed; write the smaller value first"
            )));
        }
        let span = if start <= end {
            end - start
        } else {
            (self.max - start) + 1 + (end - self.min)
        };
        let size = self.max - self.min + 1;
        let step = step.unwrap_or(1);
        let mut k = 0u32;
        while k <= span {
            let mut v = start + k;
            if v > self.max {
                v -= size;
            }
            bits.insert(v - self.min);
            k = match k.checked_add(step) {
                Some(next) => next,
                None => break,
            };
        }
        Ok(())
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl Cron {
    /// Parses the fields of a cron expression (what stands between `cron(` and `)`, or a bare
    /// five-field unix cron): six fields are AWS cron, five are unix cron.
    pub(crate) fn parse_fields(fields: &[&str]) -> Result<Cron, CronError> {
        match fields.len() {
            6 => Self::parse_aws(fields),
            5 => Self::parse_unix(fields),
            n => Err(CronError::Count(n)),
        }
    }

    fn parse_aws(f: &[&str]) -> Result<Cron, CronError> {
        let [minute, hour, dom, month, dow, year] = f else {
            return Err(CronError::Count(f.len()));
        };
        for (name, text) in [
            ("minutes", minute),
            ("hours", hour),
            ("month", month),
            ("year", year),
        ] {
            if text.contains('?') {
                return Err(FieldError {
                    field: name,
                    message: "\"?\" is only allowed in day-of-month and day-of-week".to_string(),
                }
                .into());
            }
        }
        const DAYS_ONLY: &str = "L, W and # are only allowed in day-of-month and day-of-week";
        let minutes = plain(&spec("minutes", 0, 59), minute, DAYS_ONLY)?;
        let hours = plain(&spec("hours", 0, 23), hour, DAYS_ONLY)?;
        let months = plain(&month_spec(), month, DAYS_ONLY)?;
        let year_spec = year_spec();
        let years =
            year_spec.parse_list(year, |item| special_refused(&year_spec, item, DAYS_ONLY))?;
        if years.is_empty() {
            return Err(year_spec.err(format!("{year:?} matches no value")).into());
        }
        let day_of_month = match *dom {
            "?" => None,
            text => Some(parse_aws_dom(text)?),
        };
        let day_of_week = match *dow {
            "?" => None,
            text => Some(parse_aws_dow(text)?),
        };
        match (&day_of_month, &day_of_week) {
            (Some(_), Some(_)) => {
                return Err(CronError::Whole(
                    "day-of-month and day-of-week cannot both be set; one of them must be \"?\""
                        .to_string(),
                ));
            }
            (None, None) => {
                return Err(CronError::Whole(
                    "day-of-month and day-of-week cannot both be \"?\"; one of them must be set"
                        .to_string(),
                ));
            }
            _ => {}
        }
        Ok(Cron {
            flavor: CronFlavor::Aws,
            fields: canonical(f),
            minutes,
            hours,
            months: months << 1,
            years,
            day_of_month,
            day_of_week,
            days_or: false,
        })
    }

    fn parse_unix(f: &[&str]) -> Result<Cron, CronError> {
        let [minute, hour, dom, month, dow] = f else {
            return Err(CronError::Count(f.len()));
        };
        for (name, text) in [("minute", minute), ("hour", hour), ("month", month)] {
            if text.contains('?') {
                return Err(FieldError {
                    field: name,
                    message: "\"?\" is only allowed in day-of-month and day-of-week".to_string(),
                }
                .into());
            }
        }
        const UNIX: &str = "L, W and # are only supported in six-field AWS cron";
        let minutes = plain(&spec("minute", 0, 59), minute, UNIX)?;
        let hours = plain(&spec("hour", 0, 23), hour, UNIX)?;
        let months = plain(&month_spec(), month, UNIX)?;
        let dom_text = if *dom == "?" { "*" } else { dom };
        let dow_text = if *dow == "?" { "*" } else { dow };
        let days = plain(&spec("day-of-month", 1, 31), dom_text, UNIX)? << 1;
        let dow_spec = Spec {
            name: "day-of-week",
            min: 0,
            max: 7,
            names: Some((&DAY_NAMES, 0, "SUN-SAT")),
            wrap: true,
        };
        let raw = plain(&dow_spec, dow_text, UNIX)?;
        // 7 is Sunday too.
        let weekdays = ((raw | (raw >> 7)) & 0x7f) as u8;
        let mut years = Bits::default();
        for y in 0..=(MAX_YEAR - MIN_YEAR) as u32 {
            years.insert(y);
        }
        let star = |t: &str| t.starts_with('*');
        Ok(Cron {
            flavor: CronFlavor::Unix,
            fields: canonical(f),
            minutes,
            hours,
            months: months << 1,
            years,
            day_of_month: Some(DayOfMonth {
                days: days as u32,
                ..DayOfMonth::default()
            }),
            day_of_week: Some(DayOfWeek {
                days: weekdays,
                ..DayOfWeek::default()
            }),
            days_or: !star(dom_text) && !star(dow_text),
        })
    }

    /// The dialect the expression was written in.
    pub fn flavor(&self) -> CronFlavor {
        self.flavor
    }

    /// The fields in canonical form (as written, upper-cased).
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Whether the calendar day matches the day-of-month, day-of-week, month and year fields.
    pub fn day_matches(&self, date: NaiveDate) -> bool {
        self.date_matches(date.year(), date.month(), date.day())
    }

    /// Whether the wall-clock minute containing `t` matches (seconds are ignored).
    pub fn matches(&self, t: NaiveDateTime) -> bool {
        self.day_matches(t.date())
            && self.hours & (1 << t.hour()) != 0
            && self.minutes & (1 << t.minute()) != 0
    }

    /// How many matching minutes a matching day has.
    pub(crate) fn minutes_per_day(&self) -> u64 {
        u64::from(self.hours.count_ones()) * u64::from(self.minutes.count_ones())
    }

    /// The matching (hour, minute) pairs of a day, in order.
    pub(crate) fn times_of_day(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..24u32)
            .filter(|h| self.hours & (1 << h) != 0)
            .flat_map(|h| {
                (0..60u32)
                    .filter(|m| self.minutes & (1 << m) != 0)
                    .map(move |m| (h, m))
            })
    }

    fn year_ok(&self, year: i32) -> bool {
        (MIN_YEAR..=MAX_YEAR).contains(&year) && self.years.contains((year - MIN_YEAR) as u32)
    }

    fn date_matches(&self, year: i32, month: u32, day: u32) -> bool {
        if !self.year_ok(year) || self.months & (1 << month) == 0 {
            return false;
        }
        let dom = self.day_of_month.map(|f| f.matches(year, month, day));
        let dow = self.day_of_week.map(|f| f.matches(year, month, day));
        match (dom, dow) {
            (Some(a), Some(b)) => {
                if self.days_or {
                    a || b
                } else {
                    a && b
                }
            }
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => true,
        }
    }

    /// The first matching whole minute at or after `from` (wall-clock time, no zone), or `None`
    /// when there is none up to the end of 2199. The search skips whole years, months and days
    /// that cannot match, so an expression that never matches (`cron(0 0 30 2 ? *)`) costs at
    /// most a few thousand cheap checks.
    pub fn next_match(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        // Round up to a whole minute.
        let mut from = from.with_nanosecond(0)?;
        if from.second() != 0 {
            from = from
                .with_second(0)?
                .checked_add_signed(chrono::Duration::minutes(1))?;
        }
        let (mut y, mut mo, mut d, mut h, mut mi) = (
            from.year(),
            from.month(),
            from.day(),
            from.hour(),
            from.minute(),
        );
        if y < MIN_YEAR {
            (y, mo, d, h, mi) = (MIN_YEAR, 1, 1, 0, 0);
        }
        while y <= MAX_YEAR {
            if !self.year_ok(y) {
                (y, mo, d, h, mi) = (y + 1, 1, 1, 0, 0);
                continue;
            }
            match next_member(self.months, mo) {
                None => {
                    (y, mo, d, h, mi) = (y + 1, 1, 1, 0, 0);
                    continue;
                }
                Some(m) if m != mo => (mo, d, h, mi) = (m, 1, 0, 0),
                Some(_) => {}
            }
            let last = days_in_month(y, mo);
            match (d..=last).find(|&day| self.date_matches(y, mo, day)) {
                None => {
                    (mo, d, h, mi) = (mo + 1, 1, 0, 0);
                    if mo > 12 {
                        (y, mo) = (y + 1, 1);
                    }
                    continue;
                }
                Some(day) if day != d => (d, h, mi) = (day, 0, 0),
                Some(_) => {}
            }
            match next_member(self.hours, h) {
                None => {
                    (d, h, mi) = (d + 1, 0, 0);
                    continue;
                }
                Some(hh) if hh != h => (h, mi) = (hh, 0),
                Some(_) => {}
            }
            match next_member(self.minutes, mi) {
                None => {
                    (h, mi) = (h + 1, 0);
                    if h > 23 {
                        (d, h) = (d + 1, 0);
                    }
                    continue;
                }
                Some(m) => {
                    return NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_opt(h, m, 0);
                }
            }
        }
        None
    }

    /// The last matching whole minute at or before `upto` (wall-clock time), or `None` when there
    /// is none back to 1970. The mirror image of [`Cron::next_match`].
    pub fn prev_match(&self, upto: NaiveDateTime) -> Option<NaiveDateTime> {
        let (mut y, mut mo, mut d, mut h, mut mi) = (
            upto.year(),
            upto.month(),
            upto.day(),
            upto.hour(),
            upto.minute(),
        );
        if y > MAX_YEAR {
            (y, mo, d, h, mi) = (MAX_YEAR, 12, 31, 23, 59);
        }
        while y >= MIN_YEAR {
            if !self.year_ok(y) {
                (y, mo, d, h, mi) = (y - 1, 12, 31, 23, 59);
                continue;
            }
            match prev_member(self.months, mo) {
                Some(m) if m >= 1 => {
                    if m != mo {
                        (mo, d, h, mi) = (m, 31, 23, 59);
                    }
                }
                _ => {
                    (y, mo, d, h, mi) = (y - 1, 12, 31, 23, 59);
                    continue;
                }
            }
            let last = days_in_month(y, mo);
            if d > last {
                (d, h, mi) = (last, 23, 59);
            }
            match (1..=d).rev().find(|&day| self.date_matches(y, mo, day)) {
                None => {
                    (d, h, mi) = (31, 23, 59);
                    if mo == 1 {
                        (y, mo) = (y - 1, 12);
                    } else {
                        mo -= 1;
                    }
                    continue;
                }
                Some(day) if day != d => (d, h, mi) = (day, 23, 59),
                Some(_) => {}
            }
            match prev_member(self.hours, h) {
                None => {
                    (d, h, mi) = (d - 1, 23, 59);
                    continue;
                }
                Some(hh) if hh != h => (h, mi) = (hh, 59),
                Some(_) => {}
            }
            match prev_member(self.minutes, mi) {
                None => {
                    if h == 0 {
                        (d, h) = (d - 1, 23);
                    } else {
                        h -= 1;
                    }
                    mi = 59;
                    continue;
                }
                Some(m) => {
                    return NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_opt(h, m, 0);
                }
            }
        }
        None
    }
}

impl std::fmt::Display for Cron {
    /// `cron(fields)`, which parses back to the same expression.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cron({})", self.fields.join(" "))
    }
}

fn canonical(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| f.to_ascii_uppercase()).collect()
}

fn spec(name: &'static str, min: u32, max: u32) -> Spec {
    Spec {
        name,
        min,
        max,
        names: None,
        wrap: true,
    }
}

fn month_spec() -> Spec {
    Spec {
        name: "month",
        min: 1,
        max: 12,
        names: Some((&MONTH_NAMES, 1, "JAN-DEC")),
        wrap: true,
    }
}

fn year_spec() -> Spec {
    Spec {
        name: "year",
        min: MIN_YEAR as u32,
        max: MAX_YEAR as u32,
        names: None,
        wrap: false,
    }
}

/// Whether an item uses `L`, `W` or `#` (and is not simply a name such as `JUL` or `WED`).
fn looks_special(item: &str) -> bool {
    item.contains('#')
        || (item.contains(['L', 'l', 'W', 'w'])
            && !item
                .chars()
                .any(|c| c.is_ascii_alphabetic() && !matches!(c, 'L' | 'l' | 'W' | 'w')))
}

/// Refuses an item that uses `L`, `W` or `#` with `message`.
fn special_refused(spec: &Spec, item: &str, message: &str) -> Result<bool, FieldError> {
    if looks_special(item) {
        return Err(spec.err(format!("{item:?}: {message}")));
    }
    Ok(false)
}

/// A field without special characters, as bits indexed by `value - min`.
fn plain(spec: &Spec, text: &str, special_message: &str) -> Result<u64, FieldError> {
    let bits = spec.parse_list(text, |item| special_refused(spec, item, special_message))?;
    if bits.is_empty() {
        return Err(spec.err(format!("{text:?} matches no value")));
    }
    Ok(bits.low())
}

fn is_day_name(s: &str) -> bool {
    DAY_NAMES.iter().any(|n| n.eq_ignore_ascii_case(s))
}

fn parse_aws_dom(text: &str) -> Result<DayOfMonth, FieldError> {
    let s = spec("day-of-month", 1, 31);
    let mut out = DayOfMonth::default();
    let bits = s.parse_list(text, |item| {
        let upper = item.to_ascii_uppercase();
        if upper == "L" {
            out.last = true;
            return Ok(true);
        }
        if let Some(n) = upper.strip_suffix('W')
            && is_number(n)
        {
            let n = s.value(n)?;
            out.nearest_weekday |= 1 << n;
            return Ok(true);
        }
        if item.contains('#') {
            return Err(s.err(format!("{item:?}: # is only allowed in day-of-week")));
        }
        if looks_special(item) {
            return Err(s.err(format!(
                "{item:?} is not supported; day-of-month takes L (the last day of the month) \
                 and nW (the weekday nearest day n, e.g. 15W)"
            )));
        }
        Ok(false)
    })?;
    out.days = (bits.low() << 1) as u32;
    Ok(out)
}

fn parse_aws_dow(text: &str) -> Result<DayOfWeek, FieldError> {
    let s = Spec {
        name: "day-of-week",
        min: 1,
        max: 7,
        names: Some((&DAY_NAMES, 1, "SUN-SAT")),
        wrap: true,
    };
    if text.contains('#') && text.contains(',') {
        return Err(s.err(format!(
            "{text:?}: with # the field can hold only one expression (\"3#1,6#3\" is not valid)"
        )));
    }
    let mut out = DayOfWeek::default();
    let bits = s.parse_list(text, |item| {
        let upper = item.to_ascii_uppercase();
        if upper == "L" {
            // The last day of the week: Saturday.
            out.days |= 1 << 6;
            return Ok(true);
        }
        if let Some((d, n)) = upper.split_once('#') {
            let d = s.value(d)?;
            let n = if is_number(n) {
                n.parse::<u32>().unwrap_or(u32::MAX)
            } else {
                0
            };
            if !(1..=5).contains(&n) {
                return Err(s.err(format!("{item:?}: the occurrence after # must be 1-5")));
            }
            out.nth = Some(((d - 1) as u8, n as u8));
            return Ok(true);
        }
        if let Some(d) = upper.strip_suffix('L')
            && (is_number(d) || is_day_name(d))
        {
            let d = s.value(d)?;
            out.last_of_month |= 1 << (d - 1);
            return Ok(true);
        }
        if looks_special(item) {
            return Err(s.err(format!(
                "{item:?} is not supported; day-of-week takes L (Saturday, the last day of the \
                 week), dL (the last weekday d of the month, e.g. 6L) and d#n (e.g. 3#2)"
            )));
        }
        Ok(false)
    })?;
    // Bits are indexed by value - 1, and value 1 is Sunday: bit 0 = Sunday already.
    out.days |= (bits.low() & 0x7f) as u8;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(text: &str) -> Cron {
        let fields: Vec<&str> = text.split_whitespace().collect();
        Cron::parse_fields(&fields).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// The next `n` matches after `from` (each strictly after the previous one).
    fn next_n(c: &Cron, from: &str, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut t = at(from);
        for _ in 0..n {
            let Some(m) = c.next_match(t) else { break };
            out.push(m.format("%Y-%m-%d %H:%M").to_string());
            t = m + chrono::Duration::minutes(1);
        }
        out
    }

    fn next(c: &str, from: &str) -> Option<String> {
        cron(c)
            .next_match(at(from))
            .map(|m| m.format("%Y-%m-%d %H:%M").to_string())
    }

    #[test]
    fn lists_ranges_and_steps() {
        assert_eq!(
            next_n(&cron("5,10,55 1,13 * * ? *"), "2026-01-01 00:00", 4),
            [
                "2026-01-01 01:05",
                "2026-01-01 01:10",
                "2026-01-01 01:55",
                "2026-01-01 13:05"
            ]
        );
        assert_eq!(
            next_n(&cron("1/10 * * * ? *"), "2026-01-01 00:00", 7),
            [
                "2026-01-01 00:01",
                "2026-01-01 00:11",
                "2026-01-01 00:21",
                "2026-01-01 00:31",
                "2026-01-01 00:41",
                "2026-01-01 00:51",
                "2026-01-01 01:01"
            ]
        );
        assert_eq!(
            next_n(&cron("10-50/20 9 * * ? *"), "2026-01-01 00:00", 4),
            [
                "2026-01-01 09:10",
                "2026-01-01 09:30",
                "2026-01-01 09:50",
                "2026-01-02 09:10"
            ]
        );
        assert_eq!(
            next_n(&cron("*/25 0 1 * ? *"), "2026-01-01 00:00", 4),
            [
                "2026-01-01 00:00",
                "2026-01-01 00:25",
                "2026-01-01 00:50",
                "2026-02-01 00:00"
            ]
        );
        // A reversed range wraps around.
        assert_eq!(
            next_n(&cron("0 22-1 * * ? *"), "2026-01-01 12:00", 5),
            [
                "2026-01-01 22:00",
                "2026-01-01 23:00",
                "2026-01-02 00:00",
                "2026-01-02 01:00",
                "2026-01-02 22:00"
            ]
        );
        // Seconds round up to the next whole minute.
        let c = cron("* * * * ? *");
        let t = at("2026-01-01 10:00") + chrono::Duration::seconds(1);
        assert_eq!(c.next_match(t), Some(at("2026-01-01 10:01")));
        assert_eq!(c.prev_match(t), Some(at("2026-01-01 10:00")));
    }

    #[test]
    fn names_are_case_insensitive() {
        // 2026-01-02 is a Friday, 2026-01-05 a Monday.
        assert_eq!(
            next_n(&cron("0/15 8-17 ? * mon-FRI *"), "2026-01-02 17:50", 2),
            ["2026-01-05 08:00", "2026-01-05 08:15"]
        );
        assert_eq!(
            next_n(&cron("0 0 1 jan,Jul ? *"), "2026-01-02 00:00", 2),
            ["2026-07-01 00:00", "2027-01-01 00:00"]
        );
        assert_eq!(cron("0 0 ? * SUN *"), cron("0 0 ? * sun *"));
        // 1 = Sunday in AWS cron: 2026-01-04 is a Sunday.
        assert_eq!(
            next("0 0 ? * 1 *", "2026-01-01 00:00").as_deref(),
            Some("2026-01-04 00:00")
        );
    }

    #[test]
    fn last_day_of_month_and_week() {
        assert_eq!(
            next_n(&cron("0 0 L * ? *"), "2026-01-31 00:01", 2),
            ["2026-02-28 00:00", "2026-03-31 00:00"]
        );
        assert_eq!(
            next("0 0 L 2 ? *", "2028-01-01 00:00").as_deref(),
            Some("2028-02-29 00:00")
        );
        // L in day-of-week: Saturday. 2026-01-03 is a Saturday.
        assert_eq!(
            next("0 0 ? * L *", "2026-01-01 00:00").as_deref(),
            Some("2026-01-03 00:00")
        );
        // 5L: the last Thursday of the month.
        assert_eq!(
            next_n(&cron("0 0 ? * 5L *"), "2026-01-01 00:00", 2),
            ["2026-01-29 00:00", "2026-02-26 00:00"]
        );
        assert_eq!(
            next("0 0 ? * THUL *", "2026-01-01 00:00").as_deref(),
            Some("2026-01-29 00:00")
        );
    }

    #[test]
    fn nearest_weekday() {
        // 2026-02-15 is a Sunday: the Monday after.
        assert_eq!(
            next("0 0 15W 2 ? 2026", "2026-01-01 00:00").as_deref(),
            Some("2026-02-16 00:00")
        );
        // 2026-08-15 is a Saturday: the Friday before.
        assert_eq!(
            next("0 0 15W 8 ? 2026", "2026-01-01 00:00").as_deref(),
            Some("2026-08-14 00:00")
        );
        // 2026-08-01 is a Saturday: not back into July, but Monday the 3rd.
        assert_eq!(
            next("0 0 1W 8 ? 2026", "2026-01-01 00:00").as_deref(),
            Some("2026-08-03 00:00")
        );
        // 2026-05-31 is a Sunday and the last day: not into June, but Friday the 29th.
        assert_eq!(
            next("0 0 31W 5 ? 2026", "2026-01-01 00:00").as_deref(),
            Some("2026-05-29 00:00")
        );
        // A weekday stays.
        assert_eq!(
            next("0 0 15W 1 ? 2026", "2026-01-01 00:00").as_deref(),
            Some("2026-01-15 00:00")
        );
        // A month without the day has none.
        assert_eq!(next("0 0 30W 2 ? *", "2026-01-01 00:00"), None);
    }

    #[test]
    fn nth_weekday() {
        // The second Tuesday: 2026-01-13, 2026-02-10.
        assert_eq!(
            next_n(&cron("0 0 ? * 3#2 *"), "2026-01-01 00:00", 2),
            ["2026-01-13 00:00", "2026-02-10 00:00"]
        );
        assert_eq!(
            next("0 0 ? * TUE#2 *", "2026-01-01 00:00").as_deref(),
            Some("2026-01-13 00:00")
        );
        // A fifth Friday only in some months: January 2026 has one (the 30th).
        assert_eq!(
            next_n(&cron("0 0 ? * 6#5 *"), "2026-01-01 00:00", 2),
            ["2026-01-30 00:00", "2026-05-29 00:00"]
        );
    }

    #[test]
    fn question_mark_and_year() {
        assert_eq!(
            next("0 0 1 1 ? 2030", "2026-06-01 00:00").as_deref(),
            Some("2030-01-01 00:00")
        );
        assert_eq!(next("0 0 1 1 ? 2030", "2030-01-01 00:01"), None);
        assert_eq!(
            next_n(&cron("0 0 1 1 ? 2027/2"), "2026-06-01 00:00", 3),
            ["2027-01-01 00:00", "2029-01-01 00:00", "2031-01-01 00:00"]
        );
        assert_eq!(
            next("0 12 ? * * *", "2026-01-01 13:00").as_deref(),
            Some("2026-01-02 12:00")
        );
        assert_eq!(
            next("0 12 * * ? *", "2026-01-01 13:00").as_deref(),
            Some("2026-01-02 12:00")
        );
    }

    #[test]
    fn never_matching_ends_quickly() {
        assert_eq!(next("0 0 30 2 ? *", "2026-01-01 00:00"), None);
        assert_eq!(next("0 0 31 4,6,9,11 ? *", "2026-01-01 00:00"), None);
        assert_eq!(next("0 0 1 1 ? 1970-1975", "2026-01-01 00:00"), None);
        assert_eq!(next("* * * * ? *", "2200-01-01 00:00"), None);
        assert_eq!(
            cron("0 0 30 2 ? *").prev_match(at("2199-12-31 23:59")),
            None
        );
        assert_eq!(
            cron("0 0 1 1 ? 1970-1975").prev_match(at("2026-01-01 00:00")),
            Some(at("1975-01-01 00:00"))
        );
        // Before 1970 the search starts in 1970.
        assert_eq!(
            next("0 0 1 1 ? *", "1900-05-05 00:00").as_deref(),
            Some("1970-01-01 00:00")
        );
        assert_eq!(cron("0 0 1 1 ? *").prev_match(at("1969-05-05 00:00")), None);
    }

    #[test]
    fn unix_five_fields() {
        assert_eq!(
            next_n(&cron("0 2 * * *"), "2026-01-01 03:00", 2),
            ["2026-01-02 02:00", "2026-01-03 02:00"]
        );
        // 0 and 7 are both Sunday (2026-01-04).
        assert_eq!(
            cron("0 0 * * 0").next_match(at("2026-01-01 00:00")),
            Some(at("2026-01-04 00:00"))
        );
        assert_eq!(
            cron("0 0 * * 7").next_match(at("2026-01-01 00:00")),
            Some(at("2026-01-04 00:00"))
        );
        assert_eq!(
            next_n(&cron("0 0 * * 5-7"), "2026-01-01 00:00", 4),
            [
                "2026-01-02 00:00",
                "2026-01-03 00:00",
                "2026-01-04 00:00",
                "2026-01-09 00:00"
            ]
        );
        // Both day fields restricted: either matches. The 1st, the 15th, or a Monday.
        assert_eq!(
            next_n(&cron("0 0 1,15 * mon"), "2026-01-01 00:00", 5),
            [
                "2026-01-01 00:00",
                "2026-01-05 00:00",
                "2026-01-12 00:00",
                "2026-01-15 00:00",
                "2026-01-19 00:00"
            ]
        );
        // `*` in one day field: only the other restricts.
        assert_eq!(
            next_n(&cron("0 0 * * 1"), "2026-01-01 00:00", 2),
            ["2026-01-05 00:00", "2026-01-12 00:00"]
        );
        assert_eq!(
            next_n(&cron("0 0 10 * *"), "2026-01-01 00:00", 2),
            ["2026-01-10 00:00", "2026-02-10 00:00"]
        );
        // Vixie: a day field starting with `*` is ANDed, even with a step. Odd days that are
        // Mondays: 2026-01-05 (5th) and 2026-01-19.
        assert_eq!(
            next_n(&cron("0 0 */2 * 1"), "2026-01-01 00:00", 2),
            ["2026-01-05 00:00", "2026-01-19 00:00"]
        );
        assert_eq!(cron("0 0 * * 1").flavor(), CronFlavor::Unix);
        assert_eq!(cron("0 0 * * ? *").flavor(), CronFlavor::Aws);
    }

    /// `next_match` and `prev_match` against a plain minute-by-minute scan.
    #[test]
    fn search_agrees_with_a_scan() {
        let crons = [
            "*/7 */5 * * ? *",
            "0 0 L * ? *",
            "30 2 15W * ? *",
            "0 12 ? * 6L *",
            "0 9 ? * 2#1 *",
            "0-10/3 22-2 1-7 * ? *",
            "59 23 31 * ? *",
            "0 0 1,15 * 1",
            "15 3 * jan-mar,dec ? 2026-2027",
        ];
        let start = at("2025-12-20 00:00");
        for text in crons {
            let c = cron(text);
            let mut t = start;
            let mut expected_prev: Option<NaiveDateTime> = None;
            // Every minute of ~80 days: compare the search with the scan.
            let mut matches = Vec::new();
            for i in 0..(80 * 24 * 60) {
                let m = start + chrono::Duration::minutes(i);
                if c.matches(m) {
                    matches.push(m);
                }
            }
            let mut idx = 0;
            for step in 0..(80 * 24 * 6) {
                t = start + chrono::Duration::minutes(step * 10 + (step % 7));
                while idx < matches.len() && matches[idx] < t {
                    expected_prev = Some(matches[idx]);
                    idx += 1;
                }
                if let Some(&m) = matches.get(idx) {
                    assert_eq!(c.next_match(t), Some(m), "{text} next from {t}");
                }
                let prev = if matches.get(idx) == Some(&t) {
                    Some(t)
                } else {
                    expected_prev
                };
                if let Some(p) = prev {
                    assert_eq!(c.prev_match(t), Some(p), "{text} prev from {t}");
                }
            }
            assert!(t > start);
        }
    }
}
