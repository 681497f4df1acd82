//! `/admin/v1/*` (SPEC §6): meetings and the directory, for operators and tests.

use axum::extract::{FromRequest, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use rollcall_core::directory::CorpSpec;

use crate::auth::AdminKey;
use crate::error::HttpError;
use crate::ops::admin_meetings::{self, AdminMeeting, CreatedMeeting};
use crate::ops::directory::apply_corp;
use crate::state::AppState;
use crate::wecom::read_limited;

/// Largest admin request body.
const MAX_ADMIN_BODY: usize = 16 << 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/v1/meetings",
            post(create_meeting).fallback(wrong_method),
        )
        .route("/admin/v1/corps", post(put_corp).fallback(wrong_method))
        .route(
            "/admin/v1/clock",
            axum::routing::get(get_clock)
                .post(set_clock)
                .fallback(wrong_method),
        )
        .merge(super::faults::routes())
        .merge(super::journal::routes())
        .route(
            "/admin/v1/rate_limits",
            axum::routing::get(super::rate_limits::get)
                .put(super::rate_limits::put)
                .fallback(wrong_method),
        )
        .merge(super::snapshots::routes())
        .merge(super::callbacks::routes())
}

/// A JSON body whose errors come back as `400 {"error": …}` naming the problem.
#[derive(Debug)]
pub struct AdminJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AdminJson<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, _: &S) -> Result<Self, HttpError> {
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = read_limited(req.into_body(), declared, MAX_ADMIN_BODY)
            .await
            .map_err(|()| {
                HttpError::new(StatusCode::PAYLOAD_TOO_LARGE, "the body is over 16 MiB")
            })?;
        serde_json::from_slice(&bytes)
            .map(AdminJson)
            .map_err(|e| HttpError::bad_request(format!("invalid body: {e}")))
    }
}

async fn create_meeting(
    State(state): State<AppState>,
    _key: AdminKey,
    AdminJson(req): AdminJson<AdminMeeting>,
) -> Result<(StatusCode, Json<CreatedMeeting>), HttpError> {
    let m = admin_meetings::create(&state, &req).await?;
    Ok((StatusCode::CREATED, Json(CreatedMeeting::from(&m))))
}

async fn put_corp(
    State(state): State<AppState>,
    _key: AdminKey,
    AdminJson(spec): AdminJson<CorpSpec>,
) -> Result<Json<Value>, HttpError> {
    apply_corp(&state, &spec).await?;
    Ok(Json(json!({ "corpid": spec.corpid })))
}

/// `GET /admin/v1/clock`: the server's now, and whether it is virtual.
async fn get_clock(State(state): State<AppState>, _key: AdminKey) -> Json<Value> {
    Json(json!({ "now": state.now(), "virtual": state.virtual_clock().is_some() }))
}

/// `POST /admin/v1/clock` body: set the virtual clock, or move it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    now: Option<i64>,
    advance_secs: Option<i64>,
}

/// `POST /admin/v1/clock`: `{"now": t}` or `{"advance_secs": n}` (SPEC §9). Token expiry,
/// meeting status and default windows all follow. Only on `--clock virtual`.
async fn set_clock(
    State(state): State<AppState>,
    _key: AdminKey,
    AdminJson(change): AdminJson<ClockChange>,
) -> Result<Json<Value>, HttpError> {
    let clock = state.virtual_clock().ok_or_else(|| {
        HttpError::new(
            StatusCode::CONFLICT,
            "the server runs on the system clock; start it with --clock virtual[:<unix secs>]",
        )
    })?;
    let target = match (change.now, change.advance_secs) {
        (Some(t), None) => Some(t),
        (None, Some(d)) => state.now().checked_add(d),
        _ => {
            return Err(HttpError::bad_request(
                "give exactly one of now, advance_secs",
            ))
        }
    };
    match target {
        Some(t) if (1..=i64::from(u32::MAX)).contains(&t) => {
            clock.set(t);
            Ok(Json(json!({ "now": t, "virtual": true })))
        }
        _ => Err(HttpError::bad_request(
            "the clock must stay within 1..=4294967295 (unix seconds)",
        )),
    }
}

/// A wrong method on the admin API: 405 with a reason.
async fn wrong_method() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint only accepts POST (GET and POST for /admin/v1/clock, GET and PUT for /admin/v1/rate_limits)",
    )
}
