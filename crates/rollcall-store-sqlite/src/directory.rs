//! The server secret, the corp directory and access tokens.
//!
//! These change rarely and are read often (the server caches the directory by
//! `directory_version`), so clarity wins over speed here: each write is one `BEGIN IMMEDIATE`
//! transaction, each multi-table read one read transaction, so nobody sees half a corp.

use r2d2_sqlite::rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use rollcall_core::callback::{self, AppCallback};
use rollcall_core::model::{App, AppRef, Corp, Department, TokenRecord, User};
use rollcall_core::DAY;

use crate::error::{to_u64, Error, Result};

/// Keep the first candidate ever offered; return whatever is kept.
pub(crate) fn server_secret(conn: &mut Connection, candidate: [u8; 32]) -> Result<[u8; 32]> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached("INSERT OR IGNORE INTO meta (key, value) VALUES ('server_secret', ?1)")?
        .execute([&candidate[..]])?;
    let kept: Vec<u8> = tx
        .prepare_cached("SELECT value FROM meta WHERE key = 'server_secret'")?
        .query_row([], |r| r.get(0))?;
    tx.commit()?;
    kept.try_into()
        .map_err(|v: Vec<u8>| Error::Corrupt(format!("server secret is {} bytes, not 32", v.len())))
}

/// Replace the corp's rows and bump the directory version, atomically.
pub(crate) fn put_corp(conn: &mut Connection, corp: &Corp) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // The children go with it (ON DELETE CASCADE), so entries dropped from `corp` disappear.
    tx.prepare_cached("DELETE FROM corps WHERE corpid = ?1")?
        .execute([&corp.corpid])?;
    tx.prepare_cached("INSERT INTO corps (corpid, name) VALUES (?1, ?2)")?
        .execute(params![corp.corpid, corp.name])?;
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO departments (corpid, id, name, parent) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for d in &corp.departments {
            st.execute(params![corp.corpid, d.id, d.name, d.parent])?;
        }
    }
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO users (corpid, userid, name, departments) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for u in &corp.users {
            let departments = serde_json::to_string(&u.departments)?;
            st.execute(params![corp.corpid, u.userid, u.name, departments])?;
        }
    }
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO apps (corpid, agentid, name, secret_hash, meeting_api, enabled, \
             visible_departments, visible_users, callback_url, callback_token, \
             callback_aes_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for a in &corp.apps {
            let [url, token, key] = callback::to_stored(a.callback.as_ref());
            st.execute(params![
                corp.corpid,
                a.agentid,
                a.name,
                &a.secret_hash[..],
                a.meeting_api,
                a.enabled,
                serde_json::to_string(&a.visible_departments)?,
                serde_json::to_string(&a.visible_users)?,
                url,
                token,
                key,
            ])?;
        }
    }
    tx.prepare_cached("UPDATE meta SET value = value + 1 WHERE key = 'directory_version'")?
        .execute([])?;
    tx.commit()?;
    Ok(())
}

/// The stored corp, its parts in a stable order (departments by id, users by userid, apps by
/// agentid) so two reads of the same data compare equal.
pub(crate) fn corp(conn: &mut Connection, corpid: &str) -> Result<Option<Corp>> {
    let tx = conn.transaction()?;
    let name: Option<String> = tx
        .prepare_cached("SELECT name FROM corps WHERE corpid = ?1")?
        .query_row([corpid], |r| r.get(0))
        .optional()?;
    let Some(name) = name else {
        return Ok(None);
    };

    let mut departments = Vec::new();
    {
        let mut st = tx.prepare_cached(
            "SELECT id, name, parent FROM departments WHERE corpid = ?1 ORDER BY id",
        )?;
        let mut rows = st.query([corpid])?;
        while let Some(r) = rows.next()? {
            departments.push(Department {
                id: r.get(0)?,
                name: r.get(1)?,
                parent: r.get(2)?,
            });
        }
    }

    let mut users = Vec::new();
    {
        let mut st = tx.prepare_cached(
            "SELECT userid, name, departments FROM users WHERE corpid = ?1 ORDER BY userid",
        )?;
        let mut rows = st.query([corpid])?;
        while let Some(r) = rows.next()? {
            let departments: String = r.get(2)?;
            users.push(User {
                userid: r.get(0)?,
                name: r.get(1)?,
                departments: serde_json::from_str(&departments)?,
            });
        }
    }

    let mut apps = Vec::new();
    {
        let mut st = tx.prepare_cached(
            "SELECT agentid, name, secret_hash, meeting_api, enabled, visible_departments, \
             visible_users, callback_url, callback_token, callback_aes_key \
             FROM apps WHERE corpid = ?1 ORDER BY agentid",
        )?;
        let mut rows = st.query([corpid])?;
        while let Some(r) = rows.next()? {
            let agentid: u32 = r.get(0)?;
            let visible_departments: String = r.get(5)?;
            let visible_users: String = r.get(6)?;
            apps.push(App {
                agentid,
                name: r.get(1)?,
                secret_hash: r.get(2)?,
                meeting_api: r.get(3)?,
                enabled: r.get(4)?,
                visible_departments: serde_json::from_str(&visible_departments)?,
                visible_users: serde_json::from_str(&visible_users)?,
                callback: stored_callback(agentid, r, 7)?,
            });
        }
    }
    tx.commit()?;
    Ok(Some(Corp {
        corpid: corpid.to_owned(),
        name,
        departments,
        users,
        apps,
    }))
}

