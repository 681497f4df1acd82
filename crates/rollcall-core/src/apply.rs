//! What one ingest batch does to the store (SPEC §5): every decision, once, for every backend.
//!
//! A backend loads the stored state the batch can touch ([`needs`] says which keys), calls
//! [`apply_batch`], and writes the [`Writes`] it returns; it decides nothing itself. The
//! decisions, in the order they are taken for each event:
//! 1. an event bound to a meeting the store does not hold is refused
//!    ([`RejectReason::UnknownMeeting`]);
//! 2. an `event_id` already applied for that meeting (stored, or accepted earlier in the same
//!    batch) is a [`Outcome::Duplicate`] and changes nothing;
//! 3. a join for a session key the meeting already has is refused
//!    ([`RejectReason::AlreadyJoined`]); otherwise it takes the meeting's next `seq` and the
//!    quits / states parked for its session are applied to it, in `at` order (an early quit
//!    clamped to the join time: see [`session::apply_pending`]);
//! 4. a quit / state for a known session applies the rules of [`crate::session`]; for a
//!    session whose join has not arrived it is parked (acknowledged, applied at the join);
//! 5. a refused event is not recorded, so a corrected re-send of the same `event_id` applies.
//!
//! Writes are what changed, and only that: a session joined in the batch is inserted once in
//! its final state; a stored session is rewritten when one of the batch's events changed it
//! (the rules say so: [`session::state`] returns whether the row changed, an applied quit
//! always changes it); a meeting's `last_seq` is written when the batch numbered sessions.
//!
//! The result is exactly what applying the events one at a time would give, which is what lets
//! a remote backend load once, decide in memory and write once per batch.
//!
//! Presence transitions (a (sub-)meeting's first session opening, its last one closing) are
//! decided here too, for the meetings whose open-session counts the backend loaded: see
//! [`presence`] and [`Writes::transitions`].
//!
//! # Layout
//! - [`meeting_keys`], [`needs`]: what a backend must load for a batch.
//! - [`MeetingState`]: the loaded state of one meeting; the map of them is [`Loaded`].
//! - [`apply_batch`]: the decisions; [`Applied`] / [`Writes`]: what it returns.
//! - [`presence`]: the presence transition rule ([`Transition`]).

use std::collections::{HashMap, HashSet};

use crate::ingest::{EventKind, Outcome, Pending, RejectReason, ResolvedEvent};
use crate::model::SessionRow;
use crate::session;

mod presence;

use presence::OpenCounts;
pub use presence::{PresenceChange, Transition};

/// `(meeting_key, event_id or session key)`, borrowed from the batch's events.
pub type Key<'a> = (i64, &'a str);

/// The distinct meeting keys of a batch, ascending: the order a backend that locks meetings
/// takes its locks in (one order for every batch, so two batches cannot deadlock).
pub fn meeting_keys(events: &[ResolvedEvent]) -> Vec<i64> {
    let mut keys: Vec<i64> = events.iter().map(|e| e.meeting_key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The stored rows a batch can touch, once its meetings are known. Each list is distinct, in
/// the order the batch first names the key.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Needs<'a> {
    /// Load whether each was applied ([`MeetingState::applied`]).
    pub event_ids: Vec<Key<'a>>,
    /// Load the stored session of each ([`MeetingState::sessions`]).
    pub sessions: Vec<Key<'a>>,
    /// The sessions the batch joins: load their parked events ([`MeetingState::pending`]).
    pub joins: Vec<Key<'a>>,
    /// Those of `sessions` whose first event in the batch is a join. Their stored row (if
    /// any) only refuses that join ([`RejectReason::AlreadyJoined`]), so a backend whose
    /// unique key on session keys would refuse the insert may skip loading them and, when
    /// the insert is refused, decide the batch again with them loaded: nearly every join is
    /// of a new session, so that saves the batch one lookup per join.
    pub first_joins: HashSet<Key<'a>>,
}

impl Needs<'_> {
    pub fn is_empty(&self) -> bool {
        self.event_ids.is_empty() && self.sessions.is_empty() && self.joins.is_empty()
    }
}

/// What to load for the events of meetings `known` holds (the others are refused unread).
pub fn needs<'a>(events: &'a [ResolvedEvent], known: impl Fn(i64) -> bool) -> Needs<'a> {
    fn push<'a>(seen: &mut HashSet<Key<'a>>, out: &mut Vec<Key<'a>>, key: Key<'a>) {
        if seen.insert(key) {
            out.push(key);
        }
    }
    let mut out = Needs::default();
    let (mut ids, mut sessions, mut joins) = (HashSet::new(), HashSet::new(), HashSet::new());
    for ev in events.iter().filter(|e| known(e.meeting_key)) {
        let session = (ev.meeting_key, ev.event.session.as_str());
        push(
            &mut ids,
            &mut out.event_ids,
            (ev.meeting_key, ev.event.event_id.as_str()),
        );
        let first = !sessions.contains(&session);
        push(&mut sessions, &mut out.sessions, session);
        if matches!(ev.event.kind, EventKind::Join(_)) {
            push(&mut joins, &mut out.joins, session);
            if first {
                out.first_joins.insert(session);
            }
        }
    }
    out
}

