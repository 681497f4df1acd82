//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, kept in the repository as
//! `crates/rollcall-server/openapi.json` and compiled in, so the served document is exactly
//! the one the API suite (`tests/api/openapi.rs`) checks against the server's real replies.
//! No key: it describes the API, it grants nothing.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The document, as committed.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub async fn openapi() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT)
}
