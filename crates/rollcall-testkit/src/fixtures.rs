//! The standard fixture corp of the workspace's tests, and the corp / app builders.
//!
//! The builders ([`Directory`], [`AppSpec`]) are the emulator crate's, re-exported: one
//! builder for the emulator's users and the workspace's own tests. The fixture corp differs
//! from the emulator's standard corp on purpose: its apps cover the refusals the API suite
//! checks (no meeting API, disabled, a partial visible range).
//!
//! # Layout
//! - [`Directory`], [`AppSpec`]: from `rollcall_emulator::directory`.
//! - [`standard`] and its constants ([`CORP`], [`AGENT`], [`SECRET`], …).

pub use rollcall_emulator::directory::{AppSpec, Directory};

/// The virtual clock starts here by default (2025-10-09T08:53:20Z, 16:53:20 in Shanghai).
pub const NOW: i64 = 1_760_000_000;
pub const DAY: i64 = 86_400;

/// The standard corp.
pub const CORP: &str = "wwtestcorp000001";
/// The main app: meeting API on, sees department 2 (and its sub-department 3) and carol.
pub const AGENT: u32 = 1_000_002;
pub const SECRET: &str = "secret-attendance-app";
/// An app without the meeting API (48002).
pub const NOAPI_AGENT: u32 = 1_000_003;
pub const NOAPI_SECRET: &str = "secret-no-meeting-api";
/// Another app with the meeting API, seeing department 1 and all below.
pub const OTHER_AGENT: u32 = 1_000_004;
pub const OTHER_SECRET: &str = "secret-other-app";
/// A disabled app.
pub const DISABLED_AGENT: u32 = 1_000_005;
pub const DISABLED_SECRET: &str = "secret-disabled-app";

/// The default bearer keys of the ingest and admin APIs.
pub const INGEST_KEY: &str = "test-ingest-key";
pub const ADMIN_KEY: &str = "test-admin-key";

/// The standard fixture corp, [`CORP`]:
/// ```text
/// 1 HQ (alice) ── 2 R&D ── 3 Platform (bob)
///              └─ 4 Sales (carol)
/// 5 Board (dave, erin)
/// ```
/// Apps: [`AGENT`] (sees R&D and Platform, plus carol), [`NOAPI_AGENT`] (no meeting API),
/// [`OTHER_AGENT`] (sees HQ and below), and a disabled one.
pub fn standard() -> Directory {
    Directory::new(CORP, "Test Corp")
        .department(1, "HQ", 0)
        .department(2, "R&D", 1)
        .department(3, "Platform", 2)
        .department(4, "Sales", 1)
        .department(5, "Board", 0)
        .user("alice", "Alice", &[1])
        .user("bob", "Bob", &[3])
        .user("carol", "Carol", &[4])
        .user("dave", "Dave", &[5])
        .user("erin", "Erin", &[5])
        .app(
            AppSpec::new(AGENT, "Attendance", SECRET)
                .meeting_api()
                .sees_departments(&[2])
                .sees_users(&["carol"]),
        )
        .app(AppSpec::new(NOAPI_AGENT, "No API", NOAPI_SECRET).sees_departments(&[1]))
        .app(
            AppSpec::new(OTHER_AGENT, "Other", OTHER_SECRET)
                .meeting_api()
                .sees_departments(&[1]),
        )
        .app(
            AppSpec::new(DISABLED_AGENT, "Disabled", DISABLED_SECRET)
                .meeting_api()
                .disabled(),
        )
}
