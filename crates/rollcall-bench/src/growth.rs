//! `rollcall-bench growth`: the ingest rate of one meeting as it grows to millions of
//! sessions (SPEC §10: "into one meeting growing to 10 million sessions, the last million at
//! ≥ 50% of the rate of the first million").
//!
//! The in-process benchmark builds its bodies before the clock starts; 10 million sessions
//! (16 million events, ~5 GB of NDJSON) do not fit, so here a generator thread writes each
//! body while the previous ones are in flight, a few batches ahead (a bounded channel), and
//! one client sends them one after another, as a media server pushes them. The generator
//! must not be what is measured: `--generator-only` prints its own rate (the bodies built and
//! dropped, nothing sent).
//!
//! The stream: session `s` joins at `start + s × span / sessions` (join times grow with
//! the meeting, as in a live one), every other one quits 1 min–2 h later and every tenth
//! changes state within its first minute, all in time order (a heap holds what is due
//! later). Session keys and event ids are a bijective mix of `s` in hex ([`Keys::Mixed`]),
//! as a platform's random keys would be: they land at random places of the store's key
//! indexes, which is what makes a large meeting expensive.
//!
//! The store is left in `DIR/data` with `DIR/rollcall.toml` (rate limits lifted),
//! `DIR/app.env` (the app's credentials) and `DIR/first.json` (page 1's request), so
//! `rollcall serve --data DIR/data --config DIR/rollcall.toml` serves it for the memory and
//! start-up figures.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use axum::body::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Url;
use serde_json::json;
use tokio::sync::mpsc;

use rollcall_core::clock::{Clock, SystemClock};
use rollcall_core::DAY;

use crate::run::{rollcall_state, seed, INGEST_BATCH, PAGE};
use crate::server::ServerThread;
use crate::setup::{client, random_key, send_batch};
use crate::stream::{random_join, write_event, Keys, Planned, PlannedKind, Population};
use crate::wrk::{write_serve_files, ServeKeys, DATA};

/// Events per reported slice of the run.
const MILLION: u64 = 1_000_000;
/// The in-process benchmark's meeting: 100,000 sessions are 160,000 events.
const SMALL: u64 = 160_000;
/// Bodies the generator may be ahead of the client.
const AHEAD: usize = 8;
/// One batch is a durable write of 1,000 events; a stall longer than this is a failure.
const BATCH_TIMEOUT: Duration = Duration::from_secs(300);

/// The synthetic stream of a growing meeting, in time order (see the module docs).
pub struct Growing {
    sessions: u32,
    next: u32,
    start: i64,
    span: i64,
    rng: StdRng,
    /// Quits and state changes not yet due: `(at, order of push, session, what)`.
    later: BinaryHeap<Reverse<(i64, u64, u32, Later)>>,
    pushed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Later {
    Quit,
    State { audio: bool, net: u8 },
}

const NETS: &[&str] = &["WIFI", "4G", "5G", "WIRED"];

impl Growing {
    /// `sessions` joins spread over the 20 days ending 3 h before `now` (every quit is in the
    /// past); seeded, so every run sends the same stream.
    pub fn new(sessions: u32, now: i64) -> Self {
        Self {
            sessions,
            next: 0,
            start: now - 20 * DAY - 3 * 3600,
            span: 20 * DAY,
            rng: StdRng::seed_from_u64(0x0006_0e11),
            later: BinaryHeap::new(),
            pushed: 0,
        }
    }

    /// Events the whole stream has: joins, every other session's quit, every tenth's state.
    pub fn total(sessions: u32) -> u64 {
        let n = u64::from(sessions);
        n + n.div_ceil(2) + n.div_ceil(10)
    }

    fn join_at(&self, s: u32) -> i64 {
        self.start + (i64::from(s) * self.span) / i64::from(self.sessions.max(1))
    }

    fn push(&mut self, at: i64, session: u32, what: Later) {
        self.later.push(Reverse((at, self.pushed, session, what)));
        self.pushed += 1;
    }
}

impl Iterator for Growing {
    type Item = Planned;

