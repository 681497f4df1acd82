//! The model and the rendering together, on the same few sessions.

use jiff::tz::TimeZone;
use rollcall_wire::Attendee;

use crate::svg::WIDTH;
use crate::*;

const T: i64 = 1_760_000_000;

fn session(userid: &str, openid: &str, join: i64, quit: Option<i64>, device: u32) -> Attendee {
    Attendee {
        tmp_openid: openid.to_owned(),
        userid: userid.to_owned(),
        join_time: join.to_string(),
        quit_time: quit.map(|q| q.to_string()),
        instance_id: device,
        role: 0,
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
        meetingid: "hy1".into(),
        sub_meetingid: None,
        as_of,
    }
}

#[test]
fn overlapping_devices_count_once_and_gaps_do_not_count() {
    let list = [
        // zhangsan: PC 0..3600, phone 1800..5400 (overlap), rejoin on PC 7200..7500.
        session("zhangsan", "wo-z", T, Some(T + 3600), 1),
        session("zhangsan", "wo-z", T + 1800, Some(T + 5400), 4),
        session("zhangsan", "wo-z", T + 7200, Some(T + 7500), 1),
        // A session entirely inside another one.
        session("lisi", "wo-l", T + 60, Some(T + 600), 1),
        session("lisi", "wo-l", T + 120, Some(T + 180), 3),
    ];
    let r = Report::build(meta(T + 8000), &list).unwrap();
    assert_eq!(r.people.len(), 2);
    let z = &r.people[0];
    assert_eq!(z.key, "zhangsan");
    assert_eq!(z.in_meeting_secs, 5400 + 300);
    assert_eq!(z.joins, 3);
    assert_eq!(z.first_join, T);
    assert_eq!(z.last_quit, Some(T + 7500));
    assert_eq!(z.devices, [("PC".to_owned(), 2), ("iOS".to_owned(), 1)]);
    assert_eq!(z.rows, 2, "the phone overlaps the PC");
    assert_eq!(
        z.sessions.iter().map(|s| s.row).collect::<Vec<_>>(),
        [0, 1, 0]
    );
    let l = &r.people[1];
    assert_eq!(l.in_meeting_secs, 540);
    assert_eq!(r.sessions, 5);
    assert_eq!((r.start, r.end), (T, T + 7500));
}

#[test]
fn open_sessions_run_to_as_of_and_leave_no_last_quit() {
    let list = [
        session("wangwu", "wo-w", T, Some(T + 100), 2),
        session("wangwu", "wo-w", T + 200, None, 5),
    ];
    let r = Report::build(meta(T + 1200), &list).unwrap();
    let w = &r.people[0];
    assert_eq!(w.last_quit, None);
    assert_eq!(w.in_meeting_secs, 100 + 1000);
    assert_eq!(w.sessions[1].end, T + 1200);
    assert_eq!(r.end, T + 1200);
    // "As of" never lies before the data: a stale clock does not make bars negative.
    let r = Report::build(meta(0), &list).unwrap();
    assert_eq!(r.meta.as_of, T + 200);
    assert_eq!(r.people[0].in_meeting_secs, 100);
}

#[test]
fn non_members_are_told_apart_by_tmp_openid() {
    let mut guest = session("", "wo-guest-123456789", T, Some(T + 60), 8);
    guest.role = 4;
    let list = [
        session("", "wo-ext-a", T + 10, Some(T + 70), 1),
        guest,
        session("", "wo-ext-a", T + 100, Some(T + 130), 1),
    ];
    let r = Report::build(meta(T + 200), &list).unwrap();
    assert_eq!(r.people.len(), 2);
    assert_eq!(r.people[0].key, "wo-guest-123456789");
    assert!(r.people[0].guest);
    assert_eq!(r.people[0].label(), "guest wo-guest…");
    assert_eq!(r.people[1].label(), "external wo-ext-a");
    assert_eq!(r.people[1].joins, 2);
    assert_eq!(r.people[1].in_meeting_secs, 90);
    assert_eq!(r.people[0].devices, [("小程序".to_owned(), 1)]);
}

#[test]
fn bad_times_are_reported_not_guessed() {
    let mut a = session("zhangsan", "wo-z", T, None, 1);
    a.join_time = "yesterday".into();
    let e = Report::build(meta(T), &[a]).unwrap_err();
    assert_eq!(e.field, "join_time");
    assert!(e.to_string().contains("zhangsan"), "{e}");
}

fn sample() -> (Report, Local) {
    let list = [
        session("zhangsan", "wo-z", T, Some(T + 3600), 1),
        session("zhangsan", "wo-z", T + 1800, Some(T + 5400), 4),
        session("<script>alert(1)</script>", "wo-x", T + 300, None, 6),
        session("", "wo-ext", T + 600, Some(T + 900), 5),
    ];
    let r = Report::build(meta(T + 6000), &list).unwrap();
    (r, Local::new(TimeZone::get("Asia/Shanghai").unwrap()))
}

#[test]
fn html_is_self_contained_and_escaped() {
    let (r, local) = sample();
    let html = render(&r, &local);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.ends_with("</html>\n"));
    // Nothing to fetch: no scripts, stylesheets, images or fonts from anywhere.
    for needle in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(needle), "{needle} in the report");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("Asia/Shanghai"));
    assert!(html.contains("2025-10-09 16:53:20"), "local first join");
    // The summary: union time, joins, devices, "in meeting".
    assert!(html.contains("1h 30m"), "zhangsan's union of 5400 s");
    assert!(html.contains("PC, iOS"));
    assert!(html.contains("in meeting"));
    assert!(html.contains("external user"));
}

#[test]
fn the_chart_has_a_lane_per_person_and_a_bar_per_session() {
    let (r, local) = sample();
    let svg = timeline_svg(&r, &local);
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    assert_eq!(svg.matches(&format!("fill=\"{BAR_COLOUR}\"")).count(), 3);
    assert_eq!(svg.matches(&format!("fill=\"{LIVE_COLOUR}\"")).count(), 1);
    assert_eq!(svg.matches("fill=\"#0f172a\"").count(), 3, "three labels");
    // Ticks on round local quarter hours (the span is 100 minutes): 17:00 is one.
    assert!(svg.contains(">17:00<"), "{svg}");
    assert!(!svg.contains(">16:53<"), "{svg}");
    // Every coordinate is a number inside the drawing.
    for part in svg.split(" x=\"").skip(1) {
        let v: f64 = part[..part.find('"').unwrap()].parse().unwrap();
        assert!((0.0..=WIDTH).contains(&v), "{v}");
    }
}

#[test]
fn an_empty_meeting_still_makes_a_page() {
    let r = Report::build(meta(T), &[]).unwrap();
    let html = render(&r, &Local::new(TimeZone::UTC));
    assert!(html.contains("No sessions in this listing yet."));
    assert!(!html.contains("<svg"));
}
