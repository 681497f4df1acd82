//! A typed async client for WeCom's meeting API, usable against rollcall and WeCom alike.
//!
//! Why it exists: every consumer of attendance data needs the same few things done right —
//! the access token fetched once and renewed in time, WeCom's transient refusals retried
//! politely, `next_cursor` followed to the end — and getting any of them wrong shows up only
//! in production. This crate does them once, over the same wire types the rollcall server
//! uses, so a test that goes through it also checks the wire.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use rollcall_client::{Client, Error, GetAttendeeListRequest};
//!
//! # async fn demo() -> Result<(), Error> {
//! // Against WeCom itself, leave out `base_url`; against rollcall, point it there.
//! let client = Client::builder()
//!     .corp("wwdemo0000000001", "the-app-secret")
//!     .base_url("http://127.0.0.1:8080")
//!     .build()?;
//!
//! // Every session of a meeting, all pages, as one stream.
//! let attendees: Vec<_> = client.attendees("hy…meetingid", None).try_collect().await?;
//! println!("{} sessions", attendees.len());
//!
//! // One page, with a time window (unix seconds), and WeCom's refusals as typed errors.
//! let req = GetAttendeeListRequest {
//!     meetingid: "hy…meetingid".into(),
//!     start_time: Some(1_760_000_000),
//!     limit: Some(50),
//!     ..Default::default()
//! };
//! match client.get_attendee_list(&req).await {
//!     Ok(page) => println!("{} on this page, more: {}", page.attendees.len(), page.has_more),
//!     Err(Error::Api { errcode: 40058, errmsg }) => eprintln!("bad request: {errmsg}"),
//!     Err(e) => return Err(e),
//! }
//!
//! // The meeting calls are typed too.
//! let info = client.get_meeting_info("hy…meetingid", None).await?;
//! println!("{}: status {}", info.title, info.status);
//! # Ok(()) }
//! ```
//!
//! The access token is fetched on first use, cached, refreshed a minute before it expires,
//! and refreshed once more when the server says it is invalid or expired (40014 / 42001) —
//! the server's clock, not ours, decides expiry. `system busy` (-1) and `api freq out of
//! limit` (45009) are retried a bounded number of times with exponential backoff and jitter
//! (so that many clients refused at once do not come back at once). Everything else comes
//! back as [`Error::Api`] with WeCom's errcode and errmsg.
//!
//! # Layout
//! - [`Client`], [`ClientBuilder`]: configuration, token handling, retries, the calls.
//! - Streams: [`Client::attendees`], [`Client::attendees_from`] (every session, all pages),
//!   [`Client::attendee_pages`] (the pages themselves), [`Client::follow_attendee_pages`]
//!   (an incremental sync that never ends), [`Client::user_meetingids`].
//! - [`meeting`]: request and response bodies of the meeting management calls (WeCom's
//!   field names; the same types the server answers with, from `rollcall-wire`).
//! - [`Error`]: API refusals, transport failures, undecodable replies.
//! - [`callback`]: [`callback::CallbackReceiver`], for an app receiving WeCom's callbacks
//!   (URL verification, signature, decryption, meeting events; on `rollcall-callback`).
//! - [`admin`]: [`Admin`], a typed client for rollcall's emulator controls (`/admin/v1/*`:
//!   clock, faults, journal, rate limits, reset, snapshots, corps, meetings).
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use futures::stream::{self, Stream, StreamExt};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

pub mod admin;
pub use admin::Admin;
/// Receiving WeCom's (and rollcall's) callbacks: URL verification, decryption, events.
pub mod callback;

pub use rollcall_wire as wire;
/// Request and response bodies of the meeting management calls (shared with the server).
pub use rollcall_wire::meeting;
use rollcall_wire::{errcode, ErrorBody, GetTokenResponse};
pub use rollcall_wire::{Attendee, GetAttendeeListRequest, GetAttendeeListResponse};

use meeting::{
    CancelMeetingRequest, CreateMeetingRequest, CreateMeetingResponse, GetMeetingInfoRequest,
    GetUserMeetingIdRequest, GetUserMeetingIdResponse, MeetingInfo, UpdateMeetingRequest,
};

/// WeCom's public API endpoint, the default base URL.
pub const WECOM_BASE_URL: &str = "https://qyapi.weixin.qq.com";

