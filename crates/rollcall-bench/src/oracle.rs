//! `rollcall-bench oracle`: can an app tell, by timing alone, another app's meeting from an
//! unknown meetingid (issue 11.6)? Both answer the same bytes (40058 `meetingid`); this
//! measures whether they also take the same time.
//!
//! An in-process rollcall (fresh SQLite store, the same server as `rollcall serve`) gets a
//! corp with two apps; app A owns `probes` meetings. Then, for each of them, over loopback
//! HTTP on one keep-alive connection per app: A reads the meeting (`get_info`, so whatever a
//! node caches for it is warm, as when its owner is busy with it), then app B asks `get_info`
//! for (a) that meeting and (b) a fresh random id shaped like a real one, in a random order.
//! Each id is B's first question about it, as an attacker's probe of a guessed id is (a
//! repeated question is answered from what B itself was told, known or unknown alike). Only B's two
//! requests are timed; each pair's replies are checked byte-identical but for the request
//! id in `hint: [...]`. The report gives both
//! distributions (median, p90) and the difference of the medians: a difference well above
//! the run-to-run noise is an oracle.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use rand::Rng;
use reqwest::Url;
use serde_json::json;

use rollcall_core::clock::{Clock, SystemClock};
use rollcall_core::ids::IdGen;
use rollcall_core::DAY;
use rollcall_wire::GetTokenResponse;

use crate::run::{rollcall_state, CORPID};
use crate::server::ServerThread;
use crate::setup::{admin_post, client, random_key};

const OWNER: u32 = 1_000_002;
const PROBER: u32 = 1_000_003;
const TIMEOUT: Duration = Duration::from_secs(30);

/// Both probes' latencies, microseconds, in the order measured.
#[derive(Debug, Default)]
pub struct OracleFigures {
    /// B's `get_info` of A's meeting, right after A read it.
    pub theirs: Vec<f64>,
    /// B's `get_info` of a fresh unknown id.
    pub unknown: Vec<f64>,
}

/// The `q`-quantile (0..=1) of `xs`, nearest rank.
fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v.get(i).copied().unwrap_or(f64::NAN)
}

impl std::fmt::Display for OracleFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let row = |f: &mut std::fmt::Formatter<'_>, name: &str, xs: &[f64]| {
            writeln!(
                f,
                "| {name} | {} | {:.1} | {:.1} | {:.1} |",
                xs.len(),
                quantile(xs, 0.5),
                quantile(xs, 0.9),
                quantile(xs, 0.99)
            )
        };
        writeln!(
            f,
            "| probe (app B, get_info) | n | median µs | p90 µs | p99 µs |"
        )?;
        writeln!(f, "|---|---|---|---|---|")?;
        row(f, "(a) app A's meeting, just read by A", &self.theirs)?;
        row(f, "(b) a fresh unknown meetingid", &self.unknown)?;
        writeln!(f)?;
        write!(
            f,
            "median (a) − median (b): {:+.1} µs; p90 (a) − p90 (b): {:+.1} µs",
            quantile(&self.theirs, 0.5) - quantile(&self.unknown, 0.5),
            quantile(&self.theirs, 0.9) - quantile(&self.unknown, 0.9),
        )
    }
}

/// A reply without its request id (`hint: [<id>]`), the one part meant to differ.
fn without_hint(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    match text.split_once("hint: [") {
        Some((head, tail)) => {
            let rest = tail.split_once(']').map_or("", |(_, r)| r);
            format!("{head}hint: []{rest}").into_bytes()
        }
        None => reply.to_vec(),
    }
}

