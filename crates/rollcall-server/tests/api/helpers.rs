//! The test harness: `spawn_app()` and helpers to seed and call it.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use rollcall_core::clock::VirtualClock;
use rollcall_core::ids::IdGen;
use rollcall_server::{AppState, ServerConfig};
use rollcall_store::Store;
use rollcall_store_postgres::PgStore;
use rollcall_store_sqlite::SqliteStore;

/// The virtual clock starts here (2025-10-09T08:53:20Z).
pub const NOW: i64 = 1_760_000_000;
pub const DAY: i64 = 86_400;

pub const CORP: &str = "wwtestcorp000001";
/// The main app: meeting API on, sees department 2 (and its sub-department 3) and carol.
pub const AGENT: u32 = 1_000_002;
pub const SECRET: &str = "secret-attendance-app";
/// An app without the meeting API (48002).
pub const NOAPI_AGENT: u32 = 1_000_003;
pub const NOAPI_SECRET: &str = "secret-no-meeting-api";
/// Another app with the meeting API, seeing department 1 and all below.
pub const OTHER_AGENT: u32 = 1_000_004;
pub const OTHER_SECRET: &str = "secret-other-app";
/// A disabled app.
pub const DISABLED_SECRET: &str = "secret-disabled-app";

pub const INGEST_KEY: &str = "test-ingest-key";
pub const ADMIN_KEY: &str = "test-admin-key";

/// Options for [`spawn_with`].
#[derive(Debug, Clone)]
pub struct Opts {
    pub ingest_key: Option<&'static str>,
    pub admin_key: Option<&'static str>,
    pub token_ttl_secs: i64,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            ingest_key: Some(INGEST_KEY),
            admin_key: Some(ADMIN_KEY),
            token_ttl_secs: 7200,
        }
    }
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: VirtualClock,
    pub state: AppState,
    pub dir: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

/// A fresh server with the fixture corp.
pub async fn spawn_app() -> TestApp {
    let app = spawn_with(Opts::default(), tempfile::tempdir().expect("temp dir")).await;
    app.put_corp(fixture_corp()).await;
    app
}

/// A server over `dir` (which may hold an earlier server's data).
pub async fn spawn_with(opts: Opts, dir: TempDir) -> TestApp {
    spawn_on(opts, dir.path(), VirtualClock::new(NOW))
        .await
        .with_dir(dir)
}

/// The PostgreSQL URL when the suite runs on PostgreSQL (`ROLLCALL_TEST_STORE=postgres`).
///
/// The same API suite runs on both backends: SQLite by default (`cargo test`), PostgreSQL
/// when asked (`.ci/run` does so whenever `TEST_POSTGRES_URL` is set).
pub fn postgres_url() -> Option<String> {
    match std::env::var("ROLLCALL_TEST_STORE").as_deref() {
        Ok("postgres") => Some(
            std::env::var("TEST_POSTGRES_URL")
                .expect("ROLLCALL_TEST_STORE=postgres needs TEST_POSTGRES_URL"),
        ),
        Ok("sqlite") | Err(_) => None,
        Ok(other) => panic!("ROLLCALL_TEST_STORE={other}: expected sqlite or postgres"),
    }
}

/// The schema that stands for a test's data directory on PostgreSQL: the same directory
/// (a restart, a second node) means the same schema.
pub fn schema_for(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("api_{clean}")
}

/// Drop the schemas earlier runs of this suite left behind, once per run, before the first
/// test makes its own (test schemas outlive their temp directories otherwise).
async fn clean_old_schemas(url: &str) {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect to PostgreSQL");
        tokio::spawn(conn);
        let old = client
            .query(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'api\\_%'",
                &[],
            )
            .await
            .expect("list schemas");
        for row in old {
            let name: String = row.get(0);
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                .await;
        }
    })
    .await;
}

/// The store for a test's data directory, on the backend under test.
pub async fn open_store(path: &Path) -> Arc<dyn Store> {
    if let Some(url) = postgres_url() {
        clean_old_schemas(&url).await;
    }
    match postgres_url() {
        Some(url) => Arc::new(
            PgStore::connect_with_schema(&url, &schema_for(path))
                .await
                .expect("connect to PostgreSQL"),
        ),
        None => Arc::new(SqliteStore::open(path).expect("open store")),
    }
}

