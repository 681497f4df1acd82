//! `gettoken`: authenticate an app by corpid + secret and hand out its access token.

use rollcall_core::crypto::{secret_matches, sha256};
use rollcall_core::model::{AppRef, TokenRecord};

use crate::ops::error::TokenError;
use crate::state::AppState;

/// The app's current token and its remaining lifetime in seconds.
pub async fn issue(
    state: &AppState,
    corpid: Option<&str>,
    secret: Option<&str>,
) -> Result<(String, i64), TokenError> {
    // Secret first when both are missing (SPEC §1).
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or(TokenError::SecretMissing)?;
    let corpid = corpid
        .filter(|s| !s.is_empty())
        .ok_or(TokenError::CorpidMissing)?;
    let corp = state.corp(corpid).await?.ok_or(TokenError::UnknownCorp)?;
    // Compare against every app so the time taken does not say which one matched.
    let mut found = None;
    for app in &corp.directory.apps {
        if secret_matches(secret, &app.secret_hash) {
            found = Some(app);
        }
    }
    let app = found
        .filter(|a| a.enabled)
        .ok_or(TokenError::BadCredential)?;
    // Limited per app, after the secret is checked: a wrong secret must not spend the real
    // app's calls, and only apps that exist get a bucket.
    let app_ref = AppRef {
        corpid: corp.directory.corpid.clone(),
        agentid: app.agentid,
    };
    if !state.controls().admit(&app_ref, "gettoken") {
        return Err(TokenError::RateLimited);
    }
    let now = state.now();
    let nonce = state.ids().bytes::<16>();
    let candidate = TokenRecord {
        hash: sha256(state.secret().token(&nonce).as_bytes()),
        nonce,
        app: app_ref,
        issued_at: now,
        expires_at: now + state.config().token_ttl_secs,
    };
    let rec = state.store().token_for_app(now, &candidate).await?;
    Ok((state.secret().token(&rec.nonce), rec.expires_at - now))
}
