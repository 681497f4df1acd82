//! get_info's per-person aggregates (`rollcall_core::person_totals`): written by ingest under
//! its meeting locks, read in one statement.
//!
//! A batch costs one more round trip, and only when it closes a session: the stored spans
//! its new closed spans reach, for every touched person at once (one range of
//! `person_spans`' primary key per new span). The merges are decided in memory
//! (`person_totals::merge_spans`) and written with the batch's other statements: spans
//! deleted, spans upserted (a merged span that keeps a stored start replaces its end, so the
//! two statements touch disjoint rows and may run in any order), and the totals upserted
//! with min / + / max, so the totals row is never read on the write path. The meeting lock
//! every ingest of a meeting holds (any node) is what makes read-merge-write safe.

use std::collections::BTreeMap;

use tokio_postgres::types::ToSql;

use rollcall_core::model::Participant;
use rollcall_core::person_totals::{self, PersonDelta, PersonKey, StoredTotals};

use crate::error::{get, get_u64, Error, Result};

type Client = deadpool_postgres::Object;

const REACH_SQL: &str = "SELECT u.n, p.span_start, p.span_end \
     FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], \
     $6::bigint[]) WITH ORDINALITY AS u(m, v, k, i, s, e, n) \
     CROSS JOIN LATERAL (SELECT span_start, span_end FROM person_spans \
     WHERE meeting_key = u.m AND sub_key = u.v AND participant_kind = u.k \
     AND participant_id = u.i AND span_start <= u.e AND span_end >= u.s \
     AND span_start >= coalesce((SELECT q.span_start FROM person_spans q \
         WHERE q.meeting_key = u.m AND q.sub_key = u.v AND q.participant_kind = u.k \
         AND q.participant_id = u.i AND q.span_start <= u.s \
         ORDER BY q.span_start DESC LIMIT 1), u.s) OFFSET 0) AS p";

pub(crate) const DELETE_SPANS_SQL: &str = "DELETE FROM person_spans AS p \
     USING UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[]) \
     AS u(m, v, k, i, s) \
     WHERE p.meeting_key = u.m AND p.sub_key = u.v AND p.participant_kind = u.k \
     AND p.participant_id = u.i AND p.span_start = u.s";

pub(crate) const UPSERT_SPANS_SQL: &str = "INSERT INTO person_spans (meeting_key, sub_key, \
     participant_kind, participant_id, span_start, span_end) \
     SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], \
     $6::bigint[]) \
     ON CONFLICT (meeting_key, sub_key, participant_kind, participant_id, span_start) \
     DO UPDATE SET span_end = excluded.span_end";

pub(crate) const UPSERT_TOTALS_SQL: &str = "INSERT INTO person_totals (meeting_key, sub_key, \
     participant_kind, participant_id, first_join, joins, last_quit, closed_secs) \
     SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], \
     $6::bigint[], $7::bigint[], $8::bigint[]) \
     ON CONFLICT (meeting_key, sub_key, participant_kind, participant_id) DO UPDATE SET \
     first_join = LEAST(person_totals.first_join, excluded.first_join), \
     joins = person_totals.joins + excluded.joins, \
     last_quit = GREATEST(person_totals.last_quit, excluded.last_quit), \
     closed_secs = person_totals.closed_secs + excluded.closed_secs";

/// One view's people: their totals, their open sessions' joins (over `sessions_open`) and,
/// for those with one open, the stored spans ending after the earliest; one statement, so
/// one snapshot. The late spans are the one holding that join, if any, and those starting
/// after it (`LATE`): a filter on `span_end` alone would walk the person's whole history.
const READ_SQL: &str = "WITH o AS ( \
         SELECT participant_kind AS k, participant_id AS i, min(join_time) AS j, \
             array_agg(join_time) AS js \
         FROM sessions WHERE meeting_key = $1 AND quit_time IS NULL \
         AND CASE WHEN $2::bigint = -1 THEN sub_key <> 0 ELSE sub_key = $2::bigint END \
         GROUP BY participant_kind, participant_id) \
     SELECT t.participant_kind, t.participant_id, t.first_join, t.joins, t.last_quit, \
         t.closed_secs, o.js, l.starts, l.ends \
     FROM person_totals t LEFT JOIN o ON o.k = t.participant_kind AND o.i = t.participant_id \
     LEFT JOIN LATERAL (SELECT array_agg(p.span_start ORDER BY p.span_start) AS starts, \
             array_agg(p.span_end ORDER BY p.span_start) AS ends \
         FROM person_spans p \
         WHERE o.j IS NOT NULL AND p.meeting_key = $1 AND p.sub_key = $2 \
         AND p.participant_kind = t.participant_kind AND p.participant_id = t.participant_id \
         AND p.span_end > o.j AND p.span_start >= coalesce((SELECT q.span_start \
             FROM person_spans q WHERE q.meeting_key = $1 AND q.sub_key = $2 \
             AND q.participant_kind = t.participant_kind \
             AND q.participant_id = t.participant_id AND q.span_start <= o.j \
             ORDER BY q.span_start DESC LIMIT 1), o.j)) AS l ON TRUE \
     WHERE t.meeting_key = $1 AND t.sub_key = $2";

/// Key columns of a person, repeated per row of a statement.
#[derive(Default)]
struct Keys<'a> {
    m: Vec<i64>,
    v: Vec<i64>,
    k: Vec<i64>,
    i: Vec<&'a str>,
}

impl<'a> Keys<'a> {
    fn push(&mut self, key: &'a PersonKey) {
        self.m.push(key.meeting_key);
        self.v.push(key.view);
        self.k.push(key.kind);
        self.i.push(&key.id);
    }
}

