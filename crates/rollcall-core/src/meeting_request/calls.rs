//! One request type per meeting call, each read from the JSON body with `TryFrom<&Map>`.

use serde_json::{Map, Value};

use rollcall_wire::lenient::{BadField, Fields};
use rollcall_wire::meeting::Reminders;

use super::reminders::reminders;
use super::settings::{settings, SettingsSpec};
use super::{
    cal_id, duration, invitees, location, start_time, text, title, MAX_ATTENDEE_LIMIT,
    MAX_DESCRIPTION, MAX_USERID, MAX_USER_LIMIT,
};

/// A `meeting/create` request whose fields are all well-formed.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    pub admin_userid: String,
    pub title: String,
    pub meeting_start: i64,
    pub meeting_duration: i64,
    pub description: String,
    pub location: String,
    pub agentid: Option<u32>,
    pub invitees: Vec<String>,
    /// The field the invitees came under: `invitees`, or the older `attendees`.
    pub invitees_field: &'static str,
    pub settings: Option<SettingsSpec>,
    pub reminders: Option<Reminders>,
}

impl TryFrom<&Map<String, Value>> for CreateRequest {
    type Error = BadField;

    fn try_from(body: &Map<String, Value>) -> Result<Self, BadField> {
        let f = Fields::new(body);
        cal_id(&f)?;
        let admin_userid = f.req_str("admin_userid", MAX_USERID)?.to_owned();
        let title = title(&f)?.ok_or(BadField("title"))?;
        let meeting_start = start_time(&f)?.ok_or(BadField("meeting_start"))?;
        let meeting_duration = duration(&f)?.ok_or(BadField("meeting_duration"))?;
        let description = text(&f, "description", MAX_DESCRIPTION)?.unwrap_or_default();
        let location = location(&f)?.unwrap_or_default();
        let agentid = f.opt_u32("agentid")?.filter(|&a| a != 0);
        let (invitees, invitees_field) = invitees(&f)?;
        Ok(Self {
            admin_userid,
            title,
            meeting_start,
            meeting_duration,
            description,
            location,
            agentid,
            invitees: invitees.unwrap_or_default(),
            invitees_field,
            settings: settings(&f)?,
            reminders: reminders(&f)?,
        })
    }
}

/// A `meeting/update` request whose fields are all well-formed; `None` = unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    pub meetingid: String,
    pub admin_userid: Option<String>,
    pub title: Option<String>,
    /// `meeting_start` and `meeting_duration`, which change together.
    pub schedule: Option<(i64, i64)>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub invitees: Option<Vec<String>>,
    /// The field the invitees came under: `invitees`, or the older `attendees`.
    pub invitees_field: &'static str,
    pub settings: Option<SettingsSpec>,
    pub reminders: Option<Reminders>,
}

impl TryFrom<&Map<String, Value>> for UpdateRequest {
    type Error = BadField;

    fn try_from(body: &Map<String, Value>) -> Result<Self, BadField> {
        let f = Fields::new(body);
        let meetingid = f.req_str("meetingid", 256)?.to_owned();
        let admin_userid = f.opt_str("admin_userid", MAX_USERID)?.map(str::to_owned);
        let title = title(&f)?;
        cal_id(&f)?;
        // Changed together, or not at all: the one missing is named.
        let schedule = match (start_time(&f)?, duration(&f)?) {
            (Some(s), Some(d)) => Some((s, d)),
            (None, None) => None,
            (Some(_), None) => return Err(BadField("meeting_duration")),
            (None, Some(_)) => return Err(BadField("meeting_start")),
        };
        let description = text(&f, "description", MAX_DESCRIPTION)?;
        let location = location(&f)?;
        let (invitees, invitees_field) = invitees(&f)?;
        Ok(Self {
            meetingid,
            admin_userid,
            title,
            schedule,
            description,
            location,
            invitees,
            invitees_field,
            settings: settings(&f)?,
            reminders: reminders(&f)?,
        })
    }
}

/// A `meeting/cancel` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    pub meetingid: String,
}

impl TryFrom<&Map<String, Value>> for CancelRequest {
    type Error = BadField;

    fn try_from(body: &Map<String, Value>) -> Result<Self, BadField> {
        let f = Fields::new(body);
        let meetingid = f.req_str("meetingid", 256)?.to_owned();
        // WeCom can cancel one occurrence; rollcall cancels whole meetings only, and refuses
        // rather than cancel more than was asked.
        if f.opt_str("sub_meetingid", 256)?.is_some() {
            return Err(BadField("sub_meetingid"));
        }
        Ok(Self { meetingid })
    }
}

/// A `meeting/get_info` request: `meetingid`, or else `meeting_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest {
    pub meeting: MeetingRef,
    pub sub_meetingid: Option<String>,
}

/// How `meeting/get_info` names its meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingRef {
    Id(String),
    Code(String),
}

