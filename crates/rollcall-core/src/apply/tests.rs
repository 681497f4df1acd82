//! The decisions of [`apply_batch`], case by case, and a check that a batch decides exactly
//! what its events decided one batch at a time.

use super::*;
use crate::ingest::{Event, Join, StatePatch};
use crate::model::Participant;

const M: i64 = 7;

fn ev(id: &str, session: &str, at: i64, kind: EventKind) -> ResolvedEvent {
    ResolvedEvent {
        meeting_key: M,
        sub_key: 0,
        event: Event {
            event_id: id.into(),
            meetingid: "hy-m".into(),
            sub_meetingid: None,
            session: session.into(),
            at,
            kind,
        },
    }
}

fn join(id: &str, session: &str, at: i64) -> ResolvedEvent {
    ev(
        id,
        session,
        at,
        EventKind::Join(Join {
            participant: Participant::Member("bob".into()),
            instance_id: 1,
            role: 0,
            webinar_role: 0,
            join_type: 1,
            net: Some("WIFI".into()),
            audio_state: true,
            video_state: false,
            screen_shared_state: false,
            customer_data: None,
        }),
    )
}

fn quit(id: &str, session: &str, at: i64) -> ResolvedEvent {
    ev(id, session, at, EventKind::Quit)
}

fn video(id: &str, session: &str, at: i64, on: bool) -> ResolvedEvent {
    ev(
        id,
        session,
        at,
        EventKind::State(StatePatch {
            video_state: Some(on),
            ..Default::default()
        }),
    )
}

/// What a store holding `state` for meeting `M` loads for `events`, as a backend would:
/// exactly the keys [`needs`] names.
fn load(state: &MeetingState, events: &[ResolvedEvent]) -> Loaded {
    let needs = needs(events, |k| k == M);
    let mut m = MeetingState::new(state.last_seq);
    for (_, id) in needs.event_ids {
        if state.applied.contains(id) {
            m.applied.insert(id.to_owned());
        }
    }
    for (_, s) in needs.sessions {
        if let Some(row) = state.sessions.get(s) {
            m.sessions.insert(s.to_owned(), row.clone());
        }
    }
    for (_, s) in needs.joins {
        if let Some(p) = state.pending.get(s) {
            m.pending.insert(s.to_owned(), p.clone());
        }
    }
    m.open = Some(open_counts(state));
    HashMap::from([(M, m)])
}

/// Open sessions per sub-meeting of a stored state, as a backend counts them.
fn open_counts(state: &MeetingState) -> HashMap<i64, u64> {
    let mut open = HashMap::new();
    for row in state.sessions.values().filter(|r| r.quit_time.is_none()) {
        *open.entry(row.sub_key).or_insert(0) += 1;
    }
    open
}

/// Perform `writes` on `state`, as a backend would.
fn write(state: &mut MeetingState, w: &Writes<'_>) {
    for (_, id) in &w.applied {
        assert!(state.applied.insert((*id).to_owned()), "recorded twice");
    }
    for (_, row) in &w.inserted {
        let old = state.sessions.insert(row.session_key.clone(), row.clone());
        assert!(old.is_none(), "inserted over a stored session");
    }
    for (_, row) in &w.updated {
        let old = state.sessions.insert(row.session_key.clone(), row.clone());
        assert!(old.is_some(), "updated a session that is not stored");
    }
    for (_, s) in &w.consumed {
        assert!(state.pending.remove(s).is_some(), "consumed nothing");
    }
    for (_, s, p) in &w.parked {
        state.pending.entry(s.clone()).or_default().push(p.clone());
    }
    for (_, last) in &w.last_seq {
        state.last_seq = *last;
    }
}

/// Run one batch against `state` (load, decide, write); its outcomes and writes. The events
/// are leaked so a test can write its batch inline and still read the writes borrowing it.
fn run(state: &mut MeetingState, events: &[ResolvedEvent]) -> Applied<'static> {
    let events: &'static [ResolvedEvent] = Vec::leak(events.to_vec());
    let applied = apply_batch(events, load(state, events));
    assert_eq!(applied.outcomes.len(), events.len());
    write(state, &applied.writes);
    applied
}

fn rejected(reason: RejectReason) -> Outcome {
    Outcome::Rejected(reason)
}

