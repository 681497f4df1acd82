//! The report as one self-contained HTML document: the header and figures, the chart
//! ([`crate::svg`]), the per-person table and a note on how time in the meeting is counted.

use std::fmt::Write as _;

use crate::local::{human_duration, Local};
use crate::model::{Person, Report};
use crate::svg::{timeline_svg, BAR_COLOUR, LIVE_COLOUR};

/// HTML-escape text or an attribute value.
pub(crate) fn esc(s: &str) -> String {
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

/// The most people whose report draws every lane (today's full timeline). Past it a lane
/// per person is a wall nobody reads, so the report shows the meeting as a whole instead
/// ([`crate::large`]); 200 lanes are already about 5,000 px tall.
pub const FULL_TIMELINE_MAX: usize = 200;

/// How a report is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Up to this many people, the full timeline; more, the large layout.
    pub full_timeline_max: usize,
    /// The large layout's lanes per group (hosts, longest, shortest, still in).
    pub lanes: usize,
    /// People (userid or tmp_openid) the large layout always draws a lane for.
    pub people: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            full_timeline_max: FULL_TIMELINE_MAX,
            lanes: 10,
            people: Vec::new(),
        }
    }
}

/// The report as one self-contained HTML document, times shown in `local`, laid out by
/// [`Options::default`].
pub fn render(report: &Report, local: &Local) -> String {
    render_with(report, local, &Options::default())
}

/// The report as one self-contained HTML document, times shown in `local`: the full
/// timeline for a small meeting, the large layout past `opts.full_timeline_max` people.
pub fn render_with(report: &Report, local: &Local, opts: &Options) -> String {
    let large = report.people.len() > opts.full_timeline_max;
    let mut h = String::new();
    head(&mut h, report, local, large);
    if large {
        crate::large::body(&mut h, report, local, opts);
    } else {
        small_body(&mut h, report, local);
    }
    note(&mut h, report, local);
    h.push_str("</body>\n</html>\n");
    h
}

/// The document's head, title and summary figures, the same for both layouts.
fn head(h: &mut String, report: &Report, local: &Local, large: bool) {
    let m = &report.meta;
    let title = format!("Attendance of meeting {}", m.meetingid);
    let extra = if large { crate::large::STYLE } else { "" };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}{extra}</style>\n</head>\n<body>\n<h1>Attendance report</h1>\n",
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

    // Thousands separated in the large layout (10,012 people); the small one as it was.
    let count = |n: usize| {
        if large {
            crate::charts::thousands(n as u64)
        } else {
            n.to_string()
        }
    };
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
        count(report.people.len()),
        count(report.sessions),
        count(in_meeting),
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
}

/// Today's layout: a lane per person, then the table of everyone.
fn small_body(h: &mut String, report: &Report, local: &Local) {
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
            let devices = esc(&devices_text(p));
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
}

/// `PC ×2, iOS`: a person's devices with their session counts.
pub(crate) fn devices_text(p: &Person) -> String {
    p.devices
        .iter()
        .map(|(d, n)| {
            if *n > 1 {
                format!("{d} ×{n}")
            } else {
                d.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the figures are counted, under both layouts.
fn note(h: &mut String, report: &Report, local: &Local) {
    let _ = writeln!(
        h,
        "<p class=\"note\">Time in meeting is the union of a person's sessions: time on two \
         devices at once counts once. Sessions still in the meeting count up to {}. A person \
         is a userid, or the meeting's tmp_openid for people outside the corp.</p>",
        esc(&local.datetime(report.meta.as_of))
    );
}
