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
#[derive(Default)]
struct Model {
    totals: BTreeMap<PersonKey, (i64, i64, Option<i64>, i64)>,
    spans: BTreeMap<PersonKey, Vec<(i64, i64)>>,
}

impl Model {
    fn apply(&mut self, deltas: BTreeMap<PersonKey, PersonDelta>) {
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
            let t = self.totals.entry(key).or_insert((i64::MAX, 0, None, 0));
            if let Some(f) = d.first_join {
                t.0 = t.0.min(f);
            }
            t.1 += d.joins;
            t.2 = match (t.2, d.last_quit) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            t.3 += m.added_secs;
        }
    }

    /// What the store answers for one view, given the sessions (for the open ones).
    fn read(&self, meeting_key: i64, view: i64, sessions: &[SessionRow]) -> Vec<StoredTotals> {
        self.totals
            .iter()
            .filter(|(k, _)| k.meeting_key == meeting_key && k.view == view)
            .map(|(k, t)| {
                let participant = Participant::from_parts(k.kind, k.id.clone()).unwrap();
                let open_joins: Vec<i64> = sessions
                    .iter()
                    .filter(|r| {
                        r.participant == participant
                            && r.quit_time.is_none()
                            && views_of(r.sub_key).any(|v| v == view)
                    })
                    .map(|r| r.join_time)
                    .collect();
                let late_spans = match open_joins.iter().min() {
                    Some(&j) => self.spans[k].iter().copied().filter(|s| s.1 > j).collect(),
                    None => Vec::new(),
                };
                StoredTotals {
                    participant,
                    first_join: t.0,
                    joins: t.1 as u64,
                    last_quit: t.2,
                    closed_secs: t.3,
                    open_joins,
                    late_spans,
                }
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
/// batch (joined ones inserted, stored ones updated), the deltas folded into the model.
fn run(sessions: &[Planned], ops: &[Op], batch: usize) -> (Model, Vec<SessionRow>) {
    let mut model = Model::default();
    let mut stored: HashMap<usize, SessionRow> = HashMap::new();
    let mut parked: HashSet<usize> = HashSet::new();
    for chunk in ops.chunks(batch.max(1)) {
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
        model.apply(deltas(&ins, &upd, &loaded_open));
        stored.extend(inserted);
        stored.extend(updated);
    }
    let mut rows: Vec<SessionRow> = stored.into_values().collect();
    rows.sort_by_key(|r| r.seq);
    (model, rows)
}

fn check(model: &Model, rows: &[SessionRow], now: i64) {
    for view in [0, 1, 2, WHOLE_MEETING] {
        let in_view: Vec<SessionRow> = rows
            .iter()
            .filter(|r| views_of(r.sub_key).any(|v| v == view))
            .cloned()
            .collect();
        let expected = schedule::people(&in_view, now);
        let got = people(model.read(1, view, rows), now);
        assert_eq!(got, expected, "view {view} at {now}");
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
    for batch in [1, 3, 10] {
        let (model, rows) = run(&sessions, &ops, batch);
        for now in [0, 120, 305, 450, 600] {
            check(&model, &rows, now);
        }
        let whole = people(model.read(1, WHOLE_MEETING, &rows), 1000);
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
    let inside = merge_spans(&[(0, 10)], &[(2, 5)]);
    assert_eq!(
        inside,
        SpanMerge::default(),
        "a span inside a stored one changes nothing"
    );
    let apart = merge_spans(&[], &[(2, 5), (7, 9)]);
    assert_eq!((apart.inserted.len(), apart.added_secs), (2, 5));
}

#[test]
fn views() {
    assert_eq!(views_of(0).collect::<Vec<_>>(), [0]);
    assert_eq!(views_of(3).collect::<Vec<_>>(), [3, WHOLE_MEETING]);
}

fn stream() -> impl Strategy<Value = (Vec<Planned>, Vec<Op>, usize)> {
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
        (Just(sessions), Just(ops).prop_shuffle(), 1usize..8)
    })
}

proptest! {
    #[test]
    fn maintained_aggregates_answer_as_the_sessions_do((sessions, ops, batch) in stream()) {
        let (model, rows) = run(&sessions, &ops, batch);
        // Before, among and after the stored times (the clock may be moved back).
        for now in [-5, 0, 250, 500, 777, 1_000, 1_500] {
            check(&model, &rows, now);
        }
    }
}
