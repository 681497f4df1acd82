//! `meeting/get_info`: a meeting's details, status, schedule and per-person attendance.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Map;

use rollcall_core::meeting_request::{InfoRequest, MeetingRef};
use rollcall_core::model::{Meeting, MeetingType, Participant, SessionRow, SessionScan};
use rollcall_core::person_totals::{self, StoredTotals, WHOLE_MEETING};
use rollcall_core::schedule::{self, current_sub, meeting_status, PersonAttendance, Presence};
use rollcall_store::{background, StoreError};
use rollcall_wire::errcode;
use rollcall_wire::meeting::{
    AttendanceFigures, ExternalAttendance, MeetingAttendance, MeetingInfo, MemberAttendance,
    SubMeeting,
};

use crate::ops::access::{presence, readable_meeting};
use crate::ops::caller::Caller;
use crate::ops::error::CallError;
use crate::state::AppState;

/// Where a meeting's link points. rollcall has no meeting client to open, so the link is
/// well-formed but under a reserved domain that can never resolve to anyone.
fn meeting_link(code: &str) -> String {
    format!("https://meeting.rollcall.invalid/dm/{code}")
}

/// Rows read per store round trip while folding sessions (the rare fallback of [`people`]).
const AGGREGATE_BATCH: u32 = 5000;

/// Every session of one sub-meeting (key 0: the meeting itself), in listing order.
async fn all_sessions(
    state: &AppState,
    meeting_key: i64,
    sub_key: i64,
    out: &mut Vec<SessionRow>,
) -> Result<(), CallError> {
    let mut after = (i64::MIN, 0);
    loop {
        let rows = state
            .store()
            .scan_sessions(&SessionScan {
                meeting_key,
                sub_key,
                after,
                join_max: i64::MAX,
                seq_lo: 0,
                seq_hi: u64::MAX,
                limit: AGGREGATE_BATCH,
            })
            .await?;
        let n = rows.len();
        if let Some(last) = rows.last() {
            after = (last.join_time, last.seq);
        }
        out.extend(rows);
        if n < AGGREGATE_BATCH as usize {
            return Ok(());
        }
    }
}

/// The attendance of the people the caller may see: of the sub-meeting `sub`, or of the
/// whole meeting.
///
/// Read from the aggregates the store maintains at ingest (`Store::person_totals`), so the
/// cost follows the people, not their sessions. The whole of a recurring meeting is the
/// view of every sub-meeting key but 0, which is what the meeting's sub-meetings cover as
/// long as no session lies in a sub-meeting the meeting no longer lists; should one (an
/// update that dropped a sub-meeting with sessions), the sessions are folded as before.
async fn people(
    state: &AppState,
    m: &Meeting,
    sub: Option<usize>,
    presence: &HashMap<i64, Presence>,
    now: i64,
) -> Result<Raw, CallError> {
    let recurring = m.meeting_type == MeetingType::Recurring;
    let view = match sub {
        Some(i) => m.sub_meetings[i].key,
        None if recurring => WHOLE_MEETING,
        None => 0,
    };
    let whole = view == WHOLE_MEETING;
    let attended = if whole {
        presence.keys().any(|k| *k != 0)
    } else {
        presence.contains_key(&view)
    };
    if !attended {
        return Ok(Raw::Totals(Vec::new()));
    }
    // Sessions of sub-meeting key 0 are in neither whole view.
    let listed = |k: &i64| *k == 0 || m.sub_meetings.iter().any(|s| s.key == *k);
    if !whole || presence.keys().all(listed) {
        return Ok(Raw::Totals(
            state.store().person_totals(m.key, view, now).await?,
        ));
    }
    let mut sessions = Vec::new();
    for s in &m.sub_meetings {
        if presence.contains_key(&s.key) {
            all_sessions(state, m.key, s.key, &mut sessions).await?;
        }
    }
    Ok(Raw::Sessions(sessions))
}

/// What [`people`] read, not yet folded: one row per person, or (the rare fallback) the
/// sessions themselves.
enum Raw {
    Totals(Vec<StoredTotals>),
    Sessions(Vec<SessionRow>),
}

impl Raw {
    /// Rows to fold: what the fold's cost follows.
    fn len(&self) -> u64 {
        let n = match self {
            Raw::Totals(v) => v.len(),
            Raw::Sessions(v) => v.len(),
        };
        n as u64
    }
}

