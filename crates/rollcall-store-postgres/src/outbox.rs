//! The callback outbox (SPEC §11) of the PostgreSQL store, shared by every node.
//!
//! - [`enqueue`] / [`DeliveryCols`]: one multi-row `INSERT … SELECT FROM UNNEST` inside the
//!   transaction of the change that causes the events (meeting create / update / cancel; an
//!   ingest batch sends it in its pipelined writes), so the events commit or roll back with
//!   the change.
//! - [`claim`]: one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`. The
//!   head of each meeting's queue is its oldest pending row (`min(id)` per `meetingid` over
//!   the partial index `deliveries_pending`); those due and not leased are locked and leased.
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
//! - [`finish`]: records an attempt and clears the lease; a finishing outcome also prunes the
//!   history ([`rollcall_core::outbox::HISTORY_KEPT`]) in the same transaction.
//! - [`list`]: newest first, for the admin API.
//!
//! Reset and snapshots need nothing here: they list the tables from the catalog.

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
     (corpid, agentid, meetingid, change_type, from_user, create_time) \
     SELECT c, a, m, t, f, ct FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], \
     $5::text[], $6::bigint[]) WITH ORDINALITY AS u(c, a, m, t, f, ct, n) ORDER BY n";

const CLAIM_SQL: &str = concat!(
    "UPDATE deliveries SET lease_until = $2 WHERE id IN (\
     SELECT d.id FROM deliveries d \
     WHERE d.id IN (SELECT min(id) FROM deliveries WHERE state = 0 GROUP BY meetingid) \
     AND d.state = 0 AND d.next_attempt_at <= $1 AND d.lease_until <= $1 \
     ORDER BY d.id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ",
    delivery_cols!()
);

const FINISH_SQL: &str = "UPDATE deliveries SET state = $2, attempts = $3, last_status = $4, \
     last_error = $5, next_attempt_at = coalesce($6, next_attempt_at), lease_until = 0, \
     finished_at = $7 WHERE id = $1 AND state = 0";

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
}

impl<'a> DeliveryCols<'a> {
    pub(crate) fn of(events: &'a [NewDelivery]) -> Self {
        let mut c = Self::default();
        for e in events {
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

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.corpid,
            &self.agentid,
            &self.meetingid,
            &self.change_type,
            &self.from_user,
            &self.create_time,
        ]
    }
}

/// Add `events` to the outbox, in order, inside the caller's transaction. A new delivery is
/// due at once (`next_attempt_at` 0; see `Delivery::next_attempt_at_ms`).
pub(crate) async fn enqueue(
    tx: &deadpool_postgres::Transaction<'_>,
    events: &[NewDelivery],
) -> Result<()> {
    let cols = DeliveryCols::of(events);
    if cols.is_empty() {
        return Ok(());
    }
    let st = tx.prepare_cached(ENQUEUE_SQL).await?;
    tx.execute(&st, &cols.params()).await?;
    Ok(())
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
    let (finish, prune) =
        tokio::try_join!(tx.prepare_cached(FINISH_SQL), tx.prepare_cached(PRUNE_SQL))?;
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
    if changed > 0 && state != DeliveryState::Pending {
        tx.execute(&prune, &[&HISTORY_KEPT]).await?;
    }
    tx.commit().await?;
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
