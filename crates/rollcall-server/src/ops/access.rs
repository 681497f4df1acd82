//! The access checks the meeting calls share: which meetings an app may read or change, and
//! which userids it may name (members within the app's visible range: [`members`]).
//!
//! Every call is scoped to the caller's app: another app's meeting answers exactly like an
//! unknown one ([`readable_meeting`]), so nothing leaks (SPEC §1, Decision).

use std::collections::HashMap;
use std::sync::Arc;

use rollcall_core::meeting_request::SettingsSpec;
use rollcall_core::model::{Meeting, MeetingType};
use rollcall_core::schedule::{self, meeting_status, Presence};

use crate::ops::caller::Caller;
use crate::ops::error::CallError;
use crate::state::AppState;

/// The meeting the app may read, or 40058 `meetingid` — the same answer whether it does not
/// exist or belongs to another app.
pub async fn readable_meeting(
    state: &AppState,
    caller: &Caller,
    meetingid: &str,
) -> Result<Arc<Meeting>, CallError> {
    // Scoped to the app all the way down, so that the two cost the same too (issue 11.6):
    // see `AppState::app_meeting`. The owner is compared again, as a second lock.
    match state.app_meeting(&caller.app, meetingid).await? {
        Some(m) if m.owner == caller.app => Ok(m),
        _ => Err(CallError::Field("meetingid")),
    }
}

/// The meeting, if the app may change it: readable and pending (SPEC §4). A meeting that is
/// in progress, ended, expired or cancelled answers 40058 `invalid param 'meetingid'`.
pub async fn pending_meeting(
    state: &AppState,
    caller: &Caller,
    meetingid: &str,
) -> Result<(Arc<Meeting>, HashMap<i64, Presence>), CallError> {
    let m = readable_meeting(state, caller, meetingid).await?;
    let presence = presence(state, m.key).await?;
    if !schedule::editable(meeting_status(state.now(), &m, &presence).overall) {
        return Err(CallError::Field("meetingid"));
    }
    Ok((m, presence))
}

/// What the sessions say per sub-meeting key.
pub async fn presence(
    state: &AppState,
    meeting_key: i64,
) -> Result<HashMap<i64, Presence>, CallError> {
    Ok(state
        .store()
        .presence(meeting_key)
        .await?
        .into_iter()
        .collect())
}

/// The sub-meeting key a listing is about: required and valid for recurring meetings,
/// ignored (0) otherwise.
pub fn sub_key(meeting: &Meeting, sub_meetingid: Option<&str>) -> Result<i64, CallError> {
    if meeting.meeting_type != MeetingType::Recurring {
        return Ok(0);
    }
    sub_meetingid
        .and_then(|id| meeting.sub_meeting(id))
        .map(|s| s.key)
        .ok_or(CallError::Field("sub_meetingid"))
}

/// Every one of `userids` is a member of the caller's corp within the app's visible range, or
/// 40058 naming `field`: WeCom's meeting pages say such a call "直接报错" but name no errcode
/// (the global page's 40031 / 60011 belong to the contact and message calls), so SPEC §4's
/// fallback applies.
pub fn members(caller: &Caller, userids: &[String], field: &'static str) -> Result<(), CallError> {
    if userids.iter().all(|u| caller.in_range(u)) {
        Ok(())
    } else {
        Err(CallError::Field(field))
    }
}

/// The members named in `settings` (`hosts`, `ring_users`) are all members of the corp within
/// the visible range (they take part in the meeting, so the range rule covers them).
pub fn check_settings(caller: &Caller, s: Option<&SettingsSpec>) -> Result<(), CallError> {
    for (field, ids) in s.iter().flat_map(|s| &s.members) {
        members(caller, ids, field)?;
    }
    Ok(())
}
