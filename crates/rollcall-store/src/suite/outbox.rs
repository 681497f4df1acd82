//! Contract cases: the callback outbox (SPEC §11). Deliveries are written with the change
//! that causes them and only when it happens; ingest writes presence transitions for apps
//! with a callback target; reset and snapshots treat the outbox as state. Claims, outcomes,
//! the history bound and concurrent claimers are in `claims`, which shares the helpers
//! here.

use std::sync::Arc;

use rollcall_core::model::{MeetingType, MeetingUpdate};
use rollcall_core::outbox::{AttemptOutcome, Delivery, DeliveryState, NewDelivery};

use super::callbacks::target;
use super::fixtures::*;
use crate::{Store, StoreError};

/// The app `fixtures::meeting` creates meetings for.
pub(super) const AGENT: u32 = 1000002;

pub(super) fn cb(meetingid: &str, change: &str, create_time: i64) -> NewDelivery {
    NewDelivery {
        corpid: "wwcorp".into(),
        agentid: AGENT,
        meetingid: meetingid.into(),
        change_type: change.into(),
        from_user: "zhangsan".into(),
        create_time,
    }
}

/// Every delivery, oldest first.
pub(super) async fn all_deliveries(store: &dyn Store) -> Vec<Delivery> {
    let mut d = store.deliveries(u32::MAX).await.expect("deliveries");
    d.reverse();
    d
}

pub(super) fn events(d: &[Delivery]) -> Vec<(String, String)> {
    d.iter()
        .map(|d| (d.event.meetingid.clone(), d.event.change_type.clone()))
        .collect()
}

pub(super) fn pair(meetingid: &str, change: &str) -> (String, String) {
    (meetingid.to_owned(), change.to_owned())
}

/// The wwcorp directory, with app `AGENT` given a callback target when `with_target`.
pub(super) async fn directory(store: &dyn Store, with_target: bool) {
    let mut c = corp("wwcorp");
    if with_target {
        let app = c.apps.iter_mut().find(|a| a.agentid == AGENT).expect("app");
        app.callback = Some(target(AGENT, 1));
    }
    store.put_corp(&c).await.expect("put_corp");
}

pub(super) fn update_of(m: &rollcall_core::model::Meeting, title: &str) -> MeetingUpdate {
    MeetingUpdate {
        key: m.key,
        meeting_type: m.meeting_type,
        title: title.into(),
        meeting_start: m.meeting_start,
        meeting_duration: m.meeting_duration,
        details: m.details.clone(),
        sub_meetings: m.sub_meetings.clone(),
    }
}

