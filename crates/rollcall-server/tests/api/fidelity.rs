//! Fidelity of the meeting calls to WeCom's own pages (SPEC §4, issue 10 point 6), through
//! HTTP: the documented limits, the visible range, get_user_meetingid's first cursor and
//! default window, the older `attendees` spelling, errmsg's real shape on every kind of
//! error, and the `Authorization` scheme read case-insensitively. ARCHITECTURE.md ("Fidelity
//! to WeCom's pages") lists each rule with its source.

use reqwest::StatusCode;
use serde_json::{json, Value};

use rollcall_testkit::replies::{errmsg_ip, MORE_INFO};

use crate::helpers::*;

async fn call_as(app: &TestApp, secret: &str, path: &str, body: Value) -> Value {
    let token = app.token(secret).await;
    let (status, _, bytes) = app
        .cgi_raw(
            &format!("meeting/{path}?access_token={token}"),
            body.to_string(),
        )
        .await;
    assert_eq!(status, 200);
    serde_json::from_slice(&bytes).expect("json")
}

async fn call(app: &TestApp, path: &str, body: Value) -> Value {
    call_as(app, SECRET, path, body).await
}

fn bad_param(v: &Value, field: &str) {
    assert_eq!(
        expect_err(v, 40058),
        format!("invalid param '{field}'"),
        "{v}"
    );
}

fn ok(v: &Value) -> &Value {
    assert_eq!(
        (&v["errcode"], &v["errmsg"]),
        (&json!(0), &json!("ok")),
        "{v}"
    );
    v
}

/// bob's meeting tomorrow, with `extra` fields.
fn body(extra: Value) -> Value {
    let mut b = json!({"admin_userid": "bob", "title": "评审会", "meeting_start": NOW + DAY,
                       "meeting_duration": 3600});
    for (k, v) in extra.as_object().expect("object") {
        b[k] = v.clone();
    }
    b
}

async fn created(app: &TestApp, extra: Value) -> String {
    let v = call(app, "create", body(extra)).await;
    ok(&v)["meetingid"].as_str().expect("meetingid").to_owned()
}

async fn listed(app: &TestApp, secret: &str, q: Value) -> Vec<String> {
    let v = call_as(app, secret, "get_user_meetingid", q).await;
    serde_json::from_value(ok(&v)["meetingid_list"].clone()).expect("list")
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("u{i}")).collect()
}

#[tokio::test]
async fn wecoms_length_limits_are_kept_and_counted_as_wecom_counts() {
    let app = spawn_app().await;
    // At the bound: accepted (the same body WeCom takes).
    created(
        &app,
        json!({"title": "会".repeat(255), "description": "述".repeat(500),
               "location": "广".repeat(18), "cal_id": "c".repeat(64),
               "settings": {"password": "123456", "host_key": "654321"}}),
    )
    .await;
    created(&app, json!({"location": "a".repeat(36)})).await;
    // One past it: 40058 naming the field.
    for (extra, field) in [
        (json!({"title": "会".repeat(256)}), "title"),
        (json!({"description": "述".repeat(501)}), "description"),
        (json!({"location": "广".repeat(19)}), "location"),
        (
            json!({"location": format!("{}abc", "广".repeat(17))}),
            "location",
        ),
        (json!({"location": "a".repeat(37)}), "location"),
        (json!({"cal_id": "c".repeat(65)}), "cal_id"),
        (json!({"invitees": {"userid": ids(301)}}), "invitees"),
        (
            json!({"settings": {"hosts": {"userid": ids(11)}}}),
            "settings.hosts",
        ),
        (
            json!({"settings": {"password": "1234567"}}),
            "settings.password",
        ),
        (
            json!({"settings": {"host_key": "12345"}}),
            "settings.host_key",
        ),
        (
            json!({"reminders": {"is_repeat": 1, "repeat_type": 2, "repeat_until_type": 1,
                                 "repeat_until_count": 51}}),
            "reminders.repeat_until_count",
        ),
        (
            json!({"reminders": {"is_repeat": 1, "repeat_type": 0, "repeat_until_type": 1,
                                 "repeat_until_count": 201}}),
            "reminders.repeat_until_count",
        ),
    ] {
        bad_param(&call(&app, "create", body(extra.clone())).await, field);
    }
    // update keeps the same limits.
    let m = created(&app, json!({})).await;
    for (extra, field) in [
        (json!({"title": "x".repeat(256)}), "title"),
        (json!({"description": "d".repeat(501)}), "description"),
        (json!({"location": "广".repeat(19)}), "location"),
        (json!({"invitees": {"userid": ids(301)}}), "invitees"),
        (
            json!({"settings": {"hosts": {"userid": ids(11)}}}),
            "settings.hosts",
        ),
    ] {
        let mut b = extra.clone();
        b["meetingid"] = json!(m);
        bad_param(&call(&app, "update", b).await, field);
    }
    ok(&call(
        &app,
        "update",
        json!({"meetingid": m, "location": "广".repeat(18)}),
    )
    .await);
}

