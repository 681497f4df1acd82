//! The meeting calls around the attendee list (SPEC §4): `meeting/create`, `meeting/get_info`,
//! `meeting/update`, `meeting/cancel`, `meeting/get_user_meetingid`.
//!
//! Each request is read field by field ([`rollcall_wire::lenient`]) into a value whose fields
//! are well-formed (`TryFrom<&Map>`), so a bad field is reported by name (40058
//! `invalid param '<field>'`, nested fields by path, e.g. `reminders.repeat_type`). The checks
//! that need the directory, the clock or the stored meeting come next, in the operation. The
//! rules themselves are pure functions of `rollcall_core` ([`recurrence`], [`schedule`],
//! [`plan`], [`cursor`]).
//!
//! Every call is scoped to the token's app: another app's meeting answers exactly like an
//! unknown one ([`readable_meeting`]), another app's meeting code like an unknown code, and a
//! member's meeting list holds only the app's own meetings.
//!
//! [`recurrence`]: rollcall_core::recurrence
//! [`schedule`]: rollcall_core::schedule
//! [`plan`]: rollcall_core::plan
//! [`cursor`]: rollcall_core::cursor

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use rollcall_core::cursor::{app_tag, user_tag, UserMeetingsCursor};
use rollcall_core::model::{
    Meeting, MeetingDetails, MeetingType, MeetingUpdate, NewMeeting, Participant, SessionRow,
    SessionScan, UserMeetingScan,
};
use rollcall_core::plan::{self, MAX_DURATION, MIN_DURATION};
use rollcall_core::recurrence::{self, Frequency, Rule, TimeZone, Until};
use rollcall_core::schedule::{self, current_sub, meeting_status, Presence};
use rollcall_store::StoreError;
use rollcall_wire::errcode;
use rollcall_wire::lenient::{BadField, Fields};
use rollcall_wire::meeting::{
    AttendanceFigures, CreateMeetingResponse, ExternalAttendance, GetUserMeetingIdResponse,
    MeetingAttendance, MeetingInfo, MeetingSettings, MemberAttendance, Reminders, SubMeeting,
};

use crate::auth::AppToken;
use crate::error::ApiError;
use crate::ops::attendees::readable_meeting;
use crate::state::AppState;

/// Longest `title`, in characters.
pub const MAX_TITLE: usize = 255;
/// Longest `description`, in characters.
pub const MAX_DESCRIPTION: usize = 1000;
/// Longest `location`, in characters.
pub const MAX_LOCATION: usize = 255;
/// Most invitees one meeting may have.
pub const MAX_INVITEES: usize = 1000;
/// Longest userid, in bytes (WeCom's limit).
const MAX_USERID: usize = 64;
/// Default and largest page of `meeting/get_user_meetingid`.
pub const MAX_USER_LIMIT: u32 = 100;

/// Where a meeting's link points. rollcall has no meeting client to open, so the link is
/// well-formed but under a reserved domain that can never resolve to anyone.
fn meeting_link(code: &str) -> String {
    format!("https://meeting.rollcall.invalid/dm/{code}")
}

// ---------------------------------------------------------------- request parsing

/// A string field of at most `max_chars` characters (and not blank, when required).
fn text(f: &Fields<'_>, name: &'static str, max_chars: usize) -> Result<Option<String>, BadField> {
    match f.opt_str(name, max_chars.saturating_mul(4))? {
        Some(s) if s.chars().count() > max_chars => Err(BadField(name)),
        other => Ok(other.map(str::to_owned)),
    }
}

fn title(f: &Fields<'_>) -> Result<Option<String>, BadField> {
    match text(f, "title", MAX_TITLE)? {
        Some(t) if t.trim().is_empty() => Err(BadField("title")),
        other => Ok(other),
    }
}

/// `{"userid": [...]}`: the userids, without repeats, in the order given. Any malformation is
/// reported as `name` (`invitees`, `settings.hosts`, …).
fn user_ids(f: &Fields<'_>, name: &'static str) -> Result<Option<Vec<String>>, BadField> {
    let Some(obj) = f.object(name).map_err(|_| BadField(name))? else {
        return Ok(None);
    };
    let ids = obj
        .opt_str_list("userid", MAX_USERID, MAX_INVITEES)
        .map_err(|_| BadField(name))?
        .unwrap_or_default();
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.iter().any(|x| x == id) {
            out.push(id.to_owned());
        }
    }
    Ok(Some(out))
}

/// A `u32` enum-like field that must be at most `max`.
fn small(f: &Fields<'_>, name: &'static str, max: u64) -> Result<Option<u32>, BadField> {
    Ok(f.opt_uint(name, max)?.map(|n| n as u32))
}

/// `settings`, checked and normalized: the fields rollcall knows have their types checked
/// (integers may come as digit strings and are stored as numbers), the others are kept as
/// they are. `hosts` / `ring_users` are returned too, for the membership check.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsSpec {
    pub value: Value,
    pub members: Vec<(&'static str, Vec<String>)>,
}

