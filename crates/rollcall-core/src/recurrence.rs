//! Recurring meetings: the sub-meetings a `reminders` block generates (WeCom "创建预约会议").
//!
//! Codes accepted, as WeCom documents them:
//! - `repeat_type`: 0 daily, 1 weekly, 2 monthly, 7 every working day (Monday to Friday);
//! - `repeat_interval`: every N days / weeks / months (default 1; "every two weeks" is weekly
//!   with interval 2); ignored for working days;
//! - `is_custom_repeat` with `repeat_day_of_week` (1 = Monday … 7 = Sunday) for weekly, or
//!   `repeat_day_of_month` (1..=31) for monthly;
//! - `repeat_until_type`: 0 until the date of `repeat_until` (inclusive, in the meeting's time
//!   zone), 1 after `repeat_until_count` occurrences.
//!
//! Occurrences keep the first meeting's wall-clock time in the meeting's time zone (Asia/Shanghai
//! unless configured), so a weekly 09:00 meeting stays at 09:00 across DST changes where the
//! zone has them. A monthly day that a month lacks (the 31st, or the 29th of February in a
//! common year) is skipped for that month, as calendar applications do, rather than moved.
//! Occurrences before the first meeting's date are never generated.

use jiff::civil::{Date, DateTime, Weekday};
use jiff::{Timestamp, ToSpan};

/// A time zone (IANA database, bundled into the binary); the server keeps one for recurring
/// meetings. Re-exported so callers need not depend on the date-time crate.
pub use jiff::tz::TimeZone;

/// Most occurrences one recurring meeting may have.
pub const MAX_OCCURRENCES: usize = 500;

/// How often a meeting repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Workdays,
}

impl Frequency {
    /// From WeCom's `repeat_type`.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(Frequency::Daily),
            1 => Some(Frequency::Weekly),
            2 => Some(Frequency::Monthly),
            7 => Some(Frequency::Workdays),
            _ => None,
        }
    }
    pub fn code(self) -> u32 {
        match self {
            Frequency::Daily => 0,
            Frequency::Weekly => 1,
            Frequency::Monthly => 2,
            Frequency::Workdays => 7,
        }
    }
}

/// When the repetition stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Through this local date.
    Date(Date),
    /// After this many occurrences.
    Count(u32),
}

impl Until {
    /// "Through the day of `repeat_until`": the local date of the instant `at` in `tz`.
    pub fn date_of(at: i64, tz: &TimeZone) -> Result<Self, RecurrenceError> {
        let date = Timestamp::from_second(at)
            .map_err(|_| RecurrenceError("reminders.repeat_until"))?
            .to_zoned(tz.clone())
            .date();
        Ok(Until::Date(date))
    }
}

/// A validated repetition rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub frequency: Frequency,
    pub interval: u32,
    /// Custom weekly days, 1 = Monday … 7 = Sunday (empty: the first meeting's weekday).
    pub days_of_week: Vec<u8>,
    /// Custom monthly days, 1..=31 (empty: the first meeting's day of month).
    pub days_of_month: Vec<u8>,
    pub until: Until,
}

/// Why a rule yields no usable schedule; each names the `reminders` field at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecurrenceError(pub &'static str);

/// The `(start, end)` unix seconds of every occurrence of a meeting starting at `start` for
/// `duration` seconds, in `tz`.
pub fn occurrences(
    start: i64,
    duration: i64,
    rule: &Rule,
    tz: &TimeZone,
) -> Result<Vec<(i64, i64)>, RecurrenceError> {
    if rule.interval == 0 || rule.interval > 99 {
        return Err(RecurrenceError("reminders.repeat_interval"));
    }
    if rule.days_of_week.iter().any(|d| !(1..=7).contains(d)) {
        return Err(RecurrenceError("reminders.repeat_day_of_week"));
    }
    if rule.days_of_month.iter().any(|d| !(1..=31).contains(d)) {
        return Err(RecurrenceError("reminders.repeat_day_of_month"));
    }
    let first = Timestamp::from_second(start)
        .map_err(|_| RecurrenceError("meeting_start"))?
        .to_zoned(tz.clone())
        .datetime();
    let (limit_date, limit_count) = match rule.until {
        Until::Date(d) if d < first.date() => {
            return Err(RecurrenceError("reminders.repeat_until"))
        }
        Until::Date(d) => (Some(d), MAX_OCCURRENCES + 1),
        Until::Count(0) => return Err(RecurrenceError("reminders.repeat_until_count")),
        Until::Count(n) if n as usize > MAX_OCCURRENCES => {
            return Err(RecurrenceError("reminders.repeat_until_count"))
        }
        Until::Count(n) => (None, n as usize),
    };
    let mut out = Vec::new();
    let mut dates = DateIter::new(first.date(), rule);
    while out.len() < limit_count {
        let Some(date) = dates.next() else { break };
        if limit_date.is_some_and(|l| date > l) {
            break;
        }
        let local = DateTime::from_parts(date, first.time());
        let at = local
            .to_zoned(tz.clone())
            .map_err(|_| RecurrenceError("meeting_start"))?
            .timestamp()
            .as_second();
        out.push((at, at + duration));
    }
    if out.len() > MAX_OCCURRENCES {
        return Err(RecurrenceError("reminders.repeat_until"));
    }
    if out.is_empty() {
        return Err(RecurrenceError("reminders"));
    }
    Ok(out)
}

