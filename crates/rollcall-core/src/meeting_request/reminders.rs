//! `reminders` of `meeting/create` and `meeting/update`: read field by field, then turned into
//! a repetition rule ([`rule_of`]) and its occurrences ([`occurrences_of`]).

use serde_json::Map;

use rollcall_wire::lenient::{BadField, Fields};
use rollcall_wire::meeting::Reminders;

use crate::recurrence::{self, Frequency, Rule, TimeZone, Until};

use super::small;

/// `reminders`, with every field well-formed (not yet checked as a schedule: see [`rule_of`]).
pub(super) fn reminders(f: &Fields<'_>) -> Result<Option<Reminders>, BadField> {
    let Some(r) = f.object("reminders")? else {
        return Ok(None);
    };
    let list = |name: &'static str, max: u64, items: usize| -> Result<Option<Vec<u32>>, BadField> {
        Ok(r.opt_uint_list(name, max, items)?
            .map(|v| v.into_iter().map(|n| n as u32).collect()))
    };
    Ok(Some(Reminders {
        is_repeat: small(&r, "reminders.is_repeat", 1)?,
        repeat_type: r.opt_u32("reminders.repeat_type")?,
        repeat_until_type: r.opt_u32("reminders.repeat_until_type")?,
        repeat_until_count: r.opt_u32("reminders.repeat_until_count")?,
        repeat_until: r.opt_uint("reminders.repeat_until", u64::from(u32::MAX))?,
        repeat_interval: r.opt_u32("reminders.repeat_interval")?,
        is_custom_repeat: small(&r, "reminders.is_custom_repeat", 1)?,
        repeat_day_of_week: list("reminders.repeat_day_of_week", 7, 7)?,
        repeat_day_of_month: list("reminders.repeat_day_of_month", 31, 31)?,
        remind_before: list("reminders.remind_before", 7 * 86_400, 16)?,
        extra: Map::new(),
    }))
}

/// The repetition rule `reminders` asks for, or `None` for a one-off (`is_repeat` absent or 0).
///
/// Accepted (WeCom's codes): `repeat_type` 0 daily, 1 weekly, 2 monthly, 7 every working day;
/// `repeat_interval` every N (default 1); `repeat_until_type` 0 "through the day of
/// `repeat_until`" (required then) or 1 "`repeat_until_count` times" (required then);
/// `is_custom_repeat` 1 with `repeat_day_of_week` (weekly) or `repeat_day_of_month` (monthly).
pub fn rule_of(r: &Reminders, tz: &TimeZone) -> Result<Option<Rule>, BadField> {
    if r.is_repeat != Some(1) {
        return Ok(None);
    }
    let frequency = Frequency::from_code(u64::from(r.repeat_type.unwrap_or(0)))
        .ok_or(BadField("reminders.repeat_type"))?;
    let until = match r.repeat_until_type.unwrap_or(0) {
        0 => {
            let at = r
                .repeat_until
                .filter(|&t| t != 0)
                .ok_or(BadField("reminders.repeat_until"))?;
            Until::date_of(at as i64, tz).map_err(|e| BadField(e.0))?
        }
        1 => Until::Count(
            r.repeat_until_count
                .filter(|&n| n != 0 && n <= max_occurrences(frequency))
                .ok_or(BadField("reminders.repeat_until_count"))?,
        ),
        _ => return Err(BadField("reminders.repeat_until_type")),
    };
    let custom = r.is_custom_repeat == Some(1);
    let days = |list: &Option<Vec<u32>>, name: &'static str| -> Result<Vec<u8>, BadField> {
        let d: Vec<u8> = list.iter().flatten().map(|&n| n as u8).collect();
        if d.is_empty() {
            Err(BadField(name))
        } else {
            Ok(d)
        }
    };
    let days_of_week = if custom && frequency == Frequency::Weekly {
        days(&r.repeat_day_of_week, "reminders.repeat_day_of_week")?
    } else {
        Vec::new()
    };
    let days_of_month = if custom && frequency == Frequency::Monthly {
        days(&r.repeat_day_of_month, "reminders.repeat_day_of_month")?
    } else {
        Vec::new()
    };
    Ok(Some(Rule {
        frequency,
        interval: r.repeat_interval.filter(|&n| n != 0).unwrap_or(1),
        days_of_week,
        days_of_month,
        until,
    }))
}

