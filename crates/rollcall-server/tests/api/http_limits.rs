//! The HTTP layer's limits (issue 12): header, body and idle timeouts, the connection cap,
//! malformed heads, and `Connection: close` when the server will close. Raw sockets, since
//! the point is what a misbehaving client sees on the wire.
//!
//! The waits below are upper bounds on *whether* the server closes a connection (without
//! the limits it never does), set far above the configured timeouts; nothing asserts speed.

use std::time::{Duration, Instant};

use rollcall_server::{HttpLimits, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Far above every timeout configured here: a connection still open after this never closes.
const NEVER: Duration = Duration::from_secs(8);

async fn app_with(limits: HttpLimits) -> TestApp {
    TestApp::builder()
        .config(ServerConfig {
            token_ttl_secs: 7200,
            ingest_key: Some(INGEST_KEY.into()),
            admin_key: Some(ADMIN_KEY.into()),
            http: limits,
            ..Default::default()
        })
        .spawn()
        .await
}

fn short() -> HttpLimits {
    HttpLimits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        max_connections: 64,
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Read until the server closes the connection (or `within` passes: `None`).
async fn until_closed(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// Read one response head and its `Content-Length` body.
async fn one_response(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(NEVER, async {
        loop {
            let n = s.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed mid-response: {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + len {
                    return;
                }
            }
        }
    })
    .await
    .expect("a response in time");
    String::from_utf8_lossy(&got).into_owned()
}

fn says_close(resp: &str) -> bool {
    resp.lines()
        .take_while(|l| !l.is_empty())
        .any(|l| l.eq_ignore_ascii_case("connection: close"))
}

#[tokio::test]
async fn a_request_head_that_stops_is_closed_after_the_header_timeout() {
    let app = app_with(short()).await;
    let mut s = connect(&app).await;
    s.write_all(b"GET /cgi-bin/gettoken?corpid=").await.unwrap();
    let started = Instant::now();
    let got = until_closed(&mut s, NEVER).await;
    assert!(got.is_some(), "still open after {:?}", started.elapsed());
}

#[tokio::test]
async fn malformed_heads_get_a_400_or_a_close() {
    let app = app_with(short()).await;
    for head in [
        &b"\r\n\r\n"[..],
        b"GET /healthz HTTP/1.1\rHost: x\r\r",
        b"NOT A REQUEST\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n",
    ] {
        let mut s = connect(&app).await;
        s.write_all(head).await.unwrap();
        let got = until_closed(&mut s, NEVER).await;
        let got = got.unwrap_or_else(|| panic!("{head:?}: still open"));
        assert!(
            got.is_empty() || got.starts_with("HTTP/1.1 400"),
            "{head:?}: {got}"
        );
    }
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_closed() {
    let app = app_with(short()).await;
    let mut s = connect(&app).await;
    let head = format!(
        "POST /ingest/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {INGEST_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{{\"event_id\":"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let got = until_closed(&mut s, NEVER).await.expect("closed");
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(says_close(&got), "{got}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_and_a_busy_one_is_not() {
    let app = app_with(HttpLimits {
        header_read_timeout: Duration::from_secs(30),
        ..short()
    })
    .await;
    let mut s = connect(&app).await;
    // Requests closer together than the idle timeout keep the connection.
    for _ in 0..3 {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let resp = one_response(&mut s).await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(
            !says_close(&resp),
            "keep-alive answers do not close: {resp}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Then nothing: the idle timeout (1 s) closes it, well before the header timeout (30 s).
    assert_eq!(until_closed(&mut s, NEVER).await.as_deref(), Some(""));
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let idle = Duration::from_secs(3);
    let app = app_with(HttpLimits {
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: idle,
        max_connections: 2,
        ..short()
    })
    .await;
    // The kit's own client may keep a pooled connection from seeding the corp: let the idle
    // timeout close it, so the two below are the only ones.
    tokio::time::sleep(idle + Duration::from_millis(500)).await;
    let healthz = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&app).await;
        s.write_all(healthz).await.unwrap();
        assert!(one_response(&mut s).await.starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    let mut third = connect(&app).await;
    third.write_all(healthz).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "the third connection was served past the cap"
    );
    drop(held.remove(0));
    let resp = one_response(&mut third).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

/// A large POST refused before its body is read (a bad token; with the journal off, nothing
/// else reads the body first): the server closes the connection after answering, and the
/// answer says so.
#[tokio::test]
async fn an_answer_before_the_body_is_read_says_connection_close() {
    let app = TestApp::builder()
        .config(ServerConfig {
            token_ttl_secs: 7200,
            ingest_key: Some(INGEST_KEY.into()),
            admin_key: Some(ADMIN_KEY.into()),
            journal_size: Some(0),
            ..Default::default()
        })
        .spawn()
        .await;
    let mut s = connect(&app).await;
    let body = format!("{{\"meetingid\":\"{}\"}}", "x".repeat(60_000));
    let req = format!(
        "POST /cgi-bin/meeting/get_info?access_token=not-a-token HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    // Send only the head: the server answers (40014) without waiting for the body.
    let resp = one_response(&mut s).await;
    assert!(resp.contains("\"errcode\":40014"), "{resp}");
    assert!(says_close(&resp), "{resp}");
    assert_eq!(until_closed(&mut s, NEVER).await.as_deref(), Some(""));

    // A POST whose body was read keeps the connection.
    let mut s = connect(&app).await;
    let req = format!(
        "POST /ingest/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {INGEST_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let resp = one_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(!says_close(&resp), "{resp}");
}
