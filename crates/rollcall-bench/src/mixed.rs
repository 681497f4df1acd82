//! The mixed load of issue 11.2, open-loop, against a running `rollcall serve` on a store
//! that [`crate::wrk::prepare`] built: pages, ingest, gettoken and get_info at fixed rates at
//! once, each request's latency reported per kind.
//!
//! **Open loop**, so the figures are not flattered by coordinated omission: every request
//! has a scheduled start (`rate` per second, evenly spaced), is sent at that time whether or
//! not earlier ones have answered, and its latency counts from the *scheduled* start. A
//! server that stalls for 40 ms therefore shows 40 ms on every request scheduled in that
//! window, as a real client would see it, instead of one slow sample and a pause. (A closed
//! loop, as `wrk` runs, waits for each answer before sending the next and hides stalls.)
//!
//! The generator is in-process and shares the two cores with the server, but the load is
//! light (≈ 1,700 requests/s in the default mix, a few percent of one core for the client),
//! unlike the closed-loop page ceiling where an in-process generator was the bottleneck.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use reqwest::Url;
use serde::Deserialize;
use tokio::task::JoinSet;

use crate::wrk::{APP_ENV, FIRST_JSON};

/// A request slower than this is an error, not a latency sample.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Rates of each kind of request (per second; 0 turns a kind off).
#[derive(Debug, Clone)]
pub struct Mix {
    pub pages: u32,
    pub events: u32,
    /// Events per ingest request: `events / event_batch` requests a second.
    pub event_batch: u32,
    pub tokens: u32,
    pub infos: u32,
    /// The bare axum ceiling (`rollcall-bench ceiling`, page 1's bytes) to load at the
    /// pages' rate beside the mix: the same machine's floor for one request, in the same
    /// run (see [`CEILING`]).
    pub ceiling: Option<Url>,
    pub duration: Duration,
}

/// The kind that times the bare-HTTP ceiling under the mix. A p99 on this 2-core VM is not
/// only the server's: kernel threads (DAMON's `kdamond` runs ~7 ms every 0.5 s here) and
/// the host's scheduling of the VM's cores (an idle core woken late, up to 25 ms when idle)
/// delay any process, the load generator's threads included. A handler that does nothing
/// but answer fixed bytes, loaded at the same rate in the same run, shows how much of a
/// tail is the machine's; the rest is the server's.
pub const CEILING: &str = "ceiling (bare axum)";

/// What one kind of request measured.
#[derive(Debug, Default)]
struct Samples {
    latencies_us: Vec<u64>,
    errors: u64,
}

