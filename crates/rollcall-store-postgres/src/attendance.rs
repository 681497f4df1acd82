//! Attendance: batched ingest of join / quit / state events, and keyset scans of sessions.
//!
//! # Ingest
//! A batch is one transaction, with the outcome of each event exactly what applying the events
//! one by one would give (the embedded store does just that). Per-event round trips would cap
//! a remote database at a few thousand events a second, so the batch costs a fixed number of
//! round trips whatever its size:
//! 1. **Lock** the batch's meetings: `SELECT … FOR NO KEY UPDATE` in key order (a consistent
//!    order, so two batches touching the same meetings cannot deadlock). This returns each
//!    meeting's `last_seq`, and an absent row means "unknown meeting". The lock is held to
//!    commit, so every writer of a meeting, on any node, takes its turn here.
//! 2. **Load**, in one pipelined round trip, what the batch can touch: the `applied_events`
//!    among its event ids, the stored sessions among its session keys, and the pending events
//!    of the sessions it joins. Taken after the lock, these reads see everything the previous
//!    holder committed.
//! 3. **Apply** the events in order, in memory, with the rules of `rollcall_core::session`:
//!    duplicates (stored, or earlier in the batch) change nothing, a rejected event is not
//!    recorded, a join takes the next `seq` and the pending events parked for its session,
//!    a quit / state changes a known session or is parked until its join.
//! 4. **Write**, in one pipelined round trip, multi-row statements over `UNNEST`ed arrays:
//!    the applied event ids, the new sessions, the changed sessions, the consumed and the
//!    newly parked pending events, and the meetings' new `last_seq`. Then commit.
//!
//! Why this is right across nodes: the meeting lock serializes all ingest of a meeting, so the
//! in-memory application in step 3 starts from the committed state. `seq` is assigned under
//! that lock and written with the sessions it numbers, so it increases strictly in commit
//! order: a reader that saw `last_seq = n` can never later see a new session with
//! `seq <= n`, which is what makes a cursor's snapshot complete. The primary key of
//! `applied_events` (inserted with `ON CONFLICT DO NOTHING`, its count checked) backs the
//! de-duplication on its own should anything ever write without the lock.
//!
//! # Scans
//! `sessions_listing` on `(meeting_key, sub_key, join_time, seq)` serves a page as one index
//! range read in order from the keyset position: the depth of the page does not matter.

use std::collections::{HashMap, HashSet};

use futures::future::try_join_all;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use rollcall_core::ingest::{EventKind, Outcome, Pending, ResolvedEvent};
use rollcall_core::model::{Participant, SessionRow, SessionScan};
use rollcall_core::session;

use crate::error::{clamp, get, get_u32, get_u64, Error, Result};

type Client = deadpool_postgres::Object;

/// The columns [`session_row`] decodes, in its order (from a given offset).
macro_rules! session_cols {
    () => {
        "seq, session_key, sub_key, participant_kind, participant_id, join_time, quit_time, \
         instance_id, role, webinar_role, join_type, net, audio_state, video_state, \
         screen_shared_state, customer_data, state_at"
    };
}

/// The keyset scan of one page. The row-value comparison on `(join_time, seq)` continues
/// after the last row returned; with the equalities on the leading columns of
/// `sessions_listing` it bounds one range of that index, read in order (no sort, no OFFSET).
pub(crate) const SCAN_SQL: &str = concat!(
    "SELECT ",
    session_cols!(),
    " FROM sessions \
     WHERE meeting_key = $1 AND sub_key = $2 AND (join_time, seq) > ($3, $4) \
     AND join_time <= $5 AND seq > $6 AND seq <= $7 \
     ORDER BY join_time, seq LIMIT $8"
);

const LOCK_SQL: &str = "SELECT key, last_seq FROM meetings WHERE key = ANY($1) \
     ORDER BY key FOR NO KEY UPDATE";

// The loads probe the primary keys once per `(meeting, key)` pair of the batch. The
// `LATERAL (… OFFSET 0)` keeps each probe a parameterized index lookup whatever the plan
// cache decides: written as `meeting_key = ANY($1) AND key = ANY($2)`, PostgreSQL's generic
// plan scans the meeting's whole range of the index and filters it against the array (a
// linear search per row), which grows with the meeting, not the batch.

