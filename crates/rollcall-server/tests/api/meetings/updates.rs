//! `meeting/update` and `meeting/cancel` (SPEC §4): what changes, sub-meetings
//! regenerated, only pending meetings, cancelled attendance still readable.

use super::*;

// ---------------------------------------------------------------- update and cancel

#[tokio::test]
async fn update_changes_only_what_is_given() {
    let app = spawn_app().await;
    let start = NOW + DAY;
    let m = create(
        &app,
        with(
            meeting_body(start),
            json!({"description": "d", "location": "l", "invitees": {"userid": ["carol"]},
                   "settings": {"password": "1234"}}),
        ),
    )
    .await;
    let before = info(&app, &m).await;

    ok(&call(&app, "update", json!({"meetingid": m, "title": "改名了"})).await);
    let after = info(&app, &m).await;
    assert_eq!(after.title, "改名了");
    assert_eq!(
        MeetingInfo {
            title: before.title.clone(),
            ..after.clone()
        },
        before,
        "nothing else changed"
    );

    ok(&call(
        &app,
        "update",
        json!({"meetingid": m, "meeting_start": start + HOUR, "meeting_duration": "600",
               "description": "新描述", "location": "线上", "invitees": {"userid": []},
               "settings": {"remind_scope": 2}}),
    )
    .await);
    let moved = info(&app, &m).await;
    assert_eq!(
        (moved.meeting_start, moved.meeting_duration),
        ((start + HOUR) as u64, 600)
    );
    assert_eq!(
        (moved.description.as_deref(), moved.location.as_deref()),
        (Some("新描述"), Some("线上"))
    );
    let s = moved.settings.expect("settings");
    assert_eq!(
        (s.remind_scope, s.password),
        (Some(2), None),
        "settings are replaced"
    );
    // The invitee list was replaced (by none): carol's meetings no longer hold it; bob
    // administers it.
    for (who, listed) in [("carol", false), ("bob", true)] {
        let v = call(&app, "get_user_meetingid", json!({ "userid": who })).await;
        assert_eq!(v["meetingid_list"] == json!([m]), listed, "{who}: {v}");
    }

    // Start and duration go together; the missing one is named.
    let v = call(
        &app,
        "update",
        json!({"meetingid": m, "meeting_start": start + 2 * HOUR}),
    )
    .await;
    bad_param(&v, "meeting_duration");
    let v = call(
        &app,
        "update",
        json!({"meetingid": m, "meeting_duration": 900}),
    )
    .await;
    bad_param(&v, "meeting_start");
    for (body, field) in [
        (
            json!({"meeting_start": NOW - 1, "meeting_duration": 900}),
            "meeting_start",
        ),
        (
            json!({"meeting_start": start, "meeting_duration": 100}),
            "meeting_duration",
        ),
        (json!({"invitees": {"userid": ["zoe"]}}), "invitees"),
        (json!({"admin_userid": "zoe"}), "admin_userid"),
        (json!({"title": "t".repeat(300)}), "title"),
        (
            json!({"reminders": {"is_repeat": 1, "repeat_type": 4}}),
            "reminders.repeat_type",
        ),
    ] {
        let v = call(
            &app,
            "update",
            with(json!({ "meetingid": m }), body.clone()),
        )
        .await;
        bad_param(&v, field);
    }
    let v = call(&app, "update", json!({"title": "x"})).await;
    bad_param(&v, "meetingid");
    assert_eq!(
        info(&app, &m).await.meeting_start,
        (start + HOUR) as u64,
        "refused updates change nothing"
    );
}

