//! The API suite's harness: the test kit ([`rollcall_testkit`]) and the standard fixture
//! corp, under the names the suite uses.

#![allow(unused_imports)]

use serde_json::Value;

pub use rollcall_testkit::events::{join, join_as, quit, state};
pub use rollcall_testkit::fixtures::{
    standard, ADMIN_KEY, AGENT, CORP, DAY, DISABLED_SECRET, INGEST_KEY, NOAPI_AGENT, NOAPI_SECRET,
    NOW, OTHER_AGENT, OTHER_SECRET, SECRET,
};
pub use rollcall_testkit::replies::{errtext, expect_err};
pub use rollcall_testkit::store::{open_store, postgres_url, schema_for};
pub use rollcall_testkit::{spawn_app, CreatedMeeting, TestApp};

/// The fixture directory, as the admin API takes it:
/// ```text
/// 1 HQ (alice) ── 2 R&D ── 3 Platform (bob)
///              └─ 4 Sales (carol)
/// 5 Board (dave, erin)
/// ```
pub fn fixture_corp() -> Value {
    standard().to_json()
}

/// A server over an earlier server's data at `path`, on its clock (a restart).
pub async fn restart(path: &std::path::Path, clock: rollcall_core::clock::VirtualClock) -> TestApp {
    TestApp::builder()
        .data_at(path)
        .clock(clock)
        .unseeded()
        .spawn()
        .await
}
