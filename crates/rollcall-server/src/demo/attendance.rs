//! The ended meetings' attendance: a one-off review, a weekly meeting, a webinar and an
//! all-hands with 10,000 participants.
//!
//! Each generator is a pure function of the meeting's id and times and of the demo's
//! generator, so `--seed N` with `--clock virtual:T` reproduces the same events. The order
//! in which they draw from the generator is part of that contract: reordering draws changes
//! every seeded demo.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use super::directory::{INVISIBLE_USER, USERS, VISIBLE_OUTSIDER};
use super::events::{
    external, guest, member, Device, Events, ANDROID, CROWD_DEVICES, IOS, IPAD_CAST, MAC,
    MINI_PROGRAM, PC, PSTN, ROOMS, WEB,
};
use super::local::DemoMeeting;
use super::HOUR;

/// Externals and guests in the big meeting; every [`BIG_REJOIN_EVERY`]th rejoins once.
const BIG_PARTICIPANTS: usize = 10_000;
const BIG_REJOIN_EVERY: usize = 8;

/// A 90-minute review meeting: late joiners, early leavers, a dropped connection and rejoin
/// on another device, a second device for screen casting, a dial-in, a Rooms terminal, an
/// external user, a guest from the mini program, and a personal link carrying customer_data.
pub(super) fn oneoff_events(meetingid: &str, s: i64) -> Vec<Value> {
    let e_ = s + 90 * 60;
    let mut ev = Events::new(meetingid, "oneoff");
    let host = ev.join(
        s - 300,
        member("zhangsan"),
        PC,
        json!({"role": 3, "audio_state": true, "video_state": true}),
    );
    ev.state(&host, s + 600, json!({"screen_shared_state": true}));
    ev.state(&host, s + 2400, json!({"screen_shared_state": false}));

    let lisi = ev.join(s + 20, member("lisi"), MAC, json!({"audio_state": true}));
    ev.state(&lisi, s + 1500, json!({"net": "4G"}));
    ev.quit(&lisi, s + 1900);
    let lisi2 = ev.join(
        s + 1960,
        member("lisi"),
        IOS,
        json!({"net": "4G", "audio_state": true}),
    );
    ev.state(&lisi2, s + 3000, json!({"video_state": true}));

    let wangwu = ev.join(
        s + 45,
        member("wangwu"),
        PC,
        json!({"role": 6, "audio_state": true}),
    );
    let cast = ev.join(
        s + 50,
        member("wangwu"),
        IPAD_CAST,
        json!({"role": 6, "screen_shared_state": true}),
    );
    ev.quit(&cast, s + 3600);

    let zhaoliu = ev.join(s + 900, member("zhaoliu"), ANDROID, json!({}));
    ev.quit(&zhaoliu, s + 3300);
    let sunqi = ev.join(
        s - 60,
        member("sunqi"),
        ROOMS,
        json!({"audio_state": true, "video_state": true}),
    );
    let zhouba = ev.join(
        s + 120,
        member("zhouba"),
        WEB,
        json!({"customer_data": "crm:lead-20931", "audio_state": true}),
    );
    ev.quit(&zhouba, s + 4000);
    let wujiu = ev.join(s + 200, member("wujiu"), PSTN, json!({"audio_state": true}));
    ev.quit(&wujiu, s + 2000);
    let zhengshi = ev.join(
        s + 10,
        member("zhengshi"),
        MAC,
        json!({"video_state": true}),
    );
    let chen = ev.join(s + 300, member("chenjing"), IOS, json!({}));
    ev.quit(&chen, s + 600);
    let chen2 = ev.join(
        s + 620,
        member("chenjing"),
        PC,
        json!({"audio_state": true}),
    );
    let liuyang = ev.join(s + 1500, member("liuyang"), ANDROID, json!({}));
    ev.quit(&liuyang, e_ - 300);
    let yangfan = ev.join(s + 100, member(VISIBLE_OUTSIDER), WEB, json!({}));
    let huangmin = ev.join(s + 30, member(INVISIBLE_USER), PC, json!({}));
    let ext = ev.join(
        s + 240,
        external("wmJq3eCAAAs8Yk2Vn3FVbZpXbQ"),
        WEB,
        json!({"audio_state": true}),
    );
    ev.quit(&ext, s + 4200);
    let gst = ev.join(
        s + 600,
        guest("gst_7f3a9c21"),
        MINI_PROGRAM,
        json!({"role": 4}),
    );
    ev.quit(&gst, s + 2700);

    for (session, at) in [
        (&lisi2, e_),
        (&wangwu, e_ + 60),
        (&sunqi, e_),
        (&zhengshi, e_),
        (&chen2, e_),
        (&yangfan, e_),
        (&huangmin, e_),
        (&host, e_ + 120),
    ] {
        ev.quit(session, at);
    }
    ev.take()
}

