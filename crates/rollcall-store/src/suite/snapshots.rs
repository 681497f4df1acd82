//! Contract cases: reset and named snapshots (SPEC §9) — save / list / restore / delete, a
//! restore giving exactly the old state back (listing, `last_seq`, de-duplication, key
//! counters), unknown names, reset keeping the secret, a snapshot taken while ingest runs,
//! and a restore that a concurrent reader sees whole or not at all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rollcall_core::ingest::Outcome;

use super::fixtures::*;
use crate::{Store, StoreError};

/// `n` joins `e-<from>…` / `s-<from>…` into meeting `k`, one second apart.
fn joins(k: i64, from: usize, n: usize) -> Vec<rollcall_core::ingest::ResolvedEvent> {
    (from..from + n)
        .map(|i| join(k, &format!("e-{i}"), &format!("s-{i}"), T0 + i as i64))
        .collect()
}

pub(super) async fn snapshots_save_list_restore_and_delete(store: Arc<dyn Store>) {
    let secret = store.server_secret([7; 32]).await.expect("secret");
    store.put_corp(&corp("wwcorp")).await.expect("put_corp");
    let app = app_ref("wwcorp", 1000002);
    let tok = token(&app, 1, T0, T0 + 7200);
    store.token_for_app(T0, &tok).await.expect("token");
    let m = meeting(&*store, "m-1").await;
    ingest_ok(&*store, &joins(m.key, 0, 3)).await;
    let rows = all(&*store, m.key, 0).await;
    let last = store.last_seq(m.key).await.expect("last_seq");

    let info = store.save_snapshot("before.1", T0 + 5).await.expect("save");
    assert_eq!(
        (
            info.name.as_str(),
            info.created_at,
            info.meetings,
            info.sessions
        ),
        ("before.1", T0 + 5, 1, 3)
    );
    assert_eq!(
        store.snapshots().await.expect("list"),
        std::slice::from_ref(&info)
    );
    assert!(
        matches!(
            store.save_snapshot("before.1", T0).await,
            Err(StoreError::Conflict(_))
        ),
        "a taken name is a conflict"
    );

    // Everything moves on: more sessions, a new meeting, a changed directory, a new token.
    ingest_ok(&*store, &joins(m.key, 3, 2)).await;
    let m2 = meeting(&*store, "m-2").await;
    let mut changed = corp("wwcorp");
    changed.name = "renamed".into();
    store.put_corp(&changed).await.expect("put_corp");
    store
        .token_for_app(T0 + 8000, &token(&app, 2, T0 + 8000, T0 + 9000))
        .await
        .expect("token");
    let version = store.directory_version().await.expect("version");

    let restored = store.restore_snapshot("before.1").await.expect("restore");
    assert_eq!(restored, info);
    assert_eq!(
        all(&*store, m.key, 0).await,
        rows,
        "the listing is the old one"
    );
    assert_eq!(store.last_seq(m.key).await.expect("last_seq"), last);
    assert!(store.meeting("m-2").await.expect("meeting").is_none());
    assert_eq!(
        store.corp("wwcorp").await.expect("corp").map(sorted),
        Some(sorted(corp("wwcorp")))
    );
    assert_eq!(
        store.token_by_hash(&tok.hash).await.expect("token"),
        Some(tok.clone())
    );
    assert_ne!(store.directory_version().await.expect("version"), version);
    assert_eq!(store.server_secret([9; 32]).await.expect("secret"), secret);

    // De-duplication is the old one too: e-0 is a duplicate, e-3 is new again.
    let again = ingest(&*store, &joins(m.key, 0, 1)).await;
    assert!(matches!(again[0], Outcome::Duplicate), "{again:?}");
    ingest_ok(&*store, &joins(m.key, 3, 1)).await;
    assert_eq!(store.last_seq(m.key).await.expect("last_seq"), last + 1);
    // Key counters continue from the snapshot's without reusing a key it holds.
    let m3 = meeting(&*store, "m-3").await;
    assert!(m3.key > m.key, "{} after {}", m3.key, m.key);
    let _ = m2;

    store.delete_snapshot("before.1").await.expect("delete");
    assert!(store.snapshots().await.expect("list").is_empty());
}

pub(super) async fn snapshots_unknown_names_are_not_found(store: Arc<dyn Store>) {
    assert!(matches!(
        store.restore_snapshot("nope").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_snapshot("nope").await,
        Err(StoreError::NotFound(_))
    ));
    store.save_snapshot("once", T0).await.expect("save");
    store.delete_snapshot("once").await.expect("delete");
    assert!(matches!(
        store.delete_snapshot("once").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.restore_snapshot("once").await,
        Err(StoreError::NotFound(_))
    ));
}

