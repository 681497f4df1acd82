//! Times and durations as people read them: local time through a real time-zone database
//! (`jiff`: offsets and daylight saving are right for any date, not just today's).
//!
//! Used by the report and by `rollcall attendees`' table; parsing what people type
//! (`--since` and friends) stays with the command line.

use jiff::tz::TimeZone;
use jiff::Timestamp;

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
