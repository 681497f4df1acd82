//! The server's settings as one typed value, layered flag > env > file > default.
//!
//! clap folds the environment under the flags (see [`crate::cli`]); [`Settings::resolve`]
//! merges that with the config file's top-level keys and the defaults. It is a pure function
//! so the precedence rules are tested without processes, files or environment. The file's
//! keys and their types ([`FileConfig`], [`Secret`], [`ClockSpec`]) are
//! `rollcall_server::config`'s.

use std::fmt;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use rollcall_server::config::FileConfig;
/// The value types the flags share with the config file (parsed, and refused, alike).
pub use rollcall_server::config::{ClockSpec, Secret};
use rollcall_server::control::RateLimits;
use rollcall_server::HttpLimits;

use crate::cli::ServeArgs;

/// Where the server listens when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Where the embedded store lives when nothing says otherwise.
pub const DEFAULT_DATA: &str = "./rollcall-data";
/// Entries of the request journal when nothing says otherwise (SPEC §9).
pub const DEFAULT_JOURNAL_SIZE: usize = 1000;
/// The dedupe window when nothing says otherwise: 72 hours (ARCHITECTURE.md, "The dedupe
/// window"; checked at compile time to be non-zero).
pub const DEFAULT_DEDUPE_WINDOW_SECS: NonZeroU32 = NonZeroU32::new(72 * 3600).unwrap();
/// WeCom's access-token lifetime (checked at compile time to be non-zero).
pub const DEFAULT_TOKEN_TTL_SECS: NonZeroU32 = NonZeroU32::new(7200).unwrap();

/// Everything `serve` needs to know, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: String,
    pub data: PathBuf,
    /// Whether some layer named the data directory: `--demo` uses a throw-away directory
    /// unless the operator asked for a particular one.
    pub data_explicit: bool,
    /// PostgreSQL URL: when set, the store is PostgreSQL (shared by any number of nodes)
    /// instead of the embedded store in `data`.
    pub database: Option<String>,
    pub config: Option<PathBuf>,
    pub demo: bool,
    pub token_ttl_secs: NonZeroU32,
    pub ingest_key: Option<Secret>,
    pub admin_key: Option<Secret>,
    pub seed: Option<u64>,
    pub clock: ClockSpec,
    /// IANA time zone for recurring meetings (`None`: the server's default, Asia/Shanghai).
    pub timezone: Option<String>,
    /// Entries the request journal keeps (0: off).
    pub journal_size: usize,
    /// The HTTP layer's timeouts and connection cap.
    pub http: HttpLimits,
    /// How long applied event ids count as duplicates (the dedupe window), seconds.
    pub dedupe_window_secs: NonZeroU32,
    /// Per app per call limits (SPEC §7): the file's `[rate_limits]`, else 6000 a minute.
    /// File only (no flag): a table of per-call overrides does not fit a flag, and the
    /// admin API changes it at run time.
    pub rate_limits: RateLimits,
}

/// Why the settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    /// `--database` is not a PostgreSQL URL.
    BadDatabaseUrl,
    /// Both `--database` and an explicit `--data` were given: which store is meant?
    DatabaseAndData,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::BadDatabaseUrl => f.write_str(
                "--database (ROLLCALL_DATABASE, config key `database`) must be a PostgreSQL URL \
                 such as postgres://user@host:5432/dbname",
            ),
            SettingsError::DatabaseAndData => f.write_str(
                "give either --database (PostgreSQL) or --data (the embedded store), not both",
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

impl Settings {
    /// Merge the command line (flags over env, as clap resolved them) with the config file's
    /// top-level keys and the defaults.
    pub fn resolve(args: &ServeArgs, file: Option<&FileConfig>) -> Result<Self, SettingsError> {
        let empty = FileConfig::default();
        let file = file.unwrap_or(&empty);
        let database = args.database.clone().or_else(|| file.database.clone());
        if database
            .as_deref()
            .is_some_and(|u| !(u.starts_with("postgres://") || u.starts_with("postgresql://")))
        {
            return Err(SettingsError::BadDatabaseUrl);
        }
        let data = args.data.clone().or_else(|| file.data.clone());
        if database.is_some() && data.is_some() {
            return Err(SettingsError::DatabaseAndData);
        }
        Ok(Self {
            listen: args
                .listen
                .clone()
                .or_else(|| file.listen.clone())
                .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            data_explicit: data.is_some(),
            data: data.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA)),
            database,
            config: args.config.clone(),
            demo: args.demo.or(file.demo).unwrap_or(false),
            token_ttl_secs: args
                .token_ttl_secs
                .or(file.token_ttl_secs)
                .unwrap_or(DEFAULT_TOKEN_TTL_SECS),
            ingest_key: args.ingest_key.clone().or_else(|| file.ingest_key.clone()),
            admin_key: args.admin_key.clone().or_else(|| file.admin_key.clone()),
            seed: args.seed.or(file.seed),
            clock: args.clock.or(file.clock).unwrap_or_default(),
            timezone: args.timezone.clone().or_else(|| file.timezone.clone()),
            journal_size: args
                .journal_size
                .or(file.journal_size)
                .unwrap_or(DEFAULT_JOURNAL_SIZE),
            http: http_limits(args, file),
            dedupe_window_secs: args
                .dedupe_window_secs
                .or(file.dedupe_window_secs)
                .unwrap_or(DEFAULT_DEDUPE_WINDOW_SECS),
            rate_limits: file.rate_limits.clone().unwrap_or_default(),
        })
    }
}

