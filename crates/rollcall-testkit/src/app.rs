//! [`TestApp`]: a rollcall server in-process, and the calls a test makes through it.
//!
//! ```text
//! let app = spawn_app().await;                                 // the standard corp, NOW
//! let off = TestApp::builder().admin_key(None).spawn().await;  // admin API off
//! let b = TestApp::builder().data_at(&path).clock(a.clock.clone()).unseeded().spawn().await;
//! ```
//!
//! # Layout
//! - [`spawn_app`]: the usual server; [`Spawn`]: the builder for the others (config, clock
//!   start, seed, data directory, store).
//! - [`TestApp`]: the running server; stop, clients, raw and typed calls, seeding through
//!   the admin and ingest APIs.
//! - [`MainApp`], [`CreatedMeeting`]: the app a test acts as; the admin API's reply to a
//!   new meeting.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use tempfile::TempDir;

use rollcall_core::clock::VirtualClock;
use rollcall_emulator::{Server, ServerOptions};
use rollcall_server::{AppState, ServerConfig};
use rollcall_store::Store;

use crate::fixtures::{self, Directory, ADMIN_KEY, DAY, INGEST_KEY, NOW};
use crate::store::open_store;

/// The app a test acts as by default: whose credentials [`TestApp::client`] and
/// [`TestApp::token`] use, and whose meetings [`TestApp::one_off`] creates.
#[derive(Debug, Clone)]
pub struct MainApp {
    pub corpid: String,
    pub agentid: u32,
    pub secret: String,
}

impl Default for MainApp {
    /// The standard corp's main app.
    fn default() -> Self {
        Self {
            corpid: fixtures::CORP.to_owned(),
            agentid: fixtures::AGENT,
            secret: fixtures::SECRET.to_owned(),
        }
    }
}

/// A new meeting, as the admin API answers `POST /admin/v1/meetings`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedMeeting {
    pub meetingid: String,
    pub meeting_code: String,
    pub sub_meetings: Vec<CreatedSubMeeting>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CreatedSubMeeting {
    pub sub_meetingid: String,
    pub start_time: i64,
    pub end_time: i64,
}

/// Where the server's data lives.
#[derive(Debug)]
enum Data {
    /// A new temporary directory, owned by the app.
    Fresh,
    /// This directory, owned by the app (an earlier server's data: a restart).
    Owned(TempDir),
    /// This path, owned by someone else (a second node over another app's data).
    At(PathBuf),
    /// This store, as it is (a wrapper that fails on demand, say).
    Store(Arc<dyn Store>),
}

/// How to start a [`TestApp`]; from [`TestApp::builder`].
#[derive(Debug)]
pub struct Spawn {
    config: ServerConfig,
    clock: Option<VirtualClock>,
    clock_start: i64,
    seed: Option<Directory>,
    main: MainApp,
    data: Data,
    /// `--seed`: the id generator's seed (default: random ids).
    ids_seed: Option<u64>,
}

impl Default for Spawn {
    fn default() -> Self {
        Self {
            config: rollcall_emulator::server::test_config(ADMIN_KEY, INGEST_KEY),
            clock: None,
            clock_start: NOW,
            seed: Some(fixtures::standard()),
            main: MainApp::default(),
            data: Data::Fresh,
            ids_seed: None,
        }
    }
}

impl Spawn {
    /// The whole server configuration (default: tokens live 7200 s, the test keys).
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    pub fn token_ttl_secs(mut self, secs: i64) -> Self {
        self.config.token_ttl_secs = secs;
        self
    }

    /// The ingest API's key; `None` turns the ingest API off.
    pub fn ingest_key(mut self, key: Option<&str>) -> Self {
        self.config.ingest_key = key.map(str::to_owned);
        self
    }

    /// The admin API's key; `None` turns the admin API off.
    pub fn admin_key(mut self, key: Option<&str>) -> Self {
        self.config.admin_key = key.map(str::to_owned);
        self
    }

    /// A new virtual clock starting at `at` (default [`NOW`]).
    pub fn clock_start(mut self, at: i64) -> Self {
        self.clock_start = at;
        self
    }

    /// This clock (shared with another node, or kept across a restart).
    pub fn clock(mut self, clock: VirtualClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Seed `corp` before the server accepts connections (default: the standard corp), and
    /// act as `main` by default.
    pub fn seed(mut self, corp: Directory, main: MainApp) -> Self {
        self.seed = Some(corp);
        self.main = main;
        self
    }

    /// Seeded ids (`--seed N`), and the seeded corp also becomes the start-up configuration a
    /// reset applies again: a deterministic run, as `rollcall serve --seed N --config …`.
    pub fn ids_seed(mut self, seed: u64) -> Self {
        self.ids_seed = Some(seed);
        self
    }

    /// Seed nothing (the data is there already, or the test seeds it).
    pub fn unseeded(mut self) -> Self {
        self.seed = None;
        self
    }

    /// Serve the data in `dir` (an earlier server's), and own it.
    pub fn data_dir(mut self, dir: TempDir) -> Self {
        self.data = Data::Owned(dir);
        self
    }

    /// Serve the data at `path` (another server's, which keeps owning it).
    pub fn data_at(mut self, path: &Path) -> Self {
        self.data = Data::At(path.to_owned());
        self
    }

    /// Serve this store instead of one on the backend under test.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.data = Data::Store(store);
        self
    }

