//! Tests of event validation, binding and the refusal texts.
use super::*;
use serde_json::json;

fn join() -> Value {
    json!({"event_id":"e-1","kind":"join","meetingid":"m","session":"s-1","at":1760000000,
           "participant":{"userid":"zhangsan"},"instance_id":1,"net":"WIFI","audio_state":true})
}

#[test]
fn accepts_the_spec_examples() {
    let e = parse_event(&join()).unwrap();
    let EventKind::Join(j) = &e.kind else {
        panic!()
    };
    assert_eq!(j.participant, Participant::Member("zhangsan".into()));
    assert_eq!((j.role, j.webinar_role, j.join_type), (0, 0, 1));
    assert!(j.audio_state && !j.video_state);
    let q = parse_event(
        &json!({"event_id":"e-2","kind":"quit","meetingid":"m","session":"s-1","at":"1760003600"}),
    )
    .unwrap();
    assert_eq!(q.kind, EventKind::Quit);
    assert_eq!(q.at, 1760003600);
    let s = parse_event(&json!({"event_id":"e-3","kind":"state","meetingid":"m","session":"s-1","at":1760000100,"audio_state":false,"net":"4G"})).unwrap();
    assert_eq!(
        s.kind,
        EventKind::State(StatePatch {
            net: Some("4G".into()),
            audio_state: Some(false),
            ..Default::default()
        })
    );
}

#[test]
fn refuses_with_reasons() {
    let cases: Vec<(Value, &str)> = vec![
        (json!(5), "object"),
        (json!({}), "event_id"),
        (
            {
                let mut j = join();
                j["kind"] = json!("leave");
                j
            },
            "kind",
        ),
        (
            {
                let mut j = join();
                j["at"] = json!(-5);
                j
            },
            "at",
        ),
        (
            {
                let mut j = join();
                j["at"] = json!(0);
                j
            },
            "at",
        ),
        (
            {
                let mut j = join();
                j["instance_id"] = json!(11);
                j
            },
            "instance_id",
        ),
        (
            {
                let mut j = join();
                j.as_object_mut().unwrap().remove("instance_id");
                j
            },
            "instance_id",
        ),
        (
            {
                let mut j = join();
                j["role"] = json!(8);
                j
            },
            "role",
        ),
        (
            {
                let mut j = join();
                j["webinar_role"] = json!(5);
                j
            },
            "webinar_role",
        ),
        (
            {
                let mut j = join();
                j["join_type"] = json!(7);
                j
            },
            "join_type",
        ),
        (
            {
                let mut j = join();
                j["participant"] = json!({"userid":"a","guest_id":"b"});
                j
            },
            "exactly one",
        ),
        (
            {
                let mut j = join();
                j["participant"] = json!({});
                j
            },
            "participant",
        ),
        (
            {
                let mut j = join();
                j["audio_state"] = json!("yes");
                j
            },
            "audio_state",
        ),
        (
            {
                let mut j = join();
                j["session"] = json!("x".repeat(200));
                j
            },
            "session",
        ),
        (
            json!({"event_id":"e","kind":"state","meetingid":"m","session":"s","at":5}),
            "must change",
        ),
    ];
    for (v, needle) in cases {
        let e = parse_event(&v).unwrap_err().to_string();
        assert!(e.contains(needle), "{v} -> {e}");
    }
}

