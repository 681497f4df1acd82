//! Each builder option reaches the server, and a setting the server refuses fails the start
//! with the server's reason.

use std::collections::BTreeMap;

use rollcall_emulator::client::admin::RateLimits;
use rollcall_emulator::{
    AppSpec, Credentials, Directory, Emulator, Error, CORPID, LISI, SECRET, START,
};

use crate::{attendees, gettoken};

#[tokio::test]
async fn clock_start_token_lifetime_journal_and_rate_limits() {
    let limits = RateLimits {
        per_minute: 6000,
        calls: BTreeMap::from([("gettoken".to_owned(), 2)]),
    };
    let emu = Emulator::builder()
        .clock_start(1_800_000_000)
        .token_ttl_secs(120)
        .journal_size(0)
        .rate_limits(limits.clone())
        .start()
        .await;
    assert_eq!(emu.now(), 1_800_000_000);

    let v = gettoken(&emu, CORPID, SECRET).await;
    assert_eq!(
        (v["errcode"].as_i64(), v["expires_in"].as_i64()),
        (Some(0), Some(120)),
        "{v}"
    );
    let v = gettoken(&emu, CORPID, SECRET).await;
    assert_eq!(v["errcode"], 0, "{v}");
    let v = gettoken(&emu, CORPID, SECRET).await;
    assert_eq!(v["errcode"], 45009, "the third gettoken in a minute: {v}");

    // The journal is off; the limits are the start-up ones, and stay so after a reset.
    let journal = emu
        .admin()
        .requests(&Default::default())
        .await
        .expect("journal");
    assert!(journal.is_empty(), "{journal:?}");
    assert_eq!(emu.admin().rate_limits().await.expect("limits"), limits);
    emu.admin().reset().await.expect("reset");
    assert_eq!(emu.admin().rate_limits().await.expect("limits"), limits);
    assert_eq!(emu.now(), 1_800_000_000);
}

#[tokio::test]
async fn a_reset_gives_back_the_emulator_it_started_as() {
    let emu = Emulator::start().await;
    let m = emu
        .create_meeting("Gone", START, 600)
        .await
        .expect("meeting");
    emu.advance_clock(3600).await.expect("advance");
    emu.admin().reset().await.expect("reset");
    assert_eq!(emu.now(), START);
    // The meeting is gone, the standard corp and its app are not.
    let e = emu
        .client()
        .get_meeting_info(&m.meetingid, None)
        .await
        .expect_err("gone");
    assert_eq!(e.errcode(), Some(40058), "{e}");
    let m = emu
        .create_meeting("Again", START, 600)
        .await
        .expect("meeting");
    emu.ingest()
        .join(&m.meetingid, LISI, START)
        .await
        .expect("join");
    assert_eq!(attendees(&emu, &m.meetingid).await.len(), 1);
}

#[tokio::test]
async fn seeded_emulators_hand_out_the_same_ids() {
    let ids = |seed| async move {
        let emu = Emulator::builder().seed(seed).start().await;
        let m = emu
            .create_meeting("Seeded", START, 600)
            .await
            .expect("meeting");
        let token = emu.client().access_token().await.expect("token");
        (m.meetingid, token)
    };
    let (a, b, c) = (ids(7).await, ids(7).await, ids(8).await);
    assert_eq!(a, b);
    assert_ne!(a.0, c.0);
    assert_ne!(a.1, c.1);
}

#[tokio::test]
async fn extra_apps_and_corps_are_seeded_next_to_the_standard_one() {
    let emu = Emulator::builder()
        .app(AppSpec::new(1_000_003, "Reports", "secret-no-api"))
        .corp(
            Directory::new("wwsecondcorp0001", "Second Corp")
                .department(1, "HQ", 0)
                .user("amy", "Amy", &[1])
                .app(AppSpec::new(1_000_002, "Sync", "secret-second").meeting_api()),
        )
        .start()
        .await;
    let v = gettoken(&emu, "wwsecondcorp0001", "secret-second").await;
    assert_eq!(v["errcode"], 0, "{v}");
    // The extra app is in the standard corp, without the meeting API (48002).
    let no_api = emu
        .client_builder()
        .corp(CORPID, "secret-no-api")
        .build()
        .expect("client");
    no_api
        .access_token()
        .await
        .expect("the extra app gets a token");
    let e = no_api
        .get_meeting_info("hyanything", None)
        .await
        .expect_err("no meeting API");
    assert_eq!(e.errcode(), Some(48002), "{e}");
}

#[tokio::test]
async fn another_main_corp_replaces_the_standard_one() {
    let corp = Directory::new("wwmycorp00000001", "Mine")
        .department(7, "Ops", 0)
        .user("ops1", "Ops One", &[7])
        .app(
            AppSpec::new(2_000_001, "Mine", "my-secret")
                .meeting_api()
                .sees_users(&["ops1"]),
        );
    let emu = Emulator::builder()
        .main_corp(
            corp,
            Credentials::new("wwmycorp00000001", 2_000_001, "my-secret"),
        )
        .start()
        .await;
    assert_eq!(
        (emu.corpid(), emu.agentid()),
        ("wwmycorp00000001", 2_000_001)
    );
    let m = emu
        .create_meeting("Mine", START, 600)
        .await
        .expect("meeting");
    emu.ingest()
        .join(&m.meetingid, "ops1", START)
        .await
        .expect("join");
    assert_eq!(attendees(&emu, &m.meetingid).await[0].userid, "ops1");
    let v = gettoken(&emu, CORPID, SECRET).await;
    assert_eq!(v["errcode"], 40013, "the standard corp is not there: {v}");
}

#[tokio::test]
async fn settings_the_server_refuses_fail_the_start_with_its_reason() {
    let ghost = Emulator::builder()
        .app(AppSpec::new(1_000_009, "Ghost", "s").sees_users(&["nobody"]))
        .try_start()
        .await
        .expect_err("an app seeing an unknown user");
    assert!(
        matches!(&ghost, Error::Config(m) if m.contains(CORPID) && m.contains("nobody")),
        "{ghost}"
    );
    let zero = Emulator::builder()
        .rate_limits(RateLimits {
            per_minute: 0,
            calls: BTreeMap::new(),
        })
        .try_start()
        .await
        .expect_err("a zero limit");
    assert!(
        matches!(&zero, Error::Config(m) if m.contains("rate limits")),
        "{zero}"
    );
    let tz = Emulator::builder()
        .time_zone("Mars/Olympus_Mons")
        .try_start()
        .await
        .expect_err("an unknown time zone");
    assert!(
        matches!(&tz, Error::Config(m) if m.contains("Mars/Olympus_Mons")),
        "{tz}"
    );
}
