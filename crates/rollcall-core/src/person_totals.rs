//! Per-person attendance aggregates maintained at ingest, so `meeting/get_info` costs what
//! the people do, not what their sessions do (issue 11.2).
//!
//! # What is stored, per person and view
//! A *view* is a sub-meeting key (0: a meeting that is not recurring) or [`WHOLE_MEETING`]
//! (every sub-meeting of a recurring meeting at once: a person's time is the *union* across
//! sub-meetings, which per-sub-meeting sums cannot give). A session counts in its `sub_key`
//! and, when that is not 0, in [`WHOLE_MEETING`] too ([`views_of`]).
//! - [`StoredTotals`]: first join (min), sessions (count), last quit of the closed sessions
//!   (max), and `closed_secs`: the length of the union of the closed sessions' spans.
//! - The closed spans themselves, **merged** (disjoint, with a gap between any two), so a new
//!   closed span changes only the stored spans it overlaps or touches ([`merge_spans`]):
//!   order-independent and exact, whatever order joins and quits arrive in.
//!
//! Open sessions' spans grow with the clock, so what is kept of them is [`OpenKept`]: the
//! earliest open join and the closed time after it, moved at ingest by [`open_update`] (the
//! embedded store; PostgreSQL reads the open sessions at get_info instead, and gives
//! [`attendance`] their joins and the spans they can overlap). [`attendance`] adds them:
//! the union of open spans as of `now` is `[J, now)`,
//! `J` the earliest open join not after `now`, so the time in the meeting is
//! `closed_secs + (now - J) - |closed spans ∩ [J, now)|`. That is exactly
//! [`schedule::attendance`](crate::schedule::attendance) for any `now`, also one before
//! stored times (a virtual clock moved back): a span's end is clipped as
//! [`schedule::span_end`](crate::schedule::span_end) clips it. The kept pair gives that
//! overlap whenever [`kept_answers`] (J is not after `now`, no closed span ends after it);
//! for a clock moved back further the store reads that person's open joins and late spans.
//! The property test below checks the equality over random streams, orders and clocks.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::apply::Loaded;
use crate::model::{Participant, SessionRow};
use crate::schedule::{Attendance, PersonAttendance};

/// The view of a recurring meeting as a whole (every sub-meeting's sessions).
pub const WHOLE_MEETING: i64 = -1;

/// The views a session of sub-meeting `sub_key` counts in.
pub fn views_of(sub_key: i64) -> impl Iterator<Item = i64> {
    std::iter::once(sub_key).chain((sub_key != 0).then_some(WHOLE_MEETING))
}

/// One person in one view of one meeting: the key of the stored aggregates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonKey {
    pub meeting_key: i64,
    pub view: i64,
    pub kind: i64,
    pub id: String,
}

impl PersonKey {
    fn of(meeting_key: i64, view: i64, p: &Participant) -> Self {
        Self {
            meeting_key,
            view,
            kind: p.kind_code(),
            id: p.id().to_owned(),
        }
    }
}

/// What one batch adds to one person's stored aggregates. Every part folds into the stored
/// row with min / + / max, so the backend need not read the row to write it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonDelta {
    /// The earliest join among the sessions the batch joined.
    pub first_join: Option<i64>,
    /// Sessions the batch joined.
    pub joins: i64,
    /// The latest quit among the sessions the batch closed.
    pub last_quit: Option<i64>,
    /// The closed spans the batch adds (sessions that closed), merged: disjoint, sorted, each
    /// of positive length (an empty span changes no union).
    pub spans: Vec<(i64, i64)>,
    /// The earliest join among the sessions the batch stored still open.
    pub opened_first: Option<i64>,
    /// The joins of the stored sessions the batch closed (open before it).
    pub closed_joins: Vec<i64>,
}

/// The closed span of a session, as [`schedule::span_end`](crate::schedule::span_end)
/// makes it: never negative.
fn closed_span(row: &SessionRow) -> Option<(i64, i64)> {
    let quit = row.quit_time?;
    (quit > row.join_time).then_some((row.join_time, quit))
}

