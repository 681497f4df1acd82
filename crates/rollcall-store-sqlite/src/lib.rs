//! The embedded rollcall store: one SQLite database file in the data directory.
//!
//! This is the default backend (`rollcall serve --data DIR`): nothing to install, ready in
//! milliseconds, and durable — every acknowledged write is fsynced (WAL, `synchronous=FULL`)
//! before the call returns, so it survives `kill -9` and power loss. It passes the same
//! contract suite ([`rollcall_store::suite`]) as the PostgreSQL backend.
//!
//! SQLite has one writer at a time, so writes go through a single connection behind a mutex
//! (in-process writers queue on it instead of spinning on `SQLITE_BUSY`), while reads use a
//! pool of read-only connections that, in WAL mode, never wait for the writer. Every call
//! runs on tokio's blocking pool, so the async runtime never blocks on disk.
//!
//! # Layout
//! - [`SqliteStore`]: opening the store and the [`Store`] implementation (thin wrappers).
//! - `schema`: connection settings and the versioned migrations (`PRAGMA user_version`),
//!   with the reasons for each table's shape.
//! - `checkpoint`: the background checkpointer, which copies the WAL into the database file
//!   off the writer's path.
//! - `directory`: the server secret, corps and access tokens.
//! - `meetings`: meetings, sub-meetings, updates and cancellation, a member's meetings, and
//!   per-sub-meeting presence.
//! - `attendance`: ingest (the hot write path) and keyset session scans (the hot read path).
//! - `group`: group commit: ingest calls that wait for the writer together share one
//!   transaction and one fsync.
//! - `person_totals`: get_info's per-person aggregates, written at ingest, read per view.
//! - `outbox`: the callback outbox (SPEC §11): deliveries written with the changes that
//!   cause them, claimed per meeting in order under a lease, finished, listed, pruned.
//! - `snapshots`: reset and named snapshots (SPEC §9): `VACUUM INTO` copies under
//!   `<dir>/snapshots/`, restored in one write transaction.
//! - `error`: the internal error and its mapping onto [`StoreError`].
#![forbid(unsafe_code)]

mod attendance;
mod checkpoint;
mod directory;
mod error;
mod group;
mod meetings;
mod outbox;
mod person_totals;
mod schema;
mod snapshots;
mod stamp;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use r2d2_sqlite::rusqlite::{Connection, OpenFlags};
use r2d2_sqlite::SqliteConnectionManager;

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

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "rollcall.db";

/// Read connections kept in the pool. Each holds its own page cache, so more is not free;
/// eight keep both cores busy with room for requests waiting on I/O.
const READERS: u32 = 8;

/// How long a read waits for a free pooled connection before answering "unavailable".
const POOL_WAIT: Duration = Duration::from_secs(5);

/// Set in a change stamp read from `PRAGMA data_version`, clear in one from the WAL-index
/// header, so the two kinds never compare equal.
const FALLBACK_STAMP: u64 = 1 << 63;

