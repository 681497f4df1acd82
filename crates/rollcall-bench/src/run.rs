//! The whole measurement, in order: start the server, seed a directory and a meeting,
//! ingest the stream, find the pages, run the closed loops, then the baseline.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, ensure, Context};
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use reqwest::Url;
use serde_json::json;

use rollcall_core::clock::{Clock, SystemClock};
use rollcall_core::ids::IdGen;
use rollcall_core::DAY;
use rollcall_server::{AppState, ServerConfig};
use rollcall_store_postgres::PgStore;
use rollcall_store_sqlite::SqliteStore;
use rollcall_wire::GetTokenResponse;

use crate::load::{closed_loop, Target};
use crate::report::{BenchReport, IngestFigures};
use crate::server::ServerThread;
use crate::setup::{admin_post, client, fetch_page, ingest_all, json_bytes, random_key};
use crate::stream::{member, ndjson_batches, plan_events, Population, MEMBERS};

/// Page size the SPEC's targets are stated for (and the largest WeCom allows).
pub const PAGE: usize = 100;
/// Events per ingest request, as SPEC §10 states the ingest target.
pub const INGEST_BATCH: usize = 1_000;
/// One ingest batch is a durable write of 1,000 events; generous, but still bounded.
const INGEST_TIMEOUT: Duration = Duration::from_secs(120);

pub const CORPID: &str = "wwrollcallbench";
const AGENTID: u32 = 1_000_002;

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
    /// Connections sending the ingest batches at once (1: one after another).
    pub ingest_clients: usize,
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
            ingest_clients: 1,
        }
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
        let (dir, database) = (store_dir.clone(), opts.database.clone());
        let (schema, ingest, admin) = (pg_schema.clone(), ingest_key.clone(), admin_key.clone());
        move || rollcall_state(dir, database, schema, ingest, admin)
    })
    .await?;
    let base = Url::parse(&format!("http://{}/", server.addr))?;
    let http = client(INGEST_TIMEOUT)?;
    let seeded = seed(
        &http,
        &base,
        &admin_key,
        &ingest_key,
        opts.sessions,
        &Population::default(),
        opts.ingest_clients,
    )
    .await?;
    let ingest = seeded.ingest.clone();
    let pages = find_pages(&http, &base, &seeded, opts.deep_page).await?;
    drop(http);
    let (first, deep, page_body) = (pages.first, pages.deep, pages.first_body);

    let first_page = closed_loop(&first, opts.connections, duration).await?;
    let deep_page = closed_loop(&deep, opts.connections, duration).await?;
    server.stop().await?;

    // 3. Baseline: the same requests, answered with page 1's exact bytes.
    let page_bytes = page_body.len();
    let baseline_server = ServerThread::start("rollcall-bench-baseline", move || async move {
        Ok(ceiling_router(page_body))
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

/// The bare-HTTP ceiling: an axum handler answering every page request with `body`,
/// precomputed. Whatever rollcall does beyond HTTP and these bytes is what the ratio measures.
pub fn ceiling_router(body: axum::body::Bytes) -> axum::Router {
    axum::Router::new().route(
        "/cgi-bin/meeting/get_attendee_list",
        post(move || {
            let body = body.clone();
            async move { ([(CONTENT_TYPE, "application/json")], body) }
        }),
    )
}

/// Builds rollcall's state on the benchmark store (SQLite in `dir`, or PostgreSQL at
/// `database` in `schema`), ingest and admin APIs enabled, rate limits lifted.
pub async fn rollcall_state(
    dir: PathBuf,
    database: Option<String>,
    schema: String,
    ingest_key: String,
    admin_key: String,
) -> anyhow::Result<AppState> {
    let config = ServerConfig {
        token_ttl_secs: 0,
        ingest_key: Some(ingest_key),
        admin_key: Some(admin_key),
        ..Default::default()
    };
    let store: Arc<dyn rollcall_store::Store> = match database {
        Some(url) => Arc::new(
            PgStore::connect_with_schema(&url, &schema)
                .await
                .context("connecting to PostgreSQL")?,
        ),
        None => Arc::new(
            SqliteStore::open(&dir)
                .with_context(|| format!("opening the SQLite store in {}", dir.display()))?,
        ),
    };
    let state = AppState::new(
        store,
        config,
        Arc::new(SystemClock),
        Arc::new(IdGen::random()),
    )
    .await
    .context("starting the server state")?;
    // The benchmark measures throughput: 45009 would cap it at 6000 a minute.
    state
        .controls()
        .rate_limits
        .configure(rollcall_server::control::RateLimits::unlimited());
    Ok(state)
}

/// The benchmark meeting, seeded and ingested: what a client needs to read it.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub meetingid: String,
    /// The app's secret, for gettoken (corp [`CORPID`]).
    pub secret: String,
    pub ingest: IngestFigures,
}

/// Seed the directory (one corp, [`MEMBERS`] members, one app) and a meeting through the
/// admin API, then ingest the stream of `sessions` sessions of `people` through the ingest
/// API.
pub async fn seed(
    http: &reqwest::Client,
    base: &Url,
    admin_key: &str,
    ingest_key: &str,
    sessions: usize,
    people: &Population,
    clients: usize,
) -> anyhow::Result<Seeded> {
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
    admin_post(http, base, admin_key, "admin/v1/corps", &corp).await?;
    let now = SystemClock.now();
    let meeting = admin_post(
        http,
        base,
        admin_key,
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
    let batches = ndjson_batches(&meetingid, &plan_events(sessions, now, people));
    let ingest = ingest_all(http, base, ingest_key, &batches, clients).await?;
    Ok(Seeded {
        meetingid,
        secret,
        ingest,
    })
}

/// The two requests the page load repeats, found by reading the pages like a client.
#[derive(Debug, Clone)]
pub struct Pages {
    /// Page 1 (no cursor), with a fresh token in its URL.
    pub first: Target,
    /// Page 1's exact reply: what the bare-HTTP ceiling serves.
    pub first_body: axum::body::Bytes,
    /// Page `deep_page`, through the cursor of the page before it.
    pub deep: Target,
}

/// A token, page 1, and the cursor of page `deep_page` (every page checked full).
pub async fn find_pages(
    http: &reqwest::Client,
    base: &Url,
    seeded: &Seeded,
    deep_page: usize,
) -> anyhow::Result<Pages> {
    let token: GetTokenResponse = http
        .get(base.join("cgi-bin/gettoken")?)
        .query(&[("corpid", CORPID), ("corpsecret", seeded.secret.as_str())])
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
        body: json_bytes(&json!({"meetingid": seeded.meetingid, "limit": PAGE})),
    };
    let (first_body, mut page) = fetch_page(http, &first).await.context("page 1")?;
    let mut deep = first.clone();
    for n in 2..=deep_page {
        ensure!(page.has_more, "page {} said has_more: false", n - 1);
        deep.body = json_bytes(&json!({
            "meetingid": seeded.meetingid,
            "cursor": page.next_cursor,
            "limit": PAGE,
        }));
        page = fetch_page(http, &deep)
            .await
            .with_context(|| format!("page {n}"))?
            .1;
    }
    Ok(Pages {
        first,
        first_body,
        deep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ingest_clients: 1,
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
