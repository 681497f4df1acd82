//! SPEC §11, the part before delivery: per-app callback settings through the admin API,
//! WeCom's URL verification of each URL (off the request path), and its outcome in
//! `GET /admin/v1/callbacks`. The receiver is a real axum app answering with
//! `rollcall_client::callback::CallbackReceiver`, as an integration team's would.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use reqwest::Method;
use rollcall_client::callback::{CallbackQuery, CallbackReceiver};
use serde_json::{json, Value};
use std::sync::Arc;

use crate::helpers::*;

const TOKEN: &str = "cbToken";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

/// A receiver on 127.0.0.1:0: `/cb` answers URL verification with the client crate's
/// receiver (403 when it refuses), `/wrong` answers 200 with something else.
async fn receiver() -> String {
    async fn verify(
        State(rx): State<Arc<CallbackReceiver>>,
        Query(q): Query<CallbackQuery>,
    ) -> Result<String, StatusCode> {
        rx.verify_url(&q).map_err(|_| StatusCode::FORBIDDEN)
    }
    let rx = Arc::new(CallbackReceiver::new(TOKEN, KEY, CORP).unwrap());
    let app = Router::new()
        .route("/cb", get(verify))
        .route("/wrong", get(|| async { "not the echostr" }))
        .with_state(rx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A port nothing listens on (bound, then released).
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

fn cb_app(agentid: u32, url: &str, token: &str) -> Value {
    json!({
        "agentid": agentid,
        "name": format!("cb {agentid}"),
        "secret": format!("secret-{agentid}"),
        "callback_url": url,
        "callback_token": token,
        "callback_aes_key": KEY,
    })
}

async fn statuses(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.admin_call(Method::GET, "callbacks").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["apps"].as_array().expect("apps").clone()
}

/// The statuses once every listed check has finished (checks run in the background).
async fn settled(app: &TestApp, expected: usize) -> Vec<Value> {
    for _ in 0..400 {
        let all = statuses(app).await;
        if all.len() == expected && all.iter().all(|a| !a["checked_at"].is_null()) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("checks did not finish: {:?}", statuses(app).await);
}

fn of(all: &[Value], agentid: u32) -> &Value {
    all.iter()
        .find(|a| a["agentid"] == agentid)
        .unwrap_or_else(|| panic!("no app {agentid} in {all:?}"))
}

#[tokio::test]
async fn urls_are_verified_as_wecom_does_and_failures_are_reported() {
    let app = spawn_app().await;
    let rx = receiver().await;
    let closed = closed_port().await;
    app.put_corp(json!({
        "corpid": CORP,
        "apps": [
            cb_app(1_000_100, &format!("{rx}/cb"), TOKEN),
            cb_app(1_000_101, &format!("http://127.0.0.1:{closed}/cb"), TOKEN),
            // The receiver's token differs: it refuses the signature with 403.
            cb_app(1_000_102, &format!("{rx}/cb"), "someOtherToken"),
            cb_app(1_000_103, &format!("{rx}/wrong"), TOKEN),
        ],
    }))
    .await;

    let all = settled(&app, 4).await;
    let ok = of(&all, 1_000_100);
    assert_eq!(ok["verified"], true, "{ok}");
    assert_eq!(ok["error"], Value::Null);
    assert_eq!(ok["corpid"], CORP);
    assert_eq!(ok["url"], format!("{rx}/cb"));
    assert_eq!(ok["checked_at"], NOW, "stamped with the server's clock");

    let down = of(&all, 1_000_101);
    assert_eq!(down["verified"], false);
    let why = down["error"].as_str().unwrap();
    assert!(why.starts_with("connect error"), "{why}");

    let refused = of(&all, 1_000_102);
    assert_eq!(refused["verified"], false);
    assert_eq!(refused["error"], "HTTP status 403");

    let wrong = of(&all, 1_000_103);
    assert_eq!(wrong["verified"], false);
    let why = wrong["error"].as_str().unwrap();
    assert!(
        why.starts_with("wrong body") && why.contains("not the echostr"),
        "{why}"
    );

    // An app put again without settings has no callback any more; the others stay.
    app.put_corp(json!({
        "corpid": CORP,
        "apps": [{"agentid": 1_000_101, "secret": "secret-1000101"}],
    }))
    .await;
    let all = settled(&app, 3).await;
    assert!(all.iter().all(|a| a["agentid"] != 1_000_101), "{all:?}");
    // Pointing an app at a working URL verifies it anew.
    app.put_corp(json!({"corpid": CORP, "apps": [cb_app(1_000_103, &format!("{rx}/cb"), TOKEN)]}))
        .await;
    let all = settled(&app, 3).await;
    assert_eq!(of(&all, 1_000_103)["verified"], true);
}

#[tokio::test]
async fn bad_callback_settings_are_400_with_a_reason_and_change_nothing() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"agentid": 7, "secret": "s", "callback_url": "https://a.example/cb",
                   "callback_token": "t", "callback_aes_key": "too-short"}),
            "callback_aes_key",
        ),
        (
            json!({"agentid": 7, "secret": "s", "callback_url": "ftp://a.example/cb",
                   "callback_token": "t", "callback_aes_key": KEY}),
            "not http(s)",
        ),
        (
            json!({"agentid": 7, "secret": "s", "callback_url": "https://a.example/cb",
                   "callback_aes_key": KEY}),
            "no callback_token",
        ),
        (
            json!({"agentid": 7, "secret": "s", "callback_url": "https://a.example/cb",
                   "callback_token": "t"}),
            "no callback_aes_key",
        ),
        (
            json!({"agentid": 7, "secret": "s", "callback_aes_key": KEY}),
            "no callback_url",
        ),
    ];
    for (spec, reason) in cases {
        let (status, body) = app
            .admin("corps", json!({"corpid": CORP, "apps": [spec]}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{reason:?} not in {error:?}");
    }
    assert!(statuses(&app).await.is_empty());
    // Nothing was stored either: app 7 cannot get a token.
    let reply = app
        .gettoken_raw(&format!("corpid={CORP}&corpsecret=s"))
        .await;
    assert_ne!(reply["errcode"], 0, "{reply}");
}

#[tokio::test]
async fn the_callbacks_list_needs_the_admin_key_and_get() {
    let app = spawn_app().await;
    let r = reqwest::Client::new()
        .get(format!("{}/admin/v1/callbacks", app.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let (status, body) = app.admin_call(Method::DELETE, "callbacks").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert!(body["error"].as_str().unwrap().contains("GET"));
}

#[tokio::test]
async fn a_reset_forgets_the_callback_targets_it_removed() {
    let app = spawn_app().await;
    let rx = receiver().await;
    app.put_corp(json!({"corpid": CORP, "apps": [cb_app(1_000_100, &format!("{rx}/cb"), TOKEN)]}))
        .await;
    assert_eq!(settled(&app, 1).await[0]["verified"], true);
    let (status, body) = app.admin_call(Method::POST, "reset").await;
    assert!(status.is_success(), "{body}");
    assert!(statuses(&app).await.is_empty());
}

/// The one status of app `agentid` on `app`, without waiting.
async fn status_of(app: &TestApp, agentid: u32) -> Value {
    of(&statuses(app).await, agentid).clone()
}

#[tokio::test]
async fn a_target_set_through_one_node_is_every_nodes_and_survives_a_restart() {
    let a = spawn_app().await;
    let rx = receiver().await;
    let path = a.dir.as_ref().expect("dir").path().to_owned();
    a.put_corp(json!({"corpid": CORP, "apps": [cb_app(1_000_100, &format!("{rx}/cb"), TOKEN)]}))
        .await;
    assert_eq!(settled(&a, 1).await[0]["verified"], true);

    // Node B, started after: it lists the stored target and verifies it at start-up.
    let b = restart(&path, a.clock.clone()).await;
    let on_b = settled(&b, 1).await;
    assert_eq!(on_b[0]["url"], format!("{rx}/cb"));
    assert_eq!(on_b[0]["verified"], true, "{on_b:?}");

    // A target set through A while B runs: B lists it at once, as not checked by B.
    a.put_corp(json!({"corpid": CORP, "apps": [cb_app(1_000_101, &format!("{rx}/wrong"), TOKEN)]}))
        .await;
    let new_on_b = status_of(&b, 1_000_101).await;
    assert_eq!(new_on_b["url"], format!("{rx}/wrong"));
    assert_eq!(new_on_b["checked_at"], Value::Null, "{new_on_b}");
    assert_eq!(new_on_b["verified"], false);
    assert_eq!(status_of(&b, 1_000_100).await["verified"], true);
    // A changed target through A: B shows the new URL, and not its check of the old one.
    a.put_corp(json!({"corpid": CORP, "apps": [cb_app(1_000_100, &format!("{rx}/wrong"), TOKEN)]}))
        .await;
    let changed_on_b = status_of(&b, 1_000_100).await;
    assert_eq!(changed_on_b["url"], format!("{rx}/wrong"));
    assert_eq!(changed_on_b["checked_at"], Value::Null, "{changed_on_b}");

    // Both nodes stop; a restarted node has both targets and checks them.
    let clock = a.clock.clone();
    b.stop().await;
    let dir = a.stop().await.expect("dir");
    let c = restart(dir.path(), clock).await;
    let all = settled(&c, 2).await;
    for agentid in [1_000_100, 1_000_101] {
        let s = of(&all, agentid);
        assert_eq!(s["url"], format!("{rx}/wrong"));
        assert_eq!(s["verified"], false, "{s}");
        assert!(
            s["error"].as_str().unwrap().starts_with("wrong body"),
            "{s}"
        );
    }
    drop(dir);
}

#[tokio::test]
async fn a_restore_brings_back_the_targets_of_the_snapshot() {
    let app = spawn_app().await;
    let rx = receiver().await;
    app.put_corp(json!({"corpid": CORP, "apps": [cb_app(1_000_100, &format!("{rx}/cb"), TOKEN)]}))
        .await;
    assert_eq!(settled(&app, 1).await[0]["verified"], true);
    let (status, body) = app.admin_call(Method::POST, "snapshots/with-target").await;
    assert!(status.is_success(), "{body}");

    // Afterwards app 1000100 points elsewhere and app 1000101 gets a target.
    app.put_corp(json!({
        "corpid": CORP,
        "apps": [
            cb_app(1_000_100, &format!("{rx}/wrong"), TOKEN),
            cb_app(1_000_101, &format!("{rx}/cb"), TOKEN),
        ],
    }))
    .await;
    let all = settled(&app, 2).await;
    assert_eq!(of(&all, 1_000_100)["verified"], false);

    let (status, body) = app
        .admin_call(Method::POST, "snapshots/with-target/restore")
        .await;
    assert!(status.is_success(), "{body}");
    // The snapshot's target only, verified again for its settings.
    let all = settled(&app, 1).await;
    assert_eq!(all[0]["agentid"], 1_000_100);
    assert_eq!(all[0]["url"], format!("{rx}/cb"));
    assert_eq!(all[0]["verified"], true, "{all:?}");
}
