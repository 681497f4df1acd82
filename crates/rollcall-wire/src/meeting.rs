//! The meeting calls around the attendee list (SPEC §4): `meeting/create`, `meeting/update`,
//! `meeting/cancel`, `meeting/get_info`, `meeting/get_user_meetingid`.
//!
//! Field names are WeCom's (创建预约会议, 修改预约会议, 取消预约会议, 获取会议详情,
//! 获取成员会议ID列表). The same types serve both sides:
//! - the server *writes* the replies with them (it reads requests field by field with
//!   [`crate::lenient`], so that a bad field is reported by name, as for get_attendee_list);
//! - a client *writes* the requests and *reads* the replies with them.
//!
//! Why the shapes are as they are:
//! - Requests carry only what the caller set: every optional field is an `Option`, left out
//!   of the JSON when `None`. On `meeting/update` an absent field means "unchanged".
//! - Integers in replies are written as JSON numbers and read leniently
//!   ([`crate::lenient::serde_uint`]: a number or a digit string), because WeCom is not
//!   consistent about it across calls and versions.
//! - `settings` and `reminders` keep the fields this crate does not model in `extra`, so a
//!   newer WeCom field survives a round trip.
//!
//! # Layout
//! - [`CreateMeetingRequest`] / [`CreateMeetingResponse`], [`UpdateMeetingRequest`],
//!   [`CancelMeetingRequest`]: scheduling (update and cancel answer [`crate::ErrorBody`]).
//! - [`MeetingSettings`], [`Reminders`], [`UserIds`]: the nested objects.
//! - [`GetMeetingInfoRequest`] / [`MeetingInfo`] (with [`MeetingAttendance`],
//!   [`MemberAttendance`], [`ExternalAttendance`], [`AttendanceFigures`], [`SubMeeting`]): one meeting.
//! - [`GetUserMeetingIdRequest`] / [`GetUserMeetingIdResponse`]: a member's meetings.
//! - [`status`], [`meeting_type`], [`attendee_status`], [`repeat_type`]: the enum codes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::lenient::serde_uint;

/// `status` of a meeting or sub-meeting.
pub mod status {
    /// Scheduled; nobody has attended yet and its end is ahead.
    pub const PENDING: u32 = 1;
    /// Somebody is in it now.
    pub const IN_PROGRESS: u32 = 2;
    /// It had attendance and nobody is in it now.
    pub const ENDED: u32 = 3;
    /// Cancelled with `meeting/cancel`.
    pub const CANCELLED: u32 = 4;
    /// Its time passed without anyone attending.
    pub const EXPIRED: u32 = 5;
}

/// `meeting_type` of a meeting.
pub mod meeting_type {
    /// A one-off scheduled meeting.
    pub const ONE_OFF: u32 = 0;
    /// A recurring meeting (it has sub-meetings).
    pub const RECURRING: u32 = 1;
    /// A webinar (created through rollcall's admin API only).
    pub const WEBINAR: u32 = 6;
}

/// `status` of one person in `meeting/get_info`'s `attendees` (rollcall's definition: the
/// aggregates only list people who attended).
pub mod attendee_status {
    /// In the meeting now: at least one of their sessions has not quit.
    pub const IN_MEETING: u32 = 1;
    /// Attended and has left: every session has quit.
    pub const LEFT: u32 = 2;
}

/// `reminders.repeat_type` codes accepted by `meeting/create` and `meeting/update`.
pub mod repeat_type {
    /// Every `repeat_interval` days.
    pub const DAILY: u32 = 0;
    /// Every `repeat_interval` weeks (2 = every two weeks), on the first meeting's weekday or
    /// the custom `repeat_day_of_week`.
    pub const WEEKLY: u32 = 1;
    /// Every `repeat_interval` months, on the first meeting's day of the month or the custom
    /// `repeat_day_of_month`.
    pub const MONTHLY: u32 = 2;
    /// Every working day (Monday to Friday).
    pub const WORKDAYS: u32 = 7;
}

