//! The rollcall HTTP server: WeCom-compatible `/cgi-bin/*`, the ingest API, the admin API.
//!
//! The router is built apart from serving it: [`router`] turns an [`AppState`] into an axum
//! `Router`, [`serve`] runs it on a listener until a shutdown future resolves. `main` passes
//! the real socket and a signal; tests bind port 0 and never sleep.
//!
//! Handlers are thin: extract, call the pure rules (`rollcall_core`) and the store through
//! the operations in [`ops`], map the result to the wire. WeCom's envelope (errcode/errmsg,
//! `hint: [request id]`, `Error-Code` / `Error-Msg` headers, the request log line) is applied
//! in one place, [`wecom`], for every `/cgi-bin/*` route.
//!
//! # Layout
//! - [`state`]: `AppState` (store, server secret, clock, id generator, caches) and `ServerConfig`.
//! - [`error`]: `ApiError` (WeCom errcodes) and `HttpError` (ingest / admin status codes).
//! - [`wecom`]: the `/cgi-bin` envelope middleware, the JSON body extractor, the reply type.
//! - [`auth`]: the `AppToken` extractor (access token → calling app) and bearer-key checks.
//! - [`ops`]: the operations handlers (and the demo) call: directory, meetings, ingest, listing.
//! - [`routes`]: one module per resource.
#![forbid(unsafe_code)]

use std::future::Future;

pub mod auth;
pub mod demo;
pub mod error;
pub mod ops;
pub mod routes;
pub mod state;
pub mod wecom;

pub use error::{ApiError, HttpError};
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