/// The stored sessions among those a batch loaded that were open, by `(meeting, session key)`:
/// what [`deltas`] needs to tell a quit from a state change of a closed session. Taken before
/// the batch is applied (which consumes the loaded state).
pub fn open_before(loaded: &Loaded) -> HashSet<(i64, String)> {
    loaded
        .iter()
        .flat_map(|(mk, m)| {
            m.sessions
                .values()
                .filter(|r| r.quit_time.is_none())
                .map(move |r| (*mk, r.session_key.clone()))
        })
        .collect()
}

/// Each touched person's delta from what a batch writes: the sessions it `inserted` (in their
/// final state, possibly closed at once by a parked quit) and those it `updated` that were
/// open before it (`open_before`) and are closed now. A stored session's quit is set once
/// (`session::quit` refuses a second), and a state change touches no aggregate.
pub fn deltas(
    inserted: &[(i64, SessionRow)],
    updated: &[(i64, SessionRow)],
    open_before: &HashSet<(i64, String)>,
) -> BTreeMap<PersonKey, PersonDelta> {
    let mut out: BTreeMap<PersonKey, PersonDelta> = BTreeMap::new();
    let mut spans: HashMap<PersonKey, Vec<(i64, i64)>> = HashMap::new();
    let mut closed = |key: &PersonKey, d: &mut PersonDelta, row: &SessionRow| {
        if let Some(q) = row.quit_time {
            d.last_quit = Some(d.last_quit.map_or(q, |l| l.max(q)));
        }
        if let Some(span) = closed_span(row) {
            spans.entry(key.clone()).or_default().push(span);
        }
    };
    for (mk, row) in inserted {
        for view in views_of(row.sub_key) {
            let key = PersonKey::of(*mk, view, &row.participant);
            let d = out.entry(key.clone()).or_default();
            d.first_join = Some(d.first_join.map_or(row.join_time, |f| f.min(row.join_time)));
            d.joins += 1;
            if row.quit_time.is_none() {
                d.opened_first = Some(
                    d.opened_first
                        .map_or(row.join_time, |f| f.min(row.join_time)),
                );
            }
            closed(&key, d, row);
        }
    }
    for (mk, row) in updated {
        if row.quit_time.is_none() || !open_before.contains(&(*mk, row.session_key.clone())) {
            continue;
        }
        for view in views_of(row.sub_key) {
            let key = PersonKey::of(*mk, view, &row.participant);
            let d = out.entry(key.clone()).or_default();
            d.closed_joins.push(row.join_time);
            closed(&key, d, row);
        }
    }
    for (key, s) in spans {
        if let Some(d) = out.get_mut(&key) {
            d.spans = merged(s);
        }
    }
    out
}

/// The session writes of several batches applied one after another in one transaction (the
/// embedded store's group commit), folded per session so that their people's aggregates are
/// written once for all of them: [`deltas`] of the result is what the batches' own deltas
/// add up to, because the aggregates are a function of the sessions' final states alone.
///
/// Why: a group of 4–8 calls touches the corp members among its people in nearly every
/// call, and one person's fold costs several statements (the stored spans a new span
/// reaches, the upsert, the kept open state); folding once per group instead of once per
/// call saves most of those for the people who come back often.
#[derive(Debug, Default)]
pub struct GroupWrites {
    /// Sessions first stored by one of the batches, in their latest state.
    inserted: HashMap<(i64, String), SessionRow>,
    /// Sessions stored before the group that a batch changed, in their latest state.
    updated: HashMap<(i64, String), SessionRow>,
    /// Those of `updated` that were open before the group.
    open_before: HashSet<(i64, String)>,
}

impl GroupWrites {
    /// Add one batch's writes (`inserted` / `updated` as [`deltas`] takes them, and the
    /// batch's own [`open_before`]), applied after those added before.
    pub fn add(
        &mut self,
        inserted: Vec<(i64, SessionRow)>,
        updated: Vec<(i64, SessionRow)>,
        open_before: &HashSet<(i64, String)>,
    ) {
        for (mk, row) in inserted {
            self.inserted.insert((mk, row.session_key.clone()), row);
        }
        for (mk, row) in updated {
            let key = (mk, row.session_key.clone());
            // Stored by an earlier batch of the group: the insert carries its final state.
            if let Some(first) = self.inserted.get_mut(&key) {
                *first = row;
                continue;
            }
            // A quit is final, so a session open when this batch loaded it was open before
            // the group too.
            if open_before.contains(&key) {
                self.open_before.insert(key.clone());
            }
            self.updated.insert(key, row);
        }
    }

