//! Several stateless nodes over one store (SPEC §3, §7; issue 4): tokens, cursors, ingest
//! and de-duplication are shared through the store, not through any node's memory. Runs on
//! the backend under test (two SQLite handles on one file, or two PostgreSQL pools).

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::helpers::*;

/// Node A with the fixture corp, and node B over the same store and clock.
async fn two_nodes() -> (TestApp, TestApp) {
    let a = spawn_app().await;
    let b = second_node(&a).await;
    (a, b)
}

/// Another node over `a`'s store, on its clock.
async fn second_node(a: &TestApp) -> TestApp {
    let path = a.dir.as_ref().expect("dir").path().to_owned();
    TestApp::builder()
        .data_at(&path)
        .clock(a.clock.clone())
        .unseeded()
        .spawn()
        .await
}

#[tokio::test]
async fn a_token_from_one_node_works_on_another_and_both_hand_out_the_same() {
    let (a, b) = two_nodes().await;
    let m = a.one_off().await;
    let token = a.token(SECRET).await;
    assert_eq!(b.list(&token, json!({"meetingid": m})).await["errcode"], 0);
    assert_eq!(
        b.token(SECRET).await,
        token,
        "gettoken on node B returns node A's valid token"
    );
}

#[tokio::test]
async fn a_cursor_from_one_node_continues_on_another() {
    let (a, b) = two_nodes().await;
    let m = a.one_off().await;
    let events: Vec<Value> = (0..25)
        .map(|i| {
            join_as(
                &m,
                &format!("s{i}"),
                NOW - 100 + i,
                json!({"guest_id": format!("g{i}")}),
            )
        })
        .collect();
    a.ingest_ok(Value::Array(events)).await;
    let token = a.token(SECRET).await;
    let first = a.list(&token, json!({"meetingid": m, "limit": 10})).await;
    let (rest, _) = b
        .list_all(
            &token,
            json!({"meetingid": m, "limit": 10, "cursor": first["next_cursor"]}),
        )
        .await;
    assert_eq!(rest.len(), 15);
}

#[tokio::test]
async fn ingest_through_one_node_is_listed_by_another() {
    let (a, b) = two_nodes().await;
    let m = a.one_off().await;
    a.ingest_ok(json!([
        join(&m, "x", NOW - 10, "bob"),
        quit(&m, "x", NOW - 5)
    ]))
    .await;
    let token = b.token(SECRET).await;
    let (rows, _) = b.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["quit_time"], (NOW - 5).to_string());
}

