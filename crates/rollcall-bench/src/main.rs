//! `rollcall-bench`: measures the SPEC §10 performance targets on this machine.
//!
//! Run it with an optimized build (a debug build's figures mean little, and the report says
//! so):
//!
//! ```text
//! cargo run --release -p rollcall-bench -- [--sessions N] [--connections N]
//!     [--duration-secs N] [--deep-page N] [--data DIR | --database postgres://…]
//! ```
//!
//! It prints a Markdown table with the SPEC's targets beside the figures. It is a binary of
//! its own, not a `rollcall` subcommand, so the production binary ships no load generator;
//! it drives the server only through its public surface (`AppState`, `ServerConfig`,
//! `serve`) and the HTTP APIs, like any client.
//!
//! Everything runs on loopback and stops by itself. [`run::run`] starts a real rollcall
//! server (fresh SQLite store, or a schema of its own on PostgreSQL) and, for comparison, a
//! bare axum server, each on its own multi-thread runtime in its own OS thread; the load
//! generator stays on the caller's runtime, so the servers' executors never queue behind the
//! client's tasks. It then measures:
//!
//! 1. **Ingest**: `sessions` joins, quits for half of them and a state change for a tenth,
//!    sent as NDJSON in batches of 1,000 by one client, one batch after another, the way a
//!    media server pushes them. The bodies are built before the clock starts, so the figure is
//!    the server's (parse, validate, durable write), not the generator's.
//! 2. **get_attendee_list**: a closed loop of `connections` connections (one client each,
//!    one idle connection kept, so N really is N sockets) asking for the first page, then for
//!    page `deep_page` with its cursor, for `duration_secs` each.
//! 3. **Baseline**: the same load against a bare axum handler that answers a real page's exact
//!    bytes, so "≥ 0.5 × bare axum" compares like with like on this machine.
//!
//! Timings are reported, never asserted: `main` prints the
//! [`BenchReport`](report::BenchReport). Only correctness is checked: every ingest batch
//! fully accepted (else `run` fails), and every page answering errcode 0 with a full page
//! (else it counts as a failed request in the report).
//!
//! # Layout
//! - [`run`]: [`BenchOpts`](run::BenchOpts), [`run::run`], the whole measurement in order.
//! - [`report`]: `BenchReport` (with `IngestFigures`, `LoadFigures`) and its Markdown.
//! - [`server`]: `ServerThread`, a server on a dedicated runtime, started and stopped from
//!   async code.
//! - [`setup`]: the setup calls (directory, meeting, ingest, a token, the pages' cursors).
//! - [`stream`]: `plan_events` / `ndjson_batches`, the synthetic attendance stream.
//! - [`load`]: `closed_loop`, the load generator and its latency figures.
//! - [`mixed`]: the open-loop mixed load (pages, ingest, gettoken, get_info at fixed rates)
//!   against a running `rollcall serve`, the subcommand `mixed.sh` runs.
//! - [`growth`]: `growth`, one meeting grown to millions of sessions (bodies generated on the
//!   fly by a thread of their own), the ingest rate per million events.
//! - [`oracle`]: `oracle`, the timing oracle of issue 11.6 (another app's meeting against an
//!   unknown id), the `oracle` subcommand.
//! - [`wrk`]: `prepare` (a ready store and the requests, for `wrk`) and `ceiling` (the bare
//!   axum handler on its own), the subcommands `wrk.sh` runs to measure with Debian's `wrk`
//!   against the real `rollcall serve`: the method the SPEC §10 page figures are stated for.
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

mod growth;
mod load;
mod mixed;
mod oracle;
mod report;
mod run;
mod server;
mod setup;
mod stream;
mod wrk;

