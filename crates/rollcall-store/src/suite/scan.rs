//! Contract cases: session scans (order, keyset paging, every filter, sub-meetings apart,
//! extreme bounds).

use std::collections::BTreeSet;
use std::sync::Arc;

use rollcall_core::model::{MeetingType, SessionScan};

use super::fixtures::*;
use crate::Store;

pub(super) async fn scan_orders_by_join_time_then_seq(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let joins = [
        ("a", 50),
        ("b", 10),
        ("c", 30),
        ("d", 10),
        ("e", 50),
        ("f", 0),
    ];
    // One per batch, and then all in one batch in another meeting: both orders must hold.
    for (s, t) in joins {
        ingest_ok(&*store, &[join(k, s, s, T0 + t)]).await;
    }
    let k2 = meeting(&*store, "m-2").await.key;
    let batch: Vec<_> = joins.iter().map(|(s, t)| join(k2, s, s, T0 + t)).collect();
    ingest_ok(&*store, &batch).await;
    for key in [k, k2] {
        let rows = all(&*store, key, 0).await;
        assert_eq!(keys(&rows), ["f", "b", "d", "c", "a", "e"]);
        assert_listing_order(&rows);
    }
}

pub(super) async fn scan_pages_by_keyset_exactly_once(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    for b in 0..10 {
        let events: Vec<_> = (0..100)
            .map(|i| {
                let n = b * 100 + i;
                let s = format!("s-{n:04}");
                // Many ties on join_time, in no particular ingest order.
                join(k, &s, &s, T0 + (n * 7919 % 150))
            })
            .collect();
        ingest_ok(&*store, &events).await;
    }
    let seq_hi = store.last_seq(k).await.expect("last_seq");
    let full = all(&*store, k, 0).await;
    assert_eq!(full.len(), 1000);
    assert_listing_order(&full);

    let mut paged = Vec::new();
    let mut after = (i64::MIN, 0);
    let mut pages = 0;
    loop {
        let page = scan(
            &*store,
            &SessionScan {
                after,
                seq_hi,
                limit: 7,
                ..everything(k, 0)
            },
        )
        .await;
        pages += 1;
        if page.is_empty() {
            break;
        }
        assert!(
            page.len() == 7 || paged.len() + page.len() == 1000,
            "short page mid-way"
        );
        let last = page.last().expect("page");
        after = (last.join_time, last.seq);
        paged.extend(page);
        if pages == 70 {
            // New joins arrive mid-listing, some before the position reached: the snapshot
            // (seq <= seq_hi) keeps them out of this pass.
            let late: Vec<_> = (0..50)
                .map(|i| {
                    let s = format!("late-{i}");
                    join(k, &s, &s, T0 + i * 3)
                })
                .collect();
            ingest_ok(&*store, &late).await;
        }
        assert!(pages < 1000, "paging does not end");
    }
    assert_eq!(
        paged, full,
        "pages of 7 return every session exactly once, in order"
    );
    let distinct: BTreeSet<&str> = paged.iter().map(|r| r.session_key.as_str()).collect();
    assert_eq!(distinct.len(), 1000);
    // The next pass sees exactly the late joins.
    let next = scan(
        &*store,
        &SessionScan {
            seq_lo: seq_hi,
            ..everything(k, 0)
        },
    )
    .await;
    assert_eq!(next.len(), 50);
    assert!(next.iter().all(|r| r.session_key.starts_with("late-")));
    assert_listing_order(&next);
}

pub(super) async fn scan_filters_by_seq_range(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let events: Vec<_> = (0..10)
        .map(|i| {
            let s = format!("s-{i}");
            join(k, &s, &s, T0 + (9 - i))
        })
        .collect();
    ingest_ok(&*store, &events).await;
    let rows = all(&*store, k, 0).await;
    let mut seqs: Vec<u64> = rows.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    let (lo, hi) = (seqs[2], seqs[6]);
    let got = scan(
        &*store,
        &SessionScan {
            seq_lo: lo,
            seq_hi: hi,
            ..everything(k, 0)
        },
    )
    .await;
    let mut got_seqs: Vec<u64> = got.iter().map(|r| r.seq).collect();
    assert_listing_order(&got);
    got_seqs.sort_unstable();
    assert_eq!(got_seqs, seqs[3..=6], "seq_lo < seq <= seq_hi");
    for (lo, hi) in [(hi, hi), (hi, lo), (u64::MAX, u64::MAX), (0, 0)] {
        let s = SessionScan {
            seq_lo: lo,
            seq_hi: hi,
            ..everything(k, 0)
        };
        assert!(scan(&*store, &s).await.is_empty(), "({lo}, {hi}] is empty");
    }
}

