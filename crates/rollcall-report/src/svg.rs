//! The timeline as inline SVG: a lane per person, a bar per session, a time axis in local
//! time. Drawn here rather than by a charting library so the file needs nothing fetched.
//!
//! A small meeting draws every person ([`timeline_svg`]); a large one draws only the lanes
//! it picked, in titled groups ([`lanes_svg`]), on the same geometry as its other charts
//! ([`crate::charts`]) so their time axes line up down the page.

use std::fmt::Write as _;

use crate::html::esc;
use crate::local::{human_duration, Local};
use crate::model::{Person, Report};

/// Fill of a finished session's bar.
pub const BAR_COLOUR: &str = "#2563eb";
/// Fill of a session still in the meeting.
pub const LIVE_COLOUR: &str = "#16a34a";

/// The drawing's width and its parts, px.
pub(crate) const WIDTH: f64 = 1100.0;
pub(crate) const LABEL_W: f64 = 200.0;
const RIGHT_PAD: f64 = 24.0;
pub(crate) const PLOT_W: f64 = WIDTH - LABEL_W - RIGHT_PAD;
const AXIS_H: f64 = 30.0;
const ROW_H: f64 = 16.0;
const BAR_H: f64 = 12.0;
const LANE_PAD: f64 = 5.0;
/// A group's title row in [`lanes_svg`].
const GROUP_H: f64 = 24.0;

/// Tick steps the axis chooses from, seconds.
const STEPS: [i64; 16] = [
    60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172_800, 604_800,
    2_592_000, 31_536_000,
];

/// The chart's time scale: `t0..t1` onto the plot's width (at least a minute wide).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    pub t0: i64,
    pub t1: i64,
}

impl Scale {
    pub fn new(start: i64, end: i64) -> Self {
        Self {
            t0: start,
            t1: end.max(start + 60),
        }
    }

    pub fn x(&self, t: i64) -> f64 {
        LABEL_W + (t - self.t0) as f64 * PLOT_W / (self.t1 - self.t0) as f64
    }

    /// Ticks on round local times, at most about ten, with their labels.
    pub fn ticks(&self, local: &Local) -> Vec<(f64, String)> {
        let (t0, t1) = (self.t0, self.t1);
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
        let mut out = Vec::new();
        while tick <= t1 {
            out.push((self.x(tick), esc(&local.format(tick, fmt))));
            tick += step;
        }
        out
    }
}

/// The timeline as inline SVG: a lane per person, a bar per session, a time axis (local
/// times, ticks on round local minutes / hours) above and below.
pub fn timeline_svg(report: &Report, local: &Local) -> String {
    let all: Vec<&Person> = report.people.iter().collect();
    lanes_svg(
        &[(None, all)],
        Scale::new(report.start, report.end),
        report.meta.as_of,
        &format!("Timeline of {} sessions", report.sessions),
        Person::label,
        26,
        local,
    )
}

/// Lanes for groups of people (a group with a title gets a title row), on `scale`, each
/// named by `name` (cut to `max_chars`, the whole name on hover).
pub(crate) fn lanes_svg(
    groups: &[(Option<String>, Vec<&Person>)],
    scale: Scale,
    as_of: i64,
    aria: &str,
    name: fn(&Person) -> String,
    max_chars: usize,
    local: &Local,
) -> String {
    let lane_h = |p: &Person| p.rows as f64 * ROW_H + 2.0 * LANE_PAD;
    let lanes_h: f64 = groups
        .iter()
        .map(|(title, people)| {
            title.as_ref().map_or(0.0, |_| GROUP_H) + people.iter().map(|p| lane_h(p)).sum::<f64>()
        })
        .sum();
    let height = AXIS_H * 2.0 + lanes_h;
    let bottom = AXIS_H + lanes_h;
    let x = |t: i64| scale.x(t);

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
         height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"{}\">",
        esc(aria)
    );

    // Lanes: group titles, zebra background and the person's name; where each lane is.
    let mut lanes: Vec<(f64, &Person)> = Vec::new();
    let mut y = AXIS_H;
    for (title, people) in groups {
        if let Some(title) = title {
            let _ = writeln!(
                s,
                "<line x1=\"0\" y1=\"{y:.1}\" x2=\"{WIDTH}\" y2=\"{y:.1}\" stroke=\"#cbd5e1\"/>\
                 <text x=\"8\" y=\"{:.1}\" font-size=\"12\" font-weight=\"600\" fill=\"#334155\" \
                 dominant-baseline=\"middle\">{}</text>",
                y + GROUP_H / 2.0,
                esc(title)
            );
            y += GROUP_H;
        }
        for (i, p) in people.iter().enumerate() {
            let h = lane_h(p);
            if i % 2 == 0 {
                let _ = writeln!(
                    s,
                    "<rect x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{h:.1}\" fill=\"#f1f5f9\"/>"
                );
            }
            let label = name(p);
            let shown = if label.chars().count() > max_chars {
                format!("{}…", label.chars().take(max_chars - 1).collect::<String>())
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
            lanes.push((y, p));
            y += h;
        }
    }

    // Axis: ticks on round local times, above and below.
    for (tx, label) in scale.ticks(local) {
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
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LABEL_W}\" y1=\"{AXIS_H}\" x2=\"{LABEL_W}\" y2=\"{bottom:.1}\" stroke=\"#94a3b8\"/>"
    );

    // "As of", when someone drawn is still in the meeting.
    if lanes.iter().any(|(_, p)| p.last_quit.is_none()) {
        let ax = x(as_of.min(scale.t1));
        let _ = writeln!(
            s,
            "<line x1=\"{ax:.1}\" y1=\"{AXIS_H}\" x2=\"{ax:.1}\" y2=\"{bottom:.1}\" stroke=\"{LIVE_COLOUR}\" stroke-dasharray=\"4 3\"/>"
        );
    }

    // Bars.
    for (y, p) in lanes {
        let label = name(p);
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
    }
    s.push_str("</svg>\n");
    s
}
