//! The versioned schema and its migration at start-up.
//!
//! The schema is a list of migrations; the table `rollcall_migrations` records which versions
//! are applied. [`migrate`] runs in one transaction that first takes a transaction-scoped
//! advisory lock named after the `search_path`, then reads the applied versions and applies the
//! missing ones: nodes starting together queue on the lock and the later ones find nothing left
//! to do, a failed migration leaves nothing half-applied (PostgreSQL's DDL is transactional),
//! and reconnecting to an up-to-date database changes nothing.
//!
//! # Why the tables look like this
//! - Every integer is `BIGINT`: the model's `u32`s and `u64`s (all below `i64::MAX`) go in as
//!   `i64` without a range check on each row, and one type keeps the array parameters of the
//!   batched statements uniform.
//! - `sessions` has the primary key `(meeting_key, session_key)`: quits and state changes find
//!   their session by the platform's key, and its uniqueness backs the refusal of a second
//!   join. The listing reads `sessions_listing` on `(meeting_key, sub_key, join_time, seq)`:
//!   a page of get_attendee_list is one range of that index read in order from the keyset
//!   position, so a deep page costs what the first one does, with no sort and no OFFSET.
//!   `fillfactor = 80` leaves room on each page for the quit and state updates of its rows:
//!   they change no indexed column, so PostgreSQL can update them in place (HOT) without
//!   touching either index.
//! - `meetings.last_seq` is the per-meeting ingest counter. Ingest locks the meeting row
//!   (`FOR NO KEY UPDATE`) for its whole transaction and writes the counter in the same
//!   transaction as the sessions it numbers, so `seq` increases in commit order and a reader's
//!   snapshot of the counter always matches the rows it can see. A `SEQUENCE` would not: its
//!   values are handed out at insert time, not at commit.
//! - `applied_events` makes ingest idempotent across nodes: its primary key is the duplicate
//!   check, and a second node inserting the same `(meeting_key, event_id)` at the same time
//!   waits for the first to commit and then sees the conflict.
//! - `pending_events` keeps quits and state changes that arrived before their join; the body
//!   is `rollcall_core::ingest::Pending` as JSON, applied by the core rules when the join
//!   comes. `ord` (an identity) keeps their arrival order.
//! - The attendance tables carry no foreign keys: ingest checks (and locks) each meeting once
//!   per batch, and a foreign-key probe per row would only repeat that on the hottest path.
//!   The directory and sub-meetings, written rarely, do use them.
//! - `meetings.key` is an identity, so a key is never reused: sessions and cursors refer to
//!   meetings by key.
//! - `server_secret` holds at most one row (its key can only be `true`), so the first node's
//!   `INSERT … ON CONFLICT DO NOTHING` wins and every other node reads what it kept.
//! - Arrays (`users.departments`, `apps.visible_*`) are native arrays: they are read and
//!   written whole with the row, never searched.
//! - Migration 2 (the meeting calls): the details `meeting/create` and `meeting/update` set
//!   live on the meeting row (`invitees` a native array, `settings` / `reminders` JSON text,
//!   read and written whole), with the `cancelled` flag. `meeting_people` is the index behind
//!   `meeting/get_user_meetingid`: one row per member a meeting is listed for (administrator
//!   and invitees), keyed `(corpid, agentid, userid, span_start, meeting_key)` so that a page
//!   of one member's meetings is one range of the primary key in listing order; `span_end`
//!   filters the window's other side. It is rewritten with the meeting on every update, and
//!   backfilled from the administrators of meetings made before it existed.
//!   The backfill computes each span in SQL: that is the rule of
//!   `rollcall_core::model::span_start` / `span_end`, which every write since uses, written
//!   out once because a migration that has shipped stays as it ran (a store still at version
//!   1 upgrades through it). `migration_2_lists_earlier_meetings_for_their_administrators`
//!   checks the two agree.
//!   `meetings_by_code` finds an app's meeting by the code people type (`meeting/get_info`).
//! - Migration 3 (snapshots): `snapshots` and `snapshot_rows` hold named copies of every
//!   other table's rows as `jsonb`, inside the database, so every node sees them; the
//!   `snapshots` module explains why this shape (no DDL per snapshot).
//! - Migration 4 (callbacks, SPEC §11): an app's callback target lives on its row, three
//!   nullable columns (`callback_url`, `callback_token`, `callback_aes_key` as its 43
//!   characters), so every node on the database and every snapshot has it (a snapshot taken
//!   before the migration restores them as NULL: no callback). They are written from a
//!   validated `AppCallback` and validated again when read: a row that no longer validates
//!   is reported as corrupt.
//! - Migration 5 (the callback outbox, SPEC §11): `deliveries`, one row per event owed to an app's
//!   callback URL, written in the transaction of the change that causes it; `id` (an identity) is
//!   the order of writing. `head` marks the oldest pending row of each meeting (set when a row is
//!   written to an empty queue, handed on when the head finishes), so a claim reads
//!   `deliveries_due` (partial: pending heads, by due time) and costs what the due heads do, not
//!   the backlog: with 100,000 pending rows, computing the heads per claim (`min(id) GROUP BY
//!   meetingid`) took 61 ms over 1,000 meetings and 329 ms over 100,000; the head index: 1.4 ms.
//!   `deliveries_pending` (partial: pending rows by `(meetingid, id)`) finds a meeting's tail and
//!   next row; `deliveries_finished` (partial: finished rows by id) makes the history bound one
//!   range delete. `sessions_open` (partial: open sessions) lets ingest count a meeting's open
//!   sessions per sub-meeting for the presence transitions (`meeting_start` / `meeting_end`)
//!   without reading closed ones; it only holds open rows, and a quit leaves it, so it stays as
//!   small as the meetings in progress. The price: `quit_time` is now in an index predicate, so a
//!   quit is no longer a HOT update (state changes still are); one index entry per session, once.
//! - Migration 6 (the dedupe window): `applied_events.applied_at`, the server's clock when
//!   the record was made, and `applied_events_by_age` on it, so a prune batch is a range at
//!   the cold end of that index. Pruning deletes a batch chosen `FOR UPDATE SKIP LOCKED`, so
//!   nodes pruning at once take disjoint rows and never wait on each other.
//! - Migration 7 (get_info's aggregates, ARCHITECTURE.md "get_info from maintained
//!   aggregates"): `person_totals`, one row per person per view (sub-meeting key, 0, or -1
//!   for a recurring meeting as a whole), and `person_spans`, their closed sessions' spans
//!   merged, keyed by person and start so ingest reads only the spans a new one reaches.
//!   Ingest writes them under the meeting lock it already takes, so nodes never interleave
//!   on one person. Back-filled in SQL (gaps and islands), the rule of
//!   `rollcall_core::person_totals` written out once, for the live tables and for every
//!   saved snapshot's rows, so an older snapshot restores with its aggregates.
//! - Migration 8: `meetings_by_owner`, the app-scoped meeting lookup (issue 11.6).
//! - Migration 9 (the page cache's per-meeting stamp, `Store::meeting_stamp`):
//!   `meetings.changed`, drawn from the sequence `meeting_changes` by statement-level
//!   triggers on every insert or update of the meeting's sessions (whoever writes them),
//!   and for every meeting a restore brings back.

