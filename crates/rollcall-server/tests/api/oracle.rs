//! No timing oracle (issue 11.6): another app's meeting and an unknown meetingid answer
//! byte-identically, and now also with the same store work, which is what made them ~18 µs
//! apart (a found meeting was cached, an unknown id read the store every time). Counted in
//! store calls rather than timed: timings are noisy, the count is the cause.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::helpers::*;

/// Counts the calls that reach the store.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn rollcall_store::Store>,
    calls: Arc<AtomicUsize>,
}

impl rollcall_testkit::store::Route for Counting {
    fn route(&self) -> rollcall_store::StoreResult<&dyn rollcall_store::Store> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(&*self.inner)
    }
}

/// A server on a store whose calls are counted, with a meeting of the main app.
async fn counted() -> (TestApp, Arc<AtomicUsize>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let store = Arc::new(rollcall_testkit::store::Routed(Counting {
        inner: open_store(dir.path()).await,
        calls: calls.clone(),
    }));
    let app = TestApp::builder().store(store).spawn().await;
    (app, calls, dir)
}

/// `get_info` of `meetingid` with `token`: the reply (errcode, errmsg) and how many store
/// calls it made.
async fn get_info(
    app: &TestApp,
    calls: &AtomicUsize,
    token: &str,
    meetingid: &str,
) -> ((serde_json::Value, String), usize) {
    let body = json!({ "meetingid": meetingid }).to_string();
    let before = calls.load(Ordering::SeqCst);
    let (_, _, reply) = app
        .cgi_raw(&format!("meeting/get_info?access_token={token}"), body)
        .await;
    let v: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    let work = calls.load(Ordering::SeqCst) - before;
    let text = if v["errcode"] == 0 {
        "ok".to_owned()
    } else {
        errtext(&v)
    };
    ((v["errcode"].clone(), text), work)
}

#[tokio::test]
async fn another_apps_meeting_and_an_unknown_id_cost_the_same_store_work() {
    let (app, calls, _dir) = counted().await;
    let theirs = app.one_off().await; // the main app's meeting
    let other = app.token(OTHER_SECRET).await;
    let get_info = |meetingid: &str| {
        let (app, calls, other, id) = (&app, &calls, &other, meetingid.to_owned());
        async move { get_info(app, calls, other, &id).await }
    };
    get_info("warm-up-the-token-cache").await;

    // Every node re-reads the store's directory version once a CACHE_TTL, which may fall in
    // any request: a round whose counts differ is measured again. Without the fix the
    // unknown id costs one more store call every time, so no round agrees.
    let mut rounds = Vec::new();
    for round in 0..3 {
        if round > 0 {
            // Let the meeting's cache entry expire, so both ids start uncached again.
            tokio::time::sleep(rollcall_server::CACHE_TTL + std::time::Duration::from_millis(50))
                .await;
            // And absorb the directory version's re-read, now due.
            get_info(&format!("warm-up-{round}")).await;
        }
        let mut replies = Vec::new();
        let mut work = Vec::new();
        let unknown = format!("no-such-meeting-{round}");
        for meetingid in [theirs.as_str(), unknown.as_str()] {
            for _ in 0..3 {
                let (reply, w) = get_info(meetingid).await;
                replies.push(reply);
                work.push(w);
            }
        }
        assert!(replies.windows(2).all(|w| w[0] == w[1]), "{replies:?}");
        if work[..3] == work[3..] && work[1..3] == [0, 0] {
            return;
        }
        rounds.push(work);
    }
    panic!("store calls per request (another app's meeting ×3, unknown ×3): {rounds:?}");
}

/// The probe an attacker makes: a meeting its owner just read (so a cache keyed by meetingid
/// alone holds it), against a fresh unknown id each time (never cached). Both must go to the
/// store once: the lookup is the asking app's own, in the cache and in the store.
#[tokio::test]
async fn the_owners_reads_do_not_change_what_another_apps_probe_costs() {
    let (app, calls, _dir) = counted().await;
    let owner = app.token(SECRET).await;
    let other = app.token(OTHER_SECRET).await;
    get_info(&app, &calls, &other, "warm-up-the-token-cache").await;
    // Directory version re-reads (once a CACHE_TTL) add a call to whichever request they fall
    // in: a round is measured again when its counts differ. Without the fix every pair
    // differs (another app's meeting costs 0 calls, the unknown id 1), so no round agrees.
    let mut rounds = Vec::new();
    for round in 0..3 {
        let mut ids = Vec::new();
        for _ in 0..4 {
            let id = app.one_off().await;
            let ((errcode, _), _) = get_info(&app, &calls, &owner, &id).await;
            assert_eq!(errcode, 0, "the owner reads its meeting");
            ids.push(id);
        }
        let mut replies = Vec::new();
        let mut work = Vec::new();
        for (i, theirs) in ids.iter().enumerate() {
            for meetingid in [theirs.clone(), format!("no-such-meeting-{round}-{i}")] {
                let (reply, w) = get_info(&app, &calls, &other, &meetingid).await;
                replies.push(reply);
                work.push(w);
            }
        }
        assert!(replies.windows(2).all(|w| w[0] == w[1]), "{replies:?}");
        if work.iter().all(|&w| w == 1) {
            return;
        }
        rounds.push(work);
    }
    panic!("store calls per probe (another app's meeting, unknown id, ×4): {rounds:?}");
}
