//! Shared server state: the store, the server secret, the clock, the id generator, caches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rollcall_core::clock::Clock;
use rollcall_core::crypto::{token_hash, ServerSecret, TOKEN_LEN};
use rollcall_core::directory::CorpSpec;
use rollcall_core::ids::IdGen;
use rollcall_core::model::{App, AppRef, Corp, Meeting, TokenRecord};
use rollcall_core::recurrence::{self, TimeZone, TimeZoneError};
use rollcall_core::visibility::Visibility;
use rollcall_store::{Store, StoreError, StoreResult};

use crate::callback::Callbacks;
use crate::control::Controls;
use crate::ops::meeting::page_cache::PageCache;

/// What the operator configures about the server itself (the directory lives in the store).
/// The time zone of recurring meetings is set on the state, with [`AppState::set_time_zone`].
#[derive(Clone, Default)]
pub struct ServerConfig {
    /// Lifetime of an access token, seconds (WeCom: 7200).
    pub token_ttl_secs: i64,
    /// Bearer key of the ingest API; `None` turns the ingest API off (403).
    pub ingest_key: Option<String>,
    /// Bearer key of the admin API; `None` turns the admin API off (403).
    pub admin_key: Option<String>,
    /// How many recent requests the journal keeps (`None`: 1000; `Some(0)` turns it off).
    pub journal_size: Option<usize>,
    /// The HTTP layer's timeouts and connection cap.
    pub http: crate::HttpLimits,
    /// How long applied event ids are remembered, and how often older ones are pruned.
    pub dedupe: crate::DedupeWindow,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field(
                "ingest_key",
                &self.ingest_key.as_ref().map(|_| "<redacted>"),
            )
            .field("admin_key", &self.admin_key.as_ref().map(|_| "<redacted>"))
            .field("journal_size", &self.journal_size)
            .field("http", &self.http)
            .field("dedupe", &self.dedupe)
            .finish()
    }
}

/// A corp's directory with each app's visible range precomputed.
#[derive(Debug)]
pub struct CorpView {
    /// The corp as stored: departments, members, apps.
    pub directory: Corp,
    /// Each app's visible range, by agentid.
    pub visibility: HashMap<u32, Arc<Visibility>>,
}

impl CorpView {
    fn new(corp: Corp) -> Self {
        let visibility = corp
            .apps
            .iter()
            .map(|a| (a.agentid, Arc::new(Visibility::compute(&corp, a))))
            .collect();
        Self {
            directory: corp,
            visibility,
        }
    }

    pub fn app(&self, agentid: u32) -> Option<&App> {
        self.directory.apps.iter().find(|a| a.agentid == agentid)
    }

    /// The members app `agentid` may see (nobody, for an app the corp does not have).
    pub fn visibility_of(&self, agentid: u32) -> Arc<Visibility> {
        self.visibility.get(&agentid).cloned().unwrap_or_default()
    }
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    secret: ServerSecret,
    clock: Arc<dyn Clock>,
    ids: Arc<IdGen>,
    config: ServerConfig,
    /// Directories by corpid, valid for one `directory_version` of the store.
    directories: RwLock<DirectoryCache>,
    /// Meetings by meetingid (and ids known to be unknown), each trusted for [`CACHE_TTL`]:
    /// ingest's lookups (ingest binds events to any app's meeting).
    meetings: Mutex<HashMap<String, CachedMeeting>>,
    /// What the store told each app about a meetingid (its own meeting, or `None`: unknown
    /// *or another app's*), each trusted for [`CACHE_TTL`]; the meeting calls' lookups.
    /// Scoped by app so that nothing another app does (the owner reading its meeting)
    /// changes what an app's lookup costs: see [`AppState::app_meeting`].
    app_meetings: Mutex<HashMap<AppRef, HashMap<String, CachedMeeting>>>,
    /// Tokens seen recently, with the `directory_version` they were read under, so the hot
    /// path skips a store round trip. Tokens are immutable once issued (expiry is checked on
    /// every use); only a reset or restore removes them, and both bump that version.
    ///
    /// Keyed by the token string itself, so a hit costs no SHA-256 (two per request before,
    /// with the journal on): std's `HashMap` hashes with SipHash under keys drawn at random
    /// for the process, so an attacker cannot aim tokens at one bucket, and [`TokenKey`]
    /// compares in constant time. Only a token the store knows is ever kept.
    tokens: Mutex<HashMap<TokenKey, (u64, TokenRecord)>>,
    /// The time zone recurring meetings keep their wall-clock time in (and `repeat_until`
    /// dates are read in). Asia/Shanghai, WeCom's, unless set with
    /// [`AppState::set_time_zone`].
    time_zone: RwLock<TimeZone>,
    /// This node's controls: faults, the request journal, rate limits, metrics.
    controls: Arc<Controls>,
    /// The corps of the start-up configuration, applied again by a reset (SPEC §9) so the
    /// directory is the configured one again; set with [`AppState::set_startup_corps`].
    startup_corps: RwLock<Arc<Vec<CorpSpec>>>,
    /// The apps' callback targets and URL verifications (SPEC §11), this node's.
    callbacks: Callbacks,
    /// Session scans, rendered, under the store's change stamp (the page path's cache).
    pages: PageCache,
}

