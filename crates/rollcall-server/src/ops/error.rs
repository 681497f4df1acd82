//! What the operations refuse, in the domain's terms.
//!
//! The operations do not know the wire: [`crate::error`] turns each of these into an
//! [`ApiError`](crate::ApiError) (WeCom errcode) or an [`HttpError`](crate::HttpError)
//! (status and reason), with one `From` impl each, so handlers stay one-line `?` chains.

use rollcall_store::StoreError;
use rollcall_wire::lenient::BadField;

/// Why a WeCom meeting call is refused.
#[derive(Debug)]
pub enum CallError {
    /// A request field is malformed, missing, or names what the app may not use: an unknown
    /// or another app's meeting, a non-member, a meeting no longer pending (40058
    /// `invalid param '<field>'`).
    Field(&'static str),
    /// The cursor was not issued by this server for this listing and page size.
    Cursor,
    /// The store failed; nothing was changed.
    Store(StoreError),
}

impl From<BadField> for CallError {
    fn from(b: BadField) -> Self {
        CallError::Field(b.0)
    }
}

impl From<StoreError> for CallError {
    fn from(e: StoreError) -> Self {
        CallError::Store(e)
    }
}

/// Why `gettoken` hands out no token (SPEC §2).
#[derive(Debug)]
pub enum TokenError {
    SecretMissing,
    CorpidMissing,
    UnknownCorp,
    /// No enabled app of the corp has this secret.
    BadCredential,
    /// The app's `gettoken` bucket is empty (SPEC §7).
    RateLimited,
    Store(StoreError),
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        TokenError::Store(e)
    }
}

/// Why the admin API refuses to create a meeting (SPEC §6).
#[derive(Debug)]
pub enum AdminError {
    /// The corp or the app named does not exist; the reason says which.
    NotFound(String),
    /// A field is out of range; the reason says how to fix it.
    Invalid(String),
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Store(e)
    }
}
