//! Attendance: ingest of join / quit / state events, and keyset scans of sessions.
//!
//! # Ingest
//! Calls that wait for the writer together are one `BEGIN IMMEDIATE` transaction (one WAL
//! fsync for all of them, `crate::group`) on the single writer connection; each call's
//! batch goes through three steps in turn, over what the ones before it wrote; every
//! decision is `rollcall_core::apply::apply_batch`'s, this module only reads and writes:
//! 1. **Load**: each meeting's `last_seq` (an absent row means "unknown meeting"), then the
//!    batch's event ids already in `applied_events` (found by `INSERT OR IGNORE`, which
//!    records the new ones in the same statement), its stored sessions (by
//!    `sessions_by_key`; not those it joins first, see [`ingest`]), and the pending events
//!    of the sessions it joins (only when the
//!    meeting has any parked at all, which is rare).
//!    The meeting's row comes with whether its owner app has a callback target; for those
//!    meetings only, the open sessions per sub-meeting are counted too (over the partial
//!    index `sessions_open`), so the rules can see the presence transitions.
//! 2. **Decide**: `apply_batch` over what was loaded.
//! 3. **Write** what it returns: the new sessions (in their final state), the changed ones
//!    (by primary key), the consumed and the newly parked pending events, and the meetings'
//!    new `last_seq`; and delete the records of the event ids it did not accept, so a
//!    corrected re-send of a refused event applies. The presence transitions go into the
//!    callback outbox as `meeting_start` / `meeting_end`, in the same transaction.
//!
//! After the group's last batch, each touched person's get_info aggregates
//! (`crate::person_totals`) are folded once for the whole group, from the sessions its
//! batches inserted and closed (`person_totals::GroupWrites`): a corp member who comes back
//! in every call of a group costs one fold, not one per call.
//!
//! Because every writer holds SQLite's write lock from `BEGIN IMMEDIATE` to commit (and
//! in-process writers also share one mutex), what step 1 reads is the committed state, and
//! `seq` (numbered from `last_seq`, written in the same transaction as the sessions it
//! numbers) increases strictly in commit order: a reader that saw `last_seq = n` can never
//! later see a new session with `seq <= n`. That is what makes the cursor's snapshot complete.
//!
//! # Scans
//! `sessions` is clustered on `(meeting_key, sub_key, join_time, seq)`, so a page is a range
//! read starting at the keyset position: the depth of the page does not matter.

use std::collections::{HashMap, HashSet};

use r2d2_sqlite::rusqlite::{
    params, CachedStatement, Connection, OptionalExtension, Row, ToSql, TransactionBehavior,
};

use rollcall_core::apply::{self, Applied, Key, Loaded, MeetingState, Writes};
use rollcall_core::ingest::{Outcome, Pending, ResolvedEvent};
use rollcall_core::model::{AppRef, Participant, SessionRow, SessionScan};
use rollcall_core::outbox::NewDelivery;
use rollcall_core::person_totals;

use crate::error::{is_unique_violation, to_u64, Error, Result};

/// The columns [`session_row`] decodes, in its order.
macro_rules! session_cols {
    () => {
        "seq, session_key, sub_key, participant_kind, participant_id, join_time, quit_time, \
         instance_id, role, webinar_role, join_type, net, audio_state, video_state, \
         screen_shared_state, customer_data, state_at"
    };
}

/// The keyset scan of one page. The row-value comparison on `(join_time, seq)` continues
/// after the last row returned; together with the equalities on the leading key columns it
/// bounds a single range of the primary key, read in order (no sort, no OFFSET).
pub(crate) const SCAN_SQL: &str = concat!(
    "SELECT ",
    session_cols!(),
    " FROM sessions \
     WHERE meeting_key = ?1 AND sub_key = ?2 AND (join_time, seq) > (?3, ?4) \
     AND join_time <= ?5 AND seq > ?6 AND seq <= ?7 \
     ORDER BY join_time, seq LIMIT ?8"
);

