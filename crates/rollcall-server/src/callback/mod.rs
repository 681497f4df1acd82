//! Callbacks to apps (SPEC §11), the part that stands before delivery: which apps of this
//! node have a callback target, and WeCom's URL verification of each.
//!
//! When a corp is applied (config file at start-up, `POST /admin/v1/corps` at run time),
//! [`Callbacks::configure`] records each app's validated settings and starts one
//! verification for every app that has a URL (`verify`): off the request path, in a
//! spawned task, at most [`MAX_CONCURRENT_CHECKS`] at once, each bounded by WeCom's 5 s.
//! The outcome is logged and shown by `GET /admin/v1/callbacks`; a failure never stops
//! the server or refuses the corp, as WeCom's console would only show it.
//!
//! `send` is one delivery attempt (`POST` with the envelope), for the delivery worker.
//!
//! The targets live in this node's memory, keyed by app. The stored `App` has no place for
//! them yet (apps are stored in columns, so that needs a migration in both backends; the
//! delivery worker will read them from the store once it does). Until then a target is
//! known to the node that applied it, which for the config file is every node.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rollcall_core::callback::AppCallback;
use rollcall_core::directory::CorpSpec;
use rollcall_core::model::AppRef;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::state::AppState;

pub mod send;
pub mod verify;

/// Verifications in flight at once (a corp with many apps must not open many sockets).
pub const MAX_CONCURRENT_CHECKS: usize = 8;

/// One app's callback target and its last verification, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetStatus {
    pub corpid: String,
    pub agentid: u32,
    pub url: String,
    /// The receiver answered the decrypted echostr.
    pub verified: bool,
    /// Why not: connect error, timeout, HTTP status, wrong body. `None` while pending or
    /// once verified.
    pub error: Option<String>,
    /// The server's clock when the last check finished; `None` while the first is pending.
    pub checked_at: Option<i64>,
}

#[derive(Debug)]
struct Target {
    callback: AppCallback,
    /// Bumped by every `configure` of the app, so a late result of an older check (an
    /// earlier URL) cannot overwrite the newer one's.
    generation: u64,
    status: TargetStatus,
}

/// This node's callback targets; one on [`AppState`].
#[derive(Debug)]
pub struct Callbacks {
    targets: RwLock<HashMap<AppRef, Target>>,
    generation: std::sync::atomic::AtomicU64,
    checks: Arc<Semaphore>,
    http: reqwest::Client,
}

impl Default for Callbacks {
    fn default() -> Self {
        Self::new()
    }
}

impl Callbacks {
    pub fn new() -> Self {
        Self {
            targets: RwLock::new(HashMap::new()),
            generation: std::sync::atomic::AtomicU64::new(0),
            checks: Arc::new(Semaphore::new(MAX_CONCURRENT_CHECKS)),
            http: verify::client(),
        }
    }

    /// Record the callback settings of `spec`'s apps (already validated by the directory
    /// merge) and verify each URL in the background. An app listed without settings has
    /// none any more (an app spec replaces the app as a whole).
    pub fn configure(&self, state: &AppState, spec: &CorpSpec) {
        for app in &spec.apps {
            let key = AppRef {
                corpid: spec.corpid.clone(),
                agentid: app.agentid,
            };
            let Ok(Some(callback)) = app.callback() else {
                self.write().remove(&key);
                continue;
            };
            let generation = self
                .generation
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let status = TargetStatus {
                corpid: key.corpid.clone(),
                agentid: key.agentid,
                url: callback.url.to_string(),
                verified: false,
                error: None,
                checked_at: None,
            };
            self.write().insert(
                key.clone(),
                Target {
                    callback: callback.clone(),
                    generation,
                    status,
                },
            );
            let state = state.clone();
            let permits = Arc::clone(&self.checks);
            let http = self.http.clone();
            tokio::spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                let outcome = verify::check(&http, &callback, &key.corpid, state.now()).await;
                verify::log(&key, &callback, &outcome);
                state
                    .callbacks()
                    .record(&key, generation, outcome, state.now());
            });
        }
    }

    fn record(&self, key: &AppRef, generation: u64, outcome: Result<(), String>, now: i64) {
        let mut targets = self.write();
        if let Some(t) = targets.get_mut(key).filter(|t| t.generation == generation) {
            t.status.verified = outcome.is_ok();
            t.status.error = outcome.err();
            t.status.checked_at = Some(now);
        }
    }

    /// Every target with its verification, by corpid then agentid.
    pub fn statuses(&self) -> Vec<TargetStatus> {
        let targets = self.targets.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<TargetStatus> = targets.values().map(|t| t.status.clone()).collect();
        all.sort_by(|a, b| (&a.corpid, a.agentid).cmp(&(&b.corpid, b.agentid)));
        all
    }

    /// The target of one app, for the delivery that will send to it.
    #[expect(
        dead_code,
        reason = "read by the delivery worker (issue 10, second half)"
    )]
    pub fn target(&self, app: &AppRef) -> Option<AppCallback> {
        let targets = self.targets.read().unwrap_or_else(|p| p.into_inner());
        targets.get(app).map(|t| t.callback.clone())
    }

    /// Forget every target (a reset empties the directory; the start-up corps bring theirs
    /// back).
    pub fn clear(&self) {
        self.write().clear();
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<AppRef, Target>> {
        self.targets.write().unwrap_or_else(|p| p.into_inner())
    }
}
