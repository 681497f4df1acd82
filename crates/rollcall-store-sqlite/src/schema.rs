//! Connection settings and the versioned schema.
//!
//! The schema is a list of migrations; `PRAGMA user_version` records how many have been
//! applied. Opening a store applies the missing ones, each in its own `BEGIN IMMEDIATE`
//! transaction that re-reads the version first, so two processes opening the same directory
//! at once never apply a migration twice, and reopening an up-to-date store changes nothing.
//!
//! # Why the tables look like this
//! - Every table is `STRICT`: a value of the wrong type is refused when written instead of
//!   surfacing later as a decode error.
//! - `sessions` is `WITHOUT ROWID` with the primary key `(meeting_key, sub_key, join_time,
//!   seq)`: the rows are clustered in listing order, so a page of get_attendee_list is one
//!   contiguous range read of the B-tree, and a deep page costs what the first one does.
//!   `sessions_by_key` finds a session by the platform's key (ingest looks each one up), and
//!   its uniqueness backs the refusal of a second join of the same session.
//! - `applied_events` makes ingest idempotent: `INSERT OR IGNORE` into it is the duplicate
//!   check and the record in one statement.
//! - `pending_events` keeps quits and state changes that arrived before their join; the body
//!   is `rollcall_core::ingest::Pending` as JSON, applied by the core rules when the join comes.
//! - The attendance tables carry no foreign keys: ingest checks the meeting once per batch,
//!   and a foreign-key probe on every row would cost a B-tree lookup per event on the hottest
//!   path. The directory and sub-meetings, written rarely, do use them.
//! - `meetings.key` is `AUTOINCREMENT` so a key is never reused, even if the newest meeting
//!   were deleted: sessions and cursors refer to meetings by key. `meetings.last_seq` is the
//!   per-meeting ingest counter; it is written in the same transaction as the sessions it
//!   numbers, so a reader's snapshot of it always matches the rows it can see.
//! - There is no `created_at`: the contract gives the store no creation time (and the
//!   emulator's clock may be virtual), and the key already orders meetings by creation.
//! - Migration 2 (the meeting calls): the details `meeting/create` and `meeting/update` set
//!   live on the meeting row (`invitees`, `settings`, `reminders` as JSON text: read and
//!   written whole, never searched), with the `cancelled` flag. `meeting_people` is the index
//!   behind `meeting/get_user_meetingid`: one row per member a meeting is listed for (its
//!   administrator and invitees), keyed `(corpid, agentid, userid, span_start, meeting_key)`
//!   so that a page of one member's meetings is one range of the primary key in listing order;
//!   `span_end` filters the window's other side. It is rewritten with the meeting on every
//!   update, and backfilled from the administrators of meetings made before it existed.
//!   The backfill computes each span in SQL: that is the rule of
//!   `rollcall_core::model::span_start` / `span_end`, which every write since uses, written
//!   out once because a migration that has shipped stays as it ran (a store still at version
//!   1 upgrades through it). `migration_2_lists_earlier_meetings_for_their_administrators`
//!   checks the two agree.
//!   `meetings_by_code` finds an app's meeting by the code people type (`meeting/get_info`).
//! - Migration 3 (callbacks, SPEC §11): an app's callback target lives on its row, three
//!   nullable columns (`callback_url`, `callback_token`, `callback_aes_key` as its 43
//!   characters), so every process on the database and every snapshot has it. They are
//!   written from a validated `AppCallback` and validated again when read: a row that no
//!   longer validates (one or two of the three, a bad key) is reported as corrupt.
//! - Migration 4 (the callback outbox, SPEC §11): `deliveries`, one row per event owed to an app's
//!   callback URL, written in the transaction of the change that causes it; `id` (`AUTOINCREMENT`,
//!   never reused) is the order of writing. `head` marks the oldest pending row of each meeting
//!   (set when a row is written to an empty queue, moved on when the head finishes), so a claim
//!   reads `deliveries_due` (partial: pending heads, by due time) and costs what the due heads do,
//!   not the backlog: measured on PostgreSQL with 100,000 pending rows, computing the heads per
//!   claim (`min(id) GROUP BY meetingid`) took 61 ms over 1,000 meetings and 329 ms over 100,000
//!   (the head index: 1.4 ms). `deliveries_pending` (partial: pending rows by `(meetingid, id)`)
//!   finds a meeting's next row; `deliveries_finished` (partial: finished rows by id) lets the
//!   history bound delete the oldest finished rows as one range. `sessions_open` (partial: open
//!   sessions only) counts a meeting's open sessions per sub-meeting, which ingest reads to find
//!   presence transitions (`meeting_start` / `meeting_end`), without reading closed sessions.
//! - Migration 5 (the dedupe window): `applied_events.applied_at`, the server's clock when
//!   the record was made, and `applied_events_by_age` on it, so a prune batch is a range at
//!   the cold end of that index (appends go to its hot end, by the clock).
//! - Migration 6 (get_info's aggregates, ARCHITECTURE.md "get_info from maintained
//!   aggregates"): `person_totals`, one row per person per view (sub-meeting key, 0, or -1
//!   for a recurring meeting as a whole), and `person_spans`, their closed sessions' spans
//!   merged, clustered by person and start so ingest reads only the spans a new one reaches.
//!   Back-filled from the stored sessions in SQL (gaps and islands), the rule of
//!   `rollcall_core::person_totals` written out once;
//!   `migrations_6_and_8_backfill_the_aggregates_of_earlier_sessions` checks the two agree.
//! - Migration 7: `meetings_by_owner`, so another app's meeting costs what an unknown id does.
//! - Migration 8 (get_info without sessions): `person_totals.open_first` / `late_secs`, each
//!   person's kept open state (`rollcall_core::person_totals::OpenKept`), back-filled in SQL,
//!   and `sessions_open_by_person` (partial: open sessions by person and join), which finds
//!   a person's next earliest open join; the same test checks the back-fill.
//! - Migration 9 (ingest's dedupe record, issue 11.3): `applied_events` becomes a rowid table
//!   in arrival order with `applied_events_by_key` (unique) for the duplicate check, so a
//!   record is one random index insert and two appends (the table, and the age index, whose
//!   ties are in rowid order), where it was two random inserts; the rows are copied in age
//!   order (`migration_9_keeps_every_dedupe_record_and_its_age`). It rewrites the table once,
//!   at the first start after the upgrade: 7.6 s for 4 million records (the sqlite3 shell
//!   on this machine), so a store holding a long dedupe window of heavy traffic takes that
//!   long to come up once.

