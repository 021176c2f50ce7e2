//! Time zones: IANA names, as EventBridge Scheduler's `ScheduleExpressionTimezone` takes them.

use chrono_tz::Tz;

/// A time zone name that is not an IANA time zone name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "time zone {name:?} is not valid: it must be an IANA time zone name, such as \"UTC\", \
     \"Europe/Paris\" or \"America/New_York\""
)]
pub struct ZoneError {
    /// The name as given.
    pub name: String,
}

/// Parses an IANA time zone name (`"Europe/Paris"`, `"UTC"`, `"America/New_York"`). Names are
/// matched exactly, as in the tz database (case matters, no surrounding space).
pub fn parse_zone(name: &str) -> Result<Tz, ZoneError> {
    name.parse::<Tz>().map_err(|_| ZoneError {
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_parse() {
        assert_eq!(parse_zone("Europe/Paris"), Ok(Tz::Europe__Paris));
        assert_eq!(parse_zone("UTC"), Ok(Tz::UTC));
        assert_eq!(parse_zone("America/New_York"), Ok(Tz::America__New_York));
        assert_eq!(parse_zone("Etc/GMT+5"), Ok(Tz::Etc__GMTPlus5));
    }

    #[test]
    fn bad_names_are_refused_with_the_value() {
        for bad in [
            "Europe/Pariss",
            "",
            "Mars/Olympus",
            " UTC",
            "+02:00",
            "europe/paris",
        ] {
            let e = parse_zone(bad).expect_err(bad);
            let message = e.to_string();
            assert!(message.contains(&format!("{bad:?}")), "{message}");
            assert!(
                message.contains("must be an IANA time zone name"),
                "{message}"
            );
        }
    }
}
