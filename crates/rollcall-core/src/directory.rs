//! The corp directory as configured (TOML file or admin API) and its validation.
//!
//! Configuration is *create or update*: applying a [`CorpSpec`] upserts the corp, its
//! departments, users and apps by key and never deletes. [`merge`] is that rule as a pure
//! function: it folds a spec into what is stored and validates the result as a whole, so the
//! store only ever holds a consistent directory. Errors say which element is wrong
//! ([`Location`]) so the config loader can point at the file's line.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

use crate::callback::{self, AppCallback, CallbackFields, SettingsError};
use crate::crypto::hash_secret;
use crate::model::{App, Corp, Department, User};

/// One `[[corps]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpSpec {
    pub corpid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub departments: Vec<Department>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub apps: Vec<AppSpec>,
}

/// One `[[corps.apps]]` entry. The secret is hashed as soon as it is merged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub agentid: u32,
    #[serde(default)]
    pub name: String,
    pub secret: String,
    /// Listed in 可调用接口的应用.
    #[serde(default)]
    pub meeting_api: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub visible_departments: Vec<u32>,
    #[serde(default)]
    pub visible_users: Vec<String>,
    /// Where rollcall sends this app's meeting events (SPEC §11); with the two below, or
    /// none of the three. See [`crate::callback`] for the rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// The Token the callbacks are signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_token: Option<String>,
    /// The 43-character EncodingAESKey the callbacks are encrypted with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_aes_key: Option<String>,
}

