//! API tests: every rule of SPEC §1–§3, §5, §6 through a real server on a random port.
//!
//! One test binary (modules below) sharing one harness, the test kit's `TestApp` (through
//! [`helpers::spawn_app`]): a fresh temp-dir store (or a PostgreSQL schema with
//! `ROLLCALL_TEST_STORE=postgres`), a server on 127.0.0.1:0 on a virtual clock, the typed
//! client. Raw HTTP is used where the point is malformed input or the exact wire bytes.

mod admin;
mod admin_client;
mod attendees;
mod bounds;
mod callback_delivery;
mod callbacks;
mod concurrency;
mod faults;
mod fidelity;
mod gettoken;
mod helpers;
mod http_limits;
mod ingest;
mod journal;
mod meetings;
mod metrics;
mod nodes;
mod openapi;
mod oracle;
mod outage;
mod pagination;
mod rate_limits;
mod snapshots;
mod wire;
