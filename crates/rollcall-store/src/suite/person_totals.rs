//! Contract cases: get_info's per-person aggregates (`Store::person_totals`), maintained at
//! ingest, always answering what folding the stored sessions answers
//! (`rollcall_core::schedule::people`), whatever order the events came in.

use std::sync::Arc;

use rollcall_core::ingest::EventKind;
use rollcall_core::model::{MeetingType, Participant};
use rollcall_core::person_totals::WHOLE_MEETING;
use rollcall_core::schedule::Aggregate;

use super::fixtures::*;
use crate::Store;

fn member(id: &str) -> Participant {
    Participant::Member(id.into())
}

fn join_as(
    k: i64,
    sub: i64,
    id: &str,
    session: &str,
    at: i64,
    p: &Participant,
) -> rollcall_core::ingest::ResolvedEvent {
    event(k, sub, id, session, at, EventKind::Join(join_of(p.clone())))
}

async fn assert_agrees(store: &dyn Store, k: i64, subs: &[i64], views: &[i64], nows: &[i64]) {
    for &view in views {
        for &now in nows {
            assert_eq!(
                from_totals(store, k, view, now).await,
                from_sessions(store, k, subs, view, now).await,
                "view {view} as of {now}"
            );
        }
    }
}

pub(super) async fn person_totals_follow_joins_and_quits_in_any_order(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-totals").await;
    let k = m.key;
    let (alice, bob, guest) = (
        member("alice"),
        member("bob"),
        Participant::Guest("alice".into()),
    );
    assert!(store
        .person_totals(k, 0, T0)
        .await
        .expect("empty")
        .is_empty());
    // Alice on two devices at once, [T0, T0+100) and [T0+50, T0+200); Bob's quit arrives
    // before his join; the guest is still in.
    let out = ingest(
        &*store,
        &[
            join_as(k, 0, "e1", "a-1", T0, &alice),
            quit(k, "e2", "b-1", T0 + 80),
            join_as(k, 0, "e3", "a-2", T0 + 50, &alice),
            join_as(k, 0, "e4", "g-1", T0 + 10, &guest),
            // Refused: a quit before the join time, a second join of one session.
            quit(k, "e5", "a-1", T0 - 5),
            join_as(k, 0, "e6", "a-1", T0 + 1, &alice),
        ],
    )
    .await;
    assert!(is_rejected(&out[4], "before"), "{:?}", out[4]);
    assert!(
        matches!(out[5], crate::Outcome::Rejected(_)),
        "{:?}",
        out[5]
    );
    ingest_ok(
        &*store,
        &[
            quit(k, "e7", "a-2", T0 + 200),
            join_as(k, 0, "e8", "b-1", T0 + 20, &bob),
            quit(k, "e9", "a-1", T0 + 100),
            state(k, "e10", "g-1", T0 + 30, audio(false)),
        ],
    )
    .await;
    // Duplicates change nothing.
    let dup = ingest(
        &*store,
        &[
            quit(k, "e9", "a-1", T0 + 100),
            join_as(k, 0, "e1", "a-1", T0, &alice),
        ],
    )
    .await;
    assert!(
        dup.iter().all(|o| *o == crate::Outcome::Duplicate),
        "{dup:?}"
    );
    let now = T0 + 1000;
    let got = from_totals(&*store, k, 0, now).await;
    assert_eq!(got.len(), 3);
    let a = got.iter().find(|p| p.participant == alice).expect("alice");
    assert_eq!(
        a.aggregate,
        Aggregate {
            first_join_time: T0,
            last_quit_time: T0 + 200,
            total_join_count: 2,
            cumulative_time: 200,
        },
        "two devices at once count once"
    );
    assert!(!a.in_meeting);
    let b = got.iter().find(|p| p.participant == bob).expect("bob");
    assert_eq!(
        (b.aggregate.cumulative_time, b.aggregate.last_quit_time),
        (60, T0 + 80)
    );
    let g = got.iter().find(|p| p.participant == guest).expect("guest");
    assert!(g.in_meeting);
    assert_eq!(
        (g.aggregate.last_quit_time, g.aggregate.cumulative_time),
        (0, 990)
    );
    // Alice rejoins back to back and inside her old span, then once more while still in.
    ingest_ok(
        &*store,
        &[
            join_as(k, 0, "e11", "a-3", T0 + 200, &alice),
            join_as(k, 0, "e12", "a-4", T0 + 120, &alice),
        ],
    )
    .await;
    ingest_ok(
        &*store,
        &[
            quit(k, "e13", "a-4", T0 + 150),
            join_as(k, 0, "e14", "a-5", T0 + 400, &alice),
        ],
    )
    .await;
    assert_agrees(
        &*store,
        k,
        &[0],
        &[0],
        &[T0 - 10, T0 + 60, T0 + 180, T0 + 300, T0 + 500],
    )
    .await;
    ingest_ok(
        &*store,
        &[
            quit(k, "e15", "a-3", T0 + 450),
            quit(k, "e16", "a-5", T0 + 460),
        ],
    )
    .await;
    assert_agrees(&*store, k, &[0], &[0], &[T0, T0 + 455, now]).await;
    let a = from_totals(&*store, k, 0, now)
        .await
        .into_iter()
        .find(|p| p.participant == alice)
        .expect("alice");
    assert_eq!(a.aggregate.cumulative_time, 460, "[T0, T0+460) in all");
    assert_eq!(a.aggregate.total_join_count, 5);
}

