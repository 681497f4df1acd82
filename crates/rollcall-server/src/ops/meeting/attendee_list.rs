//! `meeting/get_attendee_list` (SPEC §3): one page of a meeting's attendance sessions, as the
//! calling app may see them.

use rollcall_core::attendee::render;
use rollcall_core::cursor::{app_tag, CursorError, CursorState};
use rollcall_core::meeting_request::AttendeeRequest;
use rollcall_core::model::SessionRow;
use rollcall_core::window;
use rollcall_wire::errcode;
use rollcall_wire::GetAttendeeListResponse;

use crate::ops::access::{readable_meeting, sub_key};
use crate::ops::caller::Caller;
use crate::ops::error::CallError;
use crate::state::AppState;

/// Rows fetched per store round trip after the first (when invisible members are skipped).
const REFILL_BATCH: u32 = 500;

/// One page of the listing.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    req: &AttendeeRequest,
) -> Result<GetAttendeeListResponse, CallError> {
    let meeting = readable_meeting(state, caller, &req.meetingid).await?;
    let sub_key = sub_key(&meeting, req.sub_meetingid.as_deref())?;
    let now = state.now();
    let tag = app_tag(&caller.app);
    let cursor = match &req.cursor {
        Some(c) => {
            let st = CursorState::decode(c, state.secret()).map_err(cursor_err)?;
            st.check(tag, meeting.key, sub_key, req.limit)
                .map_err(cursor_err)?;
            st
        }
        None => {
            let window =
                window::for_meeting(now, meeting.meeting_type, req.start_time, req.end_time)
                    .map_err(|_| CallError::Field("start_time"))?;
            CursorState::first(tag, meeting.key, sub_key, req.limit, window)
        }
    };
    let seq_hi = match cursor.seq_hi {
        Some(h) => h,
        None => state.store().last_seq(meeting.key).await?,
    };

    let limit = req.limit as usize;
    let mut rows: Vec<SessionRow> = Vec::with_capacity(limit + 1);
    let mut after = None;
    let mut batch = req.limit + 1;
    loop {
        let scanned = state
            .store()
            .scan_sessions(&cursor.scan(seq_hi, now, after, batch))
            .await?;
        let n = scanned.len();
        for row in scanned {
            after = Some((row.join_time, row.seq));
            if caller.visibility.allows(&row.participant) {
                rows.push(row);
                if rows.len() > limit {
                    break;
                }
            }
        }
        if rows.len() > limit || n < batch as usize {
            break;
        }
        batch = REFILL_BATCH;
    }
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let next = match rows.last() {
        Some(last) if has_more => cursor.more(seq_hi, (last.join_time, last.seq)),
        _ => cursor.next_pass(seq_hi),
    };
    Ok(GetAttendeeListResponse {
        errcode: errcode::OK,
        errmsg: "ok".into(),
        has_more,
        next_cursor: next.encode(state.secret()),
        attendees: rows
            .iter()
            .map(|r| render(r, &meeting, state.secret()))
            .collect(),
    })
}

fn cursor_err(_: CursorError) -> CallError {
    CallError::Cursor
}
