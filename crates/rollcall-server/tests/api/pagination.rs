//! Pagination: limit, authenticated cursors, resumable incremental sync (SPEC §3).

use std::collections::HashSet;

use futures::TryStreamExt;
use serde_json::{json, Value};

use crate::helpers::*;

/// A meeting with `n` sessions of guests (all visible), joins one second apart.
async fn meeting_with(app: &TestApp, n: usize) -> String {
    let m = app.one_off().await;
    let events: Vec<Value> = (0..n)
        .map(|i| {
            join_as(
                &m,
                &format!("s{i}"),
                NOW - 10_000 + i as i64,
                json!({"guest_id": format!("g{i}")}),
            )
        })
        .collect();
    for chunk in events.chunks(500) {
        app.ingest_ok(Value::Array(chunk.to_vec())).await;
    }
    m
}

#[tokio::test]
async fn limit_defaults_to_100_and_caps_at_100() {
    let app = spawn_app().await;
    let m = meeting_with(&app, 150).await;
    let token = app.token(SECRET).await;
    for limit in [json!(null), json!(0), json!("0"), json!(100)] {
        let mut body = json!({"meetingid": m});
        if !limit.is_null() {
            body["limit"] = limit;
        }
        let page = app.list(&token, body).await;
        assert_eq!(page["attendees"].as_array().unwrap().len(), 100);
        assert_eq!(page["has_more"], true);
    }
    assert_eq!(
        app.list(&token, json!({"meetingid": m, "limit": "7"}))
            .await["attendees"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    assert_eq!(
        app.list(&token, json!({"meetingid": m, "limit": 1})).await["attendees"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        expect_err(
            &app.list(&token, json!({"meetingid": m, "limit": 101}))
                .await,
            40058
        ),
        "invalid param 'limit'"
    );
}

#[tokio::test]
async fn following_cursors_lists_every_session_once_in_order() {
    let app = spawn_app().await;
    let m = meeting_with(&app, 250).await;
    let token = app.token(SECRET).await;
    let (rows, _) = app
        .list_all(&token, json!({"meetingid": m, "limit": 7}))
        .await;
    assert_eq!(rows.len(), 250);
    let times: Vec<i64> = rows
        .iter()
        .map(|r| r["join_time"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    // The typed client's stream agrees.
    let all: Vec<_> = app
        .client()
        .attendees(&m, None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 250);
    assert_eq!(
        all.iter()
            .map(|a| a.tmp_openid.clone())
            .collect::<HashSet<_>>()
            .len(),
        250
    );
}

#[tokio::test]
async fn cursors_are_authenticated_and_bound_to_their_listing() {
    let app = spawn_app().await;
    let m = meeting_with(&app, 30).await;
    let m2 = meeting_with(&app, 3).await;
    let token = app.token(SECRET).await;
    let page = app.list(&token, json!({"meetingid": m, "limit": 10})).await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    // Genuine: continues.
    let next = app
        .list(
            &token,
            json!({"meetingid": m, "limit": 10, "cursor": cursor}),
        )
        .await;
    assert_eq!(next["errcode"], 0);
    assert_ne!(
        next["attendees"][0]["tmp_openid"],
        page["attendees"][0]["tmp_openid"]
    );
    // Another limit, another meeting.
    assert_eq!(
        expect_err(
            &app.list(
                &token,
                json!({"meetingid": m, "limit": 11, "cursor": cursor})
            )
            .await,
            50100
        ),
        "invalid cursor"
    );
    expect_err(
        &app.list(&token, json!({"meetingid": m, "cursor": cursor}))
            .await,
        50100,
    );
    expect_err(
        &app.list(
            &token,
            json!({"meetingid": m2, "limit": 10, "cursor": cursor}),
        )
        .await,
        50100,
    );
    // Another app, on a meeting of its own.
    let theirs = app.meeting(OTHER_AGENT, 0, &[]).await.meetingid;
    let other = app.token(OTHER_SECRET).await;
    let their_page = app
        .list(&other, json!({"meetingid": theirs, "limit": 10}))
        .await;
    expect_err(
        &app.list(
            &token,
            json!({"meetingid": m, "limit": 10, "cursor": their_page["next_cursor"]}),
        )
        .await,
        50100,
    );
    // Altered, truncated, junk.
    let mut bytes = cursor.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(bytes).unwrap();
    for junk in [
        altered.as_str(),
        &cursor[..cursor.len() - 1],
        "jigeng=",
        "!!!",
        "AAAA",
        &"A".repeat(5000),
        "ｃｕｒｓｏｒ",
    ] {
        let v = app
            .list(&token, json!({"meetingid": m, "limit": 10, "cursor": junk}))
            .await;
        assert_eq!(v["errcode"], 50100, "{junk}: {v}");
    }
    // A limit given as absent vs 100 is the same limit.
    let p100 = app.list(&token, json!({"meetingid": m})).await;
    assert_eq!(
        app.list(
            &token,
            json!({"meetingid": m, "limit": 100, "cursor": p100["next_cursor"]})
        )
        .await["errcode"],
        0
    );
}

#[tokio::test]
async fn the_cursor_window_wins_over_start_and_end_in_the_same_request() {
    let app = spawn_app().await;
    let m = meeting_with(&app, 20).await;
    let token = app.token(SECRET).await;
    let page = app.list(&token, json!({"meetingid": m, "limit": 5})).await;
    // A start_time that would exclude everything (and one that is invalid) are both ignored.
    let next = app.list(&token, json!({"meetingid": m, "limit": 5, "cursor": page["next_cursor"], "start_time": NOW - 1, "end_time": NOW})).await;
    assert_eq!(next["attendees"].as_array().unwrap().len(), 5);
    let next = app
        .list(
            &token,
            json!({"meetingid": m, "limit": 5, "cursor": page["next_cursor"], "start_time": 1}),
        )
        .await;
    assert_eq!(next["attendees"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn next_cursor_resumes_an_incremental_sync() {
    let app = spawn_app().await;
    let m = meeting_with(&app, 12).await;
    let token = app.token(SECRET).await;
    let (rows, cursor) = app
        .list_all(&token, json!({"meetingid": m, "limit": 5}))
        .await;
    assert_eq!(rows.len(), 12);
    // Nothing new yet.
    let page = app
        .list(
            &token,
            json!({"meetingid": m, "limit": 5, "cursor": cursor}),
        )
        .await;
    assert_eq!(
        (
            page["has_more"].clone(),
            page["attendees"].as_array().unwrap().len()
        ),
        (json!(false), 0)
    );
    // New joins, one of them delivered late with an old join_time, plus a quit of an old one.
    app.ingest_ok(json!([
        join_as(&m, "new-1", NOW - 5, json!({"guest_id": "n1"})),
        join_as(&m, "late", NOW - 20_000, json!({"guest_id": "late"})),
        quit(&m, "s0", NOW - 1),
    ]))
    .await;
    let (new_rows, cursor2) = app
        .list_all(
            &token,
            json!({"meetingid": m, "limit": 5, "cursor": page["next_cursor"]}),
        )
        .await;
    let mut ids: Vec<String> = new_rows
        .iter()
        .map(|r| r["tmp_openid"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(new_rows.len(), 2, "{new_rows:?}");
    // And then nothing again.
    let (again, _) = app
        .list_all(
            &token,
            json!({"meetingid": m, "limit": 5, "cursor": cursor2}),
        )
        .await;
    assert!(again.is_empty());
}

#[tokio::test]
async fn cursors_survive_a_restart() {
    let app = spawn_app().await;
    let m = meeting_with(&app, 25).await;
    let token = app.token(SECRET).await;
    let page = app.list(&token, json!({"meetingid": m, "limit": 10})).await;
    let clock = app.clock.clone();
    let dir = app.stop().await.unwrap();
    let app = restart(dir.path(), clock).await;
    let (rest, _) = app
        .list_all(
            &token,
            json!({"meetingid": m, "limit": 10, "cursor": page["next_cursor"]}),
        )
        .await;
    assert_eq!(rest.len(), 15);
}
