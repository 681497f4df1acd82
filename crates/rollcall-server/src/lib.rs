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
//! - [`control`]: what every request passes through alike (per node, in memory): injected
//!   faults, the request journal, rate limits, metrics; one `reset()`.
//! - [`demo`]: `--demo`'s seeding, through the public HTTP surface in-process.
//! - `callback`: callbacks to apps (SPEC §11): this node's targets, URL verification.
//! - [`config`]: the config file (settings and corps) parsed, with `file:line` errors.
#![forbid(unsafe_code)]

use std::future::Future;

mod auth;
mod callback;
pub mod config;
pub mod control;
pub mod demo;
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
/// finish the requests in flight (idle keep-alive connections are closed at once).
///
/// Connections are served with hyper's HTTP/1 connection builder rather than `axum::serve`
/// so that a response marked by an injected `drop` fault becomes a service error, on which
/// hyper closes the connection without writing anything; hyper-util's `GracefulShutdown`
/// tracks the open connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::TokioIo;
    use tower::ServiceExt;

    let app = router(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: wait a little, as axum::serve does.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let app = app.clone();
                async move {
                    let resp = app
                        .oneshot(req.map(axum::body::Body::new))
                        .await
                        .unwrap_or_else(|never| match never {});
                    if resp.extensions().get::<control::Dropped>().is_some() {
                        return Err(std::io::Error::other(
                            "connection dropped by an injected fault",
                        ));
                    }
                    Ok(resp)
                }
            });
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
