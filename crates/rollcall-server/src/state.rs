//! Shared server state: the store, the server secret, the clock, the id generator, caches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use rollcall_core::clock::Clock;
use rollcall_core::crypto::ServerSecret;
use rollcall_core::ids::IdGen;
use rollcall_core::model::{App, Corp, TokenRecord};
use rollcall_core::visibility::Visibility;
use rollcall_store::{Store, StoreError, StoreResult};

/// What the operator configures about the server itself (the directory lives in the store).
#[derive(Clone, Default)]
pub struct ServerConfig {
    /// Lifetime of an access token, seconds (WeCom: 7200).
    pub token_ttl_secs: i64,
    /// Bearer key of the ingest API; `None` turns the ingest API off (403).
    pub ingest_key: Option<String>,
    /// Bearer key of the admin API; `None` turns the admin API off (403).
    pub admin_key: Option<String>,
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
            .finish()
    }
}

/// A corp's directory with each app's visible range precomputed.
#[derive(Debug)]
pub struct CorpView {
    pub corp: Corp,
    pub visibility: HashMap<u32, Arc<Visibility>>,
}

impl CorpView {
    fn new(corp: Corp) -> Self {
        let visibility = corp
            .apps
            .iter()
            .map(|a| (a.agentid, Arc::new(Visibility::compute(&corp, a))))
            .collect();
        Self { corp, visibility }
    }

    pub fn app(&self, agentid: u32) -> Option<&App> {
        self.corp.apps.iter().find(|a| a.agentid == agentid)
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
    directories: RwLock<(u64, HashMap<String, Arc<CorpView>>)>,
    /// Tokens seen recently, so the hot path skips a store round trip. Tokens are immutable
    /// once issued (expiry is checked on every use), so a cached record cannot go stale.
    tokens: Mutex<HashMap<[u8; 32], TokenRecord>>,
}

/// How many token records the cache keeps before it starts over.
const TOKEN_CACHE_MAX: usize = 10_000;

impl AppState {
    /// Build the state, creating (or reading) the store's server secret.
    pub async fn new(
        store: Arc<dyn Store>,
        config: ServerConfig,
        clock: Arc<dyn Clock>,
        ids: Arc<IdGen>,
    ) -> StoreResult<Self> {
        let secret = ServerSecret::new(store.server_secret(ids.bytes::<32>()).await?);
        let config = ServerConfig {
            token_ttl_secs: if config.token_ttl_secs > 0 {
                config.token_ttl_secs
            } else {
                7200
            },
            ..config
        };
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                secret,
                clock,
                ids,
                config,
                directories: RwLock::new((u64::MAX, HashMap::new())),
                tokens: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn store(&self) -> &dyn Store {
        &*self.inner.store
    }
    pub fn secret(&self) -> &ServerSecret {
        &self.inner.secret
    }
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }
    pub fn ids(&self) -> &IdGen {
        &self.inner.ids
    }
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The corp's directory as of the store's current version.
    pub async fn corp(&self, corpid: &str) -> StoreResult<Option<Arc<CorpView>>> {
        let version = self.store().directory_version().await?;
        {
            let cache = self
                .inner
                .directories
                .read()
                .unwrap_or_else(|p| p.into_inner());
            if cache.0 == version {
                if let Some(v) = cache.1.get(corpid) {
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
        if cache.0 != version {
            *cache = (version, HashMap::new());
        }
        cache.1.insert(corpid.to_owned(), view.clone());
        Ok(Some(view))
    }

    /// A token record by hash, from the cache or the store.
    pub async fn token(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenRecord>> {
        if let Some(t) = self
            .inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(hash)
        {
            return Ok(Some(t.clone()));
        }
        let rec = self.store().token_by_hash(hash).await?;
        if let Some(r) = &rec {
            let mut cache = self.inner.tokens.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= TOKEN_CACHE_MAX {
                cache.clear();
            }
            cache.insert(*hash, r.clone());
        }
        Ok(rec)
    }

    /// Is the store reachable?
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.store().ping().await
    }
}
