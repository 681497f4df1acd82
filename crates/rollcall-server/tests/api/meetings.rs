//! The meeting calls (SPEC §4): create, get_info, update, cancel, get_user_meetingid, and
//! recurrence — every rule and errcode through HTTP, including other-app isolation per call.

use serde_json::{json, Value};

use rollcall_wire::meeting::{
    attendee_status, meeting_type, status, CreateMeetingResponse, GetUserMeetingIdResponse,
    MeetingInfo,
};

use crate::helpers::*;

const HOUR: i64 = 3600;
/// 2025-10-10 09:00 in Asia/Shanghai (a Friday): the day after the virtual clock's start.
const FRI_9AM: i64 = 1_760_058_000;

const PATHS: [&str; 5] = [
    "create",
    "get_info",
    "update",
    "cancel",
    "get_user_meetingid",
];

/// POST `meeting/<path>` as the app with `secret`. A fresh token each time (the same one
/// while it is valid), since tests move the virtual clock past token lifetimes.
async fn call_as(app: &TestApp, secret: &str, path: &str, body: Value) -> Value {
    let token = app.token(secret).await;
    let (status, headers, bytes) = app
        .cgi_raw(
            &format!("meeting/{path}?access_token={token}"),
            body.to_string(),
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(
        headers["Error-Code"].to_str().unwrap(),
        v["errcode"].to_string(),
        "{v}"
    );
    v
}

async fn call(app: &TestApp, path: &str, body: Value) -> Value {
    call_as(app, SECRET, path, body).await
}

fn ok(v: &Value) {
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["errmsg"], "ok", "{v}");
}

/// The text of a 40058, which must name `field`.
fn bad_param(v: &Value, field: &str) {
    assert_eq!(
        expect_err(v, 40058),
        format!("invalid param '{field}'"),
        "{v}"
    );
}

/// A valid `meeting/create` body: bob's hour-long review meeting at `start`.
fn meeting_body(start: i64) -> Value {
    json!({"admin_userid": "bob", "title": "评审会", "meeting_start": start,
           "meeting_duration": 3600})
}

fn with(mut body: Value, fields: Value) -> Value {
    for (k, v) in fields.as_object().expect("fields") {
        body[k] = v.clone();
    }
    body
}

async fn create_as(app: &TestApp, secret: &str, body: Value) -> CreateMeetingResponse {
    let v = call_as(app, secret, "create", body).await;
    ok(&v);
    serde_json::from_value(v).expect("create reply")
}

async fn create(app: &TestApp, body: Value) -> String {
    create_as(app, SECRET, body).await.meetingid
}

async fn info_as(app: &TestApp, secret: &str, body: Value) -> MeetingInfo {
    let v = call_as(app, secret, "get_info", body).await;
    ok(&v);
    serde_json::from_value(v).expect("get_info reply")
}

async fn info(app: &TestApp, meetingid: &str) -> MeetingInfo {
    info_as(app, SECRET, json!({ "meetingid": meetingid })).await
}

async fn info_sub(app: &TestApp, meetingid: &str, sub: &str) -> MeetingInfo {
    info_as(
        app,
        SECRET,
        json!({ "meetingid": meetingid, "sub_meetingid": sub }),
    )
    .await
}

fn join_sub(meetingid: &str, sub: &str, session: &str, at: i64, userid: &str) -> Value {
    with(
        join(meetingid, session, at, userid),
        json!({ "sub_meetingid": sub }),
    )
}

// ---------------------------------------------------------------- the envelope

