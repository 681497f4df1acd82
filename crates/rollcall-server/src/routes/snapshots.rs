//! `/admin/v1/reset` and `/admin/v1/snapshots/*` (SPEC §9): thin handlers over
//! `ops::snapshots`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use rollcall_store::SnapshotInfo;

use crate::auth::AdminKey;
use crate::error::HttpError;
use crate::ops::snapshots;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/reset", post(reset).fallback(wrong_method))
        .route("/admin/v1/snapshots", get(list).fallback(wrong_method))
        .route(
            "/admin/v1/snapshots/{name}",
            post(save).delete(delete).fallback(wrong_method),
        )
        .route(
            "/admin/v1/snapshots/{name}/restore",
            post(restore).fallback(wrong_method),
        )
}

/// A snapshot on the wire: `{"name", "created_at", "meetings", "sessions"}`.
fn wire(s: &SnapshotInfo) -> Value {
    json!({
        "name": s.name,
        "created_at": s.created_at,
        "meetings": s.meetings,
        "sessions": s.sessions,
    })
}

async fn reset(State(state): State<AppState>, _key: AdminKey) -> Result<Json<Value>, HttpError> {
    snapshots::reset(&state).await?;
    Ok(Json(json!({ "reset": true })))
}

async fn save(
    State(state): State<AppState>,
    _key: AdminKey,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let info = snapshots::save(&state, &name).await?;
    Ok((StatusCode::CREATED, Json(wire(&info))))
}

async fn list(State(state): State<AppState>, _key: AdminKey) -> Result<Json<Value>, HttpError> {
    let all = snapshots::list(&state).await?;
    Ok(Json(
        json!({ "snapshots": all.iter().map(wire).collect::<Vec<_>>() }),
    ))
}

async fn restore(
    State(state): State<AppState>,
    _key: AdminKey,
    Path(name): Path<String>,
) -> Result<Json<Value>, HttpError> {
    Ok(Json(wire(&snapshots::restore(&state, &name).await?)))
}

async fn delete(
    State(state): State<AppState>,
    _key: AdminKey,
    Path(name): Path<String>,
) -> Result<Json<Value>, HttpError> {
    snapshots::delete(&state, &name).await?;
    Ok(Json(json!({ "deleted": name })))
}

async fn wrong_method() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed for this path",
    )
}
