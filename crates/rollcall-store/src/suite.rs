//! The backend-independent contract tests: what every [`Store`] must do, whatever it is
//! built on.
//!
//! Each case is a public `async fn(Arc<dyn Store>)` that expects a fresh, empty store and
//! panics (with a message) when the backend breaks the contract. Nothing here knows about a
//! particular backend: keys are never assumed to have particular values, only the properties
//! the trait documents.
//!
//! A backend runs every case, each on its own fresh store, with one line in its tests:
//!
//! ```text
//! async fn fresh() -> (std::sync::Arc<dyn rollcall_store::Store>, tempfile::TempDir) { … }
//! rollcall_store::store_contract_tests!(fresh());
//! ```
//!
//! The expression may return any guard beside the store (a temp dir, a database to drop);
//! it is kept alive until the case ends. The calling crate needs `tokio` (with `macros` and
//! `rt-multi-thread`) as a dev-dependency: every case runs on a multi-threaded runtime so the
//! concurrency cases are real.
//!
//! # Layout
//! - [`store_contract_tests!`](crate::store_contract_tests): one `#[tokio::test]` per case.
//! - server secret, directory and token cases;
//! - meeting cases (details, update, cancel, a member's meetings, presence);
//! - ingest cases (join / quit / state, duplicates, out of order, refusals, `seq`);
//! - scan cases (order, keyset paging, every filter, extreme bounds).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rollcall_core::ingest::{Event, EventKind, Join, Outcome, ResolvedEvent, StatePatch};
use rollcall_core::model::{
    App, AppRef, Corp, Department, Meeting, MeetingDetails, MeetingType, MeetingUpdate, NewMeeting,
    Participant, SessionRow, SessionScan, SubMeeting, TokenRecord, User, UserMeetingScan,
};
use rollcall_core::schedule::Presence;
use serde_json::json;

use crate::{Store, StoreError};

/// Defines one `#[tokio::test]` per contract case, each on a fresh store from `$fresh`, an
/// expression evaluating to a future of `(Arc<dyn Store>, guard)`.
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:expr) => {
        $crate::store_contract_tests!(@cases $fresh;
            server_secret_keeps_the_first_candidate,
            put_corp_round_trips_in_a_stable_order,
            put_corp_replaces_and_bumps_the_directory_version,
            token_for_app_reuses_the_valid_token,
            token_for_app_issues_a_new_token_after_expiry,
            token_for_app_agrees_under_concurrency,
            token_by_hash_finds_tokens_expired_or_not,
            create_meeting_assigns_keys,
            create_meeting_refuses_a_taken_meetingid,
            meetings_of_lists_an_apps_meetings_newest_first,
            create_meeting_keeps_details,
            meetingid_by_code_finds_the_apps_newest,
            update_meeting_replaces_the_changeable_parts,
            cancel_meeting_is_final_and_keeps_sessions,
            user_meetings_lists_admin_and_invitees_by_span,
            user_meetings_pages_by_keyset_and_follows_updates,
            presence_reports_each_sub_meeting,
            ping_and_last_seq_of_unknown_meetings,
            ingest_join_quit_and_state,
            ingest_duplicates_change_nothing,
            a_refused_join_is_not_recorded_so_a_corrected_resend_applies,
            quit_before_join_is_applied_when_the_join_arrives,
            state_before_join_is_applied_when_the_join_arrives,
            a_quit_before_the_join_time_is_refused,
            events_for_unknown_meetings_are_refused,
            seq_increases_strictly_across_batches,
            concurrent_ingest_keeps_seq_snapshots_stable,
            a_mixed_batch_applies_the_good_and_reports_the_bad,
            scan_orders_by_join_time_then_seq,
            scan_pages_by_keyset_exactly_once,
            scan_filters_by_seq_range,
            scan_filters_by_join_max,
            scan_keeps_sub_meetings_apart,
            scan_accepts_extreme_bounds,
        );
    };
    (@cases $fresh:expr; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $fresh.await;
                $crate::suite::$case(store).await;
            }
        )+
    };
}

/// A plausible "now": 2025-10-09.
const T0: i64 = 1_760_000_000;

// ---------------------------------------------------------------- fixtures

fn app_ref(corpid: &str, agentid: u32) -> AppRef {
    AppRef {
        corpid: corpid.into(),
        agentid,
    }
}

fn app(agentid: u32, name: &str) -> App {
    App {
        agentid,
        name: name.into(),
        secret_hash: [agentid as u8; 32],
        meeting_api: agentid % 2 == 0,
        enabled: agentid % 3 != 0,
        visible_departments: vec![2, 1],
        visible_users: vec!["zhangsan".into(), "lisi".into()],
    }
}

fn dept(id: u32, name: &str, parent: u32) -> Department {
    Department {
        id,
        name: name.into(),
        parent,
    }
}

fn user(userid: &str, name: &str, departments: &[u32]) -> User {
    User {
        userid: userid.into(),
        name: name.into(),
        departments: departments.to_vec(),
    }
}

