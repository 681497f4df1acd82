//! The background checkpointer: a thread with its own connection that copies committed WAL
//! frames back into the database file while the writer goes on.
//!
//! # Why
//! In WAL mode every commit appends its dirty pages to the WAL (sequential, fsynced: that is
//! the durability), and a *checkpoint* later writes those pages to their places in the
//! database file and fsyncs it. SQLite's automatic checkpoint runs on the committing
//! connection, right after the commit: the writer, holding the store's write lock. In a
//! large meeting the key indexes (`sessions_by_key`, `applied_events`) are far larger than
//! any batch, so each event's key lands on a page of its own: a batch of 1,000 events
//! dirties ~1,600 random pages, and the checkpoint of those is ~1,600 random writes and an
//! fsync (measured on this project's 2-core VM: ~70 ms, against ~20 ms for appending the
//! same pages to the WAL). Inline, that time was the writer's, and ingest fell with the
//! meeting's size.
//!
//! Here a PASSIVE checkpoint runs on this thread every few commits ([`COMMITS`]): it takes no lock a
//! writer or reader waits on (SQLite's checkpointer lock only excludes other checkpoints),
//! copies what is committed, and leaves frames a reader still needs. The writer keeps an
//! automatic checkpoint only as a bound ([`crate::schema`]: `wal_autocheckpoint`): once the
//! WAL holds that many frames, the committing writer checkpoints what this thread has not
//! copied yet (little, when it keeps up), which also lets the next write transaction start
//! the WAL over from its beginning, so the file never grows past the bound for long.
//!
//! A checkpoint changes nothing a reader sees and is crash-safe by SQLite's design (a frame
//! stays in the WAL until a later write transaction restarts it), so `kill -9` at any point
//! loses nothing acknowledged.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use r2d2_sqlite::rusqlite::{Connection, OpenFlags};

use crate::error::Result;

/// How often the thread looks for new commits (`PRAGMA data_version`: a read of the WAL
/// index header, no I/O).
const POLL: Duration = Duration::from_millis(20);

/// Commits seen before a checkpoint runs. Each checkpoint fsyncs the database file and
/// writes every page it copies once, however many commits rewrote it since the last one: a
/// checkpoint every 100 ms (about one per commit on the loaded test machine) measured 9% more
/// disk writes and 14% more CPU per event than the inline checkpoint every 4,000 frames it
/// replaces (3–5 batches at a million sessions), so it waits for about that many.
const COMMITS: u32 = 4;

/// The longest a commit waits to be copied back when fewer than [`COMMITS`] follow it.
const LINGER: Duration = Duration::from_secs(1);

/// The running thread; dropping this stops it (after the run in progress, if any).
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Open the thread's connection to `path` (already a migrated WAL database) and start.
    pub(crate) fn start(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        crate::schema::init_checkpointer(&conn)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&conn, &stopped))
            .map_err(|e| {
                crate::error::Error::Unavailable(format!("cannot start the checkpointer: {e}"))
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Until told to stop: a PASSIVE checkpoint once [`COMMITS`] commits were seen (polled
/// every [`POLL`]; `PRAGMA data_version` moves when another connection commits), or
/// [`LINGER`] after the first of fewer.
fn run(conn: &Connection, stopped: &mpsc::Receiver<()>) {
    let mut seen = None;
    let (mut commits, mut first) = (0u32, Instant::now());
    loop {
        match stopped.recv_timeout(POLL) {
            Err(RecvTimeoutError::Timeout) => {}
            // The store is closing (nothing is ever sent: the sender is dropped).
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let version: Option<i64> = conn.query_row("PRAGMA data_version", [], |r| r.get(0)).ok();
        if version != seen {
            seen = version;
            if commits == 0 {
                first = Instant::now();
            }
            commits += 1;
        }
        if commits == 0 || (commits < COMMITS && first.elapsed() < LINGER) {
            continue;
        }
        commits = 0;
        // (busy, frames in the WAL, frames checkpointed); an error (say, the disk) is
        // logged and the next run tries again: the writer's bound still holds the WAL.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        }) {
            tracing::warn!(error = %e, "background checkpoint failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::{SqliteStore, DB_FILE};

    /// Opening migrates the schema into the WAL, far below the writer's own bound, and the
    /// main file holds only the header page: that the file grows proves the background
    /// thread copied the frames in. (Polled against a generous deadline: a liveness check,
    /// not a timing one.)
    #[test]
    fn committed_pages_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let db = dir.path().join(DB_FILE);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::metadata(&db).expect("the database file").len() <= 4096 {
            assert!(
                Instant::now() < deadline,
                "no checkpoint reached {} within a minute",
                db.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Closing stops the thread (it is joined) and leaves a consistent store.
        drop(store);
        SqliteStore::open(dir.path()).expect("reopens");
    }
}