/// `{"userid": [...]}`, WeCom's shape for invitees, hosts and ring lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIds {
    #[serde(default)]
    pub userid: Vec<String>,
}

impl<S: Into<String>> FromIterator<S> for UserIds {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self {
            userid: iter.into_iter().map(Into::into).collect(),
        }
    }
}

/// `settings` of create / update / get_info. rollcall stores them and hands them back; it
/// does not act on them (there is no media here), but it checks their types.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeetingSettings {
    /// Meeting password (4–6 digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Who is reminded when the meeting starts: 1 nobody, 2 the host, 3 everyone, 4 the
    /// `ring_users`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_scope: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_waiting_room: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_enter_before_host: Option<bool>,
    /// Mute on entry: 0 off, 1 on, 2 on once more than six people are in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_enter_mute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_unmute_self: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_external_user: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_screen_watermark: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark_type: Option<u32>,
    /// `"none"`, `"local"` or `"cloud"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_record_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_host_key: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<UserIds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_users: Option<UserIds>,
    /// Settings this crate does not model, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `reminders` of create / update / get_info: the recurrence and the reminder times.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reminders {
    /// 1 for a recurring meeting, 0 (or absent) for a one-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_repeat: Option<u32>,
    /// See [`repeat_type`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_type: Option<u32>,
    /// How the recurrence ends: 0 on the date of `repeat_until`, 1 after
    /// `repeat_until_count` occurrences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_until_type: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_until_count: Option<u32>,
    /// Unix seconds; the recurrence ends on that day (in the server's time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_until: Option<u64>,
    /// Every N days / weeks / months (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<u32>,
    /// 1: meet on `repeat_day_of_week` (weekly) or `repeat_day_of_month` (monthly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_custom_repeat: Option<u32>,
    /// 1 = Monday … 7 = Sunday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_day_of_week: Option<Vec<u32>>,
    /// 1..=31; a day a month lacks is skipped that month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_day_of_month: Option<Vec<u32>>,
    /// Reminders, in seconds before the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_before: Option<Vec<u32>>,
    /// Fields this crate does not model, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /cgi-bin/meeting/create` (创建预约会议).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateMeetingRequest {
    /// The member the meeting is created for (its administrator); a member of the corp.
    pub admin_userid: String,
    pub title: String,
    /// Unix seconds; must lie in the future.
    pub meeting_start: u64,
    /// Seconds, 300 to 86399.
    pub meeting_duration: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The calling app's agentid (optional; another app's is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agentid: Option<u32>,
    /// Members of the corp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitees: Option<UserIds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<MeetingSettings>,
    /// The calendar the meeting is added to (accepted, not used by rollcall).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<Reminders>,
}

/// `meeting/create` success body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateMeetingResponse {
    #[serde(default)]
    pub errcode: i32,
    #[serde(default)]
    pub errmsg: String,
    pub meetingid: String,
    /// The code people type to join (rollcall always returns it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_code: Option<String>,
    /// Invitees beyond the meeting's capacity, who were not invited (rollcall has no
    /// capacity, so it never sends this).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excess_users: Vec<String>,
}

/// `POST /cgi-bin/meeting/update` (修改预约会议): only the fields given change;
/// `meeting_start` and `meeting_duration` change together. Only a pending meeting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateMeetingRequest {
    pub meetingid: String,
    /// Checked to be a member of the corp; the meeting's administrator does not change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_userid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_start: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_duration: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Replaces the invitee list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitees: Option<UserIds>,
    /// Replaces the settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<MeetingSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cal_id: Option<String>,
    /// Replaces the recurrence (and regenerates the sub-meetings still to come).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<Reminders>,
}

