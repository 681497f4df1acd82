//! `rollcall-client` against a real server (tokens, the stream, the meeting calls) and a
//! stub (failures a real server does not produce on demand, and WeCom's documented replies).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use rollcall_client::meeting::{
    meeting_type, status, CreateMeetingRequest, GetUserMeetingIdRequest, MeetingSettings,
    Reminders, UpdateMeetingRequest,
};
use rollcall_client::{Client, Error, GetAttendeeListRequest};
use serde_json::{json, Value};

use crate::harness::*;

fn stub_client(base: &str) -> rollcall_client::ClientBuilder {
    Client::builder()
        .corp(CORP, SECRET)
        .base_url(base)
        .backoff(Duration::from_millis(1))
}

fn empty_page() -> Value {
    json!({"errcode": 0, "errmsg": "ok", "has_more": false, "next_cursor": "c", "attendees": []})
}

/// The server says the cached token expired (its clock moved past the TTL while the
/// client's did not): the client fetches a new token and the call succeeds. Without the
/// refresh-once rule the second call fails with 42001.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_once_and_the_call_succeeds() {
    let server = spawn_server(300).await;
    let m = server.meeting().await;
    server
        .ingest(json!([join(&m, "s1", NOW - 60, member("bob"), 1)]))
        .await;
    let client = server.client();
    let req = GetAttendeeListRequest {
        meetingid: m.clone(),
        ..Default::default()
    };
    assert_eq!(
        client
            .get_attendee_list(&req)
            .await
            .unwrap()
            .attendees
            .len(),
        1
    );
    let first = client.access_token().await.unwrap();

    // Past the TTL on the server's clock; the client, on real time, still trusts its token
    // for another ~4 minutes (300 s minus its 60 s margin).
    server.advance(301).await;
    let page = client.get_attendee_list(&req).await.expect("refreshed");
    assert_eq!(page.attendees.len(), 1);
    let second = client.access_token().await.unwrap();
    assert_ne!(first, second, "a new token was fetched");

    // The old token really was refused by the server: the success above was the refresh.
    let raw: Value = reqwest::Client::new()
        .post(format!("{}/cgi-bin/meeting/get_attendee_list", server.base))
        .query(&[("access_token", first.as_str())])
        .json(&json!({"meetingid": m}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["errcode"], 42001, "{raw}");
}

/// 40014 (and 42001) refresh the token exactly once: a server that keeps refusing gets two
/// gettoken calls and two API calls, then the error.
#[tokio::test]
async fn an_invalid_token_is_refreshed_once_then_the_error_is_returned() {
    let (base, calls) = stub(Arc::new(|path: &str, n, _: &Value, _: &str| match path {
        "gettoken" => token_reply(&format!("t{n}"), 7200),
        _ => error_reply(40014, "invalid access_token"),
    }))
    .await;
    let client = stub_client(&base).build().unwrap();
    let req = GetAttendeeListRequest {
        meetingid: "hy1".into(),
        ..Default::default()
    };
    let err = client.get_attendee_list(&req).await.unwrap_err();
    assert!(matches!(err, Error::Api { errcode: 40014, .. }), "{err}");
    assert_eq!(calls.count("gettoken"), 2);
    assert_eq!(calls.count("meeting/get_attendee_list"), 2);

    // A server that accepts only the second token: one refresh, then success.
    let (base, calls) = stub(Arc::new(
        |path: &str, n, _: &Value, token: &str| match path {
            "gettoken" => token_reply(&format!("t{n}"), 7200),
            _ if token == "t1" => empty_page(),
            _ => error_reply(42001, "access_token expired"),
        },
    ))
    .await;
    let client = stub_client(&base).build().unwrap();
    client.get_attendee_list(&req).await.expect("second token");
    client.get_attendee_list(&req).await.expect("cached");
    assert_eq!(calls.count("gettoken"), 2);
    assert_eq!(calls.count("meeting/get_attendee_list"), 3);
}

