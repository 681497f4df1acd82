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
    /// Where this app's meeting events go (SPEC §11), with the token and key below.
    pub callback_url: Option<Spanned<String>>,
    pub callback_token: Option<Spanned<Secret>>,
    /// The 43-character EncodingAESKey.
    pub callback_aes_key: Option<Spanned<Secret>>,
}

impl AppToml {
    /// Byte offset of the callback key `field` (`callback_url`, …), if written.
    fn callback_field_start(&self, field: &str) -> Option<usize> {
        match field {
            "callback_url" => self.callback_url.as_ref().map(|s| s.span().start),
            "callback_token" => self.callback_token.as_ref().map(|s| s.span().start),
            "callback_aes_key" => self.callback_aes_key.as_ref().map(|s| s.span().start),
            _ => None,
        }
    }
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
                .map(|a| Self::app_spec(a.get_ref()))
                .collect(),
        }
    }

    /// One app's spec.
    fn app_spec(a: &AppToml) -> AppSpec {
        AppSpec {
            agentid: a.agentid,
            name: a.name.clone(),
            secret: a.secret.expose().to_owned(),
            meeting_api: a.meeting_api,
            enabled: a.enabled,
            visible_departments: a.visible_departments.clone(),
            visible_users: a.visible_users.clone(),
            callback_url: a.callback_url.as_ref().map(|u| u.get_ref().clone()),
            callback_token: a
                .callback_token
                .as_ref()
                .map(|t| t.get_ref().expose().to_owned()),
            callback_aes_key: a
                .callback_aes_key
                .as_ref()
                .map(|k| k.get_ref().expose().to_owned()),
        }
    }

    /// The first app whose callback settings are wrong: byte offset of the key at fault
    /// (the app's table when the key is missing) and the reason. Checked before the
    /// directory merge, which refuses the same settings but can only name the app.
    pub(super) fn callback_error(&self) -> Option<(usize, String)> {
        self.apps.iter().find_map(|a| {
            let spec_err = Self::app_spec(a.get_ref()).callback().err()?;
            let at = if spec_err.present {
                a.get_ref().callback_field_start(spec_err.field)
            } else {
                None
            };
            Some((at.unwrap_or(a.span().start), spec_err.message))
        })
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