/// The platform team's weekly: in each past occurrence most of the team comes, some late,
/// some drop and rejoin. Joins name their `sub_meetingid`, as a platform would.
pub(super) fn recurring_events(m: &DemoMeeting, now: i64, rng: &mut StdRng) -> Vec<Value> {
    let team: &[(&str, Device)] = &[
        ("zhangsan", PC),
        ("lisi", MAC),
        ("wangwu", PC),
        ("zhaoliu", ANDROID),
        ("sunqi", ROOMS),
        ("zhengshi", MAC),
        (INVISIBLE_USER, WEB),
    ];
    let mut ev = Events::new(&m.meetingid, "weekly");
    for sub in m.sub_meetings.iter().filter(|s| s.end_time <= now) {
        for &(userid, dev) in team {
            if rng.gen_bool(0.15) {
                continue; // away this week
            }
            let sub_fields = json!({"sub_meetingid": sub.sub_meetingid, "audio_state": true});
            let join = sub.start_time + rng.gen_range(-180..420);
            let quit = sub.end_time - rng.gen_range(-120..600);
            let session = ev.join(join, member(userid), dev, sub_fields.clone());
            if rng.gen_bool(0.2) {
                let drop = rng.gen_range(join + 60..quit - 300);
                ev.quit(&session, drop);
                let again = ev.join(
                    drop + rng.gen_range(15..120),
                    member(userid),
                    IOS,
                    sub_fields,
                );
                ev.quit(&again, quit);
            } else {
                if rng.gen_bool(0.3) {
                    ev.state(&session, join + 300, json!({"video_state": true}));
                }
                ev.quit(&session, quit);
            }
        }
    }
    ev.take()
}

/// A two-hour webinar: the host and co-host as internal guests, an external speaker, a guest
/// invited by link, and an audience of members and mini-program viewers.
pub(super) fn webinar_events(meetingid: &str, s: i64, rng: &mut StdRng) -> Vec<Value> {
    let e_ = s + 2 * HOUR;
    let mut ev = Events::new(meetingid, "webinar");
    let host = ev.join(
        s - 900,
        member("zhangsan"),
        PC,
        json!({"role": 3, "webinar_role": 1, "audio_state": true, "video_state": true}),
    );
    ev.state(&host, s + 300, json!({"screen_shared_state": true}));
    let cohost = ev.join(
        s - 600,
        member("chenjing"),
        MAC,
        json!({"role": 6, "webinar_role": 1, "audio_state": true}),
    );
    let speaker = ev.join(
        s - 300,
        external("wmSpeakerQk2n0cAAAx91PLm"),
        PC,
        json!({"webinar_role": 2, "audio_state": true, "video_state": true}),
    );
    ev.state(&speaker, s + 2400, json!({"screen_shared_state": true}));
    ev.state(&speaker, s + 4200, json!({"screen_shared_state": false}));
    let invited = ev.join(
        s + 60,
        guest("gst_invite_5521"),
        WEB,
        json!({"webinar_role": 3, "customer_data": "invite:press-01"}),
    );
    ev.quit(&invited, s + 5400);
    for userid in ["zhouba", "wujiu", "liuyang", "lisi", INVISIBLE_USER] {
        let at = s + rng.gen_range(-120..900);
        let sess = ev.join(at, member(userid), WEB, json!({"webinar_role": 4}));
        ev.quit(&sess, e_ - rng.gen_range(0..2400));
    }
    for i in 0..48 {
        let at = s + rng.gen_range(-300..1800);
        let who = if i % 4 == 0 {
            external(&format!("wmViewer{i:04}"))
        } else {
            guest(&format!("gst_viewer_{i:04}"))
        };
        let dev = if i % 3 == 0 { MINI_PROGRAM } else { WEB };
        let sess = ev.join(
            at,
            who,
            dev,
            json!({"webinar_role": 4, "role": if i % 4 == 0 { 0 } else { 4 }}),
        );
        ev.quit(&sess, e_ - rng.gen_range(0..3600));
    }
    for sess in [&host, &cohost, &speaker] {
        ev.quit(sess, e_ + 300);
    }
    ev.take()
}

