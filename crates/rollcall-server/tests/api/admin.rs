//! The admin API (SPEC §6).

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn admin_needs_its_key_and_is_off_without_one() {
    let app = spawn_app().await;
    let body = json!({"corpid": CORP, "agentid": AGENT, "meeting_type": 0, "title": "t", "meeting_start": NOW, "meeting_duration": 600});
    let r = app
        .http
        .post(format!("{}/admin/v1/meetings", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .http
        .post(format!("{}/admin/v1/meetings", app.base))
        .bearer_auth("nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let off = TestApp::builder().admin_key(None).unseeded().spawn().await;
    let r = off
        .http
        .post(format!("{}/admin/v1/meetings", off.base))
        .bearer_auth(ADMIN_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("admin_key"));
}

#[tokio::test]
async fn creates_each_kind_of_meeting() {
    let app = spawn_app().await;
    let one = app.meeting(AGENT, 0, &[]).await;
    assert!(one.sub_meetings.is_empty() && one.meetingid.len() > 8 && one.meeting_code.len() == 9);
    let rec = app
        .meeting(
            AGENT,
            1,
            &[(NOW, NOW + 3600), (NOW + 7 * DAY, NOW + 7 * DAY + 3600)],
        )
        .await;
    assert_eq!(rec.sub_meetings.len(), 2);
    assert_ne!(
        rec.sub_meetings[0].sub_meetingid,
        rec.sub_meetings[1].sub_meetingid
    );
    assert_eq!(rec.sub_meetings[1].start_time, NOW + 7 * DAY);
    let web = app.meeting(AGENT, 6, &[]).await;
    assert_ne!(web.meetingid, one.meetingid);
}

#[tokio::test]
async fn refuses_bad_meetings_with_reasons() {
    let app = spawn_app().await;
    let base = json!({"corpid": CORP, "agentid": AGENT, "meeting_type": 0, "title": "t", "meeting_start": NOW, "meeting_duration": 600});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, status) in [
        (with("meeting_type", json!(2)), 400),
        (with("meeting_type", json!(1)), 400), // recurring without sub_meetings
        (
            with(
                "sub_meetings",
                json!([{"start_time": NOW, "end_time": NOW + 1}]),
            ),
            400,
        ),
        (with("title", json!("")), 400),
        (with("meeting_duration", json!(0)), 400),
        (with("admin_userid", json!("ghost")), 400),
        (with("agentid", json!(42)), 404),
        (with("corpid", json!("wwnope")), 404),
        (with("meeting_start", json!("soon")), 400),
        (
            json!({"meeting_type": 1, "sub_meetings": [{"start_time": NOW, "end_time": NOW - 1}], "corpid": CORP, "agentid": AGENT, "title": "t", "meeting_start": NOW, "meeting_duration": 600}),
            400,
        ),
    ] {
        let (s, v) = app.admin("meetings", body.clone()).await;
        assert_eq!(s.as_u16(), status, "{body} -> {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
}

#[tokio::test]
async fn corps_are_created_and_updated_and_bad_directories_refused() {
    let app = spawn_app().await;
    // Update: add a user and make them visible; nothing else is lost.
    app.put_corp(json!({"corpid": CORP, "users": [{"userid": "frank", "departments": [2]}]}))
        .await;
    let m = app.one_off().await;
    app.ingest_ok(json!([
        join(&m, "f", NOW - 5, "frank"),
        join(&m, "b", NOW - 4, "bob")
    ]))
    .await;
    let token = app.token(SECRET).await;
    let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(rows.len(), 2);

    for bad in [
        json!({"corpid": CORP, "users": [{"userid": "x", "departments": [99]}]}),
        json!({"corpid": CORP, "departments": [{"id": 7, "name": "loop", "parent": 7}]}),
        json!({"corpid": CORP, "users": [{"userid": "y"}, {"userid": "y"}]}),
        json!({"corpid": "", "name": "n"}),
        json!({"corpid": CORP, "apps": [{"agentid": 9, "secret": "s", "visible_users": ["ghost"]}]}),
        json!({"corpid": CORP, "unknown_field": 1}),
    ] {
        let (s, v) = app.admin("corps", bad.clone()).await;
        assert_eq!(s.as_u16(), 400, "{bad} -> {v}");
    }
}

#[tokio::test]
async fn the_virtual_clock_is_read_set_and_advanced() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    let get = || async {
        app.http
            .get(format!("{}/admin/v1/clock", app.base))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(get().await, json!({"now": NOW, "virtual": true}));
    let (s, v) = app.admin("clock", json!({"advance_secs": 7199})).await;
    assert_eq!((s.as_u16(), v["now"].clone()), (200, json!(NOW + 7199)));
    // The token follows the clock: valid one second before expiry, expired at it.
    let m = app.one_off().await;
    assert_eq!(
        app.list(&token, json!({"meetingid": m})).await["errcode"],
        0
    );
    assert_eq!(
        app.admin("clock", json!({"now": NOW + 7200}))
            .await
            .0
            .as_u16(),
        200
    );
    expect_err(&app.list(&token, json!({"meetingid": m})).await, 42001);
    for bad in [
        json!({}),
        json!({"now": 1, "advance_secs": 1}),
        json!({"now": -5}),
        json!({"advance_secs": i64::MAX}),
        json!({"later": 1}),
    ] {
        assert_eq!(
            app.admin("clock", bad.clone()).await.0.as_u16(),
            400,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_system_clock_cannot_be_moved() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(rollcall_store_sqlite::SqliteStore::open(dir.path()).unwrap());
    let config = rollcall_server::ServerConfig {
        token_ttl_secs: 7200,
        ingest_key: None,
        admin_key: Some(ADMIN_KEY.into()),
        ..Default::default()
    };
    let state = rollcall_server::AppState::new(
        store,
        config,
        Arc::new(rollcall_core::clock::SystemClock),
        Arc::new(rollcall_core::ids::IdGen::random()),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(rollcall_server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    let r = reqwest::Client::new()
        .post(format!("{base}/admin/v1/clock"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"advance_secs": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = reqwest::Client::new()
        .get(format!("{base}/admin/v1/clock"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["virtual"], false);
}

#[tokio::test]
async fn wrong_methods_on_ingest_and_admin_say_so() {
    let app = spawn_app().await;
    for path in [
        "/ingest/v1/events",
        "/admin/v1/meetings",
        "/admin/v1/corps",
        "/admin/v1/clock",
    ] {
        let r = app
            .http
            .delete(format!("{}{path}", app.base))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{path}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error"].as_str().unwrap().contains("POST"), "{path}: {v}");
    }
}