/// A token string as the token cache's key: a token is exactly [`TOKEN_LEN`] bytes (anything
/// else is refused before the cache), compared in constant time so that a lookup's duration
/// says nothing about how much of a guess matched a real token.
#[derive(Clone, Copy)]
struct TokenKey([u8; TOKEN_LEN]);

impl TokenKey {
    fn new(token: &str) -> Option<Self> {
        token.as_bytes().try_into().ok().map(Self)
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for TokenKey {}

impl std::hash::Hash for TokenKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h); // equal keys are equal bytes, as `eq` says
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)") // a live token: never printed
    }
}

/// A meeting (or `None`: no such meeting) and when the store said so.
type CachedMeeting = (Instant, Option<Arc<Meeting>>);

/// How many token records the token cache keeps before it starts over.
const TOKEN_CACHE_MAX: usize = 10_000;
/// How many meetings the meeting cache keeps (ingest's; and each app's) before it starts
/// over.
const MEETING_CACHE_MAX: usize = 10_000;

/// How long a node trusts directory and meeting data it cached before asking the store again.
/// Changes made through this node are seen at once (it invalidates its own cache); changes
/// made through another node sharing the store, within this long. Without it every request
/// paid two extra store round trips (measured with `rollcall-bench`).
pub const CACHE_TTL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct DirectoryCache {
    version: u64,
    /// When `version` was last read from the store; `None` forces a read.
    checked: Option<Instant>,
    corps: HashMap<String, Arc<CorpView>>,
}

