//! `rollcall report` (the built binary) against an in-process server, and proof that its
//! chart renders: headless Chromium screenshots the file and the PNG is checked for the
//! bars' colours.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

/// The report's bar colours (`rollcall_report::BAR_COLOUR` #2563eb, `LIVE_COLOUR` #16a34a).
const BAR: [u8; 3] = [0x25, 0x63, 0xeb];
const LIVE: [u8; 3] = [0x16, 0xa3, 0x4a];

/// bob on a PC and his phone at once, then again on the PC; zhangsan still in the meeting;
/// carol; an external user; alice (outside the app's range).
async fn seeded() -> (Server, String) {
    let server = spawn_server(7200).await;
    let m = server.meeting().await;
    server
        .ingest(json!([
            join(&m, "b1", NOW - 3600, member("bob"), 1),
            quit(&m, "b1", NOW - 3000),
            join(&m, "b2", NOW - 3300, member("bob"), 4),
            quit(&m, "b2", NOW - 2400),
            join(&m, "z1", NOW - 3300, member("zhangsan"), 8),
            join(&m, "c1", NOW - 3200, member("carol"), 2),
            quit(&m, "c1", NOW - 600),
            join(&m, "a1", NOW - 3100, member("alice"), 1),
            join(&m, "e1", NOW - 2500, external("ext-1"), 5),
            quit(&m, "e1", NOW - 2000),
            join(&m, "b3", NOW - 1800, member("bob"), 1),
            quit(&m, "b3", NOW - 600),
        ]))
        .await;
    (server, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_summarises_each_person_and_its_chart_renders() {
    let (server, m) = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    let mut cmd = server.rollcall(&[
        "report",
        "--meeting",
        &m,
        "--out",
        path.to_str().unwrap(),
        "--as-of",
        &NOW.to_string(),
    ]);
    cmd.env("TZ", "Asia/Shanghai");
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("4 people, 6 sessions"), "{stderr}");
    let html = std::fs::read_to_string(&path).unwrap();

    // Self-contained: nothing to fetch.
    for needle in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(needle), "{needle} in the report");
    }
    // The summary, one row per person: bob's PC and phone overlap, so his time in the
    // meeting is the union — 1200 s + 1200 s = 40 min — not the 2,700 s sum.
    let row = |who: &str| {
        let start = html
            .find(&format!("<b>{who}</b>"))
            .unwrap_or_else(|| panic!("{who}"));
        let end = start + html[start..].find("</tr>").unwrap();
        html[start..end].to_owned()
    };
    let bob = row("bob");
    assert!(bob.contains("40m 00s"), "{bob}");
    assert!(bob.contains(">3<"), "three joins: {bob}");
    assert!(bob.contains("PC ×2, iOS"), "{bob}");
    assert!(
        bob.contains("2025-10-09 15:53:20"),
        "first join, local: {bob}"
    );
    assert!(
        bob.contains("2025-10-09 16:43:20"),
        "last quit, local: {bob}"
    );
    let zhangsan = row("zhangsan");
    assert!(zhangsan.contains("in meeting"), "{zhangsan}");
    assert!(
        zhangsan.contains("55m 00s"),
        "counted to --as-of: {zhangsan}"
    );
    assert!(zhangsan.contains("小程序"), "{zhangsan}");
    assert!(!html.contains("alice"), "outside the app's range");
    assert!(html.contains("external user"));
    // The chart: a bar per session.
    assert_eq!(html.matches("fill=\"#2563eb\"><title>").count(), 5);
    assert_eq!(html.matches("fill=\"#16a34a\"><title>").count(), 1);

    screenshot_shows_the_chart(&path, dir.path());
}

/// Headless Chromium screenshots the report; the PNG must not be blank and must show the
/// bars. Without Chromium the check is SKIPPED (loudly) — except in CI, where `.ci/run`
/// installs it and its absence fails the test.
fn screenshot_shows_the_chart(html: &Path, dir: &Path) {
    const TEST: &str = "the report's chart renders in headless Chromium";
    let Some(chromium) = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }) else {
        skip_or_fail(TEST, "chromium is not installed (apt-get install chromium)");
        return;
    };
    let png = dir.join("report.png");
    let profile = dir.join("chromium-profile");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,900")
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish the screenshot in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = child
        .wait_with_output()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    assert!(status.success() && png.exists(), "chromium failed: {log}");

    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png).expect("the screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let (w, h) = (info.width as usize, info.height as usize);
    assert!(w >= 1000 && h >= 800, "{w}×{h}");
    let near = |p: &[u8], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 6);
    let (mut not_white, mut bar, mut live) = (0usize, 0usize, 0usize);
    for y in 0..h {
        let row = &buf[y * info.line_size..][..w * channels];
        for p in row.chunks_exact(channels) {
            if !near(p, [255, 255, 255]) {
                not_white += 1;
            }
            if near(p, BAR) {
                bar += 1;
            }
            if near(p, LIVE) {
                live += 1;
            }
        }
    }
    eprintln!(
        "screenshot {}: {w}×{h}, {not_white} non-white pixels, {bar} of the bar colour, \
         {live} of the live colour",
        png.display()
    );
    if let Ok(keep) = std::env::var("ROLLCALL_KEEP_SCREENSHOT") {
        let _ = std::fs::copy(&png, keep);
    }
    assert!(not_white > w * h / 50, "the page is (nearly) blank");
    // Five finished bars, each at least 12 px tall and tens of px wide; one live bar.
    assert!(bar > 5 * 12 * 20, "too few bar pixels: {bar}");
    assert!(live > 12 * 20, "too few live-bar pixels: {live}");
}
