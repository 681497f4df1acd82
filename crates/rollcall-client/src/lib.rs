//! A typed async client for WeCom's meeting API, usable against rollcall and WeCom alike.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rollcall_client::Error> {
//! use futures::TryStreamExt;
//! let client = rollcall_client::Client::builder()
//!     .corp("wwdemo0000000001", "the-app-secret")
//!     .base_url("http://127.0.0.1:8080")
//!     .build()?;
//! let attendees: Vec<_> = client.attendees("hy…meetingid", None).try_collect().await?;
//! println!("{} sessions", attendees.len());
//! # Ok(()) }
//! ```
//!
//! The access token is fetched on first use, cached, refreshed a minute before it expires,
//! and refreshed once more when the server says it is invalid or expired (40014 / 42001).
//! `system busy` (-1) and `api freq out of limit` (45009) are retried a bounded number of
//! times with exponential backoff and jitter. Everything else comes back as
//! [`Error::Api`] with WeCom's errcode and errmsg.
//!
//! # Layout
//! - [`Client`], [`ClientBuilder`]: configuration, token handling, retries, the calls.
//! - [`Error`]: API refusals, transport failures, undecodable replies.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use futures::stream::{self, Stream};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

pub use rollcall_wire as wire;
use rollcall_wire::{
    errcode, Attendee, GetAttendeeListRequest, GetAttendeeListResponse, GetTokenResponse,
};

/// WeCom's public API endpoint, the default base URL.
pub const WECOM_BASE_URL: &str = "https://qyapi.weixin.qq.com";

/// What can go wrong with a call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with a non-zero errcode.
    #[error("errcode {errcode}: {errmsg}")]
    Api { errcode: i32, errmsg: String },
    /// The request did not get an HTTP answer (connection, timeout, TLS…).
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The answer was not the JSON the call returns.
    #[error("decode: {0}")]
    Decode(String),
    /// The client was configured wrongly.
    #[error("config: {0}")]
    Config(String),
}

impl Error {
    /// The WeCom errcode, when the API refused.
    pub fn errcode(&self) -> Option<i32> {
        match self {
            Error::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }
}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    corpid: Option<String>,
    secret: Option<String>,
    base_url: String,
    max_retries: u32,
    backoff: Duration,
    timeout: Duration,
}

impl ClientBuilder {
    /// The corp and the app secret the token is obtained with.
    pub fn corp(mut self, corpid: impl Into<String>, secret: impl Into<String>) -> Self {
        self.corpid = Some(corpid.into());
        self.secret = Some(secret.into());
        self
    }
    /// Where the API lives (default: WeCom's public endpoint).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }
    /// How many times a -1 / 45009 answer is retried (default 3).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }
    /// The first retry delay; it doubles each time, with jitter (default 200 ms).
    pub fn backoff(mut self, d: Duration) -> Self {
        self.backoff = d;
        self
    }
    /// Per-request timeout (default 30 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }
    pub fn build(self) -> Result<Client, Error> {
        let corpid = self
            .corpid
            .ok_or_else(|| Error::Config("corp(corpid, secret) is required".into()))?;
        let secret = self.secret.unwrap_or_default();
        let http = reqwest::Client::builder().timeout(self.timeout).build()?;
        Ok(Client {
            http,
            base: self.base_url,
            corpid,
            secret,
            max_retries: self.max_retries,
            backoff: self.backoff,
            token: Mutex::new(None),
        })
    }
}

#[derive(Debug, Clone)]
struct CachedToken {
    token: String,
    refresh_at: Instant,
}

/// A WeCom meeting API client. Cheap to share behind an `Arc`; calls may run concurrently.
pub struct Client {
    http: reqwest::Client,
    base: String,
    corpid: String,
    secret: String,
    max_retries: u32,
    backoff: Duration,
    token: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("corpid", &self.corpid)
            .finish_non_exhaustive()
    }
}

/// Refresh this long before the token's announced expiry.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

