//! Injected faults (SPEC §9): each kind, matching, hits and retirement, seeded draws, and a
//! typed client recovering from them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

async fn add(app: &TestApp, rule: Value) -> String {
    let (status, v) = app.admin("faults", rule.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{rule}: {v}");
    v["id"].as_str().expect("id").to_owned()
}

async fn faults(app: &TestApp) -> Value {
    app.admin_call(reqwest::Method::GET, "faults").await.1
}

async fn get_info(app: &TestApp, token: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let (s, h, b) = app
        .cgi_raw(&format!("meeting/get_info?access_token={token}"), "{}")
        .await;
    (s, h, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

#[tokio::test]
async fn errcode_faults_answer_wecoms_body_and_headers() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    for code in [-1, 40014, 42001, 45009, 48002] {
        let id = add(
            &app,
            json!({"path": "meeting/get_info", "errcode": code, "times": 1}),
        )
        .await;
        let (status, headers, v) = get_info(&app, &token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["errcode"], code, "{v}");
        assert_eq!(headers["Error-Code"], code.to_string().as_str());
        let msg = v["errmsg"].as_str().unwrap();
        assert!(
            msg.starts_with(rollcall_wire::errcode::text(code)) && msg.contains(", hint: ["),
            "{msg}"
        );
        let entry: Value = app
            .admin_call(reqwest::Method::GET, "requests?limit=1")
            .await
            .1;
        assert_eq!(entry["requests"][0]["fault"], id.as_str());
        assert_eq!(entry["requests"][0]["errcode"], code);
    }
    // Retired: the real answer again (no meetingid → 40058).
    assert_eq!(get_info(&app, &token).await.2["errcode"], 40058);
}

#[tokio::test]
async fn http_status_faults_answer_an_empty_body() {
    let app = spawn_app().await;
    add(&app, json!({"path": "gettoken", "http_status": 502})).await;
    let r = app
        .http
        .get(format!(
            "{}/cgi-bin/gettoken?corpid={CORP}&corpsecret={SECRET}",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(r.headers().get("Error-Code").is_none());
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn drop_closes_the_connection_unanswered() {
    let app = spawn_app().await;
    add(&app, json!({"path": "*", "drop": true, "times": 1})).await;
    let addr = app.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"POST /cgi-bin/meeting/get_info?access_token=x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut got)).await;
    assert!(read.expect("closed, not held open").is_ok() || got.is_empty());
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    // Retired after one hit: the next request is answered.
    assert_eq!(get_info(&app, "x").await.2["errcode"], 40014);
    let j: Value = app
        .admin_call(reqwest::Method::GET, "requests?limit=2")
        .await
        .1;
    assert_eq!(j["requests"][1]["status"], Value::Null);
    assert_eq!(j["requests"][1]["fault"], "f1");
}

#[tokio::test]
async fn latency_delays_a_correct_answer_or_a_fault() {
    let app = spawn_app().await;
    add(
        &app,
        json!({"path": "gettoken", "latency_ms": 300, "times": 1}),
    )
    .await;
    let started = Instant::now();
    app.token(SECRET).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    add(
        &app,
        json!({"path": "gettoken", "latency_ms": 200, "errcode": -1, "times": 1}),
    )
    .await;
    let started = Instant::now();
    let v = app
        .gettoken_raw(&format!("corpid={CORP}&corpsecret={SECRET}"))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(v["errcode"], -1);
}

#[tokio::test]
async fn ingest_faults_answer_503() {
    let app = spawn_app().await;
    add(&app, json!({"path": "ingest/v1/events", "errcode": -1})).await;
    let r = app
        .http
        .post(format!("{}/ingest/v1/events", app.base))
        .bearer_auth(INGEST_KEY)
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("injected"), "{v}");
}

#[tokio::test]
async fn rules_match_by_corp_and_app() {
    let app = spawn_app().await;
    let main = app.token(SECRET).await;
    let other = app.token(OTHER_SECRET).await;
    add(
        &app,
        json!({"path": "meeting/get_info", "agentid": OTHER_AGENT, "errcode": 45009}),
    )
    .await;
    add(
        &app,
        json!({"path": "gettoken", "corpid": "wwsomeoneelse", "errcode": -1}),
    )
    .await;
    assert_eq!(get_info(&app, &main).await.2["errcode"], 40058);
    assert_eq!(get_info(&app, &other).await.2["errcode"], 45009);
    app.token(SECRET).await; // another corp's gettoken rule does not apply
    add(
        &app,
        json!({"path": "gettoken", "corpid": CORP, "agentid": AGENT, "errcode": 40001}),
    )
    .await;
    let v = app
        .gettoken_raw(&format!("corpid={CORP}&corpsecret={OTHER_SECRET}"))
        .await;
    assert_eq!(v["errcode"], 0, "another app of the corp: {v}");
    let v = app
        .gettoken_raw(&format!("corpid={CORP}&corpsecret={SECRET}"))
        .await;
    assert_eq!(v["errcode"], 40001);
}

#[tokio::test]
async fn listing_counts_hits_and_remaining_and_rules_can_be_removed() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    let a = add(
        &app,
        json!({"path": "meeting/get_info", "errcode": -1, "times": 2}),
    )
    .await;
    let b = add(&app, json!({"path": "*", "errcode": 45009})).await;
    for expected in [-1, -1, 45009] {
        assert_eq!(get_info(&app, &token).await.2["errcode"], expected);
    }
    let list = faults(&app).await;
    assert_eq!(list["faults"][0]["id"], a.as_str());
    assert_eq!(list["faults"][0]["hits"], 2);
    assert_eq!(list["faults"][0]["remaining"], 0);
    assert_eq!(list["faults"][0]["errcode"], -1);
    assert_eq!(list["faults"][0]["probability"], 1.0);
    assert_eq!(list["faults"][1]["hits"], 1);
    assert_eq!(list["faults"][1]["remaining"], Value::Null);
    let del = |path: String| {
        let app = &app;
        async move {
            app.http
                .delete(format!("{}/admin/v1/{path}", app.base))
                .bearer_auth(ADMIN_KEY)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(del(format!("faults/{b}")).await, StatusCode::OK);
    assert_eq!(del(format!("faults/{b}")).await, StatusCode::NOT_FOUND);
    assert_eq!(get_info(&app, &token).await.2["errcode"], 40058);
    assert_eq!(del("faults".into()).await, StatusCode::OK);
    assert_eq!(faults(&app).await, json!({"faults": []}));
}

#[tokio::test]
async fn bad_rules_are_refused_with_a_reason() {
    let app = spawn_app().await;
    for rule in [
        json!({"errcode": -1}),
        json!({"path": "meeting/nope", "errcode": -1}),
        json!({"path": "*", "errcode": -1, "http_status": 502}),
        json!({"path": "*", "errcode": -1, "probability": 2}),
        json!({"path": "*", "errcode": -1, "probability": -0.1}),
        json!({"path": "*", "errcode": 777}),
        json!({"path": "*"}),
        json!({"path": "*", "drop": true, "colour": "red"}),
    ] {
        let (status, v) = app.admin("faults", rule.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{rule}");
        assert!(v["error"].is_string(), "{rule}: {v}");
    }
}

#[tokio::test]
async fn probability_zero_never_and_one_always() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    add(&app, json!({"path": "*", "errcode": -1, "probability": 0})).await;
    for _ in 0..5 {
        assert_eq!(get_info(&app, &token).await.2["errcode"], 40058);
    }
    add(
        &app,
        json!({"path": "*", "errcode": 45009, "probability": 1}),
    )
    .await;
    for _ in 0..5 {
        assert_eq!(get_info(&app, &token).await.2["errcode"], 45009);
    }
}

/// A server on a seeded generator; its base URL.
async fn seeded(seed: u64) -> (String, tempfile::TempDir, tokio::sync::oneshot::Sender<()>) {
    let dir = tempfile::tempdir().unwrap();
    let state = rollcall_server::AppState::new(
        open_store(dir.path()).await,
        rollcall_server::ServerConfig {
            admin_key: Some(ADMIN_KEY.into()),
            ..Default::default()
        },
        Arc::new(rollcall_core::clock::VirtualClock::new(NOW)),
        Arc::new(rollcall_core::ids::IdGen::seeded(seed)),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(rollcall_server::serve(listener, state, async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/admin/v1/corps"))
        .bearer_auth(ADMIN_KEY)
        .json(&fixture_corp())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .post(format!("{base}/admin/v1/faults"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"path": "gettoken", "errcode": -1, "probability": 0.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    (base, dir, tx)
}

async fn faulted_pattern(base: &str) -> Vec<i64> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for _ in 0..24 {
        let v: Value = http
            .get(format!(
                "{base}/cgi-bin/gettoken?corpid={CORP}&corpsecret={SECRET}"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.push(v["errcode"].as_i64().unwrap());
    }
    out
}

#[tokio::test]
async fn with_a_seed_the_same_calls_are_faulted() {
    let (a, _da, _ta) = seeded(7).await;
    let (b, _db, _tb) = seeded(7).await;
    let pa = faulted_pattern(&a).await;
    assert_eq!(pa, faulted_pattern(&b).await);
    assert!(
        pa.contains(&-1) && pa.contains(&0),
        "a half-probability rule: {pa:?}"
    );
}

#[tokio::test]
async fn the_typed_client_recovers_from_injected_faults() {
    let app = spawn_app().await;
    let meetingid = app.one_off().await;
    let client = app.client();
    client
        .get_meeting_info(&meetingid, None)
        .await
        .expect("warm");
    for code in [42001, 40014] {
        add(
            &app,
            json!({"path": "meeting/get_info", "errcode": code, "times": 1}),
        )
        .await;
        client
            .get_meeting_info(&meetingid, None)
            .await
            .unwrap_or_else(|e| panic!("recovers from {code}: {e}"));
    }
    add(
        &app,
        json!({"path": "meeting/get_info", "errcode": -1, "times": 1}),
    )
    .await;
    client
        .get_meeting_info(&meetingid, None)
        .await
        .expect("retries -1");
    // Each refresh is a gettoken the journal saw.
    let j: Value = app
        .admin_call(reqwest::Method::GET, "requests?path=gettoken")
        .await
        .1;
    assert_eq!(j["requests"].as_array().unwrap().len(), 3, "{j:#}");
    let hits = faults(&app).await;
    assert!(
        hits["faults"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["hits"] == 1),
        "{hits}"
    );
}
