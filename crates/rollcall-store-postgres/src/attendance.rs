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
//!    holder committed. The lock's row also says whether the meeting's owner app has a
//!    callback target; for those meetings only, the same round trip counts their open
//!    sessions per sub-meeting (one query for the whole batch, over the partial index
//!    `sessions_open`), so the rules can see the presence transitions.
//! 3. **Decide**, in memory: `rollcall_core::apply::apply_batch` over what was loaded takes
//!    every decision (unknown meeting, duplicate, second join, parking, the pending events a
//!    join applies, whether a row changed) and returns the writes; this module decides
//!    nothing.
//! 4. **Write**, in one pipelined round trip, multi-row statements over `UNNEST`ed arrays:
//!    the applied event ids, the new sessions, the changed sessions, the consumed and the
//!    newly parked pending events, the meetings' new `last_seq`, and the presence
//!    transitions as `meeting_start` / `meeting_end` deliveries in the callback outbox, and
//!    the touched people's get_info aggregates (`crate::person_totals`, which reads the
//!    stored spans a closed session reaches in one round trip before this step). Then
//!    commit.
//!
//! Why this is right across nodes: the meeting lock serializes all ingest of a meeting, so the
//! in-memory decisions of step 3 start from the committed state. `seq` is assigned under
//! that lock and written with the sessions it numbers, so it increases strictly in commit
//! order: a reader that saw `last_seq = n` can never later see a new session with
//! `seq <= n`, which is what makes a cursor's snapshot complete. The primary key of
//! `applied_events` backs the de-duplication on its own should anything ever write without
//! the lock: the ids are inserted plainly (the load under the lock already left the
//! duplicates out), so a taken one fails the batch as a whole, to be retried. Not
//! `ON CONFLICT DO NOTHING`: its speculative insertion probes the key, inserts, then
//! confirms each row, which made that statement the batch's most expensive (~10% of a
//! one-sender ingest, measured in the server's statement log).
//!
//! # Scans
//! `sessions_listing` on `(meeting_key, sub_key, join_time, seq)` serves a page as one index
//! range read in order from the keyset position: the depth of the page does not matter.

use std::collections::{HashMap, HashSet};

use futures::future::try_join_all;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use rollcall_core::apply::{self, Applied, Loaded, MeetingState, Writes};
use rollcall_core::ingest::{Outcome, Pending, ResolvedEvent};
use rollcall_core::model::{AppRef, Participant, SessionRow, SessionScan};
use rollcall_core::outbox::NewDelivery;
use rollcall_core::person_totals;

use crate::error::{clamp, get, get_u32, get_u64, Error, Result};
use crate::outbox::{DeliveryCols, ENQUEUE_SQL, LOCK_TAILS_SQL};
use crate::person_totals::TotalsWrites;

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

/// With each meeting: its owner and `meetingid` (what its presence callbacks name) and
/// whether the owner app has a callback target, read under the lock (`OF m`: the app row is
/// only read).
const LOCK_SQL: &str = "SELECT m.key, m.last_seq, m.meetingid, m.corpid, m.agentid, \
     a.callback_url IS NOT NULL FROM meetings m \
     LEFT JOIN apps a ON a.corpid = m.corpid AND a.agentid = m.agentid \
     WHERE m.key = ANY($1) ORDER BY m.key FOR NO KEY UPDATE OF m";

/// Open sessions per sub-meeting of the meetings whose presence transitions are announced.
const LOAD_OPEN_SQL: &str = "SELECT meeting_key, sub_key, count(*) FROM sessions \
     WHERE meeting_key = ANY($1) AND quit_time IS NULL GROUP BY meeting_key, sub_key";

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

const INSERT_APPLIED_SQL: &str = "INSERT INTO applied_events (meeting_key, event_id, applied_at) \
     SELECT m, e, $3::bigint FROM UNNEST($1::bigint[], $2::text[]) AS u(m, e)";

/// One prune batch: the oldest records before `$1`, at most `$2`, skipping rows another
/// transaction holds (another node's prune, or an ingest re-recording an id), so concurrent
/// prunes never wait on each other or on ingest.
const PRUNE_APPLIED_SQL: &str = "DELETE FROM applied_events AS a USING \
     (SELECT meeting_key, event_id FROM applied_events WHERE applied_at < $1 \
      ORDER BY applied_at LIMIT $2 FOR UPDATE SKIP LOCKED) AS old \
     WHERE a.meeting_key = old.meeting_key AND a.event_id = old.event_id";

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

