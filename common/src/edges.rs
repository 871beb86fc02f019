//! The two services' edges, as both variants run them: two loopback sockets, a
//! runtime and a set of fault switches per service, and the link between them.
//!
//! None of this depends on how Incentives and Payments talk to each other, so it
//! lives here once; `sync_variant/src/lib.rs` and `async_variant/src/lib.rs` add
//! only their own parts (pools and calls; a stream, an outbox and a consumer).
//!
//! Starting is two steps. [`Edges::bind`] binds both sockets first, so that each
//! service can learn the other's address (port 0 included) before either serves;
//! [`Edges::serve`] then puts each service's router behind its listener.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::runtime::Runtime;

use crate::faults::{Link, ServiceFaults};
use crate::server::{BoundSocket, EdgeServer, service_runtime};
use crate::system::{Fault, Service, Stats, switch_edge_fault};

/// How long stopping lets each runtime finish. Its tasks only await (the work
/// is on the variants' own threads), so dropping them is immediate; the grace
/// is for a runtime thread caught in the middle of parsing a request.
const RUNTIME_SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Mixed into the run's seed for Payments, so that the two services' fault
/// randomness is independent and both replay with the seed.
const PAYMENTS_SEED_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Both services' sockets, runtimes, fault switches, and the link between them.
#[derive(Debug)]
pub struct Edges {
    pub link: Arc<Link>,
    pub incentives_faults: Arc<ServiceFaults>,
    pub payments_faults: Arc<ServiceFaults>,
    addrs: [SocketAddr; 2],
    /// Bound and not yet serving, until [`Edges::serve`].
    sockets: Option<[BoundSocket; 2]>,
    servers: Vec<EdgeServer>,
    runtimes: [Runtime; 2],
}

impl Edges {
    /// Binds both sockets and builds each service's runtime and fault switches.
    /// A socket that cannot be bound (a taken port) is an error that names the
    /// service and the address.
    pub fn bind(incentives: SocketAddr, payments: SocketAddr, seed: u64) -> io::Result<Edges> {
        let incentives = bind_service("Incentives", incentives)?;
        let payments = bind_service("Payments", payments)?;
        Ok(Edges {
            link: Arc::new(Link::default()),
            incentives_faults: ServiceFaults::new("incentives", seed),
            payments_faults: ServiceFaults::new("payments", seed ^ PAYMENTS_SEED_MIX),
            addrs: [incentives.addr, payments.addr],
            sockets: Some([incentives, payments]),
            servers: Vec::new(),
            runtimes: [service_runtime("incentives")?, service_runtime("payments")?],
        })
    }

    /// Serves each service's router on its socket and runtime. Called once;
    /// a second call has no sockets left and does nothing.
    pub fn serve(&mut self, incentives: Router, payments: Router) {
        let Some([incentives_socket, payments_socket]) = self.sockets.take() else {
            return;
        };
        self.servers = vec![
            incentives_socket.serve(
                self.runtimes[0].handle(),
                incentives,
                self.incentives_faults.clone(),
            ),
            payments_socket.serve(
                self.runtimes[1].handle(),
                payments,
                self.payments_faults.clone(),
            ),
        ];
    }

    pub fn incentives_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn payments_addr(&self) -> SocketAddr {
        self.addrs[1]
    }

    pub fn faults(&self, service: Service) -> &Arc<ServiceFaults> {
        match service {
            Service::Incentives => &self.incentives_faults,
            Service::Payments => &self.payments_faults,
        }
    }

    /// Switches a fault both designs share: one on a service's edge, or the
    /// partition. Returns `false` for the faults each variant handles in its
    /// own terms (the stream, the consumer).
    pub fn switch(&self, fault: &Fault, on: bool) -> bool {
        match *fault {
            Fault::Crash(service)
            | Fault::Hang(service)
            | Fault::Latency(service, _)
            | Fault::Errors(service, _) => switch_edge_fault(self.faults(service), fault, on),
            Fault::Partition => {
                self.link.set_cut(on);
                true
            }
            Fault::StreamDown | Fault::StreamHang | Fault::ConsumerCrash => false,
        }
    }

    /// Stats with both edges' answer counts and both services' internal
    /// errors filled in; the variant adds the rest.
    pub fn stats(&self) -> Stats {
        Stats {
            incentives: self.incentives_faults.counters.snapshot(),
            payments: self.payments_faults.counters.snapshot(),
            internal_errors: self.incentives_faults.internal_errors.count()
                + self.payments_faults.internal_errors.count(),
            ..Stats::default()
        }
    }

    /// Both services' first internal errors, as text.
    pub fn internal_errors(&self) -> Vec<String> {
        let mut reasons = self.incentives_faults.internal_errors.reasons();
        reasons.extend(self.payments_faults.internal_errors.reasons());
        reasons
    }

    /// Closes both listeners, then shuts both runtimes down (dropping every
    /// request a handler was still waiting on). Call from a plain thread.
    pub fn stop(self) {
        for server in &self.servers {
            server.stop();
        }
        for runtime in self.runtimes {
            runtime.shutdown_timeout(RUNTIME_SHUTDOWN_GRACE);
        }
    }
}

/// Binds one service's socket; the error says which service and which address.
fn bind_service(service: &str, addr: SocketAddr) -> io::Result<BoundSocket> {
    BoundSocket::bind(addr).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("{service} cannot listen on {addr}: {error}"),
        )
    })
}
