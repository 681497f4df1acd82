//! What the PostgreSQL tests share: the database from `TEST_POSTGRES_URL`, and a fresh schema
//! per test that is dropped when the test ends.
//!
//! Without `TEST_POSTGRES_URL` the tests that need a database say so loudly on stderr and
//! return: a run without a database must not look like a run that checked something.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

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
