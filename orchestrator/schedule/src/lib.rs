//! Schedule expressions and their fire times, as Amazon EventBridge Scheduler computes them.
//!
//! Pure logic: no I/O and no clock reads; every instant is passed in.
//!
//! * [`Expression::parse`] reads `cron(...)` (AWS six fields, or five-field unix cron, also
//!   bare), `rate(...)` and `at(...)`; [`Expression`]'s `Display` gives the canonical text back.
//! * [`parse_zone`] reads an IANA time zone name.
//! * [`Schedule`] gives fire times ([`Schedule::next_after`], [`Schedule::first_at_or_after`],
//!   [`Schedule::ticks`], [`Schedule::count`]) with EventBridge Scheduler's rules for daylight
//!   saving time, start and end dates; [`due`] tells a scheduler that wakes up late which ticks to
//!   start (see [`CatchUp`]).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use sluice_schedule::{Expression, Schedule, parse_zone};
//!
//! let expression = Expression::parse("cron(30 2 * * ? *)").expect("valid");
//! let zone = parse_zone("America/New_York").expect("valid");
//! let created = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
//! let schedule = Schedule::new(expression, zone, created);
//! // 2026-03-08 has no 02:30 in New York: the run after the 7th's is on the 9th.
//! let after = Utc.with_ymd_and_hms(2026, 3, 7, 7, 30, 0).unwrap();
//! assert_eq!(
//!     schedule.next_after(after),
//!     Some(Utc.with_ymd_and_hms(2026, 3, 9, 6, 30, 0).unwrap())
//! );
//! ```

mod cron;
mod expression;
mod schedule;
mod zone;

pub use chrono_tz::Tz;
pub use cron::{Cron, CronFlavor, MAX_YEAR, MIN_YEAR};
pub use expression::{Expression, ExpressionError, Rate, RateUnit};
pub use schedule::{CatchUp, Due, Schedule, due};
pub use zone::{ZoneError, parse_zone};
