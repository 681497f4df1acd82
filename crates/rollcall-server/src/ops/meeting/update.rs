//! `meeting/update`: change a pending meeting, only the fields given; with a
//! `modify_meeting` callback (修改会议事件, path/99081) written with the change when the app
//! has a callback target. `FromUserName` is the request's admin_userid, else the meeting's,
//! else `sys` (the API call has no other acting member).

use rollcall_callback::ChangeType;
use rollcall_core::delivery;
use rollcall_core::meeting_request::{occurrences_of, UpdateRequest};
use rollcall_core::model::{MeetingDetails, MeetingType, MeetingUpdate};
use rollcall_core::plan;

use crate::ops::access::{check_settings, members, pending_meeting};
use crate::ops::caller::Caller;
use crate::ops::error::CallError;
use crate::state::AppState;

/// Update the meeting.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    req: &UpdateRequest,
) -> Result<(), CallError> {
    let (m, presence) = pending_meeting(state, caller, &req.meetingid).await?;
    let now = state.now();
    if let Some(a) = &req.admin_userid {
        members(caller, std::slice::from_ref(a), "admin_userid")?;
    }
    if let Some(invitees) = &req.invitees {
        members(caller, invitees, req.invitees_field)?;
    }
    check_settings(caller, req.settings.as_ref())?;
    if req.schedule.is_some_and(|(start, _)| start <= now) {
        return Err(CallError::Field("meeting_start"));
    }
    let reminders = req
        .reminders
        .clone()
        .or_else(|| m.details.reminders.clone());

    let (meeting_type, sub_meetings, (start, duration)) =
        if req.schedule.is_some() || req.reminders.is_some() {
            let (start, duration) = req
                .schedule
                .unwrap_or((m.meeting_start, m.meeting_duration));
            if m.meeting_type == MeetingType::Recurring && reminders.is_none() {
                // Made through the admin API with explicit sub-meetings: there is no rule to
                // move, so the caller must give one.
                return Err(CallError::Field("reminders"));
            }
            let tz = state.time_zone();
            let occurrences = occurrences_of(reminders.as_ref(), start, duration, &tz)?;
            let (kind, subs) = plan::reschedule(now, &m, &presence, occurrences.as_deref())
                .map_err(|e| CallError::Field(e.field()))?;
            (kind, subs, (start, duration))
        } else {
            (
                m.meeting_type,
                m.sub_meetings.clone(),
                (m.meeting_start, m.meeting_duration),
            )
        };
    let update = MeetingUpdate {
        key: m.key,
        meeting_type,
        title: req.title.clone().unwrap_or_else(|| m.title.clone()),
        meeting_start: start,
        meeting_duration: duration,
        details: MeetingDetails {
            description: req
                .description
                .clone()
                .unwrap_or_else(|| m.details.description.clone()),
            location: req
                .location
                .clone()
                .unwrap_or_else(|| m.details.location.clone()),
            invitees: req
                .invitees
                .clone()
                .unwrap_or_else(|| m.details.invitees.clone()),
            settings: match &req.settings {
                Some(s) => Some(s.value.clone()),
                None => m.details.settings.clone(),
            },
            reminders,
        },
        sub_meetings,
    };
    let actor = req.admin_userid.as_deref().or(m.admin_userid.as_deref());
    let events = delivery::meeting_event(
        &m.owner,
        caller.app_record().callback.is_some(),
        &m.meetingid,
        &ChangeType::ModifyMeeting,
        actor,
        now,
    );
    let written = state.store().update_meeting(&update, &events).await?;
    state.invalidate_meeting(&m.meetingid);
    if written {
        if !events.is_empty() {
            state.callbacks().wake();
        }
        Ok(())
    } else {
        // Cancelled by a concurrent call since it was read.
        Err(CallError::Field("meetingid"))
    }
}
