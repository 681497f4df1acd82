//! Starting with the defaults, and stopping: a drop and a shutdown leave no server and no
//! data behind.

use std::net::SocketAddr;
use std::time::Duration;

use rollcall_emulator::{Credentials, Emulator, AGENTID, CORPID, SECRET, START, USERIDS};

use crate::attendees;

fn addr_of(emu: &Emulator) -> SocketAddr {
    emu.base_url()
        .strip_prefix("http://")
        .expect("http")
        .parse()
        .expect("addr")
}

/// Whether something still accepts connections at `addr`.
async fn accepts(addr: SocketAddr) -> bool {
    tokio::net::TcpStream::connect(addr).await.is_ok()
}

#[tokio::test]
async fn the_default_emulator_is_the_documented_one() {
    let emu = Emulator::start().await;
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(
        emu.credentials(),
        &Credentials::new(CORPID, AGENTID, SECRET)
    );
    assert_eq!(
        (emu.corpid(), emu.agentid(), emu.secret()),
        (CORPID, AGENTID, SECRET)
    );

    // The virtual clock starts at START, in-process and through the admin API alike.
    assert_eq!(emu.now(), START);
    let clock = emu.admin().clock().await.expect("clock");
    assert!(clock.is_virtual);
    assert_eq!(clock.now, START);
    assert_eq!(emu.advance_clock(90).await.expect("advance"), START + 90);
    assert_eq!(emu.now(), START + 90);

    // The standard app sees the whole department tree: every member is listed.
    let m = emu
        .create_meeting("All hands", START, 3600)
        .await
        .expect("meeting");
    for (i, userid) in USERIDS.iter().enumerate() {
        emu.ingest()
            .join(&m.meetingid, userid, START + i as i64)
            .await
            .expect("join");
    }
    let listed: Vec<String> = attendees(&emu, &m.meetingid)
        .await
        .into_iter()
        .map(|a| a.userid)
        .collect();
    assert_eq!(listed, USERIDS);
}

#[tokio::test]
async fn dropping_it_stops_the_server_and_deletes_the_data() {
    let emu = Emulator::start().await;
    let addr = addr_of(&emu);
    let dir = emu.data_dir().to_owned();
    // A client with a connection open, as a test's client would have.
    emu.client().access_token().await.expect("token");
    assert!(
        std::fs::read_dir(&dir).expect("data dir").count() > 0,
        "no store files"
    );
    assert!(accepts(addr).await);

    drop(emu);
    assert!(!dir.exists(), "{} is still there", dir.display());
    // The listener closes when the runtime cancels the aborted task: give it the chance,
    // a bounded number of times (nothing here measures time).
    let mut open = true;
    for _ in 0..200 {
        if !accepts(addr).await {
            open = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!open, "{addr} still accepts connections after the drop");
}

#[tokio::test]
async fn shutdown_answers_in_flight_work_then_removes_everything() {
    let emu = Emulator::start().await;
    let addr = addr_of(&emu);
    let dir = emu.data_dir().to_owned();
    let client = emu.client();
    client.access_token().await.expect("token");

    emu.shutdown().await.expect("shutdown");
    assert!(!dir.exists(), "{} is still there", dir.display());
    assert!(!accepts(addr).await, "a stopped server accepts connections");
    let e = client
        .get_meeting_info("hyanything", None)
        .await
        .expect_err("stopped");
    assert!(
        matches!(e, rollcall_emulator::client::Error::Transport(_)),
        "{e}"
    );
}
