//! The dedupe window (SPEC §5's idempotence, bounded): how long an applied `event_id` is
//! remembered, and the background task that forgets older ones.
//!
//! Every accepted event leaves a record (meeting, `event_id`, applied at) so that a
//! redelivery counts as a duplicate. Kept forever, that table grows by one row per event.
//! Records are dated by the **server's clock when applied** (virtual in tests), not by the
//! event's `at`: redelivery is measured from the first send, and `at` is the sender's claim
//! (a backlog replayed a day late would otherwise be forgotten at once, and a bogus future
//! `at` kept forever). Why forgetting is safe, and the default, are argued in
//! ARCHITECTURE.md, "The dedupe window".
//!
//! The pruner runs on every node that serves ([`crate::serve`] starts it), in small batches
//! ([`PRUNE_BATCH`] records, one short transaction each) so an ingest never waits behind more
//! than one batch; nodes sharing PostgreSQL prune disjoint rows (`SKIP LOCKED`).

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use rollcall_store::StoreResult;

use crate::state::AppState;

/// How long a record is kept when nothing says otherwise: 72 hours (ARCHITECTURE.md).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(72 * 3600);

/// How often the pruner looks for expired records when nothing says otherwise.
pub const DEFAULT_PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Records deleted per transaction: small enough that the writer is free again within a few
/// milliseconds, large enough that a day's backlog goes in seconds.
pub const PRUNE_BATCH: u32 = 2000;

/// The dedupe window's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupeWindow {
    /// How long after it was applied an `event_id` still counts as a duplicate (whole
    /// seconds; the server's clock).
    pub window: Duration,
    /// How often (real time) the pruner runs. Tests shorten it and move the virtual clock.
    pub prune_every: Duration,
}

impl Default for DedupeWindow {
    fn default() -> Self {
        Self {
            window: DEFAULT_WINDOW,
            prune_every: DEFAULT_PRUNE_EVERY,
        }
    }
}

/// Prune every `prune_every` until `stopping` turns `true`. A failing store is logged and
/// tried again at the next tick: pruning late is harmless.
pub(crate) async fn run(state: AppState, mut stopping: watch::Receiver<bool>) {
    let every = state
        .config()
        .dedupe
        .prune_every
        .max(Duration::from_millis(10));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
        if let Err(e) = prune(&state, &stopping).await {
            tracing::warn!(error = %e, "pruning the dedupe records failed; trying again later");
        }
    }
}

/// Forget every record older than the window, batch by batch (stopping early when the
/// server stops). Returns how many went.
pub(crate) async fn prune(state: &AppState, stopping: &watch::Receiver<bool>) -> StoreResult<u64> {
    let window = i64::try_from(state.config().dedupe.window.as_secs()).unwrap_or(i64::MAX);
    let before = state.now().saturating_sub(window);
    let mut total = 0;
    loop {
        let n = state.store().prune_applied(before, PRUNE_BATCH).await?;
        total += n;
        state.controls().metrics.dedupe_pruned(n);
        if n < u64::from(PRUNE_BATCH) || *stopping.borrow() {
            break;
        }
        // Let queued requests (and their store calls) go first.
        tokio::task::yield_now().await;
    }
    if total > 0 {
        tracing::debug!(pruned = total, before, "dedupe records pruned");
    }
    Ok(total)
}
