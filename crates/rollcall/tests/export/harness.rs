//! The harness: a rollcall server in-process, seeding helpers, a stub WeCom, and the built
//! `rollcall` binary.
//!
//! The server tests' `spawn_app()` lives in another crate's `tests/`, so this is its small
//! sibling: the same construction (temp SQLite store, `VirtualClock`, port 0, graceful
//! stop), seeded only through the public admin and ingest APIs.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rollcall_core::clock::VirtualClock;
use rollcall_core::ids::IdGen;
use rollcall_server::{AppState, ServerConfig};
use rollcall_store_sqlite::SqliteStore;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The virtual clock starts here (2025-10-09T08:53:20Z, 16:53:20 in Shanghai).
pub const NOW: i64 = 1_760_000_000;
pub const CORP: &str = "wwexportcorp0001";
/// The app: meeting API on, sees department 2 (and its sub-department 3) and carol.
pub const AGENT: u32 = 1_000_002;
pub const SECRET: &str = "secret-export-app";
pub const INGEST_KEY: &str = "export-ingest-key";
pub const ADMIN_KEY: &str = "export-admin-key";

/// How long a test waits for something that should happen in milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running server.
pub struct Server {
    pub base: String,
    pub clock: VirtualClock,
    http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A fresh server with the fixture corp; tokens live `token_ttl_secs`.
pub async fn spawn_server(token_ttl_secs: i64) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(dir.path()).expect("open store"));
    let clock = VirtualClock::new(NOW);
    // `..Default::default()`: settings the server grows later keep their defaults here.
    #[allow(clippy::needless_update)]
    let config = ServerConfig {
        token_ttl_secs,
        ingest_key: Some(INGEST_KEY.to_owned()),
        admin_key: Some(ADMIN_KEY.to_owned()),
        ..Default::default()
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
    tokio::spawn(rollcall_server::serve(listener, state, async move {
        let _ = rx.await;
    }));
    let server = Server {
        base: format!("http://{addr}"),
        clock,
        http: reqwest::Client::new(),
        shutdown: Some(tx),
        _dir: dir,
    };
    let (status, body) = server.admin("corps", fixture_corp()).await;
    assert_eq!(status, 200, "{body}");
    server
}

/// ```text
/// 1 HQ (alice) ── 2 R&D (zhangsan) ── 3 Platform (bob)
///              └─ 4 Sales (carol)
/// ```
/// The app sees R&D and Platform, plus carol by name; alice is outside its range.
fn fixture_corp() -> Value {
    json!({
        "corpid": CORP,
        "name": "Export Corp",
        "departments": [
            {"id": 1, "name": "HQ", "parent": 0},
            {"id": 2, "name": "R&D", "parent": 1},
            {"id": 3, "name": "Platform", "parent": 2},
            {"id": 4, "name": "Sales", "parent": 1}
        ],
        "users": [
            {"userid": "alice", "name": "Alice", "departments": [1]},
            {"userid": "zhangsan", "name": "张三", "departments": [2]},
            {"userid": "bob", "name": "Bob", "departments": [3]},
            {"userid": "carol", "name": "Carol", "departments": [4]}
        ],
        "apps": [
            {"agentid": AGENT, "name": "Attendance", "secret": SECRET, "meeting_api": true,
             "visible_departments": [2], "visible_users": ["carol"]}
        ]
    })
}

