//! A node's cache of session scans, already rendered as JSON, valid for one store change
//! stamp (SPEC §10: pages at half the bare-HTTP ceiling; issue 11 point 1).
//!
//! # Why it is correct
//! Everything here was read under one [`Store::change_stamp`]: a value the store changes on
//! every commit by any connection of any process (SQLite's WAL-index header). The stamp
//! is read *before* the store is, so what was read is at least as new as the stamp. A lookup
//! reads the stamp again first: equal means no commit happened since it was first read, so
//! the store would answer exactly what is cached. A different stamp empties the cache. So a
//! quit or a state change, made through this node or any other, shows on the next page read,
//! as SPEC §3 asks ("state changes show in whatever page reads the row").
//!
//! PostgreSQL has no store-wide stamp; it has [`Store::meeting_stamp`] instead, one row read
//! per page (shared by the pages that wait for one together: [`super::stamp_reads`]): a
//! value drawn from a sequence by triggers on every write of the meeting's sessions (by any
//! node, of any build), and anew for every meeting a restore brings back, so a value never
//! stands for two states. There a moved stamp drops only that meeting's scans, and the
//! meeting's `last_seq` comes with the stamp. A backend with neither is never cached: every
//! page reads the store.
//!
//! What is cached is what the store answered for one [`SessionScan`] (rows in order, with
//! each row's rendered JSON and the participant the caller's visibility is checked against),
//! and each meeting's `last_seq`. The handler scans without the window's end and applies it
//! itself, so an entry outlives the second the default window ends at. Visibility, the cursor and the reply are still worked out
//! per request, so one entry serves every app's caller and every cursor that asks the same
//! scan. The rendering depends on the meeting only through its key (`tmp_openid`) and whether
//! it is a webinar (`webinar_role`), and both are in the key.
//!
//! # Bounds
//! At most [`MAX_BYTES`] of rendered rows (a 100-row page is ~23 KB, so ~350 pages), evicted
//! oldest first; the process' memory target (SPEC §10: 100 MB at 10M sessions) holds
//! whatever the meeting sizes.
//!
//! [`Store::change_stamp`]: rollcall_store::Store::change_stamp
//! [`Store::meeting_stamp`]: rollcall_store::Store::meeting_stamp

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use rollcall_core::model::{Participant, SessionRow, SessionScan};
use rollcall_store::{Store, StoreResult};

use super::stamp_reads::StampReads;

/// Rendered bytes the cache may hold (plus a fixed overhead per row, counted too).
pub const MAX_BYTES: usize = 8 << 20;
/// What one cached row costs beyond its JSON: its participant and bookkeeping.
const ROW_OVERHEAD: usize = 64;
/// Meetings whose stamps (and `last_seq`) are kept at most.
const MAX_MEETINGS: usize = 10_000;

/// One scanned row: its keyset position, who it is (for the caller's visibility) and its
/// JSON object, `json[start..end]` of the scan's buffer.
#[derive(Debug)]
pub struct ScannedRow {
    pub join_time: i64,
    pub seq: u64,
    pub participant: Participant,
    end: usize,
}

/// What the store answered for one scan, rendered: the rows' JSON objects one after another,
/// comma-separated as in the reply's array, so a run of consecutive rows is copied into the
/// reply in one piece ([`Self::json_run`]).
#[derive(Debug, Default)]
pub struct Scanned {
    pub rows: Vec<ScannedRow>,
    json: Vec<u8>,
}

impl Scanned {
    /// Render `rows` with `render` (which appends one JSON object to the buffer).
    pub fn new(rows: Vec<SessionRow>, mut render: impl FnMut(&SessionRow, &mut Vec<u8>)) -> Self {
        let mut json = Vec::with_capacity(rows.len() * 240);
        let rows = rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                if i > 0 {
                    json.push(b',');
                }
                render(&r, &mut json);
                ScannedRow {
                    join_time: r.join_time,
                    seq: r.seq,
                    participant: r.participant,
                    end: json.len(),
                }
            })
            .collect();
        Self { rows, json }
    }

    /// Row `i`'s JSON object.
    pub fn json(&self, i: usize) -> &[u8] {
        self.json_run(i, i)
    }

    /// Rows `first..=last`' JSON objects, comma-separated.
    pub fn json_run(&self, first: usize, last: usize) -> &[u8] {
        // Row i > 0 starts after the comma that ends row i - 1's span.
        let start = if first == 0 {
            0
        } else {
            self.rows[first - 1].end + 1
        };
        &self.json[start..self.rows[last].end]
    }

    fn bytes(&self) -> usize {
        self.json.len() + self.rows.len() * ROW_OVERHEAD
    }
}

