//! `meeting/get_user_meetingid` (SPEC §4): a member's meetings page by page, windows and
//! cursors checked.

use super::*;

// ---------------------------------------------------------------- get_user_meetingid

async fn user_page(app: &TestApp, secret: &str, body: Value) -> GetUserMeetingIdResponse {
    let v = call_as(app, secret, "get_user_meetingid", body).await;
    ok(&v);
    serde_json::from_value(v).expect("reply")
}

#[tokio::test]
async fn a_members_meetings_page_by_page() {
    let app = spawn_app().await;
    let mut bobs = Vec::new();
    for i in 1..=7 {
        // Alternately administered and invited; created out of time order.
        let start = NOW + (8 - i) * DAY;
        let body = if i % 2 == 0 {
            meeting_body(start)
        } else {
            with(
                meeting_body(start),
                json!({"admin_userid": "carol", "invitees": {"userid": ["bob"]}}),
            )
        };
        bobs.push((start, create(&app, body).await));
    }
    // Not bob's: carol's alone, and another app's.
    create(
        &app,
        with(meeting_body(NOW + DAY), json!({"admin_userid": "carol"})),
    )
    .await;
    create_as(&app, OTHER_SECRET, meeting_body(NOW + DAY)).await;
    bobs.sort();
    let want: Vec<String> = bobs.iter().map(|(_, m)| m.clone()).collect();

    let mut pages = Vec::new();
    let mut body = json!({"userid": "bob", "limit": 3});
    loop {
        let page = user_page(&app, SECRET, body.clone()).await;
        pages.push(page.meetingid_list.clone());
        if page.next_cursor.is_empty() {
            break;
        }
        body["cursor"] = json!(page.next_cursor);
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    assert_eq!(pages.concat(), want, "in order of start, each once");
    // All at once (limit absent = 100), and "" when done.
    let all = user_page(&app, SECRET, json!({"userid": "bob"})).await;
    assert_eq!(
        (all.meetingid_list, all.next_cursor.as_str()),
        (want.clone(), "")
    );
}

#[tokio::test]
async fn user_meeting_windows_and_cursors_are_checked() {
    let app = spawn_app().await;
    let near = create(&app, meeting_body(NOW + DAY)).await;
    let far = create(&app, meeting_body(NOW + 100 * DAY)).await;
    let third = create(&app, meeting_body(NOW + 2 * DAY)).await;
    // The default window is WeCom's: end = now, and every meeting not started yet is listed
    // ("对于未开始的会议，只要开始时间大于等于begin_time都会返回"), however far ahead.
    let page = user_page(&app, SECRET, json!({"userid": "bob"})).await;
    assert_eq!(page.meetingid_list.len(), 3);
    assert!(page.meetingid_list.contains(&far));
    // begin_time alone: 180 days from it; both: as given (inclusive).
    let page = user_page(
        &app,
        SECRET,
        json!({"userid": "bob", "begin_time": NOW + 95 * DAY}),
    )
    .await;
    assert_eq!(page.meetingid_list, std::slice::from_ref(&far));
    // Both, reaching now: end_time only bounds history, so every meeting still to come that
    // starts at or after begin_time is listed, in order of start.
    let at = NOW + DAY;
    let page = user_page(
        &app,
        SECRET,
        json!({"userid": "bob", "begin_time": at.to_string(), "end_time": at}),
    )
    .await;
    assert_eq!(
        page.meetingid_list,
        [near.clone(), third.clone(), far.clone()]
    );
    // A window ending in the past is history only; one reaching now lists what is to come.
    let page = user_page(&app, SECRET, json!({"userid": "bob", "end_time": NOW - 1})).await;
    assert!(page.meetingid_list.is_empty());
    let page = user_page(&app, SECRET, json!({"userid": "bob", "end_time": NOW})).await;
    assert_eq!(page.meetingid_list.len(), 3);

    for (body, field) in [
        (json!({}), "userid"),
        (json!({"userid": "zoe"}), "userid"),
        (json!({"userid": "bob", "limit": 101}), "limit"),
        (json!({"userid": "bob", "limit": -1}), "limit"),
        (
            json!({"userid": "bob", "begin_time": NOW, "end_time": NOW - 1}),
            "begin_time",
        ),
        (
            json!({"userid": "bob", "begin_time": NOW, "end_time": NOW + 180 * DAY + 1}),
            "begin_time",
        ),
        (json!({"userid": "bob", "end_time": "later"}), "end_time"),
    ] {
        let v = call(&app, "get_user_meetingid", body.clone()).await;
        bad_param(&v, field);
    }

    // A cursor pins the app, the member, the limit and the window.
    let first = user_page(&app, SECRET, json!({"userid": "bob", "limit": 1})).await;
    let cursor = first.next_cursor.clone();
    assert!(!cursor.is_empty());
    let next = |body: Value| with(json!({"userid": "bob", "limit": 1, "cursor": cursor}), body);
    // The cursor's window wins over the request's.
    let second = user_page(
        &app,
        SECRET,
        next(json!({"begin_time": NOW + 500 * DAY, "end_time": NOW})),
    )
    .await;
    assert_eq!(second.meetingid_list.len(), 1);
    assert_ne!(second.meetingid_list, first.meetingid_list);
    let mut tampered = cursor.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (secret, body) in [
        (SECRET, next(json!({"limit": 2}))),
        (SECRET, next(json!({"userid": "carol"}))),
        (SECRET, next(json!({"cursor": tampered}))),
        (SECRET, next(json!({"cursor": "not-a-cursor"}))),
        (OTHER_SECRET, next(json!({}))),
    ] {
        let v = call_as(&app, secret, "get_user_meetingid", body.clone()).await;
        expect_err(&v, 50100);
    }
    // An attendee-list cursor is not a meeting-list cursor.
    let token = app.token(SECRET).await;
    let listing = app.list(&token, json!({ "meetingid": near })).await;
    let v = call(
        &app,
        "get_user_meetingid",
        json!({"userid": "bob", "limit": 1, "cursor": listing["next_cursor"]}),
    )
    .await;
    expect_err(&v, 50100);
}
