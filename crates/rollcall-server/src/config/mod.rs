//! The config file (SPEC §7): top-level settings plus the corp directory, and its errors,
//! as a pure function of the file's text (so it can be fuzzed, and tested without files).
//!
//! Every problem is reported as `<file>:<line>: <problem>`, the shape editors and CI logs
//! link to. TOML syntax and type errors carry a byte span from the parser; semantic errors
//! (unknown department, duplicate userid, a cycle…) come from
//! [`rollcall_core::directory::merge`] as a [`Location`](rollcall_core::directory::Location)
//! in the corp, which is mapped back to the line of that `[[corps.*]]` element through the
//! spans kept by [`toml::Spanned`].
//!
//! Applying is all or nothing: [`LoadedConfig::check`] merges every corp of the file in a
//! dry run against what is stored before any is written, so a bad file changes nothing.
//! Reading the file, layering its keys under flags and environment, and applying the corps
//! to a store are the binary's.
//!
//! # Layout
//! - [`parse_config`] → [`LoadedConfig`] (with [`FileConfig`]), or a [`ConfigError`].
//! - [`LoadedConfig::check`] / [`LoadedConfig::locate`]: the dry run, errors with lines.
//! - [`corps`]: the `[[corps]]` tables and their `CorpSpec`s.
//! - [`values`]: [`Secret`], [`ClockSpec`].

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use rollcall_core::directory::{merge, CorpSpec, DirectoryError};
use rollcall_core::model::Corp;

pub mod corps;
pub mod values;

pub use corps::{AppToml, CorpToml, DepartmentToml, UserToml};
pub use values::{ClockSpec, Secret};

/// The file as written. Unknown keys are errors: a typo must not silently do nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data: Option<PathBuf>,
    /// PostgreSQL URL (the binary's settings layering checks its scheme).
    pub database: Option<String>,
    pub demo: Option<bool>,
    pub token_ttl_secs: Option<NonZeroU32>,
    pub ingest_key: Option<Secret>,
    pub admin_key: Option<Secret>,
    pub seed: Option<u64>,
    pub clock: Option<ClockSpec>,
    pub timezone: Option<String>,
    /// Entries of the request journal; 0 turns it off.
    pub journal_size: Option<usize>,
    /// The HTTP layer's limits (`crate::HttpLimits`), in seconds / connections.
    pub header_read_timeout_secs: Option<NonZeroU32>,
    pub body_read_timeout_secs: Option<NonZeroU32>,
    pub idle_timeout_secs: Option<NonZeroU32>,
    pub max_connections: Option<NonZeroU32>,
    /// Seconds an applied event id still counts as a duplicate (`crate::DedupeWindow`).
    pub dedupe_window_secs: Option<NonZeroU32>,
    /// `[rate_limits]` and `[rate_limits.calls]` (SPEC §7); absent: 6000 a minute.
    pub rate_limits: Option<crate::control::RateLimits>,
    #[serde(default)]
    pub corps: Vec<Spanned<CorpToml>>,
}

/// A config problem, located: displays as `<file>:<line>: <problem>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based; `None` when the problem is the file as a whole (unreadable).
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// 1-based line of a byte offset.
fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A parsed config file, with its source kept for locating later (semantic) errors.
pub struct LoadedConfig {
    pub name: String,
    /// The text, for turning spans into lines. Not shown by `Debug`: it holds secrets.
    source: String,
    pub file: FileConfig,
}

impl fmt::Debug for LoadedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedConfig")
            .field("name", &self.name)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// Parse a config file's text; `name` is what errors call the file.
pub fn parse_config(name: &str, source: &str) -> Result<LoadedConfig, ConfigError> {
    match toml::from_str::<FileConfig>(source) {
        Ok(file) => Ok(LoadedConfig {
            name: name.to_owned(),
            source: source.to_owned(),
            file,
        }),
        Err(e) => Err(ConfigError {
            file: name.to_owned(),
            line: Some(e.span().map_or(1, |s| line_of(source, s.start))),
            message: e.message().trim_end().to_owned(),
        }),
    }
}

impl LoadedConfig {
    /// The corp specs, in file order.
    pub fn specs(&self) -> Vec<CorpSpec> {
        self.file.corps.iter().map(|c| c.get_ref().spec()).collect()
    }

