//! Validation of ingest events (SPEC §5), one by one, each refusal with a reason.
//!
//! The platform's events arrive as JSON objects; [`parse_event`] turns one into an [`Event`]
//! or says exactly what is wrong, so one bad event never blocks the good ones beside it.
//! Every enum code on WeCom's page is accepted and stored verbatim; anything else is refused
//! here rather than surprising a reader later.
//!
//! # Layout
//! - [`Splitter`]: a request body (JSON array or NDJSON), chunk by chunk as it arrives → each
//!   event's bytes ([`Piece`]); [`event_value`] parses one; [`split_events`] does both over a
//!   whole body.
//! - [`parse_event`]: one raw event → [`Event`], or the reason it is refused.
//! - [`resolve`]: an event bound to its meeting ([`sub_key_for`]: a join's sub-meeting).
//! - [`ResolvedEvent`]: an event bound to its stored meeting, as the store receives it;
//!   [`Outcome`] / [`RejectReason`]: what the store made of it (decided by
//!   [`crate::apply::apply_batch`]).
//! - [`Pending`]: a quit / state parked until its join.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use rollcall_wire::lenient::Fields;

use crate::model::{Meeting, MeetingType, Participant};

/// Longest accepted `event_id`, `session`, `meetingid` and participant id.
pub const MAX_KEY_LEN: usize = 128;
/// Longest accepted `customer_data`.
pub const MAX_CUSTOMER_DATA: usize = 2048;
/// Longest accepted `net`.
pub const MAX_NET: usize = 32;

/// Terminal types on WeCom's page (`instance_id`).
pub const INSTANCE_IDS: &[u32] = &[
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21, 22, 30, 32, 33, 81, 82, 83, 84,
];
/// `role` codes 0..=7.
pub const MAX_ROLE: u32 = 7;
/// `webinar_role` codes 0..=4.
pub const MAX_WEBINAR_ROLE: u32 = 4;
/// `join_type` codes 0..=6.
pub const MAX_JOIN_TYPE: u32 = 6;

/// One validated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event_id: String,
    pub meetingid: String,
    pub sub_meetingid: Option<String>,
    pub session: String,
    pub at: i64,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Join(Join),
    Quit,
    State(StatePatch),
}

/// What a join says about the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub participant: Participant,
    pub instance_id: u32,
    pub role: u32,
    pub webinar_role: u32,
    pub join_type: u32,
    pub net: Option<String>,
    pub audio_state: bool,
    pub video_state: bool,
    pub screen_shared_state: bool,
    pub customer_data: Option<String>,
}

/// The fields a state event changes; absent fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_state: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_state: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_shared_state: Option<bool>,
}

/// An event that arrived before its session's join, kept until the join comes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Pending {
    Quit { at: i64 },
    State { at: i64, patch: StatePatch },
}

impl Pending {
    pub fn at(&self) -> i64 {
        match self {
            Pending::Quit { at } | Pending::State { at, .. } => *at,
        }
    }
}

/// An event bound to the stored meeting and sub-meeting it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedEvent {
    pub meeting_key: i64,
    /// The sub-meeting of a join (0 when not recurring, and for quit / state).
    pub sub_key: i64,
    pub event: Event,
}

/// What the store did with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Duplicate,
    Rejected(RejectReason),
}

/// Why the store refused an event ([`crate::apply::apply_batch`] decides). A refused event is
/// not recorded, so a corrected re-send of the same `event_id` applies.
///
/// The ingest API replies with the [`Display`](std::fmt::Display) text, which is part of the
/// wire: do not reword it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// The event is bound to a meeting key the store does not hold.
    UnknownMeeting,
    /// A join for a session key the meeting already has (keys are unique per meeting,
    /// across its sub-meetings).
    AlreadyJoined { session: String },
    /// A quit for a session that has already quit.
    AlreadyQuit { session: String },
    /// A quit earlier than the session's join.
    QuitBeforeJoin { at: i64, join_time: i64 },
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectReason::UnknownMeeting => f.write_str("unknown meeting"),
            RejectReason::AlreadyJoined { session } => {
                write!(f, "session {session:?} already joined")
            }
            RejectReason::AlreadyQuit { session } => {
                write!(f, "session {session} has already quit")
            }
            RejectReason::QuitBeforeJoin { at, join_time } => {
                write!(
                    f,
                    "quit at {at} is before the session's join at {join_time}"
                )
            }
        }
    }
}