use crate::error::{get, Error, Result};

/// The migrations, in order; version `n` is `MIGRATIONS[n - 1]`. Never edit one that has
/// shipped: append a new one.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('directory_version', 0);

CREATE TABLE server_secret (
    id     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    secret BYTEA NOT NULL
);

CREATE TABLE corps (
    corpid TEXT PRIMARY KEY,
    name   TEXT NOT NULL
);

CREATE TABLE departments (
    corpid TEXT NOT NULL REFERENCES corps (corpid) ON DELETE CASCADE,
    id     BIGINT NOT NULL,
    name   TEXT NOT NULL,
    parent BIGINT NOT NULL,
    PRIMARY KEY (corpid, id)
);

CREATE TABLE users (
    corpid      TEXT NOT NULL REFERENCES corps (corpid) ON DELETE CASCADE,
    userid      TEXT NOT NULL,
    name        TEXT NOT NULL,
    departments BIGINT[] NOT NULL,
    PRIMARY KEY (corpid, userid)
);

CREATE TABLE apps (
    corpid              TEXT NOT NULL REFERENCES corps (corpid) ON DELETE CASCADE,
    agentid             BIGINT NOT NULL,
    name                TEXT NOT NULL,
    secret_hash         BYTEA NOT NULL,
    meeting_api         BOOLEAN NOT NULL,
    enabled             BOOLEAN NOT NULL,
    visible_departments BIGINT[] NOT NULL,
    visible_users       TEXT[] NOT NULL,
    PRIMARY KEY (corpid, agentid)
);

