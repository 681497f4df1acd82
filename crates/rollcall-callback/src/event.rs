//! The meeting events WeCom pushes to an app about the meetings it created through the API
//! (会议 › 回调通知, <https://developer.work.weixin.qq.com/document/path/99103>), as typed
//! values with WeCom's XML shape:
//!
//! ```xml
//! <xml>
//!    <ToUserName><![CDATA[corpid]]></ToUserName>
//!    <FromUserName><![CDATA[userid or sys]]></FromUserName>
//!    <FromUserTmpOpenId><![CDATA[tmp_openid]]></FromUserTmpOpenId>   <!-- in-meeting events -->
//!    <OperatedUser>…</OperatedUser>                                   <!-- some events -->
//!    <CreateTime>1348831860</CreateTime>
//!    <MsgType><![CDATA[event]]></MsgType>
//!    <Event><![CDATA[meeting_change]]></Event>
//!    <ChangeType><![CDATA[modify_meeting]]></ChangeType>
//!    <MeetingId><![CDATA[wcjgew…]]></MeetingId>
//! </xml>
//! ```
//!
//! Every event WeCom documents there is `Event = meeting_change` with a `ChangeType`; see
//! [`ChangeType`] for each one and its page. WeCom documents **no** event for a meeting
//! being created (the app that creates it gets the `meetingid` in the reply), yet SPEC §11
//! asks for one: rollcall's choice is [`ChangeType::CreateMeeting`], `create_meeting`,
//! named after `modify_meeting` / `cancel_meeting` and shaped like them.

use crate::xml::{self, Element, XmlError};

/// `MsgType` of every event.
pub const MSG_TYPE_EVENT: &str = "event";
/// `Event` of every meeting event.
pub const EVENT_MEETING_CHANGE: &str = "meeting_change";
/// `FromUserName` of an event the system caused (WeCom: "如果为系统触发事件,默认为sys").
pub const FROM_SYSTEM: &str = "sys";

/// What happened to the meeting: WeCom's `ChangeType` values under `meeting_change`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChangeType {
    /// `create_meeting` — **rollcall's own**: WeCom documents no creation event.
    CreateMeeting,
    /// `modify_meeting`: an admin changed the meeting (修改会议事件, path/99081).
    ModifyMeeting,
    /// `cancel_meeting`: an admin cancelled it (取消会议事件, path/99082).
    CancelMeeting,
    /// `meeting_start`: the meeting started (会议开始事件, path/98333).
    MeetingStart,
    /// `meeting_end`: the meeting ended (会议结束事件, the page after path/98333; its name
    /// follows `meeting_start`).
    MeetingEnd,
    /// `join_meeting`: someone joined (成员入会事件, the page before path/98352).
    JoinMeeting,
    /// `quit_meeting`: someone left, host or not (成员离会事件, path/98352).
    QuitMeeting,
    /// `join_meeting_before_host` (成员等待主持人入会事件, path/98353).
    JoinMeetingBeforeHost,
    /// `join_waiting_room` (成员进入等候室事件, path/98354).
    JoinWaitingRoom,
    /// `quit_waiting_room`, with `OperatedUser` (成员离开等候室事件, path/98355).
    QuitWaitingRoom,
    /// `move_to_waiting_room`, with `OperatedUser` (path/98394).
    MoveToWaitingRoom,
    /// `open_screen_share` (共享屏幕开启事件, path/98395).
    OpenScreenShare,
    /// `role_change`, with `OperatedUser.UserRole` (会议成员角色变更事件, path/98397).
    RoleChange,
    /// `start_recording` (开始云录制事件, path/98398).
    StartRecording,
    /// Any other `ChangeType`, kept verbatim so a receiver never fails on a new one.
    Other(String),
}

impl ChangeType {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            ChangeType::CreateMeeting => "create_meeting",
            ChangeType::ModifyMeeting => "modify_meeting",
            ChangeType::CancelMeeting => "cancel_meeting",
            ChangeType::MeetingStart => "meeting_start",
            ChangeType::MeetingEnd => "meeting_end",
            ChangeType::JoinMeeting => "join_meeting",
            ChangeType::QuitMeeting => "quit_meeting",
            ChangeType::JoinMeetingBeforeHost => "join_meeting_before_host",
            ChangeType::JoinWaitingRoom => "join_waiting_room",
            ChangeType::QuitWaitingRoom => "quit_waiting_room",
            ChangeType::MoveToWaitingRoom => "move_to_waiting_room",
            ChangeType::OpenScreenShare => "open_screen_share",
            ChangeType::RoleChange => "role_change",
            ChangeType::StartRecording => "start_recording",
            ChangeType::Other(s) => s,
        }
    }

    /// From the wire name; unknown names become [`ChangeType::Other`].
    pub fn parse(s: &str) -> Self {
        const KNOWN: [ChangeType; 14] = [
            ChangeType::CreateMeeting,
            ChangeType::ModifyMeeting,
            ChangeType::CancelMeeting,
            ChangeType::MeetingStart,
            ChangeType::MeetingEnd,
            ChangeType::JoinMeeting,
            ChangeType::QuitMeeting,
            ChangeType::JoinMeetingBeforeHost,
            ChangeType::JoinWaitingRoom,
            ChangeType::QuitWaitingRoom,
            ChangeType::MoveToWaitingRoom,
            ChangeType::OpenScreenShare,
            ChangeType::RoleChange,
            ChangeType::StartRecording,
        ];
        KNOWN
            .into_iter()
            .find(|k| k.as_str() == s)
            .unwrap_or_else(|| ChangeType::Other(s.to_owned()))
    }
}

