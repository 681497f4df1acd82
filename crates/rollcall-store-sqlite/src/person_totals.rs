//! get_info's per-person aggregates (`rollcall_core::person_totals`): written in the ingest
//! transaction, read in one read transaction.
//!
//! A batch writes each touched person once: the stored spans its new closed spans reach
//! (one range of `person_spans`' primary key per new span), the merge decided by
//! `person_totals::merge_spans`, and an upsert of the totals that folds the delta (min, sum,
//! max) and returns the person's kept open state (`OpenKept`: earliest open join and the
//! closed time after it), which `person_totals::open_update` moves on, probing
//! `sessions_open_by_person` only when the session holding the earliest open join closed.
//! A person the batch is the first to store is inserted with that state at once.

use std::collections::BTreeMap;

use r2d2_sqlite::rusqlite::{params, Connection, OptionalExtension};

use rollcall_core::model::Participant;
use rollcall_core::person_totals::{
    self, OpenKept, OpenUpdate, PersonDelta, PersonKey, StoredTotals,
};

use crate::error::{to_u64, Error, Result};

/// The stored spans that overlap or touch `[?5, ?6]`. Stored spans are disjoint and sorted,
/// so at most one that starts before `?5` can reach it: the last one, found by one backward
/// step of the primary key. A plain `span_start <= ?6 AND span_end >= ?5` walks every span
/// the person ever had (the index orders by start, not end), which made each quit cost the
/// person's whole history.
const REACH_SQL: &str = "SELECT span_start, span_end FROM person_spans \
     WHERE meeting_key = ?1 AND sub_key = ?2 AND participant_kind = ?3 AND participant_id = ?4 \
     AND span_end >= ?5 AND span_start <= ?6 AND span_start >= coalesce(( \
         SELECT span_start FROM person_spans WHERE meeting_key = ?1 AND sub_key = ?2 \
         AND participant_kind = ?3 AND participant_id = ?4 AND span_start <= ?5 \
         ORDER BY span_start DESC LIMIT 1), ?5)";

/// The stored spans that end after `?5` (a person's earliest open join), in order: the one
/// that holds `?5`, if any, and those that start after it; for the same reason as
/// [`REACH_SQL`], not a filter on `span_end` over the person's whole history.
const LATE_SQL: &str = "SELECT span_start, span_end FROM person_spans \
     WHERE meeting_key = ?1 AND sub_key = ?2 AND participant_kind = ?3 AND participant_id = ?4 \
     AND span_end > ?5 AND span_start >= coalesce(( \
         SELECT span_start FROM person_spans WHERE meeting_key = ?1 AND sub_key = ?2 \
         AND participant_kind = ?3 AND participant_id = ?4 AND span_start <= ?5 \
         ORDER BY span_start DESC LIMIT 1), ?5) \
     ORDER BY span_start";

/// The earliest open join of a person in a view, over `sessions_open_by_person` (the
/// person's open sessions in join order, the first of the view's).
const PROBE_SQL: &str = "SELECT join_time FROM sessions \
     WHERE meeting_key = ?1 AND participant_kind = ?2 AND participant_id = ?3 \
     AND quit_time IS NULL AND CASE WHEN ?4 = -1 THEN sub_key <> 0 ELSE sub_key = ?4 END \
     ORDER BY join_time LIMIT 1";

/// The join times of a person's open sessions in a view (the exact path of [`read`]).
const OPEN_JOINS_SQL: &str = "SELECT join_time FROM sessions \
     WHERE meeting_key = ?1 AND participant_kind = ?2 AND participant_id = ?3 \
     AND quit_time IS NULL AND CASE WHEN ?4 = -1 THEN sub_key <> 0 ELSE sub_key = ?4 END";

