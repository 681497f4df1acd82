//! The storage contract of rollcall: the [`Store`] trait and its [`StoreError`].
//!
//! No driver type appears here. Each backend (embedded SQLite, PostgreSQL) is its own crate
//! implementing [`Store`], and every backend runs the same `suite` of contract tests (feature `suite`). The
//! server holds the backend chosen at start-up as `Arc<dyn Store>`.
//!
//! The store only stores and fetches by keys the rules computed; it never decides visibility
//! or windows. Where a write needs rules (what an ingest batch does to the sessions), the
//! backend loads the state they read, calls `rollcall_core::apply::apply_batch` inside its
//! transaction, and writes what it returns: every backend decides the same way.
//!
//! # Layout
//! - [`Store`]: the trait; [`StoreError`]: its one error type; [`SnapshotInfo`]: what a
//!   snapshot holds.
//! - `suite` (feature `suite`, for tests only): the backend-independent contract tests, run by each backend's own tests.
#![forbid(unsafe_code)]

use async_trait::async_trait;

use rollcall_core::ingest::ResolvedEvent;
use rollcall_core::model::{
    AppRef, Corp, Meeting, MeetingUpdate, NewMeeting, SessionRow, SessionScan, TokenRecord,
    UserMeetingRow, UserMeetingScan,
};
use rollcall_core::schedule::Presence;

#[cfg(any(test, feature = "suite"))]
pub mod suite;

/// What [`Store::ingest`] made of each event, with the typed reason of a refusal.
pub use rollcall_core::ingest::{Outcome, RejectReason};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (e.g. a meetingid generated twice).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store cannot be reached or failed transiently; the caller may retry (errcode -1).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data that does not decode; a bug or a corrupted store.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The named thing (a snapshot) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
}