#[tokio::test]
async fn meeting_calls_check_the_token_and_the_meeting_api_first() {
    let app = spawn_app().await;
    let good = app.token(SECRET).await;
    let noapi = app.token(NOAPI_SECRET).await;
    for path in PATHS {
        let raw = |query: String, body: &'static str| {
            let app = &app;
            async move {
                let (status, _, bytes) = app.cgi_raw(&format!("meeting/{path}{query}"), body).await;
                assert_eq!(status, 200);
                serde_json::from_slice::<Value>(&bytes).expect("json")
            }
        };
        // The token is checked before the body is read: a broken body does not matter yet.
        expect_err(&raw(String::new(), "{not json").await, 41001);
        expect_err(&raw("?access_token=nope".into(), "{not json").await, 40014);
        expect_err(
            &raw(format!("?access_token={noapi}"), "{not json").await,
            48002,
        );
        let bad = raw(format!("?access_token={good}"), "{not json").await;
        assert!(
            expect_err(&bad, 40058).starts_with("Warning: wrong json format."),
            "{bad}"
        );
        // POST only.
        let r = app
            .http
            .get(format!(
                "{}/cgi-bin/meeting/{path}?access_token={good}",
                app.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        expect_err(&r.json().await.unwrap(), 40058);
    }
}

// ---------------------------------------------------------------- create and get_info

#[tokio::test]
async fn create_answers_ids_and_get_info_reads_everything_back() {
    let app = spawn_app().await;
    let start = NOW + DAY;
    let body = with(
        meeting_body(start),
        json!({
            "meeting_start": start.to_string(), "meeting_duration": "1800",
            "description": "季度复盘", "location": "3F 大会议室", "agentid": AGENT,
            "invitees": {"userid": ["carol", "bob", "carol"]},
            "settings": {"password": "1234", "remind_scope": "3", "enable_waiting_room": true,
                         "hosts": {"userid": ["carol"]}, "enable_doc_upload": false},
            "reminders": {"is_repeat": 0, "remind_before": [0, 900]}
        }),
    );
    let created = create_as(&app, SECRET, body).await;
    assert!(created.meetingid.starts_with("hy"), "{created:?}");
    let code = created.meeting_code.clone().expect("meeting_code");
    assert!(
        code.len() == 9 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    assert!(created.excess_users.is_empty());

    let m = info(&app, &created.meetingid).await;
    assert_eq!(m.admin_userid.as_deref(), Some("bob"));
    assert_eq!(m.title, "评审会");
    assert_eq!((m.meeting_start, m.meeting_duration), (start as u64, 1800));
    assert_eq!(m.description.as_deref(), Some("季度复盘"));
    assert_eq!(m.location.as_deref(), Some("3F 大会议室"));
    assert_eq!(m.main_department, Some(3), "bob's department");
    assert_eq!(
        (m.status, m.meeting_type),
        (status::PENDING, meeting_type::ONE_OFF)
    );
    assert!(m.attendees.member.is_empty() && m.attendees.tmp_external_user.is_empty());
    let s = m.settings.as_ref().expect("settings");
    assert_eq!(
        (s.password.as_deref(), s.remind_scope, s.enable_waiting_room),
        (Some("1234"), Some(3), Some(true))
    );
    assert_eq!(s.hosts.as_ref().unwrap().userid, ["carol"]);
    assert_eq!(
        s.extra["enable_doc_upload"], false,
        "unknown settings are kept"
    );
    let r = m.reminders.as_ref().expect("reminders");
    assert_eq!(
        (r.is_repeat, r.remind_before.as_deref()),
        (Some(0), Some(&[0, 900][..]))
    );
    assert_eq!(m.meeting_code.as_deref(), Some(code.as_str()));
    assert!(m.meeting_link.as_deref().unwrap().ends_with(&code));
    assert!(m.sub_meetings.is_empty() && m.current_sub_meetingid.is_none());

    // By meeting_code, the same answer.
    let by_code = info_as(&app, SECRET, json!({ "meeting_code": code })).await;
    assert_eq!(by_code, m);

    // On the wire: integers are numbers, the attendee lists are present even when empty.
    let raw = call(&app, "get_info", json!({ "meetingid": created.meetingid })).await;
    assert!(
        raw["meeting_start"].is_u64() && raw["status"].is_u64(),
        "{raw}"
    );
    assert_eq!(
        raw["attendees"],
        json!({"member": [], "tmp_external_user": []})
    );

    // The meeting belongs to the app: its attendee list is readable (and empty).
    let token = app.token(SECRET).await;
    let page = app
        .list(&token, json!({ "meetingid": created.meetingid }))
        .await;
    assert_eq!(
        (page["errcode"].clone(), page["attendees"].clone()),
        (json!(0), json!([]))
    );
}

#[tokio::test]
async fn create_refuses_each_bad_field_by_name() {
    let app = spawn_app().await;
    let base = meeting_body(NOW + DAY);
    let mut no_admin = base.clone();
    no_admin.as_object_mut().unwrap().remove("admin_userid");
    let mut no_start = base.clone();
    no_start.as_object_mut().unwrap().remove("meeting_start");
    let weekly = |extra: Value| {
        with(
            json!({"is_repeat": 1, "repeat_type": 1, "repeat_until_type": 1,
                   "repeat_until_count": 3}),
            extra,
        )
    };
    let cases: Vec<(Value, &str)> = vec![
        (no_admin, "admin_userid"),
        (
            with(base.clone(), json!({"admin_userid": "zoe"})),
            "admin_userid",
        ),
        (
            with(base.clone(), json!({"admin_userid": 7})),
            "admin_userid",
        ),
        (with(base.clone(), json!({"title": ""})), "title"),
        (
            with(base.clone(), json!({"title": "t".repeat(256)})),
            "title",
        ),
        (no_start, "meeting_start"),
        (
            with(base.clone(), json!({"meeting_start": NOW})),
            "meeting_start",
        ),
        (
            with(base.clone(), json!({"meeting_start": NOW - 60})),
            "meeting_start",
        ),
        (
            with(base.clone(), json!({"meeting_start": "tomorrow"})),
            "meeting_start",
        ),
        (
            with(base.clone(), json!({"meeting_duration": 299})),
            "meeting_duration",
        ),
        (
            with(base.clone(), json!({"meeting_duration": 86_400})),
            "meeting_duration",
        ),
        (
            with(base.clone(), json!({"meeting_duration": 1.5})),
            "meeting_duration",
        ),
        (
            with(base.clone(), json!({"agentid": OTHER_AGENT})),
            "agentid",
        ),
        (
            with(
                base.clone(),
                json!({"invitees": {"userid": ["carol", "zoe"]}}),
            ),
            "invitees",
        ),
        (
            with(base.clone(), json!({"invitees": ["carol"]})),
            "invitees",
        ),
        (
            with(
                base.clone(),
                json!({"settings": {"hosts": {"userid": ["zoe"]}}}),
            ),
            "settings.hosts",
        ),
        (
            with(base.clone(), json!({"settings": {"password": "abc"}})),
            "settings.password",
        ),
        (
            with(
                base.clone(),
                json!({"reminders": weekly(json!({"repeat_type": 5}))}),
            ),
            "reminders.repeat_type",
        ),
        (
            with(
                base.clone(),
                json!({"reminders": weekly(json!({"repeat_until_count": 501}))}),
            ),
            "reminders.repeat_until_count",
        ),
        (
            with(
                base.clone(),
                json!({"reminders": weekly(json!({"repeat_until_type": 0, "repeat_until": NOW}))}),
            ),
            "reminders.repeat_until",
        ),
        (
            with(
                base.clone(),
                json!({"reminders": weekly(json!({"repeat_interval": 100}))}),
            ),
            "reminders.repeat_interval",
        ),
        (
            with(
                base.clone(),
                json!({"reminders": weekly(json!({"is_custom_repeat": 1, "repeat_day_of_week": []}))}),
            ),
            "reminders.repeat_day_of_week",
        ),
    ];
    for (body, field) in cases {
        let v = call(&app, "create", body.clone()).await;
        assert_eq!(v["errcode"], 40058, "{body} -> {v}");
        bad_param(&v, field);
    }
    // Nothing was created by the refusals.
    let listed = call(&app, "get_user_meetingid", json!({"userid": "bob"})).await;
    assert_eq!(listed["meetingid_list"], json!([]), "{listed}");
}

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

// ---------------------------------------------------------------- aggregates

#[tokio::test]
async fn aggregates_are_the_union_of_sessions_within_the_visible_range() {
    let app = spawn_app().await;
    let start = NOW + HOUR;
    let m = create(&app, meeting_body(start)).await;
    app.clock.set(start + 2 * HOUR);
    let t = start;
    app.ingest_ok(json!([
        // bob on two devices at once, then a rejoin: 100..400 ∪ 200..300 ∪ 1000..1100.
        join(&m, "b1", t + 100, "bob"),
        join(&m, "b2", t + 200, "bob"),
        quit(&m, "b2", t + 300),
        quit(&m, "b1", t + 400),
        join(&m, "b3", t + 1000, "bob"),
        quit(&m, "b3", t + 1100),
        // carol is visible by name and still in the meeting.
        join(&m, "c1", t + 50, "carol"),
        // alice and dave are outside the app's visible range: omitted, not blanked.
        join(&m, "a1", t + 10, "alice"),
        join(&m, "d1", t + 20, "dave"),
        join_as(&m, "x1", t + 30, json!({"external_id": "wm-ext-1"})),
        quit(&m, "x1", t + 90),
        join_as(&m, "g1", t + 40, json!({"guest_id": "wx-guest-1"}))
    ]))
    .await;
    let got = info(&app, &m).await;
    assert_eq!(got.status, status::IN_PROGRESS);
    let members: Vec<(&str, u32, u64, u64, u64, u64)> = got
        .attendees
        .member
        .iter()
        .map(|a| {
            (
                a.userid.as_str(),
                a.figures.status,
                a.figures.first_join_time,
                a.figures.last_quit_time,
                a.figures.total_join_count,
                a.figures.cumulative_time,
            )
        })
        .collect();
    let t = t as u64;
    assert_eq!(
        members,
        [
            (
                "carol",
                attendee_status::IN_MEETING,
                t + 50,
                0,
                1,
                2 * 3600 - 50
            ),
            (
                "bob",
                attendee_status::LEFT,
                t + 100,
                t + 1100,
                3,
                300 + 100
            ),
        ],
        "ordered by first join; overlapping devices count once"
    );
    // External users and guests, under their per-meeting tmp_openid.
    let token = app.token(SECRET).await;
    let (rows, _) = app.list_all(&token, json!({ "meetingid": m })).await;
    let openid_of = |session_join: u64| {
        rows.iter()
            .find(|r| r["join_time"].as_str() == Some(session_join.to_string().as_str()))
            .map(|r| r["tmp_openid"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let ext: Vec<(String, u32, u64, u64)> = got
        .attendees
        .tmp_external_user
        .iter()
        .map(|a| {
            (
                a.tmp_external_userid.clone(),
                a.figures.status,
                a.figures.last_quit_time,
                a.figures.cumulative_time,
            )
        })
        .collect();
    assert_eq!(
        ext,
        [
            (openid_of(t + 30), attendee_status::LEFT, t + 90, 60),
            (
                openid_of(t + 40),
                attendee_status::IN_MEETING,
                0,
                2 * 3600 - 40
            ),
        ]
    );
    // Another app seeing department 1 would see alice; this one never does.
    assert!(!got
        .attendees
        .member
        .iter()
        .any(|a| a.userid == "alice" || a.userid == "dave"));
}

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

// ---------------------------------------------------------------- other apps

#[tokio::test]
async fn another_apps_meeting_answers_exactly_like_an_unknown_one() {
    let app = spawn_app().await;
    let theirs = create_as(&app, OTHER_SECRET, meeting_body(NOW + DAY)).await;
    let code = theirs.meeting_code.clone().unwrap();
    let mine = create_as(&app, SECRET, meeting_body(NOW + DAY)).await;
    assert_ne!(code, mine.meeting_code.clone().unwrap());
    let unknown = "hyDoesNotExist000000000000000000";
    let cases = [
        (
            "get_info",
            json!({ "meetingid": theirs.meetingid }),
            json!({ "meetingid": unknown }),
        ),
        (
            "get_info",
            json!({ "meeting_code": code }),
            json!({ "meeting_code": "100000001" }),
        ),
        (
            "get_info",
            json!({"meetingid": theirs.meetingid, "sub_meetingid": "1"}),
            json!({"meetingid": unknown, "sub_meetingid": "1"}),
        ),
        (
            "update",
            json!({"meetingid": theirs.meetingid, "title": "mine now"}),
            json!({"meetingid": unknown, "title": "mine now"}),
        ),
        (
            "cancel",
            json!({ "meetingid": theirs.meetingid }),
            json!({ "meetingid": unknown }),
        ),
    ];
    for (path, other, missing) in cases {
        let a = call(&app, path, other.clone()).await;
        let b = call(&app, path, missing).await;
        assert_eq!(a["errcode"], 40058, "{path} {other}: {a}");
        assert_eq!(errtext(&a), errtext(&b), "{path}: {a} vs {b}");
    }
    let token = app.token(SECRET).await;
    let a = app
        .list(&token, json!({ "meetingid": theirs.meetingid }))
        .await;
    let b = app.list(&token, json!({ "meetingid": unknown })).await;
    assert_eq!(
        (errtext(&a), a["errcode"].clone()),
        (errtext(&b), b["errcode"].clone())
    );

    // Their meeting is untouched, and it is theirs to read.
    let still = info_as(&app, OTHER_SECRET, json!({ "meetingid": theirs.meetingid })).await;
    assert_eq!(
        (still.title.as_str(), still.status),
        ("评审会", status::PENDING)
    );
    // A member's meetings are the calling app's only (bob administers both meetings).
    let listed = |secret| {
        let app = &app;
        async move {
            let v = call_as(app, secret, "get_user_meetingid", json!({"userid": "bob"})).await;
            ok(&v);
            serde_json::from_value::<GetUserMeetingIdResponse>(v)
                .unwrap()
                .meetingid_list
        }
    };
    assert_eq!(listed(SECRET).await, std::slice::from_ref(&mine.meetingid));
    assert_eq!(
        listed(OTHER_SECRET).await,
        std::slice::from_ref(&theirs.meetingid)
    );
}

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

// ---------------------------------------------------------------- admin-made meetings

#[tokio::test]
async fn meetings_made_through_the_admin_api_answer_get_info_too() {
    let app = spawn_app().await;
    let start = NOW + DAY;
    let web = app.meeting(AGENT, 6, &[]).await;
    let w = info(&app, &web.meetingid).await;
    assert_eq!(w.meeting_type, meeting_type::WEBINAR);
    assert_eq!(
        w.status,
        status::EXPIRED,
        "its time (30 days ago) passed unattended"
    );
    let rec = app
        .meeting(
            AGENT,
            1,
            &[(start, start + HOUR), (start + DAY, start + DAY + HOUR)],
        )
        .await;
    let r = info(&app, &rec.meetingid).await;
    assert_eq!(r.sub_meetings.len(), 2);
    assert_eq!(r.status, status::PENDING);
    assert!(r.reminders.is_none() && r.settings.is_none());
    // It has no rule to move: a new schedule needs one.
    let v = call(
        &app,
        "update",
        json!({"meetingid": rec.meetingid, "meeting_start": start + HOUR,
               "meeting_duration": 600}),
    )
    .await;
    bad_param(&v, "reminders");
    ok(&call(
        &app,
        "update",
        json!({"meetingid": rec.meetingid, "title": "renamed"}),
    )
    .await);
    assert_eq!(info(&app, &rec.meetingid).await.sub_meetings.len(), 2);
}
