//! Reset and named snapshots (SPEC §9) of the embedded store.
//!
//! A snapshot is a SQLite database file, `<data dir>/snapshots/<name>.db`, so it survives
//! restarts and can be copied or inspected like the store itself.
//!
//! # Layout
//! - [`save`]: `VACUUM INTO` on a pooled *read* connection, so ingest goes on through the
//!   writer meanwhile: it reads one WAL snapshot of the store, so the copy is the state at
//!   one instant. The copy is then opened alone to drop its server secret, count its meetings
//!   and sessions (in the copy, so the counts match it exactly) and record them in a
//!   `rollcall_snapshot` table; only then is it linked under its final name (`hard_link`
//!   refuses a taken name atomically), so a half-written copy is never listed.
//! - [`restore`]: one `BEGIN IMMEDIATE` transaction on the writer connection with the copy
//!   `ATTACH`ed: every table of the store is emptied and refilled from the copy (column by
//!   column, by name), foreign keys deferred to the commit. WAL readers see the state before
//!   the commit or after it, never a mix. A copy from an older schema is migrated first (on a
//!   temporary copy of it, so the snapshot itself stays as it was taken).
//! - [`reset`]: the same transaction shape, with nothing to refill.
//! - Both keep the server secret (the `meta` row `server_secret`) and bump
//!   `directory_version`; `sqlite_sequence` (the `AUTOINCREMENT` counter of meeting keys)
//!   is the copy's after a restore and empty after a reset, so keys start again at 1 —
//!   except the callback outbox's ids, which only grow (`NEVER_REUSED`).
//!   Tables are listed from the schema, not named here: a table a later migration adds is
//!   copied, restored and reset with no change to this file.

use std::path::{Path, PathBuf};

use r2d2_sqlite::rusqlite::{self, params, Connection, OpenFlags, OptionalExtension};
use rollcall_store::SnapshotInfo;

use crate::error::{Error, Result};
use crate::schema;

/// The directory of snapshot files, beside the database file.
pub(crate) fn dir_of(db_path: &Path) -> PathBuf {
    db_path
        .parent()
        .map(|d| d.join("snapshots"))
        .unwrap_or_else(|| PathBuf::from("snapshots"))
}

/// The file of snapshot `name`, refusing a name that could leave the directory.
fn file_of(dir: &Path, name: &str) -> Result<PathBuf> {
    rollcall_core::snapshot::validate_name(name).map_err(Error::Unavailable)?;
    Ok(dir.join(format!("{name}.db")))
}

/// Meta rows that are not state to copy: the secret stays, the version only moves forward.
const KEPT_META: &str = "('server_secret', 'directory_version')";

/// Counters that only move forward, through resets and restores alike: a delivery loop may
/// still hold a row claimed before a reset, and its late `finish_delivery(id)` must not land
/// on a new row that reused the id.
const NEVER_REUSED: &str = "('deliveries')";

/// Save the state `reader` sees as snapshot `name`.
pub(crate) fn save(
    reader: &Connection,
    dir: &Path,
    name: &str,
    created_at: i64,
) -> Result<SnapshotInfo> {
    let path = file_of(dir, name)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Unavailable(format!("snapshot directory {}: {e}", dir.display())))?;
    if path.exists() {
        return Err(Error::Conflict(format!("snapshot {name:?} exists")));
    }
    let tmp = dir.join(format!(
        ".{name}.{}.{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        reader.execute("VACUUM INTO ?1", params![tmp.to_string_lossy()])?;
        let info = describe(&tmp, name, created_at)?;
        match std::fs::hard_link(&tmp, &path) {
            Ok(()) => Ok(info),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::Conflict(format!("snapshot {name:?} exists")))
            }
            Err(e) => Err(Error::Unavailable(format!("snapshot {name:?}: {e}"))),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// Strip the secret from a fresh copy, count it, and record what it is inside it.
fn describe(copy: &Path, name: &str, created_at: i64) -> Result<SnapshotInfo> {
    let mut c = Connection::open(copy)?;
    let tx = c.transaction()?;
    tx.execute("DELETE FROM meta WHERE key = 'server_secret'", [])?;
    let meetings: i64 = tx.query_row("SELECT count(*) FROM meetings", [], |r| r.get(0))?;
    let sessions: i64 = tx.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))?;
    tx.execute_batch(
        "CREATE TABLE rollcall_snapshot (
             name TEXT NOT NULL, created_at INTEGER NOT NULL,
             meetings INTEGER NOT NULL, sessions INTEGER NOT NULL) STRICT",
    )?;
    tx.execute(
        "INSERT INTO rollcall_snapshot VALUES (?1, ?2, ?3, ?4)",
        params![name, created_at, meetings, sessions],
    )?;
    tx.commit()?;
    Ok(SnapshotInfo {
        name: name.to_owned(),
        created_at,
        meetings: crate::error::to_u64(meetings, "meeting count")?,
        sessions: crate::error::to_u64(sessions, "session count")?,
    })
}