/// What can go wrong with a call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with a non-zero errcode.
    #[error("errcode {errcode}: {errmsg}")]
    Api { errcode: i32, errmsg: String },
    /// The request did not get an HTTP answer (connection, timeout, TLS…). The URL it
    /// carries has no query string: `gettoken`'s holds the app secret, every other call's
    /// the access token, and error messages end up in logs. Its message includes the causes
    /// (`… Connection refused`), so `{}` says everything.
    #[error("transport: {}", chain(.0))]
    Transport(reqwest::Error),
    /// The answer was not the JSON the call returns.
    #[error("decode: {0}")]
    Decode(String),
    /// The client was configured wrongly.
    #[error("config: {0}")]
    Config(String),
}

/// Credentials travel in query strings: strip them from the URL before the error goes
/// anywhere.
impl From<reqwest::Error> for Error {
    fn from(mut e: reqwest::Error) -> Self {
        if let Some(url) = e.url_mut() {
            url.set_query(None);
        }
        Error::Transport(e)
    }
}

/// An error and its causes, `a: b: c`, skipping a cause whose text its parent already
/// shows.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

impl Error {
    /// The WeCom errcode, when the API refused.
    pub fn errcode(&self) -> Option<i32> {
        match self {
            Error::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }

    /// Whether the same call may succeed if simply made again later: WeCom's transient
    /// refusals (-1, 45009) and transport failures.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Api { errcode, .. } => is_retryable(*errcode),
            Error::Transport(_) => true,
            _ => false,
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
    max_backoff: Duration,
    refresh_margin: Duration,
    timeout: Duration,
}

impl ClientBuilder {
    /// The corp and the app secret the token is obtained with.
    pub fn corp(mut self, corpid: impl Into<String>, secret: impl Into<String>) -> Self {
        self.corpid = Some(corpid.into());
        self.secret = Some(secret.into());
        self
    }
    /// Where the API lives (default: WeCom's public endpoint, [`WECOM_BASE_URL`]). The
    /// calls go to `<base>/cgi-bin/…`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }
    /// How many times a -1 / 45009 answer is retried (default 3): a call is made at most
    /// `1 + n` times.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }
    /// The first retry delay; it doubles each time, with jitter (default 200 ms).
    pub fn backoff(mut self, d: Duration) -> Self {
        self.backoff = d;
        self
    }
    /// The longest delay between two tries, before jitter (default 10 s).
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }
    /// How long before its announced expiry a cached token is replaced (default 60 s), so
    /// that a request never leaves with a token about to lapse in flight.
    pub fn refresh_margin(mut self, d: Duration) -> Self {
        self.refresh_margin = d;
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
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::Config("corp(corpid, secret) is required".into()))?;
        let secret = self.secret.unwrap_or_default();
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "base URL {:?} is not an http:// or https:// URL",
                self.base_url
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!("rollcall-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client {
            http,
            base: self.base_url,
            corpid,
            secret,
            max_retries: self.max_retries,
            backoff: self.backoff,
            max_backoff: self.max_backoff,
            refresh_margin: self.refresh_margin,
            token: Mutex::new(None),
        })
    }
}

#[derive(Debug, Clone)]
struct CachedToken {
    token: String,
    refresh_at: Instant,
}