fn session_row(r: &Row<'_>) -> Result<SessionRow> {
    let kind: i64 = r.get(3)?;
    let id: String = r.get(4)?;
    let participant = Participant::from_parts(kind, id)
        .ok_or_else(|| Error::Corrupt(format!("unknown participant kind {kind}")))?;
    Ok(SessionRow {
        seq: to_u64(r.get(0)?, "seq")?,
        session_key: r.get(1)?,
        sub_key: r.get(2)?,
        participant,
        join_time: r.get(5)?,
        quit_time: r.get(6)?,
        instance_id: r.get(7)?,
        role: r.get(8)?,
        webinar_role: r.get(9)?,
        join_type: r.get(10)?,
        net: r.get(11)?,
        audio_state: r.get(12)?,
        video_state: r.get(13)?,
        screen_shared_state: r.get(14)?,
        customer_data: r.get(15)?,
        state_at: r.get(16)?,
    })
}

/// `u64` bounds as SQLite integers. Stored `seq` values never exceed `i64::MAX`, so clamping
/// a larger bound there selects exactly the same rows.
fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn scan(conn: &Connection, scan: &SessionScan) -> Result<Vec<SessionRow>> {
    if scan.limit == 0 || scan.seq_lo >= scan.seq_hi {
        return Ok(Vec::new());
    }
    let mut st = conn.prepare_cached(SCAN_SQL)?;
    let mut rows = st.query(params![
        scan.meeting_key,
        scan.sub_key,
        scan.after.0,
        clamp(scan.after.1),
        scan.join_max,
        clamp(scan.seq_lo),
        clamp(scan.seq_hi),
        i64::from(scan.limit),
    ])?;
    let mut out = Vec::with_capacity(usize::try_from(scan.limit.min(1000)).unwrap_or(0));
    while let Some(r) = rows.next()? {
        out.push(session_row(r)?);
    }
    Ok(out)
}

pub(crate) fn last_seq(conn: &Connection, meeting_key: i64) -> Result<u64> {
    let v: Option<i64> = conn
        .prepare_cached("SELECT last_seq FROM meetings WHERE key = ?1")?
        .query_row([meeting_key], |r| r.get(0))
        .optional()?;
    v.map_or(Ok(0), |v| to_u64(v, "last_seq"))
}

/// Ingest batches in one `BEGIN IMMEDIATE` transaction, one after another (each decided
/// over what the ones before it wrote), committed once: what each batch made of its events.
/// An error in any batch rolls the whole group back (`crate::group` then retries them one
/// by one, so one batch's failure is only its own).
///
/// The group is first decided without reading the stored sessions its batches join first
/// ([`Lookup::SkipFirstJoins`]); if one of those turns out to be stored (the unique key on
/// session keys refuses its insert: a second join of a key, rare), the transaction is
/// rolled back and the group decided again with them read, so the outcomes are exactly
/// those of reading everything.
pub(crate) fn ingest(conn: &mut Connection, batches: &[Batch<'_>]) -> Result<Vec<Vec<Outcome>>> {
    match ingest_with(conn, batches, Lookup::SkipFirstJoins) {
        Err(Error::Rejoined) => ingest_with(conn, batches, Lookup::Every),
        done => done,
    }
}

/// Which stored sessions [`load`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Every session the batch names.
    Every,
    /// All but those whose first event in the batch is a join (`Needs::first_joins`):
    /// nearly every join is of a new session, and reading one costs a B-tree descent that
    /// the insert's unique check repeats anyway (~5% of the writer's time per event).
    SkipFirstJoins,
}

fn ingest_with(
    conn: &mut Connection,
    batches: &[Batch<'_>],
    lookup: Lookup,
) -> Result<Vec<Vec<Outcome>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut people = person_totals::GroupWrites::default();
    let outcomes = batches
        .iter()
        .map(|b| ingest_one(&tx, b.events, b.applied_at, lookup, &mut people))
        .collect::<Result<Vec<_>>>()?;
    // Once for the group: the people who come back in several of its calls are folded once.
    crate::person_totals::write(&tx, &people.deltas())?;
    tx.commit()?;
    Ok(outcomes)
}

