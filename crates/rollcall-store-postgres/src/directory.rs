//! The server secret, the corp directory and access tokens.
//!
//! These change rarely and are read often (the server caches the directory by
//! `directory_version`), so clarity wins over speed here. What several nodes must agree on is
//! decided by the database: the secret by a single-row primary key, a corp replacement by one
//! transaction serialized on the directory version's row, a token by a per-app advisory lock.

use futures::future::try_join_all;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

use rollcall_core::callback::{self, AppCallback};
use rollcall_core::model::{App, AppRef, Corp, Department, TokenRecord, User};
use rollcall_core::DAY;

use crate::error::{get, get_bytes, get_u32, get_u64, Error, Result};

type Client = deadpool_postgres::Object;

/// Keep the first candidate ever offered; return whatever is kept. Two statements, each its
/// own transaction: a concurrent first insert makes ours wait for its commit and then do
/// nothing, and the `SELECT` that follows (a new snapshot) sees the row that won.
pub(crate) async fn server_secret(c: &mut Client, candidate: [u8; 32]) -> Result<[u8; 32]> {
    let insert = c
        .prepare_cached(
            "INSERT INTO server_secret (id, secret) VALUES (TRUE, $1) ON CONFLICT (id) DO NOTHING",
        )
        .await?;
    c.execute(&insert, &[&&candidate[..]]).await?;
    let select = c
        .prepare_cached("SELECT secret FROM server_secret WHERE id")
        .await?;
    let row = c.query_one(&select, &[]).await?;
    get_bytes(&row, 0, "server secret")
}

/// Replace the corp's rows and bump the directory version, atomically.
pub(crate) async fn put_corp(c: &mut Client, corp: &Corp) -> Result<()> {
    let tx = c.transaction().await?;
    // First, so concurrent replacements (of any corp) queue on this row: each later statement
    // then sees what the previous replacement committed, and a corp replaced twice at once
    // ends as one of the two, never as a unique-key failure.
    let bump = tx
        .prepare_cached("UPDATE meta SET value = value + 1 WHERE key = 'directory_version'")
        .await?;
    tx.execute(&bump, &[]).await?;
    // The children go with it (ON DELETE CASCADE), so entries dropped from `corp` disappear.
    let delete = tx
        .prepare_cached("DELETE FROM corps WHERE corpid = $1")
        .await?;
    tx.execute(&delete, &[&corp.corpid]).await?;
    let insert = tx
        .prepare_cached("INSERT INTO corps (corpid, name) VALUES ($1, $2)")
        .await?;
    tx.execute(&insert, &[&corp.corpid, &corp.name]).await?;

    let (dept_st, user_st, app_st) = tokio::try_join!(
        tx.prepare_cached(
            "INSERT INTO departments (corpid, id, name, parent) \
             SELECT $1::text, * FROM UNNEST($2::bigint[], $3::text[], $4::bigint[])"
        ),
        tx.prepare_cached(
            "INSERT INTO users (corpid, userid, name, departments) VALUES ($1, $2, $3, $4)"
        ),
        tx.prepare_cached(
            "INSERT INTO apps (corpid, agentid, name, secret_hash, meeting_api, enabled, \
             visible_departments, visible_users, callback_url, callback_token, \
             callback_aes_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ),
    )?;
    let dept_ids: Vec<i64> = corp.departments.iter().map(|d| i64::from(d.id)).collect();
    let dept_names: Vec<&str> = corp.departments.iter().map(|d| d.name.as_str()).collect();
    let dept_parents: Vec<i64> = corp
        .departments
        .iter()
        .map(|d| i64::from(d.parent))
        .collect();
    // Users and apps carry arrays of their own, which UNNEST cannot pair up row by row: one
    // statement each, all sent at once (pipelined), so a big corp costs one round trip.
    let user_rows: Vec<(&str, &str, Vec<i64>)> = corp
        .users
        .iter()
        .map(|u| {
            let departments = u.departments.iter().copied().map(i64::from).collect();
            (u.userid.as_str(), u.name.as_str(), departments)
        })
        .collect();
    let app_rows: Vec<AppRow<'_>> = corp.apps.iter().map(AppRow::new).collect();
    let dept_params: [&(dyn ToSql + Sync); 4] =
        [&corp.corpid, &dept_ids, &dept_names, &dept_parents];
    let user_params: Vec<[&(dyn ToSql + Sync); 4]> = user_rows
        .iter()
        .map(|(userid, name, departments)| {
            [
                &corp.corpid as &(dyn ToSql + Sync),
                userid,
                name,
                departments,
            ]
        })
        .collect();
    let app_params: Vec<[&(dyn ToSql + Sync); 11]> =
        app_rows.iter().map(|a| a.params(&corp.corpid)).collect();
    let mut writes = Vec::with_capacity(1 + user_params.len() + app_params.len());
    if !dept_ids.is_empty() {
        writes.push(tx.execute(&dept_st, &dept_params[..]));
    }
    for p in &user_params {
        writes.push(tx.execute(&user_st, &p[..]));
    }
    for p in &app_params {
        writes.push(tx.execute(&app_st, &p[..]));
    }
    try_join_all(writes).await?;
    tx.commit().await?;
    Ok(())
}

/// An app's columns, converted for binding.
struct AppRow<'a> {
    agentid: i64,
    name: &'a str,
    secret_hash: &'a [u8],
    meeting_api: bool,
    enabled: bool,
    visible_departments: Vec<i64>,
    visible_users: &'a [String],
    /// url, token, key (all `None`: no callback).
    callback: [Option<&'a str>; 3],
}

impl<'a> AppRow<'a> {
    fn new(a: &'a App) -> Self {
        Self {
            agentid: i64::from(a.agentid),
            name: &a.name,
            secret_hash: &a.secret_hash,
            meeting_api: a.meeting_api,
            enabled: a.enabled,
            visible_departments: a
                .visible_departments
                .iter()
                .copied()
                .map(i64::from)
                .collect(),
            visible_users: &a.visible_users,
            callback: callback::to_stored(a.callback.as_ref()),
        }
    }

    fn params<'s>(&'s self, corpid: &'s String) -> [&'s (dyn ToSql + Sync); 11] {
        [
            corpid,
            &self.agentid,
            &self.name,
            &self.secret_hash,
            &self.meeting_api,
            &self.enabled,
            &self.visible_departments,
            &self.visible_users,
            &self.callback[0],
            &self.callback[1],
            &self.callback[2],
        ]
    }
}