/// A corp whose parts are deliberately out of order.
fn corp(corpid: &str) -> Corp {
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
fn sorted(mut c: Corp) -> Corp {
    c.departments.sort_by_key(|d| d.id);
    c.users.sort_by(|a, b| a.userid.cmp(&b.userid));
    c.apps.sort_by_key(|a| a.agentid);
    c
}

/// A token record with a hash unique to `n`.
fn token(app: &AppRef, n: u64, issued_at: i64, expires_at: i64) -> TokenRecord {
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

fn new_meeting(meetingid: &str, owner: &AppRef, kind: MeetingType, subs: usize) -> NewMeeting {
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
async fn meeting(store: &dyn Store, meetingid: &str) -> Meeting {
    store
        .create_meeting(&new_meeting(
            meetingid,
            &app_ref("wwcorp", 1000002),
            MeetingType::OneOff,
            0,
        ))
        .await
        .expect("create_meeting")
}

fn event(
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

fn join_of(p: Participant) -> Join {
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

fn join(meeting_key: i64, id: &str, session: &str, at: i64) -> ResolvedEvent {
    join_sub(meeting_key, 0, id, session, at)
}

fn join_sub(meeting_key: i64, sub_key: i64, id: &str, session: &str, at: i64) -> ResolvedEvent {
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

fn quit(meeting_key: i64, id: &str, session: &str, at: i64) -> ResolvedEvent {
    event(meeting_key, 0, id, session, at, EventKind::Quit)
}

fn state(meeting_key: i64, id: &str, session: &str, at: i64, patch: StatePatch) -> ResolvedEvent {
    event(meeting_key, 0, id, session, at, EventKind::State(patch))
}

fn audio(on: bool) -> StatePatch {
    StatePatch {
        audio_state: Some(on),
        ..Default::default()
    }
}

async fn ingest(store: &dyn Store, events: &[ResolvedEvent]) -> Vec<Outcome> {
    let out = store.ingest(events).await.expect("ingest");
    assert_eq!(out.len(), events.len(), "one outcome per event");
    out
}

async fn ingest_ok(store: &dyn Store, events: &[ResolvedEvent]) {
    let out = ingest(store, events).await;
    for (i, o) in out.iter().enumerate() {
        assert_eq!(o, &Outcome::Accepted, "event {i}: {:?}", events[i].event);
    }
}

fn is_rejected(o: &Outcome, needle: &str) -> bool {
    matches!(o, Outcome::Rejected(r) if r.contains(needle))
}

/// A scan with no bounds but the meeting and sub-meeting.
fn everything(meeting_key: i64, sub_key: i64) -> SessionScan {
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

async fn scan(store: &dyn Store, s: &SessionScan) -> Vec<SessionRow> {
    let rows = store.scan_sessions(s).await.expect("scan_sessions");
    assert!(rows.len() <= s.limit as usize, "more rows than the limit");
    rows
}

async fn all(store: &dyn Store, meeting_key: i64, sub_key: i64) -> Vec<SessionRow> {
    scan(store, &everything(meeting_key, sub_key)).await
}

async fn one(store: &dyn Store, meeting_key: i64, session: &str) -> SessionRow {
    let rows = all(store, meeting_key, 0).await;
    let mut found = rows.into_iter().filter(|r| r.session_key == session);
    let row = found
        .next()
        .unwrap_or_else(|| panic!("session {session} not listed"));
    assert!(found.next().is_none(), "session {session} listed twice");
    row
}

fn keys(rows: &[SessionRow]) -> Vec<&str> {
    rows.iter().map(|r| r.session_key.as_str()).collect()
}

fn assert_listing_order(rows: &[SessionRow]) {
    for w in rows.windows(2) {
        assert!(
            (w[0].join_time, w[0].seq) < (w[1].join_time, w[1].seq),
            "not in (join_time, seq) order: {:?} then {:?}",
            (w[0].join_time, w[0].seq),
            (w[1].join_time, w[1].seq)
        );
    }
}

// ---------------------------------------------------------------- secret, directory, tokens

/// The first candidate is kept, even when several callers race on an empty store.
pub async fn server_secret_keeps_the_first_candidate(store: Arc<dyn Store>) {
    let racers: Vec<_> = (1..=8u8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.server_secret([i; 32]).await })
        })
        .collect();
    let mut kept = BTreeSet::new();
    for r in racers {
        kept.insert(r.await.expect("task").expect("server_secret"));
    }
    assert_eq!(kept.len(), 1, "racing callers got different secrets");
    let first = *kept.first().expect("one");
    assert!(
        (1..=8u8).any(|i| first == [i; 32]),
        "kept a value nobody offered"
    );
    assert_eq!(store.server_secret([99; 32]).await.expect("again"), first);
}

pub async fn put_corp_round_trips_in_a_stable_order(store: Arc<dyn Store>) {
    assert_eq!(store.corp("wwcorp").await.expect("corp"), None);
    let c = corp("wwcorp");
    store.put_corp(&c).await.expect("put_corp");
    let got = store.corp("wwcorp").await.expect("corp");
    assert_eq!(got, Some(sorted(c)));
    assert_eq!(store.corp("wwother").await.expect("corp"), None);
    // An empty corp is a corp too.
    let empty = Corp {
        corpid: "wwempty".into(),
        name: String::new(),
        departments: vec![],
        users: vec![],
        apps: vec![],
    };
    store.put_corp(&empty).await.expect("put_corp");
    assert_eq!(store.corp("wwempty").await.expect("corp"), Some(empty));
}

pub async fn put_corp_replaces_and_bumps_the_directory_version(store: Arc<dyn Store>) {
    let mut seen = vec![store.directory_version().await.expect("version")];
    let mut bumped = |v: u64| {
        assert!(!seen.contains(&v), "directory_version {v} did not change");
        seen.push(v);
    };
    let a = corp("wwa");
    store.put_corp(&a).await.expect("put a");
    bumped(store.directory_version().await.expect("version"));
    let b = corp("wwb");
    store.put_corp(&b).await.expect("put b");
    bumped(store.directory_version().await.expect("version"));

    // Replace a: fewer departments, users and apps, changed fields.
    let mut a2 = corp("wwa");
    a2.name = "renamed".into();
    a2.departments.retain(|d| d.id != 2);
    a2.users.retain(|u| u.userid != "lisi");
    a2.users[0].departments = vec![3];
    a2.apps.retain(|x| x.agentid == 1000002);
    a2.apps[0].enabled = false;
    a2.apps[0].visible_users = vec![];
    a2.apps.push(app(1000009, "New"));
    store.put_corp(&a2).await.expect("put a2");
    bumped(store.directory_version().await.expect("version"));

    assert_eq!(store.corp("wwa").await.expect("corp"), Some(sorted(a2)));
    assert_eq!(store.corp("wwb").await.expect("corp"), Some(sorted(b)));
    // Reading changes nothing.
    let v = store.directory_version().await.expect("version");
    assert_eq!(store.directory_version().await.expect("version"), v);
}

pub async fn token_for_app_reuses_the_valid_token(store: Arc<dyn Store>) {
    let a = app_ref("wwcorp", 1000002);
    let t1 = token(&a, 1, T0, T0 + 7200);
    assert_eq!(store.token_for_app(T0, &t1).await.expect("issue"), t1);
    for (n, now) in [(2, T0 + 1), (3, T0 + 3600), (4, T0 + 7199)] {
        let got = store
            .token_for_app(now, &token(&a, n, now, now + 7200))
            .await
            .expect("reuse");
        assert_eq!(got, t1, "at {now} the valid token is handed out again");
        assert_eq!(
            store
                .token_by_hash(&token(&a, n, 0, 0).hash)
                .await
                .expect("by hash"),
            None
        );
    }
    // Other apps (same corp, or same agentid in another corp) get their own.
    for (n, other) in [
        (5, app_ref("wwcorp", 1000003)),
        (6, app_ref("wwother", 1000002)),
    ] {
        let t = token(&other, n, T0 + 10, T0 + 7210);
        assert_eq!(
            store.token_for_app(T0 + 10, &t).await.expect("other app"),
            t
        );
    }
    assert_eq!(
        store
            .token_for_app(T0 + 20, &token(&a, 7, T0 + 20, T0 + 7220))
            .await
            .expect("again"),
        t1
    );
}

pub async fn token_for_app_issues_a_new_token_after_expiry(store: Arc<dyn Store>) {
    let a = app_ref("wwcorp", 1000002);
    let t1 = token(&a, 1, T0, T0 + 7200);
    store.token_for_app(T0, &t1).await.expect("issue");
    // Valid means expires_at > now: at the expiry instant it is no longer valid.
    let t2 = token(&a, 2, T0 + 7200, T0 + 14_400);
    assert_eq!(
        store.token_for_app(T0 + 7200, &t2).await.expect("renew"),
        t2
    );
    let t3 = token(&a, 3, T0 + 7201, T0 + 14_401);
    assert_eq!(
        store.token_for_app(T0 + 7201, &t3).await.expect("reuse"),
        t2
    );
    // The expired one is still known (so callers can say "expired", not "invalid").
    assert_eq!(
        store.token_by_hash(&t1.hash).await.expect("by hash"),
        Some(t1)
    );
    assert_eq!(
        store.token_by_hash(&t2.hash).await.expect("by hash"),
        Some(t2)
    );
}

pub async fn token_for_app_agrees_under_concurrency(store: Arc<dyn Store>) {
    let a = app_ref("wwcorp", 1000002);
    let tasks: Vec<_> = (1..=8u64)
        .map(|n| {
            let store = Arc::clone(&store);
            let t = token(&a, n, T0, T0 + 7200);
            tokio::spawn(async move { store.token_for_app(T0, &t).await })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.expect("task").expect("token_for_app"));
    }
    let first = got[0].clone();
    assert!(
        got.iter().all(|t| *t == first),
        "concurrent callers got different tokens: {got:?}"
    );
    for n in 1..=8u64 {
        let cand = token(&a, n, T0, T0 + 7200);
        let stored = store.token_by_hash(&cand.hash).await.expect("by hash");
        if cand.hash == first.hash {
            assert_eq!(stored, Some(first.clone()));
        } else {
            assert_eq!(stored, None, "a losing candidate was stored");
        }
    }
}

pub async fn token_by_hash_finds_tokens_expired_or_not(store: Arc<dyn Store>) {
    assert_eq!(store.token_by_hash(&[7; 32]).await.expect("by hash"), None);
    let a = app_ref("wwcorp", 1000002);
    let b = app_ref("wwcorp", 1000003);
    let ta = token(&a, 1, T0, T0 + 7200);
    let tb = token(&b, 2, T0 - 100, T0 + 10);
    store.token_for_app(T0, &ta).await.expect("a");
    store.token_for_app(T0, &tb).await.expect("b");
    assert_eq!(
        store.token_by_hash(&ta.hash).await.expect("a"),
        Some(ta.clone())
    );
    assert_eq!(
        store.token_by_hash(&tb.hash).await.expect("b"),
        Some(tb.clone())
    );
    // b expires; a new token for b does not make the old one unknown.
    let tb2 = token(&b, 3, T0 + 20, T0 + 7220);
    assert_eq!(store.token_for_app(T0 + 20, &tb2).await.expect("b2"), tb2);
    assert_eq!(store.token_by_hash(&tb.hash).await.expect("b"), Some(tb));
}

// ---------------------------------------------------------------- meetings

pub async fn create_meeting_assigns_keys(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", 1000002);
    let one = new_meeting("m-one", &owner, MeetingType::OneOff, 0);
    let rec = new_meeting("m-rec", &owner, MeetingType::Recurring, 3);
    let web = new_meeting("m-web", &owner, MeetingType::Webinar, 0);
    let mut made = Vec::new();
    for nm in [&one, &rec, &web] {
        let m = store.create_meeting(nm).await.expect("create_meeting");
        assert_eq!(m.meetingid, nm.meetingid);
        assert_eq!(m.meeting_code, nm.meeting_code);
        assert_eq!(m.owner, nm.owner);
        assert_eq!(m.meeting_type, nm.meeting_type);
        assert_eq!(m.title, nm.title);
        assert_eq!(
            (m.meeting_start, m.meeting_duration),
            (nm.meeting_start, nm.meeting_duration)
        );
        assert_eq!(m.admin_userid, nm.admin_userid);
        assert_eq!(m.sub_meetings.len(), nm.sub_meetings.len());
        for (i, (s, (id, start, end))) in m.sub_meetings.iter().zip(&nm.sub_meetings).enumerate() {
            assert_eq!(s.key, i as i64 + 1, "sub-meeting keys are 1, 2, … in order");
            assert_eq!(
                (&s.sub_meetingid, s.start_time, s.end_time),
                (id, *start, *end)
            );
        }
        assert_eq!(
            store.meeting(&nm.meetingid).await.expect("meeting"),
            Some(m.clone())
        );
        made.push(m);
    }
    let keys: BTreeSet<i64> = made.iter().map(|m| m.key).collect();
    assert_eq!(keys.len(), 3, "meeting keys are distinct");
    assert_eq!(store.meeting("m-none").await.expect("meeting"), None);
    assert_eq!(made[1].sub_meeting("m-rec-sub-2").map(|s| s.key), Some(3));
}

pub async fn create_meeting_refuses_a_taken_meetingid(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", 1000002);
    let first = store
        .create_meeting(&new_meeting("m-1", &owner, MeetingType::Recurring, 2))
        .await
        .expect("create");
    let mut again = new_meeting("m-1", &app_ref("wwcorp", 1000003), MeetingType::OneOff, 0);
    again.title = "impostor".into();
    match store.create_meeting(&again).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        store.meeting("m-1").await.expect("meeting"),
        Some(first.clone())
    );
    // The store is still usable, and the next meeting gets a new key.
    let next = meeting(&*store, "m-2").await;
    assert_ne!(next.key, first.key);
}

pub async fn meetings_of_lists_an_apps_meetings_newest_first(store: Arc<dyn Store>) {
    let a = app_ref("wwcorp", 1000002);
    let b = app_ref("wwcorp", 1000003);
    let mut mine = Vec::new();
    for (i, id) in ["m-1", "m-2", "m-3"].into_iter().enumerate() {
        let kind = if i == 1 {
            MeetingType::Recurring
        } else {
            MeetingType::OneOff
        };
        mine.push(
            store
                .create_meeting(&new_meeting(id, &a, kind, 2 * (i % 2)))
                .await
                .expect("create"),
        );
        store
            .create_meeting(&new_meeting(&format!("other-{id}"), &b, kind, 0))
            .await
            .expect("create");
    }
    mine.reverse();
    assert_eq!(store.meetings_of(&a).await.expect("meetings_of"), mine);
    assert_eq!(store.meetings_of(&b).await.expect("meetings_of").len(), 3);
    assert!(store
        .meetings_of(&app_ref("wwnone", 1))
        .await
        .expect("meetings_of")
        .is_empty());
}

fn details(invitees: &[&str]) -> MeetingDetails {
    MeetingDetails {
        description: "季度复盘 — 带上数据".into(),
        location: "3F 会议室".into(),
        invitees: invitees.iter().map(|s| s.to_string()).collect(),
        settings: serde_json::from_value(
            json!({"password": "1234", "hosts": {"userid": ["lisi"]}, "x": [1, 2]}),
        )
        .expect("settings"),
        reminders: serde_json::from_value(
            json!({"is_repeat": 1, "repeat_type": 1, "remind_before": [0, 900]}),
        )
        .expect("reminders"),
    }
}

pub async fn create_meeting_keeps_details(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", 1000002);
    let mut nm = new_meeting("m-1", &owner, MeetingType::Recurring, 2);
    nm.details = details(&["lisi", "wangwu"]);
    let m = store.create_meeting(&nm).await.expect("create");
    assert_eq!(m.details, nm.details);
    assert!(!m.cancelled);
    assert_eq!(
        store.meeting("m-1").await.expect("meeting"),
        Some(m.clone())
    );
    assert_eq!(store.meetings_of(&owner).await.expect("meetings_of"), [m]);
    // Defaults round-trip too (the admin API's meetings).
    let plain = meeting(&*store, "m-2").await;
    assert_eq!(plain.details, MeetingDetails::default());
    assert_eq!(
        store
            .meeting("m-2")
            .await
            .expect("meeting")
            .map(|m| m.details),
        Some(MeetingDetails::default())
    );
}

pub async fn meetingid_by_code_finds_the_apps_newest(store: Arc<dyn Store>) {
    let a = app_ref("wwcorp", 1000002);
    let b = app_ref("wwcorp", 1000003);
    let code = |id: &str, owner: &AppRef, code: &str| {
        let mut nm = new_meeting(id, owner, MeetingType::OneOff, 0);
        nm.meeting_code = code.into();
        nm
    };
    assert_eq!(
        store.meetingid_by_code(&a, "111").await.expect("by code"),
        None
    );
    for nm in [
        code("m-1", &a, "111"),
        code("m-2", &b, "222"),
        code("m-3", &a, "111"),
        code("m-4", &a, "333"),
    ] {
        store.create_meeting(&nm).await.expect("create");
    }
    let by = |app: AppRef, c: &'static str| {
        let store = Arc::clone(&store);
        async move { store.meetingid_by_code(&app, c).await.expect("by code") }
    };
    assert_eq!(
        by(a.clone(), "111").await.as_deref(),
        Some("m-3"),
        "the newest"
    );
    assert_eq!(by(a.clone(), "333").await.as_deref(), Some("m-4"));
    assert_eq!(by(a.clone(), "222").await, None, "another app's code");
    assert_eq!(by(b.clone(), "222").await.as_deref(), Some("m-2"));
    assert_eq!(by(b, "111").await, None);
    assert_eq!(by(a, "").await, None);
}

pub async fn update_meeting_replaces_the_changeable_parts(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", 1000002);
    let m = store
        .create_meeting(&new_meeting("m-1", &owner, MeetingType::Recurring, 3))
        .await
        .expect("create");
    let (k, s1) = (m.key, m.sub_meetings[0].clone());
    ingest_ok(&*store, &[join_sub(k, s1.key, "e-1", "a-1", T0)]).await;
    // Keep sub-meeting 1 (it has a session), drop 2 and 3, add 7 and 9.
    let subs = vec![
        s1.clone(),
        SubMeeting {
            key: 7,
            sub_meetingid: "new-7".into(),
            start_time: T0 + 30 * 86_400,
            end_time: T0 + 30 * 86_400 + 600,
        },
        SubMeeting {
            key: 9,
            sub_meetingid: "new-9".into(),
            start_time: T0 + 37 * 86_400,
            end_time: T0 + 37 * 86_400 + 600,
        },
    ];
    let up = MeetingUpdate {
        key: k,
        meeting_type: MeetingType::Recurring,
        title: "改期后的周会".into(),
        meeting_start: T0 + 30 * 86_400,
        meeting_duration: 600,
        details: details(&["wangwu"]),
        sub_meetings: subs.clone(),
    };
    assert!(store.update_meeting(&up).await.expect("update"));
    let got = store.meeting("m-1").await.expect("meeting").expect("found");
    assert_eq!(got.key, k);
    assert_eq!(
        (got.meetingid.as_str(), got.meeting_code.as_str()),
        ("m-1", m.meeting_code.as_str())
    );
    assert_eq!(got.owner, owner);
    assert_eq!(
        got.admin_userid, m.admin_userid,
        "the administrator does not change"
    );
    assert_eq!(got.title, up.title);
    assert_eq!(
        (got.meeting_start, got.meeting_duration),
        (up.meeting_start, 600)
    );
    assert_eq!(got.details, up.details);
    assert_eq!(got.sub_meetings, subs);
    assert!(!got.cancelled);
    assert_eq!(
        keys(&all(&*store, k, s1.key).await),
        ["a-1"],
        "sessions stay"
    );
    // One-off again, no sub-meetings.
    let one = MeetingUpdate {
        meeting_type: MeetingType::OneOff,
        sub_meetings: vec![],
        ..up.clone()
    };
    assert!(store.update_meeting(&one).await.expect("update"));
    let got = store.meeting("m-1").await.expect("meeting").expect("found");
    assert_eq!(got.meeting_type, MeetingType::OneOff);
    assert!(got.sub_meetings.is_empty());
    // Unknown keys change nothing.
    let ghost = MeetingUpdate {
        key: k + 1_000_000,
        ..up
    };
    assert!(!store.update_meeting(&ghost).await.expect("update"));
    assert_eq!(store.meeting("m-1").await.expect("meeting"), Some(got));
}

pub async fn cancel_meeting_is_final_and_keeps_sessions(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-1").await;
    let other = meeting(&*store, "m-2").await;
    ingest_ok(&*store, &[join(m.key, "e-1", "s-1", T0)]).await;
    assert!(store.cancel_meeting(m.key).await.expect("cancel"));
    assert!(
        !store.cancel_meeting(m.key).await.expect("again"),
        "already cancelled"
    );
    assert!(!store
        .cancel_meeting(m.key + 1_000_000)
        .await
        .expect("unknown"));
    let got = store.meeting("m-1").await.expect("meeting").expect("found");
    assert!(got.cancelled);
    assert!(
        !store
            .meeting("m-2")
            .await
            .expect("meeting")
            .expect("found")
            .cancelled
    );
    // A cancelled meeting never changes again; its sessions stay, and ingest still applies.
    let up = MeetingUpdate {
        key: m.key,
        meeting_type: MeetingType::OneOff,
        title: "revived".into(),
        meeting_start: T0,
        meeting_duration: 300,
        details: MeetingDetails::default(),
        sub_meetings: vec![],
    };
    assert!(!store.update_meeting(&up).await.expect("update"));
    assert_eq!(
        store.meeting("m-1").await.expect("meeting"),
        Some(got.clone())
    );
    ingest_ok(&*store, &[quit(m.key, "e-2", "s-1", T0 + 60)]).await;
    assert_eq!(one(&*store, m.key, "s-1").await.quit_time, Some(T0 + 60));
    assert!(store
        .meetings_of(&other.owner)
        .await
        .expect("meetings_of")
        .iter()
        .any(|x| x.meetingid == "m-1" && x.cancelled));
}

/// `(meetingid, span start)` of a user_meetings page.
async fn user_page(store: &dyn Store, scan: &UserMeetingScan) -> Vec<String> {
    let rows = store.user_meetings(scan).await.expect("user_meetings");
    assert!(
        rows.len() <= scan.limit as usize,
        "more rows than the limit"
    );
    for w in rows.windows(2) {
        assert!(
            (w[0].span_start, w[0].key) < (w[1].span_start, w[1].key),
            "order"
        );
    }
    rows.into_iter().map(|r| r.meetingid).collect()
}

fn user_scan(app: &AppRef, userid: &str, begin: i64, end: i64) -> UserMeetingScan {
    UserMeetingScan {
        app: app.clone(),
        userid: userid.into(),
        begin,
        end,
        after: (i64::MIN, i64::MIN),
        limit: 100,
    }
}

/// A meeting of `owner` starting at `start` for an hour, administered by `admin`, inviting
/// `invitees`; `subs` weekly occurrences when recurring.
async fn listed(
    store: &dyn Store,
    id: &str,
    owner: &AppRef,
    start: i64,
    admin: Option<&str>,
    invitees: &[&str],
    subs: usize,
) -> Meeting {
    let kind = if subs > 0 {
        MeetingType::Recurring
    } else {
        MeetingType::OneOff
    };
    let mut nm = new_meeting(id, owner, kind, 0);
    nm.meeting_start = start;
    nm.admin_userid = admin.map(str::to_owned);
    nm.details = details(invitees);
    nm.sub_meetings = (0..subs)
        .map(|i| {
            let s = start + i as i64 * 7 * 86_400;
            (s.to_string(), s, s + 3600)
        })
        .collect();
    store.create_meeting(&nm).await.expect("create")
}

pub async fn user_meetings_lists_admin_and_invitees_by_span(store: Arc<dyn Store>) {
    let a = app_ref("wwcorp", 1000002);
    let b = app_ref("wwcorp", 1000003);
    let h = 3600;
    listed(
        &*store,
        "admin-of",
        &a,
        T0 + 10 * h,
        Some("zhangsan"),
        &[],
        0,
    )
    .await;
    listed(
        &*store,
        "invited",
        &a,
        T0,
        Some("lisi"),
        &["wangwu", "zhangsan"],
        0,
    )
    .await;
    // Administrator and invitee at once: listed once.
    listed(
        &*store,
        "both",
        &a,
        T0 + 5 * h,
        Some("zhangsan"),
        &["zhangsan"],
        0,
    )
    .await;
    listed(
        &*store,
        "not-mine",
        &a,
        T0 + h,
        Some("lisi"),
        &["wangwu"],
        0,
    )
    .await;
    listed(
        &*store,
        "other-app",
        &b,
        T0 + 2 * h,
        Some("zhangsan"),
        &[],
        0,
    )
    .await;
    // Recurring over three weeks: its span reaches the last occurrence's end.
    listed(
        &*store,
        "weekly",
        &a,
        T0 - 7 * 86_400,
        None,
        &["zhangsan"],
        3,
    )
    .await;
    listed(&*store, "no-admin", &a, T0 + 3 * h, None, &[], 0).await;

    let all_ = user_page(&*store, &user_scan(&a, "zhangsan", i64::MIN, i64::MAX)).await;
    assert_eq!(all_, ["weekly", "invited", "both", "admin-of"]);
    let other = user_page(&*store, &user_scan(&b, "zhangsan", i64::MIN, i64::MAX)).await;
    assert_eq!(other, ["other-app"]);
    assert_eq!(
        user_page(&*store, &user_scan(&a, "wangwu", i64::MIN, i64::MAX)).await,
        ["invited", "not-mine"]
    );
    assert!(
        user_page(&*store, &user_scan(&a, "nobody", i64::MIN, i64::MAX))
            .await
            .is_empty()
    );
    // The window meets the span, bounds inclusive: `invited` is [T0, T0 + 1h].
    let at = |begin, end| user_scan(&a, "zhangsan", begin, end);
    assert_eq!(
        user_page(&*store, &at(T0 + h, T0 + h)).await,
        ["weekly", "invited"]
    );
    assert_eq!(
        user_page(&*store, &at(T0 + h + 1, T0 + 5 * h - 1)).await,
        ["weekly"]
    );
    assert_eq!(
        user_page(&*store, &at(T0 + 5 * h, T0 + 5 * h)).await,
        ["weekly", "both"]
    );
    // Past the end of the recurring meeting's last occurrence (T0 + 7 days + 1h).
    let late = T0 + 7 * 86_400 + h + 1;
    assert!(user_page(&*store, &at(late, i64::MAX)).await.is_empty());
    assert_eq!(
        user_page(&*store, &at(late - 1, late - 1)).await,
        ["weekly"]
    );
    assert!(user_page(&*store, &at(i64::MIN, T0 - 7 * 86_400 - 1))
        .await
        .is_empty());
    let mut none = at(i64::MIN, i64::MAX);
    none.limit = 0;
    assert!(user_page(&*store, &none).await.is_empty());
}

pub async fn user_meetings_pages_by_keyset_and_follows_updates(store: Arc<dyn Store>) {
    let a = app_ref("wwcorp", 1000002);
    // Ties on the start: the key breaks them.
    let mut made = Vec::new();
    for i in 0..25 {
        let m = listed(
            &*store,
            &format!("m-{i:02}"),
            &a,
            T0 + (i % 5) * 600,
            Some("zhangsan"),
            &["lisi"],
            0,
        )
        .await;
        made.push(m);
    }
    let mut want: Vec<(i64, i64, String)> = made
        .iter()
        .map(|m| (m.meeting_start, m.key, m.meetingid.clone()))
        .collect();
    want.sort();
    let mut paged = Vec::new();
    let mut scan = user_scan(&a, "lisi", i64::MIN, i64::MAX);
    scan.limit = 4;
    loop {
        let rows = store.user_meetings(&scan).await.expect("user_meetings");
        let Some(last) = rows.last() else { break };
        scan.after = (last.span_start, last.key);
        assert!(
            rows.len() == 4 || paged.len() + rows.len() == 25,
            "short page mid-way"
        );
        paged.extend(rows.into_iter().map(|r| (r.span_start, r.key, r.meetingid)));
        assert!(paged.len() <= 25, "paging does not end");
    }
    assert_eq!(
        paged, want,
        "every meeting exactly once, in (span start, key) order"
    );

    // An update moves the meeting and changes who it is listed for.
    let m = &made[0];
    let up = MeetingUpdate {
        key: m.key,
        meeting_type: MeetingType::OneOff,
        title: m.title.clone(),
        meeting_start: T0 + 86_400,
        meeting_duration: 600,
        details: details(&["wangwu"]),
        sub_meetings: vec![],
    };
    assert!(store.update_meeting(&up).await.expect("update"));
    let lisi = user_page(&*store, &user_scan(&a, "lisi", i64::MIN, i64::MAX)).await;
    assert!(!lisi.contains(&m.meetingid), "lisi is no longer invited");
    let wangwu = user_page(&*store, &user_scan(&a, "wangwu", i64::MIN, i64::MAX)).await;
    assert_eq!(wangwu, std::slice::from_ref(&m.meetingid));
    let admin = store
        .user_meetings(&user_scan(&a, "zhangsan", T0 + 86_400, T0 + 86_400))
        .await
        .expect("user_meetings");
    assert_eq!(admin.len(), 1, "the administrator follows the new time");
    assert_eq!((admin[0].span_start, admin[0].key), (T0 + 86_400, m.key));
    // Cancelled meetings stay listed (get_info says they are cancelled).
    assert!(store.cancel_meeting(m.key).await.expect("cancel"));
    assert_eq!(
        user_page(&*store, &user_scan(&a, "wangwu", i64::MIN, i64::MAX)).await,
        std::slice::from_ref(&m.meetingid)
    );
}

pub async fn presence_reports_each_sub_meeting(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-1").await;
    assert!(store.presence(m.key).await.expect("presence").is_empty());
    assert!(store
        .presence(m.key + 1_000_000)
        .await
        .expect("presence")
        .is_empty());
    ingest_ok(
        &*store,
        &[join(m.key, "e-1", "s-1", T0), join(m.key, "e-2", "s-2", T0)],
    )
    .await;
    let open = Presence {
        attended: true,
        open: true,
    };
    let left = Presence {
        attended: true,
        open: false,
    };
    assert_eq!(store.presence(m.key).await.expect("presence"), [(0, open)]);
    ingest_ok(&*store, &[quit(m.key, "e-3", "s-1", T0 + 5)]).await;
    assert_eq!(store.presence(m.key).await.expect("presence"), [(0, open)]);
    ingest_ok(&*store, &[quit(m.key, "e-4", "s-2", T0 + 5)]).await;
    assert_eq!(store.presence(m.key).await.expect("presence"), [(0, left)]);

    let owner = app_ref("wwcorp", 1000002);
    let r = store
        .create_meeting(&new_meeting("m-rec", &owner, MeetingType::Recurring, 3))
        .await
        .expect("create");
    let (s1, s3) = (r.sub_meetings[0].key, r.sub_meetings[2].key);
    ingest_ok(
        &*store,
        &[
            join_sub(r.key, s3, "e-1", "c-1", T0),
            join_sub(r.key, s1, "e-2", "a-1", T0),
            quit(r.key, "e-3", "a-1", T0 + 10),
        ],
    )
    .await;
    assert_eq!(
        store.presence(r.key).await.expect("presence"),
        [(s1, left), (s3, open)],
        "sub-meeting 2 had nobody and is left out"
    );
}

pub async fn ping_and_last_seq_of_unknown_meetings(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
    for key in [0, -1, 123_456_789, i64::MIN, i64::MAX] {
        assert_eq!(store.last_seq(key).await.expect("last_seq"), 0);
        assert!(all(&*store, key, 0).await.is_empty());
    }
    let m = meeting(&*store, "m-1").await;
    assert_eq!(store.last_seq(m.key).await.expect("last_seq"), 0);
    assert!(all(&*store, m.key, 0).await.is_empty());
}

// ---------------------------------------------------------------- ingest

pub async fn ingest_join_quit_and_state(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-1").await;
    let k = m.key;
    assert!(store.ingest(&[]).await.expect("empty batch").is_empty());

    let mut j = join_of(Participant::Member("zhangsan".into()));
    j.instance_id = 84;
    j.role = 7;
    j.join_type = 6;
    j.customer_data = Some("来自个人链接 ✓".into());
    let mut g = join_of(Participant::Guest("g-1".into()));
    g.net = None;
    g.audio_state = false;
    g.video_state = true;
    g.screen_shared_state = true;
    let mut x = join_of(Participant::External("ext-1".into()));
    x.webinar_role = 4;
    ingest_ok(
        &*store,
        &[
            event(k, 0, "e-1", "s-1", T0, EventKind::Join(j.clone())),
            event(k, 0, "e-2", "s-2", T0 + 1, EventKind::Join(g.clone())),
            event(k, 0, "e-3", "s-3", T0 + 2, EventKind::Join(x.clone())),
        ],
    )
    .await;
    let rows = all(&*store, k, 0).await;
    assert_eq!(keys(&rows), ["s-1", "s-2", "s-3"]);
    let s1 = &rows[0];
    assert_eq!(
        s1,
        &SessionRow {
            seq: s1.seq,
            session_key: "s-1".into(),
            sub_key: 0,
            participant: Participant::Member("zhangsan".into()),
            join_time: T0,
            quit_time: None,
            instance_id: 84,
            role: 7,
            webinar_role: 0,
            join_type: 6,
            net: Some("WIFI".into()),
            audio_state: true,
            video_state: false,
            screen_shared_state: false,
            customer_data: Some("来自个人链接 ✓".into()),
            state_at: T0,
        }
    );
    assert_eq!(rows[1].participant, Participant::Guest("g-1".into()));
    assert_eq!(rows[1].net, None);
    assert!(!rows[1].audio_state && rows[1].video_state && rows[1].screen_shared_state);
    assert_eq!(rows[2].participant, Participant::External("ext-1".into()));
    assert_eq!(rows[2].webinar_role, 4);
    assert_eq!(store.last_seq(k).await.expect("last_seq"), rows[2].seq);

    // State: the newest wins, an older one changes nothing.
    let patch = StatePatch {
        net: Some("4G".into()),
        audio_state: Some(false),
        video_state: Some(true),
        screen_shared_state: Some(true),
    };
    ingest_ok(&*store, &[state(k, "e-4", "s-1", T0 + 10, patch)]).await;
    ingest_ok(&*store, &[state(k, "e-5", "s-1", T0 + 5, audio(true))]).await;
    let r = one(&*store, k, "s-1").await;
    assert_eq!(r.net.as_deref(), Some("4G"));
    assert!(!r.audio_state && r.video_state && r.screen_shared_state);
    assert_eq!(r.state_at, T0 + 10);

    // Quit, then a second quit is refused.
    ingest_ok(&*store, &[quit(k, "e-6", "s-1", T0 + 100)]).await;
    let r = one(&*store, k, "s-1").await;
    assert_eq!(r.quit_time, Some(T0 + 100));
    assert_eq!(
        (r.seq, r.join_time),
        (s1.seq, T0),
        "quit does not move the row"
    );
    let out = ingest(&*store, &[quit(k, "e-7", "s-1", T0 + 200)]).await;
    assert!(matches!(out[0], Outcome::Rejected(_)), "{out:?}");
    assert_eq!(one(&*store, k, "s-1").await.quit_time, Some(T0 + 100));
    // Nothing above created a session.
    assert_eq!(all(&*store, k, 0).await.len(), 3);
}

pub async fn ingest_duplicates_change_nothing(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-1").await;
    let other = meeting(&*store, "m-2").await;
    let k = m.key;
    ingest_ok(
        &*store,
        &[join(k, "e-1", "s-1", T0), quit(k, "e-2", "s-1", T0 + 60)],
    )
    .await;
    let before = all(&*store, k, 0).await;
    let seq = store.last_seq(k).await.expect("last_seq");

    // The same ids again, even with other contents, are duplicates and change nothing.
    let out = ingest(
        &*store,
        &[
            join(k, "e-1", "s-9", T0 + 5),
            quit(k, "e-2", "s-1", T0 + 90),
            state(k, "e-1", "s-1", T0 + 70, audio(false)),
        ],
    )
    .await;
    assert_eq!(
        out,
        [Outcome::Duplicate, Outcome::Duplicate, Outcome::Duplicate]
    );
    assert_eq!(all(&*store, k, 0).await, before);
    assert_eq!(store.last_seq(k).await.expect("last_seq"), seq);

    // Event ids are per meeting.
    ingest_ok(&*store, &[join(other.key, "e-1", "s-1", T0)]).await;

    // A duplicate within one batch.
    let out = ingest(
        &*store,
        &[join(k, "e-3", "s-3", T0), join(k, "e-3", "s-4", T0)],
    )
    .await;
    assert_eq!(out, [Outcome::Accepted, Outcome::Duplicate]);
    assert_eq!(keys(&all(&*store, k, 0).await), ["s-1", "s-3"]);
}

pub async fn a_refused_join_is_not_recorded_so_a_corrected_resend_applies(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    ingest_ok(&*store, &[join(k, "e-1", "s-1", T0)]).await;
    let before = all(&*store, k, 0).await;
    let out = ingest(&*store, &[join(k, "e-2", "s-1", T0 + 30)]).await;
    assert!(is_rejected(&out[0], "already joined"), "{out:?}");
    assert_eq!(
        all(&*store, k, 0).await,
        before,
        "a refused join changes nothing"
    );
    // The same event id, corrected, is not a duplicate.
    ingest_ok(&*store, &[join(k, "e-2", "s-2", T0 + 30)]).await;
    let rows = all(&*store, k, 0).await;
    assert_eq!(keys(&rows), ["s-1", "s-2"]);
    assert!(rows[1].seq > rows[0].seq);
    assert_eq!(store.last_seq(k).await.expect("last_seq"), rows[1].seq);
}

pub async fn quit_before_join_is_applied_when_the_join_arrives(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    // Quits acknowledged before their joins: kept, not listed yet.
    ingest_ok(
        &*store,
        &[
            quit(k, "e-1", "s-1", T0 + 100),
            quit(k, "e-2", "s-2", T0 - 50),
        ],
    )
    .await;
    assert!(
        all(&*store, k, 0).await.is_empty(),
        "no session before its join"
    );
    ingest_ok(
        &*store,
        &[join(k, "e-3", "s-1", T0), join(k, "e-4", "s-2", T0)],
    )
    .await;
    assert_eq!(one(&*store, k, "s-1").await.quit_time, Some(T0 + 100));
    // A pending quit that predates the join is clamped to the join, not lost.
    assert_eq!(one(&*store, k, "s-2").await.quit_time, Some(T0));
    // Applied once: the re-sent quit is a duplicate, a new quit is refused (already quit).
    let out = ingest(
        &*store,
        &[
            quit(k, "e-1", "s-1", T0 + 100),
            quit(k, "e-5", "s-1", T0 + 200),
        ],
    )
    .await;
    assert_eq!(out[0], Outcome::Duplicate);
    assert!(matches!(out[1], Outcome::Rejected(_)), "{out:?}");
    // The pending events are consumed: a later session with another key is unaffected.
    ingest_ok(&*store, &[join(k, "e-6", "s-3", T0 + 300)]).await;
    assert_eq!(one(&*store, k, "s-3").await.quit_time, None);
}

pub async fn state_before_join_is_applied_when_the_join_arrives(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let patch = StatePatch {
        net: Some("4G".into()),
        audio_state: Some(false),
        ..Default::default()
    };
    ingest_ok(&*store, &[state(k, "e-1", "s-1", T0 + 10, patch)]).await;
    assert!(all(&*store, k, 0).await.is_empty());
    ingest_ok(&*store, &[join(k, "e-2", "s-1", T0)]).await;
    let r = one(&*store, k, "s-1").await;
    assert_eq!(r.net.as_deref(), Some("4G"));
    assert!(!r.audio_state);
    assert_eq!(r.state_at, T0 + 10);
    assert_eq!(r.quit_time, None);

    // State, quit and join in one batch, out of order: all applied, in time order.
    ingest_ok(
        &*store,
        &[
            state(k, "e-3", "s-2", T0 + 20, audio(false)),
            quit(k, "e-4", "s-2", T0 + 90),
            state(k, "e-5", "s-2", T0 + 15, audio(true)),
            join(k, "e-6", "s-2", T0 + 5),
        ],
    )
    .await;
    let r = one(&*store, k, "s-2").await;
    assert!(!r.audio_state, "the newer state wins");
    assert_eq!(r.quit_time, Some(T0 + 90));
    assert_eq!(r.state_at, T0 + 20);
    // A pending state older than the join loses to the join's own values.
    ingest_ok(
        &*store,
        &[
            state(k, "e-7", "s-3", T0 - 10, audio(false)),
            join(k, "e-8", "s-3", T0),
        ],
    )
    .await;
    assert!(one(&*store, k, "s-3").await.audio_state);
}

pub async fn a_quit_before_the_join_time_is_refused(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    ingest_ok(&*store, &[join(k, "e-1", "s-1", T0)]).await;
    let out = ingest(&*store, &[quit(k, "e-2", "s-1", T0 - 1)]).await;
    assert!(is_rejected(&out[0], "before"), "{out:?}");
    assert_eq!(one(&*store, k, "s-1").await.quit_time, None);
    // Not recorded: the corrected re-send of the same event applies.
    ingest_ok(&*store, &[quit(k, "e-2", "s-1", T0 + 60)]).await;
    assert_eq!(one(&*store, k, "s-1").await.quit_time, Some(T0 + 60));
    // A quit at the join instant is fine.
    ingest_ok(
        &*store,
        &[join(k, "e-3", "s-2", T0), quit(k, "e-4", "s-2", T0)],
    )
    .await;
    assert_eq!(one(&*store, k, "s-2").await.quit_time, Some(T0));
}

pub async fn events_for_unknown_meetings_are_refused(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    for bad in [k + 1_000_000, -1, 0, i64::MIN, i64::MAX] {
        let out = ingest(
            &*store,
            &[
                join(bad, "e-1", "s-1", T0),
                quit(bad, "e-2", "s-1", T0 + 1),
                state(bad, "e-3", "s-1", T0 + 1, audio(false)),
            ],
        )
        .await;
        for o in &out {
            assert!(is_rejected(o, "unknown meeting"), "{bad}: {out:?}");
        }
        assert_eq!(store.last_seq(bad).await.expect("last_seq"), 0);
    }
    // Nothing was recorded against the real meeting either.
    ingest_ok(&*store, &[join(k, "e-1", "s-1", T0)]).await;
}

pub async fn seq_increases_strictly_across_batches(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let other = meeting(&*store, "m-2").await.key;
    let mut order = Vec::new();
    for batch in 0..5 {
        let mut events = Vec::new();
        for i in 0..10 {
            let s = format!("s-{batch}-{i}");
            // Join times deliberately unrelated to ingest order.
            events.push(join(
                k,
                &format!("e-{s}"),
                &s,
                T0 + ((batch * 10 + i) * 37 % 11),
            ));
            order.push(s);
        }
        // A refused join and another meeting's joins in the same batch.
        events.push(join(k, &format!("dup-{batch}"), &order[0].clone(), T0));
        events.push(join(
            other,
            &format!("o-{batch}"),
            &format!("o-{batch}"),
            T0,
        ));
        let out = ingest(&*store, &events).await;
        assert!(matches!(out[10], Outcome::Rejected(_)));
        let rows = all(&*store, k, 0).await;
        let max = rows.iter().map(|r| r.seq).max().expect("rows");
        assert_eq!(store.last_seq(k).await.expect("last_seq"), max);
    }
    let by_key: HashMap<String, u64> = all(&*store, k, 0)
        .await
        .into_iter()
        .map(|r| (r.session_key, r.seq))
        .collect();
    assert_eq!(by_key.len(), order.len());
    let seqs: Vec<u64> = order.iter().map(|s| by_key[s]).collect();
    assert!(seqs[0] >= 1, "seq starts at 1");
    for w in seqs.windows(2) {
        assert!(w[0] < w[1], "seq not increasing in ingest order: {seqs:?}");
    }
    let other_rows = all(&*store, other, 0).await;
    assert_eq!(other_rows.len(), 5);
    assert_eq!(
        store.last_seq(other).await.expect("last_seq"),
        other_rows.iter().map(|r| r.seq).max().expect("rows")
    );
}

/// The property cursors rely on: once a reader has seen `last_seq = n`, the set of sessions
/// with `seq <= n` never changes, however many writers commit concurrently.
pub async fn concurrent_ingest_keeps_seq_snapshots_stable(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for b in 0..20 {
                    let events: Vec<_> = (0..5)
                        .map(|i| {
                            let s = format!("w{w}-b{b}-{i}");
                            join(k, &s, &s, T0 + (i * 13 + b) % 17)
                        })
                        .collect();
                    let out = store.ingest(&events).await.expect("ingest");
                    assert!(out.iter().all(|o| *o == Outcome::Accepted), "{out:?}");
                }
            })
        })
        .collect();
    let mut snapshots = Vec::new();
    for _ in 0..40 {
        let n = store.last_seq(k).await.expect("last_seq");
        let s = SessionScan {
            seq_hi: n,
            ..everything(k, 0)
        };
        let seen: BTreeSet<String> = scan(&*store, &s)
            .await
            .into_iter()
            .map(|r| r.session_key)
            .collect();
        snapshots.push((n, seen));
        tokio::task::yield_now().await;
    }
    for w in writers {
        w.await.expect("writer");
    }
    let rows = all(&*store, k, 0).await;
    assert_eq!(rows.len(), 400);
    let seqs: BTreeSet<u64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len(), 400, "seq values are unique");
    assert_eq!(
        store.last_seq(k).await.expect("last_seq"),
        *seqs.last().expect("rows")
    );
    for (n, seen) in snapshots {
        let now: BTreeSet<String> = rows
            .iter()
            .filter(|r| r.seq <= n)
            .map(|r| r.session_key.clone())
            .collect();
        assert_eq!(
            now, seen,
            "sessions with seq <= {n} changed after last_seq = {n} was read"
        );
    }
}

