//! Validation of ingest events (SPEC §5), one by one, each refusal with a reason.
//!
//! The platform's events arrive as JSON objects; [`parse_event`] turns one into an [`Event`]
//! or says exactly what is wrong, so one bad event never blocks the good ones beside it.
//! Every enum code on WeCom's page is accepted and stored verbatim; anything else is refused
//! here rather than surprising a reader later.
//!
//! # Layout
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

/// Which sub-meeting a join belongs to: none (0) unless the meeting is recurring; then the one
/// named, or else the one whose time span contains the join, so platforms that do not track
/// sub-meeting ids still work.
pub fn sub_key_for(meeting: &Meeting, given: Option<&str>, at: i64) -> Result<i64, String> {
    if meeting.meeting_type != MeetingType::Recurring {
        return Ok(0);
    }
    match given {
        Some(id) => meeting
            .sub_meeting(id)
            .map(|s| s.key)
            .ok_or_else(|| format!("meeting {} has no sub-meeting {id:?}", meeting.meetingid)),
        None => meeting
            .sub_meetings
            .iter()
            .find(|s| s.start_time <= at && at <= s.end_time)
            .map(|s| s.key)
            .ok_or_else(|| {
                format!(
                    "recurring meeting {}: give sub_meetingid (no sub-meeting spans {at})",
                    meeting.meetingid
                )
            }),
    }
}

