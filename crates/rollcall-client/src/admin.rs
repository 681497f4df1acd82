//! A typed client for rollcall's emulator controls, `/admin/v1/*` (SPEC §9).
//!
//! Why it exists: a test of a WeCom integration wants to say "fail the next attendee page
//! with -1", "move the clock a day", "what did my code send?" in one typed line, not in
//! hand-built JSON whose typos the server answers with a 400 the test never reads. The types
//! here mirror the server's handlers field for field, but are declared again rather than
//! imported: the client crate must not depend on the server (an app's test suite should not
//! compile an HTTP server to talk to one), and the wire, not a shared Rust type, is the
//! contract.
//!
//! ```no_run
//! use rollcall_client::admin::{Admin, AdminError, FaultSpec};
//!
//! # async fn demo() -> Result<(), AdminError> {
//! let admin = Admin::new("http://127.0.0.1:8080", "the-admin-key")?;
//! admin.reset().await?;
//! let fault = admin
//!     .add_fault(&FaultSpec {
//!         errcode: Some(-1),
//!         times: Some(1),
//!         ..FaultSpec::new("meeting/get_attendee_list")
//!     })
//!     .await?;
//! // … run the code under test …
//! let status = admin.faults().await?;
//! assert!(status.iter().any(|f| f.id == fault.id && f.hits == 1));
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`Admin`]: the connection (base URL, admin key) and one method per control.
//! - Clock: [`Clock`]. Faults: [`FaultSpec`], [`Fault`], [`FaultStatus`]. Journal:
//!   [`RequestFilter`], [`JournalEntry`]. Rate limits: [`RateLimits`]. Snapshots:
//!   [`SnapshotInfo`]. Meetings: [`CreatedMeeting`], [`CreatedSubMeeting`]. Callbacks:
//!   [`Callbacks`], [`CallbackTarget`], [`CallbackDelivery`].
//! - [`AdminError`]: the server's refusals (HTTP status and reason), transport failures,
//!   undecodable replies.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What can go wrong with an admin call.
///
/// Its own type rather than a variant of [`crate::Error`]: the admin API speaks HTTP status
/// codes with `{"error": reason}`, not WeCom's errcodes, and a caller matching on one should
/// not have to consider the other's cases.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The server answered 4xx or 5xx. `reason` is its `{"error": …}` text (or the raw body
    /// when it was not that shape), so a test failure says what the server objected to.
    #[error("HTTP {status}: {reason}")]
    Http { status: u16, reason: String },
    /// The request did not get an HTTP answer (connection refused, timeout…). Its message
    /// includes the causes.
    #[error("transport: {}", crate::chain(.0))]
    Transport(#[from] reqwest::Error),
    /// A 2xx answer that was not the JSON the call returns (a server of another version, or
    /// not rollcall at all).
    #[error("decode: {0}")]
    Decode(String),
    /// The base URL is not an http(s) URL.
    #[error("config: {0}")]
    Config(String),
}

impl AdminError {
    /// The HTTP status of a refusal, `None` for the other kinds: `e.status() == Some(404)`
    /// reads better in a test than a `match`.
    pub fn status(&self) -> Option<u16> {
        match self {
            AdminError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// `GET`/`POST /admin/v1/clock`: the server's now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Unix seconds.
    pub now: i64,
    /// Whether the server runs on the virtual clock (`--clock virtual`); only then can it be
    /// set.
    #[serde(rename = "virtual")]
    pub is_virtual: bool,
}

/// A fault rule as `POST /admin/v1/faults` takes it. Build one with [`FaultSpec::new`] and
/// struct update syntax; the server checks the combination (at most one of `errcode`,
/// `http_status`, `drop`) and answers 400 with the reason.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FaultSpec {
    /// A `/cgi-bin/` call without the prefix (`meeting/get_info`), `ingest/v1/events`, or `*`.
    pub path: String,
    /// Only this corp's calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpid: Option<String>,
    /// Only this app's calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agentid: Option<u32>,
    /// Answer with WeCom's exact body and headers for this code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errcode: Option<i32>,
    /// Answer this HTTP status with an empty body, as a failing gateway would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Close the connection without answering.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop: bool,
    /// Delay the answer (the fault's, or the correct one when no other action is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Chance a matching call is hit; `None` sends nothing, so the server's default (1.0)
    /// applies rather than a copy of it that could drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Retire the rule after this many hits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

impl FaultSpec {
    /// A rule for `path` with nothing else set (which, sent alone, the server refuses: give
    /// an action or a latency).
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }
}

/// A rule just added: its id (for [`Admin::delete_fault`]) and the rule as the server
/// stored it (with defaults filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub id: String,
    #[serde(flatten)]
    pub spec: FaultSpec,
}

