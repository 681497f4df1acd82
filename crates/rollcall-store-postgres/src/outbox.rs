//! The callback outbox (SPEC §11) of the PostgreSQL store, shared by every node.
//!
//! - [`enqueue`] / [`DeliveryCols`]: one multi-row `INSERT … SELECT FROM UNNEST` inside the
//!   transaction of the change that causes the events (meeting create / update / cancel; an
//!   ingest batch sends it in its pipelined writes), so the events commit or roll back with
//!   the change.
//! - `head`: the oldest pending row of each meeting carries it. A writer first locks the
//!   meeting's pending tail ([`LOCK_TAILS_SQL`], `FOR NO KEY UPDATE`): a meeting with a
//!   pending row gets its new rows behind it (not heads); one without gets its first new row
//!   as its head. The lock orders the writer against a [`finish`] of that tail: either the
//!   finish commits first (the tail is then re-read as finished: the queue is empty, the new
//!   row is the head) or the writer does (the finish, in a later statement, hands the head to
//!   the new row). So each meeting with pending rows has exactly one head.
//! - [`claim`]: one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` over
//!   the heads that are due and not leased (the partial index `deliveries_due`), so its cost
//!   follows the due heads, not the backlog.
//!   `SKIP LOCKED`: a row another node is claiming right now is passed over instead of waited
//!   for, so nodes never queue behind each other, and never get the same row: a row whose
//!   lock is granted after the other node committed its lease is re-checked on its new
//!   version (READ COMMITTED re-evaluates the locked row's conditions), which is leased, or
//!   finished, and so excluded. A row that is the head in a claimer's snapshot is the real
//!   head: older rows of its meeting were finished, and finished is final.
//! - Why per-meeting order holds across nodes: every writer of a meeting's events holds that
//!   meeting's row lock when it draws the ids (update / cancel update the row, ingest locks it
//!   `FOR NO KEY UPDATE`, a creation inserts it), so ids of one meeting are drawn in commit
//!   order and a claimer never sees a later event committed before an earlier one.
//! - [`finish`]: records an attempt and clears the lease; a finishing outcome hands `head` to
//!   the meeting's next pending row and then, after the commit, prunes the history
//!   ([`rollcall_core::outbox::HISTORY_KEPT`]) on its own (see the comment there).
//! - [`list`]: newest first, for the admin API.
//!
//! Reset and snapshots need nothing here: they list the tables from the catalog.

use std::collections::HashSet;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use rollcall_core::outbox::{AttemptOutcome, Delivery, DeliveryState, NewDelivery, HISTORY_KEPT};

use crate::error::{get, get_u32, Error, Result};

type Client = deadpool_postgres::Object;

/// The columns [`delivery`] decodes, in its order.
macro_rules! delivery_cols {
    () => {
        "id, corpid, agentid, meetingid, change_type, from_user, create_time, state, attempts, \
         next_attempt_at, last_status, last_error, finished_at"
    };
}

/// `ORDER BY n`: the identity `id` is drawn in the order given.
pub(crate) const ENQUEUE_SQL: &str = "INSERT INTO deliveries \
     (corpid, agentid, meetingid, change_type, from_user, create_time, head) \
     SELECT c, a, m, t, f, ct, h FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], \
     $5::text[], $6::bigint[], $7::boolean[]) WITH ORDINALITY AS u(c, a, m, t, f, ct, h, n) \
     ORDER BY n";

/// Lock the newest pending row of each meeting named, returning the meetings that have one.
pub(crate) const LOCK_TAILS_SQL: &str = "SELECT t.meetingid FROM UNNEST($1::text[]) AS u(m) \
     CROSS JOIN LATERAL (SELECT meetingid FROM deliveries WHERE state = 0 AND meetingid = u.m \
     ORDER BY id DESC LIMIT 1 FOR NO KEY UPDATE) AS t";

const CLAIM_SQL: &str = concat!(
    "UPDATE deliveries SET lease_until = $2 WHERE id IN (\
     SELECT id FROM deliveries WHERE state = 0 AND head AND next_attempt_at <= $1 \
     AND lease_until <= $1 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING ",
    delivery_cols!()
);

const FINISH_SQL: &str = "UPDATE deliveries SET state = $2, attempts = $3, last_status = $4, \
     last_error = $5, next_attempt_at = coalesce($6, next_attempt_at), lease_until = 0, \
     finished_at = $7, head = head AND $2::bigint = 0 WHERE id = $1 AND state = 0";

/// After a head finished: the meeting's next pending row is its head.
const PROMOTE_SQL: &str = "UPDATE deliveries SET head = TRUE WHERE id = (SELECT min(id) \
     FROM deliveries WHERE state = 0 AND meetingid = \
     (SELECT meetingid FROM deliveries WHERE id = $1))";

const PRUNE_SQL: &str = "DELETE FROM deliveries WHERE state <> 0 \
     AND id <= (SELECT max(id) FROM deliveries) - $1";

/// New deliveries as the columns of [`ENQUEUE_SQL`].
#[derive(Default)]
pub(crate) struct DeliveryCols<'a> {
    corpid: Vec<&'a str>,
    agentid: Vec<i64>,
    meetingid: Vec<&'a str>,
    change_type: Vec<&'a str>,
    from_user: Vec<&'a str>,
    create_time: Vec<i64>,
    head: Vec<bool>,
}