const LOAD_APPLIED_SQL: &str = "SELECT u.m, u.e FROM UNNEST($1::bigint[], $2::text[]) AS u(m, e) \
     CROSS JOIN LATERAL (SELECT 1 FROM applied_events a \
     WHERE a.meeting_key = u.m AND a.event_id = u.e OFFSET 0) AS found";

const LOAD_SESSIONS_SQL: &str = concat!(
    "SELECT u.m, s.* FROM UNNEST($1::bigint[], $2::text[]) AS u(m, k) \
     CROSS JOIN LATERAL (SELECT ",
    session_cols!(),
    " FROM sessions WHERE meeting_key = u.m AND session_key = u.k OFFSET 0) AS s"
);

const LOAD_PENDING_SQL: &str = "SELECT u.m, u.k, p.ord, p.body \
     FROM UNNEST($1::bigint[], $2::text[]) AS u(m, k) \
     CROSS JOIN LATERAL (SELECT ord, body FROM pending_events \
     WHERE meeting_key = u.m AND session_key = u.k OFFSET 0) AS p";

const INSERT_APPLIED_SQL: &str = "INSERT INTO applied_events (meeting_key, event_id) \
     SELECT * FROM UNNEST($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING";

const INSERT_SESSIONS_SQL: &str = "INSERT INTO sessions (meeting_key, session_key, sub_key, \
     join_time, seq, participant_kind, participant_id, quit_time, instance_id, role, \
     webinar_role, join_type, net, audio_state, video_state, screen_shared_state, \
     customer_data, state_at) \
     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], \
     $6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], \
     $12::bigint[], $13::text[], $14::boolean[], $15::boolean[], $16::boolean[], $17::text[], \
     $18::bigint[])";

/// Writes back what quit / state may change.
const UPDATE_SESSIONS_SQL: &str = "UPDATE sessions AS s SET quit_time = u.quit_time, \
     net = u.net, audio_state = u.audio_state, video_state = u.video_state, \
     screen_shared_state = u.screen_shared_state, state_at = u.state_at \
     FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::boolean[], \
     $6::boolean[], $7::boolean[], $8::bigint[]) \
     AS u(meeting_key, session_key, quit_time, net, audio_state, video_state, \
     screen_shared_state, state_at) \
     WHERE s.meeting_key = u.meeting_key AND s.session_key = u.session_key";

const DELETE_PENDING_SQL: &str = "DELETE FROM pending_events AS p \
     USING UNNEST($1::bigint[], $2::text[]) AS u(meeting_key, session_key) \
     WHERE p.meeting_key = u.meeting_key AND p.session_key = u.session_key";

/// `ORDER BY n`: the identity `ord` is drawn in arrival order.
const INSERT_PENDING_SQL: &str = "INSERT INTO pending_events (meeting_key, session_key, body) \
     SELECT m, k, b FROM UNNEST($1::bigint[], $2::text[], $3::text[]) \
     WITH ORDINALITY AS u(m, k, b, n) ORDER BY n";

const UPDATE_SEQ_SQL: &str = "UPDATE meetings AS m SET last_seq = u.last_seq \
     FROM UNNEST($1::bigint[], $2::bigint[]) AS u(key, last_seq) WHERE m.key = u.key";

/// A session row whose columns (as `session_cols!()`) start at `at`.
fn session_row(r: &Row, at: usize) -> Result<SessionRow> {
    let kind: i64 = get(r, at + 3)?;
    let id: String = get(r, at + 4)?;
    let participant = Participant::from_parts(kind, id)
        .ok_or_else(|| Error::Corrupt(format!("unknown participant kind {kind}")))?;
    Ok(SessionRow {
        seq: get_u64(r, at, "seq")?,
        session_key: get(r, at + 1)?,
        sub_key: get(r, at + 2)?,
        participant,
        join_time: get(r, at + 5)?,
        quit_time: get(r, at + 6)?,
        instance_id: get_u32(r, at + 7, "instance_id")?,
        role: get_u32(r, at + 8, "role")?,
        webinar_role: get_u32(r, at + 9, "webinar_role")?,
        join_type: get_u32(r, at + 10, "join_type")?,
        net: get(r, at + 11)?,
        audio_state: get(r, at + 12)?,
        video_state: get(r, at + 13)?,
        screen_shared_state: get(r, at + 14)?,
        customer_data: get(r, at + 15)?,
        state_at: get(r, at + 16)?,
    })
}

