//! The `[[corps]]` tables of the file: each element kept with its span so an error about it
//! can name its line, and turned into the [`CorpSpec`] the directory rules take.

use serde::Deserialize;
use toml::Spanned;

use rollcall_core::directory::{AppSpec, CorpSpec, Location};
use rollcall_core::model::{Department, User};

use super::Secret;

/// One `[[corps]]`. Mirrors [`CorpSpec`], with each element spanned so errors can name lines.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpToml {
    pub corpid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub departments: Vec<Spanned<DepartmentToml>>,
    #[serde(default)]
    pub users: Vec<Spanned<UserToml>>,
    #[serde(default)]
    pub apps: Vec<Spanned<AppToml>>,
}

/// One `[[corps.departments]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentToml {
    pub id: u32,
    pub name: String,
    /// 0 = top level.
    #[serde(default)]
    pub parent: u32,
}

/// One `[[corps.users]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserToml {
    pub userid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub departments: Vec<u32>,
}

/// One `[[corps.apps]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppToml {
    pub agentid: u32,
    #[serde(default)]
    pub name: String,
    pub secret: Secret,
    /// Listed in 可调用接口的应用.
    #[serde(default)]
    pub meeting_api: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// These departments and all their sub-departments.
    #[serde(default)]
    pub visible_departments: Vec<u32>,
    #[serde(default)]
    pub visible_users: Vec<String>,
}

fn yes() -> bool {
    true
}

impl CorpToml {
    /// The spec the directory rules take.
    pub fn spec(&self) -> CorpSpec {
        CorpSpec {
            corpid: self.corpid.clone(),
            name: self.name.clone(),
            departments: self
                .departments
                .iter()
                .map(|d| {
                    let d = d.get_ref();
                    Department {
                        id: d.id,
                        name: d.name.clone(),
                        parent: d.parent,
                    }
                })
                .collect(),
            users: self
                .users
                .iter()
                .map(|u| {
                    let u = u.get_ref();
                    User {
                        userid: u.userid.clone(),
                        name: u.name.clone(),
                        departments: u.departments.clone(),
                    }
                })
                .collect(),
            apps: self
                .apps
                .iter()
                .map(|a| {
                    let a = a.get_ref();
                    AppSpec {
                        agentid: a.agentid,
                        name: a.name.clone(),
                        secret: a.secret.expose().to_owned(),
                        meeting_api: a.meeting_api,
                        enabled: a.enabled,
                        visible_departments: a.visible_departments.clone(),
                        visible_users: a.visible_users.clone(),
                    }
                })
                .collect(),
        }
    }

    /// Byte offset of the element an error is about.
    pub(super) fn offset_of(&self, corp_start: usize, at: Location) -> usize {
        let start = |s: Option<std::ops::Range<usize>>| s.map_or(corp_start, |r| r.start);
        match at {
            Location::Corp => corp_start,
            Location::Department(i) => start(self.departments.get(i).map(Spanned::span)),
            Location::User(i) => start(self.users.get(i).map(Spanned::span)),
            Location::App(i) => start(self.apps.get(i).map(Spanned::span)),
        }
    }
}