/// A rule as `GET /admin/v1/faults` lists it: how often it has fired and how long it lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultStatus {
    pub id: String,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Calls it has answered.
    pub hits: u64,
    /// Hits left before it retires; `None` for a rule without `times`. A retired rule stays
    /// listed with 0, so a test can check it fired exactly as often as meant.
    pub remaining: Option<u64>,
}

/// Which journal entries [`Admin::requests`] wants; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestFilter {
    /// At most this many, newest first (the server's default is 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Only this call (`meeting/get_info`, with or without `/cgi-bin/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Only answers with this errcode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errcode: Option<i32>,
}

/// One journaled request (`GET /admin/v1/requests`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Increasing per node.
    pub id: u64,
    /// When it arrived, unix milliseconds (wall clock).
    pub at_ms: i64,
    pub method: String,
    /// The path, never the query (which may carry a token or a secret).
    pub path: String,
    pub corpid: Option<String>,
    pub agentid: Option<u32>,
    /// `None` when a fault dropped the connection.
    pub status: Option<u16>,
    pub errcode: Option<i32>,
    pub latency_us: u64,
    pub request_id: Option<String>,
    /// The id of the fault applied, if any.
    pub fault: Option<String>,
    /// The request body, secrets and tokens replaced by `"***"`.
    pub body: Value,
}

/// `GET`/`PUT /admin/v1/rate_limits`: calls a minute per app per call. `PUT` replaces the
/// whole setting, so `calls` left empty removes every override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    /// Every call's limit unless `calls` says otherwise (the server starts at 6000).
    pub per_minute: u32,
    /// Per-call overrides, by call name (`meeting/get_attendee_list`).
    #[serde(default)]
    pub calls: BTreeMap<String, u32>,
}

/// A saved snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub name: String,
    /// The server's clock when it was taken (unix seconds; virtual if the clock is).
    pub created_at: i64,
    pub meetings: u64,
    pub sessions: u64,
}

/// `POST /admin/v1/meetings`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedMeeting {
    pub meetingid: String,
    pub meeting_code: String,
    /// The sub-meetings of a recurring meeting (empty otherwise).
    #[serde(default)]
    pub sub_meetings: Vec<CreatedSubMeeting>,
}

/// One sub-meeting of a [`CreatedMeeting`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedSubMeeting {
    pub sub_meetingid: String,
    pub start_time: i64,
    pub end_time: i64,
}

/// `GET /admin/v1/callbacks`: the apps' callback targets and the deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callbacks {
    /// Every stored target, with the answering node's URL verification of it.
    pub apps: Vec<CallbackTarget>,
    /// The newest deliveries first.
    #[serde(default)]
    pub deliveries: Vec<CallbackDelivery>,
}

/// One app's callback target and the answering node's URL verification of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackTarget {
    pub corpid: String,
    pub agentid: u32,
    pub url: String,
    /// The receiver answered the decrypted echostr.
    pub verified: bool,
    /// Why not (connect error, timeout, HTTP status, wrong body).
    pub error: Option<String>,
    /// When the check finished (server clock); `None` while pending or not checked by
    /// this node.
    pub checked_at: Option<i64>,
}

/// One callback event and how its delivery went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackDelivery {
    /// Increasing in the order the events were written.
    pub id: i64,
    pub corpid: String,
    pub agentid: u32,
    pub meetingid: String,
    /// WeCom's `Event`: `meeting_change`.
    pub event: String,
    /// WeCom's `ChangeType`: `create_meeting`, `modify_meeting`, `cancel_meeting`,
    /// `meeting_start`, `meeting_end`.
    pub change_type: String,
    /// `FromUserName`: the member who acted, or `sys`.
    pub from_user: String,
    /// `CreateTime`, unix seconds (server clock).
    pub create_time: i64,
    /// `pending`, `delivered` or `failed` (given up after the last attempt).
    pub state: String,
    pub attempts: u32,
    /// The last HTTP status the receiver answered (`None`: no answer yet, or none).
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// When the next attempt is due, wall-clock unix milliseconds; `None` once finished.
    pub next_attempt_at_ms: Option<i64>,
    /// When it was delivered or given up (server clock).
    pub finished_at: Option<i64>,
}

/// The emulator's admin API. Cheap to clone (the HTTP client is shared); calls may run
/// concurrently.
#[derive(Debug, Clone)]
pub struct Admin {
    http: reqwest::Client,
    base: Url,
    key: String,
}