/// The dates of a rule, in order, from the first meeting's date. Bounded: gives up after
/// scanning far more days than any accepted schedule needs.
struct DateIter<'a> {
    first: Date,
    rule: &'a Rule,
    day: Date,
    scanned: u32,
}

/// Days scanned before the iterator stops (a rule that matches nothing must not spin).
const SCAN_LIMIT: u32 = 100 * 366;

impl<'a> DateIter<'a> {
    fn new(first: Date, rule: &'a Rule) -> Self {
        Self {
            first,
            rule,
            day: first,
            scanned: 0,
        }
    }

    fn matches(&self, d: Date) -> bool {
        let r = self.rule;
        let interval = i64::from(r.interval);
        match r.frequency {
            Frequency::Daily => (d - self.first).get_days() as i64 % interval == 0,
            Frequency::Workdays => !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday),
            Frequency::Weekly => {
                let monday = |x: Date| {
                    x.checked_sub(i64::from(x.weekday().to_monday_zero_offset()).days())
                        .unwrap_or(x)
                };
                let weeks = (monday(d) - monday(self.first)).get_days() as i64 / 7;
                let day_ok = if r.days_of_week.is_empty() {
                    d.weekday() == self.first.weekday()
                } else {
                    r.days_of_week
                        .contains(&(d.weekday().to_monday_one_offset() as u8))
                };
                day_ok && weeks % interval == 0
            }
            Frequency::Monthly => {
                let months = (i64::from(d.year()) * 12 + i64::from(d.month()))
                    - (i64::from(self.first.year()) * 12 + i64::from(self.first.month()));
                let day_ok = if r.days_of_month.is_empty() {
                    d.day() == self.first.day()
                } else {
                    r.days_of_month.contains(&(d.day() as u8))
                };
                day_ok && months % interval == 0
            }
        }
    }
}

impl Iterator for DateIter<'_> {
    type Item = Date;

    fn next(&mut self) -> Option<Date> {
        while self.scanned < SCAN_LIMIT {
            let d = self.day;
            self.day = d.tomorrow().ok()?;
            self.scanned += 1;
            if self.matches(d) {
                return Some(d);
            }
        }
        None
    }
}

/// The default time zone of recurring meetings.
pub fn default_tz() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(8)))
}

/// Why a configured time zone name was refused; the message says what to use instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeZoneError {
    #[error("the time zone name is empty; use an IANA name such as Asia/Shanghai")]
    Empty,
    #[error("unknown time zone {0:?}; use an IANA name such as Asia/Shanghai")]
    Unknown(String),
}

