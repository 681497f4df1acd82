//! The requests of WeCom's meeting calls (SPEC §3, §4), read into validated values.
//!
//! Each request is read field by field ([`rollcall_wire::lenient`]) into a value whose fields
//! are well-formed (`TryFrom<&Map>`), so a bad field is reported by name ([`BadField`]: 40058
//! `invalid param '<field>'`, nested fields by path, e.g. `reminders.repeat_type`). This is the
//! same step [`crate::ingest::parse_event`] is for ingest events. The checks that need the
//! directory, the clock or the stored meeting come next, in the server's operations.
//!
//! # Layout
//! - this file: the field limits and the readers the calls share (`text`, `title`,
//!   `user_ids`, `start_time`, `duration`).
//! - [`settings`]: `settings`, checked and normalized ([`SettingsSpec`]).
//! - [`reminders`]: `reminders` read field by field, and turned into a repetition rule
//!   ([`rule_of`], [`occurrences_of`]).
//! - [`calls`]: one request type per call ([`CreateRequest`], [`InfoRequest`],
//!   [`UpdateRequest`], [`CancelRequest`], [`UserMeetingsRequest`], [`AttendeeRequest`]).

use rollcall_wire::lenient::{BadField, Fields};

use crate::plan::{MAX_MEETING_CALL_DURATION, MIN_DURATION};

pub mod calls;
#[cfg(test)]
mod fidelity_tests;
pub mod reminders;
pub mod settings;

pub use calls::{
    AttendeeRequest, CancelRequest, CreateRequest, InfoRequest, MeetingRef, UpdateRequest,
    UserMeetingsRequest,
};
pub use reminders::{max_occurrences, occurrences_of, rule_of};
pub use settings::SettingsSpec;

// The limits below are WeCom's, from the meeting pages (ARCHITECTURE.md, "Fidelity to
// WeCom's pages", lists each with its source). Where the basic page (预约会议基础管理,
// path/99104, 99047) and the advanced one (预约会议高级管理, path/98148, 98154) disagree, the
// advanced page is followed: it is the newer document (doc ids 45733 / 45762 against
// 25245 / 25434) and the one WeCom maintains the typed field tables in.

/// Longest `title`: 1~255 characters ("1~255位字符长度", path/98148; the older path/99104
/// said 40 bytes or 20 UTF-8 characters).
pub const MAX_TITLE: usize = 255;
/// Longest `description`: 500 characters ("最多支持500个字节或者utf8字符": 500 ASCII bytes or
/// 500 UTF-8 characters, i.e. 500 characters whatever the script).
pub const MAX_DESCRIPTION: usize = 500;
/// Longest `location`, in width units: "最长支持18个汉字或36个英文字母" (path/98148), so an
/// ASCII character counts 1 and any other character 2 (see [`width`]). The older page said
/// 128 characters.
pub const MAX_LOCATION_WIDTH: usize = 36;
/// Most distinct `invitees` of one create / update: WeCom's ceiling for any corp ("最多为300人";
/// a corp without paid capacity gets 100, which rollcall does not model).
pub const MAX_INVITEES: usize = 300;
/// Most distinct `settings.hosts` ("主持人员最多10个").
pub const MAX_HOSTS: usize = 10;
/// Longest `cal_id`, in bytes ("不多于64字节").
pub const MAX_CAL_ID: usize = 64;
/// Most userids read from one list before it is refused (a bound on memory for lists WeCom
/// gives no count for, e.g. `settings.ring_users`).
pub const MAX_USER_LIST: usize = 1000;
/// Longest userid, in bytes (WeCom's limit).
pub const MAX_USERID: usize = 64;
/// Default and largest page of `meeting/get_user_meetingid`.
pub const MAX_USER_LIMIT: u32 = 100;
/// Default and largest page of `meeting/get_attendee_list`.
pub const MAX_ATTENDEE_LIMIT: u32 = 100;

