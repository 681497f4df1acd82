//! The command line: `rollcall serve …` and the client commands `rollcall attendees …` /
//! `rollcall report …`. (The benchmark is its own binary, `rollcall-bench`.)
//!
//! Every `serve` option is an `Option` so that "not given" stays distinguishable from "given
//! the default": the layering in [`crate::settings`] needs to know which layer said what.
//! clap's `env` feature already folds `ROLLCALL_<NAME>` under the flag (flag > env); the
//! config file and the defaults are merged afterwards.

use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};

use crate::settings::{ClockSpec, Secret};

/// rollcall: a WeCom-compatible meeting attendance service.
#[derive(Debug, Parser)]
#[command(name = "rollcall", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log lines on stderr as text (for people) or JSON, one object a line (for a log
    /// pipeline: Loki, Elasticsearch, `jq`)
    #[arg(
        long,
        global = true,
        env = "ROLLCALL_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-12-01T12:00:00Z  INFO rollcall: message key=value`
    Text,
    /// `{"timestamp":…,"level":"INFO","fields":{"message":…,…},"target":…}`
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (WeCom-compatible API, ingest API, admin API).
    Serve(ServeArgs),
    /// Export a meeting's attendance (every session, all pages) as a table, CSV, JSON or
    /// NDJSON; with --follow, keep printing sessions as they join.
    Attendees(AttendeesArgs),
    /// Write a self-contained HTML report of a meeting's attendance: a per-person summary
    /// and a timeline of every session (past 200 people: attendance over time, joins and
    /// leaves, time in the meeting, lanes for a chosen few and a searchable table).
    Report(ReportArgs),
}

/// Where the WeCom-compatible API is and which app calls it (`attendees`, `report`).
/// The same flags work against rollcall and against WeCom itself.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// The corp's corpid
    #[arg(long, env = "WECOM_CORPID", value_name = "ID")]
    pub corpid: String,

    /// The app's secret (prefer the environment variable: flags show up in `ps`)
    #[arg(
        long,
        env = "WECOM_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub secret: Secret,

    /// Base URL of the API: WeCom's, or a rollcall server's
    #[arg(
        long,
        env = "ROLLCALL_BASE_URL",
        value_name = "URL",
        default_value = rollcall_client::WECOM_BASE_URL
    )]
    pub base_url: String,
}

/// Which sessions to read.
#[derive(Debug, Clone, Args)]
pub struct ListingArgs {
    /// The meetingid
    #[arg(long, value_name = "ID")]
    pub meeting: String,

    /// The sub_meetingid (required by the API for a recurring meeting)
    #[arg(long, value_name = "ID")]
    pub sub_meeting: Option<String>,

    /// Only sessions that joined at or after T: unix seconds, RFC 3339
    /// (2025-10-09T16:00:00+08:00), or a local date-time (2025-10-09 16:00, 2025-10-09)
    #[arg(long, value_name = "T", value_parser = crate::times::parse_time)]
    pub since: Option<u32>,

    /// Only sessions that joined at or before T (same forms as --since)
    #[arg(long, value_name = "T", value_parser = crate::times::parse_time)]
    pub until: Option<u32>,
}

/// How `rollcall attendees` prints sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns with a header, times in local time, for people
    Table,
    /// A header row, then one row per session with the API's raw values
    Csv,
    /// One JSON array of the API's attendee objects
    Json,
    /// One attendee object per line, as the API returns it
    Ndjson,
}

/// `rollcall attendees` options.
#[derive(Debug, Clone, Args)]
pub struct AttendeesArgs {
    #[command(flatten)]
    pub api: ApiArgs,

    #[command(flatten)]
    pub listing: ListingArgs,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// After the last page, keep polling with the last cursor and print sessions as they
    /// join, until interrupted (Ctrl-C)
    #[arg(long, conflicts_with = "until")]
    pub follow: bool,

    /// Seconds between polls with --follow (fractions allowed)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = crate::times::parse_interval)]
    pub interval: std::time::Duration,

    /// Sessions per page (1 to 100) [default: the API's, 100]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub page_size: Option<u32>,
}

