//! The crate's one error type.

use crate::ingest::Rejected;

/// What can go wrong starting, driving or stopping an emulator.
///
/// The calls a test makes through the typed clients keep their own errors
/// ([`rollcall_client::Error`], [`rollcall_client::admin::AdminError`]); this type wraps them
/// when a helper of the handle makes such a call, so a helper's `?` works in a test returning
/// `Result<(), Box<dyn Error>>` and its message says which layer failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server could not start: the temporary directory, the port, the store.
    #[error("starting the emulator: {0}")]
    Start(String),
    /// A builder setting the server refuses (a corp that does not validate, a zero rate
    /// limit, an unknown time zone), with the server's reason.
    #[error("emulator setting: {0}")]
    Config(String),
    /// An admin call made by a helper failed.
    #[error("admin API: {0}")]
    Admin(#[from] rollcall_client::admin::AdminError),
    /// The ingest API refused the whole request (HTTP status and its reason).
    #[error("ingest API: HTTP {status}: {reason}")]
    Ingest { status: u16, reason: String },
    /// The ingest API accepted the request but refused some events.
    #[error("ingest API refused {} event(s): {}", .0.len(), describe(.0))]
    Rejected(Vec<Rejected>),
    /// [`crate::Ingest::quit`] for a member with no session it opened in that meeting.
    #[error("no open session of {userid:?} in meeting {meetingid:?} (join first)")]
    NoOpenSession { meetingid: String, userid: String },
    /// A request got no HTTP answer, or an answer that was not the expected JSON.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server task failed or panicked while stopping.
    #[error("stopping the emulator: {0}")]
    Stop(String),
}

fn describe(rejected: &[Rejected]) -> String {
    rejected
        .iter()
        .map(|r| format!("#{}: {}", r.index, r.error))
        .collect::<Vec<_>>()
        .join("; ")
}