/// The token is cached for its lifetime less the refresh margin, and replaced before it
/// lapses: with a lifetime inside the margin every call fetches a fresh one first.
#[tokio::test]
async fn the_token_is_cached_and_replaced_before_it_expires() {
    let (base, calls) = stub(Arc::new(|path: &str, n, _: &Value, _: &str| match path {
        "gettoken" => token_reply(&format!("t{n}"), 7200),
        _ => empty_page(),
    }))
    .await;
    let req = GetAttendeeListRequest {
        meetingid: "hy1".into(),
        ..Default::default()
    };
    let client = stub_client(&base).build().unwrap();
    for _ in 0..3 {
        client.get_attendee_list(&req).await.unwrap();
    }
    assert_eq!(calls.count("gettoken"), 1, "cached");

    // 7200 s of life, refreshed 7200 s early: always due.
    let client = stub_client(&base)
        .refresh_margin(Duration::from_secs(7200))
        .build()
        .unwrap();
    for _ in 0..3 {
        client.get_attendee_list(&req).await.unwrap();
    }
    assert_eq!(calls.count("gettoken"), 1 + 3, "replaced before expiry");
}

/// `system busy` is retried `max_retries` times, then returned as `Api { -1 }`.
#[tokio::test]
async fn retries_on_system_busy_stop_after_the_bound() {
    let (base, calls) = stub(Arc::new(|path: &str, _, _: &Value, _: &str| match path {
        "gettoken" => token_reply("t", 7200),
        _ => error_reply(-1, "system busy"),
    }))
    .await;
    let req = GetAttendeeListRequest {
        meetingid: "hy1".into(),
        ..Default::default()
    };
    for max in [0, 1, 4] {
        let client = stub_client(&base).max_retries(max).build().unwrap();
        let before = calls.count("meeting/get_attendee_list");
        let err = client.get_attendee_list(&req).await.unwrap_err();
        assert!(
            matches!(err, Error::Api { errcode: -1, ref errmsg } if errmsg.starts_with("system busy")),
            "{err}"
        );
        assert_eq!(
            calls.count("meeting/get_attendee_list") - before,
            1 + max as usize,
            "max_retries({max})"
        );
    }
}

/// 45009 is retried and a later success is returned; other refusals are not retried.
#[tokio::test]
async fn rate_limits_are_retried_and_other_refusals_are_not() {
    let (base, calls) = stub(Arc::new(|path: &str, n, body: &Value, _: &str| {
        match (path, body["meetingid"].as_str()) {
            ("gettoken", _) => token_reply("t", 7200),
            (_, Some("limited")) if n < 2 => error_reply(45009, "api freq out of limit"),
            (_, Some("limited")) => empty_page(),
            _ => error_reply(40058, "invalid param 'meetingid'"),
        }
    }))
    .await;
    let client = stub_client(&base).build().unwrap();
    let limited = GetAttendeeListRequest {
        meetingid: "limited".into(),
        ..Default::default()
    };
    client.get_attendee_list(&limited).await.expect("third try");
    assert_eq!(calls.count("meeting/get_attendee_list"), 3);

    let unknown = GetAttendeeListRequest {
        meetingid: "unknown".into(),
        ..Default::default()
    };
    let err = client.get_attendee_list(&unknown).await.unwrap_err();
    assert_eq!(err.errcode(), Some(40058));
    assert_eq!(calls.count("meeting/get_attendee_list"), 4, "not retried");
}

