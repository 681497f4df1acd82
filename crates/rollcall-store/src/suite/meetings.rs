//! Contract cases: meetings (keys, details, by code, update, cancel), a member's meetings
//! by span, and presence per sub-meeting.

use std::collections::BTreeSet;
use std::sync::Arc;

use rollcall_core::model::{
    AppRef, Meeting, MeetingDetails, MeetingType, MeetingUpdate, SubMeeting, UserMeetingScan,
};
use rollcall_core::schedule::Presence;
use serde_json::json;

use super::fixtures::*;
use crate::{Store, StoreError};

pub(super) async fn create_meeting_assigns_keys(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", 1000002);
    let one = new_meeting("m-one", &owner, MeetingType::OneOff, 0);
    let rec = new_meeting("m-rec", &owner, MeetingType::Recurring, 3);
    let web = new_meeting("m-web", &owner, MeetingType::Webinar, 0);
    let mut made = Vec::new();
    for nm in [&one, &rec, &web] {
        let m = store.create_meeting(nm, &[]).await.expect("create_meeting");
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

pub(super) async fn create_meeting_refuses_a_taken_meetingid(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", 1000002);
    let first = store
        .create_meeting(&new_meeting("m-1", &owner, MeetingType::Recurring, 2), &[])
        .await
        .expect("create");
    let mut again = new_meeting("m-1", &app_ref("wwcorp", 1000003), MeetingType::OneOff, 0);
    again.title = "impostor".into();
    match store.create_meeting(&again, &[]).await {
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

pub(super) async fn meetings_of_lists_an_apps_meetings_newest_first(store: Arc<dyn Store>) {
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
                .create_meeting(&new_meeting(id, &a, kind, 2 * (i % 2)), &[])
                .await
                .expect("create"),
        );
        store
            .create_meeting(&new_meeting(&format!("other-{id}"), &b, kind, 0), &[])
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

pub(super) async fn create_meeting_keeps_details(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", 1000002);
    let mut nm = new_meeting("m-1", &owner, MeetingType::Recurring, 2);
    nm.details = details(&["lisi", "wangwu"]);
    let m = store.create_meeting(&nm, &[]).await.expect("create");
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

pub(super) async fn owned_meeting_finds_only_the_apps_own(store: Arc<dyn Store>) {
    let a = app_ref("wwcorp", 1000002);
    let same_agent_other_corp = app_ref("wwother", 1000002);
    let same_corp_other_agent = app_ref("wwcorp", 1000003);
    let m = store
        .create_meeting(&new_meeting("m-own", &a, MeetingType::Recurring, 2), &[])
        .await
        .expect("create");
    let owned = |app: AppRef, id: &'static str| {
        let store = Arc::clone(&store);
        async move { store.owned_meeting(&app, id).await.expect("owned_meeting") }
    };
    assert_eq!(
        owned(a.clone(), "m-own").await,
        Some(m.clone()),
        "as meeting()"
    );
    assert_eq!(store.meeting("m-own").await.expect("meeting"), Some(m));
    assert_eq!(owned(same_agent_other_corp, "m-own").await, None);
    assert_eq!(owned(same_corp_other_agent, "m-own").await, None);
    assert_eq!(owned(a, "m-none").await, None);
}

pub(super) async fn meetingid_by_code_finds_the_apps_newest(store: Arc<dyn Store>) {
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
        store.create_meeting(&nm, &[]).await.expect("create");
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

pub(super) async fn update_meeting_replaces_the_changeable_parts(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", 1000002);
    let m = store
        .create_meeting(&new_meeting("m-1", &owner, MeetingType::Recurring, 3), &[])
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
    assert!(store.update_meeting(&up, &[]).await.expect("update"));
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
    assert!(store.update_meeting(&one, &[]).await.expect("update"));
    let got = store.meeting("m-1").await.expect("meeting").expect("found");
    assert_eq!(got.meeting_type, MeetingType::OneOff);
    assert!(got.sub_meetings.is_empty());
    // Unknown keys change nothing.
    let ghost = MeetingUpdate {
        key: k + 1_000_000,
        ..up
    };
    assert!(!store.update_meeting(&ghost, &[]).await.expect("update"));
    assert_eq!(store.meeting("m-1").await.expect("meeting"), Some(got));
}

pub(super) async fn cancel_meeting_is_final_and_keeps_sessions(store: Arc<dyn Store>) {
    let m = meeting(&*store, "m-1").await;
    let other = meeting(&*store, "m-2").await;
    ingest_ok(&*store, &[join(m.key, "e-1", "s-1", T0)]).await;
    assert!(store.cancel_meeting(m.key, &[]).await.expect("cancel"));
    assert!(
        !store.cancel_meeting(m.key, &[]).await.expect("again"),
        "already cancelled"
    );
    assert!(!store
        .cancel_meeting(m.key + 1_000_000, &[])
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
    assert!(!store.update_meeting(&up, &[]).await.expect("update"));
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
    store.create_meeting(&nm, &[]).await.expect("create")
}

pub(super) async fn user_meetings_lists_admin_and_invitees_by_span(store: Arc<dyn Store>) {
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

pub(super) async fn user_meetings_pages_by_keyset_and_follows_updates(store: Arc<dyn Store>) {
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
    assert!(store.update_meeting(&up, &[]).await.expect("update"));
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
    assert!(store.cancel_meeting(m.key, &[]).await.expect("cancel"));
    assert_eq!(
        user_page(&*store, &user_scan(&a, "wangwu", i64::MIN, i64::MAX)).await,
        std::slice::from_ref(&m.meetingid)
    );
}

pub(super) async fn presence_reports_each_sub_meeting(store: Arc<dyn Store>) {
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
        .create_meeting(
            &new_meeting("m-rec", &owner, MeetingType::Recurring, 3),
            &[],
        )
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

pub(super) async fn ping_and_last_seq_of_unknown_meetings(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
    for key in [0, -1, 123_456_789, i64::MIN, i64::MAX] {
        assert_eq!(store.last_seq(key).await.expect("last_seq"), 0);
        assert!(all(&*store, key, 0).await.is_empty());
    }
    let m = meeting(&*store, "m-1").await;
    assert_eq!(store.last_seq(m.key).await.expect("last_seq"), 0);
    assert!(all(&*store, m.key, 0).await.is_empty());
}