fn settings(f: &Fields<'_>) -> Result<Option<SettingsSpec>, BadField> {
    let Some(raw) = f.raw("settings") else {
        return Ok(None);
    };
    let Value::Object(obj) = raw else {
        return Err(BadField("settings"));
    };
    let s = Fields::new(obj);
    let mut out: Map<String, Value> = obj.clone();
    let mut set = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(key.to_owned(), v);
        }
    };
    if let Some(p) = s.opt_str("settings.password", 6)? {
        if !(4..=6).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadField("settings.password"));
        }
    }
    match small(&s, "settings.remind_scope", 4)? {
        Some(0) => return Err(BadField("settings.remind_scope")),
        v => set("remind_scope", v.map(Value::from)),
    }
    set(
        "enable_enter_mute",
        small(&s, "settings.enable_enter_mute", 2)?.map(Value::from),
    );
    set(
        "watermark_type",
        s.opt_u32("settings.watermark_type")?.map(Value::from),
    );
    for name in [
        "settings.enable_waiting_room",
        "settings.allow_enter_before_host",
        "settings.allow_unmute_self",
        "settings.allow_external_user",
        "settings.enable_screen_watermark",
        "settings.enable_host_key",
    ] {
        s.opt_bool(name)?;
    }
    if let Some(t) = s.opt_str("settings.auto_record_type", 16)? {
        if !matches!(t, "none" | "local" | "cloud") {
            return Err(BadField("settings.auto_record_type"));
        }
    }
    if let Some(k) = s.opt_str("settings.host_key", 6)? {
        if !(6..=6).contains(&k.len()) || !k.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadField("settings.host_key"));
        }
    }
    let mut members = Vec::new();
    for name in ["settings.hosts", "settings.ring_users"] {
        if let Some(ids) = user_ids(&s, name)? {
            let key = name.rsplit('.').next().unwrap_or(name);
            out.insert(key.to_owned(), serde_json::json!({ "userid": ids }));
            members.push((name, ids));
        }
    }
    Ok(Some(SettingsSpec {
        value: Value::Object(out),
        members,
    }))
}

/// `reminders`, with every field well-formed (not yet checked as a schedule: see [`rule_of`]).
fn reminders(f: &Fields<'_>) -> Result<Option<Reminders>, BadField> {
    let Some(r) = f.object("reminders")? else {
        return Ok(None);
    };
    let list = |name: &'static str, max: u64, items: usize| -> Result<Option<Vec<u32>>, BadField> {
        Ok(r.opt_uint_list(name, max, items)?
            .map(|v| v.into_iter().map(|n| n as u32).collect()))
    };
    Ok(Some(Reminders {
        is_repeat: small(&r, "reminders.is_repeat", 1)?,
        repeat_type: r.opt_u32("reminders.repeat_type")?,
        repeat_until_type: r.opt_u32("reminders.repeat_until_type")?,
        repeat_until_count: r.opt_u32("reminders.repeat_until_count")?,
        repeat_until: r.opt_uint("reminders.repeat_until", u64::from(u32::MAX))?,
        repeat_interval: r.opt_u32("reminders.repeat_interval")?,
        is_custom_repeat: small(&r, "reminders.is_custom_repeat", 1)?,
        repeat_day_of_week: list("reminders.repeat_day_of_week", 7, 7)?,
        repeat_day_of_month: list("reminders.repeat_day_of_month", 31, 31)?,
        remind_before: list("reminders.remind_before", 7 * 86_400, 16)?,
        extra: Map::new(),
    }))
}

/// The repetition rule `reminders` asks for, or `None` for a one-off (`is_repeat` absent or 0).
///
/// Accepted (WeCom's codes): `repeat_type` 0 daily, 1 weekly, 2 monthly, 7 every working day;
/// `repeat_interval` every N (default 1); `repeat_until_type` 0 "through the day of
/// `repeat_until`" (required then) or 1 "`repeat_until_count` times" (required then);
/// `is_custom_repeat` 1 with `repeat_day_of_week` (weekly) or `repeat_day_of_month` (monthly).
pub fn rule_of(r: &Reminders, tz: &TimeZone) -> Result<Option<Rule>, BadField> {
    if r.is_repeat != Some(1) {
        return Ok(None);
    }
    let frequency = Frequency::from_code(u64::from(r.repeat_type.unwrap_or(0)))
        .ok_or(BadField("reminders.repeat_type"))?;
    let until = match r.repeat_until_type.unwrap_or(0) {
        0 => {
            let at = r
                .repeat_until
                .filter(|&t| t != 0)
                .ok_or(BadField("reminders.repeat_until"))?;
            Until::date_of(at as i64, tz).map_err(|e| BadField(e.0))?
        }
        1 => Until::Count(
            r.repeat_until_count
                .filter(|&n| n != 0)
                .ok_or(BadField("reminders.repeat_until_count"))?,
        ),
        _ => return Err(BadField("reminders.repeat_until_type")),
    };
    let custom = r.is_custom_repeat == Some(1);
    let days = |list: &Option<Vec<u32>>, name: &'static str| -> Result<Vec<u8>, BadField> {
        let d: Vec<u8> = list.iter().flatten().map(|&n| n as u8).collect();
        if d.is_empty() {
            Err(BadField(name))
        } else {
            Ok(d)
        }
    };
    let days_of_week = if custom && frequency == Frequency::Weekly {
        days(&r.repeat_day_of_week, "reminders.repeat_day_of_week")?
    } else {
        Vec::new()
    };
    let days_of_month = if custom && frequency == Frequency::Monthly {
        days(&r.repeat_day_of_month, "reminders.repeat_day_of_month")?
    } else {
        Vec::new()
    };
    Ok(Some(Rule {
        frequency,
        interval: r.repeat_interval.filter(|&n| n != 0).unwrap_or(1),
        days_of_week,
        days_of_month,
        until,
    }))
}

