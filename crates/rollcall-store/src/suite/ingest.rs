//! Contract cases: ingest (join / quit / state, duplicates, events out of order, refusals,
//! `seq` and its snapshots under concurrent writers, mixed batches).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rollcall_core::ingest::{EventKind, Outcome, StatePatch};
use rollcall_core::model::{Participant, SessionRow, SessionScan};

use super::fixtures::*;
use crate::Store;

pub(super) async fn ingest_join_quit_and_state(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-1").await;
    let k = m.key;
    assert!(store.ingest(&[], 0).await.expect("empty batch").is_empty());

    let mut j = join_of(Participant::Member("zhangsan".into()));
    j.instance_id = 84;
    j.role = 7;
    j.join_type = 6;
    j.customer_data = Some("来自个人链接 ✓".into());
    let mut g = join_of(Participant::Guest("g-1".into()));
    g.net = None;
    g.audio_state = false;
    g.video_state = true;
    g.screen_shared_state = true;
    let mut x = join_of(Participant::External("ext-1".into()));
    x.webinar_role = 4;
    ingest_ok(
        &*store,
        &[
            event(k, 0, "e-1", "s-1", T0, EventKind::Join(j.clone())),
            event(k, 0, "e-2", "s-2", T0 + 1, EventKind::Join(g.clone())),
            event(k, 0, "e-3", "s-3", T0 + 2, EventKind::Join(x.clone())),
        ],
    )
    .await;
    let rows = all(&*store, k, 0).await;
    assert_eq!(keys(&rows), ["s-1", "s-2", "s-3"]);
    let s1 = &rows[0];
    assert_eq!(
        s1,
        &SessionRow {
            seq: s1.seq,
            session_key: "s-1".into(),
            sub_key: 0,
            participant: Participant::Member("zhangsan".into()),
            join_time: T0,
            quit_time: None,
            instance_id: 84,
            role: 7,
            webinar_role: 0,
            join_type: 6,
            net: Some("WIFI".into()),
            audio_state: true,
            video_state: false,
            screen_shared_state: false,
            customer_data: Some("来自个人链接 ✓".into()),
            state_at: T0,
        }
    );
    assert_eq!(rows[1].participant, Participant::Guest("g-1".into()));
    assert_eq!(rows[1].net, None);
    assert!(!rows[1].audio_state && rows[1].video_state && rows[1].screen_shared_state);
    assert_eq!(rows[2].participant, Participant::External("ext-1".into()));
    assert_eq!(rows[2].webinar_role, 4);
    assert_eq!(store.last_seq(k).await.expect("last_seq"), rows[2].seq);

    // State: the newest wins, an older one changes nothing.
    let patch = StatePatch {
        net: Some("4G".into()),
        audio_state: Some(false),
        video_state: Some(true),
        screen_shared_state: Some(true),
    };
    ingest_ok(&*store, &[state(k, "e-4", "s-1", T0 + 10, patch)]).await;
    ingest_ok(&*store, &[state(k, "e-5", "s-1", T0 + 5, audio(true))]).await;
    let r = one(&*store, k, "s-1").await;
    assert_eq!(r.net.as_deref(), Some("4G"));
    assert!(!r.audio_state && r.video_state && r.screen_shared_state);
    assert_eq!(r.state_at, T0 + 10);

    // Quit, then a second quit is refused.
    ingest_ok(&*store, &[quit(k, "e-6", "s-1", T0 + 100)]).await;
    let r = one(&*store, k, "s-1").await;
    assert_eq!(r.quit_time, Some(T0 + 100));
    assert_eq!(
        (r.seq, r.join_time),
        (s1.seq, T0),
        "quit does not move the row"
    );
    let out = ingest(&*store, &[quit(k, "e-7", "s-1", T0 + 200)]).await;
    assert!(matches!(out[0], Outcome::Rejected(_)), "{out:?}");
    assert_eq!(one(&*store, k, "s-1").await.quit_time, Some(T0 + 100));
    // Nothing above created a session.
    assert_eq!(all(&*store, k, 0).await.len(), 3);
}