    /// Each touched person's delta over the whole group.
    pub fn deltas(self) -> BTreeMap<PersonKey, PersonDelta> {
        let inserted: Vec<(i64, SessionRow)> = self
            .inserted
            .into_iter()
            .map(|((mk, _), row)| (mk, row))
            .collect();
        let updated: Vec<(i64, SessionRow)> = self
            .updated
            .into_iter()
            .map(|((mk, _), row)| (mk, row))
            .collect();
        deltas(&inserted, &updated, &self.open_before)
    }
}

/// Spans sorted and merged: overlapping or back-to-back ones become one. (The report's
/// per-person attendance uses it too.)
pub fn merged(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn length(spans: &[(i64, i64)]) -> i64 {
    spans.iter().map(|(s, e)| e - s).sum()
}

/// What merging new closed spans into a person's stored ones changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanMerge {
    /// The starts of the stored spans to delete.
    pub removed: Vec<i64>,
    /// The spans to insert in their place.
    pub inserted: Vec<(i64, i64)>,
    /// What the union's length grows by (`closed_secs` += this).
    pub added_secs: i64,
    /// The reached stored spans, merged, and what they became: what [`SpanMerge::added_after`]
    /// measures.
    before: Vec<(i64, i64)>,
    after: Vec<(i64, i64)>,
}

impl SpanMerge {
    /// What the union's length from `from` on grows by: `late_secs` += this while the
    /// person's earliest open join stays `from`. Exact, as for `added_secs`: only the reached
    /// spans change.
    pub fn added_after(&self, from: i64) -> i64 {
        late_secs(&self.after, from) - late_secs(&self.before, from)
    }
}

/// Merge `new` (a [`PersonDelta::spans`]) into the stored spans it reaches. `stored` must hold
/// every stored span that overlaps or touches a new one (`start <= new.end && end >=
/// new.start`: what the backend reads), and may hold others. Stored spans keep a gap between
/// any two, so nothing outside what was read can join the merged spans.
pub fn merge_spans(stored: &[(i64, i64)], new: &[(i64, i64)]) -> SpanMerge {
    let all = merged(stored.iter().chain(new).copied().collect());
    let before = merged(stored.to_vec());
    let kept: HashSet<(i64, i64)> = stored.iter().copied().collect();
    let after: HashSet<(i64, i64)> = all.iter().copied().collect();
    SpanMerge {
        removed: stored
            .iter()
            .filter(|s| !after.contains(s))
            .map(|s| s.0)
            .collect(),
        inserted: all.iter().filter(|s| !kept.contains(s)).copied().collect(),
        added_secs: length(&all) - length(&before),
        before,
        after: all,
    }
}

/// `|spans ∩ [from, ∞)|`: the closed time from a person's earliest open join on, for
/// disjoint spans.
pub fn late_secs(spans: &[(i64, i64)], from: i64) -> i64 {
    spans.iter().map(|&(s, e)| (e - s.max(from)).max(0)).sum()
}

/// A person's open sessions as their totals row keeps them (so get_info reads no session):
/// the earliest join among their open sessions in the view, and the closed time from it on.
/// With both, the union of their open spans as of `now` is `[first, now)` and its overlap
/// with the closed spans is `late_secs`, whenever [`kept_answers`] holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenKept {
    /// The earliest open join (`None`: nothing open).
    pub first: Option<i64>,
    /// `|closed spans ∩ [first, ∞)|` (0 when nothing is open).
    pub late_secs: i64,
}

/// What a batch does to a person's [`OpenKept`], decided from the row before it, the
/// batch's delta and its span merge; the backend does the rest after writing the sessions
/// and spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenUpdate {
    /// Nothing changes.
    Unchanged,
    /// Store this.
    Set(OpenKept),
    /// The earliest open join is now this: count `late_secs` again from the stored spans
    /// ([`late_secs`] of those ending after it).
    Recount(i64),
    /// The session holding the earliest open join closed: find the earliest join among the
    /// person's open sessions in the view again, then count as for [`OpenUpdate::Recount`]
    /// (none open: store the default).
    Probe,
}