CREATE TABLE tokens (
    hash       BYTEA PRIMARY KEY,
    nonce      BYTEA NOT NULL,
    corpid     TEXT NOT NULL,
    agentid    BIGINT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_by_app ON tokens (corpid, agentid, expires_at);

CREATE TABLE meetings (
    key              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meetingid        TEXT NOT NULL UNIQUE,
    meeting_code     TEXT NOT NULL,
    corpid           TEXT NOT NULL,
    agentid          BIGINT NOT NULL,
    meeting_type     BIGINT NOT NULL,
    title            TEXT NOT NULL,
    meeting_start    BIGINT NOT NULL,
    meeting_duration BIGINT NOT NULL,
    admin_userid     TEXT,
    last_seq         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX meetings_by_app ON meetings (corpid, agentid, key);

CREATE TABLE sub_meetings (
    meeting_key   BIGINT NOT NULL REFERENCES meetings (key) ON DELETE CASCADE,
    key           BIGINT NOT NULL,
    sub_meetingid TEXT NOT NULL,
    start_time    BIGINT NOT NULL,
    end_time      BIGINT NOT NULL,
    PRIMARY KEY (meeting_key, key)
);

-- participant = (participant_kind, participant_id) via Participant::kind_code / from_parts.
CREATE TABLE sessions (
    meeting_key         BIGINT NOT NULL,
    session_key         TEXT NOT NULL,
    sub_key             BIGINT NOT NULL,
    join_time           BIGINT NOT NULL,
    seq                 BIGINT NOT NULL,
    participant_kind    BIGINT NOT NULL,
    participant_id      TEXT NOT NULL,
    quit_time           BIGINT,
    instance_id         BIGINT NOT NULL,
    role                BIGINT NOT NULL,
    webinar_role        BIGINT NOT NULL,
    join_type           BIGINT NOT NULL,
    net                 TEXT,
    audio_state         BOOLEAN NOT NULL,
    video_state         BOOLEAN NOT NULL,
    screen_shared_state BOOLEAN NOT NULL,
    customer_data       TEXT,
    state_at            BIGINT NOT NULL,
    PRIMARY KEY (meeting_key, session_key)
) WITH (fillfactor = 80);
CREATE UNIQUE INDEX sessions_listing ON sessions (meeting_key, sub_key, join_time, seq);

CREATE TABLE applied_events (
    meeting_key BIGINT NOT NULL,
    event_id    TEXT NOT NULL,
    PRIMARY KEY (meeting_key, event_id)
);

-- body: serde_json of rollcall_core::ingest::Pending; ord: arrival order.
CREATE TABLE pending_events (
    meeting_key BIGINT NOT NULL,
    session_key TEXT NOT NULL,
    ord         BIGINT GENERATED ALWAYS AS IDENTITY,
    body        TEXT NOT NULL,
    PRIMARY KEY (meeting_key, session_key, ord)
);
"#,
    r#"
-- settings / reminders: JSON objects as text (NULL: never given).
ALTER TABLE meetings
    ADD COLUMN description TEXT NOT NULL DEFAULT '',
    ADD COLUMN location    TEXT NOT NULL DEFAULT '',
    ADD COLUMN invitees    TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN settings    TEXT,
    ADD COLUMN reminders   TEXT,
    ADD COLUMN cancelled   BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE meeting_people (
    corpid      TEXT NOT NULL,
    agentid     BIGINT NOT NULL,
    userid      TEXT NOT NULL,
    span_start  BIGINT NOT NULL,
    meeting_key BIGINT NOT NULL REFERENCES meetings (key) ON DELETE CASCADE,
    span_end    BIGINT NOT NULL,
    PRIMARY KEY (corpid, agentid, userid, span_start, meeting_key)
);
CREATE INDEX meeting_people_by_meeting ON meeting_people (meeting_key);
CREATE INDEX meetings_by_code ON meetings (corpid, agentid, meeting_code, key);

INSERT INTO meeting_people (corpid, agentid, userid, span_start, meeting_key, span_end)
SELECT m.corpid, m.agentid, m.admin_userid,
       LEAST(m.meeting_start, COALESCE(
           (SELECT min(s.start_time) FROM sub_meetings s WHERE s.meeting_key = m.key),
           m.meeting_start)),
       m.key,
       GREATEST(m.meeting_start + m.meeting_duration, COALESCE(
           (SELECT max(s.end_time) FROM sub_meetings s WHERE s.meeting_key = m.key),
           m.meeting_start + m.meeting_duration))
FROM meetings m WHERE m.admin_userid IS NOT NULL;
"#,
    r#"
-- Named snapshots (SPEC §9): see the `snapshots` module.
CREATE TABLE snapshots (
    name       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    meetings   BIGINT NOT NULL,
    sessions   BIGINT NOT NULL
);
-- tbl: the table a row belongs to; row: to_jsonb of it.
CREATE TABLE snapshot_rows (
    name TEXT NOT NULL REFERENCES snapshots (name) ON DELETE CASCADE,
    tbl  TEXT NOT NULL,
    row  JSONB NOT NULL
);
CREATE INDEX snapshot_rows_by_table ON snapshot_rows (name, tbl);
"#,
    r#"
-- An app's callback target (SPEC §11): all three or none; the key as its 43 characters.
ALTER TABLE apps
    ADD COLUMN callback_url     TEXT,
    ADD COLUMN callback_token   TEXT,
    ADD COLUMN callback_aes_key TEXT;
"#,
    r#"
-- The callback outbox (SPEC §11). state: DeliveryState::code (0 pending, 1 delivered,
-- 2 failed); next_attempt_at / lease_until: unix ms; create_time / finished_at: unix s.
-- head: on the oldest pending row of its meeting (the only one a claim may take).
CREATE TABLE deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    corpid          TEXT NOT NULL,
    agentid         BIGINT NOT NULL,
    meetingid       TEXT NOT NULL,
    change_type     TEXT NOT NULL,
    from_user       TEXT NOT NULL,
    create_time     BIGINT NOT NULL,
    state           BIGINT NOT NULL DEFAULT 0,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    last_status     BIGINT,
    last_error      TEXT,
    finished_at     BIGINT,
    head            BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX deliveries_pending ON deliveries (meetingid, id) WHERE state = 0;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state = 0 AND head;
CREATE INDEX deliveries_finished ON deliveries (id) WHERE state <> 0;
CREATE INDEX sessions_open ON sessions (meeting_key, sub_key) WHERE quit_time IS NULL;
"#,
    r#"
-- The dedupe window (ARCHITECTURE.md, "The dedupe window"): when each record was applied, by
-- the server's clock. Records from before this migration count as applied at 0 and go in
-- the first prune; a constant default rewrites no row. Snapshots taken before it get the
-- same value, so they restore into the NOT NULL column.
ALTER TABLE applied_events ADD COLUMN applied_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX applied_events_by_age ON applied_events (applied_at);
UPDATE snapshot_rows SET row = row || '{"applied_at": 0}'::jsonb
    WHERE tbl = 'applied_events' AND NOT row ? 'applied_at';
"#,
    r#"
-- get_info's per-person aggregates, maintained at ingest (rollcall_core::person_totals).
-- sub_key: the view (a sub-meeting key, 0 for a meeting that is not recurring, -1 for a
-- recurring meeting as a whole). last_quit: of the closed sessions; closed_secs: the length
-- of the union of their spans, which person_spans holds merged (disjoint, a gap between any
-- two).
CREATE TABLE person_totals (
    meeting_key      BIGINT NOT NULL,
    sub_key          BIGINT NOT NULL,
    participant_kind BIGINT NOT NULL,
    participant_id   TEXT NOT NULL,
    first_join       BIGINT NOT NULL,
    joins            BIGINT NOT NULL,
    last_quit        BIGINT,
    closed_secs      BIGINT NOT NULL,
    PRIMARY KEY (meeting_key, sub_key, participant_kind, participant_id)
);
CREATE TABLE person_spans (
    meeting_key      BIGINT NOT NULL,
    sub_key          BIGINT NOT NULL,
    participant_kind BIGINT NOT NULL,
    participant_id   TEXT NOT NULL,
    span_start       BIGINT NOT NULL,
    span_end         BIGINT NOT NULL,
    PRIMARY KEY (meeting_key, sub_key, participant_kind, participant_id, span_start)
);

-- The back-fill, of the live tables and of every saved snapshot (whose rows restore into
-- these tables): closed spans merged as gaps and islands (a span starts an island when it
-- starts after every earlier span of the person ended; back to back is one island, as
-- rollcall_core::person_totals merges), then the totals.
WITH src AS (
    SELECT ''::text AS name, meeting_key, sub_key, participant_kind, participant_id,
        join_time, quit_time
    FROM sessions
    UNION ALL
    SELECT r.name, s.meeting_key, s.sub_key, s.participant_kind, s.participant_id,
        s.join_time, s.quit_time
    FROM snapshot_rows r CROSS JOIN LATERAL jsonb_populate_record(NULL::sessions, r.row) s
    WHERE r.tbl = 'sessions'
), v AS (
    SELECT * FROM src
    UNION ALL
    SELECT name, meeting_key, -1, participant_kind, participant_id, join_time, quit_time
    FROM src WHERE sub_key <> 0
), closed AS (
    SELECT *, max(quit_time) OVER (
        PARTITION BY name, meeting_key, sub_key, participant_kind, participant_id
        ORDER BY join_time, quit_time ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS reach
    FROM v WHERE quit_time > join_time
), islands AS (
    SELECT *, sum(CASE WHEN reach IS NULL OR join_time > reach THEN 1 ELSE 0 END) OVER (
        PARTITION BY name, meeting_key, sub_key, participant_kind, participant_id
        ORDER BY join_time, quit_time ROWS UNBOUNDED PRECEDING
    ) AS island
    FROM closed
), spans AS (
    SELECT name, meeting_key, sub_key, participant_kind, participant_id,
        min(join_time) AS span_start, max(quit_time) AS span_end
    FROM islands GROUP BY name, meeting_key, sub_key, participant_kind, participant_id, island
), secs AS (
    SELECT name, meeting_key, sub_key, participant_kind, participant_id,
        sum(span_end - span_start) AS closed_secs
    FROM spans GROUP BY name, meeting_key, sub_key, participant_kind, participant_id
), totals AS (
    SELECT v.name, v.meeting_key, v.sub_key, v.participant_kind, v.participant_id,
        min(v.join_time) AS first_join, count(*) AS joins, max(v.quit_time) AS last_quit,
        coalesce(min(secs.closed_secs), 0)::bigint AS closed_secs
    FROM v LEFT JOIN secs USING (name, meeting_key, sub_key, participant_kind, participant_id)
    GROUP BY v.name, v.meeting_key, v.sub_key, v.participant_kind, v.participant_id
), live_spans AS (
    INSERT INTO person_spans (meeting_key, sub_key, participant_kind, participant_id,
        span_start, span_end)
    SELECT meeting_key, sub_key, participant_kind, participant_id, span_start, span_end
    FROM spans WHERE name = ''
), live_totals AS (
    INSERT INTO person_totals (meeting_key, sub_key, participant_kind, participant_id,
        first_join, joins, last_quit, closed_secs)
    SELECT meeting_key, sub_key, participant_kind, participant_id, first_join, joins,
        last_quit, closed_secs
    FROM totals WHERE name = ''
), saved_spans AS (
    INSERT INTO snapshot_rows (name, tbl, row)
    SELECT name, 'person_spans', to_jsonb(x) - 'name' FROM spans x WHERE name <> ''
)
INSERT INTO snapshot_rows (name, tbl, row)
SELECT name, 'person_totals', to_jsonb(x) - 'name' FROM totals x WHERE name <> '';
"#,
    r#"
-- A meeting the meeting calls look up is scoped to the calling app (Store::owned_meeting):
-- one probe of this index, which finds nothing for another app's meeting exactly as for an
-- unknown id, so the two cost the same (issue 11.6).
CREATE INDEX meetings_by_owner ON meetings (meetingid, corpid, agentid);
"#,
    r#"
-- The page cache's per-meeting change stamp (Store::meeting_stamp, issue 11.1): drawn from one
-- sequence by every statement that inserts or updates the meeting's sessions, and for every
-- meeting a restore brings back (snapshots::restore), so a value never stands for two states
-- of a meeting. Triggers, not the ingest code, draw it: a node of an older build still
-- running during an upgrade, or a hand-written fix, moves it all the same. One UPDATE per
-- statement (transition tables), not per row. The sequence is no identity: a reset does not
-- restart it. Snapshots taken before this migration get a value too, so they restore into
-- the NOT NULL column (and are drawn anew).
CREATE SEQUENCE meeting_changes;
ALTER TABLE meetings ADD COLUMN changed BIGINT NOT NULL DEFAULT nextval('meeting_changes');
UPDATE snapshot_rows SET row = row || '{"changed": 0}'::jsonb
    WHERE tbl = 'meetings' AND NOT row ? 'changed';
CREATE FUNCTION sessions_changed() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $f$
BEGIN
    UPDATE meetings SET changed = nextval('meeting_changes')
    WHERE key IN (SELECT DISTINCT meeting_key FROM written);
    RETURN NULL;
END
$f$;
CREATE TRIGGER sessions_inserted AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION sessions_changed();
CREATE TRIGGER sessions_updated AFTER UPDATE ON sessions
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION sessions_changed();
"#,
];

/// Is `name` a schema name that needs no quoting (and so cannot inject anything)?
pub(crate) fn check_identifier(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && name.len() <= 63 {
        Ok(())
    } else {
        Err(Error::Unavailable(format!(
            "invalid schema name {name:?}: use lowercase ASCII letters, digits and _ \
             (not starting with a digit), at most 63 bytes"
        )))
    }
}

/// Create `schema` if given, then apply every migration not yet applied, in one transaction
/// under an advisory lock (see the module documentation).
pub(crate) async fn migrate(c: &mut deadpool_postgres::Object, schema: Option<&str>) -> Result<()> {
    let tx = c.transaction().await?;
    // Keyed by the search_path, so stores in different schemas of one database do not wait
    // for each other, while nodes sharing a schema do.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('rollcall/migrate/' || \
         current_setting('search_path'), 0))",
        &[],
    )
    .await?;
    if let Some(schema) = schema {
        check_identifier(schema)?;
        // Looked up first: a schema created beforehand by an administrator needs no CREATE
        // privilege on the database, which `CREATE SCHEMA IF NOT EXISTS` would check anyway.
        let exists = tx
            .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
            .await?
            .is_some();
        if !exists {
            tx.batch_execute(&format!("CREATE SCHEMA {schema}")).await?;
        }
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS rollcall_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM rollcall_migrations",
            &[],
        )
        .await?;
    let applied: i64 = get(&row, 0)?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if applied > known {
        // Written by a newer rollcall: refuse rather than misread its tables.
        return Err(Error::Unavailable(format!(
            "the database has schema version {applied}, newer than this rollcall knows ({known})"
        )));
    }
    for (version, sql) in (1_i64..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(applied).unwrap_or(0))
    {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO rollcall_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await?;
        tracing::info!(version, "applied PostgreSQL schema migration");
    }
    tx.commit().await?;
    Ok(())
}

/// The schema version of the connected database.
#[cfg(test)]
pub(crate) async fn version(c: &deadpool_postgres::Object) -> Result<i64> {
    let row = c
        .query_one(
            "SELECT coalesce(max(version), 0) FROM rollcall_migrations",
            &[],
        )
        .await?;
    get(&row, 0)
}