impl TryFrom<&Map<String, Value>> for InfoRequest {
    type Error = BadField;

    fn try_from(body: &Map<String, Value>) -> Result<Self, BadField> {
        let f = Fields::new(body);
        let id = f.opt_str("meetingid", 256)?;
        let code = f.opt_str("meeting_code", 64)?;
        let meeting = match (id, code) {
            (Some(id), _) => MeetingRef::Id(id.to_owned()),
            (None, Some(code)) => MeetingRef::Code(code.to_owned()),
            (None, None) => return Err(BadField("meetingid")),
        };
        Ok(Self {
            meeting,
            sub_meetingid: f.opt_str("sub_meetingid", 256)?.map(str::to_owned),
        })
    }
}

/// A `meeting/get_user_meetingid` request whose fields are all well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMeetingsRequest {
    pub userid: String,
    pub cursor: Option<String>,
    pub begin_time: Option<u64>,
    pub end_time: Option<u64>,
    /// 1..=100 (absent or 0 became 100).
    pub limit: u32,
}

impl TryFrom<&Map<String, Value>> for UserMeetingsRequest {
    type Error = BadField;

    fn try_from(body: &Map<String, Value>) -> Result<Self, BadField> {
        let f = Fields::new(body);
        Ok(Self {
            userid: f.req_str("userid", MAX_USERID)?.to_owned(),
            // WeCom's first page is `"cursor": "0"` (SPEC §4), as `""` or no cursor is.
            cursor: f
                .opt_str("cursor", usize::MAX)?
                .filter(|c| *c != "0")
                .map(str::to_owned),
            begin_time: f.opt_uint("begin_time", u64::from(u32::MAX))?,
            end_time: f.opt_uint("end_time", u64::from(u32::MAX))?,
            limit: page_limit(&f, MAX_USER_LIMIT)?,
        })
    }
}

/// A `meeting/get_attendee_list` request whose fields are all well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendeeRequest {
    pub meetingid: String,
    pub sub_meetingid: Option<String>,
    pub start_time: Option<u32>,
    pub end_time: Option<u32>,
    pub cursor: Option<String>,
    /// 1..=100 (absent or 0 became 100).
    pub limit: u32,
}

impl TryFrom<&Map<String, Value>> for AttendeeRequest {
    type Error = BadField;

    fn try_from(body: &Map<String, Value>) -> Result<Self, BadField> {
        let f = Fields::new(body);
        let meetingid = f.req_str("meetingid", 256)?.to_owned();
        let sub_meetingid = f.opt_str("sub_meetingid", 256)?.map(str::to_owned);
        let start_time = f.opt_u32("start_time")?;
        let end_time = f.opt_u32("end_time")?;
        let cursor = f.opt_str("cursor", usize::MAX)?.map(str::to_owned);
        let limit = page_limit(&f, MAX_ATTENDEE_LIMIT)?;
        Ok(Self {
            meetingid,
            sub_meetingid,
            start_time,
            end_time,
            cursor,
            limit,
        })
    }
}

