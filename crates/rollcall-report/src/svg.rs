//! The timeline as inline SVG: a lane per person, a bar per session, a time axis in local
//! time. Drawn here rather than by a charting library so the file needs nothing fetched.

use std::fmt::Write as _;

use crate::html::esc;
use crate::local::{human_duration, Local};
use crate::model::Report;

/// Fill of a finished session's bar.
pub const BAR_COLOUR: &str = "#2563eb";
/// Fill of a session still in the meeting.
pub const LIVE_COLOUR: &str = "#16a34a";

/// The drawing's width and its parts, px.
pub(crate) const WIDTH: f64 = 1100.0;
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
