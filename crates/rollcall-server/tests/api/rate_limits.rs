//! Rate limits (SPEC §7, §9): per app per call token buckets, 45009 with WeCom's body and
//! headers, refilled by the (virtual) server clock, set at run time through the admin API.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// `GET` or `PUT /admin/v1/rate_limits`.
async fn limits(app: &TestApp, put: Option<Value>) -> (StatusCode, Value) {
    let url = format!("{}/admin/v1/rate_limits", app.base);
    let req = match &put {
        Some(body) => app.http.put(url).json(body),
        None => app.http.get(url),
    };
    let r = req.bearer_auth(ADMIN_KEY).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

/// One get_info call; its errcode and the raw reply.
async fn get_info(app: &TestApp, token: &str) -> (i64, reqwest::header::HeaderMap, Value) {
    let (status, headers, bytes) = app
        .cgi_raw(
            &format!("meeting/get_info?access_token={token}"),
            json!({"meetingid": "nope"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    (v["errcode"].as_i64().unwrap(), headers, v)
}

#[tokio::test]
async fn an_empty_bucket_answers_45009_until_the_clock_refills_it() {
    let app = spawn_app().await;
    let (status, v) = limits(
        &app,
        Some(json!({"per_minute": 6000, "calls": {"meeting/get_info": 3}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let token = app.token(SECRET).await;
    for _ in 0..3 {
        assert_eq!(get_info(&app, &token).await.0, 40058);
    }
    let (code, headers, v) = get_info(&app, &token).await;
    assert_eq!(code, 45009, "{v}");
    let msg = v["errmsg"].as_str().unwrap();
    assert!(msg.starts_with("api freq out of limit, hint: ["), "{msg}");
    assert_eq!(
        v.as_object().unwrap().len(),
        2,
        "only errcode and errmsg: {v}"
    );
    assert_eq!(headers["Error-Code"], "45009");
    assert_eq!(headers["Error-Msg"].to_str().unwrap(), msg);
    assert_eq!(headers["content-type"], "application/json; charset=UTF-8");

    // Another call of the same app, and the same call of another app, are unaffected.
    let page = app.list(&token, json!({"meetingid": "nope"})).await;
    assert_eq!(page["errcode"], 40058, "{page}");
    let other = app.token(OTHER_SECRET).await;
    assert_eq!(get_info(&app, &other).await.0, 40058);

    // 3 a minute is one every 20 s of the server's clock.
    app.advance(19).await;
    assert_eq!(get_info(&app, &token).await.0, 45009);
    app.advance(1).await;
    assert_eq!(get_info(&app, &token).await.0, 40058);
    assert_eq!(get_info(&app, &token).await.0, 45009);
    app.advance(60).await;
    for _ in 0..3 {
        assert_eq!(get_info(&app, &token).await.0, 40058);
    }

    // A reset (POST /admin/v1/reset's part) fills the buckets and restores the start-up limits.
    app.state.controls().reset();
    let (_, v) = limits(&app, None).await;
    assert_eq!(v, json!({"per_minute": 6000, "calls": {}}));
    for _ in 0..5 {
        assert_eq!(get_info(&app, &token).await.0, 40058);
    }
}

#[tokio::test]
async fn gettoken_is_limited_per_app_after_the_secret_is_checked() {
    let app = spawn_app().await;
    let (status, _) = limits(&app, Some(json!({"calls": {"gettoken": 2}}))).await;
    assert_eq!(status, StatusCode::OK);
    let query = |secret: &str| format!("corpid={CORP}&corpsecret={secret}");
    for _ in 0..2 {
        assert_eq!(app.gettoken_raw(&query(SECRET)).await["errcode"], 0);
    }
    let v = app.gettoken_raw(&query(SECRET)).await;
    expect_err(&v, 45009);
    // A wrong secret is refused for what it is and spends nobody's bucket.
    expect_err(&app.gettoken_raw(&query("wrong")).await, 40001);
    assert_eq!(app.gettoken_raw(&query(OTHER_SECRET)).await["errcode"], 0);
}

#[tokio::test]
async fn the_limits_are_read_and_replaced_at_run_time() {
    let app = spawn_app().await;
    let (status, v) = limits(&app, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, json!({"per_minute": 6000, "calls": {}}));
    let new = json!({"per_minute": 1, "calls": {"meeting/get_attendee_list": 600}});
    assert_eq!(
        limits(&app, Some(new.clone())).await,
        (StatusCode::OK, new.clone())
    );
    assert_eq!(limits(&app, None).await.1, new);
    let token = app.token(SECRET).await;
    assert_eq!(get_info(&app, &token).await.0, 40058);
    assert_eq!(
        get_info(&app, &token).await.0,
        45009,
        "per_minute 1 applies"
    );

    for bad in [
        json!({"per_minute": 0}),
        json!({"per_minute": -1}),
        json!({"per_minute": 2.5}),
        json!({"per_minute": "many"}),
        json!({"calls": {"meeting/nope": 5}}),
        json!({"calls": {"gettoken": 0}}),
        json!({"per_minutes": 5}),
        json!("all"),
    ] {
        let (status, v) = limits(&app, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    let (_, v) = limits(&app, Some(json!({"calls": {"meeting/nope": 5}}))).await;
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("unknown call \"meeting/nope\""),
        "{v}"
    );
    assert_eq!(
        limits(&app, None).await.1,
        new,
        "a refused PUT changes nothing"
    );

    let r = app
        .http
        .get(format!("{}/admin/v1/rate_limits", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "admin key required");
}