/// Each HTTP limit from its flag, else the file, else [`HttpLimits::default`].
fn http_limits(args: &ServeArgs, file: &FileConfig) -> HttpLimits {
    let d = HttpLimits::default();
    let secs = |flag: Option<NonZeroU32>, key: Option<NonZeroU32>, default: Duration| {
        flag.or(key)
            .map_or(default, |n| Duration::from_secs(u64::from(n.get())))
    };
    HttpLimits {
        header_read_timeout: secs(
            args.header_read_timeout_secs,
            file.header_read_timeout_secs,
            d.header_read_timeout,
        ),
        body_read_timeout: secs(
            args.body_read_timeout_secs,
            file.body_read_timeout_secs,
            d.body_read_timeout,
        ),
        idle_timeout: secs(
            args.idle_timeout_secs,
            file.idle_timeout_secs,
            d.idle_timeout,
        ),
        max_connections: args
            .max_connections
            .or(file.max_connections)
            .map_or(d.max_connections, |n| n.get() as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::tests::parse;
    use rollcall_server::config::parse_config;

    fn file(src: &str) -> FileConfig {
        parse_config("rollcall.toml", src).expect("valid").file
    }

    #[test]
    fn defaults_when_nothing_is_said() {
        let s = Settings::resolve(&ServeArgs::default(), None).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.data, PathBuf::from("./rollcall-data"));
        assert!(!s.data_explicit && !s.demo);
        assert_eq!(s.token_ttl_secs.get(), 7200);
        assert_eq!((s.ingest_key, s.admin_key, s.seed), (None, None, None));
        assert_eq!(s.clock, ClockSpec::System);
    }

    #[test]
    fn file_beats_defaults() {
        let f = file(
            r#"
listen = "0.0.0.0:9000"
data = "/var/lib/rollcall"
token_ttl_secs = 60
ingest_key = "file-ingest"
admin_key = "file-admin"
seed = 3
clock = "virtual:1700000000"
demo = true
"#,
        );
        let s = Settings::resolve(&ServeArgs::default(), Some(&f)).unwrap();
        assert_eq!(s.listen, "0.0.0.0:9000");
        assert_eq!(s.data, PathBuf::from("/var/lib/rollcall"));
        assert!(s.data_explicit && s.demo);
        assert_eq!(s.token_ttl_secs.get(), 60);
        assert_eq!(
            s.ingest_key.as_ref().map(Secret::expose),
            Some("file-ingest")
        );
        assert_eq!(s.admin_key.as_ref().map(Secret::expose), Some("file-admin"));
        assert_eq!(s.seed, Some(3));
        assert_eq!(s.clock, ClockSpec::Virtual(Some(1_700_000_000)));
    }

    #[test]
    fn command_line_beats_file_key_by_key() {
        let f = file(
            r#"
listen = "0.0.0.0:9000"
data = "/var/lib/rollcall"
token_ttl_secs = 60
ingest_key = "file-ingest"
seed = 3
demo = true
"#,
        );
        let args = parse(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--ingest-key",
            "flag-ingest",
            "--demo=false",
            "--clock",
            "virtual",
        ]);
        let s = Settings::resolve(&args, Some(&f)).unwrap();
        assert_eq!(s.listen, "127.0.0.1:0");
        assert_eq!(
            s.ingest_key.as_ref().map(Secret::expose),
            Some("flag-ingest")
        );
        assert!(
            !s.demo,
            "an explicit false on the command line wins over the file"
        );
        assert_eq!(s.clock, ClockSpec::Virtual(None));
        // Keys the command line did not give still come from the file.
        assert_eq!(s.data, PathBuf::from("/var/lib/rollcall"));
        assert_eq!(s.token_ttl_secs.get(), 60);
        assert_eq!(s.seed, Some(3));
        assert_eq!(s.admin_key, None);
    }

    #[test]
    fn env_beats_file_and_flag_beats_env() {
        let f = file("listen = \"0.0.0.0:9000\"\nseed = 3\ntoken_ttl_secs = 60\n");
        let args = {
            let _guard = crate::cli::tests::ENV_LOCK
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            std::env::set_var("ROLLCALL_LISTEN", "10.0.0.1:1");
            std::env::set_var("ROLLCALL_SEED", "42");
            let parsed = <crate::cli::Cli as clap::Parser>::try_parse_from([
                "rollcall", "serve", "--seed", "5",
            ]);
            std::env::remove_var("ROLLCALL_LISTEN");
            std::env::remove_var("ROLLCALL_SEED");
            let crate::cli::Command::Serve(a) = parsed.expect("parses").command else {
                panic!("serve")
            };
            a
        };
        let s = Settings::resolve(&args, Some(&f)).unwrap();
        assert_eq!(s.listen, "10.0.0.1:1", "env over file");
        assert_eq!(s.seed, Some(5), "flag over env over file");
        assert_eq!(s.token_ttl_secs.get(), 60, "file over default");
    }

    #[test]
    fn rate_limits_come_from_the_file_or_the_default() {
        let s = Settings::resolve(&ServeArgs::default(), None).unwrap();
        assert_eq!(s.rate_limits, RateLimits::default());
        assert_eq!(s.rate_limits.per_minute.get(), 6000);
        let f = file("[rate_limits]\nper_minute = 60\n[rate_limits.calls]\n\"gettoken\" = 5\n");
        let s = Settings::resolve(&ServeArgs::default(), Some(&f)).unwrap();
        assert_eq!(s.rate_limits.per_minute.get(), 60);
        assert_eq!(s.rate_limits.calls.len(), 1);
    }

    #[test]
    fn timezone_layers() {
        let f = file("timezone = \"Europe/Berlin\"\n");
        assert_eq!(
            Settings::resolve(&ServeArgs::default(), Some(&f))
                .unwrap()
                .timezone
                .as_deref(),
            Some("Europe/Berlin")
        );
        let args = parse(&["serve", "--timezone", "Asia/Tokyo"]);
        assert_eq!(
            Settings::resolve(&args, Some(&f))
                .unwrap()
                .timezone
                .as_deref(),
            Some("Asia/Tokyo")
        );
        assert_eq!(
            Settings::resolve(&ServeArgs::default(), None)
                .unwrap()
                .timezone,
            None
        );
    }

    #[test]
    fn dedupe_window_layers_flag_over_file_over_default() {
        let none = Settings::resolve(&ServeArgs::default(), None).unwrap();
        assert_eq!(none.dedupe_window_secs.get(), 72 * 3600);
        let f = file("dedupe_window_secs = 600\n");
        let s = Settings::resolve(&ServeArgs::default(), Some(&f)).unwrap();
        assert_eq!(s.dedupe_window_secs.get(), 600);
        let args = parse(&["serve", "--dedupe-window-secs", "60"]);
        assert_eq!(
            Settings::resolve(&args, Some(&f))
                .unwrap()
                .dedupe_window_secs
                .get(),
            60
        );
        assert!(
            <crate::cli::Cli as clap::Parser>::try_parse_from([
                "rollcall",
                "serve",
                "--dedupe-window-secs",
                "0"
            ])
            .is_err(),
            "a window of 0 would forget every event at once"
        );
    }

    #[test]
    fn http_limits_layer_flag_over_file_over_default() {
        let none = Settings::resolve(&ServeArgs::default(), None).unwrap();
        assert_eq!(none.http, HttpLimits::default());
        let f = file("header_read_timeout_secs = 5\nidle_timeout_secs = 7\nmax_connections = 9\n");
        let s =
            Settings::resolve(&parse(&["serve", "--idle-timeout-secs", "3"]), Some(&f)).unwrap();
        assert_eq!(s.http.header_read_timeout, Duration::from_secs(5));
        assert_eq!(s.http.idle_timeout, Duration::from_secs(3), "the flag wins");
        assert_eq!(s.http.max_connections, 9);
        assert_eq!(
            s.http.body_read_timeout,
            HttpLimits::default().body_read_timeout
        );
    }

    #[test]
    fn journal_size_layers() {
        let none = Settings::resolve(&ServeArgs::default(), None).unwrap();
        assert_eq!(none.journal_size, 1000);
        let f = file("journal_size = 0\n");
        assert_eq!(
            Settings::resolve(&ServeArgs::default(), Some(&f))
                .unwrap()
                .journal_size,
            0
        );
        let args = parse(&["serve", "--journal-size", "5"]);
        assert_eq!(Settings::resolve(&args, Some(&f)).unwrap().journal_size, 5);
    }

    #[test]
    fn database_layers_and_validation() {
        let f = file("database = \"postgres://file/db\"\n");
        let from_file = Settings::resolve(&ServeArgs::default(), Some(&f)).unwrap();
        assert_eq!(from_file.database.as_deref(), Some("postgres://file/db"));
        let args = parse(&["serve", "--database", "postgresql://flag/db"]);
        let both = Settings::resolve(&args, Some(&f)).unwrap();
        assert_eq!(both.database.as_deref(), Some("postgresql://flag/db"));
        let bad = parse(&["serve", "--database", "mysql://x/y"]);
        assert_eq!(
            Settings::resolve(&bad, None),
            Err(SettingsError::BadDatabaseUrl)
        );
        let clash = parse(&["serve", "--database", "postgres://x/y", "--data", "/tmp/d"]);
        assert_eq!(
            Settings::resolve(&clash, None),
            Err(SettingsError::DatabaseAndData)
        );
        assert_eq!(
            Settings::resolve(&ServeArgs::default(), None)
                .unwrap()
                .database,
            None
        );
    }
}
