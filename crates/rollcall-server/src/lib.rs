//! The rollcall HTTP server: WeCom-compatible `/cgi-bin/*`, the ingest API, the admin API.
//!
//! The router is built apart from serving it: [`router`] turns an [`AppState`] into an axum
//! `Router`, [`serve`] runs it on a listener until a shutdown future resolves. `main` passes
//! the real socket and a signal; tests bind port 0 and never sleep. Start-up applies the
//! configured corps with [`apply_corp`]. Everything else is private to this crate.
//!
//! Handlers are thin: extract, call the operations in `ops` (which apply the pure rules of
//! `rollcall_core` and talk to the store), map the result to the wire. WeCom's envelope
//! (errcode/errmsg, `hint: [request id]`, `Error-Code` / `Error-Msg` headers, the request log
//! line) is applied in one place, `wecom`, for every `/cgi-bin/*` route.
//!
//! # Layout
//! - `state`: `AppState` (store, server secret, clock, id generator, caches) and `ServerConfig`.
//! - `error`: `ApiError` (WeCom errcodes) and `HttpError` (ingest / admin status codes).
//! - `wecom`: the `/cgi-bin` envelope middleware, the JSON body extractor, the reply type.
//! - `auth`: the `AppToken` extractor (access token → calling app) and bearer-key checks.
//! - `ops`: the operations handlers call, over a domain `Caller` rather than HTTP types:
//!   meeting calls (one module per call), access checks, tokens, directory, ingest, admin.
//! - `routes`: one module per resource.
//! - [`config`]: the config file (settings and corps) parsed, with `file:line` errors.
#![forbid(unsafe_code)]

use std::future::Future;

mod auth;
pub mod config;
mod error;
mod ops;
mod routes;
mod state;
mod wecom;

pub use error::{ApiError, HttpError};
pub use ops::directory::{apply_corp, ApplyError};
pub use routes::router;
pub use state::{AppState, ServerConfig};

/// Serve `state`'s router on `listener` until `shutdown` resolves, then stop accepting and
/// finish the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// What the binary's demo seeding and benchmark still reach inside the server. Not an API:
/// the demo moves into this crate and the benchmark out of the binary (issue 8), and this
/// module goes with them.
#[doc(hidden)]
pub mod internal {
    use rollcall_core::meeting_request::CreateRequest;
    use rollcall_core::model::{AppRef, Meeting};
    use serde_json::{Map, Value};

    pub use crate::ops::admin_meetings::{AdminMeeting, SubMeetingSpec};
    use crate::ops::caller::Caller;
    pub use crate::ops::ingest::{ingest, IngestReport};
    use crate::{ApiError, AppState, HttpError};

    /// `POST /admin/v1/meetings`, without HTTP.
    pub async fn create_admin_meeting(
        state: &AppState,
        req: &AdminMeeting,
    ) -> Result<Meeting, HttpError> {
        Ok(crate::ops::admin_meetings::create(state, req).await?)
    }

    /// `meeting/create` on behalf of `app`, the body read and checked by the same code as the
    /// HTTP call; the new meeting's meetingid.
    pub async fn create_meeting_as(
        state: &AppState,
        app: AppRef,
        body: &Map<String, Value>,
    ) -> Result<String, ApiError> {
        let corp = state
            .corp(&app.corpid)
            .await?
            .ok_or(ApiError::Code(rollcall_wire::errcode::INVALID_CORPID))?;
        let caller =
            Caller::new(corp, app).ok_or(ApiError::Code(rollcall_wire::errcode::INVALID_CORPID))?;
        let req = CreateRequest::try_from(body)?;
        let created = crate::ops::meeting::create::create(state, &caller, &req).await?;
        Ok(created.meetingid)
    }
}
