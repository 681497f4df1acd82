//! When the store fails: errcode -1 on `/cgi-bin/*` (never a 5xx), 503 on ingest with nothing
//! half-applied, `/readyz` not ready — and recovery without a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use rollcall_core::ingest::{Outcome, ResolvedEvent};
use rollcall_core::model::{
    AppRef, Corp, Meeting, MeetingUpdate, NewMeeting, SessionRow, SessionScan, TokenRecord,
    UserMeetingRow, UserMeetingScan,
};
use rollcall_core::schedule::Presence;
use rollcall_store::{Store, StoreError, StoreResult};

use crate::helpers::*;

/// A store that fails every call while `down` is set.
#[derive(Debug)]
struct Switchable {
    inner: Arc<dyn Store>,
    down: Arc<AtomicBool>,
}

impl Switchable {
    fn check(&self) -> StoreResult<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("switched off by the test".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for Switchable {
    async fn ping(&self) -> StoreResult<()> {
        self.check()?;
        self.inner.ping().await
    }
    async fn server_secret(&self, c: [u8; 32]) -> StoreResult<[u8; 32]> {
        self.check()?;
        self.inner.server_secret(c).await
    }
    async fn put_corp(&self, corp: &Corp) -> StoreResult<()> {
        self.check()?;
        self.inner.put_corp(corp).await
    }
    async fn corp(&self, corpid: &str) -> StoreResult<Option<Corp>> {
        self.check()?;
        self.inner.corp(corpid).await
    }
    async fn directory_version(&self) -> StoreResult<u64> {
        self.check()?;
        self.inner.directory_version().await
    }
    async fn token_for_app(&self, now: i64, c: &TokenRecord) -> StoreResult<TokenRecord> {
        self.check()?;
        self.inner.token_for_app(now, c).await
    }
    async fn token_by_hash(&self, h: &[u8; 32]) -> StoreResult<Option<TokenRecord>> {
        self.check()?;
        self.inner.token_by_hash(h).await
    }
    async fn create_meeting(&self, m: &NewMeeting) -> StoreResult<Meeting> {
        self.check()?;
        self.inner.create_meeting(m).await
    }
    async fn meeting(&self, id: &str) -> StoreResult<Option<Meeting>> {
        self.check()?;
        self.inner.meeting(id).await
    }
    async fn meetings_of(&self, app: &AppRef) -> StoreResult<Vec<Meeting>> {
        self.check()?;
        self.inner.meetings_of(app).await
    }
    async fn update_meeting(&self, u: &MeetingUpdate) -> StoreResult<bool> {
        self.check()?;
        self.inner.update_meeting(u).await
    }
    async fn meetingid_by_code(&self, app: &AppRef, code: &str) -> StoreResult<Option<String>> {
        self.check()?;
        self.inner.meetingid_by_code(app, code).await
    }
    async fn cancel_meeting(&self, k: i64) -> StoreResult<bool> {
        self.check()?;
        self.inner.cancel_meeting(k).await
    }
    async fn user_meetings(&self, s: &UserMeetingScan) -> StoreResult<Vec<UserMeetingRow>> {
        self.check()?;
        self.inner.user_meetings(s).await
    }
    async fn presence(&self, k: i64) -> StoreResult<Vec<(i64, Presence)>> {
        self.check()?;
        self.inner.presence(k).await
    }
    async fn ingest(&self, events: &[ResolvedEvent]) -> StoreResult<Vec<Outcome>> {
        self.check()?;
        self.inner.ingest(events).await
    }
    async fn last_seq(&self, k: i64) -> StoreResult<u64> {
        self.check()?;
        self.inner.last_seq(k).await
    }
    async fn scan_sessions(&self, s: &SessionScan) -> StoreResult<Vec<SessionRow>> {
        self.check()?;
        self.inner.scan_sessions(s).await
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
    let store = Arc::new(Switchable {
        inner: open_store(dir.path()).await,
        down: down.clone(),
    });
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
