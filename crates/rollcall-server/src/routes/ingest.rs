//! `POST /ingest/v1/events` (SPEC §5): a JSON array or NDJSON of events, up to 64 MiB.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::Json;
use rollcall_core::ingest::split_events;

use crate::auth::IngestKey;
use crate::error::HttpError;
use crate::ops::ingest::{self, IngestReport};
use crate::state::AppState;
use crate::wecom::read_limited;

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
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body: Body = req.into_body();
    let bytes = read_limited(body, declared, MAX_INGEST_BODY)
        .await
        .map_err(|()| {
            HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is over 64 MiB; send smaller batches",
            )
        })?;
    let items = split_events(&bytes, ndjson).map_err(HttpError::bad_request)?;
    let report = ingest::ingest(&state, items).await?;
    state.controls().metrics.ingested(
        report.accepted,
        report.duplicates,
        report.rejected.len() + report.rejected_omitted,
    );
    Ok((StatusCode::OK, Json(report)))
}