    fn next(&mut self) -> Option<Planned> {
        let join = (self.next < self.sessions).then(|| self.join_at(self.next));
        let due = self.later.peek().map(|Reverse((at, ..))| *at);
        if let Some(at) = due.filter(|&at| join.is_none_or(|j| at < j)) {
            let Reverse((_, _, session, what)) = self.later.pop().expect("peeked");
            let kind = match what {
                Later::Quit => PlannedKind::Quit,
                Later::State { audio, net } => PlannedKind::State {
                    audio,
                    net: NETS[usize::from(net)],
                },
            };
            return Some(Planned { at, session, kind });
        }
        let at = join?;
        let s = self.next;
        self.next += 1;
        let kind = random_join(&mut self.rng, &Population::default());
        if s % 10 == 0 {
            let (when, audio) = (at + self.rng.gen_range(1..60), self.rng.gen());
            let net = self.rng.gen_range(0..NETS.len() as u8);
            self.push(when, s, Later::State { audio, net });
        }
        if s % 2 == 0 {
            let when = at + self.rng.gen_range(60..=7200);
            self.push(when, s, Later::Quit);
        }
        Some(Planned {
            at,
            session: s,
            kind,
        })
    }
}

/// Start the generator thread: NDJSON bodies of [`INGEST_BATCH`] events, [`AHEAD`] ahead.
fn generate(meetingid: &str, sessions: u32) -> mpsc::Receiver<(usize, Bytes)> {
    let (tx, rx) = mpsc::channel(AHEAD);
    let m = serde_json::to_string(meetingid).expect("a string serializes");
    let mut stream = Growing::new(sessions, SystemClock.now());
    std::thread::Builder::new()
        .name("growth-generator".into())
        .spawn(move || loop {
            let mut out = Vec::with_capacity(INGEST_BATCH * 360);
            let mut n = 0;
            for e in stream.by_ref().take(INGEST_BATCH) {
                write_event(&mut out, &m, &e, Keys::Mixed);
                n += 1;
            }
            if n == 0 || tx.blocking_send((n, Bytes::from(out))).is_err() {
                break;
            }
        })
        .expect("spawning the generator thread");
    rx
}

/// When each batch's reply was read: `(events so far, seconds since the first send)`, and
/// the process's [`Usage`] at each million.
#[derive(Debug, Default)]
pub struct Timeline {
    marks: Vec<(u64, f64)>,
    usage: Vec<(u64, Usage)>,
}

/// What this process (server, client and generator) had used so far: CPU seconds (user +
/// system) and bytes it caused to be written to disk, from `/proc/self` (zero elsewhere).
/// Unlike events/s these do not depend on how much of the CPU other programs take, so
/// they compare runs on a shared machine: CPU µs and disk KB per event.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    cpu_secs: f64,
    written: u64,
}

impl Usage {
    fn now() -> Self {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the command (which may hold spaces) start at the last ')'.
        let ticks: f64 = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().skip(11).take(2))
            .into_iter()
            .flatten()
            .filter_map(|f| f.parse::<f64>().ok())
            .sum();
        let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
        let written = io
            .lines()
            .find_map(|l| l.strip_prefix("write_bytes: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        // USER_HZ is 100 on every Linux this runs on.
        Self {
            cpu_secs: ticks / 100.0,
            written,
        }
    }
}

impl Timeline {
    fn events(&self) -> u64 {
        self.marks.last().map_or(0, |m| m.0)
    }

    /// Seconds at which `events` had been sent (0 before the first batch).
    fn at(&self, events: u64) -> f64 {
        if events == 0 {
            return 0.0;
        }
        let i = self.marks.partition_point(|m| m.0 < events);
        self.marks.get(i).map_or(f64::NAN, |m| m.1)
    }

    /// Events per second between two event counts (batch boundaries).
    fn rate(&self, from: u64, to: u64) -> f64 {
        (to - from) as f64 / (self.at(to) - self.at(from))
    }

