//! The backend's internal error, and how it maps onto the contract's [`StoreError`].
//!
//! Every function that touches the database returns [`Error`], so `?` works on rusqlite and
//! r2d2 results alike; the single conversion at the boundary decides what the caller sees:
//! a value that does not decode is [`StoreError::Corrupt`], a taken unique key is
//! [`StoreError::Conflict`], and everything else (I/O, busy, a closed pool) is
//! [`StoreError::Unavailable`], which the server answers with errcode -1 ("retry").

use r2d2_sqlite::rusqlite::{self, ffi};
use rollcall_store::StoreError;

#[derive(Debug)]
pub(crate) enum Error {
    Sql(rusqlite::Error),
    Pool(r2d2::Error),
    Corrupt(String),
    Conflict(String),
    NotFound(String),
    Unavailable(String),
    /// A batch decided without reading the stored sessions it joins first
    /// (`attendance::Lookup::SkipFirstJoins`) joined one that is stored: the unique key
    /// refused the insert, and the group is decided again with them read. Never leaves
    /// `attendance::ingest`.
    Rejoined,
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sql(e)
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Error::Pool(e)
    }
}

impl From<serde_json::Error> for Error {
    /// JSON only ever comes out of columns this backend wrote, so undecodable JSON is corruption.
    fn from(e: serde_json::Error) -> Self {
        Error::Corrupt(format!("undecodable JSON column: {e}"))
    }
}

/// Is this a UNIQUE / PRIMARY KEY violation?
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_extended_error_code(),
        Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Corrupt(m) => StoreError::Corrupt(m),
            Error::Conflict(m) => StoreError::Conflict(m),
            Error::NotFound(m) => StoreError::NotFound(m),
            Error::Unavailable(m) => StoreError::Unavailable(m),
            Error::Rejoined => StoreError::Conflict("a stored session was joined again".into()),
            Error::Pool(e) => StoreError::Unavailable(format!("sqlite connection pool: {e}")),
            Error::Sql(e) => match &e {
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..)
                | rusqlite::Error::Utf8Error(..) => StoreError::Corrupt(format!("sqlite: {e}")),
                _ if is_unique_violation(&e) => StoreError::Conflict(format!("sqlite: {e}")),
                _ => match e.sqlite_error_code() {
                    Some(ffi::ErrorCode::DatabaseCorrupt | ffi::ErrorCode::NotADatabase) => {
                        StoreError::Corrupt(format!("sqlite: {e}"))
                    }
                    _ => StoreError::Unavailable(format!("sqlite: {e}")),
                },
            },
        }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// SQLite integers are `i64`; a negative one where the model has a `u64` (a `seq`, a version,
/// a code) can only come from a damaged store.
pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::Corrupt(format!("negative {what}: {v}")))
}
