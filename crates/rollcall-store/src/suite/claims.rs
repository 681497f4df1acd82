//! Contract cases: claiming and finishing callback deliveries (SPEC §11). A claim hands out
//! only the due, unleased head of each meeting's queue, in order; finishing records the
//! outcome and moves the queue on; the finished history is bounded; concurrent claimers
//! never share a row.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use rollcall_core::model::MeetingType;
use rollcall_core::outbox::{AttemptOutcome, Delivery, DeliveryState, NewDelivery, HISTORY_KEPT};

use super::fixtures::*;
use super::outbox::{all_deliveries, cb, ids, queue, AGENT, LEASE, NOW};
use crate::Store;

pub(super) async fn claim_gives_each_meeting_its_due_unleased_head(store: Arc<dyn Store>) {
    let q = queue(
        &*store,
        &[("m-a", "a1"), ("m-b", "b1"), ("m-a", "a2"), ("m-a", "a3")],
    )
    .await;
    let (a1, b1, a2, a3) = (q[0], q[1], q[2], q[3]);
    assert!(store
        .claim_deliveries(NOW, LEASE, 0)
        .await
        .expect("claim")
        .is_empty());
    assert_eq!(
        ids(&store.claim_deliveries(NOW, LEASE, 1).await.expect("claim")),
        [a1],
        "oldest head first"
    );
    let got = store.claim_deliveries(NOW, LEASE, 10).await.expect("claim");
    assert_eq!(ids(&got), [b1], "a1 is leased, a2 waits behind it");
    assert_eq!(got[0].event.change_type, "b1");
    assert!(store
        .claim_deliveries(NOW + LEASE - 1, LEASE, 10)
        .await
        .expect("claim")
        .is_empty());
    // The claimer of a1 died: once its lease passes a1 is handed out again (at least once).
    assert_eq!(
        ids(&store
            .claim_deliveries(NOW + LEASE, LEASE, 10)
            .await
            .expect("claim")),
        [a1, b1]
    );
    let t = NOW + LEASE;
    store
        .finish_delivery(a1, 1, &AttemptOutcome::Delivered { status: 200 }, T0 + 40)
        .await
        .expect("finish");
    // a2 is the head now, not leased: claimable at once; a3 still waits.
    assert_eq!(
        ids(&store.claim_deliveries(t, LEASE, 10).await.expect("claim")),
        [a2]
    );
    store
        .finish_delivery(a2, 1, &AttemptOutcome::Delivered { status: 200 }, T0 + 41)
        .await
        .expect("finish");
    store
        .finish_delivery(b1, 1, &AttemptOutcome::Delivered { status: 200 }, T0 + 41)
        .await
        .expect("finish");
    assert_eq!(
        ids(&store.claim_deliveries(t, LEASE, 10).await.expect("claim")),
        [a3]
    );
    // Written while the head is leased: it waits behind it.
    let a4 = queue(&*store, &[("m-a", "a4")]).await[0];
    assert!(store
        .claim_deliveries(t, LEASE, 10)
        .await
        .expect("claim")
        .is_empty());
    store
        .finish_delivery(a3, 1, &AttemptOutcome::Delivered { status: 200 }, T0 + 42)
        .await
        .expect("finish");
    assert_eq!(
        ids(&store.claim_deliveries(t, LEASE, 10).await.expect("claim")),
        [a4]
    );
    store
        .finish_delivery(a4, 1, &AttemptOutcome::Delivered { status: 200 }, T0 + 43)
        .await
        .expect("finish");
    assert!(store
        .claim_deliveries(t + 10 * LEASE, LEASE, 10)
        .await
        .expect("claim")
        .is_empty());
    // Written to a drained queue: due at once.
    let a5 = queue(&*store, &[("m-a", "a5")]).await[0];
    assert_eq!(
        ids(&store.claim_deliveries(t, LEASE, 10).await.expect("claim")),
        [a5]
    );
}

