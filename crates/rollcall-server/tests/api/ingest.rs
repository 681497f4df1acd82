//! The ingest API (SPEC §5).

use serde_json::{json, Value};

use crate::helpers::*;

async fn post(app: &TestApp, key: Option<&str>, content_type: &str, body: String) -> (u16, Value) {
    let mut r = app
        .http
        .post(format!("{}/ingest/v1/events", app.base))
        .header("content-type", content_type)
        .body(body);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn keys_are_required_and_the_api_is_off_without_one() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let body = json!([join(&m, "a", NOW - 10, "bob")]).to_string();
    assert_eq!(
        post(&app, None, "application/json", body.clone()).await.0,
        401
    );
    assert_eq!(
        post(&app, Some("wrong"), "application/json", body.clone())
            .await
            .0,
        401
    );
    assert_eq!(
        post(&app, Some(INGEST_KEY), "application/json", body.clone())
            .await
            .0,
        200
    );

    let off = TestApp::builder().ingest_key(None).unseeded().spawn().await;
    let (status, v) = post(&off, Some(INGEST_KEY), "application/json", body).await;
    assert_eq!(status, 403);
    assert!(v["error"].as_str().unwrap().contains("ingest_key"), "{v}");
}

#[tokio::test]
async fn json_arrays_and_ndjson_with_reasons_for_each_bad_event() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let mut bad_code = join(&m, "c", NOW - 8, "bob");
    bad_code["instance_id"] = json!(99);
    let events = vec![
        join(&m, "a", NOW - 10, "bob"),
        json!({"kind": "join"}),
        join(&m, "b", NOW - 9, "carol"),
        bad_code,
        join("hy-unknown-meeting", "z", NOW - 9, "bob"),
    ];
    let (status, v) = post(
        &app,
        Some(INGEST_KEY),
        "application/json",
        Value::Array(events.clone()).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (v["accepted"].clone(), v["duplicates"].clone()),
        (json!(2), json!(0))
    );
    let rejected = v["rejected"].as_array().unwrap();
    assert_eq!(
        rejected
            .iter()
            .map(|r| r["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 3, 4]
    );
    assert!(rejected[0]["error"].as_str().unwrap().contains("event_id"));
    assert!(rejected[1]["error"]
        .as_str()
        .unwrap()
        .contains("instance_id"));
    assert!(rejected[2]["error"]
        .as_str()
        .unwrap()
        .contains("unknown meetingid"));

    // NDJSON: a line that is not JSON is one rejected event; blank lines are skipped.
    let nd = format!(
        "{}\n{{oops\n\n{}\n",
        join(&m, "d", NOW - 7, "bob"),
        quit(&m, "a", NOW - 1)
    );
    let (status, v) = post(&app, Some(INGEST_KEY), "application/x-ndjson", nd).await;
    assert_eq!(status, 200);
    assert_eq!(v["accepted"], 2, "{v}");
    assert_eq!(v["rejected"][0]["index"], 1);

    let token = app.token(SECRET).await;
    let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(rows.len(), 3);
    assert!(rows[0]["quit_time"].is_string());

    // Not JSON at all: 400 with a reason.
    let (status, v) = post(&app, Some(INGEST_KEY), "application/json", "{nope".into()).await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().is_some());
}

#[tokio::test]
async fn redelivery_is_idempotent() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let batch = json!([
        join(&m, "a", NOW - 10, "bob"),
        state(&m, "st-1", "a", NOW - 5, json!({"audio_state": false})),
        quit(&m, "a", NOW - 1)
    ]);
    assert_eq!(app.ingest(batch.clone()).await["accepted"], 3);
    let again = app.ingest(batch).await;
    assert_eq!(
        (again["accepted"].clone(), again["duplicates"].clone()),
        (json!(0), json!(3))
    );
    let token = app.token(SECRET).await;
    let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["audio_state"], false);

    // A second join for the same session (another event id) is refused with a reason.
    let mut dup = join(&m, "a", NOW - 3, "bob");
    dup["event_id"] = json!("another-id");
    let v = app.ingest(json!([dup])).await;
    assert!(
        v["rejected"][0]["error"]
            .as_str()
            .unwrap()
            .contains("already"),
        "{v}"
    );
    // A quit before the join time is refused; once corrected (same event id), it applies.
    app.ingest_ok(json!([join(&m, "b", NOW - 10, "carol")]))
        .await;
    let v = app.ingest(json!([quit(&m, "b", NOW - 20)])).await;
    assert_eq!(v["rejected"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        app.ingest(json!([quit(&m, "b", NOW - 2)])).await["accepted"],
        1
    );
}