pub(crate) async fn scan(c: &mut Client, scan: &SessionScan) -> Result<Vec<SessionRow>> {
    if scan.limit == 0 || scan.seq_lo >= scan.seq_hi {
        return Ok(Vec::new());
    }
    let st = c.prepare_cached(SCAN_SQL).await?;
    let limit = i64::from(scan.limit);
    let rows = c
        .query(
            &st,
            &[
                &scan.meeting_key,
                &scan.sub_key,
                &scan.after.0,
                &clamp(scan.after.1),
                &scan.join_max,
                &clamp(scan.seq_lo),
                &clamp(scan.seq_hi),
                &limit,
            ],
        )
        .await?;
    rows.iter().map(|r| session_row(r, 0)).collect()
}

/// The committed counter: a snapshot whose sessions are all visible to any later statement.
pub(crate) async fn last_seq(c: &mut Client, meeting_key: i64) -> Result<u64> {
    let st = c
        .prepare_cached("SELECT last_seq FROM meetings WHERE key = $1")
        .await?;
    match c.query_opt(&st, &[&meeting_key]).await? {
        Some(r) => get_u64(&r, 0, "last_seq"),
        None => Ok(0),
    }
}

/// A meeting's `seq` counter within one batch.
struct Counter {
    /// `last_seq` as committed when the batch locked the meeting.
    start: u64,
    last: u64,
}

/// A session the batch knows of: stored before it (rewritten when `dirty`), or joined in it.
enum Known {
    Stored { row: SessionRow, dirty: bool },
    New(SessionRow),
}

/// Quits and states waiting for a session's join.
#[derive(Default)]
struct Parked {
    /// Some are stored: a join in this batch must delete them.
    stored: bool,
    /// Oldest first: the stored ones, then this batch's from `fresh_from` on.
    items: Vec<Pending>,
    fresh_from: usize,
}

/// `(meeting_key, key)`, borrowing the key from the batch's events.
type Key<'a> = (i64, &'a str);

/// Run `st` unless there is nothing to ask for.
async fn query_unless_empty(
    tx: &deadpool_postgres::Transaction<'_>,
    st: &tokio_postgres::Statement,
    params: &[&(dyn ToSql + Sync)],
    empty: bool,
) -> std::result::Result<Vec<Row>, tokio_postgres::Error> {
    if empty {
        Ok(Vec::new())
    } else {
        tx.query(st, params).await
    }
}

/// What the batch found stored, for the meetings it could lock.
struct Loaded<'a> {
    applied: HashSet<Key<'a>>,
    sessions: HashMap<Key<'a>, Known>,
    parked: HashMap<Key<'a>, Parked>,
}

