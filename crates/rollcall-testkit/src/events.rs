//! Ingest event builders: events as `POST /ingest/v1/events` takes them (JSON), with the
//! fields a media server always sends. Event ids derive from the session (`join-<session>`,
//! `quit-<session>`), so re-sending a builder's event is a duplicate.

use serde_json::{json, Value};

/// A join of a corp member, on instance 1.
pub fn join(meetingid: &str, session: &str, at: i64, userid: &str) -> Value {
    join_as(meetingid, session, at, member(userid))
}

/// A join of any participant ([`member`], [`external`], a guest), on instance 1.
pub fn join_as(meetingid: &str, session: &str, at: i64, participant: Value) -> Value {
    join_on(meetingid, session, at, participant, 1)
}

/// A join of any participant on a device type (`instance_id`: 1 PC, 2 Mac, 4 iOS, …).
/// Role and webinar role are left to their default (0).
pub fn join_on(
    meetingid: &str,
    session: &str,
    at: i64,
    participant: Value,
    instance_id: u32,
) -> Value {
    json!({"event_id": format!("join-{session}"), "kind": "join", "meetingid": meetingid,
           "session": session, "at": at, "participant": participant, "instance_id": instance_id,
           "join_type": 1, "net": "WIFI", "audio_state": true})
}

/// The quit of a session.
pub fn quit(meetingid: &str, session: &str, at: i64) -> Value {
    json!({"event_id": format!("quit-{session}"), "kind": "quit", "meetingid": meetingid,
           "session": session, "at": at})
}

/// A state change of a session: `fields` (an object) are the changed states.
pub fn state(meetingid: &str, event_id: &str, session: &str, at: i64, fields: Value) -> Value {
    let mut e = json!({"event_id": event_id, "kind": "state", "meetingid": meetingid,
                       "session": session, "at": at});
    for (k, v) in fields.as_object().expect("fields") {
        e[k] = v.clone();
    }
    e
}

/// A corp member, as a participant.
pub fn member(userid: &str) -> Value {
    json!({ "userid": userid })
}

/// An external user, as a participant.
pub fn external(id: &str) -> Value {
    json!({ "external_id": id })
}
