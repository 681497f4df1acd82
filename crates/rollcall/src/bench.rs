//! `rollcall bench`: measures the SPEC §10 performance targets on this machine.
//!
//! Everything runs on loopback and stops by itself. [`run`] starts a real rollcall server
//! (fresh SQLite store) and, for comparison, a bare axum server, each on its own multi-thread
//! runtime in its own OS thread; the load generator stays on the caller's runtime, so the
//! servers' executors never queue behind the client's tasks. It then measures:
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
//! Timings are reported, never asserted: the caller prints [`BenchReport`] (a Markdown table
//! with the SPEC's targets beside the figures). Only correctness is checked: every ingest
//! batch fully accepted (else `run` fails), and every page answering errcode 0 with a full
//! page (else it counts as a failed request in the report).
//!
//! # Layout
//! - [`BenchOpts`], [`run`], [`BenchReport`] (with [`IngestFigures`], [`LoadFigures`]).
//! - `ServerThread`: a server on a dedicated runtime, started and stopped from async code.
//! - `plan_events` / `ndjson_batches`: the synthetic attendance stream.
//! - `closed_loop`: the load generator and its latency figures.

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context};
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::Url;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Barrier};
use tokio::task::JoinSet;

use rollcall_core::clock::{Clock, SystemClock};
use rollcall_core::ids::IdGen;
use rollcall_core::ingest::{INSTANCE_IDS, MAX_JOIN_TYPE, MAX_ROLE};
use rollcall_core::DAY;
use rollcall_server::internal::IngestReport;
use rollcall_server::{AppState, ServerConfig};
use rollcall_store_postgres::PgStore;
use rollcall_store_sqlite::SqliteStore;
use rollcall_wire::{GetAttendeeListResponse, GetTokenResponse};

/// Page size the SPEC's targets are stated for (and the largest WeCom allows).
const PAGE: usize = 100;
/// Events per ingest request, as SPEC §10 states the ingest target.
const INGEST_BATCH: usize = 1_000;
/// Requests each connection makes before the clock starts: opens the socket and warms the
/// server's caches (token, directory, SQLite pages) so the window measures steady state.
const WARMUP_REQUESTS: usize = 10;
/// A page request slower than this is a failure, not a latency sample; it also bounds how
/// long a hung server can keep the benchmark from finishing.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// One ingest batch is a durable write of 1,000 events; generous, but still bounded.
const INGEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a server may take to finish after being told to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);

const CORPID: &str = "wwrollcallbench";
const AGENTID: u32 = 1_000_002;
/// Corp members the synthetic participants are drawn from (all inside the app's visible
/// range, through sub-departments, so every page is full).
const MEMBERS: u32 = 500;
/// Distinct external users and guests the synthetic participants are drawn from.
const OUTSIDERS: u32 = 20_000;

/// What to measure. Plain fields so the CLI can expose each one as a flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchOpts {
    /// Attendance sessions ingested into the one meeting the pages are read from.
    pub sessions: usize,
    /// Concurrent connections of the page load.
    pub connections: usize,
    /// Length of each closed-loop run (page 1, deep page, baseline), seconds.
    pub duration_secs: u64,
    /// Which page (1-based, 100 rows each) the deep-page run reads; needs
    /// `sessions ≥ deep_page × 100`.
    pub deep_page: usize,
    /// Where the SQLite store goes; a fresh temporary directory (removed afterwards) when
    /// absent. Point it at the disk you will deploy on: a tmpfs makes durable writes free.
    pub data_dir: Option<PathBuf>,
    /// Benchmark PostgreSQL at this URL instead of SQLite: a schema of its own is created
    /// for the run and dropped afterwards.
    pub database: Option<String>,
}

impl Default for BenchOpts {
    fn default() -> Self {
        Self {
            sessions: 100_000,
            connections: 16,
            duration_secs: 10,
            deep_page: 900,
            data_dir: None,
            database: None,
        }
    }
}

/// The ingest run's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestFigures {
    /// Events sent (joins + quits + state changes), all accepted.
    pub events: u64,
    /// Wall time from the first request sent to the last reply read.
    pub secs: f64,
}