pub(super) async fn meeting_changes_write_callbacks_only_when_they_happen(store: Arc<dyn Store>) {
    let owner = app_ref("wwcorp", AGENT);
    let nm = new_meeting("m-1", &owner, MeetingType::OneOff, 0);
    let created = cb("m-1", "create_meeting", T0);
    let m = store
        .create_meeting(&nm, std::slice::from_ref(&created))
        .await
        .expect("create");
    let got = all_deliveries(&*store).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let d = &got[0];
    assert_eq!(d.event, created, "the event round trips");
    assert_eq!(d.state, DeliveryState::Pending);
    assert_eq!((d.attempts, d.next_attempt_at_ms), (0, 0), "due at once");
    assert_eq!(
        (d.last_status, &d.last_error, d.finished_at),
        (None, &None, None)
    );

    // A taken meetingid: the creation fails and its events are rolled back with it.
    let again = store
        .create_meeting(&nm, &[cb("m-1", "create_meeting", T0 + 1)])
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    // No meeting with that key, a cancelled one: nothing changes, nothing is written.
    let mut ghost = update_of(&m, "ghost");
    ghost.key = m.key + 1_000_000;
    assert!(!store
        .update_meeting(&ghost, &[cb("m-1", "modify_meeting", T0 + 2)])
        .await
        .expect("update"));
    assert!(!store
        .cancel_meeting(m.key + 1_000_000, &[cb("m-1", "cancel_meeting", T0 + 3)])
        .await
        .expect("cancel"));
    assert_eq!(all_deliveries(&*store).await.len(), 1);

    // Changes that happen write theirs, in order, several per change if given.
    assert!(store
        .update_meeting(
            &update_of(&m, "renamed"),
            &[cb("m-1", "modify_meeting", T0 + 4), cb("m-1", "x", T0 + 4)]
        )
        .await
        .expect("update"));
    assert!(store
        .cancel_meeting(m.key, &[cb("m-1", "cancel_meeting", T0 + 5)])
        .await
        .expect("cancel"));
    // Cancelled: a second cancel and an update change nothing and write nothing.
    assert!(!store
        .cancel_meeting(m.key, &[cb("m-1", "cancel_meeting", T0 + 6)])
        .await
        .expect("cancel"));
    assert!(!store
        .update_meeting(
            &update_of(&m, "late"),
            &[cb("m-1", "modify_meeting", T0 + 7)]
        )
        .await
        .expect("update"));
    // An empty slice writes nothing.
    store
        .create_meeting(&new_meeting("m-2", &owner, MeetingType::OneOff, 0), &[])
        .await
        .expect("create");
    let got = all_deliveries(&*store).await;
    assert_eq!(
        events(&got),
        [
            pair("m-1", "create_meeting"),
            pair("m-1", "modify_meeting"),
            pair("m-1", "x"),
            pair("m-1", "cancel_meeting"),
        ]
    );
    assert!(got.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    let newest = store.deliveries(2).await.expect("deliveries");
    assert_eq!(
        newest.iter().map(|d| d.id).collect::<Vec<_>>(),
        [got[3].id, got[2].id],
        "newest first, limited"
    );
}

pub(super) async fn ingest_writes_presence_transitions_for_apps_with_a_target(
    store: Arc<dyn Store>,
) {
    directory(&*store, true).await;
    let m = meeting(&*store, "m-1").await;
    // Another app's meeting: that app has no target, so its transitions are not written.
    let quiet = store
        .create_meeting(
            &new_meeting("m-q", &app_ref("wwcorp", 1000003), MeetingType::OneOff, 0),
            &[],
        )
        .await
        .expect("create");
    ingest_ok(
        &*store,
        &[
            join(quiet.key, "q-1", "qs", T0),
            join(m.key, "e-1", "a", T0 + 10),
            join(m.key, "e-2", "b", T0 + 20),
        ],
    )
    .await;
    let got = all_deliveries(&*store).await;
    assert_eq!(events(&got), [pair("m-1", "meeting_start")]);
    let start = &got[0].event;
    assert_eq!(
        (
            start.corpid.as_str(),
            start.agentid,
            start.from_user.as_str()
        ),
        ("wwcorp", AGENT, "sys")
    );
    assert_eq!(start.create_time, T0 + 10, "the join's at");

    // Duplicates and refusals change no presence; one quit of two ends nothing.
    let out = ingest(
        &*store,
        &[
            join(m.key, "e-1", "a", T0 + 10),
            join(m.key, "e-3", "a", T0 + 30),
            quit(m.key, "e-4", "a", T0 + 40),
        ],
    )
    .await;
    assert_eq!(out[0], crate::Outcome::Duplicate);
    assert!(is_rejected(&out[1], "already"), "{out:?}");
    assert_eq!(all_deliveries(&*store).await.len(), 1);

    // The last quit ends it at its own time; a join and quit in one batch start and end.
    ingest_ok(
        &*store,
        &[
            quit(m.key, "e-5", "b", T0 + 50),
            join(m.key, "e-6", "c", T0 + 60),
            quit(m.key, "e-7", "c", T0 + 70),
            quit(quiet.key, "q-2", "qs", T0 + 70),
        ],
    )
    .await;
    let got = all_deliveries(&*store).await;
    assert_eq!(
        events(&got),
        [
            pair("m-1", "meeting_start"),
            pair("m-1", "meeting_end"),
            pair("m-1", "meeting_start"),
            pair("m-1", "meeting_end"),
        ]
    );
    assert_eq!(
        got.iter().map(|d| d.event.create_time).collect::<Vec<_>>(),
        [T0 + 10, T0 + 50, T0 + 60, T0 + 70]
    );

    // Once the target is gone, transitions are no longer written.
    directory(&*store, false).await;
    ingest_ok(&*store, &[join(m.key, "e-8", "d", T0 + 80)]).await;
    assert_eq!(all_deliveries(&*store).await.len(), 4);
    // And with it back, the state is read from the sessions, not remembered: d is open.
    directory(&*store, true).await;
    ingest_ok(
        &*store,
        &[
            join(m.key, "e-9", "e", T0 + 90),
            quit(m.key, "e-10", "e", T0 + 95),
        ],
    )
    .await;
    assert_eq!(all_deliveries(&*store).await.len(), 4, "d keeps it open");
    ingest_ok(&*store, &[quit(m.key, "e-11", "d", T0 + 99)]).await;
    let got = all_deliveries(&*store).await;
    assert_eq!(events(&got[4..]), [pair("m-1", "meeting_end")]);
}

pub(super) async fn presence_transitions_follow_each_sub_meeting(store: Arc<dyn Store>) {
    directory(&*store, true).await;
    let owner = app_ref("wwcorp", AGENT);
    let m = store
        .create_meeting(
            &new_meeting("m-rec", &owner, MeetingType::Recurring, 2),
            &[],
        )
        .await
        .expect("create");
    let (s1, s2) = (m.sub_meetings[0].key, m.sub_meetings[1].key);
    ingest_ok(
        &*store,
        &[
            join_sub(m.key, s1, "e-1", "a", T0),
            join_sub(m.key, s2, "e-2", "b", T0 + 5),
            quit(m.key, "e-3", "a", T0 + 10),
        ],
    )
    .await;
    let got = all_deliveries(&*store).await;
    assert_eq!(
        events(&got),
        [
            pair("m-rec", "meeting_start"),
            pair("m-rec", "meeting_start"),
            pair("m-rec", "meeting_end"),
        ],
        "each sub-meeting starts; the first ends while the second goes on"
    );
    assert_eq!(
        got.iter().map(|d| d.event.create_time).collect::<Vec<_>>(),
        [T0, T0 + 5, T0 + 10]
    );
}

/// Deliveries `(meetingid, change)` for the given meetings, in that order, in one creation.
pub(super) async fn queue(store: &dyn Store, items: &[(&str, &str)]) -> Vec<i64> {
    let owner = app_ref("wwcorp", AGENT);
    let mut ids = Vec::new();
    for (i, (meetingid, change)) in items.iter().enumerate() {
        if store.meeting(meetingid).await.expect("meeting").is_none() {
            store
                .create_meeting(&new_meeting(meetingid, &owner, MeetingType::OneOff, 0), &[])
                .await
                .expect("create");
        }
        let m = store
            .meeting(meetingid)
            .await
            .expect("meeting")
            .expect("found");
        let event = cb(meetingid, change, T0 + i as i64);
        assert!(store
            .update_meeting(&update_of(&m, change), &[event])
            .await
            .expect("update"));
        ids.push(all_deliveries(store).await.last().expect("written").id);
    }
    ids
}

pub(super) fn ids(d: &[Delivery]) -> Vec<i64> {
    d.iter().map(|d| d.id).collect()
}

pub(super) const NOW: i64 = T0 * 1000;
pub(super) const LEASE: i64 = 30_000;

pub(super) async fn reset_and_snapshots_treat_the_outbox_as_state(store: Arc<dyn Store>) {
    let q = queue(&*store, &[("m-a", "a1"), ("m-b", "b1")]).await;
    store.claim_deliveries(NOW, LEASE, 10).await.expect("claim");
    store
        .finish_delivery(q[0], 1, &AttemptOutcome::Delivered { status: 200 }, T0)
        .await
        .expect("finish");
    let saved = all_deliveries(&*store).await;
    store.save_snapshot("outbox", T0).await.expect("save");
    let a2 = queue(&*store, &[("m-a", "a2")]).await[0];
    store
        .finish_delivery(q[1], 1, &AttemptOutcome::Delivered { status: 200 }, T0)
        .await
        .expect("finish");
    store.restore_snapshot("outbox").await.expect("restore");
    assert_eq!(all_deliveries(&*store).await, saved, "as saved");
    // b1 comes back pending (and leased as it was: the lease passes as before).
    assert_eq!(
        ids(&store
            .claim_deliveries(NOW + LEASE, LEASE, 10)
            .await
            .expect("claim")),
        [q[1]]
    );
    // New deliveries after a restore never reuse an id, not even one the restore removed
    // (a delivery loop may still be finishing it).
    let next = queue(&*store, &[("m-c", "c1")]).await;
    assert!(next[0] > a2, "{next:?} after {a2}");

    store.reset().await.expect("reset");
    assert!(all_deliveries(&*store).await.is_empty());
    // A late finish of a row claimed before the reset must not land on a new row.
    store
        .create_meeting(
            &new_meeting("m-d", &app_ref("wwcorp", AGENT), MeetingType::OneOff, 0),
            &[cb("m-d", "d1", T0)],
        )
        .await
        .expect("create");
    let fresh = all_deliveries(&*store).await;
    assert!(
        fresh[0].id > next[0],
        "ids only grow: {} after {}",
        fresh[0].id,
        next[0]
    );
    store.reset().await.expect("reset");
    assert!(store
        .claim_deliveries(NOW + 100 * LEASE, LEASE, 10)
        .await
        .expect("claim")
        .is_empty());
}
