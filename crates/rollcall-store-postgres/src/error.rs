//! The backend's internal error, and how it maps onto the contract's [`StoreError`].
//!
//! Every function that talks to PostgreSQL returns [`Error`], so `?` works on driver and pool
//! results alike; the single conversion at the boundary decides what the caller sees: a value
//! that does not decode is [`StoreError::Corrupt`], a taken unique key is
//! [`StoreError::Conflict`], and everything else (refused or broken connections, timeouts, a
//! server shutting down, serialization failures) is [`StoreError::Unavailable`], which the
//! server answers with errcode -1 / HTTP 503 ("retry").

use deadpool_postgres::PoolError;
use rollcall_store::StoreError;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

#[derive(Debug)]
pub(crate) enum Error {
    Sql(tokio_postgres::Error),
    Pool(PoolError),
    Corrupt(String),
    Conflict(String),
    NotFound(String),
    Unavailable(String),
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::Sql(e)
    }
}

impl From<PoolError> for Error {
    fn from(e: PoolError) -> Self {
        Error::Pool(e)
    }
}

impl From<serde_json::Error> for Error {
    /// JSON only ever comes out of columns this backend wrote, so undecodable JSON is corruption.
    fn from(e: serde_json::Error) -> Self {
        Error::Corrupt(format!("undecodable JSON column: {e}"))
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Corrupt(m) => StoreError::Corrupt(m),
            Error::Conflict(m) => StoreError::Conflict(m),
            Error::NotFound(m) => StoreError::NotFound(m),
            Error::Unavailable(m) => StoreError::Unavailable(m),
            Error::Pool(e) => StoreError::Unavailable(format!("postgres connection pool: {e}")),
            Error::Sql(e) => match e.code() {
                Some(c) if *c == SqlState::UNIQUE_VIOLATION => {
                    StoreError::Conflict(format!("postgres: {e}"))
                }
                Some(c) if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => {
                    StoreError::Corrupt(format!("postgres: {e}"))
                }
                // Connection loss, shutdown, timeouts, serialization failures, and bugs alike:
                // the caller can only retry, and the log line carries the cause.
                _ => StoreError::Unavailable(format!("postgres: {}", describe(&e))),
            },
        }
    }
}

/// The driver's message with the server's detail, which `Display` leaves out.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Column `idx` of `row`, decoded; a value of the wrong type can only come from a damaged
/// store or a schema this build does not know, so it is corruption, not a transient failure.
pub(crate) fn get<'a, T>(row: &'a Row, idx: usize) -> Result<T>
where
    T: tokio_postgres::types::FromSql<'a>,
{
    row.try_get(idx)
        .map_err(|e| Error::Corrupt(format!("column {idx}: {e}")))
}

/// A stored `BIGINT` where the model has a `u64` (a `seq`, a version).
pub(crate) fn get_u64(row: &Row, idx: usize, what: &str) -> Result<u64> {
    let v: i64 = get(row, idx)?;
    u64::try_from(v).map_err(|_| Error::Corrupt(format!("negative {what}: {v}")))
}

/// A stored `BIGINT` where the model has a `u32` (agentids, department ids, enum codes).
pub(crate) fn get_u32(row: &Row, idx: usize, what: &str) -> Result<u32> {
    let v: i64 = get(row, idx)?;
    u32::try_from(v).map_err(|_| Error::Corrupt(format!("{what} out of range: {v}")))
}

/// A stored `BYTEA` of a fixed length (hashes, nonces, the server secret).
pub(crate) fn get_bytes<const N: usize>(row: &Row, idx: usize, what: &str) -> Result<[u8; N]> {
    let v: Vec<u8> = get(row, idx)?;
    v.try_into()
        .map_err(|v: Vec<u8>| Error::Corrupt(format!("{what} is {} bytes, not {N}", v.len())))
}

/// `u64` bounds and values as `BIGINT`. Stored `seq` values never exceed `i64::MAX`, so
/// clamping a larger bound there selects exactly the same rows.
pub(crate) fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