/// One ingest call's events and the server clock they were applied at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batch<'a> {
    pub events: &'a [ResolvedEvent],
    pub applied_at: i64,
}

/// Load, decide and write one batch inside the caller's write transaction; what it did to
/// sessions goes into `people`, whose aggregates the caller writes once for the group.
fn ingest_one(
    tx: &Connection,
    events: &[ResolvedEvent],
    applied_at: i64,
    lookup: Lookup,
    people: &mut person_totals::GroupWrites,
) -> Result<Vec<Outcome>> {
    let (loaded, recorded, watched) = load(tx, events, applied_at, lookup)?;
    let open_before = person_totals::open_before(&loaded);
    let Applied { outcomes, writes } = apply::apply_batch(events, loaded);
    write(tx, &writes, recorded, lookup)?;
    if !writes.transitions.is_empty() {
        let callbacks: Vec<NewDelivery> = writes
            .transitions
            .iter()
            .filter_map(|t| {
                let (app, meetingid) = watched.get(&t.meeting_key)?;
                Some(NewDelivery::presence(app, meetingid, t))
            })
            .collect();
        crate::outbox::enqueue(tx, &callbacks)?;
    }
    people.add(writes.inserted, writes.updated, &open_before);
    Ok(outcomes)
}

/// What the batch can touch, read under the write lock: each of its meetings that exists,
/// then, for those, the rows [`apply::needs`] names, by point lookups on keys.
///
/// The applied event ids are found by recording them ([`record_applied`]). Those recorded
/// here are returned; [`write`] deletes again any the decisions did not accept.
///
/// The meetings whose owner app has a callback target are returned too, with the owner and
/// `meetingid` their presence callbacks name; their open sessions are counted into
/// [`MeetingState::open`].
fn load<'a>(
    tx: &Connection,
    events: &'a [ResolvedEvent],
    applied_at: i64,
    lookup: Lookup,
) -> Result<(Loaded, Vec<Key<'a>>, Watched)> {
    let mut loaded = Loaded::new();
    let mut watched = Watched::new();
    {
        let mut st = tx.prepare_cached(
            "SELECT m.last_seq, m.meetingid, m.corpid, m.agentid, a.callback_url IS NOT NULL \
             FROM meetings m LEFT JOIN apps a ON a.corpid = m.corpid AND a.agentid = m.agentid \
             WHERE m.key = ?1",
        )?;
        let mut open = tx.prepare_cached(
            "SELECT sub_key, count(*) FROM sessions WHERE meeting_key = ?1 \
             AND quit_time IS NULL GROUP BY sub_key",
        )?;
        for key in apply::meeting_keys(events) {
            let row: Option<(i64, String, String, u32, Option<bool>)> = st
                .query_row([key], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            let Some((last, meetingid, corpid, agentid, target)) = row else {
                continue;
            };
            let mut m = MeetingState::new(to_u64(last, "last_seq")?);
            if target == Some(true) {
                let mut counts = HashMap::new();
                let mut rows = open.query([key])?;
                while let Some(r) = rows.next()? {
                    counts.insert(r.get(0)?, to_u64(r.get(1)?, "open sessions")?);
                }
                m.open = Some(counts);
                watched.insert(key, (AppRef { corpid, agentid }, meetingid));
            }
            loaded.insert(key, m);
        }
    }
    let needs = apply::needs(events, |k| loaded.contains_key(&k));
    let recorded = record_applied(tx, &needs.event_ids, applied_at, &mut loaded)?;
    {
        let mut st = tx.prepare_cached(concat!(
            "SELECT ",
            session_cols!(),
            " FROM sessions WHERE meeting_key = ?1 AND session_key = ?2"
        ))?;
        for (mk, sk) in needs.sessions {
            if lookup == Lookup::SkipFirstJoins && needs.first_joins.contains(&(mk, sk)) {
                continue;
            }
            let Some(m) = loaded.get_mut(&mk) else {
                continue;
            };
            let mut rows = st.query(params![mk, sk])?;
            if let Some(r) = rows.next()? {
                m.sessions.insert(sk.to_owned(), session_row(r)?);
            }
        }
    }
    // Parked events are rare (a quit or state that overtook its join): one probe per
    // meeting saves the batch's joins a lookup each when, as nearly always, there are none.
    let mut parked: HashMap<i64, bool> = HashMap::new();
    let mut any =
        tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM pending_events WHERE meeting_key = ?1)")?;
    for (mk, sk) in needs.joins {
        let has = match parked.get(&mk) {
            Some(&has) => has,
            None => {
                let has: bool = any.query_row([mk], |r| r.get(0))?;
                parked.insert(mk, has);
                has
            }
        };
        if !has {
            continue;
        }
        let pending = stored_pending(tx, mk, sk)?;
        if let (Some(m), false) = (loaded.get_mut(&mk), pending.is_empty()) {
            m.pending.insert(sk.to_owned(), pending);
        }
    }
    Ok((loaded, recorded, watched))
}

