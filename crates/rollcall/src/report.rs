//! `rollcall report`: one self-contained HTML file about a meeting's attendance.
//!
//! The file has to open anywhere — mailed, archived, on a machine with no network — so it
//! carries its own CSS and draws the timeline as inline SVG generated here: no script, no
//! font or library fetched, and it renders (and prints) the same in every browser.
//!
//! The logic is pure and in two steps, each tested on its own: attendees → [`Report`] (the
//! numbers: per-person summary and chart rows) → [`render`] (an HTML string). [`run`] only
//! fetches, calls both and writes the file.
//!
//! Decisions:
//! - A person is a userid, or for non-members (no userid) their per-meeting `tmp_openid`.
//! - **Time in meeting is the union of a person's sessions**, not their sum: half an hour
//!   on a laptop and a phone at once is half an hour in the meeting. (The summed figure
//!   would double-count exactly the people who joined on two devices.)
//! - A session still in the meeting counts up to the report's "as of" time (default: now;
//!   never before the latest join or quit in the data).
//!
//! # Layout
//! - [`Report::build`], [`Person`], [`Session`]: the model.
//! - [`render`]: the HTML, with [`timeline_svg`] for the chart.
//! - [`run`]: the command.

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::Context;
use futures::TryStreamExt;
use rollcall_client::Attendee;

use crate::attendees::{self, device_name, Progress};
use crate::cli::ReportArgs;
use crate::times::{human_duration, Local};

/// Fill of a finished session's bar.
pub const BAR_COLOUR: &str = "#2563eb";
/// Fill of a session still in the meeting.
pub const LIVE_COLOUR: &str = "#16a34a";

/// What the report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub meetingid: String,
    pub sub_meetingid: Option<String>,
    /// Sessions still in the meeting count up to here (unix seconds).
    pub as_of: i64,
}

/// One session as the chart draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub join: i64,
    /// `None` while still in the meeting.
    pub quit: Option<i64>,
    /// Where the bar ends: the quit, or the report's "as of".
    pub end: i64,
    pub device: String,
    /// The sub-row of the person's lane (sessions that overlap go on separate rows).
    pub row: usize,
}

/// One person's attendance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The userid, or the tmp_openid of a non-member.
    pub key: String,
    /// `""` for external users and guests.
    pub userid: String,
    pub tmp_openid: String,
    /// Joined through the mini program as a guest (role 4 or 5) rather than as an
    /// external WeCom user.
    pub guest: bool,
    pub first_join: i64,
    /// `None` while any of their sessions is still in the meeting.
    pub last_quit: Option<i64>,
    /// Seconds in the meeting: the union of their sessions.
    pub in_meeting_secs: i64,
    pub joins: usize,
    /// Device names with their session counts, in order of first use.
    pub devices: Vec<(String, usize)>,
    /// Sorted by join.
    pub sessions: Vec<Session>,
    /// Sub-rows the lane needs (the most sessions overlapping at once).
    pub rows: usize,
}

impl Person {
    /// How the person is named in the report.
    pub fn label(&self) -> String {
        if !self.userid.is_empty() {
            self.userid.clone()
        } else if self.guest {
            format!("guest {}", short(&self.tmp_openid))
        } else {
            format!("external {}", short(&self.tmp_openid))
        }
    }
}

fn short(id: &str) -> String {
    if id.chars().count() > 10 {
        format!("{}…", id.chars().take(8).collect::<String>())
    } else {
        id.to_owned()
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub meta: Meta,
    /// By first join, then key.
    pub people: Vec<Person>,
    pub sessions: usize,
    /// The chart's span: the first join and the last bar end (0, 0 when empty).
    pub start: i64,
    pub end: i64,
}

/// A session with its times parsed: (attendee, join, quit).
type Parsed<'a> = (&'a Attendee, i64, Option<i64>);

/// A time field that is not unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session of {who} has {field} {value:?}, not unix seconds")]
pub struct BadTime {
    pub who: String,
    pub field: &'static str,
    pub value: String,
}

