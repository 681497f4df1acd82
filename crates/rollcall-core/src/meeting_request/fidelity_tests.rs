//! WeCom's documented limits on the create / update bodies (ARCHITECTURE.md, "Fidelity to
//! WeCom's pages"): each at its bound, one past it, and counted as WeCom counts.

use serde_json::{json, Map, Value};

use rollcall_wire::lenient::BadField;

use super::reminders::occurrences_of;
use super::{width, CreateRequest, UpdateRequest, MAX_INVITEES};
use crate::recurrence::default_tz;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

fn create(extra: Value) -> Result<CreateRequest, BadField> {
    let mut b = json!({"admin_userid": "alice", "title": "周会", "meeting_start": 1_800_000_000,
                       "meeting_duration": 3600});
    for (k, v) in extra.as_object().expect("object") {
        b[k] = v.clone();
    }
    CreateRequest::try_from(&obj(b))
}

fn update(extra: Value) -> Result<UpdateRequest, BadField> {
    let mut b = json!({"meetingid": "m"});
    for (k, v) in extra.as_object().expect("object") {
        b[k] = v.clone();
    }
    UpdateRequest::try_from(&obj(b))
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("u{i}")).collect()
}

#[test]
fn title_is_255_characters_whatever_the_script() {
    assert!(create(json!({"title": "会".repeat(255)})).is_ok());
    assert_eq!(
        create(json!({"title": "会".repeat(256)})),
        Err(BadField("title"))
    );
    assert!(create(json!({"title": "x".repeat(255)})).is_ok());
    assert_eq!(
        update(json!({"title": "x".repeat(256)})),
        Err(BadField("title"))
    );
}

#[test]
fn description_is_500_characters() {
    assert!(create(json!({"description": "述".repeat(500)})).is_ok());
    assert_eq!(
        create(json!({"description": "述".repeat(501)})),
        Err(BadField("description"))
    );
    assert!(update(json!({"description": "d".repeat(500)})).is_ok());
    assert_eq!(
        update(json!({"description": "d".repeat(501)})),
        Err(BadField("description"))
    );
}

#[test]
fn location_is_18_hanzi_or_36_ascii_letters() {
    assert_eq!(width("广州media港"), 2 + 2 + 5 + 2);
    assert!(create(json!({"location": "广".repeat(18)})).is_ok());
    assert_eq!(
        create(json!({"location": "广".repeat(19)})),
        Err(BadField("location"))
    );
    assert!(create(json!({"location": "a".repeat(36)})).is_ok());
    assert_eq!(
        create(json!({"location": "a".repeat(37)})),
        Err(BadField("location"))
    );
    // 17 hanzi (34) + 2 letters = 36; one more letter is over.
    assert!(update(json!({"location": format!("{}ab", "广".repeat(17))})).is_ok());
    assert_eq!(
        update(json!({"location": format!("{}abc", "广".repeat(17))})),
        Err(BadField("location"))
    );
}

#[test]
fn invitees_are_at_most_300_distinct_members() {
    let r = create(json!({"invitees": {"userid": ids(MAX_INVITEES)}})).unwrap();
    assert_eq!(r.invitees.len(), 300);
    assert_eq!(
        create(json!({"invitees": {"userid": ids(MAX_INVITEES + 1)}})),
        Err(BadField("invitees"))
    );
    // Repeats count once.
    let mut twice = ids(300);
    twice.extend(ids(300));
    assert_eq!(
        create(json!({"invitees": {"userid": twice}}))
            .unwrap()
            .invitees
            .len(),
        300
    );
    assert_eq!(
        update(json!({"invitees": {"userid": ids(301)}})),
        Err(BadField("invitees"))
    );
}

#[test]
fn hosts_are_at_most_ten() {
    assert!(create(json!({"settings": {"hosts": {"userid": ids(10)}}})).is_ok());
    assert_eq!(
        create(json!({"settings": {"hosts": {"userid": ids(11)}}})),
        Err(BadField("settings.hosts"))
    );
    // ring_users has no documented count.
    assert!(create(json!({"settings": {"ring_users": {"userid": ids(300)}}})).is_ok());
}