/// The embedded SQLite store. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// The one connection that writes. Holding the mutex for a whole transaction serializes
    /// in-process writers, which is also what keeps ingest `seq`s in commit order.
    writer: Mutex<Connection>,
    /// Ingest calls waiting for the writer, committed in groups (`group`).
    ingest_queue: group::Queue,
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// A read-only connection that only ever reads `PRAGMA data_version`, which changes
    /// when any *other* connection (this process's writer, or another process) commits:
    /// [`Store::change_stamp`]. Its own counter, so it is never shared with the pool.
    watch: Mutex<Connection>,
    /// The change stamp from the WAL-index header (`stamp`): what [`Store::change_stamp`]
    /// reads, with `watch` as the fallback.
    wal_stamp: Option<stamp::WalStamp>,
    /// Copies the WAL back into the database file beside the writer (see `checkpoint`);
    /// dropping it stops the thread.
    _checkpointer: checkpoint::Checkpointer,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Open (creating if needed) the store in `dir`: `<dir>/rollcall.db`, migrated to the
    /// current schema. Blocking; call it at start-up (or inside `spawn_blocking`).
    pub fn open(dir: &Path) -> StoreResult<Self> {
        Self::open_inner(dir).map_err(StoreError::from)
    }

    fn open_inner(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::Unavailable(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(DB_FILE);
        // The writer first: it creates the file, switches it to WAL and migrates, so the
        // read-only connections open an up-to-date WAL database.
        let mut writer = Connection::open(&path)?;
        schema::init_writer(&mut writer)?;
        let manager = SqliteConnectionManager::file(&path)
            .with_flags(
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .with_init(schema::init_reader);
        let readers = r2d2::Pool::builder()
            .max_size(READERS)
            // Open the rest on demand: start-up stays fast.
            .min_idle(Some(1))
            .connection_timeout(POOL_WAIT)
            // A local file connection does not go stale; checking it on every checkout only
            // cost a statement parse per read.
            .test_on_check_out(false)
            .build(manager)?;
        let mut watch = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        schema::init_reader(&mut watch)?;
        let checkpointer = checkpoint::Checkpointer::start(&path)?;
        // After the writer switched the file to WAL and migrated: the `-shm` file exists.
        let wal_stamp = stamp::WalStamp::open(&path);
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                ingest_queue: group::Queue::default(),
                readers,
                watch: Mutex::new(watch),
                wal_stamp,
                _checkpointer: checkpointer,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Run `f` on a pooled read connection, on the calling thread.
    ///
    /// Reads run inline rather than through `spawn_blocking`: in WAL mode a reader never
    /// waits for the writer, and every read rollcall makes is an indexed lookup or a bounded
    /// keyset range (tens of microseconds). Handing each one to the blocking pool cost more
    /// in thread hand-offs than the query itself (measured with `rollcall-bench`).
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let mut conn = self
            .inner
            .readers
            .get()
            .map_err(|e| StoreError::Unavailable(format!("read pool: {e}")))?;
        f(&mut conn).map_err(StoreError::from)
    }

    /// Run `f` on the writer connection, off the async runtime, one writer at a time.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock left no open transaction behind (rusqlite rolls
            // back on drop), so the connection is still good: recover from the poison.
            let mut conn = inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(joined)?
        .map_err(StoreError::from)
    }
}

impl SqliteStore {
    /// The change stamp's fallback: `PRAGMA data_version` of the watch connection, with
    /// [`FALLBACK_STAMP`] set.
    fn data_version_stamp(&self) -> StoreResult<u64> {
        let conn = self
            .inner
            .watch
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let v: i64 = conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(Error::from)?;
        Ok(v as u64 | FALLBACK_STAMP)
    }

    /// The directory holding the snapshot files.
    fn snapshot_dir(&self) -> PathBuf {
        snapshots::dir_of(&self.inner.path)
    }

