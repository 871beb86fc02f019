//! Connections to one address: HTTP/1.1 on hyper's low-level client
//! (`hyper::client::conn::http1`), opened when needed, at most a fixed number,
//! kept open and reused.
//!
//! Why not a general-purpose client (reqwest, hyper-util's pooled client):
//! their per-request work — URL parsing, proxy and redirect policy, a pool
//! keyed by scheme and host behind a lock, a timer per request — is CPU the
//! generator takes from the system it measures on a 2-core machine, and it
//! made the old generator reach only 54–60 % of oha's rate. Here a request is
//! a pre-built path and body, a connection is taken from a stack, and nothing
//! else happens on the way to the socket.
//!
//! Why not a fixed set opened up front (as oha's `-c`): the generator is
//! open-loop, and the concurrency a system sees must be what the arrivals make
//! it — a hung service collects thousands of requests. Connections open as
//! requests need them, up to the cap the caller sets, and stay open; a request
//! that finds every connection busy waits for one, and its wait is charged to
//! its latency.
//!
//! Next: `engine.rs`, which sends each request at its time through these.

use std::net::SocketAddr;
use std::sync::Mutex;

use bytes::Bytes;
use common::domain::lock;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;

use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Why an exchange got no HTTP answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The connection could not be opened: nobody listens (a crashed service).
    Refused,
    /// The connection broke before the whole answer arrived.
    Broken,
}

/// Connections to one address.
#[derive(Debug)]
pub struct Pool {
    addr: SocketAddr,
    host: HeaderValue,
    /// Open connections not in use, most recently used on top.
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    /// One permit per connection that may exist: open and in use, open and
    /// idle, or about to be opened.
    permits: Semaphore,
}

impl Pool {
    pub fn new(addr: SocketAddr, connections: usize) -> Pool {
        Pool {
            addr,
            host: HeaderValue::from_str(&addr.to_string()).expect("an address is a valid header"),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(connections.max(1)),
        }
    }

    /// Sends `POST path` with a JSON `body` and reads the whole answer; the
    /// status, or why there is none. Call on a tokio runtime. Not bounded in
    /// time itself: the caller's deadline is (dropping this future drops the
    /// connection, which is how a timed-out request ends).
    pub async fn post(&self, path: &Uri, body: &Bytes) -> Result<u16, Failure> {
        let _permit = self.permits.acquire().await.map_err(|_| Failure::Broken)?;
        let mut reused = self.checkout().await;
        // A reused connection may have been closed by the server since it was
        // last used (a crash closes them all). If so, and the request was not
        // written, send it once more on a fresh connection — what any HTTP
        // client does, so that a restart is not counted as a broken request.
        loop {
            let fresh = reused.is_none();
            let mut sender = match reused.take() {
                Some(sender) => sender,
                None => self.connect().await?,
            };
            let request = self.request(path, body);
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    // The answer is only complete with its body, and the
                    // connection can only be reused after it.
                    response
                        .into_body()
                        .collect()
                        .await
                        .map_err(|_| Failure::Broken)?;
                    lock(&self.idle).push(sender);
                    return Ok(status);
                }
                Err(error) if !fresh && error.message().is_some() => continue,
                Err(_) => return Err(Failure::Broken),
            }
        }
    }

    fn request(&self, path: &Uri, body: &Bytes) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = hyper::Method::POST;
        *request.uri_mut() = path.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        request
    }

    /// An idle connection that is still open, if there is one.
    async fn checkout(&self) -> Option<SendRequest<Full<Bytes>>> {
        // Bounded: every pass removes one connection from the stack.
        loop {
            let mut sender = lock(&self.idle).pop()?;
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|_| Failure::Refused)?;
        // Small requests, answered at once: Nagle would hold them for up to 40 ms.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Failure::Broken)?;
        // The connection's driver: reads and writes the socket until it closes
        // or its `SendRequest` is dropped.
        tokio::spawn(connection);
        Ok(sender)
    }
}
