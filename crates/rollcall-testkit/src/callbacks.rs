//! A callback receiver for tests (SPEC §11): a real axum app on 127.0.0.1 that answers
//! WeCom's URL verification and verifies and decrypts each POST with
//! `rollcall_client::callback::CallbackReceiver` (rollcall's own verifier), answering as the
//! test planned. Shared by the server's API suite and the binary's `kill -9` test.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use rollcall_client::callback::{CallbackQuery, CallbackReceiver, Event, MeetingEvent};

/// How the receiver answers the next POST.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// Never answer in time (sleeps past WeCom's 5 s).
    Hang,
}

/// One callback the receiver verified and decrypted.
#[derive(Debug, Clone)]
pub struct Got {
    pub event: MeetingEvent,
    pub query: String,
    pub body: String,
}

#[derive(Default)]
struct Inner {
    got: Vec<Got>,
    plan: VecDeque<Reply>,
}

/// A receiver on 127.0.0.1:0 at `/cb`: URL verification and events through the client
/// crate's `CallbackReceiver`; answers each POST as planned (200 once the plan is empty).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// A receiver for the app whose callback settings are `token` and `key`, in `corpid`.
    pub async fn start(token: &str, key: &str, corpid: &str) -> Self {
        type S = (Arc<CallbackReceiver>, Arc<Mutex<Inner>>);
        async fn verify(
            State((rx, _)): State<S>,
            Query(q): Query<CallbackQuery>,
        ) -> Result<String, StatusCode> {
            rx.verify_url(&q).map_err(|_| StatusCode::FORBIDDEN)
        }
        async fn event(
            State((rx, inner)): State<S>,
            RawQuery(raw): RawQuery,
            body: String,
        ) -> StatusCode {
            let raw = raw.unwrap_or_default();
            let Ok(q) = CallbackQuery::from_query_str(&raw) else {
                return StatusCode::BAD_REQUEST;
            };
            let reply = {
                let mut inner = inner.lock().unwrap();
                match rx.receive(&q, &body) {
                    Ok(got) => {
                        let Event::Meeting(event) = got.event else {
                            panic!("a meeting event: {}", got.xml)
                        };
                        inner.got.push(Got {
                            event,
                            query: raw,
                            body,
                        });
                    }
                    Err(_) => return StatusCode::FORBIDDEN,
                }
                inner.plan.pop_front().unwrap_or(Reply::Status(200))
            };
            match reply {
                Reply::Status(s) => StatusCode::from_u16(s).unwrap(),
                Reply::Hang => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    StatusCode::OK
                }
            }
        }
        let rx = Arc::new(CallbackReceiver::new(token, key, corpid).expect("callback settings"));
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/cb", get(verify).post(event))
            .with_state((rx, inner.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cb", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inner }
    }

    /// Answer the next POSTs so, in order.
    pub fn plan(&self, replies: &[Reply]) {
        self.inner
            .lock()
            .unwrap()
            .plan
            .extend(replies.iter().copied());
    }

    pub fn got(&self) -> Vec<Got> {
        self.inner.lock().unwrap().got.clone()
    }

    /// `(meetingid, change_type)` of everything received, in arrival order.
    pub fn seen(&self) -> Vec<(String, String)> {
        self.got()
            .iter()
            .map(|g| (g.event.meeting_id.clone(), g.event.change_type.to_string()))
            .collect()
    }

    /// Wait until `n` callbacks arrived (at most ~60 s: the longest retry schedule is 7 s,
    /// a lease 10 s; generous for shared CI machines).
    pub async fn wait_for(&self, n: usize) -> Vec<Got> {
        for _ in 0..2400 {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{n} callbacks did not arrive: {:?}", self.seen());
    }
}