impl std::fmt::Display for ChangeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The person an operation was done to (`OperatedUser`), in waiting-room and role events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OperatedUser {
    /// `UserId`: only for corp members.
    pub user_id: Option<String>,
    /// `TmpOpenId`: the in-meeting temporary id.
    pub tmp_open_id: Option<String>,
    /// `UserRole`: the role after a `role_change` (0 member … 8 host assigned by the API).
    pub user_role: Option<i64>,
}

/// One meeting event (`MsgType = event`, `Event = meeting_change`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingEvent {
    /// `ToUserName`: the corpid.
    pub to_user_name: String,
    /// `FromUserName`: who acted (a userid), or `sys` ([`FROM_SYSTEM`]) for the system.
    pub from_user_name: String,
    /// `FromUserTmpOpenId`: the actor's in-meeting temporary id (in-meeting events only).
    pub from_user_tmp_open_id: Option<String>,
    /// `OperatedUser`, where the event has one.
    pub operated_user: Option<OperatedUser>,
    /// `CreateTime`: unix seconds.
    pub create_time: i64,
    pub change_type: ChangeType,
    /// `MeetingId`: the `meetingid` of the meeting calls.
    pub meeting_id: String,
}

impl MeetingEvent {
    /// The plaintext XML, in WeCom's element order.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<xml>");
        xml::push_text(&mut out, "ToUserName", &self.to_user_name);
        xml::push_text(&mut out, "FromUserName", &self.from_user_name);
        if let Some(tmp) = &self.from_user_tmp_open_id {
            xml::push_text(&mut out, "FromUserTmpOpenId", tmp);
        }
        if let Some(user) = &self.operated_user {
            out.push_str("<OperatedUser>");
            if let Some(id) = &user.user_id {
                xml::push_text(&mut out, "UserId", id);
            }
            if let Some(tmp) = &user.tmp_open_id {
                xml::push_text(&mut out, "TmpOpenId", tmp);
            }
            if let Some(role) = user.user_role {
                xml::push_number(&mut out, "UserRole", role);
            }
            out.push_str("</OperatedUser>");
        }
        xml::push_number(&mut out, "CreateTime", self.create_time);
        xml::push_text(&mut out, "MsgType", MSG_TYPE_EVENT);
        xml::push_text(&mut out, "Event", EVENT_MEETING_CHANGE);
        xml::push_text(&mut out, "ChangeType", self.change_type.as_str());
        xml::push_text(&mut out, "MeetingId", &self.meeting_id);
        out.push_str("</xml>");
        out
    }

    fn from_element(doc: &Element) -> Result<Self, XmlError> {
        let create_time = doc.required("CreateTime")?;
        let create_time = create_time.parse().map_err(|_| XmlError::Invalid {
            field: "CreateTime",
            value: create_time.to_owned(),
        })?;
        let operated_user = match doc.child("OperatedUser") {
            None => None,
            Some(u) => Some(OperatedUser {
                user_id: u.text_of("UserId").map(str::to_owned),
                tmp_open_id: u.text_of("TmpOpenId").map(str::to_owned),
                user_role: match u.text_of("UserRole") {
                    None => None,
                    Some(r) => Some(r.parse().map_err(|_| XmlError::Invalid {
                        field: "UserRole",
                        value: r.to_owned(),
                    })?),
                },
            }),
        };
        Ok(Self {
            to_user_name: doc.required("ToUserName")?.to_owned(),
            from_user_name: doc.text_of("FromUserName").unwrap_or_default().to_owned(),
            from_user_tmp_open_id: doc.text_of("FromUserTmpOpenId").map(str::to_owned),
            operated_user,
            create_time,
            change_type: ChangeType::parse(doc.required("ChangeType")?),
            meeting_id: doc.required("MeetingId")?.to_owned(),
        })
    }
}

/// A decrypted callback message: a meeting event, or anything else WeCom sends an app
/// (kept with its type so a receiver can route it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Meeting(MeetingEvent),
    Other {
        msg_type: String,
        /// `Event` for event messages; empty otherwise.
        event: String,
    },
}