/// The time zone called `name` in the IANA database (`"Asia/Shanghai"`, `"Europe/Berlin"`,
/// `"UTC"`), or why not: for validating configuration at start-up.
pub fn time_zone(name: &str) -> Result<TimeZone, TimeZoneError> {
    if name.trim().is_empty() {
        return Err(TimeZoneError::Empty);
    }
    TimeZone::get(name).map_err(|_| TimeZoneError::Unknown(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2025-01-31 09:00 Asia/Shanghai (a Friday).
    const START: i64 = 1_738_285_200;

    fn rule(frequency: Frequency, interval: u32, until: Until) -> Rule {
        Rule {
            frequency,
            interval,
            days_of_week: vec![],
            days_of_month: vec![],
            until,
        }
    }

    fn dates(v: &[(i64, i64)]) -> Vec<String> {
        let tz = default_tz();
        v.iter()
            .map(|(s, _)| {
                Timestamp::from_second(*s)
                    .unwrap()
                    .to_zoned(tz.clone())
                    .strftime("%Y-%m-%d %H:%M %a")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn daily_weekly_fortnightly() {
        let tz = default_tz();
        let d = occurrences(
            START,
            3600,
            &rule(Frequency::Daily, 1, Until::Count(3)),
            &tz,
        )
        .unwrap();
        assert_eq!(
            dates(&d),
            [
                "2025-01-31 09:00 Fri",
                "2025-02-01 09:00 Sat",
                "2025-02-02 09:00 Sun"
            ]
        );
        assert!(d.iter().all(|(s, e)| e - s == 3600));
        let w = occurrences(
            START,
            3600,
            &rule(Frequency::Weekly, 2, Until::Count(3)),
            &tz,
        )
        .unwrap();
        assert_eq!(
            dates(&w),
            [
                "2025-01-31 09:00 Fri",
                "2025-02-14 09:00 Fri",
                "2025-02-28 09:00 Fri"
            ]
        );
    }

    #[test]
    fn working_days_skip_weekends() {
        let w = occurrences(
            START,
            60,
            &rule(Frequency::Workdays, 1, Until::Count(4)),
            &default_tz(),
        )
        .unwrap();
        assert_eq!(
            dates(&w),
            [
                "2025-01-31 09:00 Fri",
                "2025-02-03 09:00 Mon",
                "2025-02-04 09:00 Tue",
                "2025-02-05 09:00 Wed"
            ]
        );
    }

    #[test]
    fn monthly_on_the_31st_skips_short_months() {
        let m = occurrences(
            START,
            60,
            &rule(Frequency::Monthly, 1, Until::Count(4)),
            &default_tz(),
        )
        .unwrap();
        assert_eq!(
            dates(&m),
            [
                "2025-01-31 09:00 Fri",
                "2025-03-31 09:00 Mon",
                "2025-05-31 09:00 Sat",
                "2025-07-31 09:00 Thu"
            ]
        );
    }

    #[test]
    fn monthly_on_the_29th_meets_february_only_in_leap_years() {
        let start = DateTime::constant(2027, 12, 29, 9, 0, 0, 0)
            .to_zoned(default_tz())
            .unwrap()
            .timestamp()
            .as_second();
        let m = occurrences(
            start,
            60,
            &rule(Frequency::Monthly, 1, Until::Count(4)),
            &default_tz(),
        )
        .unwrap();
        assert_eq!(
            dates(&m),
            [
                "2027-12-29 09:00 Wed",
                "2028-01-29 09:00 Sat",
                "2028-02-29 09:00 Tue",
                "2028-03-29 09:00 Wed"
            ]
        );
    }

    #[test]
    fn custom_days_and_until_a_date() {
        let mut r = rule(
            Frequency::Weekly,
            1,
            Until::Date(Date::constant(2025, 2, 12)),
        );
        r.days_of_week = vec![1, 3, 5];
        let w = occurrences(START, 60, &r, &default_tz()).unwrap();
        assert_eq!(
            dates(&w),
            [
                "2025-01-31 09:00 Fri",
                "2025-02-03 09:00 Mon",
                "2025-02-05 09:00 Wed",
                "2025-02-07 09:00 Fri",
                "2025-02-10 09:00 Mon",
                "2025-02-12 09:00 Wed"
            ]
        );
        let mut r = rule(Frequency::Monthly, 1, Until::Count(3));
        r.days_of_month = vec![1, 15];
        let m = occurrences(START, 60, &r, &default_tz()).unwrap();
        assert_eq!(
            dates(&m),
            [
                "2025-02-01 09:00 Sat",
                "2025-02-15 09:00 Sat",
                "2025-03-01 09:00 Sat"
            ]
        );
    }

    #[test]
    fn time_zones_keep_the_wall_clock() {
        // 2025-03-03 09:00 in New York (EST), weekly across the DST change on 2025-03-09.
        let tz = TimeZone::get("America/New_York").unwrap();
        let start = DateTime::constant(2025, 3, 3, 9, 0, 0, 0)
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
            .as_second();
        let w = occurrences(start, 60, &rule(Frequency::Weekly, 1, Until::Count(2)), &tz).unwrap();
        assert_eq!(w[1].0 - w[0].0, 7 * 86_400 - 3600);
    }

    #[test]
    fn refusals_name_the_field() {
        let tz = default_tz();
        assert_eq!(
            occurrences(START, 60, &rule(Frequency::Daily, 0, Until::Count(3)), &tz),
            Err(RecurrenceError("reminders.repeat_interval"))
        );
        assert_eq!(
            occurrences(START, 60, &rule(Frequency::Daily, 1, Until::Count(0)), &tz),
            Err(RecurrenceError("reminders.repeat_until_count"))
        );
        assert_eq!(
            occurrences(
                START,
                60,
                &rule(Frequency::Daily, 1, Until::Count(501)),
                &tz
            ),
            Err(RecurrenceError("reminders.repeat_until_count"))
        );
        assert_eq!(
            occurrences(
                START,
                60,
                &rule(
                    Frequency::Daily,
                    1,
                    Until::Date(Date::constant(2025, 1, 30))
                ),
                &tz
            ),
            Err(RecurrenceError("reminders.repeat_until"))
        );
        assert_eq!(
            occurrences(
                START,
                60,
                &rule(Frequency::Daily, 1, Until::Date(Date::constant(2030, 1, 1))),
                &tz
            ),
            Err(RecurrenceError("reminders.repeat_until"))
        );
        let mut r = rule(Frequency::Weekly, 1, Until::Count(2));
        r.days_of_week = vec![8];
        assert_eq!(
            occurrences(START, 60, &r, &tz),
            Err(RecurrenceError("reminders.repeat_day_of_week"))
        );
    }

    #[test]
    fn time_zones_by_name_and_until_dates() {
        assert!(time_zone("Europe/Berlin").is_ok());
        assert!(time_zone("UTC").is_ok());
        for bad in ["", "Mars/Olympus", "+08:00"] {
            assert!(time_zone(bad).is_err(), "{bad}");
        }
        // 2025-01-31 23:30 UTC is already February 1st in Shanghai.
        let at = 1_738_366_200;
        assert_eq!(
            Until::date_of(at, &default_tz()),
            Ok(Until::Date(Date::constant(2025, 2, 1)))
        );
        assert_eq!(
            Until::date_of(at, &TimeZone::UTC),
            Ok(Until::Date(Date::constant(2025, 1, 31)))
        );
    }

    proptest! {
        #[test]
        fn counts_order_and_spacing(
            start in 1_600_000_000i64..2_000_000_000,
            freq in prop::sample::select(vec![Frequency::Daily, Frequency::Weekly, Frequency::Monthly, Frequency::Workdays]),
            interval in 1u32..5,
            count in 1u32..60,
        ) {
            let tz = default_tz();
            let occ = occurrences(start, 1800, &rule(freq, interval, Until::Count(count)), &tz).unwrap();
            prop_assert_eq!(occ.len(), count as usize);
            // The first occurrence is the first matching day from the start's date (a working-day
            // schedule created on a Saturday begins on Monday).
            if freq == Frequency::Workdays {
                prop_assert!(occ[0].0 >= start && occ[0].0 - start <= 2 * 86_400);
            } else {
                prop_assert_eq!(occ[0].0, start);
            }
            prop_assert!(occ.windows(2).all(|w| w[0].0 < w[1].0));
            // Shanghai has no DST: every occurrence is at the first one's time of day.
            prop_assert!(occ.iter().all(|(s, _)| (s - start).rem_euclid(86_400) == 0));
            for w in occ.windows(2) {
                let gap = w[1].0 - w[0].0;
                match freq {
                    Frequency::Daily => prop_assert_eq!(gap, 86_400 * i64::from(interval)),
                    Frequency::Weekly => prop_assert_eq!(gap, 7 * 86_400 * i64::from(interval)),
                    Frequency::Workdays => prop_assert!(gap == 86_400 || gap == 3 * 86_400),
                    Frequency::Monthly => prop_assert!(gap >= 28 * 86_400 * i64::from(interval)),
                }
            }
        }

        #[test]
        fn until_a_date_stops_on_that_date(start in 1_600_000_000i64..2_000_000_000, days in 0i64..200) {
            let tz = default_tz();
            let first = Timestamp::from_second(start).unwrap().to_zoned(tz.clone()).date();
            let until = first.checked_add(days.days()).unwrap();
            let occ = occurrences(start, 60, &rule(Frequency::Daily, 1, Until::Date(until)), &tz).unwrap();
            prop_assert_eq!(occ.len() as i64, days + 1);
        }
    }
}
