//! `/cgi-bin/meeting/*` (SPEC §3, §4): thin handlers over [`crate::ops::meeting`]. Each
//! checks the token (and the meeting API permission) before reading the body.

use axum::extract::State;

use rollcall_core::meeting_request::{
    AttendeeRequest, CancelRequest, CreateRequest, InfoRequest, UpdateRequest, UserMeetingsRequest,
};
use rollcall_wire::meeting::{CreateMeetingResponse, GetUserMeetingIdResponse, MeetingInfo};
use rollcall_wire::{errcode, ErrorBody};

use crate::auth::MeetingToken;
use crate::error::ApiError;
use crate::ops::meeting::{attendee_list, cancel, create, info, update, user_meetings};
use crate::state::AppState;
use crate::wecom::{RawReply, Reply, WeComBody};

/// `POST /cgi-bin/meeting/get_attendee_list`: a `GetAttendeeListResponse`, rendered by
/// [`attendee_list::list`].
pub async fn get_attendee_list(
    State(state): State<AppState>,
    MeetingToken(caller): MeetingToken,
    WeComBody(body): WeComBody,
) -> Result<RawReply, ApiError> {
    let req = AttendeeRequest::try_from(&body)?;
    Ok(RawReply(attendee_list::list(&state, &caller, &req).await?))
}

/// `POST /cgi-bin/meeting/create`.
pub async fn create(
    State(state): State<AppState>,
    MeetingToken(caller): MeetingToken,
    WeComBody(body): WeComBody,
) -> Result<Reply<CreateMeetingResponse>, ApiError> {
    let req = CreateRequest::try_from(&body)?;
    Ok(Reply(create::create(&state, &caller, &req).await?))
}

/// `POST /cgi-bin/meeting/get_info`.
pub async fn get_info(
    State(state): State<AppState>,
    MeetingToken(caller): MeetingToken,
    WeComBody(body): WeComBody,
) -> Result<RawReply, ApiError> {
    let req = InfoRequest::try_from(&body)?;
    let reply: MeetingInfo = info::info(&state, &caller, &req).await?;
    // A meeting of 25,000 people is a 4 MB reply: serialized off the async workers (on the
    // background pool when large), like the folding before it (issue 11.2).
    let people = (reply.attendees.member.len() + reply.attendees.tmp_external_user.len()) as u64;
    let body = rollcall_store::background::run_sized(people, move || serde_json::to_vec(&reply))
        .await
        .map_err(|e| ApiError::Busy(format!("get_info task failed: {e}")))?
        .map_err(|e| ApiError::Busy(format!("serializing reply: {e}")))?;
    Ok(RawReply(body))
}

/// `POST /cgi-bin/meeting/update`.
pub async fn update(
    State(state): State<AppState>,
    MeetingToken(caller): MeetingToken,
    WeComBody(body): WeComBody,
) -> Result<Reply<ErrorBody>, ApiError> {
    let req = UpdateRequest::try_from(&body)?;
    update::update(&state, &caller, &req).await?;
    Ok(Reply(ok()))
}

/// `POST /cgi-bin/meeting/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    MeetingToken(caller): MeetingToken,
    WeComBody(body): WeComBody,
) -> Result<Reply<ErrorBody>, ApiError> {
    let req = CancelRequest::try_from(&body)?;
    cancel::cancel(&state, &caller, &req).await?;
    Ok(Reply(ok()))
}

/// `POST /cgi-bin/meeting/get_user_meetingid`.
pub async fn get_user_meetingid(
    State(state): State<AppState>,
    MeetingToken(caller): MeetingToken,
    WeComBody(body): WeComBody,
) -> Result<Reply<GetUserMeetingIdResponse>, ApiError> {
    let req = UserMeetingsRequest::try_from(&body)?;
    Ok(Reply(
        user_meetings::user_meetings(&state, &caller, &req).await?,
    ))
}

/// The body of a success that carries nothing else.
fn ok() -> ErrorBody {
    ErrorBody {
        errcode: errcode::OK,
        errmsg: "ok".into(),
    }
}
