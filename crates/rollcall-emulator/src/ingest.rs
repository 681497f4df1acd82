//! A typed helper for the ingest API (`POST /ingest/v1/events`, SPEC §5): what a meeting
//! platform's media servers send, so a test can make people join and leave.
//!
//! Why typed: the ingest API validates events one by one and answers 200 with a per-event
//! `rejected` list, so a hand-written event with a typo does not fail the request, it just
//! never shows up in the listing. [`Event`] cannot be misspelt, and [`Ingest::join`] /
//! [`Ingest::quit`] turn a refusal into an [`Error`].
//!
//! # Layout
//! - [`Ingest`]: the connection (base URL, ingest key) and the calls: [`Ingest::join`],
//!   [`Ingest::quit`] (sessions tracked for you), [`Ingest::send`] (any events).
//! - [`Event`], [`EventKind`], [`Participant`]: one event as the API takes it.
//! - [`IngestReport`], [`Rejected`]: the API's answer.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Who joins: a corp member, an external user, or a guest (SPEC §5 `participant`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Participant {
    /// A corp member, by userid: listed with that `userid` when the app sees them.
    #[serde(rename = "userid")]
    Member(String),
    /// An external (WeChat) user: listed with `userid` `""`.
    #[serde(rename = "external_id")]
    External(String),
    /// A guest through the mini program: listed with `userid` `""`.
    #[serde(rename = "guest_id")]
    Guest(String),
}

/// What an [`Event`] does to its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Join,
    Quit,
    State,
}

/// One ingest event. Build it with [`Event::join`], [`Event::quit`] or [`Event::state`]
/// and the setters; fields left `None` are not sent, so the server's defaults apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The de-duplication key within the meeting: re-sending an event with the same id is a
    /// duplicate and changes nothing.
    pub event_id: String,
    pub kind: EventKind,
    pub meetingid: String,
    /// The sub-meeting of a recurring meeting (without it, the one whose span holds `at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_meetingid: Option<String>,
    /// The platform's key for the session (one participant on one device, join to quit).
    pub session: String,
    /// Unix seconds.
    pub at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant: Option<Participant>,
    /// Device type: 1 PC, 2 Mac, 3 Android, 4 iOS, 5 Web, … (WeCom's codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_type: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webinar_role: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_state: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_state: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_shared_state: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_data: Option<String>,
}

/// Makes state event ids unique within the process (two changes of one session in the same
/// second must not be taken for duplicates).
static NEXT_STATE: AtomicU64 = AtomicU64::new(1);

impl Event {
    fn new(kind: EventKind, event_id: String, meetingid: &str, session: &str, at: i64) -> Self {
        Self {
            event_id,
            kind,
            meetingid: meetingid.to_owned(),
            sub_meetingid: None,
            session: session.to_owned(),
            at,
            participant: None,
            instance_id: None,
            join_type: None,
            role: None,
            webinar_role: None,
            net: None,
            audio_state: None,
            video_state: None,
            screen_shared_state: None,
            customer_data: None,
        }
    }

    /// `participant` joins on a PC (`instance_id` 1) over Wi-Fi with audio on — what a media
    /// server always sends; change any of it with the setters. Its id is `join-<session>`.
    pub fn join(meetingid: &str, session: &str, at: i64, participant: Participant) -> Self {
        let mut e = Self::new(
            EventKind::Join,
            format!("join-{session}"),
            meetingid,
            session,
            at,
        );
        e.participant = Some(participant);
        e.instance_id = Some(1);
        e.join_type = Some(1);
        e.net = Some("WIFI".to_owned());
        e.audio_state = Some(true);
        e
    }

    /// The session ends. Its id is `quit-<session>`.
    pub fn quit(meetingid: &str, session: &str, at: i64) -> Self {
        Self::new(
            EventKind::Quit,
            format!("quit-{session}"),
            meetingid,
            session,
            at,
        )
    }

    /// A change of the session's states; set at least one of them (the server refuses a
    /// change of nothing). Its id is unique in the process.
    pub fn state(meetingid: &str, session: &str, at: i64) -> Self {
        let n = NEXT_STATE.fetch_add(1, Ordering::Relaxed);
        Self::new(
            EventKind::State,
            format!("state-{session}-{n}"),
            meetingid,
            session,
            at,
        )
    }

    pub fn event_id(mut self, id: &str) -> Self {
        self.event_id = id.to_owned();
        self
    }
    pub fn sub_meeting(mut self, sub_meetingid: &str) -> Self {
        self.sub_meetingid = Some(sub_meetingid.to_owned());
        self
    }
    pub fn instance(mut self, instance_id: u32) -> Self {
        self.instance_id = Some(instance_id);
        self
    }
    pub fn join_type(mut self, join_type: u32) -> Self {
        self.join_type = Some(join_type);
        self
    }
    pub fn role(mut self, role: u32) -> Self {
        self.role = Some(role);
        self
    }
    pub fn webinar_role(mut self, webinar_role: u32) -> Self {
        self.webinar_role = Some(webinar_role);
        self
    }
    pub fn net(mut self, net: &str) -> Self {
        self.net = Some(net.to_owned());
        self
    }
    pub fn audio(mut self, on: bool) -> Self {
        self.audio_state = Some(on);
        self
    }
    pub fn video(mut self, on: bool) -> Self {
        self.video_state = Some(on);
        self
    }
    pub fn screen_shared(mut self, on: bool) -> Self {
        self.screen_shared_state = Some(on);
        self
    }
    pub fn customer_data(mut self, data: &str) -> Self {
        self.customer_data = Some(data.to_owned());
        self
    }
}

