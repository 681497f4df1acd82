//! `meeting/get_user_meetingid`: one page of the meetings of the calling app that list a
//! member (as administrator or invitee).

use rollcall_core::cursor::{app_tag, user_tag, UserMeetingsCursor};
use rollcall_core::meeting_request::UserMeetingsRequest;
use rollcall_core::model::UserMeetingScan;
use rollcall_core::plan;
use rollcall_wire::errcode;
use rollcall_wire::meeting::GetUserMeetingIdResponse;

use crate::ops::caller::Caller;
use crate::ops::error::CallError;
use crate::state::AppState;

/// One page of the member's meetings.
pub async fn user_meetings(
    state: &AppState,
    caller: &Caller,
    req: &UserMeetingsRequest,
) -> Result<GetUserMeetingIdResponse, CallError> {
    // A member outside the app's visible range is refused like an unknown one.
    if !caller.in_range(&req.userid) {
        return Err(CallError::Field("userid"));
    }
    let (atag, utag) = (app_tag(&caller.app), user_tag(&req.userid));
    let (begin, end, after) = match &req.cursor {
        Some(c) => {
            let c = UserMeetingsCursor::decode(c, state.secret())
                .and_then(|c| c.check(atag, utag, req.limit).map(|()| c))
                .map_err(|_| CallError::Cursor)?;
            (c.begin, c.end, c.pos)
        }
        None => {
            let (b, e) = plan::user_window(state.now(), req.begin_time, req.end_time)
                .map_err(|_| CallError::Field("begin_time"))?;
            (b, e, (i64::MIN, i64::MIN))
        }
    };
    let mut rows = state
        .store()
        .user_meetings(&UserMeetingScan {
            app: caller.app.clone(),
            userid: req.userid.clone(),
            begin,
            end,
            after,
            limit: req.limit + 1,
        })
        .await?;
    let has_more = rows.len() > req.limit as usize;
    rows.truncate(req.limit as usize);
    let next_cursor = match rows.last() {
        Some(last) if has_more => UserMeetingsCursor {
            app_tag: atag,
            user_tag: utag,
            limit: req.limit,
            begin,
            end,
            pos: (last.span_start, last.key),
        }
        .encode(state.secret()),
        _ => String::new(),
    };
    Ok(GetUserMeetingIdResponse {
        errcode: errcode::OK,
        errmsg: "ok".into(),
        next_cursor,
        meetingid_list: rows.into_iter().map(|r| r.meetingid).collect(),
    })
}
