//! Status over time and recurrence (SPEC §4): one-off and recurring status, recurrence
//! codes, counts and dates, and the configured time zone's wall clock.

use super::*;

// ---------------------------------------------------------------- status over time

#[tokio::test]
async fn a_one_off_meeting_goes_pending_in_progress_ended() {
    let app = spawn_app().await;
    let start = NOW + HOUR;
    let m = create(&app, meeting_body(start)).await;
    assert_eq!(info(&app, &m).await.status, status::PENDING);

    // The clock reaches the start: nobody is in yet, still pending.
    app.clock.set(start + 60);
    assert_eq!(info(&app, &m).await.status, status::PENDING);

    app.ingest_ok(json!([join(&m, "b1", start + 60, "bob")]))
        .await;
    let live = info(&app, &m).await;
    assert_eq!(live.status, status::IN_PROGRESS);
    let bob = &live.attendees.member[0];
    assert_eq!(
        (bob.userid.as_str(), bob.figures.status),
        ("bob", attendee_status::IN_MEETING)
    );
    assert_eq!(
        (bob.figures.last_quit_time, bob.figures.cumulative_time),
        (0, 0)
    );
    app.clock.set(start + 600);
    assert_eq!(
        info(&app, &m).await.attendees.member[0]
            .figures
            .cumulative_time,
        540,
        "an open session counts up to now"
    );

    app.ingest_ok(json!([quit(&m, "b1", start + 1200)])).await;
    let ended = info(&app, &m).await;
    assert_eq!(ended.status, status::ENDED);
    let bob = &ended.attendees.member[0];
    assert_eq!(bob.figures.status, attendee_status::LEFT);
    assert_eq!(
        (
            bob.figures.first_join_time,
            bob.figures.last_quit_time,
            bob.figures.total_join_count,
            bob.figures.cumulative_time
        ),
        ((start + 60) as u64, (start + 1200) as u64, 1, 1140)
    );
    // A rejoin makes it in progress again.
    app.ingest_ok(json!([join(&m, "b2", start + 1300, "bob")]))
        .await;
    assert_eq!(info(&app, &m).await.status, status::IN_PROGRESS);

    // A meeting nobody attends expires when its time is over.
    let lonely = create(&app, meeting_body(start + DAY)).await;
    app.clock.set(start + DAY + HOUR - 1);
    assert_eq!(info(&app, &lonely).await.status, status::PENDING);
    app.clock.set(start + DAY + HOUR);
    assert_eq!(info(&app, &lonely).await.status, status::EXPIRED);
}

#[tokio::test]
async fn a_recurring_meeting_has_sub_meetings_with_their_own_status() {
    let app = spawn_app().await;
    let body = with(
        meeting_body(FRI_9AM),
        json!({"reminders": {"is_repeat": 1, "repeat_type": 1, "repeat_until_type": 1,
                             "repeat_until_count": 3, "remind_before": [900]}}),
    );
    let m = create(&app, body).await;
    let before = info(&app, &m).await;
    assert_eq!(before.meeting_type, meeting_type::RECURRING);
    assert_eq!(before.status, status::PENDING);
    let subs: Vec<(String, u64, u64, u32)> = before
        .sub_meetings
        .iter()
        .map(|s| (s.sub_meetingid.clone(), s.start_time, s.end_time, s.status))
        .collect();
    let week = 7 * DAY;
    let want: Vec<(String, u64, u64, u32)> = (0..3)
        .map(|i| {
            let s = FRI_9AM + i * week;
            (s.to_string(), s as u64, (s + HOUR) as u64, status::PENDING)
        })
        .collect();
    assert_eq!(subs, want, "weekly, ids are start times");
    let ids: Vec<String> = subs.iter().map(|s| s.0.clone()).collect();
    assert_eq!(
        before.current_sub_meetingid.as_deref(),
        Some(ids[0].as_str())
    );
    assert_eq!(
        before.reminders.as_ref().and_then(|r| r.repeat_until_count),
        Some(3)
    );

    // The first occurrence starts and bob joins it: it is in progress, and so is the meeting.
    app.clock.set(FRI_9AM + 120);
    app.ingest_ok(json!([
        join_sub(&m, &ids[0], "s1", FRI_9AM + 100, "bob"),
        join_sub(&m, &ids[0], "s2", FRI_9AM + 110, "carol")
    ]))
    .await;
    let now = info(&app, &m).await;
    assert_eq!(now.status, status::IN_PROGRESS);
    assert_eq!(now.sub_meetings[0].status, status::IN_PROGRESS);
    assert_eq!(now.sub_meetings[1].status, status::PENDING);
    assert_eq!(now.current_sub_meetingid.as_deref(), Some(ids[0].as_str()));
    let first = info_sub(&app, &m, &ids[0]).await;
    assert_eq!(first.status, status::IN_PROGRESS);
    assert_eq!(first.attendees.member.len(), 2);
    let second = info_sub(&app, &m, &ids[1]).await;
    assert_eq!(second.status, status::PENDING);
    assert!(
        second.attendees.member.is_empty(),
        "aggregates are per sub-meeting"
    );

    // It ends; the next one is current; the meeting is pending again (more to come).
    app.ingest_ok(json!([
        quit(&m, "s1", FRI_9AM + 3000),
        quit(&m, "s2", FRI_9AM + 3100)
    ]))
    .await;
    app.clock.set(FRI_9AM + 2 * HOUR);
    let between = info(&app, &m).await;
    assert_eq!(between.status, status::PENDING);
    assert_eq!(between.sub_meetings[0].status, status::ENDED);
    assert_eq!(
        between.current_sub_meetingid.as_deref(),
        Some(ids[1].as_str())
    );
    // get_attendee_list reads the sub-meeting's sessions.
    let token = app.token(SECRET).await;
    let page = app
        .list(&token, json!({"meetingid": m, "sub_meetingid": ids[0]}))
        .await;
    assert_eq!(page["attendees"].as_array().unwrap().len(), 2, "{page}");

    // After the last one: the two nobody attended expired, the meeting as a whole ended.
    app.clock.set(FRI_9AM + 2 * week + 2 * HOUR);
    let after = info(&app, &m).await;
    let st: Vec<u32> = after.sub_meetings.iter().map(|s| s.status).collect();
    assert_eq!(st, [status::ENDED, status::EXPIRED, status::EXPIRED]);
    assert_eq!(after.status, status::ENDED);
    assert_eq!(
        after.current_sub_meetingid.as_deref(),
        Some(ids[2].as_str())
    );

    // A sub-meeting the meeting does not have.
    let v = call(
        &app,
        "get_info",
        json!({"meetingid": m, "sub_meetingid": "1"}),
    )
    .await;
    bad_param(&v, "sub_meetingid");
}

