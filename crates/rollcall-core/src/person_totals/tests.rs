//! The maintained aggregates against the rule they stand in for, `schedule::people`.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;

use super::*;
use crate::schedule;

fn row(seq: u64, sub_key: i64, who: &str, join: i64, quit: Option<i64>) -> SessionRow {
    SessionRow {
        seq,
        session_key: format!("s{seq}"),
        sub_key,
        participant: Participant::Member(who.into()),
        join_time: join,
        quit_time: quit,
        instance_id: 1,
        role: 0,
        webinar_role: 0,
        join_type: 1,
        net: None,
        audio_state: false,
        video_state: false,
        screen_shared_state: false,
        customer_data: None,
        state_at: join,
    }
}

/// An in-memory store of the aggregates, written as a backend writes them: deltas folded
/// with min / + / max, spans merged from the stored spans a range read would find.
/// Each person's [`OpenKept`] follows [`open_update`], probing the sessions as stored after
/// the batch (as the embedded store does).
#[derive(Default)]
struct Model {
    totals: BTreeMap<PersonKey, (i64, i64, Option<i64>, i64)>,
    spans: BTreeMap<PersonKey, Vec<(i64, i64)>>,
    open: BTreeMap<PersonKey, OpenKept>,
}

/// The join times of `who`'s open sessions in `view`.
fn open_joins_of(sessions: &[SessionRow], participant: &Participant, view: i64) -> Vec<i64> {
    sessions
        .iter()
        .filter(|r| {
            &r.participant == participant
                && r.quit_time.is_none()
                && views_of(r.sub_key).any(|v| v == view)
        })
        .map(|r| r.join_time)
        .collect()
}

impl Model {
    /// Fold a batch's deltas; `sessions`: every session as stored after the batch.
    fn apply(&mut self, deltas: BTreeMap<PersonKey, PersonDelta>, sessions: &[SessionRow]) {
        for (key, d) in deltas {
            let stored = self.spans.entry(key.clone()).or_default();
            // Only what touches a new span, as the backends read.
            let touching: Vec<(i64, i64)> = stored
                .iter()
                .copied()
                .filter(|&(s, e)| d.spans.iter().any(|&(ns, ne)| s <= ne && e >= ns))
                .collect();
            let m = merge_spans(&touching, &d.spans);
            stored.retain(|s| !m.removed.contains(&s.0));
            stored.extend(&m.inserted);
            stored.sort_unstable();
            for w in stored.windows(2) {
                assert!(w[0].1 < w[1].0, "stored spans keep a gap: {stored:?}");
            }
            let is_new = !self.totals.contains_key(&key);
            let t = self
                .totals
                .entry(key.clone())
                .or_insert((i64::MAX, 0, None, 0));
            if let Some(f) = d.first_join {
                t.0 = t.0.min(f);
            }
            t.1 += d.joins;
            t.2 = match (t.2, d.last_quit) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            t.3 += m.added_secs;
            let old = self.open.get(&key).copied().unwrap_or_default();
            let recount = |j: i64| OpenKept {
                first: Some(j),
                late_secs: late_secs(stored, j),
            };
            let new = match open_update(old, &d, &m) {
                // The embedded store inserts a new person's row with its state at once.
                _ if is_new => open_of_new(&d),
                OpenUpdate::Unchanged => old,
                OpenUpdate::Set(k) => k,
                OpenUpdate::Recount(j) => recount(j),
                OpenUpdate::Probe => {
                    let p = Participant::from_parts(key.kind, key.id.clone()).unwrap();
                    match open_joins_of(sessions, &p, key.view).into_iter().min() {
                        Some(j) => recount(j),
                        None => OpenKept::default(),
                    }
                }
            };
            // What a recount from scratch would give: the update rule loses nothing.
            let p = Participant::from_parts(key.kind, key.id.clone()).unwrap();
            let truth = match open_joins_of(sessions, &p, key.view).into_iter().min() {
                Some(j) => recount(j),
                None => OpenKept::default(),
            };
            assert_eq!(new, truth, "{key:?} after {d:?}");
            self.open.insert(key, new);
        }
    }

    /// What the store answers for one view as of `now`, given the sessions (for the open
    /// ones): from the kept open state where [`kept_answers`] holds (unless `exact`), else
    /// from the person's open joins and late spans.
    fn read(
        &self,
        meeting_key: i64,
        view: i64,
        sessions: &[SessionRow],
        now: i64,
        exact: bool,
    ) -> Vec<StoredTotals> {
        self.totals
            .iter()
            .filter(|(k, _)| k.meeting_key == meeting_key && k.view == view)
            .map(|(k, t)| {
                let participant = Participant::from_parts(k.kind, k.id.clone()).unwrap();
                let kept = self.open.get(k).copied().unwrap_or_default();
                let mut out = StoredTotals {
                    participant,
                    first_join: t.0,
                    joins: t.1 as u64,
                    last_quit: t.2,
                    closed_secs: t.3,
                    open_joins: Vec::new(),
                    late_spans: Vec::new(),
                    late_secs: None,
                };
                match kept.first {
                    None => {}
                    Some(j) if !exact && kept_answers(j, t.2, now) => {
                        out.open_joins = vec![j];
                        out.late_secs = Some(kept.late_secs);
                    }
                    Some(_) => {
                        out.open_joins = open_joins_of(sessions, &out.participant, view);
                        if let Some(&j) = out.open_joins.iter().filter(|&&j| j <= now).min() {
                            out.late_spans =
                                self.spans[k].iter().copied().filter(|s| s.1 > j).collect();
                        }
                    }
                }
                out
            })
            .collect()
    }
}

