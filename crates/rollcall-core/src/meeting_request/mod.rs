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
pub mod reminders;
pub mod settings;

pub use calls::{
    AttendeeRequest, CancelRequest, CreateRequest, InfoRequest, MeetingRef, UpdateRequest,
    UserMeetingsRequest,
};
pub use reminders::{occurrences_of, rule_of};
pub use settings::SettingsSpec;

/// Longest `title`, in characters.
pub const MAX_TITLE: usize = 255;
/// Longest `description`, in characters.
pub const MAX_DESCRIPTION: usize = 1000;
/// Longest `location`, in characters.
pub const MAX_LOCATION: usize = 255;
/// Most invitees one meeting may have.
pub const MAX_INVITEES: usize = 1000;
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

/// `title`: at most [`MAX_TITLE`] characters, not blank.
fn title(f: &Fields<'_>) -> Result<Option<String>, BadField> {
    match text(f, "title", MAX_TITLE)? {
        Some(t) if t.trim().is_empty() => Err(BadField("title")),
        other => Ok(other),
    }
}

/// `{"userid": [...]}`: the userids, without repeats, in the order given. Any malformation is
/// reported as `name` (`invitees`, `settings.hosts`, …).
fn user_ids(f: &Fields<'_>, name: &'static str) -> Result<Option<Vec<String>>, BadField> {
    let Some(obj) = f.object(name).map_err(|_| BadField(name))? else {
        return Ok(None);
    };
    let ids = obj
        .opt_str_list("userid", MAX_USERID, MAX_INVITEES)
        .map_err(|_| BadField(name))?
        .unwrap_or_default();
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.iter().any(|x| x == id) {
            out.push(id.to_owned());
        }
    }
    Ok(Some(out))
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
