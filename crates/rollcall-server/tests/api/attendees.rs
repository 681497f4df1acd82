//! get_attendee_list: fields, permissions, meeting kinds, the window (SPEC §3).

use serde_json::{json, Value};

use crate::helpers::*;

fn userids(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|r| r["userid"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_meeting_without_attendance_lists_nothing() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let token = app.token(SECRET).await;
    let page = app.list(&token, json!({"meetingid": m})).await;
    assert_eq!(page["errcode"], 0);
    assert_eq!(page["errmsg"], "ok");
    assert_eq!(page["has_more"], false);
    assert_eq!(page["attendees"], json!([]));
    assert!(!page["next_cursor"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn attendee_fields_follow_the_rules() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let t0 = NOW - 3600;
    let mut guest = join_as(&m, "g1", t0 + 2, json!({"guest_id": "wx-guest-1"}));
    guest["customer_data"] = json!("vip-seat-7");
    guest["instance_id"] = json!(8);
    guest["role"] = json!(4);
    let mut ext = join_as(&m, "x1", t0 + 1, json!({"external_id": "wm-ext-1"}));
    ext["webinar_role"] = json!(3); // ignored outside webinars
    app.ingest_ok(json!([
        join(&m, "b1", t0, "bob"),
        ext,
        guest,
        quit(&m, "x1", t0 + 60)
    ]))
    .await;

    let client = app.client();
    let page = client
        .get_attendee_list(&rollcall_wire::GetAttendeeListRequest {
            meetingid: m.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.attendees.len(), 3);
    let (bob, ext, guest) = (&page.attendees[0], &page.attendees[1], &page.attendees[2]);
    assert_eq!(
        (bob.userid.as_str(), bob.join_time.as_str()),
        ("bob", &*t0.to_string())
    );
    assert_eq!(
        (bob.quit_time.as_deref(), bob.net.as_deref()),
        (None, Some("WIFI"))
    );
    assert!(bob.audio_state && !bob.video_state && !bob.screen_shared_state);
    assert_eq!((ext.userid.as_str(), ext.webinar_role), ("", 0));
    assert_eq!(
        (ext.quit_time.as_deref(), ext.net.as_deref()),
        (Some(&*(t0 + 60).to_string()), None)
    );
    assert_eq!(
        (guest.userid.as_str(), guest.instance_id, guest.role),
        ("", 8, 4)
    );
    assert_eq!(guest.customer_data.as_deref(), Some("vip-seat-7"));
    assert_eq!(bob.customer_data, None);
    let tmp: std::collections::HashSet<_> = page
        .attendees
        .iter()
        .map(|a| a.tmp_openid.clone())
        .collect();
    assert_eq!(tmp.len(), 3);

    // On the wire: times are strings; absent fields are absent, not null.
    let token = app.token(SECRET).await;
    let raw = app.list(&token, json!({"meetingid": m})).await;
    let rows = raw["attendees"].as_array().unwrap();
    assert!(rows[0]["join_time"].is_string());
    assert!(rows[0].get("quit_time").is_none() && rows[0].get("customer_data").is_none());
    assert!(rows[1]["quit_time"].is_string() && rows[1].get("net").is_none());
    let keys: Vec<&str> = rows[2]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "tmp_openid",
        "userid",
        "join_time",
        "instance_id",
        "role",
        "webinar_role",
        "join_type",
        "net",
        "audio_state",
        "video_state",
        "screen_shared_state",
        "customer_data",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
}

#[tokio::test]
async fn one_row_per_session_in_join_order_with_stable_tmp_openid() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let m2 = app.one_off().await;
    let t = NOW - 7200;
    // Delivered out of join-time order; bob rejoins and also joins on a second device.
    app.ingest_ok(json!([
        join(&m, "bob-2", t + 100, "bob"),
        join(&m, "carol-1", t + 50, "carol"),
        join(&m, "bob-1", t, "bob"),
        quit(&m, "bob-1", t + 40),
        join(&m, "bob-phone", t + 100, "bob"),
        join(&m2, "bob-x", t, "bob"),
    ]))
    .await;
    let token = app.token(SECRET).await;
    let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(userids(&rows), ["bob", "carol", "bob", "bob"]);
    let times: Vec<&str> = rows
        .iter()
        .map(|r| r["join_time"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            t.to_string(),
            (t + 50).to_string(),
            (t + 100).to_string(),
            (t + 100).to_string()
        ]
    );
    // Same join_time: ingest order decides (bob-2 was stored before bob-phone) — check by state.
    assert!(rows[2].get("quit_time").is_none() && rows[3].get("quit_time").is_none());
    assert_eq!(rows[0]["tmp_openid"], rows[2]["tmp_openid"]);
    assert_eq!(rows[0]["tmp_openid"], rows[3]["tmp_openid"]);
    assert_ne!(rows[0]["tmp_openid"], rows[1]["tmp_openid"]);
    let (other, _) = app.list_all(&token, json!({"meetingid": m2})).await;
    assert_ne!(
        other[0]["tmp_openid"], rows[0]["tmp_openid"],
        "tmp_openid must differ across meetings"
    );
    assert!(!rows[0]["tmp_openid"].as_str().unwrap().contains("bob"));
}

#[tokio::test]
async fn only_members_in_the_visible_range_are_listed() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let t = NOW - 600;
    app.ingest_ok(json!([
        join(&m, "a", t, "alice"), // HQ: parent of the visible department — not visible
        join(&m, "b", t + 1, "bob"), // Platform: a sub-department of R&D — visible
        join(&m, "c", t + 2, "carol"), // listed in visible_users — visible
        join(&m, "d", t + 3, "dave"), // Board — not visible
        join(&m, "z", t + 4, "zed"), // not in the directory — not visible
        join_as(&m, "x", t + 5, json!({"external_id": "ext"})),
        join_as(&m, "g", t + 6, json!({"guest_id": "guest"})),
    ]))
    .await;
    let token = app.token(SECRET).await;
    let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(userids(&rows), ["bob", "carol", "", ""]);

    // Paging skips invisible members without short pages in the middle.
    let page = app.list(&token, json!({"meetingid": m, "limit": 2})).await;
    assert_eq!(
        userids(page["attendees"].as_array().unwrap()),
        ["bob", "carol"]
    );
    assert_eq!(page["has_more"], true);

    // Widening the visible range through the admin API takes effect at once.
    let mut corp = fixture_corp();
    corp["apps"][0]["visible_departments"] = json!([1]);
    app.put_corp(corp).await;
    let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(userids(&rows), ["alice", "bob", "carol", "", ""]);
}

#[tokio::test]
async fn the_app_must_be_enabled_for_the_meeting_api() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let token = app.token(NOAPI_SECRET).await;
    assert_eq!(
        expect_err(&app.list(&token, json!({"meetingid": m})).await, 48002),
        "api forbidden"
    );
    // Checked with the token, before the body.
    let (_, _, bytes) = app
        .cgi_raw(
            &format!("meeting/get_attendee_list?access_token={token}"),
            "{nope",
        )
        .await;
    expect_err(&serde_json::from_slice(&bytes).unwrap(), 48002);
}

#[tokio::test]
async fn another_apps_meeting_answers_exactly_like_an_unknown_one() {
    let app = spawn_app().await;
    let theirs = app.meeting(OTHER_AGENT, 0, &[]).await.meetingid;
    app.ingest_ok(json!([join(&theirs, "s", NOW - 10, "bob")]))
        .await;
    let token = app.token(SECRET).await;
    let a = app.list(&token, json!({"meetingid": theirs})).await;
    let b = app
        .list(&token, json!({"meetingid": "hy-does-not-exist"}))
        .await;
    assert_eq!(expect_err(&a, 40058), "invalid param 'meetingid'");
    assert_eq!(errtext(&a), errtext(&b));
    assert_eq!(a["errcode"], b["errcode"]);
    // The owner reads it.
    let other = app.token(OTHER_SECRET).await;
    assert_eq!(
        app.list(&other, json!({"meetingid": theirs})).await["attendees"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn recurring_meetings_need_a_valid_sub_meeting_and_ignore_the_window() {
    let app = spawn_app().await;
    let w1 = NOW - 100 * DAY;
    let w2 = NOW - 93 * DAY;
    let created = app
        .meeting(AGENT, 1, &[(w1, w1 + 3600), (w2, w2 + 3600)])
        .await;
    let m = created.meetingid.clone();
    let (s1, s2) = (
        created.sub_meetings[0].sub_meetingid.clone(),
        created.sub_meetings[1].sub_meetingid.clone(),
    );
    let mut j1 = join(&m, "a", w1 + 10, "bob");
    j1["sub_meetingid"] = json!(s1);
    let mut j2 = join(&m, "b", w2 + 10, "carol");
    j2["sub_meetingid"] = json!(s2);
    // Without sub_meetingid, the join is placed by its time.
    let j3 = join(&m, "c", w2 + 20, "bob");
    app.ingest_ok(json!([j1, j2, j3])).await;

    let token = app.token(SECRET).await;
    assert_eq!(
        expect_err(&app.list(&token, json!({"meetingid": m})).await, 40058),
        "invalid param 'sub_meetingid'"
    );
    assert_eq!(
        expect_err(
            &app.list(&token, json!({"meetingid": m, "sub_meetingid": "nope"}))
                .await,
            40058
        ),
        "invalid param 'sub_meetingid'"
    );
    // Far outside the default 90-day window, and a window that excludes everything: ignored.
    let (rows, _) = app
        .list_all(
            &token,
            json!({"meetingid": m, "sub_meetingid": s1, "start_time": NOW - DAY, "end_time": NOW}),
        )
        .await;
    assert_eq!(userids(&rows), ["bob"]);
    let (rows, _) = app
        .list_all(&token, json!({"meetingid": m, "sub_meetingid": s2}))
        .await;
    assert_eq!(userids(&rows), ["carol", "bob"]);
    // A cursor of one sub-meeting is refused for another.
    let page = app
        .list(
            &token,
            json!({"meetingid": m, "sub_meetingid": s2, "limit": 1}),
        )
        .await;
    let cursor = page["next_cursor"].as_str().unwrap();
    expect_err(
        &app.list(
            &token,
            json!({"meetingid": m, "sub_meetingid": s1, "limit": 1, "cursor": cursor}),
        )
        .await,
        50100,
    );
    // For a one-off meeting a sub_meetingid is ignored.
    let one = app.one_off().await;
    app.ingest_ok(json!([join(&one, "x", NOW - 5, "bob")]))
        .await;
    assert_eq!(
        app.list(
            &token,
            json!({"meetingid": one, "sub_meetingid": "whatever"})
        )
        .await["attendees"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn webinars_carry_webinar_role() {
    let app = spawn_app().await;
    let m = app.meeting(AGENT, 6, &[]).await.meetingid;
    let mut host = join(&m, "h", NOW - 100, "bob");
    host["webinar_role"] = json!(1);
    let mut viewer = join_as(&m, "v", NOW - 90, json!({"guest_id": "viewer"}));
    viewer["webinar_role"] = json!(4);
    app.ingest_ok(json!([host, viewer])).await;
    let token = app.token(SECRET).await;
    let (rows, _) = app.list_all(&token, json!({"meetingid": m})).await;
    assert_eq!(
        rows.iter()
            .map(|r| r["webinar_role"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 4]
    );
}

/// Sessions at these ages (days before NOW), plus two exactly on window edges.
async fn windowed() -> (TestApp, String, String) {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let events: Vec<Value> = [100, 60, 20, 1]
        .iter()
        .map(|d| join(&m, &format!("d{d}"), NOW - d * DAY, "bob"))
        .collect();
    app.ingest_ok(Value::Array(events)).await;
    let token = app.token(SECRET).await;
    (app, m, token)
}

fn ages(rows: &[Value]) -> Vec<i64> {
    rows.iter()
        .map(|r| (NOW - r["join_time"].as_str().unwrap().parse::<i64>().unwrap()) / DAY)
        .collect()
}

#[tokio::test]
async fn the_time_window_table() {
    let (app, m, token) = windowed().await;
    let list = |body: Value| {
        let app = &app;
        async move {
            // A fresh token each time: the clock moves by days below.
            let token = app.token(SECRET).await;
            app.list_all(&token, body).await.0
        }
    };
    // Neither: the last 90 days. Zero counts as absent.
    assert_eq!(ages(&list(json!({"meetingid": m})).await), [60, 20, 1]);
    assert_eq!(
        ages(&list(json!({"meetingid": m, "start_time": 0, "end_time": "0"})).await),
        [60, 20, 1]
    );
    // Only end: the 31 days before it.
    assert_eq!(
        ages(&list(json!({"meetingid": m, "end_time": NOW - 10 * DAY})).await),
        [20]
    );
    // Only start: from it to now, at most 31 days.
    assert_eq!(
        ages(&list(json!({"meetingid": m, "start_time": NOW - 25 * DAY})).await),
        [20, 1]
    );
    assert_eq!(
        ages(&list(json!({"meetingid": m, "start_time": NOW - 31 * DAY})).await),
        [20, 1]
    );
    let too_old = app
        .list(
            &token,
            json!({"meetingid": m, "start_time": NOW - 31 * DAY - 1}),
        )
        .await;
    assert_eq!(expect_err(&too_old, 40058), "invalid param 'start_time'");
    // Both: as given, inclusive at both ends, at most 31 days, start <= end.
    assert_eq!(
        ages(
            &list(json!({"meetingid": m, "start_time": NOW - 20 * DAY, "end_time": NOW - DAY}))
                .await
        ),
        [20, 1]
    );
    assert_eq!(
        ages(
            &list(
                json!({"meetingid": m, "start_time": NOW - 20 * DAY + 1, "end_time": NOW - DAY - 1})
            )
            .await
        ),
        Vec::<i64>::new()
    );
    assert_eq!(
        ages(
            &list(
                json!({"meetingid": m, "start_time": NOW - 61 * DAY, "end_time": NOW - 30 * DAY})
            )
            .await
        ),
        [60]
    );
    expect_err(
        &app.list(
            &token,
            json!({"meetingid": m, "start_time": NOW - 62 * DAY, "end_time": NOW - 30 * DAY - 1}),
        )
        .await,
        40058,
    );
    expect_err(
        &app.list(
            &token,
            json!({"meetingid": m, "start_time": NOW - DAY, "end_time": NOW - 2 * DAY}),
        )
        .await,
        40058,
    );
    // The default window follows the (virtual) clock.
    app.clock.advance(29 * DAY);
    assert_eq!(ages(&list(json!({"meetingid": m})).await), [60, 20, 1]);
    app.clock.advance(2 * DAY);
    assert_eq!(ages(&list(json!({"meetingid": m})).await), [20, 1]);
}

/// The same page read again after each change: a state change, then the quit, show on the
/// next read (SPEC §3: "state changes show in whatever page reads the row"), however often
/// the page was read before (the page cache must not answer the old row).
#[tokio::test]
async fn each_change_shows_on_the_next_read_of_the_same_page() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    app.ingest_ok(json!([join(&m, "x", NOW - 10, "bob")])).await;
    let token = app.token(SECRET).await;
    let page = json!({"meetingid": m});
    let read = || async { app.list(&token, page.clone()).await["attendees"][0].clone() };
    for _ in 0..3 {
        let row = read().await;
        assert_eq!(
            (&row["audio_state"], &row["net"]),
            (&json!(true), &json!("WIFI"))
        );
    }
    app.ingest_ok(json!([state(
        &m,
        "s1",
        "x",
        NOW - 8,
        json!({"audio_state": false, "net": "4G"})
    )]))
    .await;
    let row = read().await;
    assert_eq!(
        (&row["audio_state"], &row["net"]),
        (&json!(false), &json!("4G"))
    );
    assert_eq!(read().await, row);
    app.ingest_ok(json!([quit(&m, "x", NOW - 5)])).await;
    let row = read().await;
    assert_eq!(row["quit_time"], (NOW - 5).to_string());
    assert!(row.get("net").is_none(), "{row}");
    // A join after the first read is listed by a fresh first page.
    app.ingest_ok(json!([join(&m, "z", NOW - 3, "carol")]))
        .await;
    assert_eq!(
        app.list(&token, page.clone()).await["attendees"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}