/// Why one ingest event is refused before it reaches the store: the reply's `error` text
/// (its `Display`) names the field and the rule, so a platform can fix the event and re-send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    NotAnObject,
    Required(&'static str),
    Empty(&'static str),
    TooLong(&'static str),
    NotAString(&'static str),
    NotACount(&'static str),
    UnknownCode(&'static str, u32),
    RequiredForJoin(&'static str),
    NotABool(&'static str),
    BadNet,
    ParticipantNotAnObject,
    BadParticipantId(&'static str),
    NoParticipantId,
    ManyParticipantIds,
    AtRequired,
    AtNotSeconds,
    KindNotAString,
    UnknownKind(String),
    BadCustomerData,
    StateChangesNothing,
    /// A string with a NUL character, at this field (`participant.userid` for a nested one).
    ContainsNul(String),
    UnknownMeeting(String),
    NoSuchSubMeeting {
        meetingid: String,
        sub_meetingid: String,
    },
    NoSubMeetingSpans {
        meetingid: String,
        at: i64,
    },
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use EventError::*;
        match self {
            NotAnObject => f.write_str("an event must be a JSON object"),
            Required(name) => write!(f, "{name} is required"),
            Empty(name) => write!(f, "{name} must not be empty"),
            TooLong(name) => write!(f, "{name} is longer than {MAX_KEY_LEN} bytes"),
            NotAString(name) => write!(f, "{name} must be a string"),
            NotACount(name) => write!(f, "{name} must be a non-negative integer"),
            UnknownCode(name, v) => write!(f, "{name} {v} is not a code WeCom defines"),
            RequiredForJoin(name) => write!(f, "{name} is required for a join"),
            NotABool(name) => write!(f, "{name} must be true or false"),
            BadNet => write!(f, "net must be a string of 1..={MAX_NET} bytes"),
            ParticipantNotAnObject => f.write_str(
                "participant must be an object with one of userid, external_id, guest_id",
            ),
            BadParticipantId(name) => {
                write!(
                    f,
                    "participant.{name} must be a string of 1..={MAX_KEY_LEN} bytes"
                )
            }
            NoParticipantId => {
                f.write_str("participant needs one of userid, external_id, guest_id")
            }
            ManyParticipantIds => {
                f.write_str("participant must have exactly one of userid, external_id, guest_id")
            }
            AtRequired => f.write_str("at (unix seconds) is required"),
            AtNotSeconds => {
                f.write_str("at must be unix seconds (a non-negative integer below 2^32)")
            }
            KindNotAString => f.write_str("kind must be one of join, quit, state"),
            ContainsNul(name) => write!(f, "{name} must not contain a NUL character"),
            UnknownKind(k) => write!(f, "kind {k:?} is not one of join, quit, state"),
            BadCustomerData => write!(
                f,
                "customer_data must be a string of at most {MAX_CUSTOMER_DATA} bytes"
            ),
            StateChangesNothing => f.write_str(
                "a state event must change net, audio_state, video_state or screen_shared_state",
            ),
            UnknownMeeting(id) => write!(f, "unknown meetingid {id:?}"),
            NoSuchSubMeeting {
                meetingid,
                sub_meetingid,
            } => write!(
                f,
                "meeting {meetingid} has no sub-meeting {sub_meetingid:?}"
            ),
            NoSubMeetingSpans { meetingid, at } => write!(
                f,
                "recurring meeting {meetingid}: give sub_meetingid (no sub-meeting spans {at})"
            ),
        }
    }
}

impl std::error::Error for EventError {}

/// Which sub-meeting a join belongs to: none (0) unless the meeting is recurring; then the one
/// named, or else the one whose time span contains the join, so platforms that do not track
/// sub-meeting ids still work.
pub fn sub_key_for(meeting: &Meeting, given: Option<&str>, at: i64) -> Result<i64, EventError> {
    if meeting.meeting_type != MeetingType::Recurring {
        return Ok(0);
    }
    match given {
        Some(id) => {
            meeting
                .sub_meeting(id)
                .map(|s| s.key)
                .ok_or_else(|| EventError::NoSuchSubMeeting {
                    meetingid: meeting.meetingid.clone(),
                    sub_meetingid: id.to_owned(),
                })
        }
        None => meeting
            .sub_meetings
            .iter()
            .find(|s| s.start_time <= at && at <= s.end_time)
            .map(|s| s.key)
            .ok_or_else(|| EventError::NoSubMeetingSpans {
                meetingid: meeting.meetingid.clone(),
                at,
            }),
    }
}

/// Bind a validated event to the meeting its `meetingid` names (`None`: no such meeting),
/// and a join to its sub-meeting ([`sub_key_for`]); quits and states find their session by
/// key, so they carry sub-meeting 0.
pub fn resolve(event: Event, meeting: Option<&Meeting>) -> Result<ResolvedEvent, EventError> {
    let Some(meeting) = meeting else {
        return Err(EventError::UnknownMeeting(event.meetingid));
    };
    let sub_key = match &event.kind {
        EventKind::Join(_) => sub_key_for(meeting, event.sub_meetingid.as_deref(), event.at)?,
        EventKind::Quit | EventKind::State(_) => 0,
    };
    Ok(ResolvedEvent {
        meeting_key: meeting.key,
        sub_key,
        event,
    })
}

fn key(f: &Fields<'_>, name: &'static str) -> Result<String, EventError> {
    match f.raw(name) {
        None => Err(EventError::Required(name)),
        Some(Value::String(s)) if s.is_empty() => Err(EventError::Empty(name)),
        Some(Value::String(s)) if s.len() > MAX_KEY_LEN => Err(EventError::TooLong(name)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(EventError::NotAString(name)),
    }
}

fn code(
    f: &Fields<'_>,
    name: &'static str,
    default: Option<u32>,
    ok: impl Fn(u32) -> bool,
) -> Result<u32, EventError> {
    match f.opt_u32(name).map_err(|_| EventError::NotACount(name))? {
        Some(v) if ok(v) => Ok(v),
        Some(v) => Err(EventError::UnknownCode(name, v)),
        None => default.ok_or(EventError::RequiredForJoin(name)),
    }
}

fn flag(f: &Fields<'_>, name: &'static str) -> Result<Option<bool>, EventError> {
    f.opt_bool(name).map_err(|_| EventError::NotABool(name))
}

fn net(f: &Fields<'_>) -> Result<Option<String>, EventError> {
    match f.raw("net") {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_NET => Ok(Some(s.clone())),
        Some(_) => Err(EventError::BadNet),
    }
}

fn participant(v: Option<&Value>) -> Result<Participant, EventError> {
    let obj = v
        .and_then(Value::as_object)
        .ok_or(EventError::ParticipantNotAnObject)?;
    let mut found = Vec::new();
    for (name, make) in [
        ("userid", Participant::Member as fn(String) -> Participant),
        ("external_id", Participant::External),
        ("guest_id", Participant::Guest),
    ] {
        match obj.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_KEY_LEN => {
                found.push(make(s.clone()))
            }
            Some(_) => return Err(EventError::BadParticipantId(name)),
        }
    }
    match found.len() {
        1 => Ok(found.pop().expect("one")),
        0 => Err(EventError::NoParticipantId),
        _ => Err(EventError::ManyParticipantIds),
    }
}

/// Split a whole request body into events, each a JSON value or the reason it is refused
/// (a bad NDJSON line or array element, an event over [`MAX_EVENT_BYTES`]): the
/// [`Splitter`] the server runs as the body streams in, over a body held whole. Blank NDJSON
/// lines are skipped; a lone object is one event. `Err` is the whole body's refusal, for a
/// 400: it cannot be framed as events ([`Framing`]), or it is a lone object that is not
/// valid JSON.
pub fn split_events(bytes: &[u8], ndjson: bool) -> Result<Vec<Result<Value, String>>, String> {
    let mut items = Vec::new();
    let mut whole_bad = None;
    let mut out = |piece: Piece<'_>| match event_value(piece) {
        Ok(item) => items.push(item),
        Err(reason) => whole_bad = Some(reason),
    };
    let mut splitter = Splitter::new(ndjson);
    splitter.feed(bytes, &mut out).map_err(|e| e.to_string())?;
    splitter.finish(&mut out).map_err(|e| e.to_string())?;
    match whole_bad {
        Some(reason) => Err(reason),
        None => Ok(items),
    }
}

/// One piece of a body as a JSON value, or the reason the event is refused (`Ok(Err)`);
/// `Err` when the piece is the body's lone object and is not JSON (the body's refusal).
pub fn event_value(piece: Piece<'_>) -> Result<Result<Value, String>, String> {
    match piece {
        Piece::TooLarge => Ok(Err(format!(
            "an event must be at most {MAX_EVENT_BYTES} bytes of JSON"
        ))),
        Piece::Event { bytes, whole } => match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => Ok(Ok(v)),
            Err(e) if whole => Err(format!(
                "the body is not valid JSON ({e}); send a JSON array of events, or NDJSON \
                 with Content-Type: application/x-ndjson"
            )),
            Err(e) => Ok(Err(format!("not valid JSON: {e}"))),
        },
    }
}

/// The first string field (one level of nesting, as events have) holding a NUL: no id or text
/// of WeCom's holds one, and PostgreSQL cannot store one, so it is refused here on every
/// backend rather than failing one store's batch.
fn nul_field(obj: &serde_json::Map<String, Value>, prefix: &str) -> Option<String> {
    obj.iter().find_map(|(k, v)| match v {
        Value::String(s) if s.contains('\0') => Some(format!("{prefix}{k}")),
        Value::Object(inner) if prefix.is_empty() => nul_field(inner, &format!("{k}.")),
        _ => None,
    })
}

/// Validate one event.
pub fn parse_event(v: &Value) -> Result<Event, EventError> {
    let obj = v.as_object().ok_or(EventError::NotAnObject)?;
    if let Some(name) = nul_field(obj, "") {
        return Err(EventError::ContainsNul(name));
    }
    let f = Fields::new(obj);
    let event_id = key(&f, "event_id")?;
    let meetingid = key(&f, "meetingid")?;
    let session = key(&f, "session")?;
    let sub_meetingid = match f.raw("sub_meetingid") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s.len() <= MAX_KEY_LEN => Some(s.clone()),
        Some(_) => return Err(EventError::NotAString("sub_meetingid")),
    };
    let at = match f.opt_u32("at") {
        Ok(Some(at)) if at > 0 => i64::from(at),
        Ok(_) => return Err(EventError::AtRequired),
        Err(_) => return Err(EventError::AtNotSeconds),
    };
    let kind = match f.raw("kind") {
        Some(Value::String(k)) => k.as_str(),
        _ => return Err(EventError::KindNotAString),
    };
    let kind = match kind {
        "join" => {
            let customer_data = match f.raw("customer_data") {
                None => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) if s.len() <= MAX_CUSTOMER_DATA => Some(s.clone()),
                Some(_) => return Err(EventError::BadCustomerData),
            };
            EventKind::Join(Join {
                participant: participant(f.raw("participant"))?,
                instance_id: code(&f, "instance_id", None, |v| INSTANCE_IDS.contains(&v))?,
                role: code(&f, "role", Some(0), |v| v <= MAX_ROLE)?,
                webinar_role: code(&f, "webinar_role", Some(0), |v| v <= MAX_WEBINAR_ROLE)?,
                join_type: code(&f, "join_type", Some(1), |v| v <= MAX_JOIN_TYPE)?,
                net: net(&f)?,
                audio_state: flag(&f, "audio_state")?.unwrap_or(false),
                video_state: flag(&f, "video_state")?.unwrap_or(false),
                screen_shared_state: flag(&f, "screen_shared_state")?.unwrap_or(false),
                customer_data,
            })
        }
        "quit" => EventKind::Quit,
        "state" => {
            let patch = StatePatch {
                net: net(&f)?,
                audio_state: flag(&f, "audio_state")?,
                video_state: flag(&f, "video_state")?,
                screen_shared_state: flag(&f, "screen_shared_state")?,
            };
            if patch == StatePatch::default() {
                return Err(EventError::StateChangesNothing);
            }
            EventKind::State(patch)
        }
        other => return Err(EventError::UnknownKind(other.to_owned())),
    };
    Ok(Event {
        event_id,
        meetingid,
        sub_meetingid,
        session,
        at,
        kind,
    })
}

mod split;

pub use split::{Framing, Piece, Splitter, MAX_EVENT_BYTES};

#[cfg(test)]
mod tests;
