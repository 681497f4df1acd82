//! The client side end to end: `rollcall-client`, `rollcall attendees`, `rollcall report`
//! and a WeCom SDK from PyPI, each against a real rollcall server (in-process on a random
//! port, over a temporary store, on a virtual clock) or, for failure modes a real server
//! will not produce on demand, a tiny stub.
//!
//! One test binary (linking the server once on a 2-core machine), modules per area.
//!
//! # Layout
//! - `harness`: `spawn_server()`, seeding through the admin and ingest APIs, the stub
//!   server, and running the built `rollcall`.
//! - `client`: token refresh, retries, the stream, the meeting calls.
//! - `attendees`: `rollcall attendees` in every format, `--follow`, refusals.
//! - `report`: `rollcall report`, and a headless Chromium screenshot of its chart.
//! - `python_sdk`: `examples/wecom_python_sdk/` with wechatpy against `rollcall serve --demo`.

mod attendees;
mod client;
mod harness;
mod python_sdk;
mod report;
