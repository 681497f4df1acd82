//! `/cgi-bin/meeting/*` (SPEC §3, §4).

use axum::extract::State;

use rollcall_wire::GetAttendeeListResponse;

use crate::auth::MeetingToken;
use crate::error::ApiError;
use crate::ops::attendees::{self, AttendeeRequest};
use crate::state::AppState;
use crate::wecom::{Reply, WeComBody};

/// `POST /cgi-bin/meeting/get_attendee_list`.
pub async fn get_attendee_list(
    State(state): State<AppState>,
    MeetingToken(token): MeetingToken,
    WeComBody(body): WeComBody,
) -> Result<Reply<GetAttendeeListResponse>, ApiError> {
    let req = AttendeeRequest::try_from(&body)?;
    Ok(Reply(attendees::list(&state, &token, &req).await?))
}
