//! What the PostgreSQL tests share: the database from `TEST_POSTGRES_URL`, and a fresh schema
//! per test that is dropped when the test ends.
//!
//! Without `TEST_POSTGRES_URL` the tests that need a database say so loudly on stderr and
//! return: a run without a database must not look like a run that checked something.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use rollcall_store::Store;
use rollcall_store_postgres::{PgOptions, PgStore};

/// The database under test, or `None` (after saying so on stderr) when none is configured.
pub fn url() -> Option<String> {
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            // Straight to the stderr file descriptor: `eprintln!` would be captured by the
            // test harness and shown only for failures, and a skip must never pass unseen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: TEST_POSTGRES_URL not set — PostgreSQL tests did not run \
                 (e.g. TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test)"
            );
            None
        }
    }
}

/// A schema of its own for one test; dropped with everything in it when this is dropped.
#[derive(Debug)]
pub struct Schema {
    pub url: String,
    pub name: String,
}

impl Schema {
    /// A name no other test (in this process or another) uses at the same time.
    pub fn new(url: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "t_{}_{}_{}",
            std::process::id(),
            nanos,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self {
            url: url.to_owned(),
            name,
        }
    }

    pub fn options(&self) -> PgOptions {
        PgOptions {
            schema: Some(self.name.clone()),
            max_connections: 8,
            ..PgOptions::default()
        }
    }

    /// A store (a "node") on this schema; the first one creates and migrates it.
    pub async fn store(&self) -> PgStore {
        PgStore::connect_with(&self.url, self.options())
            .await
            .expect("connect to TEST_POSTGRES_URL")
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Drop is synchronous and may run on a runtime thread: do the async work on a thread
        // with a runtime of its own.
        let (url, options) = (self.url.clone(), self.options());
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let store = PgStore::lazy(&url, options)?;
                store.drop_schema().await
            })
        })
        .join();
        if let Ok(Err(e)) = done {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}

/// A fresh, migrated store in a schema of its own, or `None` without a database.
pub async fn fresh_store() -> Option<(Arc<dyn Store>, Schema)> {
    let url = url()?;
    let schema = Schema::new(&url);
    let store = schema.store().await;
    Some((Arc::new(store), schema))
}

// ---- a TCP proxy in front of the database, for outage tests ----

/// A TCP proxy to the real database that can be switched off and frozen.
pub struct Proxy {
    pub port: u16,
    upstream: String,
    frozen: Arc<AtomicBool>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let proxy = Self {
            port,
            upstream,
            frozen: Arc::new(AtomicBool::new(false)),
            tasks: Arc::new(Mutex::new(Vec::new())),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, frozen, tasks) = (
            self.upstream.clone(),
            Arc::clone(&self.frozen),
            Arc::clone(&self.tasks),
        );
        let accept = tokio::spawn({
            let tasks = Arc::clone(&tasks);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        continue;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let mut t = tasks.lock().unwrap_or_else(PoisonError::into_inner);
                    t.push(tokio::spawn(pipe(cr, sw, Arc::clone(&frozen))));
                    t.push(tokio::spawn(pipe(sr, cw, Arc::clone(&frozen))));
                }
            }
        });
        tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(accept);
    }

    /// The database "goes away": the port closes and every connection is cut.
    pub fn down(&self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
    }

    /// The database "comes back" on the same address.
    pub async fn up(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebind the proxy's port");
        self.serve(listener);
    }

    pub fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
    }
}

/// Copy bytes one way; while frozen, hold them (the connection stays open, silent).
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// The database's `host:port`, from its URL.
pub fn upstream_of(url: &str) -> String {
    let c: tokio_postgres::Config = url.parse().expect("TEST_POSTGRES_URL");
    let host = match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    format!("{host}:{}", c.get_ports().first().copied().unwrap_or(5432))
}

/// `url` pointed at the proxy instead, in key=value form.
pub fn proxied(url: &str, port: u16) -> String {
    let c: tokio_postgres::Config = url.parse().expect("TEST_POSTGRES_URL");
    let quote = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut out = format!("host=127.0.0.1 port={port}");
    if let Some(u) = c.get_user() {
        out.push_str(&format!(" user={}", quote(u)));
    }
    if let Some(p) = c.get_password() {
        out.push_str(&format!(" password={}", quote(&String::from_utf8_lossy(p))));
    }
    if let Some(d) = c.get_dbname() {
        out.push_str(&format!(" dbname={}", quote(d)));
    }
    out
}