impl Report {
    pub fn build(mut meta: Meta, attendees: &[Attendee]) -> Result<Self, BadTime> {
        let secs = |a: &Attendee, field: &'static str, v: &str| {
            v.parse::<i64>().map_err(|_| BadTime {
                who: if a.userid.is_empty() {
                    a.tmp_openid.clone()
                } else {
                    a.userid.clone()
                },
                field,
                value: v.to_owned(),
            })
        };
        // (attendee, join, quit) with times parsed, and "as of" no earlier than the data.
        let mut parsed = Vec::with_capacity(attendees.len());
        for a in attendees {
            let join = secs(a, "join_time", &a.join_time)?;
            let quit = match &a.quit_time {
                Some(q) => Some(secs(a, "quit_time", q)?),
                None => None,
            };
            meta.as_of = meta.as_of.max(join).max(quit.unwrap_or(join));
            parsed.push((a, join, quit));
        }

        let mut order: Vec<String> = Vec::new();
        let mut by_key: HashMap<String, Vec<Parsed>> = HashMap::new();
        for (a, join, quit) in parsed {
            let key = if a.userid.is_empty() {
                a.tmp_openid.clone()
            } else {
                a.userid.clone()
            };
            by_key
                .entry(key.clone())
                .or_insert_with(|| {
                    order.push(key);
                    Vec::new()
                })
                .push((a, join, quit));
        }

        let mut people: Vec<Person> = order
            .into_iter()
            .filter_map(|key| {
                let rows = by_key.remove(&key)?;
                Some(person(key, rows, meta.as_of))
            })
            .collect();
        people.sort_by(|a, b| (a.first_join, &a.key).cmp(&(b.first_join, &b.key)));

        let start = people.iter().map(|p| p.first_join).min().unwrap_or(0);
        let end = people
            .iter()
            .flat_map(|p| p.sessions.iter().map(|s| s.end))
            .max()
            .unwrap_or(0);
        Ok(Self {
            meta,
            people,
            sessions: attendees.len(),
            start,
            end,
        })
    }
}

fn person(key: String, rows: Vec<Parsed>, as_of: i64) -> Person {
    let first = rows[0].0;
    let mut sessions: Vec<Session> = rows
        .iter()
        .map(|&(a, join, quit)| Session {
            join,
            quit,
            end: quit.unwrap_or(as_of).max(join),
            device: device_name(a.instance_id),
            row: 0,
        })
        .collect();
    sessions.sort_by_key(|s| (s.join, s.end));

    // Sub-rows: each session goes on the first row free by its join (interval
    // partitioning; back-to-back sessions share a row).
    let mut row_ends: Vec<i64> = Vec::new();
    for s in &mut sessions {
        match row_ends.iter().position(|&end| end <= s.join) {
            Some(r) => {
                row_ends[r] = s.end;
                s.row = r;
            }
            None => {
                s.row = row_ends.len();
                row_ends.push(s.end);
            }
        }
    }

    let mut devices: Vec<(String, usize)> = Vec::new();
    for (a, _, _) in &rows {
        let name = device_name(a.instance_id);
        match devices.iter_mut().find(|(d, _)| *d == name) {
            Some((_, n)) => *n += 1,
            None => devices.push((name, 1)),
        }
    }

    let last_quit = if sessions.iter().any(|s| s.quit.is_none()) {
        None
    } else {
        sessions.iter().filter_map(|s| s.quit).max()
    };

    Person {
        userid: first.userid.clone(),
        tmp_openid: first.tmp_openid.clone(),
        guest: first.userid.is_empty() && rows.iter().any(|(a, _, _)| matches!(a.role, 4 | 5)),
        first_join: sessions[0].join,
        last_quit,
        in_meeting_secs: union_secs(sessions.iter().map(|s| (s.join, s.end))),
        joins: sessions.len(),
        devices,
        rows: row_ends.len().max(1),
        sessions,
        key,
    }
}

