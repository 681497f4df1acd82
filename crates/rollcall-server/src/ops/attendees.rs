//! `meeting/get_attendee_list` (SPEC §3): request parsing and the listing itself.

use std::sync::Arc;

use serde_json::{Map, Value};

use rollcall_core::attendee::render;
use rollcall_core::cursor::{app_tag, CursorError, CursorState};
use rollcall_core::model::{Meeting, MeetingType, SessionRow};
use rollcall_core::window::{self, Window};
use rollcall_wire::errcode;
use rollcall_wire::lenient::Fields;
use rollcall_wire::GetAttendeeListResponse;

use crate::auth::AppToken;
use crate::error::ApiError;
use crate::state::AppState;

/// Default and largest page size.
pub const MAX_LIMIT: u32 = 100;

/// A get_attendee_list request whose fields are all well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendeeRequest {
    pub meetingid: String,
    pub sub_meetingid: Option<String>,
    pub start_time: Option<u32>,
    pub end_time: Option<u32>,
    pub cursor: Option<String>,
    /// 1..=100 (absent or 0 became 100).
    pub limit: u32,
}

impl TryFrom<&Map<String, Value>> for AttendeeRequest {
    type Error = ApiError;

    fn try_from(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let f = Fields::new(body);
        let meetingid = f.req_str("meetingid", 256)?.to_owned();
        let sub_meetingid = f.opt_str("sub_meetingid", 256)?.map(str::to_owned);
        let start_time = f.opt_u32("start_time")?;
        let end_time = f.opt_u32("end_time")?;
        let cursor = f.opt_str("cursor", usize::MAX)?.map(str::to_owned);
        let limit = match f.opt_u32("limit")? {
            None | Some(0) => MAX_LIMIT,
            Some(n) if n <= MAX_LIMIT => n,
            Some(_) => return Err(ApiError::InvalidParam("limit")),
        };
        Ok(Self {
            meetingid,
            sub_meetingid,
            start_time,
            end_time,
            cursor,
            limit,
        })
    }
}

/// Rows fetched per store round trip after the first (when invisible members are skipped).
const REFILL_BATCH: u32 = 500;

/// The meeting the app may read, or 40058 `meetingid` — the same answer whether it does not
/// exist or belongs to another app, so nothing leaks (SPEC §1, Decision).
pub async fn readable_meeting(
    state: &AppState,
    token: &AppToken,
    meetingid: &str,
) -> Result<Arc<Meeting>, ApiError> {
    match state.meeting(meetingid).await? {
        Some(m) if m.owner == token.app => Ok(m),
        _ => Err(ApiError::InvalidParam("meetingid")),
    }
}

/// The sub-meeting key a listing is about: required and valid for recurring meetings,
/// ignored (0) otherwise.
pub fn sub_key(meeting: &Meeting, sub_meetingid: Option<&str>) -> Result<i64, ApiError> {
    if meeting.meeting_type != MeetingType::Recurring {
        return Ok(0);
    }
    sub_meetingid
        .and_then(|id| meeting.sub_meeting(id))
        .map(|s| s.key)
        .ok_or(ApiError::InvalidParam("sub_meetingid"))
}

/// One page of the listing.
pub async fn list(
    state: &AppState,
    token: &AppToken,
    req: &AttendeeRequest,
) -> Result<GetAttendeeListResponse, ApiError> {
    let meeting = readable_meeting(state, token, &req.meetingid).await?;
    let sub_key = sub_key(&meeting, req.sub_meetingid.as_deref())?;
    let now = state.now();
    let tag = app_tag(&token.app);
    let cursor = match &req.cursor {
        Some(c) => {
            let st = CursorState::decode(c, state.secret()).map_err(cursor_err)?;
            st.check(tag, meeting.key, sub_key, req.limit)
                .map_err(cursor_err)?;
            st
        }
        None => {
            let window = if meeting.meeting_type == MeetingType::Recurring {
                // The window does not apply to recurring meetings ("暂时不生效").
                Window {
                    start: i64::MIN,
                    end: Some(i64::MAX),
                }
            } else {
                window::resolve(now, req.start_time, req.end_time)
                    .map_err(|_| ApiError::InvalidParam("start_time"))?
            };
            CursorState::first(tag, meeting.key, sub_key, req.limit, window)
        }
    };
    let seq_hi = match cursor.seq_hi {
        Some(h) => h,
        None => state.store().last_seq(meeting.key).await?,
    };

    let visibility = token.visibility();
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
            if visibility.allows(&row.participant) {
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

fn cursor_err(_: CursorError) -> ApiError {
    ApiError::Code(errcode::INVALID_CURSOR)
}
