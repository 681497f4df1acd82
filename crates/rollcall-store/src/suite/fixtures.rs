//! Store-level fixtures: corps, tokens, meetings, events and scans as the [`Store`] trait
//! takes them, for the contract cases and for backends' own tests (durability, outages,
//! several nodes), which enable the `suite` feature in their dev-dependencies.
//!
//! # Layout
//! - directory and tokens: [`app_ref`], [`app`], [`dept`], [`user`], [`corp`], [`sorted`],
//!   [`token`];
//! - meetings: [`new_meeting`], [`meeting`];
//! - events: [`event`], [`join_of`], [`join`], [`join_sub`], [`quit`], [`state`], [`audio`];
//! - calls with checks: [`ingest`], [`ingest_ok`], [`is_rejected`], [`everything`], [`scan`],
//!   [`all`], [`one`], [`keys`], [`assert_listing_order`];
//! - get_info's aggregates both ways: [`from_totals`] (as maintained) and [`from_sessions`]
//!   (folded from the stored sessions), which must agree.

use rollcall_core::ingest::{Event, EventKind, Join, Outcome, ResolvedEvent, StatePatch};
use rollcall_core::model::{
    App, AppRef, Corp, Department, Meeting, MeetingDetails, MeetingType, NewMeeting, Participant,
    SessionRow, SessionScan, TokenRecord, User,
};

use crate::Store;

/// A plausible "now": 2025-10-09.
pub const T0: i64 = 1_760_000_000;

pub fn app_ref(corpid: &str, agentid: u32) -> AppRef {
    AppRef {
        corpid: corpid.into(),
        agentid,
    }
}

pub fn app(agentid: u32, name: &str) -> App {
    App {
        agentid,
        name: name.into(),
        secret_hash: [agentid as u8; 32],
        meeting_api: agentid % 2 == 0,
        enabled: agentid % 3 != 0,
        visible_departments: vec![2, 1],
        visible_users: vec!["zhangsan".into(), "lisi".into()],
        callback: None,
    }
}

pub fn dept(id: u32, name: &str, parent: u32) -> Department {
    Department {
        id,
        name: name.into(),
        parent,
    }
}

pub fn user(userid: &str, name: &str, departments: &[u32]) -> User {
    User {
        userid: userid.into(),
        name: name.into(),
        departments: departments.to_vec(),
    }
}

/// A corp whose parts are deliberately out of order.
pub fn corp(corpid: &str) -> Corp {
    Corp {
        corpid: corpid.into(),
        name: format!("{corpid} 有限公司"),
        departments: vec![dept(3, "研发", 1), dept(1, "HQ", 0), dept(2, "Sales", 1)],
        users: vec![
            user("zhangsan", "张三", &[1, 3]),
            user("lisi", "李四", &[2]),
            user("wangwu", "王五", &[]),
        ],
        apps: vec![app(1000003, "Reports"), app(1000002, "Attendance")],
    }
}

/// `c` with departments by id, users by userid, apps by agentid: what `corp()` returns.
pub fn sorted(mut c: Corp) -> Corp {
    c.departments.sort_by_key(|d| d.id);
    c.users.sort_by(|a, b| a.userid.cmp(&b.userid));
    c.apps.sort_by_key(|a| a.agentid);
    c
}

/// A token record with a hash unique to `n`.
pub fn token(app: &AppRef, n: u64, issued_at: i64, expires_at: i64) -> TokenRecord {
    let mut hash = [0xa5; 32];
    hash[..8].copy_from_slice(&n.to_be_bytes());
    let mut nonce = [0x5a; 16];
    nonce[..8].copy_from_slice(&n.to_be_bytes());
    TokenRecord {
        hash,
        nonce,
        app: app.clone(),
        issued_at,
        expires_at,
    }
}

pub fn new_meeting(meetingid: &str, owner: &AppRef, kind: MeetingType, subs: usize) -> NewMeeting {
    NewMeeting {
        meetingid: meetingid.into(),
        meeting_code: format!("code-{meetingid}"),
        owner: owner.clone(),
        meeting_type: kind,
        title: format!("周会 {meetingid}"),
        meeting_start: T0 + 3600,
        meeting_duration: 3600,
        admin_userid: (kind != MeetingType::Webinar).then(|| "zhangsan".to_string()),
        sub_meetings: (0..subs)
            .map(|i| {
                let start = T0 + 3600 + i as i64 * 7 * 86_400;
                (format!("{meetingid}-sub-{i}"), start, start + 3600)
            })
            .collect(),
        details: MeetingDetails::default(),
    }
}

/// A fresh one-off meeting.
pub async fn meeting(store: &dyn Store, meetingid: &str) -> Meeting {
    store
        .create_meeting(
            &new_meeting(
                meetingid,
                &app_ref("wwcorp", 1000002),
                MeetingType::OneOff,
                0,
            ),
            &[],
        )
        .await
        .expect("create_meeting")
}

pub fn event(
    meeting_key: i64,
    sub_key: i64,
    id: &str,
    session: &str,
    at: i64,
    kind: EventKind,
) -> ResolvedEvent {
    ResolvedEvent {
        meeting_key,
        sub_key,
        event: Event {
            event_id: id.into(),
            meetingid: format!("meeting-{meeting_key}"),
            sub_meetingid: None,
            session: session.into(),
            at,
            kind,
        },
    }
}

