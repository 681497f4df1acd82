//! `GET /cgi-bin/gettoken` (SPEC §2).

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn missing_parameters_are_reported_secret_first() {
    let app = spawn_app().await;
    assert_eq!(
        expect_err(&app.gettoken_raw("").await, 41004),
        "corpsecret missing"
    );
    assert_eq!(
        expect_err(&app.gettoken_raw(&format!("corpid={CORP}")).await, 41004),
        "corpsecret missing"
    );
    assert_eq!(
        expect_err(
            &app.gettoken_raw(&format!("corpsecret={SECRET}")).await,
            41002
        ),
        "corpid missing"
    );
    assert_eq!(
        expect_err(
            &app.gettoken_raw(&format!("corpid=&corpsecret={SECRET}"))
                .await,
            41002
        ),
        "corpid missing"
    );
}

#[tokio::test]
async fn unknown_corp_wrong_secret_and_disabled_app() {
    let app = spawn_app().await;
    assert_eq!(
        expect_err(
            &app.gettoken_raw(&format!("corpid=wwnope&corpsecret={SECRET}"))
                .await,
            40013
        ),
        "invalid corpid"
    );
    assert_eq!(
        expect_err(
            &app.gettoken_raw(&format!("corpid={CORP}&corpsecret=wrong"))
                .await,
            40001
        ),
        "invalid credential"
    );
    assert_eq!(
        expect_err(
            &app.gettoken_raw(&format!("corpid={CORP}&corpsecret={DISABLED_SECRET}"))
                .await,
            40001
        ),
        "invalid credential"
    );
}

#[tokio::test]
async fn same_token_while_valid_then_a_new_one() {
    let app = spawn_app().await;
    let q = format!("corpid={CORP}&corpsecret={SECRET}");
    let first = app.gettoken_raw(&q).await;
    assert_eq!(first["errcode"], 0);
    assert_eq!(first["errmsg"], "ok");
    assert_eq!(first["expires_in"], 7200);
    let token = first["access_token"].as_str().unwrap().to_owned();
    assert!(token.len() <= 512 && token.len() >= 32);

    app.clock.advance(100);
    let again = app.gettoken_raw(&q).await;
    assert_eq!(again["access_token"], token.as_str());
    assert_eq!(again["expires_in"], 7100);

    // Another app gets another token.
    assert_ne!(app.token(OTHER_SECRET).await, token);

    // The token works until it expires, then answers 42001, and gettoken issues a new one.
    let m = app.one_off().await;
    assert_eq!(
        app.list(&token, json!({"meetingid": m})).await["errcode"],
        0
    );
    app.clock.advance(7100);
    assert_eq!(
        expect_err(&app.list(&token, json!({"meetingid": m})).await, 42001),
        "access_token expired"
    );
    let fresh = app.gettoken_raw(&q).await;
    assert_ne!(fresh["access_token"], token.as_str());
    assert_eq!(fresh["expires_in"], 7200);
    assert_eq!(
        app.list(
            fresh["access_token"].as_str().unwrap(),
            json!({"meetingid": m})
        )
        .await["errcode"],
        0
    );
}

#[tokio::test]
async fn concurrent_gettoken_calls_agree() {
    let app = spawn_app().await;
    let calls = (0..8).map(|_| app.token(SECRET));
    let tokens = futures::future::join_all(calls).await;
    assert!(tokens.windows(2).all(|w| w[0] == w[1]), "{tokens:?}");
}

#[tokio::test]
async fn tokens_are_not_stored_in_clear() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    let dir = app.stop().await.expect("dir");
    if let Some(url) = postgres_url() {
        // Every row of every table of the test's schema, as text.
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let schema = schema_for(dir.path());
        let tables = client
            .query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
                &[&schema],
            )
            .await
            .unwrap();
        assert!(!tables.is_empty());
        for t in tables {
            let name: String = t.get(0);
            for row in client
                .query(
                    &format!("SELECT t::text FROM \"{schema}\".\"{name}\" t"),
                    &[],
                )
                .await
                .unwrap()
            {
                let text: String = row.get(0);
                assert!(
                    !text.contains(&token) && !text.contains(SECRET),
                    "{name} holds a token or secret in clear"
                );
            }
        }
        return;
    }
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "token found in clear in the store"
        );
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "app secret found in clear in the store"
        );
    }
}

#[tokio::test]
async fn tokens_survive_a_restart() {
    let app = spawn_app().await;
    let token = app.token(SECRET).await;
    let m = app.one_off().await;
    let clock = app.clock.clone();
    let dir = app.stop().await.unwrap();
    let app = restart(dir.path(), clock).await;
    assert_eq!(
        app.list(&token, json!({"meetingid": m})).await["errcode"],
        0
    );
    assert_eq!(app.token(SECRET).await, token);
}

#[tokio::test]
async fn malformed_unknown_and_missing_tokens() {
    let app = spawn_app().await;
    let m = app.one_off().await;
    let body = json!({"meetingid": m}).to_string();
    for (query, code) in [
        ("", 41001),
        ("access_token=", 41001),
        ("access_token=short", 40014),
        (&*format!("access_token={}", "A".repeat(43)), 40014),
        (&*format!("access_token={}", "A".repeat(600)), 40014),
        ("access_token=%FF%FE", 40014),
    ] {
        let (status, _, bytes) = app
            .cgi_raw(&format!("meeting/get_attendee_list?{query}"), body.clone())
            .await;
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        expect_err(&v, code);
    }
    // The token is read only from the query: a header or a body field does not count.
    let token = app.token(SECRET).await;
    let r = app
        .http
        .post(format!("{}/cgi-bin/meeting/get_attendee_list", app.base))
        .header("access_token", &token)
        .bearer_auth(&token)
        .body(json!({"meetingid": m, "access_token": token}).to_string())
        .send()
        .await
        .unwrap();
    expect_err(&r.json().await.unwrap(), 41001);
}

#[tokio::test]
async fn odd_query_strings_still_get_wecom_answers() {
    let app = spawn_app().await;
    // A repeated parameter: the first value counts (never axum's plain-text 400).
    let v = app
        .gettoken_raw(&format!(
            "corpid={CORP}&corpid=other&corpsecret={SECRET}&corpsecret=x"
        ))
        .await;
    assert_eq!(v["errcode"], 0, "{v}");
    for (query, code) in [
        ("corpid=%ZZ&corpsecret=x", 40013),
        ("corpsecret=%FF%FE&corpid=wwtestcorp000001", 40001),
        ("corpid[]=1&corpsecret[]=2", 41004),
        ("&&&=&corpsecret", 41004),
    ] {
        expect_err(&app.gettoken_raw(query).await, code);
    }
}