/// Event ids recorded per statement by [`record_applied`].
const RECORD_ROWS: usize = 100;

/// `INSERT OR IGNORE` of [`RECORD_ROWS`] event ids, returning those it inserted.
fn record_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let rows = vec!["(?, ?, ?)"; RECORD_ROWS].join(", ");
        format!(
            "INSERT OR IGNORE INTO applied_events (meeting_key, event_id, applied_at) \
             VALUES {rows} RETURNING meeting_key, event_id"
        )
    })
}

/// Record the batch's event ids in `applied_events`, and return those that were new; the
/// others (already applied) go into their meeting's [`MeetingState::applied`].
///
/// `INSERT OR IGNORE` changes nothing for an id already recorded and records a new one, in
/// one statement (a lookup first would cost every event a second statement and B-tree
/// descent, and nearly every event is new). Full runs of [`RECORD_ROWS`] ids go in one
/// multi-row statement each, which saves each event a statement's own cost (~3.5% of the
/// ingest rate with 16 senders, README); `RETURNING` names the rows it inserted
/// ([`inserted_of`]), and an id it does not name was there already. The rest go one by one,
/// so that only two statements are ever cached for this.
fn record_applied<'a>(
    tx: &Connection,
    event_ids: &[Key<'a>],
    applied_at: i64,
    loaded: &mut Loaded,
) -> Result<Vec<Key<'a>>> {
    let mut recorded = Vec::with_capacity(event_ids.len());
    let mut already = |key: &Key<'_>| {
        if let Some(m) = loaded.get_mut(&key.0) {
            m.applied.insert(key.1.to_owned());
        }
    };
    let runs = event_ids.chunks_exact(RECORD_ROWS);
    let rest = runs.remainder();
    if runs.len() > 0 {
        let mut st = tx.prepare_cached(record_sql())?;
        for run in runs {
            let mut values: Vec<&dyn ToSql> = Vec::with_capacity(RECORD_ROWS * 3);
            for (mk, id) in run {
                values.extend([mk as &dyn ToSql, id, &applied_at]);
            }
            let mut rows = st.query(values.as_slice())?;
            let mut returned = Vec::with_capacity(run.len());
            while let Some(r) = rows.next()? {
                returned.push((r.get(0)?, r.get(1)?));
            }
            let new = inserted_of(run, &returned)?;
            for (key, new) in run.iter().zip(new) {
                if new {
                    recorded.push(*key);
                } else {
                    already(key);
                }
            }
        }
    }
    let mut st = tx.prepare_cached(
        "INSERT OR IGNORE INTO applied_events (meeting_key, event_id, applied_at) \
         VALUES (?1, ?2, ?3)",
    )?;
    for key in rest {
        if st.execute(params![key.0, key.1, applied_at])? == 1 {
            recorded.push(*key);
        } else {
            already(key);
        }
    }
    Ok(recorded)
}

