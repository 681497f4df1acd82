//! URL verification as WeCom does it when a callback URL is saved (回调配置,
//! <https://developer.work.weixin.qq.com/document/path/90930>): `GET <url>?msg_signature=
//! &timestamp=&nonce=&echostr=<encrypted random string>`, and the receiver must answer the
//! decrypted echostr as the whole body within WeCom's 5 seconds.
//!
//! The HTTP client is reqwest (rustls): already in the workspace (the client crate uses it,
//! so the `rollcall` binary links it anyway), it speaks HTTPS to real receivers, and has
//! timeouts built in. Redirects are not followed: a 3xx is reported as what it is.

use std::time::Duration;

use rollcall_callback::{MsgCrypt, UrlCheck, TIMEOUT_SECS};
use rollcall_core::callback::AppCallback;
use rollcall_core::model::AppRef;

/// The most of a reply read: an echostr is a few dozen bytes.
const MAX_REPLY: usize = 4096;

/// The client verifications (and later deliveries) use.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(TIMEOUT_SECS))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("rollcall/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// Verify one app's URL: `Ok` when the receiver answered the echostr, the reason otherwise.
pub async fn check(
    http: &reqwest::Client,
    callback: &AppCallback,
    corpid: &str,
    now: i64,
) -> Result<(), String> {
    let crypt = MsgCrypt::new(&callback.token, callback.aes_key.clone(), corpid);
    let nonce = rand::random::<u32>().to_string();
    let check = UrlCheck::new(&crypt, now, &nonce);
    let mut url = callback.url.clone();
    {
        let q = &check.query;
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("msg_signature", &q.msg_signature);
        pairs.append_pair("timestamp", &q.timestamp);
        pairs.append_pair("nonce", &q.nonce);
        pairs.append_pair("echostr", q.echostr.as_deref().unwrap_or_default());
    }
    let mut resp = http.get(url).send().await.map_err(|e| describe(&e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("HTTP status {}", status.as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_REPLY {
            return Err(format!(
                "wrong body: more than {MAX_REPLY} bytes, not the echostr"
            ));
        }
    }
    if check.accepts(&body) {
        Ok(())
    } else {
        let shown: String = String::from_utf8_lossy(&body).chars().take(64).collect();
        Err(format!(
            "wrong body: expected the decrypted echostr ({} bytes), got {:?}",
            check.expected.len(),
            shown
        ))
    }
}

/// A transport failure in a few words: connect error, timeout, or what reqwest says.
pub(super) fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut cause = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if e.is_timeout() {
        format!("timeout: no answer within {TIMEOUT_SECS} s")
    } else if e.is_connect() {
        format!("connect error: {cause}")
    } else {
        format!("request failed: {cause}")
    }
}

/// Say the outcome where an operator looks: a warning for a failure, info for success.
pub fn log(app: &AppRef, callback: &AppCallback, outcome: &Result<(), String>) {
    match outcome {
        Ok(()) => tracing::info!(
            corpid = %app.corpid,
            agentid = app.agentid,
            url = %callback.url,
            "callback URL verified"
        ),
        Err(why) => tracing::warn!(
            corpid = %app.corpid,
            agentid = app.agentid,
            url = %callback.url,
            error = %why,
            "callback URL verification failed (the server runs on; callbacks to it will fail)"
        ),
    }
}
