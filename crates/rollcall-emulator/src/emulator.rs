//! [`Emulator`]: a rollcall server in-process with a standard corp, and the handle a test
//! drives it with; [`EmulatorBuilder`] for everything that is not the default.

use std::path::Path;

use serde_json::json;
use tempfile::TempDir;

use rollcall_client::admin::{Admin, CreatedMeeting, RateLimits};
use rollcall_client::{Client, ClientBuilder};
use rollcall_core::clock::VirtualClock;
use rollcall_server::ServerConfig;
use rollcall_store_sqlite::SqliteStore;

use crate::directory::{AppSpec, Directory};
use crate::error::Error;
use crate::ingest::Ingest;
use crate::server::{test_config, Server, ServerOptions};
use crate::standard::{self, ADMIN_KEY, AGENTID, CORPID, INGEST_KEY, SECRET, START};

/// The app a test acts as: what `gettoken` takes, and whose meetings the handle creates.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub corpid: String,
    pub agentid: u32,
    pub secret: String,
}

impl Credentials {
    pub fn new(corpid: &str, agentid: u32, secret: &str) -> Self {
        Self {
            corpid: corpid.to_owned(),
            agentid,
            secret: secret.to_owned(),
        }
    }

    /// The standard app: [`CORPID`], [`AGENTID`], [`SECRET`].
    pub fn standard() -> Self {
        Self::new(CORPID, AGENTID, SECRET)
    }
}

impl std::fmt::Debug for Credentials {
    /// The secret stays out of test output and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("corpid", &self.corpid)
            .field("agentid", &self.agentid)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// How to start an [`Emulator`]; from [`Emulator::builder`]. Every setting has the default
/// [`Emulator::start`] uses.
#[derive(Debug)]
pub struct EmulatorBuilder {
    clock_start: i64,
    ids_seed: Option<u64>,
    main: Directory,
    credentials: Credentials,
    corps: Vec<Directory>,
    config: ServerConfig,
    rate_limits: Option<RateLimits>,
    time_zone: Option<String>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            clock_start: START,
            ids_seed: None,
            main: standard::standard_corp(),
            credentials: Credentials::standard(),
            corps: Vec::new(),
            config: test_config(ADMIN_KEY, INGEST_KEY),
            rate_limits: None,
            time_zone: None,
        }
    }
}

impl EmulatorBuilder {
    /// Where the virtual clock starts, unix seconds (default [`START`]). A reset puts it back
    /// here.
    pub fn clock_start(mut self, at: i64) -> Self {
        self.clock_start = at;
        self
    }

    /// `--seed`: every id, secret, token, tmp_openid and fault draw is a function of `seed`
    /// and the request sequence, so a run repeats byte for byte (default: random ids).
    pub fn seed(mut self, seed: u64) -> Self {
        self.ids_seed = Some(seed);
        self
    }

    /// Another app in the main corp (the standard one unless [`Self::main_corp`] replaced
    /// it), say one without the meeting API or seeing one department only.
    pub fn app(mut self, app: AppSpec) -> Self {
        self.main = self.main.app(app);
        self
    }

    /// Another corp, next to the main one.
    pub fn corp(mut self, corp: Directory) -> Self {
        self.corps.push(corp);
        self
    }

    /// Replace the standard corp with `corp`, and act as the app `credentials` name (one of
    /// `corp`'s apps). The standard constants then no longer describe the emulator.
    pub fn main_corp(mut self, corp: Directory, credentials: Credentials) -> Self {
        self.main = corp;
        self.credentials = credentials;
        self
    }

    /// Lifetime of an access token, seconds (default 7200, as WeCom).
    pub fn token_ttl_secs(mut self, secs: i64) -> Self {
        self.config.token_ttl_secs = secs;
        self
    }

    /// How many requests the journal keeps (default 1000; 0 turns it off).
    pub fn journal_size(mut self, size: usize) -> Self {
        self.config.journal_size = Some(size);
        self
    }

