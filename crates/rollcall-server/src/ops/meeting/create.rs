//! `meeting/create`: a meeting owned by the calling app, its sub-meetings generated from
//! `reminders`.

use rollcall_core::meeting_request::{occurrences_of, CreateRequest};
use rollcall_core::model::{MeetingDetails, MeetingType, NewMeeting};
use rollcall_core::plan;
use rollcall_store::StoreError;
use rollcall_wire::errcode;
use rollcall_wire::meeting::CreateMeetingResponse;

use crate::ops::access::{check_settings, members};
use crate::ops::caller::Caller;
use crate::ops::error::CallError;
use crate::state::AppState;

/// Create the meeting.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    req: &CreateRequest,
) -> Result<CreateMeetingResponse, CallError> {
    if !caller.is_member(&req.admin_userid) {
        return Err(CallError::Field("admin_userid"));
    }
    if req.meeting_start <= state.now() {
        return Err(CallError::Field("meeting_start"));
    }
    if req.agentid.is_some_and(|a| a != caller.app.agentid) {
        return Err(CallError::Field("agentid"));
    }
    members(caller, &req.invitees, "invitees")?;
    check_settings(caller, req.settings.as_ref())?;
    let tz = state.time_zone();
    let occurrences = occurrences_of(
        req.reminders.as_ref(),
        req.meeting_start,
        req.meeting_duration,
        &tz,
    )?;
    let (meeting_type, sub_meetings) = match &occurrences {
        Some(occ) => (MeetingType::Recurring, plan::new_sub_meetings(occ)),
        None => (MeetingType::OneOff, Vec::new()),
    };
    let details = MeetingDetails {
        description: req.description.clone(),
        location: req.location.clone(),
        invitees: req.invitees.clone(),
        settings: req.settings.as_ref().map(|s| s.value.clone()),
        reminders: req.reminders.clone(),
    };
    // A generated meetingid that is taken (vanishingly rare) is drawn again.
    let mut last = None;
    for _ in 0..3 {
        let new = NewMeeting {
            meetingid: state.ids().meetingid(),
            meeting_code: state.ids().meeting_code(),
            owner: caller.app.clone(),
            meeting_type,
            title: req.title.clone(),
            meeting_start: req.meeting_start,
            meeting_duration: req.meeting_duration,
            admin_userid: Some(req.admin_userid.clone()),
            sub_meetings: sub_meetings.clone(),
            details: details.clone(),
        };
        match state.store().create_meeting(&new, &[]).await {
            Ok(m) => {
                state.invalidate_meeting(&m.meetingid);
                return Ok(CreateMeetingResponse {
                    errcode: errcode::OK,
                    errmsg: "ok".into(),
                    meetingid: m.meetingid,
                    meeting_code: Some(m.meeting_code),
                    excess_users: Vec::new(),
                });
            }
            Err(e @ StoreError::Conflict(_)) => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last
        .unwrap_or_else(|| StoreError::Unavailable("meetingid generation".into()))
        .into())
}