use std::time::Duration;

use r2d2_sqlite::rusqlite::{self, Connection, TransactionBehavior};

use crate::error::Result;

/// How long a connection waits for another process's lock before reporting "unavailable".
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Enough room for every distinct statement the store prepares, so `prepare_cached` never
/// evicts one on the hot path.
const STATEMENT_CACHE: usize = 128;

/// The migrations, in order; `PRAGMA user_version` = how many are applied. Never edit one
/// that has shipped: append a new one.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value ANY
) STRICT, WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('directory_version', 0);

CREATE TABLE corps (
    corpid TEXT PRIMARY KEY,
    name   TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE departments (
    corpid TEXT NOT NULL REFERENCES corps (corpid) ON DELETE CASCADE,
    id     INTEGER NOT NULL,
    name   TEXT NOT NULL,
    parent INTEGER NOT NULL,
    PRIMARY KEY (corpid, id)
) STRICT, WITHOUT ROWID;

-- departments: JSON array of department ids.
CREATE TABLE users (
    corpid      TEXT NOT NULL REFERENCES corps (corpid) ON DELETE CASCADE,
    userid      TEXT NOT NULL,
    name        TEXT NOT NULL,
    departments TEXT NOT NULL,
    PRIMARY KEY (corpid, userid)
) STRICT, WITHOUT ROWID;

-- visible_departments / visible_users: JSON arrays.
CREATE TABLE apps (
    corpid              TEXT NOT NULL REFERENCES corps (corpid) ON DELETE CASCADE,
    agentid             INTEGER NOT NULL,
    name                TEXT NOT NULL,
    secret_hash         BLOB NOT NULL,
    meeting_api         INTEGER NOT NULL,
    enabled             INTEGER NOT NULL,
    visible_departments TEXT NOT NULL,
    visible_users       TEXT NOT NULL,
    PRIMARY KEY (corpid, agentid)
) STRICT, WITHOUT ROWID;

CREATE TABLE tokens (
    hash       BLOB PRIMARY KEY,
    nonce      BLOB NOT NULL,
    corpid     TEXT NOT NULL,
    agentid    INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX tokens_by_app ON tokens (corpid, agentid, expires_at);

CREATE TABLE meetings (
    key              INTEGER PRIMARY KEY AUTOINCREMENT,
    meetingid        TEXT NOT NULL UNIQUE,
    meeting_code     TEXT NOT NULL,
    corpid           TEXT NOT NULL,
    agentid          INTEGER NOT NULL,
    meeting_type     INTEGER NOT NULL,
    title            TEXT NOT NULL,
    meeting_start    INTEGER NOT NULL,
    meeting_duration INTEGER NOT NULL,
    admin_userid     TEXT,
    last_seq         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX meetings_by_app ON meetings (corpid, agentid, key);

CREATE TABLE sub_meetings (
    meeting_key   INTEGER NOT NULL REFERENCES meetings (key) ON DELETE CASCADE,
    key           INTEGER NOT NULL,
    sub_meetingid TEXT NOT NULL,
    start_time    INTEGER NOT NULL,
    end_time      INTEGER NOT NULL,
    PRIMARY KEY (meeting_key, key)
) STRICT, WITHOUT ROWID;

-- participant = (participant_kind, participant_id) via Participant::kind_code / from_parts.
CREATE TABLE sessions (
    meeting_key         INTEGER NOT NULL,
    sub_key             INTEGER NOT NULL,
    join_time           INTEGER NOT NULL,
    seq                 INTEGER NOT NULL,
    session_key         TEXT NOT NULL,
    participant_kind    INTEGER NOT NULL,
    participant_id      TEXT NOT NULL,
    quit_time           INTEGER,
    instance_id         INTEGER NOT NULL,
    role                INTEGER NOT NULL,
    webinar_role        INTEGER NOT NULL,
    join_type           INTEGER NOT NULL,
    net                 TEXT,
    audio_state         INTEGER NOT NULL,
    video_state         INTEGER NOT NULL,
    screen_shared_state INTEGER NOT NULL,
    customer_data       TEXT,
    state_at            INTEGER NOT NULL,
    PRIMARY KEY (meeting_key, sub_key, join_time, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX sessions_by_key ON sessions (meeting_key, session_key);

CREATE TABLE applied_events (
    meeting_key INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    PRIMARY KEY (meeting_key, event_id)
) STRICT, WITHOUT ROWID;

-- body: serde_json of rollcall_core::ingest::Pending; ord: arrival order per session.
CREATE TABLE pending_events (
    meeting_key INTEGER NOT NULL,
    session_key TEXT NOT NULL,
    ord         INTEGER NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (meeting_key, session_key, ord)
) STRICT, WITHOUT ROWID;
"#,
    r#"
-- invitees: JSON array of userids; settings / reminders: JSON objects (NULL: never given).
ALTER TABLE meetings ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE meetings ADD COLUMN location TEXT NOT NULL DEFAULT '';
ALTER TABLE meetings ADD COLUMN invitees TEXT NOT NULL DEFAULT '[]';
ALTER TABLE meetings ADD COLUMN settings TEXT;
ALTER TABLE meetings ADD COLUMN reminders TEXT;
ALTER TABLE meetings ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;

CREATE TABLE meeting_people (
    corpid      TEXT NOT NULL,
    agentid     INTEGER NOT NULL,
    userid      TEXT NOT NULL,
    span_start  INTEGER NOT NULL,
    meeting_key INTEGER NOT NULL REFERENCES meetings (key) ON DELETE CASCADE,
    span_end    INTEGER NOT NULL,
    PRIMARY KEY (corpid, agentid, userid, span_start, meeting_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX meeting_people_by_meeting ON meeting_people (meeting_key);
CREATE INDEX meetings_by_code ON meetings (corpid, agentid, meeting_code, key);

INSERT INTO meeting_people (corpid, agentid, userid, span_start, meeting_key, span_end)
SELECT m.corpid, m.agentid, m.admin_userid,
       min(m.meeting_start, coalesce(
           (SELECT min(s.start_time) FROM sub_meetings s WHERE s.meeting_key = m.key),
           m.meeting_start)),
       m.key,
       max(m.meeting_start + m.meeting_duration, coalesce(
           (SELECT max(s.end_time) FROM sub_meetings s WHERE s.meeting_key = m.key),
           m.meeting_start + m.meeting_duration))
FROM meetings m WHERE m.admin_userid IS NOT NULL;
"#,
    r#"
-- An app's callback target (SPEC §11): all three or none; the key as its 43 characters.
ALTER TABLE apps ADD COLUMN callback_url TEXT;
ALTER TABLE apps ADD COLUMN callback_token TEXT;
ALTER TABLE apps ADD COLUMN callback_aes_key TEXT;
"#,
    r#"
-- The callback outbox (SPEC §11). state: DeliveryState::code (0 pending, 1 delivered,
-- 2 failed); next_attempt_at / lease_until: unix ms; create_time / finished_at: unix s.
-- head: 1 on the oldest pending row of its meeting (the only one a claim may take).
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    corpid          TEXT NOT NULL,
    agentid         INTEGER NOT NULL,
    meetingid       TEXT NOT NULL,
    change_type     TEXT NOT NULL,
    from_user       TEXT NOT NULL,
    create_time     INTEGER NOT NULL,
    state           INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    finished_at     INTEGER,
    head            INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX deliveries_pending ON deliveries (meetingid, id) WHERE state = 0;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state = 0 AND head = 1;
CREATE INDEX deliveries_finished ON deliveries (id) WHERE state <> 0;
CREATE INDEX sessions_open ON sessions (meeting_key, sub_key) WHERE quit_time IS NULL;
"#,
    r#"
-- The dedupe window (ARCHITECTURE.md, "The dedupe window"): when each record was applied, by
-- the server's clock. Records from before this migration count as applied at 0 and go in
-- the first prune; adding a column with a constant default rewrites no row.
ALTER TABLE applied_events ADD COLUMN applied_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX applied_events_by_age ON applied_events (applied_at);
"#,
    r#"
-- get_info's per-person aggregates, maintained at ingest (rollcall_core::person_totals).
-- sub_key: the view (a sub-meeting key, 0 for a meeting that is not recurring, -1 for a
-- recurring meeting as a whole). last_quit: of the closed sessions; closed_secs: the length
-- of the union of their spans, which person_spans holds merged (disjoint, a gap between any
-- two).
CREATE TABLE person_totals (
    meeting_key      INTEGER NOT NULL,
    sub_key          INTEGER NOT NULL,
    participant_kind INTEGER NOT NULL,
    participant_id   TEXT NOT NULL,
    first_join       INTEGER NOT NULL,
    joins            INTEGER NOT NULL,
    last_quit        INTEGER,
    closed_secs      INTEGER NOT NULL,
    PRIMARY KEY (meeting_key, sub_key, participant_kind, participant_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE person_spans (
    meeting_key      INTEGER NOT NULL,
    sub_key          INTEGER NOT NULL,
    participant_kind INTEGER NOT NULL,
    participant_id   TEXT NOT NULL,
    span_start       INTEGER NOT NULL,
    span_end         INTEGER NOT NULL,
    PRIMARY KEY (meeting_key, sub_key, participant_kind, participant_id, span_start)
) STRICT, WITHOUT ROWID;

-- The back-fill from the sessions stored before: closed spans merged as gaps and islands
-- (a span starts an island when it starts after every earlier span of the person ended;
-- back to back is one island, as rollcall_core::person_totals merges), then the totals.
WITH v AS (
    SELECT meeting_key, sub_key, participant_kind, participant_id, join_time, quit_time
    FROM sessions
    UNION ALL
    SELECT meeting_key, -1, participant_kind, participant_id, join_time, quit_time
    FROM sessions WHERE sub_key <> 0
), closed AS (
    SELECT *, max(quit_time) OVER (
        PARTITION BY meeting_key, sub_key, participant_kind, participant_id
        ORDER BY join_time, quit_time ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS reach
    FROM v WHERE quit_time > join_time
), islands AS (
    SELECT *, sum(CASE WHEN reach IS NULL OR join_time > reach THEN 1 ELSE 0 END) OVER (
        PARTITION BY meeting_key, sub_key, participant_kind, participant_id
        ORDER BY join_time, quit_time ROWS UNBOUNDED PRECEDING
    ) AS island
    FROM closed
)
INSERT INTO person_spans
    (meeting_key, sub_key, participant_kind, participant_id, span_start, span_end)
SELECT meeting_key, sub_key, participant_kind, participant_id, min(join_time), max(quit_time)
FROM islands GROUP BY meeting_key, sub_key, participant_kind, participant_id, island;

WITH v AS (
    SELECT meeting_key, sub_key, participant_kind, participant_id, join_time, quit_time
    FROM sessions
    UNION ALL
    SELECT meeting_key, -1, participant_kind, participant_id, join_time, quit_time
    FROM sessions WHERE sub_key <> 0
)
INSERT INTO person_totals (meeting_key, sub_key, participant_kind, participant_id,
    first_join, joins, last_quit, closed_secs)
SELECT meeting_key, sub_key, participant_kind, participant_id,
    min(join_time), count(*), max(quit_time),
    coalesce((SELECT sum(p.span_end - p.span_start) FROM person_spans p
        WHERE p.meeting_key = v.meeting_key AND p.sub_key = v.sub_key
        AND p.participant_kind = v.participant_kind AND p.participant_id = v.participant_id), 0)
FROM v GROUP BY meeting_key, sub_key, participant_kind, participant_id;
"#,
    r#"
-- A meeting the meeting calls look up is scoped to the calling app (Store::owned_meeting):
-- one probe of this index, which finds nothing for another app's meeting exactly as for an
-- unknown id, so the two cost the same (issue 11.6).
CREATE INDEX meetings_by_owner ON meetings (meetingid, corpid, agentid);
"#,
    r#"
-- get_info without reading sessions (issue 11.2): each person's earliest open join in the
-- view (NULL: none open) and the closed time from it on, kept at ingest
-- (rollcall_core::person_totals::OpenKept), and the open sessions by person, which find the
-- next earliest when the session holding it closes. Back-filled from the sessions and spans.
CREATE INDEX sessions_open_by_person
    ON sessions (meeting_key, participant_kind, participant_id, join_time)
    WHERE quit_time IS NULL;
ALTER TABLE person_totals ADD COLUMN open_first INTEGER;
ALTER TABLE person_totals ADD COLUMN late_secs INTEGER NOT NULL DEFAULT 0;
UPDATE person_totals SET open_first = (
    SELECT min(s.join_time) FROM sessions s
    WHERE s.meeting_key = person_totals.meeting_key
    AND s.participant_kind = person_totals.participant_kind
    AND s.participant_id = person_totals.participant_id AND s.quit_time IS NULL
    AND CASE WHEN person_totals.sub_key = -1 THEN s.sub_key <> 0
        ELSE s.sub_key = person_totals.sub_key END);
UPDATE person_totals SET late_secs = coalesce((
    SELECT sum(p.span_end - max(p.span_start, person_totals.open_first)) FROM person_spans p
    WHERE p.meeting_key = person_totals.meeting_key AND p.sub_key = person_totals.sub_key
    AND p.participant_kind = person_totals.participant_kind
    AND p.participant_id = person_totals.participant_id
    AND p.span_end > person_totals.open_first), 0)
WHERE open_first IS NOT NULL;
"#,
    r#"
-- The dedupe record in arrival order (issue 11.3): a rowid table, so each record is appended
-- at the end of the table and of the age index (ties on applied_at are in rowid order), and
-- only the unique key index takes a random insert. Before, the table was clustered on the
-- random (meeting_key, event_id) and the age index carried that key too: two random inserts
-- per event, ~1.8 us of the writer's ~14 us each. Copied in age order, so pruning still
-- walks the rowids' and the age index's cold end together.
CREATE TABLE applied_log (
    id          INTEGER PRIMARY KEY,
    meeting_key INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    applied_at  INTEGER NOT NULL
) STRICT;
INSERT INTO applied_log (meeting_key, event_id, applied_at)
    SELECT meeting_key, event_id, applied_at FROM applied_events ORDER BY applied_at;
DROP TABLE applied_events;
ALTER TABLE applied_log RENAME TO applied_events;
CREATE UNIQUE INDEX applied_events_by_key ON applied_events (meeting_key, event_id);
CREATE INDEX applied_events_by_age ON applied_events (applied_at);
"#,
];

/// Settings every connection gets, reader or writer.
fn common(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // The bundled SQLite is built with STAT4, which recompiles a cached statement whenever a
    // newly bound value *might* change its plan: the keyset scan was re-prepared on every
    // page (14% of a page's CPU under `perf`). Our plans never depend on values (there are
    // no ANALYZE statistics, and keyset access is what we want regardless), so ask for the
    // query planner stability guarantee instead.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    // Both settings are per connection. FULL: an acknowledged commit is on disk (WAL fsynced)
    // before `ingest` returns, so it survives kill -9 and power loss alike.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
    Ok(())
}

/// Prepare the writer connection: WAL, durability, then bring the schema up to date.
pub(crate) fn init_writer(conn: &mut Connection) -> Result<()> {
    common(conn)?;
    // The writer touches the hot ends of every index on each batch: a 32 MiB page cache keeps
    // them in memory. Checkpoints run on the background checkpointer (`checkpoint`); the
    // writer's own automatic checkpoint is only the bound on the WAL: at WAL_BOUND frames the
    // committing writer copies what the background thread has not, and the WAL starts over.
    // A WAL that grew past the bound once (a reader holding old frames) is cut back to
    // WAL_KEEP bytes when it restarts, not kept at its largest size.
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = {WAL_BOUND}; \
         PRAGMA journal_size_limit = {WAL_KEEP};"
    ))?;
    // WAL lets readers work beside the writer; the mode is persistent in the file.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(crate::error::Error::Unavailable(format!(
            "sqlite refused WAL mode (journal_mode is {mode})"
        )));
    }
    migrate(conn)
}

/// Frames (pages) the WAL may hold before the writer checkpoints itself: 64 MiB. The
/// background checkpointer keeps it far below this while it keeps up.
const WAL_BOUND: u32 = 16_384;

/// Bytes a restarted WAL file is truncated to.
const WAL_KEEP: u64 = 64 << 20;

/// Prepare the background checkpointer's connection: the common settings (its checkpoints
/// fsync the database file as `synchronous = FULL` says), and no automatic checkpoint of
/// its own (it never writes).
pub(crate) fn init_checkpointer(conn: &Connection) -> rusqlite::Result<()> {
    common(conn)
}

/// Prepare a pooled read connection.
pub(crate) fn init_reader(conn: &mut Connection) -> rusqlite::Result<()> {
    common(conn)
}

/// Apply every migration past `PRAGMA user_version`, one transaction each.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let target = i64::try_from(i + 1).unwrap_or(i64::MAX);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version >= target {
            continue;
        }
        tx.execute_batch(sql)?;
        // user_version is part of the database header, so it commits with the migration.
        tx.execute_batch(&format!("PRAGMA user_version = {target}"))?;
        tx.commit()?;
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX) {
        // Written by a newer rollcall: refuse rather than misread its tables.
        return Err(crate::error::Error::Unavailable(format!(
            "the database has schema version {version}, newer than this rollcall knows ({})",
            MIGRATIONS.len()
        )));
    }
    Ok(())
}

/// The schema version of an open database.
#[cfg(test)]
pub(crate) fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}
