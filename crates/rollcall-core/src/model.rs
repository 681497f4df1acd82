//! The values the rules, the store and the server pass between them.

use serde::{Deserialize, Serialize};

use rollcall_wire::meeting::{MeetingSettings, Reminders};

/// Meeting kinds, with WeCom's `meeting_type` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeetingType {
    /// 0: a one-off scheduled meeting.
    OneOff,
    /// 1: a recurring meeting; attendance is per sub-meeting.
    Recurring,
    /// 6: a webinar; attendees carry a `webinar_role`.
    Webinar,
}

impl MeetingType {
    pub fn code(self) -> u32 {
        match self {
            MeetingType::OneOff => 0,
            MeetingType::Recurring => 1,
            MeetingType::Webinar => 6,
        }
    }
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(MeetingType::OneOff),
            1 => Some(MeetingType::Recurring),
            6 => Some(MeetingType::Webinar),
            _ => None,
        }
    }
}

/// An app (自建应用) as stored: what `gettoken` authenticates and a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub agentid: u32,
    pub name: String,
    /// SHA-256 of the secret: the secret itself is never stored.
    pub secret_hash: [u8; 32],
    /// Listed in 可调用接口的应用; without it meeting calls answer 48002.
    pub meeting_api: bool,
    /// A disabled app cannot obtain tokens (40001).
    pub enabled: bool,
    pub visible_departments: Vec<u32>,
    pub visible_users: Vec<String>,
    /// Where this app's meeting events are sent (SPEC §11), stored with the app so every node
    /// on the store and every snapshot agree on it; `None`: the app has no callback.
    pub callback: Option<crate::callback::AppCallback>,
}

/// A department; `parent == 0` is top level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub id: u32,
    pub name: String,
    #[serde(default)]
    pub parent: u32,
}

/// A corp member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub userid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub departments: Vec<u32>,
}

/// A corp's whole directory as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corp {
    pub corpid: String,
    pub name: String,
    pub departments: Vec<Department>,
    pub users: Vec<User>,
    pub apps: Vec<App>,
}

/// Who an app is: a token, a meeting and a cursor each belong to exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppRef {
    pub corpid: String,
    pub agentid: u32,
}

/// An issued access token as stored (hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// SHA-256 of the token string: the lookup key.
    pub hash: [u8; 32],
    /// The random input the token string is derived from with the server secret, so the same
    /// token can be handed out again while valid without storing it in clear.
    pub nonce: [u8; 16],
    pub app: AppRef,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// A sub-meeting (one occurrence of a recurring meeting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubMeeting {
    /// Store-assigned key, unique within the meeting, never 0 (0 means "no sub-meeting").
    pub key: i64,
    pub sub_meetingid: String,
    pub start_time: i64,
    pub end_time: i64,
}

/// What a meeting carries beyond its schedule: set by `meeting/create` and `meeting/update`,
/// shown by `meeting/get_info`. Meetings made through the admin API have the defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeetingDetails {
    pub description: String,
    pub location: String,
    /// Invited corp members, in the order given, without repeats. With the administrator,
    /// they are the members whose `meeting/get_user_meetingid` lists the meeting.
    pub invitees: Vec<String>,
    /// `settings` as normalized by the server, unknown fields kept; `None` when never given.
    pub settings: Option<MeetingSettings>,
    /// `reminders` as normalized by the server; `None` when never given. A recurring
    /// meeting's rule is kept here, so a later change of its start regenerates the
    /// occurrences from it.
    pub reminders: Option<Reminders>,
}

// The details hold JSON values only (no floats are compared), so equality is total; the wire
// types derive `PartialEq` alone.
impl Eq for MeetingDetails {}

impl MeetingDetails {
    /// `settings` as the JSON text a store keeps: an object with its keys sorted, the text
    /// written before the details were typed (so old and new rows read alike).
    pub fn settings_json(&self) -> serde_json::Result<Option<String>> {
        stored_json(self.settings.as_ref())
    }

    /// `reminders` as the JSON text a store keeps (see [`MeetingDetails::settings_json`]).
    pub fn reminders_json(&self) -> serde_json::Result<Option<String>> {
        stored_json(self.reminders.as_ref())
    }
}

