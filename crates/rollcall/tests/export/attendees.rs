//! `rollcall attendees` (the built binary) against an in-process server.

use futures::TryStreamExt;
use serde_json::{json, Value};

use crate::harness::*;

/// A meeting with five visible sessions (bob twice, one of them on two pages' border with
/// `--page-size 2`; zhangsan still in the meeting; carol; an external user) and alice, who
/// is outside the app's range.
async fn seeded() -> (Server, String) {
    let server = spawn_server(7200).await;
    let m = server.meeting().await;
    server
        .ingest(json!([
            join(&m, "b1", NOW - 3600, member("bob"), 1),
            quit(&m, "b1", NOW - 3000),
            join(&m, "z1", NOW - 3300, member("zhangsan"), 8),
            join(&m, "c1", NOW - 3200, member("carol"), 4),
            quit(&m, "c1", NOW - 600),
            join(&m, "a1", NOW - 3100, member("alice"), 1),
            join(&m, "e1", NOW - 2500, external("ext-1"), 5),
            quit(&m, "e1", NOW - 2000),
            join(&m, "b2", NOW - 1200, member("bob"), 4),
            quit(&m, "b2", NOW - 100),
        ]))
        .await;
    (server, m)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_has_a_header_and_one_row_per_session_with_raw_values() {
    let (server, m) = seeded().await;
    let out = output(server.rollcall(&[
        "attendees",
        "--meeting",
        &m,
        "--format",
        "csv",
        "--page-size",
        "2",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // stderr is not a terminal: no progress, nothing at all.
    assert_eq!(text(&out.stderr), "");
    let mut r = csv::Reader::from_reader(&out.stdout[..]);
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "tmp_openid",
            "userid",
            "join_time",
            "quit_time",
            "instance_id",
            "role",
            "webinar_role",
            "join_type",
            "net",
            "audio_state",
            "video_state",
            "screen_shared_state",
            "customer_data"
        ]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5, "{}", text(&out.stdout));
    let users: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    assert_eq!(users, ["bob", "zhangsan", "carol", "", "bob"]);
    assert_eq!(&rows[0][2], (NOW - 3600).to_string());
    assert_eq!(&rows[0][3], (NOW - 3000).to_string());
    assert_eq!(&rows[1][3], "", "zhangsan is still in the meeting");
    assert_eq!(&rows[1][4], "8");
    assert_eq!(&rows[1][8], "WIFI");
    assert_eq!(&rows[0][9], "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_and_ndjson_are_the_api_objects() {
    let (server, m) = seeded().await;
    let wire: Vec<Value> = server
        .client()
        .attendees(&m, None)
        .map_ok(|a| serde_json::to_value(a).unwrap())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(wire.len(), 5);

    let out = output(server.rollcall(&["attendees", "--meeting", &m, "--format", "json"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(json, Value::Array(wire.clone()));
    assert!(json[0]["join_time"].is_string());

    let out = output(server.rollcall(&[
        "attendees",
        "--meeting",
        &m,
        "--format",
        "ndjson",
        "--page-size",
        "3",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines, wire);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_has_a_header_and_local_times() {
    let (server, m) = seeded().await;
    let mut cmd = server.rollcall(&["attendees", "--meeting", &m]);
    cmd.env("TZ", "Asia/Shanghai");
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1 + 5, "{table}");
    for col in [
        "JOIN (Asia/Shanghai)",
        "QUIT",
        "USERID",
        "TMP_OPENID",
        "DEVICE",
        "ROLE",
    ] {
        assert!(lines[0].contains(col), "{col} in {table}");
    }
    // bob joined at NOW − 3600 = 07:53:20 UTC = 15:53:20 in Shanghai.
    let first: Vec<&str> = lines[1].split_whitespace().take(5).collect();
    assert_eq!(
        first,
        ["2025-10-09", "15:53:20", "2025-10-09", "16:03:20", "bob"],
        "{table}"
    );
    assert!(
        lines[2].contains("in meeting") && lines[2].contains("小程序"),
        "{table}"
    );
    assert!(
        lines[4].contains("  -  "),
        "the external user has no userid: {table}"
    );
    // Columns line up: USERID starts at the same place on every line.
    let at = lines[0].find("USERID").unwrap();
    for l in &lines[1..] {
        assert_ne!(&l[at..at + 1], " ", "{table}");
        assert_eq!(&l[at - 2..at], "  ", "{table}");
    }

    // Another zone, another rendering of the same instant.
    let mut cmd = server.rollcall(&["attendees", "--meeting", &m]);
    cmd.env("TZ", "UTC");
    let out = output(cmd).await;
    assert!(text(&out.stdout).contains("2025-10-09 07:53:20"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_select_the_window_and_override_the_environment() {
    let (server, m) = seeded().await;
    // Flags only, in a clean environment; RFC 3339 and unix seconds.
    let mut cmd = rollcall_bin(&[
        "attendees",
        "--corpid",
        CORP,
        "--secret",
        SECRET,
        "--base-url",
        &server.base,
        "--meeting",
        &m,
        "--format",
        "ndjson",
        "--since",
        "2025-10-09T07:58:20Z", // NOW − 3300: zhangsan's join, inclusive
        "--until",
        &(NOW - 2500).to_string(),
    ]);
    // A wrong environment is overridden by the flags.
    cmd.env("WECOM_SECRET", "wrong")
        .env("ROLLCALL_BASE_URL", "http://127.0.0.1:9");
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let users: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["userid"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(users, ["zhangsan", "carol", ""]);

    // A local date-time, read in TZ.
    let mut cmd = server.rollcall(&[
        "attendees",
        "--meeting",
        &m,
        "--format",
        "csv",
        "--since",
        "2025-10-09 16:33:20", // NOW − 1200 in Shanghai
    ]);
    cmd.env("TZ", "Asia/Shanghai");
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().count(),
        1 + 1,
        "bob's rejoin only"
    );

    // A time that is not one is refused before any call.
    let out = output(server.rollcall(&["attendees", "--meeting", &m, "--since", "soon"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not a time"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_exits_non_zero_with_errcode_and_errmsg() {
    let (server, _m) = seeded().await;
    let out = output(server.rollcall(&[
        "attendees",
        "--meeting",
        "hyNOSUCHMEETING",
        "--format",
        "csv",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("errcode 40058"), "{err}");
    assert!(err.contains("invalid param 'meetingid'"), "{err}");
    assert!(err.contains("hint: ["), "WeCom's errmsg, whole: {err}");
    assert!(out.stdout.is_empty(), "no header for a refused listing");

    // A wrong secret: gettoken's refusal.
    let mut cmd = server.rollcall(&["attendees", "--meeting", "hy1"]);
    cmd.env("WECOM_SECRET", "not-the-secret");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("errcode 40001"),
        "{}",
        text(&out.stderr)
    );

    // Nobody listening: a transport error, without the secret from gettoken's URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut cmd = server.rollcall(&["attendees", "--meeting", "hy1"]);
    cmd.env("ROLLCALL_BASE_URL", &nowhere);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("transport") && err.contains(&nowhere), "{err}");
    assert!(!err.contains(SECRET), "{err}");

    // No credentials at all: a usage error naming what is missing.
    let out = output(rollcall_bin(&["attendees", "--meeting", "hy1"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--corpid"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_prints_sessions_that_join_after_it_started() {
    let (server, m) = seeded().await;
    let mut follow = Lines::spawn(server.rollcall(&[
        "attendees",
        "--meeting",
        &m,
        "--format",
        "ndjson",
        "--follow",
        "--interval",
        "0.2",
        "--page-size",
        "2",
    ]));
    let mut initial = Vec::new();
    for _ in 0..5 {
        let v: Value = serde_json::from_str(&follow.next().await).unwrap();
        initial.push(v["userid"].as_str().unwrap().to_owned());
    }
    assert_eq!(initial, ["bob", "zhangsan", "carol", "", "bob"]);

    // Joins after the follower caught up, including one whose join_time lies behind
    // everything already printed (stored late).
    server
        .ingest(json!([join(&m, "c2", NOW - 50, member("carol"), 3)]))
        .await;
    let v: Value = serde_json::from_str(&follow.next().await).unwrap();
    assert_eq!(v["userid"], "carol");
    assert_eq!(v["join_time"], (NOW - 50).to_string());
    server.advance(60).await;
    server
        .ingest(json!([
            join(&m, "late", NOW - 4000, external("ext-late"), 5),
            join(&m, "z2", NOW + 30, member("zhangsan"), 1),
        ]))
        .await;
    let a: Value = serde_json::from_str(&follow.next().await).unwrap();
    let b: Value = serde_json::from_str(&follow.next().await).unwrap();
    assert_eq!(a["join_time"], (NOW - 4000).to_string());
    assert_eq!(b["userid"], "zhangsan");

    let (status, rest) = follow.terminate().await;
    assert!(status.success(), "{status:?}");
    assert!(rest.is_empty(), "nothing printed twice: {rest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_as_json_closes_the_array_when_stopped() {
    let (server, m) = seeded().await;
    let mut follow = Lines::spawn(server.rollcall(&[
        "attendees",
        "--meeting",
        &m,
        "--format",
        "json",
        "--follow",
        "--interval",
        "0.2",
    ]));
    let mut lines = vec![follow.next().await];
    for _ in 0..5 {
        lines.push(follow.next().await);
    }
    server
        .ingest(json!([join(&m, "c2", NOW - 50, member("carol"), 3)]))
        .await;
    lines.push(follow.next().await);
    assert!(lines[6].contains("\"carol\""), "{lines:?}");
    let (status, rest) = follow.terminate().await;
    assert!(status.success(), "{status:?}");
    lines.extend(rest);
    let doc: Vec<Value> = serde_json::from_str(&lines.join("\n")).expect("valid JSON");
    assert_eq!(doc.len(), 6);
}
