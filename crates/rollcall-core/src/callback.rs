//! An app's callback settings (SPEC §11): the URL WeCom would POST its events to and the
//! Token / EncodingAESKey configured beside it (企业微信 › 应用 › 接收消息 › 设置API接收;
//! <https://developer.work.weixin.qq.com/document/path/90930>), validated once, at the edge.
//!
//! The three go together, as in WeCom's console: a URL without its token and key (or a key
//! with no URL) is a configuration mistake and refused, not ignored. Rules where WeCom is
//! silent for an emulator, rollcall's choice:
//! - the URL is absolute `http` or `https` with a host, at most 2048 bytes (WeCom's console
//!   accepts both schemes; rollcall sends to local test receivers over plain http);
//! - the token is 1..=128 printable ASCII characters without spaces (WeCom's console asks
//!   for letters and digits; any token works with the signature, so rollcall is lenient).

use rollcall_callback::EncodingAesKey;

/// Longest callback URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Longest token accepted.
pub const MAX_TOKEN_LEN: usize = 128;

/// A validated callback target. `Debug` hides the token and key.
#[derive(Clone, PartialEq, Eq)]
pub struct AppCallback {
    pub url: url::Url,
    pub token: String,
    pub aes_key: EncodingAesKey,
}

impl std::fmt::Debug for AppCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCallback")
            .field("url", &self.url.as_str())
            .field("token", &"<redacted>")
            .field("aes_key", &self.aes_key)
            .finish()
    }
}

/// The three settings as written (config file or admin API).
#[derive(Debug, Clone, Copy, Default)]
pub struct CallbackFields<'a> {
    pub url: Option<&'a str>,
    pub token: Option<&'a str>,
    pub aes_key: Option<&'a str>,
}

/// Why an app's callback settings are refused: the key at fault and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    /// `callback_url`, `callback_token` or `callback_aes_key`.
    pub field: &'static str,
    /// Whether that key was written (a bad value) or is missing; the config file points
    /// at the key's own line in the first case, at the app's in the second.
    pub present: bool,
    pub message: String,
}

fn missing(field: &'static str, message: String) -> SettingsError {
    SettingsError {
        field,
        present: false,
        message,
    }
}

fn bad(field: &'static str, message: String) -> SettingsError {
    SettingsError {
        field,
        present: true,
        message,
    }
}

/// Validate the settings of app `agentid`: `None` when it has no callback.
pub fn parse(
    agentid: u32,
    fields: CallbackFields<'_>,
) -> Result<Option<AppCallback>, SettingsError> {
    let CallbackFields {
        url,
        token,
        aes_key,
    } = fields;
    let Some(url) = url else {
        return match (token, aes_key) {
            (None, None) => Ok(None),
            (Some(_), _) => Err(missing(
                "callback_url",
                format!("app {agentid} has a callback_token but no callback_url"),
            )),
            (None, Some(_)) => Err(missing(
                "callback_url",
                format!("app {agentid} has a callback_aes_key but no callback_url"),
            )),
        };
    };
    let url = parse_url(url)
        .map_err(|why| bad("callback_url", format!("app {agentid} callback_url: {why}")))?;
    let token = token.ok_or_else(|| {
        missing(
            "callback_token",
            format!("app {agentid} has a callback_url but no callback_token (WeCom signs with it)"),
        )
    })?;
    if token.is_empty()
        || token.len() > MAX_TOKEN_LEN
        || !token.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad(
            "callback_token",
            format!(
                "app {agentid} callback_token must be 1..={MAX_TOKEN_LEN} printable ASCII \
                 characters without spaces"
            ),
        ));
    }
    let aes_key = aes_key.ok_or_else(|| {
        missing(
            "callback_aes_key",
            format!(
                "app {agentid} has a callback_url but no callback_aes_key (the 43-character \
                 EncodingAESKey)"
            ),
        )
    })?;
    let aes_key = EncodingAesKey::parse(aes_key).map_err(|e| {
        bad(
            "callback_aes_key",
            format!("app {agentid} callback_aes_key: {e}"),
        )
    })?;
    Ok(Some(AppCallback {
        url,
        token: token.to_owned(),
        aes_key,
    }))
}

