//! The large layout's people table: every person as a row of an inline JSON array, drawn
//! [`PAGE_ROWS`] at a time by a small inline script that sorts by any column and searches,
//! with no server and nothing fetched. Ten thousand `<tr>`s would make the browser lay out
//! a 400,000 px table; a page of them is instant, and sorting 10,000 numbers is too.
//!
//! The first page (by first join) is also written as HTML, so the table reads with scripts
//! off and in a printout; the script redraws it identically. Times are shown in the
//! report's zone, not the browser's: the data carries the zone's UTC offsets over the
//! meeting (a daylight-saving change included), so a report mailed abroad says the same.
//! The page's state (search, sort, page) is kept in the URL's `#` part
//! (`#q=ios&sort=3&desc=1&page=2`), so a view can be bookmarked or linked.

use std::fmt::Write as _;

use crate::html::{devices_text, esc};
use crate::local::{human_duration, Local};
use crate::model::{Person, Report};

/// Rows drawn at once.
pub const PAGE_ROWS: usize = 100;

/// The offsets are sampled this often and each change is then found to the second (time
/// zones change offset on whole minutes at most every few weeks).
const OFFSET_SAMPLE: i64 = 900;

/// `"…"` as a JSON string that is also safe inside `<script>`: `<`, `>` and `&` as `\u00XX`,
/// so no value can close the element or open a comment.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The zone's UTC offsets over `[from, to]`: `(from, offset)` then each `(change, offset)`.
pub(crate) fn offsets(local: &Local, from: i64, to: i64) -> Vec<(i64, i64)> {
    let mut out = vec![(from, local.offset_secs(from))];
    let mut t = from;
    while t < to {
        let next = (t + OFFSET_SAMPLE).min(to);
        let off = local.offset_secs(next);
        if off != out[out.len() - 1].1 {
            // The first second of the new offset, in (t, next].
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if local.offset_secs(mid) == off {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            out.push((hi, off));
        }
        t = next;
    }
    out
}

/// A person's kind for the table: 0 member, 1 external user, 2 guest.
fn kind(p: &Person) -> u8 {
    match (p.userid.is_empty(), p.guest) {
        (false, _) => 0,
        (true, false) => 1,
        (true, true) => 2,
    }
}

/// The grey line under the name: a member's tmp_openid, or what kind of non-member; "host".
fn sub_line(p: &Person) -> String {
    let mut parts: Vec<&str> = Vec::new();
    match kind(p) {
        0 if !p.tmp_openid.is_empty() => parts.push(&p.tmp_openid),
        0 => {}
        1 => parts.push("external user"),
        _ => parts.push("guest"),
    }
    if p.host {
        parts.push("host");
    }
    parts.join(" · ")
}

/// One row as HTML: exactly what the script's `row()` draws.
fn row_html(h: &mut String, p: &Person, local: &Local) {
    let sub = sub_line(p);
    let last = match p.last_quit {
        Some(q) => esc(&local.datetime(q)),
        None => "<span class=\"live\">in meeting</span>".to_owned(),
    };
    let _ = write!(h, "<tr><td><b>{}</b>", esc(&p.key));
    if !sub.is_empty() {
        let _ = write!(h, "<div class=\"sub\">{}</div>", esc(&sub));
    }
    let _ = writeln!(
        h,
        "</td><td>{}</td><td>{last}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
        esc(&local.datetime(p.first_join)),
        esc(&human_duration(p.in_meeting_secs)),
        p.joins,
        esc(&devices_text(p)),
    );
}

/// The people as the script's data: `{"base", "page", "tz", "dev", "rows"}`, a row being
/// `[key, kind, host, first join − base, last quit − base or null, secs, joins, devices
/// index, member's tmp_openid]`. Times relative to `base` and device lists interned keep it
/// near 45 bytes a person.
fn data_json(report: &Report, local: &Local) -> String {
    let base = report.start;
    let mut out = String::with_capacity(64 + report.people.len() * 56);
    let _ = write!(out, "{{\"base\":{base},\"page\":{PAGE_ROWS},\"tz\":[");
    for (i, (t, off)) in offsets(local, report.start, report.end).iter().enumerate() {
        let _ = write!(out, "{}[{t},{off}]", if i > 0 { "," } else { "" });
    }
    out.push_str("],\"dev\":[");
    let mut devices: Vec<String> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut rows = String::with_capacity(report.people.len() * 56);
    for (i, p) in report.people.iter().enumerate() {
        let d = devices_text(p);
        let next = index.len();
        let di = *index.entry(d.clone()).or_insert_with(|| {
            devices.push(d);
            next
        });
        rows.push_str(if i > 0 { ",\n[" } else { "[" });
        json_str(&mut rows, &p.key);
        let _ = write!(
            rows,
            ",{},{},{},",
            kind(p),
            u8::from(p.host),
            p.first_join - base
        );
        match p.last_quit {
            Some(q) => {
                let _ = write!(rows, "{}", q - base);
            }
            None => rows.push_str("null"),
        }
        let _ = write!(rows, ",{},{},{di},", p.in_meeting_secs, p.joins);
        json_str(&mut rows, if kind(p) == 0 { &p.tmp_openid } else { "" });
        rows.push(']');
    }
    for (i, d) in devices.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(&mut out, d);
    }
    out.push_str("],\"rows\":[\n");
    out.push_str(&rows);
    out.push_str("]}");
    out
}

