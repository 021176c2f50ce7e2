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
