//! The corp / app / directory builders, and the standard fixture corp.
//!
//! A corp is built as the admin API takes it (`POST /admin/v1/corps`), so a test seeds a
//! server exactly as an operator would. Fields a builder was not given are left out of the
//! JSON, so the server's defaults apply.
//!
//! # Layout
//! - [`Directory`]: a corp with its departments, users and apps.
//! - [`AppSpec`]: one app (secret, meeting API, visible range, enabled).
//! - [`standard`] and its constants ([`CORP`], [`AGENT`], [`SECRET`], …).

use serde_json::{json, Map, Value};

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

/// A corp as the admin API takes it.
#[derive(Debug, Clone)]
pub struct Directory {
    corpid: String,
    name: String,
    departments: Vec<Value>,
    users: Vec<Value>,
    apps: Vec<Value>,
}

impl Directory {
    pub fn new(corpid: &str, name: &str) -> Self {
        Self {
            corpid: corpid.to_owned(),
            name: name.to_owned(),
            departments: Vec::new(),
            users: Vec::new(),
            apps: Vec::new(),
        }
    }

    /// A department under `parent` (0: a root).
    pub fn department(mut self, id: u32, name: &str, parent: u32) -> Self {
        self.departments
            .push(json!({"id": id, "name": name, "parent": parent}));
        self
    }

    pub fn user(mut self, userid: &str, name: &str, departments: &[u32]) -> Self {
        self.users
            .push(json!({"userid": userid, "name": name, "departments": departments}));
        self
    }

    pub fn app(mut self, app: AppSpec) -> Self {
        self.apps.push(app.to_json());
        self
    }

    pub fn corpid(&self) -> &str {
        &self.corpid
    }

    /// The body of `POST /admin/v1/corps`.
    pub fn to_json(&self) -> Value {
        json!({
            "corpid": self.corpid,
            "name": self.name,
            "departments": self.departments,
            "users": self.users,
            "apps": self.apps,
        })
    }
}

/// One app of a [`Directory`].
#[derive(Debug, Clone)]
pub struct AppSpec {
    fields: Map<String, Value>,
}

impl AppSpec {
    /// An app with the meeting API off, seeing nobody, enabled.
    pub fn new(agentid: u32, name: &str, secret: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("agentid".into(), json!(agentid));
        fields.insert("name".into(), json!(name));
        fields.insert("secret".into(), json!(secret));
        fields.insert("meeting_api".into(), json!(false));
        Self { fields }
    }

    /// With the meeting API (without it, calls answer 48002).
    pub fn meeting_api(mut self) -> Self {
        self.fields.insert("meeting_api".into(), json!(true));
        self
    }

    /// Sees these departments and everything below them.
    pub fn sees_departments(mut self, ids: &[u32]) -> Self {
        self.fields.insert("visible_departments".into(), json!(ids));
        self
    }

    /// Sees these users by name.
    pub fn sees_users(mut self, userids: &[&str]) -> Self {
        self.fields.insert("visible_users".into(), json!(userids));
        self
    }

    pub fn disabled(mut self) -> Self {
        self.fields.insert("enabled".into(), json!(false));
        self
    }

    pub fn to_json(&self) -> Value {
        Value::Object(self.fields.clone())
    }
}

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