/// The occurrences of a meeting at `start` for `duration` under `reminders` (`None`: one-off).
fn occurrences_of(
    r: Option<&Reminders>,
    start: i64,
    duration: i64,
    tz: &TimeZone,
) -> Result<Option<Vec<(i64, i64)>>, BadField> {
    let Some(rule) = r.map(|r| rule_of(r, tz)).transpose()?.flatten() else {
        return Ok(None);
    };
    recurrence::occurrences(start, duration, &rule, tz)
        .map(Some)
        .map_err(|e| BadField(e.0))
}

/// `meeting_start`: unix seconds, given, and (checked later) in the future.
fn start_time(f: &Fields<'_>) -> Result<Option<i64>, BadField> {
    Ok(f.opt_uint("meeting_start", u64::from(u32::MAX))?
        .filter(|&t| t != 0)
        .map(|t| t as i64))
}

fn duration(f: &Fields<'_>) -> Result<Option<i64>, BadField> {
    match f.opt_uint("meeting_duration", u64::from(u32::MAX))? {
        None | Some(0) => Ok(None),
        Some(d) if (MIN_DURATION as u64..=MAX_DURATION as u64).contains(&d) => Ok(Some(d as i64)),
        Some(_) => Err(BadField("meeting_duration")),
    }
}

/// A `meeting/create` request whose fields are all well-formed.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    pub admin_userid: String,
    pub title: String,
    pub meeting_start: i64,
    pub meeting_duration: i64,
    pub description: String,
    pub location: String,
    pub agentid: Option<u32>,
    pub invitees: Vec<String>,
    pub settings: Option<SettingsSpec>,
    pub reminders: Option<Reminders>,
}

impl TryFrom<&Map<String, Value>> for CreateRequest {
    type Error = ApiError;

    fn try_from(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let f = Fields::new(body);
        Ok(Self {
            admin_userid: f.req_str("admin_userid", MAX_USERID)?.to_owned(),
            title: title(&f)?.ok_or(BadField("title"))?,
            meeting_start: start_time(&f)?.ok_or(BadField("meeting_start"))?,
            meeting_duration: duration(&f)?.ok_or(BadField("meeting_duration"))?,
            description: text(&f, "description", MAX_DESCRIPTION)?.unwrap_or_default(),
            location: text(&f, "location", MAX_LOCATION)?.unwrap_or_default(),
            agentid: f.opt_u32("agentid")?.filter(|&a| a != 0),
            invitees: user_ids(&f, "invitees")?.unwrap_or_default(),
            settings: settings(&f)?,
            reminders: reminders(&f)?,
        })
    }
}

/// A `meeting/update` request whose fields are all well-formed; `None` = unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    pub meetingid: String,
    pub admin_userid: Option<String>,
    pub title: Option<String>,
    /// `meeting_start` and `meeting_duration`, which change together.
    pub schedule: Option<(i64, i64)>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub invitees: Option<Vec<String>>,
    pub settings: Option<SettingsSpec>,
    pub reminders: Option<Reminders>,
}

impl TryFrom<&Map<String, Value>> for UpdateRequest {
    type Error = ApiError;

    fn try_from(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let f = Fields::new(body);
        let meetingid = f.req_str("meetingid", 256)?.to_owned();
        let admin_userid = f.opt_str("admin_userid", MAX_USERID)?.map(str::to_owned);
        let title = title(&f)?;
        // Changed together, or not at all: the one missing is named.
        let schedule = match (start_time(&f)?, duration(&f)?) {
            (Some(s), Some(d)) => Some((s, d)),
            (None, None) => None,
            (Some(_), None) => return Err(ApiError::InvalidParam("meeting_duration")),
            (None, Some(_)) => return Err(ApiError::InvalidParam("meeting_start")),
        };
        Ok(Self {
            meetingid,
            admin_userid,
            title,
            schedule,
            description: text(&f, "description", MAX_DESCRIPTION)?,
            location: text(&f, "location", MAX_LOCATION)?,
            invitees: user_ids(&f, "invitees")?,
            settings: settings(&f)?,
            reminders: reminders(&f)?,
        })
    }
}

/// A `meeting/cancel` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    pub meetingid: String,
}

impl TryFrom<&Map<String, Value>> for CancelRequest {
    type Error = ApiError;

    fn try_from(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let f = Fields::new(body);
        let meetingid = f.req_str("meetingid", 256)?.to_owned();
        // WeCom can cancel one occurrence; rollcall cancels whole meetings only, and refuses
        // rather than cancel more than was asked.
        if f.opt_str("sub_meetingid", 256)?.is_some() {
            return Err(ApiError::InvalidParam("sub_meetingid"));
        }
        Ok(Self { meetingid })
    }
}