/// The latencies of one kind, summarised.
#[derive(Debug)]
pub struct KindFigures {
    pub kind: &'static str,
    pub rate: f64,
    pub count: usize,
    pub errors: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The prepared store's credentials (`app.env`, `KEY=value` lines).
fn app_env(dir: &Path) -> anyhow::Result<HashMap<String, String>> {
    let p = dir.join(APP_ENV);
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

#[derive(Deserialize)]
struct Envelope {
    errcode: i64,
    #[serde(default)]
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct IngestReply {
    accepted: usize,
}

/// One request of a kind, ready to send again.
#[derive(Debug, Clone)]
enum Call {
    /// POST a JSON body to a `/cgi-bin` URL; success is errcode 0.
    Wecom(Url, Bytes),
    /// GET a `/cgi-bin` URL; success is errcode 0.
    Get(Url),
    /// POST the next NDJSON batch of fresh events; success is all accepted.
    Ingest {
        url: Url,
        key: String,
        meetingid: String,
        batch: u32,
        next: Arc<AtomicU64>,
        at: i64,
    },
}

/// `n` fresh join events (every other one followed by its quit), ids never used before in
/// this run: the server does the work of a new session each time.
fn events(meetingid: &str, first: u64, n: u32, at: i64) -> Bytes {
    use std::fmt::Write as _;
    let m = serde_json::to_string(meetingid).expect("a string serializes");
    let mut out = String::with_capacity(n as usize * 200);
    let mut i = 0;
    while i < n {
        let s = first + u64::from(i);
        let _ = writeln!(
            out,
            r#"{{"event_id":"mx-j-{s}","kind":"join","meetingid":{m},"session":"mx-{s}","at":{at},"participant":{{"guest_id":"mx-{}"}},"instance_id":1,"join_type":1,"role":0,"webinar_role":0,"net":"WIFI","audio_state":true,"video_state":false,"screen_shared_state":false}}"#,
            s % 5000
        );
        i += 1;
        if i < n {
            let _ = writeln!(
                out,
                r#"{{"event_id":"mx-q-{s}","kind":"quit","meetingid":{m},"session":"mx-{s}","at":{}}}"#,
                at + 60
            );
            i += 1;
        }
    }
    Bytes::from(out)
}

impl Call {
    async fn send(&self, http: &reqwest::Client) -> Result<(), ()> {
        match self {
            Call::Wecom(url, body) => {
                let r = http
                    .post(url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(drop)?;
                wecom_ok(r).await
            }
            Call::Get(url) => wecom_ok(http.get(url.clone()).send().await.map_err(drop)?).await,
            Call::Ingest {
                url,
                key,
                meetingid,
                batch,
                next,
                at,
            } => {
                let first = next.fetch_add(u64::from(*batch), Ordering::Relaxed);
                let r = http
                    .post(url.clone())
                    .bearer_auth(key)
                    .header(CONTENT_TYPE, "application/x-ndjson")
                    .body(events(meetingid, first, *batch, *at))
                    .send()
                    .await
                    .map_err(drop)?;
                if !r.status().is_success() {
                    return Err(());
                }
                let reply: IngestReply = r.json().await.map_err(drop)?;
                (reply.accepted == *batch as usize).then_some(()).ok_or(())
            }
        }
    }
}

/// The reply is a 200 with errcode 0. A large body (get_info of 25,000 people is 4 MB) is
/// parsed on the blocking pool: parsing it on the generator's runtime held a worker for
/// milliseconds and delayed the other kinds' answers, a latency of the generator's own.
async fn wecom_ok(r: reqwest::Response) -> Result<(), ()> {
    if !r.status().is_success() {
        return Err(());
    }
    let body = r.bytes().await.map_err(drop)?;
    let large = body_is_large(&body);
    let parse = move || serde_json::from_slice::<Envelope>(&body).map(|e| e.errcode == 0);
    let ok = if large {
        tokio::task::spawn_blocking(parse).await.map_err(drop)?
    } else {
        parse()
    };
    ok.map_err(drop)?.then_some(()).ok_or(())
}

fn body_is_large(body: &Bytes) -> bool {
    body.len() > 64 << 10
}

/// The scheduled start of every request, `period` apart for `duration`, each sent when it is
/// due by a thread of its own sleeping until then. tokio's timer rounds a wake-up up to its
/// next millisecond, which added ~1 ms to every latency measured from the scheduled start
/// (pages at 200/s showed p50 1.7 ms against an idle server); a thread's sleep is precise to
/// tens of microseconds. A schedule that falls behind sends the late starts at once, one
/// after another: it is kept, never skipped.
fn ticker(period: Duration, duration: Duration) -> tokio::sync::mpsc::UnboundedReceiver<Instant> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut at = start;
        while at < start + duration {
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if tx.send(at).is_err() {
                return;
            }
            at += period;
        }
    });
    rx
}

/// Send `call` `rate` times a second for `duration`, each at its scheduled time, and record
/// each latency from that scheduled time.
async fn open_loop(
    http: reqwest::Client,
    call: Call,
    rate: u32,
    duration: Duration,
) -> anyhow::Result<Samples> {
    let samples = Arc::new(Mutex::new(Samples::default()));
    let mut inflight = JoinSet::new();
    let mut ticks = ticker(Duration::from_secs(1) / rate, duration);
    while let Some(scheduled) = ticks.recv().await {
        let (http, call, samples) = (http.clone(), call.clone(), samples.clone());
        inflight.spawn(async move {
            let ok = call.send(&http).await.is_ok();
            let us = scheduled.elapsed().as_micros() as u64;
            let mut s = samples.lock().unwrap_or_else(|p| p.into_inner());
            if ok {
                s.latencies_us.push(us);
            } else {
                s.errors += 1;
            }
        });
        // Reap finished requests as we go, so the set stays small.
        while inflight.try_join_next().is_some() {}
    }
    while inflight.join_next().await.is_some() {}
    let mut s = samples.lock().unwrap_or_else(|p| p.into_inner());
    Ok(std::mem::take(&mut *s))
}

fn summarise(kind: &'static str, mut s: Samples, duration: Duration) -> KindFigures {
    s.latencies_us.sort_unstable();
    let at = |q: f64| -> f64 {
        if s.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((s.latencies_us.len() as f64 * q).ceil() as usize).clamp(1, s.latencies_us.len());
        s.latencies_us[i - 1] as f64 / 1000.0
    };
    KindFigures {
        kind,
        rate: (s.latencies_us.len() as u64 + s.errors) as f64 / duration.as_secs_f64(),
        count: s.latencies_us.len(),
        errors: s.errors,
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        max_ms: s.latencies_us.last().map_or(0.0, |&v| v as f64 / 1000.0),
    }
}

/// Run the mix against `base` (a `rollcall serve` on `dir`'s prepared store, started with
/// `dir`'s ingest key) and summarise each kind.
pub async fn run(base: &Url, dir: &Path, mix: &Mix) -> anyhow::Result<Vec<KindFigures>> {
    let env = app_env(dir)?;
    let get = |k: &str| {
        env.get(k)
            .cloned()
            .with_context(|| format!("{} has no {k}= line", dir.join(APP_ENV).display()))
    };
    let (corpid, secret, meetingid) = (get("CORPID")?, get("SECRET")?, get("MEETINGID")?);
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(256)
        .build()?;
    let mut token_url = base.join("cgi-bin/gettoken")?;
    token_url
        .query_pairs_mut()
        .append_pair("corpid", &corpid)
        .append_pair("corpsecret", &secret);
    let token = http
        .get(token_url.clone())
        .send()
        .await?
        .json::<Envelope>()
        .await?
        .access_token
        .context("gettoken answered no access_token")?;
    let cgi = |path: &str| -> anyhow::Result<Url> {
        let mut u = base.join(path)?;
        u.query_pairs_mut().append_pair("access_token", &token);
        Ok(u)
    };
    let page_body = std::fs::read(dir.join(FIRST_JSON))
        .with_context(|| format!("reading {}", dir.join(FIRST_JSON).display()))?;
    let info_body = serde_json::to_vec(&serde_json::json!({ "meetingid": meetingid }))?;

    let mut kinds: Vec<(&'static str, Call, u32)> = Vec::new();
    if mix.pages > 0 {
        let call = Call::Wecom(
            cgi("cgi-bin/meeting/get_attendee_list")?,
            page_body.clone().into(),
        );
        kinds.push(("get_attendee_list", call, mix.pages));
    }
    if mix.events > 0 {
        ensure!(
            mix.event_batch > 0 && mix.events >= mix.event_batch,
            "--event-batch must be between 1 and --events"
        );
        let key = match get("INGEST_KEY") {
            Ok(k) => k,
            Err(e) => return Err(e.context("prepare the store again: it writes the ingest key")),
        };
        // Joins back in the meeting's past (the prepared stream ends 3 h before now), so
        // every quit is in the past too.
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64
            - 2 * 3600;
        let call = Call::Ingest {
            url: base.join("ingest/v1/events")?,
            key,
            meetingid: meetingid.clone(),
            batch: mix.event_batch,
            next: Arc::new(AtomicU64::new(std::process::id() as u64 * 1_000_000_000)),
            at,
        };
        kinds.push(("ingest", call, mix.events / mix.event_batch));
    }
    if let Some(ceiling) = &mix.ceiling {
        ensure!(
            mix.pages > 0,
            "--ceiling runs at the pages' rate: --pages must not be 0"
        );
        let call = Call::Wecom(
            ceiling.join("cgi-bin/meeting/get_attendee_list")?,
            page_body.into(),
        );
        kinds.push((CEILING, call, mix.pages));
    }
    if mix.tokens > 0 {
        kinds.push(("gettoken", Call::Get(token_url), mix.tokens));
    }
    if mix.infos > 0 {
        let call = Call::Wecom(cgi("cgi-bin/meeting/get_info")?, info_body.into());
        kinds.push(("get_info", call, mix.infos));
    }
    ensure!(!kinds.is_empty(), "every rate is 0: nothing to send");
    // Each kind once before the clock starts: a wrong setup fails here, not as errors.
    for (kind, call, _) in &kinds {
        call.send(&http)
            .await
            .map_err(|()| anyhow::anyhow!("the first {kind} request failed"))?;
    }

    let mut runs = JoinSet::new();
    for (kind, call, rate) in kinds {
        let (http, duration) = (http.clone(), mix.duration);
        runs.spawn(async move { (kind, open_loop(http, call, rate, duration).await) });
    }
    let mut out = Vec::new();
    while let Some(joined) = runs.join_next().await {
        let (kind, samples) = joined?;
        out.push(summarise(kind, samples?, mix.duration));
    }
    out.sort_by_key(|k| k.kind);
    Ok(out)
}

/// The figures as a Markdown table.
pub fn table(figures: &[KindFigures]) -> String {
    let mut s = String::from(
        "| request | rate /s | answered | errors | p50 ms | p90 ms | p99 ms | max ms |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for k in figures {
        s.push_str(&format!(
            "| {} | {:.1} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            k.kind, k.rate, k.count, k.errors, k.p50_ms, k.p90_ms, k.p99_ms, k.max_ms
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_valid_fresh_joins_each_followed_by_its_quit() {
        let body = events("m1", 40, 5, 1_700_000_000);
        let lines: Vec<serde_json::Value> = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("JSON"))
            .collect();
        assert_eq!(lines.len(), 5);
        let ids: Vec<&str> = lines
            .iter()
            .map(|v| v["event_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["mx-j-40", "mx-q-40", "mx-j-42", "mx-q-42", "mx-j-44"]);
        for v in &lines {
            rollcall_core::ingest::parse_event(v).expect("a valid event");
        }
    }

    #[test]
    fn percentiles_count_from_the_slowest_end() {
        let s = Samples {
            latencies_us: (1..=100).map(|i| i * 1000).collect(),
            errors: 2,
        };
        let f = summarise("x", s, Duration::from_secs(2));
        assert_eq!(
            (f.p50_ms, f.p90_ms, f.p99_ms, f.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!((f.count, f.errors), (100, 2));
        assert_eq!(f.rate, 51.0);
        assert!(summarise("y", Samples::default(), Duration::from_secs(1)).p99_ms == 0.0);
    }
}
