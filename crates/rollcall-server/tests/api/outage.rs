//! When the store fails: errcode -1 on `/cgi-bin/*` (never a 5xx), 503 on ingest with nothing
//! half-applied, `/readyz` not ready — and recovery without a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use rollcall_store::{Store, StoreError, StoreResult};
use rollcall_testkit::store::{Route, Routed};

use crate::helpers::*;

/// A route to the store that fails every call while `down` is set.
#[derive(Debug)]
struct Switchable {
    inner: Arc<dyn Store>,
    down: Arc<AtomicBool>,
}

impl Route for Switchable {
    fn route(&self) -> StoreResult<&dyn Store> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("switched off by the test".into()))
        } else {
            Ok(&*self.inner)
        }
    }
}

#[tokio::test]
async fn a_store_outage_is_system_busy_then_recovers() {
    // Seed through a normal server, then serve the same data through a switchable store.
    let app = spawn_app().await;
    let m = app.one_off().await;
    app.ingest_ok(json!([join(&m, "a", NOW - 10, "bob")])).await;
    let token = app.token(SECRET).await;
    let clock = app.clock.clone();
    let dir = app.stop().await.unwrap();

    let down = Arc::new(AtomicBool::new(false));
    let store = Arc::new(Routed(Switchable {
        inner: open_store(dir.path()).await,
        down: down.clone(),
    }));
    let server = TestApp::builder()
        .store(store)
        .clock(clock)
        .unseeded()
        .spawn()
        .await;
    let (base, http) = (server.base.clone(), server.http.clone());
    let list = || {
        http.post(format!(
            "{base}/cgi-bin/meeting/get_attendee_list?access_token={token}"
        ))
        .body(json!({"meetingid": m}).to_string())
        .send()
    };

    down.store(true, Ordering::SeqCst);
    let r = list().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(expect_err(&v, -1), "system busy");
    let r = http
        .get(format!(
            "{base}/cgi-bin/gettoken?corpid={CORP}&corpsecret={SECRET}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    expect_err(&r.json().await.unwrap(), -1);
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = http
        .post(format!("{base}/ingest/v1/events"))
        .bearer_auth(INGEST_KEY)
        .json(&json!([join(&m, "b", NOW - 5, "carol")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);

    down.store(false, Ordering::SeqCst);
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let v: Value = list().await.unwrap().json().await.unwrap();
    assert_eq!(
        v["attendees"].as_array().unwrap().len(),
        1,
        "the refused ingest left nothing behind"
    );
    let r = http
        .post(format!("{base}/ingest/v1/events"))
        .bearer_auth(INGEST_KEY)
        .json(&json!([join(&m, "b", NOW - 5, "carol")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["accepted"],
        1,
        "the same event applies once retried"
    );
}
