//! The `rollcall` binary end to end: start it, wait for what it prints (never a fixed sleep),
//! call it over HTTP, stop it with SIGTERM.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

mod support;

use support::*;

/// The value after `label` on its banner line.
fn field(banner: &[String], label: &str) -> String {
    banner
        .iter()
        .find_map(|l| {
            let rest = l.trim_start().strip_prefix(label)?;
            rest.starts_with(' ')
                .then(|| rest.split_whitespace().next().unwrap_or("").to_owned())
        })
        .unwrap_or_else(|| panic!("no {label:?} in the banner:\n{}", banner.join("\n")))
}

async fn gettoken(http: &reqwest::Client, base: &str, corpid: &str, secret: &str) -> String {
    let body: Value = http
        .get(format!("{base}/cgi-bin/gettoken"))
        .query(&[("corpid", corpid), ("corpsecret", secret)])
        .send()
        .await
        .expect("gettoken answers")
        .json()
        .await
        .expect("gettoken is JSON");
    assert_eq!(body["errcode"], 0, "{body}");
    assert_eq!(body["errmsg"], "ok", "{body}");
    body["access_token"]
        .as_str()
        .expect("an access_token")
        .to_owned()
}

async fn attendees(http: &reqwest::Client, base: &str, token: &str, req: Value) -> Value {
    let body: Value = http
        .post(format!("{base}/cgi-bin/meeting/get_attendee_list"))
        .query(&[("access_token", token)])
        .json(&req)
        .send()
        .await
        .expect("get_attendee_list answers")
        .json()
        .await
        .expect("get_attendee_list is JSON");
    assert_eq!(body["errcode"], 0, "{req} -> {body}");
    assert_eq!(body["errmsg"], "ok", "{body}");
    assert!(body["next_cursor"].is_string(), "{body}");
    body
}

fn userids(list: &Value) -> Vec<&str> {
    list["attendees"]
        .as_array()
        .expect("attendees")
        .iter()
        .map(|a| a["userid"].as_str().expect("userid"))
        .collect()
}

