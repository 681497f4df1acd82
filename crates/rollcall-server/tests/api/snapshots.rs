//! Reset and snapshots (SPEC §9), on the backend `ROLLCALL_TEST_STORE` picks.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// gettoken, meeting/create, ingest and get_attendee_list, as raw response bytes.
async fn scripted_run(app: &TestApp) -> Vec<bytes::Bytes> {
    let token_reply = app
        .http
        .get(format!(
            "{}/cgi-bin/gettoken?corpid={CORP}&corpsecret={SECRET}",
            app.base
        ))
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("body");
    let token: Value = serde_json::from_slice(&token_reply).expect("json");
    let token = token["access_token"].as_str().expect("token").to_owned();
    let body = json!({"admin_userid": "carol", "title": "周会", "meeting_start": NOW + 600,
                      "meeting_duration": 3600, "invitees": {"userid": ["bob"]}});
    let (_, _, created) = app
        .cgi_raw(
            &format!("meeting/create?access_token={token}"),
            body.to_string(),
        )
        .await;
    let m: Value = serde_json::from_slice(&created).expect("json");
    let meetingid = m["meetingid"]
        .as_str()
        .unwrap_or_else(|| panic!("{m}"))
        .to_owned();
    app.ingest_ok(json!([
        join(&meetingid, "s-1", NOW + 700, "carol"),
        join_as(
            &meetingid,
            "s-2",
            NOW + 710,
            json!({"external_id": "ext-1"})
        ),
    ]))
    .await;
    let (_, _, listed) = app
        .cgi_raw(
            &format!("meeting/get_attendee_list?access_token={token}"),
            json!({"meetingid": meetingid, "limit": 1}).to_string(),
        )
        .await;
    // An error too: its errmsg carries the request id (drawn from the seeded sequence) and
    // the caller's address, so it must repeat byte for byte as well.
    let (_, _, refused) = app
        .cgi_raw(
            &format!("meeting/get_info?access_token={token}"),
            json!({"meetingid": "hy-no-such-meeting"}).to_string(),
        )
        .await;
    let v: Value = serde_json::from_slice(&refused).expect("json");
    assert!(
        v["errmsg"]
            .as_str()
            .is_some_and(|m| m.contains(", from ip: 127.0.0.1, more info at ")),
        "{v}"
    );
    vec![token_reply, created, listed, refused]
}

#[tokio::test]
async fn reset_then_the_same_requests_give_byte_identical_responses() {
    let app = TestApp::builder().ids_seed(42).spawn().await;
    let first = scripted_run(&app).await;
    app.advance(900).await;
    let extra =
        json!({"corpid": "wwextra", "name": "Extra", "departments": [], "users": [], "apps": []});
    app.put_corp(extra).await;

    let (status, _) = app.admin("reset", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.state.now(),
        NOW,
        "the virtual clock is back at its start"
    );
    let second = scripted_run(&app).await;
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "a response differs after the reset"
        );
    }
    let listed: Value = serde_json::from_slice(&first[2]).expect("json");
    assert_eq!(listed["errcode"], 0, "{listed}");
    assert!(
        listed["next_cursor"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{listed}"
    );
    // The corp added after start-up is gone; the configured one is back.
    assert!(app.state.store().corp("wwextra").await.unwrap().is_none());
    assert!(app.state.store().corp(CORP).await.unwrap().is_some());
}