/// Bind a validated event to the meeting its `meetingid` names (`None`: no such meeting),
/// and a join to its sub-meeting ([`sub_key_for`]); quits and states find their session by
/// key, so they carry sub-meeting 0.
pub fn resolve(event: Event, meeting: Option<&Meeting>) -> Result<ResolvedEvent, String> {
    let Some(meeting) = meeting else {
        return Err(format!("unknown meetingid {:?}", event.meetingid));
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

fn key(f: &Fields<'_>, name: &'static str) -> Result<String, String> {
    match f.raw(name) {
        None => Err(format!("{name} is required")),
        Some(Value::String(s)) if s.is_empty() => Err(format!("{name} must not be empty")),
        Some(Value::String(s)) if s.len() > MAX_KEY_LEN => {
            Err(format!("{name} is longer than {MAX_KEY_LEN} bytes"))
        }
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn code(
    f: &Fields<'_>,
    name: &'static str,
    default: Option<u32>,
    ok: impl Fn(u32) -> bool,
) -> Result<u32, String> {
    match f
        .opt_u32(name)
        .map_err(|_| format!("{name} must be a non-negative integer"))?
    {
        Some(v) if ok(v) => Ok(v),
        Some(v) => Err(format!("{name} {v} is not a code WeCom defines")),
        None => default.ok_or_else(|| format!("{name} is required for a join")),
    }
}

fn flag(f: &Fields<'_>, name: &'static str) -> Result<Option<bool>, String> {
    f.opt_bool(name)
        .map_err(|_| format!("{name} must be true or false"))
}

fn net(f: &Fields<'_>) -> Result<Option<String>, String> {
    match f.raw("net") {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_NET => Ok(Some(s.clone())),
        Some(_) => Err(format!("net must be a string of 1..={MAX_NET} bytes")),
    }
}

fn participant(v: Option<&Value>) -> Result<Participant, String> {
    let obj = v
        .and_then(Value::as_object)
        .ok_or("participant must be an object with one of userid, external_id, guest_id")?;
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
            Some(_) => {
                return Err(format!(
                    "participant.{name} must be a string of 1..={MAX_KEY_LEN} bytes"
                ))
            }
        }
    }
    match found.len() {
        1 => Ok(found.pop().expect("one")),
        0 => Err("participant needs one of userid, external_id, guest_id".into()),
        _ => Err("participant must have exactly one of userid, external_id, guest_id".into()),
    }
}

/// Validate one event.
pub fn parse_event(v: &Value) -> Result<Event, String> {
    let obj = v.as_object().ok_or("an event must be a JSON object")?;
    let f = Fields::new(obj);
    let event_id = key(&f, "event_id")?;
    let meetingid = key(&f, "meetingid")?;
    let session = key(&f, "session")?;
    let sub_meetingid = match f.raw("sub_meetingid") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s.len() <= MAX_KEY_LEN => Some(s.clone()),
        Some(_) => return Err("sub_meetingid must be a string".into()),
    };
    let at = match f.opt_u32("at") {
        Ok(Some(at)) if at > 0 => i64::from(at),
        Ok(_) => return Err("at (unix seconds) is required".into()),
        Err(_) => return Err("at must be unix seconds (a non-negative integer below 2^32)".into()),
    };
    let kind = match f.raw("kind") {
        Some(Value::String(k)) => k.as_str(),
        _ => return Err("kind must be one of join, quit, state".into()),
    };
    let kind = match kind {
        "join" => {
            let customer_data = match f.raw("customer_data") {
                None => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) if s.len() <= MAX_CUSTOMER_DATA => Some(s.clone()),
                Some(_) => {
                    return Err(format!(
                        "customer_data must be a string of at most {MAX_CUSTOMER_DATA} bytes"
                    ))
                }
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
                return Err("a state event must change net, audio_state, video_state or screen_shared_state".into());
            }
            EventKind::State(patch)
        }
        other => return Err(format!("kind {other:?} is not one of join, quit, state")),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn join() -> Value {
        json!({"event_id":"e-1","kind":"join","meetingid":"m","session":"s-1","at":1760000000,
               "participant":{"userid":"zhangsan"},"instance_id":1,"net":"WIFI","audio_state":true})
    }

    #[test]
    fn accepts_the_spec_examples() {
        let e = parse_event(&join()).unwrap();
        let EventKind::Join(j) = &e.kind else {
            panic!()
        };
        assert_eq!(j.participant, Participant::Member("zhangsan".into()));
        assert_eq!((j.role, j.webinar_role, j.join_type), (0, 0, 1));
        assert!(j.audio_state && !j.video_state);
        let q = parse_event(&json!({"event_id":"e-2","kind":"quit","meetingid":"m","session":"s-1","at":"1760003600"})).unwrap();
        assert_eq!(q.kind, EventKind::Quit);
        assert_eq!(q.at, 1760003600);
        let s = parse_event(&json!({"event_id":"e-3","kind":"state","meetingid":"m","session":"s-1","at":1760000100,"audio_state":false,"net":"4G"})).unwrap();
        assert_eq!(
            s.kind,
            EventKind::State(StatePatch {
                net: Some("4G".into()),
                audio_state: Some(false),
                ..Default::default()
            })
        );
    }

    #[test]
    fn refuses_with_reasons() {
        let cases: Vec<(Value, &str)> = vec![
            (json!(5), "object"),
            (json!({}), "event_id"),
            (
                {
                    let mut j = join();
                    j["kind"] = json!("leave");
                    j
                },
                "kind",
            ),
            (
                {
                    let mut j = join();
                    j["at"] = json!(-5);
                    j
                },
                "at",
            ),
            (
                {
                    let mut j = join();
                    j["at"] = json!(0);
                    j
                },
                "at",
            ),
            (
                {
                    let mut j = join();
                    j["instance_id"] = json!(11);
                    j
                },
                "instance_id",
            ),
            (
                {
                    let mut j = join();
                    j.as_object_mut().unwrap().remove("instance_id");
                    j
                },
                "instance_id",
            ),
            (
                {
                    let mut j = join();
                    j["role"] = json!(8);
                    j
                },
                "role",
            ),
            (
                {
                    let mut j = join();
                    j["webinar_role"] = json!(5);
                    j
                },
                "webinar_role",
            ),
            (
                {
                    let mut j = join();
                    j["join_type"] = json!(7);
                    j
                },
                "join_type",
            ),
            (
                {
                    let mut j = join();
                    j["participant"] = json!({"userid":"a","guest_id":"b"});
                    j
                },
                "exactly one",
            ),
            (
                {
                    let mut j = join();
                    j["participant"] = json!({});
                    j
                },
                "participant",
            ),
            (
                {
                    let mut j = join();
                    j["audio_state"] = json!("yes");
                    j
                },
                "audio_state",
            ),
            (
                {
                    let mut j = join();
                    j["session"] = json!("x".repeat(200));
                    j
                },
                "session",
            ),
            (
                json!({"event_id":"e","kind":"state","meetingid":"m","session":"s","at":5}),
                "must change",
            ),
        ];
        for (v, needle) in cases {
            let e = parse_event(&v).unwrap_err();
            assert!(e.contains(needle), "{v} -> {e}");
        }
    }

    #[test]
    fn joins_find_their_sub_meeting() {
        use crate::model::{AppRef, SubMeeting};
        let sub = |key, id: &str, s, e| SubMeeting {
            key,
            sub_meetingid: id.into(),
            start_time: s,
            end_time: e,
        };
        let mut m = Meeting {
            key: 1,
            meetingid: "hy1".into(),
            meeting_code: "1".into(),
            owner: AppRef {
                corpid: "ww".into(),
                agentid: 1,
            },
            meeting_type: MeetingType::Recurring,
            title: "t".into(),
            meeting_start: 100,
            meeting_duration: 50,
            admin_userid: None,
            sub_meetings: vec![sub(1, "100", 100, 150), sub(2, "200", 200, 250)],
            details: Default::default(),
            cancelled: false,
        };
        assert_eq!(sub_key_for(&m, Some("200"), 0), Ok(2));
        assert!(sub_key_for(&m, Some("300"), 0)
            .unwrap_err()
            .contains("no sub-meeting"));
        assert_eq!(sub_key_for(&m, None, 150), Ok(1));
        assert!(sub_key_for(&m, None, 175)
            .unwrap_err()
            .contains("give sub_meetingid"));
        let e = parse_event(&join()).unwrap();
        assert_eq!(
            resolve(e.clone(), None).unwrap_err(),
            "unknown meetingid \"m\""
        );
        assert!(resolve(e.clone(), Some(&m))
            .unwrap_err()
            .contains("give sub_meetingid"));
        let mut in_span = e.clone();
        in_span.at = 220;
        let r = resolve(in_span, Some(&m)).unwrap();
        assert_eq!((r.meeting_key, r.sub_key), (1, 2));
        let mut q = e.clone();
        q.kind = EventKind::Quit;
        assert_eq!(resolve(q, Some(&m)).unwrap().sub_key, 0);
        m.meeting_type = MeetingType::OneOff;
        assert_eq!(sub_key_for(&m, Some("nope"), 175), Ok(0));
        assert_eq!(resolve(e, Some(&m)).unwrap().sub_key, 0);
    }

    #[test]
    fn reject_reasons_read_as_the_wire_has_always_said() {
        let cases = [
            (RejectReason::UnknownMeeting, "unknown meeting"),
            (
                RejectReason::AlreadyJoined {
                    session: "s-1".into(),
                },
                "session \"s-1\" already joined",
            ),
            (
                RejectReason::AlreadyQuit {
                    session: "s-1".into(),
                },
                "session s-1 has already quit",
            ),
            (
                RejectReason::QuitBeforeJoin {
                    at: 90,
                    join_time: 100,
                },
                "quit at 90 is before the session's join at 100",
            ),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn every_documented_code_is_accepted() {
        for &i in INSTANCE_IDS {
            let mut j = join();
            j["instance_id"] = json!(i);
            j["role"] = json!(i % 8);
            assert!(parse_event(&j).is_ok(), "{i}");
        }
    }
}