/// A server over `path` on `clock` (a second node over the same data, or a restart).
pub async fn spawn_on(opts: Opts, path: &Path, clock: VirtualClock) -> TestApp {
    let store = open_store(path).await;
    let config = ServerConfig {
        token_ttl_secs: opts.token_ttl_secs,
        ingest_key: opts.ingest_key.map(str::to_owned),
        admin_key: opts.admin_key.map(str::to_owned),
    };
    let state = AppState::new(
        store,
        config,
        Arc::new(clock.clone()),
        Arc::new(IdGen::random()),
    )
    .await
    .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(rollcall_server::serve(
        listener,
        state.clone(),
        async move {
            let _ = rx.await;
        },
    ));
    TestApp {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        clock,
        state,
        dir: None,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

/// The fixture directory:
/// ```text
/// 1 HQ (alice) ── 2 R&D ── 3 Platform (bob)
///              └─ 4 Sales (carol)
/// 5 Board (dave, erin)
/// ```
pub fn fixture_corp() -> Value {
    json!({
        "corpid": CORP,
        "name": "Test Corp",
        "departments": [
            {"id": 1, "name": "HQ", "parent": 0},
            {"id": 2, "name": "R&D", "parent": 1},
            {"id": 3, "name": "Platform", "parent": 2},
            {"id": 4, "name": "Sales", "parent": 1},
            {"id": 5, "name": "Board", "parent": 0}
        ],
        "users": [
            {"userid": "alice", "name": "Alice", "departments": [1]},
            {"userid": "bob", "name": "Bob", "departments": [3]},
            {"userid": "carol", "name": "Carol", "departments": [4]},
            {"userid": "dave", "name": "Dave", "departments": [5]},
            {"userid": "erin", "name": "Erin", "departments": [5]}
        ],
        "apps": [
            {"agentid": AGENT, "name": "Attendance", "secret": SECRET, "meeting_api": true,
             "visible_departments": [2], "visible_users": ["carol"]},
            {"agentid": NOAPI_AGENT, "name": "No API", "secret": NOAPI_SECRET, "meeting_api": false,
             "visible_departments": [1]},
            {"agentid": OTHER_AGENT, "name": "Other", "secret": OTHER_SECRET, "meeting_api": true,
             "visible_departments": [1]},
            {"agentid": 1_000_005, "name": "Disabled", "secret": DISABLED_SECRET, "meeting_api": true,
             "enabled": false}
        ]
    })
}

impl TestApp {
    fn with_dir(mut self, dir: TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Stop the server gracefully and hand back its data directory.
    pub async fn stop(mut self) -> Option<TempDir> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server io");
        }
        self.dir.take()
    }

    /// A typed client for the main app.
    pub fn client(&self) -> rollcall_client::Client {
        self.client_for(SECRET)
    }

    pub fn client_for(&self, secret: &str) -> rollcall_client::Client {
        rollcall_client::Client::builder()
            .corp(CORP, secret)
            .base_url(&self.base)
            .build()
            .expect("client")
    }

    /// A raw `gettoken` call.
    pub async fn gettoken_raw(&self, query: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/cgi-bin/gettoken?{query}", self.base))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.expect("json")
    }

    /// A token for the app with `secret`.
    pub async fn token(&self, secret: &str) -> String {
        let v = self
            .gettoken_raw(&format!("corpid={CORP}&corpsecret={secret}"))
            .await;
        assert_eq!(v["errcode"], 0, "{v}");
        v["access_token"].as_str().expect("token").to_owned()
    }

    /// POST a raw body to a `/cgi-bin/` path (with its query); returns status, headers, body.
    pub async fn cgi_raw(
        &self,
        path_and_query: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, reqwest::header::HeaderMap, bytes::Bytes) {
        let r = self
            .http
            .post(format!("{}/cgi-bin/{path_and_query}", self.base))
            .body(body)
            .send()
            .await
            .expect("send");
        (
            r.status(),
            r.headers().clone(),
            r.bytes().await.expect("body"),
        )
    }

    /// get_attendee_list with a raw JSON body; asserts HTTP 200 and returns the JSON reply.
    pub async fn list(&self, token: &str, body: Value) -> Value {
        let (status, _, bytes) = self
            .cgi_raw(
                &format!("meeting/get_attendee_list?access_token={token}"),
                body.to_string(),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).expect("json")
    }

    /// Follow a listing to its end; returns all attendees and the final `next_cursor`.
    pub async fn list_all(&self, token: &str, mut body: Value) -> (Vec<Value>, String) {
        let mut out = Vec::new();
        loop {
            let page = self.list(token, body.clone()).await;
            assert_eq!(page["errcode"], 0, "{page}");
            out.extend(
                page["attendees"]
                    .as_array()
                    .expect("attendees")
                    .iter()
                    .cloned(),
            );
            let cursor = page["next_cursor"]
                .as_str()
                .expect("next_cursor")
                .to_owned();
            if page["has_more"] == json!(false) {
                return (out, cursor);
            }
            body["cursor"] = json!(cursor);
        }
    }

    /// POST to the admin API with the admin key.
    pub async fn admin(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/admin/v1/{path}", self.base))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn put_corp(&self, corp: Value) {
        let (status, body) = self.admin("corps", corp).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Create a meeting for `agentid` (type 0, 1 with `subs`, or 6).
    pub async fn meeting(
        &self,
        agentid: u32,
        meeting_type: u32,
        subs: &[(i64, i64)],
    ) -> CreatedMeeting {
        let mut body = json!({
            "corpid": CORP, "agentid": agentid, "meeting_type": meeting_type, "title": "Weekly sync",
            "meeting_start": NOW - 30 * DAY, "meeting_duration": 3600,
        });
        if !subs.is_empty() {
            body["sub_meetings"] = subs
                .iter()
                .map(|(s, e)| json!({"start_time": s, "end_time": e}))
                .collect();
        }
        let (status, v) = self.admin("meetings", body).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        serde_json::from_value(v).expect("created meeting")
    }

    /// A one-off meeting of the main app.
    pub async fn one_off(&self) -> String {
        self.meeting(AGENT, 0, &[]).await.meetingid
    }

    /// Ingest events as a JSON array; asserts HTTP 200 and returns the report.
    pub async fn ingest(&self, events: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/ingest/v1/events", self.base))
            .bearer_auth(INGEST_KEY)
            .json(&events)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.expect("json")
    }

    /// Ingest and insist that every event was accepted.
    pub async fn ingest_ok(&self, events: Value) {
        let n = events.as_array().map_or(1, Vec::len);
        let report = self.ingest(events).await;
        assert_eq!(report["accepted"], n, "{report}");
    }
}

/// A join event for a corp member.
pub fn join(meetingid: &str, session: &str, at: i64, userid: &str) -> Value {
    join_as(meetingid, session, at, json!({"userid": userid}))
}

/// A join event for any participant.
pub fn join_as(meetingid: &str, session: &str, at: i64, participant: Value) -> Value {
    json!({"event_id": format!("join-{session}"), "kind": "join", "meetingid": meetingid, "session": session,
           "at": at, "participant": participant, "instance_id": 1, "join_type": 1, "net": "WIFI", "audio_state": true})
}

pub fn quit(meetingid: &str, session: &str, at: i64) -> Value {
    json!({"event_id": format!("quit-{session}"), "kind": "quit", "meetingid": meetingid, "session": session, "at": at})
}

pub fn state(meetingid: &str, event_id: &str, session: &str, at: i64, fields: Value) -> Value {
    let mut e = json!({"event_id": event_id, "kind": "state", "meetingid": meetingid, "session": session, "at": at});
    for (k, v) in fields.as_object().expect("fields") {
        e[k] = v.clone();
    }
    e
}

/// The text of an errmsg before `, hint: [...]`, after checking the hint's shape.
pub fn errtext(reply: &Value) -> String {
    let msg = reply["errmsg"].as_str().expect("errmsg");
    let (text, hint) = msg
        .rsplit_once(", hint: [")
        .unwrap_or_else(|| panic!("no hint in {msg:?}"));
    let id = hint.strip_suffix(']').expect("hint closes");
    let (secs, hex) = id.split_once('_').expect("id shape");
    assert!(
        secs.bytes().all(|b| b.is_ascii_digit())
            && hex.len() == 6
            && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    text.to_owned()
}

/// Assert a WeCom error with this errcode; returns the text before the hint.
pub fn expect_err(reply: &Value, code: i64) -> String {
    assert_eq!(reply["errcode"], code, "{reply}");
    errtext(reply)
}

/// `POST /admin/v1/meetings` reply, as the tests read it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CreatedMeeting {
    pub meetingid: String,
    pub meeting_code: String,
    pub sub_meetings: Vec<CreatedSubMeeting>,
}

/// One sub-meeting of [`CreatedMeeting`].
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CreatedSubMeeting {
    pub sub_meetingid: String,
    pub start_time: i64,
    pub end_time: i64,
}
