//! `meeting/create`: a meeting owned by the calling app, its sub-meetings generated from
//! `reminders`; with a `create_meeting` callback (from the admin_userid) written with it when
//! the app has a callback target (SPEC §11; WeCom documents no creation event, rollcall's
//! choice).

use rollcall_callback::ChangeType;
use rollcall_core::delivery;
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
    members(
        caller,
        std::slice::from_ref(&req.admin_userid),
        "admin_userid",
    )?;
    if req.meeting_start <= state.now() {
        return Err(CallError::Field("meeting_start"));
    }
    if req.agentid.is_some_and(|a| a != caller.app.agentid) {
        return Err(CallError::Field("agentid"));
    }
    members(caller, &req.invitees, req.invitees_field)?;
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
    let has_target = caller.app_record().callback.is_some();
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
        let events = delivery::meeting_event(
            &caller.app,
            has_target,
            &new.meetingid,
            &ChangeType::CreateMeeting,
            Some(&req.admin_userid),
            state.now(),
        );
        match state.store().create_meeting(&new, &events).await {
            Ok(m) => {
                state.invalidate_meeting(&m.meetingid);
                if !events.is_empty() {
                    state.callbacks().wake();
                }
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
