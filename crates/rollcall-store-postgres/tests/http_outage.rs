//! A PostgreSQL outage seen from the HTTP API (issue 4): while the database cannot be
//! reached, `/cgi-bin/*` answers errcode -1 within a bounded time (HTTP 200, never a 5xx, never
//! a hang), ingest answers 503 having written nothing, `/readyz` says not ready; when the
//! database returns, everything works again without restarting the node.
//!
//! The database "goes away" behind a TCP proxy (see `common::Proxy`). Bounds asserted are
//! generous "did not hang" limits, not performance figures.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{proxied, upstream_of, Proxy, Schema};
use rollcall_store_postgres::{PgOptions, PgStore};
use rollcall_testkit::fixtures::SECRET;
use rollcall_testkit::{events, TestApp, NOW};

const NO_HANG: Duration = Duration::from_secs(20);
const ADMIN: &str = "admin-key";
const INGEST: &str = "ingest-key";

async fn post(http: &reqwest::Client, url: String, key: &str, body: Value) -> (u16, Value) {
    let r = http
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("send");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_outage_is_system_busy_and_503_then_recovers_without_a_restart() {
    let Some(url) = common::url() else { return };
    let schema = Schema::new(&url);
    schema.store().await; // create and migrate the schema directly
    let proxy = Proxy::start(upstream_of(&url)).await;
    let options = PgOptions {
        connect_timeout: Duration::from_secs(1),
        wait_timeout: Duration::from_secs(1),
        call_timeout: Duration::from_secs(2),
        ..schema.options()
    };
    let store = PgStore::connect_with(&proxied(&url, proxy.port), options)
        .await
        .expect("store");
    let server = TestApp::builder()
        .store(Arc::new(store))
        .ingest_key(Some(INGEST))
        .admin_key(Some(ADMIN))
        .spawn()
        .await;
    let (base, http) = (server.base.clone(), server.http.clone());

    // Seed: the standard corp (the builder does), a meeting, one session, a token.
    let m = server.one_off().await;
    let join = |s: &str| json!([events::join(&m, s, NOW - 5, "bob")]);
    server.ingest_ok(join("a")).await;
    let token = server.token(SECRET).await;
    let list = || async {
        let r = http
            .post(format!(
                "{base}/cgi-bin/meeting/get_attendee_list?access_token={token}"
            ))
            .body(json!({"meetingid": m}).to_string())
            .send()
            .await
            .expect("send");
        (r.status().as_u16(), r.json::<Value>().await.expect("json"))
    };
    assert_eq!(list().await.1["attendees"].as_array().unwrap().len(), 1);

    proxy.down();
    let started = Instant::now();
    let (status, v) = tokio::time::timeout(NO_HANG, list())
        .await
        .expect("get_attendee_list hung");
    assert_eq!((status, v["errcode"].clone()), (200, json!(-1)), "{v}");
    assert!(v["errmsg"]
        .as_str()
        .unwrap()
        .starts_with("system busy, hint: ["));
    let (status, v) = tokio::time::timeout(
        NO_HANG,
        post(&http, format!("{base}/ingest/v1/events"), INGEST, join("b")),
    )
    .await
    .expect("ingest hung");
    assert_eq!(status, 503, "{v}");
    let ready = tokio::time::timeout(NO_HANG, http.get(format!("{base}/readyz")).send())
        .await
        .expect("readyz hung")
        .unwrap();
    assert_eq!(ready.status(), 503);
    eprintln!("outage answers took {:?} in all", started.elapsed());

    proxy.up().await;
    let deadline = Instant::now() + NO_HANG;
    loop {
        let (_, v) = list().await;
        if v["errcode"] == 0 {
            assert_eq!(
                v["attendees"].as_array().unwrap().len(),
                1,
                "the refused ingest wrote nothing"
            );
            break;
        }
        assert!(Instant::now() < deadline, "did not recover: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (_, v) = post(&http, format!("{base}/ingest/v1/events"), INGEST, join("b")).await;
    assert_eq!(v["accepted"], 1, "{v}");
    assert_eq!(list().await.1["attendees"].as_array().unwrap().len(), 2);
}
