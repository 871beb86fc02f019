//! The listener every service runs behind: a real HTTP/1.1 server on loopback
//! that can *crash* and come back on the same address.
//!
//! `axum::serve` cannot drop its socket and re-open it, so this is the small accept
//! loop from hyper-util's examples, plus one thing: it watches the service's
//! [`ServiceFaults`]. When the service is marked crashed it closes the listening
//! socket (new connections are refused by the kernel) and aborts every open
//! connection (requests in flight die with it, as they would with the process).
//! When the crash ends it binds the same address again.
//!
//! Every connection is bounded (figures and reasons: [`limits`]): hyper cuts
//! a connection whose request head does not arrive within
//! [`limits::HEADER_READ_TIMEOUT`] (an idle keep-alive connection included)
//! and answers `431` to a head with too many headers or too many bytes; the
//! body is read within a size limit and a timeout by `common::api` (body.rs);
//! at most [`limits::MAX_CONNECTIONS`] connections are open per service, and
//! one more is answered `503` and closed. hyper's own error answers get the
//! JSON error body on their way out (`wire.rs`).

pub mod limits;
mod wire;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::api::ApiError;
use crate::faults::{ServiceFaults, edge_faults};
use crate::internal::InternalError;
use limits::{
    HEADER_READ_TIMEOUT, MAX_CONNECTIONS, MAX_HEAD_BYTES, MAX_HEADERS, MAX_REFUSING, REFUSAL_LINGER,
};
use wire::ErrorBodies;

/// A socket bound and not yet serving. Binding first lets two services learn
/// each other's addresses (port 0: the OS picks) before either starts serving.
#[derive(Debug)]
pub struct BoundSocket {
    listener: std::net::TcpListener,
    pub addr: SocketAddr,
}

impl BoundSocket {
    pub fn bind(addr: SocketAddr) -> io::Result<BoundSocket> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        Ok(BoundSocket { listener, addr })
    }

    /// Serves `router` on `runtime`, behind the fault middleware.
    pub fn serve(self, runtime: &Handle, router: Router, faults: Arc<ServiceFaults>) -> EdgeServer {
        self.serve_with_cap(runtime, router, faults, MAX_CONNECTIONS)
    }

    /// Serves `router` behind the fault middleware and `beside` outside it:
    /// routes the faults do not touch and the edge does not count (the
    /// service's own `GET /_stats`, `edges.rs`).
    pub fn serve_beside(
        self,
        runtime: &Handle,
        router: Router,
        beside: Router,
        faults: Arc<ServiceFaults>,
    ) -> EdgeServer {
        self.serve_app(
            runtime,
            behind_faults(router, &faults).merge(beside),
            faults,
            MAX_CONNECTIONS,
        )
    }

    /// [`BoundSocket::serve`] with another cap on open connections than
    /// [`MAX_CONNECTIONS`]: for the test that fills it.
    pub fn serve_with_cap(
        self,
        runtime: &Handle,
        router: Router,
        faults: Arc<ServiceFaults>,
        max_connections: usize,
    ) -> EdgeServer {
        let app = behind_faults(router, &faults);
        self.serve_app(runtime, app, faults, max_connections)
    }

    fn serve_app(
        self,
        runtime: &Handle,
        app: Router,
        faults: Arc<ServiceFaults>,
        max_connections: usize,
    ) -> EdgeServer {
        let (stop, stopped) = watch::channel(false);
        let accepting = accept_loop(
            self.listener,
            self.addr,
            app,
            faults,
            stopped,
            max_connections,
        );
        runtime.spawn(accepting);
        EdgeServer {
            addr: self.addr,
            stop,
        }
    }
}

/// `router` behind the fault middleware: counted, and subject to every
/// injected fault. Routes merged in afterwards are neither.
fn behind_faults(router: Router, faults: &Arc<ServiceFaults>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        faults.clone(),
        edge_faults,
    ))
}

