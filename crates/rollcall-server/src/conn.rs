//! Serving connections: hyper's HTTP/1 connection per socket, with the limits a server
//! facing the open network needs (issue 12) and the `drop` fault.
//!
//! Why not `axum::serve`: it runs hyper without a timer, so no header read timeout ever
//! fires (a client that sends half a request head and stops held a connection forever), it
//! has no connection limit, and it cannot close a connection unanswered (the `drop` fault).
//!
//! What bounds a connection, and who enforces it:
//! - **The request head**: hyper's own `header_read_timeout` (with hyper-util's
//!   `TokioTimer`): the whole head must arrive within it, counted from when the connection
//!   starts waiting for it. A malformed head (a bare `\r\n\r\n` then nothing, bare-CR line
//!   endings) is answered `400` by hyper's parser or closed when the timeout fires.
//! - **The body**: tower-http's `TimeoutBody`, an inactivity timeout between body chunks
//!   (a stalled upload), answered `408` with `Connection: close`.
//! - **Idle keep-alive**: hyper has no idle timer of its own, and its header timer also runs
//!   while a keep-alive connection waits, so the idle bound is the smaller of
//!   `idle_timeout` and `header_read_timeout`. A connection with no request in flight and no
//!   byte received for `idle_timeout` is shut down gracefully here; this is the one timer
//!   neither hyper-util nor tower-http offers (tower-http's timeouts are per request).
//! - **Connections at once**: `max_connections` permits of a semaphore; past it, the
//!   listener stops accepting and new connections wait in the kernel's backlog.
//! - **`Connection: close` when the server will close**: a response sent before its request
//!   body was read to the end (a bad token on a large POST, a refusal before the body) leaves
//!   the connection unusable, and hyper closes it after answering. The response then says
//!   `Connection: close`, so a client does not send its next request into a closing socket.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header::{HeaderValue, CONNECTION};
use axum::http::{Response, StatusCode};
use bytes::Bytes;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use crate::{control, router, AppState};

/// The HTTP layer's limits; `ServerConfig::http`. The defaults suit a server on the open
/// network and leave room for the 64 MiB ingest body on a slow link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request head must arrive in full within this (default 10 s).
    pub header_read_timeout: Duration,
    /// The longest pause between two chunks of a request body (default 30 s).
    pub body_read_timeout: Duration,
    /// A keep-alive connection with no request in flight and nothing received for this long
    /// is closed (default 60 s; at most `header_read_timeout` in effect, see the module doc).
    pub idle_timeout: Duration,
    /// Connections served at once (default 1024); more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Serve `state`'s router on `listener` until `shutdown` resolves, then stop accepting and
/// finish the requests in flight (idle keep-alive connections are closed at once).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // Verify the stored callback targets this node has not checked yet (SPEC §11), in the
    // background: those set through other nodes, or before a restart.
    state.callbacks().verify_stored(&state);
    // Deliver the outbox's callbacks beside the accept loop, in this future (not a spawned
    // task): aborting the serve task stops delivery too, as a killed process would.
    let (stop_deliveries, deliveries_stop) = watch::channel(false);
    let deliveries = crate::callback::deliver::run(state.clone(), deliveries_stop);
    let accepting = async move {
        let served = accept(listener, state, shutdown).await;
        let _ = stop_deliveries.send(true);
        served
    };
    let (served, ()) = tokio::join!(accepting, deliveries);
    served
}

/// The accept loop of [`serve`], until `shutdown`; then the requests in flight finish.
async fn accept(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = state.config().http;
    let pruner_state = state.clone();
    let app = router(state);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Every connection task holds a clone of `alive`; when the last one ends, `all_done`
    // wakes (the shutdown wait). `stop` tells them to finish.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let (stop, stopping) = watch::channel(false);
    // The dedupe window's pruner, for as long as this node serves.
    tokio::spawn(crate::dedupe::run(pruner_state, stopping.clone()));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: wait a little, as axum::serve does.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let alive = alive.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            serve_connection(stream, app, limits, stopping).await;
            drop(permit);
            drop(alive);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(alive);
    let _ = all_done.recv().await;
    Ok(())
}

/// One connection, until the client closes it, a limit closes it, or the server stops.
async fn serve_connection(
    stream: TcpStream,
    app: axum::Router,
    limits: HttpLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    // The peer's address, for WeCom's `from ip:` in errmsg (crate::wecom).
    let peer = stream.peer_addr().ok();
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let app = app.clone();
            let activity = activity.clone();
            async move {
                let _busy = activity.begin();
                let read = Arc::new(BodyRead::default());
                let mut req = req;
                if let Some(peer) = peer {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                }
                let req = req.map(|b| {
                    // A request without a body (a GET, `Content-Length: 0`) has read it all.
                    read.ended.store(b.is_end_stream(), Ordering::SeqCst);
                    Body::new(Watched {
                        inner: Box::pin(TimeoutBody::new(limits.body_read_timeout, b)),
                        read: read.clone(),
                    })
                });
                let resp = app
                    .oneshot(req)
                    .await
                    .unwrap_or_else(|never| match never {});
                if resp.extensions().get::<control::Dropped>().is_some() {
                    return Err(io::Error::other("connection dropped by an injected fault"));
                }
                Ok(read.finish(resp))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    loop {
        let idle_at = activity.idle_deadline(limits.idle_timeout);
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection closed with an error");
                }
                return;
            }
            _ = stopping.changed(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep_until(idle_at.into()), if !closing => {
                if activity.is_idle(limits.idle_timeout) {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// What a connection is doing: requests in flight, and when it last received a byte or
/// finished a request. The idle check reads it; nothing here sleeps.
#[derive(Debug)]
struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds since `start` of the last byte received or request finished.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// A request is being served until the guard drops.
    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// When to look again: when the connection will have been idle for `idle` if nothing
    /// happens meanwhile, or, while a request is in flight, `idle` from now.
    fn idle_deadline(&self, idle: Duration) -> Instant {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Instant::now() + idle;
        }
        self.last_activity() + idle
    }

    fn last_activity(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    fn is_idle(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && self.last_activity().elapsed() >= idle
    }
}

/// A request in flight; its end counts as activity.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The socket, noting each read that brought bytes.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// How far the handler read its request body.
#[derive(Debug, Default)]
struct BodyRead {
    /// The body reached its end (or had none).
    ended: AtomicBool,
    /// A pause between chunks outlasted `body_read_timeout`.
    timed_out: AtomicBool,
}

impl BodyRead {
    /// The response as sent: a stalled body is answered 408; a response to a request whose
    /// body was not read to the end says `Connection: close` (hyper will close it).
    fn finish(&self, mut resp: Response<Body>) -> Response<Body> {
        if self.timed_out.load(Ordering::SeqCst) {
            resp = Response::new(Body::from("request body timed out\n"));
            *resp.status_mut() = StatusCode::REQUEST_TIMEOUT;
        }
        if !self.ended.load(Ordering::SeqCst) {
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// The request body, reporting to [`BodyRead`] whether it ended or timed out.
struct Watched {
    inner: Pin<Box<TimeoutBody<Incoming>>>,
    read: Arc<BodyRead>,
}

impl hyper::body::Body for Watched {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let polled = this.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.read.ended.store(true, Ordering::SeqCst),
            Poll::Ready(Some(Err(e))) if e.is::<tower_http::timeout::TimeoutError>() => {
                this.read.timed_out.store(true, Ordering::SeqCst);
            }
            _ => {}
        }
        if this.inner.is_end_stream() {
            this.read.ended.store(true, Ordering::SeqCst);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.read.ended.store(true, Ordering::SeqCst);
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
