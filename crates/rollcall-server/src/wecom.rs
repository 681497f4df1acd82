//! WeCom's envelope for every `/cgi-bin/*` call (SPEC §1), applied in one place.
//!
//! - [`envelope`] (middleware) gives each request an id, renders [`ApiError`]s as
//!   `{"errcode", "errmsg"}` in WeCom's real shape ([`errmsg`]: text, `hint: [<id>]`, `from ip:`,
//!   `more info at …?e=<code>`), sets `Error-Code` / `Error-Msg` on every reply, and writes
//!   the request's log line with the same id (the journal records it too).
//! - [`WeComBody`] reads the JSON body *after* the token extractor has run (so the token is
//!   checked first), refusing more than 1 MiB without reading past it.
//! - [`Reply`] is a success body; its `errcode`/`errmsg` fields are part of the payload type.
//!   [`RawReply`] is one already rendered.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// Largest `/cgi-bin/*` request body.
pub const MAX_BODY: usize = 1 << 20;

const JSON_UTF8: &str = "application/json; charset=UTF-8";

/// Marks a successful WeCom reply for the envelope.
#[derive(Debug, Clone, Copy)]
struct Success;

/// A WeCom success body (a payload type carrying `errcode: 0, errmsg: "ok"`).
#[derive(Debug)]
pub struct Reply<T>(pub T);

/// Reply buffers start this large: a full attendee page is ~23 KB, and growing a `Vec` by
/// doubling copied it three times over (visible as `memmove` under `perf`).
const REPLY_CAPACITY: usize = 32 * 1024;

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(REPLY_CAPACITY);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => RawReply(body).into_response(),
            Err(e) => ApiError::Busy(format!("serializing reply: {e}")).into_response(),
        }
    }
}

/// A WeCom success body already rendered as JSON (the attendee page writes its rows straight
/// into the reply buffer): answered like a [`Reply`].
#[derive(Debug)]
pub struct RawReply(pub Vec<u8>);

impl IntoResponse for RawReply {
    fn into_response(self) -> Response {
        let mut r = Response::new(Body::from(self.0));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        r.extensions_mut().insert(Success);
        r
    }
}

/// Header-safe copy of an errmsg (WeCom's headers carry the same text).
fn header_text(s: &str) -> HeaderValue {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    HeaderValue::from_str(&clean).unwrap_or_else(|_| HeaderValue::from_static("error"))
}

/// WeCom's errmsg for an error: `"<text>, hint: [<request id>], from ip: <caller ip>, more info
/// at https://open.work.weixin.qq.com/devtool/query?e=<errcode>"`, as real replies read, e.g.
/// `"invalid code, hint: [1607658081_80_bb45…], from ip: 47.93.204.58, more info at
/// https://open.work.weixin.qq.com/devtool/query?e=40029"` (quoted on WeChat's developer
/// community; WeCom's 全局错误码 page, path/90313, links the same query tool).
pub fn errmsg(text: &str, request_id: &str, ip: IpAddr, errcode: i32) -> String {
    format!(
        "{text}, hint: [{request_id}], from ip: {ip}, more info at \
         https://open.work.weixin.qq.com/devtool/query?e={errcode}"
    )
}

/// The caller's address as WeCom reports it: the TCP peer. `X-Forwarded-For` is not read: any
/// client can send it, and nothing here says which proxies to trust, so behind a proxy the
/// proxy's address is shown (as WeCom shows the address its own edge saw). A request without a
/// peer (the demo drives the router in-process, on this machine) is shown as loopback.
fn caller_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_canonical())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The `/cgi-bin/*` middleware.
pub async fn envelope(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // From the server's id sequence (seeded under `--seed`, reset with the rest), never from
    // wall time or the OS generator, so a replayed run answers byte for byte the same.
    let rid = state.ids().request_id(state.now());
    let ip = caller_ip(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut resp = next.run(req).await;

    let (code, msg) = if let Some(err) = resp.extensions_mut().remove::<ApiError>() {
        if let ApiError::Busy(cause) = &err {
            tracing::error!(request_id = %rid, %cause, "answering system busy");
        }
        let code = err.errcode();
        let msg = errmsg(&err.text(), &rid, ip, code);
        let body = serde_json::to_vec(&serde_json::json!({ "errcode": code, "errmsg": msg }))
            .unwrap_or_default();
        let len = body.len();
        *resp.body_mut() = Body::from(body);
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        resp.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
        (Some(code), msg)
    } else if resp.extensions().get::<Success>().is_some() {
        (Some(0), "ok".to_owned())
    } else {
        (None, String::new()) // not a WeCom reply (unknown path: 404, empty body)
    };
    if let Some(code) = code {
        resp.headers_mut()
            .insert("Error-Code", HeaderValue::from(code));
        resp.headers_mut().insert("Error-Msg", header_text(&msg));
    }
    resp.extensions_mut()
        .insert(crate::control::RequestId(rid.clone()));
    tracing::info!(
        request_id = %rid,
        %method,
        path = %path,
        status = resp.status().as_u16(),
        errcode = code.unwrap_or_default(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

/// Answer for a `/cgi-bin/*` call reached with the wrong HTTP method.
pub async fn wrong_method() -> ApiError {
    ApiError::Param40058("invalid param: this call only accepts POST")
}

/// Read a request body of at most `limit` bytes; more is refused without being read.
pub async fn read_limited(body: Body, declared: Option<u64>, limit: usize) -> Result<Bytes, ()> {
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(());
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| ())
}

/// A `/cgi-bin/*` JSON object body. Extract it last, after the token.
#[derive(Debug)]
pub struct WeComBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for WeComBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = read_limited(req.into_body(), declared, MAX_BODY)
            .await
            .map_err(|()| ApiError::Param40058("invalid param: request body over 1 MiB"))?;
        parse_object(&bytes).map(WeComBody)
    }
}

/// Parse a WeCom JSON body: an object, or 40058 "wrong json format".
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::WrongJson("empty post data".into()));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::WrongJson("the body must be a JSON object".into())),
        Err(e) => Err(ApiError::WrongJson(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errmsg_has_wecoms_shape() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(
            errmsg("invalid param 'meetingid'", "1760000000_0a1b2c", ip, 40058),
            "invalid param 'meetingid', hint: [1760000000_0a1b2c], from ip: 10.1.2.3, \
             more info at https://open.work.weixin.qq.com/devtool/query?e=40058"
        );
        let v6: IpAddr = "::1".parse().unwrap();
        assert!(errmsg("system busy", "1_000000", v6, -1).ends_with(
            "from ip: ::1, more info at https://open.work.weixin.qq.com/devtool/query?e=-1"
        ));
    }

    #[test]
    fn a_mapped_v4_peer_is_shown_as_v4() {
        let mut req = Request::new(Body::empty());
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:5000".parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(mapped));
        assert_eq!(caller_ip(&req).to_string(), "192.0.2.7");
        assert_eq!(
            caller_ip(&Request::new(Body::empty())),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
    }
}
