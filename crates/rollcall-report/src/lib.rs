//! `rollcall report`'s content: one self-contained HTML file about a meeting's attendance.
//!
//! The file has to open anywhere — mailed, archived, on a machine with no network — so it
//! carries its own CSS and draws its charts as inline SVG generated here: no font or library
//! fetched, and it renders (and prints) the same in every browser.
//!
//! Two layouts, by size ([`Options::full_timeline_max`], default [`FULL_TIMELINE_MAX`] =
//! 200 people): a small meeting gets a lane per person and no script at all; a large one
//! (the demo's all-hands: 10,011 people, 11,261 sessions, 0.7 MB) gets the meeting as a whole
//! — attendance, joins and leaves over time, time in the meeting — lanes for a picked few,
//! and a table that a small inline script sorts, searches and pages.
//!
//! The logic is pure and in two steps, each tested on its own: attendees → [`Report`] (the
//! numbers: per-person summary and chart rows) → [`render`] (an HTML string). The `rollcall
//! report` command only fetches, calls both and writes the file.
//!
//! Decisions:
//! - A person is a userid, or for non-members (no userid) their per-meeting `tmp_openid`.
//! - **Time in meeting is the union of a person's sessions**, not their sum: half an hour
//!   on a laptop and a phone at once is half an hour in the meeting. (The summed figure
//!   would double-count exactly the people who joined on two devices.) The rule is
//!   [`rollcall_core::schedule::attendance`], the one `meeting/get_info`'s aggregates use.
//! - A session still in the meeting counts up to the report's "as of" time (default: now;
//!   never before the latest join or quit in the data).
//!
//! Showing times, durations and WeCom's codes to people ([`Local`], [`human_duration`],
//! [`device_name`], [`role_name`]) lives here too, once: `rollcall attendees` prints its
//! table with the same functions.
//!
//! # Layout
//! - [`model`]: [`Report::build`], [`Person`], [`Session`], [`Meta`], [`BadTime`].
//! - [`html`]: [`render`] / [`render_with`] ([`Options`]), the document; the small layout.
//! - `large`: the large layout's sections; `large::table`, the people table, its JSON and
//!   script.
//! - [`overview`]: the large layout's numbers, pure: [`overview::Series`] (per-bucket
//!   attendance, joins, leaves), [`overview::Histogram`], [`overview::pick_lanes`].
//! - `charts`: their SVG; [`svg`]: [`timeline_svg`] and the lanes, on one time scale.
//! - [`local`]: [`Local`] (a time zone for people) and [`human_duration`].
//! - [`names`]: [`device_name`], [`role_name`].
#![forbid(unsafe_code)]

mod charts;
pub mod html;
mod large;
pub mod local;
pub mod model;
pub mod names;
pub mod overview;
pub mod svg;

pub use charts::{AREA_COLOUR, JOIN_COLOUR, LEAVE_COLOUR};
pub use html::{render, render_with, Options, FULL_TIMELINE_MAX};
pub use large::PAGE_ROWS;
pub use local::{human_duration, Local};
pub use model::{BadTime, Meta, Person, Report, Session};
pub use names::{device_name, role_name};
pub use svg::{timeline_svg, BAR_COLOUR, LIVE_COLOUR};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_large;
