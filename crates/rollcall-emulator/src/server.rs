//! Starting a rollcall server in-process: the one start-up that [`crate::Emulator`] and the
//! workspace's test kit (`rollcall-testkit`, which adds PostgreSQL and shared data
//! directories) both build on.
//!
//! It does what `rollcall serve --clock virtual:<t> [--seed N] --config …` does, through the
//! server's public surface only (`AppState`, `apply_corp`, `serve`): state over a store, the
//! start-up corps applied, 127.0.0.1 on a port the OS picks, the server on a task of the
//! caller's runtime. The caller owns the store (and its directory): a [`Server`] never
//! deletes data, so a test kit can restart a server over the same data.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use rollcall_core::clock::VirtualClock;
use rollcall_core::directory::CorpSpec;
use rollcall_core::ids::IdGen;
use rollcall_server::control::RateLimits;
use rollcall_server::{AppState, ServerConfig};
use rollcall_store::Store;

use crate::directory::Directory;
use crate::error::Error;

/// How to start a [`Server`]. Public fields: the emulator's and the test kit's builders fill
/// them from their own, friendlier options.
#[derive(Debug)]
pub struct ServerOptions {
    /// Keys, token lifetime, journal size.
    pub config: ServerConfig,
    /// The virtual clock the server runs on (a clone; share it to move time in-process).
    pub clock: VirtualClock,
    /// `--seed`: ids, secrets, tokens and fault draws from this seed (default: random).
    pub ids_seed: Option<u64>,
    /// Corps applied before the server accepts its first connection.
    pub corps: Vec<Directory>,
    /// Whether [`ServerOptions::corps`] are also the start-up configuration a reset
    /// (`POST /admin/v1/reset`) applies again, as a `--config` file's are. Without it a reset
    /// leaves the directory empty, as for corps added through the admin API.
    pub reset_restores_corps: bool,
    /// The start-up rate limits (`[rate_limits]`), in force now and after every reset
    /// (default: the server's, 6000 calls a minute per app per call).
    pub rate_limits: Option<RateLimits>,
    /// The IANA time zone of recurring meetings (default: the server's, Asia/Shanghai).
    pub time_zone: Option<String>,
}

/// The configuration of a server for tests: tokens live 7200 s as WeCom's do, and the admin
/// and ingest APIs are on with these keys; the rest is the server's default.
pub fn test_config(admin_key: &str, ingest_key: &str) -> ServerConfig {
    // `..Default::default()`: settings the server grows later keep their defaults here.
    #[allow(clippy::needless_update)]
    ServerConfig {
        token_ttl_secs: 7200,
        ingest_key: Some(ingest_key.to_owned()),
        admin_key: Some(admin_key.to_owned()),
        journal_size: None,
        ..Default::default()
    }
}

impl ServerOptions {
    /// `config` on `clock`, with random ids, no corp and the server's defaults otherwise.
    pub fn new(config: ServerConfig, clock: VirtualClock) -> Self {
        Self {
            config,
            clock,
            ids_seed: None,
            corps: Vec::new(),
            reset_restores_corps: false,
            rate_limits: None,
            time_zone: None,
        }
    }
}

/// A server running on a task of the current tokio runtime.
///
/// [`Server::stop`] stops it gracefully (in-flight requests finish). Dropping it signals
/// shutdown and aborts the task, which closes the listening socket; open connections are
/// then told to close once their request is answered.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    base: String,
    state: AppState,
    clock: VirtualClock,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Start serving `store` as `options` say, on 127.0.0.1 and a free port. Must be called
    /// within a tokio runtime (the server runs on it).
    pub async fn start(store: Arc<dyn Store>, options: ServerOptions) -> Result<Self, Error> {
        let ServerOptions {
            config,
            clock,
            ids_seed,
            corps,
            reset_restores_corps,
            rate_limits,
            time_zone,
        } = options;
        let ids = ids_seed.map_or_else(IdGen::random, IdGen::seeded);
        let state = AppState::new(store, config, Arc::new(clock.clone()), Arc::new(ids))
            .await
            .map_err(|e| Error::Start(format!("the store: {e}")))?;
        if let Some(tz) = time_zone {
            state
                .set_time_zone(&tz)
                .map_err(|e| Error::Config(format!("time zone {tz:?}: {e}")))?;
        }
        if let Some(limits) = rate_limits {
            state.controls().rate_limits.configure(limits);
        }
        let specs = corps
            .iter()
            .map(|c| {
                serde_json::from_value::<CorpSpec>(c.to_json())
                    .map_err(|e| Error::Config(format!("corp {}: {e}", c.corpid())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for spec in &specs {
            rollcall_server::apply_corp(&state, spec)
                .await
                .map_err(|e| Error::Config(format!("corp {}: {e}", spec.corpid)))?;
        }
        if reset_restores_corps {
            state.set_startup_corps(specs);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::Start(format!("binding 127.0.0.1:0: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Start(format!("the bound address: {e}")))?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(rollcall_server::serve(
            listener,
            state.clone(),
            async move {
                // A dropped sender is a shutdown too.
                let _ = rx.await;
            },
        ));
        Ok(Self {
            addr,
            base: format!("http://{addr}"),
            state,
            clock,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's state, for tests that look inside (its controls, its store).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The server's clock (clones share it).
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    /// Stop accepting, finish the requests in flight, and wait for the server to end.
    pub async fn stop(mut self) -> Result<(), Error> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => match task.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Error::Stop(format!("server I/O: {e}"))),
                Err(e) => Err(Error::Stop(format!("server task: {e}"))),
            },
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Drop cannot wait for a graceful stop: abort, so the listener closes as soon as
        // the runtime cancels the task, even if a client keeps a connection open.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