/// A `meeting/get_info` request: `meetingid`, or else `meeting_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest {
    pub meeting: MeetingRef,
    pub sub_meetingid: Option<String>,
}

/// How `meeting/get_info` names its meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingRef {
    Id(String),
    Code(String),
}

impl TryFrom<&Map<String, Value>> for InfoRequest {
    type Error = ApiError;

    fn try_from(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let f = Fields::new(body);
        let id = f.opt_str("meetingid", 256)?;
        let code = f.opt_str("meeting_code", 64)?;
        let meeting = match (id, code) {
            (Some(id), _) => MeetingRef::Id(id.to_owned()),
            (None, Some(code)) => MeetingRef::Code(code.to_owned()),
            (None, None) => return Err(ApiError::InvalidParam("meetingid")),
        };
        Ok(Self {
            meeting,
            sub_meetingid: f.opt_str("sub_meetingid", 256)?.map(str::to_owned),
        })
    }
}

/// A `meeting/get_user_meetingid` request whose fields are all well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMeetingsRequest {
    pub userid: String,
    pub cursor: Option<String>,
    pub begin_time: Option<u64>,
    pub end_time: Option<u64>,
    /// 1..=100 (absent or 0 became 100).
    pub limit: u32,
}

impl TryFrom<&Map<String, Value>> for UserMeetingsRequest {
    type Error = ApiError;

    fn try_from(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let f = Fields::new(body);
        Ok(Self {
            userid: f.req_str("userid", MAX_USERID)?.to_owned(),
            cursor: f.opt_str("cursor", usize::MAX)?.map(str::to_owned),
            begin_time: f.opt_uint("begin_time", u64::from(u32::MAX))?,
            end_time: f.opt_uint("end_time", u64::from(u32::MAX))?,
            limit: match f.opt_u32("limit")? {
                None | Some(0) => MAX_USER_LIMIT,
                Some(n) if n <= MAX_USER_LIMIT => n,
                Some(_) => return Err(ApiError::InvalidParam("limit")),
            },
        })
    }
}

// ---------------------------------------------------------------- checks against the corp

/// Is `userid` a member of the token's corp?
fn is_member(token: &AppToken, userid: &str) -> bool {
    token.corp.corp.users.iter().any(|u| u.userid == userid)
}

/// Every one of `userids` is a member, or 40058 naming `field`.
fn members(token: &AppToken, userids: &[String], field: &'static str) -> Result<(), ApiError> {
    if userids.iter().all(|u| is_member(token, u)) {
        Ok(())
    } else {
        Err(ApiError::InvalidParam(field))
    }
}

fn check_settings(token: &AppToken, s: Option<&SettingsSpec>) -> Result<(), ApiError> {
    for (field, ids) in s.iter().flat_map(|s| &s.members) {
        members(token, ids, field)?;
    }
    Ok(())
}

fn json_of(r: &Reminders) -> Result<Value, ApiError> {
    serde_json::to_value(r).map_err(|e| ApiError::Busy(format!("encoding reminders: {e}")))
}

// ---------------------------------------------------------------- meeting/create