#[tokio::test]
async fn updating_the_schedule_regenerates_the_sub_meetings_to_come() {
    let app = spawn_app().await;
    let m = create(
        &app,
        with(
            meeting_body(FRI_9AM),
            json!({"reminders": {"is_repeat": 1, "repeat_type": 0, "repeat_until_type": 1,
                                 "repeat_until_count": 3}}),
        ),
    )
    .await;
    let ids: Vec<String> = info(&app, &m)
        .await
        .sub_meetings
        .iter()
        .map(|s| s.sub_meetingid.clone())
        .collect();
    // The first occurrence happens (and ends), then the meeting moves to 10:00 weekly.
    app.clock.set(FRI_9AM + 60);
    app.ingest_ok(json!([join_sub(&m, &ids[0], "s1", FRI_9AM + 60, "bob")]))
        .await;
    app.ingest_ok(json!([quit(&m, "s1", FRI_9AM + 600)])).await;
    app.clock.set(FRI_9AM + 2 * HOUR);
    let ten = FRI_9AM + 3 * DAY + HOUR;
    ok(&call(
        &app,
        "update",
        json!({"meetingid": m, "meeting_start": ten, "meeting_duration": 1800,
               "reminders": {"is_repeat": 1, "repeat_type": 1, "repeat_until_type": 1,
                             "repeat_until_count": 2}}),
    )
    .await);
    let got = info(&app, &m).await;
    let subs: Vec<(String, i64, u32)> = got
        .sub_meetings
        .iter()
        .map(|s| (s.sub_meetingid.clone(), s.start_time as i64, s.status))
        .collect();
    assert_eq!(
        subs,
        [
            (ids[0].clone(), FRI_9AM, status::ENDED),
            (ten.to_string(), ten, status::PENDING),
            ((ten + 7 * DAY).to_string(), ten + 7 * DAY, status::PENDING),
        ],
        "history kept, the rest regenerated"
    );
    assert_eq!(got.reminders.unwrap().repeat_type, Some(1));
    // The attended occurrence's attendance is still there.
    assert_eq!(info_sub(&app, &m, &ids[0]).await.attendees.member.len(), 1);
    // With history, it cannot become a one-off.
    let v = call(
        &app,
        "update",
        json!({"meetingid": m, "reminders": {"is_repeat": 0}}),
    )
    .await;
    bad_param(&v, "reminders");
}

#[tokio::test]
async fn update_and_cancel_need_a_pending_meeting() {
    let app = spawn_app().await;
    let start = NOW + HOUR;
    let in_progress = create(&app, meeting_body(start)).await;
    let ended = create(&app, meeting_body(start)).await;
    let expired = create(&app, meeting_body(start)).await;
    let cancelled = create(&app, meeting_body(start + DAY)).await;
    ok(&call(&app, "cancel", json!({ "meetingid": cancelled })).await);
    app.clock.set(start + 2 * HOUR);
    app.ingest_ok(json!([
        join(&in_progress, "p1", start, "bob"),
        join(&ended, "e1", start, "bob"),
        quit(&ended, "e1", start + 60)
    ]))
    .await;
    for (m, st) in [
        (&in_progress, status::IN_PROGRESS),
        (&ended, status::ENDED),
        (&expired, status::EXPIRED),
        (&cancelled, status::CANCELLED),
    ] {
        assert_eq!(info(&app, m).await.status, st);
        let v = call(&app, "update", json!({"meetingid": m, "title": "x"})).await;
        bad_param(&v, "meetingid");
        let v = call(&app, "cancel", json!({ "meetingid": m })).await;
        bad_param(&v, "meetingid");
        let after = info(&app, m).await;
        assert_eq!(
            (after.status, after.title.as_str()),
            (st, "评审会"),
            "unchanged"
        );
    }
}

#[tokio::test]
async fn cancel_makes_status_4_and_attendance_stays_readable() {
    let app = spawn_app().await;
    let m = create(
        &app,
        with(
            meeting_body(FRI_9AM),
            json!({"reminders": {"is_repeat": 1, "repeat_type": 0, "repeat_until_type": 1,
                                 "repeat_until_count": 2}}),
        ),
    )
    .await;
    let sub = info(&app, &m).await.sub_meetings[0].sub_meetingid.clone();
    // One occurrence at a time: WeCom's sub_meetingid is refused rather than the whole
    // series cancelled.
    let v = call(
        &app,
        "cancel",
        json!({"meetingid": m, "sub_meetingid": sub}),
    )
    .await;
    bad_param(&v, "sub_meetingid");
    assert_eq!(info(&app, &m).await.status, status::PENDING);

    ok(&call(&app, "cancel", json!({ "meetingid": m })).await);
    let got = info(&app, &m).await;
    assert_eq!(got.status, status::CANCELLED);
    assert!(got
        .sub_meetings
        .iter()
        .all(|s| s.status == status::CANCELLED));
    // Attendance still arrives and stays readable.
    app.clock.set(FRI_9AM + 60);
    app.ingest_ok(json!([join_sub(&m, &sub, "s1", FRI_9AM + 30, "bob")]))
        .await;
    let token = app.token(SECRET).await;
    let page = app
        .list(&token, json!({"meetingid": m, "sub_meetingid": sub}))
        .await;
    assert_eq!(page["errcode"], 0, "{page}");
    assert_eq!(page["attendees"][0]["userid"], "bob");
    let got = info(&app, &m).await;
    assert_eq!(
        got.status,
        status::CANCELLED,
        "cancelled whatever the sessions say"
    );
    assert_eq!(got.attendees.member[0].userid, "bob");
    let v = call(&app, "cancel", json!({ "meetingid": m })).await;
    bad_param(&v, "meetingid");
}
