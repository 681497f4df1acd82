//! Several stateless nodes on one database: two `PgStore`s (two pools, as two rollcall
//! processes would have) on the same schema must behave as one store.
//!
//! - The whole contract suite runs against a store that sends each call to the next node in
//!   turn, so every case's writes are read back through the other node.
//! - Tokens, the server secret, meetings and sessions written through one node are what the
//!   other one sees.
//! - The same batch ingested through both nodes at once is applied once: each event is
//!   accepted by exactly one node and a duplicate on the other, and each session is listed
//!   once with its own `seq`.
//! - Batches touching the same meetings in opposite orders do not deadlock.
//! - Callback deliveries claimed by claimers on both nodes at once, round after round, are
//!   each handed out exactly once and in order per meeting (`FOR UPDATE SKIP LOCKED` and the
//!   lease); a row whose claimer died is claimed by the other node once its lease passes.
//!
//! Without `TEST_POSTGRES_URL` each test prints "SKIPPED" on stderr and returns.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rollcall_core::ingest::{Outcome, ResolvedEvent};
use rollcall_core::model::{AppRef, MeetingType, NewMeeting, SessionScan, TokenRecord};
use rollcall_core::outbox::{AttemptOutcome, NewDelivery};
use rollcall_store::suite::fixtures::{self, app_ref, audio, join, quit, state, T0};
use rollcall_store::{Store, StoreResult};
use rollcall_store_postgres::PgStore;
use rollcall_testkit::store::{Route, Routed};

/// Two nodes behind a round-robin "load balancer": each call goes to the next node.
#[derive(Debug)]
struct TwoNodes {
    nodes: [PgStore; 2],
    next: AtomicUsize,
}

impl TwoNodes {
    fn pick(&self) -> &PgStore {
        &self.nodes[self.next.fetch_add(1, Ordering::Relaxed) % 2]
    }
}

impl Route for TwoNodes {
    fn route(&self) -> StoreResult<&dyn Store> {
        Ok(self.pick())
    }
}

/// Two nodes on a fresh schema, or `None` without a database.
async fn two_nodes() -> Option<(PgStore, PgStore, common::Schema)> {
    let url = common::url()?;
    let schema = common::Schema::new(&url);
    // Both connect (and migrate) at once, as nodes starting together do.
    let (a, b) = tokio::join!(schema.store(), schema.store());
    Some((a, b, schema))
}

mod suite_across_two_nodes {
    use super::*;

    rollcall_store::store_contract_tests!({
        let Some((a, b, schema)) = two_nodes().await else {
            return;
        };
        let store: Arc<dyn Store> = Arc::new(Routed(TwoNodes {
            nodes: [a, b],
            next: AtomicUsize::new(0),
        }));
        std::future::ready((store, schema))
    });
}

/// A token of the fixture app issued at `now` for two hours, with a hash unique to `n`.
fn token(n: u64, now: i64) -> TokenRecord {
    fixtures::token(&app(), n, now, now + 7200)
}

fn app() -> AppRef {
    app_ref("wwcorp", 1000002)
}

fn new_meeting(meetingid: &str) -> NewMeeting {
    fixtures::new_meeting(meetingid, &app(), MeetingType::OneOff, 0)
}