pub(super) async fn ingest_duplicates_change_nothing(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-1").await;
    let other = meeting(&*store, "m-2").await;
    let k = m.key;
    ingest_ok(
        &*store,
        &[join(k, "e-1", "s-1", T0), quit(k, "e-2", "s-1", T0 + 60)],
    )
    .await;
    let before = all(&*store, k, 0).await;
    let seq = store.last_seq(k).await.expect("last_seq");

    // The same ids again, even with other contents, are duplicates and change nothing.
    let out = ingest(
        &*store,
        &[
            join(k, "e-1", "s-9", T0 + 5),
            quit(k, "e-2", "s-1", T0 + 90),
            state(k, "e-1", "s-1", T0 + 70, audio(false)),
        ],
    )
    .await;
    assert_eq!(
        out,
        [Outcome::Duplicate, Outcome::Duplicate, Outcome::Duplicate]
    );
    assert_eq!(all(&*store, k, 0).await, before);
    assert_eq!(store.last_seq(k).await.expect("last_seq"), seq);

    // Event ids are per meeting.
    ingest_ok(&*store, &[join(other.key, "e-1", "s-1", T0)]).await;

    // A duplicate within one batch.
    let out = ingest(
        &*store,
        &[join(k, "e-3", "s-3", T0), join(k, "e-3", "s-4", T0)],
    )
    .await;
    assert_eq!(out, [Outcome::Accepted, Outcome::Duplicate]);
    assert_eq!(keys(&all(&*store, k, 0).await), ["s-1", "s-3"]);
}

/// A batch of hundreds of events (which a backend may record in runs of many ids per
/// statement, as SQLite does): ids applied before, wherever they stand in it (first, last, at
/// the edges of a run, in the tail), and an id given twice in it, are each a duplicate, and
/// every other event applies once.
pub(super) async fn duplicates_anywhere_in_a_large_batch_are_caught(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let before = [0, 57, 99, 100, 180, 199, 200, 201, 249];
    let pre: Vec<_> = before
        .iter()
        .map(|i| join(k, &format!("e-{i}"), &format!("s-pre-{i}"), T0))
        .collect();
    ingest_ok(&*store, &pre).await;
    let batch: Vec<_> = (0..250)
        .map(|i| {
            // Event 150 repeats event 120's id.
            let id = if i == 150 { 120 } else { i };
            join(k, &format!("e-{id}"), &format!("s-{i}"), T0 + i as i64)
        })
        .collect();
    let out = ingest(&*store, &batch).await;
    for (i, o) in out.iter().enumerate() {
        let duplicate = before.contains(&i) || i == 150;
        let want = if duplicate {
            Outcome::Duplicate
        } else {
            Outcome::Accepted
        };
        assert_eq!(*o, want, "event {i}");
    }
    // The earlier sessions, and every session of the batch but those of its duplicates.
    let stored = all(&*store, k, 0).await;
    let mut want: Vec<String> = before.iter().map(|i| format!("s-pre-{i}")).collect();
    want.extend(
        (0..250)
            .filter(|i| !before.contains(i) && *i != 150)
            .map(|i| format!("s-{i}")),
    );
    let mut got: Vec<&str> = keys(&stored);
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    // All of it again: nothing new.
    let again = ingest(&*store, &batch).await;
    assert!(again.iter().all(|o| *o == Outcome::Duplicate), "{again:?}");
    assert_eq!(all(&*store, k, 0).await, stored);
}