/// How `old` follows a batch. Only the first open join matters, so a new open session moves
/// it only when it joined earlier, and a closed one only when it held it; otherwise the
/// closed spans the merge added after it are added to `late_secs`.
pub fn open_update(old: OpenKept, d: &PersonDelta, merge: &SpanMerge) -> OpenUpdate {
    if old.first.is_some_and(|j| d.closed_joins.contains(&j)) {
        return OpenUpdate::Probe;
    }
    let first = match (old.first, d.opened_first) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match first {
        None if old == OpenKept::default() => OpenUpdate::Unchanged,
        None => OpenUpdate::Set(OpenKept::default()),
        Some(j) if old.first != Some(j) => OpenUpdate::Recount(j),
        Some(j) => match merge.added_after(j) {
            0 => OpenUpdate::Unchanged,
            added => OpenUpdate::Set(OpenKept {
                first: Some(j),
                late_secs: old.late_secs + added,
            }),
        },
    }
}

/// The [`OpenKept`] of a person the batch is the first to store: what its own sessions give
/// (no span was stored before, so its merged spans are all of them).
pub fn open_of_new(d: &PersonDelta) -> OpenKept {
    d.opened_first.map_or(OpenKept::default(), |j| OpenKept {
        first: Some(j),
        late_secs: late_secs(&d.spans, j),
    })
}

/// Whether a person's [`OpenKept`] answers for `now` on its own: their earliest open join is
/// not after `now` (so it is the earliest that counts) and no closed span ends after `now`
/// (so the overlap is all of `late_secs`). Otherwise (a virtual clock moved back) the
/// backend reads the person's open joins and late spans.
pub fn kept_answers(first: i64, last_quit: Option<i64>, now: i64) -> bool {
    first <= now && last_quit.is_none_or(|q| q <= now)
}

/// One person's stored aggregates in one view, as the store reads them for get_info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTotals {
    pub participant: Participant,
    pub first_join: i64,
    pub joins: u64,
    /// The latest quit of a closed session (`None`: none closed yet).
    pub last_quit: Option<i64>,
    /// The length of the union of the closed sessions' spans.
    pub closed_secs: i64,
    /// The join times of the person's open sessions in the view (empty: all closed).
    pub open_joins: Vec<i64>,
    /// The person's stored closed spans that end after the earliest of `open_joins` that is
    /// not after `now` (the only ones an open span can overlap); empty when none is open, or
    /// when `late_secs` stands for them.
    pub late_spans: Vec<(i64, i64)>,
    /// The overlap itself, kept at ingest ([`OpenKept::late_secs`]): given, with
    /// `open_joins` just the earliest, only when [`kept_answers`] holds for `now`.
    pub late_secs: Option<i64>,
}

/// The person's attendance as of `now`: exactly
/// [`schedule::attendance`](crate::schedule::attendance) over their sessions.
pub fn attendance(t: &StoredTotals, now: i64) -> Attendance {
    let open = !t.open_joins.is_empty();
    // Open spans end at `now`, never before their join: those that joined after `now` are
    // empty, the others' union is [J, now).
    let in_meeting_secs = match t.open_joins.iter().copied().filter(|&j| j <= now).min() {
        None => t.closed_secs,
        Some(j) => {
            let overlap: i64 = match t.late_secs {
                Some(late) => late,
                None => t
                    .late_spans
                    .iter()
                    .map(|&(s, e)| (e.min(now) - s.max(j)).max(0))
                    .sum(),
            };
            t.closed_secs + (now - j) - overlap
        }
    };
    Attendance {
        first_join: t.first_join,
        last_quit: if open { None } else { t.last_quit },
        joins: usize::try_from(t.joins).unwrap_or(usize::MAX),
        in_meeting_secs,
    }
}

/// One [`PersonAttendance`] per stored person, in [`schedule::people`]'s order (first join,
/// then kind and id).
///
/// [`schedule::people`]: crate::schedule::people
pub fn people(totals: impl IntoIterator<Item = StoredTotals>, now: i64) -> Vec<PersonAttendance> {
    let mut out: Vec<PersonAttendance> = totals
        .into_iter()
        .map(|t| {
            let a = attendance(&t, now);
            PersonAttendance {
                participant: t.participant,
                in_meeting: a.in_meeting(),
                aggregate: a.into(),
            }
        })
        .collect();
    crate::schedule::in_listing_order(&mut out);
    out
}

#[cfg(test)]
mod tests;
