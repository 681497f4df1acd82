//! Reset and named snapshots (SPEC §9) of the PostgreSQL store, within the database.
//!
//! A snapshot lives in two tables of the store's own schema (migration 3): `snapshots`, one
//! row per name with its counts, and `snapshot_rows`, every row of every table as `jsonb`
//! (`to_jsonb(row)`, read back with `jsonb_populate_record`). So a snapshot is shared by
//! every node on the database (taken on node A, restored on node B), survives restarts, and
//! needs no DDL: saving and restoring are ordinary transactions, and no node's cached
//! statements are invalidated.
//!
//! # Layout
//! - [`save`]: one `REPEATABLE READ` transaction copies every table and counts meetings and
//!   sessions in the same snapshot, while ingest goes on beside it (it only reads the live
//!   tables); a taken name fails on the primary key as a conflict.
//! - [`restore`]: one transaction that first locks every table `IN EXCLUSIVE MODE` (writers
//!   wait, plain reads do not), then deletes every row and inserts the copy's, parents before
//!   children. `DELETE`, not `TRUNCATE`: `TRUNCATE` is not MVCC-safe, and a reader whose
//!   snapshot predates the commit would see empty tables. So a concurrent reader sees the
//!   state before the commit or after it.
//! - [`reset`]: the same transaction with nothing to insert.
//! - Both keep `server_secret` and bump `directory_version` (which only grows, so it is past
//!   the copy's too), so every node's directory cache refreshes. Identity sequences (meeting keys,
//!   pending-event order) restart after a reset and continue after the largest restored
//!   value after a restore (`setval`, issued last in the transaction); the callback
//!   outbox's ids only grow (`NEVER_REUSED`).
//! - Tables are listed from the catalog, not named here: a table a later migration adds is
//!   copied, restored and reset with no change to this file.

use std::collections::BTreeSet;

use tokio_postgres::{IsolationLevel, Transaction};

use rollcall_store::SnapshotInfo;

use crate::error::{get, get_u64, Error, Result};

type Client = deadpool_postgres::Object;

/// Tables that are not state: the migration record, the secret, the snapshots themselves,
/// and `meta` (copied row by row, keeping `directory_version`).
const NOT_STATE: &str =
    "('rollcall_migrations', 'server_secret', 'snapshots', 'snapshot_rows', 'meta')";

/// An identifier as SQL, quoted.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The state tables of the store's schema, parents before the tables referring to them.
async fn tables(tx: &Transaction<'_>) -> Result<Vec<String>> {
    let rows = tx
        .query(
            &format!(
                "SELECT tablename::text FROM pg_tables \
                 WHERE schemaname = current_schema() AND tablename NOT IN {NOT_STATE} \
                 ORDER BY tablename"
            ),
            &[],
        )
        .await?;
    let mut left: Vec<String> = rows.iter().map(|r| get(r, 0)).collect::<Result<_>>()?;
    let edges = tx
        .query(
            "SELECT c.relname::text, p.relname::text FROM pg_constraint k \
             JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE k.contype = 'f' AND n.nspname = current_schema() AND c.oid <> p.oid",
            &[],
        )
        .await?;
    let edges: Vec<(String, String)> = edges
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
        .collect::<Result<_>>()?;
    // Kahn's order: a table goes once every table it refers to has gone.
    let state: BTreeSet<String> = left.iter().cloned().collect();
    let mut ordered = Vec::with_capacity(left.len());
    let mut done = BTreeSet::new();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|t| {
            let ready = edges
                .iter()
                .filter(|(child, _)| child == t)
                .all(|(_, parent)| done.contains(parent) || !state.contains(parent));
            if ready {
                done.insert(t.clone());
                ordered.push(t.clone());
            }
            !ready
        });
        if left.len() == before {
            return Err(Error::Corrupt(format!(
                "foreign keys form a cycle among {left:?}"
            )));
        }
    }
    Ok(ordered)
}

/// `(table, column)` of every identity column of the store's schema.
async fn identities(tx: &Transaction<'_>) -> Result<Vec<(String, String)>> {
    let rows = tx
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
            &[],
        )
        .await?;
    rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
}

/// Lock every state table against writers (readers go on) and empty it.
async fn empty_all(tx: &Transaction<'_>, tables: &[String]) -> Result<()> {
    let mut all: Vec<String> = tables.iter().map(|t| quote(t)).collect();
    all.push("meta".into());
    tx.batch_execute(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", all.join(", ")))
        .await?;
    for t in tables.iter().rev() {
        tx.execute(&format!("DELETE FROM {}", quote(t)), &[])
            .await?;
    }
    tx.execute("DELETE FROM meta WHERE key <> 'directory_version'", &[])
        .await?;
    Ok(())
}

/// Identity columns whose values are never reused, through resets and restores alike: a
/// delivery loop may still hold a row claimed before a reset, and its late
/// `finish_delivery(id)` must not land on a new row that reused the id.
const NEVER_REUSED: &[&str] = &["deliveries"];

/// Point every identity sequence past the largest value its column holds (1 when empty);
/// those of [`NEVER_REUSED`] also past every value they handed out.
async fn resume_sequences(tx: &Transaction<'_>) -> Result<()> {
    for (table, column) in identities(tx).await? {
        let (t, c) = (quote(&table), quote(&column));
        if NEVER_REUSED.contains(&table.as_str()) {
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence($1, $2), greatest( \
                     coalesce((SELECT max({c}) FROM {t}), 0), coalesce( \
                     pg_sequence_last_value(pg_get_serial_sequence($1, $2)::regclass), 0)) + 1, \
                     false)"
                ),
                &[&t, &column],
            )
            .await?;
            continue;
        }
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), \
                 coalesce((SELECT max({c}) FROM {t}), 0) + 1, false)"
            ),
            &[&t, &column],
        )
        .await?;
    }
    Ok(())
}

