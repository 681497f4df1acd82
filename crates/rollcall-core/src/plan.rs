//! What the meeting calls make of a request (SPEC §4): the limits of `meeting/create`, a new
//! recurring meeting's sub-meetings, a rescheduled meeting's sub-meetings, and the window of
//! `meeting/get_user_meetingid`.
//!
//! # Sub-meeting ids and keys
//! A sub-meeting's id is its start time as a string, as WeCom's are (and as the admin API's
//! are). Its key is what sessions and cursors refer to: keys of sub-meetings that stay are
//! never changed, and new ones get keys above every key the meeting has.
//!
//! # Rescheduling
//! Changing a recurring meeting's start, duration or rule keeps its *history* — sub-meetings
//! that already had attendance or whose time passed — and replaces only the ones still
//! pending with the occurrences of the new schedule. A meeting with history cannot become a
//! one-off (its sessions belong to sub-meetings), and a webinar cannot become recurring.

use std::collections::HashMap;

use crate::model::{Meeting, MeetingType, SubMeeting};
use crate::schedule::{status, Presence, Status};
use crate::DAY;

/// Shortest `meeting_duration`, seconds (5 minutes).
pub const MIN_DURATION: i64 = 300;
/// Longest `meeting_duration` of the WeCom meeting calls, seconds (one second short of a day).
/// The admin API, which builds fixtures, allows longer meetings (its own limit).
pub const MAX_MEETING_CALL_DURATION: i64 = 86_399;

/// Longest `[begin_time, end_time]` of `meeting/get_user_meetingid`: 180 days.
pub const USER_SPAN: i64 = 180 * DAY;

/// The sub-meetings of a new recurring meeting: one per occurrence, named by its start time
/// as WeCom names them; two occurrences at the same second (possible only through the admin
/// API's explicit list) get `<start>-<index>` so ids stay unique within the meeting.
pub fn new_sub_meetings(occurrences: &[(i64, i64)]) -> Vec<(String, i64, i64)> {
    let mut out: Vec<(String, i64, i64)> = Vec::with_capacity(occurrences.len());
    for (i, &(s, e)) in occurrences.iter().enumerate() {
        let mut id = s.to_string();
        if out.iter().any(|(x, _, _)| *x == id) {
            id = format!("{s}-{i}");
        }
        out.push((id, s, e));
    }
    out
}

/// Why a reschedule is refused. Either way the request field at fault is `reminders`
/// ([`RescheduleError::field`]): the new rule cannot hold the meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RescheduleError {
    /// A one-off was asked of a meeting with history (its sessions belong to sub-meetings).
    HistoryNeedsRecurrence,
    /// A webinar cannot become recurring.
    WebinarCannotRecur,
}

impl RescheduleError {
    /// The request field named in the refusal.
    pub fn field(self) -> &'static str {
        "reminders"
    }
}

/// A meeting's type and complete sub-meeting list after its schedule changed.
///
/// `occurrences` is the new schedule (`None`: a one-off); `presence` says which sub-meetings
/// had attendance. See the module documentation for what is kept.
pub fn reschedule(
    now: i64,
    old: &Meeting,
    presence: &HashMap<i64, Presence>,
    occurrences: Option<&[(i64, i64)]>,
) -> Result<(MeetingType, Vec<SubMeeting>), RescheduleError> {
    let history: Vec<SubMeeting> = old
        .sub_meetings
        .iter()
        .filter(|s| {
            let p = presence.get(&s.key).copied().unwrap_or_default();
            status(now, s.end_time, false, p) != Status::Pending
        })
        .cloned()
        .collect();
    let Some(occurrences) = occurrences else {
        if !history.is_empty() {
            return Err(RescheduleError::HistoryNeedsRecurrence);
        }
        let kind = match old.meeting_type {
            MeetingType::Webinar => MeetingType::Webinar,
            _ => MeetingType::OneOff,
        };
        return Ok((kind, Vec::new()));
    };
    if old.meeting_type == MeetingType::Webinar {
        return Err(RescheduleError::WebinarCannotRecur);
    }
    let first_key = old.sub_meetings.iter().map(|s| s.key).max().unwrap_or(0) + 1;
    let mut subs = history;
    for (key, &(start, end)) in (first_key..).zip(occurrences) {
        let mut id = start.to_string();
        if subs.iter().any(|s| s.sub_meetingid == id) {
            // An occurrence at the very time of one kept (attended early): keep ids unique.
            id = format!("{start}-{key}");
        }
        subs.push(SubMeeting {
            key,
            sub_meetingid: id,
            start_time: start,
            end_time: end,
        });
    }
    subs.sort_by_key(|s| (s.start_time, s.key));
    Ok((MeetingType::Recurring, subs))
}

