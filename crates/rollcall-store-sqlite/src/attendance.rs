//! Attendance: ingest of join / quit / state events, and keyset scans of sessions.
//!
//! # Ingest
//! A batch is one `BEGIN IMMEDIATE` transaction (one WAL fsync for up to thousands of events),
//! applied in order on the single writer connection. Per event it costs a few cached
//! statements:
//! - `INSERT OR IGNORE INTO applied_events` is the duplicate check and the record at once
//!   (no change = already applied). A rejected event deletes its record again, so a corrected
//!   re-send of the same `event_id` applies.
//! - a join reads the session's pending events (an index seek, nearly always empty), then
//!   `INSERT OR IGNORE INTO sessions`: the unique `(meeting_key, session_key)` index refuses a
//!   second join without a separate lookup;
//! - a quit / state reads the session by its key and updates it in place (by primary key),
//!   or, when the join has not arrived, parks the event in `pending_events`.
//!
//! The per-meeting `seq` comes from an in-memory counter seeded from `meetings.last_seq` the
//! first time a batch touches the meeting, and written back before commit. Because every
//! writer holds SQLite's write lock from `BEGIN IMMEDIATE` to commit (and in-process writers
//! also share one mutex), `seq` increases strictly in commit order: a reader that saw
//! `last_seq = n` can never later see a new session with `seq <= n`. That is what makes the
//! cursor's snapshot complete.
//!
//! # Scans
//! `sessions` is clustered on `(meeting_key, sub_key, join_time, seq)`, so a page is a range
//! read starting at the keyset position: the depth of the page does not matter.

use std::collections::HashMap;

use r2d2_sqlite::rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use rollcall_core::ingest::{EventKind, Outcome, Pending, ResolvedEvent};
use rollcall_core::model::{Participant, SessionRow, SessionScan};
use rollcall_core::session;

use crate::error::{to_u64, Error, Result};

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

/// A meeting's `seq` counter within one batch.
struct Counter {
    last: u64,
    dirty: bool,
}