pub(super) async fn reset_empties_the_store_and_keeps_the_secret(store: Arc<dyn Store>) {
    let secret = store.server_secret([7; 32]).await.expect("secret");
    store.put_corp(&corp("wwcorp")).await.expect("put_corp");
    let app = app_ref("wwcorp", 1000002);
    let tok = token(&app, 1, T0, T0 + 7200);
    store.token_for_app(T0, &tok).await.expect("token");
    let m = meeting(&*store, "m-1").await;
    ingest_ok(&*store, &joins(m.key, 0, 3)).await;
    ingest_ok(&*store, &[quit(m.key, "q-early", "s-later", T0 + 50)]).await;
    store.save_snapshot("kept", T0).await.expect("save");
    let version = store.directory_version().await.expect("version");

    store.reset().await.expect("reset");
    assert!(store.corp("wwcorp").await.expect("corp").is_none());
    assert!(store
        .token_by_hash(&tok.hash)
        .await
        .expect("token")
        .is_none());
    assert!(store.meeting("m-1").await.expect("meeting").is_none());
    assert!(store.meetings_of(&app).await.expect("meetings").is_empty());
    assert!(all(&*store, m.key, 0).await.is_empty());
    assert_eq!(store.last_seq(m.key).await.expect("last_seq"), 0);
    assert_ne!(store.directory_version().await.expect("version"), version);
    assert_eq!(store.server_secret([9; 32]).await.expect("secret"), secret);

    // A fresh start: the first meeting gets the first key again, nothing is a duplicate, and
    // no early quit waits for its join.
    let fresh = meeting(&*store, "m-1").await;
    assert_eq!(fresh.key, m.key, "key counters start again");
    ingest_ok(&*store, &joins(fresh.key, 0, 1)).await;
    ingest_ok(&*store, &[join(fresh.key, "j-later", "s-later", T0 + 10)]).await;
    assert_eq!(one(&*store, fresh.key, "s-later").await.quit_time, None);

    // Snapshots are not state: they outlive a reset, and restore what they hold.
    let listed = store.snapshots().await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    store.restore_snapshot("kept").await.expect("restore");
    assert_eq!(all(&*store, m.key, 0).await.len(), 3);
}

pub(super) async fn a_snapshot_taken_during_ingest_is_consistent(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-1").await;
    ingest_ok(&*store, &joins(m.key, 0, 5)).await;
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for batch in 1..60 {
                ingest_ok(&*store, &joins(m.key, batch * 5, 5)).await;
            }
        })
    };
    let info = store.save_snapshot("mid", T0).await.expect("save");
    writer.await.expect("writer");
    assert_eq!(all(&*store, m.key, 0).await.len(), 300);

    store.restore_snapshot("mid").await.expect("restore");
    let rows = all(&*store, m.key, 0).await;
    assert_eq!(rows.len() as u64, info.sessions, "the count is the copy's");
    assert!(info.sessions >= 5 && info.sessions % 5 == 0, "{info:?}");
    // Whole batches only, and the counter matches the rows.
    assert_eq!(
        store.last_seq(m.key).await.expect("last_seq"),
        info.sessions
    );
    assert_eq!(info.meetings, 1);
}

pub(super) async fn a_restore_is_seen_whole_by_a_concurrent_reader(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-1").await;
    ingest_ok(&*store, &joins(m.key, 0, 10)).await;
    store.save_snapshot("ten", T0).await.expect("save");
    ingest_ok(&*store, &joins(m.key, 10, 30)).await;
    store.save_snapshot("forty", T0).await.expect("save");

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut reads = 0u32;
            while !stop.load(Ordering::SeqCst) || reads == 0 {
                let n = all(&*store, m.key, 0).await.len();
                assert!(n == 10 || n == 40, "a reader saw {n} sessions: a mix");
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        })
    };
    for round in 0..8 {
        let name = if round % 2 == 0 { "ten" } else { "forty" };
        store.restore_snapshot(name).await.expect("restore");
    }
    stop.store(true, Ordering::SeqCst);
    assert!(reader.await.expect("reader") > 0);
    assert_eq!(all(&*store, m.key, 0).await.len(), 40);
    assert_eq!(store.last_seq(m.key).await.expect("last_seq"), 40);
}
