//! Contract case: an app's callback target (SPEC §11) is part of the stored app. It round
//! trips, changes and disappears with the app's replacement, is listed by
//! `callback_targets`, comes back with a snapshot restore and goes with a reset.

use std::sync::Arc;

use rollcall_core::callback::{self, AppCallback, CallbackFields};

use super::fixtures::*;
use crate::Store;

/// A valid target for app `agentid`, distinct per `n`.
pub(super) fn target(agentid: u32, n: u32) -> AppCallback {
    let url = format!("https://receiver-{n}.example/cb?app={agentid}");
    let token = format!("token{n}");
    // 43 characters of the base64 alphabet, distinct per `n`.
    let key = format!("{:A<43}", format!("k{n}"));
    callback::parse(
        agentid,
        CallbackFields {
            url: Some(&url),
            token: Some(&token),
            aes_key: Some(&key),
        },
    )
    .expect("valid fixture")
    .expect("has a target")
}

pub(super) async fn an_apps_callback_is_stored_snapshotted_and_reset(store: Arc<dyn Store>) {
    store.server_secret([1; 32]).await.expect("secret");
    assert!(store.callback_targets().await.expect("list").is_empty());

    // Round trip: the target comes back as written, the other app still has none.
    let mut c = corp("wwcorp");
    c.apps[0].callback = Some(target(c.apps[0].agentid, 1));
    store.put_corp(&c).await.expect("put_corp");
    let got = store.corp("wwcorp").await.expect("corp").expect("found");
    assert_eq!(got, sorted(c.clone()));
    let with = got.apps.iter().find(|a| a.callback.is_some()).expect("one");
    assert_eq!(with.agentid, 1000003);
    assert_eq!(
        store.callback_targets().await.expect("list"),
        [(app_ref("wwcorp", 1000003), target(1000003, 1))]
    );

    // Update: a new target replaces the old one; a second corp's target is listed after.
    c.apps[0].callback = Some(target(1000003, 2));
    c.apps[1].callback = Some(target(1000002, 3));
    store.put_corp(&c).await.expect("put_corp");
    let mut other = corp("wwalpha");
    other.apps[1].callback = Some(target(1000002, 4));
    store.put_corp(&other).await.expect("put_corp");
    let expected = vec![
        (app_ref("wwalpha", 1000002), target(1000002, 4)),
        (app_ref("wwcorp", 1000002), target(1000002, 3)),
        (app_ref("wwcorp", 1000003), target(1000003, 2)),
    ];
    assert_eq!(store.callback_targets().await.expect("list"), expected);

    // Snapshot, then remove one target and change another: the restore brings both back.
    store.save_snapshot("with-targets", T0).await.expect("save");
    c.apps[0].callback = None;
    c.apps[1].callback = Some(target(1000002, 5));
    store.put_corp(&c).await.expect("put_corp");
    let now = store.corp("wwcorp").await.expect("corp").expect("found");
    assert_eq!(now, sorted(c.clone()));
    assert_eq!(store.callback_targets().await.expect("list").len(), 2);
    store
        .restore_snapshot("with-targets")
        .await
        .expect("restore");
    assert_eq!(store.callback_targets().await.expect("list"), expected);
    let restored = store.corp("wwcorp").await.expect("corp").expect("found");
    assert_eq!(
        restored
            .apps
            .iter()
            .map(|a| a.callback.clone())
            .collect::<Vec<_>>(),
        [Some(target(1000002, 3)), Some(target(1000003, 2))]
    );

    // A reset removes the targets with their corps.
    store.reset().await.expect("reset");
    assert!(store.callback_targets().await.expect("list").is_empty());
    assert_eq!(store.corp("wwcorp").await.expect("corp"), None);
}
