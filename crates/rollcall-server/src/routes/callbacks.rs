//! `GET /admin/v1/callbacks` (SPEC §11): each app's callback target on this node and the
//! outcome of its URL verification. (Deliveries will be listed in the same reply.)

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::AdminKey;
use crate::error::HttpError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/v1/callbacks", get(list).fallback(wrong_method))
}

/// `{"apps": [{corpid, agentid, url, verified, error, checked_at}]}`.
async fn list(State(state): State<AppState>, _key: AdminKey) -> Json<Value> {
    Json(json!({ "apps": state.callbacks().statuses() }))
}

async fn wrong_method() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "/admin/v1/callbacks takes GET",
    )
}