pub(super) async fn a_refused_join_is_not_recorded_so_a_corrected_resend_applies(
    store: Arc<dyn Store>,
) {
    let k = meeting(&*store, "m-1").await.key;
    ingest_ok(&*store, &[join(k, "e-1", "s-1", T0)]).await;
    let before = all(&*store, k, 0).await;
    let out = ingest(&*store, &[join(k, "e-2", "s-1", T0 + 30)]).await;
    assert!(is_rejected(&out[0], "already joined"), "{out:?}");
    assert_eq!(
        all(&*store, k, 0).await,
        before,
        "a refused join changes nothing"
    );
    // The same event id, corrected, is not a duplicate.
    ingest_ok(&*store, &[join(k, "e-2", "s-2", T0 + 30)]).await;
    let rows = all(&*store, k, 0).await;
    assert_eq!(keys(&rows), ["s-1", "s-2"]);
    assert!(rows[1].seq > rows[0].seq);
    assert_eq!(store.last_seq(k).await.expect("last_seq"), rows[1].seq);
}

pub(super) async fn quit_before_join_is_applied_when_the_join_arrives(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    // Quits acknowledged before their joins: kept, not listed yet.
    ingest_ok(
        &*store,
        &[
            quit(k, "e-1", "s-1", T0 + 100),
            quit(k, "e-2", "s-2", T0 - 50),
        ],
    )
    .await;
    assert!(
        all(&*store, k, 0).await.is_empty(),
        "no session before its join"
    );
    ingest_ok(
        &*store,
        &[join(k, "e-3", "s-1", T0), join(k, "e-4", "s-2", T0)],
    )
    .await;
    assert_eq!(one(&*store, k, "s-1").await.quit_time, Some(T0 + 100));
    // A pending quit that predates the join is clamped to the join, not lost.
    assert_eq!(one(&*store, k, "s-2").await.quit_time, Some(T0));
    // Applied once: the re-sent quit is a duplicate, a new quit is refused (already quit).
    let out = ingest(
        &*store,
        &[
            quit(k, "e-1", "s-1", T0 + 100),
            quit(k, "e-5", "s-1", T0 + 200),
        ],
    )
    .await;
    assert_eq!(out[0], Outcome::Duplicate);
    assert!(matches!(out[1], Outcome::Rejected(_)), "{out:?}");
    // The pending events are consumed: a later session with another key is unaffected.
    ingest_ok(&*store, &[join(k, "e-6", "s-3", T0 + 300)]).await;
    assert_eq!(one(&*store, k, "s-3").await.quit_time, None);
}

pub(super) async fn state_before_join_is_applied_when_the_join_arrives(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let patch = StatePatch {
        net: Some("4G".into()),
        audio_state: Some(false),
        ..Default::default()
    };
    ingest_ok(&*store, &[state(k, "e-1", "s-1", T0 + 10, patch)]).await;
    assert!(all(&*store, k, 0).await.is_empty());
    ingest_ok(&*store, &[join(k, "e-2", "s-1", T0)]).await;
    let r = one(&*store, k, "s-1").await;
    assert_eq!(r.net.as_deref(), Some("4G"));
    assert!(!r.audio_state);
    assert_eq!(r.state_at, T0 + 10);
    assert_eq!(r.quit_time, None);

    // State, quit and join in one batch, out of order: all applied, in time order.
    ingest_ok(
        &*store,
        &[
            state(k, "e-3", "s-2", T0 + 20, audio(false)),
            quit(k, "e-4", "s-2", T0 + 90),
            state(k, "e-5", "s-2", T0 + 15, audio(true)),
            join(k, "e-6", "s-2", T0 + 5),
        ],
    )
    .await;
    let r = one(&*store, k, "s-2").await;
    assert!(!r.audio_state, "the newer state wins");
    assert_eq!(r.quit_time, Some(T0 + 90));
    assert_eq!(r.state_at, T0 + 20);
    // A pending state older than the join loses to the join's own values.
    ingest_ok(
        &*store,
        &[
            state(k, "e-7", "s-3", T0 - 10, audio(false)),
            join(k, "e-8", "s-3", T0),
        ],
    )
    .await;
    assert!(one(&*store, k, "s-3").await.audio_state);
}