impl AppState {
    /// Build the state, creating (or reading) the store's server secret.
    pub async fn new(
        store: Arc<dyn Store>,
        config: ServerConfig,
        clock: Arc<dyn Clock>,
        ids: Arc<IdGen>,
    ) -> StoreResult<Self> {
        let secret = ServerSecret::new(store.server_secret(ids.bytes::<32>()).await?);
        ids.mark_start();
        let config = ServerConfig {
            token_ttl_secs: if config.token_ttl_secs > 0 {
                config.token_ttl_secs
            } else {
                7200
            },
            ..config
        };
        let journal_size = config
            .journal_size
            .unwrap_or(crate::control::DEFAULT_JOURNAL_SIZE);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                secret,
                clock: clock.clone(),
                ids,
                config,
                directories: RwLock::new(DirectoryCache::default()),
                meetings: Mutex::new(HashMap::new()),
                app_meetings: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
                time_zone: RwLock::new(recurrence::default_tz()),
                controls: Arc::new(Controls::new(journal_size, clock)),
                startup_corps: RwLock::new(Arc::new(Vec::new())),
                callbacks: Callbacks::new(),
                pages: PageCache::default(),
            }),
        })
    }

    /// Use the IANA time zone `name` (`"Asia/Shanghai"`, `"Europe/Berlin"`, `"UTC"`) for
    /// recurring meetings from now on. An unknown name changes nothing and says why, for
    /// start-up to report: call it right after [`AppState::new`] with the configured name.
    ///
    /// It is a setter rather than a [`ServerConfig`] field so that adding it left every
    /// existing `ServerConfig { .. }` literal compiling.
    pub fn set_time_zone(&self, name: &str) -> Result<(), TimeZoneError> {
        let tz = recurrence::time_zone(name)?;
        *self
            .inner
            .time_zone
            .write()
            .unwrap_or_else(|p| p.into_inner()) = tz;
        Ok(())
    }

    /// The time zone of recurring meetings.
    pub fn time_zone(&self) -> TimeZone {
        self.inner
            .time_zone
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn store(&self) -> &dyn Store {
        &*self.inner.store
    }
    /// The store as shared, for work that may outlive the request that starts it (a read
    /// several pages share: `ops::meeting::stamp_reads`).
    pub fn shared_store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }
    pub fn secret(&self) -> &ServerSecret {
        &self.inner.secret
    }
    /// This node's cache of rendered session scans (get_attendee_list).
    pub fn pages(&self) -> &PageCache {
        &self.inner.pages
    }
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }
    /// The virtual clock, when the server runs on one (`--clock virtual`).
    pub fn virtual_clock(&self) -> Option<&rollcall_core::clock::VirtualClock> {
        self.inner.clock.as_virtual()
    }
    pub fn ids(&self) -> &IdGen {
        &self.inner.ids
    }
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }
    /// This node's controls: faults, the request journal, rate limits, metrics. Public so
    /// start-up (and the benchmark) can set the rate limits.
    pub fn controls(&self) -> &Controls {
        &self.inner.controls
    }

    /// The apps' callback targets (SPEC §11).
    pub(crate) fn callbacks(&self) -> &Callbacks {
        &self.inner.callbacks
    }

    /// The store's `directory_version`, at most [`CACHE_TTL`] old. Every directory change,
    /// reset and snapshot restore bumps it, on whichever node made it; when it moves, this
    /// node forgets every directory, meeting and token it cached, since they may all have
    /// changed under it (a reset through another node removed the tokens this node still
    /// trusted).
    async fn directory_version(&self) -> StoreResult<u64> {
        {
            let cache = self
                .inner
                .directories
                .read()
                .unwrap_or_else(|p| p.into_inner());
            if cache.checked.is_some_and(|t| t.elapsed() < CACHE_TTL) {
                return Ok(cache.version);
            }
        }
        let version = self.store().directory_version().await?;
        let moved = {
            let mut cache = self
                .inner
                .directories
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let moved = cache.version != version;
            if moved || cache.checked.is_none() {
                cache.corps.clear();
                cache.version = version;
            }
            cache.checked = Some(Instant::now());
            moved
        };
        if moved {
            self.forget_meetings_and_tokens();
        }
        Ok(version)
    }

    /// The corp's directory, at most [`CACHE_TTL`] behind the store.
    pub(crate) async fn corp(&self, corpid: &str) -> StoreResult<Option<Arc<CorpView>>> {
        let version = self.directory_version().await?;
        {
            let cache = self
                .inner
                .directories
                .read()
                .unwrap_or_else(|p| p.into_inner());
            if cache.version == version {
                if let Some(v) = cache.corps.get(corpid) {
                    return Ok(Some(v.clone()));
                }
            }
        }
        let Some(corp) = self.store().corp(corpid).await? else {
            return Ok(None);
        };
        let view = Arc::new(CorpView::new(corp));
        let mut cache = self
            .inner
            .directories
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if cache.version == version {
            cache.corps.insert(corpid.to_owned(), view.clone());
        }
        Ok(Some(view))
    }

    /// Remember the start-up configuration's corps (the binary applies them at start-up), so
    /// that a reset applies them again.
    pub fn set_startup_corps(&self, corps: Vec<CorpSpec>) {
        *self
            .inner
            .startup_corps
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(corps);
    }

    /// The start-up configuration's corps.
    pub fn startup_corps(&self) -> Arc<Vec<CorpSpec>> {
        self.inner
            .startup_corps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Forget every cached directory, meeting and token: the store was reset or restored
    /// under them.
    pub(crate) fn invalidate_caches(&self) {
        self.invalidate_directories();
        self.forget_meetings_and_tokens();
    }

    fn forget_meetings_and_tokens(&self) {
        self.inner
            .meetings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.inner
            .app_meetings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Put the node's own run-time controls back at their start: the virtual clock at its
    /// start value, the seeded id sequence at its first value, no fault, an empty journal,
    /// the start-up rate limits with full buckets. The reset's one hook for every control
    /// kept in the node.
    pub(crate) fn reset_controls(&self) {
        if let Some(clock) = self.virtual_clock() {
            clock.reset();
        }
        self.inner.ids.reset();
        self.inner.controls.reset();
    }

    /// Forget cached directories (this node just changed one).
    pub(crate) fn invalidate_directories(&self) {
        let mut cache = self
            .inner
            .directories
            .write()
            .unwrap_or_else(|p| p.into_inner());
        cache.checked = None;
        cache.corps.clear();
    }

    /// A meeting by meetingid, whichever app owns it, at most [`CACHE_TTL`] behind the
    /// store: ingest's lookup. The meeting calls use [`AppState::app_meeting`].
    pub(crate) async fn meeting(&self, meetingid: &str) -> StoreResult<Option<Arc<Meeting>>> {
        if let Some(m) = fresh(
            &self
                .inner
                .meetings
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
            meetingid,
        ) {
            return Ok(m);
        }
        let m = self.store().meeting(meetingid).await?.map(Arc::new);
        remember(
            &mut self
                .inner
                .meetings
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
            meetingid,
            &m,
        );
        Ok(m)
    }

    /// The meeting `meetingid` if `app` owns it, at most [`CACHE_TTL`] behind the store;
    /// `None` for an unknown id and for another app's meeting alike.
    ///
    /// Both must also *cost* the same (issue 11.6): when the cache was keyed by meetingid
    /// alone, another app's meeting was often cached (its owner had read it) while a random
    /// unknown id always went to the store, and a found row was decoded before the owner was
    /// compared: byte-identical replies ~18 µs apart, an oracle for which ids exist. Now the
    /// cache is the app's own (what the store told *this* app) and the store is asked for the
    /// app's meeting ([`Store::owned_meeting`], one index probe that finds nothing for
    /// another app's row), so the two take the same path: a miss and one store call the first
    /// time, a hit for `CACHE_TTL` after, whatever other apps do.
    ///
    /// A cached `None` cannot hide a new meeting for long: ids are random (nobody asks for
    /// one before it exists), a create on this node drops the entry, a create on another
    /// node shows within `CACHE_TTL`, and a reset or restore anywhere clears the cache (the
    /// directory version moves).
    pub(crate) async fn app_meeting(
        &self,
        app: &AppRef,
        meetingid: &str,
    ) -> StoreResult<Option<Arc<Meeting>>> {
        {
            let cache = self
                .inner
                .app_meetings
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(m) = cache.get(app).and_then(|own| fresh(own, meetingid)) {
                return Ok(m);
            }
        }
        let m = self
            .store()
            .owned_meeting(app, meetingid)
            .await?
            .map(Arc::new);
        let mut cache = self
            .inner
            .app_meetings
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match cache.get_mut(app) {
            Some(own) => remember(own, meetingid, &m),
            None => {
                let mut own = HashMap::new();
                remember(&mut own, meetingid, &m);
                cache.insert(app.clone(), own);
            }
        }
        Ok(m)
    }

    /// Forget a cached meeting (this node just created or changed it), for ingest and every
    /// app (one that asked for the id before it was created cached `None`).
    pub(crate) fn invalidate_meeting(&self, meetingid: &str) {
        self.inner
            .meetings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(meetingid);
        for own in self
            .inner
            .app_meetings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values_mut()
        {
            own.remove(meetingid);
        }
    }

    /// The record of access token `token` (expired or not), from the cache or the store;
    /// `None` for a string that cannot be a token we issued, or one the store does not know.
    /// A cached record is trusted only while the store's `directory_version` is the one it
    /// was cached under: a reset or a restore (through any node) deletes or replaces tokens
    /// and bumps that version.
    pub(crate) async fn token(&self, token: &str) -> StoreResult<Option<TokenRecord>> {
        let Some(key) = TokenKey::new(token) else {
            return Ok(None);
        };
        let version = self.directory_version().await?;
        if let Some((at, t)) = self
            .inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if *at == version {
                return Ok(Some(t.clone()));
            }
        }
        // A miss: the store is keyed by the token's SHA-256, which also checks its shape.
        let Some(hash) = token_hash(token) else {
            return Ok(None);
        };
        let rec = self.store().token_by_hash(&hash).await?;
        if let Some(r) = &rec {
            let mut cache = self.inner.tokens.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= TOKEN_CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, (version, r.clone()));
        }
        Ok(rec)
    }

    /// Is the store reachable?
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.store().ping().await
    }
}

/// The cached answer for `meetingid`, if younger than [`CACHE_TTL`].
fn fresh(cache: &HashMap<String, CachedMeeting>, meetingid: &str) -> Option<Option<Arc<Meeting>>> {
    let (at, m) = cache.get(meetingid)?;
    (at.elapsed() < CACHE_TTL).then(|| m.clone())
}

/// Cache the store's answer for `meetingid`, starting over when the cache is full.
fn remember(cache: &mut HashMap<String, CachedMeeting>, meetingid: &str, m: &Option<Arc<Meeting>>) {
    if cache.len() >= MEETING_CACHE_MAX {
        cache.clear();
    }
    cache.insert(meetingid.to_owned(), (Instant::now(), m.clone()));
}
