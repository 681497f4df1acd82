//! The large report's numbers on hand-made people: open sessions, sessions reaching outside
//! the window, one person with many sessions, nobody at all.

use super::*;
use crate::model::{Meta, Report};
use rollcall_wire::Attendee;

const T: i64 = 1_760_000_040; // a whole minute

fn session(userid: &str, join: i64, quit: Option<i64>, role: u32) -> Attendee {
    Attendee {
        tmp_openid: format!("wo-{userid}"),
        userid: userid.to_owned(),
        join_time: join.to_string(),
        quit_time: quit.map(|q| q.to_string()),
        instance_id: 1,
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

fn report(as_of: i64, list: &[Attendee]) -> Report {
    let meta = Meta {
        meetingid: "hy1".into(),
        sub_meetingid: None,
        as_of,
    };
    Report::build(meta, list).unwrap()
}

#[test]
fn present_counts_people_at_their_peak_in_each_minute() {
    let r = report(
        T + 300,
        &[
            // a: two devices at once (counts once), 0..150.
            session("a", T, Some(T + 150), 0),
            session("a", T + 30, Some(T + 120), 0),
            // b: 90..200, then back 200..250 (back-to-back: one stay).
            session("b", T + 90, Some(T + 200), 0),
            session("b", T + 200, Some(T + 250), 0),
            // c: still in the meeting from 240, counted to as_of (T + 300).
            session("c", T + 240, None, 0),
        ],
    );
    let s = Series::build(&r.people, r.start, r.end, MAX_POINTS);
    assert_eq!((s.start, s.step), (T, 60));
    // Minutes: [0,60) a; [60,120) a+b; [120,180) a (to 150) + b; [180,240) b;
    // [240,300) b (to 250) + c.
    assert_eq!(s.present, [1, 2, 2, 1, 2]);
    assert_eq!(
        s.joins,
        [2, 1, 0, 1, 1],
        "a's two sessions, b, b's rejoin, c"
    );
    assert_eq!(s.leaves, [0, 0, 2, 1, 1], "c has not left");
    assert_eq!(s.peak(), Some((1, 2)));
}

#[test]
fn a_leave_and_a_join_at_one_instant_do_not_count_both() {
    let r = report(
        T + 120,
        &[
            session("a", T, Some(T + 60), 0),
            session("b", T + 60, Some(T + 120), 0),
        ],
    );
    let s = Series::build(&r.people, r.start, r.end, MAX_POINTS);
    assert_eq!(s.present, [1, 1]);
}

#[test]
fn sessions_beyond_the_window_count_where_they_overlap_it() {
    let r = report(
        T + 10_000,
        &[
            session("early", T - 600, Some(T + 90), 0),
            session("late", T + 150, Some(T + 900), 0),
            session("outside", T + 5000, Some(T + 6000), 0),
        ],
    );
    let s = Series::build(&r.people, T, T + 179, MAX_POINTS);
    assert_eq!(s.present, [1, 1, 1]);
    assert_eq!(s.joins, [0, 0, 1], "early joined before the window");
    assert_eq!(s.leaves, [0, 1, 0], "late quits after it");
}

#[test]
fn the_series_never_exceeds_its_points() {
    // One person, many sessions, across a month: 44,640 minutes.
    let month = 31 * 86_400;
    let list: Vec<Attendee> = (0..500)
        .map(|i| session("busy", T + i * 5000, Some(T + i * 5000 + 600), 0))
        .chain([session("busy", T + month - 60, Some(T + month), 0)])
        .collect();
    let r = report(T + month, &list);
    assert_eq!(r.people.len(), 1);
    assert_eq!(r.people[0].joins, 501);
    let s = Series::build(&r.people, r.start, r.end, MAX_POINTS);
    assert_eq!(s.step, 1800, "the smallest round step under 1,500 points");
    assert!(s.present.len() <= MAX_POINTS, "{}", s.present.len());
    assert_eq!(s.joins.iter().sum::<u32>(), 501);
    assert_eq!(s.leaves.iter().sum::<u32>(), 501);
    assert_eq!(s.present.iter().max(), Some(&1), "one person is one person");
    assert_eq!(s.present[0], 1);
    // Beyond the round steps: whole days.
    let s = Series::build(&r.people, T, T + 10_000 * 86_400, MAX_POINTS);
    assert_eq!(s.step % 86_400, 0);
    assert!(s.present.len() <= MAX_POINTS);
}

#[test]
fn nobody_is_an_empty_chart_not_a_panic() {
    let r = report(T, &[]);
    let s = Series::build(&r.people, r.start, r.end, MAX_POINTS);
    assert_eq!(s.present, [0]);
    assert_eq!(s.peak(), None);
    let h = Histogram::build(&r.people, MAX_BINS);
    assert!(h.counts.is_empty());
    assert_eq!(median_in_meeting(&r.people), None);
    let lanes = pick_lanes(&r.people, 10, &["ghost".to_owned()]);
    assert!(lanes.groups.is_empty());
    assert_eq!(lanes.unknown, ["ghost"]);
}

#[test]
fn the_histogram_uses_round_bins_and_keeps_the_longest() {
    let list: Vec<Attendee> = (0..50)
        .map(|i| session(&format!("p{i:02}"), T, Some(T + i * 300), 0))
        .collect();
    let r = report(T + 50 * 300, &list);
    let h = Histogram::build(&r.people, MAX_BINS);
    // Longest 49 × 5 min = 4h 05m: 10-minute bins are 25 of them (5-minute ones, 50).
    assert_eq!(h.width, 600);
    assert_eq!(h.counts.len(), 25);
    assert_eq!(h.counts.iter().sum::<u32>(), 50);
    assert_eq!(h.counts[0], 2, "0 and 5 minutes");
    assert_eq!(*h.counts.last().unwrap(), 2, "4h 00m and 4h 05m");
    assert_eq!(median_in_meeting(&r.people), Some(24 * 300));
    // Everyone for zero seconds: one bin.
    let r = report(T, &[session("a", T, Some(T), 0)]);
    assert_eq!(Histogram::build(&r.people, MAX_BINS).counts, [1]);
}

#[test]
fn lanes_pick_hosts_the_longest_the_shortest_and_those_still_in() {
    let mut list: Vec<Attendee> = (0..20)
        .map(|i| session(&format!("p{i:02}"), T + i, Some(T + 100 + 10 * i), 0))
        .collect();
    list.push(session("host", T + 50, Some(T + 60), 2));
    list.push(session("creator", T + 51, Some(T + 70), 1));
    list.push(session("live1", T + 52, None, 0));
    list.push(session("live2", T + 53, None, 0));
    let r = report(T + 1000, &list);
    let names = |g: &LaneGroup| -> Vec<&str> {
        g.people.iter().map(|&i| r.people[i].key.as_str()).collect()
    };
    let l = pick_lanes(
        &r.people,
        3,
        &["p05".into(), "wo-live2".into(), "nobody".into()],
    );
    let picks: Vec<Pick> = l.groups.iter().map(|g| g.pick).collect();
    assert_eq!(
        picks,
        [
            Pick::Named,
            Pick::Hosts,
            Pick::Longest,
            Pick::Shortest,
            Pick::StillIn
        ]
    );
    assert_eq!(
        names(&l.groups[0]),
        ["p05", "live2"],
        "by key or tmp_openid"
    );
    assert_eq!(names(&l.groups[1]), ["host", "creator"]);
    assert_eq!(names(&l.groups[2]), ["live1", "live2", "p19"]);
    assert_eq!(names(&l.groups[3]), ["host", "creator", "p00"]);
    assert_eq!(names(&l.groups[4]), ["live1", "live2"]);
    assert_eq!(l.unknown, ["nobody"]);
    // N = 0: only the named.
    let l = pick_lanes(&r.people, 0, &["p05".into(), "p05".into()]);
    assert_eq!(l.groups.len(), 1);
    assert_eq!(names(&l.groups[0]), ["p05"]);
}
