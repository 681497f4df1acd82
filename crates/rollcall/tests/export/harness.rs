//! The harness: a rollcall server in-process (the test kit's [`TestApp`], seeded with this
//! suite's corp), a stub WeCom, and the built `rollcall` binary.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rollcall_testkit::fixtures::{AppSpec, Directory};
use rollcall_testkit::{MainApp, TestApp};
use serde_json::{json, Value};

pub use rollcall_testkit::events::{external, join_on as join, member, quit};
pub use rollcall_testkit::NOW;

pub const CORP: &str = "wwexportcorp0001";
/// The app: meeting API on, sees department 2 (and its sub-department 3) and carol.
pub const AGENT: u32 = 1_000_002;
pub const SECRET: &str = "secret-export-app";
pub const INGEST_KEY: &str = "export-ingest-key";
pub const ADMIN_KEY: &str = "export-admin-key";

/// How long a test waits for something that should happen in milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running server (stopped when dropped), with this suite's seeding helpers.
pub struct Server(TestApp);

impl Deref for Server {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.0
    }
}

/// A fresh server with the fixture corp; tokens live `token_ttl_secs`.
pub async fn spawn_server(token_ttl_secs: i64) -> Server {
    let main = MainApp {
        corpid: CORP.to_owned(),
        agentid: AGENT,
        secret: SECRET.to_owned(),
    };
    let app = TestApp::builder()
        .token_ttl_secs(token_ttl_secs)
        .ingest_key(Some(INGEST_KEY))
        .admin_key(Some(ADMIN_KEY))
        .seed(fixture_corp(), main)
        .spawn()
        .await;
    Server(app)
}

/// ```text
/// 1 HQ (alice) ── 2 R&D (zhangsan) ── 3 Platform (bob)
///              └─ 4 Sales (carol)
/// ```
/// The app sees R&D and Platform, plus carol by name; alice is outside its range.
fn fixture_corp() -> Directory {
    Directory::new(CORP, "Export Corp")
        .department(1, "HQ", 0)
        .department(2, "R&D", 1)
        .department(3, "Platform", 2)
        .department(4, "Sales", 1)
        .user("alice", "Alice", &[1])
        .user("zhangsan", "张三", &[2])
        .user("bob", "Bob", &[3])
        .user("carol", "Carol", &[4])
        .app(
            AppSpec::new(AGENT, "Attendance", SECRET)
                .meeting_api()
                .sees_departments(&[2])
                .sees_users(&["carol"]),
        )
}

impl Server {
    /// A one-off meeting of the app that started an hour before `NOW`.
    pub async fn meeting(&self) -> String {
        self.create_meeting(
            json!({"corpid": CORP, "agentid": AGENT, "meeting_type": 0, "title": "Weekly sync",
                   "meeting_start": NOW - 3600, "meeting_duration": 7200}),
        )
        .await
        .meetingid
    }

    /// Ingest events; insists every one was accepted.
    pub async fn ingest(&self, events: Value) {
        self.0.ingest_ok(events).await;
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
        // The child has exited, but the reader thread may not have read its last lines yet:
        // drain until it reaches the end of the pipe (the sender is dropped then).
        let rx = &self.lines;
        let rest: Vec<String> = tokio::task::block_in_place(|| {
            let mut rest = Vec::new();
            loop {
                match rx.recv_timeout(PATIENCE) {
                    Ok(line) => rest.push(line),
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return rest,
                    Err(e) => panic!("stdout not closed in {PATIENCE:?}: {e:?}"),
                }
            }
        });
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
