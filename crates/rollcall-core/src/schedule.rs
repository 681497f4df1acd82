//! Meeting status and per-person attendance aggregates (`meeting/get_info`, SPEC §4).
//!
//! # The status rule
//! WeCom's codes: 1 pending, 2 in progress, 3 ended, 4 cancelled, 5 expired. rollcall derives
//! them from the clock, the schedule and the sessions, at read time:
//! - **4 cancelled** once cancelled, whatever else;
//! - **2 in progress** while any session is open (joined, not quit) — a meeting is "on" when
//!   someone is in it, also before its scheduled start or after its scheduled end;
//! - **3 ended** when it had attendance and nobody is in it now (a rejoin makes it 2 again);
//! - **1 pending** when nobody ever attended and its scheduled end is still ahead;
//! - **5 expired** when nobody ever attended and its scheduled end has passed.
//!
//! A recurring meeting applies the rule to each sub-meeting (its own time span and sessions);
//! the meeting as a whole is 4 if cancelled, else 2 if any sub-meeting is in progress, else 1 if
//! any sub-meeting is still pending, else 3 if any had attendance, else 5.
//!
//! Only a **pending** meeting (status 1 as a whole) may be updated or cancelled ([`editable`]).
//!
//! # Per-person aggregates
//! [`attendance`] is the one rule for a person's sessions: first join, last quit (none while a
//! session is open), number of sessions, and the time in the meeting as the *union* of the
//! sessions' spans ([`union_secs`]), open ones counted up to "as of" ([`span_end`]).
//! [`aggregate`] is that rule in `meeting/get_info`'s shape (last quit 0 while open);
//! `rollcall report` builds its summary on [`attendance`] too. [`people`] folds the sessions
//! of a meeting (or sub-meeting) into one line per participant. A person's `status` on the
//! wire is 1 while any of their sessions is open ("in the meeting now") and 2 once all have
//! quit ("left").

use std::collections::HashMap;

use serde::Serialize;

use crate::model::{Meeting, MeetingType, Participant, SessionRow};

/// WeCom's meeting status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    Pending = 1,
    InProgress = 2,
    Ended = 3,
    Cancelled = 4,
    Expired = 5,
}

impl Status {
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// What the sessions of a (sub-)meeting say, as far as status goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Presence {
    /// Any session at all.
    pub attended: bool,
    /// Any session still open.
    pub open: bool,
}

/// The status of one meeting or sub-meeting scheduled to end at `end`.
pub fn status(now: i64, end: i64, cancelled: bool, p: Presence) -> Status {
    if cancelled {
        Status::Cancelled
    } else if p.open {
        Status::InProgress
    } else if p.attended {
        Status::Ended
    } else if now < end {
        Status::Pending
    } else {
        Status::Expired
    }
}

/// The status of a recurring meeting from its sub-meetings' statuses.
pub fn overall(cancelled: bool, subs: &[Status]) -> Status {
    if cancelled {
        Status::Cancelled
    } else if subs.contains(&Status::InProgress) {
        Status::InProgress
    } else if subs.contains(&Status::Pending) {
        Status::Pending
    } else if subs.contains(&Status::Ended) {
        Status::Ended
    } else {
        Status::Expired
    }
}

/// The status of a meeting as a whole and of each of its sub-meetings, in schedule order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingStatus {
    pub overall: Status,
    /// One per sub-meeting (empty unless recurring).
    pub subs: Vec<Status>,
}

/// Apply the status rule to `m`, given what the sessions say per sub-meeting key (`0` for a
/// meeting that is not recurring; a key missing from `presence` had no session).
pub fn meeting_status(now: i64, m: &Meeting, presence: &HashMap<i64, Presence>) -> MeetingStatus {
    let of = |key: i64| presence.get(&key).copied().unwrap_or_default();
    if m.meeting_type != MeetingType::Recurring {
        let end = m.meeting_start.saturating_add(m.meeting_duration);
        return MeetingStatus {
            overall: status(now, end, m.cancelled, of(0)),
            subs: Vec::new(),
        };
    }
    let subs: Vec<Status> = m
        .sub_meetings
        .iter()
        .map(|s| status(now, s.end_time, m.cancelled, of(s.key)))
        .collect();
    MeetingStatus {
        overall: overall(m.cancelled, &subs),
        subs,
    }
}

/// May a meeting in this state be updated or cancelled? Only while pending: once someone has
/// attended, its record is history, and an expired or cancelled meeting has no future.
pub fn editable(s: Status) -> bool {
    s == Status::Pending
}