/// `POST /cgi-bin/meeting/cancel` (取消预约会议). Only a pending meeting can be cancelled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelMeetingRequest {
    pub meetingid: String,
    /// WeCom's field to cancel one occurrence. rollcall cancels whole meetings only and
    /// refuses a request that names one (40058 `invalid param 'sub_meetingid'`) rather than
    /// cancel more than was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_meetingid: Option<String>,
}

/// `POST /cgi-bin/meeting/get_info` (获取会议详情): `meetingid` or `meeting_code`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetMeetingInfoRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub meetingid: String,
    /// Instead of `meetingid`: the code people type to join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_code: Option<String>,
    /// For a recurring meeting: the occurrence whose status and attendance are reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_meetingid: Option<String>,
}

/// `meeting/get_info` success body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeetingInfo {
    #[serde(default)]
    pub errcode: i32,
    #[serde(default)]
    pub errmsg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_userid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_userid: Option<String>,
    #[serde(default)]
    pub title: String,
    /// Unix seconds.
    #[serde(default, with = "serde_uint")]
    pub meeting_start: u64,
    /// Seconds.
    #[serde(default, with = "serde_uint")]
    pub meeting_duration: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The administrator's main (first) department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_department: Option<u64>,
    /// See [`status`]; for the sub-meeting when `sub_meetingid` was given.
    #[serde(default)]
    pub status: u32,
    /// See [`meeting_type`].
    #[serde(default)]
    pub meeting_type: u32,
    /// Per-person attendance aggregates.
    #[serde(default)]
    pub attendees: MeetingAttendance,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<MeetingSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<Reminders>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_link: Option<String>,
    /// A recurring meeting's occurrences, in schedule order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_meetings: Vec<SubMeeting>,
    /// For a recurring meeting: the occurrence in progress, else the next one, else the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_sub_meetingid: Option<String>,
    /// Fields this crate does not model (`has_vote`, `sub_repeat_list`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `attendees` of `meeting/get_info`: corp members (within the app's visible range) and
/// everyone else (external users and guests), aggregated per person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingAttendance {
    #[serde(default)]
    pub member: Vec<MemberAttendance>,
    #[serde(default)]
    pub tmp_external_user: Vec<ExternalAttendance>,
}

/// A corp member's attendance in `meeting/get_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAttendance {
    pub userid: String,
    #[serde(flatten)]
    pub figures: AttendanceFigures,
}

/// An external user's or guest's attendance in `meeting/get_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalAttendance {
    /// Their per-meeting temporary id: the `tmp_openid` get_attendee_list shows.
    pub tmp_external_userid: String,
    #[serde(flatten)]
    pub figures: AttendanceFigures,
}

/// One person's attendance figures, the same for members and external users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceFigures {
    /// See [`attendee_status`].
    #[serde(default)]
    pub status: u32,
    /// Unix seconds of the first join.
    #[serde(default, with = "serde_uint")]
    pub first_join_time: u64,
    /// Unix seconds of the last quit; 0 while still in the meeting.
    #[serde(default, with = "serde_uint")]
    pub last_quit_time: u64,
    /// Sessions (joins, counting every device and rejoin).
    #[serde(default, with = "serde_uint")]
    pub total_join_count: u64,
    /// Seconds in the meeting: the union of the sessions' spans (open ones up to now), so
    /// two devices at once count once.
    #[serde(default, with = "serde_uint")]
    pub cumulative_time: u64,
}

/// One occurrence of a recurring meeting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubMeeting {
    pub sub_meetingid: String,
    /// See [`status`].
    #[serde(default)]
    pub status: u32,
    /// Unix seconds.
    #[serde(default, with = "serde_uint")]
    pub start_time: u64,
    #[serde(default, with = "serde_uint")]
    pub end_time: u64,
}

