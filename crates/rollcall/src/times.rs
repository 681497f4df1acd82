//! Times as people type them, for the client commands' flags.
//!
//! The API speaks unix seconds (uint32 in requests, digit strings in replies). People type
//! RFC 3339 or a wall-clock time; this module turns those into seconds, with `jiff` (a real
//! time-zone database: offsets and daylight saving are right for any date, not just
//! today's). Showing times back to people is `rollcall_report::Local`.
//!
//! # Layout
//! - [`parse_time`] / [`parse_time_in`]: `--since` / `--until` / `--as-of` values.
//! - [`parse_interval`]: `--interval` seconds.

use std::time::Duration;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// `--since` / `--until` / `--as-of` in the machine's time zone (clap value parser).
pub fn parse_time(s: &str) -> Result<u32, String> {
    parse_time_in(s, &TimeZone::system())
}

/// A point in time as unix seconds (`u32`, the API's type), from any of:
/// - unix seconds: `1760000000`;
/// - RFC 3339 / ISO 8601 with an offset: `2025-10-09T08:53:20Z`, `2025-10-09T16:53:20+08:00`;
/// - a wall-clock date-time in `tz`: `2025-10-09 16:53`, `2025-10-09T16:53:20`;
/// - a date in `tz` (its midnight): `2025-10-09`.
pub fn parse_time_in(s: &str, tz: &TimeZone) -> Result<u32, String> {
    let s = s.trim();
    let secs: i64 = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse()
            .map_err(|_| format!("{s:?}: too large for unix seconds"))?
    } else if let Ok(ts) = s.parse::<Timestamp>() {
        ts.as_second()
    } else if let Ok(dt) = s.parse::<DateTime>() {
        local_seconds(dt, tz, s)?
    } else if let Ok(d) = s.parse::<Date>() {
        local_seconds(d.to_datetime(jiff::civil::Time::midnight()), tz, s)?
    } else {
        return Err(format!(
            "{s:?} is not a time: give unix seconds (1760000000), RFC 3339 \
             (2025-10-09T16:53:20+08:00) or a local date-time (2025-10-09 16:53)"
        ));
    };
    u32::try_from(secs).map_err(|_| format!("{s:?} is outside what the API accepts (1970 to 2106)"))
}

fn local_seconds(dt: DateTime, tz: &TimeZone, s: &str) -> Result<i64, String> {
    dt.to_zoned(tz.clone())
        .map(|z| z.timestamp().as_second())
        .map_err(|e| format!("{s:?}: {e}"))
}

/// `--interval`: seconds, fractions allowed, more than 0 and at most a day.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!("{s:?}: give more than 0 and at most 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").expect("bundled tzdb")
    }

    #[test]
    fn parses_every_documented_form() {
        let tz = shanghai();
        for s in [
            "1760000000",
            " 1760000000 ",
            "2025-10-09T08:53:20Z",
            "2025-10-09T16:53:20+08:00",
            "2025-10-09T04:53:20-04:00",
            "2025-10-09 16:53:20",
            "2025-10-09T16:53:20",
        ] {
            assert_eq!(parse_time_in(s, &tz), Ok(1_760_000_000), "{s}");
        }
        assert_eq!(
            parse_time_in("2025-10-09 16:53", &tz),
            Ok(1_760_000_000 - 20)
        );
        // Midnight in Shanghai is 16:00 UTC the day before.
        assert_eq!(parse_time_in("2025-10-09", &tz), Ok(1_759_939_200));
        assert_eq!(
            parse_time_in("2025-10-09", &TimeZone::UTC),
            Ok(1_759_968_000)
        );
    }

    #[test]
    fn refuses_what_is_not_a_time_or_out_of_range() {
        let tz = TimeZone::UTC;
        for bad in [
            "",
            "soon",
            "-5",
            "1.5",
            "4294967296",
            "99999999999999999999999",
            "1969-12-31T23:59:59Z",
            "2106-02-08T00:00:00Z",
            "2025-13-01",
        ] {
            assert!(parse_time_in(bad, &tz).is_err(), "{bad:?}");
        }
        assert_eq!(parse_time_in("4294967295", &tz), Ok(u32::MAX));
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_interval("0.25"), Ok(Duration::from_millis(250)));
        for bad in ["0", "-1", "x", "NaN", "inf", "86401"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