/// What a snapshot file says it is.
fn info_of(path: &Path) -> Result<SnapshotInfo> {
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let (name, created_at, meetings, sessions): (String, i64, i64, i64) = c
        .query_row(
            "SELECT name, created_at, meetings, sessions FROM rollcall_snapshot",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .map_err(|e| Error::Corrupt(format!("snapshot {}: {e}", path.display())))?;
    Ok(SnapshotInfo {
        name,
        created_at,
        meetings: crate::error::to_u64(meetings, "meeting count")?,
        sessions: crate::error::to_u64(sessions, "session count")?,
    })
}

/// Every snapshot in `dir`, by name.
pub(crate) fn list(dir: &Path) -> Result<Vec<SnapshotInfo>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::Unavailable(format!("{}: {e}", dir.display()))),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::Unavailable(format!("{}: {e}", dir.display())))?;
        let file = entry.file_name();
        let file = file.to_string_lossy();
        // Temporary copies start with '.', which a name cannot begin a file with here only
        // because they also end in `.tmp`; listing `*.db` that are not hidden covers both.
        if file.starts_with('.') && file.ends_with(".tmp") {
            continue;
        }
        if let Some(name) = file.strip_suffix(".db") {
            if rollcall_core::snapshot::validate_name(name).is_ok() {
                out.push(info_of(&entry.path())?);
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Remove snapshot `name`.
pub(crate) fn delete(dir: &Path, name: &str) -> Result<()> {
    match std::fs::remove_file(file_of(dir, name)?) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::NotFound(format!("no snapshot {name:?}")))
        }
        Err(e) => Err(Error::Unavailable(format!("snapshot {name:?}: {e}"))),
    }
}

/// The store's own tables (not `meta`, not SQLite's), in the schema `db`.
fn tables(c: &Connection, db: &str) -> Result<Vec<String>> {
    let mut stmt = c.prepare(&format!(
        "SELECT name FROM {db}.sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT IN ('meta', 'rollcall_snapshot') ORDER BY name"
    ))?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}

/// The column names of `table` in the schema `db`, quoted and comma-separated.
fn columns(c: &Connection, db: &str, table: &str) -> Result<String> {
    let mut stmt = c.prepare(&format!("SELECT name FROM pragma_table_info(?1, '{db}')"))?;
    let cols = stmt
        .query_map([table], |r| r.get::<_, String>(0))?
        .map(|n| n.map(|n| quote(&n)))
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(cols.join(", "))
}

/// An identifier as SQL, quoted.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Empty every table (keeping the secret), restart the key counters, bump the version.
pub(crate) fn reset(c: &mut Connection) -> Result<()> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for table in tables(&tx, "main")? {
        tx.execute(&format!("DELETE FROM main.{}", quote(&table)), [])?;
    }
    tx.execute_batch(&format!(
        "DELETE FROM main.meta WHERE key NOT IN {KEPT_META};
         DELETE FROM main.sqlite_sequence WHERE name NOT IN {NEVER_REUSED};
         UPDATE main.meta SET value = value + 1 WHERE key = 'directory_version';"
    ))?;
    tx.commit()?;
    Ok(())
}

