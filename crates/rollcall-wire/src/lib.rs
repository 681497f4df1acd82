//! WeCom meeting API wire types, shared by the rollcall server and `rollcall-client`.
//!
//! Everything here is exactly what travels on `/cgi-bin/*`: field names, field order and the
//! JSON types WeCom uses (times are *strings* in responses, integers in requests). Keeping one
//! definition for both sides means a test that goes through the client also checks the wire.
//!
//! # Layout
//! - [`errcode`]: the error catalogue (SPEC §1) as constants with their English texts.
//! - [`ErrorBody`], [`GetTokenResponse`], [`GetAttendeeListRequest`],
//!   [`GetAttendeeListResponse`], [`Attendee`]: request and response bodies.
//! - [`meeting`]: the meeting calls around the attendee list (create, update, cancel,
//!   get_info, get_user_meetingid).
//! - [`lenient`]: WeCom's tolerant integer decoding (numbers or digit strings).
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

pub mod lenient;
pub mod meeting;

/// WeCom error codes used by rollcall (SPEC §1), with the English text each one carries.
pub mod errcode {
    /// Success.
    pub const OK: i32 = 0;
    /// Store unavailable or transient failure; safe to retry.
    pub const SYSTEM_BUSY: i32 = -1;
    /// `gettoken` with a wrong secret, or a disabled app.
    pub const INVALID_CREDENTIAL: i32 = 40001;
    /// `gettoken` with an unknown corpid.
    pub const INVALID_CORPID: i32 = 40013;
    /// Token unknown, malformed, revoked, or issued to another corp.
    pub const INVALID_ACCESS_TOKEN: i32 = 40014;
    /// No `access_token` query parameter.
    pub const ACCESS_TOKEN_MISSING: i32 = 41001;
    /// `gettoken` without corpid.
    pub const CORPID_MISSING: i32 = 41002;
    /// `gettoken` without corpsecret.
    pub const CORPSECRET_MISSING: i32 = 41004;
    /// Token past its expiry.
    pub const ACCESS_TOKEN_EXPIRED: i32 = 42001;
    /// A parameter malformed, out of range or missing; bad JSON; wrong method.
    pub const INVALID_PARAM: i32 = 40058;
    /// Rate limit exceeded.
    pub const API_FREQ_OUT_OF_LIMIT: i32 = 45009;
    /// The app is not enabled for the meeting API.
    pub const API_FORBIDDEN: i32 = 48002;
    /// Cursor not issued by this service, tampered, or used out of its context.
    pub const INVALID_CURSOR: i32 = 50100;

    /// The English text WeCom puts before `, hint: [...]` for `code`.
    pub fn text(code: i32) -> &'static str {
        match code {
            OK => "ok",
            SYSTEM_BUSY => "system busy",
            INVALID_CREDENTIAL => "invalid credential",
            INVALID_CORPID => "invalid corpid",
            INVALID_ACCESS_TOKEN => "invalid access_token",
            ACCESS_TOKEN_MISSING => "access_token missing",
            CORPID_MISSING => "corpid missing",
            CORPSECRET_MISSING => "corpsecret missing",
            ACCESS_TOKEN_EXPIRED => "access_token expired",
            INVALID_PARAM => "invalid param",
            API_FREQ_OUT_OF_LIMIT => "api freq out of limit",
            API_FORBIDDEN => "api forbidden",
            INVALID_CURSOR => "invalid cursor",
            _ => "unknown error",
        }
    }
}

/// The body of every failed `/cgi-bin/*` call, and the first two fields of every success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub errcode: i32,
    pub errmsg: String,
}

/// `GET /cgi-bin/gettoken` success body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetTokenResponse {
    pub errcode: i32,
    pub errmsg: String,
    pub access_token: String,
    /// Remaining lifetime in seconds (the same token is handed out until it expires).
    pub expires_in: u64,
}

/// `POST /cgi-bin/meeting/get_attendee_list` body as a client sends it.
///
/// The server does not deserialize into this struct: it decodes leniently, field by field,
/// so that each malformed field is reported by name (see [`lenient`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAttendeeListRequest {
    pub meetingid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_meetingid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `POST /cgi-bin/meeting/get_attendee_list` success body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAttendeeListResponse {
    pub errcode: i32,
    pub errmsg: String,
    pub has_more: bool,
    /// Always present; when `has_more` is false it resumes an incremental sync.
    pub next_cursor: String,
    pub attendees: Vec<Attendee>,
}

/// One attendance session (one participant on one device, from join to quit).
///
/// Field order follows WeCom's documented example. Optional fields are *absent* rather than
/// `null` when they do not apply, as on WeCom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    pub tmp_openid: String,
    /// Corp member's userid; `""` for external users and guests.
    pub userid: String,
    /// Unix seconds, as a string.
    pub join_time: String,
    /// Unix seconds, as a string; absent while the session is still in the meeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quit_time: Option<String>,
    pub instance_id: u32,
    pub role: u32,
    pub webinar_role: u32,
    pub join_type: u32,
    /// Present only while the session is in the meeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<String>,
    pub audio_state: bool,
    pub video_state: bool,
    pub screen_shared_state: bool,
    /// Present only when the participant joined through a personal link that carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_data: Option<String>,
}