#[test]
fn an_unknown_meeting_is_refused_and_nothing_is_read_for_it() {
    let mut other = join("e-1", "s", 100);
    other.meeting_key = 99;
    let events = [other, join("e-2", "s", 100)];
    let n = needs(&events, |k| k == M);
    assert_eq!(n.event_ids, [(M, "e-2")]);
    assert_eq!(
        (n.sessions.as_slice(), n.joins.as_slice()),
        (&[(M, "s")][..], &[(M, "s")][..])
    );
    let mut state = MeetingState::new(0);
    let a = run(&mut state, &events);
    assert_eq!(
        a.outcomes,
        [rejected(RejectReason::UnknownMeeting), Outcome::Accepted]
    );
    assert_eq!(a.writes.applied, [(M, "e-2")]);
    assert!(a.writes.inserted.iter().all(|(k, _)| *k == M));
}

#[test]
fn meeting_keys_are_distinct_and_ascending() {
    let mut a = join("a", "s", 1);
    a.meeting_key = 9;
    let mut b = join("b", "s", 1);
    b.meeting_key = 3;
    assert_eq!(meeting_keys(&[a.clone(), b, a]), [3, 9]);
    assert!(needs(&[], |_| true).is_empty());
}

#[test]
fn first_joins_are_the_sessions_a_batch_names_first_in_a_join() {
    let events = [
        quit("e-1", "early", 150),
        join("e-2", "early", 100),
        join("e-3", "fresh", 100),
        quit("e-4", "fresh", 200),
        join("e-5", "fresh", 300),
    ];
    let n = needs(&events, |k| k == M);
    assert_eq!(n.sessions, [(M, "early"), (M, "fresh")]);
    assert_eq!(n.first_joins, HashSet::from([(M, "fresh")]));
}

#[test]
fn a_join_takes_the_next_seq_and_is_written_once_in_its_final_state() {
    let mut state = MeetingState::new(41);
    let events = [
        join("e-1", "a", 100),
        join("e-2", "b", 90),
        video("e-3", "a", 110, true),
        quit("e-4", "a", 150),
    ];
    let a = run(&mut state, &events);
    assert!(a.outcomes.iter().all(|o| *o == Outcome::Accepted));
    let w = &a.writes;
    assert_eq!(w.last_seq, [(M, 43)]);
    assert_eq!(w.inserted.len(), 2);
    let (_, first) = &w.inserted[0];
    assert_eq!((first.session_key.as_str(), first.seq), ("a", 42));
    assert_eq!((first.video_state, first.quit_time), (true, Some(150)));
    assert_eq!(w.inserted[1].1.seq, 43);
    assert!(
        w.updated.is_empty(),
        "joined in the batch: inserted, not updated"
    );
    assert_eq!(state.last_seq, 43);
}

#[test]
fn a_duplicate_in_the_store_changes_nothing() {
    let mut state = MeetingState::new(0);
    let events = [join("e-1", "a", 100), video("e-2", "a", 110, true)];
    run(&mut state, &events);
    let before = state.clone();
    let a = run(&mut state, &events);
    assert_eq!(a.outcomes, [Outcome::Duplicate, Outcome::Duplicate]);
    assert_eq!(a.writes, Writes::default());
    assert!(a.writes.is_empty());
    assert_eq!(state, before);
}

#[test]
fn a_duplicate_within_the_batch_changes_nothing() {
    let mut state = MeetingState::new(0);
    let again = join("e-1", "b", 200);
    let events = [
        join("e-1", "a", 100),
        again,
        quit("e-2", "a", 150),
        quit("e-2", "a", 160),
    ];
    let a = run(&mut state, &events);
    assert_eq!(
        a.outcomes,
        [
            Outcome::Accepted,
            Outcome::Duplicate,
            Outcome::Accepted,
            Outcome::Duplicate
        ]
    );
    assert_eq!(a.writes.applied, [(M, "e-1"), (M, "e-2")]);
    assert_eq!(a.writes.inserted.len(), 1);
    assert_eq!(state.sessions["a"].quit_time, Some(150));
    assert!(!state.sessions.contains_key("b"));
}

