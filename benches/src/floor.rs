//! The floor: the cheapest thing each design could possibly do, measured with
//! the very stacks the variants use, so that every other figure can be read as
//! "how many floors does this cost".
//!
//! - [`FloorServer`]: one bare HTTP round trip. The same listener
//!   (`common::server::EdgeServer`, with its fault middleware switched off but
//!   still in the path), on the same single-worker `service_runtime`, with a
//!   handler that does nothing but answer the `202` every edge operation
//!   answers. What an edge operation costs above this is JSON parsing, domain
//!   work and — in the synchronous variant — the hand-offs to worker pools and
//!   the nested calls.
//! - [`async_client`] and [`blocking_client`]: the two HTTP clients in play.
//!   The async one is what the harness drives the edges with; the blocking one
//!   is what a synchronous service calls its peer with (`sync_variant`'s
//!   `calls.rs`), configured the same way.
//!
//! The floor of the in-process stream (a bare crossbeam-channel hand-off) lives
//! with the stream's own pipeline, in [`crate::pipeline`].

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::post;
use common::faults::ServiceFaults;
use common::server::{EdgeServer, service_runtime};
use tokio::runtime::Runtime;

use crate::edge::{Request, Target};

/// The floor's path. Any path would do; this one says what it is in logs.
pub const FLOOR_PATH: &str = "/floor";

/// The body the floor's clients send: the size and shape of a bonus request,
/// so that the floor moves as many bytes as the cheapest edge operation.
pub const FLOOR_BODY: &str = r#"{"bonusType":"BIG"}"#;

/// The answer: what the edge answers a bonus, byte for byte in shape
/// (`common::api::Accepted`), written once instead of serialised per request.
const FLOOR_ANSWER: &str = r#"{"status":"accepted","reference":"floor"}"#;

/// The longest any single benchmark request may take: the load generator's
/// (one client timeout for every client the benches run). Loopback answers
/// in well under a millisecond; the timeout turns a broken run into an error
/// instead of a hang.
pub use commlab::load::CLIENT_TIMEOUT;

/// A bare endpoint on its own runtime, exactly as a service's edge is set up.
#[derive(Debug)]
pub struct FloorServer {
    server: EdgeServer,
    /// Dropped last: the server's tasks run on it.
    runtime: Runtime,
}

impl FloorServer {
    /// Binds `127.0.0.1:0` and serves the trivial handler.
    pub fn start() -> io::Result<FloorServer> {
        let runtime = service_runtime("floor")?;
        let router = Router::new().route(FLOOR_PATH, post(answer));
        // The seed only drives injected faults, and none is injected here.
        let faults = ServiceFaults::new("floor", 1);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let server = EdgeServer::start(runtime.handle(), addr, router, faults)?;
        Ok(FloorServer { server, runtime })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The one request the floor answers.
    pub fn target(&self) -> Target {
        Target::single(Request::new(
            &format!("http://{}{FLOOR_PATH}", self.addr()),
            Bytes::from_static(FLOOR_BODY.as_bytes()),
        ))
    }

    /// Stops serving and shuts the runtime down. Call from a plain thread.
    pub fn stop(self) {
        self.server.stop();
        self.runtime.shutdown_timeout(Duration::from_secs(1));
    }
}

/// The trivial handler: reads the body (hyper would drain it anyway) and
/// answers a constant `202`.
async fn answer(body: Bytes) -> impl IntoResponse {
    drop(body);
    (
        StatusCode::ACCEPTED,
        [(CONTENT_TYPE, "application/json")],
        FLOOR_ANSWER,
    )
}

/// The client of the criterion round-trip benches (one request at a time,
/// closed loop: a cost per request, not a rate): async reqwest, no proxy,
/// Nagle off (as the servers have it), a timeout so that a broken run fails
/// instead of hanging. Open-loop load goes through `commlab::load`.
/// Build it inside or outside a runtime; use it on one.
pub fn async_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .timeout(CLIENT_TIMEOUT)
        .build()
}

/// The synchronous variant's inter-service client, set up as in
/// `sync_variant/src/calls.rs`: `reqwest::blocking` runs its own tokio runtime
/// on an internal thread and parks the caller for the whole call — the extra
/// thread hop per call is part of what the floor measures. Build and drop it
/// outside any async runtime.
pub fn blocking_client() -> reqwest::Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .timeout(CLIENT_TIMEOUT)
        .connect_timeout(CLIENT_TIMEOUT)
        .build()
}

/// The client runtime: separate from every server's, as a load generator on
/// another machine would be. `threads` worker threads; benchmarks use 1 (one
/// request at a time), the throughput search as many as there are cores.
pub fn client_runtime(threads: usize) -> io::Result<Runtime> {
    commlab::load::runtime(threads)
}