    /// Start the server on 127.0.0.1, on a random port, with the seed corp applied (as
    /// `rollcall serve --config` applies its corps): the emulator crate's start-up
    /// ([`rollcall_emulator::Server`]) over the backend under test.
    pub async fn spawn(self) -> TestApp {
        let (store, dir) = match self.data {
            Data::Fresh => {
                let dir = tempfile::tempdir().expect("temp dir");
                (open_store(dir.path()).await, Some(dir))
            }
            Data::Owned(dir) => (open_store(dir.path()).await, Some(dir)),
            Data::At(path) => (open_store(&path).await, None),
            Data::Store(store) => (store, None),
        };
        let clock = self
            .clock
            .unwrap_or_else(|| VirtualClock::new(self.clock_start));
        let admin_key = self.config.admin_key.clone();
        let ingest_key = self.config.ingest_key.clone();
        let options = ServerOptions {
            ids_seed: self.ids_seed,
            // Seeded ids make the seed corp the start-up configuration a reset applies
            // again; otherwise a reset empties the directory, as for corps put through the
            // admin API.
            reset_restores_corps: self.ids_seed.is_some(),
            corps: self.seed.into_iter().collect(),
            ..ServerOptions::new(self.config, clock.clone())
        };
        let server = Server::start(store, options).await.expect("start server");
        TestApp {
            base: server.base_url().to_owned(),
            http: reqwest::Client::new(),
            clock,
            state: server.state().clone(),
            dir,
            main: self.main,
            admin_key: admin_key.unwrap_or_else(|| ADMIN_KEY.to_owned()),
            ingest_key: ingest_key.unwrap_or_else(|| INGEST_KEY.to_owned()),
            server,
        }
    }
}

/// A fresh server with the standard corp, on a fresh store, at [`NOW`]: the default
/// [`Spawn`]. Other set-ups start from [`TestApp::builder`].
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

/// A running server and what a test needs to talk to it. Dropping it stops the server.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub http: reqwest::Client,
    pub clock: VirtualClock,
    pub state: AppState,
    /// The data directory, when the app owns it.
    pub dir: Option<TempDir>,
    /// The app the helpers act as.
    pub main: MainApp,
    /// The keys the helpers send (the configured ones, or the defaults when an API is off).
    admin_key: String,
    ingest_key: String,
    /// The running server; dropping it stops the server.
    server: Server,
}

impl TestApp {
    /// A fresh server with the standard corp, on a fresh store, at [`NOW`]; see [`Spawn`].
    pub fn builder() -> Spawn {
        Spawn::default()
    }

    /// Stop the server gracefully and hand back its data directory.
    pub async fn stop(self) -> Option<TempDir> {
        self.server.stop().await.expect("server stops");
        self.dir
    }

    /// A typed client for the main app.
    pub fn client(&self) -> rollcall_client::Client {
        self.client_for(&self.main.secret)
    }

    /// A typed client for the main app's corp with another app's secret.
    pub fn client_for(&self, secret: &str) -> rollcall_client::Client {
        rollcall_client::Client::builder()
            .corp(&self.main.corpid, secret)
            .base_url(&self.base)
            .build()
            .expect("client")
    }

    /// A raw `gettoken` call; asserts HTTP 200.
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

    /// A token for the app of the main corp with `secret`.
    pub async fn token(&self, secret: &str) -> String {
        let v = self
            .gettoken_raw(&format!("corpid={}&corpsecret={secret}", self.main.corpid))
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

    /// POST to the admin API with the admin key; the status and the JSON body (null if none).
    pub async fn admin(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/admin/v1/{path}", self.base))
            .bearer_auth(&self.admin_key)
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Any admin call without a body (`GET`, `DELETE`, or a bodiless `POST`): status and
    /// JSON reply (`Null` when the reply is not JSON). `path` is under `/admin/v1/` and may
    /// carry a query.
    pub async fn admin_call(&self, method: reqwest::Method, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .request(method, format!("{}/admin/v1/{path}", self.base))
            .bearer_auth(&self.admin_key)
            .send()
            .await
            .expect("send");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Put a corp (JSON, e.g. [`Directory::to_json`]) through the admin API.
    pub async fn put_corp(&self, corp: Value) {
        let (status, body) = self.admin("corps", corp).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Create a meeting through the admin API; asserts 201.
    pub async fn create_meeting(&self, body: Value) -> CreatedMeeting {
        let (status, v) = self.admin("meetings", body).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        serde_json::from_value(v).expect("created meeting")
    }

    /// Create a "Weekly sync" for `agentid` of the main corp (type 0, 1 with `subs`, or 6)
    /// that started 30 days before [`NOW`].
    pub async fn meeting(
        &self,
        agentid: u32,
        meeting_type: u32,
        subs: &[(i64, i64)],
    ) -> CreatedMeeting {
        let mut body = json!({
            "corpid": self.main.corpid, "agentid": agentid, "meeting_type": meeting_type,
            "title": "Weekly sync", "meeting_start": NOW - 30 * DAY, "meeting_duration": 3600,
        });
        if !subs.is_empty() {
            body["sub_meetings"] = subs
                .iter()
                .map(|(s, e)| json!({"start_time": s, "end_time": e}))
                .collect();
        }
        self.create_meeting(body).await
    }

    /// A one-off meeting of the main app.
    pub async fn one_off(&self) -> String {
        self.meeting(self.main.agentid, 0, &[]).await.meetingid
    }

    /// Move the server's virtual clock through the admin API.
    pub async fn advance(&self, secs: i64) {
        let (status, v) = self.admin("clock", json!({ "advance_secs": secs })).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }

    /// Ingest events as a JSON array; asserts HTTP 200 and returns the report.
    pub async fn ingest(&self, events: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/ingest/v1/events", self.base))
            .bearer_auth(&self.ingest_key)
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
