//! The setup calls, over HTTP like any client: the admin API (directory, meeting), the
//! ingest API (the stream, checked accepted whole) and full pages of get_attendee_list.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use rand::Rng;
use reqwest::Url;
use serde::Deserialize;

use rollcall_wire::GetAttendeeListResponse;

use crate::load::Target;
use crate::report::IngestFigures;
use crate::run::PAGE;

/// The ingest API's reply (SPEC §5: `{"accepted", "duplicates", "rejected": [{"index",
/// "error"}]}`), read here from its JSON like any client would: the server's own types are
/// not its public surface.
#[derive(Debug, Deserialize)]
struct IngestReply {
    accepted: usize,
    duplicates: usize,
    rejected: Vec<Rejection>,
}

/// One refused event, by its position in the request.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // Read only through `Debug`, in the error naming the first refusal.
struct Rejection {
    index: usize,
    error: String,
}

/// An HTTP client for one connection: at most one idle socket kept, no proxy (an
/// `HTTP_PROXY` in the environment must not reroute loopback traffic).
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .no_proxy()
        .timeout(timeout)
        .build()?)
}

pub fn random_key() -> String {
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| char::from(rng.sample(rand::distributions::Alphanumeric)))
        .collect()
}

pub fn json_bytes(v: &serde_json::Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).expect("a JSON value serializes"))
}

pub async fn admin_post(
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
pub async fn fetch_page(
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

/// How long one ingest batch may take before the setup gives up.
const BATCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Send every batch and check each was accepted whole: one after another over `http`
/// when `clients` is 1; otherwise `clients` connections of their own each take the next
/// batch not yet sent, so at most `clients` are in flight and they arrive nearly in
/// stream order (a quit that overtakes its join is parked and applied with it).
pub async fn ingest_all(
    http: &reqwest::Client,
    base: &Url,
    key: &str,
    batches: &[(usize, Bytes)],
    clients: usize,
) -> anyhow::Result<IngestFigures> {
    let url = base.join("ingest/v1/events")?;
    let events = batches.iter().map(|(n, _)| *n as u64).sum();
    let started = Instant::now();
    if clients <= 1 {
        for (i, (n, body)) in batches.iter().enumerate() {
            send_batch(http, &url, key, i, *n, body.clone()).await?;
        }
    } else {
        let batches: Arc<[(usize, Bytes)]> = batches.into();
        let next = Arc::new(AtomicUsize::new(0));
        let mut senders = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (http, url, key) = (client(BATCH_TIMEOUT)?, url.clone(), key.to_owned());
            let (batches, next) = (Arc::clone(&batches), Arc::clone(&next));
            senders.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((n, body)) = batches.get(i) else {
                        return anyhow::Ok(());
                    };
                    send_batch(&http, &url, &key, i, *n, body.clone()).await?;
                }
            });
        }
        while let Some(sent) = senders.join_next().await {
            sent??;
        }
    }
    Ok(IngestFigures {
        events,
        secs: started.elapsed().as_secs_f64(),
        clients: clients.max(1),
    })
}

/// Send batch `i` (`n` events as NDJSON) and check it was accepted whole.
pub async fn send_batch(
    http: &reqwest::Client,
    url: &Url,
    key: &str,
    i: usize,
    n: usize,
    body: Bytes,
) -> anyhow::Result<()> {
    let resp = http
        .post(url.clone())
        .bearer_auth(key)
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .send()
        .await
        .with_context(|| format!("ingest batch {i}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    ensure!(status.is_success(), "ingest batch {i}: {status} {text}");
    let report: IngestReply =
        serde_json::from_str(&text).with_context(|| format!("ingest batch {i} answered {text}"))?;
    ensure!(
        report.accepted == n && report.duplicates == 0 && report.rejected.is_empty(),
        "ingest batch {i}: {} of {n} accepted, {} duplicates, first rejection: {:?}",
        report.accepted,
        report.duplicates,
        report.rejected.first()
    );
    Ok(())
}
