//! Issue 11, points 4 and 5 through the API: big bodies are applied in chunks as they stream
//! in (all answered, counts right, a broken body says what was applied), and the dedupe
//! window (a duplicate inside it is caught; past it the pruner forgets the record and the
//! session rules still refuse a replay; pruning runs beside ingest).
//!
//! The pruner runs every 20 ms of real time here and the window is an hour of the virtual
//! clock; the waits poll `/metrics` for the pruner's count with a generous deadline, which
//! bounds *whether* it pruned, never how fast.

use std::time::{Duration, Instant};

use rollcall_server::{DedupeWindow, ServerConfig};
use serde_json::{json, Value};

use crate::helpers::*;

const WINDOW: i64 = 3600;

async fn app_with_window() -> TestApp {
    TestApp::builder()
        .config(ServerConfig {
            token_ttl_secs: 7200,
            ingest_key: Some(INGEST_KEY.into()),
            admin_key: Some(ADMIN_KEY.into()),
            dedupe: DedupeWindow {
                window: Duration::from_secs(WINDOW as u64),
                prune_every: Duration::from_millis(20),
            },
            ..Default::default()
        })
        .spawn()
        .await
}

/// `rollcall_dedupe_pruned_total` as this server counts it.
async fn pruned(app: &TestApp) -> u64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("rollcall_dedupe_pruned_total "))
        .map_or(0, |v| v.trim().parse().expect("a count"))
}

/// Wait until the pruner has deleted at least `n` records in all.
async fn until_pruned(app: &TestApp, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while pruned(app).await < n {
        assert!(
            Instant::now() < deadline,
            "the pruner never pruned {n} records"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_duplicate_inside_the_window_is_caught_and_a_replay_after_it_applies_nothing() {
    let app = app_with_window().await;
    let m = app.one_off().await;
    let first = json!([join(&m, "a", NOW - 10, "bob"), quit(&m, "a", NOW - 1)]);
    app.ingest_ok(first.clone()).await;
    app.advance(WINDOW / 2).await;
    let again = app.ingest(first.clone()).await;
    assert_eq!(again["duplicates"], 2, "{again}");
    let second = json!([join(&m, "b", NOW, "carol"), quit(&m, "b", NOW + 5)]);
    app.ingest_ok(second.clone()).await;
    assert_eq!(pruned(&app).await, 0, "nothing is past the window yet");

    // The first batch is now past the window, the second is not.
    app.advance(WINDOW / 2 + 1).await;
    until_pruned(&app, 2).await;
    let token = app.token(SECRET).await;
    let (before, _) = app.list_all(&token, json!({"meetingid": m})).await;
    let replay = app.ingest(first).await;
    assert_eq!(
        (&replay["accepted"], &replay["duplicates"]),
        (&json!(0), &json!(0)),
        "{replay}"
    );
    let reasons: Vec<&str> = replay["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"].as_str().unwrap())
        .collect();
    assert!(reasons[0].contains("already joined"), "{replay}");
    assert!(reasons[1].contains("already quit"), "{replay}");
    let (after, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(after, before, "a replay past the window changes nothing");
    let again = app.ingest(second).await;
    assert_eq!(again["duplicates"], 2, "still inside the window: {again}");
    assert_eq!(
        pruned(&app).await,
        2,
        "only the records past the window went"
    );
}

#[tokio::test]
async fn pruning_runs_while_ingest_goes_on() {
    let app = app_with_window().await;
    let m = app.one_off().await;
    let batch = |b: usize| -> Value {
        (0..50)
            .map(|i| join(&m, &format!("s-{b}-{i}"), NOW + b as i64, "bob"))
            .collect()
    };
    // 20 batches, ten minutes of the clock apart: the pruner keeps forgetting the oldest.
    for b in 0..20 {
        app.ingest_ok(batch(b)).await;
        app.advance(600).await;
    }
    // The clock is 12,000 s past the first batch: batches 0..=13 are past the window.
    until_pruned(&app, 14 * 50).await;
    let token = app.token(SECRET).await;
    let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(rows.len(), 20 * 50, "every accepted join is listed");
    let recent = app.ingest(batch(19)).await;
    assert_eq!(recent["duplicates"], 50, "{recent}");
    assert_eq!(pruned(&app).await, 14 * 50);
}

/// NDJSON of `n` joins into `m`, sessions `<tag>-<i>`.
fn ndjson(m: &str, tag: &str, n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&join(m, &format!("{tag}-{i}"), NOW - 100, "bob").to_string());
        out.push('\n');
    }
    out
}

async fn post(app: &TestApp, content_type: &str, body: String) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/ingest/v1/events", app.base))
        .bearer_auth(INGEST_KEY)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn four_big_bodies_at_once_are_applied_in_chunks_and_counted_right() {
    let app = spawn_app().await;
    // More than two chunks each (`ops::ingest::CHUNK_EVENTS` is 5,000), two of each form.
    let n = 11_000;
    let mut meetings = Vec::new();
    for _ in 0..4 {
        meetings.push(app.one_off().await);
    }
    let sends = meetings.iter().enumerate().map(|(i, m)| {
        let app = &app;
        async move {
            if i % 2 == 0 {
                post(app, "application/x-ndjson", ndjson(m, "s", n)).await
            } else {
                let items: Vec<Value> = (0..n)
                    .map(|j| join(m, &format!("s-{j}"), NOW - 100, "bob"))
                    .collect();
                post(app, "application/json", Value::Array(items).to_string()).await
            }
        }
    });
    for (status, report) in futures::future::join_all(sends).await {
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["accepted"], n, "{report}");
        assert_eq!(report["rejected"], json!([]), "{report}");
    }
    let token = app.token(SECRET).await;
    let (rows, _) = app
        .list_all(&token, json!({"meetingid": meetings[3]}))
        .await;
    assert_eq!(rows.len(), n);
}

