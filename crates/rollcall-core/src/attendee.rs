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

/// Append the JSON object of one session to `out`: byte for byte what serializing
/// [`render`]'s [`Attendee`] with serde_json gives (same fields, order and escaping), without
/// building it. A page writes a hundred of these straight into the reply buffer, so the hot
/// path allocates no `String` per field and walks no `Serializer`.
pub fn write_json(row: &SessionRow, meeting: &Meeting, tmp_openid: &str, out: &mut Vec<u8>) {
    let in_meeting = row.quit_time.is_none();
    out.extend_from_slice(b"{\"tmp_openid\":");
    json_str(tmp_openid, out);
    out.extend_from_slice(b",\"userid\":");
    match &row.participant {
        Participant::Member(u) => json_str(u, out),
        Participant::External(_) | Participant::Guest(_) => out.extend_from_slice(b"\"\""),
    }
    out.extend_from_slice(b",\"join_time\":\"");
    int(row.join_time, out);
    out.push(b'"');
    if let Some(q) = row.quit_time {
        out.extend_from_slice(b",\"quit_time\":\"");
        int(q, out);
        out.push(b'"');
    }
    let webinar_role = if meeting.meeting_type == MeetingType::Webinar {
        row.webinar_role
    } else {
        0
    };
    for (name, v) in [
        (&b",\"instance_id\":"[..], row.instance_id),
        (b",\"role\":", row.role),
        (b",\"webinar_role\":", webinar_role),
        (b",\"join_type\":", row.join_type),
    ] {
        out.extend_from_slice(name);
        int(i64::from(v), out);
    }
    if let (true, Some(net)) = (in_meeting, &row.net) {
        out.extend_from_slice(b",\"net\":");
        json_str(net, out);
    }
    for (name, v) in [
        (&b",\"audio_state\":"[..], row.audio_state),
        (b",\"video_state\":", row.video_state),
        (b",\"screen_shared_state\":", row.screen_shared_state),
    ] {
        out.extend_from_slice(name);
        out.extend_from_slice(if v { b"true" } else { b"false" });
    }
    if let Some(c) = &row.customer_data {
        out.extend_from_slice(b",\"customer_data\":");
        json_str(c, out);
    }
    out.push(b'}');
}

/// A whole `GetAttendeeListResponse` of success, as serde_json writes it, around rows
/// already rendered by [`write_json`]: each item of `rows` is one object, or several
/// consecutive ones already comma-separated.
pub fn page_json<'a>(
    has_more: bool,
    next_cursor: &str,
    rows: impl Iterator<Item = &'a [u8]> + Clone,
) -> Vec<u8> {
    // A full page is ~23 KB: sized exactly once, so it is never copied while it grows.
    let (n, bytes) = rows.clone().fold((0, 0), |(n, b), r| (n + 1, b + r.len()));
    let mut out = Vec::with_capacity(96 + next_cursor.len() + bytes + n);
    out.extend_from_slice(b"{\"errcode\":0,\"errmsg\":\"ok\",\"has_more\":");
    out.extend_from_slice(if has_more { b"true" } else { b"false" });
    out.extend_from_slice(b",\"next_cursor\":");
    json_str(next_cursor, &mut out);
    out.extend_from_slice(b",\"attendees\":[");
    for (i, r) in rows.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r);
    }
    out.extend_from_slice(b"]}");
    out
}

/// A decimal integer, written by serde_json itself.
fn int(v: i64, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail (serde_json errs only on I/O or non-string map keys).
    let _ = serde_json::to_writer(&mut *out, &v);
}

/// A JSON string with serde_json's own escaping, written straight into `out` (no
/// intermediate `String`).
pub fn json_str(s: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AppRef;
    use proptest::prelude::*;

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

    fn arb_participant() -> impl Strategy<Value = Participant> {
        prop_oneof![
            any::<String>().prop_map(Participant::Member),
            any::<String>().prop_map(Participant::External),
            any::<String>().prop_map(Participant::Guest),
        ]
    }

    #[test]
    fn a_page_is_serde_json_of_the_response() {
        let s = ServerSecret::new([1; 32]);
        let m = meeting(MeetingType::OneOff);
        let rows = [
            row(Participant::Member("zs".into()), None),
            row(Participant::Guest("g\"1".into()), Some(200)),
        ];
        for n in 0..=rows.len() {
            let attendees: Vec<Attendee> = rows[..n].iter().map(|r| render(r, &m, &s)).collect();
            let rendered: Vec<Vec<u8>> = rows[..n]
                .iter()
                .zip(&attendees)
                .map(|(r, a)| {
                    let mut out = Vec::new();
                    write_json(r, &m, &a.tmp_openid, &mut out);
                    out
                })
                .collect();
            let body = page_json(n == 1, "c-_1", rendered.iter().map(Vec::as_slice));
            let expect = rollcall_wire::GetAttendeeListResponse {
                errcode: rollcall_wire::errcode::OK,
                errmsg: "ok".into(),
                has_more: n == 1,
                next_cursor: "c-_1".into(),
                attendees,
            };
            assert_eq!(
                String::from_utf8(body).unwrap(),
                serde_json::to_string(&expect).unwrap()
            );
        }
    }

    proptest! {
        /// The hand-written JSON is exactly serde_json's rendering of `render`'s `Attendee`,
        /// whatever the strings hold (quotes, controls, non-ASCII) and whichever optional
        /// fields are present.
        #[test]
        fn write_json_is_serde_json_of_render(
            p in arb_participant(),
            join in any::<i64>(),
            quit in proptest::option::of(any::<i64>()),
            ints in any::<[u32; 4]>(),
            net in proptest::option::of(any::<String>()),
            states in any::<[bool; 3]>(),
            customer in proptest::option::of(any::<String>()),
            webinar in any::<bool>(),
        ) {
            let s = ServerSecret::new([1; 32]);
            let r = SessionRow {
                participant: p,
                join_time: join,
                quit_time: quit,
                instance_id: ints[0],
                role: ints[1],
                webinar_role: ints[2],
                join_type: ints[3],
                net,
                audio_state: states[0],
                video_state: states[1],
                screen_shared_state: states[2],
                customer_data: customer,
                ..row(Participant::Guest(String::new()), None)
            };
            let m = meeting(if webinar { MeetingType::Webinar } else { MeetingType::OneOff });
            let a = render(&r, &m, &s);
            let mut out = Vec::new();
            write_json(&r, &m, &a.tmp_openid, &mut out);
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&a).unwrap());
        }
    }
}
