//! The ingest pipeline (SPEC §5): split the body as it streams in → validate each event →
//! bind to its meeting → store, a chunk at a time (bounded memory, issue 11 point 4).

use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use rollcall_core::ingest::{event_value, parse_event, resolve, Event, Outcome, Piece, Splitter};
use rollcall_core::model::Meeting;
use rollcall_store::StoreError;

use crate::state::AppState;

/// The ingest API's reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    pub accepted: usize,
    pub duplicates: usize,
    /// The first [`MAX_LISTED_REJECTIONS`] refused events, by index.
    pub rejected: Vec<Rejection>,
    /// How many more were refused but not listed; absent when none were left out, so a
    /// normal reply is exactly SPEC §5's shape.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rejected_omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The most rejections one reply lists. A 2 MB body of `[1,1,…]` is a million refused events;
/// listing each made a 58 MB reply (and held it all in memory). A thousand reasons say what
/// is wrong with a batch; the count says how much.
pub const MAX_LISTED_REJECTIONS: usize = 1000;

/// The refused events of one batch, keeping the [`MAX_LISTED_REJECTIONS`] lowest indices
/// whatever order they are found in (parsing, binding and the store each refuse some), in
/// bounded memory.
#[derive(Debug, Default)]
struct Rejections {
    /// A max-heap by index: the largest kept index is the one to drop first.
    kept: BinaryHeap<Rejection>,
    omitted: usize,
}

impl Rejections {
    fn push(&mut self, index: usize, error: impl FnOnce() -> String) {
        if self.kept.len() == MAX_LISTED_REJECTIONS {
            if self.kept.peek().is_some_and(|top| top.index < index) {
                self.omitted += 1;
                return;
            }
            self.kept.pop();
            self.omitted += 1;
        }
        self.kept.push(Rejection {
            index,
            error: error(),
        });
    }

    fn into_report(self, report: &mut IngestReport) {
        report.rejected = self.kept.into_sorted_vec();
        report.rejected_omitted = self.omitted;
    }
}

/// One refused event, by its position in the request. `error` is the reason's text: a parse
/// or binding refusal as written, or a store's [`RejectReason`](rollcall_core::ingest::RejectReason)
/// as displayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub index: usize,
    pub error: String,
}

/// Ordered by index alone (indices are unique within a batch).
impl Ord for Rejection {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.index.cmp(&other.index)
    }
}

impl PartialOrd for Rejection {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Events applied per store transaction, at least. A body of up to this many events is
/// applied in one transaction, as before; a bigger one in chunks of this many (plus the
/// rest of the read of the body that completed it), each applied (durably)
/// while the rest of the body is still arriving, so a 64 MiB body costs a chunk's memory,
/// not the body's. At 5,000 events (~2 MB decoded) four maximum-size bodies at once stay
/// far below SPEC §10's 300 MB, and a chunk is still large enough that its fsync is a small
/// part of its cost.
pub const CHUNK_EVENTS: usize = 5000;

/// Why a body could not be ingested (to the end).
#[derive(Debug)]
pub enum IngestError {
    /// The body grew past the limit while streaming (no or a false `Content-Length`).
    TooLarge { limit: usize, applied: usize },
    /// The body broke off (the client went away or stalled).
    Read { applied: usize },
    /// The body is not events: `reason`.
    Body { reason: String, applied: usize },
    /// The store failed; `applied` events of earlier chunks are stored.
    Store { error: StoreError, applied: usize },
}

/// Ingest a body as it streams in (SPEC §5): split ([`Splitter`]), parse each event as soon
/// as its bytes are complete, and apply every [`CHUNK_EVENTS`] in one store transaction.
/// What is held at any time is one event's bytes and one chunk of decoded events.
/// Everything counted in the reply's `accepted` is durable when this returns `Ok`.
pub async fn ingest_body<S, E>(
    state: &AppState,
    mut body: S,
    ndjson: bool,
    limit: usize,
) -> Result<IngestReport, IngestError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut run = Run::new(state);
    let mut splitter = Splitter::new(ndjson);
    let mut read = 0usize;
    while let Some(chunk) = body.next().await {
        let applied = run.applied;
        let chunk = chunk.map_err(|_| IngestError::Read { applied })?;
        read = read.saturating_add(chunk.len());
        if read > limit {
            return Err(IngestError::TooLarge { limit, applied });
        }
        let mut whole_bad = None;
        splitter
            .feed(&chunk, &mut |piece| run.piece(piece, &mut whole_bad))
            .map_err(|e| run.refuse(e.to_string()))?;
        if let Some(reason) = whole_bad {
            return Err(run.refuse(reason));
        }
        if run.parsed.len() >= CHUNK_EVENTS {
            run.flush().await?;
        }
    }
    let mut whole_bad = None;
    splitter
        .finish(&mut |piece| run.piece(piece, &mut whole_bad))
        .map_err(|e| run.refuse(e.to_string()))?;
    if let Some(reason) = whole_bad {
        return Err(run.refuse(reason));
    }
    run.flush().await?;
    Ok(run.into_report())
}