/// A value's JSON text through [`serde_json::Value`], whose maps sort their keys.
fn stored_json<T: Serialize>(v: Option<&T>) -> serde_json::Result<Option<String>> {
    v.map(|v| serde_json::to_value(v).and_then(|v| serde_json::to_string(&v)))
        .transpose()
}

/// A meeting as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    /// Store-assigned key; cursors and sessions refer to the meeting by it.
    pub key: i64,
    pub meetingid: String,
    pub meeting_code: String,
    pub owner: AppRef,
    pub meeting_type: MeetingType,
    pub title: String,
    pub meeting_start: i64,
    pub meeting_duration: i64,
    pub admin_userid: Option<String>,
    pub sub_meetings: Vec<SubMeeting>,
    pub details: MeetingDetails,
    /// Set by `meeting/cancel`; the status is then 4 whatever the sessions say.
    pub cancelled: bool,
}

impl Meeting {
    pub fn sub_meeting(&self, sub_meetingid: &str) -> Option<&SubMeeting> {
        self.sub_meetings
            .iter()
            .find(|s| s.sub_meetingid == sub_meetingid)
    }

    /// When the meeting's schedule begins: see [`span_start`].
    pub fn span_start(&self) -> i64 {
        span_start(
            self.meeting_start,
            self.sub_meetings.iter().map(|s| s.start_time),
        )
    }

    /// When the meeting's schedule ends: see [`span_end`].
    pub fn span_end(&self) -> i64 {
        span_end(
            self.meeting_start,
            self.meeting_duration,
            self.sub_meetings.iter().map(|s| s.end_time),
        )
    }

    /// The members whose meetings this is (`meeting/get_user_meetingid`): see [`people`].
    pub fn people(&self) -> Vec<&str> {
        people(self.admin_userid.as_deref(), &self.details.invitees)
    }
}

/// When a meeting's schedule begins: its start, or its first occurrence if that is earlier (a
/// rescheduled recurring meeting keeps its past occurrences). `meeting/get_user_meetingid`
/// lists a meeting whose span `[span_start, span_end]` meets the window asked for, in order of
/// span start.
pub fn span_start(meeting_start: i64, sub_starts: impl IntoIterator<Item = i64>) -> i64 {
    sub_starts.into_iter().fold(meeting_start, i64::min)
}

/// When a meeting's schedule ends: its start plus its duration, or the end of its last
/// occurrence if that is later.
pub fn span_end(meeting_start: i64, duration: i64, sub_ends: impl IntoIterator<Item = i64>) -> i64 {
    sub_ends
        .into_iter()
        .fold(meeting_start.saturating_add(duration), i64::max)
}

/// The administrator and the invitees, without repeats: the members a meeting is listed for.
pub fn people<'a>(admin: Option<&'a str>, invitees: &'a [String]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::with_capacity(invitees.len() + 1);
    for u in admin.into_iter().chain(invitees.iter().map(String::as_str)) {
        if !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

/// A meeting to create; the store assigns keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMeeting {
    pub meetingid: String,
    pub meeting_code: String,
    pub owner: AppRef,
    pub meeting_type: MeetingType,
    pub title: String,
    pub meeting_start: i64,
    pub meeting_duration: i64,
    pub admin_userid: Option<String>,
    /// `(sub_meetingid, start_time, end_time)`; empty unless recurring.
    pub sub_meetings: Vec<(String, i64, i64)>,
    pub details: MeetingDetails,
}

impl NewMeeting {
    /// When its schedule begins: see [`span_start`].
    pub fn span_start(&self) -> i64 {
        span_start(self.meeting_start, self.sub_meetings.iter().map(|s| s.1))
    }

    /// When its schedule ends: see [`span_end`].
    pub fn span_end(&self) -> i64 {
        span_end(
            self.meeting_start,
            self.meeting_duration,
            self.sub_meetings.iter().map(|s| s.2),
        )
    }
}

/// A meeting's new state after `meeting/update`: everything that may change, written whole.
/// The server computed it (and checked the meeting was pending); the store only writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingUpdate {
    pub key: i64,
    pub meeting_type: MeetingType,
    pub title: String,
    pub meeting_start: i64,
    pub meeting_duration: i64,
    pub details: MeetingDetails,
    /// The complete new list, keys chosen by the server: sub-meetings already held keep their
    /// key (their sessions refer to it); new ones get keys not used before in the meeting.
    pub sub_meetings: Vec<SubMeeting>,
}