/// The open state a person's row keeps (earliest open join, closed time after it) through
/// each way it moves: another device closing after the earliest, an earlier device opening,
/// the earliest closing while others are open, the last closing, a fresh one opening. Each
/// step is checked at clocks where the kept state answers alone and where the store must
/// read the person's open joins and spans (the clock before a span's end or a join).
pub(super) async fn person_totals_keep_the_open_state_of_each_person(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-totals-open").await;
    let k = m.key;
    let alice = member("alice");
    let nows = [T0 - 30, T0 + 5, T0 + 30, T0 + 55, T0 + 100, T0 + 1000];
    let steps: [&[rollcall_core::ingest::ResolvedEvent]; 6] = [
        &[
            join_as(k, 0, "o1", "d-1", T0, &alice),
            join_as(k, 0, "o2", "d-2", T0 + 10, &alice),
        ],
        &[quit(k, "o3", "d-2", T0 + 50)],
        &[join_as(k, 0, "o4", "d-3", T0 - 20, &alice)],
        &[quit(k, "o5", "d-3", T0 + 60)],
        &[quit(k, "o6", "d-1", T0 + 90)],
        &[join_as(k, 0, "o7", "d-4", T0 + 95, &alice)],
    ];
    for (n, events) in steps.into_iter().enumerate() {
        ingest_ok(&*store, events).await;
        for now in nows {
            assert_eq!(
                from_totals(&*store, k, 0, now).await,
                from_sessions(&*store, k, &[0], 0, now).await,
                "after step {n}, as of {now}"
            );
        }
    }
    let a = from_totals(&*store, k, 0, T0 + 100).await;
    assert_eq!(
        a[0].aggregate.cumulative_time,
        110 + 5,
        "[T0-20, T0+90) closed, [T0+95, now) open"
    );
    assert!(a[0].in_meeting);
}

pub(super) async fn person_totals_of_recurring_meetings_union_sub_meetings(store: Arc<dyn Store>) {
    let m = store
        .create_meeting(
            &new_meeting(
                "m-rec-totals",
                &app_ref("wwcorp", 1000002),
                MeetingType::Recurring,
                2,
            ),
            &[],
        )
        .await
        .expect("create_meeting");
    let k = m.key;
    let (s1, s2) = (m.sub_meetings[0].key, m.sub_meetings[1].key);
    let alice = member("alice");
    // One person in both sub-meetings at overlapping times (a join may name its sub-meeting),
    // and one only in the second, still in.
    ingest_ok(
        &*store,
        &[
            join_as(k, s1, "r1", "a-1", T0, &alice),
            join_as(k, s2, "r2", "a-2", T0 + 30, &alice),
            join_as(k, s2, "r3", "c-1", T0 + 40, &member("carol")),
        ],
    )
    .await;
    ingest_ok(
        &*store,
        &[quit(k, "r4", "a-1", T0 + 60), quit(k, "r5", "a-2", T0 + 90)],
    )
    .await;
    let views = [s1, s2, WHOLE_MEETING];
    assert_agrees(&*store, k, &[s1, s2], &views, &[T0 + 50, T0 + 100]).await;
    let whole = from_totals(&*store, k, WHOLE_MEETING, T0 + 100).await;
    let a = whole
        .iter()
        .find(|p| p.participant == alice)
        .expect("alice");
    assert_eq!(
        a.aggregate.cumulative_time, 90,
        "the union across sub-meetings, not 60 + 60"
    );
    assert_eq!(a.aggregate.total_join_count, 2);
    assert!(store
        .person_totals(k, 0, T0)
        .await
        .expect("view 0")
        .is_empty());
}

pub(super) async fn person_totals_are_state_for_reset_and_snapshots(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-snap-totals").await;
    let k = m.key;
    let alice = member("alice");
    ingest_ok(
        &*store,
        &[
            join_as(k, 0, "s1", "a-1", T0, &alice),
            quit(k, "s2", "a-1", T0 + 10),
        ],
    )
    .await;
    let before = from_totals(&*store, k, 0, T0 + 100).await;
    store.save_snapshot("totals", T0).await.expect("save");
    ingest_ok(
        &*store,
        &[
            join_as(k, 0, "s3", "a-2", T0 + 5, &alice),
            quit(k, "s4", "a-2", T0 + 50),
        ],
    )
    .await;
    assert_ne!(from_totals(&*store, k, 0, T0 + 100).await, before);
    store.restore_snapshot("totals").await.expect("restore");
    assert_eq!(from_totals(&*store, k, 0, T0 + 100).await, before);
    // After the restore, ingest goes on from the restored aggregates.
    ingest_ok(
        &*store,
        &[
            join_as(k, 0, "s3", "a-2", T0 + 5, &alice),
            quit(k, "s4", "a-2", T0 + 50),
        ],
    )
    .await;
    assert_agrees(&*store, k, &[0], &[0], &[T0 + 100]).await;
    store.reset().await.expect("reset");
    let m = meeting(&*store, "m-snap-totals").await;
    assert!(store
        .person_totals(m.key, 0, T0)
        .await
        .expect("after reset")
        .is_empty());
}
