//! The operations behind the routes, callable without HTTP (the demo seeds through them).
//!
//! Each takes already-parsed input, applies the pure rules of `rollcall_core` and talks to
//! the store. They return the server's error types so handlers stay one-line `?` chains.

pub mod attendees;
pub mod directory;
pub mod ingest;
pub mod meeting_calls;
pub mod meetings;
pub mod tokens;
