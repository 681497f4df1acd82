//! The large layout on a meeting the size of the demo's all-hands: 10,000 people, about
//! 11,000 sessions. Its size is the bound the issue sets; its parts are checked by their
//! markup (the rendering itself is checked in headless Chromium by the binary's test).

use jiff::tz::TimeZone;
use rollcall_wire::Attendee;

use crate::*;

const T: i64 = 1_760_000_000;
const BOUND: usize = 1_500_000;

fn session(
    userid: &str,
    openid: &str,
    join: i64,
    quit: Option<i64>,
    device: u32,
    role: u32,
) -> Attendee {
    Attendee {
        tmp_openid: openid.to_owned(),
        userid: userid.to_owned(),
        join_time: join.to_string(),
        quit_time: quit.map(|q| q.to_string()),
        instance_id: device,
        role,
        webinar_role: 0,
        join_type: 1,
        net: None,
        audio_state: true,
        video_state: false,
        screen_shared_state: false,
        customer_data: None,
    }
}

fn meta(as_of: i64) -> Meta {
    Meta {
        meetingid: "hyAllHands".into(),
        sub_meetingid: None,
        as_of,
    }
}

/// A cheap deterministic spread (no RNG dependency): `i`'s value in `0..m`.
fn spread(i: i64, m: i64) -> i64 {
    (i.wrapping_mul(2_654_435_761) >> 7).rem_euclid(m)
}

/// Three hours: 12 members (one host), 10,000 externals and guests with tmp_openids as long
/// as WeCom's, every 8th rejoining once, the last 300 still in the meeting.
fn all_hands(people: i64) -> Vec<Attendee> {
    let end = T + 3 * 3600;
    let mut list = Vec::new();
    for m in 0..12 {
        let role = if m == 0 { 3 } else { 0 };
        let who = format!("member{m:02}");
        list.push(session(
            &who,
            &format!("woMember{m:02}aBcDeFgHiJkLmNoPq"),
            T - 300 + m * 20,
            Some(end + m),
            1,
            role,
        ));
    }
    for i in 0..people {
        let openid = format!("wmAllHands{i:05}xYzAbCdEfGhIjKl");
        let (device, role) = if i % 5 == 0 {
            (8, 4)
        } else {
            ([1, 2, 3, 4, 5][(i % 4) as usize + 1], 0)
        };
        let join = T - 600 + spread(i, 2400);
        let quit = (people - i > 300).then(|| end - spread(i + 7, 2400));
        if i % 8 == 0 {
            let drop = join + 60 + spread(i + 3, 1200);
            list.push(session("", &openid, join, Some(drop), device, role));
            list.push(session("", &openid, drop + 30, quit, device, role));
        } else {
            list.push(session("", &openid, join, quit, device, role));
        }
    }
    list
}

fn shanghai() -> Local {
    Local::new(TimeZone::get("Asia/Shanghai").unwrap())
}

#[test]
fn ten_thousand_people_fit_in_the_bound_and_every_part_is_there() {
    let list = all_hands(10_000);
    assert!(list.len() > 11_000, "{}", list.len());
    let r = Report::build(meta(T + 3 * 3600 + 600), &list).unwrap();
    assert_eq!(r.people.len(), 10_012);
    let html = render(&r, &shanghai());
    eprintln!(
        "large report: {} people, {} sessions, {} bytes of HTML",
        r.people.len(),
        r.sessions,
        html.len()
    );
    // To look at it: ROLLCALL_KEEP_REPORT=/tmp/large.html cargo test -p rollcall-report.
    if let Ok(keep) = std::env::var("ROLLCALL_KEEP_REPORT") {
        std::fs::write(keep, &html).unwrap();
    }
    assert!(html.len() < BOUND, "{} bytes", html.len());

    // Self-contained: inline style and script only, nothing fetched.
    for needle in [
        "src=", "href=", "@import", "url(", "<link", "<img", "<iframe",
    ] {
        assert!(!html.contains(needle), "{needle} in the report");
    }
    // The overview charts.
    for class in ["attendance", "joins-leaves", "histogram", "timeline"] {
        assert_eq!(
            html.matches(&format!("<svg class=\"{class}\"")).count(),
            1,
            "{class}"
        );
    }
    assert!(html.contains("in each minute"), "minute buckets");
    // Lanes for the picked few, not 10,000: host, 10 longest, 10 shortest, 10 still in.
    assert!(
        html.contains(">Creator and hosts (1)<"),
        "zhangsan-like host"
    );
    assert!(html.contains(">Longest in the meeting (10)<"));
    assert!(html.contains(">Shortest in the meeting (10)<"));
    assert!(html.contains(">Still in the meeting (10)<"));
    let lanes = html
        .matches("fill=\"#0f172a\" dominant-baseline=\"middle\">")
        .count();
    assert_eq!(lanes, 31, "lane labels");
    // The table: a first page of rows in the HTML, everyone in the data.
    let tbody = &html[html.find("<tbody>").unwrap()..html.find("</tbody>").unwrap()];
    assert_eq!(tbody.matches("<tr>").count(), PAGE_ROWS);
    let data_start = html
        .find("<script id=\"people-data\" type=\"application/json\">")
        .unwrap();
    let data = &html[data_start..];
    let data = &data[..data.find("</script>").unwrap()];
    assert_eq!(data.matches("\n[").count(), 10_012, "one line per person");
    assert!(data.contains("\"wmAllHands09999xYzAbCdEfGhIjKl\""));
}

