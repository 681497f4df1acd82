//! My app's attendance sync, tested against an in-process WeCom (`rollcall-emulator`).
//!
//! `cargo test` runs the test below; `cargo run --example attendance_sync` prints a sync.

use std::collections::BTreeMap;
use std::error::Error;

use futures::TryStreamExt;
use rollcall_emulator::client::{Client, GetAttendeeListRequest};
use rollcall_emulator::{Emulator, LISI, START, WANGWU, ZHANGSAN};

/// What my app keeps per person and meeting.
#[derive(Debug, Default, PartialEq)]
pub struct Attendance {
    /// Sessions (a rejoin or a second device is another one).
    pub sessions: usize,
    /// Time in the meeting over the sessions that ended, in seconds.
    pub seconds: i64,
    /// Still in the meeting (a session without a quit time).
    pub in_meeting: bool,
}

/// The code under test: every page of a meeting's attendee list, folded per userid.
pub async fn sync_attendance(
    client: &Client,
    meetingid: &str,
    page_size: u32,
) -> Result<BTreeMap<String, Attendance>, Box<dyn Error>> {
    let request = GetAttendeeListRequest {
        meetingid: meetingid.to_owned(),
        limit: Some(page_size),
        ..Default::default()
    };
    let mut by_user = BTreeMap::<String, Attendance>::new();
    let mut sessions = std::pin::pin!(client.attendees_from(request));
    while let Some(a) = sessions.try_next().await? {
        let person = by_user.entry(a.userid.clone()).or_default();
        person.sessions += 1;
        match &a.quit_time {
            Some(quit) => person.seconds += quit.parse::<i64>()? - a.join_time.parse::<i64>()?,
            None => person.in_meeting = true,
        }
    }
    Ok(by_user)
}

/// A meeting that started at `START`, half an hour in: four sessions of three people.
async fn meeting_half_an_hour_in(emu: &Emulator) -> Result<String, Box<dyn Error>> {
    let meeting = emu.create_meeting("Weekly sync", START, 3600).await?;
    let id = meeting.meetingid;
    let platform = emu.ingest();
    platform.join(&id, ZHANGSAN, START).await?;
    platform.join(&id, LISI, START + 60).await?;
    platform.join(&id, WANGWU, START + 120).await?;
    platform.quit(&id, LISI, START + 600).await?;
    platform.join(&id, LISI, START + 900).await?; // back, in a second session
    platform.quit(&id, WANGWU, START + 1500).await?;
    platform.quit(&id, ZHANGSAN, START + 1800).await?;
    emu.advance_clock(1800).await?; // the listing ends at the server's now
    Ok(id)
}

#[tokio::test]
async fn attendance_sync_reads_every_page_and_survives_a_busy_server() -> Result<(), Box<dyn Error>>
{
    use rollcall_emulator::client::admin::{FaultSpec, RequestFilter};

    let emu = Emulator::start().await;
    let meetingid = meeting_half_an_hour_in(&emu).await?;

    // WeCom is busy once: the next attendee page answers errcode -1, "system busy".
    let busy = FaultSpec {
        errcode: Some(-1),
        times: Some(1),
        ..FaultSpec::new("meeting/get_attendee_list")
    };
    emu.admin().add_fault(&busy).await?;

    let attendance = sync_attendance(&emu.client(), &meetingid, 2).await?;

    let expected = |sessions, seconds, in_meeting| Attendance {
        sessions,
        seconds,
        in_meeting,
    };
    assert_eq!(attendance[ZHANGSAN], expected(1, 1800, false));
    assert_eq!(attendance[LISI], expected(2, 540, true));
    assert_eq!(attendance[WANGWU], expected(1, 1380, false));
    assert_eq!(attendance.len(), 3);

    // The fault fired once and the client retried: two pages of two, plus the busy answer.
    assert_eq!(emu.admin().faults().await?[0].hits, 1);
    let filter = RequestFilter {
        path: Some("meeting/get_attendee_list".into()),
        ..Default::default()
    };
    let pages = emu.admin().requests(&filter).await?; // newest first
    let errcodes: Vec<_> = pages.iter().map(|r| r.errcode).collect();
    assert_eq!(errcodes, [Some(0), Some(0), Some(-1)]);
    assert!(pages[2].fault.is_some());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let emu = Emulator::start().await;
    let meetingid = meeting_half_an_hour_in(&emu).await?;
    println!("emulator at {}, meeting {meetingid}", emu.base_url());
    for (userid, a) in sync_attendance(&emu.client(), &meetingid, 2).await? {
        println!("{userid}: {a:?}");
    }
    Ok(())
}
