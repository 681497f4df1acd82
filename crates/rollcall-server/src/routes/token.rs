//! `GET /cgi-bin/gettoken` (SPEC §2).

use axum::extract::{Query, State};
use serde::Deserialize;

use rollcall_wire::{errcode, GetTokenResponse};

use crate::error::ApiError;
use crate::ops::tokens;
use crate::state::AppState;
use crate::wecom::Reply;

#[derive(Debug, Deserialize)]
pub struct GetTokenQuery {
    corpid: Option<String>,
    corpsecret: Option<String>,
}

pub async fn gettoken(
    State(state): State<AppState>,
    Query(q): Query<GetTokenQuery>,
) -> Result<Reply<GetTokenResponse>, ApiError> {
    let (access_token, expires_in) =
        tokens::issue(&state, q.corpid.as_deref(), q.corpsecret.as_deref()).await?;
    Ok(Reply(GetTokenResponse {
        errcode: errcode::OK,
        errmsg: "ok".into(),
        access_token,
        expires_in: expires_in.max(0) as u64,
    }))
}
