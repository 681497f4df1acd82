//! rollcall's test kit: what the integration tests of every crate share. Dev-only
//! (`publish = false`, used only as a dev-dependency from `tests/`), like atuin's
//! `crates/tests-database`.
//!
//! [`spawn_app`] (or [`TestApp::builder`]) starts a real server in-process: a temporary store (SQLite, or
//! PostgreSQL with `ROLLCALL_TEST_STORE=postgres` and `TEST_POSTGRES_URL`, a schema per data
//! directory), 127.0.0.1 on a random port, a virtual clock, the fixture corp applied, and a
//! typed `rollcall-client`. The start-up itself is the published emulator's
//! (`rollcall_emulator::Server`), so there is one; this kit adds what only the workspace's
//! own suites need: the backend under test, data directories shared between servers
//! (restarts, nodes), store wrappers, and the fixture corp with the apps the refusals need.
//!
//! It uses only the server's public surface (`AppState`, `ServerConfig`, `serve`) and talks
//! to it over HTTP, so what a test sees is what a client sees.
//!
//! # Layout
//! - [`fixtures`]: the standard fixture corp with its constants, and the corp / app builders
//!   ([`fixtures::Directory`], [`fixtures::AppSpec`], the emulator's).
//! - [`events`]: ingest event builders (JSON, as the ingest API takes them).
//! - [`app`]: [`spawn_app`], [`TestApp`], its [`Spawn`] builder and the calls a test makes
//!   through it.
//! - [`replies`]: checks on WeCom replies (`errcode`, the errmsg's hint).
//! - [`store`]: the backend under test, a store from a URL, a schema per test directory.
//!
//! Store-level fixtures (meetings, events, scans as the `Store` trait takes them) live with
//! the contract suite, in `rollcall_store::suite::fixtures` (feature `suite`). This crate
//! does not enable that feature: it is a workspace member, and a workspace-wide
//! `cargo build` would otherwise compile the suite into the binary's `rollcall-store`.

pub mod app;
pub mod callbacks;
pub mod events;
pub mod fixtures;
pub mod replies;
pub mod store;

pub use app::{spawn_app, CreatedMeeting, CreatedSubMeeting, MainApp, Spawn, TestApp};
pub use fixtures::{DAY, NOW};