/// `limit`: 1..=`max`, absent or 0 meaning `max`.
fn page_limit(f: &Fields<'_>, max: u32) -> Result<u32, BadField> {
    match f.opt_u32("limit")? {
        None | Some(0) => Ok(max),
        Some(n) if n <= max => Ok(n),
        Some(_) => Err(BadField("limit")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    fn create(v: Value) -> Result<CreateRequest, BadField> {
        CreateRequest::try_from(&obj(v))
    }

    fn base() -> Value {
        json!({"admin_userid": "alice", "title": "周会", "meeting_start": "1800000000",
               "meeting_duration": 3600})
    }

    fn with(field: &str, v: Value) -> Value {
        let mut b = base();
        b[field] = v;
        b
    }

    #[test]
    fn create_fields_are_named_when_bad() {
        let ok = create(base()).expect("valid");
        assert_eq!(ok.meeting_start, 1_800_000_000);
        assert!(ok.reminders.is_none() && ok.invitees.is_empty());
        for (field, v, named) in [
            ("admin_userid", json!(""), "admin_userid"),
            ("admin_userid", json!(5), "admin_userid"),
            ("title", json!(""), "title"),
            ("title", json!("   "), "title"),
            ("title", json!("x".repeat(256)), "title"),
            ("meeting_start", json!(-1), "meeting_start"),
            ("meeting_start", json!(0), "meeting_start"),
            ("meeting_duration", json!(299), "meeting_duration"),
            ("meeting_duration", json!(86_400), "meeting_duration"),
            ("meeting_duration", json!("1h"), "meeting_duration"),
            ("description", json!("字".repeat(1001)), "description"),
            ("location", json!(["x"]), "location"),
            ("agentid", json!(-3), "agentid"),
            ("invitees", json!(["bob"]), "invitees"),
            ("invitees", json!({"userid": "bob"}), "invitees"),
            ("invitees", json!({"userid": [""]}), "invitees"),
            ("settings", json!([]), "settings"),
            ("settings", json!({"password": "12"}), "settings.password"),
            (
                "settings",
                json!({"remind_scope": 9}),
                "settings.remind_scope",
            ),
            (
                "settings",
                json!({"enable_waiting_room": 1}),
                "settings.enable_waiting_room",
            ),
            (
                "settings",
                json!({"auto_record_type": "tape"}),
                "settings.auto_record_type",
            ),
            ("settings", json!({"hosts": ["bob"]}), "settings.hosts"),
            ("reminders", json!(1), "reminders"),
            ("reminders", json!({"is_repeat": 2}), "reminders.is_repeat"),
            (
                "reminders",
                json!({"repeat_type": "daily"}),
                "reminders.repeat_type",
            ),
            (
                "reminders",
                json!({"repeat_day_of_week": [8]}),
                "reminders.repeat_day_of_week",
            ),
            (
                "reminders",
                json!({"remind_before": [-1]}),
                "reminders.remind_before",
            ),
        ] {
            assert_eq!(
                create(with(field, v.clone())),
                Err(BadField(named)),
                "{field}: {v}"
            );
        }
        let mut missing = base();
        missing.as_object_mut().unwrap().remove("meeting_duration");
        assert_eq!(create(missing), Err(BadField("meeting_duration")));
    }

    #[test]
    fn settings_are_normalized_and_unknown_ones_kept() {
        let r = create(with(
            "settings",
            json!({"remind_scope": "3", "password": "123456", "hosts": {"userid": ["a", "a", "b"]},
                   "enable_doc_upload": true}),
        ))
        .expect("valid");
        let s = r.settings.expect("settings");
        assert_eq!(
            serde_json::to_value(&s.value).unwrap(),
            json!({"remind_scope": 3, "password": "123456", "hosts": {"userid": ["a", "b"]},
                   "enable_doc_upload": true})
        );
        assert_eq!(
            s.members,
            [("settings.hosts", vec!["a".into(), "b".into()])]
        );
    }

    #[test]
    fn update_changes_start_and_duration_together() {
        let up = |v: Value| UpdateRequest::try_from(&obj(v));
        assert_eq!(
            up(json!({"meetingid": "m", "meeting_start": 1_800_000_000})),
            Err(BadField("meeting_duration"))
        );
        assert_eq!(
            up(json!({"meetingid": "m", "meeting_duration": 600})),
            Err(BadField("meeting_start"))
        );
        let both = up(json!({"meetingid": "m", "meeting_start": 1_800_000_000,
                            "meeting_duration": "600"}))
        .unwrap();
        assert_eq!(both.schedule, Some((1_800_000_000, 600)));
        let none = up(json!({"meetingid": "m", "title": "x"})).unwrap();
        assert_eq!((none.schedule, none.title.as_deref()), (None, Some("x")));
        assert_eq!(up(json!({})), Err(BadField("meetingid")));
    }

    #[test]
    fn info_cancel_and_user_requests() {
        let info = |v: Value| InfoRequest::try_from(&obj(v));
        assert_eq!(
            info(json!({"meeting_code": "123"})).unwrap().meeting,
            MeetingRef::Code("123".into())
        );
        assert_eq!(
            info(json!({"meetingid": "m", "meeting_code": "123"}))
                .unwrap()
                .meeting,
            MeetingRef::Id("m".into())
        );
        assert_eq!(info(json!({})), Err(BadField("meetingid")));
        let cancel = |v: Value| CancelRequest::try_from(&obj(v));
        assert!(cancel(json!({"meetingid": "m"})).is_ok());
        assert_eq!(
            cancel(json!({"meetingid": "m", "sub_meetingid": "1"})),
            Err(BadField("sub_meetingid"))
        );
        let user = |v: Value| UserMeetingsRequest::try_from(&obj(v));
        assert_eq!(user(json!({"userid": "a"})).unwrap().limit, 100);
        assert_eq!(user(json!({"userid": "a", "limit": 0})).unwrap().limit, 100);
        for first in [json!("0"), json!(""), json!(null)] {
            let r = user(json!({"userid": "a", "cursor": first})).unwrap();
            assert_eq!(r.cursor, None, "{first}");
        }
        assert_eq!(
            user(json!({"userid": "a", "cursor": "c1"}))
                .unwrap()
                .cursor
                .as_deref(),
            Some("c1")
        );
        assert_eq!(user(json!({"userid": "a", "limit": "7"})).unwrap().limit, 7);
        assert_eq!(
            user(json!({"userid": "a", "limit": 101})),
            Err(BadField("limit"))
        );
        assert_eq!(user(json!({})), Err(BadField("userid")));
        assert_eq!(
            user(json!({"userid": "a", "begin_time": "soon"})),
            Err(BadField("begin_time"))
        );
    }
}
