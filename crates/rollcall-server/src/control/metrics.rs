//! `GET /metrics` (SPEC §7): counters and histograms in a [`prometheus_client`] registry,
//! encoded by its text encoder (OpenMetrics text, which Prometheus scrapes natively).
//!
//! Labels are bounded: a route is axum's route template (`/cgi-bin/meeting/get_info`, never
//! a path with ids; unrouted paths are `unmatched`), an errcode comes from the `Error-Code`
//! header the envelope sets (`none` off `/cgi-bin`), a call is one of the known calls.
//! Nothing from a query, a body or a token becomes a label.
//!
//! Store errors are counted where a [`StoreError`](rollcall_store::StoreError) becomes a
//! wire error (`crate::error`), through a task-local the [`track`] middleware scopes around
//! each request, so each server counts its own even when several share a process (tests).
//!
//! # Layout
//! - [`Metrics`]: the registry and its families; `ingested`, `rate_limited`,
//!   `fault_injected`, `dedupe_pruned` for the code that sees those events.
//! - [`track`]: the middleware counting requests and their latency.
//! - [`note_store_error`]: called by the error conversions.

use std::cell::Cell;
use std::fmt;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::control::rate_limit::CallName;
use crate::state::AppState;

/// The exposition's media type (OpenMetrics text 1.0.0, what the encoder writes).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
    errcode: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    call: &'static str,
}

/// Latency buckets: 100 µs to ~3.3 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    ingest: Family<OutcomeLabels, Counter>,
    store_errors: Counter,
    rate_limited: Family<CallLabels, Counter>,
    faults: Family<CallLabels, Counter>,
    dedupe_pruned: Counter,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rollcall");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by route template, HTTP status and WeCom errcode",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route template",
            latency.clone(),
        );
        let ingest = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "ingest_events",
            "Ingested events by outcome (accepted, duplicate, rejected)",
            ingest.clone(),
        );
        let store_errors = Counter::default();
        registry.register(
            "store_errors",
            "Requests that failed because the store did",
            store_errors.clone(),
        );
        let rate_limited = Family::<CallLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Calls refused with 45009 by the rate limit, by call",
            rate_limited.clone(),
        );
        let faults = Family::<CallLabels, Counter>::default();
        registry.register(
            "faults_injected",
            "Faults injected by the emulator's fault rules, by call",
            faults.clone(),
        );
        let dedupe_pruned = Counter::default();
        registry.register(
            "dedupe_pruned",
            "Dedupe records (applied event ids) forgotten past the dedupe window, by this node",
            dedupe_pruned.clone(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Self {
            registry,
            requests,
            latency,
            ingest,
            store_errors,
            rate_limited,
            faults,
            dedupe_pruned,
        }
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// One ingest request's outcome counts.
    pub fn ingested(&self, accepted: usize, duplicates: usize, rejected: usize) {
        for (outcome, n) in [
            ("accepted", accepted),
            ("duplicate", duplicates),
            ("rejected", rejected),
        ] {
            if n > 0 {
                self.ingest
                    .get_or_create(&OutcomeLabels { outcome })
                    .inc_by(n as u64);
            }
        }
    }

    /// Dedupe records this node's pruner deleted.
    pub fn dedupe_pruned(&self, n: u64) {
        self.dedupe_pruned.inc_by(n);
    }

    /// A call refused with 45009.
    pub fn rate_limited(&self, call: CallName) {
        self.rate_limited
            .get_or_create(&CallLabels {
                call: call.as_str(),
            })
            .inc();
    }

    /// A fault rule applied to a call on `path` (a `/cgi-bin/` call without the prefix,
    /// `ingest/v1/events`; anything else counts as `other`). For the fault layer.
    pub fn fault_injected(&self, path: &str) {
        let call = match CallName::new(path) {
            Some(c) => c.as_str(),
            None if path == "ingest/v1/events" => "ingest/v1/events",
            None => "other",
        };
        self.faults.get_or_create(&CallLabels { call }).inc();
    }

    fn request(&self, route: String, status: u16, errcode: String, secs: f64, store: u64) {
        self.latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(secs);
        self.requests
            .get_or_create(&RequestLabels {
                route,
                status,
                errcode,
            })
            .inc();
        if store > 0 {
            self.store_errors.inc_by(store);
        }
    }
}

tokio::task_local! {
    /// Store errors met while answering the current request.
    static STORE_ERRORS: Cell<u64>;
}

/// Count a store error against the request being answered (if any is being tracked).
pub fn note_store_error() {
    let _ = STORE_ERRORS.try_with(|c| c.set(c.get() + 1));
}

/// The middleware: every request's route template, status, errcode and latency.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let (resp, store) = STORE_ERRORS
        .scope(Cell::new(0), async {
            let resp = next.run(req).await;
            (resp, STORE_ERRORS.with(Cell::get))
        })
        .await;
    let errcode = resp
        .headers()
        .get("Error-Code")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or_else(|| "none".to_owned(), |c| c.to_string());
    state.controls().metrics.request(
        route,
        resp.status().as_u16(),
        errcode,
        started.elapsed().as_secs_f64(),
        store,
    );
    resp
}