/// `POST /cgi-bin/meeting/get_user_meetingid` (获取成员会议ID列表).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetUserMeetingIdRequest {
    pub userid: String,
    /// `next_cursor` of the previous page; its window wins over `begin_time` / `end_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Unix seconds; the span to `end_time` is at most 180 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begin_time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<u64>,
    /// Page size, 1 to 100 (absent or 0: 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `meeting/get_user_meetingid` success body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetUserMeetingIdResponse {
    #[serde(default)]
    pub errcode: i32,
    #[serde(default)]
    pub errmsg: String,
    /// `""` when there is nothing more.
    #[serde(default)]
    pub next_cursor: String,
    #[serde(default)]
    pub meetingid_list: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_use_wecoms_names_and_leave_unset_fields_out() {
        let req = CreateMeetingRequest {
            admin_userid: "zhangsan".into(),
            title: "周会".into(),
            meeting_start: 1_800_000_000,
            meeting_duration: 3600,
            invitees: Some(["lisi"].into_iter().collect()),
            reminders: Some(Reminders {
                is_repeat: Some(1),
                repeat_type: Some(repeat_type::WEEKLY),
                repeat_until_type: Some(1),
                repeat_until_count: Some(4),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"admin_userid": "zhangsan", "title": "周会", "meeting_start": 1800000000u64,
                   "meeting_duration": 3600, "invitees": {"userid": ["lisi"]},
                   "reminders": {"is_repeat": 1, "repeat_type": 1, "repeat_until_type": 1,
                                 "repeat_until_count": 4}})
        );
        let up = UpdateMeetingRequest {
            meetingid: "hy1".into(),
            title: Some("renamed".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&up).unwrap(),
            json!({"meetingid": "hy1", "title": "renamed"})
        );
        let info = GetMeetingInfoRequest {
            meeting_code: Some("123456789".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&info).unwrap(),
            json!({"meeting_code": "123456789"})
        );
    }

    #[test]
    fn get_info_writes_numbers_and_reads_digit_strings() {
        let info = MeetingInfo {
            title: "t".into(),
            meeting_start: 1_800_000_000,
            meeting_duration: 3600,
            status: status::PENDING,
            attendees: MeetingAttendance {
                member: vec![MemberAttendance {
                    userid: "lisi".into(),
                    figures: AttendanceFigures {
                        status: attendee_status::LEFT,
                        first_join_time: 5,
                        last_quit_time: 9,
                        total_join_count: 1,
                        cumulative_time: 4,
                    },
                }],
                tmp_external_user: vec![],
            },
            ..Default::default()
        };
        let v = serde_json::to_value(&info).unwrap();
        assert_eq!(v["meeting_start"], 1_800_000_000u64);
        assert_eq!(v["attendees"]["member"][0]["cumulative_time"], 4);
        assert!(v.get("sub_meetings").is_none() && v.get("settings").is_none());
        let back: MeetingInfo = serde_json::from_value(json!({
            "errcode": 0, "errmsg": "ok", "title": "t", "meeting_start": "1800000000",
            "meeting_duration": 3600, "status": 1, "meeting_type": 0, "has_vote": false,
            "attendees": {"member": [{"userid": "lisi", "status": 2, "first_join_time": "5",
                                      "last_quit_time": 9, "total_join_count": 1,
                                      "cumulative_time": 4}]},
        }))
        .unwrap();
        assert_eq!(back.meeting_start, 1_800_000_000);
        assert_eq!(back.attendees, info.attendees);
        assert_eq!(back.extra["has_vote"], false);
        let bad = json!({"userid": "x", "first_join_time": -5});
        assert!(serde_json::from_value::<MemberAttendance>(bad).is_err());
    }

    #[test]
    fn settings_and_reminders_keep_unknown_fields() {
        let s: MeetingSettings = serde_json::from_value(
            json!({"password": "1234", "hosts": {"userid": ["a"]}, "enable_doc_upload": true}),
        )
        .unwrap();
        assert_eq!(s.hosts.as_ref().unwrap().userid, ["a"]);
        assert_eq!(s.extra["enable_doc_upload"], true);
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["enable_doc_upload"], true);
    }
}
