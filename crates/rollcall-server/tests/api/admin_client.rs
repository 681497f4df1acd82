//! The typed admin client (`rollcall_client::Admin`, SPEC §9) against the real server: every
//! method once, the server's refusals as typed errors, and a typed client recovering from a
//! fault added through it.

use std::collections::BTreeMap;

use rollcall_client::admin::{AdminError, FaultSpec, RateLimits, RequestFilter};
use rollcall_client::{Admin, GetAttendeeListRequest};
use serde_json::json;

use crate::helpers::*;

fn admin(app: &TestApp) -> Admin {
    Admin::new(&app.base, ADMIN_KEY).expect("admin client")
}

fn meeting_body() -> serde_json::Value {
    json!({
        "corpid": CORP, "agentid": AGENT, "meeting_type": 0, "title": "Typed",
        "meeting_start": NOW - DAY, "meeting_duration": 3600,
    })
}

#[tokio::test]
async fn clock_is_read_set_and_advanced() {
    let app = spawn_app().await;
    let admin = admin(&app);
    let c = admin.clock().await.expect("clock");
    assert_eq!((c.now, c.is_virtual), (NOW, true));
    assert_eq!(admin.set_clock(NOW + 10).await.expect("set").now, NOW + 10);
    assert_eq!(admin.advance_clock(5).await.expect("advance").now, NOW + 15);
    assert_eq!(admin.clock().await.expect("clock").now, NOW + 15);
    let e = admin.set_clock(0).await.expect_err("out of range");
    assert_eq!(e.status(), Some(400), "{e}");
}

