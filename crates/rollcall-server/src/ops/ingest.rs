//! The ingest pipeline (SPEC §5): parse → validate each event → bind to its meeting → store.

use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use rollcall_core::ingest::{parse_event, resolve, Outcome};
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

/// Apply a batch of raw events (each already split from the body, or a reason it could not be
/// read). Events are judged one by one; the good ones are stored in one transaction.
pub async fn ingest(
    state: &AppState,
    items: Vec<Result<Value, String>>,
) -> Result<IngestReport, StoreError> {
    let mut report = IngestReport::default();
    let mut rejected = Rejections::default();
    let mut meetings: HashMap<String, Option<Arc<Meeting>>> = HashMap::new();
    let mut batch = Vec::with_capacity(items.len());
    let mut index_of = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let event = match item.and_then(|v| parse_event(&v).map_err(|e| e.to_string())) {
            Ok(e) => e,
            Err(error) => {
                rejected.push(index, || error);
                continue;
            }
        };
        if !meetings.contains_key(&event.meetingid) {
            let m = state.meeting(&event.meetingid).await?;
            meetings.insert(event.meetingid.clone(), m);
        }
        let meeting = meetings.get(&event.meetingid).and_then(Option::as_deref);
        match resolve(event, meeting) {
            Ok(resolved) => {
                batch.push(resolved);
                index_of.push(index);
            }
            Err(error) => rejected.push(index, || error.to_string()),
        }
    }
    if !batch.is_empty() {
        let outcomes = state.store().ingest(&batch).await?;
        // The batch may have started or ended meetings: their callbacks are due (SPEC §11).
        state.callbacks().wake();
        for (index, outcome) in index_of.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Accepted => report.accepted += 1,
                Outcome::Duplicate => report.duplicates += 1,
                Outcome::Rejected(reason) => rejected.push(index, || reason.to_string()),
            }
        }
    }
    rejected.into_report(&mut report);
    Ok(report)
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