impl IngestFigures {
    pub fn events_per_sec(&self) -> f64 {
        per_sec(self.events, self.secs)
    }
}

/// One closed-loop run's figures. Latencies are per request (send to last body byte), µs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadFigures {
    /// Requests completed inside the window (failed ones included).
    pub requests: u64,
    /// Requests that failed: transport error, non-200, errcode ≠ 0 or not a full page.
    pub errors: u64,
    /// The window: first connection's start to last connection's end.
    pub secs: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl LoadFigures {
    pub fn req_per_sec(&self) -> f64 {
        per_sec(self.requests, self.secs)
    }
}

/// Everything [`run`] measured; `Display` renders it as a Markdown table beside SPEC §10.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub opts: BenchOpts,
    /// Logical CPUs available to this process.
    pub cpus: usize,
    /// Whether this binary was built with optimizations (debug figures mean little).
    pub optimized: bool,
    /// Where the SQLite store was.
    /// Where the store was: a directory (SQLite) or a URL and schema (PostgreSQL).
    pub store: String,
    pub ingest: IngestFigures,
    /// Size of one 100-row page body, which the baseline serves verbatim.
    pub page_bytes: usize,
    pub first_page: LoadFigures,
    pub deep_page: LoadFigures,
    pub baseline: LoadFigures,
}

impl BenchReport {
    /// rollcall's first-page throughput as a fraction of the bare handler's (SPEC: ≥ 0.5).
    pub fn baseline_ratio(&self) -> f64 {
        ratio(self.first_page.req_per_sec(), self.baseline.req_per_sec())
    }

    /// Deep-page p99 over first-page p99 (SPEC: ≤ 1.2, keyset pagination).
    pub fn deep_ratio(&self) -> f64 {
        ratio(self.deep_page.p99_us as f64, self.first_page.p99_us as f64)
    }
}

