//! The router: one module per resource.
//!
//! Unknown paths answer 404 with an empty body, as WeCom does; `/cgi-bin/*` calls reached
//! with the wrong method answer errcode 40058.

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

use crate::control;
use crate::state::AppState;
use crate::wecom::{envelope, wrong_method};

pub mod admin;
mod callbacks;
mod faults;
pub mod health;
pub mod ingest;
mod journal;
pub mod meeting;
pub mod metrics;
pub mod openapi;
pub mod rate_limits;
pub mod snapshots;
pub mod token;

/// Build the whole router over `state`.
pub fn router(state: AppState) -> Router {
    let cgi = Router::new()
        .route(
            "/cgi-bin/gettoken",
            get(token::gettoken).fallback(wrong_method_get),
        )
        .route(
            "/cgi-bin/meeting/get_attendee_list",
            post(meeting::get_attendee_list).fallback(wrong_method),
        )
        .route(
            "/cgi-bin/meeting/create",
            post(meeting::create).fallback(wrong_method),
        )
        .route(
            "/cgi-bin/meeting/get_info",
            post(meeting::get_info).fallback(wrong_method),
        )
        .route(
            "/cgi-bin/meeting/update",
            post(meeting::update).fallback(wrong_method),
        )
        .route(
            "/cgi-bin/meeting/cancel",
            post(meeting::cancel).fallback(wrong_method),
        )
        .route(
            "/cgi-bin/meeting/get_user_meetingid",
            post(meeting::get_user_meetingid).fallback(wrong_method),
        )
        // Inner to outer: the controls' fault answer, the envelope, the controls' journal.
        .route_layer(middleware::from_fn(control::inject))
        .route_layer(middleware::from_fn_with_state(state.clone(), envelope))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            control::observe,
        ));
    let ingest = Router::new()
        .route(
            "/ingest/v1/events",
            post(ingest::events).fallback(post_only),
        )
        .route_layer(middleware::from_fn(control::inject))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            control::observe,
        ));
    Router::new()
        .merge(cgi)
        .merge(ingest)
        .merge(admin::routes())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::openapi))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::control::metrics::track,
        ))
        .with_state(state)
}

async fn wrong_method_get() -> crate::ApiError {
    crate::ApiError::Param40058("invalid param: this call only accepts GET")
}

/// The ingest and admin APIs' answer to a wrong method: 405 with a reason.
async fn post_only() -> crate::HttpError {
    crate::HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint only accepts POST",
    )
}
