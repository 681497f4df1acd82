//! `GET /metrics` (SPEC §7): a well-formed exposition, counts that move, bounded labels.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// The reference OpenMetrics parser (the official Python client's, `prometheus_client` from
/// PyPI), strict about the format: it refuses a missing `# EOF`, a counter sample without
/// `_total`, bad label escaping, a histogram without `+Inf`. It prints every sample as JSON.
const PARSER: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "name": s.name, "labels": list(s.labels.items()), "value": s.value})
print(json.dumps(out))
"#;

/// Is the reference parser here? Locally it may not be (the test then skips, loudly); under
/// `CI=true` it must be: `.ci/run` installs it.
fn parser_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let why = "python3 with prometheus_client is not available (pip install prometheus-client==0.26.0)";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{why}, and CI=true: .ci/run must install it"
        );
        eprintln!("\n*** SKIPPED: the /metrics tests: {why} ***\n");
    }
    ok
}

/// Scrape `/metrics` and parse it with the reference parser. Returns the text and every
/// sample as `name{label="value",…}` (labels in exposition order) → value.
async fn scrape(app: &TestApp) -> (String, HashMap<String, f64>) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let r = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        ct.starts_with("application/openmetrics-text; version=1.0.0"),
        "{ct}"
    );
    let text = r.text().await.unwrap();
    let mut python = Command::new("python3")
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    python
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = python.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reference parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut samples = HashMap::new();
    for s in parsed {
        let family = s["family"].as_str().unwrap();
        assert!(family.starts_with("rollcall_"), "{family}");
        let labels: Vec<String> = s["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| {
                format!(
                    "{}=\"{}\"",
                    kv[0].as_str().unwrap(),
                    kv[1].as_str().unwrap()
                )
            })
            .collect();
        let name = s["name"].as_str().unwrap();
        let series = if labels.is_empty() {
            name.to_owned()
        } else {
            format!("{name}{{{}}}", labels.join(","))
        };
        samples.insert(series, s["value"].as_f64().unwrap());
    }
    (text, samples)
}

fn get(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn counts_move_and_labels_carry_no_ids() {
    if !parser_available() {
        return;
    }
    let app = spawn_app().await;
    let (_, before) = scrape(&app).await;
    assert_eq!(get(&before, "rollcall_build_info{version=\"0.1.0\"}"), 1.0);
    assert_eq!(get(&before, "rollcall_store_errors_total"), 0.0);

    let token = app.token(SECRET).await;
    let m = app.one_off().await;
    for _ in 0..2 {
        let page = app.list(&token, json!({"meetingid": m})).await;
        assert_eq!(page["errcode"], 0, "{page}");
    }
    let (status, _, _) = app
        .cgi_raw(
            &format!("meeting/get_info?access_token={token}&userid=needle-in-query"),
            json!({"meetingid": "needle-in-body"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = app
        .http
        .get(format!("{}/cgi-bin/needle-in-path/{m}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let event = join(&m, "s1", NOW - 10, "bob");
    app.ingest(json!([event.clone(), event, {"kind": "nonsense"}]))
        .await;
    app.state
        .controls()
        .rate_limits
        .set(serde_json::from_value(json!({"calls": {"meeting/get_info": 1}})).unwrap());
    for _ in 0..2 {
        app.cgi_raw(
            &format!("meeting/get_info?access_token={token}"),
            json!({"meetingid": m}).to_string(),
        )
        .await;
    }
    app.state.controls().metrics.fault_injected("gettoken");

    let (text, after) = scrape(&app).await;
    let list = "rollcall_http_requests_total{route=\"/cgi-bin/meeting/get_attendee_list\",status=\"200\",errcode=\"0\"}";
    assert_eq!(get(&after, list), 2.0, "{text}");
    let info_bad = "rollcall_http_requests_total{route=\"/cgi-bin/meeting/get_info\",status=\"200\",errcode=\"40058\"}";
    assert_eq!(get(&after, info_bad), 1.0, "{text}");
    let limited = "rollcall_http_requests_total{route=\"/cgi-bin/meeting/get_info\",status=\"200\",errcode=\"45009\"}";
    assert_eq!(get(&after, limited), 1.0, "{text}");
    assert_eq!(
        get(
            &after,
            "rollcall_rate_limited_total{call=\"meeting/get_info\"}"
        ),
        1.0
    );
    let unmatched =
        "rollcall_http_requests_total{route=\"unmatched\",status=\"404\",errcode=\"none\"}";
    assert_eq!(get(&after, unmatched), 1.0, "{text}");
    let admin = "rollcall_http_requests_total{route=\"/admin/v1/meetings\",status=\"201\",errcode=\"none\"}";
    assert_eq!(get(&after, admin), 1.0, "{text}");
    assert_eq!(
        get(&after, "rollcall_ingest_events_total{outcome=\"accepted\"}"),
        1.0
    );
    assert_eq!(
        get(
            &after,
            "rollcall_ingest_events_total{outcome=\"duplicate\"}"
        ),
        1.0
    );
    assert_eq!(
        get(&after, "rollcall_ingest_events_total{outcome=\"rejected\"}"),
        1.0
    );
    assert_eq!(
        get(&after, "rollcall_faults_injected_total{call=\"gettoken\"}"),
        1.0
    );
    let count = "rollcall_http_request_duration_seconds_count{route=\"/cgi-bin/meeting/get_attendee_list\"}";
    assert_eq!(get(&after, count), 2.0, "{text}");
    assert_eq!(get(&after, "rollcall_store_errors_total"), 0.0);

    for secret in [
        token.as_str(),
        m.as_str(),
        SECRET,
        "needle",
        CORP,
        ADMIN_KEY,
        INGEST_KEY,
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} in the exposition:\n{text}"
        );
    }
}

/// A route to the store that fails every call while `down` is set.
#[derive(Debug)]
struct Switchable {
    inner: std::sync::Arc<dyn rollcall_store::Store>,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl rollcall_testkit::store::Route for Switchable {
    fn route(&self) -> rollcall_store::StoreResult<&dyn rollcall_store::Store> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            Err(rollcall_store::StoreError::Unavailable(
                "switched off".into(),
            ))
        } else {
            Ok(&*self.inner)
        }
    }
}

#[tokio::test]
async fn store_errors_are_counted() {
    if !parser_available() {
        return;
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let down = Arc::new(AtomicBool::new(false));
    let store = Arc::new(rollcall_testkit::store::Routed(Switchable {
        inner: open_store(dir.path()).await,
        down: down.clone(),
    }));
    let app = TestApp::builder().store(store).spawn().await;
    let m = app.one_off().await;
    down.store(true, Ordering::SeqCst);
    let r = app
        .http
        .post(format!("{}/ingest/v1/events", app.base))
        .bearer_auth(INGEST_KEY)
        .json(&json!([join(&m, "a", NOW - 10, "bob")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v = app
        .gettoken_raw(&format!("corpid=wwnew&corpsecret={SECRET}"))
        .await;
    expect_err(&v, -1);
    down.store(false, Ordering::SeqCst);
    let (text, after) = scrape(&app).await;
    assert_eq!(get(&after, "rollcall_store_errors_total"), 2.0, "{text}");
}