/// The ingest API's answer: `{"accepted", "duplicates", "rejected"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IngestReport {
    /// Events applied (durable when the answer was sent).
    pub accepted: u64,
    /// Events already applied before (same meeting and `event_id`).
    pub duplicates: u64,
    /// Events refused, with the reason (the first 1000 by index).
    pub rejected: Vec<Rejected>,
    /// How many more were refused than `rejected` lists (0 when it lists them all).
    #[serde(default)]
    pub rejected_omitted: u64,
}

/// One refused event: its position in the request and why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Rejected {
    pub index: usize,
    pub error: String,
}

/// The sessions [`Ingest::join`] opened and [`Ingest::quit`] has not closed yet, per
/// (meetingid, userid), oldest first.
#[derive(Debug, Default)]
struct Sessions {
    open: HashMap<(String, String), VecDeque<String>>,
}

/// Makes the session keys of [`Ingest::join`] unique in the process, across helpers.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// The ingest API of one server. Cheap to clone; clones share the open sessions.
#[derive(Debug, Clone)]
pub struct Ingest {
    http: reqwest::Client,
    url: String,
    key: String,
    sessions: Arc<Mutex<Sessions>>,
}

impl Ingest {
    /// The ingest API at `base_url` (`http://127.0.0.1:8080`, no path) with its key.
    pub fn new(base_url: &str, ingest_key: &str) -> Self {
        // A hung server fails the test after 30 s instead of stalling it (as `Admin` does).
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("rollcall-emulator/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            http,
            url: format!("{}/ingest/v1/events", base_url.trim_end_matches('/')),
            key: ingest_key.to_owned(),
            sessions: Arc::default(),
        }
    }

    /// Corp member `userid` joins `meetingid` at `at` (unix seconds) in a new session; answers
    /// the session's key. Fails if the server refuses the event (an unknown meeting, say).
    pub async fn join(&self, meetingid: &str, userid: &str, at: i64) -> Result<String, Error> {
        let n = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        let session = format!("{userid}-{n}");
        let event = Event::join(
            meetingid,
            &session,
            at,
            Participant::Member(userid.to_owned()),
        );
        self.send_accepted(&[event]).await?;
        self.lock()
            .open
            .entry((meetingid.to_owned(), userid.to_owned()))
            .or_default()
            .push_back(session.clone());
        Ok(session)
    }

    /// `userid` leaves `meetingid` at `at`: the oldest session [`Ingest::join`] opened for
    /// them there ends. [`Error::NoOpenSession`] if there is none.
    pub async fn quit(&self, meetingid: &str, userid: &str, at: i64) -> Result<(), Error> {
        let key = (meetingid.to_owned(), userid.to_owned());
        let session = self
            .lock()
            .open
            .get(&key)
            .and_then(|q| q.front().cloned())
            .ok_or_else(|| Error::NoOpenSession {
                meetingid: meetingid.to_owned(),
                userid: userid.to_owned(),
            })?;
        self.send_accepted(&[Event::quit(meetingid, &session, at)])
            .await?;
        if let Some(q) = self.lock().open.get_mut(&key) {
            q.retain(|s| *s != session);
        }
        Ok(())
    }

    /// Send `events` as one batch and answer the server's report, refusals included. An
    /// HTTP refusal of the whole batch (a wrong key, the ingest API off, an injected fault)
    /// is [`Error::Ingest`].
    pub async fn send(&self, events: &[Event]) -> Result<IngestReport, Error> {
        let r = self
            .http
            .post(&self.url)
            .bearer_auth(&self.key)
            .json(events)
            .send()
            .await?;
        let status = r.status();
        if !status.is_success() {
            let body = r.text().await.unwrap_or_default();
            let reason = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or(body);
            return Err(Error::Ingest {
                status: status.as_u16(),
                reason,
            });
        }
        Ok(r.json().await?)
    }

    /// [`Ingest::send`], and every event must be accepted or a duplicate.
    async fn send_accepted(&self, events: &[Event]) -> Result<IngestReport, Error> {
        let report = self.send(events).await?;
        if report.rejected.is_empty() {
            Ok(report)
        } else {
            Err(Error::Rejected(report.rejected))
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_serialize_as_the_ingest_api_takes_them() {
        let join = Event::join(
            "hy1",
            "s-1",
            1_760_000_000,
            Participant::Member("lisi".into()),
        )
        .instance(4)
        .customer_data("crm-7");
        assert_eq!(
            serde_json::to_value(&join).expect("json"),
            json!({"event_id": "join-s-1", "kind": "join", "meetingid": "hy1", "session": "s-1",
                   "at": 1_760_000_000, "participant": {"userid": "lisi"}, "instance_id": 4,
                   "join_type": 1, "net": "WIFI", "audio_state": true, "customer_data": "crm-7"})
        );
        let quit = Event::quit("hy1", "s-1", 1_760_000_100).sub_meeting("1760000000");
        assert_eq!(
            serde_json::to_value(&quit).expect("json"),
            json!({"event_id": "quit-s-1", "kind": "quit", "meetingid": "hy1",
                   "sub_meetingid": "1760000000", "session": "s-1", "at": 1_760_000_100})
        );
        let guest = Participant::Guest("g-1".into());
        assert_eq!(
            serde_json::to_value(&guest).expect("json"),
            json!({"guest_id": "g-1"})
        );
        let a = Event::state("hy1", "s-1", 5).audio(false);
        let b = Event::state("hy1", "s-1", 5).audio(false);
        assert_ne!(a.event_id, b.event_id, "two changes are two events");
    }
}