/// Run the whole benchmark; takes about `3 × duration_secs` plus the ingest.
pub async fn run(opts: BenchOpts) -> anyhow::Result<BenchReport> {
    ensure!(opts.connections >= 1, "connections must be at least 1");
    ensure!(
        opts.duration_secs >= 1,
        "duration must be at least 1 second"
    );
    ensure!(opts.deep_page >= 1, "deep_page must be at least 1");
    ensure!(
        opts.sessions >= opts.deep_page * PAGE,
        "page {} of {PAGE} rows needs at least {} sessions (got {})",
        opts.deep_page,
        opts.deep_page * PAGE,
        opts.sessions
    );
    let duration = Duration::from_secs(opts.duration_secs);

    // Kept alive until the end: dropping it removes the store.
    let tmp;
    let store_dir = match &opts.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("rollcall-bench-")
                .tempdir()
                .context("creating a temporary store directory")?;
            tmp.path().to_path_buf()
        }
    };

    let ingest_key = random_key();
    let admin_key = random_key();
    let pg_schema = format!("bench_{}", random_key().to_lowercase());
    let store_label = match &opts.database {
        Some(url) => format!("PostgreSQL store at `{url}` (schema `{pg_schema}`)"),
        None => format!("SQLite store in `{}`", store_dir.display()),
    };
    let server = ServerThread::start("rollcall-bench-server", {
        let dir = store_dir.clone();
        let database = opts.database.clone();
        let schema = pg_schema.clone();
        let config = ServerConfig {
            token_ttl_secs: 0,
            ingest_key: Some(ingest_key.clone()),
            admin_key: Some(admin_key.clone()),
        };
        move || async move {
            let store: Arc<dyn rollcall_store::Store> =
                match database {
                    Some(url) => Arc::new(
                        PgStore::connect_with_schema(&url, &schema)
                            .await
                            .context("connecting to PostgreSQL")?,
                    ),
                    None => Arc::new(SqliteStore::open(&dir).with_context(|| {
                        format!("opening the SQLite store in {}", dir.display())
                    })?),
                };
            let state = AppState::new(
                store,
                config,
                Arc::new(SystemClock),
                Arc::new(IdGen::random()),
            )
            .await
            .context("starting the server state")?;
            Ok(state)
        }
    })
    .await?;
    let base = Url::parse(&format!("http://{}/", server.addr))?;
    let http = client(INGEST_TIMEOUT)?;

    // Directory and meeting.
    let secret = random_key();
    let corp = json!({
        "corpid": CORPID,
        "name": "rollcall bench",
        "departments": [
            {"id": 1, "name": "HQ", "parent": 0},
            {"id": 2, "name": "Sales", "parent": 1},
            {"id": 3, "name": "Engineering", "parent": 1},
            {"id": 4, "name": "Platform", "parent": 3},
        ],
        "users": (0..MEMBERS)
            .map(|i| json!({"userid": member(i), "departments": [2 + i % 3]}))
            .collect::<Vec<_>>(),
        "apps": [{
            "agentid": AGENTID,
            "name": "attendance",
            "secret": secret,
            "meeting_api": true,
            "visible_departments": [1],
        }],
    });
    admin_post(&http, &base, &admin_key, "admin/v1/corps", &corp).await?;
    let now = SystemClock.now();
    let meeting = admin_post(
        &http,
        &base,
        &admin_key,
        "admin/v1/meetings",
        &json!({
            "corpid": CORPID,
            "agentid": AGENTID,
            "meeting_type": 0,
            "title": "rollcall bench",
            "meeting_start": now - 21 * DAY,
            "meeting_duration": 22 * DAY,
        }),
    )
    .await?;
    let meetingid = meeting["meetingid"]
        .as_str()
        .ok_or_else(|| anyhow!("admin/v1/meetings answered without a meetingid: {meeting}"))?
        .to_owned();

    // 1. Ingest.
    let batches = ndjson_batches(&meetingid, &plan_events(opts.sessions, now));
    let ingest = ingest_all(&http, &base, &ingest_key, &batches).await?;
    drop(batches);

    // 2. Pages: a token, page 1 and the deep page's cursor.
    let token: GetTokenResponse = http
        .get(base.join("cgi-bin/gettoken")?)
        .query(&[("corpid", CORPID), ("corpsecret", secret.as_str())])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    ensure!(token.errcode == 0, "gettoken: {}", token.errmsg);
    let mut url = base.join("cgi-bin/meeting/get_attendee_list")?;
    url.query_pairs_mut()
        .append_pair("access_token", &token.access_token);
    let first = Target {
        url: url.clone(),
        body: json_bytes(&json!({"meetingid": meetingid, "limit": PAGE})),
    };
    let (page_body, mut page) = fetch_page(&http, &first).await.context("page 1")?;
    let mut deep = first.clone();
    for n in 2..=opts.deep_page {
        ensure!(page.has_more, "page {} said has_more: false", n - 1);
        deep.body = json_bytes(&json!({
            "meetingid": meetingid,
            "cursor": page.next_cursor,
            "limit": PAGE,
        }));
        page = fetch_page(&http, &deep)
            .await
            .with_context(|| format!("page {n}"))?
            .1;
    }
    drop(http);

    let first_page = closed_loop(&first, opts.connections, duration).await?;
    let deep_page = closed_loop(&deep, opts.connections, duration).await?;
    server.stop().await?;

    // 3. Baseline: the same requests, answered with page 1's exact bytes.
    let page_bytes = page_body.len();
    let baseline_server = ServerThread::start("rollcall-bench-baseline", move || async move {
        let body = page_body;
        Ok(axum::Router::new().route(
            "/cgi-bin/meeting/get_attendee_list",
            post(move || {
                let body = body.clone();
                async move { ([(CONTENT_TYPE, "application/json")], body) }
            }),
        ))
    })
    .await?;
    let mut baseline_target = first.clone();
    baseline_target
        .url
        .set_port(Some(baseline_server.addr.port()))
        .map_err(|()| anyhow!("cannot set the baseline's port"))?;
    let baseline = closed_loop(&baseline_target, opts.connections, duration).await?;
    baseline_server.stop().await?;
    if let Some(url) = &opts.database {
        // The run's schema is of no further use.
        if let Ok(store) = PgStore::connect_with_schema(url, &pg_schema).await {
            let _ = store.drop_schema().await;
        }
    }

    Ok(BenchReport {
        opts,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        optimized: !cfg!(debug_assertions),
        store: store_label,
        ingest,
        page_bytes,
        first_page,
        deep_page,
        baseline,
    })
}

