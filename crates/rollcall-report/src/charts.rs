//! A large meeting's charts as inline SVG: attendance over time, joins and leaves over time,
//! and the distribution of time in the meeting. The time charts share the lanes' geometry
//! ([`crate::svg::Scale`]) so one minute is at the same x all the way down the page.
//!
//! Each series is one `<path>` (a few bytes per bucket) and each bucket has one invisible
//! hover target with its numbers, so the drawing weighs the same for 100 people or 10,000.

use std::fmt::Write as _;

use crate::html::esc;
use crate::local::{human_duration, Local};
use crate::overview::{Histogram, Series};
use crate::svg::{Scale, BAR_COLOUR, LABEL_W, LIVE_COLOUR, PLOT_W, WIDTH};

/// Fill under the attendance line.
pub const AREA_COLOUR: &str = "#bfdbfe";
/// Bars of joins (above the middle line) and of leaves (below it).
pub const JOIN_COLOUR: &str = "#0d9488";
pub const LEAVE_COLOUR: &str = "#ea580c";

const TOP: f64 = 14.0;
const AXIS_H: f64 = 30.0;

/// `12,345`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 minute`, `10 minutes`, `2 hours`, `1 day`: a bucket or bin width in words.
pub(crate) fn period(secs: i64) -> String {
    let (n, unit) = if secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// `minute`, `10 minutes`: "in each …".
pub(crate) fn each_period(secs: i64) -> String {
    let p = period(secs);
    p.strip_prefix("1 ").map(str::to_owned).unwrap_or(p)
}

/// A round step for a value axis from 0 to `max`: 1, 2 or 5 × 10ⁿ, four to ten ticks.
fn value_step(max: u32) -> u32 {
    let mut step = 1u32;
    loop {
        for m in [1, 2, 5] {
            let s = step.saturating_mul(m);
            if max / s <= 5 {
                return s;
            }
        }
        step = step.saturating_mul(10);
    }
}

fn open_svg(s: &mut String, class: &str, height: f64, aria: &str) {
    let _ = writeln!(
        s,
        "<svg class=\"{class}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
         height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{}\">",
        esc(aria)
    );
}

/// Horizontal grid lines and their labels at `value_step` multiples, for `y(v)`.
fn value_grid(s: &mut String, max: u32, y: impl Fn(f64) -> f64) {
    let step = value_step(max.max(1));
    let mut v = 0u32;
    while v <= max.max(1) {
        let gy = y(f64::from(v));
        let _ = writeln!(
            s,
            "<line x1=\"{LABEL_W}\" y1=\"{gy:.1}\" x2=\"{:.1}\" y2=\"{gy:.1}\" stroke=\"#e2e8f0\"/>\
             <text x=\"{:.1}\" y=\"{gy:.1}\" font-size=\"11\" fill=\"#475569\" text-anchor=\"end\" \
             dominant-baseline=\"middle\">{}</text>",
            LABEL_W + PLOT_W,
            LABEL_W - 8.0,
            thousands(u64::from(v))
        );
        match v.checked_add(step) {
            Some(n) => v = n,
            None => break,
        }
    }
}

fn time_axis(s: &mut String, scale: &Scale, local: &Local, top: f64, bottom: f64) {
    for (tx, label) in scale.ticks(local) {
        let _ = writeln!(
            s,
            "<line x1=\"{tx:.1}\" y1=\"{top:.1}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#cbd5e1\"/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#475569\" text-anchor=\"middle\">{label}</text>",
            bottom + 5.0,
            bottom + 18.0,
        );
    }
}

/// The bucket's time range for a hover: `15:10–15:11`.
fn bucket_label(series: &Series, i: usize, local: &Local) -> String {
    let b0 = series.start + i as i64 * series.step;
    let fmt = if series.step >= 86_400 {
        "%Y-%m-%d"
    } else {
        "%m-%d %H:%M"
    };
    format!(
        "{}–{}",
        local.format(b0, fmt),
        local.format(b0 + series.step, "%H:%M")
    )
}

/// How many people were in the meeting over time: a filled step line, with a hover per
/// bucket that tells its numbers, and the "as of" line when someone is still in.
pub(crate) fn attendance_svg(
    series: &Series,
    scale: Scale,
    as_of: Option<i64>,
    local: &Local,
) -> String {
    const PLOT_H: f64 = 200.0;
    let max = series.present.iter().copied().max().unwrap_or(0);
    let top = max.max(1).div_ceil(value_step(max.max(1))) * value_step(max.max(1));
    let y = |v: f64| TOP + PLOT_H - v * PLOT_H / f64::from(top);
    let bottom = TOP + PLOT_H;
    let mut s = String::new();
    open_svg(
        &mut s,
        "attendance",
        bottom + AXIS_H,
        &format!("People in the meeting over time, at most {max}"),
    );
    value_grid(&mut s, top, y);
    time_axis(&mut s, &scale, local, TOP, bottom);

    // The step line, clipped to the scale: each bucket flat from its start to its end.
    let bx = |i: usize| {
        let t = series.start + i as i64 * series.step;
        scale.x(t.clamp(scale.t0, scale.t1))
    };
    let mut line = String::new();
    for (i, &n) in series.present.iter().enumerate() {
        let (x0, x1, vy) = (bx(i), bx(i + 1), y(f64::from(n)));
        if i == 0 {
            let _ = write!(line, "M{x0:.1} {vy:.1}");
        } else {
            let _ = write!(line, "V{vy:.1}");
        }
        let _ = write!(line, "H{x1:.1}");
    }
    let _ = writeln!(
        s,
        "<path d=\"{line}V{bottom:.1}H{:.1}Z\" fill=\"{AREA_COLOUR}\"/>\
         <path d=\"{line}\" fill=\"none\" stroke=\"{BAR_COLOUR}\" stroke-width=\"1.5\" stroke-linejoin=\"round\"/>",
        bx(0)
    );
    if let Some(t) = as_of {
        let ax = scale.x(t.min(scale.t1));
        let _ = writeln!(
            s,
            "<line x1=\"{ax:.1}\" y1=\"{TOP}\" x2=\"{ax:.1}\" y2=\"{bottom:.1}\" stroke=\"{LIVE_COLOUR}\" stroke-dasharray=\"4 3\"/>"
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LABEL_W}\" y1=\"{bottom:.1}\" x2=\"{:.1}\" y2=\"{bottom:.1}\" stroke=\"#94a3b8\"/>",
        LABEL_W + PLOT_W
    );
    // Hover targets: one transparent column per bucket.
    s.push_str("<g fill=\"transparent\">");
    for i in 0..series.present.len() {
        let (x0, x1) = (bx(i), bx(i + 1));
        let _ = write!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{PLOT_H}\"><title>{} · {} in the meeting · {} joined · {} left</title></rect>",
            (x1 - x0).max(0.5),
            esc(&bucket_label(series, i, local)),
            thousands(u64::from(series.present[i])),
            thousands(u64::from(series.joins[i])),
            thousands(u64::from(series.leaves[i])),
        );
    }
    s.push_str("</g>\n</svg>\n");
    s
}

