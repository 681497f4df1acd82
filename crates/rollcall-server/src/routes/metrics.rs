//! `GET /metrics` (SPEC §7): the Prometheus scrape. No bearer key, as scrapers expect;
//! nothing in it names an id, a token or a user's input (see `crate::control::metrics`).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::control::metrics;
use crate::state::AppState;

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.controls().metrics.encode(),
    )
}