/// Which ids of `run` (distinct, as `apply::needs` lists them) the `RETURNING` rows of its
/// insert name: those were new. In practice the rows come back in the order of the VALUES,
/// so each search starts after the last one found; SQLite does not promise that order, hence
/// the wrap-around. A row that names no id of the run, or one already named, is corruption.
fn inserted_of(run: &[Key<'_>], returned: &[(i64, String)]) -> Result<Vec<bool>> {
    let mut new = vec![false; run.len()];
    let mut next = 0;
    for key in returned {
        let found = (next..run.len())
            .chain(0..next)
            .find(|&i| !new[i] && run[i].0 == key.0 && run[i].1 == key.1);
        let Some(i) = found else {
            return Err(Error::Corrupt(format!(
                "applied_events returned an event id it was not given: {key:?}"
            )));
        };
        new[i] = true;
        next = i + 1;
    }
    Ok(new)
}

/// The meetings of a batch whose presence transitions are announced: owner and `meetingid`.
type Watched = HashMap<i64, (AppRef, String)>;

/// Perform what [`apply::apply_batch`] decided. The accepted event ids are already recorded
/// (by [`load`]): delete the records of the others.
///
/// With [`Lookup::SkipFirstJoins`], an insert the unique key on session keys refuses is
/// [`Error::Rejoined`]: the batch joined a stored session it did not read.
fn write(
    tx: &Connection,
    w: &Writes<'_>,
    mut recorded: Vec<Key<'_>>,
    lookup: Lookup,
) -> Result<()> {
    if recorded.len() != w.applied.len() {
        let accepted: HashSet<Key<'_>> = w.applied.iter().copied().collect();
        recorded.retain(|k| !accepted.contains(k));
        let mut st = tx.prepare_cached(
            "DELETE FROM applied_events WHERE meeting_key = ?1 AND event_id = ?2",
        )?;
        for (mk, id) in &recorded {
            st.execute(params![mk, id])?;
        }
    }
    if w.is_empty() {
        return Ok(());
    }
    if !w.inserted.is_empty() {
        let mut st = tx.prepare_cached(INSERT_SESSION_SQL)?;
        for (mk, row) in &w.inserted {
            insert_session(&mut st, *mk, row).map_err(|e| match e {
                Error::Sql(e) if lookup == Lookup::SkipFirstJoins && is_unique_violation(&e) => {
                    Error::Rejoined
                }
                e => e,
            })?;
        }
    }
    if !w.updated.is_empty() {
        let mut st = tx.prepare_cached(UPDATE_SESSION_SQL)?;
        for (mk, row) in &w.updated {
            update_session(&mut st, *mk, row)?;
        }
    }
    if !w.consumed.is_empty() {
        let mut st = tx.prepare_cached(
            "DELETE FROM pending_events WHERE meeting_key = ?1 AND session_key = ?2",
        )?;
        for (mk, sk) in &w.consumed {
            st.execute(params![mk, sk])?;
        }
    }
    if !w.parked.is_empty() {
        // In the order given, so `ord` follows each session's arrival order.
        let mut st = tx.prepare_cached(
            "INSERT INTO pending_events (meeting_key, session_key, ord, body) \
             VALUES (?1, ?2, (SELECT ifnull(max(ord), 0) + 1 FROM pending_events \
             WHERE meeting_key = ?1 AND session_key = ?2), ?3)",
        )?;
        for (mk, sk, p) in &w.parked {
            st.execute(params![mk, sk, serde_json::to_string(p)?])?;
        }
    }
    let mut st = tx.prepare_cached("UPDATE meetings SET last_seq = ?2 WHERE key = ?1")?;
    for (key, last) in &w.last_seq {
        st.execute(params![key, clamp(*last)])?;
    }
    Ok(())
}

/// Delete up to `limit` dedupe records applied before `before`, oldest first, in one short
/// transaction (the writer's lock is held for one batch, then ingest gets its turn).
pub(crate) fn prune_applied(conn: &mut Connection, before: i64, limit: u32) -> Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx
        .prepare_cached(
            "DELETE FROM applied_events WHERE id IN \
             (SELECT id FROM applied_events INDEXED BY applied_events_by_age \
              WHERE applied_at < ?1 ORDER BY applied_at LIMIT ?2)",
        )?
        .execute(params![before, i64::from(limit)])?;
    tx.commit()?;
    Ok(n as u64)
}