/// What a saved snapshot holds, as [`Store::save_snapshot`] and [`Store::snapshots`] report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The name it was saved under (the caller validated it).
    pub name: String,
    /// The caller's clock when it was taken (unix seconds; the emulator's clock may be virtual).
    pub created_at: i64,
    /// Meetings in the copy.
    pub meetings: u64,
    /// Sessions in the copy, counted in the same consistent view as the copy itself.
    pub sessions: u64,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything rollcall persists. All methods are safe to call concurrently.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Is the store reachable and answering? (`/readyz`)
    async fn ping(&self) -> StoreResult<()>;

    /// The server secret behind tokens, cursors and `tmp_openid`: stored once, atomically.
    /// The first call on an empty store keeps `candidate`; every later call (on any node
    /// sharing the store) returns what was kept.
    async fn server_secret(&self, candidate: [u8; 32]) -> StoreResult<[u8; 32]>;

    // ---- directory ----

    /// Replace the stored corp (directory, apps) with `corp`, and bump [`Self::directory_version`].
    async fn put_corp(&self, corp: &Corp) -> StoreResult<()>;

    /// The stored corp, if any.
    async fn corp(&self, corpid: &str) -> StoreResult<Option<Corp>>;

    /// A number that changes whenever any corp changes, so callers can cache directories.
    async fn directory_version(&self) -> StoreResult<u64>;

    /// Every stored app that has a callback target (SPEC §11), by corpid then agentid: what
    /// a node verifies at start-up and `GET /admin/v1/callbacks` lists, the same on every
    /// node sharing the store.
    async fn callback_targets(
        &self,
    ) -> StoreResult<Vec<(AppRef, rollcall_core::callback::AppCallback)>>;

    // ---- access tokens ----

    /// The app's token valid at `now` (`expires_at > now`) if there is one, else store
    /// `candidate` and return it. Atomic: concurrent callers for one app get the same token.
    async fn token_for_app(&self, now: i64, candidate: &TokenRecord) -> StoreResult<TokenRecord>;

    /// The token with this hash, expired or not.
    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenRecord>>;

    // ---- meetings ----

    /// Store a new meeting, assigning its key and its sub-meetings' keys (1, 2, … in order).
    /// A taken `meetingid` is a [`StoreError::Conflict`]. The meeting is listed for its
    /// administrator and invitees ([`Self::user_meetings`]).
    async fn create_meeting(&self, meeting: &NewMeeting) -> StoreResult<Meeting>;

    /// A meeting with its sub-meetings (in schedule order: start time, then key), details and
    /// cancelled flag, by `meetingid`.
    async fn meeting(&self, meetingid: &str) -> StoreResult<Option<Meeting>>;

    /// Meetings owned by `app`, for listings and the demo (newest first).
    async fn meetings_of(&self, app: &AppRef) -> StoreResult<Vec<Meeting>>;

    /// Write a meeting's new state whole, in one transaction: title, type, schedule, details,
    /// the complete sub-meeting list (with the keys given), and the members it is listed for.
    /// `false`, changing nothing, when no meeting has `update.key` or it is cancelled (a
    /// cancelled meeting never changes again). The server decided the change is allowed.
    async fn update_meeting(&self, update: &MeetingUpdate) -> StoreResult<bool>;

    /// The `meetingid` of the newest meeting (highest key) owned by `app` with this
    /// `meeting_code`, if any: `meeting/get_info` by code. Codes are random, so two of one
    /// app's meetings rarely share one; when they do, the newest wins.
    async fn meetingid_by_code(
        &self,
        app: &AppRef,
        meeting_code: &str,
    ) -> StoreResult<Option<String>>;

    /// Mark a meeting cancelled; its sessions stay readable. `false`, changing nothing, when
    /// no meeting has that key or it already is cancelled.
    async fn cancel_meeting(&self, meeting_key: i64) -> StoreResult<bool>;

    /// Up to `scan.limit` meetings owned by `scan.app` that list `scan.userid` (as
    /// administrator or invitee), whose span `[span_start, span_end]` meets `[begin, end]`,
    /// strictly after `scan.after` in `(span_start, key)` order. Keyset access.
    async fn user_meetings(&self, scan: &UserMeetingScan) -> StoreResult<Vec<UserMeetingRow>>;

    /// What the sessions of each sub-meeting say (any session; any still open), by sub-meeting
    /// key (0 for a meeting that is not recurring), in key order. Keys without sessions are
    /// left out.
    async fn presence(&self, meeting_key: i64) -> StoreResult<Vec<(i64, Presence)>>;

    // ---- attendance ----

    /// Apply `events` in order, in one transaction, and return one outcome per event, as
    /// `rollcall_core::apply::apply_batch` decides over the stored state. Duplicates (same
    /// meeting, same `event_id` already applied) change nothing; rejected events are not
    /// recorded, so a corrected re-send applies. When this returns `Ok`, every `Accepted`
    /// event is durable.
    async fn ingest(&self, events: &[ResolvedEvent]) -> StoreResult<Vec<Outcome>>;

    /// The highest `seq` stored for the meeting (0 when none): the snapshot a listing covers.
    async fn last_seq(&self, meeting_key: i64) -> StoreResult<u64>;

    /// Up to `scan.limit` sessions in `(join_time, seq)` order strictly after `scan.after`,
    /// with `join_time <= scan.join_max` and `seq_lo < seq <= seq_hi`, for the meeting and
    /// sub-meeting named. Keyset access: the cost does not grow with the depth.
    async fn scan_sessions(&self, scan: &SessionScan) -> StoreResult<Vec<SessionRow>>;

    /// A value that changes whenever anything stored may have changed, by this process or
    /// any other on the same store; `None` when the backend has no such cheap stamp. While
    /// two reads of it are equal and `Some`, every read in between saw the same data, so a
    /// node may answer from what it read under that stamp (the page cache does).
    ///
    /// The default is `None`: a backend that cannot tell is always read afresh.
    async fn change_stamp(&self) -> StoreResult<Option<u64>> {
        Ok(None)
    }

    // ---- reset and snapshots (SPEC §9) ----

    /// Remove every stored row except the server secret: corps, tokens, meetings, sessions,
    /// pending events, dedupe records, and whatever runtime table a later migration adds; key
    /// counters start again (so a seeded run after a reset repeats byte for byte), and
    /// [`Self::directory_version`] changes, so every node's directory cache refreshes. One
    /// transaction: a concurrent reader sees everything or nothing gone.
    async fn reset(&self) -> StoreResult<()>;

    /// Save a consistent copy of all stored state under `name` (validated by the caller),
    /// taken while writes go on: the copy is the state at one instant, and its counts are
    /// counted in that same view. The server secret is left out of it (a restore keeps the
    /// current one). Snapshots are durable: they survive restarts and are shared by every node
    /// on the store. A taken name is a [`StoreError::Conflict`].
    async fn save_snapshot(&self, name: &str, created_at: i64) -> StoreResult<SnapshotInfo>;

    /// Every saved snapshot, by name.
    async fn snapshots(&self) -> StoreResult<Vec<SnapshotInfo>>;

    /// Make the store exactly the state saved under `name` (except the server secret, which
    /// stays), in one transaction: a concurrent reader sees the state before or after, never
    /// a mix. Key counters continue from the snapshot's; [`Self::directory_version`] changes.
    /// An unknown name is [`StoreError::NotFound`].
    async fn restore_snapshot(&self, name: &str) -> StoreResult<SnapshotInfo>;

    /// Forget the snapshot saved under `name`; an unknown name is [`StoreError::NotFound`].
    async fn delete_snapshot(&self, name: &str) -> StoreResult<()>;
}
