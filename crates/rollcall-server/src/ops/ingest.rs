//! The ingest pipeline (SPEC §5): parse → validate each event → bind to its meeting → store.

use std::collections::HashMap;
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
    pub rejected: Vec<Rejection>,
}

/// One refused event, by its position in the request. `error` is the reason's text: a parse
/// or binding refusal as written, or a store's [`RejectReason`](rollcall_core::ingest::RejectReason)
/// as displayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub index: usize,
    pub error: String,
}

/// Apply a batch of raw events (each already split from the body, or a reason it could not be
/// read). Events are judged one by one; the good ones are stored in one transaction.
pub async fn ingest(
    state: &AppState,
    items: Vec<Result<Value, String>>,
) -> Result<IngestReport, StoreError> {
    let mut report = IngestReport::default();
    let mut meetings: HashMap<String, Option<Arc<Meeting>>> = HashMap::new();
    let mut batch = Vec::with_capacity(items.len());
    let mut index_of = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let event = match item.and_then(|v| parse_event(&v).map_err(|e| e.to_string())) {
            Ok(e) => e,
            Err(error) => {
                report.rejected.push(Rejection { index, error });
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
            Err(error) => report.rejected.push(Rejection {
                index,
                error: error.to_string(),
            }),
        }
    }
    if !batch.is_empty() {
        let outcomes = state.store().ingest(&batch).await?;
        for (index, outcome) in index_of.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Accepted => report.accepted += 1,
                Outcome::Duplicate => report.duplicates += 1,
                Outcome::Rejected(reason) => report.rejected.push(Rejection {
                    index,
                    error: reason.to_string(),
                }),
            }
        }
    }
    report.rejected.sort_by_key(|r| r.index);
    Ok(report)
}