pub async fn a_mixed_batch_applies_the_good_and_reports_the_bad(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    ingest_ok(&*store, &[join(k, "e-0", "s-0", T0)]).await;
    let events = [
        join(k, "e-1", "s-1", T0 + 10),                // accepted
        join(k + 1_000_000, "e-2", "s-2", T0),         // unknown meeting
        quit(k, "e-3", "s-1", T0 + 5),                 // before its join
        join(k, "e-1", "s-9", T0),                     // duplicate of e-1
        state(k, "e-4", "s-1", T0 + 20, audio(false)), // accepted
        join(k, "e-5", "s-0", T0 + 30),                // s-0 already joined
        quit(k, "e-0", "s-0", T0 + 40),                // duplicate of the earlier batch
        quit(k, "e-6", "s-1", T0 + 50),                // accepted
        quit(k, "e-7", "s-7", T0 + 50),                // accepted, pending
    ];
    let out = ingest(&*store, &events).await;
    assert_eq!(out[0], Outcome::Accepted);
    assert!(is_rejected(&out[1], "unknown meeting"), "{out:?}");
    assert!(matches!(out[2], Outcome::Rejected(_)), "{out:?}");
    assert_eq!(out[3], Outcome::Duplicate);
    assert_eq!(out[4], Outcome::Accepted);
    assert!(is_rejected(&out[5], "already joined"), "{out:?}");
    assert_eq!(out[6], Outcome::Duplicate);
    assert_eq!(out[7], Outcome::Accepted);
    assert_eq!(out[8], Outcome::Accepted);
    let rows = all(&*store, k, 0).await;
    assert_eq!(keys(&rows), ["s-0", "s-1"]);
    assert_eq!(rows[0].quit_time, None);
    assert_eq!(
        (rows[1].quit_time, rows[1].audio_state),
        (Some(T0 + 50), false)
    );
    // The refused events were not recorded: corrected re-sends apply.
    ingest_ok(
        &*store,
        &[
            quit(k, "e-3", "s-0", T0 + 60),
            join(k, "e-5", "s-5", T0 + 30),
        ],
    )
    .await;
    assert_eq!(keys(&all(&*store, k, 0).await), ["s-0", "s-1", "s-5"]);
}

