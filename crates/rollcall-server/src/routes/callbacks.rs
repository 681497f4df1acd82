//! `GET /admin/v1/callbacks` (SPEC §11): each app's stored callback target with the outcome
//! of this node's URL verification of it, and the outbox's deliveries, newest first.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use rollcall_callback::event::EVENT_MEETING_CHANGE;
use rollcall_core::outbox::{Delivery, DeliveryState};
use serde::Serialize;
use serde_json::{json, Value};

use crate::auth::AdminKey;
use crate::error::HttpError;
use crate::state::AppState;

/// Deliveries listed when the query gives no `limit`.
const DEFAULT_LIMIT: u32 = 100;
/// The most listed at once (the store keeps more history than a page needs).
const MAX_LIMIT: u32 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/v1/callbacks", get(list).fallback(wrong_method))
}

/// One delivery as listed: the event, where it goes, and how its delivery went.
#[derive(Debug, Serialize)]
struct DeliveryView<'a> {
    id: i64,
    corpid: &'a str,
    agentid: u32,
    meetingid: &'a str,
    /// `meeting_change` (WeCom's `Event`), with the `ChangeType` beside it.
    event: &'static str,
    change_type: &'a str,
    from_user: &'a str,
    create_time: i64,
    /// `pending`, `delivered` or `failed` (given up after the last attempt).
    state: &'static str,
    attempts: u32,
    last_status: Option<u16>,
    last_error: Option<&'a str>,
    /// Wall-clock unix milliseconds of the next attempt; `null` once finished.
    next_attempt_at_ms: Option<i64>,
    finished_at: Option<i64>,
}

impl<'a> From<&'a Delivery> for DeliveryView<'a> {
    fn from(d: &'a Delivery) -> Self {
        let state = match d.state {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        };
        Self {
            id: d.id,
            corpid: &d.event.corpid,
            agentid: d.event.agentid,
            meetingid: &d.event.meetingid,
            event: EVENT_MEETING_CHANGE,
            change_type: &d.event.change_type,
            from_user: &d.event.from_user,
            create_time: d.event.create_time,
            state,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error.as_deref(),
            next_attempt_at_ms: (d.state == DeliveryState::Pending).then_some(d.next_attempt_at_ms),
            finished_at: d.finished_at,
        }
    }
}

/// `?limit=N` (1..=1000, default 100); anything else is a 400 naming it.
fn limit(query: Option<&str>) -> Result<u32, HttpError> {
    let pairs: HashMap<String, String> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| HttpError::bad_request(format!("invalid query: {e}")))?;
    if let Some(k) = pairs.keys().find(|k| k.as_str() != "limit") {
        return Err(HttpError::bad_request(format!(
            "unknown query parameter '{k}' (give limit)"
        )));
    }
    match pairs.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                HttpError::bad_request(format!(
                    "limit must be an integer in 1..={MAX_LIMIT}, not '{v}'"
                ))
            }),
    }
}

/// `{"apps": [{corpid, agentid, url, verified, error, checked_at}], "deliveries": [...]}`:
/// every stored target, the same list on every node, with this node's verification of it;
/// the newest `limit` deliveries (the same on every node: they are stored).
async fn list(
    State(state): State<AppState>,
    _key: AdminKey,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, HttpError> {
    let limit = limit(query.as_deref())?;
    let apps = state.callbacks().statuses(&state).await?;
    let deliveries = state.store().deliveries(limit).await?;
    let deliveries: Vec<DeliveryView<'_>> = deliveries.iter().map(DeliveryView::from).collect();
    Ok(Json(json!({ "apps": apps, "deliveries": deliveries })))
}

async fn wrong_method() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "/admin/v1/callbacks takes GET",
    )
}
