//! The emulator crate's tests: one binary, a module per area.
//!
//! - `lifecycle`: the default emulator, what a drop and a shutdown leave behind.
//! - `builder`: each builder option reaches the server; bad settings fail the start.
//! - `ingest`: the typed ingest helper against the real ingest API.
//! - `readme`: the README's Rust example is the example file, to the byte.

mod builder;
mod ingest;
mod lifecycle;
mod readme;

use futures::TryStreamExt;
use rollcall_emulator::client::Attendee;
use rollcall_emulator::Emulator;

/// Every session of `meetingid` as the emulator's app sees it.
pub async fn attendees(emu: &Emulator, meetingid: &str) -> Vec<Attendee> {
    emu.client()
        .attendees(meetingid, None)
        .try_collect()
        .await
        .expect("attendees")
}

/// A raw `gettoken` of the emulator's corp with `secret`: the reply as JSON.
pub async fn gettoken(emu: &Emulator, corpid: &str, secret: &str) -> serde_json::Value {
    reqwest::get(format!(
        "{}/cgi-bin/gettoken?corpid={corpid}&corpsecret={secret}",
        emu.base_url()
    ))
    .await
    .expect("gettoken")
    .json()
    .await
    .expect("json")
}
