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
//! - `conn`: [`serve`]: hyper's HTTP/1 per connection with the HTTP layer's limits
//!   ([`HttpLimits`]: header, body and idle timeouts, a connection cap) and the `drop` fault.
//! - [`control`]: what every request passes through alike (per node, in memory): injected
//!   faults, the request journal, rate limits, metrics; one `reset()`.
//! - [`demo`]: `--demo`'s seeding, through the public HTTP surface in-process.
//! - `dedupe`: the dedupe window ([`DedupeWindow`]) and its background pruner.
//! - `callback`: callbacks to apps (SPEC §11): the stored targets, this node's URL checks.
//! - [`config`]: the config file (settings and corps) parsed, with `file:line` errors.
#![forbid(unsafe_code)]

mod auth;
mod callback;
pub mod config;
mod conn;
pub mod control;
mod dedupe;
pub mod demo;
mod error;
mod ops;
mod routes;
mod state;
mod wecom;

pub use conn::{serve, HttpLimits};
pub use dedupe::{DedupeWindow, DEFAULT_PRUNE_EVERY, DEFAULT_WINDOW};
pub use error::{ApiError, HttpError};
pub use ops::directory::{apply_corp, ApplyError};
pub use routes::router;
pub use state::{AppState, ServerConfig, CACHE_TTL};