#[tokio::test]
async fn demo_answers_wecom_calls_and_stops_on_sigterm() {
    let mut rc = rollcall(&["serve", "--demo", "--listen", "127.0.0.1:0"], &[]);
    let banner = rc.banner();
    let base = field(&banner, "base URL");
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"),
        "{base}"
    );
    assert_eq!(field(&banner, "corpid"), "wwdemo0000000001");
    assert_eq!(field(&banner, "agentid"), "1000002");
    let http = reqwest::Client::new();
    let token = gettoken(
        &http,
        &base,
        "wwdemo0000000001",
        &field(&banner, "corpsecret"),
    )
    .await;

    // The ended one-off meeting: members in the visible range, the outsider named in
    // visible_users, an external user and a guest; never the invisible advisor.
    let oneoff = field(&banner, "one-off");
    let page = attendees(
        &http,
        &base,
        &token,
        json!({"meetingid": oneoff, "limit": 10}),
    )
    .await;
    assert_eq!(page["attendees"].as_array().unwrap().len(), 10);
    assert_eq!(page["has_more"], true);
    let all = attendees(&http, &base, &token, json!({"meetingid": oneoff})).await;
    let ids = userids(&all);
    assert!(
        ids.contains(&"zhangsan") && ids.contains(&"yangfan"),
        "{ids:?}"
    );
    assert!(!ids.contains(&"huangmin"), "{ids:?}");
    assert_eq!(ids.iter().filter(|u| u.is_empty()).count(), 2, "{ids:?}");
    assert_eq!(ids.iter().filter(|u| **u == "lisi").count(), 2, "a rejoin");
    assert!(all["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["customer_data"] == "crm:lead-20931"));
    assert!(all["attendees"][0]["join_time"].is_string());

    // The recurring meeting, by sub-meeting.
    let sub = attendees(
        &http,
        &base,
        &token,
        json!({"meetingid": field(&banner, "recurring"), "sub_meetingid": field(&banner, "sub-meeting")}),
    )
    .await;
    assert!(!sub["attendees"].as_array().unwrap().is_empty(), "{sub}");

    // The webinar carries webinar roles.
    let web = attendees(
        &http,
        &base,
        &token,
        json!({"meetingid": field(&banner, "webinar")}),
    )
    .await;
    let roles: Vec<u64> = web["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["webinar_role"].as_u64().unwrap())
        .collect();
    for r in 1..=4 {
        assert!(roles.contains(&r), "webinar_role {r} in {roles:?}");
    }

    // The big meeting pages.
    let big = attendees(
        &http,
        &base,
        &token,
        json!({"meetingid": field(&banner, "big")}),
    )
    .await;
    assert_eq!(big["attendees"].as_array().unwrap().len(), 100);
    assert_eq!(big["has_more"], true);

    // The live meeting has people in it (no quit_time, a net) and accepts ingest.
    let live_id = field(&banner, "live");
    let live = attendees(&http, &base, &token, json!({"meetingid": live_id})).await;
    assert!(
        live["attendees"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.get("quit_time").is_none() && a["net"].is_string()),
        "{live}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let report: Value = http
        .post(format!("{base}/ingest/v1/events"))
        .bearer_auth(field(&banner, "ingest key"))
        .json(
            &json!([{"event_id": "t-1", "kind": "join", "meetingid": live_id, "session": "t-s1",
                        "at": now, "participant": {"guest_id": "test-guest"}, "instance_id": 5}]),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["accepted"], 1, "{report}");

    let status = rc.terminate();
    assert!(status.success(), "{status:?}");
    let log = rc.finished_stderr();
    assert!(log.contains("listening on http://127.0.0.1:"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

#[tokio::test]
async fn the_banner_commands_work_as_printed() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("curl is not installed; skipping");
        return;
    }
    let mut rc = rollcall(&["serve", "--demo", "--listen", "127.0.0.1:0"], &[]);
    let banner = rc.banner();
    let script: Vec<String> = banner
        .iter()
        .map(|l| l.trim_start())
        .filter(|l| l.starts_with("TOKEN=") || l.starts_with("curl "))
        .map(|l| format!("{l}; echo"))
        .collect();
    assert_eq!(script.len(), 5, "{banner:?}");
    let out = Command::new("sh")
        .arg("-ec")
        .arg(script.join("\n"))
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let replies: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(replies.len(), 4, "{text}");
    for r in &replies[..3] {
        assert_eq!(r["errcode"], 0, "{r}");
        assert!(!r["attendees"].as_array().unwrap().is_empty(), "{r}");
    }
    assert_eq!(replies[3]["accepted"], 1, "{}", replies[3]);
    assert!(rc.terminate().success());
}

#[test]
fn a_seeded_demo_is_reproducible() {
    let args = [
        "serve",
        "--demo",
        "--listen",
        "127.0.0.1:0",
        "--seed",
        "42",
        "--clock",
        "virtual:1760000000",
    ];
    let mut first = rollcall(&args, &[]);
    let a = first.banner();
    assert!(first.terminate().success());
    let mut second = rollcall(&args, &[]);
    let b = second.banner();
    assert!(second.terminate().success());
    for label in [
        "corpsecret",
        "ingest key",
        "admin key",
        "one-off",
        "recurring",
        "sub-meeting",
        "webinar",
        "big",
        "live",
    ] {
        assert_eq!(field(&a, label), field(&b, label), "{label}");
    }
}

#[test]
fn the_demo_reuses_an_explicit_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let args = ["serve", "--demo", "--listen", "127.0.0.1:0", "--data", data];
    let mut first = rollcall(&args, &[]);
    let a = first.banner();
    assert!(first.terminate().success());
    assert!(dir.path().exists(), "an explicit data directory is kept");
    let mut second = rollcall(&args, &[]);
    let b = second.banner();
    assert!(second.terminate().success());
    for label in ["one-off", "recurring", "webinar", "big"] {
        assert_eq!(field(&a, label), field(&b, label), "{label} reused");
    }
    assert_ne!(field(&a, "live"), field(&b, "live"), "a new live meeting");
    assert!(b.iter().any(|l| l.contains("reused")), "{b:?}");
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_bad_config_stops_start_up_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cases = [
        // Unknown department, reported at the user's [[corps.users]] line.
        (
            "[[corps]]\ncorpid = \"ww1\"\n\n[[corps.departments]]\nid = 1\nname = \"HQ\"\n\n[[corps.users]]\nuserid = \"a\"\ndepartments = [3]\n",
            8,
            "unknown department 3",
        ),
        // Bad TOML.
        ("listen = \"127.0.0.1:0\nseed = 1\n", 1, ""),
        // Unknown key.
        ("seed = 1\nlisten_addr = \"x\"\n", 2, "listen_addr"),
    ];
    for (i, (text, line, needle)) in cases.into_iter().enumerate() {
        let path = write(dir.path(), &format!("bad{i}.toml"), text);
        let mut rc = rollcall(
            &[
                "serve",
                "--config",
                &path,
                "--listen",
                "127.0.0.1:0",
                "--data",
                data.to_str().unwrap(),
            ],
            &[],
        );
        let status = rc.wait(START_TIMEOUT);
        let err = rc.finished_stderr();
        assert_eq!(status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("{path}:{line}: ")),
            "{path}:{line} in {err}"
        );
        assert!(err.contains(needle), "{needle} in {err}");
        assert!(!err.contains("listening"), "{err}");
    }
}

#[test]
fn a_database_url_that_is_not_postgres_is_refused() {
    let mut rc = rollcall(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("ROLLCALL_DATABASE", "mysql://localhost/rollcall")],
    );
    let status = rc.wait(START_TIMEOUT);
    let err = rc.finished_stderr();
    assert!(!status.success());
    assert!(err.contains("PostgreSQL URL"), "{err}");
}

#[tokio::test]
async fn a_config_file_is_applied_under_env_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    // The file's listen address is unusable: the environment must win over it, and the
    // flag over the environment's token TTL.
    let path = write(
        dir.path(),
        "rollcall.toml",
        r#"listen = "256.0.0.1:1"
token_ttl_secs = 60
data = "/nonexistent/never-used"

[[corps]]
corpid = "wwcfg"
name = "Config Corp"

  [[corps.departments]]
  id = 1
  name = "HQ"

  [[corps.users]]
  userid = "zhangsan"
  departments = [1]

  [[corps.apps]]
  agentid = 1000002
  secret = "config-secret"
  meeting_api = true
  visible_departments = [1]
"#,
    );
    let data = dir.path().join("data");
    let mut rc = rollcall(
        &["serve", "--config", &path, "--token-ttl-secs", "30"],
        &[
            ("ROLLCALL_LISTEN", "127.0.0.1:0"),
            ("ROLLCALL_TOKEN_TTL_SECS", "45"),
            ("ROLLCALL_DATA", data.to_str().unwrap()),
        ],
    );
    let base = format!("http://{}", rc.listening());
    let http = reqwest::Client::new();
    let body: Value = http
        .get(format!("{base}/cgi-bin/gettoken"))
        .query(&[("corpid", "wwcfg"), ("corpsecret", "config-secret")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["errcode"], 0, "{body}");
    let ttl = body["expires_in"].as_i64().unwrap();
    assert!((1..=30).contains(&ttl), "the flag's TTL: {body}");
    // Without --demo and without keys, the ingest API is off.
    let off = http
        .post(format!("{base}/ingest/v1/events"))
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 403);
    assert!(rc.terminate().success());
    assert!(data.exists(), "ROLLCALL_DATA wins over the file's data");
}