/// Why a `get_user_meetingid` window is refused; always reported as `begin_time` (the begin is
/// what lies after the end, or too far before it), as get_attendee_list names `start_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserWindowError;

/// The inclusive `[begin, end]` of `meeting/get_user_meetingid` (`0` = not given), as WeCom's
/// page (path/99050, path/98714) states it: "如果begin_time和end_time都没填的话，默认end_time为
/// 当前时间", the span at most 180 days, and "end_time仅用于约束历史会议，对于未开始的会议，只要
/// 开始时间大于等于begin_time都会返回":
///
/// | given | window before the upcoming rule |
/// |---|---|
/// | neither | `[now − 180 days, now]` (WeCom: end = now; the begin is the widest span) |
/// | only `begin_time` | `[begin, begin + 180 days]` |
/// | only `end_time` | `[end − 180 days, end]` |
/// | both | as given; refused if `begin > end` or the span exceeds 180 days |
///
/// Then the upcoming rule: when the window reaches now (`end ≥ now`), every meeting that has
/// not started yet is listed too, so `end` becomes unbounded ([`UNBOUNDED`]). A window that
/// ends in the past lists history only (a meeting starting later lies outside it); rollcall
/// does not add upcoming meetings to a past window, which would need a second range (noted in
/// ARCHITECTURE.md as not kept).
pub fn user_window(
    now: i64,
    begin_time: Option<u64>,
    end_time: Option<u64>,
) -> Result<(i64, i64), UserWindowError> {
    let clamp = |v: u64| i64::try_from(v).map_err(|_| UserWindowError);
    let begin = begin_time.filter(|&b| b != 0).map(clamp).transpose()?;
    let end = end_time.filter(|&e| e != 0).map(clamp).transpose()?;
    let (b, e) = match (begin, end) {
        (None, None) => (now - USER_SPAN, now),
        (Some(b), None) => (b, b.saturating_add(USER_SPAN)),
        (None, Some(e)) => (e.saturating_sub(USER_SPAN), e),
        (Some(b), Some(e)) if b > e || e - b > USER_SPAN => return Err(UserWindowError),
        (Some(b), Some(e)) => (b, e),
    };
    Ok((b, if e >= now { UNBOUNDED } else { e }))
}

