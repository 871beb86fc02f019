//! A service's edge, as both variants run it: a loopback socket, a runtime and
//! a set of fault switches, and the counters it reports on `GET /_stats`.
//!
//! None of this depends on how Incentives and Payments talk to each other, so it
//! lives here once; `sync_variant/src/service.rs` and `async_variant/src/service.rs`
//! add only their own parts (pools and calls; an outbox, a relay and a consumer).
//! A service is started the same way whether its peer runs in the same process
//! (`start`, both services) or in another one (`commlab service`).
//!
//! Starting is two steps. [`Edge::bind`] binds the socket first, so that in one
//! process each service can learn the other's address (port 0 included) before
//! either serves; [`Edge::serve`] then puts the service's router behind its
//! listener, with `GET /_stats` beside it.
//!
//! `GET /_stats` is the one route outside the fault middleware: it is not
//! counted (a harness polling it must not change `ok` or `in_flight`), and no
//! injected fault delays or fails it. In process mode the faults are signals
//! and sockets, not these switches, so the route still tells the truth about a
//! stopped process: it does not answer.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::runtime::Runtime;

use crate::api::ApiError;
use crate::faults::{Link, ServiceFaults};
use crate::server::{BoundSocket, EdgeServer, service_runtime};
use crate::system::{Fault, Service, ServiceReport, Stats, switch_edge_fault};

/// How long stopping lets the runtime finish. Its tasks only await (the work
/// is on the variants' own threads), so dropping them is immediate; the grace
/// is for a runtime thread caught in the middle of parsing a request.
const RUNTIME_SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Mixed into the run's seed for Payments, so that the two services' fault
/// randomness is independent and both replay with the seed.
const PAYMENTS_SEED_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Where `GET /_stats` is served, on every service's own port.
pub const STATS_PATH: &str = "/_stats";

/// Reads a service's own counters (edge included: [`Edge::counts`]). Called on
/// a blocking thread: it may ask a broker.
pub type StatsSource = Arc<dyn Fn() -> Stats + Send + Sync>;

/// One service's socket, runtime and fault switches.
#[derive(Debug)]
pub struct Edge {
    pub service: Service,
    pub faults: Arc<ServiceFaults>,
    addr: SocketAddr,
    /// Bound and not yet serving, until [`Edge::serve`].
    socket: Option<BoundSocket>,
    server: Option<EdgeServer>,
    runtime: Runtime,
}

impl Edge {
    /// Binds the socket and builds the runtime and the fault switches. A
    /// socket that cannot be bound (a taken port) is an error that names the
    /// service and the address.
    pub fn bind(service: Service, addr: SocketAddr, seed: u64) -> io::Result<Edge> {
        let socket = BoundSocket::bind(addr).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("{} cannot listen on {addr}: {error}", service.title()),
            )
        })?;
        let seed = match service {
            Service::Incentives => seed,
            Service::Payments => seed ^ PAYMENTS_SEED_MIX,
        };
        Ok(Edge {
            service,
            faults: ServiceFaults::new(service.name(), seed),
            addr: socket.addr,
            socket: Some(socket),
            server: None,
            runtime: service_runtime(service.name())?,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves the service's router, and `GET /_stats` from `stats`. Called
    /// once; a second call has no socket left and does nothing.
    pub fn serve(&mut self, router: Router, stats: StatsSource) {
        let Some(socket) = self.socket.take() else {
            return;
        };
        let reporter = Reporter {
            service: self.service,
            faults: self.faults.clone(),
            stats,
        };
        let stats_route = Router::new()
            .route(STATS_PATH, get(answer_stats))
            .with_state(Arc::new(reporter));
        let server = socket.serve_beside(
            self.runtime.handle(),
            router,
            stats_route,
            self.faults.clone(),
        );
        self.server = Some(server);
    }

    /// Stats with this edge's answer counts (in this service's field) and its
    /// internal errors filled in; the variant adds the rest.
    pub fn counts(&self) -> Stats {
        edge_counts(self.service, &self.faults)
    }

    /// This service's first internal errors, as text.
    pub fn internal_errors(&self) -> Vec<String> {
        self.faults.internal_errors.reasons()
    }

    /// Closes the listener, then shuts the runtime down (dropping every
    /// request a handler was still waiting on). Call from a plain thread.
    pub fn stop(self) {
        if let Some(server) = &self.server {
            server.stop();
        }
        self.runtime.shutdown_timeout(RUNTIME_SHUTDOWN_GRACE);
    }
}

/// A service's edge counts and internal errors, as [`Edge::counts`]; for the
/// [`StatsSource`] a variant builds before its edge serves.
pub fn edge_counts(service: Service, faults: &ServiceFaults) -> Stats {
    let counts = faults.counters.snapshot();
    let mut stats = Stats {
        internal_errors: faults.internal_errors.count(),
        ..Stats::default()
    };
    match service {
        Service::Incentives => stats.incentives = counts,
        Service::Payments => stats.payments = counts,
    }
    stats
}

/// Switches a fault both designs share, in one process: one on a service's
/// edge, or the partition. Returns `false` for the faults each variant
/// handles in its own terms (the stream, the consumer).
pub fn switch_shared(fault: &Fault, on: bool, edges: [&Edge; 2], link: &Link) -> bool {
    match *fault {
        Fault::Crash(service)
        | Fault::Hang(service)
        | Fault::Latency(service, _)
        | Fault::Errors(service, _) => {
            let edge = edges.iter().find(|edge| edge.service == service);
            edge.is_some_and(|edge| switch_edge_fault(&edge.faults, fault, on))
        }
        Fault::Partition => {
            link.set_cut(on);
            true
        }
        Fault::StreamDown | Fault::StreamHang | Fault::ConsumerCrash => false,
    }
}

/// What `GET /_stats` reads.
struct Reporter {
    service: Service,
    faults: Arc<ServiceFaults>,
    stats: StatsSource,
}

async fn answer_stats(State(reporter): State<Arc<Reporter>>) -> Response {
    let read = reporter.clone();
    match tokio::task::spawn_blocking(move || (read.stats)()).await {
        Ok(stats) => axum::Json(ServiceReport {
            service: reporter.service,
            stats,
            internal_errors: reporter.faults.internal_errors.reasons(),
        })
        .into_response(),
        Err(error) => ApiError::with_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the counters failed: {error}"),
        )
        .into_response(),
    }
}