// ---------------------------------------------------------------------------------------
// Servers on their own runtimes

/// Resolves when the server should stop.
type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A server on a dedicated multi-thread runtime in its own OS thread, so a request's
/// latency is the loopback round trip plus the server's work, never time spent queued behind
/// the load generator's own tasks on shared workers.
///
/// Dropping it (say, when `run` fails half-way) tells the server to stop.
struct ServerThread {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<anyhow::Result<()>>>,
}

/// What can be served: rollcall's state through `rollcall_server::serve`, or a bare router.
trait Servable: 'static {
    fn serve(
        self,
        listener: TcpListener,
        shutdown: Shutdown,
    ) -> impl Future<Output = std::io::Result<()>>;
}

impl Servable for AppState {
    fn serve(
        self,
        listener: TcpListener,
        shutdown: Shutdown,
    ) -> impl Future<Output = std::io::Result<()>> {
        rollcall_server::serve(listener, self, shutdown)
    }
}

impl Servable for axum::Router {
    async fn serve(self, listener: TcpListener, shutdown: Shutdown) -> std::io::Result<()> {
        axum::serve(listener, self)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

impl ServerThread {
    /// Start the thread, run `setup` on its runtime, bind 127.0.0.1:0 and serve what `setup`
    /// made. Returns once the server accepts connections (or `setup` failed).
    async fn start<S, F, Fut>(name: &str, setup: F) -> anyhow::Result<Self>
    where
        S: Servable,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<S>>,
    {
        let (ready_tx, ready_rx) = oneshot::channel::<anyhow::Result<SocketAddr>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel();
        let thread_name = name.to_owned();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let result = (|| {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .enable_all()
                        .thread_name(thread_name)
                        .build()
                        .context("building the server runtime")?;
                    let served = rt.block_on(async move {
                        let prepared = async {
                            let app = setup().await?;
                            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
                            let addr = listener.local_addr()?;
                            anyhow::Ok((app, listener, addr))
                        }
                        .await;
                        match prepared {
                            Ok((app, listener, addr)) => {
                                let _ = ready_tx.send(Ok(addr));
                                let shutdown: Shutdown = Box::pin(async move {
                                    // A dropped sender means "stop" as well.
                                    let _ = stop_rx.await;
                                });
                                app.serve(listener, shutdown).await.context("serving")
                            }
                            Err(e) => {
                                let _ = ready_tx.send(Err(e));
                                Ok(())
                            }
                        }
                    });
                    // Connections still open must not keep the thread alive.
                    rt.shutdown_timeout(Duration::from_secs(1));
                    served
                })();
                let _ = done_tx.send(result);
            })
            .context("spawning the server thread")?;
        let addr = match ready_rx.await {
            Ok(ready) => ready.with_context(|| format!("starting {name}"))?,
            // The thread ended before reporting: its result says why.
            Err(_) => {
                return Err(match done_rx.await {
                    Ok(Err(e)) => e.context(format!("starting {name}")),
                    _ => anyhow!("{name} ended while starting (it panicked)"),
                })
            }
        };
        Ok(Self {
            addr,
            stop: Some(stop_tx),
            done: Some(done_rx),
        })
    }

    /// Stop accepting, finish requests in flight, and wait for the thread to end.
    async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let done = self.done.take().expect("stop is called once");
        match tokio::time::timeout(STOP_GRACE, done).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => bail!("the server thread panicked"),
            Err(_) => bail!("the server did not stop within {STOP_GRACE:?}"),
        }
    }
}

impl fmt::Debug for ServerThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerThread")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------
// Setup calls

/// An HTTP client for one connection: at most one idle socket kept, no proxy (an
/// `HTTP_PROXY` in the environment must not reroute loopback traffic).
fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .no_proxy()
        .timeout(timeout)
        .build()?)
}

fn random_key() -> String {
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| char::from(rng.sample(rand::distributions::Alphanumeric)))
        .collect()
}

fn json_bytes(v: &serde_json::Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).expect("a JSON value serializes"))
}