/// The stored state of one meeting, as far as the batch touches it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MeetingState {
    /// `meetings.last_seq` when the batch started (under the backend's write lock).
    pub last_seq: u64,
    /// The batch's event ids that are already applied.
    pub applied: HashSet<String>,
    /// The stored sessions among the batch's session keys, by session key.
    pub sessions: HashMap<String, SessionRow>,
    /// The parked events of the sessions the batch joins, each in arrival order.
    pub pending: HashMap<String, Vec<Pending>>,
    /// Open sessions per sub-meeting key when the batch started, for a meeting whose
    /// presence transitions the backend wants ([`Writes::transitions`]); `None` (the
    /// default): none are reported for it. A sub-meeting absent from the map has none open.
    pub open: Option<HashMap<i64, u64>>,
}

impl MeetingState {
    /// A meeting that exists, with nothing else loaded yet.
    pub fn new(last_seq: u64) -> Self {
        Self {
            last_seq,
            ..Self::default()
        }
    }
}

/// Every meeting of the batch the store holds, by key. A meeting absent here is unknown.
pub type Loaded = HashMap<i64, MeetingState>;

/// What a batch writes. Every part touches rows no other part touches, so a backend may send
/// them in any order (or all at once).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Writes<'a> {
    /// The event ids to record as applied: every accepted event, in batch order.
    pub applied: Vec<Key<'a>>,
    /// Sessions joined in the batch, in their final state, by `(meeting_key, seq)`.
    pub inserted: Vec<(i64, SessionRow)>,
    /// Stored sessions the batch changed, in their final state, by `(meeting_key, seq)`.
    pub updated: Vec<(i64, SessionRow)>,
    /// `(meeting_key, session_key)` whose stored parked events their join applied: delete.
    pub consumed: Vec<(i64, String)>,
    /// Quits / states parked by this batch and still waiting, by `(meeting_key, session_key)`
    /// and, within a session, in arrival order (which a backend must keep).
    pub parked: Vec<(i64, String, Pending)>,
    /// The meetings whose counter moved, by key, with their new `last_seq`.
    pub last_seq: Vec<(i64, u64)>,
    /// The presence transitions of the meetings loaded with [`MeetingState::open`], in the
    /// order the batch's events caused them (the order their callbacks must keep).
    pub transitions: Vec<Transition>,
}

impl Writes<'_> {
    /// Nothing accepted, nothing to write (refusals and duplicates leave no trace).
    pub fn is_empty(&self) -> bool {
        self.applied.is_empty()
    }
}

/// The result of a batch: one outcome per event, in order, and the writes to perform.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied<'a> {
    pub outcomes: Vec<Outcome>,
    pub writes: Writes<'a>,
}

/// A session the batch knows of.
struct Tracked {
    row: SessionRow,
    /// Loaded from the store (rewritten when `dirty`), or joined in this batch (inserted).
    stored: bool,
    dirty: bool,
}

/// Quits and states waiting for a session's join.
#[derive(Default)]
struct Parked {
    /// Some are stored: the join must delete them.
    stored: bool,
    /// Oldest first: the stored ones, then this batch's from `fresh_from` on.
    items: Vec<Pending>,
    fresh_from: usize,
}

/// One meeting while the batch runs.
struct Work<'a> {
    start_seq: u64,
    last_seq: u64,
    applied: HashSet<String>,
    /// Accepted earlier in this batch.
    accepted: HashSet<&'a str>,
    sessions: HashMap<String, Tracked>,
    parked: HashMap<String, Parked>,
    open: Option<OpenCounts>,
}

impl<'a> Work<'a> {
    fn new(m: MeetingState) -> Self {
        let sessions = m
            .sessions
            .into_iter()
            .map(|(k, row)| {
                let t = Tracked {
                    row,
                    stored: true,
                    dirty: false,
                };
                (k, t)
            })
            .collect();
        let parked = m
            .pending
            .into_iter()
            .filter(|(_, items)| !items.is_empty())
            .map(|(k, items)| {
                let p = Parked {
                    stored: true,
                    fresh_from: items.len(),
                    items,
                };
                (k, p)
            })
            .collect();
        Self {
            start_seq: m.last_seq,
            last_seq: m.last_seq,
            applied: m.applied,
            accepted: HashSet::new(),
            sessions,
            parked,
            open: m.open.map(OpenCounts),
        }
    }