/// A WeCom meeting API client. Cheap to share behind an `Arc`; calls may run concurrently
/// (they share one cached token, fetched by one of them at a time).
pub struct Client {
    http: reqwest::Client,
    base: String,
    corpid: String,
    secret: String,
    max_retries: u32,
    backoff: Duration,
    max_backoff: Duration,
    refresh_margin: Duration,
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

/// -1 and 45009 are WeCom's "try again later".
fn is_retryable(code: i32) -> bool {
    code == errcode::SYSTEM_BUSY || code == errcode::API_FREQ_OUT_OF_LIMIT
}

/// The delay before retry number `attempt` (0-based): `base · 2^attempt`, capped at `max`,
/// times `jitter` (drawn from `[0.5, 1.5)`), so that clients refused together spread out.
fn backoff_delay(base: Duration, max: Duration, attempt: u32, jitter: f64) -> Duration {
    base.saturating_mul(1u32 << attempt.min(16))
        .min(max)
        .mul_f64(jitter)
}

impl Client {
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            corpid: None,
            secret: None,
            base_url: WECOM_BASE_URL.to_owned(),
            max_retries: 3,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            refresh_margin: Duration::from_secs(60),
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
            refresh_at: Instant::now() + life.saturating_sub(self.refresh_margin),
        });
        Ok(resp.access_token)
    }

    /// Drop the cached token if it is still `token` (a concurrent call may already have
    /// replaced it with a fresh one, which must not be thrown away).
    async fn forget_token(&self, token: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.token == token) {
            *slot = None;
        }
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
                    if attempt < self.max_retries && is_retryable(code) =>
                {
                    let jitter = rand::thread_rng().gen_range(0.5..1.5);
                    let delay = backoff_delay(self.backoff, self.max_backoff, attempt, jitter);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// POST a token-authenticated call (`<base>/cgi-bin/<path>`); refreshes the token once
    /// on 40014 / 42001 and retries -1 / 45009. For calls this crate has no method for.
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
                    self.forget_token(&token).await;
                    refreshed = true;
                }
                other => return other,
            }
        }
    }

    /// `meeting/get_attendee_list` (获取已参会成员列表): one page.
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
        self.attendees_from(GetAttendeeListRequest {
            meetingid: meetingid.to_owned(),
            sub_meetingid: sub_meetingid.map(str::to_owned),
            ..Default::default()
        })
    }

    /// Every attendee of the listing `req` describes (time window, page size, a cursor to
    /// resume from), all pages.
    pub fn attendees_from(
        &self,
        req: GetAttendeeListRequest,
    ) -> impl Stream<Item = Result<Attendee, Error>> + '_ {
        flatten_pages(self.attendee_pages(req))
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

    /// An incremental sync that never ends: the pages of `req`'s listing, then, whenever a
    /// pass is exhausted (`has_more` false), the same listing again `interval` later from
    /// the last `next_cursor` — which rollcall answers with only the sessions stored since
    /// (SPEC §3). Each session is yielded once, when its join is first seen; quits of
    /// sessions already yielded are not reported again. Ends at the first error; resume by
    /// building a new stream from the last page's `next_cursor`.
    ///
    /// WeCom itself documents no incremental behaviour for `next_cursor`: against WeCom
    /// this yields the first pass, then whatever WeCom answers to the old cursor.
    pub fn follow_attendee_pages(
        &self,
        req: GetAttendeeListRequest,
        interval: Duration,
    ) -> impl Stream<Item = Result<GetAttendeeListResponse, Error>> + '_ {
        stream::try_unfold((req, false), move |(req, wait)| async move {
            if wait {
                tokio::time::sleep(interval).await;
            }
            let page = self.get_attendee_list(&req).await?;
            let next = GetAttendeeListRequest {
                cursor: Some(page.next_cursor.clone()),
                ..req
            };
            let wait = !page.has_more;
            Ok(Some((page, (next, wait))))
        })
    }

    /// `meeting/create` (创建预约会议).
    pub async fn create_meeting(
        &self,
        req: &CreateMeetingRequest,
    ) -> Result<CreateMeetingResponse, Error> {
        self.call("meeting/create", req).await
    }

    /// `meeting/update` (修改预约会议): changes the fields that are set.
    pub async fn update_meeting(&self, req: &UpdateMeetingRequest) -> Result<(), Error> {
        self.call::<_, ErrorBody>("meeting/update", req)
            .await
            .map(drop)
    }

    /// `meeting/cancel` (取消预约会议): the whole meeting, or one occurrence of a recurring
    /// one.
    pub async fn cancel_meeting(
        &self,
        meetingid: &str,
        sub_meetingid: Option<&str>,
    ) -> Result<(), Error> {
        let req = CancelMeetingRequest {
            meetingid: meetingid.to_owned(),
            sub_meetingid: sub_meetingid.map(str::to_owned),
        };
        self.call::<_, ErrorBody>("meeting/cancel", &req)
            .await
            .map(drop)
    }

    /// `meeting/get_info` (获取会议详情).
    pub async fn get_meeting_info(
        &self,
        meetingid: &str,
        sub_meetingid: Option<&str>,
    ) -> Result<MeetingInfo, Error> {
        let req = GetMeetingInfoRequest {
            meetingid: meetingid.to_owned(),
            sub_meetingid: sub_meetingid.map(str::to_owned),
            ..Default::default()
        };
        self.call("meeting/get_info", &req).await
    }

    /// `meeting/get_user_meetingid` (获取成员会议ID列表): one page.
    pub async fn get_user_meetingid(
        &self,
        req: &GetUserMeetingIdRequest,
    ) -> Result<GetUserMeetingIdResponse, Error> {
        self.call("meeting/get_user_meetingid", req).await
    }

    /// Every meetingid `req` lists, following `next_cursor` until it comes back empty.
    pub fn user_meetingids(
        &self,
        req: GetUserMeetingIdRequest,
    ) -> impl Stream<Item = Result<String, Error>> + '_ {
        let pages = stream::try_unfold(Some(req), move |state| async move {
            let Some(req) = state else { return Ok(None) };
            let page = self.get_user_meetingid(&req).await?;
            // An empty page with a cursor would loop forever on a misbehaving server.
            let next =
                (!page.next_cursor.is_empty() && !page.meetingid_list.is_empty()).then(|| {
                    GetUserMeetingIdRequest {
                        cursor: Some(page.next_cursor.clone()),
                        ..req
                    }
                });
            Ok(Some((page.meetingid_list, next)))
        });
        pages.flat_map(|page| {
            let items: Vec<Result<String, Error>> = match page {
                Ok(ids) => ids.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            stream::iter(items)
        })
    }
}

