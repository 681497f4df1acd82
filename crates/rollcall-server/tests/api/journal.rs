//! The request journal (SPEC §9): shape, filters, redaction, bounds, clearing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn journal(app: &TestApp, query: &str) -> (StatusCode, Value) {
    app.admin_call(reqwest::Method::GET, &format!("requests{query}"))
        .await
}

#[tokio::test]
async fn no_secret_or_token_ever_appears_in_the_journal() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    let meetingid = app.one_off().await;
    app.list(&token, json!({"meetingid": meetingid})).await;
    // A body carrying secrets and the token itself, as JSON and as broken JSON text.
    let body = json!({"meetingid": meetingid, "secret": "body-secret-1", "note": token, "x": {"corpsecret": SECRET}});
    app.cgi_raw(
        &format!("meeting/get_info?access_token={token}"),
        body.to_string(),
    )
    .await;
    let broken = format!(r#"{{"access_token": "{token}", "secret": "body-secret-2", "#);
    app.cgi_raw(&format!("meeting/get_info?access_token={token}"), broken)
        .await;
    app.gettoken_raw(&format!("corpid={CORP}&corpsecret=not-the-secret-3"))
        .await;
    app.ingest(json!([])).await;

    let (status, v) = journal(&app, "").await;
    assert_eq!(status, StatusCode::OK);
    let text = v.to_string();
    for s in [
        SECRET,
        token.as_str(),
        "body-secret-1",
        "body-secret-2",
        "not-the-secret-3",
        INGEST_KEY,
        ADMIN_KEY,
    ] {
        assert!(!text.contains(s), "{s} leaked into {text}");
    }
    assert!(text.contains("***"), "{text}");
    let reqs = v["requests"].as_array().unwrap();
    // gettoken ×2, list, get_info ×2, ingest; admin calls are not journaled.
    assert_eq!(reqs.len(), 6, "{v:#}");
    assert_eq!(reqs[0]["path"], "/ingest/v1/events");
    assert_eq!(reqs[0]["status"], 200);
    assert_eq!(reqs[5]["path"], "/cgi-bin/gettoken");
    assert_eq!(reqs[5]["method"], "GET");
    assert_eq!(reqs[5]["corpid"], CORP);
    assert_eq!(reqs[5]["agentid"], AGENT);
    assert_eq!(reqs[5]["errcode"], 0);
    assert_eq!(reqs[5]["body"], Value::Null);
    assert!(
        reqs[0]["id"].as_u64() > reqs[1]["id"].as_u64(),
        "newest first"
    );
    let masked = &reqs[3];
    assert_eq!(masked["path"], "/cgi-bin/meeting/get_info");
    assert_eq!(masked["agentid"], AGENT);
    assert_eq!(masked["body"]["secret"], "***");
    assert_eq!(masked["body"]["note"], "***");
    assert_eq!(masked["body"]["x"]["corpsecret"], "***");
    assert_eq!(masked["body"]["meetingid"], meetingid.as_str());
    for key in [
        "id",
        "at_ms",
        "method",
        "path",
        "corpid",
        "agentid",
        "status",
        "errcode",
        "latency_us",
        "request_id",
        "fault",
        "body",
    ] {
        assert!(masked.get(key).is_some(), "{key} missing from {masked}");
    }
    assert_eq!(masked["fault"], Value::Null);
    assert_eq!(masked["at_ms"], NOW * 1000);
}

#[tokio::test]
async fn errcode_and_request_id_match_the_reply() {
    let app = spawn_app().await;
    let (_, headers, body) = app
        .cgi_raw("meeting/get_info?access_token=bogus", "{}")
        .await;
    let reply: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["errcode"], 40014);
    assert_eq!(headers["Error-Code"], "40014");
    let (_, v) = journal(&app, "?errcode=40014").await;
    let e = &v["requests"][0];
    let rid = e["request_id"].as_str().unwrap();
    assert!(
        reply["errmsg"]
            .as_str()
            .unwrap()
            .contains(&format!("hint: [{rid}]")),
        "{reply} {e}"
    );
    assert_eq!(e["errcode"], 40014);
    assert_eq!(e["agentid"], Value::Null);
    assert_eq!(e["body"], json!({}));
}

#[tokio::test]
async fn filters_limit_bad_queries_and_clear() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    app.token(SECRET).await;
    app.cgi_raw(&format!("meeting/get_info?access_token={token}"), "{}")
        .await;
    let ids = |v: &Value| v["requests"].as_array().unwrap().len();
    assert_eq!(ids(&journal(&app, "?path=gettoken").await.1), 2);
    assert_eq!(ids(&journal(&app, "?path=/cgi-bin/gettoken").await.1), 2);
    assert_eq!(
        ids(&journal(&app, "?path=meeting/get_info&errcode=40058")
            .await
            .1),
        1
    );
    assert_eq!(ids(&journal(&app, "?errcode=0").await.1), 2);
    assert_eq!(ids(&journal(&app, "?limit=1").await.1), 1);
    for bad in [
        "?limit=0",
        "?limit=x",
        "?errcode=e",
        "?path=nope",
        "?colour=red",
    ] {
        let (status, v) = journal(&app, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(v["error"].is_string(), "{bad}: {v}");
    }
    let r = app
        .http
        .delete(format!("{}/admin/v1/requests", app.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(ids(&journal(&app, "").await.1), 0);
    let r = app
        .http
        .get(format!("{}/admin/v1/requests", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_ring_is_bounded_and_zero_turns_it_off() {
    let small = TestApp::builder()
        .config(rollcall_server::ServerConfig {
            token_ttl_secs: 7200,
            admin_key: Some(ADMIN_KEY.into()),
            journal_size: Some(2),
            ..Default::default()
        })
        .spawn()
        .await;
    for _ in 0..4 {
        small.token(SECRET).await;
    }
    assert_eq!(
        journal(&small, "").await.1["requests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let off = TestApp::builder()
        .config(rollcall_server::ServerConfig {
            token_ttl_secs: 7200,
            admin_key: Some(ADMIN_KEY.into()),
            journal_size: Some(0),
            ..Default::default()
        })
        .spawn()
        .await;
    off.token(SECRET).await;
    assert_eq!(journal(&off, "").await.1, json!({"requests": []}));
}
