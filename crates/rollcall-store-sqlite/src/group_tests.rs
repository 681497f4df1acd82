//! Group commit: calls queued together are decided in arrival order over one another's
//! writes and committed once; a failing call fails alone; concurrent calls through the
//! store lose and double nothing.

use std::sync::PoisonError;

use rollcall_core::ingest::{EventKind, Outcome, RejectReason, ResolvedEvent};
use rollcall_core::model::{MeetingType, Participant};
use rollcall_store::suite::fixtures::{
    corp, event, from_sessions, from_totals, join, join_of, new_meeting, quit, T0,
};
use rollcall_store::{Store, StoreError};
use tokio::sync::oneshot;

use super::*;
use crate::SqliteStore;

async fn store_with_meeting() -> (SqliteStore, i64, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open");
    store.put_corp(&corp("wwcorp")).await.expect("put_corp");
    let owner = rollcall_core::model::AppRef {
        corpid: "wwcorp".into(),
        agentid: 1000002,
    };
    let m = store
        .create_meeting(&new_meeting("m-1", &owner, MeetingType::OneOff, 0), &[])
        .await
        .expect("create");
    (store, m.key, dir)
}

type Reply = oneshot::Receiver<StoreResult<Vec<Outcome>>>;

fn push(store: &SqliteStore, events: Vec<ResolvedEvent>) -> (u64, Reply) {
    store.inner.ingest_queue.push(events, T0)
}

/// Drain the queue up to `upto` on the writer, as the holder of that ticket would.
fn drain_as(store: &SqliteStore, upto: u64) -> Vec<usize> {
    let mut conn = store
        .inner
        .writer
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    drain(&mut conn, &store.inner.ingest_queue, upto)
}

fn answer(rx: Reply) -> StoreResult<Vec<Outcome>> {
    rx.blocking_recv().expect("answered")
}

