//! How a stored session appears on the wire (SPEC §3, "Attendee fields").

use rollcall_wire::Attendee;

use crate::crypto::ServerSecret;
use crate::model::{Meeting, MeetingType, Participant, SessionRow};

/// Render one session for get_attendee_list:
/// times as strings; `quit_time` absent and `net` present only while in the meeting;
/// `userid` empty for non-members; `webinar_role` 0 outside webinars; `customer_data` only
/// when it was given; `tmp_openid` per participant and meeting.
pub fn render(row: &SessionRow, meeting: &Meeting, secret: &ServerSecret) -> Attendee {
    let in_meeting = row.quit_time.is_none();
    Attendee {
        tmp_openid: secret.tmp_openid(meeting.key, &row.participant),
        userid: match &row.participant {
            Participant::Member(u) => u.clone(),
            Participant::External(_) | Participant::Guest(_) => String::new(),
        },
        join_time: row.join_time.to_string(),
        quit_time: row.quit_time.map(|q| q.to_string()),
        instance_id: row.instance_id,
        role: row.role,
        webinar_role: if meeting.meeting_type == MeetingType::Webinar {
            row.webinar_role
        } else {
            0
        },
        join_type: row.join_type,
        net: if in_meeting { row.net.clone() } else { None },
        audio_state: row.audio_state,
        video_state: row.video_state,
        screen_shared_state: row.screen_shared_state,
        customer_data: row.customer_data.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AppRef;

    fn meeting(t: MeetingType) -> Meeting {
        Meeting {
            key: 7,
            meetingid: "hy1".into(),
            meeting_code: "123".into(),
            owner: AppRef {
                corpid: "ww".into(),
                agentid: 1,
            },
            meeting_type: t,
            title: "t".into(),
            meeting_start: 0,
            meeting_duration: 3600,
            admin_userid: None,
            sub_meetings: vec![],
            details: Default::default(),
            cancelled: false,
        }
    }

    fn row(p: Participant, quit: Option<i64>) -> SessionRow {
        SessionRow {
            seq: 1,
            session_key: "s".into(),
            sub_key: 0,
            participant: p,
            join_time: 100,
            quit_time: quit,
            instance_id: 1,
            role: 0,
            webinar_role: 4,
            join_type: 1,
            net: Some("WIFI".into()),
            audio_state: true,
            video_state: false,
            screen_shared_state: false,
            customer_data: None,
            state_at: 100,
        }
    }

    #[test]
    fn fields_follow_the_rules() {
        let s = ServerSecret::new([1; 32]);
        let a = render(
            &row(Participant::Member("zs".into()), None),
            &meeting(MeetingType::OneOff),
            &s,
        );
        assert_eq!(
            (
                a.userid.as_str(),
                a.join_time.as_str(),
                a.quit_time.clone(),
                a.net.as_deref()
            ),
            ("zs", "100", None, Some("WIFI"))
        );
        assert_eq!(a.webinar_role, 0);
        let j = serde_json::to_value(&a).unwrap();
        assert!(j.get("quit_time").is_none() && j.get("customer_data").is_none());
        assert_eq!(j["join_time"], "100");

        let b = render(
            &row(Participant::Guest("g".into()), Some(200)),
            &meeting(MeetingType::Webinar),
            &s,
        );
        assert_eq!(
            (
                b.userid.as_str(),
                b.quit_time.as_deref(),
                b.net.clone(),
                b.webinar_role
            ),
            ("", Some("200"), None, 4)
        );
    }
}