/// Run the probes (see the module documentation).
pub async fn oracle(probes: usize) -> anyhow::Result<OracleFigures> {
    ensure!(probes >= 1, "probes must be at least 1");
    let tmp = tempfile::Builder::new()
        .prefix("rollcall-bench-oracle-")
        .tempdir()
        .context("creating a temporary store directory")?;
    let (ingest_key, admin_key) = (random_key(), random_key());
    let server = ServerThread::start("rollcall-bench-oracle", {
        let (d, i, a) = (tmp.path().to_path_buf(), ingest_key, admin_key.clone());
        move || rollcall_state(d, None, String::new(), i, a)
    })
    .await?;
    let base = Url::parse(&format!("http://{}/", server.addr))?;
    let http = client(TIMEOUT)?;
    let (owner_secret, prober_secret) = (random_key(), random_key());
    let app = |agentid: u32, secret: &str| {
        json!({
            "agentid": agentid, "name": format!("app {agentid}"), "secret": secret,
            "meeting_api": true, "visible_departments": [1],
        })
    };
    let corp = json!({
        "corpid": CORPID,
        "name": "rollcall bench",
        "departments": [{"id": 1, "name": "HQ", "parent": 0}],
        "users": [{"userid": "u1", "departments": [1]}],
        "apps": [app(OWNER, &owner_secret), app(PROBER, &prober_secret)],
    });
    admin_post(&http, &base, &admin_key, "admin/v1/corps", &corp).await?;
    let now = SystemClock.now();
    let mut meetings = Vec::with_capacity(probes + 1);
    for _ in 0..=probes {
        let meeting = admin_post(
            &http,
            &base,
            &admin_key,
            "admin/v1/meetings",
            &json!({
                "corpid": CORPID, "agentid": OWNER, "meeting_type": 0, "title": "theirs",
                "meeting_start": now + DAY, "meeting_duration": 3600, "admin_userid": "u1",
            }),
        )
        .await?;
        let id = meeting["meetingid"]
            .as_str()
            .context("admin/v1/meetings answered without a meetingid")?;
        meetings.push(id.to_owned());
    }
    // The last one only warms the connections up.
    let warm = meetings.pop().context("at least one meeting")?;
    let get_info = |secret: &str| {
        let (http, base) = (http.clone(), base.clone());
        let secret = secret.to_owned();
        async move {
            let token: GetTokenResponse = http
                .get(base.join("cgi-bin/gettoken")?)
                .query(&[("corpid", CORPID), ("corpsecret", secret.as_str())])
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            ensure!(token.errcode == 0, "gettoken: {}", token.errmsg);
            let mut url = base.join("cgi-bin/meeting/get_info")?;
            url.query_pairs_mut()
                .append_pair("access_token", &token.access_token);
            anyhow::Ok(url)
        }
    };
    let (owner_url, prober_url) = (
        get_info(&owner_secret).await?,
        get_info(&prober_secret).await?,
    );
    // One keep-alive connection per app, so B's timings never include a connect.
    let (owner_http, prober_http) = (client(TIMEOUT)?, client(TIMEOUT)?);
    let call = |http: &reqwest::Client, url: &Url, meetingid: &str| {
        let request = http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(json!({ "meetingid": meetingid }).to_string());
        async move {
            let started = Instant::now();
            let body: Bytes = request.send().await?.error_for_status()?.bytes().await?;
            anyhow::Ok((started.elapsed().as_secs_f64() * 1e6, body))
        }
    };
    let ids = IdGen::random();
    // Warm both connections and every cache a first request fills.
    for _ in 0..50 {
        call(&owner_http, &owner_url, &warm).await?;
        call(&prober_http, &prober_url, &ids.meetingid()).await?;
    }
    let mut figures = OracleFigures::default();
    let mut rng = rand::thread_rng();
    for theirs in &meetings {
        let (_, own) = call(&owner_http, &owner_url, theirs).await?;
        let own_reply: serde_json::Value = serde_json::from_slice(&own)?;
        ensure!(
            own_reply["errcode"] == 0,
            "the owner's get_info: {own_reply}"
        );
        let unknown = ids.meetingid();
        let order = if rng.gen_bool(0.5) {
            [theirs, &unknown]
        } else {
            [&unknown, theirs]
        };
        let mut replies = Vec::with_capacity(2);
        for id in order {
            let (us, body) = call(&prober_http, &prober_url, id).await?;
            if id == theirs {
                figures.theirs.push(us);
            } else {
                figures.unknown.push(us);
            }
            replies.push(body);
        }
        ensure!(
            without_hint(&replies[0]) == without_hint(&replies[1]),
            "replies differ: {} vs {}",
            String::from_utf8_lossy(&replies[0]),
            String::from_utf8_lossy(&replies[1])
        );
    }
    drop((http, owner_http, prober_http));
    server.stop().await?;
    Ok(figures)
}
