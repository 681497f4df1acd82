//! A rough measurement of ingest throughput (SPEC §10: ≥ 100,000 events/s embedded, in
//! batches of 1,000). Ignored by default: timing belongs to benchmarks, not to the test run.
//! Run with `cargo test --release -p rollcall-store-sqlite --test ingest_rate -- --ignored
//! --nocapture`.

use std::time::Instant;

use rollcall_core::ingest::{Event, EventKind, Join, ResolvedEvent, StatePatch};
use rollcall_core::model::{AppRef, MeetingType, NewMeeting, Participant, SessionScan};
use rollcall_store::Store;
use rollcall_store_sqlite::SqliteStore;

const T0: i64 = 1_760_000_000;

fn ev(meeting_key: i64, id: usize, session: usize, at: i64, kind: EventKind) -> ResolvedEvent {
    ResolvedEvent {
        meeting_key,
        sub_key: 0,
        event: Event {
            event_id: format!("evt-{id:010}"),
            meetingid: "m-bench".into(),
            sub_meetingid: None,
            session: format!("session-{session:08}"),
            at,
            kind,
        },
    }
}

/// Half joins, a third state changes, the rest quits, like a busy meeting.
fn batches(meeting_key: i64, n_batches: usize) -> Vec<Vec<ResolvedEvent>> {
    let mut id = 0;
    let mut joined = 0;
    let mut quit = 0;
    (0..n_batches)
        .map(|b| {
            (0..1000)
                .map(|i| {
                    id += 1;
                    let at = T0 + (b * 1000 + i) as i64 / 50;
                    match i % 6 {
                        0..=2 => {
                            joined += 1;
                            ev(
                                meeting_key,
                                id,
                                joined,
                                at,
                                EventKind::Join(Join {
                                    participant: Participant::Member(format!(
                                        "user-{}",
                                        joined % 5000
                                    )),
                                    instance_id: 1,
                                    role: 0,
                                    webinar_role: 0,
                                    join_type: 1,
                                    net: Some("WIFI".into()),
                                    audio_state: true,
                                    video_state: false,
                                    screen_shared_state: false,
                                    customer_data: None,
                                }),
                            )
                        }
                        3 | 4 => ev(
                            meeting_key,
                            id,
                            joined.saturating_sub(i % 7),
                            at + 1,
                            EventKind::State(StatePatch {
                                audio_state: Some(i % 2 == 0),
                                ..Default::default()
                            }),
                        ),
                        _ => {
                            quit += 1;
                            ev(meeting_key, id, quit, at + 2, EventKind::Quit)
                        }
                    }
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn ingest_rate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open");
    let m = store
        .create_meeting(&NewMeeting {
            meetingid: "m-bench".into(),
            meeting_code: "1".into(),
            owner: AppRef {
                corpid: "wwcorp".into(),
                agentid: 1000002,
            },
            meeting_type: MeetingType::OneOff,
            title: "bench".into(),
            meeting_start: T0,
            meeting_duration: 3600,
            admin_userid: None,
            sub_meetings: vec![],
        })
        .await
        .expect("meeting");
    let n_batches = 200;
    let all = batches(m.key, n_batches);
    let started = Instant::now();
    let mut rejected = 0;
    for b in &all {
        let out = store.ingest(b).await.expect("ingest");
        rejected += out
            .iter()
            .filter(|o| matches!(o, rollcall_core::ingest::Outcome::Rejected(_)))
            .count();
    }
    let secs = started.elapsed().as_secs_f64();
    let events = (n_batches * 1000) as f64;
    println!(
        "ingested {events} events in {secs:.3} s: {:.0} events/s ({rejected} rejected)",
        events / secs
    );
    // And a deep page costs what the first does.
    let scan = |after| SessionScan {
        meeting_key: m.key,
        sub_key: 0,
        after,
        join_max: i64::MAX,
        seq_lo: 0,
        seq_hi: u64::MAX,
        limit: 100,
    };
    for (name, after) in [("first", (i64::MIN, 0)), ("deep", (T0 + 3500, 0))] {
        let started = Instant::now();
        for _ in 0..1000 {
            let rows = store.scan_sessions(&scan(after)).await.expect("scan");
            assert_eq!(rows.len(), 100);
        }
        println!(
            "{name} page: {:.1} µs",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
}
