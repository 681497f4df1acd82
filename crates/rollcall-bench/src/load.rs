//! The load generator: `connections` connections in a closed loop, each sending the same
//! request again as soon as the previous answer is in, and the latency figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use reqwest::Url;
use serde::de::IgnoredAny;
use serde::Deserialize;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::report::LoadFigures;
use crate::run::PAGE;
use crate::setup::client;

/// Requests each connection makes before the clock starts: opens the socket and warms the
/// server's caches (token, directory, SQLite pages) so the window measures steady state.
const WARMUP_REQUESTS: usize = 10;
/// A page request slower than this is a failure, not a latency sample; it also bounds how
/// long a hung server can keep the benchmark from finishing.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One request, repeated: where it goes and its (prebuilt, cheaply cloned) body.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    pub body: Bytes,
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
pub async fn closed_loop(
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
}
