//! The typed ingest helper against the real ingest API.

use rollcall_emulator::{Emulator, Error, Event, Ingest, Participant, LISI, START, WANGWU};

use crate::attendees;

#[tokio::test]
async fn join_and_quit_track_sessions_per_member() {
    let emu = Emulator::start().await;
    let id = emu
        .create_meeting("Sync", START, 3600)
        .await
        .expect("m")
        .meetingid;
    let a = emu
        .ingest()
        .join(&id, LISI, START + 10)
        .await
        .expect("join");
    let b = emu
        .ingest()
        .join(&id, LISI, START + 20)
        .await
        .expect("second device");
    assert_ne!(a, b);
    // The oldest open session of the member ends first.
    emu.ingest()
        .quit(&id, LISI, START + 30)
        .await
        .expect("quit");
    // The listing's default window ends at the server's now.
    emu.advance_clock(60).await.expect("advance");
    let rows = attendees(&emu, &id).await;
    let quits: Vec<_> = rows.iter().map(|r| r.quit_time.as_deref()).collect();
    let expected_quit = (START + 30).to_string();
    assert_eq!(quits, [Some(expected_quit.as_str()), None]);

    emu.ingest()
        .quit(&id, LISI, START + 40)
        .await
        .expect("quit");
    let e = emu
        .ingest()
        .quit(&id, LISI, START + 50)
        .await
        .expect_err("nothing left open");
    assert!(
        matches!(&e, Error::NoOpenSession { userid, .. } if userid == LISI),
        "{e}"
    );
    let e = emu
        .ingest()
        .quit(&id, WANGWU, START + 50)
        .await
        .expect_err("never joined");
    assert!(matches!(e, Error::NoOpenSession { .. }), "{e}");
}

#[tokio::test]
async fn refusals_are_errors_with_the_servers_reason() {
    let emu = Emulator::start().await;
    let e = emu
        .ingest()
        .join("hyno-such-meeting", LISI, START)
        .await
        .expect_err("unknown meeting");
    match &e {
        Error::Rejected(r) => assert_eq!((r.len(), r[0].index), (1, 0), "{e}"),
        other => panic!("{other}"),
    }
    // A failed join leaves nothing to quit.
    let e = emu
        .ingest()
        .quit("hyno-such-meeting", LISI, START)
        .await
        .expect_err("nothing open");
    assert!(matches!(e, Error::NoOpenSession { .. }), "{e}");

    let wrong = Ingest::new(emu.base_url(), "not-the-key");
    let e = wrong.send(&[]).await.expect_err("wrong key");
    assert!(
        matches!(&e, Error::Ingest { status: 401, reason } if !reason.is_empty()),
        "{e}"
    );
}

#[tokio::test]
async fn send_takes_any_events_and_reports_duplicates() {
    let emu = Emulator::start().await;
    let id = emu
        .create_meeting("Webinar-ish", START, 3600)
        .await
        .expect("m")
        .meetingid;
    let events = [
        Event::join(&id, "g-1", START + 5, Participant::Guest("guest-1".into()))
            .instance(5)
            .audio(false),
        Event::join(&id, "x-1", START + 6, Participant::External("wmEXT".into())),
        Event::state(&id, "x-1", START + 7).net("4G").video(true),
        Event::quit(&id, "g-1", START + 60),
    ];
    let report = emu.ingest().send(&events).await.expect("send");
    assert_eq!((report.accepted, report.duplicates), (4, 0), "{report:?}");
    assert!(report.rejected.is_empty());
    let again = emu.ingest().send(&events[..2]).await.expect("again");
    assert_eq!((again.accepted, again.duplicates), (0, 2), "{again:?}");
    let bad = emu
        .ingest()
        .send(&[Event::state(&id, "x-1", START + 8)])
        .await
        .expect("a state change of nothing is refused, not an error");
    assert_eq!(bad.rejected.len(), 1, "{bad:?}");

    emu.advance_clock(60).await.expect("advance");
    let rows = attendees(&emu, &id).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].userid, "");
    assert_eq!((rows[0].instance_id, rows[0].audio_state), (5, false));
    assert_eq!(
        rows[0].quit_time.as_deref(),
        Some((START + 60).to_string().as_str())
    );
    assert_eq!(
        (rows[1].net.as_deref(), rows[1].video_state),
        (Some("4G"), true)
    );
}