/// Fold one batch's deltas into the stored aggregates, inside its transaction, after the
/// batch's sessions are written (a probe for the earliest open join sees them).
pub(crate) fn write(tx: &Connection, deltas: &BTreeMap<PersonKey, PersonDelta>) -> Result<()> {
    let mut reach = tx.prepare_cached(REACH_SQL)?;
    let mut delete = tx.prepare_cached(
        "DELETE FROM person_spans WHERE meeting_key = ?1 AND sub_key = ?2 \
         AND participant_kind = ?3 AND participant_id = ?4 AND span_start = ?5",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO person_spans (meeting_key, sub_key, participant_kind, participant_id, \
         span_start, span_end) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    // A new person's row is inserted with their kept open state (?9, ?10: what the batch
    // alone gives, as nothing was stored before); an existing row's fold leaves it, so
    // RETURNING gives it as it was before the batch. `joins` tells the two apart: a row
    // that existed has joins of its own besides the batch's.
    let mut upsert = tx.prepare_cached(
        "INSERT INTO person_totals (meeting_key, sub_key, participant_kind, participant_id, \
         first_join, joins, last_quit, closed_secs, open_first, late_secs) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (meeting_key, sub_key, participant_kind, participant_id) DO UPDATE SET \
         first_join = min(first_join, excluded.first_join), \
         joins = joins + excluded.joins, \
         last_quit = coalesce(max(last_quit, excluded.last_quit), last_quit, excluded.last_quit), \
         closed_secs = closed_secs + excluded.closed_secs \
         RETURNING joins, open_first, late_secs",
    )?;
    let mut keep = tx.prepare_cached(
        "UPDATE person_totals SET open_first = ?5, late_secs = ?6 WHERE meeting_key = ?1 \
         AND sub_key = ?2 AND participant_kind = ?3 AND participant_id = ?4",
    )?;
    let mut probe = tx.prepare_cached(PROBE_SQL)?;
    let mut late = tx.prepare_cached(LATE_SQL)?;
    for (k, d) in deltas {
        let mut stored: Vec<(i64, i64)> = Vec::new();
        for &(s, e) in &d.spans {
            let mut rows = reach.query(params![k.meeting_key, k.view, k.kind, k.id, s, e])?;
            while let Some(r) = rows.next()? {
                let span = (r.get(0)?, r.get(1)?);
                if !stored.contains(&span) {
                    stored.push(span);
                }
            }
        }
        let m = person_totals::merge_spans(&stored, &d.spans);
        for start in &m.removed {
            delete.execute(params![k.meeting_key, k.view, k.kind, k.id, start])?;
        }
        for (s, e) in &m.inserted {
            insert.execute(params![k.meeting_key, k.view, k.kind, k.id, s, e])?;
        }
        // A delta without joins belongs to a person whose row exists (their session was
        // stored): `i64::MAX` leaves its first join as it is.
        let fresh = person_totals::open_of_new(d);
        let (joins, old) = upsert.query_row(
            params![
                k.meeting_key,
                k.view,
                k.kind,
                k.id,
                d.first_join.unwrap_or(i64::MAX),
                d.joins,
                d.last_quit,
                m.added_secs,
                fresh.first,
                fresh.late_secs,
            ],
            |r| {
                let joins: i64 = r.get(0)?;
                let old = OpenKept {
                    first: r.get(1)?,
                    late_secs: r.get(2)?,
                };
                Ok((joins, old))
            },
        )?;
        if joins == d.joins {
            continue; // inserted now, with `fresh`
        }
        // The spans are written, so a count from the stored spans sees this batch's.
        let mut recount = |j: i64| -> Result<OpenKept> {
            let spans = late_spans(&mut late, k.meeting_key, k.view, k.kind, &k.id, j)?;
            Ok(OpenKept {
                first: Some(j),
                late_secs: person_totals::late_secs(&spans, j),
            })
        };
        let new = match person_totals::open_update(old, d, &m) {
            OpenUpdate::Unchanged => continue,
            OpenUpdate::Set(kept) => kept,
            OpenUpdate::Recount(j) => recount(j)?,
            OpenUpdate::Probe => {
                let first: Option<i64> = probe
                    .query_row(params![k.meeting_key, k.kind, k.id, k.view], |r| r.get(0))
                    .optional()?;
                first.map_or(Ok(OpenKept::default()), recount)?
            }
        };
        if new != old {
            keep.execute(params![
                k.meeting_key,
                k.view,
                k.kind,
                k.id,
                new.first,
                new.late_secs
            ])?;
        }
    }
    Ok(())
}

/// The aggregates of one view as of `now`, in one read transaction: one row per person.
///
/// A person with sessions open answers from their kept open state ([`OpenKept`]) whenever
/// `person_totals::kept_answers`; otherwise (a virtual clock moved back before their
/// earliest open join or a closed span's end) their open joins and late spans are read, a
/// range of `sessions_open_by_person` and one of `person_spans`. So the cost follows the
/// people, not the sessions, nor the open ones.
pub(crate) fn read(
    conn: &mut Connection,
    meeting_key: i64,
    view: i64,
    now: i64,
) -> Result<Vec<StoredTotals>> {
    let tx = conn.transaction()?;
    let mut people: Vec<StoredTotals> = Vec::new();
    {
        let mut st = tx.prepare_cached(
            "SELECT participant_kind, participant_id, first_join, joins, last_quit, \
             closed_secs, open_first, late_secs \
             FROM person_totals WHERE meeting_key = ?1 AND sub_key = ?2",
        )?;
        let mut open = tx.prepare_cached(OPEN_JOINS_SQL)?;
        let mut late_st = tx.prepare_cached(LATE_SQL)?;
        let mut rows = st.query(params![meeting_key, view])?;
        while let Some(r) = rows.next()? {
            let kind: i64 = r.get(0)?;
            let id: String = r.get(1)?;
            let last_quit: Option<i64> = r.get(4)?;
            let first: Option<i64> = r.get(6)?;
            let (mut open_joins, mut late, mut late_secs) = (Vec::new(), Vec::new(), None);
            match first {
                None => {}
                Some(j) if person_totals::kept_answers(j, last_quit, now) => {
                    open_joins.push(j);
                    late_secs = Some(r.get(7)?);
                }
                Some(_) => {
                    let mut joins = open.query(params![meeting_key, kind, id, view])?;
                    while let Some(j) = joins.next()? {
                        open_joins.push(j.get(0)?);
                    }
                    if let Some(&j) = open_joins.iter().filter(|&&j| j <= now).min() {
                        late = late_spans(&mut late_st, meeting_key, view, kind, &id, j)?;
                    }
                }
            }
            people.push(StoredTotals {
                participant: participant(kind, id)?,
                first_join: r.get(2)?,
                joins: to_u64(r.get(3)?, "joins")?,
                last_quit,
                closed_secs: r.get(5)?,
                open_joins,
                late_spans: late,
                late_secs,
            });
        }
    }
    tx.finish()?;
    Ok(people)
}

/// A person's stored spans that end after `from`, in order ([`LATE_SQL`] on `st`): what
/// a recount at ingest sums and what get_info's exact path overlaps with the open spans.
fn late_spans(
    st: &mut r2d2_sqlite::rusqlite::CachedStatement<'_>,
    meeting_key: i64,
    view: i64,
    kind: i64,
    id: &str,
    from: i64,
) -> Result<Vec<(i64, i64)>> {
    let mut rows = st.query(params![meeting_key, view, kind, id, from])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push((r.get(0)?, r.get(1)?));
    }
    Ok(out)
}

fn participant(kind: i64, id: String) -> Result<Participant> {
    Participant::from_parts(kind, id)
        .ok_or_else(|| Error::Corrupt(format!("unknown participant kind {kind}")))
}