// ---------------------------------------------------------------- scans

pub async fn scan_orders_by_join_time_then_seq(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let joins = [
        ("a", 50),
        ("b", 10),
        ("c", 30),
        ("d", 10),
        ("e", 50),
        ("f", 0),
    ];
    // One per batch, and then all in one batch in another meeting: both orders must hold.
    for (s, t) in joins {
        ingest_ok(&*store, &[join(k, s, s, T0 + t)]).await;
    }
    let k2 = meeting(&*store, "m-2").await.key;
    let batch: Vec<_> = joins.iter().map(|(s, t)| join(k2, s, s, T0 + t)).collect();
    ingest_ok(&*store, &batch).await;
    for key in [k, k2] {
        let rows = all(&*store, key, 0).await;
        assert_eq!(keys(&rows), ["f", "b", "d", "c", "a", "e"]);
        assert_listing_order(&rows);
    }
}

pub async fn scan_pages_by_keyset_exactly_once(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    for b in 0..10 {
        let events: Vec<_> = (0..100)
            .map(|i| {
                let n = b * 100 + i;
                let s = format!("s-{n:04}");
                // Many ties on join_time, in no particular ingest order.
                join(k, &s, &s, T0 + (n * 7919 % 150))
            })
            .collect();
        ingest_ok(&*store, &events).await;
    }
    let seq_hi = store.last_seq(k).await.expect("last_seq");
    let full = all(&*store, k, 0).await;
    assert_eq!(full.len(), 1000);
    assert_listing_order(&full);

    let mut paged = Vec::new();
    let mut after = (i64::MIN, 0);
    let mut pages = 0;
    loop {
        let page = scan(
            &*store,
            &SessionScan {
                after,
                seq_hi,
                limit: 7,
                ..everything(k, 0)
            },
        )
        .await;
        pages += 1;
        if page.is_empty() {
            break;
        }
        assert!(
            page.len() == 7 || paged.len() + page.len() == 1000,
            "short page mid-way"
        );
        let last = page.last().expect("page");
        after = (last.join_time, last.seq);
        paged.extend(page);
        if pages == 70 {
            // New joins arrive mid-listing, some before the position reached: the snapshot
            // (seq <= seq_hi) keeps them out of this pass.
            let late: Vec<_> = (0..50)
                .map(|i| {
                    let s = format!("late-{i}");
                    join(k, &s, &s, T0 + i * 3)
                })
                .collect();
            ingest_ok(&*store, &late).await;
        }
        assert!(pages < 1000, "paging does not end");
    }
    assert_eq!(
        paged, full,
        "pages of 7 return every session exactly once, in order"
    );
    let distinct: BTreeSet<&str> = paged.iter().map(|r| r.session_key.as_str()).collect();
    assert_eq!(distinct.len(), 1000);
    // The next pass sees exactly the late joins.
    let next = scan(
        &*store,
        &SessionScan {
            seq_lo: seq_hi,
            ..everything(k, 0)
        },
    )
    .await;
    assert_eq!(next.len(), 50);
    assert!(next.iter().all(|r| r.session_key.starts_with("late-")));
    assert_listing_order(&next);
}

