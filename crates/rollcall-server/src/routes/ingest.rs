//! `POST /ingest/v1/events` (SPEC §5): a JSON array or NDJSON of events, up to 64 MiB,
//! read as a stream (`ops::ingest::ingest_body`): the body is never held whole.

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::Json;

use crate::auth::IngestKey;
use crate::error::HttpError;
use crate::ops::ingest::{self, IngestReport};
use crate::state::AppState;

/// Largest ingest body.
pub const MAX_INGEST_BODY: usize = 64 << 20;

pub async fn events(
    State(state): State<AppState>,
    _key: IngestKey,
    req: Request,
) -> Result<(StatusCode, Json<IngestReport>), HttpError> {
    let ndjson = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/x-ndjson") || v.starts_with("application/jsonl")
        });
    let declared: Option<u64> = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > MAX_INGEST_BODY as u64) {
        return Err(HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is over 64 MiB; send smaller batches",
        ));
    }
    let body = req.into_body().into_data_stream();
    let report = ingest::ingest_body(&state, body, ndjson, MAX_INGEST_BODY).await?;
    state.controls().metrics.ingested(
        report.accepted,
        report.duplicates,
        report.rejected.len() + report.rejected_omitted,
    );
    Ok((StatusCode::OK, Json(report)))
}