    /// The corpids the file names (to fetch what is stored before [`Self::check`]).
    pub fn corpids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for c in &self.file.corps {
            if !ids.contains(&c.get_ref().corpid) {
                ids.push(c.get_ref().corpid.clone());
            }
        }
        ids
    }

    /// Dry run: merge every corp of the file over what is stored (`stored`, by corpid), in
    /// file order, exactly as applying would, and report the first problem with its line.
    pub fn check(&self, stored: &HashMap<String, Corp>) -> Result<(), ConfigError> {
        let mut merged: HashMap<&str, Corp> = HashMap::new();
        for (i, corp) in self.file.corps.iter().enumerate() {
            if let Some((offset, message)) = corp.get_ref().callback_error() {
                return Err(ConfigError {
                    file: self.name.clone(),
                    line: Some(line_of(&self.source, offset)),
                    message,
                });
            }
            let spec = corp.get_ref().spec();
            let base = merged
                .get(spec.corpid.as_str())
                .or_else(|| stored.get(&spec.corpid));
            let result = merge(base, &spec).map_err(|e| self.locate(i, &e))?;
            merged.insert(corp.get_ref().corpid.as_str(), result);
        }
        Ok(())
    }

    /// Turn a directory error about the `index`-th corp into `<file>:<line>: <problem>`.
    pub fn locate(&self, index: usize, e: &DirectoryError) -> ConfigError {
        let line = self.file.corps.get(index).map_or(1, |c| {
            line_of(&self.source, c.get_ref().offset_of(c.span().start, e.at))
        });
        ConfigError {
            file: self.name.clone(),
            line: Some(line),
            message: e.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SPEC §7 example, extended a little; line numbers below refer to it.
    const GOOD: &str = r#"token_ttl_secs = 7200
ingest_key = "ik"
admin_key  = "ak"

[[corps]]
corpid = "wwa1b2c3d4e5f60001"
name = "Example Corp"

  [[corps.departments]]
  id = 1
  name = "HQ"
  parent = 0          # 0 = top level

  [[corps.departments]]
  id = 2
  name = "R&D"
  parent = 1

  [[corps.users]]
  userid = "zhangsan"
  name = "张三"
  departments = [1]

  [[corps.users]]
  userid = "lisi"
  name = "李四"
  departments = [2]

  [[corps.apps]]
  agentid = 1000002
  name = "Attendance"
  secret = "s3cret"
  meeting_api = true
  visible_departments = [1]
  visible_users = ["lisi"]
"#;

    fn check(src: &str) -> Result<(), ConfigError> {
        parse_config("rollcall.toml", src)?.check(&HashMap::new())
    }

    fn line_of_err(src: &str) -> (usize, String) {
        let e = check(src).expect_err("must fail");
        assert_eq!(e.file, "rollcall.toml");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("rollcall.toml:{}: ", e.line.unwrap_or(0))),
            "{shown}"
        );
        (e.line.expect("a line"), e.message)
    }

    #[test]
    fn the_spec_example_is_valid() {
        let cfg = parse_config("rollcall.toml", GOOD).unwrap();
        cfg.check(&HashMap::new()).unwrap();
        let specs = cfg.specs();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].departments.len(), 2);
        assert_eq!(specs[0].users[0].name, "张三");
        assert_eq!(specs[0].apps[0].secret, "s3cret");
        assert!(specs[0].apps[0].enabled);
        assert_eq!(cfg.file.ingest_key.as_ref().map(Secret::expose), Some("ik"));
    }

    #[test]
    fn bad_toml_names_its_line() {
        let src = GOOD.replace("name = \"HQ\"", "name = \"HQ");
        assert_eq!(line_of_err(&src).0, 11);
    }

    #[test]
    fn unknown_keys_are_refused_where_they_are() {
        let (line, msg) = line_of_err(&format!("listn = \"x\"\n{GOOD}"));
        assert_eq!(line, 1);
        assert!(msg.contains("listn"), "{msg}");
        let src = GOOD.replace("  parent = 1\n", "  parent = 1\n  colour = \"red\"\n");
        let (line, msg) = line_of_err(&src);
        assert_eq!(line, 18);
        assert!(msg.contains("colour"), "{msg}");
        let src = GOOD.replace("meeting_api = true", "meeting_apis = true");
        assert_eq!(line_of_err(&src).0, 33);
    }

    #[test]
    fn wrong_types_name_their_line() {
        let src = GOOD.replace("token_ttl_secs = 7200", "token_ttl_secs = 0");
        assert_eq!(line_of_err(&src).0, 1);
        let src = GOOD.replace("  id = 2\n", "  id = \"two\"\n");
        assert_eq!(line_of_err(&src).0, 15);
        let src = GOOD.replace("admin_key  = \"ak\"", "admin_key  = \"\"");
        let (line, msg) = line_of_err(&src);
        assert_eq!(line, 3);
        assert!(msg.contains("must not be empty"), "{msg}");
        let src = format!("clock = \"sundial\"\n{GOOD}");
        let (line, msg) = line_of_err(&src);
        assert_eq!(line, 1);
        assert!(msg.contains("sundial"), "{msg}");
    }

    #[test]
    fn unknown_department_names_the_user() {
        let src = GOOD.replace("departments = [2]", "departments = [9]");
        let (line, msg) = line_of_err(&src);
        assert_eq!(line, 24, "the [[corps.users]] of lisi");
        assert!(msg.contains("unknown department 9"), "{msg}");
    }

    #[test]
    fn unknown_parent_names_the_department() {
        let src = GOOD.replace("parent = 1", "parent = 5");
        let (line, msg) = line_of_err(&src);
        assert_eq!(line, 14);
        assert!(msg.contains("unknown parent 5"), "{msg}");
    }

    #[test]
    fn duplicate_userid_names_the_second() {
        let src = GOOD.replace("userid = \"lisi\"", "userid = \"zhangsan\"");
        let (line, msg) = line_of_err(&src);
        assert_eq!(line, 24);
        assert!(msg.contains("duplicate userid"), "{msg}");
    }

    #[test]
    fn unknown_visible_user_names_the_app() {
        let src = GOOD.replace("visible_users = [\"lisi\"]", "visible_users = [\"ghost\"]");
        let (line, msg) = line_of_err(&src);
        assert_eq!(line, 29);
        assert!(msg.contains("ghost"), "{msg}");
    }

    #[test]
    fn cycle_names_a_department() {
        let src = GOOD.replace("parent = 0 ", "parent = 2 ");
        let (line, msg) = line_of_err(&src);
        assert!(line == 9 || line == 14, "{line}");
        assert!(msg.contains("own ancestor"), "{msg}");
    }

    #[test]
    fn bad_corpid_names_the_corp() {
        let src = GOOD.replace("corpid = \"wwa1b2c3d4e5f60001\"", "corpid = \"\"");
        assert_eq!(line_of_err(&src).0, 5);
    }

    #[test]
    fn second_corp_errors_point_into_the_second_corp() {
        let src = format!(
            "{GOOD}\n[[corps]]\ncorpid = \"ww2\"\n\n  [[corps.users]]\n  userid = \"x\"\n  departments = [1]\n"
        );
        // GOOD has 35 lines; then a blank line, [[corps]] at 37, [[corps.users]] at 40.
        assert_eq!(line_of_err(&src).0, 40);
    }

    #[test]
    fn a_later_entry_for_the_same_corp_builds_on_the_earlier_one() {
        let src = format!(
            "{GOOD}\n[[corps]]\ncorpid = \"wwa1b2c3d4e5f60001\"\n\n  [[corps.users]]\n  userid = \"wangwu\"\n  departments = [2]\n"
        );
        check(&src).unwrap();
    }

    #[test]
    fn stored_directory_is_taken_into_account() {
        // A file that only adds a user to a department created earlier (e.g. via the admin
        // API) is valid against that store, invalid against an empty one.
        let src =
            "[[corps]]\ncorpid = \"ww9\"\n[[corps.users]]\nuserid = \"a\"\ndepartments = [1]\n";
        let cfg = parse_config("rollcall.toml", src).unwrap();
        assert_eq!(cfg.check(&HashMap::new()).unwrap_err().line, Some(3));
        let base = parse_config(
            "base.toml",
            "[[corps]]\ncorpid = \"ww9\"\n[[corps.departments]]\nid = 1\nname = \"HQ\"\n",
        )
        .unwrap();
        let stored = merge(None, &base.specs()[0]).unwrap();
        cfg.check(&HashMap::from([("ww9".to_owned(), stored)]))
            .unwrap();
    }

    #[test]
    fn inline_tables_are_located_too() {
        let src = "[[corps]]\ncorpid = \"ww9\"\ndepartments = [\n  { id = 1, name = \"HQ\" },\n  { id = 1, name = \"again\" },\n]\n";
        assert_eq!(line_of_err(src).0, 5);
    }

    #[test]
    fn rate_limits_parse_with_overrides() {
        let src = format!(
            "{GOOD}\n[rate_limits]\nper_minute = 100\n\n[rate_limits.calls]\n\"meeting/get_attendee_list\" = 7\n"
        );
        let cfg = parse_config("rollcall.toml", &src).unwrap();
        let limits = cfg.file.rate_limits.expect("rate limits");
        assert_eq!(limits.per_minute.get(), 100);
        let call = crate::control::CallName::new("meeting/get_attendee_list").unwrap();
        assert_eq!(limits.limit_of(call).get(), 7);
        let none = parse_config("rollcall.toml", GOOD).unwrap();
        assert!(none.file.rate_limits.is_none());
    }

    #[test]
    fn bad_rate_limits_name_their_line() {
        // GOOD has 35 lines; a blank line, then [rate_limits] at 37.
        let with = |tail: &str| format!("{GOOD}\n[rate_limits]\n{tail}");
        let (line, msg) = line_of_err(&with("per_minute = 0\n"));
        assert_eq!(line, 38);
        assert!(msg.contains("nonzero"), "{msg}");
        assert_eq!(line_of_err(&with("per_minute = -3\n")).0, 38);
        assert_eq!(line_of_err(&with("per_minute = \"lots\"\n")).0, 38);
        let (line, msg) = line_of_err(&with(
            "per_minute = 10\n[rate_limits.calls]\n\"meeting/nope\" = 5\n",
        ));
        assert_eq!(line, 40);
        assert!(msg.contains("unknown call \"meeting/nope\""), "{msg}");
        let (line, _) = line_of_err(&with(
            "per_minute = 10\n[rate_limits.calls]\n\"gettoken\" = 0\n",
        ));
        assert_eq!(line, 40);
        let (line, msg) = line_of_err(&with("per_minutes = 10\n"));
        assert_eq!(line, 38);
        assert!(msg.contains("per_minutes"), "{msg}");
    }

    /// GOOD's app with callback settings appended (lines 36 and on).
    fn with_callback(lines: &str) -> String {
        GOOD.replace(
            "  visible_users = [\"lisi\"]\n",
            &format!("  visible_users = [\"lisi\"]\n{lines}"),
        )
    }

    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

    #[test]
    fn callback_settings_parse() {
        let src = with_callback(&format!(
            "  callback_url = \"https://app.example/wecom\"\n  callback_token = \"tok\"\n  \
             callback_aes_key = \"{KEY}\"\n"
        ));
        let cfg = parse_config("rollcall.toml", &src).unwrap();
        cfg.check(&HashMap::new()).unwrap();
        let cb = cfg.specs()[0].apps[0]
            .callback()
            .unwrap()
            .expect("a callback");
        assert_eq!(cb.url.as_str(), "https://app.example/wecom");
        assert_eq!(cb.aes_key.as_str(), KEY);
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains(KEY) && !shown.contains("\"tok\""),
            "{shown}"
        );
    }

    #[test]
    fn bad_callback_settings_name_their_line() {
        // A bad key: the key's own line.
        let (line, msg) = line_of_err(&with_callback(
            "  callback_url = \"https://app.example/wecom\"\n  callback_token = \"tok\"\n  \
             callback_aes_key = \"too-short\"\n",
        ));
        assert_eq!(line, 38);
        assert!(
            msg.contains("callback_aes_key") && msg.contains("43"),
            "{msg}"
        );
        // Not http(s): the URL's line.
        let (line, msg) = line_of_err(&with_callback(&format!(
            "  callback_url = \"ftp://app.example/\"\n  callback_token = \"tok\"\n  \
             callback_aes_key = \"{KEY}\"\n"
        )));
        assert_eq!(line, 36);
        assert!(msg.contains("not http(s)"), "{msg}");
        // A URL without its key: the app's table.
        let (line, msg) = line_of_err(&with_callback(
            "  callback_url = \"https://app.example/wecom\"\n  callback_token = \"tok\"\n",
        ));
        assert_eq!(line, 29);
        assert!(msg.contains("no callback_aes_key"), "{msg}");
        // A key without a URL: the app's table too.
        let (line, msg) = line_of_err(&with_callback(&format!("  callback_aes_key = \"{KEY}\"\n")));
        assert_eq!(line, 29);
        assert!(msg.contains("no callback_url"), "{msg}");
    }

    #[test]
    fn debug_hides_app_secrets() {
        let cfg = parse_config("rollcall.toml", GOOD).unwrap();
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("s3cret"), "secret leaked");
    }
}