/// Pages → their attendees, an error passed through as the last item.
fn flatten_pages(
    pages: impl Stream<Item = Result<GetAttendeeListResponse, Error>>,
) -> impl Stream<Item = Result<Attendee, Error>> {
    pages.flat_map(|page| {
        let items: Vec<Result<Attendee, Error>> = match page {
            Ok(p) => p.attendees.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        stream::iter(items)
    })
}

/// Decode a WeCom reply: a non-zero errcode is [`Error::Api`], else the call's type.
async fn decode<T: DeserializeOwned>(r: reqwest::Response) -> Result<T, Error> {
    let status = r.status();
    let bytes = r.bytes().await?;
    decode_body(status, &bytes)
}

fn decode_body<T: DeserializeOwned>(status: reqwest::StatusCode, bytes: &[u8]) -> Result<T, Error> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::Decode(format!(
            "HTTP {status}: not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ))
    })?;
    let code = match v.get("errcode") {
        None => 0,
        Some(c) => c
            .as_i64()
            .and_then(|c| i32::try_from(c).ok())
            .ok_or_else(|| Error::Decode(format!("HTTP {status}: errcode is {c}")))?,
    };
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
    serde_json::from_value(v).map_err(|e| Error::Decode(format!("HTTP {status}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        assert_eq!(backoff_delay(base, max, 0, 1.0), base);
        assert_eq!(backoff_delay(base, max, 1, 1.0), base * 2);
        assert_eq!(backoff_delay(base, max, 3, 1.0), base * 8);
        assert_eq!(backoff_delay(base, max, 4, 1.0), max);
        assert_eq!(backoff_delay(base, max, 40, 1.0), max, "no overflow");
        assert_eq!(backoff_delay(base, max, 1, 0.5), base);
        assert_eq!(backoff_delay(base, max, 1, 1.49), base.mul_f64(2.98));
    }

    #[test]
    fn decode_maps_errcodes_and_garbage() {
        let ok: ErrorBody =
            decode_body(StatusCode::OK, br#"{"errcode":0,"errmsg":"ok"}"#).expect("ok");
        assert_eq!(ok.errmsg, "ok");
        let err = decode_body::<ErrorBody>(
            StatusCode::OK,
            br#"{"errcode":40058,"errmsg":"invalid param 'meetingid', hint: [1_abcdef]"}"#,
        )
        .unwrap_err();
        assert_eq!(err.errcode(), Some(40058));
        assert!(
            err.to_string().contains("invalid param 'meetingid'"),
            "{err}"
        );
        assert!(!err.is_transient());
        let busy =
            decode_body::<ErrorBody>(StatusCode::OK, br#"{"errcode":-1,"errmsg":"system busy"}"#)
                .unwrap_err();
        assert!(busy.is_transient());
        let e = decode_body::<ErrorBody>(StatusCode::NOT_FOUND, b"").unwrap_err();
        assert!(
            matches!(e, Error::Decode(ref m) if m.contains("404")),
            "{e}"
        );
        let e = decode_body::<ErrorBody>(StatusCode::OK, br#"{"errcode":"x"}"#).unwrap_err();
        assert!(matches!(e, Error::Decode(_)), "{e}");
        let e = decode_body::<GetTokenResponse>(StatusCode::OK, br#"{"errcode":0}"#).unwrap_err();
        assert!(matches!(e, Error::Decode(_)), "{e}");
    }

    #[test]
    fn the_builder_refuses_what_cannot_work() {
        assert!(matches!(Client::builder().build(), Err(Error::Config(_))));
        assert!(matches!(
            Client::builder().corp("", "s").build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            Client::builder()
                .corp("ww", "s")
                .base_url("127.0.0.1:80")
                .build(),
            Err(Error::Config(_))
        ));
        let c = Client::builder().corp("ww", "s").build().expect("defaults");
        assert_eq!(c.base_url(), WECOM_BASE_URL);
        let c = Client::builder()
            .corp("ww", "s")
            .base_url("http://127.0.0.1:8080/")
            .build()
            .expect("custom");
        assert_eq!(c.base_url(), "http://127.0.0.1:8080");
    }
}
