//! The report's numbers: attendees → one [`Person`] per userid (or `tmp_openid`), each with
//! the sessions the chart draws.
//!
//! Per-person figures (first join, last quit, joins, time in the meeting) are
//! [`rollcall_core::schedule::attendance`], the rule `meeting/get_info` reports; this module
//! adds only what a chart needs (bar ends, sub-rows, devices).

use std::collections::HashMap;
use std::fmt;

use rollcall_core::schedule::{attendance, span_end};
use rollcall_wire::Attendee;

use crate::names::device_name;

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
    /// Creator, host or co-host in any session (WeCom's `role` 1–3, 5–7): the people a
    /// large report always draws a lane for.
    pub host: bool,
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

/// WeCom's `role` (获取已参会成员列表): 1 creator, 2 host, 3 creator+host, 5 guest+host,
/// 6 co-host, 7 creator+co-host. The creator counts: whoever set the meeting up is who a
/// reader looks for first.
pub fn is_host(role: u32) -> bool {
    matches!(role, 1 | 2 | 3 | 5 | 6 | 7)
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTime {
    pub who: String,
    pub field: &'static str,
    pub value: String,
}

impl fmt::Display for BadTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "session of {} has {} {:?}, not unix seconds",
            self.who, self.field, self.value
        )
    }
}

impl std::error::Error for BadTime {}

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
                person(key, rows, meta.as_of)
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

/// One person from their sessions (`None` for none): core's figures, plus the chart's rows.
fn person(key: String, rows: Vec<Parsed>, as_of: i64) -> Option<Person> {
    let first = rows.first()?.0;
    let spans: Vec<(i64, Option<i64>)> = rows.iter().map(|&(_, j, q)| (j, q)).collect();
    let figures = attendance(&spans, as_of)?;
    let mut sessions: Vec<Session> = rows
        .iter()
        .map(|&(a, join, quit)| Session {
            join,
            quit,
            end: span_end(join, quit, as_of),
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

    Some(Person {
        userid: first.userid.clone(),
        tmp_openid: first.tmp_openid.clone(),
        guest: first.userid.is_empty() && rows.iter().any(|(a, _, _)| matches!(a.role, 4 | 5)),
        host: rows.iter().any(|(a, _, _)| is_host(a.role)),
        first_join: figures.first_join,
        last_quit: figures.last_quit,
        in_meeting_secs: figures.in_meeting_secs,
        joins: figures.joins,
        devices,
        rows: row_ends.len().max(1),
        sessions,
        key,
    })
}