#[tokio::test]
async fn the_same_batch_through_two_nodes_at_once_is_applied_once() {
    let (a, b) = two_nodes().await;
    let m = a.one_off().await;
    let mut batch: Vec<Value> = (0..300)
        .map(|i| {
            join_as(
                &m,
                &format!("s{i}"),
                NOW - 1000 + i,
                json!({"external_id": format!("e{i}")}),
            )
        })
        .collect();
    batch.extend(
        (0..300)
            .step_by(3)
            .map(|i| quit(&m, &format!("s{i}"), NOW - 10)),
    );
    let n = batch.len();
    let batch = Value::Array(batch);
    let (ra, rb) = tokio::join!(a.ingest(batch.clone()), b.ingest(batch));
    let count = |r: &Value, k: &str| r[k].as_u64().unwrap() as usize;
    assert_eq!(
        count(&ra, "accepted") + count(&rb, "accepted"),
        n,
        "{ra} {rb}"
    );
    assert_eq!(count(&ra, "duplicates") + count(&rb, "duplicates"), n);
    assert!(
        ra["rejected"].as_array().unwrap().is_empty()
            && rb["rejected"].as_array().unwrap().is_empty()
    );

    let token = a.token(SECRET).await;
    for node in [&a, &b] {
        let (rows, _) = node
            .list_all(&token, json!({"meetingid": m, "limit": 37}))
            .await;
        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in &rows {
            *seen
                .entry(r["tmp_openid"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        assert_eq!(rows.len(), 300);
        assert!(seen.values().all(|&c| c == 1));
        assert_eq!(
            rows.iter().filter(|r| r.get("quit_time").is_some()).count(),
            100
        );
    }
}

/// A reset or restore through node A removes tokens from the shared store; node B, which
/// cached one, must stop trusting it once it sees the store's directory version move (at most
/// `CACHE_TTL` later), even though the reset re-applied the same corp and app. Before, B's
/// token cache trusted a record forever.
#[tokio::test]
async fn a_reset_through_one_node_ends_the_tokens_another_node_cached() {
    // A seeded node keeps its start-up corp, so the corp is there again after the reset.
    let a = TestApp::builder().ids_seed(7).spawn().await;
    let b = second_node(&a).await;
    let wait = rollcall_server::CACHE_TTL + std::time::Duration::from_millis(200);

    for restore in [false, true] {
        if restore {
            let (status, body) = a
                .admin_call(reqwest::Method::POST, "snapshots/before-token")
                .await;
            assert_eq!(status, 201, "{body}");
        }
        let token = b.token(SECRET).await;
        let unknown = json!({"meetingid": "no-such-meeting"});
        let known = b.list(&token, unknown.clone()).await["errcode"].clone();
        assert_ne!(known, 40014, "the token works on B before");
        let (status, body) = if restore {
            a.admin_call(reqwest::Method::POST, "snapshots/before-token/restore")
                .await
        } else {
            a.admin("reset", json!({})).await
        };
        assert!(status.is_success(), "{body}");
        tokio::time::sleep(wait).await;
        assert_eq!(
            b.list(&token, unknown).await["errcode"],
            40014,
            "node B no longer trusts a token the {} removed",
            if restore { "restore" } else { "reset" }
        );
    }
}

/// A page read by node B, then a state change and a quit ingested through node A: B's next
/// read of the same page shows both (its page cache, if any, must not answer the old rows).
#[tokio::test]
async fn a_state_change_through_one_node_shows_on_the_next_page_of_another() {
    let (a, b) = two_nodes().await;
    let m = a.one_off().await;
    a.ingest_ok(json!([
        join(&m, "x", NOW - 10, "bob"),
        join(&m, "y", NOW - 8, "carol")
    ]))
    .await;
    let token = b.token(SECRET).await;
    let page = json!({"meetingid": m, "limit": 1});
    let before = b.list(&token, page.clone()).await;
    assert_eq!(before["attendees"][0]["audio_state"], true);
    assert_eq!(before["attendees"][0]["net"], "WIFI");
    // Twice, so a node that caches has cached it.
    assert_eq!(b.list(&token, page.clone()).await, before);
    let second = json!({"meetingid": m, "limit": 1, "cursor": before["next_cursor"]});
    assert!(b.list(&token, second.clone()).await["attendees"][0]
        .get("quit_time")
        .is_none());

    a.ingest_ok(json!([
        state(&m, "mute-x", "x", NOW - 6, json!({"audio_state": false})),
        quit(&m, "y", NOW - 4)
    ]))
    .await;
    let after = b.list(&token, page).await;
    assert_eq!(after["attendees"][0]["audio_state"], false, "{after}");
    assert_eq!(after["attendees"][0]["net"], "WIFI");
    let rest = b.list(&token, second).await;
    assert_eq!(
        rest["attendees"][0]["quit_time"],
        (NOW - 4).to_string(),
        "{rest}"
    );
    assert!(rest["attendees"][0].get("net").is_none(), "{rest}");
}

/// get_info's `attendees.member` through `node`.
async fn members(node: &TestApp, token: &str, meetingid: &str) -> Value {
    let body = json!({ "meetingid": meetingid }).to_string();
    let (_, _, bytes) = node
        .cgi_raw(&format!("meeting/get_info?access_token={token}"), body)
        .await;
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(v["errcode"], 0, "{v}");
    v["attendees"]["member"].clone()
}

/// get_info of one node over what two nodes ingested at once for the same people: the
/// aggregates each node's batches maintain in the store add up to what the sessions say,
/// and a quit through one node shows in the other's next answer.
#[tokio::test]
async fn get_info_through_one_node_sums_what_two_nodes_ingested_at_once() {
    let (a, b) = two_nodes().await;
    let m = a.one_off().await;
    // Bob on two devices, [NOW-100, NOW-40) through A and [NOW-60, NOW-20) through B.
    let (ra, rb) = tokio::join!(
        a.ingest(json!([
            join(&m, "x1", NOW - 100, "bob"),
            quit(&m, "x1", NOW - 40)
        ])),
        b.ingest(json!([
            join(&m, "x2", NOW - 60, "bob"),
            quit(&m, "x2", NOW - 20),
            join(&m, "y1", NOW - 30, "carol")
        ]))
    );
    assert_eq!(
        ra["accepted"].as_u64().unwrap() + rb["accepted"].as_u64().unwrap(),
        5
    );
    let token = a.token(SECRET).await;
    let from_a = members(&a, &token, &m).await;
    assert_eq!(members(&b, &token, &m).await, from_a);
    let bob = from_a
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["userid"] == "bob")
        .expect("bob")
        .clone();
    assert_eq!(bob["total_join_count"], 2, "{bob}");
    assert_eq!(bob["cumulative_time"], 80, "the two devices' union: {bob}");
    assert_eq!(bob["first_join_time"], NOW - 100);
    assert_eq!(bob["last_quit_time"], NOW - 20);
    assert_eq!(bob["status"], 2);
    a.ingest_ok(json!([quit(&m, "y1", NOW - 10)])).await;
    let after = members(&b, &token, &m).await;
    let carol = after
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["userid"] == "carol")
        .expect("carol")
        .clone();
    assert_eq!(carol["status"], 2, "{carol}");
    assert_eq!(carol["cumulative_time"], 20, "{carol}");
}