async fn admin_post(
    http: &reqwest::Client,
    base: &Url,
    key: &str,
    path: &str,
    body: &serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let resp = http
        .post(base.join(path)?)
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .with_context(|| format!("POST /{path}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    ensure!(status.is_success(), "POST /{path}: {status} {text}");
    serde_json::from_str(&text).with_context(|| format!("POST /{path} answered {text}"))
}

/// One page through the setup client, checked to be full; returns its raw body too.
async fn fetch_page(
    http: &reqwest::Client,
    t: &Target,
) -> anyhow::Result<(Bytes, GetAttendeeListResponse)> {
    let body = http
        .post(t.url.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(t.body.clone())
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let page: GetAttendeeListResponse = serde_json::from_slice(&body)
        .with_context(|| format!("not a page: {}", String::from_utf8_lossy(&body)))?;
    ensure!(
        page.errcode == 0,
        "errcode {}: {}",
        page.errcode,
        page.errmsg
    );
    ensure!(
        page.attendees.len() == PAGE,
        "{} attendees instead of {PAGE}",
        page.attendees.len()
    );
    Ok((body, page))
}

// ---------------------------------------------------------------------------------------
// The attendance stream

/// Who a synthetic session belongs to.
#[derive(Debug, Clone, Copy)]
enum Who {
    Member(u32),
    External(u32),
    Guest(u32),
}

/// One event of the stream, compact so 1.6 events per session stay cheap to sort.
#[derive(Debug, Clone, Copy)]
struct Planned {
    at: i64,
    session: u32,
    kind: PlannedKind,
}

#[derive(Debug, Clone, Copy)]
enum PlannedKind {
    Join {
        who: Who,
        instance_id: u32,
        role: u32,
        join_type: u32,
        net: &'static str,
        audio: bool,
        video: bool,
        customer_data: bool,
    },
    Quit,
    State {
        audio: bool,
        net: &'static str,
    },
}

const NETS: &[&str] = &["WIFI", "4G", "5G", "WIRED"];

fn member(i: u32) -> String {
    format!("u{i:04}")
}

/// `sessions` joins spread over the last 20 days (ending 3 h ago, so every quit is in the
/// past), a quit 1 min–2 h later for every other session and a state change within the first
/// minute for every tenth, in time order as a platform would push them. Participants: 60 %
/// corp members (who rejoin often), 25 % external users, 15 % guests. Seeded: every run
/// ingests the same stream.
fn plan_events(sessions: usize, now: i64) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(0x0011_ca11);
    let (lo, hi) = (now - 20 * DAY, now - 3 * 3600);
    let mut events = Vec::with_capacity(sessions + sessions / 2 + sessions / 10 + 1);
    for s in 0..sessions as u32 {
        let at = rng.gen_range(lo..=hi);
        let who = match rng.gen_range(0..100) {
            0..60 => Who::Member(rng.gen_range(0..MEMBERS)),
            60..85 => Who::External(rng.gen_range(0..OUTSIDERS)),
            _ => Who::Guest(rng.gen_range(0..OUTSIDERS)),
        };
        events.push(Planned {
            at,
            session: s,
            kind: PlannedKind::Join {
                who,
                instance_id: *INSTANCE_IDS.choose(&mut rng).expect("not empty"),
                role: rng.gen_range(0..=MAX_ROLE),
                join_type: rng.gen_range(0..=MAX_JOIN_TYPE),
                net: NETS.choose(&mut rng).expect("not empty"),
                audio: rng.gen(),
                video: rng.gen(),
                customer_data: rng.gen_ratio(1, 20),
            },
        });
        if s % 10 == 0 {
            events.push(Planned {
                at: at + rng.gen_range(1..60),
                session: s,
                kind: PlannedKind::State {
                    audio: rng.gen(),
                    net: NETS.choose(&mut rng).expect("not empty"),
                },
            });
        }
        if s % 2 == 0 {
            events.push(Planned {
                at: at + rng.gen_range(60..=7200),
                session: s,
                kind: PlannedKind::Quit,
            });
        }
    }
    // Stable: a session's join comes before its state change and quit even at equal times.
    events.sort_by_key(|e| e.at);
    events
}

/// The stream as NDJSON request bodies of [`INGEST_BATCH`] events each.
fn ndjson_batches(meetingid: &str, events: &[Planned]) -> Vec<(usize, Bytes)> {
    use std::io::Write as _;
    let m = serde_json::to_string(meetingid).expect("a string serializes");
    events
        .chunks(INGEST_BATCH)
        .map(|chunk| {
            let mut out = Vec::with_capacity(chunk.len() * 360);
            for e in chunk {
                let (s, at) = (e.session, e.at);
                // `write!` into a Vec cannot fail; ids and enum texts need no escaping.
                let _ = match e.kind {
                    PlannedKind::Join {
                        who,
                        instance_id,
                        role,
                        join_type,
                        net,
                        audio,
                        video,
                        customer_data,
                    } => {
                        let participant = match who {
                            Who::Member(i) => format!(r#"{{"userid":"{}"}}"#, member(i)),
                            Who::External(i) => format!(r#"{{"external_id":"ext-{i}"}}"#),
                            Who::Guest(i) => format!(r#"{{"guest_id":"guest-{i}"}}"#),
                        };
                        write!(
                            out,
                            r#"{{"event_id":"j-{s}","kind":"join","meetingid":{m},"session":"s-{s}","at":{at},"participant":{participant},"instance_id":{instance_id},"join_type":{join_type},"role":{role},"webinar_role":0,"net":"{net}","audio_state":{audio},"video_state":{video},"screen_shared_state":false"#
                        )
                        .and_then(|()| {
                            if customer_data {
                                write!(out, r#","customer_data":"campaign-{}""#, s % 97)
                            } else {
                                Ok(())
                            }
                        })
                        .and_then(|()| writeln!(out, "}}"))
                    }
                    PlannedKind::Quit => writeln!(
                        out,
                        r#"{{"event_id":"q-{s}","kind":"quit","meetingid":{m},"session":"s-{s}","at":{at}}}"#
                    ),
                    PlannedKind::State { audio, net } => writeln!(
                        out,
                        r#"{{"event_id":"st-{s}","kind":"state","meetingid":{m},"session":"s-{s}","at":{at},"audio_state":{audio},"net":"{net}"}}"#
                    ),
                };
            }
            (chunk.len(), Bytes::from(out))
        })
        .collect()
}

/// Send every batch, one after another, and check each was accepted whole.
async fn ingest_all(
    http: &reqwest::Client,
    base: &Url,
    key: &str,
    batches: &[(usize, Bytes)],
) -> anyhow::Result<IngestFigures> {
    let url = base.join("ingest/v1/events")?;
    let mut events = 0u64;
    let started = Instant::now();
    for (i, (n, body)) in batches.iter().enumerate() {
        let resp = http
            .post(url.clone())
            .bearer_auth(key)
            .header(CONTENT_TYPE, "application/x-ndjson")
            .body(body.clone())
            .send()
            .await
            .with_context(|| format!("ingest batch {i}"))?;
        let status = resp.status();
        let text = resp.text().await?;
        ensure!(status.is_success(), "ingest batch {i}: {status} {text}");
        let report: IngestReport = serde_json::from_str(&text)
            .with_context(|| format!("ingest batch {i} answered {text}"))?;
        ensure!(
            report.accepted == *n && report.duplicates == 0 && report.rejected.is_empty(),
            "ingest batch {i}: {} of {n} accepted, {} duplicates, first rejection: {:?}",
            report.accepted,
            report.duplicates,
            report.rejected.first()
        );
        events += *n as u64;
    }
    Ok(IngestFigures {
        events,
        secs: started.elapsed().as_secs_f64(),
    })
}

// ---------------------------------------------------------------------------------------
// The load generator

/// One request, repeated: where it goes and its (prebuilt, cheaply cloned) body.
#[derive(Debug, Clone)]
struct Target {
    url: Url,
    body: Bytes,
}

/// Just enough of a page to check it; skipping the attendees' contents keeps the client's
/// share of the CPU small (the server shares the same cores).
#[derive(Deserialize)]
struct PageCheck {
    errcode: i64,
    #[serde(default)]
    attendees: Vec<IgnoredAny>,
}

/// Send the request once; `Ok` only for a 200 whose body is errcode 0 with a full page.
async fn call(client: &reqwest::Client, t: &Target) -> Result<Bytes, ()> {
    let resp = client
        .post(t.url.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(t.body.clone())
        .send()
        .await
        .map_err(drop)?;
    if !resp.status().is_success() {
        return Err(());
    }
    resp.bytes().await.map_err(drop)
}

fn full_page(body: &[u8]) -> bool {
    serde_json::from_slice::<PageCheck>(body)
        .is_ok_and(|p| p.errcode == 0 && p.attendees.len() == PAGE)
}

/// What one connection measured.
struct ConnRun {
    latencies_us: Vec<u64>,
    errors: u64,
    started: Instant,
    ended: Instant,
}

/// `connections` connections, each sending `t` again as soon as the previous answer is in,
/// for `duration` after a short warm-up.
async fn closed_loop(
    t: &Target,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadFigures> {
    let barrier = Arc::new(Barrier::new(connections));
    let mut tasks = JoinSet::new();
    for _ in 0..connections {
        let (t, barrier) = (t.clone(), barrier.clone());
        let client = client(REQUEST_TIMEOUT)?;
        tasks.spawn(async move {
            let mut warm = true;
            for _ in 0..WARMUP_REQUESTS {
                warm &= call(&client, &t).await.is_ok_and(|b| full_page(&b));
            }
            // Everyone waits here, even after a failed warm-up, or the others would hang.
            barrier.wait().await;
            ensure!(warm, "warm-up requests to {} failed", t.url);
            let started = Instant::now();
            let deadline = started + duration;
            let mut run = ConnRun {
                latencies_us: Vec::new(),
                errors: 0,
                started,
                ended: started,
            };
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let result = call(&client, &t).await;
                run.latencies_us.push(t0.elapsed().as_micros() as u64);
                if !result.is_ok_and(|b| full_page(&b)) {
                    run.errors += 1;
                }
            }
            run.ended = Instant::now();
            anyhow::Ok(run)
        });
    }
    let mut latencies = Vec::new();
    let (mut errors, mut first, mut last) = (0, None::<Instant>, None::<Instant>);
    while let Some(joined) = tasks.join_next().await {
        let run = joined.context("a load connection panicked")??;
        latencies.extend(run.latencies_us);
        errors += run.errors;
        first = Some(first.map_or(run.started, |f| f.min(run.started)));
        last = Some(last.map_or(run.ended, |l| l.max(run.ended)));
    }
    latencies.sort_unstable();
    let pct = |q: f64| percentile(&latencies, q);
    Ok(LoadFigures {
        requests: latencies.len() as u64,
        errors,
        secs: match (first, last) {
            (Some(f), Some(l)) => (l - f).as_secs_f64(),
            _ => 0.0,
        },
        p50_us: pct(0.50),
        p90_us: pct(0.90),
        p99_us: pct(0.99),
        max_us: latencies.last().copied().unwrap_or(0),
    })
}

/// Nearest-rank percentile of sorted samples (0 when there are none).
fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn per_sec(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

// ---------------------------------------------------------------------------------------
// The report

/// `1234567.8` → `"1,234,568"`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn met(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.opts;
        writeln!(
            f,
            "## rollcall bench: {} CPUs ({}/{}), {} sessions, {} connections, {} s per run",
            self.cpus,
            std::env::consts::OS,
            std::env::consts::ARCH,
            thousands(o.sessions as f64),
            o.connections,
            o.duration_secs,
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{}; {} build; loopback, client and servers sharing the CPUs; \
             baseline = a bare axum handler answering page 1's exact {} bytes.",
            self.store,
            if self.optimized {
                "release"
            } else {
                "**debug** (figures not representative)"
            },
            thousands(self.page_bytes as f64),
        )?;
        writeln!(f)?;
        writeln!(f, "| measure | result | target (SPEC §10) | met |")?;
        writeln!(f, "|---|---|---|---|")?;
        let i = &self.ingest;
        // SPEC §10: ≥ 100,000 events/s embedded, ≥ 25,000 on PostgreSQL.
        let ingest_target = if o.database.is_some() {
            25_000.0
        } else {
            100_000.0
        };
        writeln!(
            f,
            "| ingest, NDJSON batches of {} | {} events/s ({} events in {:.2} s) | ≥ {} events/s | {} |",
            thousands(INGEST_BATCH as f64),
            thousands(i.events_per_sec()),
            thousands(i.events as f64),
            i.secs,
            thousands(ingest_target),
            met(i.events_per_sec() >= ingest_target),
        )?;
        let runs = [
            ("page 1", &self.first_page, true),
            (&*format!("page {}", o.deep_page), &self.deep_page, true),
            ("baseline", &self.baseline, false),
        ];
        for (name, r, target) in runs {
            writeln!(
                f,
                "| {name}: throughput | {} req/s ({} requests in {:.2} s) | | |",
                thousands(r.req_per_sec()),
                thousands(r.requests as f64),
                r.secs,
            )?;
            writeln!(
                f,
                "| {name}: latency p50 / p90 | {} / {} | | |",
                ms(r.p50_us),
                ms(r.p90_us)
            )?;
            if target {
                writeln!(
                    f,
                    "| {name}: latency p99 | {} | ≤ 5 ms | {} |",
                    ms(r.p99_us),
                    met(r.p99_us <= 5_000)
                )?;
            } else {
                writeln!(f, "| {name}: latency p99 | {} | | |", ms(r.p99_us))?;
            }
            writeln!(f, "| {name}: latency max | {} | | |", ms(r.max_us))?;
        }
        writeln!(
            f,
            "| page 1 throughput ÷ baseline | {:.2} | ≥ 0.5 | {} |",
            self.baseline_ratio(),
            met(self.baseline_ratio() >= 0.5)
        )?;
        writeln!(
            f,
            "| page {} p99 ÷ page 1 p99 | {:.2} | ≤ 1.2 | {} |",
            o.deep_page,
            self.deep_ratio(),
            met(self.deep_ratio() <= 1.2)
        )?;
        let errors = [&self.first_page, &self.deep_page, &self.baseline].map(|r| r.errors);
        writeln!(
            f,
            "| failed requests (page 1 / page {} / baseline) | {} / {} / {} | 0 | {} |",
            o.deep_page,
            errors[0],
            errors[1],
            errors[2],
            met(errors == [0, 0, 0])
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(1_234_567.6), "1,234,568");
    }

    #[test]
    fn the_stream_is_valid_ndjson_in_time_order_with_joins_first() {
        let events = plan_events(1_000, 1_760_000_000);
        assert_eq!(events.len(), 1_000 + 500 + 100);
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
        let batches = ndjson_batches("m1", &events);
        assert_eq!(batches.len(), 2);
        let mut joined = std::collections::HashSet::new();
        for (n, body) in &batches {
            let lines: Vec<serde_json::Value> = body
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).expect("each line is JSON"))
                .collect();
            assert_eq!(lines.len(), *n);
            for v in lines {
                let parsed = rollcall_core::ingest::parse_event(&v).expect("a valid event");
                match parsed.kind {
                    rollcall_core::ingest::EventKind::Join(_) => {
                        assert!(joined.insert(parsed.session))
                    }
                    _ => assert!(joined.contains(&parsed.session), "quit before join"),
                }
            }
        }
    }

    /// The whole benchmark, tiny: checks it runs end to end and counts what it should.
    /// Timings are printed, never asserted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tiny_run_completes_and_counts() {
        let report = run(BenchOpts {
            sessions: 2_000,
            connections: 2,
            duration_secs: 1,
            deep_page: 15,
            data_dir: None,
            database: None,
        })
        .await
        .expect("the benchmark runs");
        println!("{report}");
        assert_eq!(report.ingest.events, 2_000 + 1_000 + 200);
        for r in [&report.first_page, &report.deep_page, &report.baseline] {
            assert!(r.requests > 0, "{r:?}");
            assert_eq!(r.errors, 0, "{r:?}");
        }
        assert!(report.page_bytes > 0);
        assert!(report
            .to_string()
            .contains("| ingest, NDJSON batches of 1,000 |"));
    }
}