#[tokio::test]
async fn quit_and_state_before_join_are_kept_and_applied() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    app.ingest_ok(json!([
        state(
            &m,
            "st-1",
            "a",
            NOW - 8,
            json!({"video_state": true, "net": "4G"})
        ),
        quit(&m, "a", NOW - 2),
    ]))
    .await;
    let token = app.token(SECRET).await;
    // Not listed until its join is known.
    assert_eq!(
        app.list(&token, json!({"meetingid": m})).await["attendees"],
        json!([])
    );
    app.ingest_ok(json!([join(&m, "a", NOW - 10, "bob")])).await;
    let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["video_state"], true);
    assert_eq!(rows[0]["quit_time"], (NOW - 2).to_string());
    assert!(rows[0].get("net").is_none());
}

#[tokio::test]
async fn state_changes_show_and_net_tracks_the_last_value() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    app.ingest_ok(json!([
        join(&m, "a", NOW - 10, "bob"),
        state(
            &m,
            "s1",
            "a",
            NOW - 8,
            json!({"net": "4G", "screen_shared_state": true})
        ),
        state(&m, "s0", "a", NOW - 9, json!({"net": "3G"})), // older: superseded
    ]))
    .await;
    let token = app.token(SECRET).await;
    let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(
        (
            rows[0]["net"].clone(),
            rows[0]["screen_shared_state"].clone()
        ),
        (json!("4G"), json!(true))
    );
}

#[tokio::test]
async fn acknowledged_events_survive_a_restart() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let events: Vec<Value> = (0..300)
        .map(|i| {
            join_as(
                &m,
                &format!("s{i}"),
                NOW - 1000 + i,
                json!({"guest_id": format!("g{i}")}),
            )
        })
        .collect();
    app.ingest_ok(Value::Array(events)).await;
    let clock = app.clock.clone();
    let dir = app.stop().await.unwrap();
    let app = restart(dir.path(), clock).await;
    let token = app.token(SECRET).await;
    let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(rows.len(), 300);
}

#[tokio::test]
async fn bodies_over_64_mib_are_refused_with_413() {
    let app = spawn_app().await;
    let big = vec![b' '; (64 << 20) + 1];
    let (status, v) = post(
        &app,
        Some(INGEST_KEY),
        "application/x-ndjson",
        String::from_utf8(big).unwrap(),
    )
    .await;
    assert_eq!(status, 413);
    assert!(v["error"].as_str().unwrap().contains("64 MiB"));
}

/// A hostile batch of a million bad events gets a bounded reply: the first 1000 reasons and
/// a count of the rest (it was a 58 MB list).
#[tokio::test]
async fn the_rejection_list_is_capped_with_a_count_of_the_rest() {
    let app = spawn_app().await;
    let n = 1_000_000;
    let body = format!("[{}1]", "1,".repeat(n - 1));
    let (status, report) = post(&app, Some(INGEST_KEY), "application/json", body).await;
    assert_eq!(status, 200);
    let listed = report["rejected"].as_array().unwrap();
    assert_eq!(listed.len(), 1000);
    assert_eq!(listed[0]["index"], 0);
    assert_eq!(listed[999]["index"], 999);
    assert_eq!(report["rejected_omitted"], n - 1000);
    assert!(report.to_string().len() < 200_000, "a bounded reply");
}
