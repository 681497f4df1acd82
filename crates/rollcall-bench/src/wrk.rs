//! The pieces an external load generator (`wrk`, see `wrk.sh`) needs: a ready store with
//! the requests to repeat ([`prepare`]), and the bare-HTTP ceiling to compare with
//! ([`ceiling`]).
//!
//! The page figures of SPEC §10 are stated against `wrk -t1 -c16`: an in-process generator
//! can be the bottleneck of the ceiling (it was: 0.36 reported, 0.17 real), so the figures
//! the team quotes come from `wrk` against the real `rollcall serve` binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context};
use reqwest::Url;

use crate::run::{ceiling_router, find_pages, rollcall_state, seed, CORPID, INGEST_BATCH, PAGE};
use crate::server::ServerThread;
use crate::setup::{client, random_key};
use crate::stream::Population;

/// One ingest batch is a durable write of 1,000 events; generous, but still bounded.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

/// What [`prepare`] leaves in its directory.
pub const DATA: &str = "data";
/// Request body of page 1.
pub const FIRST_JSON: &str = "first.json";
/// Request body of the deep page (with the cursor of the page before it).
pub const DEEP_JSON: &str = "deep.json";
/// `rollcall serve --config` file: rate limits lifted.
pub const CONFIG: &str = "rollcall.toml";
/// Shell-sourceable `CORPID=…`, `SECRET=…`, `MEETINGID=…` (enough for gettoken), and the
/// store's `INGEST_KEY=…` / `ADMIN_KEY=…` for `rollcall serve --ingest-key / --admin-key`.
pub const APP_ENV: &str = "app.env";

/// Build a store of one meeting with `sessions` sessions in `dir/data` (through the HTTP
/// APIs of an in-process server, exactly as `rollcall-bench` does), and write beside it the
/// request bodies of page 1 and page `deep_page`, a config lifting rate limits, and the app's
/// credentials. Cursors are MACed with the store's secret, so the deep page's cursor is valid
/// for any server on that store.
///
/// With `database`, the store is that PostgreSQL database instead, in its default schema
/// (`public`), which is what `rollcall serve --database` uses: give it a database of its
/// own (`createdb`), as a store shared with anything else would not list one meeting.
pub async fn prepare(
    dir: &Path,
    database: Option<&str>,
    sessions: usize,
    people: &Population,
    deep_page: usize,
    ingest_clients: usize,
) -> anyhow::Result<()> {
    ensure!(deep_page >= 1, "deep_page must be at least 1");
    ensure!(
        sessions >= deep_page * PAGE,
        "page {deep_page} of {PAGE} rows needs at least {} sessions (got {sessions})",
        deep_page * PAGE
    );
    let data = dir.join(DATA);
    ensure!(
        !data.exists(),
        "{} exists: prepare builds a fresh store",
        data.display()
    );
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let (ingest_key, admin_key) = (random_key(), random_key());
    let server = ServerThread::start("rollcall-bench-prepare", {
        let (d, i, a) = (data.clone(), ingest_key.clone(), admin_key.clone());
        let db = database.map(str::to_owned);
        move || rollcall_state(d, db, "public".into(), i, a)
    })
    .await?;
    let base = Url::parse(&format!("http://{}/", server.addr))?;
    let http = client(SETUP_TIMEOUT)?;
    let seeded = seed(
        &http,
        &base,
        &admin_key,
        &ingest_key,
        sessions,
        people,
        ingest_clients,
    )
    .await?;
    let pages = find_pages(&http, &base, &seeded, deep_page).await?;
    drop(http);
    server.stop().await?;

    write_file(dir, DEEP_JSON, &pages.deep.body)?;
    write_serve_files(
        dir,
        &pages.first.body,
        &ServeKeys {
            secret: &seeded.secret,
            meetingid: &seeded.meetingid,
            ingest_key: &ingest_key,
            admin_key: &admin_key,
        },
    )?;
    eprintln!(
        "rollcall-bench prepare: {} events ({sessions} sessions, batches of {INGEST_BATCH}) \
         ingested in {:.2} s into {}",
        seeded.ingest.events,
        seeded.ingest.secs,
        database.map_or_else(|| data.display().to_string(), str::to_owned)
    );
    Ok(())
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))?;
    Ok(p)
}

/// The credentials a prepared store is served and driven with.
#[derive(Debug)]
pub struct ServeKeys<'a> {
    pub secret: &'a str,
    pub meetingid: &'a str,
    pub ingest_key: &'a str,
    pub admin_key: &'a str,
}

/// What `rollcall serve` and the load generators need beside a prepared store (`prepare`'s
/// and `growth`'s alike): page 1's request body ([`FIRST_JSON`]), a config lifting the rate
/// limits ([`CONFIG`]) and the credentials ([`APP_ENV`]).
pub fn write_serve_files(
    dir: &Path,
    first_page: &[u8],
    keys: &ServeKeys<'_>,
) -> anyhow::Result<()> {
    write_file(dir, FIRST_JSON, first_page)?;
    write_file(
        dir,
        CONFIG,
        b"# Written by `rollcall-bench`: the benchmarks measure throughput, and the\n\
          # default 6000 calls a minute would answer 45009 instead.\n\
          [rate_limits]\nper_minute = 1000000000\n",
    )?;
    write_file(
        dir,
        APP_ENV,
        format!(
            "CORPID={CORPID}\nSECRET={}\nMEETINGID={}\nINGEST_KEY={}\nADMIN_KEY={}\n",
            keys.secret, keys.meetingid, keys.ingest_key, keys.admin_key
        )
        .as_bytes(),
    )?;
    Ok(())
}

/// Serve the bare-HTTP ceiling on `listen` until killed: every
/// `POST /cgi-bin/meeting/get_attendee_list` answers the bytes of `body`.
pub async fn ceiling(body: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    let bytes = std::fs::read(body).with_context(|| format!("reading {}", body.display()))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    axum::serve(listener, ceiling_router(bytes.into()))
        .await
        .context("serving the ceiling")
}
