//! `GET` / `PUT /admin/v1/rate_limits` (SPEC §9): the rate limits in force, changed at run
//! time. `PUT` replaces the whole setting: a missing `per_minute` is the default (6000),
//! missing `calls` means no overrides. Zero, negative, fractional or unknown-call values
//! answer 400 with the reason. Per node: each node keeps its own limits and buckets.

use axum::extract::State;
use axum::Json;

use crate::auth::AdminKey;
use crate::control::RateLimits;
use crate::error::HttpError;
use crate::routes::admin::AdminJson;
use crate::state::AppState;

/// `GET /admin/v1/rate_limits`: `{"per_minute": n, "calls": {call: n}}`.
pub async fn get(State(state): State<AppState>, _key: AdminKey) -> Json<RateLimits> {
    Json(state.controls().rate_limits.get())
}

/// `PUT /admin/v1/rate_limits`: in force at once; answers the new setting.
pub async fn put(
    State(state): State<AppState>,
    _key: AdminKey,
    AdminJson(limits): AdminJson<RateLimits>,
) -> Result<Json<RateLimits>, HttpError> {
    state.controls().rate_limits.set(limits.clone());
    Ok(Json(limits))
}