/// A planned session: `(sub_key, person, join, quit)`.
type Planned = (i64, usize, i64, Option<i64>);

/// One step of a stream: a session joins, or its quit arrives (before its join: parked).
#[derive(Debug, Clone, Copy)]
enum Op {
    Join(usize),
    Quit(usize),
}

/// Run `ops` in batches as the store would see them: the sessions in their final state per
/// batch (joined ones inserted, stored ones updated), each batch seeing those before it.
/// `group` batches at a time share one transaction, as the embedded store's group commit
/// does: their writes are folded by [`GroupWrites`] and the deltas applied to the model
/// once for the group.
fn run(sessions: &[Planned], ops: &[Op], batch: usize, group: usize) -> (Model, Vec<SessionRow>) {
    let mut model = Model::default();
    let mut stored: HashMap<usize, SessionRow> = HashMap::new();
    let mut parked: HashSet<usize> = HashSet::new();
    let chunks: Vec<&[Op]> = ops.chunks(batch.max(1)).collect();
    for calls in chunks.chunks(group.max(1)) {
        let mut writes = GroupWrites::default();
        for chunk in calls {
            run_batch(sessions, chunk, &mut stored, &mut parked, &mut writes);
        }
        let after: Vec<SessionRow> = stored.values().cloned().collect();
        model.apply(writes.deltas(), &after);
    }
    let mut rows: Vec<SessionRow> = stored.into_values().collect();
    rows.sort_by_key(|r| r.seq);
    (model, rows)
}

/// One batch of [`run`]: store its sessions and add its writes to the group's.
fn run_batch(
    sessions: &[Planned],
    chunk: &[Op],
    stored: &mut HashMap<usize, SessionRow>,
    parked: &mut HashSet<usize>,
    writes: &mut GroupWrites,
) {
    let loaded_open: HashSet<(i64, String)> = stored
        .values()
        .filter(|r| r.quit_time.is_none())
        .map(|r| (1, r.session_key.clone()))
        .collect();
    let mut inserted: BTreeMap<usize, SessionRow> = BTreeMap::new();
    let mut updated: BTreeMap<usize, SessionRow> = BTreeMap::new();
    for op in chunk {
        match *op {
            Op::Join(i) => {
                let (sub, who, join, quit) = sessions[i];
                let q = parked.remove(&i).then(|| quit.unwrap().max(join));
                inserted.insert(i, row(i as u64, sub, &format!("p{who}"), join, q));
            }
            Op::Quit(i) => {
                let q = sessions[i].3.unwrap();
                if let Some(r) = inserted.get_mut(&i) {
                    r.quit_time = Some(q.max(r.join_time));
                } else if let Some(r) = stored.get(&i) {
                    let mut r = r.clone();
                    r.quit_time = Some(q.max(r.join_time));
                    updated.insert(i, r);
                } else {
                    parked.insert(i);
                }
            }
        }
    }
    let ins: Vec<(i64, SessionRow)> = inserted.values().map(|r| (1, r.clone())).collect();
    let upd: Vec<(i64, SessionRow)> = updated.values().map(|r| (1, r.clone())).collect();
    stored.extend(inserted);
    stored.extend(updated);
    writes.add(ins, upd, &loaded_open);
}

fn check(model: &Model, rows: &[SessionRow], now: i64) {
    for view in [0, 1, 2, WHOLE_MEETING] {
        let in_view: Vec<SessionRow> = rows
            .iter()
            .filter(|r| views_of(r.sub_key).any(|v| v == view))
            .cloned()
            .collect();
        let expected = schedule::people(&in_view, now);
        for exact in [false, true] {
            let got = people(model.read(1, view, rows, now, exact), now);
            assert_eq!(got, expected, "view {view} at {now} (exact: {exact})");
        }
    }
}