/// The events parked for a session that has not joined yet, in arrival order.
fn stored_pending(tx: &Connection, meeting_key: i64, session_key: &str) -> Result<Vec<Pending>> {
    let mut st = tx.prepare_cached(
        "SELECT body FROM pending_events WHERE meeting_key = ?1 AND session_key = ?2 \
         ORDER BY ord",
    )?;
    let mut rows = st.query(params![meeting_key, session_key])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let body: String = r.get(0)?;
        out.push(serde_json::from_str(&body)?);
    }
    Ok(out)
}

/// Insert a session joined in the batch (the decisions made sure its key is free).
const INSERT_SESSION_SQL: &str = "INSERT INTO sessions (meeting_key, sub_key, join_time, seq, \
     session_key, participant_kind, participant_id, quit_time, instance_id, role, webinar_role, \
     join_type, net, audio_state, video_state, screen_shared_state, customer_data, state_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";

/// Write back what quit / state may change, addressing the row by its primary key.
const UPDATE_SESSION_SQL: &str = "UPDATE sessions SET quit_time = ?5, net = ?6, \
     audio_state = ?7, video_state = ?8, screen_shared_state = ?9, state_at = ?10 \
     WHERE meeting_key = ?1 AND sub_key = ?2 AND join_time = ?3 AND seq = ?4";

/// [`INSERT_SESSION_SQL`] for one row (the statement is prepared once per batch: looking a
/// cached statement up hashes its whole text).
fn insert_session(st: &mut CachedStatement<'_>, meeting_key: i64, row: &SessionRow) -> Result<()> {
    st.execute(params![
        meeting_key,
        row.sub_key,
        row.join_time,
        clamp(row.seq),
        row.session_key,
        row.participant.kind_code(),
        row.participant.id(),
        row.quit_time,
        row.instance_id,
        row.role,
        row.webinar_role,
        row.join_type,
        row.net,
        row.audio_state,
        row.video_state,
        row.screen_shared_state,
        row.customer_data,
        row.state_at,
    ])?;
    Ok(())
}

/// [`UPDATE_SESSION_SQL`] for one row.
fn update_session(st: &mut CachedStatement<'_>, meeting_key: i64, row: &SessionRow) -> Result<()> {
    st.execute(params![
        meeting_key,
        row.sub_key,
        row.join_time,
        clamp(row.seq),
        row.quit_time,
        row.net,
        row.audio_state,
        row.video_state,
        row.screen_shared_state,
        row.state_at,
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{inserted_of, Error};

    fn rows(ids: &[&str]) -> Vec<(i64, String)> {
        ids.iter().map(|id| (1, (*id).to_owned())).collect()
    }

    /// SQLite returns the inserted rows in VALUES order today, so the store's tests never
    /// see any other; the matching must not depend on it.
    #[test]
    fn returned_rows_in_any_order_mark_exactly_the_ids_they_name() {
        let run = [(1, "a"), (1, "b"), (2, "a"), (1, "c"), (1, "d")];
        let want = vec![true, false, true, true, false];
        for order in [
            ["a", "c"],
            ["c", "a"], // wraps around from the end
        ] {
            let mut returned = rows(&order);
            returned.push((2, "a".to_owned()));
            assert_eq!(inserted_of(&run, &returned).unwrap(), want, "{order:?}");
            returned.rotate_left(1);
            assert_eq!(inserted_of(&run, &returned).unwrap(), want, "{order:?}");
        }
        assert_eq!(inserted_of(&run, &[]).unwrap(), vec![false; 5]);
    }

    #[test]
    fn a_row_naming_no_id_of_the_run_or_one_twice_is_corruption() {
        let run = [(1, "a"), (1, "b")];
        for returned in [
            rows(&["x"]),
            vec![(2, "a".to_owned())],
            rows(&["a", "b", "a"]),
        ] {
            let got = inserted_of(&run, &returned);
            assert!(
                matches!(got, Err(Error::Corrupt(_))),
                "{returned:?}: {got:?}"
            );
        }
    }
}
