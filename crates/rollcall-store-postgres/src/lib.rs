//! The PostgreSQL rollcall store: one database shared by any number of stateless nodes.
//!
//! `rollcall serve --database postgres://…` uses this backend when one machine is not enough:
//! every node keeps nothing of its own, so a load balancer may send any request to any node.
//! Everything nodes must agree on lives in the database and is decided there atomically — the
//! server secret (kept from the first node that offers one), the valid access token of each
//! app, ingest de-duplication, and the per-meeting `seq` that cursors snapshot. It passes the
//! same contract suite ([`rollcall_store::suite`]) as the embedded SQLite store, with the same
//! outcomes for the same calls.
//!
//! Connections come from a bounded pool (`deadpool-postgres` over `tokio-postgres`, no TLS),
//! statements are prepared once per connection and cached, and every call is bounded in time:
//! while the database is unreachable each call fails with [`StoreError::Unavailable`] within
//! the pool's wait and connect timeouts (a refused connection fails at once), a call stuck on
//! a silent network path gives up after the call timeout and discards its connection, and
//! the pool reconnects by itself when the database returns. The schema is migrated at
//! start-up, under an advisory lock, so nodes may start together.
//!
//! # Layout
//! - [`PgStore`], [`PgOptions`]: connecting, the pool, the time bounds, and the [`Store`]
//!   implementation (thin wrappers).
//! - `schema`: the versioned migrations and why the tables look the way they do.
//! - `directory`: the server secret, corps and access tokens.
//! - `meetings`: meetings, sub-meetings, updates and cancellation, a member's meetings, and
//!   per-sub-meeting presence.
//! - `attendance`: batched ingest (the hot write path) and keyset scans (the hot read path).
//! - `person_totals`: get_info's per-person aggregates, written at ingest, read per view.
//! - `outbox`: the callback outbox (SPEC §11): claims with leases and `FOR UPDATE SKIP
//!   LOCKED`, so nodes sharing the database never deliver the same row at once.
//! - `snapshots`: reset and named snapshots (SPEC §9), within the database.
//! - `error`: the internal error, its mapping onto [`StoreError`], and column decoding.
#![forbid(unsafe_code)]

mod attendance;
mod directory;
mod error;
mod meetings;
mod outbox;
mod person_totals;
mod schema;
mod snapshots;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use rollcall_core::callback::AppCallback;
use rollcall_core::ingest::{Outcome, ResolvedEvent};
use rollcall_core::model::{
    AppRef, Corp, Meeting, MeetingUpdate, NewMeeting, SessionRow, SessionScan, TokenRecord,
    UserMeetingRow, UserMeetingScan,
};
use rollcall_core::outbox::{AttemptOutcome, Delivery, NewDelivery};
use rollcall_core::schedule::Presence;
use rollcall_store::{SnapshotInfo, Store, StoreError, StoreResult};

use crate::error::{Error, Result};

/// How a [`PgStore`] connects and how long it waits. [`Default`] suits a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// The schema holding rollcall's tables (created if missing), set as the `search_path` of
    /// every connection; `None` keeps the server's default (normally `public`). Must be a
    /// plain identifier: ASCII lowercase letters, digits and `_`, not starting with a digit.
    pub schema: Option<String>,
    /// Connections in the pool. Each ingest holds one for its transaction and each listing page
    /// one for a query, so this bounds the database work a node puts in flight.
    pub max_connections: usize,
    /// Opening one connection (TCP connect, startup, authentication) gives up after this.
    pub connect_timeout: Duration,
    /// Waiting for a free pooled connection gives up after this.
    pub wait_timeout: Duration,
    /// Once it has a connection, one store call gives up after this, and the connection is
    /// discarded, since it may be stuck behind a dead network path. An ingest batch is
    /// allowed [`Self::per_event`] more for each of its events. (Getting the connection is
    /// bounded by the two timeouts above.)
    pub call_timeout: Duration,
    /// Extra time an ingest call is allowed per event in its batch.
    pub per_event: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            schema: None,
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(15),
            per_event: Duration::from_micros(200),
        }
    }
}

