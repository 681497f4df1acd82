//! Rate limits (SPEC §7): a token bucket per app per call, answering 45009 when empty.
//!
//! The buckets are [`governor`]'s GCRA limiters (a token bucket in constant space per key)
//! over [`ServerClock`], an adapter that reads the server's [`Clock`] — so on
//! `--clock virtual` a bucket refills only when the virtual clock is moved, and a test can
//! exhaust one, advance the clock and be served again. The server's clock counts whole
//! seconds, so buckets refill in one-second steps (100 calls a second at 6000 a minute).
//!
//! A bucket holds a minute's worth of calls (`per_minute`) and refills continuously at that
//! rate. Limits are per node, in memory: two nodes sharing one PostgreSQL database each
//! allow the full rate (a shared bucket would cost a store round trip on every call).
//!
//! Memory is bounded: buckets exist only for known calls ([`CALLS`]) and are keyed by
//! apps that passed authentication (a valid token, or `gettoken`'s correct secret), so
//! the key space is the directory's apps times seven calls.
//!
//! # Layout
//! - [`CALLS`], [`CallName`]: the calls that are limited, and a name checked against them.
//! - [`RateLimits`]: the setting (config file, `PUT /admin/v1/rate_limits`).
//! - [`RateLimiter`]: the buckets; `check`, `configure` (start-up), `set` (run time),
//!   `reset` (back to the start-up setting, every bucket full).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::Quota;
use serde::{Deserialize, Serialize};

use rollcall_core::clock::Clock;
use rollcall_core::model::AppRef;

/// The `/cgi-bin/` calls that have buckets, by their path without the prefix (one list,
/// [`super::CGI_CALLS`]).
pub const CALLS: &[&str] = &super::CGI_CALLS;

/// The default of `per_minute`: generous, so that no ordinary test or client meets it.
pub const DEFAULT_PER_MINUTE: NonZeroU32 = NonZeroU32::new(6000).unwrap();

/// One of [`CALLS`]; anything else is refused where it is written (config file or body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct CallName(&'static str);

/// By hand: a derived `try_from = "String"` on a `&'static str` newtype trips serde's
/// lifetime inference inside the map of [`RateLimits`].
impl<'de> Deserialize<'de> for CallName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CallName::try_from(s).map_err(serde::de::Error::custom)
    }
}

impl CallName {
    /// The call named `path` (without `/cgi-bin/`), if it is one of [`CALLS`].
    pub fn new(path: &str) -> Option<Self> {
        CALLS.iter().find(|c| **c == path).map(|c| CallName(c))
    }
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl TryFrom<String> for CallName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        CallName::new(&s).ok_or_else(|| {
            format!(
                "unknown call {s:?} in rate_limits.calls; known calls: {}",
                CALLS.join(", ")
            )
        })
    }
}

impl From<CallName> for String {
    fn from(c: CallName) -> String {
        c.0.to_owned()
    }
}

impl fmt::Display for CallName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Calls a minute per app per call, with per-call overrides. The same shape in the config
/// file (`[rate_limits]`, `[rate_limits.calls]`) and in the admin API's JSON. Zero,
/// negative and unknown calls are refused by the types (`NonZeroU32`, [`CallName`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Every call's limit unless `calls` says otherwise (default 6000).
    #[serde(default = "default_per_minute")]
    pub per_minute: NonZeroU32,
    /// Per-call overrides.
    #[serde(default)]
    pub calls: BTreeMap<CallName, NonZeroU32>,
}

fn default_per_minute() -> NonZeroU32 {
    DEFAULT_PER_MINUTE
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_minute: DEFAULT_PER_MINUTE,
            calls: BTreeMap::new(),
        }
    }
}

impl RateLimits {
    /// As good as no limit (4 294 967 295 calls a minute): for benchmarks.
    pub fn unlimited() -> Self {
        Self {
            per_minute: NonZeroU32::MAX,
            calls: BTreeMap::new(),
        }
    }

    /// The limit of `call`, calls a minute.
    pub fn limit_of(&self, call: CallName) -> NonZeroU32 {
        self.calls.get(&call).copied().unwrap_or(self.per_minute)
    }
}

/// [`governor`]'s view of the server's clock: the server's unix seconds as a `Duration`
/// since the epoch (governor implements its `Reference` for `Duration`, saturating, so a
/// virtual clock set backwards refills nothing rather than panicking).
#[derive(Debug, Clone)]
pub struct ServerClock(Arc<dyn Clock>);

impl GovernorClock for ServerClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        Duration::from_secs(self.0.now().max(0) as u64)
    }
}

type Bucket =
    governor::RateLimiter<AppRef, HashMapStateStore<AppRef>, ServerClock, NoOpMiddleware<Duration>>;

/// The buckets of every known call, under the limits in force.
pub struct RateLimiter {
    clock: ServerClock,
    state: RwLock<Limits>,
}