/// `--log-format json`: every stderr line is one JSON object, and a request's log line
/// carries its fields (request id, path, errcode) as JSON fields, not as text to parse.
#[tokio::test]
async fn json_logs_are_one_object_a_line() {
    let mut rc = rollcall(
        &[
            "--log-format",
            "json",
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let banner = rc.banner();
    let base = field(&banner, "base URL");
    let http = reqwest::Client::new();
    gettoken(
        &http,
        &base,
        "wwdemo0000000001",
        &field(&banner, "corpsecret"),
    )
    .await;
    assert!(rc.terminate().success());
    let log = rc.finished_stderr();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().all(|l| l["level"].is_string()), "{log}");
    let listening = lines.iter().any(|l| {
        l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("listening on http://127.0.0.1:"))
    });
    assert!(listening, "{log}");
    let request = lines
        .iter()
        .find(|l| l["fields"]["path"] == "/cgi-bin/gettoken")
        .unwrap_or_else(|| panic!("no gettoken line: {log}"));
    assert_eq!(request["fields"]["message"], "request", "{request}");
    assert_eq!(request["fields"]["errcode"], 0, "{request}");
    assert!(request["fields"]["request_id"].is_string(), "{request}");
    assert!(!log.contains("corpsecret="), "no secret in the logs: {log}");
}