pub async fn scan_filters_by_seq_range(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let events: Vec<_> = (0..10)
        .map(|i| {
            let s = format!("s-{i}");
            join(k, &s, &s, T0 + (9 - i))
        })
        .collect();
    ingest_ok(&*store, &events).await;
    let rows = all(&*store, k, 0).await;
    let mut seqs: Vec<u64> = rows.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    let (lo, hi) = (seqs[2], seqs[6]);
    let got = scan(
        &*store,
        &SessionScan {
            seq_lo: lo,
            seq_hi: hi,
            ..everything(k, 0)
        },
    )
    .await;
    let mut got_seqs: Vec<u64> = got.iter().map(|r| r.seq).collect();
    assert_listing_order(&got);
    got_seqs.sort_unstable();
    assert_eq!(got_seqs, seqs[3..=6], "seq_lo < seq <= seq_hi");
    for (lo, hi) in [(hi, hi), (hi, lo), (u64::MAX, u64::MAX), (0, 0)] {
        let s = SessionScan {
            seq_lo: lo,
            seq_hi: hi,
            ..everything(k, 0)
        };
        assert!(scan(&*store, &s).await.is_empty(), "({lo}, {hi}] is empty");
    }
}

pub async fn scan_filters_by_join_max(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    let events: Vec<_> = (0..10)
        .map(|i| {
            let s = format!("s-{i}");
            join(k, &s, &s, T0 + i)
        })
        .collect();
    ingest_ok(&*store, &events).await;
    let upto = |join_max| SessionScan {
        join_max,
        ..everything(k, 0)
    };
    let rows = scan(&*store, &upto(T0 + 4)).await;
    assert_eq!(
        keys(&rows),
        ["s-0", "s-1", "s-2", "s-3", "s-4"],
        "join_max is inclusive"
    );
    assert!(scan(&*store, &upto(T0 - 1)).await.is_empty());
    assert_eq!(scan(&*store, &upto(T0 + 9)).await.len(), 10);
    // The lower bound is exclusive on (join_time, seq): (t, 0) starts at t.
    let from = SessionScan {
        after: (T0 + 7, 0),
        ..everything(k, 0)
    };
    assert_eq!(keys(&scan(&*store, &from).await), ["s-7", "s-8", "s-9"]);
    let past = SessionScan {
        after: (T0 + 7, u64::MAX),
        ..everything(k, 0)
    };
    assert_eq!(keys(&scan(&*store, &past).await), ["s-8", "s-9"]);
}