/// Create a meeting owned by the token's app (its sub-meetings generated from `reminders`).
pub async fn create(
    state: &AppState,
    token: &AppToken,
    req: &CreateRequest,
) -> Result<CreateMeetingResponse, ApiError> {
    if !is_member(token, &req.admin_userid) {
        return Err(ApiError::InvalidParam("admin_userid"));
    }
    if req.meeting_start <= state.now() {
        return Err(ApiError::InvalidParam("meeting_start"));
    }
    if req.agentid.is_some_and(|a| a != token.app.agentid) {
        return Err(ApiError::InvalidParam("agentid"));
    }
    members(token, &req.invitees, "invitees")?;
    check_settings(token, req.settings.as_ref())?;
    let tz = state.time_zone();
    let occurrences = occurrences_of(
        req.reminders.as_ref(),
        req.meeting_start,
        req.meeting_duration,
        &tz,
    )?;
    let (meeting_type, sub_meetings) = match &occurrences {
        Some(occ) => (MeetingType::Recurring, plan::new_sub_meetings(occ)),
        None => (MeetingType::OneOff, Vec::new()),
    };
    let details = MeetingDetails {
        description: req.description.clone(),
        location: req.location.clone(),
        invitees: req.invitees.clone(),
        settings: req.settings.as_ref().map(|s| s.value.clone()),
        reminders: req.reminders.as_ref().map(json_of).transpose()?,
    };
    // A generated meetingid that is taken (vanishingly rare) is drawn again.
    let mut last = None;
    for _ in 0..3 {
        let new = NewMeeting {
            meetingid: state.ids().meetingid(),
            meeting_code: state.ids().meeting_code(),
            owner: token.app.clone(),
            meeting_type,
            title: req.title.clone(),
            meeting_start: req.meeting_start,
            meeting_duration: req.meeting_duration,
            admin_userid: Some(req.admin_userid.clone()),
            sub_meetings: sub_meetings.clone(),
            details: details.clone(),
        };
        match state.store().create_meeting(&new).await {
            Ok(m) => {
                return Ok(CreateMeetingResponse {
                    errcode: errcode::OK,
                    errmsg: "ok".into(),
                    meetingid: m.meetingid,
                    meeting_code: Some(m.meeting_code),
                    excess_users: Vec::new(),
                })
            }
            Err(e @ StoreError::Conflict(_)) => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last
        .unwrap_or_else(|| StoreError::Unavailable("meetingid generation".into()))
        .into())
}

// ---------------------------------------------------------------- meeting/get_info

/// What the sessions say per sub-meeting key.
async fn presence(state: &AppState, meeting_key: i64) -> Result<HashMap<i64, Presence>, ApiError> {
    Ok(state
        .store()
        .presence(meeting_key)
        .await?
        .into_iter()
        .collect())
}

/// Rows read per store round trip while aggregating.
const AGGREGATE_BATCH: u32 = 5000;

/// Every session of one sub-meeting (key 0: the meeting itself), in listing order.
async fn all_sessions(
    state: &AppState,
    meeting_key: i64,
    sub_key: i64,
    out: &mut Vec<SessionRow>,
) -> Result<(), ApiError> {
    let mut after = (i64::MIN, 0);
    loop {
        let rows = state
            .store()
            .scan_sessions(&SessionScan {
                meeting_key,
                sub_key,
                after,
                join_max: i64::MAX,
                seq_lo: 0,
                seq_hi: u64::MAX,
                limit: AGGREGATE_BATCH,
            })
            .await?;
        let n = rows.len();
        if let Some(last) = rows.last() {
            after = (last.join_time, last.seq);
        }
        out.extend(rows);
        if n < AGGREGATE_BATCH as usize {
            return Ok(());
        }
    }
}

/// The meeting `get_info` names, if the app may read it.
async fn info_meeting(
    state: &AppState,
    token: &AppToken,
    which: &MeetingRef,
) -> Result<Arc<Meeting>, ApiError> {
    match which {
        MeetingRef::Id(id) => readable_meeting(state, token, id).await,
        MeetingRef::Code(code) => {
            let id = state
                .store()
                .meetingid_by_code(&token.app, code)
                .await?
                .ok_or(ApiError::InvalidParam("meeting_code"))?;
            // The lookup was scoped to the app; the ownership check is repeated anyway.
            readable_meeting(state, token, &id)
                .await
                .map_err(|_| ApiError::InvalidParam("meeting_code"))
        }
    }
}

/// A JSON detail as the server stored it, decoded; undecodable is a store problem (-1).
fn stored<T: serde::de::DeserializeOwned>(
    m: &Meeting,
    v: &Option<Value>,
    what: &str,
) -> Result<Option<T>, ApiError> {
    v.clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ApiError::Busy(format!("stored {what} of {}: {e}", m.meetingid)))
}

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A meeting's details, status, schedule and per-person attendance.
pub async fn info(
    state: &AppState,
    token: &AppToken,
    req: &InfoRequest,
) -> Result<MeetingInfo, ApiError> {
    let m = info_meeting(state, token, &req.meeting).await?;
    let recurring = m.meeting_type == MeetingType::Recurring;
    // As in get_attendee_list: a sub-meeting must exist in a recurring meeting, and is
    // ignored otherwise.
    let sub = match (&req.sub_meetingid, recurring) {
        (Some(id), true) => Some(
            m.sub_meetings
                .iter()
                .position(|s| &s.sub_meetingid == id)
                .ok_or(ApiError::InvalidParam("sub_meetingid"))?,
        ),
        _ => None,
    };
    let now = state.now();
    let presence = presence(state, m.key).await?;
    let st = meeting_status(now, &m, &presence);
    let status = match sub {
        Some(i) => st.subs[i],
        None => st.overall,
    };

    // The sessions aggregated: the sub-meeting's, or the whole meeting's.
    let keys: Vec<i64> = match sub {
        Some(i) => vec![m.sub_meetings[i].key],
        None if recurring => m.sub_meetings.iter().map(|s| s.key).collect(),
        None => vec![0],
    };
    let mut sessions = Vec::new();
    for key in keys {
        if presence.contains_key(&key) {
            all_sessions(state, m.key, key, &mut sessions).await?;
        }
    }
    let visibility = token.visibility();
    sessions.retain(|r| visibility.allows(&r.participant));
    let mut attendees = MeetingAttendance::default();
    for p in schedule::people(&sessions, now) {
        let a = p.aggregate;
        let figures = AttendanceFigures {
            status: p.status_code(),
            first_join_time: unsigned(a.first_join_time),
            last_quit_time: unsigned(a.last_quit_time),
            total_join_count: u64::from(a.total_join_count),
            cumulative_time: unsigned(a.cumulative_time),
        };
        match &p.participant {
            Participant::Member(userid) => attendees.member.push(MemberAttendance {
                userid: userid.clone(),
                figures,
            }),
            other => attendees.tmp_external_user.push(ExternalAttendance {
                tmp_external_userid: state.secret().tmp_openid(m.key, other),
                figures,
            }),
        }
    }

    let schedule: Vec<(i64, i64, schedule::Status)> = m
        .sub_meetings
        .iter()
        .zip(&st.subs)
        .map(|(s, status)| (s.start_time, s.end_time, *status))
        .collect();
    let current = current_sub(now, &schedule).map(|i| m.sub_meetings[i].sub_meetingid.clone());
    let main_department = m.admin_userid.as_ref().and_then(|a| {
        let user = token.corp.corp.users.iter().find(|u| &u.userid == a)?;
        user.departments.first().map(|&d| u64::from(d))
    });
    let settings: Option<MeetingSettings> = stored(&m, &m.details.settings, "settings")?;
    let reminders: Option<Reminders> = stored(&m, &m.details.reminders, "reminders")?;
    Ok(MeetingInfo {
        errcode: errcode::OK,
        errmsg: "ok".into(),
        creator_userid: None,
        admin_userid: m.admin_userid.clone(),
        title: m.title.clone(),
        meeting_start: unsigned(m.meeting_start),
        meeting_duration: unsigned(m.meeting_duration),
        description: Some(m.details.description.clone()),
        location: Some(m.details.location.clone()),
        main_department,
        status: status.code(),
        meeting_type: m.meeting_type.code(),
        attendees,
        settings,
        cal_id: None,
        reminders,
        meeting_code: Some(m.meeting_code.clone()),
        meeting_link: Some(meeting_link(&m.meeting_code)),
        sub_meetings: m
            .sub_meetings
            .iter()
            .zip(&st.subs)
            .map(|(s, status)| SubMeeting {
                sub_meetingid: s.sub_meetingid.clone(),
                status: status.code(),
                start_time: unsigned(s.start_time),
                end_time: unsigned(s.end_time),
            })
            .collect(),
        current_sub_meetingid: if recurring { current } else { None },
        extra: Map::new(),
    })
}

