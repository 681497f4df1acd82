//! `rollcall serve`: settings → store → config → listener → (demo) → serve until a signal.
//!
//! Order matters for operators: everything that can fail on a mistake (settings, config file,
//! store, the directory in the file) fails before the port is taken, and nothing slow happens
//! before the bind, so the server is ready in milliseconds. The demo seeds after the bind
//! (connections wait in the backlog meanwhile) so its banner can show the real address even
//! with `--listen 127.0.0.1:0`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use tokio::net::TcpListener;
use tokio::sync::watch;

use rollcall_core::clock::{Clock, SystemClock, VirtualClock};
use rollcall_core::ids::IdGen;
use rollcall_server::{apply_corp, ApplyError};
use rollcall_server::{demo, AppState, DedupeWindow, ServerConfig};
use rollcall_store::Store;
use rollcall_store_postgres::PgStore;
use rollcall_store_sqlite::SqliteStore;

use crate::cli::ServeArgs;
use crate::config::{load_config, LoadedConfig};
use crate::settings::{ClockSpec, Secret, Settings};

/// Run the server until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let file = args.config.as_deref().map(load_config).transpose()?;
    let settings = Settings::resolve(&args, file.as_ref().map(|f| &f.file))?;
    tracing::debug!(?settings, "settings");
    // Signals first: a SIGTERM during start-up then means "stop as soon as you can" rather
    // than the default "die".
    let stop = shutdown_signal()?;

    let ids = Arc::new(match settings.seed {
        Some(seed) => IdGen::seeded(seed),
        None => IdGen::random(),
    });
    let clock: Arc<dyn Clock> = match settings.clock {
        ClockSpec::System => Arc::new(SystemClock),
        ClockSpec::Virtual(t) => {
            Arc::new(VirtualClock::new(t.unwrap_or_else(|| SystemClock.now())))
        }
    };
    let mut ingest_key = settings.ingest_key.clone();
    let mut admin_key = settings.admin_key.clone();
    if settings.demo {
        // The demo enables both APIs; keys are drawn from the id generator, so `--seed`
        // fixes them too.
        ingest_key.get_or_insert_with(|| Secret::new(ids.token("ingest_", 32)));
        admin_key.get_or_insert_with(|| Secret::new(ids.token("admin_", 32)));
    }

    // Without an explicit --data, the demo runs in a throw-away directory (see `demo`).
    let temp = if settings.demo && !settings.data_explicit && settings.database.is_none() {
        Some(
            tempfile::Builder::new()
                .prefix("rollcall-demo-")
                .tempdir()
                .context("creating a temporary data directory for --demo")?,
        )
    } else {
        None
    };
    let data: PathBuf = temp
        .as_ref()
        .map_or_else(|| settings.data.clone(), |t| t.path().to_owned());
    let store: Arc<dyn Store> = match &settings.database {
        Some(url) => Arc::new(
            PgStore::connect(url)
                .await
                .with_context(|| format!("connecting to PostgreSQL at {}", redact_url(url)))?,
        ),
        None => Arc::new(
            SqliteStore::open(&data)
                .with_context(|| format!("opening the store in {}", data.display()))?,
        ),
    };
    let store_label = match &settings.database {
        Some(url) => redact_url(url),
        None => data.display().to_string(),
    };
    let config = ServerConfig {
        token_ttl_secs: i64::from(settings.token_ttl_secs.get()),
        ingest_key: ingest_key.as_ref().map(|k| k.expose().to_owned()),
        admin_key: admin_key.as_ref().map(|k| k.expose().to_owned()),
        journal_size: Some(settings.journal_size),
        http: settings.http,
        dedupe: DedupeWindow {
            window: Duration::from_secs(u64::from(settings.dedupe_window_secs.get())),
            ..DedupeWindow::default()
        },
    };
    let state = AppState::new(store, config, clock, ids)
        .await
        .context("initialising the store")?;
    state
        .controls()
        .rate_limits
        .configure(settings.rate_limits.clone());
    if let Some(tz) = &settings.timezone {
        state
            .set_time_zone(tz)
            .map_err(anyhow::Error::msg)
            .context("--timezone")?;
    }
    if let Some(file) = &file {
        apply_config(&state, file).await?;
    }

    let listener = TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let local = listener.local_addr().context("reading the bound address")?;
    tracing::info!(store = %store_label, "listening on http://{local}");

    let mut live = None;
    if settings.demo {
        let (seeded, feed) = demo::seed(&state).await?;
        let data_note = match &temp {
            Some(_) => format!(
                "{} (temporary: removed at exit; pass --data DIR to keep it)",
                data.display()
            ),
            None => store_label.clone(),
        };
        let text = demo::banner(
            &seeded,
            &format!("http://{}", reachable(local)),
            ingest_key.as_ref().map_or("", Secret::expose),
            admin_key.as_ref().map_or("", Secret::expose),
            &data_note,
        );
        println!("{text}");
        live = Some(tokio::spawn(demo::run_live(
            state.clone(),
            feed,
            stop.clone(),
        )));
    }

    let mut until = stop.clone();
    rollcall_server::serve(listener, state, async move {
        let _ = until.wait_for(|s| *s).await;
    })
    .await
    .context("serving")?;
    if let Some(task) = live {
        // The feed watches the same signal; wait so no demo write races the exit.
        let _ = task.await;
    }
    drop(temp);
    tracing::info!("stopped");
    Ok(())
}

/// Validate every corp of the file against the store, then apply them all.
async fn apply_config(state: &AppState, file: &LoadedConfig) -> anyhow::Result<()> {
    let mut stored = HashMap::new();
    for corpid in file.corpids() {
        if let Some(corp) = state.store().corp(&corpid).await? {
            stored.insert(corpid, corp);
        }
    }
    file.check(&stored)?;
    for (i, spec) in file.specs().iter().enumerate() {
        match apply_corp(state, spec).await {
            Ok(()) => {}
            Err(ApplyError::Invalid(e)) => return Err(file.locate(i, &e).into()),
            Err(ApplyError::Store(e)) => {
                return Err(anyhow!(e).context(format!("applying corp {}", spec.corpid)))
            }
        }
    }
    state.set_startup_corps(file.specs());
    tracing::info!(file = %file.name, corps = file.file.corps.len(), "config applied");
    Ok(())
}

/// The address to print for clients: a wildcard bind is reached through loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// A flag that turns `true` on the first SIGINT or SIGTERM. Handlers are installed before
/// this returns.
fn shutdown_signal() -> anyhow::Result<watch::Receiver<bool>> {
    let (tx, rx) = watch::channel(false);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!("{name} received: finishing requests in flight");
            let _ = tx.send(true);
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C received: finishing requests in flight");
        }
        let _ = tx.send(true);
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_binds_print_loopback() {
        let a: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(reachable(a).to_string(), "127.0.0.1:8080");
        let a: SocketAddr = "[::]:8080".parse().unwrap();
        assert_eq!(reachable(a).to_string(), "[::1]:8080");
        let a: SocketAddr = "10.1.2.3:9".parse().unwrap();
        assert_eq!(reachable(a), a);
    }
}

/// A database URL fit for logs: the password, if any, replaced.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod redaction_tests {
    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("postgres://h/db"), "postgres://h/db");
    }
}
