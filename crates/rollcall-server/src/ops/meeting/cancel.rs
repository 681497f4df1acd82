//! `meeting/cancel`: cancel a pending meeting. Its attendance (if any arrives later) stays
//! readable.

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
    let cancelled = state.store().cancel_meeting(m.key, &[]).await?;
    state.invalidate_meeting(&m.meetingid);
    if cancelled {
        Ok(())
    } else {
        Err(CallError::Field("meetingid"))
    }
}