pub(super) async fn a_quit_before_the_join_time_is_refused(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    ingest_ok(&*store, &[join(k, "e-1", "s-1", T0)]).await;
    let out = ingest(&*store, &[quit(k, "e-2", "s-1", T0 - 1)]).await;
    assert!(is_rejected(&out[0], "before"), "{out:?}");
    assert_eq!(one(&*store, k, "s-1").await.quit_time, None);
    // Not recorded: the corrected re-send of the same event applies.
    ingest_ok(&*store, &[quit(k, "e-2", "s-1", T0 + 60)]).await;
    assert_eq!(one(&*store, k, "s-1").await.quit_time, Some(T0 + 60));
    // A quit at the join instant is fine.
    ingest_ok(
        &*store,
        &[join(k, "e-3", "s-2", T0), quit(k, "e-4", "s-2", T0)],
    )
    .await;
    assert_eq!(one(&*store, k, "s-2").await.quit_time, Some(T0));
}

pub(super) async fn events_for_unknown_meetings_are_refused(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    for bad in [k + 1_000_000, -1, 0, i64::MIN, i64::MAX] {
        let out = ingest(
            &*store,
            &[
                join(bad, "e-1", "s-1", T0),
                quit(bad, "e-2", "s-1", T0 + 1),
                state(bad, "e-3", "s-1", T0 + 1, audio(false)),
            ],
        )
        .await;
        for o in &out {
            assert!(is_rejected(o, "unknown meeting"), "{bad}: {out:?}");
        }
        assert_eq!(store.last_seq(bad).await.expect("last_seq"), 0);
    }
    // Nothing was recorded against the real meeting either.
    ingest_ok(&*store, &[join(k, "e-1", "s-1", T0)]).await;
}

pub(super) async fn seq_increases_strictly_across_batches(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let other = meeting(&*store, "m-2").await.key;
    let mut order = Vec::new();
    for batch in 0..5 {
        let mut events = Vec::new();
        for i in 0..10 {
            let s = format!("s-{batch}-{i}");
            // Join times deliberately unrelated to ingest order.
            events.push(join(
                k,
                &format!("e-{s}"),
                &s,
                T0 + ((batch * 10 + i) * 37 % 11),
            ));
            order.push(s);
        }
        // A refused join and another meeting's joins in the same batch.
        events.push(join(k, &format!("dup-{batch}"), &order[0].clone(), T0));
        events.push(join(
            other,
            &format!("o-{batch}"),
            &format!("o-{batch}"),
            T0,
        ));
        let out = ingest(&*store, &events).await;
        assert!(matches!(out[10], Outcome::Rejected(_)));
        let rows = all(&*store, k, 0).await;
        let max = rows.iter().map(|r| r.seq).max().expect("rows");
        assert_eq!(store.last_seq(k).await.expect("last_seq"), max);
    }
    let by_key: HashMap<String, u64> = all(&*store, k, 0)
        .await
        .into_iter()
        .map(|r| (r.session_key, r.seq))
        .collect();
    assert_eq!(by_key.len(), order.len());
    let seqs: Vec<u64> = order.iter().map(|s| by_key[s]).collect();
    assert!(seqs[0] >= 1, "seq starts at 1");
    for w in seqs.windows(2) {
        assert!(w[0] < w[1], "seq not increasing in ingest order: {seqs:?}");
    }
    let other_rows = all(&*store, other, 0).await;
    assert_eq!(other_rows.len(), 5);
    assert_eq!(
        store.last_seq(other).await.expect("last_seq"),
        other_rows.iter().map(|r| r.seq).max().expect("rows")
    );
}

