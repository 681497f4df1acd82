//! SPEC §11, delivery: the events the meeting calls and ingest write to the outbox reach the
//! app's receiver as WeCom sends them — in order per meeting, retried with backoff, given up
//! after the last attempt, never slowing the API, once per event with two nodes. The
//! receiver is a real axum app decrypting with `rollcall_client::callback::CallbackReceiver`
//! (rollcall's own verifier: a tampered signature is refused).

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use reqwest::Method;
use rollcall_client::callback::{CallbackQuery, CallbackReceiver};
use serde_json::{json, Value};

use crate::helpers::*;
use rollcall_testkit::callbacks::{Receiver, Reply};

const TOKEN: &str = "deliveryToken";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

/// The main app's settings with a callback target at `url`.
pub fn main_app_with(url: &str) -> Value {
    json!({
        "corpid": CORP,
        "apps": [{
            "agentid": AGENT, "name": "Attendance", "secret": SECRET, "meeting_api": true,
            "visible_departments": [2], "visible_users": ["carol"],
            "callback_url": url, "callback_token": TOKEN, "callback_aes_key": KEY,
        }],
    })
}

/// A cgi call's JSON reply (asserting errcode 0).
async fn call(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, _, bytes) = app
        .cgi_raw(
            &format!("{path}?access_token={token}"),
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["errcode"], 0, "{path}: {v}");
    v
}

/// Create a meeting through `meeting/create`, administered by bob.
async fn create(app: &TestApp, token: &str, title: &str) -> String {
    let v = call(
        app,
        token,
        "meeting/create",
        json!({"admin_userid": "bob", "title": title, "meeting_start": NOW + 3600,
               "meeting_duration": 1800}),
    )
    .await;
    v["meetingid"].as_str().unwrap().to_owned()
}