/// Many small pages, with quits and state changes landing between pages: every session
/// comes out exactly once, in `(join_time)` order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_yields_every_session_exactly_once_across_many_pages() {
    let server = spawn_server(7200).await;
    let m = server.meeting().await;
    let mut events = Vec::new();
    // Every external user joins once; joins share seconds (ties broken by ingest order)
    // and arrive out of order.
    let mut external_joins = Vec::new();
    for i in 0..230 {
        let at = NOW - 3000 + (i * 7 % 230) / 2;
        events.push(join(
            &m,
            &format!("x{i}"),
            at,
            external(&format!("ext-{i}")),
            3,
        ));
        external_joins.push(at);
    }
    // bob rejoins three times; alice is outside the app's range and never listed.
    let bob_joins: Vec<i64> = (0..3).map(|k| NOW - 2000 + k * 100).collect();
    for (k, at) in bob_joins.iter().enumerate() {
        events.push(join(&m, &format!("b{k}"), *at, member("bob"), 1));
        events.push(quit(&m, &format!("b{k}"), at + 50));
    }
    events.push(join(&m, "a0", NOW - 1500, member("alice"), 1));
    server.ingest(Value::Array(events)).await;

    let client = server.client();
    let req = GetAttendeeListRequest {
        meetingid: m.clone(),
        limit: Some(7),
        ..Default::default()
    };
    let pages = client.attendee_pages(req);
    futures::pin_mut!(pages);
    let mut seen = Vec::new();
    let mut n_pages = 0;
    while let Some(page) = pages.next().await {
        let page = page.expect("page");
        assert!(page.attendees.len() <= 7);
        n_pages += 1;
        seen.extend(page.attendees);
        // Writes land while the listing is read: quits of sessions on either side of the
        // position.
        if n_pages % 5 == 0 {
            let i = (n_pages * 37) % 230;
            server
                .ingest(json!([quit(&m, &format!("x{i}"), NOW - 100)]))
                .await;
        }
    }
    assert_eq!(n_pages, 233usize.div_ceil(7));
    assert_eq!(seen.len(), 233);

    // Externals: 230 distinct people (tmp_openids), one session each, at the join times
    // ingested.
    let (bob, externals): (Vec<_>, Vec<_>) = seen.iter().partition(|a| a.userid == "bob");
    assert!(externals.iter().all(|a| a.userid.is_empty()), "no alice");
    let openids: HashSet<&str> = externals.iter().map(|a| a.tmp_openid.as_str()).collect();
    assert_eq!(openids.len(), 230, "each external user exactly once");
    let mut got: Vec<i64> = externals
        .iter()
        .map(|a| a.join_time.parse().unwrap())
        .collect();
    got.sort_unstable();
    external_joins.sort_unstable();
    assert_eq!(got, external_joins);
    // bob: his three sessions, once each.
    let got: Vec<i64> = bob.iter().map(|a| a.join_time.parse().unwrap()).collect();
    assert_eq!(got, bob_joins);
    let joins: Vec<i64> = seen.iter().map(|a| a.join_time.parse().unwrap()).collect();
    assert!(
        joins.windows(2).all(|w| w[0] <= w[1]),
        "ordered by join_time"
    );

    // The flattened stream sees the same rows.
    let flat: Vec<_> = client
        .attendees_from(GetAttendeeListRequest {
            meetingid: m.clone(),
            limit: Some(13),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(flat, seen_now(&client, &m).await);
    let all: Vec<_> = client.attendees(&m, None).try_collect().await.unwrap();
    assert_eq!(all.len(), 233);
}

/// The listing as it stands, in 100-row pages.
async fn seen_now(client: &Client, m: &str) -> Vec<rollcall_client::Attendee> {
    client.attendees(m, None).try_collect().await.unwrap()
}

/// The follow stream resumes from the exhausted cursor and yields only what joined since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follow_stream_yields_late_joins_once() {
    let server = spawn_server(7200).await;
    let m = server.meeting().await;
    server
        .ingest(json!([join(&m, "s1", NOW - 600, member("bob"), 1)]))
        .await;
    let client = server.client();
    let req = GetAttendeeListRequest {
        meetingid: m.clone(),
        ..Default::default()
    };
    let pages = client.follow_attendee_pages(req, Duration::from_millis(20));
    futures::pin_mut!(pages);
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(first.attendees.len(), 1);
    assert!(!first.has_more);
    // A late join whose join_time lies behind the first one.
    server
        .ingest(json!([join(&m, "s2", NOW - 900, member("carol"), 4)]))
        .await;
    let mut late = Vec::new();
    while late.is_empty() {
        let page = tokio::time::timeout(PATIENCE, pages.next())
            .await
            .expect("a page in time")
            .unwrap()
            .unwrap();
        late.extend(page.attendees);
    }
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].userid, "carol");
}

