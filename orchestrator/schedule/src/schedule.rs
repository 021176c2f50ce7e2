//! A schedule (expression, time zone, start and end dates) and its fire times.
//!
//! The rules follow EventBridge Scheduler
//! (<https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html>, and the AWS
//! knowledge-center article
//! <https://repost.aws/knowledge-center/eventbridge-scheduler-adjust-dst>):
//!
//! * **cron**: wall-clock minutes in the schedule's zone. Daylight saving time: "When the time
//!   shifts forward in Spring, your schedule invocation gets skipped if the cron expression falls
//!   on a non-existent date and time. When the time shifts back in the Fall, your schedule runs
//!   only once and doesn't repeat its invocation." A wall time that does not exist has no run; a
//!   wall time that occurs twice runs once, at its first occurrence.
//! * **rate**: "For rate-based schedules, you can use the StartDate property to set the first
//!   occurrence of the schedule. If you do not provide a StartDate for a rate-based schedule, your
//!   schedule starts invoking the target immediately." So the fire times are
//!   `origin + k * every` for k = 0, 1, 2, ..., where the origin is `start` when given, else
//!   `anchor` (the creation time): the first fire is at the origin itself, not one period later.
//!   Rates are absolute durations: "days represents a 24-hour duration on the clock", and
//!   daylight saving time does not move them.
//! * **at**: once, at that wall-clock time in the zone. A wall time in a daylight-saving gap fires
//!   at the first instant after the gap (the transition itself, e.g. 03:00 local for an
//!   `at(...T02:30:00)` on the day clocks jump from 02:00 to 03:00); a wall time that occurs
//!   twice fires at its first occurrence. "EventBridge Scheduler ignores StartDate [and EndDate]
//!   for one-time schedules", and so does [`Schedule`].
//! * **start / end** (recurring schedules): both inclusive. The API reference says invocations
//!   "might occur on, or after, the StartDate" and "might stop on, or before, the EndDate", so a
//!   fire time equal to `start` or to `end` counts.
//!
//! Every search ends at the close of 2199 (the last year AWS cron accepts) and starts in 1970.

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;

use crate::cron::Cron;
use crate::expression::{Expression, Rate};

/// A schedule: when to fire, in which zone, between which dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub expression: Expression,
    /// The zone cron and at() wall-clock times are read in.
    pub zone: Tz,
    /// No fire before this instant (inclusive). For rate it is also the first fire time.
    pub start: Option<DateTime<Utc>>,
    /// No fire after this instant (inclusive).
    pub end: Option<DateTime<Utc>>,
    /// When the schedule was created: the origin of a rate without `start`.
    pub anchor: DateTime<Utc>,
}

/// What to do with the fire times missed while the scheduler was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatchUp {
    /// Fire the missed ticks, at most the latest `limit` of them.
    All { limit: u32 },
    /// Fire only the latest missed tick.
    Latest,
}

/// What a scheduler waking up should do; see [`due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The ticks to start, oldest first.
    pub fire: Vec<DateTime<Utc>>,
    /// How many missed ticks are not in `fire` (left out by the limit or by [`CatchUp::Latest`]).
    pub skipped: u64,
    /// The next fire time, strictly after `now`; `None` when the schedule is finished.
    pub next: Option<DateTime<Utc>>,
}

/// 1969-12-30T00:00:00Z: before it no zone's wall clock shows 1970 yet.
fn min_instant() -> DateTime<Utc> {
    DateTime::from_timestamp(-172_800, 0).unwrap_or_default()
}

/// 2200-01-02T00:00:00Z: after it every zone's wall clock shows 2200.
fn max_instant() -> DateTime<Utc> {
    DateTime::from_timestamp(7_258_204_800, 0).unwrap_or_default()
}

const NANOS: i128 = 1_000_000_000;

fn duration_nanos(d: Duration) -> i128 {
    i128::from(d.num_seconds()) * NANOS + i128::from(d.subsec_nanos())
}

/// `b - a` in nanoseconds.
fn nanos_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i128 {
    (i128::from(b.timestamp()) - i128::from(a.timestamp())) * NANOS
        + (i128::from(b.timestamp_subsec_nanos()) - i128::from(a.timestamp_subsec_nanos()))
}

fn add_nanos(a: DateTime<Utc>, n: i128) -> Option<DateTime<Utc>> {
    let seconds = i64::try_from(n.div_euclid(NANOS)).ok()?;
    let nanos = i64::try_from(n.rem_euclid(NANOS)).ok()?;
    a.checked_add_signed(Duration::try_seconds(seconds)?)?
        .checked_add_signed(Duration::nanoseconds(nanos))
}