/// The PostgreSQL store. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    options: PgOptions,
    /// Where it connects, without the password, for logs and `Debug`.
    target: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.inner.target)
            .field("schema", &self.inner.options.schema)
            .finish_non_exhaustive()
    }
}

/// Run `$body` (an expression using the client bound to `$c`, a `&mut` pooled client) as one
/// store call bounded by `$limit`. A call that runs out of time drops its connection instead of
/// returning it to the pool: the connection may be wedged on a dead network path, and the
/// next caller must not queue behind it.
macro_rules! call {
    ($store:expr, $limit:expr, |$c:ident| $body:expr) => {{
        let store: &PgStore = $store;
        let limit: Duration = $limit;
        async {
            let mut obj = store.checkout().await?;
            let outcome = tokio::time::timeout(limit, async {
                let $c: &mut Object = &mut obj;
                $body.await
            })
            .await;
            match outcome {
                Ok(r) => r,
                Err(_) => {
                    drop(Object::take(obj));
                    Err(Error::Unavailable(format!(
                        "postgres did not answer within {limit:?}"
                    )))
                }
            }
        }
        .await
        .map_err(StoreError::from)
    }};
}

impl PgStore {
    /// Connect to the database at `url` (`postgres://user:password@host:port/db?…`, or the
    /// key=value form) with the default [`PgOptions`], and bring its schema up to date.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, PgOptions::default()).await
    }

    /// [`Self::connect`], keeping rollcall's tables in `schema` (created if missing). Several
    /// rollcall installations (or test cases) can share one database this way.
    pub async fn connect_with_schema(url: &str, schema: &str) -> StoreResult<Self> {
        Self::connect_with(
            url,
            PgOptions {
                schema: Some(schema.to_owned()),
                ..PgOptions::default()
            },
        )
        .await
    }

    /// Connect with explicit options and bring the schema up to date. Fails with
    /// [`StoreError::Unavailable`] when the URL or the options are invalid, when the database
    /// cannot be reached within the timeouts, or when its schema is newer than this build.
    pub async fn connect_with(url: &str, options: PgOptions) -> StoreResult<Self> {
        let store = Self::lazy(url, options)?;
        call!(&store, store.inner.options.call_timeout, |c| {
            schema::migrate(c, store.inner.options.schema.as_deref())
        })?;
        Ok(store)
    }

    /// The store without touching the database: no connection is opened and nothing is
    /// migrated until the first call. For start-up paths that must come up while the
    /// database is down (they can report "not ready" and recover), and for outage tests.
    /// Call [`Self::migrate`] before using the store on a database that may be new.
    pub fn lazy(url: &str, options: PgOptions) -> StoreResult<Self> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Unavailable(format!("invalid PostgreSQL connection string: {e}"))
        })?;
        if let Some(schema) = &options.schema {
            schema::check_identifier(schema).map_err(StoreError::from)?;
            // Every connection gets the schema as its search_path at startup, so no statement
            // names it and no connection can run without it.
            let mut opts = config.get_options().unwrap_or_default().to_owned();
            if !opts.is_empty() {
                opts.push(' ');
            }
            opts.push_str(&format!("-c search_path={schema}"));
            config.options(opts);
        }
        if config.get_application_name().is_none() {
            config.application_name("rollcall");
        }
        config.connect_timeout(options.connect_timeout);
        // A peer that vanished without closing (a partitioned network, a dead host) shows up
        // within seconds instead of the kernel's two hours, so pooled connections to it die.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        config.tcp_user_timeout(Duration::from_secs(15));
        let target = describe_target(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection whose socket closed is discarded on checkout; anything subtler
                // fails its call (Unavailable) and closes it. Checking with a query on every
                // checkout would double the round trips of the hot read path.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.wait_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("postgres connection pool: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                options,
                target,
            }),
        })
    }

    /// Bring the schema up to date (what [`Self::connect_with`] does at start-up). Idempotent
    /// and safe while other nodes do the same.
    pub async fn migrate(&self) -> StoreResult<()> {
        call!(self, self.inner.options.call_timeout, |c| schema::migrate(
            c,
            self.inner.options.schema.as_deref()
        ))
    }

    /// The options this store was opened with.
    pub fn options(&self) -> &PgOptions {
        &self.inner.options
    }

    /// Drop the store's schema and everything in it: for test teardown. Refuses when the store
    /// uses the server's default schema, which it did not create.
    pub async fn drop_schema(&self) -> StoreResult<()> {
        let Some(schema) = self.inner.options.schema.clone() else {
            return Err(StoreError::Conflict(
                "the store has no schema of its own to drop".into(),
            ));
        };
        schema::check_identifier(&schema).map_err(StoreError::from)?;
        call!(self, self.inner.options.call_timeout, |c| async {
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await?;
            Ok(())
        })
    }

    /// A pooled connection, or Unavailable once the pool's own timeouts pass.
    async fn checkout(&self) -> Result<Object> {
        Ok(self.inner.pool.get().await?)
    }

    fn timeout(&self) -> Duration {
        self.inner.options.call_timeout
    }

    /// The bound of a call that copies every table (reset, snapshots): the whole store, not
    /// a few rows, so it is allowed twenty ordinary calls' time.
    fn bulk_timeout(&self) -> Duration {
        self.inner.options.call_timeout * 20
    }
}