#[test]
fn joins_find_their_sub_meeting() {
    use crate::model::{AppRef, SubMeeting};
    let sub = |key, id: &str, s, e| SubMeeting {
        key,
        sub_meetingid: id.into(),
        start_time: s,
        end_time: e,
    };
    let mut m = Meeting {
        key: 1,
        meetingid: "hy1".into(),
        meeting_code: "1".into(),
        owner: AppRef {
            corpid: "ww".into(),
            agentid: 1,
        },
        meeting_type: MeetingType::Recurring,
        title: "t".into(),
        meeting_start: 100,
        meeting_duration: 50,
        admin_userid: None,
        sub_meetings: vec![sub(1, "100", 100, 150), sub(2, "200", 200, 250)],
        details: Default::default(),
        cancelled: false,
    };
    assert_eq!(sub_key_for(&m, Some("200"), 0), Ok(2));
    assert!(sub_key_for(&m, Some("300"), 0)
        .unwrap_err()
        .to_string()
        .contains("no sub-meeting"));
    assert_eq!(sub_key_for(&m, None, 150), Ok(1));
    assert!(sub_key_for(&m, None, 175)
        .unwrap_err()
        .to_string()
        .contains("give sub_meetingid"));
    let e = parse_event(&join()).unwrap();
    assert_eq!(
        resolve(e.clone(), None).unwrap_err().to_string(),
        "unknown meetingid \"m\""
    );
    assert!(resolve(e.clone(), Some(&m))
        .unwrap_err()
        .to_string()
        .contains("give sub_meetingid"));
    let mut in_span = e.clone();
    in_span.at = 220;
    let r = resolve(in_span, Some(&m)).unwrap();
    assert_eq!((r.meeting_key, r.sub_key), (1, 2));
    let mut q = e.clone();
    q.kind = EventKind::Quit;
    assert_eq!(resolve(q, Some(&m)).unwrap().sub_key, 0);
    m.meeting_type = MeetingType::OneOff;
    assert_eq!(sub_key_for(&m, Some("nope"), 175), Ok(0));
    assert_eq!(resolve(e, Some(&m)).unwrap().sub_key, 0);
}

#[test]
fn reject_reasons_read_as_the_wire_has_always_said() {
    let cases = [
        (RejectReason::UnknownMeeting, "unknown meeting"),
        (
            RejectReason::AlreadyJoined {
                session: "s-1".into(),
            },
            "session \"s-1\" already joined",
        ),
        (
            RejectReason::AlreadyQuit {
                session: "s-1".into(),
            },
            "session s-1 has already quit",
        ),
        (
            RejectReason::QuitBeforeJoin {
                at: 90,
                join_time: 100,
            },
            "quit at 90 is before the session's join at 100",
        ),
    ];
    for (reason, text) in cases {
        assert_eq!(reason.to_string(), text);
    }
}

#[test]
fn every_documented_code_is_accepted() {
    for &i in INSTANCE_IDS {
        let mut j = join();
        j["instance_id"] = json!(i);
        j["role"] = json!(i % 8);
        assert!(parse_event(&j).is_ok(), "{i}");
    }
}

/// The texts are the ingest reply's `error`: they must not change with the type.
#[test]
fn event_error_texts_are_the_replys() {
    let cases = [
        (parse_event(&json!([1])), "an event must be a JSON object"),
        (parse_event(&json!({})), "event_id is required"),
        (
            parse_event(&json!({"event_id": ""})),
            "event_id must not be empty",
        ),
        (
            parse_event(&json!({"event_id": 7})),
            "event_id must be a string",
        ),
        (
            parse_event(&json!({"event_id": "x".repeat(129)})),
            "event_id is longer than 128 bytes",
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got.unwrap_err().to_string(), want);
    }
    let mut v = join();
    v["role"] = json!(99);
    assert_eq!(
        parse_event(&v).unwrap_err().to_string(),
        "role 99 is not a code WeCom defines"
    );
    v = join();
    v["kind"] = json!("leave");
    assert_eq!(
        parse_event(&v).unwrap_err().to_string(),
        "kind \"leave\" is not one of join, quit, state"
    );
    v = join();
    v["kind"] = json!("state");
    let obj = v.as_object_mut().unwrap();
    obj.remove("net");
    obj.remove("audio_state");
    assert_eq!(
        parse_event(&v).unwrap_err().to_string(),
        "a state event must change net, audio_state, video_state or screen_shared_state"
    );
}

#[test]
fn a_nul_anywhere_in_an_event_is_refused_naming_the_field() {
    let mut e = join();
    e["session"] = json!("s\u{0}");
    let err = parse_event(&e).unwrap_err();
    assert_eq!(err.to_string(), "session must not contain a NUL character");
    let mut e = join();
    e["participant"]["userid"] = json!("\u{0}");
    assert_eq!(
        parse_event(&e).unwrap_err(),
        EventError::ContainsNul("participant.userid".into())
    );
}
