//! Callbacks to apps (SPEC §11), the part that stands before delivery: which apps have a
//! callback target, and WeCom's URL verification of each.
//!
//! The targets are part of the stored directory (`App::callback`, written by the corp's
//! merge), so every node sharing the store, a restart and a snapshot restore all see the
//! same ones: [`Callbacks::target`] reads the app through the node's directory cache, and
//! [`Callbacks::statuses`] lists [`Store::callback_targets`](rollcall_store::Store).
//!
//! A verification is an observation of *this* node (it made the request, from its network),
//! so its outcome is kept in the node's memory, keyed by app and by the settings it checked.
//! Verifications run, off the request path, in a spawned task, at most
//! [`MAX_CONCURRENT_CHECKS`] at once, each bounded by WeCom's 5 s:
//! - for every app of a corp applied through this node (config file at start-up,
//!   `POST /admin/v1/corps` at run time), as WeCom's console checks a URL when it is saved;
//! - when the node starts serving and after a snapshot restore, for every stored target this
//!   node has not checked with those settings yet ([`Callbacks::verify_stored`]).
//!
//! So node B lists a target set through node A at once, with `checked_at: null` (not checked
//! by B) until B checks it: at B's next start or restore, or when the corp is applied
//! through B. The outcome is logged and shown by `GET /admin/v1/callbacks`; a failure never
//! stops the server or refuses the corp, as WeCom's console would only show it.
//!
//! `send` is one delivery attempt (`POST` with the envelope); `deliver` the loop that sends
//! the store's outbox, woken by [`Callbacks::wake`] after a write that adds events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rollcall_core::callback::AppCallback;
use rollcall_core::model::{AppRef, Corp};
use rollcall_store::StoreResult;
use serde::Serialize;
use tokio::sync::{Notify, Semaphore};

use crate::state::AppState;

pub mod deliver;
pub mod send;
pub mod verify;

/// Verifications in flight at once (a corp with many apps must not open many sockets).
pub const MAX_CONCURRENT_CHECKS: usize = 8;

/// One app's callback target and this node's last verification of it, as the admin API
/// shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetStatus {
    pub corpid: String,
    pub agentid: u32,
    pub url: String,
    /// The receiver answered the decrypted echostr (to this node's check).
    pub verified: bool,
    /// Why not: connect error, timeout, HTTP status, wrong body. `None` while pending or
    /// once verified.
    pub error: Option<String>,
    /// The server's clock when this node's last check of these settings finished; `None`
    /// while it is pending or this node has not checked them.
    pub checked_at: Option<i64>,
}

/// This node's check of one app's settings.
#[derive(Debug)]
struct Check {
    /// The settings checked: a result says nothing about other ones (a new URL, token or
    /// key, set here or through another node).
    callback: AppCallback,
    /// Unique per check started, so a late result of an older check cannot overwrite the
    /// newer one's.
    generation: u64,
    outcome: Option<(Result<(), String>, i64)>,
}

/// This node's verifications of the stored targets; one on [`AppState`].
#[derive(Debug)]
pub struct Callbacks {
    checks: RwLock<HashMap<AppRef, Check>>,
    generation: AtomicU64,
    permits: Arc<Semaphore>,
    http: reqwest::Client,
    /// Wakes this node's delivery loop: events were written (or one finished).
    wake: Notify,
}

impl Default for Callbacks {
    fn default() -> Self {
        Self::new()
    }
}

impl Callbacks {
    pub fn new() -> Self {
        Self {
            checks: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_CHECKS)),
            http: verify::client(),
            wake: Notify::new(),
        }
    }

    /// Verify the targets of `apps` (the agentids a spec listed) as `corp` now stores them,
    /// each anew, as WeCom does when settings are saved. An app without a target any more
    /// loses its check.
    pub fn configure(&self, state: &AppState, corp: &Corp, apps: impl IntoIterator<Item = u32>) {
        for agentid in apps {
            let key = AppRef {
                corpid: corp.corpid.clone(),
                agentid,
            };
            match corp
                .apps
                .iter()
                .find(|a| a.agentid == agentid)
                .and_then(|a| a.callback.clone())
            {
                Some(callback) => self.start(state, key, callback),
                None => {
                    self.write().remove(&key);
                }
            }
        }
    }

    /// Verify every stored target this node has not checked (or is not checking) with its
    /// current settings: at start-up and after a restore. Errors of the store are logged,
    /// not returned: verification never holds the server up.
    pub fn verify_stored(&self, state: &AppState) {
        let state = state.clone();
        tokio::spawn(async move {
            let targets = match state.store().callback_targets().await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "could not list the callback targets to verify");
                    return;
                }
            };
            let callbacks = state.callbacks();
            for (key, callback) in targets {
                let known = callbacks
                    .checks
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&key)
                    .is_some_and(|c| c.callback == callback);
                if !known {
                    callbacks.start(&state, key, callback);
                }
            }
        });
    }

    /// Record a pending check of `callback` for `key` and run it in the background.
    fn start(&self, state: &AppState, key: AppRef, callback: AppCallback) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        self.write().insert(
            key.clone(),
            Check {
                callback: callback.clone(),
                generation,
                outcome: None,
            },
        );
        let state = state.clone();
        let permits = Arc::clone(&self.permits);
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

    fn record(&self, key: &AppRef, generation: u64, outcome: Result<(), String>, now: i64) {
        let mut checks = self.write();
        if let Some(c) = checks.get_mut(key).filter(|c| c.generation == generation) {
            c.outcome = Some((outcome, now));
        }
    }

    /// Every stored target (on every node the same list) with this node's verification of
    /// its current settings, by corpid then agentid.
    pub async fn statuses(&self, state: &AppState) -> StoreResult<Vec<TargetStatus>> {
        let targets = state.store().callback_targets().await?;
        let checks = self.checks.read().unwrap_or_else(|p| p.into_inner());
        Ok(targets
            .into_iter()
            .map(|(app, callback)| {
                let outcome = checks
                    .get(&app)
                    .filter(|c| c.callback == callback)
                    .and_then(|c| c.outcome.clone());
                let (verified, error, checked_at) = match outcome {
                    Some((Ok(()), at)) => (true, None, Some(at)),
                    Some((Err(why), at)) => (false, Some(why), Some(at)),
                    None => (false, None, None),
                };
                TargetStatus {
                    corpid: app.corpid,
                    agentid: app.agentid,
                    url: callback.url.to_string(),
                    verified,
                    error,
                    checked_at,
                }
            })
            .collect())
    }

    /// The stored target of one app (through the node's directory cache, so at most
    /// [`crate::state::CACHE_TTL`] behind a change made through another node), for the
    /// delivery that will send to it.
    pub async fn target(state: &AppState, app: &AppRef) -> StoreResult<Option<AppCallback>> {
        Ok(state.corp(&app.corpid).await?.and_then(|view| {
            view.directory
                .apps
                .iter()
                .find(|a| a.agentid == app.agentid)
                .and_then(|a| a.callback.clone())
        }))
    }

    /// Tell this node's delivery loop that events may be due (after a write that added
    /// some): it claims at once instead of at its next poll. Cheap, never blocks; a wake
    /// while the loop is busy is kept for its next wait.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves at the next [`Callbacks::wake`] (or at once for one that came meanwhile).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Forget every check (a reset empties the directory; the start-up corps bring their
    /// targets back, and are checked again).
    pub fn clear(&self) {
        self.write().clear();
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<AppRef, Check>> {
        self.checks.write().unwrap_or_else(|p| p.into_inner())
    }
}