/// The table, its search box and pager, the data and the script.
pub(crate) fn write(h: &mut String, report: &Report, local: &Local) {
    let n = report.people.len();
    let shown = n.min(PAGE_ROWS);
    let _ = writeln!(
        h,
        "<div class=\"tools\"><input id=\"q\" type=\"search\" placeholder=\"Search people, \
         devices, &quot;in meeting&quot;, &quot;host&quot;…\" aria-label=\"Search people\">\
         <span id=\"shown\">Showing 1–{shown} of {n} people</span></div>"
    );
    h.push_str(
        "<table id=\"people\">\n<thead><tr>\
         <th aria-sort=\"none\"><button type=\"button\">Person</button></th>\
         <th aria-sort=\"none\"><button type=\"button\">First join</button></th>\
         <th aria-sort=\"none\"><button type=\"button\">Last quit</button></th>\
         <th aria-sort=\"none\"><button type=\"button\">Time in meeting</button></th>\
         <th aria-sort=\"none\"><button type=\"button\">Joins</button></th>\
         <th aria-sort=\"none\"><button type=\"button\">Devices</button></th>\
         </tr></thead>\n<tbody>\n",
    );
    for p in report.people.iter().take(PAGE_ROWS) {
        row_html(h, p, local);
    }
    h.push_str("</tbody>\n</table>\n");
    let pages = n.div_ceil(PAGE_ROWS).max(1);
    let _ = writeln!(
        h,
        "<div class=\"pager\"><button type=\"button\" id=\"prev\" disabled>← Previous</button>\
         <span id=\"page\">page 1 of {pages}</span>\
         <button type=\"button\" id=\"next\"{}>Next →</button></div>\n\
         <noscript><p class=\"caption\">Sorting, searching and the other pages need \
         JavaScript; without it the first {shown} people by first join are shown.</p></noscript>",
        if pages > 1 { "" } else { " disabled" }
    );
    h.push_str("<script id=\"people-data\" type=\"application/json\">");
    h.push_str(&data_json(report, local));
    h.push_str("</script>\n<script>");
    h.push_str(SCRIPT);
    h.push_str("</script>\n");
}