/// The stored corp, its parts in a stable order (departments by id, users by userid, apps by
/// agentid) so two reads of the same data compare equal. One read-only snapshot
/// (`REPEATABLE READ`), so nobody sees half of a replacement.
pub(crate) async fn corp(c: &mut Client, corpid: &str) -> Result<Option<Corp>> {
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let (corp_st, dept_st, user_st, app_st) = tokio::try_join!(
        tx.prepare_cached("SELECT name FROM corps WHERE corpid = $1"),
        tx.prepare_cached("SELECT id, name, parent FROM departments WHERE corpid = $1 ORDER BY id"),
        tx.prepare_cached(
            "SELECT userid, name, departments FROM users WHERE corpid = $1 ORDER BY userid"
        ),
        tx.prepare_cached(
            "SELECT agentid, name, secret_hash, meeting_api, enabled, visible_departments, \
             visible_users, callback_url, callback_token, callback_aes_key \
             FROM apps WHERE corpid = $1 ORDER BY agentid"
        ),
    )?;
    let params: [&(dyn ToSql + Sync); 1] = [&corpid];
    let (corp_rows, dept_rows, user_rows, app_rows) = tokio::try_join!(
        tx.query(&corp_st, &params),
        tx.query(&dept_st, &params),
        tx.query(&user_st, &params),
        tx.query(&app_st, &params),
    )?;
    tx.commit().await?;
    let Some(corp_row) = corp_rows.first() else {
        return Ok(None);
    };
    let departments = dept_rows
        .iter()
        .map(|r| {
            Ok(Department {
                id: get_u32(r, 0, "department id")?,
                name: get(r, 1)?,
                parent: get_u32(r, 2, "department parent")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let users = user_rows
        .iter()
        .map(|r| {
            Ok(User {
                userid: get(r, 0)?,
                name: get(r, 1)?,
                departments: u32s(get(r, 2)?, "user department")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let apps = app_rows
        .iter()
        .map(|r| {
            let agentid = get_u32(r, 0, "agentid")?;
            Ok(App {
                agentid,
                name: get(r, 1)?,
                secret_hash: get_bytes(r, 2, "app secret hash")?,
                meeting_api: get(r, 3)?,
                enabled: get(r, 4)?,
                visible_departments: u32s(get(r, 5)?, "visible department")?,
                visible_users: get(r, 6)?,
                callback: stored_callback(agentid, r, 7)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(Corp {
        corpid: corpid.to_owned(),
        name: get(corp_row, 0)?,
        departments,
        users,
        apps,
    }))
}

/// The callback in columns `first..first + 3` of an apps row (url, token, key).
fn stored_callback(agentid: u32, r: &Row, first: usize) -> Result<Option<AppCallback>> {
    let url: Option<String> = get(r, first)?;
    let token: Option<String> = get(r, first + 1)?;
    let key: Option<String> = get(r, first + 2)?;
    callback::from_stored(agentid, url.as_deref(), token.as_deref(), key.as_deref())
        .map_err(Error::Corrupt)
}

/// Every stored app with a callback target, by corpid then agentid.
pub(crate) async fn callback_targets(c: &mut Client) -> Result<Vec<(AppRef, AppCallback)>> {
    let st = c
        .prepare_cached(
            "SELECT corpid, agentid, callback_url, callback_token, callback_aes_key FROM apps \
             WHERE callback_url IS NOT NULL OR callback_token IS NOT NULL \
             OR callback_aes_key IS NOT NULL ORDER BY corpid, agentid",
        )
        .await?;
    let mut all = Vec::new();
    for r in c.query(&st, &[]).await? {
        let app = AppRef {
            corpid: get(&r, 0)?,
            agentid: get_u32(&r, 1, "agentid")?,
        };
        if let Some(cb) = stored_callback(app.agentid, &r, 2)? {
            all.push((app, cb));
        }
    }
    Ok(all)
}

fn u32s(v: Vec<i64>, what: &str) -> Result<Vec<u32>> {
    v.into_iter()
        .map(|x| u32::try_from(x).map_err(|_| Error::Corrupt(format!("{what} out of range: {x}"))))
        .collect()
}

pub(crate) async fn directory_version(c: &mut Client) -> Result<u64> {
    let st = c
        .prepare_cached("SELECT value FROM meta WHERE key = 'directory_version'")
        .await?;
    let row = c
        .query_opt(&st, &[])
        .await?
        .ok_or_else(|| Error::Corrupt("meta.directory_version is missing".into()))?;
    get_u64(&row, 0, "directory_version")
}

/// A `(hash, nonce, issued_at, expires_at)` row of `app`'s tokens.
fn app_token(r: &Row, app: &AppRef) -> Result<TokenRecord> {
    Ok(TokenRecord {
        hash: get_bytes(r, 0, "token hash")?,
        nonce: get_bytes(r, 1, "token nonce")?,
        app: app.clone(),
        issued_at: get(r, 2)?,
        expires_at: get(r, 3)?,
    })
}

/// The app's token valid at `now`, else `candidate`, stored. A valid token is looked for
/// first without a transaction; only when there is none does the transaction take an
/// advisory lock named after the app, so concurrent callers on any node queue there; each
/// statement after it sees what the previous holder committed, so the second caller finds
/// the token the first one stored.
pub(crate) async fn token_for_app(
    c: &mut Client,
    now: i64,
    candidate: &TokenRecord,
) -> Result<TokenRecord> {
    let app = &candidate.app;
    let agentid = i64::from(app.agentid);
    // Read first, outside any transaction: while the app's token lives (nearly every call)
    // that is one round trip and no lock, instead of five round trips queueing on the app's
    // advisory lock. The locked path below asks again before issuing.
    let first = c
        .prepare_cached(
            "SELECT hash, nonce, issued_at, expires_at FROM tokens \
             WHERE corpid = $1 AND agentid = $2 AND expires_at > $3 \
             ORDER BY expires_at DESC LIMIT 1",
        )
        .await?;
    if let Some(r) = c.query_opt(&first, &[&app.corpid, &agentid, &now]).await? {
        return app_token(&r, app);
    }
    let tx = c.transaction().await?;
    let (lock, prune, select) = tokio::try_join!(
        tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"),
        tx.prepare_cached(
            "DELETE FROM tokens WHERE corpid = $1 AND agentid = $2 AND expires_at < $3"
        ),
        tx.prepare_cached(
            "SELECT hash, nonce, issued_at, expires_at FROM tokens \
             WHERE corpid = $1 AND agentid = $2 AND expires_at > $3 \
             ORDER BY expires_at DESC LIMIT 1"
        ),
    )?;
    // The agentid first: digits then '/', so no two apps share a name (a hash collision
    // would only make two apps queue on one lock).
    let lock_name = format!("rollcall/token/{}/{}", app.agentid, app.corpid);
    tx.execute(&lock, &[&lock_name]).await?;
    // Prune this app's long-dead tokens while the lock is held anyway; the index makes it a
    // range delete. A day of grace keeps "expired" (42001) distinguishable from "unknown".
    let cutoff = now.saturating_sub(DAY);
    tx.execute(&prune, &[&app.corpid, &agentid, &cutoff])
        .await?;
    let valid = tx
        .query_opt(&select, &[&app.corpid, &agentid, &now])
        .await?;
    let token = match valid {
        Some(r) => app_token(&r, app)?,
        None => {
            let insert = tx
                .prepare_cached(
                    "INSERT INTO tokens (hash, nonce, corpid, agentid, issued_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .await?;
            tx.execute(
                &insert,
                &[
                    &&candidate.hash[..],
                    &&candidate.nonce[..],
                    &app.corpid,
                    &agentid,
                    &candidate.issued_at,
                    &candidate.expires_at,
                ],
            )
            .await?;
            candidate.clone()
        }
    };
    tx.commit().await?;
    Ok(token)
}

pub(crate) async fn token_by_hash(c: &mut Client, hash: &[u8; 32]) -> Result<Option<TokenRecord>> {
    let st = c
        .prepare_cached(
            "SELECT hash, nonce, corpid, agentid, issued_at, expires_at FROM tokens \
             WHERE hash = $1",
        )
        .await?;
    let Some(r) = c.query_opt(&st, &[&&hash[..]]).await? else {
        return Ok(None);
    };
    Ok(Some(TokenRecord {
        hash: get_bytes(&r, 0, "token hash")?,
        nonce: get_bytes(&r, 1, "token nonce")?,
        app: AppRef {
            corpid: get(&r, 2)?,
            agentid: get_u32(&r, 3, "agentid")?,
        },
        issued_at: get(&r, 4)?,
        expires_at: get(&r, 5)?,
    }))
}