    /// The start-up rate limits, in force after every reset too (default 6000 calls a minute
    /// per app per call). A zero limit or an unknown call fails the start.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = Some(limits);
        self
    }

    /// The admin API's key (default [`ADMIN_KEY`]).
    pub fn admin_key(mut self, key: &str) -> Self {
        self.config.admin_key = Some(key.to_owned());
        self
    }

    /// The ingest API's key (default [`INGEST_KEY`]).
    pub fn ingest_key(mut self, key: &str) -> Self {
        self.config.ingest_key = Some(key.to_owned());
        self
    }

    /// The IANA time zone recurring meetings are planned in (default Asia/Shanghai).
    pub fn time_zone(mut self, name: &str) -> Self {
        self.time_zone = Some(name.to_owned());
        self
    }

    /// Start it, or panic saying why: in a test, a failed start is a failed test.
    pub async fn start(self) -> Emulator {
        match self.try_start().await {
            Ok(emulator) => emulator,
            Err(e) => panic!("rollcall emulator: {e}"),
        }
    }

    /// Start it: a fresh SQLite store in a temporary directory, the corps seeded, the server
    /// on 127.0.0.1 and a free port, on a task of the current tokio runtime.
    pub async fn try_start(self) -> Result<Emulator, Error> {
        let rate_limits = self
            .rate_limits
            .map(|l| {
                serde_json::to_value(&l)
                    .and_then(serde_json::from_value)
                    .map_err(|e| Error::Config(format!("rate limits: {e}")))
            })
            .transpose()?;
        let dir = tempfile::Builder::new()
            .prefix("rollcall-emulator-")
            .tempdir()
            .map_err(|e| Error::Start(format!("a temporary directory: {e}")))?;
        let store = SqliteStore::open(dir.path())
            .map_err(|e| Error::Start(format!("the store in {}: {e}", dir.path().display())))?;
        let admin_key = self.config.admin_key.clone().unwrap_or_default();
        let ingest_key = self.config.ingest_key.clone().unwrap_or_default();
        let mut corps = vec![self.main];
        corps.extend(self.corps);
        let options = ServerOptions {
            ids_seed: self.ids_seed,
            corps,
            // A test's reset should give it back the emulator it started, corp included.
            reset_restores_corps: true,
            rate_limits,
            time_zone: self.time_zone,
            ..ServerOptions::new(self.config, VirtualClock::new(self.clock_start))
        };
        let server = Server::start(std::sync::Arc::new(store), options).await?;
        let admin = Admin::new(server.base_url(), admin_key.clone())?;
        let ingest = Ingest::new(server.base_url(), &ingest_key);
        Ok(Emulator {
            server,
            dir,
            credentials: self.credentials,
            admin,
            ingest,
            admin_key,
            ingest_key,
        })
    }
}

/// A running emulator. Dropping it stops the server and deletes its data; see
/// [`Emulator::shutdown`] for an orderly stop.
#[derive(Debug)]
pub struct Emulator {
    // Declared first so it drops first: the server stops before its data goes.
    server: Server,
    dir: TempDir,
    credentials: Credentials,
    admin: Admin,
    ingest: Ingest,
    admin_key: String,
    ingest_key: String,
}

impl Emulator {
    /// The default emulator: the standard corp and app, the virtual clock at [`START`],
    /// random ids. Panics if it cannot start (see [`EmulatorBuilder::try_start`]).
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// `http://127.0.0.1:<port>`: the base URL for your WeCom client (where it would have
    /// `https://qyapi.weixin.qq.com`).
    pub fn base_url(&self) -> &str {
        self.server.base_url()
    }

    /// The app the handle acts as.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
    pub fn corpid(&self) -> &str {
        &self.credentials.corpid
    }
    pub fn agentid(&self) -> u32 {
        self.credentials.agentid
    }
    pub fn secret(&self) -> &str {
        &self.credentials.secret
    }

    pub fn admin_key(&self) -> &str {
        &self.admin_key
    }
    pub fn ingest_key(&self) -> &str {
        &self.ingest_key
    }

    /// Where the store lives (removed when the emulator goes).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A client builder for the app, pointed here; set retries, backoff or a timeout on it
    /// as your production code does.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .corp(&self.credentials.corpid, &self.credentials.secret)
            .base_url(self.base_url())
    }

    /// A new client for the app (its own token cache), with the client's default settings.
    pub fn client(&self) -> Client {
        self.client_builder()
            .build()
            .expect("a client for an http:// base URL with a corpid always builds")
    }

    /// The typed admin API: clock, faults, request journal, rate limits, reset, snapshots,
    /// corps, meetings.
    pub fn admin(&self) -> &Admin {
        &self.admin
    }

    /// The ingest API: people join and leave meetings.
    pub fn ingest(&self) -> &Ingest {
        &self.ingest
    }

    /// A one-off meeting of the app, created through the admin API (so it may start in the
    /// past, unlike `meeting/create`'s): `meeting_start` in unix seconds, `meeting_duration`
    /// in seconds. Anything else (recurring, webinars, another app):
    /// [`Admin::create_meeting`].
    pub async fn create_meeting(
        &self,
        title: &str,
        meeting_start: i64,
        meeting_duration: i64,
    ) -> Result<CreatedMeeting, Error> {
        let body = json!({
            "corpid": self.credentials.corpid, "agentid": self.credentials.agentid,
            "meeting_type": 0, "title": title,
            "meeting_start": meeting_start, "meeting_duration": meeting_duration,
        });
        Ok(self.admin.create_meeting(&body).await?)
    }

    /// The virtual clock's now, unix seconds (read in-process, no request).
    pub fn now(&self) -> i64 {
        rollcall_core::clock::Clock::now(self.server.clock())
    }

    /// Move the virtual clock by `secs` through the admin API (as a test in another process
    /// would); answers the new now.
    pub async fn advance_clock(&self, secs: i64) -> Result<i64, Error> {
        Ok(self.admin.advance_clock(secs).await?.now)
    }

    /// Stop gracefully (requests in flight are answered), then delete the data, reporting
    /// what went wrong rather than ignoring it as a drop must.
    pub async fn shutdown(self) -> Result<(), Error> {
        let Self { server, dir, .. } = self;
        server.stop().await?;
        dir.close()
            .map_err(|e| Error::Stop(format!("removing the data directory: {e}")))
    }
}