    /// Run `f` on a pooled read connection off the async workers: for reads that take long
    /// (one row per person, a whole-database copy). `size` (rows it may read) picks the pool
    /// ([`rollcall_store::background::run_sized`]): the background pool for large reads, so
    /// they hold no core the request path wants; tokio's blocking pool for small ones.
    async fn read_blocking<T, F>(&self, size: u64, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        rollcall_store::background::run_sized(size, move || {
            let mut conn = inner
                .readers
                .get()
                .map_err(|e| Error::Unavailable(format!("read pool: {e}")))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
        .map_err(StoreError::from)
    }
}

/// A blocking task that panicked or was cancelled (runtime shutting down).
fn joined(e: tokio::task::JoinError) -> StoreError {
    tracing::error!(error = %e, "sqlite store task failed");
    StoreError::Unavailable(format!("store task failed: {e}"))
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| {
            c.prepare_cached("SELECT 1")?.query_row([], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    async fn server_secret(&self, candidate: [u8; 32]) -> StoreResult<[u8; 32]> {
        self.write(move |c| directory::server_secret(c, candidate))
            .await
    }

    async fn put_corp(&self, corp: &Corp) -> StoreResult<()> {
        let corp = corp.clone();
        self.write(move |c| directory::put_corp(c, &corp)).await
    }

    async fn corp(&self, corpid: &str) -> StoreResult<Option<Corp>> {
        let corpid = corpid.to_owned();
        self.read(move |c| directory::corp(c, &corpid)).await
    }

    async fn directory_version(&self) -> StoreResult<u64> {
        self.read(|c| directory::directory_version(c)).await
    }

    async fn callback_targets(&self) -> StoreResult<Vec<(AppRef, AppCallback)>> {
        self.read(|c| directory::callback_targets(c)).await
    }

    async fn token_for_app(&self, now: i64, candidate: &TokenRecord) -> StoreResult<TokenRecord> {
        // Read first: while the app's token lives (nearly every call), no write lock.
        let app = candidate.app.clone();
        if let Some(t) = self
            .read(move |c| directory::valid_token(c, &app, now))
            .await?
        {
            return Ok(t);
        }
        let candidate = candidate.clone();
        self.write(move |c| directory::token_for_app(c, now, &candidate))
            .await
    }

    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenRecord>> {
        let hash = *hash;
        self.read(move |c| directory::token_by_hash(c, &hash)).await
    }

    async fn create_meeting(
        &self,
        meeting: &NewMeeting,
        callbacks: &[NewDelivery],
    ) -> StoreResult<Meeting> {
        let (meeting, callbacks) = (meeting.clone(), callbacks.to_vec());
        self.write(move |c| meetings::create_meeting(c, &meeting, &callbacks))
            .await
    }

    async fn meeting(&self, meetingid: &str) -> StoreResult<Option<Meeting>> {
        let meetingid = meetingid.to_owned();
        self.read(move |c| meetings::meeting(c, &meetingid)).await
    }

    async fn owned_meeting(&self, app: &AppRef, meetingid: &str) -> StoreResult<Option<Meeting>> {
        let (app, meetingid) = (app.clone(), meetingid.to_owned());
        self.read(move |c| meetings::owned_meeting(c, &app, &meetingid))
            .await
    }

    async fn meetings_of(&self, app: &AppRef) -> StoreResult<Vec<Meeting>> {
        let app = app.clone();
        self.read(move |c| meetings::meetings_of(c, &app)).await
    }

    async fn update_meeting(
        &self,
        update: &MeetingUpdate,
        callbacks: &[NewDelivery],
    ) -> StoreResult<bool> {
        let (update, callbacks) = (update.clone(), callbacks.to_vec());
        self.write(move |c| meetings::update_meeting(c, &update, &callbacks))
            .await
    }

    async fn meetingid_by_code(
        &self,
        app: &AppRef,
        meeting_code: &str,
    ) -> StoreResult<Option<String>> {
        let (app, code) = (app.clone(), meeting_code.to_owned());
        self.read(move |c| meetings::meetingid_by_code(c, &app, &code))
            .await
    }

    async fn cancel_meeting(
        &self,
        meeting_key: i64,
        callbacks: &[NewDelivery],
    ) -> StoreResult<bool> {
        let callbacks = callbacks.to_vec();
        self.write(move |c| meetings::cancel_meeting(c, meeting_key, &callbacks))
            .await
    }

    async fn user_meetings(&self, scan: &UserMeetingScan) -> StoreResult<Vec<UserMeetingRow>> {
        let scan = scan.clone();
        self.read(move |c| meetings::user_meetings(c, &scan)).await
    }

    async fn presence(&self, meeting_key: i64) -> StoreResult<Vec<(i64, Presence)>> {
        self.read(move |c| meetings::presence(c, meeting_key)).await
    }

    async fn ingest(&self, events: &[ResolvedEvent], applied_at: i64) -> StoreResult<Vec<Outcome>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (ticket, reply) = self.inner.ingest_queue.push(events.to_vec(), applied_at);
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // See `write` on recovering from the poison.
            let mut conn = inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
            let groups = group::drain(&mut conn, &inner.ingest_queue, ticket);
            tracing::trace!(?groups, "ingest calls committed per group");
        })
        .await
        .map_err(joined)?;
        // Dropped unanswered only if the writer that took the call panicked mid-group
        // (nothing of the group was committed).
        reply.await.map_err(|_| {
            StoreError::Unavailable("the ingest writer failed before committing".into())
        })?
    }

    async fn prune_applied(&self, before: i64, limit: u32) -> StoreResult<u64> {
        self.write(move |c| attendance::prune_applied(c, before, limit))
            .await
    }

    async fn last_seq(&self, meeting_key: i64) -> StoreResult<u64> {
        self.read(move |c| attendance::last_seq(c, meeting_key))
            .await
    }

    async fn scan_sessions(&self, scan: &SessionScan) -> StoreResult<Vec<SessionRow>> {
        let scan = scan.clone();
        self.read(move |c| attendance::scan(c, &scan)).await
    }

    async fn person_totals(
        &self,
        meeting_key: i64,
        view: i64,
        now: i64,
    ) -> StoreResult<Vec<rollcall_core::person_totals::StoredTotals>> {
        // One row per person: unbounded, so off the async worker. A meeting of at most
        // `rollcall_store::background::SMALL` sessions (which bound the people) is read on
        // tokio's blocking pool at normal priority, so its get_info stays prompt even when a
        // saturated CPU leaves the idle class nothing; a larger one on the background pool.
        let sessions = self
            .read(move |c| attendance::last_seq(c, meeting_key))
            .await?;
        self.read_blocking(sessions, move |c| {
            person_totals::read(c, meeting_key, view, now)
        })
        .await
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
        self.write(move |c| outbox::claim(c, now_ms, lease_ms, limit))
            .await
    }

    async fn finish_delivery(
        &self,
        id: i64,
        attempts: u32,
        outcome: &AttemptOutcome,
        now: i64,
    ) -> StoreResult<()> {
        let outcome = outcome.clone();
        self.write(move |c| outbox::finish(c, id, attempts, &outcome, now))
            .await
    }

    async fn deliveries(&self, limit: u32) -> StoreResult<Vec<Delivery>> {
        self.read(move |c| outbox::list(c, limit)).await
    }

    /// The WAL-index header's hash (`stamp`: one `pread`, moved by every commit of any
    /// process). When that cannot be read, `PRAGMA data_version` of the watch connection:
    /// it starts a read transaction, so it sees every commit made before it. The two are
    /// never compared with each other: a fallback value is a different stamp (high bit
    /// set), so switching between them is a cache miss, not a false hit.
    async fn change_stamp(&self) -> StoreResult<Option<u64>> {
        if let Some(v) = self
            .inner
            .wal_stamp
            .as_ref()
            .and_then(stamp::WalStamp::read)
        {
            return Ok(Some(v & !FALLBACK_STAMP));
        }
        self.data_version_stamp().map(Some)
    }

    async fn reset(&self) -> StoreResult<()> {
        self.write(snapshots::reset).await
    }

    async fn save_snapshot(&self, name: &str, created_at: i64) -> StoreResult<SnapshotInfo> {
        let (dir, name) = (self.snapshot_dir(), name.to_owned());
        self.read_blocking(u64::MAX, move |c| {
            snapshots::save(c, &dir, &name, created_at)
        })
        .await
    }

    async fn snapshots(&self) -> StoreResult<Vec<SnapshotInfo>> {
        let dir = self.snapshot_dir();
        tokio::task::spawn_blocking(move || snapshots::list(&dir))
            .await
            .map_err(joined)?
            .map_err(StoreError::from)
    }

    async fn restore_snapshot(&self, name: &str) -> StoreResult<SnapshotInfo> {
        let (dir, name) = (self.snapshot_dir(), name.to_owned());
        self.write(move |c| snapshots::restore(c, &dir, &name))
            .await
    }

    async fn delete_snapshot(&self, name: &str) -> StoreResult<()> {
        let (dir, name) = (self.snapshot_dir(), name.to_owned());
        tokio::task::spawn_blocking(move || snapshots::delete(&dir, &name))
            .await
            .map_err(joined)?
            .map_err(StoreError::from)
    }
}

#[cfg(test)]
mod tests;
