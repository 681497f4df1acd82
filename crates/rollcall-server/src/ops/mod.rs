//! The operations behind the routes, callable without HTTP.
//!
//! Each takes already-parsed input (and, for the WeCom calls, the [`caller::Caller`]),
//! applies the pure rules of `rollcall_core` and talks to the store. They return domain errors
//! ([`error`]), which `crate::error` maps to the wire, so handlers stay one-line `?` chains.
//!
//! # Layout
//! - [`caller`]: who calls (app, corp directory, visible range).
//! - [`access`]: the checks the meeting calls share (readable / pending meeting, members).
//! - [`meeting`]: the WeCom meeting calls, one module per call.
//! - [`error`]: what the operations refuse, in the domain's terms.
//! - [`tokens`]: the `gettoken` call.
//! - [`admin_meetings`]: meetings made through the admin API.
//! - [`directory`]: corps applied from a spec (config file or admin API).
//! - [`ingest`]: the ingest pipeline.
//! - [`snapshots`]: reset and named snapshots (SPEC §9).

pub mod access;
pub mod admin_meetings;
pub mod caller;
pub mod directory;
pub mod error;
pub mod ingest;
pub mod meeting;
pub mod snapshots;
pub mod tokens;
