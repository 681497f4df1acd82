//! Database outages: while PostgreSQL cannot be reached every call fails with
//! `StoreError::Unavailable` in bounded time (never hangs), nothing is half-written, and the
//! same store works again once the database is back, without a restart.
//!
//! The bounds asserted are generous "does not hang" limits, not performance figures.
//!
//! - Nothing listening (a closed port), and a server that accepts but never answers: these
//!   need no database and always run.
//! - With `TEST_POSTGRES_URL`: a TCP proxy in front of the real database is switched off
//!   (connections cut, port closed) and frozen (connections kept open, nothing forwarded),
//!   then restored.

mod common;

use common::{proxied, upstream_of, Proxy};

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;

use rollcall_core::ingest::{Outcome, ResolvedEvent};
use rollcall_core::model::{MeetingType, SessionScan};
use rollcall_store::suite::fixtures::{self, T0};
use rollcall_store::{Store, StoreError};
use rollcall_store_postgres::{PgOptions, PgStore};

/// Far above every timeout configured below: reaching it means a call hung.
const NO_HANG: Duration = Duration::from_secs(20);

/// Short timeouts, as an operator wanting fast failure would set them.
fn quick(schema: Option<String>) -> PgOptions {
    PgOptions {
        schema,
        max_connections: 4,
        connect_timeout: Duration::from_secs(1),
        wait_timeout: Duration::from_secs(1),
        call_timeout: Duration::from_secs(2),
        ..PgOptions::default()
    }
}

/// `fut` finishes within [`NO_HANG`], with `Unavailable`.
async fn unavailable<T: std::fmt::Debug>(
    what: &str,
    fut: impl Future<Output = Result<T, StoreError>>,
) {
    match tokio::time::timeout(NO_HANG, fut).await {
        Ok(Err(StoreError::Unavailable(_))) => {}
        Ok(other) => panic!("{what}: expected Unavailable, got {other:?}"),
        Err(_) => panic!("{what}: still waiting after {NO_HANG:?}"),
    }
}

async fn all_calls_fail(store: &PgStore, meeting_key: i64) {
    unavailable("ping", store.ping()).await;
    unavailable("last_seq", store.last_seq(meeting_key)).await;
    unavailable("scan", store.scan_sessions(&everything(meeting_key))).await;
    unavailable("meeting", store.meeting("m-1")).await;
    unavailable("secret", store.server_secret([1; 32])).await;
    unavailable("ingest", store.ingest(&[join(meeting_key, 999)], 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_fails_fast_with_unavailable() {
    let url = "postgres://postgres@127.0.0.1:1/test";
    unavailable("connect", PgStore::connect(url)).await;
    unavailable(
        "connect_with",
        PgStore::connect_with(url, quick(Some("x".into()))),
    )
    .await;
    let store = PgStore::lazy(url, quick(None)).expect("lazy");
    all_calls_fail(&store, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_fails_with_unavailable() {
    // Accepts connections and holds them open without a word.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let holder = {
        let held = Arc::clone(&held);
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                held.lock().unwrap_or_else(PoisonError::into_inner).push(s);
            }
        })
    };
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    unavailable("connect", PgStore::connect_with(&url, quick(None))).await;
    let store = PgStore::lazy(&url, quick(None)).expect("lazy");
    all_calls_fail(&store, 1).await;
    holder.abort();
}

// ---------------------------------------------------------------- through a proxy

/// The `n`-th join: event `e-<n>`, session `s-<n>`, at `T0 + n`.
fn join(meeting_key: i64, n: usize) -> ResolvedEvent {
    let at = T0 + i64::try_from(n).unwrap_or(0);
    fixtures::join(meeting_key, &format!("e-{n}"), &format!("s-{n}"), at)
}

fn everything(meeting_key: i64) -> SessionScan {
    fixtures::everything(meeting_key, 0)
}

/// Retry `f` until it succeeds (the pool reconnecting), within a bound.
async fn recovers<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    for _ in 0..50 {
        match tokio::time::timeout(NO_HANG, f()).await {
            Ok(Ok(v)) => return v,
            Ok(Err(StoreError::Unavailable(_))) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(Err(e)) => panic!("{what}: {e}"),
            Err(_) => panic!("{what}: hung"),
        }
    }
    panic!("{what}: did not recover")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_fails_calls_writes_nothing_and_recovers_without_a_restart() {
    let Some(url) = common::url() else { return };
    let schema = common::Schema::new(&url);
    let direct = schema.store().await;
    let proxy = Proxy::start(upstream_of(&url)).await;
    let store = PgStore::connect_with(&proxied(&url, proxy.port), quick(Some(schema.name.clone())))
        .await
        .expect("connect through the proxy");
    let m = store
        .create_meeting(
            &fixtures::new_meeting(
                "m-1",
                &fixtures::app_ref("wwcorp", 1000002),
                MeetingType::OneOff,
                0,
            ),
            &[],
        )
        .await
        .expect("meeting");
    let out = store.ingest(&[join(m.key, 0)], 0).await.expect("ingest");
    assert_eq!(out, [Outcome::Accepted]);

    // 1. Down: connections cut, nothing listening.
    proxy.down();
    all_calls_fail(&store, m.key).await;
    assert_eq!(
        direct
            .scan_sessions(&everything(m.key))
            .await
            .expect("scan")
            .len(),
        1,
        "the failed ingest wrote nothing"
    );
    proxy.up().await;
    let late = [join(m.key, 999)];
    let out = recovers("ingest after the outage", || store.ingest(&late, 0)).await;
    assert_eq!(out, [Outcome::Accepted], "the re-sent batch applies");
    store.ping().await.expect("ping");

    // 2. Frozen: connections open, nothing answers (a network path that died silently).
    proxy.freeze(true);
    unavailable("ingest while frozen", store.ingest(&[join(m.key, 1)], 0)).await;
    unavailable("scan while frozen", store.scan_sessions(&everything(m.key))).await;
    proxy.freeze(false);
    // What was held back reaches the server now, but the batch never committed.
    let held = [join(m.key, 1)];
    let out = recovers("ingest after the freeze", || store.ingest(&held, 0)).await;
    assert_eq!(out, [Outcome::Accepted]);

    let rows = direct
        .scan_sessions(&everything(m.key))
        .await
        .expect("scan");
    let keys: Vec<&str> = rows.iter().map(|r| r.session_key.as_str()).collect();
    assert_eq!(keys, ["s-0", "s-1", "s-999"]);
    assert_eq!(direct.last_seq(m.key).await.expect("last_seq"), 3);
    assert_eq!(store.last_seq(m.key).await.expect("last_seq"), 3);
    proxy.down();
    drop(store);
}