#[tokio::test(flavor = "multi_thread")]
async fn queued_calls_are_one_group_decided_in_arrival_order() {
    let (store, mk, _dir) = store_with_meeting().await;
    let s = store.clone();
    tokio::task::spawn_blocking(move || {
        let (_, a) = push(&s, vec![join(mk, "e-1", "a", T0)]);
        // Sees the first call's join (uncommitted, in the same transaction) and its id.
        let (_, b) = push(
            &s,
            vec![quit(mk, "e-2", "a", T0 + 60), join(mk, "e-1", "a", T0)],
        );
        let (last, c) = push(&s, vec![join(mk, "e-3", "a", T0 + 5)]);
        assert_eq!(drain_as(&s, last), vec![3], "one group of the three calls");
        assert_eq!(answer(a).expect("a"), vec![Outcome::Accepted]);
        assert_eq!(
            answer(b).expect("b"),
            vec![Outcome::Accepted, Outcome::Duplicate]
        );
        assert_eq!(
            answer(c).expect("c"),
            vec![Outcome::Rejected(RejectReason::AlreadyJoined {
                session: "a".into()
            })]
        );
        // Nothing is left for a later holder.
        assert!(drain_as(&s, u64::MAX).is_empty());
    })
    .await
    .expect("no panic");
    let stored = rollcall_store::suite::fixtures::one(&store, mk, "a").await;
    assert_eq!(stored.quit_time, Some(T0 + 60));
    assert_eq!(store.last_seq(mk).await.expect("seq"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_holder_stops_after_its_own_call_and_groups_are_bounded() {
    let (store, mk, _dir) = store_with_meeting().await;
    let s = store.clone();
    tokio::task::spawn_blocking(move || {
        let big = |from: usize, n: usize| -> Vec<ResolvedEvent> {
            (from..from + n)
                .map(|i| join(mk, &format!("e-{i}"), &format!("s-{i}"), T0))
                .collect()
        };
        let half = MAX_GROUP_EVENTS / 2;
        let (_, a) = push(&s, big(0, half));
        let (_, b) = push(&s, big(half, half));
        let (mine, c) = push(&s, big(2 * half, 1));
        let (_, d) = push(&s, big(2 * half + 1, 1));
        // a and b fill a group; c needs a second one, which also takes d (queued already).
        assert_eq!(drain_as(&s, mine), vec![2, 2]);
        for rx in [a, b, c, d] {
            let got = answer(rx).expect("ingested");
            assert!(got.iter().all(|o| *o == Outcome::Accepted));
        }
        let (first, e) = push(&s, big(2 * half + 2, 1));
        let (_, f) = push(&s, big(2 * half + 3, 1));
        // A holder whose call is first takes the calls queued behind it into its group.
        assert_eq!(drain_as(&s, first), vec![2]);
        assert_eq!(answer(e).expect("e"), vec![Outcome::Accepted]);
        assert_eq!(answer(f).expect("f"), vec![Outcome::Accepted]);
    })
    .await
    .expect("no panic");
    assert_eq!(
        store.last_seq(mk).await.expect("seq"),
        (MAX_GROUP_EVENTS + 4) as u64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_that_fails_fails_alone() {
    let (store, mk, _dir) = store_with_meeting().await;
    // Session "b" has a parked event that does not decode: joining it is an error.
    store
        .inner
        .writer
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .execute(
            "INSERT INTO pending_events (meeting_key, session_key, ord, body) \
             VALUES (?1, 'b', 1, 'not json')",
            [mk],
        )
        .expect("park");
    let s = store.clone();
    tokio::task::spawn_blocking(move || {
        let (_, a) = push(&s, vec![join(mk, "e-1", "a", T0)]);
        let (_, b) = push(&s, vec![join(mk, "e-2", "b", T0)]);
        let (last, c) = push(&s, vec![join(mk, "e-3", "c", T0)]);
        // The group fails, then each call is applied on its own.
        assert_eq!(drain_as(&s, last), vec![3]);
        assert_eq!(answer(a).expect("a"), vec![Outcome::Accepted]);
        assert!(matches!(answer(b), Err(StoreError::Corrupt(_))));
        assert_eq!(answer(c).expect("c"), vec![Outcome::Accepted]);
    })
    .await
    .expect("no panic");
    let keys: Vec<String> = rollcall_store::suite::fixtures::all(&store, mk, 0)
        .await
        .into_iter()
        .map(|r| r.session_key)
        .collect();
    assert_eq!(keys, ["a", "c"]);
    // The failed call recorded nothing: its event id is not a duplicate afterwards.
    let again = store
        .ingest(&[join(mk, "e-2", "b2", T0)], T0)
        .await
        .expect("ingest");
    assert_eq!(again, vec![Outcome::Accepted]);
}

/// Many callers at once, every event id sent by two of them: each is accepted exactly once
/// and counted a duplicate once, every session is stored once, and `seq`s stay dense.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_lose_and_double_nothing() {
    let (store, mk, _dir) = store_with_meeting().await;
    let (callers, calls, per_call) = (8usize, 20usize, 25usize);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..callers {
        let store = store.clone();
        tasks.spawn(async move {
            let mut counts = (0usize, 0usize);
            for k in 0..calls {
                // Caller c and caller c ^ 1 send the same ids, in opposite orders.
                let pair = c / 2;
                let events: Vec<ResolvedEvent> = (0..per_call)
                    .map(|i| {
                        let i = if c % 2 == 0 { i } else { per_call - 1 - i };
                        let n = (pair * calls + k) * per_call + i;
                        join(mk, &format!("e-{n}"), &format!("s-{n}"), T0 + n as i64)
                    })
                    .collect();
                for o in store.ingest(&events, T0).await.expect("ingest") {
                    match o {
                        Outcome::Accepted => counts.0 += 1,
                        Outcome::Duplicate => counts.1 += 1,
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
            counts
        });
    }
    let (mut accepted, mut duplicates) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        let (a, d) = done.expect("caller");
        accepted += a;
        duplicates += d;
    }
    let distinct = callers / 2 * calls * per_call;
    assert_eq!((accepted, duplicates), (distinct, distinct));
    let rows = rollcall_store::suite::fixtures::all(&store, mk, 0).await;
    assert_eq!(rows.len(), distinct);
    let mut seqs: Vec<u64> = rows.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=distinct as u64).collect::<Vec<_>>());
}

/// The calls of a person-heavy stream: 60 sessions of 5 people (so each comes back in every
/// call, on devices that overlap), each session's quit in the call after its join, and every
/// seventh quit one call before its join (parked, applied when the join comes).
fn returning_people(mk: i64) -> Vec<Vec<ResolvedEvent>> {
    let mut calls: Vec<Vec<ResolvedEvent>> = vec![Vec::new(); 8];
    for i in 0..60usize {
        let who = Participant::Member(format!("p{}", i % 5));
        let (session, at) = (format!("s-{i}"), T0 + 10 * i as i64);
        let call = i / 10 + 1;
        calls[call].push(event(
            mk,
            0,
            &format!("j-{i}"),
            &session,
            at,
            EventKind::Join(join_of(who)),
        ));
        if i % 3 != 2 {
            let quit_call = if i % 7 == 0 { call - 1 } else { call + 1 };
            calls[quit_call].push(quit(mk, &format!("q-{i}"), &session, at + 70));
        }
    }
    calls
}

/// The people's aggregates are folded once per group (`person_totals::GroupWrites`), not
/// once per call: with every person coming back in every call, the group's answer is the
/// sessions' and the same as one call per transaction gives.
#[tokio::test(flavor = "multi_thread")]
async fn a_group_folds_its_people_once_as_its_calls_one_by_one_would() {
    let (grouped, mk, _d1) = store_with_meeting().await;
    let (alone, mk_alone, _d2) = store_with_meeting().await;
    let s = grouped.clone();
    tokio::task::spawn_blocking(move || {
        let calls = returning_people(mk);
        let n = calls.len();
        let mut replies = Vec::new();
        let mut last = 0;
        for events in calls {
            let (ticket, rx) = push(&s, events);
            last = ticket;
            replies.push(rx);
        }
        assert_eq!(drain_as(&s, last), vec![n], "one group of every call");
        for rx in replies {
            let outcomes = answer(rx).expect("ingested");
            assert!(
                outcomes.iter().all(|o| *o == Outcome::Accepted),
                "{outcomes:?}"
            );
        }
    })
    .await
    .expect("no panic");
    for events in returning_people(mk_alone) {
        alone.ingest(&events, T0).await.expect("ingest");
    }
    for now in [T0, T0 + 100, T0 + 333, T0 + 700, T0 + 10_000] {
        let kept = from_totals(&grouped, mk, 0, now).await;
        assert_eq!(
            kept,
            from_sessions(&grouped, mk, &[0], 0, now).await,
            "grouped, as of {now}"
        );
        assert_eq!(from_totals(&alone, mk_alone, 0, now).await, kept);
    }
}

/// A group is decided without reading the sessions its calls join first; a call that joins a
/// stored session again makes the group be decided again with them read, so it is refused
/// exactly as it would be otherwise, and its neighbours' events are decided once.
#[tokio::test(flavor = "multi_thread")]
async fn joining_a_stored_session_again_is_refused_though_joins_are_not_read_first() {
    let (store, mk, _dir) = store_with_meeting().await;
    let first = store
        .ingest(&[join(mk, "e-1", "a", T0)], T0)
        .await
        .expect("ingest");
    assert_eq!(first, vec![Outcome::Accepted]);
    let s = store.clone();
    tokio::task::spawn_blocking(move || {
        let (_, before) = push(&s, vec![join(mk, "e-2", "b", T0 + 1)]);
        // A new id for a stored key, first in its batch, then a quit of it.
        let (_, again) = push(
            &s,
            vec![join(mk, "e-3", "a", T0 + 2), quit(mk, "e-4", "a", T0 + 90)],
        );
        let (last, after) = push(&s, vec![join(mk, "e-5", "c", T0 + 3)]);
        assert_eq!(drain_as(&s, last), vec![3], "still one group");
        assert_eq!(answer(before).expect("before"), vec![Outcome::Accepted]);
        assert_eq!(
            answer(again).expect("again"),
            vec![
                Outcome::Rejected(RejectReason::AlreadyJoined {
                    session: "a".into()
                }),
                Outcome::Accepted
            ]
        );
        assert_eq!(answer(after).expect("after"), vec![Outcome::Accepted]);
    })
    .await
    .expect("no panic");
    let rows = rollcall_store::suite::fixtures::all(&store, mk, 0).await;
    let keys: Vec<&str> = rows.iter().map(|r| r.session_key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c"]);
    assert_eq!(
        rows[0].quit_time,
        Some(T0 + 90),
        "the quit applied to the stored a"
    );
    assert_eq!(store.last_seq(mk).await.expect("seq"), 3);
    assert_eq!(
        from_totals(&store, mk, 0, T0 + 100).await,
        from_sessions(&store, mk, &[0], 0, T0 + 100).await
    );
}