pub async fn scan_keeps_sub_meetings_apart(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", 1000002);
    let m = store
        .create_meeting(&new_meeting("m-rec", &owner, MeetingType::Recurring, 2))
        .await
        .expect("create");
    let (k, s1, s2) = (m.key, m.sub_meetings[0].key, m.sub_meetings[1].key);
    ingest_ok(
        &*store,
        &[
            join_sub(k, s2, "e-1", "b-1", T0),
            join_sub(k, s1, "e-2", "a-1", T0 + 5),
            join_sub(k, s2, "e-3", "b-2", T0 - 5),
            join_sub(k, s1, "e-4", "a-2", T0 + 1),
            // Quits and states name no sub-meeting: the session key finds it.
            quit(k, "e-5", "b-1", T0 + 60),
            state(k, "e-6", "a-1", T0 + 30, audio(false)),
        ],
    )
    .await;
    let a = all(&*store, k, s1).await;
    let b = all(&*store, k, s2).await;
    assert_eq!(keys(&a), ["a-2", "a-1"]);
    assert_eq!(keys(&b), ["b-2", "b-1"]);
    assert!(a.iter().all(|r| r.sub_key == s1) && b.iter().all(|r| r.sub_key == s2));
    assert_eq!(b[1].quit_time, Some(T0 + 60));
    assert!(!a[1].audio_state);
    assert!(
        all(&*store, k, 0).await.is_empty(),
        "no session outside the sub-meetings"
    );
    assert!(all(&*store, k, 3).await.is_empty());
    // Session keys are unique per meeting, across its sub-meetings.
    let out = ingest(&*store, &[join_sub(k, s1, "e-7", "b-1", T0)]).await;
    assert!(is_rejected(&out[0], "already joined"), "{out:?}");
}