/// The meeting's change stamp and committed `last_seq`, from one row (`None`: no meeting).
pub(crate) async fn meeting_stamp(
    c: &mut Client,
    meeting_key: i64,
) -> Result<Option<rollcall_store::MeetingStamp>> {
    let st = c
        .prepare_cached("SELECT changed, last_seq FROM meetings WHERE key = $1")
        .await?;
    match c.query_opt(&st, &[&meeting_key]).await? {
        Some(r) => Ok(Some(rollcall_store::MeetingStamp {
            stamp: get_u64(&r, 0, "changed")?,
            last_seq: get_u64(&r, 1, "last_seq")?,
        })),
        None => Ok(None),
    }
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

pub(crate) async fn ingest(
    c: &mut Client,
    events: &[ResolvedEvent],
    applied_at: i64,
) -> Result<Vec<Outcome>> {
    let tx = c.transaction().await?;
    let (lock_st, applied_st, sessions_st, pending_st, open_st, tails_st) = tokio::try_join!(
        tx.prepare_cached(LOCK_SQL),
        tx.prepare_cached(LOAD_APPLIED_SQL),
        tx.prepare_cached(LOAD_SESSIONS_SQL),
        tx.prepare_cached(LOAD_PENDING_SQL),
        tx.prepare_cached(LOAD_OPEN_SQL),
        tx.prepare_cached(LOCK_TAILS_SQL),
    )?;

    // 1. Lock, in key order.
    let keys = apply::meeting_keys(events);
    let mut loaded = Loaded::new();
    let mut watched: HashMap<i64, (AppRef, String)> = HashMap::new();
    for r in tx.query(&lock_st, &[&keys]).await? {
        let key: i64 = get(&r, 0)?;
        let mut state = MeetingState::new(get_u64(&r, 1, "last_seq")?);
        let target: Option<bool> = get(&r, 5)?;
        if target == Some(true) {
            state.open = Some(HashMap::new());
            let app = AppRef {
                corpid: get(&r, 3)?,
                agentid: get_u32(&r, 4, "agentid")?,
            };
            watched.insert(key, (app, get(&r, 2)?));
        }
        loaded.insert(key, state);
    }
    let watched_keys: Vec<i64> = watched.keys().copied().collect();

    // 2. Load: exactly the (meeting, key) pairs the batch names, for the meetings it locked.
    let needs = apply::needs(events, |k| loaded.contains_key(&k));
    let (ids_mk, ids_id): (Vec<i64>, Vec<&str>) = needs.event_ids.iter().copied().unzip();
    let (touched_mk, touched_sk): (Vec<i64>, Vec<&str>) = needs.sessions.iter().copied().unzip();
    let (joined_mk, joined_sk): (Vec<i64>, Vec<&str>) = needs.joins.iter().copied().unzip();
    let applied_params: [&(dyn ToSql + Sync); 2] = [&ids_mk, &ids_id];
    let sessions_params: [&(dyn ToSql + Sync); 2] = [&touched_mk, &touched_sk];
    let pending_params: [&(dyn ToSql + Sync); 2] = [&joined_mk, &joined_sk];
    let open_params: [&(dyn ToSql + Sync); 1] = [&watched_keys];
    // The watched meetings' outbox tails are locked now, in the same round trip, in case the
    // batch makes transitions (see `crate::outbox`: which new row is a queue's head).
    let mut watched_ids: Vec<&str> = watched.values().map(|(_, id)| id.as_str()).collect();
    watched_ids.sort_unstable();
    let tails_params: [&(dyn ToSql + Sync); 1] = [&watched_ids];
    let (applied_rows, session_rows, pending_rows, open_rows, tail_rows) = tokio::try_join!(
        query_unless_empty(&tx, &applied_st, &applied_params, ids_mk.is_empty()),
        query_unless_empty(&tx, &sessions_st, &sessions_params, touched_mk.is_empty()),
        query_unless_empty(&tx, &pending_st, &pending_params, joined_mk.is_empty()),
        query_unless_empty(&tx, &open_st, &open_params, watched_keys.is_empty()),
        query_unless_empty(&tx, &tails_st, &tails_params, watched_ids.is_empty()),
    )?;
    let queued: HashSet<String> = tail_rows.iter().map(|r| get(r, 0)).collect::<Result<_>>()?;
    for r in &open_rows {
        let open = loaded.get_mut(&get(r, 0)?).and_then(|m| m.open.as_mut());
        if let Some(open) = open {
            open.insert(get(r, 1)?, get_u64(r, 2, "open sessions")?);
        }
    }
    for r in &applied_rows {
        if let Some(m) = loaded.get_mut(&get(r, 0)?) {
            m.applied.insert(get(r, 1)?);
        }
    }
    for r in &session_rows {
        if let Some(m) = loaded.get_mut(&get(r, 0)?) {
            // `session_cols!()` from column 1.
            let row = session_row(r, 1)?;
            m.sessions.insert(row.session_key.clone(), row);
        }
    }
    let mut pending: Vec<(i64, String, i64, Pending)> = Vec::with_capacity(pending_rows.len());
    for r in &pending_rows {
        pending.push((
            get(r, 0)?,
            get(r, 1)?,
            get(r, 2)?,
            serde_json::from_str(get(r, 3)?)?,
        ));
    }
    // Arrival order within each session.
    pending.sort_by_key(|p| p.2);
    for (mk, sk, _, p) in pending {
        if let Some(m) = loaded.get_mut(&mk) {
            m.pending.entry(sk).or_default().push(p);
        }
    }

    // 3. Decide; then read the stored spans the batch's closed sessions reach (a round trip
    // only when it closed one) and decide the aggregates' writes.
    let open_before = person_totals::open_before(&loaded);
    let Applied { outcomes, writes } = apply::apply_batch(events, loaded);
    let deltas = person_totals::deltas(&writes.inserted, &writes.updated, &open_before);
    let totals = crate::person_totals::prepare(&tx, &deltas).await?;

    // 4. Write, with the presence callbacks of the watched meetings.
    let callbacks: Vec<NewDelivery> = writes
        .transitions
        .iter()
        .filter_map(|t| {
            let (app, meetingid) = watched.get(&t.meeting_key)?;
            Some(NewDelivery::presence(app, meetingid, t))
        })
        .collect();
    write(
        &tx,
        &writes,
        &DeliveryCols::of(&callbacks, &queued),
        &totals,
        applied_at,
    )
    .await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Delete up to `limit` dedupe records applied before `before` (one statement, its own
/// transaction).
pub(crate) async fn prune_applied(c: &mut Client, before: i64, limit: u32) -> Result<u64> {
    let st = c.prepare_cached(PRUNE_APPLIED_SQL).await?;
    Ok(c.execute(&st, &[&before, &i64::from(limit)]).await?)
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
/// their order does not matter).
async fn write(
    tx: &deadpool_postgres::Transaction<'_>,
    w: &Writes<'_>,
    deliveries: &DeliveryCols<'_>,
    totals: &TotalsWrites<'_>,
    applied_at: i64,
) -> Result<()> {
    if w.is_empty() {
        // Nothing accepted: nothing changed (rejections and duplicates leave no trace).
        return Ok(());
    }
    let (applied_mk, applied_id): (Vec<i64>, Vec<&str>) = w.applied.iter().copied().unzip();

    let mut new_cols = NewCols::default();
    for (mk, row) in &w.inserted {
        new_cols.push(*mk, row);
    }
    let mut changed = ChangedCols::default();
    for (mk, row) in &w.updated {
        changed.push(*mk, row);
    }
    let consumed_mk: Vec<i64> = w.consumed.iter().map(|k| k.0).collect();
    let consumed_sk: Vec<&str> = w.consumed.iter().map(|k| k.1.as_str()).collect();
    // Each session's in arrival order, so its `ord` (drawn in array order) follows arrival.
    let mut parked_mk = Vec::with_capacity(w.parked.len());
    let mut parked_sk = Vec::with_capacity(w.parked.len());
    let mut parked_body = Vec::with_capacity(w.parked.len());
    for (mk, sk, p) in &w.parked {
        parked_mk.push(*mk);
        parked_sk.push(sk.as_str());
        parked_body.push(serde_json::to_string(p)?);
    }
    // The meetings' change stamps are drawn by the sessions' triggers (migration 9).
    let (seq_mk, seq_last): (Vec<i64>, Vec<i64>) = w
        .last_seq
        .iter()
        .map(|(k, last)| (*k, clamp(*last)))
        .unzip();

    let new_params = new_cols.params();
    let changed_params = changed.params();
    let mut writes: Vec<(&str, Vec<&(dyn ToSql + Sync)>)> = vec![(
        INSERT_APPLIED_SQL,
        vec![&applied_mk, &applied_id, &applied_at],
    )];
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
    let delivery_params = deliveries.params();
    if !deliveries.is_empty() {
        writes.push((ENQUEUE_SQL, delivery_params.to_vec()));
    }
    writes.extend(totals.statements());
    let statements = try_join_all(writes.iter().map(|(sql, _)| tx.prepare_cached(sql))).await?;
    try_join_all(
        statements
            .iter()
            .zip(&writes)
            .map(|(st, (_, params))| tx.execute(st, params)),
    )
    .await
    .map_err(|e| match e.code() {
        // Only a writer that skipped the meeting lock could take a key the load did not see
        // (an event id, a session); the batch is rolled back whole, and a retry decides it
        // again over what that writer stored.
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => Error::Unavailable(format!(
            "a key of this batch was stored concurrently ({e}); retry the batch"
        )),
        _ => Error::Sql(e),
    })?;
    Ok(())
}