/// Most sub-meetings WeCom makes of one recurring meeting: "每天、每个工作日、每周最大支持200场
/// 子会议 / 每月最大支持50场子会议" (path/98148, `repeat_until_count`, `repeat_until`).
pub fn max_occurrences(frequency: Frequency) -> u32 {
    match frequency {
        Frequency::Monthly => 50,
        Frequency::Daily | Frequency::Weekly | Frequency::Workdays => 200,
    }
}

/// The occurrences of a meeting at `start` for `duration` under `reminders` (`None`: one-off,
/// or `reminders` that do not repeat).
///
/// A `repeat_until` date past the most occurrences WeCom allows is not refused: WeCom's page
/// says "若会议结束时间超出最大结束时间…则默认设置为最大结束时间", so the series stops at
/// [`max_occurrences`].
pub fn occurrences_of(
    r: Option<&Reminders>,
    start: i64,
    duration: i64,
    tz: &TimeZone,
) -> Result<Option<Vec<(i64, i64)>>, BadField> {
    let Some(rule) = r.map(|r| rule_of(r, tz)).transpose()?.flatten() else {
        return Ok(None);
    };
    let max = max_occurrences(rule.frequency);
    let Until::Date(last) = rule.until else {
        return recurrence::occurrences(start, duration, &rule, tz)
            .map(Some)
            .map_err(|e| BadField(e.0));
    };
    let local_date = |at: i64| {
        jiff::Timestamp::from_second(at)
            .map(|t| t.to_zoned(tz.clone()).date())
            .map_err(|_| BadField("meeting_start"))
    };
    if last < local_date(start)? {
        return Err(BadField("reminders.repeat_until"));
    }
    // The first `max` occurrences, then those on or before the last date.
    let capped = Rule {
        until: Until::Count(max),
        ..rule
    };
    let mut out = Vec::new();
    for (at, end) in
        recurrence::occurrences(start, duration, &capped, tz).map_err(|e| BadField(e.0))?
    {
        if local_date(at)? > last {
            break;
        }
        out.push((at, end));
    }
    if out.is_empty() {
        return Err(BadField("reminders"));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(r: serde_json::Value) -> Result<Option<Rule>, BadField> {
        let body = json!({ "reminders": r });
        let f = Fields::new(body.as_object().unwrap());
        rule_of(
            &reminders(&f)?.expect("reminders"),
            &recurrence::default_tz(),
        )
    }

    #[test]
    fn reminders_become_rules() {
        assert_eq!(rule(json!({"is_repeat": 0, "repeat_type": 9})), Ok(None));
        let r = rule(
            json!({"is_repeat": 1, "repeat_type": 1, "repeat_interval": "2",
                            "repeat_until_type": 1, "repeat_until_count": 4}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (r.frequency, r.interval, r.until),
            (Frequency::Weekly, 2, Until::Count(4))
        );
        let r = rule(
            json!({"is_repeat": 1, "repeat_type": 2, "is_custom_repeat": 1,
                            "repeat_day_of_month": [1, 15], "repeat_until": 1_800_000_000}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.days_of_month, [1, 15]);
        assert!(matches!(r.until, Until::Date(_)));
        for (r, named) in [
            (
                json!({"is_repeat": 1, "repeat_type": 3}),
                "reminders.repeat_type",
            ),
            (json!({"is_repeat": 1}), "reminders.repeat_until"),
            (
                json!({"is_repeat": 1, "repeat_until_type": 1}),
                "reminders.repeat_until_count",
            ),
            (
                json!({"is_repeat": 1, "repeat_until_type": 2, "repeat_until": 1}),
                "reminders.repeat_until_type",
            ),
            (
                json!({"is_repeat": 1, "repeat_type": 1, "is_custom_repeat": 1,
                       "repeat_until_type": 1, "repeat_until_count": 2}),
                "reminders.repeat_day_of_week",
            ),
        ] {
            assert_eq!(rule(r.clone()), Err(BadField(named)), "{r}");
        }
    }
}
