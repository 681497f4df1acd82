//! What is acknowledged is on disk: it is there after the store is dropped and reopened, and
//! a second store opened on the same directory (another process, say) sees it.

use rollcall_core::ingest::{Outcome, ResolvedEvent};
use rollcall_core::model::{AppRef, MeetingType, NewMeeting, SessionScan, TokenRecord};
use rollcall_store::suite::fixtures::{self, app_ref, T0};
use rollcall_store::Store;
use rollcall_store_sqlite::SqliteStore;

/// A weekly meeting with one occurrence (sub-meeting key 1).
fn new_meeting(meetingid: &str) -> NewMeeting {
    fixtures::new_meeting(meetingid, &app(), MeetingType::Recurring, 1)
}

fn app() -> AppRef {
    app_ref("wwcorp", 1000002)
}

/// The `n`-th join, in the first occurrence: event `e-<n>`, session `s-<n>`, at `T0 + n`.
fn join(meeting_key: i64, n: usize) -> ResolvedEvent {
    fixtures::join_sub(
        meeting_key,
        1,
        &format!("e-{n}"),
        &format!("s-{n}"),
        T0 + n as i64,
    )
}

/// Every session of the first occurrence.
fn everything(meeting_key: i64) -> SessionScan {
    fixtures::everything(meeting_key, 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_acknowledged_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = TokenRecord {
        hash: [3; 32],
        nonce: [4; 16],
        app: app(),
        issued_at: T0,
        expires_at: T0 + 7200,
    };
    let (key, secret, rows, version) = {
        let store = SqliteStore::open(dir.path()).expect("open");
        let secret = store.server_secret([9; 32]).await.expect("secret");
        store.token_for_app(T0, &token).await.expect("token");
        let m = store
            .create_meeting(&new_meeting("m-1"), &[])
            .await
            .expect("meeting");
        let events: Vec<_> = (0..500).map(|n| join(m.key, n)).collect();
        let out = store.ingest(&events, 0).await.expect("ingest");
        assert!(out.iter().all(|o| *o == Outcome::Accepted));
        let rows = store.scan_sessions(&everything(m.key)).await.expect("scan");
        let version = store.directory_version().await.expect("version");
        (m.key, secret, rows, version)
    };
    assert_eq!(rows.len(), 500);

    let store = SqliteStore::open(dir.path()).expect("reopen");
    assert_eq!(store.server_secret([1; 32]).await.expect("secret"), secret);
    assert_eq!(
        store.token_by_hash(&[3; 32]).await.expect("token"),
        Some(token)
    );
    let m = store
        .meeting("m-1")
        .await
        .expect("meeting")
        .expect("stored");
    assert_eq!(m.key, key);
    assert_eq!(m.sub_meetings.len(), 1);
    assert_eq!(
        store.scan_sessions(&everything(key)).await.expect("scan"),
        rows
    );
    assert_eq!(store.last_seq(key).await.expect("last_seq"), 500);
    assert_eq!(store.directory_version().await.expect("version"), version);
    // Idempotency survives too.
    let out = store.ingest(&[join(key, 7)], 0).await.expect("ingest");
    assert_eq!(out, [Outcome::Duplicate]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_directory_see_each_others_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = SqliteStore::open(dir.path()).expect("open a");
    let b = SqliteStore::open(dir.path()).expect("open b");
    assert_eq!(a.server_secret([1; 32]).await.expect("a"), [1; 32]);
    assert_eq!(b.server_secret([2; 32]).await.expect("b"), [1; 32]);

    let m = a
        .create_meeting(&new_meeting("m-1"), &[])
        .await
        .expect("meeting");
    assert_eq!(b.meeting("m-1").await.expect("meeting"), Some(m.clone()));
    // A write through one store moves the other's change stamp (what its page cache trusts).
    let stamp_b = b.change_stamp().await.expect("stamp");
    assert!(stamp_b.is_some());
    a.ingest(&[join(m.key, 100)], 0).await.expect("ingest");
    assert_ne!(b.change_stamp().await.expect("stamp"), stamp_b);
    // Both write to one meeting; seq stays unique because each batch holds the write lock.
    for round in 0..5 {
        let (ea, eb) = ([join(m.key, round * 2)], [join(m.key, round * 2 + 1)]);
        let (x, y) = tokio::join!(a.ingest(&ea, 0), b.ingest(&eb, 0));
        assert_eq!(x.expect("a"), [Outcome::Accepted]);
        assert_eq!(y.expect("b"), [Outcome::Accepted]);
    }
    let from_a = a.scan_sessions(&everything(m.key)).await.expect("scan a");
    let from_b = b.scan_sessions(&everything(m.key)).await.expect("scan b");
    assert_eq!(from_a, from_b);
    assert_eq!(from_a.len(), 11);
    let mut seqs: Vec<u64> = from_a.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 11);
    assert_eq!(b.last_seq(m.key).await.expect("last_seq"), 11);
    // A meetingid taken through one store is a conflict through the other.
    assert!(matches!(
        b.create_meeting(&new_meeting("m-1"), &[]).await,
        Err(rollcall_store::StoreError::Conflict(_))
    ));
}
