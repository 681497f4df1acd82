//! `meeting/cancel`: cancel a pending meeting. Its attendance (if any arrives later) stays
//! readable. With a `cancel_meeting` callback (取消会议事件, path/99082) written with the
//! change when the app has a callback target; `FromUserName` is the meeting's admin_userid
//! (the member the app acts for), else `sys`.

use rollcall_callback::ChangeType;
use rollcall_core::delivery;
use rollcall_core::meeting_request::CancelRequest;

use crate::ops::access::pending_meeting;
use crate::ops::caller::Caller;
use crate::ops::error::CallError;
use crate::state::AppState;

/// Cancel the meeting.
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    req: &CancelRequest,
) -> Result<(), CallError> {
    let (m, _) = pending_meeting(state, caller, &req.meetingid).await?;
    let events = delivery::meeting_event(
        &m.owner,
        caller.app_record().callback.is_some(),
        &m.meetingid,
        &ChangeType::CancelMeeting,
        m.admin_userid.as_deref(),
        state.now(),
    );
    let cancelled = state.store().cancel_meeting(m.key, &events).await?;
    state.invalidate_meeting(&m.meetingid);
    if cancelled {
        if !events.is_empty() {
            state.callbacks().wake();
        }
        Ok(())
    } else {
        Err(CallError::Field("meetingid"))
    }
}
