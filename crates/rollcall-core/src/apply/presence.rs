//! Presence transitions: when a batch opens the first session of a (sub-)meeting or closes
//! its last open one — what the `meeting_start` / `meeting_end` callbacks report (SPEC §11).
//!
//! The rule follows [`crate::schedule::status`]: a (sub-)meeting is in progress while any of
//! its sessions is open. So it *starts* when its open sessions go from none to some, and
//! *ends* when they go from some to none; it may start again later (someone rejoins), which
//! is a new start. Transitions are found event by event in batch order, so a batch reports
//! exactly the transitions its events would report one batch at a time (a join and its quit
//! in one batch are a start and an end, not nothing).
//!
//! A join whose parked quit closes it at once (the quit arrived first) still opened the
//! meeting for that while: it is a start at the join's `at` and an end at the quit's
//! (clamped) time, if no other session was open. A refused or duplicate event changes no
//! session and so makes no transition.
//!
//! The backend loads, for each meeting whose transitions it wants (the owner app has a
//! callback target), the number of open sessions of each of its sub-meetings when the batch
//! starts ([`super::MeetingState::open`]); meetings without it report none.

use std::collections::HashMap;

/// Which way a (sub-)meeting's presence went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceChange {
    /// No session was open; now one is (`meeting_start`).
    Start,
    /// The last open session closed (`meeting_end`).
    End,
}

/// One presence transition of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub meeting_key: i64,
    /// The sub-meeting key (0 when the meeting is not recurring).
    pub sub_key: i64,
    pub change: PresenceChange,
    /// The `at` of the join or quit that caused it (unix seconds).
    pub at: i64,
}

/// Open sessions per sub-meeting key of one meeting, as the batch goes.
#[derive(Debug)]
pub(super) struct OpenCounts(pub(super) HashMap<i64, u64>);

impl OpenCounts {
    /// A session of `sub_key` opened at `at`.
    pub(super) fn opened(
        &mut self,
        meeting_key: i64,
        sub_key: i64,
        at: i64,
        out: &mut Vec<Transition>,
    ) {
        let n = self.0.entry(sub_key).or_insert(0);
        *n = n.saturating_add(1);
        if *n == 1 {
            out.push(Transition {
                meeting_key,
                sub_key,
                change: PresenceChange::Start,
                at,
            });
        }
    }

    /// An open session of `sub_key` closed at `at`. A count already at zero (a store whose
    /// count disagreed with its rows) stays there and reports nothing.
    pub(super) fn closed(
        &mut self,
        meeting_key: i64,
        sub_key: i64,
        at: i64,
        out: &mut Vec<Transition>,
    ) {
        let Some(n) = self.0.get_mut(&sub_key).filter(|n| **n > 0) else {
            return;
        };
        *n -= 1;
        if *n == 0 {
            out.push(Transition {
                meeting_key,
                sub_key,
                change: PresenceChange::End,
                at,
            });
        }
    }
}