#[test]
fn overlapping_devices_and_out_of_order_quits() {
    // p0: two devices overlapping [100, 200) and [150, 300), then [300, 310) back to back;
    // p1 quits before their join arrives; p2 is still in.
    let sessions: [Planned; 6] = [
        (1, 0, 100, Some(200)),
        (1, 0, 150, Some(300)),
        (1, 0, 300, Some(310)),
        (1, 1, 50, Some(40)),
        (2, 2, 500, None),
        (2, 0, 400, None),
    ];
    let ops = [
        Op::Join(1),
        Op::Quit(3),
        Op::Join(0),
        Op::Join(4),
        Op::Quit(1),
        Op::Join(3),
        Op::Join(2),
        Op::Quit(2),
        Op::Quit(0),
        Op::Join(5),
    ];
    for (batch, group) in [(1, 1), (3, 1), (10, 1), (1, 2), (1, 4), (3, 2)] {
        let (model, rows) = run(&sessions, &ops, batch, group);
        for now in [0, 120, 305, 450, 600] {
            check(&model, &rows, now);
        }
        let whole = people(model.read(1, WHOLE_MEETING, &rows, 1000, false), 1000);
        let p0 = whole.iter().find(|p| p.participant.id() == "p0").unwrap();
        assert_eq!(
            p0.aggregate.cumulative_time,
            210 + 600,
            "closed [100, 310) ∪ open from 400"
        );
        assert!(p0.in_meeting);
    }
}

#[test]
fn merging_spans() {
    let m = merge_spans(&[(0, 10), (20, 30)], &[(10, 20)]);
    assert_eq!(m.removed, [0, 20]);
    assert_eq!(m.inserted, [(0, 30)]);
    assert_eq!(m.added_secs, 10);
    assert_eq!(m.added_after(5), 10);
    assert_eq!(
        m.added_after(25),
        0,
        "after 25, [20, 30) was stored already"
    );
    let inside = merge_spans(&[(0, 10)], &[(2, 5)]);
    assert!(
        inside.removed.is_empty() && inside.inserted.is_empty() && inside.added_secs == 0,
        "a span inside a stored one changes nothing"
    );
    assert_eq!(inside.added_after(0), 0);
    let apart = merge_spans(&[], &[(2, 5), (7, 9)]);
    assert_eq!((apart.inserted.len(), apart.added_secs), (2, 5));
}

#[test]
fn the_kept_open_state_follows_the_earliest_open_join() {
    let kept = |first, late_secs| OpenKept {
        first: Some(first),
        late_secs,
    };
    let nothing = merge_spans(&[], &[]);
    let opened = |j| PersonDelta {
        opened_first: Some(j),
        ..PersonDelta::default()
    };
    assert_eq!(
        open_update(OpenKept::default(), &opened(50), &nothing),
        OpenUpdate::Recount(50)
    );
    assert_eq!(
        open_update(kept(50, 0), &opened(60), &nothing),
        OpenUpdate::Unchanged,
        "a later open join leaves the earliest"
    );
    assert_eq!(
        open_update(kept(50, 0), &opened(40), &nothing),
        OpenUpdate::Recount(40)
    );
    let closed = |j, span| PersonDelta {
        closed_joins: vec![j],
        spans: vec![span],
        ..PersonDelta::default()
    };
    assert_eq!(
        open_update(
            kept(50, 0),
            &closed(50, (50, 90)),
            &merge_spans(&[], &[(50, 90)])
        ),
        OpenUpdate::Probe
    );
    assert_eq!(
        open_update(
            kept(50, 5),
            &closed(70, (70, 90)),
            &merge_spans(&[], &[(70, 90)])
        ),
        OpenUpdate::Set(kept(50, 25)),
        "another device's session closed after the earliest open join"
    );
    assert!(kept_answers(50, Some(90), 90));
    assert!(
        !kept_answers(50, Some(90), 89),
        "a closed span ends after now"
    );
    assert!(
        !kept_answers(50, None, 49),
        "the earliest open join is after now"
    );
}

#[test]
fn views() {
    assert_eq!(views_of(0).collect::<Vec<_>>(), [0]);
    assert_eq!(views_of(3).collect::<Vec<_>>(), [3, WHOLE_MEETING]);
}

/// Sessions, the order their events arrive in, the batch size and the batches per group.
fn stream() -> impl Strategy<Value = (Vec<Planned>, Vec<Op>, usize, usize)> {
    prop::collection::vec(
        (
            0i64..3,
            0usize..4,
            0i64..1_000,
            prop::option::weighted(0.7, 0i64..400),
        ),
        1..24,
    )
    .prop_flat_map(|raw| {
        let sessions: Vec<Planned> = raw
            .iter()
            .map(|&(sub, who, join, d)| (sub, who, join, d.map(|d| join + d - 20)))
            .collect();
        let mut ops: Vec<Op> = (0..sessions.len()).map(Op::Join).collect();
        ops.extend(
            sessions
                .iter()
                .enumerate()
                .filter(|s| s.1 .3.is_some())
                .map(|s| Op::Quit(s.0)),
        );
        (
            Just(sessions),
            Just(ops).prop_shuffle(),
            1usize..8,
            1usize..5,
        )
    })
}

proptest! {
    #[test]
    fn maintained_aggregates_answer_as_the_sessions_do(
        (sessions, ops, batch, group) in stream()
    ) {
        let (model, rows) = run(&sessions, &ops, batch, group);
        // Before, among and after the stored times (the clock may be moved back).
        for now in [-5, 0, 250, 500, 777, 1_000, 1_500] {
            check(&model, &rows, now);
        }
    }
}
