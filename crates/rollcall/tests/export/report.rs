//! `rollcall report` (the built binary) against an in-process server, and proof that it
//! renders: headless Chromium screenshots a small and a large report and the PNGs are
//! checked for the charts' colours; the large one's table is checked in the DOM its script
//! draws (`--dump-dom`), sorted, searched and paged from the URL.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

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

/// Externals in the large meeting: past `rollcall_report::FULL_TIMELINE_MAX` (200).
const CROWD: i64 = 250;
/// The large report's colours: the attendance area and the joins' bars.
const AREA: [u8; 3] = [0xbf, 0xdb, 0xfe];
const JOINS: [u8; 3] = [0x0d, 0x94, 0x88];

/// zhangsan hosts the whole hour (the longest stay, still in the meeting); bob comes for ten
/// minutes; 250 external users join over the first 25 minutes, every 10th drops and rejoins
/// (on iOS, until the last ten minutes), the others of the last 20 are still in the meeting.
async fn seeded_large() -> (Server, String) {
    let server = spawn_server(7200).await;
    let m = server.meeting().await;
    let mut host = join(&m, "host", NOW - 3600, member("zhangsan"), 1);
    host["role"] = json!(3);
    let mut events = vec![
        host,
        join(&m, "bob", NOW - 1800, member("bob"), 4),
        quit(&m, "bob", NOW - 1200),
    ];
    for i in 0..CROWD {
        let s = format!("x{i}");
        let at = NOW - 3500 + i * 6;
        events.push(join(
            &m,
            &s,
            at,
            external(&format!("crowd-{i:03}")),
            1 + (i % 6) as u32,
        ));
        if i % 10 == 0 {
            events.push(quit(&m, &s, at + 300));
            let again = format!("{s}b");
            events.push(join(
                &m,
                &again,
                at + 360,
                external(&format!("crowd-{i:03}")),
                4,
            ));
            events.push(quit(&m, &again, NOW - 600 + i));
        } else if i < CROWD - 20 {
            events.push(quit(&m, &s, NOW - 900 + i * 2));
        }
    }
    for chunk in events.chunks(500) {
        server.ingest(Value::Array(chunk.to_vec())).await;
    }
    (server, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_report_shows_the_meeting_as_a_whole_and_its_table_works() {
    let (server, m) = seeded_large().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.html");
    let mut cmd = server.rollcall(&[
        "report",
        "--meeting",
        &m,
        "--out",
        path.to_str().unwrap(),
        "--as-of",
        &NOW.to_string(),
        "--lanes",
        "5",
        "--person",
        "bob",
        "--person",
        "nobody",
    ]);
    cmd.env("TZ", "Asia/Shanghai");
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let people = CROWD + 2;
    let sessions = 2 + CROWD + CROWD / 10;
    assert!(
        stderr.contains(&format!("{people} people, {sessions} sessions")),
        "{stderr}"
    );
    assert!(stderr.contains("the large layout"), "{stderr}");
    assert!(
        stderr.contains("--person nobody"),
        "the unknown name is warned: {stderr}"
    );
    let html = std::fs::read_to_string(&path).unwrap();

    // One file: inline style and script, nothing fetched.
    for needle in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(needle), "{needle} in the report");
    }
    for class in ["attendance", "joins-leaves", "histogram", "timeline"] {
        assert!(html.contains(&format!("<svg class=\"{class}\"")), "{class}");
    }
    // Lanes for the chosen, the host and the top fives, not 252.
    assert!(html.contains(">Chosen (1)<"), "bob");
    assert!(html.contains(">Creator and hosts (1)<"), "zhangsan");
    assert!(html.contains(">Longest in the meeting (5)<"));
    assert!(html.contains(">Still in the meeting (5)<"));
    assert!(html.contains("No one in this meeting is nobody."));
    assert!(
        html.contains(&format!("<b>{people}</b>people")),
        "the figures"
    );

    let Some(chromium) = chromium("the large report renders in headless Chromium") else {
        return;
    };
    let shot = screenshot(chromium, &path, dir.path(), "large", &[AREA, BAR, JOINS]);
    let (area, line, joins) = (shot.near[0], shot.near[1], shot.near[2]);
    // The attendance chart's filled area is a large part of the first screen; its line and
    // the joins' bars are drawn.
    assert!(
        area > shot.w * shot.h / 20,
        "attendance area: {area} pixels"
    );
    assert!(line > 500, "attendance line: {line} pixels");
    assert!(joins > 200, "joins' bars: {joins} pixels");

    // The table, drawn by its script: sorted by time in the meeting (longest first) from
    // the URL, zhangsan leads, with the times the report's zone gives (not the browser's).
    let url = format!("file://{}", path.display());
    // Sorted by first join (the HTML's own order; ties keep it), the script draws exactly
    // the first page the HTML carries: its times and durations are the report's (Rust's)
    // to the character, in the report's zone. The marked column shows the script ran.
    let rows = |body: &str| -> Vec<String> {
        body.split("<tr>")
            .skip(1)
            .map(|r| r.trim().to_owned())
            .collect()
    };
    let dom = run_chromium(chromium, dir.path(), "--dump-dom", &format!("{url}#sort=1"));
    assert!(
        dom.contains("aria-sort=\"ascending\""),
        "drawn by the script"
    );
    let (drawn, written) = (rows(tbody(&dom)), rows(tbody(&html)));
    assert_eq!(drawn.len(), rollcall_report::PAGE_ROWS);
    for (i, (d, w)) in drawn.iter().zip(&written).enumerate() {
        assert_eq!(d, w, "row {i}: the script's (left) and the HTML's (right)");
    }
    let dom = run_chromium(
        chromium,
        dir.path(),
        "--dump-dom",
        &format!("{url}#sort=3&desc=1"),
    );
    let body = tbody(&dom);
    assert_eq!(body.matches("<tr>").count(), rollcall_report::PAGE_ROWS);
    let first = &body[..body.find("</tr>").unwrap()];
    assert!(first.contains("<b>zhangsan</b>"), "{first}");
    assert!(
        first.contains("2025-10-09 15:53:20"),
        "local first join: {first}"
    );
    assert!(
        first.contains("in meeting") && first.contains("1h 00m"),
        "{first}"
    );
    assert!(
        dom.contains(&format!("Showing 1–100 of {people} people")),
        "count"
    );
    assert!(
        dom.contains("aria-sort=\"descending\""),
        "the sorted column is marked"
    );
    // Searched from the URL: those still in the meeting, zhangsan and the last 20 externals
    // but the two among them that rejoined (x230, x240: their second session quit).
    let dom = run_chromium(
        chromium,
        dir.path(),
        "--dump-dom",
        &format!("{url}#q=in%20meeting"),
    );
    assert_eq!(tbody(&dom).matches("<tr>").count(), 19);
    assert!(dom.contains(&format!("Showing 1–19 of 19 matching ({people} people)")));
    // And the last page of everyone.
    let dom = run_chromium(chromium, dir.path(), "--dump-dom", &format!("{url}#page=3"));
    assert_eq!(tbody(&dom).matches("<tr>").count(), people as usize - 200);
    assert!(dom.contains("page 3 of 3"));
}

