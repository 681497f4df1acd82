//! Controls that see every request the same way (DESIGN.md, "Where the next capabilities
//! fit"): their state lives here, in [`Controls`] on the `AppState`; handlers stay unaware.
//!
//! # Layout
//! - [`rate_limit`]: per app per call token buckets (SPEC §7), 45009 when empty.
//! - [`metrics`]: the Prometheus registry behind `GET /metrics` and its middleware.

use std::sync::Arc;

use rollcall_core::clock::Clock;
use rollcall_core::model::AppRef;

pub mod metrics;
pub mod rate_limit;

pub use rate_limit::{CallName, RateLimiter, RateLimits};

/// The controls' state, one per server (per node: nothing here is in the store).
#[derive(Debug)]
pub struct Controls {
    /// Per app per call buckets.
    pub rate_limits: RateLimiter,
    /// What `GET /metrics` shows.
    pub metrics: metrics::Metrics,
}

impl Controls {
    /// Default limits, refilling by the server's `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
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

    /// Back to the start-up state (`POST /admin/v1/reset`): every bucket full, the
    /// start-up limits in force.
    pub fn reset(&self) {
        self.rate_limits.reset();
    }
}
