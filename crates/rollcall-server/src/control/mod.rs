//! Controls that see every request the same way (DESIGN.md, "Where the next capabilities
//! fit"): injected faults and the request journal (SPEC §9), rate limits and metrics
//! (SPEC §7). Their state lives here, in [`Controls`] on the `AppState`; handlers never see
//! them.
//!
//! All are **per node** and in memory: a fault set through one node applies to the calls
//! that node serves, each node journals its own requests, and each node's buckets allow the
//! full rate (a shared bucket would cost a store round trip on every call).
//! [`Controls::reset`] brings them back to the start-up state (for `POST /admin/v1/reset`).
//!
//! Two middlewares, so that an injected WeCom error is rendered by the one envelope
//! (`crate::wecom`, with its request id, headers and log line) and the journal still sees
//! the final answer:
//! `observe` (outermost: resolves the calling app, decides the fault, sleeps its latency,
//! journals the outcome) → the envelope (cgi only) → `inject` (answers with the decided
//! fault instead of calling the handler). A dropped connection is a response marked
//! [`Dropped`], which `crate::serve` turns into a closed connection.
//! Latency uses tokio's timer, which follows real time, never the virtual clock.
//!
//! # Layout
//! - [`faults`]: the rule table and its matching.
//! - [`journal`]: the ring and body redaction.
//! - [`rate_limit`]: per app per call token buckets (SPEC §7), 45009 when empty.
//! - [`metrics`]: the Prometheus registry behind `GET /metrics` and its middleware.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use rollcall_core::clock::Clock;
use rollcall_core::crypto::sha256;
use rollcall_core::model::AppRef;

use crate::auth::first_query_value;
use crate::error::{ApiError, HttpError};
use crate::state::AppState;

pub mod faults;
pub mod journal;
pub mod metrics;
pub mod rate_limit;

pub use rate_limit::{CallName, RateLimiter, RateLimits};

use faults::{Action, FaultTable, Target};
use journal::{Entry, Journal};

/// The journal's size when nothing says otherwise.
pub const DEFAULT_JOURNAL_SIZE: usize = 1000;

/// The `/cgi-bin/` calls, by their path without the prefix: what rate limits have buckets
/// for, and (with ingest) what faults and the journal know.
pub const CGI_CALLS: [&str; 7] = [
    "gettoken",
    "meeting/get_attendee_list",
    "meeting/create",
    "meeting/get_info",
    "meeting/update",
    "meeting/cancel",
    "meeting/get_user_meetingid",
];

/// The calls faults and the journal know, by the name a fault's `path` uses: the
/// `/cgi-bin/` calls and ingest.
pub const CALLS: [&str; 8] = [
    CGI_CALLS[0],
    CGI_CALLS[1],
    CGI_CALLS[2],
    CGI_CALLS[3],
    CGI_CALLS[4],
    CGI_CALLS[5],
    CGI_CALLS[6],
    "ingest/v1/events",
];

/// The `path` of a fault rule that targets callback delivery (SPEC §11) instead of a call
/// the server answers: the rule stands in for the receiving app's answer. `*` does not
/// cover it (a rule failing every call must not silently fail callbacks too).
pub const CALLBACK_CALL: &str = "callback";

/// This node's controls.
#[derive(Debug)]
pub struct Controls {
    pub faults: FaultTable,
    pub journal: Journal,
    /// Per app per call buckets.
    pub rate_limits: RateLimiter,
    /// What `GET /metrics` shows.
    pub metrics: metrics::Metrics,
}

impl Controls {
    /// An empty fault table, a journal of `journal_size` entries, default limits refilling
    /// by the server's `clock`.
    pub fn new(journal_size: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            faults: FaultTable::default(),
            journal: Journal::new(journal_size),
            rate_limits: RateLimiter::new(clock),
            metrics: metrics::Metrics::new(),
        }
    }

    /// May `app` make `call` (a `/cgi-bin/` path without the prefix) now? Takes one call
    /// from its bucket; `false` means answer 45009.
    pub fn admit(&self, app: &AppRef, call: &str) -> bool {
        let admitted = self.rate_limits.check(app, call);
        if let (false, Some(call)) = (admitted, CallName::new(call)) {
            self.metrics.rate_limited(call);
        }
        admitted
    }

    /// Back to the start-up state (`POST /admin/v1/reset`): no fault, an empty journal,
    /// the start-up limits with every bucket full. Metrics are counters of the process and
    /// are kept, as Prometheus expects.
    pub fn reset(&self) {
        self.faults.clear();
        self.journal.clear();
        self.rate_limits.reset();
    }
}

/// The call name of a request path (`/cgi-bin/meeting/create` → `meeting/create`), or of a
/// name already (`meeting/create`); `None` for anything else.
pub fn call_name(path: &str) -> Option<&'static str> {
    let p = path.trim_start_matches('/');
    let p = p.strip_prefix("cgi-bin/").unwrap_or(p);
    CALLS.iter().copied().find(|c| *c == p)
}

/// Marks a response whose connection must be closed unanswered.
#[derive(Debug, Clone, Copy)]
pub struct Dropped;

/// The decided fault, handed from `observe` to `inject` in the request's extensions.
#[derive(Debug, Clone, Copy)]
struct Inject(Action);

/// The request id the envelope gave the request (in the response's extensions).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A uniform draw in [0, 1) from the server's seeded generator.
pub(crate) fn draw(state: &AppState) -> f64 {
    (u64::from_le_bytes(state.ids().bytes::<8>()) >> 11) as f64 / (1u64 << 53) as f64
}

