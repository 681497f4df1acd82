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
//! - [`background`]: the low-priority pool that long reads and folds run on (backends'
//!   unbounded reads, the server's get_info), so they never delay the request path.
//! - `suite` (feature `suite`, for tests only): the backend-independent contract tests, run by each backend's own tests.
#![forbid(unsafe_code)]

use async_trait::async_trait;

use rollcall_core::ingest::ResolvedEvent;
use rollcall_core::model::{
    AppRef, Corp, Meeting, MeetingUpdate, NewMeeting, SessionRow, SessionScan, TokenRecord,
    UserMeetingRow, UserMeetingScan,
};
use rollcall_core::outbox::{AttemptOutcome, Delivery, NewDelivery};
use rollcall_core::schedule::Presence;

pub mod background;
#[cfg(any(test, feature = "suite"))]
pub mod suite;

/// What [`Store::ingest`] made of each event, with the typed reason of a refusal.
pub use rollcall_core::ingest::{Outcome, RejectReason};

/// Why a store call failed.
#[derive(Debug, Clone, thiserror::Error)]
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

/// What [`Store::meeting_stamp`] answers: the meeting's change stamp and its `last_seq`
/// as of the same read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeetingStamp {
    pub stamp: u64,
    pub last_seq: u64,
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
    ///
    /// `callbacks` (the events the server decided the creation causes; empty when the app
    /// has no callback target) are added to the outbox in the same transaction: written
    /// exactly when the meeting is, so no crash can leave one without the other. Every
    /// callback given to a meeting call must be about that meeting (its `meetingid`): a
    /// meeting's events keep their order across nodes because their writer holds the
    /// meeting's row.
    async fn create_meeting(
        &self,
        meeting: &NewMeeting,
        callbacks: &[NewDelivery],
    ) -> StoreResult<Meeting>;

    /// A meeting with its sub-meetings (in schedule order: start time, then key), details and
    /// cancelled flag, by `meetingid`.
    async fn meeting(&self, meetingid: &str) -> StoreResult<Option<Meeting>>;

    /// The meeting `meetingid` if `app` owns it, as [`Self::meeting`] reads it; `None` both
    /// when no meeting has that id and when another app owns it. The two must cost the same
    /// (issue 11.6, a timing oracle for which ids exist): both are one probe of an index on
    /// `(meetingid, corpid, agentid)` that finds nothing, so another app's row is never read,
    /// let alone decoded. The meeting calls read through this; ingest (not an app) through
    /// [`Self::meeting`].
    async fn owned_meeting(&self, app: &AppRef, meetingid: &str) -> StoreResult<Option<Meeting>>;

    /// Meetings owned by `app`, for listings and the demo (newest first).
    async fn meetings_of(&self, app: &AppRef) -> StoreResult<Vec<Meeting>>;

    /// Write a meeting's new state whole, in one transaction: title, type, schedule, details,
    /// the complete sub-meeting list (with the keys given), and the members it is listed for.
    /// `false`, changing nothing, when no meeting has `update.key` or it is cancelled (a
    /// cancelled meeting never changes again). The server decided the change is allowed.
    /// `callbacks` are added to the outbox in the same transaction, and only when it
    /// returns `true`: an update that changed nothing announces nothing.
    async fn update_meeting(
        &self,
        update: &MeetingUpdate,
        callbacks: &[NewDelivery],
    ) -> StoreResult<bool>;

    /// The `meetingid` of the newest meeting (highest key) owned by `app` with this
    /// `meeting_code`, if any: `meeting/get_info` by code. Codes are random, so two of one
    /// app's meetings rarely share one; when they do, the newest wins.
    async fn meetingid_by_code(
        &self,
        app: &AppRef,
        meeting_code: &str,
    ) -> StoreResult<Option<String>>;

    /// Mark a meeting cancelled; its sessions stay readable. `false`, changing nothing, when
    /// no meeting has that key or it already is cancelled. `callbacks` are added to the
    /// outbox in the same transaction, only when it returns `true` (so a repeated cancel
    /// announces nothing twice).
    async fn cancel_meeting(
        &self,
        meeting_key: i64,
        callbacks: &[NewDelivery],
    ) -> StoreResult<bool>;

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
    /// event is durable. Each accepted event's record carries `applied_at` (the server's
    /// clock, unix seconds), which [`Self::prune_applied`] ages it out by.
    ///
    /// In the same transaction, for each meeting whose owner app has a callback target at
    /// that moment (read in the transaction), the presence transitions the batch makes
    /// (`rollcall_core::apply::Transition`: a (sub-)meeting's first open session, its last
    /// one closing) are added to the outbox as `meeting_start` / `meeting_end` from `sys`,
    /// with `CreateTime` the `at` of the join / quit that caused each, in the order the
    /// events caused them (`rollcall_core::outbox::NewDelivery::presence`).
    async fn ingest(&self, events: &[ResolvedEvent], applied_at: i64) -> StoreResult<Vec<Outcome>>;

    /// Forget up to `limit` dedupe records applied before `before` (unix seconds), in one short
    /// transaction; returns how many went. Callers loop until it returns less than `limit`,
    /// so ingest interleaves between batches. Safe to run from several nodes at once: each
    /// record is deleted once, and a concurrent ingest either sees the record (a duplicate)
    /// or not (the event is applied again and the session rules refuse a second join or
    /// quit, see ARCHITECTURE.md, "The dedupe window").
    async fn prune_applied(&self, before: i64, limit: u32) -> StoreResult<u64>;

    /// The highest `seq` stored for the meeting (0 when none): the snapshot a listing covers.
    async fn last_seq(&self, meeting_key: i64) -> StoreResult<u64>;

    /// Up to `scan.limit` sessions in `(join_time, seq)` order strictly after `scan.after`,
    /// with `join_time <= scan.join_max` and `seq_lo < seq <= seq_hi`, for the meeting and
    /// sub-meeting named. Keyset access: the cost does not grow with the depth.
    async fn scan_sessions(&self, scan: &SessionScan) -> StoreResult<Vec<SessionRow>>;

    /// The per-person aggregates of one view of a meeting (`rollcall_core::person_totals`):
    /// `view` is a sub-meeting key (0: a meeting that is not recurring) or
    /// `rollcall_core::person_totals::WHOLE_MEETING` (every session with a sub-meeting key
    /// other than 0). One entry per person with a session in the view, in any order, with
    /// what their open sessions add as of `now` (`StoredTotals`: the kept open state, or
    /// their open joins and the stored closed spans those can overlap), all read in one
    /// consistent view. [`Self::ingest`] maintains them in its transaction (merged closed
    /// spans, so the answer does not depend on the order events arrive in); a migration
    /// back-fills them from the sessions stored before it, a reset empties them and
    /// snapshots carry them. Its cost follows the people, not the sessions stored (the
    /// embedded store: not the open ones either).
    async fn person_totals(
        &self,
        meeting_key: i64,
        view: i64,
        now: i64,
    ) -> StoreResult<Vec<rollcall_core::person_totals::StoredTotals>>;

    // ---- the callback outbox (SPEC §11) ----

    /// Claim up to `limit` deliveries that are due: for each meeting, only its **oldest**
    /// pending delivery (events of a meeting are delivered in the order written; a later
    /// one waits until the earlier one is delivered or given up), and only when
    /// `next_attempt_at_ms <= now_ms` and its lease has passed. Each claimed row is leased
    /// until `now_ms + lease_ms`: no other claimer (on any node sharing the store) gets it
    /// before then, and a claimer that dies holding it only delays it until the lease
    /// passes (at least once, never lost). The earliest due are taken first; the result is
    /// in id order. Its cost follows the due heads, not the backlog behind them.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;

    /// Record the outcome of attempt number `attempts` of delivery `id` at `now` (unix s),
    /// and clear its lease: `Retry` makes it due again at its `next_attempt_at_ms`;
    /// `Delivered` / `GaveUp` finish it (`finished_at = now`), which lets the meeting's next
    /// delivery be claimed. Finished rows beyond the history bound
    /// (`rollcall_core::outbox::HISTORY_KEPT`) are pruned here. A delivery that is unknown
    /// or already finished is left as it is (a second node finishing a row it re-claimed
    /// after a lease passed changes nothing): `Ok`. Call it only for a row claimed through
    /// [`Self::claim_deliveries`] (a meeting's queue moves on when its head finishes).
    async fn finish_delivery(
        &self,
        id: i64,
        attempts: u32,
        outcome: &AttemptOutcome,
        now: i64,
    ) -> StoreResult<()>;

    /// Up to `limit` deliveries, pending or finished, newest first (`GET /admin/v1/callbacks`).
    async fn deliveries(&self, limit: u32) -> StoreResult<Vec<Delivery>>;

    /// A value that changes whenever anything stored may have changed, by this process or
    /// any other on the same store; `None` when the backend has no such cheap stamp. While
    /// two reads of it are equal and `Some`, every read in between saw the same data, so a
    /// node may answer from what it read under that stamp (the page cache does).
    ///
    /// The default is `None`: a backend that cannot tell is always read afresh.
    async fn change_stamp(&self) -> StoreResult<Option<u64>> {
        Ok(None)
    }

    /// For a backend without a store-wide [`Self::change_stamp`]: one meeting's change stamp
    /// with its `last_seq`, read together (one statement, so one snapshot). The stamp
    /// changes with every write to the meeting's sessions or `last_seq`, by any node, and a
    /// value never stands for two states of the meeting (not across a reset or a restore
    /// either), so a node may answer a scan of the meeting from what it read under that
    /// value. `None`: no such stamp (or no such meeting); read the store.
    ///
    /// The default is `None`.
    async fn meeting_stamp(&self, meeting_key: i64) -> StoreResult<Option<MeetingStamp>> {
        let _ = meeting_key;
        Ok(None)
    }

    // ---- reset and snapshots (SPEC §9) ----

    /// Remove every stored row except the server secret: corps, tokens, meetings, sessions,
    /// pending events, dedupe records, the callback outbox, and whatever runtime table a
    /// later migration adds; key counters start again (so a seeded run after a reset repeats
    /// byte for byte; except delivery ids, which only grow: a delivery claimed before the
    /// reset may still be finished after it), and [`Self::directory_version`] changes, so every node's directory cache refreshes. One
    /// transaction: a concurrent reader sees everything or nothing gone.
    async fn reset(&self) -> StoreResult<()>;

    /// Save a consistent copy of all stored state under `name` (validated by the caller),
    /// the callback outbox included (a restore brings back its pending deliveries as saved:
    /// they are state like any other, and a replayed scenario owes its receiver them again),
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
