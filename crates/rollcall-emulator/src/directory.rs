//! The corp / app / directory builders: a corp as the admin API (`POST /admin/v1/corps`) and
//! the config file's `[[corps]]` take it.
//!
//! Why JSON rather than the server's own `CorpSpec`: the JSON is the contract an operator
//! writes, so a corp built here is seeded exactly as one written by hand would be, and the
//! server's checks (unknown departments, cycles, unknown visible users) apply to it. Fields a
//! builder was not given are left out, so the server's defaults apply.
//!
//! # Layout
//! - [`Directory`]: a corp with its departments, users and apps.
//! - [`AppSpec`]: one app (secret, meeting API, visible range, enabled).

use serde_json::{json, Map, Value};

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

    /// A member of these departments.
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

    /// Disabled: `gettoken` answers 40001.
    pub fn disabled(mut self) -> Self {
        self.fields.insert("enabled".into(), json!(false));
        self
    }

    pub fn to_json(&self) -> Value {
        Value::Object(self.fields.clone())
    }
}
