//! An in-process WeCom meeting API for your tests: rollcall started in one line, the way the
//! `wiremock` crate's `MockServer::start().await` is.
//!
//! Why it exists: a test of a WeCom integration needs a server that answers exactly as
//! WeCom does, with a directory of people, an app with known credentials, attendance that
//! the test controls and a clock it can move. Starting the `rollcall` binary for that means
//! a free port, a config file and a process to clean up; [`Emulator::start`] does it inside
//! the test: a fresh SQLite store in a temporary directory, 127.0.0.1 on a port the OS
//! picks, the virtual clock at [`START`], and the standard corp ([`standard`]) seeded.
//! Dropping the handle stops the server and deletes the directory.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use rollcall_emulator::{Emulator, LISI, START};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = Emulator::start().await;
//! let meeting = emu.create_meeting("Weekly sync", START - 600, 3600).await?;
//! emu.ingest().join(&meeting.meetingid, LISI, START - 300).await?;
//!
//! // Your code under test gets the base URL and the credentials, or a ready client.
//! let attendees: Vec<_> = emu.client().attendees(&meeting.meetingid, None).try_collect().await?;
//! assert_eq!(attendees[0].userid, LISI);
//! # Ok(()) }
//! ```
//!
//! The handle also carries the typed admin API ([`Emulator::admin`]: faults that answer with
//! WeCom's own errcodes, the request journal, rate limits, reset, snapshots) and a typed
//! ingest helper ([`Emulator::ingest`]). [`Emulator::builder`] changes the clock's start,
//! seeds the ids (`--seed`), adds apps and corps, and sets the server's token lifetime,
//! journal size and rate limits.
//!
//! # Layout
//! - [`Emulator`], [`EmulatorBuilder`], [`Credentials`]: the handle and how to start one.
//! - [`standard`]: the standard corp and its constants ([`CORPID`], [`AGENTID`],
//!   [`SECRET`], the userids, [`START`], the keys).
//! - [`directory`]: [`Directory`] and [`AppSpec`], to build other corps and apps.
//! - [`ingest`]: [`Ingest`] and [`Event`], attendance as a meeting platform reports it.
//! - [`server`]: [`Server`], the start-up itself over any store, shared with the workspace's
//!   test kit.
//! - [`Error`]: the one error type.
#![forbid(unsafe_code)]

pub mod directory;
mod emulator;
mod error;
pub mod ingest;
pub mod server;
pub mod standard;

pub use directory::{AppSpec, Directory};
pub use emulator::{Credentials, Emulator, EmulatorBuilder};
pub use error::Error;
pub use ingest::{Event, Ingest, IngestReport, Participant};
pub use server::{Server, ServerOptions};
pub use standard::{
    ADMIN_KEY, AGENTID, CORPID, INGEST_KEY, LISI, SECRET, START, USERIDS, WANGWU, ZHANGSAN, ZHAOLIU,
};

/// The typed clients the handle hands out, so a test needs no second dependency line.
pub use rollcall_client as client;