/// The end of a `get_user_meetingid` window that reaches the present: no meeting yet to start
/// is left out.
pub const UNBOUNDED: i64 = i64::MAX;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AppRef;
    use proptest::prelude::*;

    fn meeting(kind: MeetingType, subs: &[(i64, i64, i64)]) -> Meeting {
        Meeting {
            key: 1,
            meetingid: "hy1".into(),
            meeting_code: "1".into(),
            owner: AppRef {
                corpid: "ww".into(),
                agentid: 1,
            },
            meeting_type: kind,
            title: "t".into(),
            meeting_start: 1000,
            meeting_duration: 100,
            admin_userid: None,
            sub_meetings: subs
                .iter()
                .map(|&(key, s, e)| SubMeeting {
                    key,
                    sub_meetingid: s.to_string(),
                    start_time: s,
                    end_time: e,
                })
                .collect(),
            details: Default::default(),
            cancelled: false,
        }
    }

    fn ended() -> Presence {
        Presence {
            attended: true,
            open: false,
        }
    }

    #[test]
    fn new_sub_meetings_keep_ids_unique() {
        let subs = new_sub_meetings(&[(10, 20), (10, 30)]);
        assert_eq!(subs[0].0, "10");
        assert_eq!(subs[1].0, "10-1");
    }

    #[test]
    fn new_sub_meetings_are_named_by_their_start() {
        assert_eq!(
            new_sub_meetings(&[(10, 20), (30, 40)]),
            [("10".to_string(), 10, 20), ("30".to_string(), 30, 40)]
        );
    }

    #[test]
    fn rescheduling_keeps_history_and_replaces_what_is_pending() {
        // Sub-meetings 1 (past, attended), 2 (past, nobody came), 3 and 4 (ahead).
        let old = meeting(
            MeetingType::Recurring,
            &[(1, 100, 200), (2, 300, 400), (3, 600, 700), (4, 800, 900)],
        );
        let presence = HashMap::from([(1, ended())]);
        let (kind, subs) =
            reschedule(500, &old, &presence, Some(&[(650, 750), (850, 950)])).expect("reschedule");
        assert_eq!(kind, MeetingType::Recurring);
        let got: Vec<(i64, &str, i64)> = subs
            .iter()
            .map(|s| (s.key, s.sub_meetingid.as_str(), s.start_time))
            .collect();
        assert_eq!(
            got,
            [
                (1, "100", 100),
                (2, "300", 300),
                (5, "650", 650),
                (6, "850", 850)
            ],
            "history kept with its keys, new keys above every old one"
        );
        // Becoming a one-off is refused while there is history, allowed without.
        assert_eq!(
            reschedule(500, &old, &presence, None),
            Err(RescheduleError::HistoryNeedsRecurrence)
        );
        let fresh = meeting(MeetingType::Recurring, &[(1, 600, 700)]);
        assert_eq!(
            reschedule(500, &fresh, &HashMap::new(), None),
            Ok((MeetingType::OneOff, vec![]))
        );
    }

    #[test]
    fn an_early_attended_occurrence_keeps_its_id_unique() {
        // Sub-meeting 1 lies ahead but was attended early (so it is history).
        let old = meeting(MeetingType::Recurring, &[(1, 600, 700)]);
        let presence = HashMap::from([(1, ended())]);
        let (_, subs) = reschedule(500, &old, &presence, Some(&[(600, 650)])).unwrap();
        let ids: Vec<&str> = subs.iter().map(|s| s.sub_meetingid.as_str()).collect();
        assert_eq!(ids, ["600", "600-2"]);
    }

    #[test]
    fn refusals_name_reminders() {
        for e in [
            RescheduleError::HistoryNeedsRecurrence,
            RescheduleError::WebinarCannotRecur,
        ] {
            assert_eq!(e.field(), "reminders");
        }
    }

    #[test]
    fn one_offs_become_recurring_and_webinars_stay_webinars() {
        let one = meeting(MeetingType::OneOff, &[]);
        let (kind, subs) = reschedule(0, &one, &HashMap::new(), Some(&[(10, 20)])).unwrap();
        assert_eq!(
            (kind, subs.len(), subs[0].key),
            (MeetingType::Recurring, 1, 1)
        );
        let web = meeting(MeetingType::Webinar, &[]);
        assert_eq!(
            reschedule(0, &web, &HashMap::new(), None),
            Ok((MeetingType::Webinar, vec![]))
        );
        assert_eq!(
            reschedule(0, &web, &HashMap::new(), Some(&[(10, 20)])),
            Err(RescheduleError::WebinarCannotRecur)
        );
    }

    #[test]
    fn the_user_window_table() {
        let now = 1_000_000_000;
        // Neither: WeCom's end = now, 180 days back, and everything not started yet.
        assert_eq!(
            user_window(now, None, None),
            Ok((now - USER_SPAN, UNBOUNDED))
        );
        assert_eq!(
            user_window(now, Some(0), Some(0)),
            user_window(now, None, None)
        );
        // A window in the past lists history only.
        assert_eq!(user_window(now, Some(5), None), Ok((5, 5 + USER_SPAN)));
        let past = (now - 10 * DAY) as u64;
        assert_eq!(
            user_window(now, None, Some(past)),
            Ok((past as i64 - USER_SPAN, past as i64))
        );
        // Reaching now: upcoming meetings too.
        assert_eq!(
            user_window(now, None, Some(now as u64)),
            Ok((now - USER_SPAN, UNBOUNDED))
        );
        let b = now as u64;
        assert_eq!(
            user_window(now, Some(b), Some(b + USER_SPAN as u64)),
            Ok((now, UNBOUNDED))
        );
        assert_eq!(
            user_window(now, Some(b - 100), Some(b - 1)),
            Ok((now - 100, now - 1))
        );
        assert_eq!(
            user_window(now, Some(b), Some(b + USER_SPAN as u64 + 1)),
            Err(UserWindowError)
        );
        assert_eq!(user_window(now, Some(b + 1), Some(b)), Err(UserWindowError));
        assert_eq!(user_window(now, Some(u64::MAX), None), Err(UserWindowError));
    }

    proptest! {
        #[test]
        fn user_windows_never_exceed_the_span(
            now in 0i64..5_000_000_000,
            b in proptest::option::of(0u64..5_000_000_000),
            e in proptest::option::of(0u64..5_000_000_000),
        ) {
            if let Ok((lo, hi)) = user_window(now, b, e) {
                prop_assert!(lo <= hi);
                prop_assert!(hi == UNBOUNDED || hi - lo <= USER_SPAN);
                prop_assert!(hi == UNBOUNDED || hi < now, "a window reaching now is open");
            }
        }
    }
}
