//! The store's change stamp ([`Store::change_stamp`]) read from the WAL-index header in
//! `rollcall.db-shm`: one `pread` of 48 bytes instead of a read transaction.
//!
//! # Why this is exact
//! In WAL mode every connection of every process shares the WAL-index, a file mapped into
//! each (`<db>-shm`). Its header (SQLite's documented WAL file format,
//! <https://www.sqlite.org/walformat.html>, section 2.1 "The WAL-Index Header") carries
//! `iChange`, "incremented with each transaction", and `mxFrame`, the last committed frame;
//! a commit writes the new header there (after the frames it commits are in the WAL) before
//! it returns, and a reader that starts later reads that header to see the commit. So:
//! - every commit, by this process or another, changes the 48 bytes (`iChange` moves and a
//!   `u32` counter does not come back to a value within any cache's lifetime);
//! - while the bytes are unchanged no commit has happened, so a read made after the stamp
//!   was taken saw exactly what a read now would see: what the page cache needs.
//!
//! A read that races a commit's header write may see some bytes new and some old; such a
//! mix differs from the header before the commit, so at worst it costs a cache miss. Other
//! header writes that are not commits (a WAL restart after a checkpoint, recovery) only
//! move the stamp too: a spurious miss, never a stale hit.
//!
//! # Why not `PRAGMA data_version`
//! That is what the stamp was: correct too, but each read opens and closes a read
//! transaction (shared-memory locks by `fcntl`, an `fstat` of the file, a mutex around one
//! connection). Under a `wrk -t1 -c16` page load that was ~14% of the server's CPU (perf),
//! on a path whose rows came from the cache. It stays as the fallback when the header
//! cannot be read (no `-shm` file, a short read, a header not initialised).
//!
//! [`Store::change_stamp`]: rollcall_store::Store::change_stamp

use std::fs::File;
use std::hash::{DefaultHasher, Hasher};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The WAL-index header's first copy: `iVersion`, padding, `iChange`, `isInit`,
/// `bigEndCksum`, `szPage`, `mxFrame`, `nPage`, `aFrameCksum`, `aSalt`, `aCksum`.
const HEADER: usize = 48;
/// Offset of `isInit` (1 once the header is valid).
const IS_INIT: usize = 12;

/// The open `-shm` file of one database.
#[derive(Debug)]
pub(crate) struct WalStamp {
    shm: File,
}

impl WalStamp {
    /// Open the WAL-index of the database at `db` (read-only). `None` when there is none to
    /// read (the caller then uses `PRAGMA data_version`).
    pub(crate) fn open(db: &Path) -> Option<Self> {
        let mut name = db.as_os_str().to_owned();
        name.push("-shm");
        let stamp = Self {
            shm: File::open(name).ok()?,
        };
        stamp.read().map(|_| stamp)
    }

    /// The stamp now: a hash of the header's bytes, or `None` when the header cannot be
    /// read whole or is not initialised.
    pub(crate) fn read(&self) -> Option<u64> {
        let mut header = [0u8; HEADER];
        self.shm.read_exact_at(&mut header, 0).ok()?;
        if header[IS_INIT] != 1 {
            return None;
        }
        let mut h = DefaultHasher::new();
        h.write(&header);
        Some(h.finish())
    }
}
