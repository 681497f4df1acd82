//! Contract cases: the server secret, the directory (corps) and access tokens.

use std::collections::BTreeSet;
use std::sync::Arc;

use rollcall_core::model::Corp;

use super::fixtures::*;
use crate::Store;

/// The first candidate is kept, even when several callers race on an empty store.
pub(super) async fn server_secret_keeps_the_first_candidate(store: Arc<dyn Store>) {
    let racers: Vec<_> = (1..=8u8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.server_secret([i; 32]).await })
        })
        .collect();
    let mut kept = BTreeSet::new();
    for r in racers {
        kept.insert(r.await.expect("task").expect("server_secret"));
    }
    assert_eq!(kept.len(), 1, "racing callers got different secrets");
    let first = *kept.first().expect("one");
    assert!(
        (1..=8u8).any(|i| first == [i; 32]),
        "kept a value nobody offered"
    );
    assert_eq!(store.server_secret([99; 32]).await.expect("again"), first);
}

pub(super) async fn put_corp_round_trips_in_a_stable_order(store: Arc<dyn Store>) {
    assert_eq!(store.corp("wwcorp").await.expect("corp"), None);
    let c = corp("wwcorp");
    store.put_corp(&c).await.expect("put_corp");
    let got = store.corp("wwcorp").await.expect("corp");
    assert_eq!(got, Some(sorted(c)));
    assert_eq!(store.corp("wwother").await.expect("corp"), None);
    // An empty corp is a corp too.
    let empty = Corp {
        corpid: "wwempty".into(),
        name: String::new(),
        departments: vec![],
        users: vec![],
        apps: vec![],
    };
    store.put_corp(&empty).await.expect("put_corp");
    assert_eq!(store.corp("wwempty").await.expect("corp"), Some(empty));
}

pub(super) async fn put_corp_replaces_and_bumps_the_directory_version(store: Arc<dyn Store>) {
    let mut seen = vec![store.directory_version().await.expect("version")];
    let mut bumped = |v: u64| {
        assert!(!seen.contains(&v), "directory_version {v} did not change");
        seen.push(v);
    };
    let a = corp("wwa");
    store.put_corp(&a).await.expect("put a");
    bumped(store.directory_version().await.expect("version"));
    let b = corp("wwb");
    store.put_corp(&b).await.expect("put b");
    bumped(store.directory_version().await.expect("version"));

    // Replace a: fewer departments, users and apps, changed fields.
    let mut a2 = corp("wwa");
    a2.name = "renamed".into();
    a2.departments.retain(|d| d.id != 2);
    a2.users.retain(|u| u.userid != "lisi");
    a2.users[0].departments = vec![3];
    a2.apps.retain(|x| x.agentid == 1000002);
    a2.apps[0].enabled = false;
    a2.apps[0].visible_users = vec![];
    a2.apps.push(app(1000009, "New"));
    store.put_corp(&a2).await.expect("put a2");
    bumped(store.directory_version().await.expect("version"));

    assert_eq!(store.corp("wwa").await.expect("corp"), Some(sorted(a2)));
    assert_eq!(store.corp("wwb").await.expect("corp"), Some(sorted(b)));
    // Reading changes nothing.
    let v = store.directory_version().await.expect("version");
    assert_eq!(store.directory_version().await.expect("version"), v);
}