#[test]
fn a_refused_event_is_not_recorded_so_its_correction_applies() {
    let mut state = MeetingState::new(0);
    run(&mut state, &[join("e-1", "a", 100)]);
    let a = run(&mut state, &[quit("q", "a", 90)]);
    assert_eq!(
        a.outcomes,
        [rejected(RejectReason::QuitBeforeJoin {
            at: 90,
            join_time: 100
        })]
    );
    assert!(a.writes.is_empty());
    assert_eq!(a.writes, Writes::default());
    // Refused then corrected within one batch, too.
    let mut state2 = state.clone();
    let a = run(&mut state2, &[quit("q", "a", 80), quit("q", "a", 120)]);
    assert_eq!(a.outcomes[1], Outcome::Accepted);
    assert_eq!(state2.sessions["a"].quit_time, Some(120));
    // The same correction in its own batch.
    let a = run(&mut state, &[quit("q", "a", 120)]);
    assert_eq!(a.outcomes, [Outcome::Accepted]);
    assert_eq!(state, state2);
}

#[test]
fn joining_twice_is_refused_in_the_store_and_in_the_batch() {
    let mut state = MeetingState::new(0);
    let a = run(&mut state, &[join("e-1", "a", 100), join("e-2", "a", 101)]);
    let twice = rejected(RejectReason::AlreadyJoined {
        session: "a".into(),
    });
    assert_eq!(a.outcomes, [Outcome::Accepted, twice.clone()]);
    assert_eq!(a.writes.last_seq, [(M, 1)], "a refused join takes no seq");
    let a = run(&mut state, &[join("e-3", "a", 102)]);
    assert_eq!(a.outcomes, [twice]);
    assert!(a.writes.is_empty() && a.writes.last_seq.is_empty());
    assert_eq!(
        match &a.outcomes[0] {
            Outcome::Rejected(r) => r.to_string(),
            _ => String::new(),
        },
        "session \"a\" already joined"
    );
}

#[test]
fn quitting_twice_is_refused() {
    let mut state = MeetingState::new(0);
    let a = run(
        &mut state,
        &[
            join("e-1", "a", 100),
            quit("e-2", "a", 110),
            quit("e-3", "a", 120),
        ],
    );
    assert_eq!(
        a.outcomes[2],
        rejected(RejectReason::AlreadyQuit {
            session: "a".into()
        })
    );
    assert_eq!(state.sessions["a"].quit_time, Some(110));
}

#[test]
fn a_quit_before_its_join_is_parked_then_applied() {
    let mut state = MeetingState::new(0);
    let a = run(&mut state, &[quit("q", "a", 150)]);
    assert_eq!(a.outcomes, [Outcome::Accepted], "acknowledged while parked");
    assert_eq!(
        a.writes.parked,
        [(M, "a".to_string(), Pending::Quit { at: 150 })]
    );
    assert!(a.writes.inserted.is_empty() && a.writes.last_seq.is_empty());
    assert!(state.sessions.is_empty(), "not listed before its join");

    let a = run(&mut state, &[join("j", "a", 100)]);
    assert_eq!(a.outcomes, [Outcome::Accepted]);
    assert_eq!(a.writes.consumed, [(M, "a".to_string())]);
    assert!(a.writes.parked.is_empty());
    assert_eq!(state.sessions["a"].quit_time, Some(150));
    assert!(state.pending.is_empty());
}

#[test]
fn an_early_quit_is_clamped_to_the_join() {
    let mut state = MeetingState::new(0);
    run(&mut state, &[quit("q", "a", 90)]);
    run(&mut state, &[join("j", "a", 100)]);
    assert_eq!(state.sessions["a"].quit_time, Some(100));
    // Parked and joined within one batch: the same.
    let mut state = MeetingState::new(0);
    let a = run(&mut state, &[quit("q", "a", 90), join("j", "a", 100)]);
    assert_eq!(a.outcomes, [Outcome::Accepted, Outcome::Accepted]);
    assert!(a.writes.parked.is_empty() && a.writes.consumed.is_empty());
    assert_eq!(state.sessions["a"].quit_time, Some(100));
}

#[test]
fn state_changes_before_the_join_apply_in_time_order() {
    let mut state = MeetingState::new(0);
    // Arrival order is not time order: the later state wins whatever arrives last.
    run(&mut state, &[video("s-2", "a", 130, true)]);
    run(&mut state, &[video("s-1", "a", 120, false)]);
    assert_eq!(state.pending["a"].len(), 2);
    // One more parked in the batch that joins: stored and fresh ones apply together.
    let a = run(
        &mut state,
        &[
            ev(
                "s-3",
                "a",
                125,
                EventKind::State(StatePatch {
                    net: Some("4G".into()),
                    ..Default::default()
                }),
            ),
            join("j", "a", 100),
        ],
    );
    assert_eq!(a.writes.consumed, [(M, "a".to_string())]);
    assert!(a.writes.parked.is_empty());
    let row = &state.sessions["a"];
    assert!(row.video_state);
    assert_eq!((row.net.as_deref(), row.state_at), (Some("4G"), 130));
}