pub(super) async fn scan_filters_by_join_max(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let events: Vec<_> = (0..10)
        .map(|i| {
            let s = format!("s-{i}");
            join(k, &s, &s, T0 + i)
        })
        .collect();
    ingest_ok(&*store, &events).await;
    let upto = |join_max| SessionScan {
        join_max,
        ..everything(k, 0)
    };
    let rows = scan(&*store, &upto(T0 + 4)).await;
    assert_eq!(
        keys(&rows),
        ["s-0", "s-1", "s-2", "s-3", "s-4"],
        "join_max is inclusive"
    );
    assert!(scan(&*store, &upto(T0 - 1)).await.is_empty());
    assert_eq!(scan(&*store, &upto(T0 + 9)).await.len(), 10);
    // The lower bound is exclusive on (join_time, seq): (t, 0) starts at t.
    let from = SessionScan {
        after: (T0 + 7, 0),
        ..everything(k, 0)
    };
    assert_eq!(keys(&scan(&*store, &from).await), ["s-7", "s-8", "s-9"]);
    let past = SessionScan {
        after: (T0 + 7, u64::MAX),
        ..everything(k, 0)
    };
    assert_eq!(keys(&scan(&*store, &past).await), ["s-8", "s-9"]);
}

pub(super) async fn scan_keeps_sub_meetings_apart(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", 1000002);
    let m = store
        .create_meeting(
            &new_meeting("m-rec", &owner, MeetingType::Recurring, 2),
            &[],
        )
        .await
        .expect("create");
    let (k, s1, s2) = (m.key, m.sub_meetings[0].key, m.sub_meetings[1].key);
    ingest_ok(
        &*store,
        &[
            join_sub(k, s2, "e-1", "b-1", T0),
            join_sub(k, s1, "e-2", "a-1", T0 + 5),
            join_sub(k, s2, "e-3", "b-2", T0 - 5),
            join_sub(k, s1, "e-4", "a-2", T0 + 1),
            // Quits and states name no sub-meeting: the session key finds it.
            quit(k, "e-5", "b-1", T0 + 60),
            state(k, "e-6", "a-1", T0 + 30, audio(false)),
        ],
    )
    .await;
    let a = all(&*store, k, s1).await;
    let b = all(&*store, k, s2).await;
    assert_eq!(keys(&a), ["a-2", "a-1"]);
    assert_eq!(keys(&b), ["b-2", "b-1"]);
    assert!(a.iter().all(|r| r.sub_key == s1) && b.iter().all(|r| r.sub_key == s2));
    assert_eq!(b[1].quit_time, Some(T0 + 60));
    assert!(!a[1].audio_state);
    assert!(
        all(&*store, k, 0).await.is_empty(),
        "no session outside the sub-meetings"
    );
    assert!(all(&*store, k, 3).await.is_empty());
    // Session keys are unique per meeting, across its sub-meetings.
    let out = ingest(&*store, &[join_sub(k, s1, "e-7", "b-1", T0)]).await;
    assert!(is_rejected(&out[0], "already joined"), "{out:?}");
}

pub(super) async fn scan_accepts_extreme_bounds(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    // Join times at the edges of what ingest accepts (1 ..= u32::MAX).
    ingest_ok(
        &*store,
        &[
            join(k, "e-1", "s-hi", i64::from(u32::MAX)),
            join(k, "e-2", "s-lo", 1),
            join(k, "e-3", "s-mid", T0),
        ],
    )
    .await;
    let s = |after, join_max, seq_lo, seq_hi, limit| SessionScan {
        meeting_key: k,
        sub_key: 0,
        after,
        join_max,
        seq_lo,
        seq_hi,
        limit,
    };
    let cases: [(SessionScan, &[&str]); 9] = [
        (
            s((i64::MIN, 0), i64::MAX, 0, u64::MAX, 100),
            &["s-lo", "s-mid", "s-hi"],
        ),
        (
            s((i64::MIN, u64::MAX), i64::MAX, 0, u64::MAX, 100),
            &["s-lo", "s-mid", "s-hi"],
        ),
        (
            s((i64::MIN, 0), i64::MAX, 0, u64::MAX, u32::MAX),
            &["s-lo", "s-mid", "s-hi"],
        ),
        (s((i64::MIN, 0), i64::MAX, 0, u64::MAX, 1), &["s-lo"]),
        (s((i64::MIN, 0), i64::MAX, 0, u64::MAX, 0), &[]),
        (s((i64::MAX, u64::MAX), i64::MAX, 0, u64::MAX, 100), &[]),
        (s((i64::MAX, 0), i64::MAX, 0, u64::MAX, 100), &[]),
        (s((i64::MIN, 0), i64::MIN, 0, u64::MAX, 100), &[]),
        (s((1, u64::MAX), T0, 0, u64::MAX, 100), &["s-mid"]),
    ];
    for (scan_, want) in cases {
        let got = scan(&*store, &scan_).await;
        assert_eq!(keys(&got), want, "{scan_:?}");
    }
}