#[tokio::test]
async fn a_repeat_until_past_wecoms_maximum_is_capped_not_refused() {
    let app = spawn_app().await;
    // Daily for three years: WeCom sets the end to its maximum, 200 meetings.
    let m = created(
        &app,
        json!({"reminders": {"is_repeat": 1, "repeat_type": 0,
                             "repeat_until": NOW + 1100 * DAY}}),
    )
    .await;
    let v = call(&app, "get_info", json!({ "meetingid": m })).await;
    assert_eq!(ok(&v)["sub_meetings"].as_array().expect("subs").len(), 200);
}

#[tokio::test]
async fn userids_must_be_within_the_apps_visible_range() {
    let app = spawn_app().await;
    // The main app sees R&D and Platform (bob) and carol by name; alice (HQ), dave and erin
    // (Board) are corp members outside its range.
    for (extra, field) in [
        (json!({"admin_userid": "alice"}), "admin_userid"),
        (
            json!({"invitees": {"userid": ["carol", "dave"]}}),
            "invitees",
        ),
        (json!({"attendees": {"userid": ["erin"]}}), "attendees"),
        (
            json!({"settings": {"hosts": {"userid": ["alice"]}}}),
            "settings.hosts",
        ),
        (
            json!({"settings": {"ring_users": {"userid": ["dave"]}}}),
            "settings.ring_users",
        ),
        // Not a member at all: the same answer.
        (json!({"admin_userid": "nobody"}), "admin_userid"),
    ] {
        bad_param(&call(&app, "create", body(extra.clone())).await, field);
    }
    let m = created(&app, json!({"invitees": {"userid": ["carol"]}})).await;
    for (extra, field) in [
        (json!({"admin_userid": "alice"}), "admin_userid"),
        (json!({"invitees": {"userid": ["erin"]}}), "invitees"),
    ] {
        let mut b = extra.clone();
        b["meetingid"] = json!(m);
        bad_param(&call(&app, "update", b).await, field);
    }
    bad_param(
        &call(&app, "get_user_meetingid", json!({"userid": "alice"})).await,
        "userid",
    );
    assert_eq!(listed(&app, SECRET, json!({"userid": "carol"})).await, [m]);
    // An app whose range holds alice (HQ and below) may name her.
    let v = call_as(
        &app,
        OTHER_SECRET,
        "create",
        body(json!({"admin_userid": "alice", "invitees": {"userid": ["bob"]}})),
    )
    .await;
    let theirs = ok(&v)["meetingid"].as_str().unwrap().to_owned();
    assert_eq!(
        listed(&app, OTHER_SECRET, json!({"userid": "alice"})).await,
        [theirs]
    );
}