impl Event {
    /// Parse a decrypted message's XML.
    pub fn from_xml(plain: &str) -> Result<Self, XmlError> {
        let doc = xml::parse(plain)?;
        let msg_type = doc.required("MsgType")?;
        let event = doc.text_of("Event").unwrap_or_default();
        if msg_type == MSG_TYPE_EVENT && event == EVENT_MEETING_CHANGE {
            Ok(Event::Meeting(MeetingEvent::from_element(&doc)?))
        } else {
            Ok(Event::Other {
                msg_type: msg_type.to_owned(),
                event: event.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 修改会议事件's sample, verbatim (path/99081).
    const MODIFY: &str = "<xml>
   <ToUserName><![CDATA[toUser]]></ToUserName>
   <FromUserName><![CDATA[fromUser]]></FromUserName> 
   <CreateTime>1348831860</CreateTime>
   <MsgType><![CDATA[event]]></MsgType>
   <Event><![CDATA[meeting_change]]></Event>
   <ChangeType><![CDATA[modify_meeting]]></ChangeType>
   <MeetingId><![CDATA[wcjgewCwAAqeJcPI1d8Pwbjt7nttzAAA]]></MeetingId>
</xml>";

    /// 成员离开等候室事件's sample, verbatim (path/98355).
    const QUIT_WAITING_ROOM: &str = "<xml>
   <ToUserName><![CDATA[toUser]]></ToUserName>
   <FromUserName><![CDATA[userId]]></FromUserName> 
   <FromUserTmpOpenId><![CDATA[tmpOpenId]]></FromUserTmpOpenId> 
   <OperatedUser>
	   <UserId><![CDATA[userId]]></UserId> 
	   <TmpOpenId><![CDATA[tmpOpenId]]></TmpOpenId> 
   </OperatedUser> 
   <CreateTime>1348831860</CreateTime>
   <MsgType><![CDATA[event]]></MsgType>
   <Event><![CDATA[meeting_change]]></Event>
   <ChangeType><![CDATA[quit_waiting_room]]></ChangeType>
   <MeetingId><![CDATA[wcjgewCwAAqeJcPI1d8Pwbjt7nttzAAA]]></MeetingId>
</xml>";

    #[test]
    fn parses_wecoms_samples() {
        let Event::Meeting(e) = Event::from_xml(MODIFY).unwrap() else {
            panic!("a meeting event")
        };
        assert_eq!(e.to_user_name, "toUser");
        assert_eq!(e.from_user_name, "fromUser");
        assert_eq!(e.create_time, 1348831860);
        assert_eq!(e.change_type, ChangeType::ModifyMeeting);
        assert_eq!(e.meeting_id, "wcjgewCwAAqeJcPI1d8Pwbjt7nttzAAA");
        assert_eq!(e.operated_user, None);

        let Event::Meeting(e) = Event::from_xml(QUIT_WAITING_ROOM).unwrap() else {
            panic!("a meeting event")
        };
        assert_eq!(e.change_type, ChangeType::QuitWaitingRoom);
        assert_eq!(e.from_user_tmp_open_id.as_deref(), Some("tmpOpenId"));
        let user = e.operated_user.unwrap();
        assert_eq!(user.user_id.as_deref(), Some("userId"));
        assert_eq!(user.user_role, None);
    }

    #[test]
    fn round_trips_every_change_type() {
        for name in [
            "create_meeting",
            "modify_meeting",
            "cancel_meeting",
            "meeting_start",
            "meeting_end",
            "join_meeting",
            "quit_meeting",
            "join_meeting_before_host",
            "join_waiting_room",
            "quit_waiting_room",
            "move_to_waiting_room",
            "open_screen_share",
            "role_change",
            "start_recording",
            "stop_recording",
        ] {
            let change_type = ChangeType::parse(name);
            assert_eq!(change_type.as_str(), name);
            assert_eq!(
                matches!(change_type, ChangeType::Other(_)),
                name == "stop_recording"
            );
            let event = MeetingEvent {
                to_user_name: "ww1".into(),
                from_user_name: FROM_SYSTEM.into(),
                from_user_tmp_open_id: Some("tmp]]>x".into()),
                operated_user: Some(OperatedUser {
                    user_id: Some("lisi".into()),
                    tmp_open_id: None,
                    user_role: Some(2),
                }),
                create_time: 1_700_000_000,
                change_type,
                meeting_id: "m<&>1".into(),
            };
            assert_eq!(
                Event::from_xml(&event.to_xml()).unwrap(),
                Event::Meeting(event)
            );
        }
    }

    #[test]
    fn other_messages_are_kept_by_type() {
        let other =
            "<xml><ToUserName><![CDATA[ww]]></ToUserName><MsgType><![CDATA[event]]></MsgType>\
                     <Event><![CDATA[change_contact]]></Event></xml>";
        assert_eq!(
            Event::from_xml(other).unwrap(),
            Event::Other {
                msg_type: "event".into(),
                event: "change_contact".into()
            }
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let bad = MODIFY.replace("1348831860", "soon");
        assert!(matches!(
            Event::from_xml(&bad),
            Err(XmlError::Invalid {
                field: "CreateTime",
                ..
            })
        ));
        let missing = MODIFY.replace(
            "<MeetingId><![CDATA[wcjgewCwAAqeJcPI1d8Pwbjt7nttzAAA]]></MeetingId>",
            "",
        );
        assert_eq!(
            Event::from_xml(&missing),
            Err(XmlError::Missing("MeetingId"))
        );
        assert_eq!(
            Event::from_xml("<xml></xml>"),
            Err(XmlError::Missing("MsgType"))
        );
    }
}