pub(crate) async fn ingest(c: &mut Client, events: &[ResolvedEvent]) -> Result<Vec<Outcome>> {
    let tx = c.transaction().await?;
    let (lock_st, applied_st, sessions_st, pending_st) = tokio::try_join!(
        tx.prepare_cached(LOCK_SQL),
        tx.prepare_cached(LOAD_APPLIED_SQL),
        tx.prepare_cached(LOAD_SESSIONS_SQL),
        tx.prepare_cached(LOAD_PENDING_SQL),
    )?;

    // 1. Lock.
    let mut keys: Vec<i64> = events.iter().map(|e| e.meeting_key).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut counters: HashMap<i64, Counter> = HashMap::new();
    for r in tx.query(&lock_st, &[&keys]).await? {
        let last = get_u64(&r, 1, "last_seq")?;
        counters.insert(get(&r, 0)?, Counter { start: last, last });
    }

    // 2. Load: exactly the (meeting, key) pairs the batch names, for the meetings it locked.
    let mut ids: HashSet<Key<'_>> = HashSet::new();
    let mut touched: HashSet<Key<'_>> = HashSet::new();
    let mut joined: HashSet<Key<'_>> = HashSet::new();
    for ev in events
        .iter()
        .filter(|e| counters.contains_key(&e.meeting_key))
    {
        let session = (ev.meeting_key, ev.event.session.as_str());
        ids.insert((ev.meeting_key, ev.event.event_id.as_str()));
        touched.insert(session);
        if matches!(ev.event.kind, EventKind::Join(_)) {
            joined.insert(session);
        }
    }
    let (ids_mk, ids_id): (Vec<i64>, Vec<&str>) = ids.iter().copied().unzip();
    let (touched_mk, touched_sk): (Vec<i64>, Vec<&str>) = touched.iter().copied().unzip();
    let (joined_mk, joined_sk): (Vec<i64>, Vec<&str>) = joined.iter().copied().unzip();
    let applied_params: [&(dyn ToSql + Sync); 2] = [&ids_mk, &ids_id];
    let sessions_params: [&(dyn ToSql + Sync); 2] = [&touched_mk, &touched_sk];
    let pending_params: [&(dyn ToSql + Sync); 2] = [&joined_mk, &joined_sk];
    let (applied_rows, session_rows, pending_rows) = tokio::try_join!(
        query_unless_empty(&tx, &applied_st, &applied_params, ids.is_empty()),
        query_unless_empty(&tx, &sessions_st, &sessions_params, touched.is_empty()),
        query_unless_empty(&tx, &pending_st, &pending_params, joined.is_empty()),
    )?;
    let mut loaded = Loaded {
        applied: HashSet::new(),
        sessions: HashMap::new(),
        parked: HashMap::new(),
    };
    // Keys are borrowed from the batch's events: look each returned one up in what was asked.
    for r in &applied_rows {
        let (mk, id): (i64, &str) = (get(r, 0)?, get(r, 1)?);
        if let Some(&key) = ids.get(&(mk, id)) {
            loaded.applied.insert(key);
        }
    }
    for r in &session_rows {
        // Column 2 is the row's session_key (`session_cols!()` from column 1).
        let (mk, sk): (i64, &str) = (get(r, 0)?, get(r, 2)?);
        if let Some(&key) = touched.get(&(mk, sk)) {
            let row = session_row(r, 1)?;
            loaded
                .sessions
                .insert(key, Known::Stored { row, dirty: false });
        }
    }
    let mut pending: Vec<(Key<'_>, i64, Pending)> = Vec::with_capacity(pending_rows.len());
    for r in &pending_rows {
        let (mk, sk): (i64, &str) = (get(r, 0)?, get(r, 1)?);
        if let Some(&key) = joined.get(&(mk, sk)) {
            pending.push((key, get(r, 2)?, serde_json::from_str(get(r, 3)?)?));
        }
    }
    // Arrival order within each session.
    pending.sort_by_key(|p| p.1);
    for (key, _, p) in pending {
        let parked = loaded.parked.entry(key).or_default();
        parked.stored = true;
        parked.items.push(p);
        parked.fresh_from = parked.items.len();
    }

    // 3. Apply.
    let mut out = Vec::with_capacity(events.len());
    let mut recorded: Vec<Key<'_>> = Vec::new();
    let mut new_sessions: Vec<Key<'_>> = Vec::new();
    let mut consumed: Vec<Key<'_>> = Vec::new();
    for ev in events {
        let Some(counter) = counters.get_mut(&ev.meeting_key) else {
            out.push(Outcome::Rejected("unknown meeting".into()));
            continue;
        };
        let id = (ev.meeting_key, ev.event.event_id.as_str());
        if loaded.applied.contains(&id) {
            out.push(Outcome::Duplicate);
            continue;
        }
        let outcome = apply(ev, counter, &mut loaded, &mut new_sessions, &mut consumed)?;
        if outcome == Outcome::Accepted {
            loaded.applied.insert(id);
            recorded.push(id);
        }
        out.push(outcome);
    }

    // 4. Write.
    write(&tx, &recorded, &new_sessions, &consumed, &loaded, &counters).await?;
    tx.commit().await?;
    Ok(out)
}

/// Apply one new (not duplicate) event to a known meeting, in memory.
fn apply<'a>(
    ev: &'a ResolvedEvent,
    counter: &mut Counter,
    loaded: &mut Loaded<'a>,
    new_sessions: &mut Vec<Key<'a>>,
    consumed: &mut Vec<Key<'a>>,
) -> Result<Outcome> {
    let e = &ev.event;
    let key = (ev.meeting_key, e.session.as_str());
    match &e.kind {
        EventKind::Join(join) => {
            // Session keys are unique per meeting, across its sub-meetings.
            if loaded.sessions.contains_key(&key) {
                return Ok(Outcome::Rejected(format!(
                    "session {:?} already joined",
                    e.session
                )));
            }
            let seq = counter.last.saturating_add(1);
            counter.last = seq;
            let mut row = session::start(seq, ev.sub_key, &e.session, e.at, join);
            if let Some(parked) = loaded.parked.remove(&key) {
                if parked.stored {
                    consumed.push(key);
                }
                if !parked.items.is_empty() {
                    session::apply_pending(&mut row, parked.items);
                }
            }
            loaded.sessions.insert(key, Known::New(row));
            new_sessions.push(key);
            Ok(Outcome::Accepted)
        }
        EventKind::Quit | EventKind::State(_) => {
            let Some(known) = loaded.sessions.get_mut(&key) else {
                let pending = match &e.kind {
                    EventKind::State(patch) => Pending::State {
                        at: e.at,
                        patch: patch.clone(),
                    },
                    _ => Pending::Quit { at: e.at },
                };
                loaded.parked.entry(key).or_default().items.push(pending);
                return Ok(Outcome::Accepted);
            };
            let (row, dirty) = match known {
                Known::Stored { row, dirty } => (row, Some(dirty)),
                Known::New(row) => (row, None),
            };
            let before = (
                row.quit_time,
                row.state_at,
                row.audio_state,
                row.video_state,
                row.screen_shared_state,
            );
            let net_before = row.net.clone();
            match &e.kind {
                EventKind::State(patch) => session::state(row, e.at, patch),
                _ => {
                    if let Err(reason) = session::quit(row, e.at) {
                        return Ok(Outcome::Rejected(reason));
                    }
                }
            }
            let after = (
                row.quit_time,
                row.state_at,
                row.audio_state,
                row.video_state,
                row.screen_shared_state,
            );
            if let Some(dirty) = dirty {
                *dirty |= before != after || net_before != row.net;
            }
            Ok(Outcome::Accepted)
        }
    }
}

