//! Creating meetings through the admin API (SPEC §6).

use serde::{Deserialize, Serialize};

use rollcall_core::model::{AppRef, Meeting, MeetingType, NewMeeting};
use rollcall_store::StoreError;

use crate::ops::error::AdminError;
use crate::state::AppState;

/// Longest span a meeting may last through the admin API (31 days).
const MAX_ADMIN_DURATION: i64 = 31 * rollcall_core::DAY;
/// Most sub-meetings one recurring meeting may have.
const MAX_SUB_MEETINGS: usize = 1000;

/// `POST /admin/v1/meetings` body.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AdminMeeting {
    pub corpid: String,
    pub agentid: u32,
    pub meeting_type: u64,
    pub title: String,
    pub meeting_start: i64,
    pub meeting_duration: i64,
    #[serde(default)]
    pub admin_userid: Option<String>,
    #[serde(default)]
    pub sub_meetings: Vec<SubMeetingSpec>,
}

/// One occurrence of a recurring meeting.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SubMeetingSpec {
    pub start_time: i64,
    pub end_time: i64,
}

/// `POST /admin/v1/meetings` reply.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CreatedMeeting {
    pub meetingid: String,
    pub meeting_code: String,
    pub sub_meetings: Vec<CreatedSubMeeting>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CreatedSubMeeting {
    pub sub_meetingid: String,
    pub start_time: i64,
    pub end_time: i64,
}

impl From<&Meeting> for CreatedMeeting {
    fn from(m: &Meeting) -> Self {
        Self {
            meetingid: m.meetingid.clone(),
            meeting_code: m.meeting_code.clone(),
            sub_meetings: m
                .sub_meetings
                .iter()
                .map(|s| CreatedSubMeeting {
                    sub_meetingid: s.sub_meetingid.clone(),
                    start_time: s.start_time,
                    end_time: s.end_time,
                })
                .collect(),
        }
    }
}

/// Validate and store a meeting on behalf of an app.
pub async fn create(state: &AppState, req: &AdminMeeting) -> Result<Meeting, AdminError> {
    fn bad(m: impl Into<String>) -> AdminError {
        AdminError::Invalid(m.into())
    }
    let corp = state
        .corp(&req.corpid)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("unknown corpid {:?}", req.corpid)))?;
    if corp.app(req.agentid).is_none() {
        return Err(AdminError::NotFound(format!(
            "corp {} has no app {}",
            req.corpid, req.agentid
        )));
    }
    let meeting_type = MeetingType::from_code(req.meeting_type)
        .ok_or_else(|| bad("meeting_type must be 0 (one-off), 1 (recurring) or 6 (webinar)"))?;
    if req.title.trim().is_empty() || req.title.chars().count() > 255 {
        return Err(bad("title must be 1..=255 characters"));
    }
    if req.meeting_start <= 0 || req.meeting_start > i64::from(u32::MAX) {
        return Err(bad("meeting_start must be unix seconds"));
    }
    if !(1..=MAX_ADMIN_DURATION).contains(&req.meeting_duration) {
        return Err(bad(format!(
            "meeting_duration must be 1..={MAX_ADMIN_DURATION} seconds"
        )));
    }
    if let Some(u) = &req.admin_userid {
        if !corp.directory.users.iter().any(|x| &x.userid == u) {
            return Err(bad(format!(
                "admin_userid {u:?} is not a member of the corp"
            )));
        }
    }
    let mut subs: Vec<(String, i64, i64)> = Vec::new();
    match meeting_type {
        MeetingType::Recurring => {
            if req.sub_meetings.is_empty() || req.sub_meetings.len() > MAX_SUB_MEETINGS {
                return Err(bad(format!(
                    "a recurring meeting needs 1..={MAX_SUB_MEETINGS} sub_meetings"
                )));
            }
            for (i, s) in req.sub_meetings.iter().enumerate() {
                if s.start_time <= 0
                    || s.end_time <= s.start_time
                    || s.end_time > i64::from(u32::MAX)
                {
                    return Err(bad(format!(
                        "sub_meetings[{i}] needs 0 < start_time < end_time (unix seconds)"
                    )));
                }
            }
            let spans: Vec<(i64, i64)> = req
                .sub_meetings
                .iter()
                .map(|s| (s.start_time, s.end_time))
                .collect();
            subs = rollcall_core::plan::new_sub_meetings(&spans);
        }
        _ if !req.sub_meetings.is_empty() => {
            return Err(bad(
                "only recurring meetings (meeting_type 1) have sub_meetings",
            ))
        }
        _ => {}
    }
    // The owner app's `create_meeting` callback, from the admin_userid or `sys` (SPEC §11):
    // a meeting made for the app through the admin API is still the app's meeting.
    let has_target = corp.app(req.agentid).is_some_and(|a| a.callback.is_some());
    let mut last = None;
    for _ in 0..3 {
        let new = NewMeeting {
            meetingid: state.ids().meetingid(),
            meeting_code: state.ids().meeting_code(),
            owner: AppRef {
                corpid: req.corpid.clone(),
                agentid: req.agentid,
            },
            meeting_type,
            title: req.title.clone(),
            meeting_start: req.meeting_start,
            meeting_duration: req.meeting_duration,
            admin_userid: req.admin_userid.clone(),
            sub_meetings: subs.clone(),
            details: Default::default(),
        };
        let events = rollcall_core::delivery::meeting_event(
            &new.owner,
            has_target,
            &new.meetingid,
            &rollcall_callback::ChangeType::CreateMeeting,
            req.admin_userid.as_deref(),
            state.now(),
        );
        match state.store().create_meeting(&new, &events).await {
            Ok(m) => {
                state.invalidate_meeting(&m.meetingid);
                if !events.is_empty() {
                    state.callbacks().wake();
                }
                return Ok(m);
            }
            Err(StoreError::Conflict(e)) => last = Some(StoreError::Conflict(e)),
            other => return other.map_err(AdminError::from),
        }
    }
    Err(AdminError::from(last.unwrap_or_else(|| {
        StoreError::Unavailable("meetingid generation".into())
    })))
}