impl<'a> DeliveryCols<'a> {
    /// `events` as columns; `queued`: the meetings that already have a pending row (their
    /// tails locked by [`LOCK_TAILS_SQL`]). A meeting's first new row is its head unless
    /// it has one.
    pub(crate) fn of(events: &'a [NewDelivery], queued: &HashSet<String>) -> Self {
        let mut c = Self::default();
        let mut seen: HashSet<&str> = HashSet::new();
        for e in events {
            let first = seen.insert(&e.meetingid);
            c.head.push(first && !queued.contains(&e.meetingid));
            c.corpid.push(&e.corpid);
            c.agentid.push(i64::from(e.agentid));
            c.meetingid.push(&e.meetingid);
            c.change_type.push(&e.change_type);
            c.from_user.push(&e.from_user);
            c.create_time.push(e.create_time);
        }
        c
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.corpid.is_empty()
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.corpid,
            &self.agentid,
            &self.meetingid,
            &self.change_type,
            &self.from_user,
            &self.create_time,
            &self.head,
        ]
    }
}

/// Add `events` to the outbox, in order, inside the caller's transaction. A new delivery is
/// due at once (`next_attempt_at` 0; see `Delivery::next_attempt_at_ms`).
pub(crate) async fn enqueue(
    tx: &deadpool_postgres::Transaction<'_>,
    events: &[NewDelivery],
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let (lock, insert) = tokio::try_join!(
        tx.prepare_cached(LOCK_TAILS_SQL),
        tx.prepare_cached(ENQUEUE_SQL)
    )?;
    let queued = lock_tails(tx, &lock, events.iter().map(|e| e.meetingid.as_str())).await?;
    let cols = DeliveryCols::of(events, &queued);
    tx.execute(&insert, &cols.params()).await?;
    Ok(())
}

/// Lock the pending tails of `meetingids` ([`LOCK_TAILS_SQL`]): the meetings that have one.
pub(crate) async fn lock_tails(
    tx: &deadpool_postgres::Transaction<'_>,
    st: &tokio_postgres::Statement,
    meetingids: impl Iterator<Item = &str>,
) -> Result<HashSet<String>> {
    let mut ids: Vec<&str> = meetingids.collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = tx.query(st, &[&ids]).await?;
    rows.iter().map(|r| get(r, 0)).collect()
}

fn delivery(r: &Row) -> Result<Delivery> {
    let code: i64 = get(r, 7)?;
    let state = DeliveryState::from_code(code)
        .ok_or_else(|| Error::Corrupt(format!("unknown delivery state {code}")))?;
    let status: Option<i64> = get(r, 10)?;
    let last_status = status
        .map(|s| u16::try_from(s).map_err(|_| Error::Corrupt(format!("HTTP status {s}"))))
        .transpose()?;
    Ok(Delivery {
        id: get(r, 0)?,
        event: NewDelivery {
            corpid: get(r, 1)?,
            agentid: get_u32(r, 2, "agentid")?,
            meetingid: get(r, 3)?,
            change_type: get(r, 4)?,
            from_user: get(r, 5)?,
            create_time: get(r, 6)?,
        },
        state,
        attempts: get_u32(r, 8, "attempts")?,
        next_attempt_at_ms: get(r, 9)?,
        last_status,
        last_error: get(r, 11)?,
        finished_at: get(r, 12)?,
    })
}

pub(crate) async fn claim(
    c: &mut Client,
    now_ms: i64,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<Delivery>> {
    let until = now_ms.saturating_add(lease_ms.max(0));
    let st = c.prepare_cached(CLAIM_SQL).await?;
    let rows = c.query(&st, &[&now_ms, &until, &i64::from(limit)]).await?;
    let mut out = rows.iter().map(delivery).collect::<Result<Vec<_>>>()?;
    // RETURNING gives no order.
    out.sort_unstable_by_key(|d| d.id);
    Ok(out)
}

pub(crate) async fn finish(
    c: &mut Client,
    id: i64,
    attempts: u32,
    outcome: &AttemptOutcome,
    now: i64,
) -> Result<()> {
    let state = outcome.state();
    let (next, finished) = match outcome {
        AttemptOutcome::Retry {
            next_attempt_at_ms, ..
        } => (Some(*next_attempt_at_ms), None),
        _ => (None, Some(now)),
    };
    let status = outcome.status().map(i64::from);
    let tx = c.transaction().await?;
    let (finish, promote, prune) = tokio::try_join!(
        tx.prepare_cached(FINISH_SQL),
        tx.prepare_cached(PROMOTE_SQL),
        tx.prepare_cached(PRUNE_SQL)
    )?;
    let changed = tx
        .execute(
            &finish,
            &[
                &id,
                &state.code(),
                &i64::from(attempts),
                &status,
                &outcome.error(),
                &next,
                &finished,
            ],
        )
        .await?;
    let finished = changed > 0 && state != DeliveryState::Pending;
    if finished {
        tx.execute(&promote, &[&id]).await?;
    }
    tx.commit().await?;
    if finished {
        // After the commit, on its own: two finishers pruning inside their transactions
        // could each hold a row the other's prune deletes (an old row finished late) and
        // deadlock. Alone, prunes delete in index order and at worst wait for each other.
        // Best effort: the attempt is recorded; the next finish prunes what this one left.
        if let Err(e) = c.execute(&prune, &[&HISTORY_KEPT]).await {
            tracing::warn!(error = %e, "pruning the callback history failed");
        }
    }
    Ok(())
}

pub(crate) async fn list(c: &mut Client, limit: u32) -> Result<Vec<Delivery>> {
    let st = c
        .prepare_cached(concat!(
            "SELECT ",
            delivery_cols!(),
            " FROM deliveries ORDER BY id DESC LIMIT $1"
        ))
        .await?;
    let rows = c.query(&st, &[&i64::from(limit)]).await?;
    rows.iter().map(delivery).collect()
}