// ---------------------------------------------------------------- meeting/update, cancel

/// The meeting, if the app may change it: readable and pending (SPEC §4). A meeting that is
/// in progress, ended, expired or cancelled answers 40058 `invalid param 'meetingid'`.
async fn pending_meeting(
    state: &AppState,
    token: &AppToken,
    meetingid: &str,
) -> Result<(Arc<Meeting>, HashMap<i64, Presence>), ApiError> {
    let m = readable_meeting(state, token, meetingid).await?;
    let presence = presence(state, m.key).await?;
    if !schedule::editable(meeting_status(state.now(), &m, &presence).overall) {
        return Err(ApiError::InvalidParam("meetingid"));
    }
    Ok((m, presence))
}

/// Change a pending meeting: only the fields given.
pub async fn update(
    state: &AppState,
    token: &AppToken,
    req: &UpdateRequest,
) -> Result<(), ApiError> {
    let (m, presence) = pending_meeting(state, token, &req.meetingid).await?;
    let now = state.now();
    if let Some(a) = &req.admin_userid {
        if !is_member(token, a) {
            return Err(ApiError::InvalidParam("admin_userid"));
        }
    }
    if let Some(invitees) = &req.invitees {
        members(token, invitees, "invitees")?;
    }
    check_settings(token, req.settings.as_ref())?;
    if req.schedule.is_some_and(|(start, _)| start <= now) {
        return Err(ApiError::InvalidParam("meeting_start"));
    }
    let kept: Option<Reminders> = stored(&m, &m.details.reminders, "reminders")?;
    let reminders = req.reminders.clone().or(kept);

    let (meeting_type, sub_meetings, (start, duration)) =
        if req.schedule.is_some() || req.reminders.is_some() {
            let (start, duration) = req
                .schedule
                .unwrap_or((m.meeting_start, m.meeting_duration));
            if m.meeting_type == MeetingType::Recurring && reminders.is_none() {
                // Made through the admin API with explicit sub-meetings: there is no rule to
                // move, so the caller must give one.
                return Err(ApiError::InvalidParam("reminders"));
            }
            let tz = state.time_zone();
            let occurrences = occurrences_of(reminders.as_ref(), start, duration, &tz)?;
            let (kind, subs) = plan::reschedule(now, &m, &presence, occurrences.as_deref())
                .map_err(|e| ApiError::InvalidParam(e.0))?;
            (kind, subs, (start, duration))
        } else {
            (
                m.meeting_type,
                m.sub_meetings.clone(),
                (m.meeting_start, m.meeting_duration),
            )
        };
    let update = MeetingUpdate {
        key: m.key,
        meeting_type,
        title: req.title.clone().unwrap_or_else(|| m.title.clone()),
        meeting_start: start,
        meeting_duration: duration,
        details: MeetingDetails {
            description: req
                .description
                .clone()
                .unwrap_or_else(|| m.details.description.clone()),
            location: req
                .location
                .clone()
                .unwrap_or_else(|| m.details.location.clone()),
            invitees: req
                .invitees
                .clone()
                .unwrap_or_else(|| m.details.invitees.clone()),
            settings: match &req.settings {
                Some(s) => Some(s.value.clone()),
                None => m.details.settings.clone(),
            },
            reminders: reminders.as_ref().map(json_of).transpose()?,
        },
        sub_meetings,
    };
    let written = state.store().update_meeting(&update).await?;
    state.invalidate_meeting(&m.meetingid);
    if written {
        Ok(())
    } else {
        // Cancelled by a concurrent call since it was read.
        Err(ApiError::InvalidParam("meetingid"))
    }
}