pub(crate) fn ingest(conn: &mut Connection, events: &[ResolvedEvent]) -> Result<Vec<Outcome>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // `None`: the meeting does not exist.
    let mut counters: HashMap<i64, Option<Counter>> = HashMap::new();
    let mut out = Vec::with_capacity(events.len());
    for ev in events {
        let counter = match counters.entry(ev.meeting_key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let last: Option<i64> = tx
                    .prepare_cached("SELECT last_seq FROM meetings WHERE key = ?1")?
                    .query_row([ev.meeting_key], |r| r.get(0))
                    .optional()?;
                let last = last.map(|v| to_u64(v, "last_seq")).transpose()?;
                v.insert(last.map(|last| Counter { last, dirty: false }))
            }
        };
        let Some(counter) = counter else {
            out.push(Outcome::Rejected("unknown meeting".into()));
            continue;
        };
        let recorded = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO applied_events (meeting_key, event_id) VALUES (?1, ?2)",
            )?
            .execute(params![ev.meeting_key, ev.event.event_id])?;
        if recorded == 0 {
            out.push(Outcome::Duplicate);
            continue;
        }
        let outcome = apply(&tx, ev, counter)?;
        if matches!(outcome, Outcome::Rejected(_)) {
            tx.prepare_cached(
                "DELETE FROM applied_events WHERE meeting_key = ?1 AND event_id = ?2",
            )?
            .execute(params![ev.meeting_key, ev.event.event_id])?;
        }
        out.push(outcome);
    }
    {
        let mut st = tx.prepare_cached("UPDATE meetings SET last_seq = ?2 WHERE key = ?1")?;
        for (key, c) in &counters {
            if let Some(c) = c.as_ref().filter(|c| c.dirty) {
                st.execute(params![key, clamp(c.last)])?;
            }
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Apply one new (not duplicate) event to a known meeting.
fn apply(tx: &Connection, ev: &ResolvedEvent, counter: &mut Counter) -> Result<Outcome> {
    let e = &ev.event;
    match &e.kind {
        EventKind::Join(join) => {
            let pending = take_pending(tx, ev.meeting_key, &e.session)?;
            let seq = counter.last.saturating_add(1);
            let mut row = session::start(seq, ev.sub_key, &e.session, e.at, join);
            let had_pending = !pending.is_empty();
            if had_pending {
                session::apply_pending(&mut row, pending);
            }
            if insert_session(tx, ev.meeting_key, &row)? == 0 {
                return Ok(Outcome::Rejected(format!(
                    "session {:?} already joined",
                    e.session
                )));
            }
            counter.last = seq;
            counter.dirty = true;
            if had_pending {
                tx.prepare_cached(
                    "DELETE FROM pending_events WHERE meeting_key = ?1 AND session_key = ?2",
                )?
                .execute(params![ev.meeting_key, e.session])?;
            }
            Ok(Outcome::Accepted)
        }
        EventKind::Quit | EventKind::State(_) => {
            let found = {
                let mut st = tx.prepare_cached(concat!(
                    "SELECT ",
                    session_cols!(),
                    " FROM sessions WHERE meeting_key = ?1 AND session_key = ?2"
                ))?;
                let mut rows = st.query(params![ev.meeting_key, e.session])?;
                match rows.next()? {
                    Some(r) => Some(session_row(r)?),
                    None => None,
                }
            };
            let Some(mut row) = found else {
                let pending = match &e.kind {
                    EventKind::State(patch) => Pending::State {
                        at: e.at,
                        patch: patch.clone(),
                    },
                    _ => Pending::Quit { at: e.at },
                };
                tx.prepare_cached(
                    "INSERT INTO pending_events (meeting_key, session_key, ord, body) \
                     VALUES (?1, ?2, (SELECT ifnull(max(ord), 0) + 1 FROM pending_events \
                     WHERE meeting_key = ?1 AND session_key = ?2), ?3)",
                )?
                .execute(params![
                    ev.meeting_key,
                    e.session,
                    serde_json::to_string(&pending)?
                ])?;
                return Ok(Outcome::Accepted);
            };
            let before = row.clone();
            match &e.kind {
                EventKind::State(patch) => session::state(&mut row, e.at, patch),
                _ => {
                    if let Err(reason) = session::quit(&mut row, e.at) {
                        return Ok(Outcome::Rejected(reason));
                    }
                }
            }
            if row != before {
                update_session(tx, ev.meeting_key, &row)?;
            }
            Ok(Outcome::Accepted)
        }
    }
}

/// The events parked for a session that has not joined yet, in arrival order.
fn take_pending(tx: &Connection, meeting_key: i64, session_key: &str) -> Result<Vec<Pending>> {
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

/// Insert a new session; 0 when the session key is already taken in the meeting.
fn insert_session(tx: &Connection, meeting_key: i64, row: &SessionRow) -> Result<usize> {
    Ok(tx
        .prepare_cached(
            "INSERT OR IGNORE INTO sessions (meeting_key, sub_key, join_time, seq, session_key, \
             participant_kind, participant_id, quit_time, instance_id, role, webinar_role, \
             join_type, net, audio_state, video_state, screen_shared_state, customer_data, \
             state_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        )?
        .execute(params![
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
        ])?)
}

/// Write back what quit / state may change, addressing the row by its primary key.
fn update_session(tx: &Connection, meeting_key: i64, row: &SessionRow) -> Result<()> {
    tx.prepare_cached(
        "UPDATE sessions SET quit_time = ?5, net = ?6, audio_state = ?7, video_state = ?8, \
         screen_shared_state = ?9, state_at = ?10 \
         WHERE meeting_key = ?1 AND sub_key = ?2 AND join_time = ?3 AND seq = ?4",
    )?
    .execute(params![
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