    /// Apply one new (not duplicate) event, noting what it consumed and the presence
    /// transitions it made.
    fn apply(&mut self, ev: &ResolvedEvent, w: &mut Writes<'_>) -> Outcome {
        let e = &ev.event;
        match &e.kind {
            EventKind::Join(join) => {
                // Session keys are unique per meeting, across its sub-meetings.
                if self.sessions.contains_key(&e.session) {
                    return Outcome::Rejected(RejectReason::AlreadyJoined {
                        session: e.session.clone(),
                    });
                }
                let seq = self.last_seq.saturating_add(1);
                self.last_seq = seq;
                let mut row = session::start(seq, ev.sub_key, &e.session, e.at, join);
                if let Some(parked) = self.parked.remove(&e.session) {
                    if parked.stored {
                        w.consumed.push((ev.meeting_key, e.session.clone()));
                    }
                    session::apply_pending(&mut row, parked.items);
                }
                if let Some(open) = &mut self.open {
                    let out = &mut w.transitions;
                    open.opened(ev.meeting_key, row.sub_key, e.at, out);
                    if let Some(q) = row.quit_time {
                        open.closed(ev.meeting_key, row.sub_key, q, out);
                    }
                }
                let t = Tracked {
                    row,
                    stored: false,
                    dirty: false,
                };
                self.sessions.insert(e.session.clone(), t);
                Outcome::Accepted
            }
            EventKind::Quit | EventKind::State(_) => {
                let Some(t) = self.sessions.get_mut(&e.session) else {
                    let pending = match &e.kind {
                        EventKind::State(patch) => Pending::State {
                            at: e.at,
                            patch: patch.clone(),
                        },
                        _ => Pending::Quit { at: e.at },
                    };
                    if let Some(p) = self.parked.get_mut(&e.session) {
                        p.items.push(pending);
                    } else {
                        let p = Parked {
                            items: vec![pending],
                            ..Parked::default()
                        };
                        self.parked.insert(e.session.clone(), p);
                    }
                    return Outcome::Accepted;
                };
                let changed = match &e.kind {
                    EventKind::State(patch) => session::state(&mut t.row, e.at, patch),
                    _ => match session::quit(&mut t.row, e.at) {
                        Ok(()) => {
                            if let Some(open) = &mut self.open {
                                let out = &mut w.transitions;
                                open.closed(ev.meeting_key, t.row.sub_key, e.at, out);
                            }
                            true
                        }
                        Err(reason) => return Outcome::Rejected(reason),
                    },
                };
                t.dirty |= changed;
                Outcome::Accepted
            }
        }
    }
}

/// Decide a batch over the state a backend loaded for it (see the module documentation).
/// `loaded` must hold every meeting of the batch that exists, with the rows [`needs`] names.
pub fn apply_batch(events: &[ResolvedEvent], loaded: Loaded) -> Applied<'_> {
    let mut work: HashMap<i64, Work<'_>> =
        loaded.into_iter().map(|(k, m)| (k, Work::new(m))).collect();
    let mut out = Applied {
        outcomes: Vec::with_capacity(events.len()),
        writes: Writes::default(),
    };
    let w = &mut out.writes;
    for ev in events {
        let Some(m) = work.get_mut(&ev.meeting_key) else {
            out.outcomes
                .push(Outcome::Rejected(RejectReason::UnknownMeeting));
            continue;
        };
        let id = ev.event.event_id.as_str();
        if m.accepted.contains(id) || m.applied.contains(id) {
            out.outcomes.push(Outcome::Duplicate);
            continue;
        }
        let outcome = m.apply(ev, w);
        if outcome == Outcome::Accepted {
            m.accepted.insert(id);
            w.applied.push((ev.meeting_key, id));
        }
        out.outcomes.push(outcome);
    }

    for (&key, m) in work.iter_mut() {
        if m.last_seq != m.start_seq {
            w.last_seq.push((key, m.last_seq));
        }
        for (session_key, p) in m.parked.drain() {
            for item in p.items.into_iter().skip(p.fresh_from) {
                w.parked.push((key, session_key.clone(), item));
            }
        }
        for (_, t) in m.sessions.drain() {
            if !t.stored {
                w.inserted.push((key, t.row));
            } else if t.dirty {
                w.updated.push((key, t.row));
            }
        }
    }
    w.last_seq.sort_unstable();
    // Stable: a session's parked events stay in arrival order.
    w.parked.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    w.inserted.sort_unstable_by_key(|(k, r)| (*k, r.seq));
    w.updated.sort_unstable_by_key(|(k, r)| (*k, r.seq));
    w.consumed.sort_unstable();
    out
}

#[cfg(test)]
mod tests;
