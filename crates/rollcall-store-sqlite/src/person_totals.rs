//! get_info's per-person aggregates (`rollcall_core::person_totals`): written in the ingest
//! transaction, read in one read transaction.
//!
//! A batch writes each touched person once: the stored spans its new closed spans reach
//! (one range of `person_spans`' primary key per new span), the merge decided by
//! `person_totals::merge_spans`, and an upsert of the totals that folds the delta with min /
//! + / max, so the totals row is never read on the write path.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use r2d2_sqlite::rusqlite::{params, Connection};

use rollcall_core::model::Participant;
use rollcall_core::person_totals::{self, PersonDelta, PersonKey, StoredTotals, WHOLE_MEETING};

use crate::error::{to_u64, Error, Result};

/// Fold one batch's deltas into the stored aggregates, inside its transaction.
pub(crate) fn write(tx: &Connection, deltas: &BTreeMap<PersonKey, PersonDelta>) -> Result<()> {
    let mut reach = tx.prepare_cached(
        "SELECT span_start, span_end FROM person_spans \
         WHERE meeting_key = ?1 AND sub_key = ?2 AND participant_kind = ?3 \
         AND participant_id = ?4 AND span_start <= ?6 AND span_end >= ?5",
    )?;
    let mut delete = tx.prepare_cached(
        "DELETE FROM person_spans WHERE meeting_key = ?1 AND sub_key = ?2 \
         AND participant_kind = ?3 AND participant_id = ?4 AND span_start = ?5",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO person_spans (meeting_key, sub_key, participant_kind, participant_id, \
         span_start, span_end) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO person_totals (meeting_key, sub_key, participant_kind, participant_id, \
         first_join, joins, last_quit, closed_secs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (meeting_key, sub_key, participant_kind, participant_id) DO UPDATE SET \
         first_join = min(first_join, excluded.first_join), \
         joins = joins + excluded.joins, \
         last_quit = coalesce(max(last_quit, excluded.last_quit), last_quit, excluded.last_quit), \
         closed_secs = closed_secs + excluded.closed_secs",
    )?;
    for (k, d) in deltas {
        let mut added = 0;
        if !d.spans.is_empty() {
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
            added = m.added_secs;
        }
        // A delta without joins belongs to a person whose row exists (their session was
        // stored): `i64::MAX` leaves its first join as it is.
        upsert.execute(params![
            k.meeting_key,
            k.view,
            k.kind,
            k.id,
            d.first_join.unwrap_or(i64::MAX),
            d.joins,
            d.last_quit,
            added,
        ])?;
    }
    Ok(())
}

/// The aggregates of one view, in one read transaction (totals, open sessions and the spans
/// those reach agree with each other).
///
/// One row per person, plus one per open session: the open sessions find their person by
/// kind and borrowed id in an FxHash index (a `HashMap<Participant, _>` cost a `String` and
/// a SipHash per open session: ~10% of a 100,000-session get_info under perf).
pub(crate) fn read(
    conn: &mut Connection,
    meeting_key: i64,
    view: i64,
) -> Result<Vec<StoredTotals>> {
    let tx = conn.transaction()?;
    let mut people: Vec<StoredTotals> = Vec::new();
    let mut index: [FxHashMap<String, usize>; KINDS] = Default::default();
    {
        let mut st = tx.prepare_cached(
            "SELECT participant_kind, participant_id, first_join, joins, last_quit, closed_secs \
             FROM person_totals WHERE meeting_key = ?1 AND sub_key = ?2",
        )?;
        let mut rows = st.query(params![meeting_key, view])?;
        while let Some(r) = rows.next()? {
            let kind: i64 = r.get(0)?;
            let id: String = r.get(1)?;
            index[slot(kind)?].insert(id.clone(), people.len());
            people.push(StoredTotals {
                participant: participant(kind, id)?,
                first_join: r.get(2)?,
                joins: to_u64(r.get(3)?, "joins")?,
                last_quit: r.get(4)?,
                closed_secs: r.get(5)?,
                open_joins: Vec::new(),
                late_spans: Vec::new(),
            });
        }
    }
    {
        // Over the partial index `sessions_open`: the live audience only.
        let whole = view == WHOLE_MEETING;
        let mut st = tx.prepare_cached(if whole {
            "SELECT participant_kind, participant_id, join_time FROM sessions \
             WHERE meeting_key = ?1 AND sub_key <> 0 AND quit_time IS NULL"
        } else {
            "SELECT participant_kind, participant_id, join_time FROM sessions \
             WHERE meeting_key = ?1 AND sub_key = ?2 AND quit_time IS NULL"
        })?;
        let mut rows = if whole {
            st.query(params![meeting_key])?
        } else {
            st.query(params![meeting_key, view])?
        };
        while let Some(r) = rows.next()? {
            let kind: i64 = r.get(0)?;
            let id = r
                .get_ref(1)?
                .as_str()
                .map_err(|e| Error::Corrupt(format!("participant id: {e}")))?;
            let i = *index[slot(kind)?].get(id).ok_or_else(|| {
                Error::Corrupt(format!(
                    "an open session of ({kind}, {id:?}) without its aggregates"
                ))
            })?;
            people[i].open_joins.push(r.get(2)?);
        }
    }
    {
        let mut st = tx.prepare_cached(
            "SELECT span_start, span_end FROM person_spans \
             WHERE meeting_key = ?1 AND sub_key = ?2 AND participant_kind = ?3 \
             AND participant_id = ?4 AND span_end > ?5 ORDER BY span_start",
        )?;
        for t in &mut people {
            let Some(&from) = t.open_joins.iter().min() else {
                continue;
            };
            let mut rows = st.query(params![
                meeting_key,
                view,
                t.participant.kind_code(),
                t.participant.id(),
                from
            ])?;
            while let Some(r) = rows.next()? {
                t.late_spans.push((r.get(0)?, r.get(1)?));
            }
        }
    }
    tx.finish()?;
    Ok(people)
}

/// Participant kinds (`Participant::kind_code`: 0, 1, 2).
const KINDS: usize = 3;

/// A stored participant kind as an index below [`KINDS`].
fn slot(kind: i64) -> Result<usize> {
    usize::try_from(kind)
        .ok()
        .filter(|k| *k < KINDS)
        .ok_or_else(|| Error::Corrupt(format!("unknown participant kind {kind}")))
}

fn participant(kind: i64, id: String) -> Result<Participant> {
    Participant::from_parts(kind, id)
        .ok_or_else(|| Error::Corrupt(format!("unknown participant kind {kind}")))
}
