//! Wall-clock time as the Step Functions API reports it: seconds since the epoch.

/// Seconds since the Unix epoch, with sub-second precision.
pub fn now() -> f64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_secs_f64()
}

/// ISO-8601 (milliseconds, `Z`) for a time in seconds since the epoch.
pub fn iso8601(seconds: f64) -> String {
    let millis = (seconds * 1000.0) as i64;
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The clock schedules are read by. Real time by default; a test or a demonstration can make
/// it run faster (`SLUICE_SCHEDULE_CLOCK`), so that a minute's ticks pass in a second across
/// processes and restarts: only schedules read it, never leases or timestamps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleClock {
    /// Real time (seconds since the epoch) at which the clock read `at`.
    pub since: f64,
    pub at: f64,
    /// Clock seconds per real second.
    pub speed: f64,
}

impl Default for ScheduleClock {
    fn default() -> Self {
        ScheduleClock {
            since: 0.0,
            at: 0.0,
            speed: 1.0,
        }
    }
}

impl ScheduleClock {
    /// The clock's time now.
    pub fn now(&self) -> f64 {
        self.at + (now() - self.since) * self.speed
    }

    /// Real seconds for `seconds` of this clock.
    pub fn real(&self, seconds: f64) -> f64 {
        seconds / self.speed
    }
}

impl std::str::FromStr for ScheduleClock {
    type Err = String;

    /// `SINCE,AT,SPEED`: at real time SINCE the clock read AT, and it runs SPEED times
    /// faster than real time.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{s:?}: {e}; expected SINCE,AT,SPEED (three numbers)"))?;
        match parts[..] {
            [since, at, speed] if speed.is_finite() && speed > 0.0 => {
                Ok(ScheduleClock { since, at, speed })
            }
            _ => Err(format!(
                "{s:?}: expected SINCE,AT,SPEED (three numbers, SPEED above 0)"
            )),
        }
    }
}
