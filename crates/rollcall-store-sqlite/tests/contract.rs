//! The backend-independent contract suite, run against the embedded SQLite store: every case
//! gets a fresh store in its own temporary directory.

use std::sync::Arc;

use rollcall_store::Store;
use rollcall_store_sqlite::SqliteStore;

async fn fresh() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open");
    (Arc::new(store), dir)
}

rollcall_store::store_contract_tests!(fresh());