/// One request's progress: the parsed events of the chunk being filled, and the tallies.
struct Run<'s> {
    state: &'s AppState,
    /// Index in the body of the next event.
    next: usize,
    /// The chunk being filled: each event with its index in the body.
    parsed: Vec<(usize, Event)>,
    report: IngestReport,
    rejected: Rejections,
    /// Events stored by earlier chunks (accepted or duplicates): what a failure reports.
    applied: usize,
}

impl<'s> Run<'s> {
    fn new(state: &'s AppState) -> Self {
        Self {
            state,
            next: 0,
            parsed: Vec::new(),
            report: IngestReport::default(),
            rejected: Rejections::default(),
            applied: 0,
        }
    }

    /// A piece of the body: an event (parsed now, its bytes released) or a refusal.
    fn piece(&mut self, piece: Piece<'_>, whole_bad: &mut Option<String>) {
        match event_value(piece) {
            Ok(item) => self.item(item),
            Err(reason) => *whole_bad = Some(reason),
        }
    }

    fn item(&mut self, item: Result<Value, String>) {
        let index = self.next;
        self.next += 1;
        match item.and_then(|v| parse_event(&v).map_err(|e| e.to_string())) {
            Ok(event) => self.parsed.push((index, event)),
            Err(error) => self.rejected.push(index, || error),
        }
    }

    fn refuse(&self, reason: String) -> IngestError {
        IngestError::Body {
            reason,
            applied: self.applied,
        }
    }

    /// Bind the chunk's events to their meetings and store them in one transaction.
    async fn flush(&mut self) -> Result<(), IngestError> {
        if self.parsed.is_empty() {
            return Ok(());
        }
        let applied = self.applied;
        let store_err = |error| IngestError::Store { error, applied };
        let parsed = std::mem::take(&mut self.parsed);
        let mut meetings: HashMap<String, Option<Arc<Meeting>>> = HashMap::new();
        let mut batch = Vec::with_capacity(parsed.len());
        let mut index_of = Vec::with_capacity(parsed.len());
        for (index, event) in parsed {
            if !meetings.contains_key(&event.meetingid) {
                let m = self
                    .state
                    .meeting(&event.meetingid)
                    .await
                    .map_err(store_err)?;
                meetings.insert(event.meetingid.clone(), m);
            }
            let meeting = meetings.get(&event.meetingid).and_then(Option::as_deref);
            match resolve(event, meeting) {
                Ok(resolved) => {
                    batch.push(resolved);
                    index_of.push(index);
                }
                Err(error) => self.rejected.push(index, || error.to_string()),
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        let outcomes = self
            .state
            .store()
            .ingest(&batch, self.state.now())
            .await
            .map_err(store_err)?;
        // The chunk may have started or ended meetings: their callbacks are due (SPEC §11).
        self.state.callbacks().wake();
        for (index, outcome) in index_of.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Accepted => {
                    self.report.accepted += 1;
                    self.applied += 1;
                }
                Outcome::Duplicate => {
                    self.report.duplicates += 1;
                    self.applied += 1;
                }
                Outcome::Rejected(reason) => self.rejected.push(index, || reason.to_string()),
            }
        }
        Ok(())
    }

    fn into_report(self) -> IngestReport {
        let mut report = self.report;
        self.rejected.into_report(&mut report);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_indices_are_kept_whatever_the_order_they_come_in() {
        let mut r = Rejections::default();
        let n = MAX_LISTED_REJECTIONS + 500;
        // Parsing refuses the odd indices in order, then the store the even ones.
        for i in (1..2 * n).step_by(2) {
            r.push(i, || format!("odd {i}"));
        }
        for i in (0..2 * n).step_by(2) {
            r.push(i, || format!("even {i}"));
        }
        let mut report = IngestReport::default();
        r.into_report(&mut report);
        let indices: Vec<usize> = report.rejected.iter().map(|x| x.index).collect();
        assert_eq!(indices, (0..MAX_LISTED_REJECTIONS).collect::<Vec<_>>());
        assert_eq!(report.rejected_omitted, 2 * n - MAX_LISTED_REJECTIONS);
        assert_eq!(report.rejected[1].error, "odd 1");
    }

    #[test]
    fn a_short_list_is_complete_and_says_nothing_was_left_out() {
        let mut r = Rejections::default();
        r.push(3, || "c".into());
        r.push(1, || "a".into());
        let mut report = IngestReport::default();
        r.into_report(&mut report);
        assert_eq!(report.rejected.len(), 2);
        assert_eq!(report.rejected[0].index, 1);
        let wire = serde_json::to_value(&report).unwrap();
        assert!(wire.get("rejected_omitted").is_none(), "{wire}");
    }
}
