//! Who is calling: the access token on `/cgi-bin/*`, bearer keys on ingest and admin.

use std::borrow::Cow;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use subtle::ConstantTimeEq;

use rollcall_core::crypto::sha256;
use rollcall_wire::errcode;

use crate::error::{ApiError, HttpError};
use crate::ops::caller::Caller;
use crate::state::AppState;

/// The app an access token was issued to, resolved before the body is read (SPEC §1), as
/// the [`Caller`] the operations take.
#[derive(Debug, Clone)]
pub struct AppToken(pub Caller);

/// The first value of a query parameter (the token is read only from the query).
pub fn query_param<'a>(parts: &'a Parts, name: &str) -> Option<Cow<'a, str>> {
    first_query_value(parts.uri.query()?, name)
}

/// The first value of `name` in a query string; later repeats are ignored, as WeCom does.
///
/// Every call reads its token through this (twice, with the journal on), so a pair that
/// needs no decoding (no `%`, no `+`: any token we issue) is compared and answered borrowed,
/// without allocating; a pair that does is decoded by `serde_urlencoded` exactly as a whole
/// query would be, so the answer is the same either way.
pub fn first_query_value<'q>(query: &'q str, name: &str) -> Option<Cow<'q, str>> {
    let plain = |s: &str| !s.bytes().any(|b| b == b'%' || b == b'+');
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if plain(k) && plain(v) {
            if k == name {
                return Some(Cow::Borrowed(v));
            }
            continue;
        }
        let decoded = serde_urlencoded::from_str::<Vec<(String, String)>>(pair).ok()?;
        if let Some((_, v)) = decoded.into_iter().find(|(k, _)| k == name) {
            return Some(Cow::Owned(v));
        }
    }
    None
}

impl FromRequestParts<AppState> for AppToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = query_param(parts, "access_token").filter(|t| !t.is_empty());
        let token = token.ok_or(ApiError::Code(errcode::ACCESS_TOKEN_MISSING))?;
        let invalid = ApiError::Code(errcode::INVALID_ACCESS_TOKEN);
        let rec = state.token(&token).await?.ok_or(invalid.clone())?;
        if rec.expires_at <= state.now() {
            return Err(ApiError::Code(errcode::ACCESS_TOKEN_EXPIRED));
        }
        // A token of an app that was removed or disabled since is revoked.
        let corp = state.corp(&rec.app.corpid).await?.ok_or(invalid.clone())?;
        let caller = match Caller::new(corp, rec.app) {
            Some(caller) if caller.app_record().enabled => caller,
            _ => return Err(invalid),
        };
        // The rate limit (SPEC §7) of the token's app for this call, before the body is read.
        let call = parts.uri.path().strip_prefix("/cgi-bin/").unwrap_or("");
        if !state.controls().admit(&caller.app, call) {
            return Err(ApiError::Code(errcode::API_FREQ_OUT_OF_LIMIT));
        }
        Ok(AppToken(caller))
    }
}

/// Check `Authorization: Bearer <key>` against a configured key.
/// `None` configured → 403 saying how to turn the API on; wrong or missing → 401.
pub fn check_bearer(
    parts_auth: Option<&axum::http::HeaderValue>,
    configured: Option<&str>,
    what: &str,
    how: &str,
) -> Result<(), HttpError> {
    let Some(key) = configured else {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            format!("the {what} API is off: {how}"),
        ));
    };
    let given = parts_auth
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_credentials)
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), key.as_bytes()) {
        Ok(())
    } else {
        Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            format!("missing or wrong bearer key for the {what} API"),
        ))
    }
}

/// The credentials of an `Authorization: Bearer <token>` value. RFC 9110 §11.1: "It uses a
/// case-insensitive token to identify the authentication scheme", followed by one or more
/// spaces (`credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`), so `bearer x`,
/// `BEARER x` and `Bearer   x` all carry `x`. Another scheme, or none, is `None`.
pub fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    (!token.is_empty()).then_some(token)
}

/// The `Authorization` header of a request.
pub fn authorization(parts: &Parts) -> Option<&axum::http::HeaderValue> {
    parts.headers.get(AUTHORIZATION)
}

/// Compare in constant time; hashing first also hides the key's length.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    sha256(a).ct_eq(&sha256(b)).into()
}

/// An [`AppToken`] whose app may call the meeting API (listed in 可调用接口的应用; 48002
/// otherwise). Checked with the token, before the body is read.
#[derive(Debug, Clone)]
pub struct MeetingToken(pub Caller);

impl FromRequestParts<AppState> for MeetingToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AppToken(caller) = AppToken::from_request_parts(parts, state).await?;
        if caller.app_record().meeting_api {
            Ok(MeetingToken(caller))
        } else {
            Err(ApiError::Code(errcode::API_FORBIDDEN))
        }
    }
}

/// Passed the ingest API's bearer key check.
#[derive(Debug, Clone, Copy)]
pub struct IngestKey;

impl FromRequestParts<AppState> for IngestKey {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        check_bearer(
            authorization(parts),
            state.config().ingest_key.as_deref(),
            "ingest",
            "set ingest_key in the config file, ROLLCALL_INGEST_KEY or --ingest-key (or run with --demo)",
        )?;
        Ok(IngestKey)
    }
}

/// Passed the admin API's bearer key check.
#[derive(Debug, Clone, Copy)]
pub struct AdminKey;

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        check_bearer(
            authorization(parts),
            state.config().admin_key.as_deref(),
            "admin",
            "set admin_key in the config file, ROLLCALL_ADMIN_KEY or --admin-key (or run with --demo)",
        )?;
        Ok(AdminKey)
    }
}

#[cfg(test)]
mod tests {
    use super::{bearer_credentials, first_query_value};

    /// The borrowed fast path answers what decoding the whole query answered before.
    #[test]
    fn a_query_value_is_the_first_decoded_match() {
        let whole = |q: &str, name: &str| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                .unwrap_or_default()
                .into_iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
        };
        for (q, name) in [
            ("access_token=abc&x=1", "access_token"),
            ("x=1&access_token=abc&access_token=def", "access_token"),
            ("access%5Ftoken=enc&access_token=plain", "access_token"),
            ("access_token=a%2Bb+c&x=1", "access_token"),
            ("access_token=%FF%FE", "access_token"),
            ("&&access_token&access_token=x", "access_token"),
            ("corpid=%ZZ&corpsecret=s", "corpid"),
            ("a=1&b=2", "access_token"),
            ("", "access_token"),
            ("x=%41&access_token=t", "access_token"),
        ] {
            assert_eq!(
                first_query_value(q, name).map(|v| v.into_owned()),
                whole(q, name),
                "{q:?}"
            );
        }
        assert!(matches!(
            first_query_value("x=1&access_token=abc", "access_token"),
            Some(std::borrow::Cow::Borrowed("abc"))
        ));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in [
            "Bearer k-1",
            "bearer k-1",
            "BEARER k-1",
            "bEaReR k-1",
            "Bearer   k-1",
        ] {
            assert_eq!(bearer_credentials(v), Some("k-1"), "{v}");
        }
        for v in [
            "Basic k-1",
            "Bearerk-1",
            "Bearer",
            "Bearer ",
            "k-1",
            "",
            " Bearer k-1",
        ] {
            assert_eq!(bearer_credentials(v), None, "{v:?}");
        }
    }
}
