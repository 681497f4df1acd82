//! Completeness under concurrent writes (SPEC §3): following `next_cursor` returns every
//! session stored before the first page exactly once while joins, quits and state changes
//! keep arriving — including late joins whose `join_time` lands before the page position.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::helpers::*;

#[derive(Debug, Clone)]
struct Case {
    /// Join-time offsets of the sessions stored before the first page (duplicates allowed:
    /// equal join times are ordered by ingest order).
    initial: Vec<i64>,
    limit: u32,
    /// Concurrent writes: (join-time offset of a new session, quit an existing one?, state?)
    writes: Vec<(i64, bool, bool)>,
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(0i64..5_000, 1..400),
        1u32..=100,
        prop::collection::vec((0i64..6_000, any::<bool>(), any::<bool>()), 0..300),
    )
        .prop_map(|(initial, limit, writes)| Case {
            initial,
            limit,
            writes,
        })
}

async fn run(case: Case) -> Result<(), TestCaseError> {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let base = NOW - 10_000;
    let initial: Vec<Value> = case
        .initial
        .iter()
        .enumerate()
        .map(|(i, off)| {
            join_as(
                &m,
                &format!("i{i}"),
                base + off,
                json!({"external_id": format!("i{i}")}),
            )
        })
        .collect();
    for chunk in initial.chunks(250) {
        app.ingest_ok(Value::Array(chunk.to_vec())).await;
    }
    let token = app.token(SECRET).await;
    let expected: HashMap<String, usize> = {
        // tmp_openid identifies each initial session (one participant per session).
        let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
        prop_assert_eq!(rows.len(), case.initial.len());
        rows.iter()
            .map(|r| (r["tmp_openid"].as_str().unwrap().to_owned(), 0))
            .collect()
    };

    // Writer: new sessions (some with old join times), quits and state changes of old ones,
    // in small batches, racing the reader.
    let writer = {
        let (http, url, m, writes, n) = (
            app.http.clone(),
            format!("{}/ingest/v1/events", app.base),
            m.clone(),
            case.writes.clone(),
            case.initial.len(),
        );
        tokio::spawn(async move {
            for (k, chunk) in writes.chunks(7).enumerate() {
                let mut batch = Vec::new();
                for (j, (off, q, s)) in chunk.iter().enumerate() {
                    let id = k * 7 + j;
                    batch.push(join_as(
                        &m,
                        &format!("w{id}"),
                        base + off,
                        json!({"guest_id": format!("w{id}")}),
                    ));
                    let old = format!("i{}", (id * 31) % n);
                    if *q {
                        let mut e = quit(&m, &old, NOW - 1);
                        e["event_id"] = json!(format!("wq{id}"));
                        batch.push(e);
                    }
                    if *s {
                        batch.push(state(
                            &m,
                            &format!("ws{id}"),
                            &old,
                            NOW - 2,
                            json!({"audio_state": id % 2 == 0}),
                        ));
                    }
                }
                let r = http
                    .post(&url)
                    .bearer_auth(INGEST_KEY)
                    .json(&batch)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                tokio::task::yield_now().await;
            }
        })
    };

    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut body = json!({"meetingid": m, "limit": case.limit});
    loop {
        let page = app.list(&token, body.clone()).await;
        prop_assert_eq!(page["errcode"].clone(), json!(0));
        for r in page["attendees"].as_array().unwrap() {
            *seen
                .entry(r["tmp_openid"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        if page["has_more"] == json!(false) {
            break;
        }
        body["cursor"] = page["next_cursor"].clone();
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();

    for id in expected.keys() {
        prop_assert_eq!(
            seen.get(id).copied(),
            Some(1),
            "session {} stored before the first page",
            id
        );
    }
    prop_assert!(seen.values().all(|&c| c == 1), "a session was listed twice");

    // And an incremental pass afterwards picks up exactly the concurrent joins not yet seen.
    let (all, _) = app.list_all(&token, json!({"meetingid": m})).await;
    let everyone: HashSet<String> = all
        .iter()
        .map(|r| r["tmp_openid"].as_str().unwrap().to_owned())
        .collect();
    prop_assert_eq!(everyone.len(), case.initial.len() + case.writes.len());
    Ok(())
}

#[test]
fn paging_is_complete_and_exact_while_writes_arrive() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 12,
        ..ProptestConfig::default()
    });
    runner
        .run(&arb_case(), |case| rt.block_on(run(case)))
        .unwrap();
}

#[tokio::test]
async fn an_incremental_follow_sees_every_session_exactly_once() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let token = app.token(SECRET).await;
    let mut cursor: Option<String> = None;
    let mut seen = HashMap::<String, usize>::new();
    for round in 0..10i64 {
        // Joins arrive in rounds, some late (older join_time than what was already read).
        let events: Vec<Value> = (0..13)
            .map(|i| {
                join_as(
                    &m,
                    &format!("r{round}-{i}"),
                    NOW - 5_000 + (i * 37 + round * 101) % 4_000,
                    json!({"guest_id": format!("r{round}-{i}")}),
                )
            })
            .collect();
        app.ingest_ok(Value::Array(events)).await;
        let mut body = json!({"meetingid": m, "limit": 4});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let (rows, next) = app.list_all(&token, body).await;
        for r in rows {
            *seen
                .entry(r["tmp_openid"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        cursor = Some(next);
    }
    assert_eq!(seen.len(), 130);
    assert!(seen.values().all(|&c| c == 1));
}
