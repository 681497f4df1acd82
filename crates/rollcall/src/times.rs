//! Times as people type and read them, for the client commands.
//!
//! The API speaks unix seconds (uint32 in requests, digit strings in replies). People type
//! RFC 3339 or a wall-clock time, and read local time. This module is the only place that
//! converts, with `jiff` (a real time-zone database: offsets and daylight saving are right
//! for any date, not just today's).
//!
//! # Layout
//! - [`parse_time`] / [`parse_time_in`]: `--since` / `--until` / `--as-of` values.
//! - [`parse_interval`]: `--interval` seconds.
//! - [`Local`]: a time zone and how times and durations are shown in it.

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

/// A time zone for showing times to people.
#[derive(Debug, Clone)]
pub struct Local {
    tz: TimeZone,
}

impl Local {
    /// The machine's zone (`TZ`, else `/etc/localtime`; UTC when neither says).
    pub fn system() -> Self {
        Self::new(TimeZone::system())
    }

    pub fn new(tz: TimeZone) -> Self {
        Self { tz }
    }

    /// The zone's name for headers: its IANA name, else its current offset.
    pub fn name(&self) -> String {
        match self.tz.iana_name() {
            Some(n) => n.to_owned(),
            None => self.tz.to_offset(Timestamp::now()).to_string(),
        }
    }

    /// `2025-10-09 16:53:20`, in this zone.
    pub fn datetime(&self, secs: i64) -> String {
        self.format(secs, "%Y-%m-%d %H:%M:%S")
    }

    /// `strftime` of `secs` in this zone; out-of-range times are shown as raw seconds.
    pub fn format(&self, secs: i64, fmt: &str) -> String {
        match Timestamp::from_second(secs) {
            Ok(ts) => ts.to_zoned(self.tz.clone()).strftime(fmt).to_string(),
            Err(_) => secs.to_string(),
        }
    }

    /// The zone's UTC offset at `secs`, in seconds (for aligning chart ticks to local
    /// hours).
    pub fn offset_secs(&self, secs: i64) -> i64 {
        Timestamp::from_second(secs)
            .map(|ts| i64::from(self.tz.to_offset(ts).seconds()))
            .unwrap_or(0)
    }
}

/// `1h 02m`, `12m 05s`, `45s`: a duration for people.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
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

    #[test]
    fn local_times_follow_the_zone() {
        let sh = Local::new(shanghai());
        assert_eq!(sh.datetime(1_760_000_000), "2025-10-09 16:53:20");
        assert_eq!(sh.name(), "Asia/Shanghai");
        assert_eq!(sh.offset_secs(1_760_000_000), 8 * 3600);
        let utc = Local::new(TimeZone::UTC);
        assert_eq!(utc.datetime(1_760_000_000), "2025-10-09 08:53:20");
        // Daylight saving: New York is -04:00 in October, -05:00 in January.
        let ny = Local::new(TimeZone::get("America/New_York").expect("tzdb"));
        assert_eq!(ny.datetime(1_760_000_000), "2025-10-09 04:53:20");
        assert_eq!(ny.datetime(1_767_225_600), "2025-12-31 19:00:00");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(725), "12m 05s");
        assert_eq!(human_duration(3720), "1h 02m");
        assert_eq!(human_duration(90_000), "25h 00m");
        assert_eq!(human_duration(-3), "0s");
    }
}