#[tokio::test]
async fn attendees_is_accepted_for_invitees_and_invitees_wins() {
    let app = spawn_app().await;
    let old = created(&app, json!({"attendees": {"userid": ["carol"]}})).await;
    assert_eq!(
        listed(&app, SECRET, json!({"userid": "carol"})).await,
        std::slice::from_ref(&old)
    );
    // Both: the newer spelling wins (carol is not invited to this one).
    let both = created(
        &app,
        json!({"invitees": {"userid": []}, "attendees": {"userid": ["carol"]}}),
    )
    .await;
    assert_eq!(
        listed(&app, SECRET, json!({"userid": "carol"})).await,
        std::slice::from_ref(&old)
    );
    // update takes the older spelling too.
    ok(&call(
        &app,
        "update",
        json!({"meetingid": both, "attendees": {"userid": ["carol"]}}),
    )
    .await);
    let mut carol = listed(&app, SECRET, json!({"userid": "carol"})).await;
    carol.sort();
    let mut want = vec![old, both];
    want.sort();
    assert_eq!(carol, want);
}

#[tokio::test]
async fn get_user_meetingid_first_cursor_and_default_window_are_wecoms() {
    let app = spawn_app().await;
    // Through the admin API (meetings in the past): ended 200 and 100 days ago.
    let past = |start: i64| {
        json!({"corpid": CORP, "agentid": AGENT, "meeting_type": 0, "title": "旧会",
               "meeting_start": start, "meeting_duration": 3600, "admin_userid": "bob"})
    };
    let too_old = app.create_meeting(past(NOW - 200 * DAY)).await.meetingid;
    let recent = app.create_meeting(past(NOW - 100 * DAY)).await.meetingid;
    // Ahead: 1 and 400 days out (a window's end bounds history only).
    let soon = created(&app, json!({})).await;
    let v = call(
        &app,
        "create",
        body(json!({"meeting_start": NOW + 400 * DAY})),
    )
    .await;
    let far = ok(&v)["meetingid"].as_str().unwrap().to_owned();

    // Neither bound: end = now, 180 days back, and everything still to come.
    let all = listed(&app, SECRET, json!({"userid": "bob"})).await;
    assert_eq!(all, [recent.clone(), soon.clone(), far.clone()]);
    assert!(!all.contains(&too_old));
    // A first cursor of "0" or "" starts from the beginning, as no cursor does.
    for first in ["0", ""] {
        assert_eq!(
            listed(&app, SECRET, json!({"userid": "bob", "cursor": first})).await,
            all,
            "{first:?}"
        );
        let v = call(
            &app,
            "get_user_meetingid",
            json!({"userid": "bob", "cursor": first, "limit": 1}),
        )
        .await;
        assert_eq!(ok(&v)["meetingid_list"], json!([recent]), "{first:?}");
        assert!(!v["next_cursor"].as_str().unwrap().is_empty());
    }
    // A past window is history only.
    assert_eq!(
        listed(
            &app,
            SECRET,
            json!({"userid": "bob", "begin_time": NOW - 210 * DAY, "end_time": NOW - 150 * DAY})
        )
        .await,
        [too_old]
    );
}