/// How many sessions the big meeting has (its structure is fixed; only times and devices
/// are random).
pub fn big_session_count() -> usize {
    USERS.len() + BIG_PARTICIPANTS + BIG_PARTICIPANTS.div_ceil(BIG_REJOIN_EVERY)
}

/// A three-hour all-hands with 10,000 external users and guests plus every member.
pub(super) fn big_events(meetingid: &str, s: i64, rng: &mut StdRng) -> Vec<Value> {
    let e_ = s + 3 * HOUR;
    let mut ev = Events::new(meetingid, "big");
    ev.items.reserve(2 * big_session_count());
    for &(userid, _, _) in USERS {
        let sess = ev.join(
            s + rng.gen_range(-600..300),
            member(userid),
            PC,
            json!({"role": if userid == "zhangsan" { 3 } else { 0 }}),
        );
        ev.quit(&sess, e_ + rng.gen_range(0..300));
    }
    for i in 0..BIG_PARTICIPANTS {
        let who = if i % 5 == 0 {
            guest(&format!("gst_allhands_{i:05}"))
        } else {
            external(&format!("wmAllHands{i:05}"))
        };
        let dev = CROWD_DEVICES[rng.gen_range(0..CROWD_DEVICES.len())];
        let join = s + rng.gen_range(-600..1800);
        let quit = e_ - rng.gen_range(0..2400);
        let role = if i % 5 == 0 {
            json!({"role": 4})
        } else {
            json!({})
        };
        let sess = ev.join(join, who.clone(), dev, role.clone());
        if i % BIG_REJOIN_EVERY == 0 {
            let drop = rng.gen_range(join + 60..quit - 120);
            ev.quit(&sess, drop);
            let again = ev.join(drop + rng.gen_range(10..90), who, dev, role);
            ev.quit(&again, quit);
        } else {
            ev.quit(&sess, quit);
        }
    }
    ev.take()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::demo::events::check::{assert_sessions_consistent, assert_valid};

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    #[test]
    fn seeded_events_are_valid_and_consistent() {
        let mut r = rng();
        for items in [
            oneoff_events("m", 1_760_000_000),
            webinar_events("m", 1_760_000_000, &mut r),
        ] {
            assert_valid(&items);
            assert_sessions_consistent(&items);
        }
        let big = big_events("m", 1_760_000_000, &mut r);
        assert_valid(&big);
        assert_sessions_consistent(&big);
        let joins = big.iter().filter(|v| v["kind"] == "join").count();
        assert_eq!(joins, big_session_count());
        assert!(joins > 10_000);
    }

    #[test]
    fn the_same_seed_gives_the_same_demo() {
        let a = big_events("m", 1, &mut rng());
        let b = big_events("m", 1, &mut rng());
        assert_eq!(a, b);
    }
}
