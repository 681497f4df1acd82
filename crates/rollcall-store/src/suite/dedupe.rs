//! Contract cases: the dedupe window — records pruned by age in batches, a duplicate inside
//! the window still caught, a replay after it refused by the session rules (nothing applied
//! twice), pruning beside ingest, and the records' age kept by snapshots.

use std::sync::Arc;

use rollcall_core::ingest::{Outcome, ResolvedEvent};

use super::fixtures::*;
use crate::Store;

/// `n` joins then `n` quits (`e-<tag>-j<i>` / `e-<tag>-q<i>`, sessions `s-<tag>-<i>`).
fn sessions(k: i64, tag: &str, n: usize) -> Vec<ResolvedEvent> {
    let mut out = Vec::with_capacity(2 * n);
    for i in 0..n {
        let at = T0 + i as i64;
        out.push(join(
            k,
            &format!("e-{tag}-j{i}"),
            &format!("s-{tag}-{i}"),
            at,
        ));
    }
    for i in 0..n {
        let at = T0 + 600 + i as i64;
        out.push(quit(
            k,
            &format!("e-{tag}-q{i}"),
            &format!("s-{tag}-{i}"),
            at,
        ));
    }
    out
}

async fn ingest_at(store: &dyn Store, events: &[ResolvedEvent], at: i64) -> Vec<Outcome> {
    let out = store.ingest(events, at).await.expect("ingest");
    assert_eq!(out.len(), events.len(), "one outcome per event");
    out
}

/// Prune before `before` in batches of `limit` until a short batch; the total.
async fn prune_all(store: &dyn Store, before: i64, limit: u32) -> u64 {
    let mut total = 0;
    loop {
        let n = store.prune_applied(before, limit).await.expect("prune");
        assert!(n <= u64::from(limit), "a batch deletes at most its limit");
        total += n;
        if n < u64::from(limit) {
            return total;
        }
    }
}

pub(super) async fn prune_applied_forgets_records_older_than_the_cut_only(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-1").await;
    let other = meeting(&*store, "m-2").await;
    let (old, new) = (sessions(m.key, "old", 5), sessions(m.key, "new", 5));
    let t_old = T0 + 10_000;
    let t_new = t_old + 3600;
    assert!(ingest_at(&*store, &old, t_old)
        .await
        .iter()
        .all(|o| *o == Outcome::Accepted));
    assert!(ingest_at(&*store, &new, t_new)
        .await
        .iter()
        .all(|o| *o == Outcome::Accepted));
    let elsewhere = sessions(other.key, "old", 2);
    ingest_at(&*store, &elsewhere, t_old).await;
    // A refused event leaves no record to prune.
    let refused = ingest_at(&*store, &[join(m.key, "e-refused", "s-old-0", T0)], t_old).await;
    assert!(is_rejected(&refused[0], "already joined"), "{refused:?}");
    let rows = all(&*store, m.key, 0).await;

    // Nothing is older than the first batch.
    assert_eq!(store.prune_applied(t_old, 100).await.expect("prune"), 0);
    // The cut is strict and counts every meeting's records; small batches add up.
    assert_eq!(prune_all(&*store, t_old + 1, 3).await, 10 + 4);
    assert_eq!(prune_all(&*store, t_old + 1, 3).await, 0, "already gone");

    // Inside the window: still duplicates.
    let again = ingest_at(&*store, &new, t_new + 60).await;
    assert!(again.iter().all(|o| *o == Outcome::Duplicate), "{again:?}");
    // Past it: no longer known as duplicates, and still applied only once: the session
    // rules refuse a second join and a second quit of the same session key.
    let replay = ingest_at(&*store, &old, t_new + 60).await;
    for (i, o) in replay.iter().enumerate() {
        let why = if i < 5 {
            "already joined"
        } else {
            "already quit"
        };
        assert!(is_rejected(o, why), "event {i}: {o:?}");
    }
    assert_eq!(
        all(&*store, m.key, 0).await,
        rows,
        "a replay changes nothing"
    );
    // A prune at the newest cut takes the rest.
    assert_eq!(prune_all(&*store, t_new + 1, 1000).await, 10);
}

pub(super) async fn pruning_beside_ingest_loses_nothing(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-1").await;
    let k = m.key;
    // Old records to prune while new batches go in.
    for b in 0..4 {
        ingest_at(&*store, &sessions(k, &format!("old{b}"), 50), T0).await;
    }
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for b in 0..20 {
                let batch = sessions(k, &format!("new{b}"), 20);
                let out = store.ingest(&batch, T0 + 7200).await.expect("ingest");
                assert!(out.iter().all(|o| *o == Outcome::Accepted), "{out:?}");
            }
        })
    };
    let pruner = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut total = 0;
            while total < 400 {
                total += store.prune_applied(T0 + 1, 7).await.expect("prune");
                tokio::task::yield_now().await;
            }
            total
        })
    };
    writer.await.expect("writer");
    assert_eq!(
        pruner.await.expect("pruner"),
        400,
        "exactly the old records"
    );
    assert_eq!(all(&*store, k, 0).await.len(), 4 * 50 + 20 * 20);
    // The new batches' records stayed: a redelivery is a duplicate.
    let again = ingest_at(&*store, &sessions(k, "new7", 20), T0 + 7300).await;
    assert!(again.iter().all(|o| *o == Outcome::Duplicate), "{again:?}");
    assert_eq!(prune_all(&*store, T0 + 1, 50).await, 0);
}

pub(super) async fn snapshots_keep_when_each_record_was_applied(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    ingest_at(&*store, &sessions(k, "a", 3), T0).await;
    ingest_at(&*store, &sessions(k, "b", 3), T0 + 100).await;
    store.save_snapshot("dedupe", T0).await.expect("save");
    assert_eq!(prune_all(&*store, T0 + 101, 1000).await, 12);
    store.restore_snapshot("dedupe").await.expect("restore");
    // Both batches are known again, each with its own age.
    let again = ingest_at(&*store, &sessions(k, "b", 3), T0 + 200).await;
    assert!(again.iter().all(|o| *o == Outcome::Duplicate), "{again:?}");
    assert_eq!(prune_all(&*store, T0 + 1, 1000).await, 6);
    assert_eq!(prune_all(&*store, T0 + 101, 1000).await, 6);
    // And a reset forgets them all.
    ingest_at(&*store, &sessions(k, "c", 1), T0).await;
    store.reset().await.expect("reset");
    assert_eq!(prune_all(&*store, i64::MAX, 1000).await, 0);
}