#[tokio::test]
async fn a_fault_added_through_admin_is_retried_by_the_client_and_counted() {
    let app = spawn_app().await;
    let admin = admin(&app);
    let m = admin
        .create_meeting(&meeting_body())
        .await
        .expect("meeting");
    let fault = admin
        .add_fault(&FaultSpec {
            errcode: Some(-1),
            times: Some(1),
            ..FaultSpec::new("meeting/get_attendee_list")
        })
        .await
        .expect("fault");
    assert!(!fault.id.is_empty());
    assert_eq!(fault.spec.errcode, Some(-1));

    let page = app
        .client()
        .get_attendee_list(&GetAttendeeListRequest {
            meetingid: m.meetingid.clone(),
            ..Default::default()
        })
        .await
        .expect("the client retries -1");
    assert!(page.attendees.is_empty());

    let listed = admin.faults().await.expect("faults");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, fault.id);
    assert_eq!((listed[0].hits, listed[0].remaining), (1, Some(0)));

    // The journal saw the refused call and the retry.
    let calls = admin
        .requests(&RequestFilter {
            path: Some("meeting/get_attendee_list".into()),
            ..Default::default()
        })
        .await
        .expect("journal");
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].errcode, Some(0));
    assert_eq!(calls[1].errcode, Some(-1));
    assert_eq!(calls[1].fault.as_deref(), Some(fault.id.as_str()));
    let refused = admin
        .requests(&RequestFilter {
            errcode: Some(-1),
            limit: Some(5),
            ..Default::default()
        })
        .await
        .expect("journal");
    assert_eq!(refused.len(), 1);

    admin.delete_fault(&fault.id).await.expect("delete");
    let e = admin.delete_fault(&fault.id).await.expect_err("gone");
    match &e {
        AdminError::Http { status, reason } => {
            assert_eq!(*status, 404);
            assert!(reason.contains(&fault.id), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    admin
        .add_fault(&FaultSpec {
            latency_ms: Some(1),
            ..FaultSpec::new("*")
        })
        .await
        .expect("fault");
    admin.clear_faults().await.expect("clear");
    assert!(admin.faults().await.expect("faults").is_empty());
    let e = admin
        .add_fault(&FaultSpec::new("meeting/get_info"))
        .await
        .expect_err("no action");
    assert_eq!(e.status(), Some(400), "{e}");

    admin.clear_requests().await.expect("clear journal");
    let after = admin
        .requests(&RequestFilter::default())
        .await
        .expect("journal");
    assert!(
        after
            .iter()
            .all(|r| r.path != "/cgi-bin/meeting/get_attendee_list"),
        "{after:?}"
    );
    let e = admin
        .requests(&RequestFilter {
            path: Some("no/such/call".into()),
            ..Default::default()
        })
        .await
        .expect_err("unknown path");
    assert_eq!(e.status(), Some(400), "{e}");
}

#[tokio::test]
async fn rate_limits_are_read_and_replaced() {
    let app = spawn_app().await;
    let admin = admin(&app);
    let start = admin.rate_limits().await.expect("limits");
    assert_eq!(start.per_minute, 6000);
    let new = RateLimits {
        per_minute: 100,
        calls: BTreeMap::from([("meeting/get_attendee_list".to_owned(), 7)]),
    };
    assert_eq!(admin.set_rate_limits(&new).await.expect("put"), new);
    assert_eq!(admin.rate_limits().await.expect("limits"), new);
    let bad = RateLimits {
        per_minute: 0,
        calls: BTreeMap::new(),
    };
    let e = admin.set_rate_limits(&bad).await.expect_err("zero");
    assert_eq!(e.status(), Some(400), "{e}");
}

#[tokio::test]
async fn corps_meetings_snapshots_and_reset() {
    let app = spawn_app().await;
    let admin = admin(&app);
    let corpid = admin
        .put_corp(&json!({"corpid": CORP, "users": [{"userid": "frank", "departments": [2]}]}))
        .await
        .expect("corp");
    assert_eq!(corpid, CORP);
    let e = admin
        .put_corp(&json!({"corpid": CORP, "unknown_field": 1}))
        .await
        .expect_err("bad corp");
    assert_eq!(e.status(), Some(400), "{e}");

    let m = admin
        .create_meeting(&meeting_body())
        .await
        .expect("meeting");
    assert!(!m.meetingid.is_empty() && !m.meeting_code.is_empty());
    assert!(m.sub_meetings.is_empty());
    let mut recurring = meeting_body();
    recurring["meeting_type"] = json!(1);
    recurring["sub_meetings"] = json!([
        {"start_time": NOW - DAY, "end_time": NOW - DAY + 600},
        {"start_time": NOW + DAY, "end_time": NOW + DAY + 600},
    ]);
    let r = admin.create_meeting(&recurring).await.expect("recurring");
    assert_eq!(r.sub_meetings.len(), 2);
    assert_eq!(r.sub_meetings[1].start_time, NOW + DAY);

    let saved = admin.save_snapshot("two-meetings").await.expect("save");
    assert_eq!((saved.name.as_str(), saved.meetings), ("two-meetings", 2));
    assert_eq!(saved.created_at, NOW);
    let all = admin.snapshots().await.expect("list");
    assert_eq!(all, vec![saved.clone()]);

    admin.advance_clock(60).await.expect("advance");
    admin.reset().await.expect("reset");
    assert_eq!(admin.clock().await.expect("clock").now, NOW);
    let e = app
        .client()
        .get_meeting_info(&m.meetingid, None)
        .await
        .expect_err("gone after reset");
    assert!(matches!(e, rollcall_client::Error::Api { .. }), "{e}");

    let restored = admin
        .restore_snapshot("two-meetings")
        .await
        .expect("restore");
    assert_eq!(restored, saved);
    let info = app
        .client()
        .get_meeting_info(&m.meetingid, None)
        .await
        .expect("back after restore");
    assert_eq!(info.title, "Typed");

    admin.delete_snapshot("two-meetings").await.expect("delete");
    assert!(admin.snapshots().await.expect("list").is_empty());
    let e = admin
        .delete_snapshot("two-meetings")
        .await
        .expect_err("gone");
    assert_eq!(e.status(), Some(404), "{e}");
    let e = admin
        .restore_snapshot("two-meetings")
        .await
        .expect_err("gone");
    assert_eq!(e.status(), Some(404), "{e}");
    let e = admin
        .save_snapshot("bad name!")
        .await
        .expect_err("bad name");
    match e {
        AdminError::Http { status, reason } => {
            assert_eq!(status, 400);
            assert!(!reason.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_key_and_a_dead_server_are_typed_errors() {
    let app = spawn_app().await;
    let wrong = Admin::new(&app.base, "not-the-key").expect("admin");
    let e = wrong.clock().await.expect_err("wrong key");
    match e {
        AdminError::Http { status, reason } => {
            assert_eq!(status, 401);
            assert!(reason.contains("bearer"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let base = app.base.clone();
    app.stop().await;
    let e = Admin::new(&base, ADMIN_KEY)
        .expect("admin")
        .reset()
        .await
        .expect_err("stopped");
    assert!(matches!(e, AdminError::Transport(_)), "{e}");
}