/// The instant a cron wall-clock time fires at: `None` in a gap, the first occurrence in a fold.
fn cron_instant(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// The instant an at() wall-clock time fires at: in a gap, the first instant after it (the
/// first whole local minute that exists, as transitions fall on whole minutes); in a fold, the
/// first occurrence.
fn at_instant(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    if let Some(t) = cron_instant(zone, local) {
        return t;
    }
    let Some(mut minute) = local.with_second(0).and_then(|l| l.with_nanosecond(0)) else {
        return Utc.from_utc_datetime(&local);
    };
    // Gaps last at most a day (Samoa skipped 2011-12-30); look two days ahead.
    for _ in 0..2 * 24 * 60 {
        minute += Duration::minutes(1);
        if let Some(t) = cron_instant(zone, minute) {
            return t;
        }
    }
    Utc.from_utc_datetime(&local)
}

impl Schedule {
    /// A schedule without start or end date.
    pub fn new(expression: Expression, zone: Tz, anchor: DateTime<Utc>) -> Schedule {
        Schedule {
            expression,
            zone,
            start: None,
            end: None,
            anchor,
        }
    }

    /// The same schedule with a start date.
    pub fn with_start(mut self, start: DateTime<Utc>) -> Schedule {
        self.start = Some(start);
        self
    }

    /// The same schedule with an end date.
    pub fn with_end(mut self, end: DateTime<Utc>) -> Schedule {
        self.end = Some(end);
        self
    }

    /// The first fire time strictly after `t` (None when there is none: past the end date, an
    /// at() already passed, a cron that never matches again).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.first_at_or_after(t.checked_add_signed(Duration::nanoseconds(1))?)
    }

    /// The first fire time at or after `t`.
    pub fn first_at_or_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.expression {
            Expression::At(local) => {
                let fire = at_instant(self.zone, *local);
                (fire >= t).then_some(fire)
            }
            Expression::Rate(rate) => self.rate_first(rate, t),
            Expression::Cron(cron) => self.cron_first(cron, t),
        }
    }

    /// The last fire time at or before `t`.
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.expression {
            Expression::At(local) => {
                let fire = at_instant(self.zone, *local);
                (fire <= t).then_some(fire)
            }
            Expression::Rate(rate) => self.rate_last(rate, t),
            Expression::Cron(cron) => self.cron_last(cron, t),
        }
    }

    /// The last fire time strictly before `t`.
    pub fn prev_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.last_at_or_before(t.checked_sub_signed(Duration::nanoseconds(1))?)
    }

    /// Fire times in `[from, to]` in order (lazy iterator).
    pub fn ticks(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        std::iter::successors(
            self.first_at_or_after(from).filter(|t| *t <= to),
            move |t| self.next_after(*t).filter(|n| *n <= to),
        )
    }

    /// How many fire times lie in `[from, to]`, without walking them: arithmetic for rate, and
    /// one step per calendar day for cron (a day with a daylight-saving gap, or a partial day at
    /// either end, is counted minute by minute).
    pub fn count(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
        let (Some(lo), Some(hi)) = (self.first_at_or_after(from), self.last_at_or_before(to))
        else {
            return 0;
        };
        if hi < lo {
            return 0;
        }
        match &self.expression {
            Expression::At(_) => 1,
            Expression::Rate(rate) => {
                let every = duration_nanos(rate.every);
                if every <= 0 {
                    return 1;
                }
                u64::try_from(nanos_between(lo, hi) / every + 1).unwrap_or(u64::MAX)
            }
            Expression::Cron(cron) => self.cron_count(cron, lo, hi),
        }
    }

    fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.zone).naive_local()
    }

    fn within_end(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.end {
            Some(end) if t > end => None,
            _ => Some(t),
        }
    }

    fn within_start(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.start {
            Some(start) if t < start => None,
            _ => Some(t),
        }
    }

    fn rate_origin(&self) -> DateTime<Utc> {
        self.start.unwrap_or(self.anchor)
    }

    fn rate_first(&self, rate: &Rate, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let every = duration_nanos(rate.every);
        if every <= 0 {
            return None;
        }
        let origin = self.rate_origin();
        let lower = t.max(origin);
        let diff = nanos_between(origin, lower);
        let k = (diff + every - 1) / every;
        self.within_end(add_nanos(origin, k.checked_mul(every)?)?)
    }

    fn rate_last(&self, rate: &Rate, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let every = duration_nanos(rate.every);
        if every <= 0 {
            return None;
        }
        let origin = self.rate_origin();
        let upper = match self.end {
            Some(end) => t.min(end),
            None => t,
        };
        if upper < origin {
            return None;
        }
        let k = nanos_between(origin, upper) / every;
        add_nanos(origin, k.checked_mul(every)?)
    }

    fn cron_first(&self, cron: &Cron, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let lower = match self.start {
            Some(start) => t.max(start),
            None => t,
        };
        if lower > max_instant() {
            return None;
        }
        let lower = lower.max(min_instant());
        // Wall-clock candidates in order; the first occurrence of each is monotonic in the wall
        // time, so the first candidate at or after `lower` is the answer. Candidates before it
        // (the repeated hour of a fall-back) and in a gap are passed over.
        let mut candidate = self.local(lower);
        loop {
            let local = cron.next_match(candidate)?;
            if let Some(fire) = cron_instant(self.zone, local)
                && fire >= lower
            {
                return self.within_end(fire);
            }
            candidate = local.checked_add_signed(Duration::minutes(1))?;
        }
    }

    fn cron_last(&self, cron: &Cron, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let upper = match self.end {
            Some(end) => t.min(end),
            None => t,
        };
        if upper < min_instant() {
            return None;
        }
        let upper = upper.min(max_instant());
        // A wall time later than the clock shows at `upper` may still have first occurred
        // before it (the clock went back since). Start from the latest wall time the clock
        // showed in the last 26 hours, a bound on any offset change.
        let offset = (0..=26)
            .filter_map(|h| upper.checked_sub_signed(Duration::hours(h)))
            .map(|u| {
                self.zone
                    .offset_from_utc_datetime(&u.naive_utc())
                    .fix()
                    .local_minus_utc()
            })
            .max()
            .unwrap_or(0);
        let mut candidate = upper
            .naive_utc()
            .checked_add_signed(Duration::seconds(i64::from(offset)))?;
        loop {
            let local = cron.prev_match(candidate)?;
            if let Some(fire) = cron_instant(self.zone, local)
                && fire <= upper
            {
                return self.within_start(fire);
            }
            candidate = local.checked_sub_signed(Duration::minutes(1))?;
        }
    }

    /// Fire times of a cron in `[lo, hi]`, both fire times. Each existing matching wall-clock
    /// minute fires exactly once, so this counts the matching wall-clock minutes from the wall
    /// time of `lo` to that of `hi` that exist in the zone.
    fn cron_count(&self, cron: &Cron, lo: DateTime<Utc>, hi: DateTime<Utc>) -> u64 {
        let (from, to) = (self.local(lo), self.local(hi));
        let (first_day, last_day) = (from.date(), to.date());
        if first_day == last_day {
            return self.cron_day_count(cron, first_day, Some(from.time()), Some(to.time()));
        }
        let mut total = self.cron_day_count(cron, first_day, Some(from.time()), None)
            + self.cron_day_count(cron, last_day, None, Some(to.time()));
        let mut day = first_day.succ_opt();
        while let Some(d) = day
            && d < last_day
        {
            total += self.cron_day_count(cron, d, None, None);
            day = d.succ_opt();
        }
        total
    }

    /// Matching wall-clock minutes of `day` within `[from, to]` that exist in the zone.
    fn cron_day_count(
        &self,
        cron: &Cron,
        day: NaiveDate,
        from: Option<NaiveTime>,
        to: Option<NaiveTime>,
    ) -> u64 {
        if !cron.day_matches(day) {
            return 0;
        }
        if from.is_none() && to.is_none() && self.day_without_gap(day) {
            return cron.minutes_per_day();
        }
        cron.times_of_day()
            .filter_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0))
            .filter(|t| from.is_none_or(|f| *t >= f) && to.is_none_or(|e| *t <= e))
            .filter(|t| cron_instant(self.zone, day.and_time(*t)).is_some())
            .count() as u64
    }

    /// Whether every wall-clock time of `day` exists: its midnights exist once and it lasts at
    /// least 24 hours (a day with a spring-forward gap is shorter; one that both skips and
    /// repeats the same length of time in a single day is not told apart, and no zone does).
    fn day_without_gap(&self, day: NaiveDate) -> bool {
        let start = self.zone.from_local_datetime(&day.and_time(NaiveTime::MIN));
        let end = day
            .succ_opt()
            .map(|d| self.zone.from_local_datetime(&d.and_time(NaiveTime::MIN)));
        match (start, end) {
            (LocalResult::Single(a), Some(LocalResult::Single(b))) => {
                b.signed_duration_since(a) >= Duration::hours(24)
            }
            _ => false,
        }
    }
}