pub(super) async fn finish_records_retry_give_up_and_delivery(store: Arc<dyn Store>) {
    let q = queue(&*store, &[("m-a", "a1"), ("m-a", "a2"), ("m-a", "a3")]).await;
    let (a1, a2, a3) = (q[0], q[1], q[2]);
    assert_eq!(
        ids(&store.claim_deliveries(NOW, LEASE, 10).await.expect("claim")),
        [a1]
    );
    let retry = AttemptOutcome::Retry {
        status: Some(500),
        error: "HTTP 500".into(),
        next_attempt_at_ms: NOW + 1_500,
    };
    store
        .finish_delivery(a1, 1, &retry, T0)
        .await
        .expect("finish");
    let d = all_deliveries(&*store).await.remove(0);
    assert_eq!(d.id, a1);
    assert_eq!(d.state, DeliveryState::Pending);
    assert_eq!(
        (
            d.attempts,
            d.next_attempt_at_ms,
            d.last_status,
            d.last_error.as_deref()
        ),
        (1, NOW + 1_500, Some(500), Some("HTTP 500"))
    );
    assert_eq!(d.finished_at, None);
    // Not due yet, and a2 still waits behind it; the lease was cleared, so it is due then.
    assert!(store
        .claim_deliveries(NOW + 1_499, LEASE, 10)
        .await
        .expect("claim")
        .is_empty());
    assert_eq!(
        ids(&store
            .claim_deliveries(NOW + 1_500, LEASE, 10)
            .await
            .expect("claim")),
        [a1]
    );
    let gave_up = AttemptOutcome::GaveUp {
        status: None,
        error: "timed out".into(),
    };
    store
        .finish_delivery(a1, 2, &gave_up, T0 + 9)
        .await
        .expect("finish");
    let d = all_deliveries(&*store).await.remove(0);
    assert_eq!(d.state, DeliveryState::Failed);
    assert_eq!(
        (
            d.attempts,
            d.last_status,
            d.last_error.as_deref(),
            d.finished_at
        ),
        (2, None, Some("timed out"), Some(T0 + 9))
    );
    // A finished row stays as it is; an unknown id is no error.
    store
        .finish_delivery(a1, 3, &AttemptOutcome::Delivered { status: 200 }, T0 + 10)
        .await
        .expect("finish again");
    assert_eq!(all_deliveries(&*store).await.remove(0), d);
    store
        .finish_delivery(
            a3 + 1_000,
            1,
            &AttemptOutcome::Delivered { status: 200 },
            T0,
        )
        .await
        .expect("unknown id");
    // Given up, it no longer holds the queue.
    let now = NOW + 2_000;
    assert_eq!(
        ids(&store.claim_deliveries(now, LEASE, 10).await.expect("claim")),
        [a2]
    );
    store
        .finish_delivery(a2, 1, &AttemptOutcome::Delivered { status: 200 }, T0 + 11)
        .await
        .expect("finish");
    let d = all_deliveries(&*store).await.remove(1);
    assert_eq!(d.state, DeliveryState::Delivered);
    assert_eq!(
        (d.attempts, d.last_status, d.last_error, d.finished_at),
        (1, Some(200), None, Some(T0 + 11))
    );
    assert_eq!(
        ids(&store.claim_deliveries(now, LEASE, 10).await.expect("claim")),
        [a3]
    );
}

pub(super) async fn finished_history_is_bounded(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", AGENT);
    let n = usize::try_from(HISTORY_KEPT).expect("small") + 3;
    let callbacks: Vec<NewDelivery> = (0..n).map(|i| cb("m-a", "x", T0 + i as i64)).collect();
    store
        .create_meeting(
            &new_meeting("m-a", &owner, MeetingType::OneOff, 0),
            &callbacks,
        )
        .await
        .expect("create");
    let mut finished = Vec::new();
    for round in 0..4 {
        let got = store.claim_deliveries(NOW, LEASE, 10).await.expect("claim");
        assert_eq!(got.len(), 1, "one meeting, one head");
        let ok = AttemptOutcome::Delivered { status: 200 };
        store
            .finish_delivery(got[0].id, 1, &ok, T0 + round)
            .await
            .expect("finish");
        finished.push(got[0].id);
    }
    let all = all_deliveries(&*store).await;
    let kept: HashSet<i64> = all.iter().map(|d| d.id).collect();
    // The three oldest are older than the newest HISTORY_KEPT deliveries: pruned once
    // finished. The fourth is within them: kept, as history.
    assert!(finished[..3].iter().all(|id| !kept.contains(id)), "pruned");
    assert!(kept.contains(&finished[3]), "kept");
    assert_eq!(all.len(), n - 3);
    assert_eq!(
        all.iter()
            .filter(|d| d.state != DeliveryState::Pending)
            .count(),
        1
    );
}

pub(super) async fn concurrent_claimers_never_share_a_row_and_keep_order(store: Arc<dyn Store>) {
    const MEETINGS: usize = 6;
    const PER_MEETING: usize = 8;
    let owner = app_ref("wwcorp", AGENT);
    for m in 0..MEETINGS {
        let id = format!("m-{m}");
        let callbacks: Vec<NewDelivery> = (0..PER_MEETING)
            .map(|i| cb(&id, &format!("e{i}"), T0))
            .collect();
        store
            .create_meeting(
                &new_meeting(&id, &owner, MeetingType::OneOff, 0),
                &callbacks,
            )
            .await
            .expect("create");
    }
    // Every claim, in the order claimers got them (logged before the row is finished, so a
    // meeting's next row cannot be logged before it).
    let log: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let mut tasks = Vec::new();
    for worker in 0..4_i64 {
        let (store, log) = (Arc::clone(&store), Arc::clone(&log));
        tasks.push(tokio::spawn(async move {
            let mut idle = 0;
            while idle < 50 {
                // A lease far longer than the test: a row is never handed out twice.
                let got = store
                    .claim_deliveries(NOW, 1_000_000_000, 3)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    idle += 1;
                    tokio::task::yield_now().await;
                    continue;
                }
                idle = 0;
                log.lock().expect("log").extend(got.iter().cloned());
                for d in got {
                    let ok = AttemptOutcome::Delivered { status: 200 };
                    store
                        .finish_delivery(d.id, 1, &ok, T0 + worker)
                        .await
                        .expect("finish");
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("claimer");
    }
    let log = log.lock().expect("log").clone();
    let unique: HashSet<i64> = log.iter().map(|d| d.id).collect();
    assert_eq!(unique.len(), log.len(), "a row claimed twice");
    assert_eq!(log.len(), MEETINGS * PER_MEETING, "every row delivered");
    let mut per_meeting: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for d in &log {
        per_meeting
            .entry(&d.event.meetingid)
            .or_default()
            .push(d.id);
    }
    for (m, ids) in per_meeting {
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "{m} out of order: {ids:?}"
        );
    }
    assert!(all_deliveries(&*store)
        .await
        .iter()
        .all(|d| d.state == DeliveryState::Delivered));
}
