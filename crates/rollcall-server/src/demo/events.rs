//! Building ingest events (SPEC §5) the way a meeting platform sends them.
//!
//! The demo's attendance is written as raw JSON events, not domain values, so it goes
//! through the same parsing and validation as a real platform's and doubles as a worked
//! example of the ingest format. [`Events`] numbers event ids and session keys per meeting
//! (`oneoff-e1`, `oneoff-s1`, …), which keeps a seeded demo's data reproducible.
//!
//! # Layout
//! - [`Device`] and the terminal constants ([`PC`], [`IOS`], …): what a session joins from.
//! - [`member`], [`external`], [`guest`]: the three kinds of participant.
//! - [`Events`]: the per-meeting builder (`join`, `quit`, `state`).

use serde_json::{json, Map, Value};

/// A terminal, as the attendee list reports it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Device {
    instance_id: u32,
    join_type: u32,
    net: &'static str,
}

pub(super) const PSTN: Device = Device {
    instance_id: 0,
    join_type: 0,
    net: "未知",
};
pub(super) const PC: Device = Device {
    instance_id: 1,
    join_type: 1,
    net: "有线",
};
pub(super) const MAC: Device = Device {
    instance_id: 2,
    join_type: 1,
    net: "WIFI",
};
pub(super) const ANDROID: Device = Device {
    instance_id: 3,
    join_type: 1,
    net: "4G",
};
pub(super) const IOS: Device = Device {
    instance_id: 4,
    join_type: 1,
    net: "WIFI",
};
pub(super) const WEB: Device = Device {
    instance_id: 5,
    join_type: 1,
    net: "WIFI",
};
/// An iPad joined as a companion screen-casting device (附属投屏).
pub(super) const IPAD_CAST: Device = Device {
    instance_id: 6,
    join_type: 2,
    net: "WIFI",
};
pub(super) const MINI_PROGRAM: Device = Device {
    instance_id: 8,
    join_type: 1,
    net: "4G",
};
pub(super) const ROOMS: Device = Device {
    instance_id: 20,
    join_type: 1,
    net: "有线",
};
pub(super) const HARMONY: Device = Device {
    instance_id: 81,
    join_type: 1,
    net: "5G",
};
/// What big-meeting participants join from, weighted by repetition.
pub(super) const CROWD_DEVICES: &[Device] = &[
    PC,
    PC,
    PC,
    MAC,
    ANDROID,
    ANDROID,
    IOS,
    IOS,
    WEB,
    MINI_PROGRAM,
    HARMONY,
    PSTN,
];

pub(super) fn member(userid: &str) -> Value {
    json!({ "userid": userid })
}
pub(super) fn external(id: &str) -> Value {
    json!({ "external_id": id })
}
pub(super) fn guest(id: &str) -> Value {
    json!({ "guest_id": id })
}

/// Builds the events of one meeting, numbering event ids and session keys.
#[derive(Debug)]
pub(super) struct Events {
    meetingid: String,
    prefix: &'static str,
    events: u64,
    sessions: u64,
    pub(super) items: Vec<Value>,
}

impl Events {
    pub(super) fn new(meetingid: &str, prefix: &'static str) -> Self {
        Self {
            meetingid: meetingid.into(),
            prefix,
            events: 0,
            sessions: 0,
            items: Vec::new(),
        }
    }

    fn push(&mut self, kind: &str, session: &str, at: i64, fields: Value) {
        self.events += 1;
        let mut ev = Map::new();
        ev.insert(
            "event_id".into(),
            format!("{}-e{}", self.prefix, self.events).into(),
        );
        ev.insert("kind".into(), kind.into());
        ev.insert("meetingid".into(), self.meetingid.clone().into());
        ev.insert("session".into(), session.into());
        ev.insert("at".into(), at.into());
        if let Value::Object(extra) = fields {
            ev.extend(extra);
        }
        self.items.push(Value::Object(ev));
    }

    /// Start a session; `extra` adds or overrides fields (role, states, customer_data…).
    pub(super) fn join(&mut self, at: i64, who: Value, dev: Device, extra: Value) -> String {
        self.sessions += 1;
        let session = format!("{}-s{}", self.prefix, self.sessions);
        let mut fields = json!({
            "participant": who,
            "instance_id": dev.instance_id,
            "join_type": dev.join_type,
            "role": 0,
            "net": dev.net,
            "audio_state": false,
            "video_state": false,
            "screen_shared_state": false,
        });
        if let (Value::Object(f), Value::Object(extra)) = (&mut fields, extra) {
            f.extend(extra);
        }
        self.push("join", &session, at, fields);
        session
    }

    pub(super) fn quit(&mut self, session: &str, at: i64) {
        self.push("quit", session, at, json!({}));
    }

    pub(super) fn state(&mut self, session: &str, at: i64, patch: Value) {
        self.push("state", session, at, patch);
    }

    pub(super) fn take(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.items)
    }
}

/// Checks the generated events share: they parse, and sessions are well formed.
#[cfg(test)]
pub(super) mod check {
    use rollcall_core::ingest::parse_event;
    use serde_json::Value;

    pub(in crate::demo) fn assert_valid(items: &[Value]) {
        let mut ids = std::collections::HashSet::new();
        for v in items {
            let e = parse_event(v).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert!(ids.insert(e.event_id.clone()), "duplicate {}", e.event_id);
        }
    }

    /// Every session's join precedes its quit, and no session quits twice.
    pub(in crate::demo) fn assert_sessions_consistent(items: &[Value]) {
        let mut joined = std::collections::HashMap::new();
        let mut quit = std::collections::HashSet::new();
        for v in items {
            let s = v["session"].as_str().unwrap().to_owned();
            let at = v["at"].as_i64().unwrap();
            match v["kind"].as_str().unwrap() {
                "join" => assert!(joined.insert(s, at).is_none()),
                "quit" => {
                    assert!(at >= joined[&s], "{v}");
                    assert!(quit.insert(s), "{v}");
                }
                _ => assert!(at >= joined[&s] && !quit.contains(&s), "{v}"),
            }
        }
    }
}
