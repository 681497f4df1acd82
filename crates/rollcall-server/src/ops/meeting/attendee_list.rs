//! `meeting/get_attendee_list` (SPEC §3): one page of a meeting's attendance sessions, as the
//! calling app may see them.
//!
//! The reply is written straight into its buffer: each row's JSON comes rendered from the
//! [`page_cache`](super::page_cache) (or is rendered into it on a miss), and only the
//! caller's visibility, the cursor and the envelope are worked out per request.

use std::sync::Arc;

use rollcall_core::attendee::{page_json, write_json};
use rollcall_core::cursor::{app_tag, CursorError, CursorState};
use rollcall_core::meeting_request::AttendeeRequest;
use rollcall_core::model::{MeetingType, SessionRow};
use rollcall_core::window;

use crate::ops::access::{readable_meeting, sub_key};
use crate::ops::caller::Caller;
use crate::ops::error::CallError;
use crate::ops::meeting::page_cache::Scanned;
use crate::state::AppState;

/// Rows fetched per store round trip after the first (when invisible members are skipped).
const REFILL_BATCH: u32 = 500;

/// One page of the listing: the `GetAttendeeListResponse` as JSON.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    req: &AttendeeRequest,
) -> Result<Vec<u8>, CallError> {
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
    // Read before anything it validates (see `page_cache`).
    let (store, pages) = (state.store(), state.pages());
    let stamp = pages.stamp(store).await?;
    let seq_hi = match cursor.seq_hi {
        Some(h) => h,
        None => pages.last_seq(store, stamp, meeting.key).await?,
    };

    let webinar = meeting.meeting_type == MeetingType::Webinar;
    let render = |r: &SessionRow, out: &mut Vec<u8>| {
        let openid = state.secret().tmp_openid(meeting.key, &r.participant);
        write_json(r, &meeting, &openid, out);
    };
    let limit = req.limit as usize;
    // The rows listed, as (scan, row index): `limit + 1` tell whether there is more.
    let mut picked: Vec<(Arc<Scanned>, usize)> = Vec::with_capacity(limit + 1);
    let mut after = None;
    let mut batch = req.limit + 1;
    loop {
        let scan = cursor.scan(seq_hi, now, after, batch);
        let scanned = pages.scan(store, stamp, &scan, webinar, render).await?;
        let n = scanned.rows.len();
        for (i, row) in scanned.rows.iter().enumerate() {
            after = Some((row.join_time, row.seq));
            if caller.visibility.allows(&row.participant) {
                picked.push((Arc::clone(&scanned), i));
                if picked.len() > limit {
                    break;
                }
            }
        }
        if picked.len() > limit || n < batch as usize {
            break;
        }
        batch = REFILL_BATCH;
    }
    let has_more = picked.len() > limit;
    picked.truncate(limit);
    let next = match picked.last() {
        Some((s, i)) if has_more => cursor.more(seq_hi, (s.rows[*i].join_time, s.rows[*i].seq)),
        _ => cursor.next_pass(seq_hi),
    };
    Ok(page_json(
        has_more,
        &next.encode(state.secret()),
        picked.iter().map(|(s, i)| s.json(*i)),
    ))
}

fn cursor_err(_: CursorError) -> CallError {
    CallError::Cursor
}