/// The callback in columns `first..first + 3` of an apps row (url, token, key).
fn stored_callback(agentid: u32, r: &Row<'_>, first: usize) -> Result<Option<AppCallback>> {
    let url: Option<String> = r.get(first)?;
    let token: Option<String> = r.get(first + 1)?;
    let key: Option<String> = r.get(first + 2)?;
    callback::from_stored(agentid, url.as_deref(), token.as_deref(), key.as_deref())
        .map_err(Error::Corrupt)
}

/// Every stored app with a callback target, by corpid then agentid.
pub(crate) fn callback_targets(conn: &Connection) -> Result<Vec<(AppRef, AppCallback)>> {
    let mut st = conn.prepare_cached(
        "SELECT corpid, agentid, callback_url, callback_token, callback_aes_key FROM apps \
         WHERE callback_url IS NOT NULL OR callback_token IS NOT NULL \
         OR callback_aes_key IS NOT NULL ORDER BY corpid, agentid",
    )?;
    let mut rows = st.query([])?;
    let mut all = Vec::new();
    while let Some(r) = rows.next()? {
        let app = AppRef {
            corpid: r.get(0)?,
            agentid: r.get(1)?,
        };
        if let Some(cb) = stored_callback(app.agentid, r, 2)? {
            all.push((app, cb));
        }
    }
    Ok(all)
}

pub(crate) fn directory_version(conn: &Connection) -> Result<u64> {
    let v: Option<i64> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'directory_version'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let v = v.ok_or_else(|| Error::Corrupt("meta.directory_version is missing".into()))?;
    to_u64(v, "directory_version")
}

/// The app's token valid at `now`, else `candidate`, stored. `BEGIN IMMEDIATE` takes the write
/// lock before the lookup, so a concurrent caller (another thread or another process) waits
/// and then finds the token this one stored.
/// The app's newest token still valid at `now`, if any: what `gettoken` answers while one
/// lives. A plain read, so [`SqliteStore`](crate::SqliteStore) asks it first on a reader:
/// a repeated `gettoken` then never queues for the writer behind an ingest batch's fsync
/// (issue 11.2: gettoken's p99 was 25–41 ms under ingest). [`token_for_app`] asks it again
/// under the write lock before issuing, so two callers racing still get one token.
pub(crate) fn valid_token(
    conn: &Connection,
    app: &AppRef,
    now: i64,
) -> Result<Option<TokenRecord>> {
    Ok(conn
        .prepare_cached(
            "SELECT hash, nonce, issued_at, expires_at FROM tokens \
             WHERE corpid = ?1 AND agentid = ?2 AND expires_at > ?3 \
             ORDER BY expires_at DESC LIMIT 1",
        )?
        .query_row(params![app.corpid, app.agentid, now], |r| {
            Ok(TokenRecord {
                hash: r.get(0)?,
                nonce: r.get(1)?,
                app: app.clone(),
                issued_at: r.get(2)?,
                expires_at: r.get(3)?,
            })
        })
        .optional()?)
}

pub(crate) fn token_for_app(
    conn: &mut Connection,
    now: i64,
    candidate: &TokenRecord,
) -> Result<TokenRecord> {
    let app = &candidate.app;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Prune this app's long-dead tokens while the lock is held anyway; the index makes it a
    // range delete. A day of grace keeps "expired" (42001) distinguishable from "unknown".
    tx.prepare_cached("DELETE FROM tokens WHERE corpid = ?1 AND agentid = ?2 AND expires_at < ?3")?
        .execute(params![app.corpid, app.agentid, now.saturating_sub(DAY)])?;
    let token = match valid_token(&tx, app, now)? {
        Some(t) => t,
        None => {
            tx.prepare_cached(
                "INSERT INTO tokens (hash, nonce, corpid, agentid, issued_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                &candidate.hash[..],
                &candidate.nonce[..],
                app.corpid,
                app.agentid,
                candidate.issued_at,
                candidate.expires_at,
            ])?;
            candidate.clone()
        }
    };
    tx.commit()?;
    Ok(token)
}

fn token_row(r: &Row<'_>) -> Result<TokenRecord> {
    Ok(TokenRecord {
        hash: r.get(0)?,
        nonce: r.get(1)?,
        app: AppRef {
            corpid: r.get(2)?,
            agentid: r.get(3)?,
        },
        issued_at: r.get(4)?,
        expires_at: r.get(5)?,
    })
}

pub(crate) fn token_by_hash(conn: &Connection, hash: &[u8; 32]) -> Result<Option<TokenRecord>> {
    let mut st = conn.prepare_cached(
        "SELECT hash, nonce, corpid, agentid, issued_at, expires_at FROM tokens WHERE hash = ?1",
    )?;
    let mut rows = st.query([&hash[..]])?;
    match rows.next()? {
        Some(r) => Ok(Some(token_row(r)?)),
        None => Ok(None),
    }
}