/// `rollcall report` options.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub api: ApiArgs,

    #[command(flatten)]
    pub listing: ListingArgs,

    /// The HTML file to write
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,

    /// Count sessions still in the meeting up to T (same forms as --since) [default: now]
    #[arg(long, value_name = "T", value_parser = crate::times::parse_time)]
    pub as_of: Option<u32>,

    /// Past 200 people the report draws lanes only for the hosts and the N longest, N
    /// shortest and N still in the meeting (0: only --person)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub lanes: usize,

    /// Always draw a lane for this person (userid or tmp_openid; repeat for more) in a
    /// report of more than 200 people
    #[arg(long = "person", value_name = "ID")]
    pub people: Vec<String>,
}

/// `rollcall serve` options. Each also reads `ROLLCALL_<NAME>` and (except `--config`) a key
/// of the config file; precedence is flag > env > file > default.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port) [default: 127.0.0.1:8080]
    #[arg(long, env = "ROLLCALL_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// Directory of the embedded store [default: ./rollcall-data; with --demo, a temporary
    /// directory removed at exit]
    #[arg(long, env = "ROLLCALL_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// PostgreSQL URL (postgres://user@host:port/db): use PostgreSQL instead of the embedded
    /// store, shared by any number of nodes [default: the embedded store in --data]
    #[arg(
        long,
        env = "ROLLCALL_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,

    /// TOML file with settings and the corp directory (applied at start-up)
    #[arg(long, env = "ROLLCALL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Seed a demo corp, app and meetings (one of them live) and print how to call them
    #[arg(
        long,
        env = "ROLLCALL_DEMO",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        value_parser = BoolishValueParser::new()
    )]
    pub demo: Option<bool>,

    /// Lifetime of access tokens, seconds [default: 7200]
    #[arg(long, env = "ROLLCALL_TOKEN_TTL_SECS", value_name = "N")]
    pub token_ttl_secs: Option<NonZeroU32>,

    /// Bearer key of the ingest API (off when unset, except with --demo)
    #[arg(
        long,
        env = "ROLLCALL_INGEST_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub ingest_key: Option<Secret>,

    /// Bearer key of the admin API (off when unset, except with --demo)
    #[arg(
        long,
        env = "ROLLCALL_ADMIN_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub admin_key: Option<Secret>,

    /// Make every generated id, secret and token a function of N and the request order
    #[arg(long, env = "ROLLCALL_SEED", value_name = "N")]
    pub seed: Option<u64>,

    /// `system`, or `virtual[:<unix secs>]` for a clock that moves only when told to
    /// [default: system]
    #[arg(long, env = "ROLLCALL_CLOCK", value_name = "CLOCK")]
    pub clock: Option<ClockSpec>,

    /// IANA time zone recurring meetings are laid out in [default: Asia/Shanghai]
    #[arg(long, env = "ROLLCALL_TIMEZONE", value_name = "ZONE")]
    pub timezone: Option<String>,

    /// How many recent requests the journal (GET /admin/v1/requests) keeps; 0 turns it off
    /// [default: 1000]
    #[arg(long, env = "ROLLCALL_JOURNAL_SIZE", value_name = "N")]
    pub journal_size: Option<usize>,

    /// A request head must arrive in full within this many seconds; it also bounds how long
    /// a keep-alive connection may wait for its next request [default: 10]
    #[arg(long, env = "ROLLCALL_HEADER_READ_TIMEOUT_SECS", value_name = "SECS")]
    pub header_read_timeout_secs: Option<NonZeroU32>,

    /// The longest pause, in seconds, between two chunks of a request body (answered 408)
    /// [default: 30]
    #[arg(long, env = "ROLLCALL_BODY_READ_TIMEOUT_SECS", value_name = "SECS")]
    pub body_read_timeout_secs: Option<NonZeroU32>,

    /// Close a keep-alive connection idle for this many seconds [default: 60]
    #[arg(long, env = "ROLLCALL_IDLE_TIMEOUT_SECS", value_name = "SECS")]
    pub idle_timeout_secs: Option<NonZeroU32>,

    /// Connections served at once; more wait in the listen backlog [default: 1024]
    #[arg(long, env = "ROLLCALL_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<NonZeroU32>,

    /// How long, in seconds of the server's clock, an applied event id still counts as a
    /// duplicate; older dedupe records are pruned in the background [default: 259200, 72 h]
    #[arg(long, env = "ROLLCALL_DEDUPE_WINDOW_SECS", value_name = "SECS")]
    pub dedupe_window_secs: Option<NonZeroU32>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::sync::Mutex;

    /// clap reads the process environment on every parse; tests that parse (or set
    /// `ROLLCALL_*`) hold this so they never see each other's variables.
    pub(crate) static ENV_LOCK: Mutex<()> = Mutex::new(());

    pub(crate) fn parse(args: &[&str]) -> ServeArgs {
        let _guard = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let cli = Cli::try_parse_from(std::iter::once("rollcall").chain(args.iter().copied()))
            .expect("parses");
        let Command::Serve(a) = cli.command else {
            panic!("serve")
        };
        a
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_serve_flag_has_its_env_var() {
        let cmd = Cli::command();
        let serve = cmd.find_subcommand("serve").expect("serve");
        for arg in serve.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let want = format!("ROLLCALL_{}", long.to_uppercase().replace('-', "_"));
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(want.as_str()),
                "--{long}"
            );
        }
    }

    #[test]
    fn parses_every_flag() {
        let a = parse(&[
            "serve",
            "--listen",
            "0.0.0.0:9",
            "--data",
            "/tmp/x",
            "--config",
            "c.toml",
            "--demo",
            "--token-ttl-secs",
            "60",
            "--ingest-key",
            "ik",
            "--admin-key",
            "ak",
            "--seed",
            "7",
            "--clock",
            "virtual:1700000000",
        ]);
        assert_eq!(a.listen.as_deref(), Some("0.0.0.0:9"));
        assert_eq!(a.data, Some(PathBuf::from("/tmp/x")));
        assert_eq!(a.config, Some(PathBuf::from("c.toml")));
        assert_eq!(a.demo, Some(true));
        assert_eq!(a.token_ttl_secs.map(NonZeroU32::get), Some(60));
        assert_eq!(a.ingest_key.as_ref().map(Secret::expose), Some("ik"));
        assert_eq!(a.admin_key.as_ref().map(Secret::expose), Some("ak"));
        assert_eq!(a.seed, Some(7));
        assert_eq!(a.clock, Some(ClockSpec::Virtual(Some(1_700_000_000))));
        assert_eq!(parse(&["serve", "--demo=false"]).demo, Some(false));
        assert_eq!(parse(&["serve"]).demo, None);
    }

    #[test]
    fn refuses_bad_values() {
        let _guard = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        for bad in [
            &["serve", "--token-ttl-secs", "0"][..],
            &["serve", "--token-ttl-secs", "-5"],
            &["serve", "--seed", "x"],
            &["serve", "--clock", "sundial"],
            &["serve", "--clock", "virtual:soon"],
            &["serve", "--demo=maybe"],
            &["serve", "--ingest-key", ""],
        ] {
            let args = std::iter::once("rollcall").chain(bad.iter().copied());
            assert!(Cli::try_parse_from(args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn flag_beats_env_and_env_fills_in() {
        let _guard = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        // Edition 2021: set_var is safe; ENV_LOCK keeps other parsing tests away.
        std::env::set_var("ROLLCALL_LISTEN", "10.0.0.1:1");
        std::env::set_var("ROLLCALL_SEED", "42");
        std::env::set_var("ROLLCALL_DEMO", "1");
        let cli = Cli::try_parse_from(["rollcall", "serve", "--listen", "10.0.0.2:2"]);
        std::env::remove_var("ROLLCALL_LISTEN");
        std::env::remove_var("ROLLCALL_SEED");
        std::env::remove_var("ROLLCALL_DEMO");
        let Command::Serve(a) = cli.expect("parses").command else {
            panic!("serve")
        };
        assert_eq!(a.listen.as_deref(), Some("10.0.0.2:2"));
        assert_eq!(a.seed, Some(42));
        assert_eq!(a.demo, Some(true));
    }

    fn parse_client(args: &[&str], env: &[(&str, &str)]) -> Result<Command, clap::Error> {
        let _guard = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let vars = ["WECOM_CORPID", "WECOM_SECRET", "ROLLCALL_BASE_URL"];
        let saved: Vec<_> = vars.iter().map(|v| (v, std::env::var_os(v))).collect();
        for v in vars {
            std::env::remove_var(v);
        }
        for (k, v) in env {
            std::env::set_var(k, v);
        }
        let cli = Cli::try_parse_from(std::iter::once("rollcall").chain(args.iter().copied()));
        for (k, v) in saved {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
        cli.map(|c| c.command)
    }

    #[test]
    fn attendees_reads_credentials_from_flags_or_env() {
        let env = [
            ("WECOM_CORPID", "wwenv"),
            ("WECOM_SECRET", "env-secret"),
            ("ROLLCALL_BASE_URL", "http://127.0.0.1:1"),
        ];
        let Ok(Command::Attendees(a)) = parse_client(&["attendees", "--meeting", "hy1"], &env)
        else {
            panic!("attendees")
        };
        assert_eq!(a.api.corpid, "wwenv");
        assert_eq!(a.api.secret.expose(), "env-secret");
        assert_eq!(a.api.base_url, "http://127.0.0.1:1");
        assert_eq!(a.format, Format::Table);
        assert!(!a.follow);
        assert_eq!(a.interval, std::time::Duration::from_secs(5));

        let Ok(Command::Attendees(a)) = parse_client(
            &[
                "attendees",
                "--corpid",
                "wwflag",
                "--secret",
                "flag-secret",
                "--meeting",
                "hy1",
                "--sub-meeting",
                "s1",
                "--since",
                "1760000000",
                "--format",
                "ndjson",
                "--follow",
                "--interval",
                "0.5",
            ],
            &env,
        ) else {
            panic!("attendees")
        };
        assert_eq!(a.api.corpid, "wwflag");
        assert_eq!(a.api.secret.expose(), "flag-secret");
        assert_eq!(a.listing.sub_meeting.as_deref(), Some("s1"));
        assert_eq!(a.listing.since, Some(1_760_000_000));
        assert_eq!(a.format, Format::Ndjson);
        assert!(a.follow);
        assert_eq!(a.interval, std::time::Duration::from_millis(500));

        // Without credentials: WeCom's endpoint by default, but corpid and secret are needed.
        assert!(parse_client(&["attendees", "--meeting", "hy1"], &[]).is_err());
        let Ok(Command::Report(r)) = parse_client(
            &["report", "--meeting", "hy1", "--out", "r.html"],
            &env[..2],
        ) else {
            panic!("report")
        };
        assert_eq!(r.api.base_url, "https://qyapi.weixin.qq.com");
        assert_eq!(r.out, PathBuf::from("r.html"));
        assert_eq!(
            (r.lanes, r.people.len()),
            (10, 0),
            "the large layout's defaults"
        );
        let Ok(Command::Report(r)) = parse_client(
            &[
                "report",
                "--meeting",
                "hy1",
                "--out",
                "r.html",
                "--lanes",
                "0",
                "--person",
                "zhangsan",
                "--person",
                "wo-guest",
            ],
            &env[..2],
        ) else {
            panic!("report with lanes")
        };
        assert_eq!(r.lanes, 0);
        assert_eq!(r.people, ["zhangsan", "wo-guest"]);
        assert!(parse_client(
            &[
                "report",
                "--meeting",
                "hy1",
                "--out",
                "r.html",
                "--lanes",
                "-1"
            ],
            &env[..2]
        )
        .is_err());
    }

    #[test]
    fn attendees_refuses_contradictions_and_bad_values() {
        let env = [("WECOM_CORPID", "ww"), ("WECOM_SECRET", "s")];
        for bad in [
            &[
                "attendees",
                "--meeting",
                "hy1",
                "--follow",
                "--until",
                "1760000000",
            ][..],
            &["attendees", "--meeting", "hy1", "--since", "tomorrow-ish"],
            &["attendees", "--meeting", "hy1", "--format", "xml"],
            &["attendees", "--meeting", "hy1", "--page-size", "101"],
            &["attendees", "--meeting", "hy1", "--interval", "0"],
            &["attendees"],
            &["report", "--meeting", "hy1"],
        ] {
            assert!(parse_client(bad, &env).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_keys() {
        let a = parse(&[
            "serve",
            "--ingest-key",
            "hunter2",
            "--admin-key",
            "swordfish",
        ]);
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("swordfish"),
            "{shown}"
        );
    }
}