impl AppSpec {
    /// The app's validated callback settings (`None`: it has none), or why they are wrong.
    pub fn callback(&self) -> Result<Option<AppCallback>, SettingsError> {
        callback::parse(
            self.agentid,
            CallbackFields {
                url: self.callback_url.as_deref(),
                token: self.callback_token.as_deref(),
                aes_key: self.callback_aes_key.as_deref(),
            },
        )
    }
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for AppSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSpec")
            .field("agentid", &self.agentid)
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .field("meeting_api", &self.meeting_api)
            .field("enabled", &self.enabled)
            .field("visible_departments", &self.visible_departments)
            .field("visible_users", &self.visible_users)
            .field("callback_url", &self.callback_url)
            .field(
                "callback_token",
                &self.callback_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "callback_aes_key",
                &self.callback_aes_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Which element of a [`CorpSpec`] an error is about (indexes into the spec's lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Corp,
    Department(usize),
    User(usize),
    App(usize),
}

/// A directory that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DirectoryError {
    pub at: Location,
    pub message: String,
}

fn err(at: Location, message: impl Into<String>) -> DirectoryError {
    DirectoryError {
        at,
        message: message.into(),
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Fold `spec` into `existing` (create or update, never delete) and validate the result.
pub fn merge(existing: Option<&Corp>, spec: &CorpSpec) -> Result<Corp, DirectoryError> {
    if !valid_id(&spec.corpid) {
        return Err(err(
            Location::Corp,
            format!(
                "corpid {:?} must be 1..=64 printable ASCII characters",
                spec.corpid
            ),
        ));
    }
    let mut corp = existing.cloned().unwrap_or_else(|| Corp {
        corpid: spec.corpid.clone(),
        name: String::new(),
        departments: vec![],
        users: vec![],
        apps: vec![],
    });
    if !spec.name.is_empty() {
        corp.name = spec.name.clone();
    }

    // Duplicates within the spec itself are mistakes, not updates.
    let mut seen = HashSet::new();
    for (i, d) in spec.departments.iter().enumerate() {
        if d.id == 0 {
            return Err(err(
                Location::Department(i),
                "department id 0 is reserved for \"top level\"",
            ));
        }
        if !seen.insert(d.id) {
            return Err(err(
                Location::Department(i),
                format!("duplicate department id {}", d.id),
            ));
        }
        upsert(&mut corp.departments, d.clone(), |x| x.id == d.id);
    }
    let mut seen = HashSet::new();
    for (i, u) in spec.users.iter().enumerate() {
        if !valid_id(&u.userid) {
            return Err(err(
                Location::User(i),
                format!(
                    "userid {:?} must be 1..=64 printable ASCII characters",
                    u.userid
                ),
            ));
        }
        if !seen.insert(u.userid.as_str()) {
            return Err(err(
                Location::User(i),
                format!("duplicate userid {:?}", u.userid),
            ));
        }
        upsert(&mut corp.users, u.clone(), |x| x.userid == u.userid);
    }
    let mut seen = HashSet::new();
    for (i, a) in spec.apps.iter().enumerate() {
        if !seen.insert(a.agentid) {
            return Err(err(
                Location::App(i),
                format!("duplicate agentid {}", a.agentid),
            ));
        }
        if a.secret.is_empty() || a.secret.len() > 256 {
            return Err(err(
                Location::App(i),
                format!("app {} needs a secret of 1..=256 bytes", a.agentid),
            ));
        }
        // Validated here so a bad key is refused before anything is stored (the config
        // file names its line, the admin API answers 400). Like every other field of the
        // app, the callback comes from the spec as a whole: an app listed without the
        // three settings has no callback any more (an app spec replaces the app, it is
        // not a patch), and an app not listed keeps its own.
        let callback = a
            .callback()
            .map_err(|why| err(Location::App(i), why.message))?;
        let app = App {
            agentid: a.agentid,
            name: a.name.clone(),
            secret_hash: hash_secret(&a.secret),
            meeting_api: a.meeting_api,
            enabled: a.enabled,
            visible_departments: a.visible_departments.clone(),
            visible_users: a.visible_users.clone(),
            callback,
        };
        upsert(&mut corp.apps, app, |x| x.agentid == a.agentid);
    }

    // Validate the merged whole, blaming the spec's element where it has one.
    let depts: HashMap<u32, u32> = corp.departments.iter().map(|d| (d.id, d.parent)).collect();
    let dept_at = |id: u32| {
        spec.departments
            .iter()
            .position(|d| d.id == id)
            .map_or(Location::Corp, Location::Department)
    };
    for d in &corp.departments {
        if d.parent != 0 && !depts.contains_key(&d.parent) {
            return Err(err(
                dept_at(d.id),
                format!("department {} has unknown parent {}", d.id, d.parent),
            ));
        }
        // Walk up; more steps than departments means a cycle.
        let (mut cur, mut steps) = (d.parent, 0);
        while cur != 0 {
            steps += 1;
            if cur == d.id || steps > depts.len() {
                return Err(err(
                    dept_at(d.id),
                    format!("department {} is its own ancestor", d.id),
                ));
            }
            cur = depts.get(&cur).copied().unwrap_or(0);
        }
    }
    let user_at = |id: &str| {
        spec.users
            .iter()
            .position(|u| u.userid == id)
            .map_or(Location::Corp, Location::User)
    };
    for u in &corp.users {
        if let Some(bad) = u.departments.iter().find(|d| !depts.contains_key(d)) {
            return Err(err(
                user_at(&u.userid),
                format!("user {:?} is in unknown department {bad}", u.userid),
            ));
        }
    }
    let users: HashSet<&str> = corp.users.iter().map(|u| u.userid.as_str()).collect();
    let app_at = |id: u32| {
        spec.apps
            .iter()
            .position(|a| a.agentid == id)
            .map_or(Location::Corp, Location::App)
    };
    for a in &corp.apps {
        if let Some(bad) = a
            .visible_departments
            .iter()
            .find(|d| !depts.contains_key(d))
        {
            return Err(err(
                app_at(a.agentid),
                format!("app {} sees unknown department {bad}", a.agentid),
            ));
        }
        if let Some(bad) = a.visible_users.iter().find(|u| !users.contains(u.as_str())) {
            return Err(err(
                app_at(a.agentid),
                format!("app {} sees unknown user {bad:?}", a.agentid),
            ));
        }
    }
    Ok(corp)
}

fn upsert<T>(list: &mut Vec<T>, item: T, same: impl Fn(&T) -> bool) {
    match list.iter_mut().find(|x| same(x)) {
        Some(slot) => *slot = item,
        None => list.push(item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CorpSpec {
        CorpSpec {
            corpid: "ww1".into(),
            name: "Corp".into(),
            departments: vec![
                Department {
                    id: 1,
                    name: "HQ".into(),
                    parent: 0,
                },
                Department {
                    id: 2,
                    name: "R&D".into(),
                    parent: 1,
                },
            ],
            users: vec![User {
                userid: "zhangsan".into(),
                name: "张三".into(),
                departments: vec![2],
            }],
            apps: vec![AppSpec {
                agentid: 1000002,
                name: "A".into(),
                secret: "s".into(),
                meeting_api: true,
                enabled: true,
                visible_departments: vec![1],
                visible_users: vec![],
                callback_url: None,
                callback_token: None,
                callback_aes_key: None,
            }],
        }
    }

    #[test]
    fn merges_and_updates_without_deleting() {
        let corp = merge(None, &spec()).unwrap();
        assert_eq!(corp.users.len(), 1);
        let update = CorpSpec {
            users: vec![User {
                userid: "lisi".into(),
                name: String::new(),
                departments: vec![1],
            }],
            departments: vec![],
            apps: vec![],
            name: String::new(),
            ..spec()
        };
        let corp2 = merge(Some(&corp), &update).unwrap();
        assert_eq!(corp2.users.len(), 2);
        assert_eq!(corp2.name, "Corp");
        assert_eq!(corp2.apps[0].secret_hash, hash_secret("s"));
    }

    #[test]
    fn finds_every_inconsistency() {
        let mut s = spec();
        s.users[0].departments = vec![9];
        assert_eq!(merge(None, &s).unwrap_err().at, Location::User(0));
        let mut s = spec();
        s.users.push(s.users[0].clone());
        assert_eq!(merge(None, &s).unwrap_err().at, Location::User(1));
        let mut s = spec();
        s.departments[0].parent = 2;
        assert!(merge(None, &s)
            .unwrap_err()
            .message
            .contains("own ancestor"));
        let mut s = spec();
        s.departments[1].parent = 7;
        assert_eq!(merge(None, &s).unwrap_err().at, Location::Department(1));
        let mut s = spec();
        s.apps[0].visible_users = vec!["ghost".into()];
        assert_eq!(merge(None, &s).unwrap_err().at, Location::App(0));
        let mut s = spec();
        s.apps[0].secret = String::new();
        assert_eq!(merge(None, &s).unwrap_err().at, Location::App(0));
        let mut s = spec();
        s.corpid = String::new();
        assert_eq!(merge(None, &s).unwrap_err().at, Location::Corp);
    }

    #[test]
    fn debug_hides_secret() {
        assert!(!format!("{:?}", spec().apps[0]).contains("\"s\""));
        let mut s = spec();
        s.apps[0].callback_token = Some("tok3n".into());
        s.apps[0].callback_aes_key = Some("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C".into());
        let shown = format!("{:?}", s.apps[0]);
        assert!(
            !shown.contains("tok3n") && !shown.contains("jWmYm7"),
            "{shown}"
        );
    }

    #[test]
    fn callback_settings_are_validated_where_the_app_is() {
        let mut s = spec();
        s.apps[0].callback_url = Some("https://app.example/cb".into());
        s.apps[0].callback_token = Some("t".into());
        s.apps[0].callback_aes_key = Some("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C".into());
        merge(None, &s).unwrap();
        assert!(s.apps[0].callback().unwrap().is_some());
        s.apps[0].callback_aes_key = Some("too-short".into());
        let e = merge(None, &s).unwrap_err();
        assert_eq!(e.at, Location::App(0));
        assert!(e.message.contains("callback_aes_key"), "{}", e.message);
        s.apps[0].callback_aes_key = None;
        assert!(merge(None, &s)
            .unwrap_err()
            .message
            .contains("no callback_aes_key"));
    }

    #[test]
    fn merge_carries_the_callback_and_a_respecified_app_replaces_it() {
        let mut s = spec();
        s.apps[0].callback_url = Some("https://app.example/cb".into());
        s.apps[0].callback_token = Some("t".into());
        s.apps[0].callback_aes_key = Some("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C".into());
        let corp = merge(None, &s).unwrap();
        let cb = corp.apps[0].callback.clone().unwrap();
        assert_eq!(cb.url.as_str(), "https://app.example/cb");
        assert_eq!(cb.token, "t");
        // An update that does not list the app keeps its callback.
        let other = CorpSpec {
            apps: vec![],
            ..spec()
        };
        let kept = merge(Some(&corp), &other).unwrap();
        assert_eq!(kept.apps[0].callback, Some(cb));
        // Listing the app again without the settings removes them, as for its other fields.
        let cleared = merge(Some(&corp), &spec()).unwrap();
        assert_eq!(cleared.apps[0].callback, None);
    }

    #[test]
    fn callback_fields_are_optional_in_json() {
        let app: AppSpec =
            serde_json::from_str(r#"{"agentid": 1, "secret": "s", "callback_url": "http://x/"}"#)
                .unwrap();
        assert_eq!(app.callback_url.as_deref(), Some("http://x/"));
        assert_eq!(app.callback_token, None);
        let plain = serde_json::to_value(&spec().apps[0]).unwrap();
        assert!(plain.get("callback_url").is_none());
    }
}