/// A scan and how its rows are rendered: `(meeting_key, sub_key, after, join_max, seq_lo,
/// seq_hi, limit, webinar)`.
type ScanKey = (i64, i64, (i64, u64), i64, u64, u64, u32, bool);

fn key(s: &SessionScan, webinar: bool) -> ScanKey {
    (
        s.meeting_key,
        s.sub_key,
        s.after,
        s.join_max,
        s.seq_lo,
        s.seq_hi,
        s.limit,
        webinar,
    )
}

#[derive(Debug, Default)]
struct Entries {
    /// The store-wide stamp everything below was read under; `None` before the first read,
    /// and always with a store that has per-meeting stamps only.
    stamp: Option<u64>,
    /// With per-meeting stamps ([`Stamp::Meeting`]): the stamp each meeting's scans were
    /// read under.
    meeting_stamps: HashMap<i64, u64>,
    /// Each scan with the number it was kept under (its place in `order`).
    scans: HashMap<ScanKey, (u64, Arc<Scanned>)>,
    /// The keys of `scans` by meeting, to drop one meeting's when its stamp moves.
    by_meeting: HashMap<i64, HashSet<ScanKey>>,
    /// Insertion order, for eviction: `(number, key)`, current while `scans` holds the key
    /// under that number (a meeting's scans dropped by [`Self::meeting_at`] leave stale
    /// places behind, compacted away once they outnumber the live ones).
    order: VecDeque<(u64, ScanKey)>,
    kept: u64,
    bytes: usize,
    last_seq: HashMap<i64, u64>,
}

impl Entries {
    /// Make the entries those of `stamp`: anything read under another one is dropped.
    fn at(&mut self, stamp: u64) {
        if self.stamp != Some(stamp) {
            self.scans.clear();
            self.by_meeting.clear();
            self.meeting_stamps.clear();
            self.order.clear();
            self.last_seq.clear();
            self.bytes = 0;
            self.stamp = Some(stamp);
        }
    }

    /// Make meeting `m`'s entries those of its stamp `stamp`: its scans read under another
    /// one are dropped (the other meetings' stay).
    fn meeting_at(&mut self, m: i64, stamp: u64) {
        if self.meeting_stamps.get(&m) == Some(&stamp) {
            return;
        }
        for k in self.by_meeting.remove(&m).unwrap_or_default() {
            if let Some((_, gone)) = self.scans.remove(&k) {
                self.bytes -= gone.bytes();
            }
        }
        // Bounded like the scans: a node that read very many meetings starts these over.
        if self.meeting_stamps.len() >= MAX_MEETINGS {
            self.meeting_stamps
                .retain(|k, _| self.by_meeting.contains_key(k));
        }
        self.meeting_stamps.insert(m, stamp);
    }

    /// Whether what was read under `stamp` for meeting `m` is still current here.
    fn current(&self, m: i64, stamp: &Stamp) -> bool {
        match *stamp {
            Stamp::None => false,
            Stamp::Store(s) => self.stamp == Some(s),
            Stamp::Meeting { stamp: s, .. } => self.meeting_stamps.get(&m) == Some(&s),
        }
    }

    /// Validate the entries against `stamp` (see [`Self::at`], [`Self::meeting_at`]);
    /// `false` when nothing may be cached.
    fn validate(&mut self, m: i64, stamp: &Stamp) -> bool {
        match *stamp {
            Stamp::None => false,
            Stamp::Store(s) => {
                self.at(s);
                true
            }
            Stamp::Meeting { stamp: s, .. } => {
                self.meeting_at(m, s);
                true
            }
        }
    }