/// A batch's writes to the aggregates, as the columns of the three statements.
#[derive(Default)]
pub(crate) struct TotalsWrites<'a> {
    deleted: Keys<'a>,
    deleted_start: Vec<i64>,
    spans: Keys<'a>,
    span_start: Vec<i64>,
    span_end: Vec<i64>,
    totals: Keys<'a>,
    first_join: Vec<i64>,
    joins: Vec<i64>,
    last_quit: Vec<Option<i64>>,
    added: Vec<i64>,
}

impl TotalsWrites<'_> {
    /// `(sql, params)` of each statement with rows to write.
    pub(crate) fn statements(&self) -> Vec<(&'static str, Vec<&(dyn ToSql + Sync)>)> {
        let mut out: Vec<(&'static str, Vec<&(dyn ToSql + Sync)>)> = Vec::new();
        if !self.deleted.m.is_empty() {
            let d = &self.deleted;
            out.push((
                DELETE_SPANS_SQL,
                vec![&d.m, &d.v, &d.k, &d.i, &self.deleted_start],
            ));
        }
        if !self.spans.m.is_empty() {
            let s = &self.spans;
            out.push((
                UPSERT_SPANS_SQL,
                vec![&s.m, &s.v, &s.k, &s.i, &self.span_start, &self.span_end],
            ));
        }
        if !self.totals.m.is_empty() {
            let t = &self.totals;
            out.push((
                UPSERT_TOTALS_SQL,
                vec![
                    &t.m,
                    &t.v,
                    &t.k,
                    &t.i,
                    &self.first_join,
                    &self.joins,
                    &self.last_quit,
                    &self.added,
                ],
            ));
        }
        out
    }
}

/// Read the stored spans the batch's new closed spans reach (one round trip, none when the
/// batch closed nothing) and decide every write to the aggregates.
pub(crate) async fn prepare<'a>(
    tx: &deadpool_postgres::Transaction<'_>,
    deltas: &'a BTreeMap<PersonKey, PersonDelta>,
) -> Result<TotalsWrites<'a>> {
    let people: Vec<(&PersonKey, &PersonDelta)> = deltas.iter().collect();
    let mut owner: Vec<usize> = Vec::new();
    let mut probe = Keys::default();
    let (mut s, mut e) = (Vec::new(), Vec::new());
    for (n, (key, d)) in people.iter().enumerate() {
        for &(a, b) in &d.spans {
            owner.push(n);
            probe.push(key);
            s.push(a);
            e.push(b);
        }
    }
    let mut stored: Vec<Vec<(i64, i64)>> = vec![Vec::new(); people.len()];
    if !owner.is_empty() {
        let st = tx.prepare_cached(REACH_SQL).await?;
        let rows = tx
            .query(&st, &[&probe.m, &probe.v, &probe.k, &probe.i, &s, &e])
            .await?;
        for r in &rows {
            let n: i64 = get(r, 0)?;
            let at = usize::try_from(n - 1)
                .ok()
                .and_then(|i| owner.get(i).copied())
                .ok_or_else(|| Error::Corrupt(format!("span probe {n} out of range")))?;
            let span = (get(r, 1)?, get(r, 2)?);
            if !stored[at].contains(&span) {
                stored[at].push(span);
            }
        }
    }
    let mut w = TotalsWrites::default();
    for ((key, d), stored) in people.into_iter().zip(&stored) {
        let m = person_totals::merge_spans(stored, &d.spans);
        for start in m.removed {
            if !m.inserted.iter().any(|s| s.0 == start) {
                w.deleted.push(key);
                w.deleted_start.push(start);
            }
        }
        for (a, b) in m.inserted {
            w.spans.push(key);
            w.span_start.push(a);
            w.span_end.push(b);
        }
        w.totals.push(key);
        // A delta without joins belongs to a person whose row exists (their session was
        // stored): `i64::MAX` leaves its first join as it is.
        w.first_join.push(d.first_join.unwrap_or(i64::MAX));
        w.joins.push(d.joins);
        w.last_quit.push(d.last_quit);
        w.added.push(m.added_secs);
    }
    Ok(w)
}

/// The aggregates of one view. The rows arrive on the async worker (the socket's reads);
/// their decoding, one person each, and a meeting may have tens of thousands, runs off it
/// (`rollcall_store::background::run_sized`, sized by the rows), as SQLite's read does.
pub(crate) async fn read(c: &mut Client, meeting_key: i64, view: i64) -> Result<Vec<StoredTotals>> {
    let st = c.prepare_cached(READ_SQL).await?;
    let rows = c.query(&st, &[&meeting_key, &view]).await?;
    let size = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    rollcall_store::background::run_sized(size, move || decode(&rows))
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))?
}

fn decode(rows: &[tokio_postgres::Row]) -> Result<Vec<StoredTotals>> {
    rows.iter()
        .map(|r| {
            let kind: i64 = get(r, 0)?;
            let participant = Participant::from_parts(kind, get(r, 1)?)
                .ok_or_else(|| Error::Corrupt(format!("unknown participant kind {kind}")))?;
            let starts: Option<Vec<i64>> = get(r, 7)?;
            let ends: Option<Vec<i64>> = get(r, 8)?;
            Ok(StoredTotals {
                participant,
                first_join: get(r, 2)?,
                joins: get_u64(r, 3, "joins")?,
                last_quit: get(r, 4)?,
                closed_secs: get(r, 5)?,
                open_joins: get::<Option<Vec<i64>>>(r, 6)?.unwrap_or_default(),
                late_spans: starts
                    .unwrap_or_default()
                    .into_iter()
                    .zip(ends.unwrap_or_default())
                    .collect(),
                late_secs: None,
            })
        })
        .collect()
}