/// New sessions as the columns of `INSERT_SESSIONS_SQL`.
#[derive(Default)]
struct NewCols<'r> {
    meeting_key: Vec<i64>,
    session_key: Vec<&'r str>,
    sub_key: Vec<i64>,
    join_time: Vec<i64>,
    seq: Vec<i64>,
    participant_kind: Vec<i64>,
    participant_id: Vec<&'r str>,
    quit_time: Vec<Option<i64>>,
    instance_id: Vec<i64>,
    role: Vec<i64>,
    webinar_role: Vec<i64>,
    join_type: Vec<i64>,
    net: Vec<Option<&'r str>>,
    audio_state: Vec<bool>,
    video_state: Vec<bool>,
    screen_shared_state: Vec<bool>,
    customer_data: Vec<Option<&'r str>>,
    state_at: Vec<i64>,
}

impl<'r> NewCols<'r> {
    fn push(&mut self, meeting_key: i64, r: &'r SessionRow) {
        self.meeting_key.push(meeting_key);
        self.session_key.push(&r.session_key);
        self.sub_key.push(r.sub_key);
        self.join_time.push(r.join_time);
        self.seq.push(clamp(r.seq));
        self.participant_kind.push(r.participant.kind_code());
        self.participant_id.push(r.participant.id());
        self.quit_time.push(r.quit_time);
        self.instance_id.push(i64::from(r.instance_id));
        self.role.push(i64::from(r.role));
        self.webinar_role.push(i64::from(r.webinar_role));
        self.join_type.push(i64::from(r.join_type));
        self.net.push(r.net.as_deref());
        self.audio_state.push(r.audio_state);
        self.video_state.push(r.video_state);
        self.screen_shared_state.push(r.screen_shared_state);
        self.customer_data.push(r.customer_data.as_deref());
        self.state_at.push(r.state_at);
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 18] {
        [
            &self.meeting_key,
            &self.session_key,
            &self.sub_key,
            &self.join_time,
            &self.seq,
            &self.participant_kind,
            &self.participant_id,
            &self.quit_time,
            &self.instance_id,
            &self.role,
            &self.webinar_role,
            &self.join_type,
            &self.net,
            &self.audio_state,
            &self.video_state,
            &self.screen_shared_state,
            &self.customer_data,
            &self.state_at,
        ]
    }
}

/// Changed stored sessions as the columns of `UPDATE_SESSIONS_SQL`.
#[derive(Default)]
struct ChangedCols<'r> {
    meeting_key: Vec<i64>,
    session_key: Vec<&'r str>,
    quit_time: Vec<Option<i64>>,
    net: Vec<Option<&'r str>>,
    audio_state: Vec<bool>,
    video_state: Vec<bool>,
    screen_shared_state: Vec<bool>,
    state_at: Vec<i64>,
}