#[test]
fn parked_events_keep_their_arrival_order() {
    let mut state = MeetingState::new(0);
    let a = run(
        &mut state,
        &[
            video("1", "b", 130, true),
            quit("2", "a", 150),
            video("3", "b", 120, false),
        ],
    );
    let parked: Vec<(&str, i64)> = a
        .writes
        .parked
        .iter()
        .map(|(_, s, p)| (s.as_str(), p.at()))
        .collect();
    assert_eq!(parked, [("a", 150), ("b", 130), ("b", 120)]);
}

#[test]
fn a_stored_session_is_rewritten_only_when_an_event_changed_it() {
    let mut state = MeetingState::new(0);
    run(
        &mut state,
        &[join("j", "a", 100), video("v-0", "a", 110, true)],
    );
    // Older than what is known: accepted, nothing to write but its record.
    let a = run(&mut state, &[video("v-1", "a", 105, false)]);
    assert_eq!(a.outcomes, [Outcome::Accepted]);
    assert!(a.writes.updated.is_empty());
    assert_eq!(a.writes.applied, [(M, "v-1")]);
    // The same value at the same time: nothing to write.
    let a = run(&mut state, &[video("v-2", "a", 110, true)]);
    assert!(a.writes.updated.is_empty());
    // A change, then a change back, is still a change (`state_at` moved).
    let a = run(
        &mut state,
        &[video("v-3", "a", 111, false), video("v-4", "a", 112, true)],
    );
    assert_eq!(a.writes.updated.len(), 1);
    let (_, row) = &a.writes.updated[0];
    assert_eq!((row.video_state, row.state_at), (true, 112));
    // A quit always changes the row.
    let a = run(&mut state, &[quit("q", "a", 200)]);
    assert_eq!(a.writes.updated[0].1.quit_time, Some(200));
    // A refused quit does not.
    let a = run(&mut state, &[quit("q-2", "a", 300)]);
    assert!(matches!(a.outcomes[0], Outcome::Rejected(_)));
    assert!(a.writes.updated.is_empty());
}

#[test]
fn a_batch_decides_what_its_events_decide_one_by_one() {
    // A mix of every case, including the same event ids and sessions repeated.
    let events = vec![
        quit("q-c", "c", 400),
        video("v-a0", "a", 95, true),
        join("j-a", "a", 100),
        join("j-b", "b", 105),
        video("v-a1", "a", 120, false),
        join("j-a2", "a", 130),
        quit("q-b", "b", 104),
        quit("q-b", "b", 140),
        video("v-c", "c", 300, true),
        quit("q-a", "a", 150),
        quit("q-a", "a", 150),
        join("j-c", "c", 200),
        quit("q-c2", "c", 410),
        join("j-d", "d", 500),
    ];
    let mut whole = MeetingState::new(10);
    let together = run(&mut whole, &events);
    let mut single = MeetingState::new(10);
    let mut one_by_one = Vec::new();
    let mut transitions = Vec::new();
    for e in &events {
        let a = run(&mut single, std::slice::from_ref(e));
        one_by_one.extend(a.outcomes);
        transitions.extend(a.writes.transitions);
    }
    assert_eq!(together.outcomes, one_by_one);
    assert_eq!(together.writes.transitions, transitions);
    assert_eq!(whole, single);
    assert_eq!(whole.last_seq, 14);
    assert_eq!(
        whole.sessions["c"].quit_time,
        Some(400),
        "parked quit, then a second refused"
    );
}

// ---- presence transitions ----

fn on_sub(mut e: ResolvedEvent, sub_key: i64) -> ResolvedEvent {
    e.sub_key = sub_key;
    e
}

fn start(sub_key: i64, at: i64) -> Transition {
    Transition {
        meeting_key: M,
        sub_key,
        change: PresenceChange::Start,
        at,
    }
}

fn end(sub_key: i64, at: i64) -> Transition {
    Transition {
        change: PresenceChange::End,
        ..start(sub_key, at)
    }
}