/// The sub-meeting `current_sub_meetingid` names: the one in progress, else the next one not
/// yet over, else the last. `subs` are `(start, end, status)` in schedule order.
pub fn current_sub(now: i64, subs: &[(i64, i64, Status)]) -> Option<usize> {
    subs.iter()
        .position(|s| s.2 == Status::InProgress)
        .or_else(|| {
            subs.iter()
                .position(|s| now < s.1 && s.2 != Status::Cancelled)
        })
        .or_else(|| subs.len().checked_sub(1))
}

/// Where a session's span ends as of `as_of`: its quit, or `as_of` while it is still open,
/// never before its join (a stale "as of" or a quit stamped before the join does not make a
/// span negative).
pub fn span_end(join: i64, quit: Option<i64>, as_of: i64) -> i64 {
    quit.unwrap_or(as_of).max(join)
}

/// The length of the union of `[start, end)` spans, in any order: overlapping or
/// back-to-back spans count once.
pub fn union_secs(spans: impl IntoIterator<Item = (i64, i64)>) -> i64 {
    let mut spans: Vec<(i64, i64)> = spans.into_iter().collect();
    spans.sort_unstable();
    let mut total = 0;
    let mut current: Option<(i64, i64)> = None;
    for (s, e) in spans {
        current = match current {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    total + current.map_or(0, |(s, e)| e - s)
}

/// One person's attendance over their sessions: **the** rule, which `meeting/get_info`'s
/// aggregates ([`aggregate`]) and `rollcall report`'s summary both apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attendance {
    /// The earliest join.
    pub first_join: i64,
    /// The latest quit; `None` while any session is still open.
    pub last_quit: Option<i64>,
    /// Sessions (each join is one).
    pub joins: usize,
    /// Seconds in the meeting: the *union* of the sessions' spans, open ones up to "as of"
    /// ([`span_end`]), so two devices at once do not count twice.
    pub in_meeting_secs: i64,
}

impl Attendance {
    /// Any session still open: the person is in the meeting now.
    pub fn in_meeting(&self) -> bool {
        self.last_quit.is_none()
    }
}

/// Fold one person's sessions `(join, quit)` as of `as_of`; `None` for no sessions.
pub fn attendance(sessions: &[(i64, Option<i64>)], as_of: i64) -> Option<Attendance> {
    let first_join = sessions.iter().map(|s| s.0).min()?;
    let open = sessions.iter().any(|s| s.1.is_none());
    Some(Attendance {
        first_join,
        last_quit: if open {
            None
        } else {
            sessions.iter().filter_map(|s| s.1).max()
        },
        joins: sessions.len(),
        in_meeting_secs: union_secs(sessions.iter().map(|&(j, q)| (j, span_end(j, q, as_of)))),
    })
}

/// One person's attendance as `meeting/get_info` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Aggregate {
    pub first_join_time: i64,
    /// Latest quit; 0 while a session is still open (WeCom has no "absent" for integers).
    pub last_quit_time: i64,
    pub total_join_count: u32,
    /// Seconds in the meeting: the *union* of the sessions' spans (open ones up to `now`), so
    /// two devices at once do not count twice.
    pub cumulative_time: i64,
}

impl From<Attendance> for Aggregate {
    fn from(a: Attendance) -> Self {
        Self {
            first_join_time: a.first_join,
            last_quit_time: a.last_quit.unwrap_or(0),
            total_join_count: a.joins as u32,
            cumulative_time: a.in_meeting_secs,
        }
    }
}

/// Aggregate one person's sessions `(join, quit)` ([`attendance`] in WeCom's shape); `None`
/// for no sessions.
pub fn aggregate(sessions: &[(i64, Option<i64>)], now: i64) -> Option<Aggregate> {
    attendance(sessions, now).map(Aggregate::from)
}

/// One person's attendance in a meeting or sub-meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonAttendance {
    pub participant: Participant,
    pub aggregate: Aggregate,
    /// Any of their sessions still open.
    pub in_meeting: bool,
}

impl PersonAttendance {
    /// The wire's `status` of a person: 1 in the meeting now, 2 has left.
    pub fn status_code(&self) -> u32 {
        if self.in_meeting {
            1
        } else {
            2
        }
    }
}

/// Fold sessions into one [`PersonAttendance`] per participant, ordered by first join (then
/// by kind and id, so equal times give a stable order).
pub fn people<'a>(
    sessions: impl IntoIterator<Item = &'a SessionRow>,
    now: i64,
) -> Vec<PersonAttendance> {
    let mut by_person: HashMap<&Participant, Vec<(i64, Option<i64>)>> = HashMap::new();
    for r in sessions {
        by_person
            .entry(&r.participant)
            .or_default()
            .push((r.join_time, r.quit_time));
    }
    let mut out: Vec<PersonAttendance> = by_person
        .into_iter()
        .filter_map(|(p, spans)| {
            let a = attendance(&spans, now)?;
            Some(PersonAttendance {
                participant: p.clone(),
                in_meeting: a.in_meeting(),
                aggregate: a.into(),
            })
        })
        .collect();
    in_listing_order(&mut out);
    out
}