/// What a scheduler does when it wakes at `now` and the schedule's stored next fire time is
/// `next_fire` (<= now): the ticks to start, in order; how many missed ticks were skipped (by the
/// limit or by Latest); the new next fire time (strictly after now; None when the schedule is
/// finished).
///
/// The missed ticks are the fire times in `[next_fire, now]`. The work does not grow with their
/// number: they are counted (see [`Schedule::count`]) rather than walked, and only the ticks to
/// fire are produced, walking back from `now`. A scheduler down for ten years with
/// `rate(1 minute)` costs a few arithmetic operations; a cron costs one step per day missed.
pub fn due(
    schedule: &Schedule,
    next_fire: DateTime<Utc>,
    now: DateTime<Utc>,
    catch_up: CatchUp,
) -> Due {
    let next = schedule.next_after(now);
    let nothing = |next| Due {
        fire: Vec::new(),
        skipped: 0,
        next,
    };
    let Some(first) = schedule.first_at_or_after(next_fire).filter(|f| *f <= now) else {
        return nothing(next);
    };
    let Some(last) = schedule.last_at_or_before(now).filter(|l| *l >= first) else {
        return nothing(next);
    };
    let total = schedule.count(first, last).max(1);
    match catch_up {
        CatchUp::Latest => Due {
            fire: vec![last],
            skipped: total - 1,
            next,
        },
        CatchUp::All { limit } => {
            let keep = total.min(u64::from(limit));
            let mut fire = Vec::with_capacity(usize::try_from(keep.min(4096)).unwrap_or(0));
            let mut tick = Some(last);
            while (fire.len() as u64) < keep {
                let Some(t) = tick.filter(|t| *t >= first) else {
                    break;
                };
                fire.push(t);
                tick = schedule.prev_before(t);
            }
            fire.reverse();
            Due {
                skipped: total - fire.len() as u64,
                fire,
                next,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_zone;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .with_timezone(&Utc)
    }

    fn schedule(expression: &str, zone: &str) -> Schedule {
        Schedule::new(
            Expression::parse(expression).unwrap_or_else(|e| panic!("{e}")),
            parse_zone(zone).unwrap_or_else(|e| panic!("{e}")),
            utc("2026-01-01T00:00:00Z"),
        )
    }

    fn ticks(s: &Schedule, from: &str, to: &str) -> Vec<String> {
        s.ticks(utc(from), utc(to))
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .collect()
    }

    #[test]
    fn new_york_spring_forward_skips_the_missing_time() {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day.
        let s = schedule("cron(30 2 * * ? *)", "America/New_York");
        assert_eq!(
            ticks(&s, "2026-03-06T00:00:00Z", "2026-03-10T23:59:59Z"),
            [
                "2026-03-06T07:30:00Z",
                "2026-03-07T07:30:00Z",
                "2026-03-09T06:30:00Z",
                "2026-03-10T06:30:00Z"
            ]
        );
        assert_eq!(
            s.next_after(utc("2026-03-07T07:30:00Z")),
            Some(utc("2026-03-09T06:30:00Z"))
        );
        assert_eq!(
            s.prev_before(utc("2026-03-09T06:30:00Z")),
            Some(utc("2026-03-07T07:30:00Z"))
        );
        assert_eq!(
            s.count(utc("2026-03-06T00:00:00Z"), utc("2026-03-10T23:59:59Z")),
            4
        );
    }

    #[test]
    fn new_york_fall_back_runs_once_at_the_first_occurrence() {
        // 2026-11-01: 02:00 EDT goes back to 01:00 EST; 01:30 happens at 05:30Z and 06:30Z.
        let s = schedule("cron(30 1 * * ? *)", "America/New_York");
        assert_eq!(
            ticks(&s, "2026-10-31T00:00:00Z", "2026-11-02T23:59:59Z"),
            [
                "2026-10-31T05:30:00Z",
                "2026-11-01T05:30:00Z",
                "2026-11-02T06:30:00Z"
            ]
        );
        // Asked from inside the repeated hour, the second 01:30 is not a run.
        assert_eq!(
            s.next_after(utc("2026-11-01T06:10:00Z")),
            Some(utc("2026-11-02T06:30:00Z"))
        );
        assert_eq!(
            s.last_at_or_before(utc("2026-11-01T06:40:00Z")),
            Some(utc("2026-11-01T05:30:00Z"))
        );
        assert_eq!(
            s.last_at_or_before(utc("2026-11-01T06:10:00Z")),
            Some(utc("2026-11-01T05:30:00Z"))
        );
        assert_eq!(
            s.count(utc("2026-10-31T00:00:00Z"), utc("2026-11-02T23:59:59Z")),
            3
        );
        // Every 20 minutes through the repeated hour: 01:00, 01:20 and 01:40 once each.
        let s = schedule("cron(0/20 0-2 1 11 ? 2026)", "America/New_York");
        assert_eq!(
            ticks(&s, "2026-11-01T00:00:00Z", "2026-11-01T23:00:00Z"),
            [
                "2026-11-01T04:00:00Z",
                "2026-11-01T04:20:00Z",
                "2026-11-01T04:40:00Z",
                "2026-11-01T05:00:00Z",
                "2026-11-01T05:20:00Z",
                "2026-11-01T05:40:00Z",
                "2026-11-01T07:00:00Z",
                "2026-11-01T07:20:00Z",
                "2026-11-01T07:40:00Z"
            ]
        );
    }

    #[test]
    fn london_daily_two_am_across_both_transitions() {
        // 2026-03-29: 01:00 GMT -> 02:00 BST (02:00 exists); 2026-10-25: 02:00 BST -> 01:00 GMT.
        let s = schedule("cron(0 2 * * ? *)", "Europe/London");
        assert_eq!(
            ticks(&s, "2026-03-28T00:00:00Z", "2026-03-30T23:00:00Z"),
            [
                "2026-03-28T02:00:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-30T01:00:00Z"
            ]
        );
        assert_eq!(
            ticks(&s, "2026-10-24T00:00:00Z", "2026-10-26T23:00:00Z"),
            [
                "2026-10-24T01:00:00Z",
                "2026-10-25T02:00:00Z",
                "2026-10-26T02:00:00Z"
            ]
        );
        // 01:30 does not exist on 03-29 and happens twice on 10-25.
        let s = schedule("cron(30 1 * * ? *)", "Europe/London");
        assert_eq!(
            ticks(&s, "2026-03-28T00:00:00Z", "2026-03-30T23:00:00Z"),
            ["2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"]
        );
        assert_eq!(
            ticks(&s, "2026-10-24T00:00:00Z", "2026-10-26T23:00:00Z"),
            [
                "2026-10-24T00:30:00Z",
                "2026-10-25T00:30:00Z",
                "2026-10-26T01:30:00Z"
            ]
        );
    }

    #[test]
    fn rate_is_absolute_across_dst() {
        let s = schedule("rate(1 day)", "America/New_York").with_start(utc("2026-03-06T12:00:00Z"));
        assert_eq!(
            ticks(&s, "2026-03-06T00:00:00Z", "2026-03-10T00:00:00Z"),
            [
                "2026-03-06T12:00:00Z",
                "2026-03-07T12:00:00Z",
                "2026-03-08T12:00:00Z",
                "2026-03-09T12:00:00Z"
            ]
        );
    }

    #[test]
    fn rate_first_fire_is_at_the_origin() {
        // Without a start date, the creation time (anchor) is the first fire.
        let s = schedule("rate(5 minutes)", "UTC");
        assert_eq!(
            s.first_at_or_after(utc("2025-01-01T00:00:00Z")),
            Some(utc("2026-01-01T00:00:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-01-01T00:00:00Z")),
            Some(utc("2026-01-01T00:05:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-01-01T00:07:30Z")),
            Some(utc("2026-01-01T00:10:00Z"))
        );
        assert_eq!(s.last_at_or_before(utc("2025-12-31T23:59:59Z")), None);
        // With one, the start date is, and the anchor does not matter.
        let s = s.with_start(utc("2026-02-01T10:03:00Z"));
        assert_eq!(
            s.first_at_or_after(utc("2026-01-01T00:00:00Z")),
            Some(utc("2026-02-01T10:03:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-02-01T10:04:00Z")),
            Some(utc("2026-02-01T10:08:00Z"))
        );
    }

    #[test]
    fn at_fires_once() {
        let s = schedule("at(2026-07-14T09:30:00)", "Europe/Paris");
        let fire = utc("2026-07-14T07:30:00Z");
        assert_eq!(s.first_at_or_after(utc("2026-01-01T00:00:00Z")), Some(fire));
        assert_eq!(s.first_at_or_after(fire), Some(fire));
        assert_eq!(s.next_after(fire), None);
        assert_eq!(s.next_after(utc("2030-01-01T00:00:00Z")), None);
        assert_eq!(
            ticks(&s, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            ["2026-07-14T07:30:00Z"]
        );
        // Start and end dates do not apply to one-time schedules.
        let s = s
            .with_start(utc("2026-08-01T00:00:00Z"))
            .with_end(utc("2026-01-02T00:00:00Z"));
        assert_eq!(s.next_after(utc("2026-01-01T00:00:00Z")), Some(fire));
    }

    #[test]
    fn at_in_a_gap_fires_after_it_and_in_a_fold_at_the_first() {
        let gap = schedule("at(2026-03-08T02:30:00)", "America/New_York");
        // 03:00 EDT, the first instant after the gap.
        assert_eq!(
            gap.next_after(utc("2026-01-01T00:00:00Z")),
            Some(utc("2026-03-08T07:00:00Z"))
        );
        let fold = schedule("at(2026-11-01T01:30:00)", "America/New_York");
        assert_eq!(
            fold.next_after(utc("2026-01-01T00:00:00Z")),
            Some(utc("2026-11-01T05:30:00Z"))
        );
    }

    #[test]
    fn start_and_end_dates_are_inclusive_bounds() {
        let s = schedule("cron(0 * * * ? *)", "UTC")
            .with_start(utc("2026-05-01T10:00:00Z"))
            .with_end(utc("2026-05-01T13:00:00Z"));
        assert_eq!(
            ticks(&s, "2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"),
            [
                "2026-05-01T10:00:00Z",
                "2026-05-01T11:00:00Z",
                "2026-05-01T12:00:00Z",
                "2026-05-01T13:00:00Z"
            ]
        );
        assert_eq!(s.next_after(utc("2026-05-01T13:00:00Z")), None);
        assert_eq!(s.last_at_or_before(utc("2026-05-01T09:59:00Z")), None);
        assert_eq!(
            s.last_at_or_before(utc("2026-06-01T00:00:00Z")),
            Some(utc("2026-05-01T13:00:00Z"))
        );
        let s = schedule("cron(0 * * * ? *)", "UTC").with_start(utc("2026-05-01T10:30:00Z"));
        assert_eq!(
            s.first_at_or_after(utc("2026-01-01T00:00:00Z")),
            Some(utc("2026-05-01T11:00:00Z"))
        );
        let r = schedule("rate(1 hour)", "UTC")
            .with_start(utc("2026-05-01T10:00:00Z"))
            .with_end(utc("2026-05-01T12:30:00Z"));
        assert_eq!(
            ticks(&r, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            [
                "2026-05-01T10:00:00Z",
                "2026-05-01T11:00:00Z",
                "2026-05-01T12:00:00Z"
            ]
        );
        assert_eq!(r.next_after(utc("2026-05-01T12:00:00Z")), None);
        assert_eq!(
            r.count(utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")),
            3
        );
    }

    #[test]
    fn never_matching_cron_returns_none() {
        let s = schedule("cron(0 0 30 2 ? *)", "Europe/Paris");
        assert_eq!(s.next_after(utc("2026-01-01T00:00:00Z")), None);
        assert_eq!(s.last_at_or_before(utc("2199-12-31T00:00:00Z")), None);
        let s = schedule("cron(0 0 1 1 ? 1990-2000)", "Asia/Tokyo");
        assert_eq!(s.next_after(utc("2026-01-01T00:00:00Z")), None);
        assert_eq!(s.next_after(DateTime::<Utc>::MAX_UTC), None);
        assert_eq!(s.last_at_or_before(DateTime::<Utc>::MIN_UTC), None);
        assert_eq!(
            s.last_at_or_before(DateTime::<Utc>::MAX_UTC),
            Some(utc("1999-12-31T15:00:00Z"))
        );
        let r = schedule("rate(1 minute)", "UTC");
        assert_eq!(r.next_after(DateTime::<Utc>::MAX_UTC), None);
        assert!(r.last_at_or_before(DateTime::<Utc>::MAX_UTC).is_some());
    }

    #[test]
    fn due_all_keeps_the_latest_up_to_the_limit() {
        let s = schedule("cron(0 * * * ? *)", "UTC");
        // Down from 10:00 to 14:30: 10, 11, 12, 13 and 14 o'clock were missed.
        let d = due(
            &s,
            utc("2026-05-01T10:00:00Z"),
            utc("2026-05-01T14:30:00Z"),
            CatchUp::All { limit: 3 },
        );
        assert_eq!(
            d.fire,
            [
                utc("2026-05-01T12:00:00Z"),
                utc("2026-05-01T13:00:00Z"),
                utc("2026-05-01T14:00:00Z")
            ]
        );
        assert_eq!(d.skipped, 2);
        assert_eq!(d.next, Some(utc("2026-05-01T15:00:00Z")));
        let d = due(
            &s,
            utc("2026-05-01T10:00:00Z"),
            utc("2026-05-01T14:30:00Z"),
            CatchUp::All { limit: 10 },
        );
        assert_eq!(d.fire.len(), 5);
        assert_eq!(d.skipped, 0);
    }

    #[test]
    fn due_latest_fires_only_the_last_missed() {
        let s = schedule("rate(15 minutes)", "UTC");
        let d = due(
            &s,
            utc("2026-01-01T00:15:00Z"),
            utc("2026-01-01T02:05:00Z"),
            CatchUp::Latest,
        );
        assert_eq!(d.fire, [utc("2026-01-01T02:00:00Z")]);
        assert_eq!(d.skipped, 7);
        assert_eq!(d.next, Some(utc("2026-01-01T02:15:00Z")));
    }

    #[test]
    fn due_with_nothing_missed_fires_the_one_tick() {
        let s = schedule("cron(0/10 * * * ? *)", "Europe/Paris");
        let tick = utc("2026-05-01T10:20:00Z");
        for catch_up in [CatchUp::Latest, CatchUp::All { limit: 5 }] {
            let d = due(&s, tick, utc("2026-05-01T10:20:03Z"), catch_up);
            assert_eq!(d.fire, [tick]);
            assert_eq!(d.skipped, 0);
            assert_eq!(d.next, Some(utc("2026-05-01T10:30:00Z")));
        }
        // Woken before the stored time: nothing due.
        let d = due(&s, tick, utc("2026-05-01T10:19:00Z"), CatchUp::Latest);
        assert!(d.fire.is_empty());
        assert_eq!(d.next, Some(tick));
    }

    #[test]
    fn due_on_a_schedule_finished_by_its_end_date() {
        let s = schedule("cron(0 12 * * ? *)", "UTC").with_end(utc("2026-05-03T12:00:00Z"));
        let d = due(
            &s,
            utc("2026-05-01T12:00:00Z"),
            utc("2026-05-10T00:00:00Z"),
            CatchUp::All { limit: 100 },
        );
        assert_eq!(
            d.fire,
            [
                utc("2026-05-01T12:00:00Z"),
                utc("2026-05-02T12:00:00Z"),
                utc("2026-05-03T12:00:00Z")
            ]
        );
        assert_eq!(d.skipped, 0);
        assert_eq!(d.next, None);
        // An at() that has fired is finished too.
        let s = schedule("at(2026-05-01T12:00:00)", "UTC");
        let d = due(
            &s,
            utc("2026-05-01T12:00:00Z"),
            utc("2026-05-01T12:00:30Z"),
            CatchUp::Latest,
        );
        assert_eq!(d.fire, [utc("2026-05-01T12:00:00Z")]);
        assert_eq!(d.next, None);
    }

    #[test]
    fn due_after_ten_years_down_stays_cheap() {
        let from = utc("2016-01-01T00:00:00Z");
        let now = utc("2026-01-01T00:00:30Z");
        let r = Schedule::new(
            Expression::parse("rate(1 minute)").unwrap_or_else(|e| panic!("{e}")),
            Tz::UTC,
            from,
        );
        let minutes = (now - from).num_minutes() as u64 + 1;
        let d = due(&r, from, now, CatchUp::All { limit: 5 });
        assert_eq!(d.fire.len(), 5);
        assert_eq!(d.fire[4], utc("2026-01-01T00:00:00Z"));
        assert_eq!(d.skipped, minutes - 5);
        assert_eq!(d.next, Some(utc("2026-01-01T00:01:00Z")));
        let d = due(&r, from, now, CatchUp::Latest);
        assert_eq!((d.fire.len(), d.skipped), (1, minutes - 1));
        // A cron every minute, in a zone with DST: one step per day, exact.
        let c = schedule("cron(* * * * ? *)", "America/New_York");
        let d = due(&c, from, now, CatchUp::All { limit: 3 });
        assert_eq!(
            d.fire,
            [
                utc("2025-12-31T23:58:00Z"),
                utc("2025-12-31T23:59:00Z"),
                utc("2026-01-01T00:00:00Z")
            ]
        );
        // Each spring-forward loses 60 wall-clock minutes; fall-back repeats are not extra runs,
        // so there are (10 years of minutes) - 10 hours (2016-2025: ten springs) ticks.
        assert_eq!(d.skipped + 3, minutes - 10 * 60);
        let d = due(&c, from, now, CatchUp::Latest);
        assert_eq!(d.fire, [utc("2026-01-01T00:00:00Z")]);
    }

    /// `count` (day arithmetic) agrees with walking `ticks`, across DST in several zones.
    #[test]
    fn count_agrees_with_ticks() {
        let cases = [
            (
                "cron(*/7 * * * ? *)",
                "America/New_York",
                "2026-03-07T00:00:00Z",
                "2026-03-10T05:00:00Z",
            ),
            (
                "cron(*/7 * * * ? *)",
                "America/New_York",
                "2026-10-30T03:00:00Z",
                "2026-11-03T05:00:00Z",
            ),
            (
                "cron(30 0-3 * * ? *)",
                "Europe/London",
                "2026-03-20T00:00:00Z",
                "2026-04-05T00:00:00Z",
            ),
            (
                "cron(15 1,2 ? * SUN *)",
                "Europe/London",
                "2026-10-01T00:00:00Z",
                "2026-11-15T00:00:00Z",
            ),
            (
                "cron(0 2 L * ? *)",
                "Australia/Lord_Howe",
                "2026-01-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
            ),
            (
                "cron(0/30 * * * ? *)",
                "Australia/Lord_Howe",
                "2026-04-04T00:00:00Z",
                "2026-04-06T00:00:00Z",
            ),
            (
                "0 0 1,15 * 1",
                "Asia/Kolkata",
                "2026-01-01T00:00:00Z",
                "2026-12-31T00:00:00Z",
            ),
            (
                "cron(0 0 ? * 3#2 *)",
                "UTC",
                "2026-01-01T00:00:00Z",
                "2028-01-01T00:00:00Z",
            ),
            (
                "rate(7 minutes)",
                "UTC",
                "2026-01-01T00:03:00Z",
                "2026-01-09T00:00:00Z",
            ),
        ];
        for (expression, zone, from, to) in cases {
            let s = schedule(expression, zone);
            let walked = s.ticks(utc(from), utc(to)).count() as u64;
            assert!(walked > 0, "{expression}");
            assert_eq!(
                s.count(utc(from), utc(to)),
                walked,
                "{expression} in {zone}"
            );
            // And the backward search finds the same ticks.
            let forward: Vec<_> = s.ticks(utc(from), utc(to)).collect();
            let mut backward = Vec::new();
            let mut t = s.last_at_or_before(utc(to));
            while let Some(tick) = t.filter(|t| *t >= utc(from)) {
                backward.push(tick);
                t = s.prev_before(tick);
            }
            backward.reverse();
            assert_eq!(forward, backward, "{expression} in {zone}");
        }
    }

    /// Garbled expressions that still parse never make the schedule functions panic or hang.
    #[test]
    fn random_schedules_behave() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Plausible values per field (minutes, hours, day-of-month, month, day-of-week, year),
        // with a few that are wrong in some fields.
        let pieces: [&[&str]; 6] = [
            &["*", "0", "5", "0/15", "*/7", "10-50/20", "59", "L"],
            &["*", "0", "2", "22-2", "1,13", "*/5", "24"],
            &["*", "?", "1", "15", "L", "15W", "31", "1-7", "30"],
            &["*", "JAN-MAR", "2", "11", "*/4", "FEB"],
            &["?", "*", "MON-FRI", "3#2", "6L", "L", "1", "7", "0"],
            &["*", "2026", "2030-2040", "2027/3", "1990"],
        ];
        let zones = [
            "UTC",
            "America/New_York",
            "Europe/London",
            "Australia/Lord_Howe",
        ];
        let mut tried = 0;
        for _ in 0..400 {
            let n = if next() % 2 == 0 { 6 } else { 5 };
            let fields: Vec<&str> = pieces[..n]
                .iter()
                .map(|p| p[(next() % p.len() as u64) as usize])
                .collect();
            let text = format!("cron({})", fields.join(" "));
            let Ok(expression) = Expression::parse(&text) else {
                continue;
            };
            tried += 1;
            let zone = zones[(next() % zones.len() as u64) as usize];
            let s = Schedule::new(
                expression,
                parse_zone(zone).unwrap_or(Tz::UTC),
                utc("2026-01-01T00:00:00Z"),
            );
            let t = utc("2026-03-01T00:00:00Z");
            if let Some(n) = s.next_after(t) {
                assert!(n > t);
                assert!(s.prev_before(n).is_none_or(|p| p < n));
                assert_eq!(s.first_at_or_after(n), Some(n));
                assert_eq!(s.last_at_or_before(n), Some(n));
            }
            let _ = s.last_at_or_before(t);
            let _ = due(
                &s,
                utc("2026-02-01T00:00:00Z"),
                t,
                CatchUp::All { limit: 3 },
            );
        }
        assert!(tried > 50, "{tried}");
    }
}