    /// Keep `scanned` under `k`, evicting the oldest entries to stay within [`MAX_BYTES`].
    fn keep(&mut self, k: ScanKey, scanned: &Arc<Scanned>) {
        let size = scanned.bytes();
        if size > MAX_BYTES || self.scans.contains_key(&k) {
            return;
        }
        while self.bytes + size > MAX_BYTES {
            let Some((n, old)) = self.order.pop_front() else {
                break;
            };
            if self.scans.get(&old).map(|e| e.0) != Some(n) {
                continue;
            }
            if let Some((_, gone)) = self.scans.remove(&old) {
                self.bytes -= gone.bytes();
                if let Some(set) = self.by_meeting.get_mut(&old.0) {
                    set.remove(&old);
                    if set.is_empty() {
                        self.by_meeting.remove(&old.0);
                    }
                }
            }
        }
        self.bytes += size;
        self.kept += 1;
        self.order.push_back((self.kept, k));
        self.by_meeting.entry(k.0).or_default().insert(k);
        self.scans.insert(k, (self.kept, Arc::clone(scanned)));
        if self.order.len() > 2 * self.scans.len() + 64 {
            let scans = &self.scans;
            self.order
                .retain(|(n, k)| scans.get(k).map(|e| e.0) == Some(*n));
        }
    }
}

/// What a page's reads are validated by, read before them ([`PageCache::stamp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// The store has no cheap stamp: every read goes to the store.
    None,
    /// A store-wide stamp ([`Store::change_stamp`]; SQLite).
    Store(u64),
    /// The meeting's own ([`Store::meeting_stamp`]; PostgreSQL), with its `last_seq` read
    /// in the same statement.
    Meeting { stamp: u64, last_seq: u64 },
}

/// The cache (one per node, in its `AppState`).
#[derive(Debug, Default)]
pub struct PageCache {
    entries: Mutex<Entries>,
    /// The meeting stamp reads, shared by the pages that wait for one together.
    stamp_reads: StampReads,
}