struct Limits {
    /// The start-up setting, which [`RateLimiter::reset`] goes back to.
    configured: RateLimits,
    current: RateLimits,
    /// One keyed limiter per call (governor's quota is per limiter, and calls differ).
    buckets: HashMap<CallName, Arc<Bucket>>,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &self.get())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// Buckets under the default limits, refilling by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let clock = ServerClock(clock);
        let limits = RateLimits::default();
        let buckets = Self::buckets_for(&clock, &limits, None);
        Self {
            clock,
            state: RwLock::new(Limits {
                configured: limits.clone(),
                current: limits,
                buckets,
            }),
        }
    }

    /// A bucket for each call: the old one where the call's limit did not change (it keeps
    /// its level), a full new one where it did.
    fn buckets_for(
        clock: &ServerClock,
        limits: &RateLimits,
        old: Option<(&RateLimits, &HashMap<CallName, Arc<Bucket>>)>,
    ) -> HashMap<CallName, Arc<Bucket>> {
        CALLS
            .iter()
            .filter_map(|c| CallName::new(c))
            .map(|call| {
                let n = limits.limit_of(call);
                let kept = old.and_then(|(was, buckets)| {
                    (was.limit_of(call) == n)
                        .then(|| buckets.get(&call).cloned())
                        .flatten()
                });
                let bucket = kept.unwrap_or_else(|| {
                    Arc::new(Bucket::hashmap_with_clock(
                        Quota::per_minute(n),
                        clock.clone(),
                    ))
                });
                (call, bucket)
            })
            .collect()
    }

    /// Take one call of `call` (a path without `/cgi-bin/`) for `app`: `false` when its
    /// bucket is empty (answer 45009). Calls without a bucket are never limited.
    pub fn check(&self, app: &AppRef, call: &str) -> bool {
        let Some(call) = CallName::new(call) else {
            return true;
        };
        let bucket = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            state.buckets.get(&call).cloned()
        };
        bucket.is_none_or(|b| b.check_key(app).is_ok())
    }

    /// The limits in force.
    pub fn get(&self) -> RateLimits {
        self.state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .current
            .clone()
    }

    /// Change the limits at run time. Calls whose limit changed start with a full bucket;
    /// the others keep their level.
    pub fn set(&self, limits: RateLimits) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let buckets =
            Self::buckets_for(&self.clock, &limits, Some((&state.current, &state.buckets)));
        state.buckets = buckets;
        state.current = limits;
    }

    /// Set the start-up limits (the config file's): in force now and after every reset.
    pub fn configure(&self, limits: RateLimits) {
        self.state
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .configured = limits;
        self.reset();
    }

    /// Back to the start-up limits with every bucket full (`POST /admin/v1/reset`).
    pub fn reset(&self) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let limits = state.configured.clone();
        state.buckets = Self::buckets_for(&self.clock, &limits, None);
        state.current = limits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_core::clock::VirtualClock;

    fn app(agentid: u32) -> AppRef {
        AppRef {
            corpid: "ww1".into(),
            agentid,
        }
    }

    fn limiter(per_minute: u32, clock: &VirtualClock) -> RateLimiter {
        let l = RateLimiter::new(Arc::new(clock.clone()));
        l.configure(RateLimits {
            per_minute: NonZeroU32::new(per_minute).unwrap(),
            calls: BTreeMap::new(),
        });
        l
    }

    #[test]
    fn a_bucket_holds_a_minute_and_refills_by_the_clock() {
        let clock = VirtualClock::new(1_000);
        let l = limiter(60, &clock);
        let call = "meeting/get_info";
        assert_eq!((0..60).filter(|_| l.check(&app(1), call)).count(), 60);
        assert!(!l.check(&app(1), call));
        assert!(l.check(&app(2), call), "another app has its own bucket");
        assert!(
            l.check(&app(1), "gettoken"),
            "another call has its own bucket"
        );
        clock.advance(1);
        assert!(l.check(&app(1), call), "one call a second comes back");
        assert!(!l.check(&app(1), call));
        clock.advance(60);
        assert_eq!((0..100).filter(|_| l.check(&app(1), call)).count(), 60);
    }

    #[test]
    fn unknown_calls_are_not_limited() {
        let clock = VirtualClock::new(1_000);
        let l = limiter(1, &clock);
        assert!((0..10).all(|_| l.check(&app(1), "meeting/nope")));
    }

    #[test]
    fn set_changes_only_the_calls_it_changes_and_reset_goes_back() {
        let clock = VirtualClock::new(1_000);
        let l = limiter(2, &clock);
        for c in ["meeting/get_info", "meeting/create"] {
            assert!(l.check(&app(1), c) && l.check(&app(1), c) && !l.check(&app(1), c));
        }
        let mut limits = l.get();
        limits.calls.insert(
            CallName::new("meeting/get_info").unwrap(),
            NonZeroU32::new(5).unwrap(),
        );
        l.set(limits.clone());
        assert_eq!(l.get(), limits);
        assert_eq!(
            (0..9)
                .filter(|_| l.check(&app(1), "meeting/get_info"))
                .count(),
            5
        );
        assert!(
            !l.check(&app(1), "meeting/create"),
            "unchanged: still empty"
        );
        l.reset();
        assert_eq!(l.get().calls.len(), 0);
        assert!(
            l.check(&app(1), "meeting/create"),
            "reset fills every bucket"
        );
    }

    #[test]
    fn the_setting_refuses_zero_negative_and_unknown_calls() {
        let ok: RateLimits =
            serde_json::from_str(r#"{"per_minute": 10, "calls": {"gettoken": 3}}"#).unwrap();
        assert_eq!(ok.limit_of(CallName::new("gettoken").unwrap()).get(), 3);
        assert_eq!(
            serde_json::from_str::<RateLimits>("{}").unwrap(),
            RateLimits::default()
        );
        for bad in [
            r#"{"per_minute": 0}"#,
            r#"{"per_minute": -5}"#,
            r#"{"per_minute": 1.5}"#,
            r#"{"calls": {"meeting/nope": 3}}"#,
            r#"{"calls": {"gettoken": 0}}"#,
            r#"{"per_minut": 3}"#,
        ] {
            assert!(serde_json::from_str::<RateLimits>(bad).is_err(), "{bad}");
        }
    }
}