/// [`Store::change_stamp`], where a backend has one: unchanged while nothing is written,
/// moved by every kind of write a page could show (join, quit, state change, reset), so a
/// node's page cache validated by it is never stale.
pub(super) async fn change_stamp_moves_with_every_write(store: Arc<dyn Store>) {
    let stamp = || async { store.change_stamp().await.expect("change_stamp") };
    let Some(mut last) = stamp().await else {
        eprintln!("change_stamp: this backend has none (every page reads the store)");
        return;
    };
    let k = meeting(&*store, "m-1").await.key;
    let created = stamp().await.expect("still a stamp");
    assert_ne!(created, last, "creating a meeting did not move the stamp");
    last = created;
    let writes: Vec<(&str, Vec<_>)> = vec![
        ("join", vec![join(k, "e1", "s1", T0)]),
        ("state", vec![state(k, "e2", "s1", T0 + 5, audio(false))]),
        ("quit", vec![quit(k, "e3", "s1", T0 + 9)]),
    ];
    for (what, events) in writes {
        let _ = scan(&*store, &everything(k, 0)).await;
        assert_eq!(stamp().await, Some(last), "moved with nothing written");
        ingest_ok(&*store, &events).await;
        let now = stamp().await.expect("still a stamp");
        assert_ne!(now, last, "a {what} did not move the stamp");
        last = now;
    }
    store.reset().await.expect("reset");
    assert_ne!(stamp().await, Some(last), "a reset did not move the stamp");
}

/// [`Store::meeting_stamp`], where a backend has one: unchanged while nothing is written,
/// moved by every write to the meeting's sessions, read with the `last_seq` of the same
/// moment, and never back to a value seen before (not after a restore of a copy taken at
/// that value, nor for a new meeting under a key a reset freed), so a node's page cache
/// validated by it is never stale.
pub(super) async fn meeting_stamp_moves_with_every_write_and_never_repeats(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let stamp = |k: i64| {
        let store = Arc::clone(&store);
        async move { store.meeting_stamp(k).await.expect("meeting_stamp") }
    };
    let Some(mut last) = stamp(k).await else {
        eprintln!("meeting_stamp: this backend has none (a store-wide stamp, or none)");
        return;
    };
    assert_eq!(last.last_seq, 0);
    let mut seen = vec![last.stamp];
    let writes: Vec<(&str, Vec<_>, u64)> = vec![
        ("join", vec![join(k, "e1", "s1", T0)], 1),
        ("state", vec![state(k, "e2", "s1", T0 + 5, audio(false))], 1),
        ("quit", vec![quit(k, "e3", "s1", T0 + 9)], 1),
        ("join", vec![join(k, "e4", "s2", T0 + 10)], 2),
    ];
    let mut saved = None;
    for (what, events, last_seq) in writes {
        let _ = scan(&*store, &everything(k, 0)).await;
        assert_eq!(stamp(k).await, Some(last), "moved with nothing written");
        ingest_ok(&*store, &events).await;
        let now = stamp(k).await.expect("still a stamp");
        assert!(
            !seen.contains(&now.stamp),
            "a {what} did not move the stamp"
        );
        assert_eq!(now.last_seq, last_seq, "after the {what}");
        seen.push(now.stamp);
        last = now;
        if saved.is_none() {
            store.save_snapshot("stamped", T0).await.expect("save");
            saved = Some(now);
        }
    }
    // A refused event (a duplicate) writes nothing and need not move it; a copy brought
    // back holds an earlier state, under a value no reader has seen.
    store.restore_snapshot("stamped").await.expect("restore");
    let restored = stamp(k).await.expect("restored meeting");
    assert_eq!(restored.last_seq, saved.expect("saved").last_seq);
    assert!(
        !seen.contains(&restored.stamp),
        "a restore brought back a stamp value seen before"
    );
    seen.push(restored.stamp);
    store.reset().await.expect("reset");
    assert_eq!(stamp(k).await, None, "a reset meeting has no stamp");
    let again = meeting(&*store, "m-1").await.key;
    let fresh = stamp(again).await.expect("a new meeting has one");
    assert!(
        !seen.contains(&fresh.stamp),
        "a new meeting under key {again} took a value seen before"
    );
}
