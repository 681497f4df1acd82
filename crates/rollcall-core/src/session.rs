//! How join / quit / state events change an attendance session (SPEC §3, §5).
//!
//! [`crate::apply::apply_batch`] calls these for every event of a batch; they hold the rules
//! so every backend applies events the same way:
//! - a join starts a session; a second join for the same session key is refused;
//! - a quit ends it (refused when it is already ended, or when it predates the join);
//! - a state event updates the last known values; an older state than one applied is ignored;
//! - quits and states that arrived *before* the join were acknowledged, so they must not be
//!   lost: they are applied, in `at` order, when the join arrives, and a pending quit that
//!   predates the join is clamped to the join time instead of dropped.

use crate::ingest::{Join, Pending, RejectReason, StatePatch};
use crate::model::SessionRow;

/// The session a join starts.
pub fn start(seq: u64, sub_key: i64, session_key: &str, at: i64, j: &Join) -> SessionRow {
    SessionRow {
        seq,
        session_key: session_key.to_owned(),
        sub_key,
        participant: j.participant.clone(),
        join_time: at,
        quit_time: None,
        instance_id: j.instance_id,
        role: j.role,
        webinar_role: j.webinar_role,
        join_type: j.join_type,
        net: j.net.clone(),
        audio_state: j.audio_state,
        video_state: j.video_state,
        screen_shared_state: j.screen_shared_state,
        customer_data: j.customer_data.clone(),
        state_at: at,
    }
}

/// Apply a quit to a known session. When it is applied the row has changed (its `quit_time`
/// was empty).
pub fn quit(row: &mut SessionRow, at: i64) -> Result<(), RejectReason> {
    if row.quit_time.is_some() {
        return Err(RejectReason::AlreadyQuit {
            session: row.session_key.clone(),
        });
    }
    if at < row.join_time {
        return Err(RejectReason::QuitBeforeJoin {
            at,
            join_time: row.join_time,
        });
    }
    row.quit_time = Some(at);
    Ok(())
}

/// Apply a state change to a known session (last known value wins by `at`). Returns whether
/// the row changed: the rule knows which fields it writes, so no caller keeps its own list of
/// columns to compare.
pub fn state(row: &mut SessionRow, at: i64, patch: &StatePatch) -> bool {
    if at < row.state_at {
        return false;
    }
    let mut changed = at != row.state_at;
    row.state_at = at;
    if let Some(n) = &patch.net {
        if row.net.as_deref() != Some(n.as_str()) {
            row.net = Some(n.clone());
            changed = true;
        }
    }
    for (field, value) in [
        (&mut row.audio_state, patch.audio_state),
        (&mut row.video_state, patch.video_state),
        (&mut row.screen_shared_state, patch.screen_shared_state),
    ] {
        if let Some(v) = value {
            changed |= *field != v;
            *field = v;
        }
    }
    changed
}

/// Apply events that arrived before the join, oldest first. Nothing acknowledged is dropped:
/// an early quit is clamped to the join time, several quits keep the latest.
pub fn apply_pending(row: &mut SessionRow, mut pending: Vec<Pending>) {
    pending.sort_by_key(Pending::at);
    for p in pending {
        match p {
            Pending::Quit { at } => {
                let at = at.max(row.join_time);
                row.quit_time = Some(row.quit_time.map_or(at, |q| q.max(at)));
            }
            Pending::State { at, patch } => {
                state(row, at, &patch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Participant;

    fn j() -> Join {
        Join {
            participant: Participant::Guest("g".into()),
            instance_id: 8,
            role: 4,
            webinar_role: 0,
            join_type: 1,
            net: Some("WIFI".into()),
            audio_state: true,
            video_state: false,
            screen_shared_state: false,
            customer_data: None,
        }
    }

    #[test]
    fn quit_rules() {
        let mut r = start(1, 0, "s", 100, &j());
        assert_eq!(
            quit(&mut r, 99),
            Err(RejectReason::QuitBeforeJoin {
                at: 99,
                join_time: 100
            })
        );
        quit(&mut r, 150).unwrap();
        assert_eq!(r.quit_time, Some(150));
        assert_eq!(
            quit(&mut r, 160),
            Err(RejectReason::AlreadyQuit {
                session: "s".into()
            })
        );
    }

    #[test]
    fn state_says_whether_the_row_changed() {
        let mut r = start(1, 0, "s", 100, &j());
        let audio = |v| StatePatch {
            audio_state: Some(v),
            ..Default::default()
        };
        // Same time, same value: nothing to write.
        let before = r.clone();
        assert!(!state(&mut r, 100, &audio(true)));
        assert_eq!(r, before);
        // Older than what is known: ignored.
        assert!(!state(&mut r, 99, &audio(false)));
        assert_eq!(r, before);
        // Same value, later time: `state_at` moves, so the row changed.
        assert!(state(&mut r, 110, &audio(true)));
        assert_eq!(r.state_at, 110);
        // A new value at the same time.
        assert!(state(&mut r, 110, &audio(false)));
        assert!(!r.audio_state);
        let net = StatePatch {
            net: Some("WIFI".into()),
            ..Default::default()
        };
        assert!(!state(&mut r, 110, &net));
        let net = StatePatch {
            net: Some("4G".into()),
            ..Default::default()
        };
        assert!(state(&mut r, 110, &net));
        assert_eq!(r.net.as_deref(), Some("4G"));
    }

    #[test]
    fn newer_state_wins() {
        let mut r = start(1, 0, "s", 100, &j());
        state(
            &mut r,
            120,
            &StatePatch {
                audio_state: Some(false),
                ..Default::default()
            },
        );
        state(
            &mut r,
            110,
            &StatePatch {
                audio_state: Some(true),
                net: Some("4G".into()),
                ..Default::default()
            },
        );
        assert!(!r.audio_state);
        assert_eq!(r.net.as_deref(), Some("WIFI"));
    }

    #[test]
    fn pending_events_apply_in_time_order_and_are_never_lost() {
        let mut r = start(1, 0, "s", 100, &j());
        apply_pending(
            &mut r,
            vec![
                Pending::State {
                    at: 130,
                    patch: StatePatch {
                        video_state: Some(true),
                        ..Default::default()
                    },
                },
                Pending::Quit { at: 90 },
                Pending::State {
                    at: 120,
                    patch: StatePatch {
                        video_state: Some(false),
                        net: Some("4G".into()),
                        ..Default::default()
                    },
                },
            ],
        );
        assert!(r.video_state);
        assert_eq!(r.net.as_deref(), Some("4G"));
        assert_eq!(r.quit_time, Some(100));
    }
}