#[tokio::test]
async fn snapshots_save_list_restore_and_delete_over_http() {
    let app = spawn_app().await;
    let meetingid = app.one_off().await;
    app.ingest_ok(json!([join(&meetingid, "s-1", NOW + 10, "alice")]))
        .await;
    let token = app.token(SECRET).await;

    let (status, saved) = app
        .admin_call(reqwest::Method::POST, "snapshots/base.1")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(
        saved,
        json!({"name": "base.1", "created_at": NOW, "meetings": 1, "sessions": 1})
    );
    let (status, again) = app
        .admin_call(reqwest::Method::POST, "snapshots/base.1")
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (status, bad) = app
        .admin_call(reqwest::Method::POST, "snapshots/no%20spaces")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad["error"].as_str().unwrap().contains("snapshot name"),
        "{bad}"
    );
    let long = "x".repeat(65);
    let (status, _) = app
        .admin_call(reqwest::Method::POST, &format!("snapshots/{long}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let before = app.list(&token, json!({"meetingid": meetingid})).await;
    app.ingest_ok(json!([join(&meetingid, "s-2", NOW + 20, "bob")]))
        .await;
    let second = app.one_off().await;
    let after = app.list(&token, json!({"meetingid": meetingid})).await;
    assert_ne!(before, after);

    let (status, listed) = app.admin_call(reqwest::Method::GET, "snapshots").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed, json!({"snapshots": [saved.clone()]}));
    let (status, restored) = app
        .admin_call(reqwest::Method::POST, "snapshots/base.1/restore")
        .await;
    assert_eq!((status, restored), (StatusCode::OK, saved));
    // The token of before the snapshot still works, and the listing is the old one.
    assert_eq!(
        app.list(&token, json!({"meetingid": meetingid})).await,
        before
    );
    let gone = app.list(&token, json!({"meetingid": second})).await;
    assert_eq!(gone["errcode"], 40058, "{gone}");

    let (status, _) = app
        .admin_call(reqwest::Method::POST, "snapshots/nope/restore")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .admin_call(reqwest::Method::DELETE, "snapshots/base.1")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .admin_call(reqwest::Method::DELETE, "snapshots/base.1")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = app.admin_call(reqwest::Method::GET, "snapshots").await;
    assert_eq!(listed, json!({"snapshots": []}));
}

#[tokio::test]
async fn a_reset_keeps_snapshots_and_forgets_tokens() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    let (status, _) = app
        .admin_call(reqwest::Method::POST, "snapshots/kept")
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app.admin("reset", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    // Without start-up corps (the test kit seeded through the admin API), the directory is
    // empty, and the cached token is gone with the store's.
    let v = app.list(&token, json!({"meetingid": "hyunknown"})).await;
    assert_eq!(v["errcode"], 40014, "{v}");
    let (_, listed) = app.admin_call(reqwest::Method::GET, "snapshots").await;
    assert_eq!(listed["snapshots"][0]["name"], "kept", "{listed}");
    let (status, _) = app
        .admin_call(reqwest::Method::POST, "snapshots/kept/restore")
        .await;
    assert_eq!(status, StatusCode::OK);
    let v = app.list(&token, json!({"meetingid": "hyunknown"})).await;
    assert_eq!(v["errcode"], 40058, "{v}");
}

/// A reset also brings the node's controls back: no fault, an empty journal, the start-up
/// rate limits.
#[tokio::test]
async fn a_reset_clears_faults_journal_and_rate_limits() {
    let app = spawn_app().await;
    let (status, _) = app
        .admin("faults", json!({"path": "meeting/get_info", "errcode": -1}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let r = app
        .http
        .put(format!("{}/admin/v1/rate_limits", app.base))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"per_minute": 7}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    app.token(SECRET).await;
    let (_, journal) = app.admin_call(reqwest::Method::GET, "requests").await;
    assert!(
        !journal["requests"].as_array().unwrap().is_empty(),
        "{journal}"
    );

    let (status, _) = app.admin("reset", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, faults) = app.admin_call(reqwest::Method::GET, "faults").await;
    assert_eq!(faults, json!({"faults": []}));
    let (_, journal) = app.admin_call(reqwest::Method::GET, "requests").await;
    assert_eq!(journal, json!({"requests": []}));
    let (_, limits) = app.admin_call(reqwest::Method::GET, "rate_limits").await;
    assert_eq!(limits["per_minute"], 6000, "{limits}");
}
