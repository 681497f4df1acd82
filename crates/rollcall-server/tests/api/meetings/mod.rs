//! The meeting calls (SPEC §4): create, get_info, update, cancel, get_user_meetingid, and
//! recurrence — every rule and errcode through HTTP, including other-app isolation per call.

use serde_json::{json, Value};

use rollcall_wire::meeting::{
    attendee_status, meeting_type, status, CreateMeetingResponse, GetUserMeetingIdResponse,
    MeetingInfo,
};

use crate::helpers::*;

mod schedule;
mod updates;
mod user_meetings;

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
