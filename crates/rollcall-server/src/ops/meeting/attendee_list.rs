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
    let stamp = pages.stamp(state.shared_store(), meeting.key).await?;
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
    // The rows listed, as runs of consecutive rows of one scan `(scan, first, last)`, copied
    // into the reply whole; `limit + 1` rows tell whether there is more.
    let mut runs: Vec<(Arc<Scanned>, usize, usize)> = Vec::new();
    let (mut picked, mut has_more) = (0, false);
    let mut last = None;
    let mut after = None;
    let mut batch = req.limit + 1;
    'scan: loop {
        // Scanned without the window's end, which is applied here: rows come in `join_time`
        // order, so the rows up to `join_max` are a prefix of that scan, and the first row
        // past it ends the listing. The cached scan then stays the same while the default
        // window's end (now) moves every second.
        let mut scan = cursor.scan(seq_hi, now, after, batch);
        let join_max = std::mem::replace(&mut scan.join_max, i64::MAX);
        let scanned = pages.scan(store, stamp, &scan, webinar, render).await?;
        let n = scanned.rows.len();
        for (i, row) in scanned.rows.iter().enumerate() {
            if row.join_time > join_max {
                break 'scan;
            }
            after = Some((row.join_time, row.seq));
            if !caller.visibility.allows(&row.participant) {
                continue;
            }
            if picked == limit {
                // One more visible row: there is more, and the page ends at the one before.
                has_more = true;
                break 'scan;
            }
            picked += 1;
            last = Some((row.join_time, row.seq));
            match runs.last_mut() {
                Some((s, _, end)) if Arc::ptr_eq(s, &scanned) && *end + 1 == i => *end = i,
                _ => runs.push((Arc::clone(&scanned), i, i)),
            }
        }
        if n < batch as usize {
            break;
        }
        batch = REFILL_BATCH;
    }
    let next = match last {
        Some(pos) if has_more => cursor.more(seq_hi, pos),
        _ => cursor.next_pass(seq_hi),
    };
    Ok(page_json(
        has_more,
        &next.encode(state.secret()),
        runs.iter().map(|(s, first, end)| s.json_run(*first, *end)),
    ))
}

fn cursor_err(_: CursorError) -> CallError {
    CallError::Cursor
}