pub(super) async fn token_for_app_reuses_the_valid_token(store: Arc<dyn Store>) {
    let a = app_ref("wwcorp", 1000002);
    let t1 = token(&a, 1, T0, T0 + 7200);
    assert_eq!(store.token_for_app(T0, &t1).await.expect("issue"), t1);
    for (n, now) in [(2, T0 + 1), (3, T0 + 3600), (4, T0 + 7199)] {
        let got = store
            .token_for_app(now, &token(&a, n, now, now + 7200))
            .await
            .expect("reuse");
        assert_eq!(got, t1, "at {now} the valid token is handed out again");
        assert_eq!(
            store
                .token_by_hash(&token(&a, n, 0, 0).hash)
                .await
                .expect("by hash"),
            None
        );
    }
    // Other apps (same corp, or same agentid in another corp) get their own.
    for (n, other) in [
        (5, app_ref("wwcorp", 1000003)),
        (6, app_ref("wwother", 1000002)),
    ] {
        let t = token(&other, n, T0 + 10, T0 + 7210);
        assert_eq!(
            store.token_for_app(T0 + 10, &t).await.expect("other app"),
            t
        );
    }
    assert_eq!(
        store
            .token_for_app(T0 + 20, &token(&a, 7, T0 + 20, T0 + 7220))
            .await
            .expect("again"),
        t1
    );
}

pub(super) async fn token_for_app_issues_a_new_token_after_expiry(store: Arc<dyn Store>) {
    let a = app_ref("wwcorp", 1000002);
    let t1 = token(&a, 1, T0, T0 + 7200);
    store.token_for_app(T0, &t1).await.expect("issue");
    // Valid means expires_at > now: at the expiry instant it is no longer valid.
    let t2 = token(&a, 2, T0 + 7200, T0 + 14_400);
    assert_eq!(
        store.token_for_app(T0 + 7200, &t2).await.expect("renew"),
        t2
    );
    let t3 = token(&a, 3, T0 + 7201, T0 + 14_401);
    assert_eq!(
        store.token_for_app(T0 + 7201, &t3).await.expect("reuse"),
        t2
    );
    // The expired one is still known (so callers can say "expired", not "invalid").
    assert_eq!(
        store.token_by_hash(&t1.hash).await.expect("by hash"),
        Some(t1)
    );
    assert_eq!(
        store.token_by_hash(&t2.hash).await.expect("by hash"),
        Some(t2)
    );
}

pub(super) async fn token_for_app_agrees_under_concurrency(store: Arc<dyn Store>) {
    let a = app_ref("wwcorp", 1000002);
    let tasks: Vec<_> = (1..=8u64)
        .map(|n| {
            let store = Arc::clone(&store);
            let t = token(&a, n, T0, T0 + 7200);
            tokio::spawn(async move { store.token_for_app(T0, &t).await })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.expect("task").expect("token_for_app"));
    }
    let first = got[0].clone();
    assert!(
        got.iter().all(|t| *t == first),
        "concurrent callers got different tokens: {got:?}"
    );
    for n in 1..=8u64 {
        let cand = token(&a, n, T0, T0 + 7200);
        let stored = store.token_by_hash(&cand.hash).await.expect("by hash");
        if cand.hash == first.hash {
            assert_eq!(stored, Some(first.clone()));
        } else {
            assert_eq!(stored, None, "a losing candidate was stored");
        }
    }
}

pub(super) async fn token_by_hash_finds_tokens_expired_or_not(store: Arc<dyn Store>) {
    assert_eq!(store.token_by_hash(&[7; 32]).await.expect("by hash"), None);
    let a = app_ref("wwcorp", 1000002);
    let b = app_ref("wwcorp", 1000003);
    let ta = token(&a, 1, T0, T0 + 7200);
    let tb = token(&b, 2, T0 - 100, T0 + 10);
    store.token_for_app(T0, &ta).await.expect("a");
    store.token_for_app(T0, &tb).await.expect("b");
    assert_eq!(
        store.token_by_hash(&ta.hash).await.expect("a"),
        Some(ta.clone())
    );
    assert_eq!(
        store.token_by_hash(&tb.hash).await.expect("b"),
        Some(tb.clone())
    );
    // b expires; a new token for b does not make the old one unknown.
    let tb2 = token(&b, 3, T0 + 20, T0 + 7220);
    assert_eq!(store.token_for_app(T0 + 20, &tb2).await.expect("b2"), tb2);
    assert_eq!(store.token_by_hash(&tb.hash).await.expect("b"), Some(tb));
}
