//! WeCom's wire conventions and malformed input of every kind (SPEC §1).

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn envelope_headers_and_content_type() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let token = app.token(SECRET).await;
    let (status, headers, bytes) = app
        .cgi_raw(
            &format!("meeting/get_attendee_list?access_token={token}"),
            json!({"meetingid": m}).to_string(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json; charset=UTF-8");
    assert_eq!(headers["error-code"], "0");
    assert_eq!(headers["error-msg"], "ok");
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["errcode"], 0);

    let (status, headers, bytes) = app
        .cgi_raw("meeting/get_attendee_list?access_token=bogus", "{}")
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json; charset=UTF-8");
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(expect_err(&v, 40014), "invalid access_token");
    assert_eq!(headers["error-code"], "40014");
    assert_eq!(
        headers["error-msg"].to_str().unwrap(),
        v["errmsg"].as_str().unwrap()
    );
    // Each request has its own id.
    let (_, _, again) = app
        .cgi_raw("meeting/get_attendee_list?access_token=bogus", "{}")
        .await;
    let again: Value = serde_json::from_slice(&again).unwrap();
    assert_ne!(again["errmsg"], v["errmsg"]);
}

#[tokio::test]
async fn unknown_paths_are_404_with_an_empty_body() {
    let app = spawn_app().await;
    for path in [
        "/cgi-bin/nope",
        "/cgi-bin/meeting/nope",
        "/",
        "/foo/bar",
        "/cgi-bin/gettoken/extra",
    ] {
        let r = app
            .http
            .post(format!("{}{path}", app.base))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert!(r.bytes().await.unwrap().is_empty(), "{path}");
        let r = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn a_post_call_reached_with_get_is_40058() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    let r = app
        .http
        .get(format!(
            "{}/cgi-bin/meeting/get_attendee_list?access_token={token}",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    expect_err(&r.json().await.unwrap(), 40058);
}

#[tokio::test]
async fn bad_json_and_wrong_shapes() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    let path = format!("meeting/get_attendee_list?access_token={token}");
    for body in [
        "{",
        "",
        "   ",
        "nope",
        "{\"meetingid\":}",
        "[1,2]",
        "\"str\"",
        "{\"meetingid\": \"a\",}",
    ] {
        let (status, _, bytes) = app.cgi_raw(&path, body).await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let text = expect_err(&v, 40058);
        assert!(
            text.contains("Warning: wrong json format."),
            "{body:?} -> {text}"
        );
    }
    // The token is checked before the body: a bad token with bad JSON is a token error.
    let (_, _, bytes) = app
        .cgi_raw("meeting/get_attendee_list?access_token=bogus", "{")
        .await;
    expect_err(&serde_json::from_slice(&bytes).unwrap(), 40014);
    let (_, _, bytes) = app.cgi_raw("meeting/get_attendee_list", "{").await;
    expect_err(&serde_json::from_slice(&bytes).unwrap(), 41001);
}

#[tokio::test]
async fn bodies_over_1_mib_are_refused() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let token = app.token(SECRET).await;
    let pad = "x".repeat(1 << 20);
    let body = json!({"meetingid": m, "pad": pad}).to_string();
    let (status, _, bytes) = app
        .cgi_raw(
            &format!("meeting/get_attendee_list?access_token={token}"),
            body,
        )
        .await;
    assert_eq!(status, 200);
    expect_err(&serde_json::from_slice(&bytes).unwrap(), 40058);
    // Just under the limit, unknown fields are ignored.
    let body = json!({"meetingid": m, "pad": "x".repeat((1 << 20) - 100)}).to_string();
    let (_, _, bytes) = app
        .cgi_raw(
            &format!("meeting/get_attendee_list?access_token={token}"),
            body,
        )
        .await;
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap()["errcode"],
        0
    );
}