/// Joins above the middle line, leaves below it, one bar per bucket, on one scale.
pub(crate) fn joins_leaves_svg(series: &Series, scale: Scale, local: &Local) -> String {
    const HALF_H: f64 = 80.0;
    let most = series
        .joins
        .iter()
        .chain(&series.leaves)
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    // A round top (300, not 286), as the other charts have.
    let max = most.div_ceil(value_step(most)) * value_step(most);
    let mid = TOP + HALF_H;
    let bottom = TOP + 2.0 * HALF_H;
    let h = |v: u32| f64::from(v) * HALF_H / f64::from(max);
    let mut s = String::new();
    open_svg(
        &mut s,
        "joins-leaves",
        bottom + AXIS_H,
        &format!("Joins and leaves over time, at most {most} in a bucket"),
    );
    time_axis(&mut s, &scale, local, TOP, bottom);
    for (v, gy) in [(max, TOP), (0, mid), (max, bottom)] {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{gy:.1}\" font-size=\"11\" fill=\"#475569\" text-anchor=\"end\" \
             dominant-baseline=\"middle\">{}</text>",
            LABEL_W - 8.0,
            thousands(u64::from(v))
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"8\" y=\"{:.1}\" font-size=\"12\" fill=\"{JOIN_COLOUR}\" dominant-baseline=\"middle\">▲ joined</text>\
         <text x=\"8\" y=\"{:.1}\" font-size=\"12\" fill=\"{LEAVE_COLOUR}\" dominant-baseline=\"middle\">▼ left</text>",
        TOP + HALF_H / 2.0,
        mid + HALF_H / 2.0
    );
    let bx = |i: usize| {
        let t = series.start + i as i64 * series.step;
        scale.x(t.clamp(scale.t0, scale.t1))
    };
    for (values, colour, up) in [
        (&series.joins, JOIN_COLOUR, true),
        (&series.leaves, LEAVE_COLOUR, false),
    ] {
        let mut d = String::new();
        for (i, &n) in values.iter().enumerate() {
            if n == 0 {
                continue;
            }
            // Bars at least a pixel wide, with a hairline gap when there is room.
            let (x0, x1) = (bx(i), bx(i + 1));
            let w = if x1 - x0 > 3.0 {
                x1 - x0 - 1.0
            } else {
                (x1 - x0).max(1.0)
            };
            let bh = h(n).max(1.0);
            let _ = if up {
                write!(d, "M{x0:.1} {mid:.1}v-{bh:.1}h{w:.1}v{bh:.1}z")
            } else {
                write!(d, "M{x0:.1} {mid:.1}v{bh:.1}h{w:.1}v-{bh:.1}z")
            };
        }
        if !d.is_empty() {
            let _ = writeln!(s, "<path d=\"{d}\" fill=\"{colour}\"/>");
        }
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LABEL_W}\" y1=\"{mid:.1}\" x2=\"{:.1}\" y2=\"{mid:.1}\" stroke=\"#64748b\"/>",
        LABEL_W + PLOT_W
    );
    s.push_str("<g fill=\"transparent\">");
    for i in 0..series.joins.len() {
        if series.joins[i] == 0 && series.leaves[i] == 0 {
            continue;
        }
        let (x0, x1) = (bx(i), bx(i + 1));
        let _ = write!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\"><title>{} · {} joined · {} left</title></rect>",
            (x1 - x0).max(0.5),
            2.0 * HALF_H,
            esc(&bucket_label(series, i, local)),
            thousands(u64::from(series.joins[i])),
            thousands(u64::from(series.leaves[i])),
        );
    }
    s.push_str("</g>\n</svg>\n");
    s
}