/// The table's script: parse the data, then filter → sort → draw one page. Its `row()`
/// draws what [`row_html`] writes, its `dt()` / `dur()` what `Local::datetime` /
/// `human_duration` do.
const SCRIPT: &str = r##"
(function () {
"use strict";
var D = JSON.parse(document.getElementById("people-data").textContent);
var rows = D.rows, dev = D.dev, tz = D.tz, base = D.base, PAGE = D.page;
var KIND = ["", "external user", "guest"];
var tbody = document.querySelector("#people tbody"), q = document.getElementById("q");
var shown = document.getElementById("shown"), pageInfo = document.getElementById("page");
var prev = document.getElementById("prev"), next = document.getElementById("next");
var heads = document.querySelectorAll("#people th");
var ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"};
function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
function p2(n) { return n < 10 ? "0" + n : "" + n; }
function off(t) { var o = tz[0][1]; for (var i = 1; i < tz.length && tz[i][0] <= t; i++) o = tz[i][1]; return o; }
function dt(t) {
  var d = new Date((t + off(t)) * 1000);
  return d.getUTCFullYear() + "-" + p2(d.getUTCMonth() + 1) + "-" + p2(d.getUTCDate()) + " " +
    p2(d.getUTCHours()) + ":" + p2(d.getUTCMinutes()) + ":" + p2(d.getUTCSeconds());
}
function dur(s) {
  s = Math.max(0, s);
  var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
  return h > 0 ? h + "h " + p2(m) + "m" : m > 0 ? m + "m " + p2(x) + "s" : x + "s";
}
function num(n) { return n.toLocaleString("en-US"); }
function sub(r) {
  var a = [];
  if (r[1] === 0) { if (r[8]) a.push(r[8]); } else a.push(KIND[r[1]]);
  if (r[2]) a.push("host");
  return a.join(" \u00b7 ");
}
function row(r) {
  var s = sub(r);
  return "<tr><td><b>" + esc(r[0]) + "</b>" + (s ? "<div class=\"sub\">" + esc(s) + "</div>" : "") +
    "</td><td>" + dt(base + r[3]) + "</td><td>" +
    (r[4] === null ? "<span class=\"live\">in meeting</span>" : dt(base + r[4])) +
    "</td><td class=\"num\">" + dur(r[5]) + "</td><td class=\"num\">" + r[6] + "</td><td>" +
    esc(dev[r[7]]) + "</td></tr>\n";
}
// Sort keys by column; the second number is whether a first click sorts descending.
var KEYS = [
  [function (r) { return r[0]; }, 0],
  [function (r) { return r[3]; }, 0],
  [function (r) { return r[4] === null ? Infinity : r[4]; }, 0],
  [function (r) { return r[5]; }, 1],
  [function (r) { return r[6]; }, 1],
  [function (r) { return dev[r[7]]; }, 0]
];
var text = null, view = [];
var state = {q: "", col: -1, desc: false, page: 0};
function load() {
  var h = location.hash.replace(/^#/, ""); if (!h) return;
  var p = new URLSearchParams(h), c = parseInt(p.get("sort"), 10), g = parseInt(p.get("page"), 10);
  state.q = p.get("q") || "";
  if (c >= 0 && c < KEYS.length) { state.col = c; state.desc = p.get("desc") === "1"; }
  if (g > 0) state.page = g - 1;
  q.value = state.q;
}
function save() {
  var p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  if (state.col >= 0) { p.set("sort", state.col); if (state.desc) p.set("desc", "1"); }
  if (state.page > 0) p.set("page", state.page + 1);
  var h = p.toString();
  try { history.replaceState(null, "", h ? "#" + h : location.pathname + location.search); } catch (e) { /* file: URLs in some browsers */ }
}
function filter() {
  var needle = state.q.trim().toLowerCase();
  if (needle && !text) {
    text = rows.map(function (r) {
      return (r[0] + " " + r[8] + " " + KIND[r[1]] + (r[2] ? " host" : "") + " " + dev[r[7]] +
        (r[4] === null ? " in meeting" : "")).toLowerCase();
    });
  }
  view = [];
  for (var i = 0; i < rows.length; i++) if (!needle || text[i].indexOf(needle) >= 0) view.push(i);
  if (state.col >= 0) {
    var k = KEYS[state.col][0], d = state.desc ? -1 : 1;
    view.sort(function (a, b) {
      var x = k(rows[a]), y = k(rows[b]);
      return x < y ? -d : x > y ? d : a - b;
    });
  }
}
function draw() {
  var pages = Math.max(1, Math.ceil(view.length / PAGE));
  state.page = Math.min(Math.max(0, state.page), pages - 1);
  var from = state.page * PAGE, to = Math.min(view.length, from + PAGE), h = [];
  for (var i = from; i < to; i++) h.push(row(rows[view[i]]));
  tbody.innerHTML = h.length ? h.join("") : "<tr><td colspan=\"6\">No one matches.</td></tr>";
  shown.textContent = view.length === 0 ? "No one matches" :
    "Showing " + num(from + 1) + "\u2013" + num(to) + " of " + num(view.length) +
    (view.length < rows.length ? " matching (" + num(rows.length) + " people)" : " people");
  pageInfo.textContent = "page " + num(state.page + 1) + " of " + num(pages);
  prev.disabled = state.page === 0;
  next.disabled = state.page >= pages - 1;
  for (var c = 0; c < heads.length; c++) {
    heads[c].setAttribute("aria-sort", c === state.col ? (state.desc ? "descending" : "ascending") : "none");
  }
  save();
}
Array.prototype.forEach.call(heads, function (th, c) {
  th.querySelector("button").addEventListener("click", function () {
    if (state.col === c) state.desc = !state.desc; else { state.col = c; state.desc = KEYS[c][1] === 1; }
    state.page = 0; filter(); draw();
  });
});
var timer = 0;
q.addEventListener("input", function () {
  clearTimeout(timer);
  timer = setTimeout(function () { state.q = q.value; state.page = 0; filter(); draw(); }, 120);
});
prev.addEventListener("click", function () { state.page--; draw(); });
next.addEventListener("click", function () { state.page++; draw(); });
load(); filter(); draw();
})();
"##;