impl Admin {
    /// An admin client for the server at `base_url` (`http://127.0.0.1:8080`, no
    /// `/admin/v1`) with its `admin_key`. The HTTP settings are [`crate::Client`]'s: a
    /// 30-second timeout, so a hung server fails a test instead of stalling it, and the
    /// crate's user agent, so the journal shows who called.
    pub fn new(
        base_url: impl AsRef<str>,
        admin_key: impl Into<String>,
    ) -> Result<Self, AdminError> {
        let raw = base_url.as_ref();
        let base = Url::parse(raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| {
                AdminError::Config(format!(
                    "base URL {raw:?} is not an http:// or https:// URL"
                ))
            })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("rollcall-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base,
            key: admin_key.into(),
        })
    }

    // --- clock ---

    /// The server's now, and whether its clock is virtual.
    pub async fn clock(&self) -> Result<Clock, AdminError> {
        self.call(Method::GET, &["clock"], None).await
    }

    /// Set the virtual clock to `now` (unix seconds). 409 on a server on the system clock.
    pub async fn set_clock(&self, now: i64) -> Result<Clock, AdminError> {
        let body = json!({ "now": now });
        self.call(Method::POST, &["clock"], Some(&body)).await
    }

    /// Move the virtual clock by `secs` (negative goes back). 409 on the system clock.
    pub async fn advance_clock(&self, secs: i64) -> Result<Clock, AdminError> {
        let body = json!({ "advance_secs": secs });
        self.call(Method::POST, &["clock"], Some(&body)).await
    }

    // --- faults ---

    /// Add a rule; it applies from the next request on. 400 with the reason for a bad rule.
    pub async fn add_fault(&self, spec: &FaultSpec) -> Result<Fault, AdminError> {
        let body = to_value(spec)?;
        self.call(Method::POST, &["faults"], Some(&body)).await
    }

    /// Every rule, in the order they are tried, with hits and what remains.
    pub async fn faults(&self) -> Result<Vec<FaultStatus>, AdminError> {
        #[derive(Deserialize)]
        struct List {
            faults: Vec<FaultStatus>,
        }
        let l: List = self.call(Method::GET, &["faults"], None).await?;
        Ok(l.faults)
    }

    /// Remove one rule. 404 for an id the server does not know.
    pub async fn delete_fault(&self, id: &str) -> Result<(), AdminError> {
        self.call::<Value>(Method::DELETE, &["faults", id], None)
            .await
            .map(drop)
    }

    /// Remove every rule.
    pub async fn clear_faults(&self) -> Result<(), AdminError> {
        self.call::<Value>(Method::DELETE, &["faults"], None)
            .await
            .map(drop)
    }

    // --- journal ---

    /// Journaled requests, newest first. 400 for an unknown `path` or a zero `limit`.
    pub async fn requests(&self, filter: &RequestFilter) -> Result<Vec<JournalEntry>, AdminError> {
        #[derive(Deserialize)]
        struct List {
            requests: Vec<JournalEntry>,
        }
        let req = self.request(Method::GET, &["requests"]).query(filter);
        let l: List = self.send(req).await?;
        Ok(l.requests)
    }

    /// Empty the journal.
    pub async fn clear_requests(&self) -> Result<(), AdminError> {
        self.call::<Value>(Method::DELETE, &["requests"], None)
            .await
            .map(drop)
    }

    // --- rate limits ---

    /// The limits in force.
    pub async fn rate_limits(&self) -> Result<RateLimits, AdminError> {
        self.call(Method::GET, &["rate_limits"], None).await
    }

    /// Replace the limits, in force at once; answers the new setting. 400 for a zero limit
    /// or an unknown call name.
    pub async fn set_rate_limits(&self, limits: &RateLimits) -> Result<RateLimits, AdminError> {
        let body = to_value(limits)?;
        self.call(Method::PUT, &["rate_limits"], Some(&body)).await
    }

    // --- reset and snapshots ---

    /// Back to the start-up state: meetings, sessions, tokens, faults, journal, rate limits
    /// and corps added since start-up gone, the clock at its start value.
    pub async fn reset(&self) -> Result<(), AdminError> {
        self.call::<Value>(Method::POST, &["reset"], None)
            .await
            .map(drop)
    }

    /// Save all stored state under `name` (`[A-Za-z0-9_.-]{1,64}`, else 400), replacing a
    /// snapshot of that name.
    pub async fn save_snapshot(&self, name: &str) -> Result<SnapshotInfo, AdminError> {
        self.call(Method::POST, &["snapshots", name], None).await
    }

    /// Every saved snapshot.
    pub async fn snapshots(&self) -> Result<Vec<SnapshotInfo>, AdminError> {
        #[derive(Deserialize)]
        struct List {
            snapshots: Vec<SnapshotInfo>,
        }
        let l: List = self.call(Method::GET, &["snapshots"], None).await?;
        Ok(l.snapshots)
    }

    /// Make the store exactly the state saved as `name`, atomically. 404 for an unknown name.
    pub async fn restore_snapshot(&self, name: &str) -> Result<SnapshotInfo, AdminError> {
        self.call(Method::POST, &["snapshots", name, "restore"], None)
            .await
    }

    /// Delete a snapshot. 404 for an unknown name.
    pub async fn delete_snapshot(&self, name: &str) -> Result<(), AdminError> {
        self.call::<Value>(Method::DELETE, &["snapshots", name], None)
            .await
            .map(drop)
    }

    // --- directory and meetings ---

    /// Add or replace a corp: the config file's `[[corps]]` shape as JSON (`corpid`,
    /// `name`, `apps`, `departments`, `users`). Untyped on purpose: the directory shape is
    /// the server's config format, and a typed copy here would lag it. Answers the corpid.
    pub async fn put_corp(&self, corp: &Value) -> Result<String, AdminError> {
        #[derive(Deserialize)]
        struct Put {
            corpid: String,
        }
        let p: Put = self.call(Method::POST, &["corps"], Some(corp)).await?;
        Ok(p.corpid)
    }

    /// Create a meeting as an app would, without a token: `corpid`, `agentid` and the
    /// `meeting/create` fields (`title`, `meeting_start`, `meeting_duration`,
    /// `meeting_type`, `sub_meetings`, …). Untyped for the same reason as
    /// [`Admin::put_corp`].
    pub async fn create_meeting(&self, meeting: &Value) -> Result<CreatedMeeting, AdminError> {
        self.call(Method::POST, &["meetings"], Some(meeting)).await
    }

    // --- plumbing ---

    /// `<base>/admin/v1/<segments…>`, each segment percent-encoded: a fault id or snapshot
    /// name reaches the server as one path segment, whatever it holds, so a bad name gets
    /// the server's 400 rather than a request to some other path.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["admin", "v1"]).extend(segments);
        }
        url
    }

    // --- callbacks ---

    /// The callback targets and the newest `limit` deliveries (the server's default: 100;
    /// 1..=1000).
    pub async fn callbacks(&self, limit: Option<u32>) -> Result<Callbacks, AdminError> {
        let mut req = self.request(Method::GET, &["callbacks"]);
        if let Some(n) = limit {
            req = req.query(&[("limit", n)]);
        }
        self.send(req).await
    }

    fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.http
            .request(method, self.url(segments))
            .bearer_auth(&self.key)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<T, AdminError> {
        let mut req = self.request(method, segments);
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req).await
    }

    /// Send, then map a 4xx/5xx to [`AdminError::Http`] with the server's reason, and
    /// decode anything else as `T`.
    async fn send<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, AdminError> {
        let r = req.send().await?;
        let status = r.status();
        let bytes = r.bytes().await?;
        if status.is_client_error() || status.is_server_error() {
            return Err(AdminError::Http {
                status: status.as_u16(),
                reason: reason(&bytes),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            AdminError::Decode(format!(
                "{e} in {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ))
        })
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, AdminError> {
    serde_json::to_value(v).map_err(|e| AdminError::Decode(format!("encoding the body: {e}")))
}

/// The `error` text of `{"error": reason}`, or the body itself when it is not that shape
/// (a proxy's HTML page, an empty body).
fn reason(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Body {
        error: String,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| b.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_a_base_path_and_encode_segments() {
        let a = Admin::new("http://h:1/", "k").expect("admin");
        assert_eq!(a.url(&["faults"]).as_str(), "http://h:1/admin/v1/faults");
        let a = Admin::new("http://h:1/emu", "k").expect("admin");
        assert_eq!(
            a.url(&["snapshots", "a b/c", "restore"]).as_str(),
            "http://h:1/emu/admin/v1/snapshots/a%20b%2Fc/restore"
        );
        assert!(matches!(
            Admin::new("ftp://h", "k"),
            Err(AdminError::Config(_))
        ));
        assert!(matches!(
            Admin::new("nope", "k"),
            Err(AdminError::Config(_))
        ));
    }

    #[test]
    fn reasons_come_from_the_error_field_or_the_body() {
        assert_eq!(
            reason(br#"{"error":"no fault with id 'x'"}"#),
            "no fault with id 'x'"
        );
        assert_eq!(reason(b"gateway down"), "gateway down");
    }

    #[test]
    fn fault_specs_send_only_what_is_set() {
        let s = FaultSpec {
            errcode: Some(-1),
            times: Some(1),
            ..FaultSpec::new("meeting/get_attendee_list")
        };
        assert_eq!(
            serde_json::to_value(&s).expect("json"),
            json!({"path": "meeting/get_attendee_list", "errcode": -1, "times": 1})
        );
        let listed: FaultStatus = serde_json::from_value(json!({
            "id": "f1", "path": "*", "latency_ms": 5, "probability": 1.0,
            "hits": 2, "remaining": null
        }))
        .expect("listed");
        assert_eq!(listed.spec.probability, Some(1.0));
        assert_eq!((listed.hits, listed.remaining), (2, None));
    }
}