/// The property cursors rely on: once a reader has seen `last_seq = n`, the set of sessions
/// with `seq <= n` never changes, however many writers commit concurrently.
pub(super) async fn concurrent_ingest_keeps_seq_snapshots_stable(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for b in 0..20 {
                    let events: Vec<_> = (0..5)
                        .map(|i| {
                            let s = format!("w{w}-b{b}-{i}");
                            join(k, &s, &s, T0 + (i * 13 + b) % 17)
                        })
                        .collect();
                    let out = store.ingest(&events, 0).await.expect("ingest");
                    assert!(out.iter().all(|o| *o == Outcome::Accepted), "{out:?}");
                }
            })
        })
        .collect();
    let mut snapshots = Vec::new();
    for _ in 0..40 {
        let n = store.last_seq(k).await.expect("last_seq");
        let s = SessionScan {
            seq_hi: n,
            ..everything(k, 0)
        };
        let seen: BTreeSet<String> = scan(&*store, &s)
            .await
            .into_iter()
            .map(|r| r.session_key)
            .collect();
        snapshots.push((n, seen));
        tokio::task::yield_now().await;
    }
    for w in writers {
        w.await.expect("writer");
    }
    let rows = all(&*store, k, 0).await;
    assert_eq!(rows.len(), 400);
    let seqs: BTreeSet<u64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len(), 400, "seq values are unique");
    assert_eq!(
        store.last_seq(k).await.expect("last_seq"),
        *seqs.last().expect("rows")
    );
    for (n, seen) in snapshots {
        let now: BTreeSet<String> = rows
            .iter()
            .filter(|r| r.seq <= n)
            .map(|r| r.session_key.clone())
            .collect();
        assert_eq!(
            now, seen,
            "sessions with seq <= {n} changed after last_seq = {n} was read"
        );
    }
}

pub(super) async fn a_mixed_batch_applies_the_good_and_reports_the_bad(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    ingest_ok(&*store, &[join(k, "e-0", "s-0", T0)]).await;
    let events = [
        join(k, "e-1", "s-1", T0 + 10),                // accepted
        join(k + 1_000_000, "e-2", "s-2", T0),         // unknown meeting
        quit(k, "e-3", "s-1", T0 + 5),                 // before its join
        join(k, "e-1", "s-9", T0),                     // duplicate of e-1
        state(k, "e-4", "s-1", T0 + 20, audio(false)), // accepted
        join(k, "e-5", "s-0", T0 + 30),                // s-0 already joined
        quit(k, "e-0", "s-0", T0 + 40),                // duplicate of the earlier batch
        quit(k, "e-6", "s-1", T0 + 50),                // accepted
        quit(k, "e-7", "s-7", T0 + 50),                // accepted, pending
    ];
    let out = ingest(&*store, &events).await;
    assert_eq!(out[0], Outcome::Accepted);
    assert!(is_rejected(&out[1], "unknown meeting"), "{out:?}");
    assert!(matches!(out[2], Outcome::Rejected(_)), "{out:?}");
    assert_eq!(out[3], Outcome::Duplicate);
    assert_eq!(out[4], Outcome::Accepted);
    assert!(is_rejected(&out[5], "already joined"), "{out:?}");
    assert_eq!(out[6], Outcome::Duplicate);
    assert_eq!(out[7], Outcome::Accepted);
    assert_eq!(out[8], Outcome::Accepted);
    let rows = all(&*store, k, 0).await;
    assert_eq!(keys(&rows), ["s-0", "s-1"]);
    assert_eq!(rows[0].quit_time, None);
    assert_eq!(
        (rows[1].quit_time, rows[1].audio_state),
        (Some(T0 + 50), false)
    );
    // The refused events were not recorded: corrected re-sends apply.
    ingest_ok(
        &*store,
        &[
            quit(k, "e-3", "s-0", T0 + 60),
            join(k, "e-5", "s-5", T0 + 30),
        ],
    )
    .await;
    assert_eq!(keys(&all(&*store, k, 0).await), ["s-0", "s-1", "s-5"]);
}