/// The length of the union of intervals sorted by start.
fn union_secs(intervals: impl Iterator<Item = (i64, i64)>) -> i64 {
    let mut total = 0;
    let mut current: Option<(i64, i64)> = None;
    for (s, e) in intervals {
        current = match current {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    total + current.map_or(0, |(s, e)| e - s)
}

/// HTML-escape text or an attribute value.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif;
       color: #0f172a; background: #ffffff; margin: 24px auto; max-width: 1140px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #475569; margin: 0 0 4px; }
.meta code { background: #f1f5f9; padding: 1px 4px; border-radius: 3px; }
.stats { display: flex; gap: 28px; margin: 14px 0; }
.stats div { font-size: 13px; color: #475569; }
.stats b { display: block; font-size: 22px; color: #0f172a; }
svg.timeline { display: block; max-width: 100%; height: auto; }
svg text { font-family: inherit; }
.legend { font-size: 13px; color: #475569; margin: 6px 0 0; }
.legend i { display: inline-block; width: 14px; height: 10px; margin: 0 4px 0 12px; vertical-align: baseline; border-radius: 2px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
th { background: #f8fafc; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.sub { color: #64748b; font-size: 12px; }
.live { color: #15803d; font-weight: 600; }
.note { color: #64748b; font-size: 12px; margin-top: 12px; }
"#;

/// The report as one self-contained HTML document, times shown in `local`.
pub fn render(report: &Report, local: &Local) -> String {
    let m = &report.meta;
    let mut h = String::new();
    let title = format!("Attendance of meeting {}", m.meetingid);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>Attendance report</h1>\n",
        esc(&title)
    );
    let _ = write!(
        h,
        "<p class=\"meta\">Meeting <code>{}</code>",
        esc(&m.meetingid)
    );
    if let Some(sub) = &m.sub_meetingid {
        let _ = write!(h, ", sub-meeting <code>{}</code>", esc(sub));
    }
    let _ = writeln!(
        h,
        ". Times in {}; as of {}.</p>",
        esc(&local.name()),
        esc(&local.datetime(m.as_of))
    );

    let in_meeting = report
        .people
        .iter()
        .filter(|p| p.last_quit.is_none())
        .count();
    let _ = writeln!(
        h,
        "<div class=\"stats\"><div><b>{}</b>people</div><div><b>{}</b>sessions</div>\
         <div><b>{}</b>still in the meeting</div><div><b>{}</b>first join</div>\
         <div><b>{}</b>last activity</div></div>",
        report.people.len(),
        report.sessions,
        in_meeting,
        if report.people.is_empty() {
            "-".to_owned()
        } else {
            esc(&local.datetime(report.start))
        },
        if report.people.is_empty() {
            "-".to_owned()
        } else {
            esc(&local.datetime(report.end))
        },
    );

    h.push_str("<h2>Timeline</h2>\n");
    if report.people.is_empty() {
        h.push_str("<p>No sessions in this listing yet.</p>\n");
    } else {
        h.push_str(&timeline_svg(report, local));
        let _ = writeln!(
            h,
            "<p class=\"legend\">One lane per person, one bar per session (overlapping \
             sessions on separate rows); hover a bar for details.\
             <i style=\"background:{BAR_COLOUR}\"></i>session<i style=\"background:{LIVE_COLOUR}\"></i>still in the meeting</p>"
        );
    }

    h.push_str("<h2>People</h2>\n");
    if !report.people.is_empty() {
        h.push_str(
            "<table>\n<thead><tr><th>Person</th><th>First join</th><th>Last quit</th>\
             <th>Time in meeting</th><th>Joins</th><th>Devices</th></tr></thead>\n<tbody>\n",
        );
        for p in &report.people {
            let who = if p.userid.is_empty() {
                format!(
                    "{}<div class=\"sub\">{} · {}</div>",
                    esc(&p.label()),
                    if p.guest { "guest" } else { "external user" },
                    esc(&p.tmp_openid)
                )
            } else {
                format!(
                    "<b>{}</b><div class=\"sub\">{}</div>",
                    esc(&p.userid),
                    esc(&p.tmp_openid)
                )
            };
            let last = match p.last_quit {
                Some(q) => esc(&local.datetime(q)),
                None => "<span class=\"live\">in meeting</span>".to_owned(),
            };
            let devices = p
                .devices
                .iter()
                .map(|(d, n)| {
                    if *n > 1 {
                        format!("{} ×{n}", esc(d))
                    } else {
                        esc(d)
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                h,
                "<tr><td>{who}</td><td>{}</td><td>{last}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td>{devices}</td></tr>",
                esc(&local.datetime(p.first_join)),
                esc(&human_duration(p.in_meeting_secs)),
                p.joins,
            );
        }
        h.push_str("</tbody>\n</table>\n");
    } else {
        h.push_str("<p>Nobody has joined.</p>\n");
    }
    let _ = writeln!(
        h,
        "<p class=\"note\">Time in meeting is the union of a person's sessions: time on two \
         devices at once counts once. Sessions still in the meeting count up to {}. A person \
         is a userid, or the meeting's tmp_openid for people outside the corp.</p>",
        esc(&local.datetime(m.as_of))
    );
    h.push_str("</body>\n</html>\n");
    h
}

const WIDTH: f64 = 1100.0;
const LABEL_W: f64 = 200.0;
const RIGHT_PAD: f64 = 24.0;
const AXIS_H: f64 = 30.0;
const ROW_H: f64 = 16.0;
const BAR_H: f64 = 12.0;
const LANE_PAD: f64 = 5.0;

/// Tick steps the axis chooses from, seconds.
const STEPS: [i64; 16] = [
    60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172_800, 604_800,
    2_592_000, 31_536_000,
];

/// The timeline as inline SVG: a lane per person, a bar per session, a time axis (local
/// times, ticks on round local minutes / hours) above and below.
pub fn timeline_svg(report: &Report, local: &Local) -> String {
    let t0 = report.start;
    let t1 = report.end.max(t0 + 60);
    let plot_w = WIDTH - LABEL_W - RIGHT_PAD;
    let x = |t: i64| LABEL_W + (t - t0) as f64 * plot_w / (t1 - t0) as f64;
    let lanes_h: f64 = report
        .people
        .iter()
        .map(|p| p.rows as f64 * ROW_H + 2.0 * LANE_PAD)
        .sum();
    let height = AXIS_H * 2.0 + lanes_h;
    let bottom = AXIS_H + lanes_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
         height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"Timeline of {} sessions\">",
        report.sessions
    );

    // Lanes: zebra background and the person's name.
    let mut y = AXIS_H;
    for (i, p) in report.people.iter().enumerate() {
        let h = p.rows as f64 * ROW_H + 2.0 * LANE_PAD;
        if i % 2 == 0 {
            let _ = writeln!(
                s,
                "<rect x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{h:.1}\" fill=\"#f1f5f9\"/>"
            );
        }
        let label = p.label();
        let shown = if label.chars().count() > 26 {
            format!("{}…", label.chars().take(25).collect::<String>())
        } else {
            label.clone()
        };
        let _ = writeln!(
            s,
            "<text x=\"8\" y=\"{:.1}\" font-size=\"12\" fill=\"#0f172a\" dominant-baseline=\"middle\">{}<title>{}</title></text>",
            y + h / 2.0,
            esc(&shown),
            esc(&label)
        );
        y += h;
    }

    // Axis: ticks on round local times.
    let span = t1 - t0;
    let step = STEPS
        .iter()
        .copied()
        .find(|st| span / st <= 10)
        .unwrap_or(STEPS[STEPS.len() - 1]);
    let fmt = if step >= 86_400 {
        "%m-%d"
    } else if span > 86_400 {
        "%m-%d %H:%M"
    } else {
        "%H:%M"
    };
    let off = local.offset_secs(t0);
    let mut tick = (t0 + off).div_euclid(step) * step - off;
    if tick < t0 {
        tick += step;
    }
    while tick <= t1 {
        let tx = x(tick);
        let label = esc(&local.format(tick, fmt));
        let _ = writeln!(
            s,
            "<line x1=\"{tx:.1}\" y1=\"{:.1}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#cbd5e1\" stroke-width=\"1\"/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#475569\" text-anchor=\"middle\">{label}</text>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#475569\" text-anchor=\"middle\">{label}</text>",
            AXIS_H - 6.0,
            bottom + 6.0,
            AXIS_H - 12.0,
            bottom + 20.0,
        );
        tick += step;
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LABEL_W}\" y1=\"{AXIS_H}\" x2=\"{LABEL_W}\" y2=\"{bottom:.1}\" stroke=\"#94a3b8\"/>"
    );

    // "As of", when someone is still in the meeting.
    if report.people.iter().any(|p| p.last_quit.is_none()) {
        let ax = x(report.meta.as_of.min(t1));
        let _ = writeln!(
            s,
            "<line x1=\"{ax:.1}\" y1=\"{AXIS_H}\" x2=\"{ax:.1}\" y2=\"{bottom:.1}\" stroke=\"{LIVE_COLOUR}\" stroke-dasharray=\"4 3\"/>"
        );
    }

    // Bars.
    let mut y = AXIS_H;
    for p in &report.people {
        let label = p.label();
        for ses in &p.sessions {
            let bx = x(ses.join);
            let bw = (x(ses.end) - bx).max(3.0);
            let by = y + LANE_PAD + ses.row as f64 * ROW_H + (ROW_H - BAR_H) / 2.0;
            let (fill, until) = match ses.quit {
                Some(q) => (BAR_COLOUR, local.datetime(q)),
                None => (LIVE_COLOUR, "still in the meeting".to_owned()),
            };
            let tip = format!(
                "{label} · {} · {} → {until} ({})",
                ses.device,
                local.datetime(ses.join),
                human_duration(ses.end - ses.join)
            );
            let _ = writeln!(
                s,
                "<rect x=\"{bx:.1}\" y=\"{by:.1}\" width=\"{bw:.1}\" height=\"{BAR_H}\" rx=\"2\" fill=\"{fill}\"><title>{}</title></rect>",
                esc(&tip)
            );
        }
        y += p.rows as f64 * ROW_H + 2.0 * LANE_PAD;
    }
    s.push_str("</svg>\n");
    s
}

/// `rollcall report`.
pub async fn run(args: ReportArgs) -> anyhow::Result<()> {
    let client = attendees::client(&args.api)?;
    let req = attendees::request(&args.listing, None);
    let progress = Progress::new("reading");
    let list: Vec<Attendee> = client
        .attendee_pages(req)
        .map_ok(|page| {
            progress.page(page.attendees.len());
            page.attendees
        })
        .try_concat()
        .await?;
    progress.finish();
    let as_of = match args.as_of {
        Some(t) => i64::from(t),
        None => jiff::Timestamp::now().as_second(),
    };
    let meta = Meta {
        meetingid: args.listing.meeting.clone(),
        sub_meetingid: args.listing.sub_meeting.clone(),
        as_of,
    };
    let report = Report::build(meta, &list)?;
    let html = render(&report, &Local::system());
    std::fs::write(&args.out, html).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "rollcall: wrote {} ({} people, {} sessions)",
        args.out.display(),
        report.people.len(),
        report.sessions
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

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

    #[test]
    fn union_of_intervals() {
        assert_eq!(union_secs([].into_iter()), 0);
        assert_eq!(union_secs([(0, 10), (10, 20)].into_iter()), 20);
        assert_eq!(union_secs([(0, 10), (5, 7), (20, 25)].into_iter()), 15);
        assert_eq!(union_secs([(0, 0), (3, 3)].into_iter()), 0);
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
}
