//! The listener every service runs behind: a real HTTP/1.1 server on loopback
//! that can *crash* and come back on the same address.
//!
//! `axum::serve` cannot drop its socket and re-open it, so this is the small accept
//! loop from hyper-util's examples, plus one thing: it watches the service's
//! [`ServiceFaults`]. When the service is marked crashed it closes the listening
//! socket (new connections are refused by the kernel) and aborts every open
//! connection (requests in flight die with it, as they would with the process).
//! When the crash ends it binds the same address again.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::faults::{ServiceFaults, edge_faults};
use crate::internal::InternalError;

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
        let app = router.layer(axum::middleware::from_fn_with_state(
            faults.clone(),
            edge_faults,
        ));
        let (stop, stopped) = watch::channel(false);
        runtime.spawn(accept_loop(self.listener, self.addr, app, faults, stopped));
        EdgeServer {
            addr: self.addr,
            stop,
        }
    }
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
) {
    let mut listener = TcpListener::from_std(first).ok();
    let mut state = faults.subscribe();
    let mut connections = JoinSet::new();
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
                let service = TowerToHyperService::new(app.clone());
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
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
