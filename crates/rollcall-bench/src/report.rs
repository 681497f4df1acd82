//! What a run measured, and its Markdown: a table with the SPEC §10 targets beside the
//! figures, and whether each is met.

use std::fmt;

use crate::run::{BenchOpts, INGEST_BATCH};

/// The ingest run's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestFigures {
    /// Events sent (joins + quits + state changes), all accepted.
    pub events: u64,
    /// Wall time from the first request sent to the last reply read.
    pub secs: f64,
    /// Connections sending batches at once (1: one after another).
    pub clients: usize,
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

/// Everything [`run`](crate::run::run) measured; `Display` renders it as a Markdown table
/// beside SPEC §10.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub opts: BenchOpts,
    /// Logical CPUs available to this process.
    pub cpus: usize,
    /// Whether this binary was built with optimizations (debug figures mean little).
    pub optimized: bool,
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
            "| ingest, NDJSON batches of {}{} | {} events/s ({} events in {:.2} s) | ≥ {} events/s | {} |",
            thousands(INGEST_BATCH as f64),
            match i.clients {
                0 | 1 => String::new(),
                n => format!(", {n} clients at once"),
            },
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
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(1_234_567.6), "1,234,568");
    }
}