/// How many people spent how long in the meeting: one bar per bin, durations below.
pub(crate) fn histogram_svg(hist: &Histogram) -> String {
    const PLOT_H: f64 = 160.0;
    let max = hist.counts.iter().copied().max().unwrap_or(0);
    let step = value_step(max.max(1));
    let top = max.max(1).div_ceil(step) * step;
    let y = |v: f64| TOP + PLOT_H - v * PLOT_H / f64::from(top);
    let bottom = TOP + PLOT_H;
    let bins = hist.counts.len().max(1);
    let bin_w = PLOT_W / bins as f64;
    let mut s = String::new();
    open_svg(
        &mut s,
        "histogram",
        bottom + AXIS_H,
        &format!(
            "Time in the meeting, {bins} bins of {}",
            human_duration(hist.width)
        ),
    );
    value_grid(&mut s, top, y);
    let _ = writeln!(
        s,
        "<text x=\"8\" y=\"{:.1}\" font-size=\"12\" fill=\"#475569\" dominant-baseline=\"middle\">people</text>",
        TOP + 8.0
    );
    // Labels at bin edges, thinned to about ten.
    let every = bins.div_ceil(10);
    for k in (0..=bins).step_by(every) {
        let tx = LABEL_W + k as f64 * bin_w;
        let _ = writeln!(
            s,
            "<text x=\"{tx:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#475569\" text-anchor=\"middle\">{}</text>",
            bottom + 18.0,
            esc(&short_duration(k as i64 * hist.width))
        );
    }
    for (k, &n) in hist.counts.iter().enumerate() {
        let x0 = LABEL_W + k as f64 * bin_w;
        let by = y(f64::from(n));
        let from = k as i64 * hist.width;
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{by:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{BAR_COLOUR}\"><title>{} – {}: {} people</title></rect>",
            x0 + 1.0,
            (bin_w - 2.0).max(1.0),
            bottom - by,
            esc(&short_duration(from)),
            esc(&short_duration(from + hist.width)),
            thousands(u64::from(n)),
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LABEL_W}\" y1=\"{bottom:.1}\" x2=\"{:.1}\" y2=\"{bottom:.1}\" stroke=\"#94a3b8\"/>",
        LABEL_W + PLOT_W
    );
    s.push_str("</svg>\n");
    s
}

/// `0`, `15m`, `1h`, `1h 30m`, `2d`: a bin edge.
fn short_duration(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (d, h, m) {
        (0, 0, 0) => "0".to_owned(),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}