/// A string field of at most `max_chars` characters.
fn text(f: &Fields<'_>, name: &'static str, max_chars: usize) -> Result<Option<String>, BadField> {
    match f.opt_str(name, max_chars.saturating_mul(4))? {
        Some(s) if s.chars().count() > max_chars => Err(BadField(name)),
        other => Ok(other.map(str::to_owned)),
    }
}

/// How WeCom's "18个汉字或36个英文字母" counts a string: 1 per ASCII character, 2 per other
/// character (as a double-byte charset stores them).
pub fn width(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// `location`: at most [`MAX_LOCATION_WIDTH`] width units.
fn location(f: &Fields<'_>) -> Result<Option<String>, BadField> {
    match f.opt_str("location", MAX_LOCATION_WIDTH.saturating_mul(4))? {
        Some(s) if width(s) > MAX_LOCATION_WIDTH => Err(BadField("location")),
        other => Ok(other.map(str::to_owned)),
    }
}

/// `cal_id`: rollcall keeps no calendars, but WeCom's length rule is checked so a body WeCom
/// would refuse is refused here too.
fn cal_id(f: &Fields<'_>) -> Result<(), BadField> {
    f.opt_str("cal_id", MAX_CAL_ID).map(|_| ())
}

/// `title`: at most [`MAX_TITLE`] characters, not blank.
fn title(f: &Fields<'_>) -> Result<Option<String>, BadField> {
    match text(f, "title", MAX_TITLE)? {
        Some(t) if t.trim().is_empty() => Err(BadField("title")),
        other => Ok(other),
    }
}

/// `{"userid": [...]}`: the userids, without repeats, in the order given, at most `max`
/// distinct ones. Any malformation is reported as `name` (`invitees`, `settings.hosts`, …).
fn user_ids(
    f: &Fields<'_>,
    name: &'static str,
    max: usize,
) -> Result<Option<Vec<String>>, BadField> {
    let Some(obj) = f.object(name).map_err(|_| BadField(name))? else {
        return Ok(None);
    };
    let ids = obj
        .opt_str_list("userid", MAX_USERID, MAX_USER_LIST)
        .map_err(|_| BadField(name))?
        .unwrap_or_default();
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.iter().any(|x| x == id) {
            out.push(id.to_owned());
        }
    }
    if out.len() > max {
        return Err(BadField(name));
    }
    Ok(Some(out))
}

/// The invitees of create / update: `invitees.userid`, or the older spelling
/// `attendees.userid` (WeCom's earlier body, still in SDKs such as SKIT's
/// `CgibinMeetingCreateRequest`). When both are given the newer `invitees` wins and
/// `attendees` is not read.
/// Returns the userids and the spelling they came under (what a refusal of one names).
fn invitees(f: &Fields<'_>) -> Result<(Option<Vec<String>>, &'static str), BadField> {
    match user_ids(f, "invitees", MAX_INVITEES)? {
        Some(ids) => Ok((Some(ids), "invitees")),
        None => Ok((user_ids(f, "attendees", MAX_INVITEES)?, "attendees")),
    }
}

/// A `u32` enum-like field that must be at most `max`.
fn small(f: &Fields<'_>, name: &'static str, max: u64) -> Result<Option<u32>, BadField> {
    Ok(f.opt_uint(name, max)?.map(|n| n as u32))
}

/// `meeting_start`: unix seconds, given, and (checked later) in the future.
fn start_time(f: &Fields<'_>) -> Result<Option<i64>, BadField> {
    Ok(f.opt_uint("meeting_start", u64::from(u32::MAX))?
        .filter(|&t| t != 0)
        .map(|t| t as i64))
}

/// `meeting_duration`: [`MIN_DURATION`]..=[`MAX_MEETING_CALL_DURATION`] seconds (`0` = not given).
fn duration(f: &Fields<'_>) -> Result<Option<i64>, BadField> {
    match f.opt_uint("meeting_duration", u64::from(u32::MAX))? {
        None | Some(0) => Ok(None),
        Some(d) if (MIN_DURATION as u64..=MAX_MEETING_CALL_DURATION as u64).contains(&d) => {
            Ok(Some(d as i64))
        }
        Some(_) => Err(BadField("meeting_duration")),
    }
}