/// The allocator `rollcall serve` runs with (see its `main`): the in-process server must
/// be measured as it is deployed.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Measure the SPEC §10 targets on this machine: ingest throughput, 100-row pages of a
/// large meeting (first and deep) over loopback HTTP, against a bare axum baseline.
#[derive(Debug, Clone, Parser)]
#[command(name = "rollcall-bench", version)]
struct Cli {
    /// Sessions in the benchmark meeting.
    #[arg(long, default_value_t = 100_000)]
    sessions: usize,
    /// Concurrent HTTP connections of the load generator.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds each load phase runs.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// The deep page measured against the first (100 rows per page).
    #[arg(long, default_value_t = 900)]
    deep_page: usize,
    /// Where the benchmark store goes [default: a temporary directory].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Benchmark PostgreSQL at this URL instead (a schema of its own, dropped afterwards).
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Connections sending the ingest batches at once (the in-process run and `prepare`;
    /// 1: one after another). Concurrent batches share commits (group commit).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    ingest_clients: u16,
    /// Pieces for an external load generator (`crates/rollcall-bench/wrk.sh`) instead of
    /// the in-process run.
    #[command(subcommand)]
    command: Option<Command>,
}

/// What `wrk.sh` runs: the store and requests, and the bare-HTTP ceiling.
#[derive(Debug, Clone, clap::Subcommand)]
enum Command {
    /// Build a store of one meeting (`--sessions`, through the HTTP APIs) in DIR/data, and
    /// write DIR/first.json and DIR/deep.json (the request bodies of page 1 and of
    /// `--deep-page`), DIR/rollcall.toml (rate limits lifted) and DIR/app.env (the app's
    /// corpid and secret). Serve it with `rollcall serve --data DIR/data --config
    /// DIR/rollcall.toml`. With `--database URL`, the store is that PostgreSQL database (a
    /// database of its own: its default schema is what `rollcall serve --database` uses).
    Prepare {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Distinct participants the sessions are drawn from [default: 500 members and
        /// 20,000 each of external users and guests, so the people grow with the sessions].
        /// Fixed, it compares meetings that differ only in their sessions.
        #[arg(long)]
        people: Option<u32>,
    },
    /// Serve the bare-HTTP ceiling until killed: POST /cgi-bin/meeting/get_attendee_list
    /// answers FILE's bytes (a real page's reply).
    Ceiling {
        #[arg(long, value_name = "FILE")]
        body: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
    },
    /// Issue 11.2's mixed load, open-loop at fixed rates for `--duration-secs`, against a
    /// running `rollcall serve` on a store `prepare` built in DIR (started with DIR/app.env's
    /// INGEST_KEY); prints each kind's latency percentiles, counted from each request's
    /// scheduled start. A rate of 0 leaves that kind out. See `mixed.sh`.
    Mixed {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The server, e.g. http://127.0.0.1:18080/
        #[arg(long)]
        url: reqwest::Url,
        /// get_attendee_list (page 1) per second.
        #[arg(long, default_value_t = 200)]
        pages: u32,
        /// Ingested events per second (fresh joins and quits).
        #[arg(long, default_value_t = 1500)]
        events: u32,
        /// Events per ingest request.
        #[arg(long, default_value_t = 100)]
        event_batch: u32,
        /// gettoken per second.
        #[arg(long, default_value_t = 10)]
        tokens: u32,
        /// get_info of the prepared meeting per second.
        #[arg(long, default_value_t = 5)]
        infos: u32,
        /// A bare ceiling (`rollcall-bench ceiling`) to load at the pages' rate in the same
        /// run, as the machine's own floor for a request's latency.
        #[arg(long, value_name = "URL")]
        ceiling: Option<reqwest::Url>,
    },
    /// Grow one meeting to `--sessions` sessions in DIR/data (HTTP NDJSON batches of 1,000,
    /// bodies generated on the fly) and print the ingest rate per million events.
    Growth {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Only build the bodies (nothing sent): the generator's own rate.
        #[arg(long)]
        generator_only: bool,
    },
    /// The timing oracle of issue 11.6: PROBES pairs of get_info, by another app, of a
    /// meeting its owner just read (PROBES meetings, each asked once) and of a fresh unknown
    /// id (identical replies), timed over loopback against an in-process server; prints both
    /// distributions and the difference.
    Oracle {
        #[arg(long, default_value_t = 1000)]
        probes: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server runs in-process: a log line per request would be measured too.
    init_logging("warn");
    match bench(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rollcall-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (stdout is for the report); `RUST_LOG` filters, default `warn`.
/// Colours only on a terminal, so log files and CI output stay plain text.
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Run the measurements and print the Markdown report (or run a subcommand).
fn bench(cli: Cli) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match &cli.command {
        Some(Command::Prepare { dir, people }) => {
            let people = people.map_or_else(stream::Population::default, stream::Population::of);
            return rt.block_on(wrk::prepare(
                dir,
                cli.database.as_deref(),
                cli.sessions,
                &people,
                cli.deep_page,
                usize::from(cli.ingest_clients),
            ));
        }
        Some(Command::Ceiling { body, listen }) => return rt.block_on(wrk::ceiling(body, *listen)),
        Some(Command::Mixed {
            dir,
            url,
            pages,
            events,
            event_batch,
            tokens,
            infos,
            ceiling,
        }) => {
            let mix = mixed::Mix {
                pages: *pages,
                events: *events,
                event_batch: *event_batch,
                tokens: *tokens,
                infos: *infos,
                ceiling: ceiling.clone(),
                duration: std::time::Duration::from_secs(cli.duration_secs),
            };
            let figures = rt.block_on(mixed::run(url, dir, &mix))?;
            print!("{}", mixed::table(&figures));
            return Ok(());
        }
        Some(Command::Growth {
            dir,
            generator_only,
        }) => return rt.block_on(growth::growth(dir, cli.sessions, *generator_only)),
        Some(Command::Oracle { probes }) => {
            println!("{}", rt.block_on(oracle::oracle(*probes))?);
            return Ok(());
        }
        None => {}
    }
    let opts = run::BenchOpts {
        sessions: cli.sessions,
        connections: cli.connections,
        duration_secs: cli.duration_secs,
        deep_page: cli.deep_page,
        data_dir: cli.data,
        database: cli.database,
        ingest_clients: usize::from(cli.ingest_clients),
    };
    let report = rt.block_on(run::run(opts))?;
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_and_defaults_are_rollcall_bench_s() {
        let d = Cli::try_parse_from(["rollcall-bench"]).expect("parses");
        assert_eq!(
            (d.sessions, d.connections, d.duration_secs, d.deep_page),
            (100_000, 16, 10, 900)
        );
        assert_eq!((d.data, d.database), (None, None));
        let c = Cli::try_parse_from([
            "rollcall-bench",
            "--sessions",
            "2000",
            "--connections",
            "2",
            "--duration-secs",
            "1",
            "--deep-page",
            "15",
            "--data",
            "/tmp/b",
            "--database",
            "postgres://u@h/db",
            "--ingest-clients",
            "4",
        ])
        .expect("parses");
        assert_eq!(
            (c.sessions, c.connections, c.duration_secs, c.deep_page),
            (2_000, 2, 1, 15)
        );
        assert_eq!(c.data, Some(PathBuf::from("/tmp/b")));
        assert_eq!(c.database.as_deref(), Some("postgres://u@h/db"));
        assert_eq!((d.ingest_clients, c.ingest_clients), (1, 4));
        assert!(Cli::try_parse_from(["rollcall-bench", "--ingest-clients", "0"]).is_err());
        assert!(c.command.is_none());
        let p = Cli::try_parse_from([
            "rollcall-bench",
            "--sessions",
            "5000",
            "prepare",
            "--dir",
            "/tmp/w",
        ])
        .expect("parses");
        assert_eq!(p.sessions, 5_000);
        assert!(
            matches!(p.command, Some(Command::Prepare { dir, people: None }) if dir == std::path::Path::new("/tmp/w"))
        );
        let b =
            Cli::try_parse_from(["rollcall-bench", "ceiling", "--body", "/tmp/p"]).expect("parses");
        assert!(matches!(
            b.command,
            Some(Command::Ceiling { body, listen })
                if body == std::path::Path::new("/tmp/p") && listen.port() == 8090
        ));
        let m = Cli::try_parse_from([
            "rollcall-bench",
            "mixed",
            "--dir",
            "/tmp/w",
            "--url",
            "http://127.0.0.1:18081/",
            "--ceiling",
            "http://127.0.0.1:18091/",
        ])
        .expect("parses");
        assert!(matches!(
            m.command,
            Some(Command::Mixed { ceiling: Some(u), pages: 200, .. }) if u.port() == Some(18091)
        ));
    }
}