/// A running edge server. Dropping it leaves it running; call [`EdgeServer::stop`].
#[derive(Debug)]
pub struct EdgeServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl EdgeServer {
    /// Binds `addr` and serves `router` at once.
    pub fn start(
        runtime: &Handle,
        addr: SocketAddr,
        router: Router,
        faults: Arc<ServiceFaults>,
    ) -> io::Result<EdgeServer> {
        Ok(BoundSocket::bind(addr)?.serve(runtime, router, faults))
    }

    /// Closes the socket and every connection.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    first: std::net::TcpListener,
    addr: SocketAddr,
    app: Router,
    faults: Arc<ServiceFaults>,
    mut stopped: watch::Receiver<bool>,
    max_connections: usize,
) {
    let mut listener = TcpListener::from_std(first).ok();
    let mut state = faults.subscribe();
    let mut connections = JoinSet::new();
    let open = Arc::new(Semaphore::new(max_connections));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    loop {
        let crashed = state.borrow_and_update().crashed;
        if crashed && listener.is_some() {
            listener = None;
            connections.abort_all();
        } else if !crashed && listener.is_none() {
            listener = match rebind(addr, &mut stopped).await {
                Ok(listener) => listener,
                Err(reason) => {
                    faults.internal_errors.record(InternalError::Rebind {
                        service: faults.name,
                        addr,
                        reason,
                    });
                    None
                }
            };
            if listener.is_none() {
                break;
            }
        }
        tokio::select! {
            _ = stopped.changed() => break,
            _ = state.changed() => continue,
            accepted = accept(listener.as_ref()) => {
                let Ok((stream, _peer)) = accepted else { continue };
                // Small requests, answered at once: Nagle would add up to 40 ms.
                let _ = stream.set_nodelay(true);
                match open.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let service = TowerToHyperService::new(app.clone());
                        connections.spawn(serve_connection(stream, service, faults.clone(), permit));
                    }
                    Err(_) => {
                        if let Ok(permit) = refusing.clone().try_acquire_owned() {
                            connections.spawn(refuse_connection(stream, permit));
                        }
                        // Else dropped: refusing must not cost more than serving.
                    }
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

/// Serves one connection with the bounds of [`limits`]; the permit is its
/// place under [`MAX_CONNECTIONS`], given back when it closes.
async fn serve_connection(
    stream: TcpStream,
    service: TowerToHyperService<Router>,
    faults: Arc<ServiceFaults>,
    _permit: OwnedSemaphorePermit,
) {
    let io = TokioIo::new(ErrorBodies::new(stream, faults));
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEAD_BYTES)
        // A client may close its sending side once its request is sent and
        // still wait for the answer (HTTP/1.1 allows it). Without this hyper
        // drops the request at that EOF — after a handler may have acted on
        // it, so the client would never learn of a payment made.
        .half_close(true)
        .serve_connection(io, service)
        .await;
}

/// Answers a connection over the cap `503` and closes it, after reading what
/// the client sent for a moment, so that the close does not reset the
/// connection before the client has read the answer.
async fn refuse_connection(mut stream: TcpStream, _permit: OwnedSemaphorePermit) {
    let answer = ApiError::overloaded("too many connections: this service keeps no more open");
    let linger = async {
        stream.write_all(&answer.to_http_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, linger).await;
}

async fn accept(listener: Option<&TcpListener>) -> io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Binds the address again after a crash: `None` if the server was stopped
/// meanwhile, the last error if every attempt failed. Another process could
/// have taken the port meanwhile; on loopback in a test run that is rare, so
/// retry for a while (200 × 10 ms).
async fn rebind(
    addr: SocketAddr,
    stopped: &mut watch::Receiver<bool>,
) -> Result<Option<TcpListener>, String> {
    let mut last = String::new();
    for _ in 0..200 {
        if *stopped.borrow() {
            return Ok(None);
        }
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(Some(listener)),
            Err(error) => last = error.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(format!(
        "200 attempts over 2 s failed, the last with: {last}"
    ))
}

/// The runtime a service's edge runs on: one per service, as if each were its
/// own process. One worker thread is plenty for loopback I/O on a 2-core machine;
/// the sync variant's real work happens on its own worker pool, not here.
pub fn service_runtime(name: &str) -> io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(format!("{name}-edge"))
        .enable_all()
        .build()
}
