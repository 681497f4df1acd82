//! The layout of a large meeting (more than [`crate::html::FULL_TIMELINE_MAX`] people), where
//! a lane per person would be thousands of identical rows: the meeting as a whole first
//! (attendance, joins and leaves over time, time in the meeting), then lanes for the few
//! people a reader looks for (chosen, hosts, longest, shortest, still in), then everyone in a
//! table that sorts, searches and pages in the browser ([`table`]).
//!
//! Everything stays in the one file: the charts are inline SVG of a size fixed by the
//! chart, not by the people; the table's rows are a compact inline JSON array drawn a page
//! at a time by a small inline script (and its first page is in the HTML, for a reader with
//! scripts off or a printout).

pub(crate) mod table;

use std::fmt::Write as _;

use crate::charts::{
    attendance_svg, each_period, histogram_svg, joins_leaves_svg, period, thousands, JOIN_COLOUR,
    LEAVE_COLOUR,
};
use crate::html::{esc, Options};
use crate::local::{human_duration, Local};
use crate::model::{Person, Report};
use crate::overview::{median_in_meeting, pick_lanes, Histogram, Series, MAX_BINS, MAX_POINTS};
use crate::svg::{lanes_svg, Scale, BAR_COLOUR, LIVE_COLOUR};

pub use table::PAGE_ROWS;

/// What the large layout adds to the page's style.
pub(crate) const STYLE: &str = r#"
.caption { color: #475569; font-size: 13px; margin: 0 0 6px; }
svg.attendance, svg.joins-leaves, svg.histogram { display: block; max-width: 100%; height: auto; }
.tools { display: flex; gap: 16px; align-items: center; margin: 0 0 8px; font-size: 13px; color: #475569; }
.tools input { font: inherit; padding: 5px 8px; width: 320px; border: 1px solid #cbd5e1; border-radius: 4px; }
.pager { display: flex; gap: 12px; align-items: center; margin: 8px 0; font-size: 13px; color: #475569; }
.pager button, th button { font: inherit; cursor: pointer; }
.pager button { padding: 3px 10px; border: 1px solid #cbd5e1; border-radius: 4px; background: #fff; }
.pager button:disabled { color: #94a3b8; cursor: default; }
th button { border: 0; background: none; padding: 0; font-weight: 600; color: inherit; }
th[aria-sort="ascending"] button::after { content: " \25B2"; }
th[aria-sort="descending"] button::after { content: " \25BC"; }
.warn { color: #b45309; }
"#;

/// The large layout's sections, after the summary figures.
pub(crate) fn body(h: &mut String, report: &Report, local: &Local, opts: &Options) {
    let people = &report.people;
    let scale = Scale::new(report.start, report.end);
    let live = people.iter().any(|p| p.last_quit.is_none());
    let as_of = live.then_some(report.meta.as_of);

    let series = Series::build(people, report.start, report.end, MAX_POINTS);
    let bucket = each_period(series.step);
    h.push_str("<h2>Attendance over time</h2>\n");
    let peak = match series.peak() {
        Some((i, n)) => format!(
            " Peak: <b>{}</b> at {}.",
            thousands(u64::from(n)),
            esc(&local.format(
                series.start + i as i64 * series.step,
                if report.end - report.start > 86_400 {
                    "%Y-%m-%d %H:%M"
                } else {
                    "%H:%M"
                }
            ))
        ),
        None => String::new(),
    };
    let _ = writeln!(
        h,
        "<p class=\"caption\">People in the meeting, the most at once in each {bucket} \
         (someone on two devices counts once).{peak} Hover the chart for each {bucket}'s \
         numbers.</p>"
    );
    h.push_str(&attendance_svg(&series, scale, as_of, local));

    h.push_str("<h2>Joins and leaves</h2>\n");
    let _ = writeln!(
        h,
        "<p class=\"caption\">Sessions that joined (<b style=\"color:{JOIN_COLOUR}\">up</b>) and \
         left (<b style=\"color:{LEAVE_COLOUR}\">down</b>) in each {bucket}: {} joins and {} \
         leaves in all. A rejoin is a join; a session still in the meeting has not left.</p>",
        thousands(series.joins.iter().map(|&n| u64::from(n)).sum()),
        thousands(series.leaves.iter().map(|&n| u64::from(n)).sum()),
    );
    h.push_str(&joins_leaves_svg(&series, scale, local));

    let hist = Histogram::build(people, MAX_BINS);
    h.push_str("<h2>Time in the meeting</h2>\n");
    let median = median_in_meeting(people)
        .map(|m| format!(" Median: <b>{}</b>.", esc(&human_duration(m))))
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "<p class=\"caption\">How many people stayed how long (the union of their sessions), \
         in bins of {}.{median}</p>",
        period(hist.width)
    );
    h.push_str(&histogram_svg(&hist));

    lanes_section(h, report, local, opts, scale);

    let _ = writeln!(
        h,
        "<h2>People</h2>\n<p class=\"caption\">Everyone, {} people. Click a column to sort \
         by it (again to reverse), type to search names, tmp_openids and devices.</p>",
        thousands(people.len() as u64)
    );
    table::write(h, report, local);
}

/// A lane's name: the userid or the whole tmp_openid. The small timeline's `external
/// wo12ab…` tells a handful of people apart; among thousands every such prefix is the same.
fn lane_label(p: &Person) -> String {
    if p.userid.is_empty() {
        p.tmp_openid.clone()
    } else {
        p.userid.clone()
    }
}

/// Lanes for the people [`pick_lanes`] picks, grouped and titled, with a legend that says
/// how to choose others.
fn lanes_section(h: &mut String, report: &Report, local: &Local, opts: &Options, scale: Scale) {
    let people = &report.people;
    let lanes = pick_lanes(people, opts.lanes, &opts.people);
    h.push_str("<h2>Selected people</h2>\n");
    let _ = writeln!(
        h,
        "<p class=\"caption\">A lane for each of the people below (up to {} per group), one \
         bar per session; the table has everyone. Choose others with <code>--person ID</code> \
         and the group size with <code>--lanes N</code>.</p>",
        opts.lanes
    );
    if !lanes.unknown.is_empty() {
        let names: Vec<String> = lanes.unknown.iter().map(|n| esc(n)).collect();
        let _ = writeln!(
            h,
            "<p class=\"caption warn\">No one in this meeting is {}.</p>",
            names.join(", ")
        );
    }
    if lanes.groups.is_empty() {
        h.push_str("<p>No lanes chosen.</p>\n");
        return;
    }
    let groups: Vec<(Option<String>, Vec<&Person>)> = lanes
        .groups
        .iter()
        .map(|g| {
            (
                Some(format!("{} ({})", g.pick.title(), g.people.len())),
                g.people.iter().map(|&i| &people[i]).collect(),
            )
        })
        .collect();
    let drawn: usize = groups.iter().map(|(_, g)| g.len()).sum();
    h.push_str(&lanes_svg(
        &groups,
        scale,
        report.meta.as_of,
        &format!("Timeline of {drawn} selected people"),
        lane_label,
        // Proportional glyphs of a 26-character tmp_openid reach the axis; 24 stay clear.
        24,
        local,
    ));
    let _ = writeln!(
        h,
        "<p class=\"legend\">Hover a bar for details.\
         <i style=\"background:{BAR_COLOUR}\"></i>session<i style=\"background:{LIVE_COLOUR}\"></i>still in the meeting</p>"
    );
}