/// get_info's order of people: by first join, then by kind and id, so equal times give a
/// stable order. One rule for the folded sessions ([`people`]) and for the aggregates kept
/// at ingest (`person_totals::people`), whose answers must be identical.
pub fn in_listing_order(people: &mut [PersonAttendance]) {
    people.sort_by(|a, b| {
        (
            a.aggregate.first_join_time,
            a.participant.kind_code(),
            a.participant.id(),
        )
            .cmp(&(
                b.aggregate.first_join_time,
                b.participant.kind_code(),
                b.participant.id(),
            ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_status_rule() {
        let none = Presence::default();
        let open = Presence {
            attended: true,
            open: true,
        };
        let left = Presence {
            attended: true,
            open: false,
        };
        assert_eq!(status(100, 200, false, none), Status::Pending);
        assert_eq!(status(200, 200, false, none), Status::Expired);
        assert_eq!(status(50, 200, false, open), Status::InProgress);
        assert_eq!(status(500, 200, false, open), Status::InProgress);
        assert_eq!(status(150, 200, false, left), Status::Ended);
        assert_eq!(status(150, 200, true, open), Status::Cancelled);
        assert_eq!(
            overall(false, &[Status::Ended, Status::InProgress, Status::Pending]),
            Status::InProgress
        );
        assert_eq!(
            overall(false, &[Status::Ended, Status::Pending]),
            Status::Pending
        );
        assert_eq!(
            overall(false, &[Status::Expired, Status::Ended]),
            Status::Ended
        );
        assert_eq!(overall(false, &[Status::Expired]), Status::Expired);
        assert_eq!(overall(true, &[Status::InProgress]), Status::Cancelled);
    }

    #[test]
    fn current_sub_meeting() {
        let subs = [
            (0, 10, Status::Ended),
            (20, 30, Status::Pending),
            (40, 50, Status::Pending),
        ];
        assert_eq!(current_sub(15, &subs), Some(1));
        assert_eq!(current_sub(35, &subs), Some(2));
        assert_eq!(current_sub(99, &subs), Some(2));
        let subs = [
            (0, 10, Status::Ended),
            (20, 30, Status::InProgress),
            (40, 50, Status::Pending),
        ];
        assert_eq!(current_sub(5, &subs), Some(1));
        assert_eq!(current_sub(5, &[]), None);
    }

    #[test]
    fn aggregates_count_overlaps_once() {
        let a = aggregate(
            &[(100, Some(200)), (150, Some(250)), (300, Some(310))],
            1000,
        )
        .unwrap();
        assert_eq!(
            a,
            Aggregate {
                first_join_time: 100,
                last_quit_time: 310,
                total_join_count: 3,
                cumulative_time: 160
            }
        );
        let b = aggregate(&[(100, Some(200)), (900, None)], 1000).unwrap();
        assert_eq!((b.last_quit_time, b.cumulative_time), (0, 200));
        assert_eq!(aggregate(&[], 5), None);
    }

    #[test]
    fn union_of_intervals() {
        assert_eq!(union_secs([].into_iter()), 0);
        assert_eq!(union_secs([(0, 10), (10, 20)].into_iter()), 20);
        assert_eq!(union_secs([(0, 10), (5, 7), (20, 25)].into_iter()), 15);
        assert_eq!(union_secs([(0, 0), (3, 3)].into_iter()), 0);
    }

    #[test]
    fn attendance_is_the_rule_aggregate_reports() {
        let s = [(100, Some(200)), (900, None), (50, Some(60))];
        let a = attendance(&s, 1000).unwrap();
        assert_eq!(
            a,
            Attendance {
                first_join: 50,
                last_quit: None,
                joins: 3,
                in_meeting_secs: 10 + 100 + 100
            }
        );
        assert!(a.in_meeting());
        assert_eq!(aggregate(&s, 1000), Some(Aggregate::from(a)));
        // An "as of" before an open session's join counts it as empty, not negative.
        assert_eq!(span_end(900, None, 0), 900);
        assert_eq!(attendance(&[(900, None)], 0).unwrap().in_meeting_secs, 0);
        assert_eq!(attendance(&[], 5), None);
    }

    fn meeting(kind: MeetingType, subs: &[(i64, i64)]) -> Meeting {
        Meeting {
            key: 1,
            meetingid: "hy1".into(),
            meeting_code: "1".into(),
            owner: crate::model::AppRef {
                corpid: "ww".into(),
                agentid: 1,
            },
            meeting_type: kind,
            title: "t".into(),
            meeting_start: 100,
            meeting_duration: 100,
            admin_userid: None,
            sub_meetings: subs
                .iter()
                .zip(1..)
                .map(|(&(s, e), key)| crate::model::SubMeeting {
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

    #[test]
    fn meeting_status_per_sub_meeting_and_overall() {
        let open = Presence {
            attended: true,
            open: true,
        };
        let left = Presence {
            attended: true,
            open: false,
        };
        let one = meeting(MeetingType::OneOff, &[]);
        let none = HashMap::new();
        assert_eq!(meeting_status(150, &one, &none).overall, Status::Pending);
        assert_eq!(meeting_status(200, &one, &none).overall, Status::Expired);
        let p = HashMap::from([(0, open)]);
        assert_eq!(meeting_status(50, &one, &p).overall, Status::InProgress);
        let rec = meeting(
            MeetingType::Recurring,
            &[(100, 200), (300, 400), (500, 600)],
        );
        let p = HashMap::from([(1, left)]);
        let st = meeting_status(350, &rec, &p);
        assert_eq!(
            st.subs,
            [Status::Ended, Status::Pending, Status::Pending],
            "the second ends at 400"
        );
        assert_eq!(st.overall, Status::Pending);
        assert!(editable(st.overall));
        let p = HashMap::from([(1, left), (2, open)]);
        assert_eq!(meeting_status(350, &rec, &p).overall, Status::InProgress);
        let st = meeting_status(700, &rec, &HashMap::from([(1, left)]));
        assert_eq!(st.subs, [Status::Ended, Status::Expired, Status::Expired]);
        assert_eq!(st.overall, Status::Ended);
        let mut cancelled = rec.clone();
        cancelled.cancelled = true;
        let st = meeting_status(0, &cancelled, &none);
        assert_eq!(st.overall, Status::Cancelled);
        assert!(st.subs.iter().all(|s| *s == Status::Cancelled));
        for s in [
            Status::InProgress,
            Status::Ended,
            Status::Cancelled,
            Status::Expired,
        ] {
            assert!(!editable(s));
        }
    }

    fn row(p: Participant, join: i64, quit: Option<i64>) -> SessionRow {
        SessionRow {
            seq: 1,
            session_key: format!("{}-{join}", p.id()),
            sub_key: 0,
            participant: p,
            join_time: join,
            quit_time: quit,
            instance_id: 1,
            role: 0,
            webinar_role: 0,
            join_type: 1,
            net: None,
            audio_state: false,
            video_state: false,
            screen_shared_state: false,
            customer_data: None,
            state_at: join,
        }
    }

    #[test]
    fn people_fold_sessions_per_participant() {
        let alice = Participant::Member("alice".into());
        let guest = Participant::Guest("alice".into());
        let rows = [
            row(alice.clone(), 100, Some(200)),
            row(guest.clone(), 50, None),
            row(alice.clone(), 150, Some(300)),
            row(alice.clone(), 400, Some(410)),
        ];
        let p = people(&rows, 1000);
        assert_eq!(p.len(), 2, "a guest with the same id is another person");
        assert_eq!(p[0].participant, guest);
        assert!(p[0].in_meeting);
        assert_eq!(p[0].status_code(), 1);
        assert_eq!(
            (
                p[0].aggregate.last_quit_time,
                p[0].aggregate.cumulative_time
            ),
            (0, 950)
        );
        assert_eq!(p[1].participant, alice);
        assert_eq!(p[1].status_code(), 2);
        assert_eq!(
            p[1].aggregate,
            Aggregate {
                first_join_time: 100,
                last_quit_time: 410,
                total_join_count: 3,
                cumulative_time: 210
            }
        );
        assert!(people(&[], 5).is_empty());
    }

    proptest! {
        #[test]
        fn cumulative_time_is_between_longest_session_and_the_sum(
            sessions in prop::collection::vec((0i64..10_000, 0i64..5_000), 1..20)
        ) {
            let s: Vec<(i64, Option<i64>)> = sessions.iter().map(|&(j, d)| (j, Some(j + d))).collect();
            let a = aggregate(&s, 100_000).unwrap();
            let longest = sessions.iter().map(|x| x.1).max().unwrap();
            let sum: i64 = sessions.iter().map(|x| x.1).sum();
            prop_assert!(a.cumulative_time >= longest && a.cumulative_time <= sum);
            let span = s.iter().map(|x| x.1.unwrap()).max().unwrap() - a.first_join_time;
            prop_assert!(a.cumulative_time <= span);
        }
    }
}
