//! `GET /cgi-bin/gettoken` (SPEC §2).

use axum::extract::State;
use axum::http::Uri;

use rollcall_wire::{errcode, GetTokenResponse};

use crate::auth::first_query_value;
use crate::error::ApiError;
use crate::ops::tokens;
use crate::state::AppState;
use crate::wecom::Reply;

/// The query is read leniently, like the token's: the first value of a repeated parameter
/// counts and undecodable input is "missing". axum's `Query` extractor would answer a plain
/// 400 instead of a WeCom errcode (e.g. for `corpid=a&corpid=b`).
pub async fn gettoken(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Reply<GetTokenResponse>, ApiError> {
    let query = uri.query().unwrap_or("");
    let corpid = first_query_value(query, "corpid");
    let secret = first_query_value(query, "corpsecret");
    let (access_token, expires_in) =
        tokens::issue(&state, corpid.as_deref(), secret.as_deref()).await?;
    Ok(Reply(GetTokenResponse {
        errcode: errcode::OK,
        errmsg: "ok".into(),
        access_token,
        expires_in: expires_in.max(0) as u64,
    }))
}