pub fn join_of(p: Participant) -> Join {
    Join {
        participant: p,
        instance_id: 1,
        role: 3,
        webinar_role: 0,
        join_type: 1,
        net: Some("WIFI".into()),
        audio_state: true,
        video_state: false,
        screen_shared_state: false,
        customer_data: None,
    }
}

pub fn join(meeting_key: i64, id: &str, session: &str, at: i64) -> ResolvedEvent {
    join_sub(meeting_key, 0, id, session, at)
}

pub fn join_sub(meeting_key: i64, sub_key: i64, id: &str, session: &str, at: i64) -> ResolvedEvent {
    let who = Participant::Member(format!("user-{session}"));
    event(
        meeting_key,
        sub_key,
        id,
        session,
        at,
        EventKind::Join(join_of(who)),
    )
}

pub fn quit(meeting_key: i64, id: &str, session: &str, at: i64) -> ResolvedEvent {
    event(meeting_key, 0, id, session, at, EventKind::Quit)
}

pub fn state(
    meeting_key: i64,
    id: &str,
    session: &str,
    at: i64,
    patch: StatePatch,
) -> ResolvedEvent {
    event(meeting_key, 0, id, session, at, EventKind::State(patch))
}

pub fn audio(on: bool) -> StatePatch {
    StatePatch {
        audio_state: Some(on),
        ..Default::default()
    }
}

/// The server clock the fixtures' batches are applied at (dedupe records carry it).
pub const APPLIED_AT: i64 = 1_760_000_000;

pub async fn ingest(store: &dyn Store, events: &[ResolvedEvent]) -> Vec<Outcome> {
    let out = store.ingest(events, APPLIED_AT).await.expect("ingest");
    assert_eq!(out.len(), events.len(), "one outcome per event");
    out
}

pub async fn ingest_ok(store: &dyn Store, events: &[ResolvedEvent]) {
    let out = ingest(store, events).await;
    for (i, o) in out.iter().enumerate() {
        assert_eq!(o, &Outcome::Accepted, "event {i}: {:?}", events[i].event);
    }
}

pub fn is_rejected(o: &Outcome, needle: &str) -> bool {
    matches!(o, Outcome::Rejected(r) if r.to_string().contains(needle))
}

/// A scan with no bounds but the meeting and sub-meeting.
pub fn everything(meeting_key: i64, sub_key: i64) -> SessionScan {
    SessionScan {
        meeting_key,
        sub_key,
        after: (i64::MIN, 0),
        join_max: i64::MAX,
        seq_lo: 0,
        seq_hi: u64::MAX,
        limit: u32::MAX,
    }
}

pub async fn scan(store: &dyn Store, s: &SessionScan) -> Vec<SessionRow> {
    let rows = store.scan_sessions(s).await.expect("scan_sessions");
    assert!(rows.len() <= s.limit as usize, "more rows than the limit");
    rows
}

pub async fn all(store: &dyn Store, meeting_key: i64, sub_key: i64) -> Vec<SessionRow> {
    scan(store, &everything(meeting_key, sub_key)).await
}

pub async fn one(store: &dyn Store, meeting_key: i64, session: &str) -> SessionRow {
    let rows = all(store, meeting_key, 0).await;
    let mut found = rows.into_iter().filter(|r| r.session_key == session);
    let row = found
        .next()
        .unwrap_or_else(|| panic!("session {session} not listed"));
    assert!(found.next().is_none(), "session {session} listed twice");
    row
}

pub fn keys(rows: &[SessionRow]) -> Vec<&str> {
    rows.iter().map(|r| r.session_key.as_str()).collect()
}

pub fn assert_listing_order(rows: &[SessionRow]) {
    for w in rows.windows(2) {
        assert!(
            (w[0].join_time, w[0].seq) < (w[1].join_time, w[1].seq),
            "not in (join_time, seq) order: {:?} then {:?}",
            (w[0].join_time, w[0].seq),
            (w[1].join_time, w[1].seq)
        );
    }
}

/// What the aggregates say about one view as of `now`.
pub async fn from_totals(
    store: &dyn Store,
    k: i64,
    view: i64,
    now: i64,
) -> Vec<rollcall_core::schedule::PersonAttendance> {
    let totals = store
        .person_totals(k, view, now)
        .await
        .expect("person_totals");
    rollcall_core::person_totals::people(totals, now)
}

/// The stored sessions of a view, folded: what the aggregates must agree with.
pub async fn from_sessions(
    store: &dyn Store,
    k: i64,
    subs: &[i64],
    view: i64,
    now: i64,
) -> Vec<rollcall_core::schedule::PersonAttendance> {
    let mut rows: Vec<SessionRow> = Vec::new();
    for &sub in subs {
        rows.extend(all(store, k, sub).await);
    }
    rows.retain(|r| rollcall_core::person_totals::views_of(r.sub_key).any(|v| v == view));
    rollcall_core::schedule::people(&rows, now)
}