#[tokio::test]
async fn a_body_that_breaks_after_the_first_chunk_says_what_was_applied() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let n = 60_000;
    let good: Vec<String> = (0..n)
        .map(|i| join(&m, &format!("s-{i}"), NOW - 100, "bob").to_string())
        .collect();
    // A missing comma after event 50,000 (~10 MB in): a chunk is applied once 5,000 events
    // are parsed, at the end of a read of the body (reads are at most a few hundred KiB), so
    // several chunks are stored by then.
    let cut = 50_000;
    let mut broken = format!("[{}", good[..cut].join(","));
    broken.push_str(&good[cut]);
    broken.push_str(&format!(",{}]", good[cut + 1..].join(",")));
    let (status, v) = post(&app, "application/json", broken).await;
    assert_eq!(status, 400, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("a missing comma"), "{error}");
    let applied: usize = error
        .split(" events before this point were applied and are durable")
        .next()
        .and_then(|r| r.rsplit('(').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of applied events: {error}"));
    assert!((5_000..=cut).contains(&applied), "{error}");
    // Re-sending the corrected batch is safe: exactly the stored ones are duplicates.
    let (status, v) = post(&app, "application/json", format!("[{}]", good.join(","))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["accepted"], &v["duplicates"]),
        (&json!(n - applied), &json!(applied))
    );

    // A small body is all or nothing, as before: nothing is applied before the error.
    let (status, v) = post(
        &app,
        "application/json",
        format!("[{} {}]", good[0], good[1]),
    )
    .await;
    assert_eq!(status, 400);
    assert!(!v["error"].as_str().unwrap().contains("applied"), "{v}");
}

#[tokio::test]
async fn an_event_over_64_kib_is_refused_alone_and_bad_elements_are_events() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let mut huge = join(&m, "huge", NOW - 10, "bob");
    huge["padding"] = json!("x".repeat(70 << 10));
    let lines = [
        join(&m, "a", NOW - 10, "bob").to_string(),
        huge.to_string(),
        "{not json".to_owned(),
        join(&m, "b", NOW - 10, "bob").to_string(),
    ];
    let (status, v) = post(&app, "application/x-ndjson", lines.join("\n")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 2, "{v}");
    assert_eq!(v["rejected"][0]["index"], 1);
    assert!(v["rejected"][0]["error"]
        .as_str()
        .unwrap()
        .contains("at most 65536 bytes"));
    assert_eq!(v["rejected"][1]["index"], 2);
    // In an array, an element that is not JSON is one refused event too.
    let body = format!(
        "[{}, {{\"event_id\": nope}}, {}]",
        join(&m, "c", NOW - 10, "bob"),
        huge
    );
    let (status, v) = post(&app, "application/json", body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 1, "{v}");
    let errors: Vec<&str> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"].as_str().unwrap())
        .collect();
    assert!(errors[0].starts_with("not valid JSON"), "{v}");
    assert!(errors[1].contains("at most"), "{v}");
}