/// `host:port/dbname` of a config, without credentials.
fn describe_target(c: &tokio_postgres::Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", c.get_dbname().unwrap_or(""))
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        call!(self, self.timeout(), |c| async {
            let st = c.prepare_cached("SELECT 1").await?;
            c.query_one(&st, &[]).await?;
            Ok(())
        })
    }

    async fn server_secret(&self, candidate: [u8; 32]) -> StoreResult<[u8; 32]> {
        call!(self, self.timeout(), |c| directory::server_secret(
            c, candidate
        ))
    }

    async fn put_corp(&self, corp: &Corp) -> StoreResult<()> {
        call!(self, self.timeout(), |c| directory::put_corp(c, corp))
    }

    async fn corp(&self, corpid: &str) -> StoreResult<Option<Corp>> {
        call!(self, self.timeout(), |c| directory::corp(c, corpid))
    }

    async fn directory_version(&self) -> StoreResult<u64> {
        call!(self, self.timeout(), |c| directory::directory_version(c))
    }

    async fn callback_targets(&self) -> StoreResult<Vec<(AppRef, AppCallback)>> {
        call!(self, self.timeout(), |c| directory::callback_targets(c))
    }

    async fn token_for_app(&self, now: i64, candidate: &TokenRecord) -> StoreResult<TokenRecord> {
        call!(self, self.timeout(), |c| directory::token_for_app(
            c, now, candidate
        ))
    }

    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenRecord>> {
        call!(self, self.timeout(), |c| directory::token_by_hash(c, hash))
    }

    async fn create_meeting(
        &self,
        meeting: &NewMeeting,
        callbacks: &[NewDelivery],
    ) -> StoreResult<Meeting> {
        call!(self, self.timeout(), |c| meetings::create_meeting(
            c, meeting, callbacks
        ))
    }

    async fn meeting(&self, meetingid: &str) -> StoreResult<Option<Meeting>> {
        call!(self, self.timeout(), |c| meetings::meeting(c, meetingid))
    }

    async fn owned_meeting(&self, app: &AppRef, meetingid: &str) -> StoreResult<Option<Meeting>> {
        call!(self, self.timeout(), |c| meetings::owned_meeting(
            c, app, meetingid
        ))
    }

    async fn meetings_of(&self, app: &AppRef) -> StoreResult<Vec<Meeting>> {
        call!(self, self.timeout(), |c| meetings::meetings_of(c, app))
    }

    async fn update_meeting(
        &self,
        update: &MeetingUpdate,
        callbacks: &[NewDelivery],
    ) -> StoreResult<bool> {
        call!(self, self.timeout(), |c| meetings::update_meeting(
            c, update, callbacks
        ))
    }

    async fn meetingid_by_code(
        &self,
        app: &AppRef,
        meeting_code: &str,
    ) -> StoreResult<Option<String>> {
        call!(self, self.timeout(), |c| meetings::meetingid_by_code(
            c,
            app,
            meeting_code
        ))
    }

    async fn cancel_meeting(
        &self,
        meeting_key: i64,
        callbacks: &[NewDelivery],
    ) -> StoreResult<bool> {
        call!(self, self.timeout(), |c| meetings::cancel_meeting(
            c,
            meeting_key,
            callbacks
        ))
    }

    async fn user_meetings(&self, scan: &UserMeetingScan) -> StoreResult<Vec<UserMeetingRow>> {
        call!(self, self.timeout(), |c| meetings::user_meetings(c, scan))
    }

    async fn presence(&self, meeting_key: i64) -> StoreResult<Vec<(i64, Presence)>> {
        call!(self, self.timeout(), |c| meetings::presence(c, meeting_key))
    }

    async fn ingest(&self, events: &[ResolvedEvent], applied_at: i64) -> StoreResult<Vec<Outcome>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let per_event = self
            .inner
            .options
            .per_event
            .saturating_mul(u32::try_from(events.len()).unwrap_or(u32::MAX));
        let limit = self.timeout().saturating_add(per_event);
        call!(self, limit, |c| attendance::ingest(c, events, applied_at))
    }

    async fn prune_applied(&self, before: i64, limit: u32) -> StoreResult<u64> {
        call!(self, self.timeout(), |c| attendance::prune_applied(
            c, before, limit
        ))
    }

    async fn last_seq(&self, meeting_key: i64) -> StoreResult<u64> {
        call!(self, self.timeout(), |c| attendance::last_seq(
            c,
            meeting_key
        ))
    }

    async fn meeting_stamp(
        &self,
        meeting_key: i64,
    ) -> StoreResult<Option<rollcall_store::MeetingStamp>> {
        call!(self, self.timeout(), |c| attendance::meeting_stamp(
            c,
            meeting_key
        ))
    }

    async fn scan_sessions(&self, scan: &SessionScan) -> StoreResult<Vec<SessionRow>> {
        call!(self, self.timeout(), |c| attendance::scan(c, scan))
    }

    async fn person_totals(
        &self,
        meeting_key: i64,
        view: i64,
        // The exact form answers for any `now`: the open joins and late spans are read.
        _now: i64,
    ) -> StoreResult<Vec<rollcall_core::person_totals::StoredTotals>> {
        call!(self, self.timeout(), |c| person_totals::read(
            c,
            meeting_key,
            view
        ))
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        call!(self, self.timeout(), |c| outbox::claim(
            c, now_ms, lease_ms, limit
        ))
    }

    async fn finish_delivery(
        &self,
        id: i64,
        attempts: u32,
        outcome: &AttemptOutcome,
        now: i64,
    ) -> StoreResult<()> {
        call!(self, self.timeout(), |c| outbox::finish(
            c, id, attempts, outcome, now
        ))
    }

    async fn deliveries(&self, limit: u32) -> StoreResult<Vec<Delivery>> {
        call!(self, self.timeout(), |c| outbox::list(c, limit))
    }

    async fn reset(&self) -> StoreResult<()> {
        call!(self, self.bulk_timeout(), |c| snapshots::reset(c))
    }

    async fn save_snapshot(&self, name: &str, created_at: i64) -> StoreResult<SnapshotInfo> {
        call!(self, self.bulk_timeout(), |c| snapshots::save(
            c, name, created_at
        ))
    }

    async fn snapshots(&self) -> StoreResult<Vec<SnapshotInfo>> {
        call!(self, self.timeout(), |c| snapshots::list(c))
    }

    async fn restore_snapshot(&self, name: &str) -> StoreResult<SnapshotInfo> {
        call!(self, self.bulk_timeout(), |c| snapshots::restore(c, name))
    }

    async fn delete_snapshot(&self, name: &str) -> StoreResult<()> {
        call!(self, self.bulk_timeout(), |c| snapshots::delete(c, name))
    }
}

#[cfg(test)]
mod tests;