/// The people table's body in a dumped DOM.
fn tbody(dom: &str) -> &str {
    let start = dom.find("<tbody>").expect("a table");
    &dom[start..start + dom[start..].find("</tbody>").expect("its end")]
}

/// Headless Chromium, if installed. Without it the browser checks are SKIPPED (loudly) —
/// except in CI, where `.ci/run` installs it and its absence fails the test.
fn chromium(test: &str) -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        skip_or_fail(test, "chromium is not installed (apt-get install chromium)");
    }
    found
}

/// Run headless Chromium on `url` with `what` (`--screenshot=…`, `--dump-dom`); its stdout.
fn run_chromium(chromium: &str, dir: &Path, what: &str, url: &str) -> String {
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
        .arg(what)
        .arg("--window-size=1200,900")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Read both pipes on threads so a full pipe never stalls the browser.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = err.join().unwrap_or_default();
    assert!(status.success(), "chromium failed: {log}");
    out.join().unwrap_or_default()
}

/// What a screenshot shows: its size and how many pixels are near each colour asked for.
struct Shot {
    w: usize,
    h: usize,
    not_white: usize,
    distinct: usize,
    near: Vec<usize>,
}

/// Screenshot `html` (1200×900, the page's top) and count the pixels near `colours`.
fn screenshot(chromium: &str, html: &Path, dir: &Path, name: &str, colours: &[[u8; 3]]) -> Shot {
    let png = dir.join(format!("{name}.png"));
    run_chromium(
        chromium,
        dir,
        &format!("--screenshot={}", png.display()),
        &format!("file://{}", html.display()),
    );
    assert!(png.exists(), "no screenshot");
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
    let close = |p: &[u8], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 6);
    let mut shot = Shot {
        w,
        h,
        not_white: 0,
        distinct: 0,
        near: vec![0; colours.len()],
    };
    let mut seen = std::collections::HashSet::new();
    for y in 0..h {
        let row = &buf[y * info.line_size..][..w * channels];
        for p in row.chunks_exact(channels) {
            if !close(p, [255, 255, 255]) {
                shot.not_white += 1;
            }
            seen.insert([p[0], p[1], p[2]]);
            for (n, &c) in shot.near.iter_mut().zip(colours) {
                if close(p, c) {
                    *n += 1;
                }
            }
        }
    }
    shot.distinct = seen.len();
    eprintln!(
        "screenshot {}: {w}×{h}, {} non-white pixels, {} colours, near {colours:?}: {:?}",
        png.display(),
        shot.not_white,
        shot.distinct,
        shot.near
    );
    if let Ok(keep) = std::env::var("ROLLCALL_KEEP_SCREENSHOT") {
        let _ = std::fs::copy(&png, format!("{keep}.{name}.png"));
    }
    assert!(w >= 1000 && h >= 800, "{w}×{h}");
    assert!(shot.not_white > w * h / 50, "the page is (nearly) blank");
    assert!(shot.distinct > 8, "the page is (nearly) one colour");
    shot
}

/// The small report's screenshot must show its bars.
fn screenshot_shows_the_chart(html: &Path, dir: &Path) {
    let Some(chromium) = chromium("the report's chart renders in headless Chromium") else {
        return;
    };
    let shot = screenshot(chromium, html, dir, "report", &[BAR, LIVE]);
    // Five finished bars, each at least 12 px tall and tens of px wide; one live bar.
    let (bar, live) = (shot.near[0], shot.near[1]);
    assert!(bar > 5 * 12 * 20, "too few bar pixels: {bar}");
    assert!(live > 12 * 20, "too few live-bar pixels: {live}");
}
