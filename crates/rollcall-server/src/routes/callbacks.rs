//! `GET /admin/v1/callbacks` (SPEC §11): each app's stored callback target and the outcome
//! of this node's URL verification of it. (Deliveries will be listed in the same reply.)

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

/// `{"apps": [{corpid, agentid, url, verified, error, checked_at}]}`: every stored target,
/// the same list on every node, with this node's verification of it.
async fn list(State(state): State<AppState>, _key: AdminKey) -> Result<Json<Value>, HttpError> {
    let apps = state.callbacks().statuses(&state).await?;
    Ok(Json(json!({ "apps": apps })))
}

async fn wrong_method() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "/admin/v1/callbacks takes GET",
    )
}