/// Every session of a meeting that is not recurring.
fn everything(meeting_key: i64) -> SessionScan {
    fixtures::everything(meeting_key, 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_see_each_others_secret_tokens_meetings_and_sessions() {
    let Some((a, b, _schema)) = two_nodes().await else {
        return;
    };
    // The server secret: whichever node comes first, both keep the same.
    let (sa, sb) = tokio::join!(a.server_secret([1; 32]), b.server_secret([2; 32]));
    let (sa, sb) = (sa.expect("a"), sb.expect("b"));
    assert_eq!(sa, sb);
    assert_eq!(b.server_secret([3; 32]).await.expect("again"), sa);

    // A token issued through A is handed out again by B (gettoken on any node), and found
    // by its hash on B (a token from node A works on node B).
    let t = a.token_for_app(T0, &token(1, T0)).await.expect("a");
    assert_eq!(t, token(1, T0));
    let again = b
        .token_for_app(T0 + 60, &token(2, T0 + 60))
        .await
        .expect("b");
    assert_eq!(again, t);
    assert_eq!(b.token_by_hash(&t.hash).await.expect("b"), Some(t.clone()));
    // After expiry, a new token through B is what A hands out.
    let later = T0 + 7200;
    let t2 = b.token_for_app(later, &token(3, later)).await.expect("b");
    assert_eq!(t2, token(3, later));
    assert_eq!(
        a.token_for_app(later + 1, &token(4, later + 1))
            .await
            .expect("a"),
        t2
    );

    // Meetings and sessions.
    let m = a
        .create_meeting(&new_meeting("m-1"), &[])
        .await
        .expect("create");
    assert_eq!(b.meeting("m-1").await.expect("meeting"), Some(m.clone()));
    let batch: Vec<_> = (0..20)
        .map(|i| join(m.key, &format!("e-{i}"), &format!("s-{i}"), T0 + i))
        .collect();
    let out = a.ingest(&batch, 0).await.expect("ingest");
    assert!(out.iter().all(|o| *o == Outcome::Accepted));
    let from_b = b.scan_sessions(&everything(m.key)).await.expect("scan");
    assert_eq!(from_b.len(), 20);
    assert_eq!(
        from_b,
        a.scan_sessions(&everything(m.key)).await.expect("scan")
    );
    assert_eq!(b.last_seq(m.key).await.expect("last_seq"), 20);
    // A quit through B of a session joined through A; a duplicate through B.
    let quit = quit(m.key, "q-0", "s-0", T0 + 100);
    assert_eq!(
        b.ingest(&[quit, batch[1].clone()], 0).await.expect("b"),
        [Outcome::Accepted, Outcome::Duplicate]
    );
    let rows = a.scan_sessions(&everything(m.key)).await.expect("scan");
    assert_eq!(rows[0].quit_time, Some(T0 + 100));
}

/// A batch mixing joins, quits and states, out of order within sessions, as a media server's
/// retry after a timeout would send it to another node.
fn mixed_batch(meeting_key: i64, round: usize) -> Vec<ResolvedEvent> {
    let mut events = Vec::new();
    for i in 0..50_i32 {
        let s = format!("r{round}-s{i}");
        let at = T0 + i64::from(i);
        if i % 5 == 0 {
            // The quit before its join: parked, then applied.
            events.push(quit(meeting_key, &format!("{s}-q"), &s, at + 60));
        }
        events.push(join(meeting_key, &format!("{s}-j"), &s, at));
        if i % 3 == 0 {
            events.push(state(
                meeting_key,
                &format!("{s}-st"),
                &s,
                at + 10,
                audio(false),
            ));
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_batch_through_two_nodes_at_once_is_applied_once() {
    let Some((a, b, _schema)) = two_nodes().await else {
        return;
    };
    let m = a
        .create_meeting(&new_meeting("m-1"), &[])
        .await
        .expect("create");
    let mut expected = 0;
    for round in 0..30 {
        let batch = mixed_batch(m.key, round);
        let (x, y) = tokio::join!(a.ingest(&batch, 0), b.ingest(&batch, 0));
        let (x, y) = (x.expect("a"), y.expect("b"));
        for (i, pair) in x.iter().zip(&y).enumerate() {
            let mut got = [pair.0.clone(), pair.1.clone()];
            got.sort_by_key(|o| matches!(o, Outcome::Duplicate));
            assert_eq!(
                got,
                [Outcome::Accepted, Outcome::Duplicate],
                "round {round}, event {i}: {:?}",
                batch[i].event
            );
        }
        expected += 50;
    }
    let rows = b.scan_sessions(&everything(m.key)).await.expect("scan");
    assert_eq!(rows.len(), expected, "every session listed exactly once");
    let keys: BTreeSet<&str> = rows.iter().map(|r| r.session_key.as_str()).collect();
    assert_eq!(keys.len(), expected);
    let seqs: BTreeSet<u64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len(), expected, "seq values are unique");
    assert_eq!(
        a.last_seq(m.key).await.expect("last_seq"),
        u64::try_from(expected).expect("fits"),
        "seq counts each join once"
    );
    // The parked quits and states were applied once each.
    for r in &rows {
        let i: usize = r
            .session_key
            .rsplit('s')
            .next()
            .expect("i")
            .parse()
            .expect("n");
        assert_eq!(r.quit_time.is_some(), i % 5 == 0, "{}", r.session_key);
        assert_eq!(!r.audio_state, i % 3 == 0, "{}", r.session_key);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_touching_meetings_in_opposite_orders_do_not_deadlock() {
    let Some((a, b, _schema)) = two_nodes().await else {
        return;
    };
    let m1 = a
        .create_meeting(&new_meeting("m-1"), &[])
        .await
        .expect("m-1")
        .key;
    let m2 = b
        .create_meeting(&new_meeting("m-2"), &[])
        .await
        .expect("m-2")
        .key;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let node = if w % 2 == 0 { a.clone() } else { b.clone() };
            let (first, second) = if w % 2 == 0 { (m1, m2) } else { (m2, m1) };
            tokio::spawn(async move {
                for round in 0..10 {
                    let s = format!("w{w}-r{round}");
                    let batch = [
                        join(first, &s, &s, T0),
                        join(second, &s, &s, T0),
                        quit(first, &format!("{s}-q"), &s, T0 + 5),
                    ];
                    let out = node.ingest(&batch, 0).await.expect("ingest");
                    assert!(out.iter().all(|o| *o == Outcome::Accepted), "{out:?}");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    for m in [m1, m2] {
        let rows = a.scan_sessions(&everything(m)).await.expect("scan");
        assert_eq!(rows.len(), 80);
        assert_eq!(a.last_seq(m).await.expect("last_seq"), 80);
    }
}

fn delivery(meetingid: &str, n: usize) -> NewDelivery {
    NewDelivery {
        corpid: "wwcorp".into(),
        agentid: 1000002,
        meetingid: meetingid.into(),
        change_type: format!("e{n}"),
        from_user: "sys".into(),
        create_time: T0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claimers_on_two_nodes_never_share_a_delivery_and_keep_each_meetings_order() {
    const ROUNDS: usize = 6;
    const MEETINGS: usize = 5;
    const PER_MEETING: usize = 6;
    const NOW: i64 = T0 * 1000;
    let Some((a, b, _schema)) = two_nodes().await else {
        return;
    };
    let nodes: [Arc<dyn Store>; 2] = [Arc::new(a), Arc::new(b)];
    for round in 0..ROUNDS {
        // Written through both nodes, interleaved.
        for m in 0..MEETINGS {
            let id = format!("m-{round}-{m}");
            let events: Vec<NewDelivery> = (0..PER_MEETING).map(|n| delivery(&id, n)).collect();
            nodes[m % 2]
                .create_meeting(&new_meeting(&id), &events)
                .await
                .expect("create");
        }
        // While they are claimed, as many more are appended, one change at a time, through
        // both nodes: a row written as its meeting's head finishes must still become the
        // next head (none stranded, none claimed early).
        let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let writer = {
            let (nodes, writing) = (nodes.clone(), Arc::clone(&writing));
            tokio::spawn(async move {
                for n in PER_MEETING..2 * PER_MEETING {
                    for m in 0..MEETINGS {
                        let id = format!("m-{round}-{m}");
                        let node = &nodes[(n + m) % 2];
                        let meeting = node.meeting(&id).await.expect("meeting").expect("found");
                        let cancel = n == 2 * PER_MEETING - 1;
                        let written = if cancel {
                            node.cancel_meeting(meeting.key, &[delivery(&id, n)]).await
                        } else {
                            let key = meeting.key + 1_000_000;
                            // A change that does not happen writes nothing...
                            assert!(!node
                                .cancel_meeting(key, &[delivery(&id, 999)])
                                .await
                                .expect("cancel"));
                            // ...one that does writes its event behind the others.
                            let up = rollcall_core::model::MeetingUpdate {
                                key: meeting.key,
                                meeting_type: meeting.meeting_type,
                                title: format!("v{n}"),
                                meeting_start: meeting.meeting_start,
                                meeting_duration: meeting.meeting_duration,
                                details: meeting.details.clone(),
                                sub_meetings: meeting.sub_meetings.clone(),
                            };
                            node.update_meeting(&up, &[delivery(&id, n)]).await
                        };
                        assert!(written.expect("write"), "{id} changed");
                        tokio::task::yield_now().await;
                    }
                }
                writing.store(false, Ordering::SeqCst);
            })
        };
        // Two claimers per node, all at once.
        let log: Arc<std::sync::Mutex<Vec<(i64, String)>>> = Arc::default();
        let mut tasks = Vec::new();
        for claimer in 0..4 {
            let (store, log) = (Arc::clone(&nodes[claimer % 2]), Arc::clone(&log));
            let writing = Arc::clone(&writing);
            tasks.push(tokio::spawn(async move {
                let mut idle = 0;
                while idle < 20 || writing.load(Ordering::SeqCst) {
                    // A lease far longer than the test: no row may be handed out twice.
                    let got = store
                        .claim_deliveries(NOW, 1_000_000_000, 2)
                        .await
                        .expect("claim");
                    if got.is_empty() {
                        idle += 1;
                        tokio::task::yield_now().await;
                        continue;
                    }
                    idle = 0;
                    log.lock()
                        .expect("log")
                        .extend(got.iter().map(|d| (d.id, d.event.meetingid.clone())));
                    for d in got {
                        let ok = AttemptOutcome::Delivered { status: 200 };
                        store
                            .finish_delivery(d.id, 1, &ok, T0)
                            .await
                            .expect("finish");
                    }
                }
            }));
        }
        writer.await.expect("writer");
        for t in tasks {
            t.await.expect("claimer");
        }
        let log = log.lock().expect("log").clone();
        let unique: BTreeSet<i64> = log.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            unique.len(),
            log.len(),
            "round {round}: a row claimed twice"
        );
        assert_eq!(
            log.len(),
            2 * MEETINGS * PER_MEETING,
            "round {round}: every row"
        );
        for m in 0..MEETINGS {
            let id = format!("m-{round}-{m}");
            let ids: Vec<i64> = log
                .iter()
                .filter(|(_, x)| *x == id)
                .map(|(i, _)| *i)
                .collect();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "round {round}: {id} out of order: {ids:?}"
            );
        }
    }

    // A claimer on node A dies holding a row: node B gets it once the lease has passed.
    nodes[0]
        .create_meeting(&new_meeting("m-dead"), &[delivery("m-dead", 0)])
        .await
        .expect("create");
    let held = nodes[0]
        .claim_deliveries(NOW, 5_000, 10)
        .await
        .expect("claim");
    assert_eq!(held.len(), 1);
    assert!(nodes[1]
        .claim_deliveries(NOW + 4_999, 5_000, 10)
        .await
        .expect("claim")
        .is_empty());
    let again = nodes[1]
        .claim_deliveries(NOW + 5_000, 5_000, 10)
        .await
        .expect("claim");
    assert_eq!(again.iter().map(|d| d.id).collect::<Vec<_>>(), [held[0].id]);
}

/// Two nodes pruning the same expired dedupe records at once, while a third writer ingests:
/// every record goes exactly once (the counts add up), neither waits on the other
/// (`SKIP LOCKED`), and the fresh records stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_prune_the_dedupe_records_at_once_each_row_once() {
    let Some((a, b, schema)) = two_nodes().await else {
        return;
    };
    let writer = schema.store().await;
    let m = a
        .create_meeting(&new_meeting("m-1"), &[])
        .await
        .expect("create");
    let old: Vec<ResolvedEvent> = (0..3000)
        .map(|i| join(m.key, &format!("old-{i}"), &format!("s-old-{i}"), T0 + i))
        .collect();
    for chunk in old.chunks(500) {
        a.ingest(chunk, T0).await.expect("old");
    }
    let prune = |node: PgStore| async move {
        let mut total = 0;
        loop {
            let n = node.prune_applied(T0 + 1, 100).await.expect("prune");
            total += n;
            if n == 0 {
                return (node, total);
            }
        }
    };
    let fresh: Vec<ResolvedEvent> = (0..500)
        .map(|i| join(m.key, &format!("new-{i}"), &format!("s-new-{i}"), T0 + i))
        .collect();
    let ((a, x), (b, y), written) = tokio::join!(prune(a), prune(b), async {
        let mut out = Vec::new();
        for chunk in fresh.chunks(50) {
            out.extend(writer.ingest(chunk, T0 + 10).await.expect("fresh"));
        }
        out
    });
    assert!(
        written.iter().all(|o| *o == Outcome::Accepted),
        "{written:?}"
    );
    assert_eq!(x + y, 3000, "each expired record deleted once ({x} + {y})");
    assert_eq!(a.prune_applied(T0 + 1, 100).await.expect("prune"), 0);
    let again = b.ingest(&fresh, T0 + 10).await.expect("again");
    assert!(
        again.iter().all(|o| *o == Outcome::Duplicate),
        "fresh records stayed"
    );
}