/// The start times of a meeting's sub-meetings, as offsets from `base`.
fn offsets(info: &MeetingInfo, base: i64) -> Vec<i64> {
    info.sub_meetings
        .iter()
        .map(|s| s.start_time as i64 - base)
        .collect()
}

async fn recurring(app: &TestApp, start: i64, reminders: Value) -> MeetingInfo {
    let m = create(
        app,
        with(meeting_body(start), json!({ "reminders": reminders })),
    )
    .await;
    info(app, &m).await
}

#[tokio::test]
async fn recurrence_codes_counts_and_dates() {
    let app = spawn_app().await;
    // Asia/Shanghai has no DST: local 09:00 is FRI_9AM + whole days.
    let daily = recurring(
        &app,
        FRI_9AM,
        // Every two days through Tuesday 2025-10-14 (repeat_until at 23:00 that day, local).
        json!({"is_repeat": 1, "repeat_type": 0, "repeat_interval": 2, "repeat_until_type": 0,
               "repeat_until": FRI_9AM + 4 * DAY + 14 * HOUR}),
    )
    .await;
    assert_eq!(offsets(&daily, FRI_9AM), [0, 2 * DAY, 4 * DAY]);
    assert!(daily
        .sub_meetings
        .iter()
        .all(|s| s.end_time - s.start_time == 3600));

    let fortnightly = recurring(
        &app,
        FRI_9AM,
        json!({"is_repeat": 1, "repeat_type": 1, "repeat_interval": 2, "repeat_until_type": 1,
               "repeat_until_count": 3}),
    )
    .await;
    assert_eq!(offsets(&fortnightly, FRI_9AM), [0, 14 * DAY, 28 * DAY]);

    // Every working day from a Friday: Friday, Monday, Tuesday.
    let workdays = recurring(
        &app,
        FRI_9AM,
        json!({"is_repeat": 1, "repeat_type": 7, "repeat_until_type": 1, "repeat_until_count": 3}),
    )
    .await;
    assert_eq!(offsets(&workdays, FRI_9AM), [0, 3 * DAY, 4 * DAY]);

    // Custom weekly days: Monday and Wednesday (from Friday the 10th: 13th, 15th, 20th).
    let custom = recurring(
        &app,
        FRI_9AM,
        json!({"is_repeat": 1, "repeat_type": 1, "is_custom_repeat": 1,
               "repeat_day_of_week": [1, 3], "repeat_until_type": 1, "repeat_until_count": 3}),
    )
    .await;
    assert_eq!(offsets(&custom, FRI_9AM), [3 * DAY, 5 * DAY, 10 * DAY]);

    // Monthly on the 1st and 15th: Oct 15, Nov 1, Nov 15.
    let monthly = recurring(
        &app,
        FRI_9AM,
        json!({"is_repeat": "1", "repeat_type": "2", "is_custom_repeat": 1,
               "repeat_day_of_month": [15, 1], "repeat_until_type": 1,
               "repeat_until_count": "3"}),
    )
    .await;
    assert_eq!(offsets(&monthly, FRI_9AM), [5 * DAY, 22 * DAY, 36 * DAY]);
    // The meeting keeps the start it was given; the sub-meetings say when it meets.
    assert_eq!(monthly.meeting_start, FRI_9AM as u64);
}

#[tokio::test]
async fn recurring_meetings_keep_the_wall_clock_of_the_configured_time_zone() {
    let app = spawn_app().await;
    let weekly = json!({"is_repeat": 1, "repeat_type": 1, "repeat_until_type": 1,
                        "repeat_until_count": 2});
    // 2025-10-30 09:00 in New York (EDT); the next week is after the end of DST (Nov 2).
    let start = 1_761_829_200;
    let shanghai = recurring(&app, start, weekly.clone()).await;
    assert_eq!(
        offsets(&shanghai, start),
        [0, 7 * DAY],
        "Asia/Shanghai by default"
    );

    assert!(app.state.set_time_zone("Mars/Olympus_Mons").is_err());
    app.state
        .set_time_zone("America/New_York")
        .expect("a known zone");
    let new_york = recurring(&app, start, weekly).await;
    assert_eq!(
        offsets(&new_york, start),
        [0, 7 * DAY + HOUR],
        "09:00 local both weeks"
    );
    // `repeat_until` is a date in the configured zone too: 2025-10-31 02:00 UTC is still
    // the 30th in New York, so only the first occurrence is left.
    let until = recurring(
        &app,
        start,
        json!({"is_repeat": 1, "repeat_type": 0, "repeat_until_type": 0,
               "repeat_until": 1_761_876_000}),
    )
    .await;
    assert_eq!(offsets(&until, start), [0]);
}