#[test]
fn the_first_open_session_starts_and_the_last_to_close_ends() {
    let mut s = MeetingState::new(0);
    let a = run(&mut s, &[join("j-a", "a", 100)]);
    assert_eq!(a.writes.transitions, [start(0, 100)]);
    let a = run(&mut s, &[join("j-b", "b", 110), quit("q-a", "a", 120)]);
    assert_eq!(a.writes.transitions, [], "b is still in");
    let a = run(&mut s, &[quit("q-b", "b", 130)]);
    assert_eq!(
        a.writes.transitions,
        [end(0, 130)],
        "at the quit's own time"
    );
    let a = run(&mut s, &[join("j-c", "c", 200)]);
    assert_eq!(a.writes.transitions, [start(0, 200)], "a new start");
}

#[test]
fn a_join_and_its_quit_in_one_batch_are_a_start_and_an_end() {
    let mut s = MeetingState::new(0);
    let a = run(&mut s, &[join("j-a", "a", 100), quit("q-a", "a", 150)]);
    assert_eq!(a.writes.transitions, [start(0, 100), end(0, 150)]);
}

#[test]
fn a_join_closed_at_once_by_its_parked_quit_starts_and_ends() {
    let mut s = MeetingState::new(0);
    let a = run(&mut s, &[quit("q-a", "a", 90)]);
    assert_eq!(a.writes.transitions, [], "parked: nothing opened yet");
    let a = run(&mut s, &[join("j-a", "a", 100)]);
    assert_eq!(
        a.writes.transitions,
        [start(0, 100), end(0, 100)],
        "the early quit is clamped to the join"
    );
    // With someone else in, the same changes nothing.
    run(&mut s, &[join("j-b", "b", 200)]);
    run(&mut s, &[quit("q-c", "c", 250)]);
    let a = run(&mut s, &[join("j-c", "c", 240)]);
    assert_eq!(a.writes.transitions, []);
}

#[test]
fn refused_and_duplicate_events_make_no_transition() {
    let mut s = MeetingState::new(0);
    run(&mut s, &[join("j-a", "a", 100), quit("q-a", "a", 150)]);
    let a = run(
        &mut s,
        &[
            join("j-a", "a", 100),
            quit("q-a2", "a", 160),
            join("j-a3", "a", 170),
        ],
    );
    assert_eq!(a.outcomes[0], Outcome::Duplicate);
    assert!(matches!(a.outcomes[1], Outcome::Rejected(_)));
    assert!(matches!(a.outcomes[2], Outcome::Rejected(_)));
    assert_eq!(a.writes.transitions, []);
}

#[test]
fn sub_meetings_start_and_end_apart() {
    let mut s = MeetingState::new(0);
    let a = run(
        &mut s,
        &[
            on_sub(join("j-a", "a", 100), 1),
            on_sub(join("j-b", "b", 105), 2),
            // The quit's own sub_key does not matter: the session's does.
            on_sub(quit("q-a", "a", 110), 2),
        ],
    );
    assert_eq!(
        a.writes.transitions,
        [start(1, 100), start(2, 105), end(1, 110)]
    );
}

#[test]
fn a_session_open_in_the_store_keeps_the_meeting_in_progress() {
    let mut s = MeetingState::new(0);
    run(&mut s, &[join("j-a", "a", 100)]);
    let a = run(&mut s, &[join("j-b", "b", 110), quit("q-b", "b", 120)]);
    assert_eq!(a.writes.transitions, [], "a is still in");
}

#[test]
fn meetings_loaded_without_open_counts_report_no_transition() {
    let events = [join("j-a", "a", 100), quit("q-a", "a", 150)];
    let loaded = HashMap::from([(M, MeetingState::new(0))]);
    let a = apply_batch(&events, loaded);
    assert_eq!(a.outcomes, [Outcome::Accepted, Outcome::Accepted]);
    assert_eq!(a.writes.transitions, []);
}

#[test]
fn a_count_that_disagrees_with_the_rows_never_underflows() {
    let mut stored = MeetingState::new(1);
    let mut row = session::start(1, 0, "a", 100, &join_of(&join("j-a", "a", 100)));
    row.quit_time = None;
    stored.sessions.insert("a".into(), row);
    let events = [quit("q-a", "a", 150)];
    let mut loaded = load(&stored, &events);
    loaded.get_mut(&M).unwrap().open = Some(HashMap::new());
    let a = apply_batch(&events, loaded);
    assert_eq!(a.outcomes, [Outcome::Accepted]);
    assert_eq!(a.writes.transitions, []);
}

fn join_of(e: &ResolvedEvent) -> Join {
    match &e.event.kind {
        EventKind::Join(j) => j.clone(),
        _ => unreachable!("a join"),
    }
}