    /// CPU µs and disk KB per event between two marked event counts (0: the start).
    fn cost(&self, from: u64, to: u64) -> Option<(f64, f64)> {
        let get = |e: u64| self.usage.iter().find(|u| u.0 == e).map(|u| u.1);
        let (a, b) = (get(from)?, get(to)?);
        let n = (to - from) as f64;
        Some((
            (b.cpu_secs - a.cpu_secs) * 1e6 / n,
            b.written.saturating_sub(a.written) as f64 / 1024.0 / n,
        ))
    }
}

/// Grow one meeting to `sessions` sessions in `dir` and print the rate per million events.
pub async fn growth(dir: &Path, sessions: usize, generator_only: bool) -> anyhow::Result<()> {
    let sessions = u32::try_from(sessions).context("--sessions is at most 4,294,967,295")?;
    let total = Growing::total(sessions);
    if generator_only {
        let mut rx = generate("generator-only", sessions);
        let started = Instant::now();
        let mut events = 0u64;
        while let Some((n, _)) = rx.recv().await {
            events += n as u64;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "generator only: {events} events in {secs:.2} s = {:.0} events/s",
            events as f64 / secs
        );
        return Ok(());
    }
    let data = dir.join(DATA);
    ensure!(
        !data.exists(),
        "{} exists: growth starts from a fresh store",
        data.display()
    );
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let (ingest_key, admin_key) = (random_key(), random_key());
    let server = ServerThread::start("rollcall-bench-growth", {
        let (d, i, a) = (data.clone(), ingest_key.clone(), admin_key.clone());
        move || rollcall_state(d, None, String::new(), i, a)
    })
    .await?;
    let base = Url::parse(&format!("http://{}/", server.addr))?;
    let http = client(BATCH_TIMEOUT)?;
    // The directory and the meeting only: the stream is sent below.
    let seeded = seed(
        &http,
        &base,
        &admin_key,
        &ingest_key,
        0,
        &Population::default(),
        1,
    )
    .await?;
    let first_page = serde_json::to_vec(&json!({"meetingid": seeded.meetingid, "limit": PAGE}))?;
    write_serve_files(
        dir,
        &first_page,
        &ServeKeys {
            secret: &seeded.secret,
            meetingid: &seeded.meetingid,
            ingest_key: &ingest_key,
            admin_key: &admin_key,
        },
    )?;

    let url = base.join("ingest/v1/events")?;
    let mut rx = generate(&seeded.meetingid, sessions);
    let mut timeline = Timeline::default();
    timeline.usage.push((0, Usage::now()));
    let started = Instant::now();
    let mut i = 0usize;
    while let Some((n, body)) = rx.recv().await {
        send_batch(&http, &url, &ingest_key, i, n, body).await?;
        i += 1;
        let before = timeline.events();
        let now = before + n as u64;
        timeline.marks.push((now, started.elapsed().as_secs_f64()));
        if now / MILLION > before / MILLION
            || [SMALL, total, total.saturating_sub(MILLION)].contains(&now)
        {
            timeline.usage.push((now, Usage::now()));
        }
        if now / MILLION > before / MILLION {
            let m = now / MILLION;
            let (cpu, kb) = timeline
                .cost((m - 1) * MILLION, m * MILLION)
                .unwrap_or((f64::NAN, f64::NAN));
            eprintln!(
                "growth: million {m}: {:.0} events/s, {cpu:.1} CPU µs/event, {kb:.1} disk \
                 KB/event ({:.0} s so far)",
                timeline.rate((m - 1) * MILLION, m * MILLION),
                timeline.at(now)
            );
        }
    }
    drop(http);
    server.stop().await?;
    ensure!(
        timeline.events() == total,
        "sent {} events of {total}",
        timeline.events()
    );
    println!("{}", report(&timeline, sessions, &data));
    Ok(())
}

/// The Markdown figures: each million's rate, the first and last million and their ratio.
fn report(t: &Timeline, sessions: u32, data: &Path) -> String {
    use std::fmt::Write as _;
    let total = t.events();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Growth of one meeting to {sessions} sessions: {total} events in NDJSON batches of \
         {INGEST_BATCH} over HTTP, one client, in {:.1} s ({:.0} events/s overall); store in \
         `{}` ({}).\n",
        t.at(total),
        t.rate(0, total),
        data.display(),
        store_size(data)
    );
    let _ = writeln!(
        out,
        "| events | sessions so far | events/s | CPU µs/event | disk KB/event |\n\
         |---|---|---|---|---|"
    );
    let cost = |from, to| {
        t.cost(from, to).map_or("– | –".to_owned(), |(cpu, kb)| {
            format!("{cpu:.1} | {kb:.1}")
        })
    };
    let per_event = |from, to| {
        t.cost(from, to).map_or(String::new(), |(cpu, kb)| {
            format!("({cpu:.1} CPU µs and {kb:.1} disk KB per event)")
        })
    };
    let small = SMALL.min(total);
    let _ = writeln!(
        out,
        "| first {small} | ≈ {} | {:.0} | {} |",
        small * 10 / 16,
        t.rate(0, small),
        cost(0, small)
    );
    let mut from = 0;
    while from < total {
        let to = (from + MILLION).min(total);
        let _ = writeln!(
            out,
            "| {}–{} M | ≈ {} | {:.0} | {} |",
            from / MILLION,
            to as f64 / MILLION as f64,
            to * 10 / 16,
            t.rate(from, to),
            cost(from, to)
        );
        from = to;
    }
    if total >= 2 * MILLION {
        let (first, last) = (t.rate(0, MILLION), t.rate(total - MILLION, total));
        let _ = writeln!(
            out,
            "\nfirst million {first:.0} events/s {}, last million {last:.0} events/s {}: ratio \
             {:.2} (target ≥ 0.5)",
            per_event(0, MILLION),
            per_event(total - MILLION, total),
            last / first
        );
    }
    out
}

/// The database and WAL files' sizes, for the report.
fn store_size(data: &Path) -> String {
    let size = |name: &str| {
        std::fs::metadata(data.join(name)).map_or(0, |m| m.len()) as f64 / (1024.0 * 1024.0)
    };
    format!(
        "{}: {:.0} MiB, WAL {:.0} MiB",
        rollcall_store_sqlite::DB_FILE,
        size(rollcall_store_sqlite::DB_FILE),
        size(&format!("{}-wal", rollcall_store_sqlite::DB_FILE))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_in_time_order_with_every_event_after_its_join() {
        let events: Vec<Planned> = Growing::new(10_001, 1_760_000_000).collect();
        assert_eq!(events.len() as u64, Growing::total(10_001));
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
        let mut joined = std::collections::HashSet::new();
        for e in &events {
            match e.kind {
                PlannedKind::Join { .. } => assert!(joined.insert(e.session)),
                _ => assert!(joined.contains(&e.session), "event before its join"),
            }
        }
        assert_eq!(joined.len(), 10_001);
    }

    #[test]
    fn a_timeline_rates_slices_between_batch_boundaries() {
        let t = Timeline {
            marks: vec![(1_000, 1.0), (2_000, 1.5), (3_000, 3.5)],
            usage: Vec::new(),
        };
        assert_eq!(t.rate(0, 1_000), 1_000.0);
        assert_eq!(t.rate(1_000, 3_000), 800.0);
        assert_eq!(t.events(), 3_000);
    }
}
