//! `examples/wecom_python_sdk/`: wechatpy, a WeCom SDK from PyPI, reads attendance from
//! `rollcall serve --demo` with only its base URL changed, and lists exactly what the Rust
//! client lists.

use std::process::{Command, Stdio};

use futures::TryStreamExt;
use serde_json::Value;

use crate::harness::*;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/wecom_python_sdk/get_attendees.py"
);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechatpy_lists_rollcall_attendance_with_only_the_base_url_changed() {
    const TEST: &str = "the wechatpy example works against rollcall";
    let importable = Command::new("python3")
        .args(["-c", "import wechatpy"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        skip_or_fail(
            TEST,
            "python3 with wechatpy is not available (pip install wechatpy==1.8.18)",
        );
        return;
    }

    let mut serve = rollcall_bin(&["serve", "--demo", "--listen", "127.0.0.1:0"]);
    serve.env("RUST_LOG", "warn");
    let mut demo = Lines::spawn(serve);
    // The banner is framed by three rules of `=`.
    let mut banner = Vec::new();
    let mut rules = 0;
    while rules < 3 {
        let line = demo.next().await;
        rules += usize::from(line.starts_with("====="));
        banner.push(line);
    }
    let base = field(&banner, "base URL");
    let corpid = field(&banner, "corpid");
    let secret = field(&banner, "corpsecret");
    let meeting = field(&banner, "one-off");
    let admin_key = field(&banner, "admin key");

    let python = |args: &[&str]| {
        let mut cmd = Command::new("python3");
        cmd.arg(SCRIPT)
            .args(args)
            .env("ROLLCALL_BASE_URL", &base)
            .env("WECOM_CORPID", &corpid)
            .env("WECOM_SECRET", &secret);
        cmd
    };
    let out = output(python(&[&meeting, "--limit", "10"])).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let listed: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();

    let client = rollcall_client::Client::builder()
        .corp(&corpid, &secret)
        .base_url(&base)
        .build()
        .unwrap();
    let expected: Vec<Value> = client
        .attendees(&meeting, None)
        .map_ok(|a| serde_json::to_value(a).unwrap())
        .try_collect()
        .await
        .unwrap();
    assert!(expected.len() > 10, "more than one page of 10");
    assert_eq!(listed, expected);
    assert!(
        stderr.contains(&format!("{} sessions", expected.len())),
        "{stderr}"
    );

    // WeCom's refusals come through wechatpy's own error handling.
    let out = output(python(&["hyNOSUCHMEETING"])).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("errcode 40058: invalid param 'meetingid'"),
        "{stderr}"
    );
    // An expired (42001) and an invalid (40014) token, injected once each: wechatpy fetches
    // a new token and retries, as it does against WeCom, and the listing is unchanged.
    let admin = rollcall_client::Admin::new(&base, &admin_key).unwrap();
    for errcode in [42001, 40014] {
        admin
            .add_fault(&rollcall_client::admin::FaultSpec {
                errcode: Some(errcode),
                times: Some(1),
                ..rollcall_client::admin::FaultSpec::new("meeting/get_attendee_list")
            })
            .await
            .unwrap();
    }
    let out = output(python(&[&meeting, "--limit", "10"])).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let relisted: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(relisted, expected);
    let faults = admin.faults().await.unwrap();
    assert_eq!(faults.len(), 2);
    assert!(faults.iter().all(|f| f.hits == 1), "{faults:?}");

    let (status, _) = demo.terminate().await;
    assert!(status.success());
}
