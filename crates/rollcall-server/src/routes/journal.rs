//! `/admin/v1/requests` (SPEC §9): this node's request journal, newest first; `DELETE` clears.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::AdminKey;
use crate::control::{call_name, journal::Filter, CALLS};
use crate::error::HttpError;
use crate::state::AppState;

/// Entries answered when the query gives no `limit`.
const DEFAULT_LIMIT: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/admin/v1/requests",
        get(list).delete(clear).fallback(|| async {
            HttpError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "/admin/v1/requests takes GET and DELETE",
            )
        }),
    )
}

/// `?limit=N&path=P&errcode=E`, each optional; anything else is a 400 naming it.
fn filter(query: Option<&str>) -> Result<Filter, HttpError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| HttpError::bad_request(format!("invalid query: {e}")))?;
    let mut seen = HashMap::new();
    for (k, v) in pairs {
        if !["limit", "path", "errcode"].contains(&k.as_str()) {
            return Err(HttpError::bad_request(format!(
                "unknown query parameter '{k}' (give limit, path, errcode)"
            )));
        }
        seen.insert(k, v);
    }
    let limit = match seen.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            HttpError::bad_request(format!("limit must be a positive integer, not '{v}'"))
        })?,
    };
    let call = match seen.get("path") {
        None => None,
        Some(p) => Some(call_name(p).map(str::to_owned).ok_or_else(|| {
            HttpError::bad_request(format!(
                "unknown path '{p}': give one of {} (with or without /cgi-bin/)",
                CALLS.join(", ")
            ))
        })?),
    };
    let errcode = match seen.get("errcode") {
        None => None,
        Some(v) => Some(v.parse().map_err(|_| {
            HttpError::bad_request(format!("errcode must be an integer, not '{v}'"))
        })?),
    };
    Ok(Filter {
        limit,
        call,
        errcode,
    })
}

async fn list(
    State(state): State<AppState>,
    _key: AdminKey,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, HttpError> {
    let f = filter(query.as_deref())?;
    Ok(Json(
        json!({ "requests": state.controls().journal.query(&f) }),
    ))
}

async fn clear(State(state): State<AppState>, _key: AdminKey) -> Json<Value> {
    state.controls().journal.clear();
    Json(json!({ "requests": [] }))
}