/// The people the caller may see, folded as of `now`, in WeCom's shape: an HMAC per outsider
/// (`tmp_external_userid`), so O(people). Run off the async workers ([`info`]).
fn attendance(
    raw: Raw,
    state: &AppState,
    caller: &Caller,
    meeting_key: i64,
    now: i64,
) -> MeetingAttendance {
    let people: Vec<PersonAttendance> = match raw {
        Raw::Totals(mut totals) => {
            totals.retain(|t| caller.visibility.allows(&t.participant));
            person_totals::people(totals, now)
        }
        Raw::Sessions(mut sessions) => {
            sessions.retain(|r| caller.visibility.allows(&r.participant));
            schedule::people(&sessions, now)
        }
    };
    let mut attendees = MeetingAttendance::default();
    for p in people {
        let a = p.aggregate;
        let figures = AttendanceFigures {
            status: p.status_code(),
            first_join_time: unsigned(a.first_join_time),
            last_quit_time: unsigned(a.last_quit_time),
            total_join_count: u64::from(a.total_join_count),
            cumulative_time: unsigned(a.cumulative_time),
        };
        match &p.participant {
            Participant::Member(userid) => attendees.member.push(MemberAttendance {
                userid: userid.clone(),
                figures,
            }),
            other => attendees.tmp_external_user.push(ExternalAttendance {
                tmp_external_userid: state.secret().tmp_openid(meeting_key, other),
                figures,
            }),
        }
    }
    attendees
}

/// The meeting `get_info` names, if the app may read it.
async fn info_meeting(
    state: &AppState,
    caller: &Caller,
    which: &MeetingRef,
) -> Result<Arc<Meeting>, CallError> {
    match which {
        MeetingRef::Id(id) => readable_meeting(state, caller, id).await,
        MeetingRef::Code(code) => {
            let id = state
                .store()
                .meetingid_by_code(&caller.app, code)
                .await?
                .ok_or(CallError::Field("meeting_code"))?;
            // The lookup was scoped to the app; the ownership check is repeated anyway.
            readable_meeting(state, caller, &id)
                .await
                .map_err(|_| CallError::Field("meeting_code"))
        }
    }
}

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The meeting's information.
pub async fn info(
    state: &AppState,
    caller: &Caller,
    req: &InfoRequest,
) -> Result<MeetingInfo, CallError> {
    let m = info_meeting(state, caller, &req.meeting).await?;
    let recurring = m.meeting_type == MeetingType::Recurring;
    // As in get_attendee_list: a sub-meeting must exist in a recurring meeting, and is
    // ignored otherwise.
    let sub = match (&req.sub_meetingid, recurring) {
        (Some(id), true) => Some(
            m.sub_meetings
                .iter()
                .position(|s| &s.sub_meetingid == id)
                .ok_or(CallError::Field("sub_meetingid"))?,
        ),
        _ => None,
    };
    let now = state.now();
    let presence = presence(state, m.key).await?;
    let st = meeting_status(now, &m, &presence);
    let status = match sub {
        Some(i) => st.subs[i],
        None => st.overall,
    };

    let raw = people(state, &m, sub, &presence, now).await?;
    // Folding and an HMAC per outsider grow with the people (25,000 in the benchmark's
    // meeting): off the async workers, and when large on the background pool, so no core
    // the pages and tokens want is held by it either (issue 11.2).
    let attendees = {
        let (state, caller, key) = (state.clone(), caller.clone(), m.key);
        background::run_sized(raw.len(), move || {
            attendance(raw, &state, &caller, key, now)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("get_info: {e}")))?
    };

    let schedule: Vec<(i64, i64, schedule::Status)> = m
        .sub_meetings
        .iter()
        .zip(&st.subs)
        .map(|(s, status)| (s.start_time, s.end_time, *status))
        .collect();
    let current = current_sub(now, &schedule).map(|i| m.sub_meetings[i].sub_meetingid.clone());
    let main_department = m
        .admin_userid
        .as_ref()
        .and_then(|a| caller.main_department(a));
    Ok(MeetingInfo {
        errcode: errcode::OK,
        errmsg: "ok".into(),
        creator_userid: None,
        admin_userid: m.admin_userid.clone(),
        title: m.title.clone(),
        meeting_start: unsigned(m.meeting_start),
        meeting_duration: unsigned(m.meeting_duration),
        description: Some(m.details.description.clone()),
        location: Some(m.details.location.clone()),
        main_department,
        status: status.code(),
        meeting_type: m.meeting_type.code(),
        attendees,
        settings: m.details.settings.clone(),
        cal_id: None,
        reminders: m.details.reminders.clone(),
        meeting_code: Some(m.meeting_code.clone()),
        meeting_link: Some(meeting_link(&m.meeting_code)),
        sub_meetings: m
            .sub_meetings
            .iter()
            .zip(&st.subs)
            .map(|(s, status)| SubMeeting {
                sub_meetingid: s.sub_meetingid.clone(),
                status: status.code(),
                start_time: unsigned(s.start_time),
                end_time: unsigned(s.end_time),
            })
            .collect(),
        current_sub_meetingid: if recurring { current } else { None },
        extra: Map::new(),
    })
}