/// Every kind of /cgi-bin error: its errmsg in WeCom's shape, naming its own errcode and the
/// caller's address, the request id the journal records, and the same text in `Error-Msg`.
#[tokio::test]
async fn every_cgi_error_has_wecoms_errmsg_shape() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    let noapi = app.token(NOAPI_SECRET).await;
    let get = |q: String| {
        let (http, base) = (app.http.clone(), app.base.clone());
        async move {
            let r = http
                .get(format!("{base}/cgi-bin/{q}"))
                .send()
                .await
                .unwrap();
            let h = r.headers().clone();
            (h, r.json::<Value>().await.unwrap())
        }
    };
    let post = |q: String, b: String| {
        let app = &app;
        async move {
            let (_, h, bytes) = app.cgi_raw(&q, b).await;
            (h, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let mut replies = vec![
        get("gettoken?corpid=nope&corpsecret=x".into()).await,
        get(format!("gettoken?corpid={CORP}&corpsecret=wrong")).await,
        get("gettoken?corpid=x".into()).await,
        get(format!("meeting/get_info?access_token={token}")).await, // wrong method
        post("meeting/get_info".into(), "{}".into()).await,
        post("meeting/get_info?access_token=bogus".into(), "{}".into()).await,
        post(
            format!("meeting/get_info?access_token={noapi}"),
            "{}".into(),
        )
        .await,
        post(
            format!("meeting/get_info?access_token={token}"),
            "{not json".into(),
        )
        .await,
        post(
            format!("meeting/get_info?access_token={token}"),
            r#"{"meetingid":"hy-x"}"#.into(),
        )
        .await,
        post(
            format!("meeting/get_user_meetingid?access_token={token}"),
            r#"{"userid":"bob","cursor":"forged"}"#.into(),
        )
        .await,
    ];
    // An injected fault renders through the same envelope.
    let (status, _) = app
        .admin(
            "faults",
            json!({"path": "meeting/cancel", "errcode": -1, "times": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    replies.push(post(format!("meeting/cancel?access_token={token}"), "{}".into()).await);

    let codes: Vec<i64> = replies
        .iter()
        .map(|(_, v)| v["errcode"].as_i64().unwrap())
        .collect();
    assert_eq!(
        codes,
        [40013, 40001, 41004, 40058, 41001, 40014, 48002, 40058, 40058, 50100, -1]
    );
    for (headers, v) in &replies {
        let code = v["errcode"].as_i64().unwrap();
        errtext(v); // hint, caller ip and query link, the link naming this errcode
        let msg = v["errmsg"].as_str().unwrap();
        assert!(msg.ends_with(&format!("{MORE_INFO}{code}")), "{msg}");
        assert_eq!(errmsg_ip(v), "127.0.0.1", "the peer's address: {msg}");
        assert_eq!(headers["Error-Msg"].to_str().unwrap(), msg);
        // The request id is the one the journal records for this request.
        let rid = msg
            .split_once("hint: [")
            .unwrap()
            .1
            .split_once(']')
            .unwrap()
            .0;
        let (_, j) = app
            .admin_call(
                reqwest::Method::GET,
                &format!("requests?errcode={code}&limit=100"),
            )
            .await;
        assert!(
            j["requests"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["request_id"] == rid),
            "{rid} in the journal: {j}"
        );
    }
    // Success stays "ok", in the body and the header.
    let (h, v) = post(
        format!("meeting/get_user_meetingid?access_token={token}"),
        r#"{"userid":"bob"}"#.into(),
    )
    .await;
    assert_eq!((&v["errcode"], &v["errmsg"]), (&json!(0), &json!("ok")));
    assert_eq!(h["Error-Msg"], "ok");
    // A forwarded-for header is not trusted: the peer is named.
    let r = app
        .http
        .post(format!(
            "{}/cgi-bin/meeting/get_info?access_token=bogus",
            app.base
        ))
        .header("X-Forwarded-For", "203.0.113.9")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(errmsg_ip(&r.json::<Value>().await.unwrap()), "127.0.0.1");
}

#[tokio::test]
async fn the_authorization_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = app
            .http
            .get(format!("{}/admin/v1/clock", app.base))
            .header("Authorization", format!("{scheme} {ADMIN_KEY}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "admin, {scheme}");
        let r = app
            .http
            .post(format!("{}/ingest/v1/events", app.base))
            .header("Authorization", format!("{scheme} {INGEST_KEY}"))
            .json(&json!([]))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), StatusCode::UNAUTHORIZED, "ingest, {scheme}");
        assert!(r.status().is_success(), "ingest, {scheme}: {}", r.status());
    }
    for wrong in [
        format!("Basic {ADMIN_KEY}"),
        ADMIN_KEY.to_owned(),
        format!("Bearer{ADMIN_KEY}"),
    ] {
        let r = app
            .http
            .get(format!("{}/admin/v1/clock", app.base))
            .header("Authorization", wrong.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{wrong}");
    }
}