#[test]
fn the_threshold_decides_the_layout() {
    let small = Report::build(meta(T + 20_000), &all_hands(FULL_TIMELINE_MAX as i64 - 12)).unwrap();
    assert_eq!(small.people.len(), FULL_TIMELINE_MAX);
    let html = render(&small, &shanghai());
    assert!(!html.contains("<script"), "the small report has no script");
    assert!(!html.contains("class=\"attendance\""));
    assert_eq!(
        html.matches("fill=\"#0f172a\" dominant-baseline").count(),
        FULL_TIMELINE_MAX
    );

    let large = Report::build(meta(T + 20_000), &all_hands(FULL_TIMELINE_MAX as i64 - 11)).unwrap();
    let html = render(&large, &shanghai());
    assert!(html.contains("<svg class=\"attendance\""));
    // And the threshold is an option: forcing the full timeline draws everyone.
    let opts = Options {
        full_timeline_max: usize::MAX,
        ..Options::default()
    };
    assert!(!render_with(&large, &shanghai(), &opts).contains("<script"));
}

#[test]
fn chosen_people_get_lanes_and_unknown_names_are_said() {
    let r = Report::build(meta(T + 20_000), &all_hands(500)).unwrap();
    let opts = Options {
        lanes: 0,
        people: vec![
            "member03".into(),
            "wmAllHands00042xYzAbCdEfGhIjKl".into(),
            "nobody<b>".into(),
        ],
        ..Options::default()
    };
    let html = render_with(&r, &shanghai(), &opts);
    assert!(
        html.contains(">Chosen (2)<"),
        "two of three names are people"
    );
    assert!(
        !html.contains("Longest in the meeting ("),
        "--lanes 0: no top-N groups"
    );
    assert!(html.contains("No one in this meeting is nobody&lt;b&gt;."));
    assert_eq!(
        html.matches("fill=\"#0f172a\" dominant-baseline").count(),
        2
    );
}

#[test]
fn the_data_cannot_close_its_script() {
    let mut list = all_hands(250);
    list.push(session(
        "",
        "</script><script>alert(1)</script>",
        T,
        Some(T + 60),
        1,
        0,
    ));
    list.push(session(
        "",
        "wm\"quote\\back\u{2028}",
        T,
        Some(T + 60),
        1,
        0,
    ));
    let r = Report::build(meta(T + 20_000), &list).unwrap();
    let html = render(&r, &shanghai());
    assert_eq!(
        html.matches("<script").count(),
        2,
        "the data and the code, nothing else"
    );
    assert_eq!(html.matches("</script>").count(), 2);
    assert!(html.contains(r#""\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e""#));
    assert!(html.contains(r#""wm\"quote\\back\u2028""#));
}

#[test]
fn offsets_follow_daylight_saving_to_the_second() {
    use crate::large::table::offsets;
    let ny = Local::new(TimeZone::get("America/New_York").unwrap());
    // 2025-11-02 06:00:00 UTC: New York falls back from −04:00 to −05:00.
    let change = 1_762_063_200;
    let o = offsets(&ny, change - 7200, change + 7200);
    assert_eq!(o, [(change - 7200, -4 * 3600), (change, -5 * 3600)]);
    let o = offsets(&shanghai(), T, T + 86_400);
    assert_eq!(o, [(T, 8 * 3600)]);
}