/// Cancel a pending meeting. Its attendance (if any arrives later) stays readable.
pub async fn cancel(
    state: &AppState,
    token: &AppToken,
    req: &CancelRequest,
) -> Result<(), ApiError> {
    let (m, _) = pending_meeting(state, token, &req.meetingid).await?;
    let cancelled = state.store().cancel_meeting(m.key).await?;
    state.invalidate_meeting(&m.meetingid);
    if cancelled {
        Ok(())
    } else {
        Err(ApiError::InvalidParam("meetingid"))
    }
}

// ---------------------------------------------------------------- meeting/get_user_meetingid

/// One page of the meetings of the token's app that list `userid` (administrator or invitee).
pub async fn user_meetings(
    state: &AppState,
    token: &AppToken,
    req: &UserMeetingsRequest,
) -> Result<GetUserMeetingIdResponse, ApiError> {
    if !is_member(token, &req.userid) {
        return Err(ApiError::InvalidParam("userid"));
    }
    let (atag, utag) = (app_tag(&token.app), user_tag(&req.userid));
    let (begin, end, after) = match &req.cursor {
        Some(c) => {
            let c = UserMeetingsCursor::decode(c, state.secret())
                .and_then(|c| c.check(atag, utag, req.limit).map(|()| c))
                .map_err(|_| ApiError::Code(errcode::INVALID_CURSOR))?;
            (c.begin, c.end, c.pos)
        }
        None => {
            let (b, e) = plan::user_window(state.now(), req.begin_time, req.end_time)
                .map_err(|_| ApiError::InvalidParam("begin_time"))?;
            (b, e, (i64::MIN, i64::MIN))
        }
    };
    let mut rows = state
        .store()
        .user_meetings(&UserMeetingScan {
            app: token.app.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    fn create(v: Value) -> Result<CreateRequest, ApiError> {
        CreateRequest::try_from(&obj(v))
    }

    fn base() -> Value {
        json!({"admin_userid": "alice", "title": "周会", "meeting_start": "1800000000",
               "meeting_duration": 3600})
    }

    fn with(field: &str, v: Value) -> Value {
        let mut b = base();
        b[field] = v;
        b
    }

    #[test]
    fn create_fields_are_named_when_bad() {
        let ok = create(base()).expect("valid");
        assert_eq!(ok.meeting_start, 1_800_000_000);
        assert!(ok.reminders.is_none() && ok.invitees.is_empty());
        for (field, v, named) in [
            ("admin_userid", json!(""), "admin_userid"),
            ("admin_userid", json!(5), "admin_userid"),
            ("title", json!(""), "title"),
            ("title", json!("   "), "title"),
            ("title", json!("x".repeat(256)), "title"),
            ("meeting_start", json!(-1), "meeting_start"),
            ("meeting_start", json!(0), "meeting_start"),
            ("meeting_duration", json!(299), "meeting_duration"),
            ("meeting_duration", json!(86_400), "meeting_duration"),
            ("meeting_duration", json!("1h"), "meeting_duration"),
            ("description", json!("字".repeat(1001)), "description"),
            ("location", json!(["x"]), "location"),
            ("agentid", json!(-3), "agentid"),
            ("invitees", json!(["bob"]), "invitees"),
            ("invitees", json!({"userid": "bob"}), "invitees"),
            ("invitees", json!({"userid": [""]}), "invitees"),
            ("settings", json!([]), "settings"),
            ("settings", json!({"password": "12"}), "settings.password"),
            (
                "settings",
                json!({"remind_scope": 9}),
                "settings.remind_scope",
            ),
            (
                "settings",
                json!({"enable_waiting_room": 1}),
                "settings.enable_waiting_room",
            ),
            (
                "settings",
                json!({"auto_record_type": "tape"}),
                "settings.auto_record_type",
            ),
            ("settings", json!({"hosts": ["bob"]}), "settings.hosts"),
            ("reminders", json!(1), "reminders"),
            ("reminders", json!({"is_repeat": 2}), "reminders.is_repeat"),
            (
                "reminders",
                json!({"repeat_type": "daily"}),
                "reminders.repeat_type",
            ),
            (
                "reminders",
                json!({"repeat_day_of_week": [8]}),
                "reminders.repeat_day_of_week",
            ),
            (
                "reminders",
                json!({"remind_before": [-1]}),
                "reminders.remind_before",
            ),
        ] {
            assert_eq!(
                create(with(field, v.clone())),
                Err(ApiError::InvalidParam(named)),
                "{field}: {v}"
            );
        }
        let mut missing = base();
        missing.as_object_mut().unwrap().remove("meeting_duration");
        assert_eq!(
            create(missing),
            Err(ApiError::InvalidParam("meeting_duration"))
        );
    }

    #[test]
    fn settings_are_normalized_and_unknown_ones_kept() {
        let r = create(with(
            "settings",
            json!({"remind_scope": "3", "password": "123456", "hosts": {"userid": ["a", "a", "b"]},
                   "enable_doc_upload": true}),
        ))
        .expect("valid");
        let s = r.settings.expect("settings");
        assert_eq!(
            s.value,
            json!({"remind_scope": 3, "password": "123456", "hosts": {"userid": ["a", "b"]},
                   "enable_doc_upload": true})
        );
        assert_eq!(
            s.members,
            [("settings.hosts", vec!["a".into(), "b".into()])]
        );
    }

    fn rule(r: Value) -> Result<Option<Rule>, BadField> {
        let body = json!({ "reminders": r });
        let f = Fields::new(body.as_object().unwrap());
        rule_of(
            &reminders(&f)?.expect("reminders"),
            &recurrence::default_tz(),
        )
    }

    #[test]
    fn reminders_become_rules() {
        assert_eq!(rule(json!({"is_repeat": 0, "repeat_type": 9})), Ok(None));
        let r = rule(
            json!({"is_repeat": 1, "repeat_type": 1, "repeat_interval": "2",
                            "repeat_until_type": 1, "repeat_until_count": 4}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (r.frequency, r.interval, r.until),
            (Frequency::Weekly, 2, Until::Count(4))
        );
        let r = rule(
            json!({"is_repeat": 1, "repeat_type": 2, "is_custom_repeat": 1,
                            "repeat_day_of_month": [1, 15], "repeat_until": 1_800_000_000}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.days_of_month, [1, 15]);
        assert!(matches!(r.until, Until::Date(_)));
        for (r, named) in [
            (
                json!({"is_repeat": 1, "repeat_type": 3}),
                "reminders.repeat_type",
            ),
            (json!({"is_repeat": 1}), "reminders.repeat_until"),
            (
                json!({"is_repeat": 1, "repeat_until_type": 1}),
                "reminders.repeat_until_count",
            ),
            (
                json!({"is_repeat": 1, "repeat_until_type": 2, "repeat_until": 1}),
                "reminders.repeat_until_type",
            ),
            (
                json!({"is_repeat": 1, "repeat_type": 1, "is_custom_repeat": 1,
                       "repeat_until_type": 1, "repeat_until_count": 2}),
                "reminders.repeat_day_of_week",
            ),
        ] {
            assert_eq!(rule(r.clone()), Err(BadField(named)), "{r}");
        }
    }

    #[test]
    fn update_changes_start_and_duration_together() {
        let up = |v: Value| UpdateRequest::try_from(&obj(v));
        assert_eq!(
            up(json!({"meetingid": "m", "meeting_start": 1_800_000_000})),
            Err(ApiError::InvalidParam("meeting_duration"))
        );
        assert_eq!(
            up(json!({"meetingid": "m", "meeting_duration": 600})),
            Err(ApiError::InvalidParam("meeting_start"))
        );
        let both = up(json!({"meetingid": "m", "meeting_start": 1_800_000_000,
                            "meeting_duration": "600"}))
        .unwrap();
        assert_eq!(both.schedule, Some((1_800_000_000, 600)));
        let none = up(json!({"meetingid": "m", "title": "x"})).unwrap();
        assert_eq!((none.schedule, none.title.as_deref()), (None, Some("x")));
        assert_eq!(up(json!({})), Err(ApiError::InvalidParam("meetingid")));
    }

    #[test]
    fn info_cancel_and_user_requests() {
        let info = |v: Value| InfoRequest::try_from(&obj(v));
        assert_eq!(
            info(json!({"meeting_code": "123"})).unwrap().meeting,
            MeetingRef::Code("123".into())
        );
        assert_eq!(
            info(json!({"meetingid": "m", "meeting_code": "123"}))
                .unwrap()
                .meeting,
            MeetingRef::Id("m".into())
        );
        assert_eq!(info(json!({})), Err(ApiError::InvalidParam("meetingid")));
        let cancel = |v: Value| CancelRequest::try_from(&obj(v));
        assert!(cancel(json!({"meetingid": "m"})).is_ok());
        assert_eq!(
            cancel(json!({"meetingid": "m", "sub_meetingid": "1"})),
            Err(ApiError::InvalidParam("sub_meetingid"))
        );
        let user = |v: Value| UserMeetingsRequest::try_from(&obj(v));
        assert_eq!(user(json!({"userid": "a"})).unwrap().limit, 100);
        assert_eq!(user(json!({"userid": "a", "limit": 0})).unwrap().limit, 100);
        assert_eq!(user(json!({"userid": "a", "limit": "7"})).unwrap().limit, 7);
        assert_eq!(
            user(json!({"userid": "a", "limit": 101})),
            Err(ApiError::InvalidParam("limit"))
        );
        assert_eq!(user(json!({})), Err(ApiError::InvalidParam("userid")));
        assert_eq!(
            user(json!({"userid": "a", "begin_time": "soon"})),
            Err(ApiError::InvalidParam("begin_time"))
        );
    }
}