impl Server {
    /// POST to the admin API; returns the status and the JSON body.
    pub async fn admin(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/admin/v1/{path}", self.base))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .expect("admin call");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A one-off meeting of the app that started an hour before `NOW`.
    pub async fn meeting(&self) -> String {
        let (status, v) = self
            .admin(
                "meetings",
                json!({"corpid": CORP, "agentid": AGENT, "meeting_type": 0, "title": "Weekly sync",
                       "meeting_start": NOW - 3600, "meeting_duration": 7200}),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        v["meetingid"].as_str().expect("meetingid").to_owned()
    }

    /// Ingest events; insists every one was accepted.
    pub async fn ingest(&self, events: Value) {
        let n = events.as_array().map_or(1, Vec::len);
        let r = self
            .http
            .post(format!("{}/ingest/v1/events", self.base))
            .bearer_auth(INGEST_KEY)
            .json(&events)
            .send()
            .await
            .expect("ingest call");
        assert_eq!(r.status(), 200);
        let report: Value = r.json().await.expect("ingest report");
        assert_eq!(report["accepted"], n, "{report}");
    }

    /// Move the server's virtual clock.
    pub async fn advance(&self, secs: i64) {
        let (status, v) = self.admin("clock", json!({ "advance_secs": secs })).await;
        assert_eq!(status, 200, "{v}");
    }

    /// A typed client for the app.
    pub fn client(&self) -> rollcall_client::Client {
        rollcall_client::Client::builder()
            .corp(CORP, SECRET)
            .base_url(&self.base)
            .build()
            .expect("client")
    }

    /// The built `rollcall` with this server's credentials in the environment (and nothing
    /// from the test runner's).
    pub fn rollcall(&self, args: &[&str]) -> Command {
        let mut cmd = rollcall_bin(args);
        cmd.env("WECOM_CORPID", CORP)
            .env("WECOM_SECRET", SECRET)
            .env("ROLLCALL_BASE_URL", &self.base);
        cmd
    }
}

/// A join event.
pub fn join(
    meetingid: &str,
    session: &str,
    at: i64,
    participant: Value,
    instance_id: u32,
) -> Value {
    json!({"event_id": format!("join-{session}"), "kind": "join", "meetingid": meetingid,
           "session": session, "at": at, "participant": participant, "instance_id": instance_id,
           "join_type": 1, "role": 0, "net": "WIFI", "audio_state": true})
}

/// A quit event.
pub fn quit(meetingid: &str, session: &str, at: i64) -> Value {
    json!({"event_id": format!("quit-{session}"), "kind": "quit", "meetingid": meetingid,
           "session": session, "at": at})
}

pub fn member(userid: &str) -> Value {
    json!({ "userid": userid })
}

pub fn external(id: &str) -> Value {
    json!({ "external_id": id })
}

/// The built binary, with no `ROLLCALL_*` / `WECOM_*` / `TZ` from the runner's environment.
pub fn rollcall_bin(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    cmd.args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("ROLLCALL_") || k.starts_with("WECOM_") || k == "TZ" {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Run a command to its end without blocking the runtime the server lives on.
pub async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("rollcall runs"))
        .await
        .expect("join")
}

/// A child whose stdout arrives line by line.
pub struct Lines {
    pub child: Child,
    pub lines: Receiver<String>,
}

impl Lines {
    pub fn spawn(mut cmd: Command) -> Self {
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("rollcall starts");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line, waiting (off the runtime) at most [`PATIENCE`].
    pub async fn next(&mut self) -> String {
        let rx = &self.lines;
        tokio::task::block_in_place(|| rx.recv_timeout(PATIENCE))
            .unwrap_or_else(|e| panic!("no line from rollcall in {PATIENCE:?}: {e:?}"))
    }

    /// SIGTERM, then the exit status and the rest of stdout.
    pub async fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(ok.success());
        let child = &mut self.child;
        let status = tokio::task::block_in_place(|| {
            let deadline = std::time::Instant::now() + PATIENCE;
            loop {
                if let Some(s) = child.try_wait().expect("try_wait") {
                    return s;
                }
                assert!(std::time::Instant::now() < deadline, "did not stop");
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let rest: Vec<String> = self.lines.try_iter().collect();
        (status, rest)
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a stub WeCom was asked: per path (`gettoken`, `meeting/…`), the bodies received.
#[derive(Clone, Default)]
pub struct Calls(Arc<Mutex<HashMap<String, Vec<Value>>>>);

impl Calls {
    pub fn count(&self, path: &str) -> usize {
        self.0.lock().unwrap().get(path).map_or(0, Vec::len)
    }
    pub fn bodies(&self, path: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }
}

/// The answer a stub gives: `(path, n-th call of that path from 0, body, access_token)`.
pub type Answer = dyn Fn(&str, usize, &Value, &str) -> Value + Send + Sync;

/// A stub WeCom on a random port: every `/cgi-bin/<path>` call is recorded and answered by
/// `answer`. Lives as long as the test's runtime.
pub async fn stub(answer: Arc<Answer>) -> (String, Calls) {
    use axum::extract::{RawQuery, State};
    use axum::http::Uri;

    let calls = Calls::default();
    let handler = |State((calls, answer)): State<(Calls, Arc<Answer>)>,
                   uri: Uri,
                   RawQuery(query): RawQuery,
                   body: axum::body::Bytes| async move {
        let path = uri
            .path()
            .strip_prefix("/cgi-bin/")
            .unwrap_or("")
            .to_owned();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let token = query
            .unwrap_or_default()
            .split('&')
            .find_map(|kv| kv.strip_prefix("access_token="))
            .unwrap_or("")
            .to_owned();
        let n = {
            let mut map = calls.0.lock().unwrap();
            let seen = map.entry(path.clone()).or_default();
            seen.push(body.clone());
            seen.len() - 1
        };
        axum::Json(answer(&path, n, &body, &token))
    };
    let app = axum::Router::new()
        .fallback(handler)
        .with_state((calls.clone(), answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), calls)
}

/// `gettoken`'s success body.
pub fn token_reply(token: &str, expires_in: u64) -> Value {
    json!({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": expires_in})
}

/// A WeCom error body.
pub fn error_reply(code: i32, text: &str) -> Value {
    json!({"errcode": code, "errmsg": format!("{text}, hint: [1760000000_abcdef]")})
}

/// Whether the test runs in CI, where a missing tool is a failure rather than a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Print loudly that a test skipped, or fail in CI. Written straight to the process's
/// stderr: `eprintln!` would be captured, and hidden, for a passing test.
pub fn skip_or_fail(test: &str, why: &str) {
    use std::io::Write;
    assert!(
        !in_ci(),
        "{test}: {why}, and CI=true: .ci/run must install it"
    );
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {test}: {why} ***\n");
}