impl MeetingUpdate {
    /// When its schedule begins: see [`span_start`].
    pub fn span_start(&self) -> i64 {
        span_start(
            self.meeting_start,
            self.sub_meetings.iter().map(|s| s.start_time),
        )
    }

    /// When its schedule ends: see [`span_end`].
    pub fn span_end(&self) -> i64 {
        span_end(
            self.meeting_start,
            self.meeting_duration,
            self.sub_meetings.iter().map(|s| s.end_time),
        )
    }
}

/// A keyset page of the meetings a member is listed for (`meeting/get_user_meetingid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMeetingScan {
    /// Only meetings owned by this app.
    pub app: AppRef,
    /// The administrator or an invitee.
    pub userid: String,
    /// Meetings whose span `[span_start, span_end]` meets `[begin, end]` (inclusive).
    pub begin: i64,
    pub end: i64,
    /// Exclusive lower bound on `(span_start, key)`, the listing order.
    pub after: (i64, i64),
    pub limit: u32,
}

/// One meeting of a [`UserMeetingScan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMeetingRow {
    pub span_start: i64,
    pub key: i64,
    pub meetingid: String,
}

/// Who attended: a corp member, an external user or a guest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Participant {
    Member(String),
    External(String),
    Guest(String),
}

impl Participant {
    /// Stable small code for storage.
    pub fn kind_code(&self) -> i64 {
        match self {
            Participant::Member(_) => 0,
            Participant::External(_) => 1,
            Participant::Guest(_) => 2,
        }
    }
    pub fn id(&self) -> &str {
        match self {
            Participant::Member(s) | Participant::External(s) | Participant::Guest(s) => s,
        }
    }
    pub fn from_parts(kind: i64, id: String) -> Option<Self> {
        match kind {
            0 => Some(Participant::Member(id)),
            1 => Some(Participant::External(id)),
            2 => Some(Participant::Guest(id)),
            _ => None,
        }
    }
}

/// One attendance session: one participant on one device, from join to quit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Per-meeting ingest order of the join, starting at 1; with `join_time` it orders rows.
    pub seq: u64,
    /// The platform's key for the session, unique within the meeting.
    pub session_key: String,
    /// Sub-meeting key (0 when the meeting is not recurring).
    pub sub_key: i64,
    pub participant: Participant,
    pub join_time: i64,
    pub quit_time: Option<i64>,
    pub instance_id: u32,
    pub role: u32,
    pub webinar_role: u32,
    pub join_type: u32,
    pub net: Option<String>,
    pub audio_state: bool,
    pub video_state: bool,
    pub screen_shared_state: bool,
    pub customer_data: Option<String>,
    /// `at` of the newest state applied, so an older, late state event cannot win.
    pub state_at: i64,
}

/// A keyset scan of a meeting's sessions, in `(join_time, seq)` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionScan {
    pub meeting_key: i64,
    pub sub_key: i64,
    /// Exclusive lower bound on `(join_time, seq)`.
    pub after: (i64, u64),
    /// Inclusive upper bound on `join_time`.
    pub join_max: i64,
    /// Only sessions with `seq_lo < seq <= seq_hi` (the snapshot a cursor pass covers).
    pub seq_lo: u64,
    pub seq_hi: u64,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows written while the details were untyped JSON (`Value` objects, keys sorted) read
    /// back, and are written again, as the same text.
    #[test]
    fn stored_details_keep_their_text() {
        let settings = r#"{"enable_doc_upload":true,"hosts":{"userid":["a","b"]},"password":"","remind_scope":3,"x":[1,2]}"#;
        let reminders = r#"{"is_repeat":1,"remind_before":[0,900],"repeat_interval":2,"repeat_type":1,"repeat_until_count":4,"repeat_until_type":1}"#;
        let details = MeetingDetails {
            settings: Some(serde_json::from_str(settings).expect("old settings")),
            reminders: Some(serde_json::from_str(reminders).expect("old reminders")),
            ..MeetingDetails::default()
        };
        assert_eq!(details.settings_json().unwrap().as_deref(), Some(settings));
        assert_eq!(
            details.reminders_json().unwrap().as_deref(),
            Some(reminders)
        );
        assert_eq!(MeetingDetails::default().settings_json().unwrap(), None);
    }
}