/// The corp and app of a call, cheaply: gettoken's `corpid` (and the app whose secret it
/// gives, from the cached directory); other calls by the token's app, through the state's
/// token cache. Unknown → `None`; a failing store is not this layer's to report.
async fn caller(state: &AppState, call: &str, query: &str) -> (Option<String>, Option<u32>) {
    if call == "gettoken" {
        let Some(corpid) = first_query_value(query, "corpid") else {
            return (None, None);
        };
        let agentid = match first_query_value(query, "corpsecret") {
            Some(secret) => match state.corp(&corpid).await {
                Ok(Some(view)) => {
                    let hash = sha256(secret.as_bytes());
                    view.directory
                        .apps
                        .iter()
                        .find(|a| a.secret_hash == hash)
                        .map(|a| a.agentid)
                }
                _ => None,
            },
            None => None,
        };
        return (Some(corpid.into_owned()), agentid);
    }
    let Some(token) = first_query_value(query, "access_token") else {
        return (None, None);
    };
    match state.token(&token).await {
        Ok(Some(rec)) => (Some(rec.app.corpid), Some(rec.app.agentid)),
        _ => (None, None),
    }
}

/// Read the whole body (within the route's own limit) so it can be journaled, and hand the
/// handler the same bytes. A body over the limit is left to the handler to refuse.
async fn capture(req: Request, limit: usize) -> (Request, Option<Bytes>) {
    let declared: Option<u64> = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return (req, None);
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => (
            Request::from_parts(parts, Body::from(bytes.clone())),
            Some(bytes),
        ),
        // Over the limit or broken: the handler reads the same failure it would have.
        Err(e) => {
            let failed = futures::stream::iter([Err::<Bytes, _>(std::io::Error::other(e))]);
            (Request::from_parts(parts, Body::from_stream(failed)), None)
        }
    }
}

/// What the journal keeps of an ingest body, taken as the handler streams it: an ingest
/// body (up to 64 MiB) is never held whole, and the journal shows at most its first
/// [`journal::MAX_BODY`] bytes, so one more byte is all it needs to know it was longer.
#[derive(Debug, Clone, Default)]
struct Seen(Arc<std::sync::Mutex<Vec<u8>>>);

impl Seen {
    const KEEP: usize = journal::MAX_BODY + 1;

    fn tee(&self, req: Request) -> Request {
        use futures::StreamExt;
        let seen = self.0.clone();
        let (parts, body) = req.into_parts();
        let stream = body.into_data_stream().map(move |chunk| {
            if let Ok(bytes) = &chunk {
                let mut kept = seen.lock().unwrap_or_else(|p| p.into_inner());
                let room = Self::KEEP.saturating_sub(kept.len()).min(bytes.len());
                kept.extend_from_slice(&bytes[..room]);
            }
            chunk
        });
        Request::from_parts(parts, Body::from_stream(stream))
    }

    fn bytes(&self) -> Bytes {
        let kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Bytes::copy_from_slice(&kept)
    }
}

/// The outer middleware: decide the fault, delay, journal.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let controls = state.controls();
    let journal_on = controls.journal.enabled();
    if !journal_on && controls.faults.is_empty() {
        return next.run(req).await;
    }
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let call = call_name(&path).unwrap_or("");
    let query = req.uri().query().unwrap_or("").to_owned();
    let (corpid, agentid) = caller(&state, call, &query).await;
    let target = Target {
        call,
        corpid: corpid.as_deref(),
        agentid,
    };
    let applied = controls.faults.decide(&target, || draw(&state));
    let seen = Seen::default();
    let (mut req, body) = if journal_on && call == "ingest/v1/events" {
        (seen.tee(req), None)
    } else if journal_on {
        capture(req, crate::wecom::MAX_BODY).await
    } else {
        (req, None)
    };
    let method = req.method().to_string();
    if let Some(a) = &applied {
        if a.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(a.latency_ms)).await;
        }
        if let Some(action) = a.action {
            controls.metrics.fault_injected(call);
            req.extensions_mut().insert(Inject(action));
        }
    }
    let resp = next.run(req).await;
    let body = body.or_else(|| (call == "ingest/v1/events").then(|| seen.bytes()));
    if journal_on {
        let known: Vec<String> = ["access_token", "corpsecret"]
            .iter()
            .filter_map(|k| first_query_value(&query, k).map(Cow::into_owned))
            .collect();
        let dropped = resp.extensions().get::<Dropped>().is_some();
        controls.journal.record(Entry {
            id: 0,
            at_ms: state.now().saturating_mul(1000),
            method,
            path,
            corpid,
            agentid,
            status: (!dropped).then(|| resp.status().as_u16()),
            errcode: resp
                .headers()
                .get("Error-Code")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok()),
            latency_us: started.elapsed().as_micros() as u64,
            request_id: resp.extensions().get::<RequestId>().map(|r| r.0.clone()),
            fault: applied.map(|a| a.id),
            body: body.map_or(serde_json::Value::Null, |b| {
                journal::redact_body(&b, &known)
            }),
        });
    }
    resp
}

/// The inner middleware: answer with the decided fault instead of calling the handler.
pub async fn inject(req: Request, next: Next) -> Response {
    let Some(Inject(action)) = req.extensions().get::<Inject>().copied() else {
        return next.run(req).await;
    };
    let ingest = call_name(req.uri().path()) == Some("ingest/v1/events");
    match action {
        Action::Errcode(code) if ingest => HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("injected fault (errcode {code}): nothing was applied, retry later"),
        )
        .into_response(),
        Action::Errcode(code) => ApiError::Code(code).into_response(),
        Action::HttpStatus(s) => StatusCode::from_u16(s)
            .unwrap_or(StatusCode::BAD_GATEWAY)
            .into_response(),
        Action::Drop => {
            let mut r = StatusCode::BAD_GATEWAY.into_response();
            r.extensions_mut().insert(Dropped);
            r
        }
    }
}