/// Read back a target a store wrote from a validated [`AppCallback`]: the same rules as
/// [`parse`], so a stored row that no longer holds together (one of the three missing, a key
/// that is not 43 characters) is refused, for the store to report as corruption.
pub fn from_stored(
    agentid: u32,
    url: Option<&str>,
    token: Option<&str>,
    aes_key: Option<&str>,
) -> Result<Option<AppCallback>, String> {
    parse(
        agentid,
        CallbackFields {
            url,
            token,
            aes_key,
        },
    )
    .map_err(|e| format!("stored callback of app {agentid}: {}", e.message))
}

/// The three columns a store writes for `callback` (`None`: all three NULL).
pub fn to_stored(callback: Option<&AppCallback>) -> [Option<&str>; 3] {
    match callback {
        Some(c) => [
            Some(c.url.as_str()),
            Some(c.token.as_str()),
            Some(c.aes_key.as_str()),
        ],
        None => [None; 3],
    }
}

fn parse_url(raw: &str) -> Result<url::Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("longer than {MAX_URL_LEN} bytes"));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{raw:?} is not http(s)"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{raw:?} has no host"));
    }
    if url.fragment().is_some() {
        return Err(format!("{raw:?} has a #fragment, which is never sent"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

    fn fields<'a>(url: &'a str, token: &'a str, key: &'a str) -> CallbackFields<'a> {
        CallbackFields {
            url: Some(url),
            token: Some(token),
            aes_key: Some(key),
        }
    }

    #[test]
    fn all_three_make_a_callback() {
        let cb = parse(7, fields("https://app.example/wecom?x=1", "tok", KEY))
            .unwrap()
            .unwrap();
        assert_eq!(cb.url.as_str(), "https://app.example/wecom?x=1");
        assert_eq!(cb.aes_key.as_str(), KEY);
        assert!(!format!("{cb:?}").contains("tok\""));
        assert!(parse(7, fields("http://127.0.0.1:9/cb", "tok", KEY)).is_ok());
        assert_eq!(parse(7, CallbackFields::default()), Ok(None));
    }

    #[test]
    fn incomplete_or_bad_settings_are_refused_with_a_reason() {
        let err = |f| parse(7, f).unwrap_err().message;
        assert!(err(CallbackFields {
            url: Some("https://a.example/"),
            ..Default::default()
        })
        .contains("no callback_token"));
        assert!(err(CallbackFields {
            url: Some("https://a.example/"),
            token: Some("t"),
            aes_key: None,
        })
        .contains("no callback_aes_key"));
        assert!(err(CallbackFields {
            aes_key: Some(KEY),
            ..Default::default()
        })
        .contains("no callback_url"));
        assert!(err(CallbackFields {
            token: Some("t"),
            ..Default::default()
        })
        .contains("no callback_url"));
        assert!(err(fields("ftp://a.example/", "t", KEY)).contains("not http(s)"));
        assert!(err(fields("a.example/cb", "t", KEY)).contains("not a URL"));
        assert!(err(fields("https://a.example/#x", "t", KEY)).contains("fragment"));
        assert!(err(fields("https://a.example/", "t t", KEY)).contains("callback_token"));
        assert!(err(fields("https://a.example/", "", KEY)).contains("callback_token"));
        let short = parse(7, fields("https://a.example/", "t", &KEY[..40])).unwrap_err();
        assert_eq!((short.field, short.present), ("callback_aes_key", true));
        assert!(short.message.contains("43"), "{short}");
        let none = parse(
            7,
            CallbackFields {
                url: Some("http://a/"),
                token: Some("t"),
                aes_key: None,
            },
        );
        assert!(!none.unwrap_err().present);
        let long = format!("https://a.example/{}", "x".repeat(MAX_URL_LEN));
        assert!(err(fields(&long, "t", KEY)).contains("longer"));
    }
}
