//! `kill -9` during a callback delivery loses no event (SPEC §11, issue 10 point 4): the
//! `rollcall` binary is SIGKILLed while its receiver holds the attempt unanswered; started
//! again on the same data, it delivers the event (at least once: the receiver sees it
//! twice, the same event).
//!
//! The binary runs under `support`'s harness (shared with `cli.rs`); `Running::kill_9` is
//! `Child::kill`, SIGKILL on Unix.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rollcall_testkit::callbacks::{Receiver, Reply};
use serde_json::{json, Value};

const CORP: &str = "wwkill";
const SECRET: &str = "kill-secret";
const TOKEN: &str = "killToken";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const ADMIN_KEY: &str = "kill-admin-key";
/// Generous for a shared CI machine; never a fixed sleep.
const WAIT: Duration = Duration::from_secs(60);

mod support;

use support::{rollcall, Running};

/// `rollcall serve --config CONFIG` on DATA, on a free port, with the admin API on.
fn serve(config: &str, data: &str) -> Running {
    rollcall(
        &["serve", "--config", config],
        &[
            ("ROLLCALL_LISTEN", "127.0.0.1:0"),
            ("ROLLCALL_DATA", data),
            ("ROLLCALL_ADMIN_KEY", ADMIN_KEY),
        ],
    )
}

#[tokio::test]
async fn kill_9_during_a_delivery_loses_no_event() {
    // The first attempt is never answered in time: it is in flight when the node dies.
    let rx = Receiver::start(TOKEN, KEY, CORP).await;
    rx.plan(&[Reply::Hang]);
    let url = rx.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rollcall.toml");
    std::fs::write(
        &config,
        format!(
            r#"[[corps]]
corpid = "{CORP}"
name = "Kill Corp"

  [[corps.departments]]
  id = 1
  name = "HQ"

  [[corps.users]]
  userid = "zhangsan"
  departments = [1]

  [[corps.apps]]
  agentid = 1000002
  secret = "{SECRET}"
  meeting_api = true
  visible_departments = [1]
  callback_url = "{url}"
  callback_token = "{TOKEN}"
  callback_aes_key = "{KEY}"
"#
        ),
    )
    .unwrap();
    let (config, data) = (
        config.to_str().unwrap().to_owned(),
        dir.path().join("data").to_str().unwrap().to_owned(),
    );
    let http = reqwest::Client::new();

    let mut first = serve(&config, &data);
    let base = format!("http://{}", first.listening());
    let token: Value = http
        .get(format!("{base}/cgi-bin/gettoken"))
        .query(&[("corpid", CORP), ("corpsecret", SECRET)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().expect("a token").to_owned();
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let created: Value = http
        .post(format!("{base}/cgi-bin/meeting/create"))
        .query(&[("access_token", &token)])
        .json(
            &json!({"admin_userid": "zhangsan", "title": "Survives", "meeting_start": start,
                      "meeting_duration": 1800}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["errcode"], 0, "{created}");
    let meetingid = created["meetingid"].as_str().unwrap().to_owned();

    // The attempt is in flight (the receiver holds it): kill the process under it.
    let before = rx.wait_for(1).await;
    first.kill_9();

    let second = serve(&config, &data);
    let base = format!("http://{}", second.listening());
    // After the dead node's lease, the restarted one delivers the same event.
    let all: Vec<_> = rx.wait_for(2).await.into_iter().map(|g| g.event).collect();
    assert_eq!(all[1], before[0].event, "the same event, again");
    assert_eq!(all[1].meeting_id, meetingid);
    assert_eq!(all[1].change_type.as_str(), "create_meeting");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let listed: Value = http
            .get(format!("{base}/admin/v1/callbacks"))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let d = &listed["deliveries"][0];
        if d["state"] == "delivered" {
            assert_eq!(d["meetingid"], meetingid.as_str());
            assert_eq!(d["last_status"], 200);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
