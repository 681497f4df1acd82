//! The server's errors, each rendered in exactly one place.
//!
//! Two wire formats exist, so two types: [`ApiError`] for WeCom's `/cgi-bin/*` (always HTTP
//! 200 with an errcode, rendered by the envelope in [`crate::wecom`] so that every message
//! carries the request id), and [`HttpError`] for rollcall's own ingest and admin APIs (plain
//! HTTP status with `{"error": reason}`). Internal causes are logged, never sent.
//!
//! The operations return domain errors (`crate::ops::error`, `ApplyError`); the `From` impls
//! here are the one place each becomes an errcode or a status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rollcall_store::StoreError;
use rollcall_wire::errcode;
use rollcall_wire::lenient::BadField;

use crate::ops::directory::ApplyError;
use crate::ops::error::{AdminError, CallError, TokenError};
use crate::ops::ingest::IngestError;

/// A WeCom API outcome other than success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// A catalogue code with its standard text.
    Code(i32),
    /// 40058 `invalid param '<field>'`.
    InvalidParam(&'static str),
    /// 40058 `Warning: wrong json format. <detail>`.
    WrongJson(String),
    /// 40058 with a specific text (wrong method, body too large).
    Param40058(&'static str),
    /// -1 `system busy`; the cause is logged with the request id, not sent.
    Busy(String),
}

impl ApiError {
    pub fn errcode(&self) -> i32 {
        match self {
            ApiError::Code(c) => *c,
            ApiError::InvalidParam(_) | ApiError::WrongJson(_) | ApiError::Param40058(_) => {
                errcode::INVALID_PARAM
            }
            ApiError::Busy(_) => errcode::SYSTEM_BUSY,
        }
    }

    /// The text before `, hint: [...]`.
    pub fn text(&self) -> String {
        match self {
            ApiError::Code(c) => errcode::text(*c).to_owned(),
            ApiError::InvalidParam(f) => format!("invalid param '{f}'"),
            ApiError::WrongJson(d) => format!("Warning: wrong json format. {d}"),
            ApiError::Param40058(t) => (*t).to_owned(),
            ApiError::Busy(_) => errcode::text(errcode::SYSTEM_BUSY).to_owned(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        crate::control::metrics::note_store_error();
        ApiError::Busy(e.to_string())
    }
}

impl From<BadField> for ApiError {
    fn from(b: BadField) -> Self {
        ApiError::InvalidParam(b.0)
    }
}

/// A meeting call's refusal on the wire.
impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Field(f) => ApiError::InvalidParam(f),
            CallError::Cursor => ApiError::Code(errcode::INVALID_CURSOR),
            CallError::Store(e) => e.into(),
        }
    }
}

/// `gettoken`'s refusal on the wire.
impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::SecretMissing => ApiError::Code(errcode::CORPSECRET_MISSING),
            TokenError::CorpidMissing => ApiError::Code(errcode::CORPID_MISSING),
            TokenError::UnknownCorp => ApiError::Code(errcode::INVALID_CORPID),
            TokenError::BadCredential => ApiError::Code(errcode::INVALID_CREDENTIAL),
            TokenError::RateLimited => ApiError::Code(errcode::API_FREQ_OUT_OF_LIMIT),
            TokenError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    /// An empty response carrying the error; the envelope middleware renders the body, since
    /// only it knows the request id.
    fn into_response(self) -> Response {
        let mut r = StatusCode::OK.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// An error of the ingest or admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub status: StatusCode,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => HttpError::new(StatusCode::CONFLICT, what),
            StoreError::NotFound(what) => HttpError::new(StatusCode::NOT_FOUND, what),
            e => {
                crate::control::metrics::note_store_error();
                tracing::error!(error = %e, "store failure");
                HttpError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store is unavailable; nothing was applied, retry later",
                )
            }
        }
    }
}

/// What an ingest refusal adds about the chunks stored before it (`crate::ops::ingest`
/// applies a big body in chunks as it streams in): re-sending the whole batch is the fix,
/// and it is safe, since every stored event then counts as a duplicate (within the dedupe
/// window, which is far longer than any retry).
fn partial(applied: usize) -> String {
    if applied == 0 {
        "nothing was applied".to_owned()
    } else {
        format!(
            "{applied} events before this point were applied and are durable; re-send the \
             batch: they count as duplicates"
        )
    }
}

/// The ingest API's refusal of a body: 413 over the limit, 400 for a body that is not
/// events or broke off, the store's status otherwise.
impl From<IngestError> for HttpError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::TooLarge { limit, applied } => HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is over {} MiB; send smaller batches ({})",
                    limit >> 20,
                    partial(applied)
                ),
            ),
            IngestError::Read { applied } => HttpError::bad_request(format!(
                "the body could not be read to its end ({})",
                partial(applied)
            )),
            IngestError::Body { reason, applied: 0 } => HttpError::bad_request(reason),
            IngestError::Body { reason, applied } => {
                HttpError::bad_request(format!("{reason} ({})", partial(applied)))
            }
            IngestError::Store { error, applied } => {
                let mut e = HttpError::from(error);
                if applied > 0 && e.status == StatusCode::SERVICE_UNAVAILABLE {
                    e.message = format!("the store is unavailable; {}", partial(applied));
                }
                e
            }
        }
    }
}

/// The admin API's refusal of a meeting: 404 for what does not exist, 400 for the rest.
impl From<AdminError> for HttpError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound(m) => HttpError::new(StatusCode::NOT_FOUND, m),
            AdminError::Invalid(m) => HttpError::bad_request(m),
            AdminError::Store(e) => e.into(),
        }
    }
}

/// The admin API's refusal of a corp: 400 with the directory's reason.
impl From<ApplyError> for HttpError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Invalid(e) => HttpError::bad_request(e.message),
            ApplyError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}