impl PageCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Nothing here can be left half-updated by a panic that matters: at worst an entry
        // is missing, and a miss reads the store.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What this page's reads of meeting `meeting_key` will be validated by, read now
    /// (before anything it validates is read): the store-wide stamp where the store has
    /// one, else the meeting's own, else none.
    pub async fn stamp(&self, store: &Arc<dyn Store>, meeting_key: i64) -> StoreResult<Stamp> {
        if let Some(s) = store.change_stamp().await? {
            return Ok(Stamp::Store(s));
        }
        Ok(match self.stamp_reads.read(store, meeting_key).await? {
            Some(m) => Stamp::Meeting {
                stamp: m.stamp,
                last_seq: m.last_seq,
            },
            None => Stamp::None,
        })
    }

    /// The meeting's `last_seq`: read with a meeting's stamp, from the cache when read
    /// under a store-wide one, else from the store.
    pub async fn last_seq(
        &self,
        store: &dyn Store,
        stamp: Stamp,
        meeting_key: i64,
    ) -> StoreResult<u64> {
        match stamp {
            Stamp::Meeting { last_seq, .. } => return Ok(last_seq),
            Stamp::Store(s) => {
                let mut e = self.lock();
                e.at(s);
                if let Some(v) = e.last_seq.get(&meeting_key) {
                    return Ok(*v);
                }
            }
            Stamp::None => {}
        }
        let v = store.last_seq(meeting_key).await?;
        if let Stamp::Store(s) = stamp {
            let mut e = self.lock();
            if e.stamp == Some(s) && e.last_seq.len() < MAX_MEETINGS {
                e.last_seq.insert(meeting_key, v);
            }
        }
        Ok(v)
    }

    /// The rows of `scan`, rendered with `render`: from the cache when read under `stamp`,
    /// else from the store (and then kept, if `stamp` is still current).
    pub async fn scan(
        &self,
        store: &dyn Store,
        stamp: Stamp,
        scan: &SessionScan,
        webinar: bool,
        render: impl FnMut(&SessionRow, &mut Vec<u8>),
    ) -> StoreResult<Arc<Scanned>> {
        let k = key(scan, webinar);
        {
            let mut e = self.lock();
            if e.validate(scan.meeting_key, &stamp) {
                if let Some((_, hit)) = e.scans.get(&k) {
                    return Ok(Arc::clone(hit));
                }
            }
        }
        let scanned = Arc::new(Scanned::new(store.scan_sessions(scan).await?, render));
        let mut e = self.lock();
        // A newer stamp may have been seen meanwhile: then this read is not kept.
        if e.current(scan.meeting_key, &stamp) {
            e.keep(k, &scanned);
        }
        Ok(scanned)
    }

    /// Bytes of rendered rows held now.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64) -> SessionRow {
        SessionRow {
            seq,
            session_key: format!("s{seq}"),
            sub_key: 0,
            participant: Participant::Guest(format!("g{seq}")),
            join_time: 100 + seq as i64,
            quit_time: None,
            instance_id: 1,
            role: 0,
            webinar_role: 0,
            join_type: 1,
            net: None,
            audio_state: false,
            video_state: false,
            screen_shared_state: false,
            customer_data: None,
            state_at: 0,
        }
    }

    #[test]
    fn rows_keep_their_json_apart() {
        let s = Scanned::new(vec![row(1), row(2), row(3)], |r, out| {
            out.extend_from_slice(format!("[{}]", r.seq).as_bytes())
        });
        assert_eq!(
            (0..3).map(|i| s.json(i).to_vec()).collect::<Vec<_>>(),
            [b"[1]".to_vec(), b"[2]".to_vec(), b"[3]".to_vec()]
        );
        assert_eq!(s.rows[2].join_time, 103);
        assert_eq!(s.json_run(0, 2), b"[1],[2],[3]");
        assert_eq!(s.json_run(1, 2), b"[2],[3]");
    }

    #[test]
    fn another_stamp_empties_it_and_size_is_bounded() {
        let c = PageCache::default();
        let scanned = Arc::new(Scanned::new(vec![row(1)], |_, out| {
            out.extend_from_slice(&[b' '; 1000])
        }));
        let fits = MAX_BYTES / scanned.bytes();
        let k = |i: usize| (i as i64, 0, (0, 0), 0, 0, 0, 1, false);
        {
            let mut e = c.lock();
            e.at(1);
            for i in 0..fits + 10 {
                e.keep(k(i), &scanned);
                e.last_seq.insert(i as i64, 1);
            }
            assert!(e.bytes <= MAX_BYTES);
            assert_eq!(e.scans.len(), fits);
            // The oldest went first.
            assert!(!e.scans.contains_key(&k(0)) && e.scans.contains_key(&k(fits + 9)));
        }
        assert!(c.held() <= MAX_BYTES);
        let mut e = c.lock();
        e.at(1);
        assert!(!e.scans.is_empty());
        e.at(2);
        assert!(e.scans.is_empty() && e.last_seq.is_empty() && e.bytes == 0);
        e.keep(
            k(0),
            &Arc::new(Scanned::new(vec![row(1)], |_, out| {
                out.resize(MAX_BYTES + 1, b' ')
            })),
        );
        assert!(
            e.scans.is_empty(),
            "an entry larger than the whole cache is not kept"
        );
    }

    #[test]
    fn per_meeting_stamps_drop_only_their_meetings_scans() {
        let c = PageCache::default();
        let scanned = Arc::new(Scanned::new(vec![row(1)], |_, out| out.push(b'x')));
        let k = |m: i64| (m, 0, (0, 0), 0, 0, 0, 1, false);
        let at = |s: u64| Stamp::Meeting {
            stamp: s,
            last_seq: 1,
        };
        let mut e = c.lock();
        for m in [1, 2] {
            assert!(e.validate(m, &at(10)));
            e.keep(k(m), &scanned);
        }
        // Meeting 2 changed: its scan goes, meeting 1's (still at its stamp) stays.
        assert!(e.validate(2, &at(11)));
        assert!(e.scans.contains_key(&k(1)) && !e.scans.contains_key(&k(2)));
        assert!(e.current(1, &at(10)) && !e.current(2, &at(10)) && e.current(2, &at(11)));
        assert_eq!(e.bytes, scanned.bytes());
        // Nothing is kept or current without a stamp.
        assert!(!e.validate(1, &Stamp::None) && !e.current(1, &Stamp::None));
        // A store-wide stamp starts everything over.
        assert!(e.validate(1, &Stamp::Store(5)));
        assert!(e.scans.is_empty() && e.meeting_stamps.is_empty() && e.bytes == 0);
    }

    #[test]
    fn a_meeting_that_keeps_changing_leaves_no_trail_behind() {
        let c = PageCache::default();
        let scanned = Arc::new(Scanned::new(vec![row(1)], |_, out| out.push(b'x')));
        let k = (7, 0, (0, 0), 0, 0, 0, 1, false);
        let mut e = c.lock();
        for s in 0..10_000 {
            let stamp = Stamp::Meeting {
                stamp: s,
                last_seq: 1,
            };
            assert!(e.validate(7, &stamp));
            e.keep(k, &scanned);
        }
        assert_eq!(e.scans.len(), 1);
        assert!(e.order.len() <= 2 + 64, "{} places kept", e.order.len());
        assert_eq!(e.bytes, scanned.bytes());
    }
}
