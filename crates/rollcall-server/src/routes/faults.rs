//! `/admin/v1/faults` (SPEC §9): add, list and remove injected faults (this node's).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::AdminKey;
use crate::control::faults::{FaultSpec, Rule};
use crate::error::HttpError;
use crate::routes::admin::AdminJson;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/v1/faults",
            get(list).post(add).delete(clear).fallback(wrong_method),
        )
        .route(
            "/admin/v1/faults/{id}",
            delete(remove).fallback(wrong_method),
        )
}

/// `POST /admin/v1/faults` → 201 `{"id", …the rule}`.
async fn add(
    State(state): State<AppState>,
    _key: AdminKey,
    AdminJson(spec): AdminJson<FaultSpec>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    spec.validate().map_err(HttpError::bad_request)?;
    let rule = state.controls().faults.add(spec);
    let mut v = serde_json::to_value(&rule.spec).unwrap_or_default();
    v["id"] = json!(rule.id);
    Ok((StatusCode::CREATED, Json(v)))
}

/// `GET /admin/v1/faults` → `{"faults": [{…rule, "id", "hits", "remaining"}]}`.
async fn list(State(state): State<AppState>, _key: AdminKey) -> Json<Value> {
    let faults: Vec<Rule> = state.controls().faults.list();
    Json(json!({ "faults": faults }))
}

async fn clear(State(state): State<AppState>, _key: AdminKey) -> Json<Value> {
    state.controls().faults.clear();
    Json(json!({ "faults": [] }))
}

async fn remove(
    State(state): State<AppState>,
    _key: AdminKey,
    Path(id): Path<String>,
) -> Result<Json<Value>, HttpError> {
    if state.controls().faults.remove(&id) {
        Ok(Json(json!({ "id": id })))
    } else {
        Err(HttpError::new(
            StatusCode::NOT_FOUND,
            format!("no fault with id '{id}'"),
        ))
    }
}

async fn wrong_method() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "/admin/v1/faults takes GET, POST and DELETE; /admin/v1/faults/{id} takes DELETE",
    )
}