/// Save the current state as snapshot `name`.
pub(crate) async fn save(c: &mut Client, name: &str, created_at: i64) -> Result<SnapshotInfo> {
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .await?;
    let row = tx
        .query_one(
            "INSERT INTO snapshots (name, created_at, meetings, sessions) \
             VALUES ($1, $2, (SELECT count(*) FROM meetings), (SELECT count(*) FROM sessions)) \
             RETURNING meetings, sessions",
            &[&name, &created_at],
        )
        .await
        .map_err(|e| conflict(e, name))?;
    let info = SnapshotInfo {
        name: name.to_owned(),
        created_at,
        meetings: get_u64(&row, 0, "meetings")?,
        sessions: get_u64(&row, 1, "sessions")?,
    };
    for t in tables(&tx).await? {
        tx.execute(
            &format!(
                "INSERT INTO snapshot_rows (name, tbl, row) SELECT $1, $2, to_jsonb(x) FROM {} x",
                quote(&t)
            ),
            &[&name, &t],
        )
        .await?;
    }
    tx.execute(
        "INSERT INTO snapshot_rows (name, tbl, row) \
         SELECT $1, 'meta', to_jsonb(x) FROM meta x WHERE key <> 'directory_version'",
        &[&name],
    )
    .await?;
    tx.commit().await?;
    Ok(info)
}

/// A taken name is a conflict with a readable message.
fn conflict(e: tokio_postgres::Error, name: &str) -> Error {
    if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        Error::Conflict(format!("snapshot {name:?} exists"))
    } else {
        Error::Sql(e)
    }
}

fn info_of(row: &tokio_postgres::Row) -> Result<SnapshotInfo> {
    Ok(SnapshotInfo {
        name: get(row, 0)?,
        created_at: get(row, 1)?,
        meetings: get_u64(row, 2, "meetings")?,
        sessions: get_u64(row, 3, "sessions")?,
    })
}

/// Every snapshot, by name.
pub(crate) async fn list(c: &mut Client) -> Result<Vec<SnapshotInfo>> {
    let rows = c
        .query(
            "SELECT name, created_at, meetings, sessions FROM snapshots ORDER BY name",
            &[],
        )
        .await?;
    rows.iter().map(info_of).collect()
}

/// Forget snapshot `name` (its rows go with it).
pub(crate) async fn delete(c: &mut Client, name: &str) -> Result<()> {
    match c
        .execute("DELETE FROM snapshots WHERE name = $1", &[&name])
        .await?
    {
        0 => Err(Error::NotFound(format!("no snapshot {name:?}"))),
        _ => Ok(()),
    }
}

/// Make the store what snapshot `name` holds, in one transaction.
pub(crate) async fn restore(c: &mut Client, name: &str) -> Result<SnapshotInfo> {
    let tx = c.transaction().await?;
    // FOR SHARE: a concurrent delete of this snapshot waits for the restore.
    let Some(row) = tx
        .query_opt(
            "SELECT name, created_at, meetings, sessions FROM snapshots WHERE name = $1 FOR SHARE",
            &[&name],
        )
        .await?
    else {
        return Err(Error::NotFound(format!("no snapshot {name:?}")));
    };
    let info = info_of(&row)?;
    let tables = tables(&tx).await?;
    empty_all(&tx, &tables).await?;
    for t in &tables {
        let q = quote(t);
        tx.execute(
            &format!(
                "INSERT INTO {q} OVERRIDING SYSTEM VALUE \
                 SELECT (jsonb_populate_record(NULL::{q}, row)).* FROM snapshot_rows \
                 WHERE name = $1 AND tbl = $2"
            ),
            &[&name, t],
        )
        .await?;
    }
    tx.execute(
        "INSERT INTO meta SELECT (jsonb_populate_record(NULL::meta, row)).* FROM snapshot_rows \
         WHERE name = $1 AND tbl = 'meta'",
        &[&name],
    )
    .await?;
    tx.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'directory_version'",
        &[],
    )
    .await?;
    resume_sequences(&tx).await?;
    // The copy's change stamps stood for its states when it was taken; a node may have read
    // a later state under one of them (a page racing an ingest), so every restored meeting
    // gets a value no node has seen.
    tx.execute(
        "UPDATE meetings SET changed = nextval('meeting_changes')",
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(info)
}

/// Empty every state table (keeping the secret and the snapshots), restart the sequences.
pub(crate) async fn reset(c: &mut Client) -> Result<()> {
    let tx = c.transaction().await?;
    let tables = tables(&tx).await?;
    empty_all(&tx, &tables).await?;
    tx.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'directory_version'",
        &[],
    )
    .await?;
    resume_sequences(&tx).await?;
    tx.commit().await?;
    Ok(())
}