pub async fn scan_accepts_extreme_bounds(store: Arc<dyn Store>) {
    let k = meeting(&*store, "m-1").await.key;
    // Join times at the edges of what ingest accepts (1 ..= u32::MAX).
    ingest_ok(
        &*store,
        &[
            join(k, "e-1", "s-hi", i64::from(u32::MAX)),
            join(k, "e-2", "s-lo", 1),
            join(k, "e-3", "s-mid", T0),
        ],
    )
    .await;
    let s = |after, join_max, seq_lo, seq_hi, limit| SessionScan {
        meeting_key: k,
        sub_key: 0,
        after,
        join_max,
        seq_lo,
        seq_hi,
        limit,
    };
    let cases: [(SessionScan, &[&str]); 9] = [
        (
            s((i64::MIN, 0), i64::MAX, 0, u64::MAX, 100),
            &["s-lo", "s-mid", "s-hi"],
        ),
        (
            s((i64::MIN, u64::MAX), i64::MAX, 0, u64::MAX, 100),
            &["s-lo", "s-mid", "s-hi"],
        ),
        (
            s((i64::MIN, 0), i64::MAX, 0, u64::MAX, u32::MAX),
            &["s-lo", "s-mid", "s-hi"],
        ),
        (s((i64::MIN, 0), i64::MAX, 0, u64::MAX, 1), &["s-lo"]),
        (s((i64::MIN, 0), i64::MAX, 0, u64::MAX, 0), &[]),
        (s((i64::MAX, u64::MAX), i64::MAX, 0, u64::MAX, 100), &[]),
        (s((i64::MAX, 0), i64::MAX, 0, u64::MAX, 100), &[]),
        (s((i64::MIN, 0), i64::MIN, 0, u64::MAX, 100), &[]),
        (s((1, u64::MAX), T0, 0, u64::MAX, 100), &["s-mid"]),
    ];
    for (scan_, want) in cases {
        let got = scan(&*store, &scan_).await;
        assert_eq!(keys(&got), want, "{scan_:?}");
    }
}

#[cfg(test)]
mod tests {
    /// Every public case is listed in `store_contract_tests!`, so no backend silently skips one.
    #[test]
    fn the_macro_lists_every_case() {
        let src = include_str!("suite.rs");
        let (macro_part, rest) = src
            .split_once("(@cases $fresh:expr; $($case")
            .expect("macro");
        let cases: Vec<&str> = rest
            .lines()
            .filter_map(|l| l.strip_prefix("pub async fn "))
            .filter_map(|l| l.split('(').next())
            .collect();
        assert!(cases.len() > 20, "{cases:?}");
        for case in cases {
            assert!(
                macro_part.contains(&format!("            {case},\n")),
                "{case} is not in store_contract_tests!"
            );
        }
    }
}
