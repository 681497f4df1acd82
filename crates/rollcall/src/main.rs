//! `rollcall`: the WeCom-compatible meeting attendance service, as one binary.
//!
//! `rollcall serve` runs the server over the embedded store. Its settings come in layers,
//! flag > `ROLLCALL_*` env > config file > default, resolved into one typed value; the
//! config file also carries the corp directory, applied all-or-nothing at start-up with
//! errors reported as `<file>:<line>: <problem>`. `--demo` seeds a corp, an app and
//! meetings (one of them live) and prints how to query them.
//!
//! `rollcall attendees` and `rollcall report` are the client side: they read attendance
//! through `rollcall-client` from rollcall or from WeCom itself.
//!
//! # Layout
//! - [`cli`]: the clap definition (flags with their env vars).
//! - [`settings`]: `Settings` and its pure layering function; `Secret`, `ClockSpec`.
//! - [`config`]: reading the TOML file (`rollcall_server::config` parses it, `file:line`).
//! - [`serve`]: start-up order, signals, graceful shutdown; the `--demo` glue (the demo
//!   itself is `rollcall_server::demo`).
//! - [`attendees`]: `rollcall attendees`, the export (table, CSV, JSON, NDJSON, `--follow`).
//! - [`report`]: `rollcall report`, fetch and write (the report itself: `rollcall-report`).
//! - [`times`]: parsing the times people type (unix seconds, RFC 3339, local time).
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

mod attendees;
mod cli;
mod config;
mod report;
mod serve;
mod settings;
mod times;

use cli::{Cli, Command, LogFormat};

/// mimalloc instead of the system allocator: a page of attendees allocates a few hundred
/// small strings and frees them at once, and glibc's malloc/free were 10–15% of the page
/// path's CPU under `perf`; the benchmark (`rollcall-bench`, which uses it too) measured the
/// difference (see the README).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use config::ConfigError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The client commands print data on stdout and their own errors; only warnings log.
    init_logging(
        cli.log_format,
        if matches!(cli.command, Command::Attendees(_) | Command::Report(_)) {
            "warn"
        } else {
            "info"
        },
    );
    let result = match cli.command {
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(serve::run(args))),
        Command::Attendees(args) => run_client(attendees::run(args)),
        Command::Report(args) => run_client(report::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A config problem is printed bare, `file:line: problem`, so editors and CI logs
            // link straight to it.
            match e.downcast_ref::<ConfigError>() {
                Some(c) => eprintln!("{c}"),
                None => eprintln!("rollcall: error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (stdout is for the demo banner); `RUST_LOG` filters, default `info`.
/// Text has colours only on a terminal, so log files and CI output stay plain; JSON is one
/// object a line with the span fields flattened in, so a request's `request_id` is a field a
/// log pipeline can index rather than text to parse.
fn init_logging(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_current_span(false).init(),
    }
}

/// A client command on a single-threaded runtime: it waits on the network, one call at a
/// time.
fn run_client(f: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}
