//! What the PostgreSQL tests share: the database from `TEST_POSTGRES_URL`, and a fresh schema
//! per test that is dropped when the test ends (both from the test kit), and a TCP proxy in
//! front of the database for outage tests.
//!
//! Without `TEST_POSTGRES_URL` the tests that need a database say so loudly on stderr and
//! return: a run without a database must not look like a run that checked something.

#![allow(dead_code, unused_imports)] // Each test binary uses its own part of this module.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use rollcall_store::Store;

pub use rollcall_testkit::store::{test_postgres_url as url, Schema};

/// A fresh, migrated store in a schema of its own, or `None` without a database.
pub async fn fresh_store() -> Option<(Arc<dyn Store>, Schema)> {
    Schema::fresh().await
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