/// The typed meeting calls against the real server: create a weekly series, read it back,
/// rename it, find it among the admin's meetings, cancel it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meeting_calls_round_trip_through_the_server() {
    let server = spawn_server(7200).await;
    let client = server.client();
    let start = (NOW + 86_400) as u64;
    let created = client
        .create_meeting(&CreateMeetingRequest {
            admin_userid: "bob".into(),
            title: "Design review".into(),
            meeting_start: start,
            meeting_duration: 3600,
            invitees: Some(["carol", "zhangsan"].into_iter().collect()),
            reminders: Some(Reminders {
                is_repeat: Some(1),
                repeat_type: Some(1),
                repeat_until_type: Some(1),
                repeat_until_count: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("created");
    let m = created.meetingid;
    let info = client.get_meeting_info(&m, None).await.expect("get_info");
    assert_eq!(info.title, "Design review");
    assert_eq!(info.meeting_start, start);
    assert_eq!(info.status, status::PENDING);
    assert_eq!(info.meeting_type, meeting_type::RECURRING);
    assert_eq!(info.sub_meetings.len(), 3, "{info:?}");

    client
        .update_meeting(&UpdateMeetingRequest {
            meetingid: m.clone(),
            title: Some("Renamed".into()),
            ..Default::default()
        })
        .await
        .expect("updated");
    assert_eq!(
        client.get_meeting_info(&m, None).await.unwrap().title,
        "Renamed"
    );

    let ids: Vec<String> = client
        .user_meetingids(GetUserMeetingIdRequest {
            userid: "bob".into(),
            begin_time: Some(NOW as u64),
            end_time: Some((NOW + 30 * 86_400) as u64),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("get_user_meetingid");
    assert!(ids.contains(&m), "{ids:?}");

    client.cancel_meeting(&m, None).await.expect("cancelled");
    let info = client.get_meeting_info(&m, None).await.unwrap();
    assert_eq!(info.status, status::CANCELLED);
    // A cancelled meeting is no longer pending: a second cancel is refused, typed.
    let err = client.cancel_meeting(&m, None).await.unwrap_err();
    assert!(matches!(err, Error::Api { .. }), "{err}");
}

/// The meeting calls go to WeCom's paths with WeCom's bodies, and decode WeCom's replies.
#[tokio::test]
async fn meeting_calls_use_wecoms_paths_and_shapes() {
    let (base, calls) = stub(Arc::new(|path: &str, n, body: &Value, _: &str| match path {
        "gettoken" => token_reply("t", 7200),
        "meeting/create" => {
            json!({"errcode": 0, "errmsg": "ok", "meetingid": "hyNEW", "meeting_code": "123456789",
                   "excess_users": []})
        }
        "meeting/get_info" => json!({
            "errcode": 0, "errmsg": "ok", "admin_userid": "zhangsan", "title": "Weekly sync",
            "meeting_start": 1760000000, "meeting_duration": 3600, "status": 2, "meeting_type": 1,
            "attendees": {"member": [{"userid": "bob", "status": 1, "first_join_time": 1760000100,
                                      "last_quit_time": 1760003000, "total_join_count": 2,
                                      "cumulative_time": 2700}]},
            "current_sub_meetingid": body["sub_meetingid"].clone(),
            "sub_meetings": [{"sub_meetingid": "sub1", "status": 2, "start_time": 1760000000,
                              "end_time": 1760003600}]
        }),
        "meeting/cancel" | "meeting/update" => json!({"errcode": 0, "errmsg": "ok"}),
        "meeting/get_user_meetingid" => match n {
            0 => json!({"errcode": 0, "errmsg": "ok", "next_cursor": "p2", "meetingid_list": ["hy1", "hy2"]}),
            _ => json!({"errcode": 0, "errmsg": "ok", "next_cursor": "", "meetingid_list": ["hy3"]}),
        },
        _ => error_reply(40058, "invalid param"),
    }))
    .await;
    let client = stub_client(&base).build().unwrap();

    let created = client
        .create_meeting(&CreateMeetingRequest {
            admin_userid: "zhangsan".into(),
            title: "Weekly sync".into(),
            meeting_start: 1_760_000_000,
            meeting_duration: 3600,
            agentid: Some(AGENT),
            invitees: Some(["bob", "carol"].into_iter().collect()),
            settings: Some(MeetingSettings {
                enable_waiting_room: Some(true),
                ..Default::default()
            }),
            reminders: Some(Reminders {
                is_repeat: Some(1),
                repeat_type: Some(1),
                repeat_until_type: Some(1),
                repeat_until_count: Some(4),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.meetingid, "hyNEW");
    assert_eq!(created.meeting_code.as_deref(), Some("123456789"));
    assert_eq!(
        calls.bodies("meeting/create")[0],
        json!({"admin_userid": "zhangsan", "title": "Weekly sync", "meeting_start": 1760000000u64,
               "meeting_duration": 3600, "agentid": AGENT, "invitees": {"userid": ["bob", "carol"]},
               "settings": {"enable_waiting_room": true},
               "reminders": {"is_repeat": 1, "repeat_type": 1, "repeat_until_type": 1,
                             "repeat_until_count": 4}})
    );

    let info = client
        .get_meeting_info("hyNEW", Some("sub1"))
        .await
        .unwrap();
    assert_eq!(info.status, status::IN_PROGRESS);
    assert_eq!(info.meeting_type, meeting_type::RECURRING);
    assert_eq!(info.attendees.member[0].figures.cumulative_time, 2700);
    assert_eq!(info.current_sub_meetingid.as_deref(), Some("sub1"));
    assert_eq!(
        calls.bodies("meeting/get_info")[0],
        json!({"meetingid": "hyNEW", "sub_meetingid": "sub1"})
    );

    client
        .update_meeting(&UpdateMeetingRequest {
            meetingid: "hyNEW".into(),
            meeting_duration: Some(1800),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        calls.bodies("meeting/update")[0],
        json!({"meetingid": "hyNEW", "meeting_duration": 1800})
    );

    client.cancel_meeting("hyNEW", None).await.unwrap();
    assert_eq!(
        calls.bodies("meeting/cancel")[0],
        json!({"meetingid": "hyNEW"})
    );

    let ids: Vec<String> = client
        .user_meetingids(GetUserMeetingIdRequest {
            userid: "zhangsan".into(),
            begin_time: Some(1_759_000_000),
            end_time: Some(1_761_000_000),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids, ["hy1", "hy2", "hy3"]);
    let bodies = calls.bodies("meeting/get_user_meetingid");
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1]["cursor"], "p2");
    assert_eq!(bodies[1]["begin_time"], 1_759_000_000);

    // A refusal is typed.
    let err = client
        .call::<_, Value>("meeting/nonexistent", &json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(40058));
}

/// An unreachable server is a transport error, not a panic or a decode error.
#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = stub_client(&base).build().unwrap();
    let err = client.access_token().await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err}");
    assert!(err.is_transient());
    // The message names the cause and the endpoint, never the secret in gettoken's query.
    let text = err.to_string();
    assert!(text.contains("/cgi-bin/gettoken"), "{text}");
    assert!(text.to_lowercase().contains("connect"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(!text.contains("corpsecret"), "{text}");
}