#[test]
fn password_and_host_key_are_digits() {
    for ok in ["1234", "123456"] {
        assert!(
            create(json!({"settings": {"password": ok}})).is_ok(),
            "{ok}"
        );
    }
    for bad in ["123", "1234567", "12a4", "１２３４"] {
        assert_eq!(
            create(json!({"settings": {"password": bad}})),
            Err(BadField("settings.password")),
            "{bad}"
        );
    }
    assert!(create(json!({"settings": {"host_key": "123456"}})).is_ok());
    assert_eq!(
        create(json!({"settings": {"host_key": "12345"}})),
        Err(BadField("settings.host_key"))
    );
}

#[test]
fn cal_id_is_at_most_64_bytes() {
    assert!(create(json!({"cal_id": "c".repeat(64)})).is_ok());
    assert_eq!(
        create(json!({"cal_id": "c".repeat(65)})),
        Err(BadField("cal_id"))
    );
    // 22 three-byte characters are 66 bytes.
    assert_eq!(
        update(json!({"cal_id": "历".repeat(22)})),
        Err(BadField("cal_id"))
    );
}

#[test]
fn attendees_is_the_older_spelling_of_invitees() {
    let r = create(json!({"attendees": {"userid": ["bob", "carol"]}})).unwrap();
    assert_eq!(r.invitees, ["bob", "carol"]);
    assert_eq!(
        r.invitees_field, "attendees",
        "a refusal names what was sent"
    );
    // The newer spelling wins, and the older one is then not read at all.
    let r =
        create(json!({"invitees": {"userid": ["dan"]}, "attendees": {"userid": ["bob"]}})).unwrap();
    assert_eq!(
        (r.invitees.as_slice(), r.invitees_field),
        (&["dan".to_owned()][..], "invitees")
    );
    let r = create(json!({"invitees": {"userid": ["dan"]}, "attendees": 7})).unwrap();
    assert_eq!(r.invitees, ["dan"]);
    assert_eq!(
        create(json!({"attendees": {"userid": "bob"}})),
        Err(BadField("attendees"))
    );
    assert_eq!(
        create(json!({"attendees": {"userid": ids(301)}})),
        Err(BadField("attendees"))
    );
    let up = update(json!({"attendees": {"userid": ["bob"]}})).unwrap();
    assert_eq!(up.invitees.as_deref(), Some(&["bob".to_owned()][..]));
    assert_eq!(update(json!({"title": "t"})).unwrap().invitees, None);
}

fn reminders(r: Value) -> Result<Option<Vec<(i64, i64)>>, BadField> {
    let req = create(json!({ "reminders": r }))?;
    occurrences_of(req.reminders.as_ref(), 1_800_000_000, 3600, &default_tz())
}

#[test]
fn repeat_counts_are_200_or_50_for_monthly() {
    let count = |t: u32, n: u32| {
        reminders(
            json!({"is_repeat": 1, "repeat_type": t, "repeat_until_type": 1,
                         "repeat_until_count": n}),
        )
        .map(|o| o.map(|o| o.len()))
    };
    for daily_like in [0, 1, 7] {
        assert_eq!(count(daily_like, 200), Ok(Some(200)), "{daily_like}");
        assert_eq!(
            count(daily_like, 201),
            Err(BadField("reminders.repeat_until_count")),
            "{daily_like}"
        );
    }
    assert_eq!(count(2, 50), Ok(Some(50)));
    assert_eq!(count(2, 51), Err(BadField("reminders.repeat_until_count")));
}

#[test]
fn a_repeat_until_past_the_maximum_stops_at_the_maximum() {
    // Daily for ~3 years: WeCom sets the end to the maximum (200) instead of refusing.
    let daily = reminders(json!({"is_repeat": 1, "repeat_type": 0,
                                 "repeat_until": 1_800_000_000 + 1000 * 86_400}))
    .unwrap()
    .unwrap();
    assert_eq!(daily.len(), 200);
    let monthly = reminders(json!({"is_repeat": 1, "repeat_type": 2,
                                   "repeat_until": 1_800_000_000 + 3000 * 86_400}))
    .unwrap()
    .unwrap();
    assert_eq!(monthly.len(), 50);
    // Within the maximum the date decides: 1 Jan 2027 + 9 days, daily = 10 meetings.
    let ten = reminders(json!({"is_repeat": 1, "repeat_type": 0,
                               "repeat_until": 1_800_000_000 + 9 * 86_400}))
    .unwrap()
    .unwrap();
    assert_eq!(ten.len(), 10);
    assert_eq!(
        reminders(json!({"is_repeat": 1, "repeat_until": 1_700_000_000})),
        Err(BadField("reminders.repeat_until"))
    );
}
