//! A server on a dedicated multi-thread runtime in its own OS thread, started and stopped
//! from async code: rollcall's state (through `rollcall_server::serve`) or a bare router.

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use rollcall_server::AppState;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long a server may take to finish after being told to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Resolves when the server should stop.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A server on a dedicated multi-thread runtime in its own OS thread, so a request's
/// latency is the loopback round trip plus the server's work, never time spent queued behind
/// the load generator's own tasks on shared workers.
///
/// Dropping it (say, when `run` fails half-way) tells the server to stop.
pub struct ServerThread {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<anyhow::Result<()>>>,
}

/// What can be served: rollcall's state through `rollcall_server::serve`, or a bare router.
pub trait Servable: 'static {
    fn serve(
        self,
        listener: TcpListener,
        shutdown: Shutdown,
    ) -> impl Future<Output = std::io::Result<()>>;
}

impl Servable for AppState {
    fn serve(
        self,
        listener: TcpListener,
        shutdown: Shutdown,
    ) -> impl Future<Output = std::io::Result<()>> {
        rollcall_server::serve(listener, self, shutdown)
    }
}

impl Servable for axum::Router {
    async fn serve(self, listener: TcpListener, shutdown: Shutdown) -> std::io::Result<()> {
        axum::serve(listener, self)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

impl ServerThread {
    /// Start the thread, run `setup` on its runtime, bind 127.0.0.1:0 and serve what `setup`
    /// made. Returns once the server accepts connections (or `setup` failed).
    pub async fn start<S, F, Fut>(name: &str, setup: F) -> anyhow::Result<Self>
    where
        S: Servable,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<S>>,
    {
        let (ready_tx, ready_rx) = oneshot::channel::<anyhow::Result<SocketAddr>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel();
        let thread_name = name.to_owned();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let result = (|| {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .enable_all()
                        .thread_name(thread_name)
                        .build()
                        .context("building the server runtime")?;
                    let served = rt.block_on(async move {
                        let prepared = async {
                            let app = setup().await?;
                            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
                            let addr = listener.local_addr()?;
                            anyhow::Ok((app, listener, addr))
                        }
                        .await;
                        match prepared {
                            Ok((app, listener, addr)) => {
                                let _ = ready_tx.send(Ok(addr));
                                let shutdown: Shutdown = Box::pin(async move {
                                    // A dropped sender means "stop" as well.
                                    let _ = stop_rx.await;
                                });
                                app.serve(listener, shutdown).await.context("serving")
                            }
                            Err(e) => {
                                let _ = ready_tx.send(Err(e));
                                Ok(())
                            }
                        }
                    });
                    // Connections still open must not keep the thread alive.
                    rt.shutdown_timeout(Duration::from_secs(1));
                    served
                })();
                let _ = done_tx.send(result);
            })
            .context("spawning the server thread")?;
        let addr = match ready_rx.await {
            Ok(ready) => ready.with_context(|| format!("starting {name}"))?,
            // The thread ended before reporting: its result says why.
            Err(_) => {
                return Err(match done_rx.await {
                    Ok(Err(e)) => e.context(format!("starting {name}")),
                    _ => anyhow!("{name} ended while starting (it panicked)"),
                })
            }
        };
        Ok(Self {
            addr,
            stop: Some(stop_tx),
            done: Some(done_rx),
        })
    }

    /// Stop accepting, finish requests in flight, and wait for the thread to end.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let done = self.done.take().expect("stop is called once");
        match tokio::time::timeout(STOP_GRACE, done).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => bail!("the server thread panicked"),
            Err(_) => bail!("the server did not stop within {STOP_GRACE:?}"),
        }
    }
}

impl fmt::Debug for ServerThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerThread")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