/// The deliveries `GET /admin/v1/callbacks` lists, newest first.
pub async fn deliveries(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.admin_call(Method::GET, "callbacks?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["deliveries"].as_array().expect("deliveries").clone()
}

/// Wait until every listed delivery is finished and there are `n`; oldest first.
pub async fn finished(app: &TestApp, n: usize) -> Vec<Value> {
    for _ in 0..1600 {
        let all = deliveries(app).await;
        if all.len() == n && all.iter().all(|d| d["state"] != "pending") {
            return all.into_iter().rev().collect();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("deliveries did not finish: {:?}", deliveries(app).await);
}

fn pair(m: &str, change: &str) -> (String, String) {
    (m.to_owned(), change.to_owned())
}

#[tokio::test]
async fn create_modify_and_cancel_reach_the_receiver_in_order_on_wecoms_wire() {
    let app = spawn_app().await;
    let rx = Receiver::start(TOKEN, KEY, CORP).await;
    app.put_corp(main_app_with(&rx.url)).await;
    let token = app.token(SECRET).await;

    let m = create(&app, &token, "Standup").await;
    call(
        &app,
        &token,
        "meeting/update",
        json!({"meetingid": m, "title": "Standup 2"}),
    )
    .await;
    call(&app, &token, "meeting/cancel", json!({"meetingid": m})).await;
    // An app without a callback target gets nothing.
    let other = app.token(OTHER_SECRET).await;
    create(&app, &other, "Elsewhere").await;

    let got = rx.wait_for(3).await;
    assert_eq!(
        rx.seen(),
        [
            pair(&m, "create_meeting"),
            pair(&m, "modify_meeting"),
            pair(&m, "cancel_meeting")
        ]
    );
    for g in &got {
        assert_eq!(g.event.to_user_name, CORP);
        assert_eq!(g.event.from_user_name, "bob", "the admin_userid acted");
        assert_eq!(g.event.create_time, NOW, "the server's (virtual) clock");
        // WeCom's envelope: ToUserName and AgentID in clear beside Encrypt.
        let head = format!(
            "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><AgentID><![CDATA[{AGENT}]]></AgentID><Encrypt><![CDATA["
        );
        assert!(g.body.starts_with(&head), "{}", g.body);
        for k in ["msg_signature=", "timestamp=", "nonce="] {
            assert!(g.query.contains(k), "{}", g.query);
        }
    }
    // The same bytes with a tampered signature are refused by rollcall's own verifier.
    let receiver = CallbackReceiver::new(TOKEN, KEY, CORP).unwrap();
    let first = &got[0];
    let q = CallbackQuery::from_query_str(&first.query).unwrap();
    assert!(receiver.receive(&q, &first.body).is_ok());
    let mut bad = q.clone();
    bad.msg_signature = format!("{}0", &q.msg_signature[..q.msg_signature.len() - 1]);
    if bad.msg_signature == q.msg_signature {
        bad.msg_signature = format!("{}1", &q.msg_signature[..q.msg_signature.len() - 1]);
    }
    assert!(receiver.receive(&bad, &first.body).is_err());

    let listed = finished(&app, 3).await;
    let changes: Vec<_> = listed.iter().map(|d| d["change_type"].clone()).collect();
    assert_eq!(
        changes,
        ["create_meeting", "modify_meeting", "cancel_meeting"]
    );
    for d in &listed {
        assert_eq!(d["state"], "delivered", "{d}");
        assert_eq!(d["event"], "meeting_change");
        assert_eq!(d["meetingid"], m.as_str());
        assert_eq!(
            (d["corpid"].as_str(), d["agentid"].as_u64()),
            (Some(CORP), Some(u64::from(AGENT)))
        );
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["last_status"], 200);
        assert_eq!(d["last_error"], Value::Null);
        assert_eq!(d["next_attempt_at_ms"], Value::Null);
        assert_eq!(d["finished_at"], NOW);
    }
    // The typed admin client reads the same.
    let admin = rollcall_client::admin::Admin::new(&app.base, ADMIN_KEY).unwrap();
    let typed = admin.callbacks(Some(2)).await.unwrap();
    assert_eq!(typed.apps.len(), 1);
    assert_eq!(typed.apps[0].agentid, AGENT);
    let changes: Vec<_> = typed
        .deliveries
        .iter()
        .map(|d| d.change_type.as_str())
        .collect();
    assert_eq!(
        changes,
        ["cancel_meeting", "modify_meeting"],
        "newest first, limited"
    );
    let newest = &typed.deliveries[0];
    assert_eq!(
        (newest.state.as_str(), newest.attempts, newest.last_status),
        ("delivered", 1, Some(200))
    );
    assert_eq!(
        (newest.from_user.as_str(), newest.next_attempt_at_ms),
        ("bob", None)
    );
}

#[tokio::test]
async fn meetings_made_through_the_admin_api_start_and_end_from_ingest() {
    let app = spawn_app().await;
    let rx = Receiver::start(TOKEN, KEY, CORP).await;
    app.put_corp(main_app_with(&rx.url)).await;
    let m = app.one_off().await;
    app.ingest_ok(json!([join(&m, "s1", NOW - 100, "bob")]))
        .await;
    app.ingest_ok(json!([join(&m, "s2", NOW - 90, "carol")]))
        .await;
    app.ingest_ok(json!([quit(&m, "s1", NOW - 50)])).await;
    app.ingest_ok(json!([quit(&m, "s2", NOW - 40)])).await;
    let got = rx.wait_for(3).await;
    assert_eq!(
        rx.seen(),
        [
            pair(&m, "create_meeting"),
            pair(&m, "meeting_start"),
            pair(&m, "meeting_end")
        ],
        "the second join and the first quit change nothing"
    );
    let from: Vec<_> = got
        .iter()
        .map(|g| g.event.from_user_name.as_str())
        .collect();
    assert_eq!(from, ["sys", "sys", "sys"]);
    let at: Vec<_> = got.iter().map(|g| g.event.create_time).collect();
    assert_eq!(
        at,
        [NOW, NOW - 100, NOW - 40],
        "the join and quit that caused them"
    );
    finished(&app, 3).await;
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_again_and_the_meetings_next_waits_for_it() {
    let app = spawn_app().await;
    let rx = Receiver::start(TOKEN, KEY, CORP).await;
    app.put_corp(main_app_with(&rx.url)).await;
    rx.plan(&[Reply::Status(500), Reply::Status(204)]);
    let token = app.token(SECRET).await;
    let m = create(&app, &token, "Standup").await;
    call(
        &app,
        &token,
        "meeting/update",
        json!({"meetingid": m, "title": "Later"}),
    )
    .await;

    let got = rx.wait_for(4).await;
    assert_eq!(
        rx.seen(),
        [
            pair(&m, "create_meeting"),
            pair(&m, "create_meeting"),
            pair(&m, "create_meeting"),
            pair(&m, "modify_meeting")
        ],
        "in order per meeting: the update waits for the create"
    );
    // A retry is the same event (WeCom: deduplicate on FromUserName + CreateTime).
    assert_eq!(got[0].event, got[2].event);
    let listed = finished(&app, 2).await;
    assert_eq!(listed[0]["attempts"], 3, "{}", listed[0]);
    assert_eq!(listed[0]["state"], "delivered");
    assert_eq!(listed[0]["last_status"], 200);
    assert_eq!(listed[1]["attempts"], 1);
}

#[tokio::test]
async fn after_four_attempts_the_event_is_given_up_and_the_next_goes_ahead() {
    let app = spawn_app().await;
    let rx = Receiver::start(TOKEN, KEY, CORP).await;
    app.put_corp(main_app_with(&rx.url)).await;
    rx.plan(&[Reply::Status(500); 4]);
    let token = app.token(SECRET).await;
    let m = create(&app, &token, "Standup").await;
    call(&app, &token, "meeting/cancel", json!({"meetingid": m})).await;

    rx.wait_for(5).await;
    assert_eq!(
        rx.seen(),
        [
            pair(&m, "create_meeting"),
            pair(&m, "create_meeting"),
            pair(&m, "create_meeting"),
            pair(&m, "create_meeting"),
            pair(&m, "cancel_meeting")
        ]
    );
    let listed = finished(&app, 2).await;
    let gave_up = &listed[0];
    assert_eq!(gave_up["state"], "failed", "{gave_up}");
    assert_eq!(gave_up["attempts"], 4);
    assert_eq!(gave_up["last_status"], 500);
    let why = gave_up["last_error"].as_str().unwrap();
    assert!(
        why.starts_with("gave up after 4 attempts: HTTP status 500"),
        "{why}"
    );
    assert_eq!(gave_up["finished_at"], NOW);
    assert_eq!(listed[1]["state"], "delivered");
}

#[tokio::test]
async fn a_hanging_receiver_does_not_hold_up_the_api() {
    let app = spawn_app().await;
    let rx = Receiver::start(TOKEN, KEY, CORP).await;
    app.put_corp(main_app_with(&rx.url)).await;
    rx.plan(&[Reply::Hang; 64]);
    let token = app.token(SECRET).await;
    let first = create(&app, &token, "Stuck").await;
    rx.wait_for(1).await;
    // The first delivery is in flight, unanswered; the API answers meanwhile, and writes
    // more events behind it.
    for i in 0..10 {
        let m = create(&app, &token, &format!("Meeting {i}")).await;
        call(&app, &token, "meeting/get_info", json!({"meetingid": m})).await;
        let page = app.list(&token, json!({"meetingid": first})).await;
        assert_eq!(page["errcode"], 0, "{page}");
    }
    let listed = deliveries(&app).await;
    assert_eq!(listed.len(), 11);
    let stuck = listed
        .iter()
        .find(|d| d["meetingid"] == first.as_str())
        .unwrap();
    assert_eq!(stuck["state"], "pending", "still unanswered: {stuck}");
}

#[tokio::test]
async fn callback_faults_stand_in_for_the_receiver() {
    let app = spawn_app().await;
    let rx = Receiver::start(TOKEN, KEY, CORP).await;
    app.put_corp(main_app_with(&rx.url)).await;
    // A rule for another app never touches this app's callbacks; the other two each fail
    // one attempt without reaching the receiver.
    for rule in [
        json!({"path": "callback", "agentid": OTHER_AGENT, "http_status": 500}),
        json!({"path": "callback", "corpid": CORP, "agentid": AGENT, "http_status": 502, "times": 1}),
        json!({"path": "callback", "agentid": AGENT, "drop": true, "times": 1}),
    ] {
        let (status, body) = app.admin("faults", rule).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .admin("faults", json!({"path": "callback", "errcode": -1}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let token = app.token(SECRET).await;
    let m = create(&app, &token, "Faulty").await;
    rx.wait_for(1).await;
    let listed = finished(&app, 1).await;
    assert_eq!(listed[0]["attempts"], 3, "{}", listed[0]);
    assert_eq!(listed[0]["state"], "delivered");
    assert_eq!(
        rx.seen(),
        [pair(&m, "create_meeting")],
        "faults never reach it"
    );
    let (_, faults) = app.admin_call(Method::GET, "faults").await;
    let hits: Vec<_> = faults["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["hits"].as_u64().unwrap())
        .collect();
    assert_eq!(hits, [0, 1, 1]);
}

#[tokio::test]
async fn a_fault_outcome_is_listed_until_the_retry() {
    let app = spawn_app().await;
    let rx = Receiver::start(TOKEN, KEY, CORP).await;
    app.put_corp(main_app_with(&rx.url)).await;
    let (status, body) = app
        .admin("faults", json!({"path": "callback", "drop": true}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = app.token(SECRET).await;
    create(&app, &token, "Dropped").await;
    let d = loop {
        let all = deliveries(&app).await;
        if all
            .first()
            .is_some_and(|d| d["attempts"].as_u64() >= Some(1))
        {
            break all[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(d["state"], "pending", "{d}");
    assert_eq!(d["last_status"], Value::Null);
    assert!(
        d["last_error"].as_str().unwrap().contains("fault f1"),
        "{d}"
    );
    assert!(d["next_attempt_at_ms"].as_i64().is_some(), "{d}");
    // Cleared: the retry gets through.
    let (status, _) = app.admin_call(Method::DELETE, "faults").await;
    assert!(status.is_success());
    rx.wait_for(1).await;
    let done = &finished(&app, 1).await[0];
    assert_eq!(done["state"], "delivered", "{done}");
    assert!(done["attempts"].as_u64() >= Some(2), "{done}");
}

#[tokio::test]
async fn an_event_whose_target_was_removed_is_given_up_at_once() {
    let app = spawn_app().await;
    let rx = Receiver::start(TOKEN, KEY, CORP).await;
    app.put_corp(main_app_with(&rx.url)).await;
    let (status, body) = app
        .admin(
            "faults",
            json!({"path": "callback", "http_status": 503, "times": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = app.token(SECRET).await;
    create(&app, &token, "Orphan").await;
    while deliveries(&app).await[0]["attempts"] == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Before the retry, the app loses its callback settings.
    let mut without = main_app_with(&rx.url);
    for k in ["callback_url", "callback_token", "callback_aes_key"] {
        without["apps"][0].as_object_mut().unwrap().remove(k);
    }
    app.put_corp(without).await;
    let d = &finished(&app, 1).await[0];
    assert_eq!(d["state"], "failed", "{d}");
    assert_eq!(d["attempts"], 2);
    assert_eq!(d["last_error"], "the app has no callback target any more");
    assert!(rx.got().is_empty());
}

#[tokio::test]
async fn a_node_stopped_dead_mid_delivery_loses_no_event() {
    let mut app = spawn_app().await;
    let rx = Receiver::start(TOKEN, KEY, CORP).await;
    app.put_corp(main_app_with(&rx.url)).await;
    rx.plan(&[Reply::Hang]);
    let token = app.token(SECRET).await;
    let m = create(&app, &token, "Cut off").await;
    rx.wait_for(1).await;
    // Dropped, not stopped: the server task and its attempts are aborted mid-flight, as a
    // killed process's (the binary's `kill -9` test: crates/rollcall/tests/callback_kill.rs).
    let (dir, clock) = (app.dir.take().expect("dir"), app.clock.clone());
    drop(app);
    let app = restart(dir.path(), clock).await;
    let got = rx.wait_for(2).await;
    assert_eq!(got[0].event, got[1].event, "the same event, again");
    assert_eq!(rx.seen()[1], pair(&m, "create_meeting"));
    assert_eq!(finished(&app, 1).await[0]["state"], "delivered");
}

#[tokio::test]
async fn two_nodes_deliver_each_event_once() {
    let a = spawn_app().await;
    let rx = Receiver::start(TOKEN, KEY, CORP).await;
    a.put_corp(main_app_with(&rx.url)).await;
    // Started after the target is set, so its directory cache has it from the start.
    let path = a.dir.as_ref().expect("dir").path().to_owned();
    let b = TestApp::builder()
        .data_at(&path)
        .clock(a.clock.clone())
        .unseeded()
        .spawn()
        .await;
    let token = a.token(SECRET).await;
    let mut expected = Vec::new();
    for i in 0..20 {
        let node = if i % 2 == 0 { &a } else { &b };
        let m = create(node, &token, &format!("M{i}")).await;
        call(
            node,
            &token,
            "meeting/update",
            json!({"meetingid": m, "title": "x"}),
        )
        .await;
        expected.push(pair(&m, "create_meeting"));
        expected.push(pair(&m, "modify_meeting"));
    }
    rx.wait_for(expected.len()).await;
    finished(&a, expected.len()).await;
    let seen = rx.seen();
    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    for s in &seen {
        *counts.entry(s.clone()).or_default() += 1;
    }
    for e in &expected {
        assert_eq!(counts.get(e), Some(&1), "{e:?} in {seen:?}");
    }
    assert_eq!(seen.len(), expected.len());
    // In order per meeting, whichever node sent each.
    for (m, _) in expected.iter().step_by(2) {
        let of: Vec<_> = seen
            .iter()
            .filter(|(x, _)| x == m)
            .map(|(_, c)| c.as_str())
            .collect();
        assert_eq!(of, ["create_meeting", "modify_meeting"]);
    }
}

#[tokio::test]
async fn the_deliveries_list_checks_its_query() {
    let app = spawn_app().await;
    for q in ["limit=0", "limit=1001", "limit=x", "colour=red"] {
        let (status, body) = app.admin_call(Method::GET, &format!("callbacks?{q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert!(body["error"].as_str().is_some(), "{body}");
    }
    let (status, body) = app.admin_call(Method::GET, "callbacks?limit=5").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["deliveries"], json!([]));
}
