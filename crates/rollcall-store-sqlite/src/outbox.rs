//! The callback outbox (SPEC §11) of the embedded store.
//!
//! - [`enqueue`]: called inside the transaction of the change that causes the events
//!   (meeting create / update / cancel, an ingest batch's presence transitions), so the
//!   events commit or roll back with it.
//!   A row written to a meeting with no pending row is its queue's `head`.
//! - [`claim`]: one `UPDATE … RETURNING` on the writer connection: the heads that are due
//!   and not leased (over `deliveries_due`) get a lease. SQLite has one writer at a time (and
//!   in-process writers share one mutex), so two claimers, threads or processes, never both
//!   see a row unleased: the second runs after the first committed its lease.
//! - [`finish`]: records an attempt and clears the lease; a finishing outcome hands `head`
//!   to the meeting's next pending row and prunes the history
//!   ([`rollcall_core::outbox::HISTORY_KEPT`]), in the same transaction.
//! - [`list`]: newest first, for the admin API.
//!
//! Reset and snapshots need nothing here: they list the tables from the schema.

use r2d2_sqlite::rusqlite::{params, Connection, Row, TransactionBehavior};

use rollcall_core::outbox::{AttemptOutcome, Delivery, DeliveryState, NewDelivery, HISTORY_KEPT};

use crate::error::{Error, Result};

/// The columns [`delivery`] decodes, in its order.
macro_rules! delivery_cols {
    () => {
        "id, corpid, agentid, meetingid, change_type, from_user, create_time, state, attempts, \
         next_attempt_at, last_status, last_error, finished_at"
    };
}

/// The heads a claim takes: due, not leased, earliest due first (`?1` now, `?3` limit).
macro_rules! claim_heads {
    () => {
        "SELECT id FROM deliveries WHERE state = 0 AND head = 1 AND next_attempt_at <= ?1 \
         AND lease_until <= ?1 ORDER BY next_attempt_at, id LIMIT ?3"
    };
}

/// [`claim_heads!`] alone, for the query-plan test.
#[cfg(test)]
pub(crate) const CLAIM_HEADS_SQL: &str = claim_heads!();

fn delivery(r: &Row<'_>) -> Result<Delivery> {
    let code: i64 = r.get(7)?;
    let state = DeliveryState::from_code(code)
        .ok_or_else(|| Error::Corrupt(format!("unknown delivery state {code}")))?;
    Ok(Delivery {
        id: r.get(0)?,
        event: NewDelivery {
            corpid: r.get(1)?,
            agentid: r.get(2)?,
            meetingid: r.get(3)?,
            change_type: r.get(4)?,
            from_user: r.get(5)?,
            create_time: r.get(6)?,
        },
        state,
        attempts: r.get(8)?,
        next_attempt_at_ms: r.get(9)?,
        last_status: r.get(10)?,
        last_error: r.get(11)?,
        finished_at: r.get(12)?,
    })
}

/// Add `events` to the outbox, in order, inside the caller's transaction. A new delivery is
/// due at once (`next_attempt_at` 0; see `Delivery::next_attempt_at_ms`).
pub(crate) fn enqueue(tx: &Connection, events: &[NewDelivery]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut st = tx.prepare_cached(
        "INSERT INTO deliveries (corpid, agentid, meetingid, change_type, from_user, \
         create_time, head) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NOT EXISTS \
         (SELECT 1 FROM deliveries WHERE state = 0 AND meetingid = ?3))",
    )?;
    for e in events {
        st.execute(params![
            e.corpid,
            e.agentid,
            e.meetingid,
            e.change_type,
            e.from_user,
            e.create_time
        ])?;
    }
    Ok(())
}

pub(crate) fn claim(
    conn: &mut Connection,
    now_ms: i64,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<Delivery>> {
    let until = now_ms.saturating_add(lease_ms.max(0));
    let mut st = conn.prepare_cached(concat!(
        "UPDATE deliveries SET lease_until = ?2 WHERE id IN (",
        claim_heads!(),
        ") RETURNING ",
        delivery_cols!()
    ))?;
    let mut rows = st.query(params![now_ms, until, i64::from(limit)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(delivery(r)?);
    }
    // RETURNING gives no order.
    out.sort_unstable_by_key(|d| d.id);
    Ok(out)
}

pub(crate) fn finish(
    conn: &mut Connection,
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
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx
        .prepare_cached(
            "UPDATE deliveries SET state = ?2, attempts = ?3, last_status = ?4, \
             last_error = ?5, next_attempt_at = coalesce(?6, next_attempt_at), \
             lease_until = 0, finished_at = ?7, head = head AND ?2 = 0 \
             WHERE id = ?1 AND state = 0",
        )?
        .execute(params![
            id,
            state.code(),
            attempts,
            outcome.status(),
            outcome.error(),
            next,
            finished
        ])?;
    if changed > 0 && state != DeliveryState::Pending {
        tx.prepare_cached(
            "UPDATE deliveries SET head = 1 WHERE id = (SELECT min(id) FROM deliveries \
             WHERE state = 0 AND meetingid = (SELECT meetingid FROM deliveries WHERE id = ?1))",
        )?
        .execute([id])?;
        tx.prepare_cached(
            "DELETE FROM deliveries WHERE state <> 0 \
             AND id <= (SELECT max(id) FROM deliveries) - ?1",
        )?
        .execute([HISTORY_KEPT])?;
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn list(conn: &Connection, limit: u32) -> Result<Vec<Delivery>> {
    let mut st = conn.prepare_cached(concat!(
        "SELECT ",
        delivery_cols!(),
        " FROM deliveries ORDER BY id DESC LIMIT ?1"
    ))?;
    let mut rows = st.query([i64::from(limit)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(delivery(r)?);
    }
    Ok(out)
}
