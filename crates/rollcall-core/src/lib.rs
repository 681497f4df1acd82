//! rollcall's domain types and the pure rules that give WeCom's semantics.
//!
//! Nothing in this crate does I/O. The rules decide *what* a call returns (the time window,
//! the cursor, the visible range, `tmp_openid`, how an ingest event changes a session); the
//! server only extracts, calls these and the store, and maps the result to the wire. Because
//! they are plain functions over values they are tested exhaustively here, without a server.
//!
//! # Layout
//! - [`attendee`]: how a stored session is rendered on the wire.
//! - [`model`]: corps, apps, meetings, sessions, participants — the values everything passes.
//! - [`directory`]: the corp directory as configured (TOML or admin API) and its validation.
//! - [`callback`]: an app's callback settings (URL, token, EncodingAESKey), validated.
//! - [`delivery`]: how callbacks are delivered: WeCom's success rule, timeout, retries and
//!   backoff, and the events the meeting calls decide.
//! - [`visibility`]: an app's visible range (users, departments and all sub-departments).
//! - [`window`]: the `start_time` / `end_time` table of SPEC §3.
//! - [`cursor`]: authenticated, opaque pagination cursors (attendees, a member's meetings).
//! - [`crypto`]: the server secret, access tokens, `tmp_openid`, secret hashing.
//! - [`recurrence`]: the sub-meetings a recurring meeting's `reminders` generate.
//! - [`schedule`]: meeting status and per-person attendance aggregates.
//! - [`person_totals`]: those aggregates maintained at ingest (per-person deltas, merged
//!   closed spans) and read back exactly as [`schedule`] folds sessions.
//! - [`plan`]: what the meeting calls make of a request (sub-meetings, rescheduling, the
//!   window of get_user_meetingid).
//! - [`meeting_request`]: the meeting calls' request bodies → validated domain requests
//!   (field limits, `settings`, `reminders` → recurrence rule), refusals naming the field.
//! - [`new_meeting`]: a `NewMeeting` as stored (sub-meeting keys), for every backend.
//! - [`ingest`]: validation of ingest events, one by one, with a reason for each refusal,
//!   and binding an event to its meeting and sub-meeting.
//! - [`session`]: how join / quit / state events change an attendance session.
//! - [`apply`]: the ingest decisions of a whole batch over the state a backend loaded
//!   (duplicates, parked early events, refusals as [`ingest::RejectReason`]); backends only
//!   load and write.
//! - [`outbox`]: the callback outbox's values (a delivery to make, as stored, an attempt's
//!   outcome), written by the store with the change that causes them.
//! - [`clock`]: the `Clock` trait (system or virtual time).
//! - [`ids`]: generated identifiers, random or seeded for deterministic runs.
//! - [`snapshot`]: which snapshot names are allowed.
#![forbid(unsafe_code)]

pub mod apply;
pub mod attendee;
pub mod callback;
pub mod clock;
pub mod crypto;
pub mod cursor;
pub mod delivery;
pub mod directory;
pub mod ids;
pub mod ingest;
pub mod meeting_request;
pub mod model;
pub mod new_meeting;
pub mod outbox;
pub mod person_totals;
pub mod plan;
pub mod recurrence;
pub mod schedule;
pub mod session;
pub mod snapshot;
pub mod visibility;
pub mod window;

/// Seconds in a day; the window rules count in whole days of 86,400 s.
pub const DAY: i64 = 86_400;