#[tokio::test]
async fn integers_are_numbers_or_digit_strings_and_bad_fields_are_named() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    app.ingest_ok(json!([join(&m, "a", NOW - 100, "bob")]))
        .await;
    let token = app.token(SECRET).await;
    let ok = app.list(&token, json!({"meetingid": m, "start_time": (NOW - DAY).to_string(), "end_time": NOW, "limit": "10"})).await;
    assert_eq!(ok["attendees"].as_array().unwrap().len(), 1);
    for (field, value) in [
        ("start_time", json!(-1)),
        ("start_time", json!(1.5)),
        ("start_time", json!("12a")),
        ("start_time", json!(" 1")),
        ("start_time", json!(4_294_967_296u64)),
        ("end_time", json!(true)),
        ("end_time", json!([1])),
        ("end_time", json!({})),
        ("limit", json!(-5)),
        ("limit", json!("1e2")),
        ("limit", json!(4_294_967_296u64)),
        ("meetingid", json!(123)),
        ("meetingid", json!(["a"])),
        ("sub_meetingid", json!(5)),
        ("cursor", json!(7)),
    ] {
        let mut body = json!({"meetingid": m});
        body[field] = value.clone();
        let v = app.list(&token, body).await;
        assert_eq!(
            expect_err(&v, 40058),
            format!("invalid param '{field}'"),
            "{field}={value}"
        );
    }
    assert_eq!(
        expect_err(&app.list(&token, json!({})).await, 40058),
        "invalid param 'meetingid'"
    );
    assert_eq!(
        expect_err(&app.list(&token, json!({"meetingid": ""})).await, 40058),
        "invalid param 'meetingid'"
    );
    assert_eq!(
        expect_err(&app.list(&token, json!({"meetingid": null})).await, 40058),
        "invalid param 'meetingid'"
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
        "[0-9]{1,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::hash_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_body(meetingid: String) -> impl Strategy<Value = String> {
    let fields = prop::collection::vec(
        (
            prop::sample::select(vec![
                "meetingid",
                "sub_meetingid",
                "start_time",
                "end_time",
                "cursor",
                "limit",
                "other",
            ]),
            arb_json(),
        ),
        0..6,
    );
    prop_oneof![
        fields.prop_map(move |fs| {
            let mut body = json!({"meetingid": meetingid.clone()});
            for (k, v) in fs {
                body[k] = v;
            }
            body.to_string()
        }),
        arb_json().prop_map(|v| v.to_string()),
        prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

#[test]
fn no_input_shape_gets_a_5xx_or_a_non_wecom_answer() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, m, token) = rt.block_on(async {
        let app = spawn_app().await;
        let m = app.one_off().await;
        app.ingest_ok(json!([
            join(&m, "a", NOW - 100, "bob"),
            join(&m, "b", NOW - 50, "carol")
        ]))
        .await;
        let token = app.token(SECRET).await;
        (app, m, token)
    });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    runner
        .run(&arb_body(m), |body| {
            let v = rt.block_on(async {
                let (status, _, bytes) = app
                    .cgi_raw(
                        &format!("meeting/get_attendee_list?access_token={token}"),
                        body.clone(),
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
                serde_json::from_slice::<Value>(&bytes).expect("always JSON")
            });
            let code = v["errcode"].as_i64().unwrap();
            prop_assert!([0, 40058, 50100].contains(&code), "{} -> {}", body, v);
            if code != 0 {
                errtext(&v);
            }
            Ok(())
        })
        .unwrap();
}

/// A NUL in a string field (found by the proptest above, on PostgreSQL): 40058 naming the
/// field on every backend, not a clean "not found" on SQLite and -1 on PostgreSQL (which
/// cannot hold a NUL in text). Ingest refuses such an event with a reason.
#[tokio::test]
async fn a_nul_in_a_string_field_is_a_bad_field_on_every_backend() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    let v = app.list(&token, json!({"meetingid": "\u{0}"})).await;
    expect_err(&v, 40058);
    assert!(errtext(&v).contains("meetingid"), "{v}");
    let m = app.one_off().await;
    let report = app
        .ingest(json!([join(&m, "s\u{0}", NOW - 10, "bob")]))
        .await;
    assert_eq!(report["accepted"], 0, "{report}");
    assert_eq!(report["rejected"][0]["index"], 0, "{report}");
}