impl Client {
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            corpid: None,
            secret: None,
            base_url: WECOM_BASE_URL.to_owned(),
            max_retries: 3,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(30),
        }
    }

    /// The base URL calls go to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A valid access token (cached; fetched or refreshed when needed).
    pub async fn access_token(&self) -> Result<String, Error> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(t.token.clone());
        }
        let resp: GetTokenResponse = self
            .with_retries(|| async {
                let r = self
                    .http
                    .get(format!("{}/cgi-bin/gettoken", self.base))
                    .query(&[
                        ("corpid", self.corpid.as_str()),
                        ("corpsecret", self.secret.as_str()),
                    ])
                    .send()
                    .await?;
                decode(r).await
            })
            .await?;
        let life = Duration::from_secs(resp.expires_in);
        *slot = Some(CachedToken {
            token: resp.access_token.clone(),
            refresh_at: Instant::now() + life.saturating_sub(REFRESH_MARGIN),
        });
        Ok(resp.access_token)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    async fn with_retries<T, F, Fut>(&self, mut f: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut attempt = 0;
        loop {
            match f().await {
                Err(Error::Api { errcode: code, .. })
                    if attempt < self.max_retries
                        && (code == errcode::SYSTEM_BUSY
                            || code == errcode::API_FREQ_OUT_OF_LIMIT) =>
                {
                    let base = self.backoff.saturating_mul(1 << attempt.min(16));
                    let jitter = rand::thread_rng().gen_range(0.5..1.5);
                    tokio::time::sleep(base.mul_f64(jitter)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// POST a token-authenticated call; refreshes the token once on 40014 / 42001.
    pub async fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp, Error> {
        let mut refreshed = false;
        loop {
            let token = self.access_token().await?;
            let result = self
                .with_retries(|| async {
                    let r = self
                        .http
                        .post(format!("{}/cgi-bin/{path}", self.base))
                        .query(&[("access_token", token.as_str())])
                        .json(body)
                        .send()
                        .await?;
                    decode(r).await
                })
                .await;
            match result {
                Err(Error::Api { errcode: code, .. })
                    if !refreshed
                        && (code == errcode::INVALID_ACCESS_TOKEN
                            || code == errcode::ACCESS_TOKEN_EXPIRED) =>
                {
                    self.forget_token().await;
                    refreshed = true;
                }
                other => return other,
            }
        }
    }

    /// `meeting/get_attendee_list`: one page.
    pub async fn get_attendee_list(
        &self,
        req: &GetAttendeeListRequest,
    ) -> Result<GetAttendeeListResponse, Error> {
        self.call("meeting/get_attendee_list", req).await
    }

    /// Every attendee of a meeting (or sub-meeting), following `next_cursor` until
    /// `has_more` is false.
    pub fn attendees(
        &self,
        meetingid: &str,
        sub_meetingid: Option<&str>,
    ) -> impl Stream<Item = Result<Attendee, Error>> + '_ {
        let req = GetAttendeeListRequest {
            meetingid: meetingid.to_owned(),
            sub_meetingid: sub_meetingid.map(str::to_owned),
            ..Default::default()
        };
        self.attendee_pages(req).map_ok_flat()
    }

    /// Pages of a listing starting from `req`, following `next_cursor` until `has_more` is
    /// false. The last page's `next_cursor` resumes an incremental sync later.
    pub fn attendee_pages(
        &self,
        req: GetAttendeeListRequest,
    ) -> impl Stream<Item = Result<GetAttendeeListResponse, Error>> + '_ {
        stream::try_unfold(Some(req), move |state| async move {
            let Some(req) = state else { return Ok(None) };
            let page = self.get_attendee_list(&req).await?;
            let next = page.has_more.then(|| GetAttendeeListRequest {
                cursor: Some(page.next_cursor.clone()),
                ..req
            });
            Ok(Some((page, next)))
        })
    }
}

trait FlattenPages {
    fn map_ok_flat(self) -> impl Stream<Item = Result<Attendee, Error>>;
}

impl<S: Stream<Item = Result<GetAttendeeListResponse, Error>>> FlattenPages for S {
    fn map_ok_flat(self) -> impl Stream<Item = Result<Attendee, Error>> {
        use futures::StreamExt;
        self.flat_map(|page| {
            let items: Vec<Result<Attendee, Error>> = match page {
                Ok(p) => p.attendees.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            stream::iter(items)
        })
    }
}

/// Decode a WeCom reply: a non-zero errcode is [`Error::Api`], else the call's type.
async fn decode<T: DeserializeOwned>(r: reqwest::Response) -> Result<T, Error> {
    let status = r.status();
    let bytes = r.bytes().await?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(format!("HTTP {status}: {e}")))?;
    let code = v.get("errcode").and_then(Value::as_i64).unwrap_or(0) as i32;
    if code != 0 {
        let errmsg = v
            .get("errmsg")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        return Err(Error::Api {
            errcode: code,
            errmsg,
        });
    }
    serde_json::from_value(v).map_err(|e| Error::Decode(e.to_string()))
}