impl<'r> ChangedCols<'r> {
    fn push(&mut self, meeting_key: i64, r: &'r SessionRow) {
        self.meeting_key.push(meeting_key);
        self.session_key.push(&r.session_key);
        self.quit_time.push(r.quit_time);
        self.net.push(r.net.as_deref());
        self.audio_state.push(r.audio_state);
        self.video_state.push(r.video_state);
        self.screen_shared_state.push(r.screen_shared_state);
        self.state_at.push(r.state_at);
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.meeting_key,
            &self.session_key,
            &self.quit_time,
            &self.net,
            &self.audio_state,
            &self.video_state,
            &self.screen_shared_state,
            &self.state_at,
        ]
    }
}

/// Step 4: every write of the batch, sent at once (the statements touch disjoint rows, so
/// their order does not matter), then the applied count checked.
async fn write(
    tx: &deadpool_postgres::Transaction<'_>,
    recorded: &[Key<'_>],
    new_sessions: &[Key<'_>],
    consumed: &[Key<'_>],
    loaded: &Loaded<'_>,
    counters: &HashMap<i64, Counter>,
) -> Result<()> {
    if recorded.is_empty() {
        // Nothing accepted: nothing changed (rejections and duplicates leave no trace).
        return Ok(());
    }
    let applied_mk: Vec<i64> = recorded.iter().map(|k| k.0).collect();
    let applied_id: Vec<&str> = recorded.iter().map(|k| k.1).collect();

    let mut new_cols = NewCols::default();
    for key in new_sessions {
        if let Some(Known::New(row)) = loaded.sessions.get(key) {
            new_cols.push(key.0, row);
        }
    }
    let mut changed = ChangedCols::default();
    for (key, known) in &loaded.sessions {
        if let Known::Stored { row, dirty: true } = known {
            changed.push(key.0, row);
        }
    }
    let consumed_mk: Vec<i64> = consumed.iter().map(|k| k.0).collect();
    let consumed_sk: Vec<&str> = consumed.iter().map(|k| k.1).collect();
    // Parked in this batch and still waiting: each session's in arrival order, so its `ord`
    // (drawn in array order) follows arrival.
    let mut parked_mk = Vec::new();
    let mut parked_sk = Vec::new();
    let mut parked_body = Vec::new();
    for (key, parked) in &loaded.parked {
        for p in &parked.items[parked.fresh_from..] {
            parked_mk.push(key.0);
            parked_sk.push(key.1);
            parked_body.push(serde_json::to_string(p)?);
        }
    }
    let (seq_mk, seq_last): (Vec<i64>, Vec<i64>) = counters
        .iter()
        .filter(|(_, c)| c.last != c.start)
        .map(|(k, c)| (*k, clamp(c.last)))
        .unzip();

    let new_params = new_cols.params();
    let changed_params = changed.params();
    let mut writes: Vec<(&str, Vec<&(dyn ToSql + Sync)>)> =
        vec![(INSERT_APPLIED_SQL, vec![&applied_mk, &applied_id])];
    if !new_cols.meeting_key.is_empty() {
        writes.push((INSERT_SESSIONS_SQL, new_params.to_vec()));
    }
    if !changed.meeting_key.is_empty() {
        writes.push((UPDATE_SESSIONS_SQL, changed_params.to_vec()));
    }
    if !consumed_mk.is_empty() {
        writes.push((DELETE_PENDING_SQL, vec![&consumed_mk, &consumed_sk]));
    }
    if !parked_mk.is_empty() {
        writes.push((
            INSERT_PENDING_SQL,
            vec![&parked_mk, &parked_sk, &parked_body],
        ));
    }
    if !seq_mk.is_empty() {
        writes.push((UPDATE_SEQ_SQL, vec![&seq_mk, &seq_last]));
    }
    let statements = try_join_all(writes.iter().map(|(sql, _)| tx.prepare_cached(sql))).await?;
    let counts = try_join_all(
        statements
            .iter()
            .zip(&writes)
            .map(|(st, (_, params))| tx.execute(st, params)),
    )
    .await?;
    let applied = counts.first().copied().unwrap_or(0);
    if applied != recorded.len() as u64 {
        // Only a writer that skipped the meeting lock could get here; the caller may retry.
        return Err(Error::Unavailable(format!(
            "{} of {} event ids were recorded concurrently; retry the batch",
            recorded.len() as u64 - applied.min(recorded.len() as u64),
            recorded.len()
        )));
    }
    Ok(())
}