/// Make the store what snapshot `name` holds, in one write transaction.
pub(crate) fn restore(c: &mut Connection, dir: &Path, name: &str) -> Result<SnapshotInfo> {
    let path = file_of(dir, name)?;
    if !path.exists() {
        return Err(Error::NotFound(format!("no snapshot {name:?}")));
    }
    let info = info_of(&path)?;
    let current = i64::try_from(schema::MIGRATIONS.len()).unwrap_or(i64::MAX);
    let version: i64 = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?
        .query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > current {
        return Err(Error::Unavailable(format!(
            "snapshot {name:?} has schema version {version}, newer than this rollcall knows \
             ({current})"
        )));
    }
    // An older copy is migrated on a temporary copy, so the snapshot stays as it was taken.
    let upgraded = (version < current).then(|| dir.join(format!(".{name}.upgrade.tmp")));
    let source = match &upgraded {
        Some(tmp) => {
            std::fs::copy(&path, tmp)
                .map_err(|e| Error::Unavailable(format!("snapshot {name:?}: {e}")))?;
            schema::migrate(&mut Connection::open(tmp)?)?;
            tmp.clone()
        }
        None => path,
    };
    c.execute(
        "ATTACH DATABASE ?1 AS snap",
        params![source.to_string_lossy()],
    )?;
    let result = refill(c);
    let detached = c.execute_batch("DETACH DATABASE snap");
    if let Some(tmp) = &upgraded {
        let _ = std::fs::remove_file(tmp);
    }
    result?;
    detached?;
    Ok(info)
}

/// The restore transaction, with the copy attached as `snap`.
fn refill(c: &mut Connection) -> Result<()> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Rows go in table by table: the references between them hold again at the commit.
    tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
    let in_copy = tables(&tx, "snap")?;
    let mine = tables(&tx, "main")?;
    // Every table is emptied before any is refilled: a cascading delete of a parent would
    // otherwise remove children already copied back.
    for table in &mine {
        tx.execute(&format!("DELETE FROM main.{}", quote(table)), [])?;
    }
    for table in mine.iter().filter(|t| in_copy.contains(t)) {
        let (t, cols) = (quote(table), columns(&tx, "main", table)?);
        tx.execute(
            &format!("INSERT INTO main.{t} ({cols}) SELECT {cols} FROM snap.{t}"),
            [],
        )?;
    }
    let delivery_seq: Option<i64> = tx
        .query_row(
            "SELECT seq FROM main.sqlite_sequence WHERE name = 'deliveries'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let version: Option<i64> = tx
        .query_row(
            "SELECT value FROM snap.meta WHERE key = 'directory_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    tx.execute_batch(&format!(
        "DELETE FROM main.meta WHERE key NOT IN {KEPT_META};
         INSERT INTO main.meta (key, value)
             SELECT key, value FROM snap.meta WHERE key NOT IN {KEPT_META};
         DELETE FROM main.sqlite_sequence;
         INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM snap.sqlite_sequence;"
    ))?;
    if let Some(seq) = delivery_seq {
        // Delivery ids are never reused (see `NEVER_REUSED`): past the current ones too.
        tx.execute(
            "DELETE FROM main.sqlite_sequence WHERE name = 'deliveries' AND seq < ?1",
            [seq],
        )?;
        tx.execute(
            "INSERT INTO main.sqlite_sequence (name, seq) SELECT 'deliveries', ?1 \
             WHERE NOT EXISTS (SELECT 1 FROM main.sqlite_sequence WHERE name = 'deliveries')",
            [seq],
        )?;
    }
    // Past both the current version and the copy's, so no cache keyed by either is reused.
    tx.execute(
        "UPDATE main.meta SET value = max(value, ?1) + 1 WHERE key = 'directory_version'",
        params![version.unwrap_or(0)],
    )?;
    tx.commit()?;
    Ok(())
}
