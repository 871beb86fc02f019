//! What the harness (and the parity tests) drive: a running variant, its two
//! edges, its fault switches and its counters — the same interface for the
//! synchronous and the asynchronous design, so one test or one scenario runs
//! against both.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::faults::{EdgeCounts, Latency, ServiceFaults};
use crate::internal::InternalError;

/// The three systems commlab compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Variant {
    /// Blocking HTTP calls between the services (the reference system).
    #[serde(rename = "sync")]
    Sync,
    /// The same, plus the article's workaround: Incentives buffers bonuses it
    /// could not pay and resends them.
    #[serde(rename = "sync-buffered")]
    SyncBuffered,
    /// The synchronous design with a careful team's defences: deadlines,
    /// budgeted retries, a breaker per dependency, bulkheads, a cache in
    /// Payments, load shedding (`sync_variant/src/resilience.rs`).
    #[serde(rename = "sync-resilient")]
    SyncResilient,
    /// Events through a stream.
    #[serde(rename = "async")]
    Async,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Sync,
        Variant::SyncBuffered,
        Variant::SyncResilient,
        Variant::Async,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Sync => "sync",
            Variant::SyncBuffered => "sync-buffered",
            Variant::SyncResilient => "sync-resilient",
            Variant::Async => "async",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Variant, String> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown variant {s:?}: expected sync, sync-buffered, sync-resilient or async"
                )
            })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Incentives,
    Payments,
}

impl Service {
    pub const BOTH: [Service; 2] = [Service::Incentives, Service::Payments];

    pub fn name(self) -> &'static str {
        match self {
            Service::Incentives => "incentives",
            Service::Payments => "payments",
        }
    }

    /// As people write it: `Incentives`, `Payments`.
    pub fn title(self) -> &'static str {
        match self {
            Service::Incentives => "Incentives",
            Service::Payments => "Payments",
        }
    }

    /// The other one: the service this one talks to.
    pub fn peer(self) -> Service {
        match self {
            Service::Incentives => Service::Payments,
            Service::Payments => Service::Incentives,
        }
    }
}

impl FromStr for Service {
    type Err = String;
    fn from_str(s: &str) -> Result<Service, String> {
        Service::BOTH
            .into_iter()
            .find(|service| service.name() == s)
            .ok_or_else(|| format!("unknown service {s:?}: expected incentives or payments"))
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fault the harness can switch on and off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    Crash(Service),
    Hang(Service),
    Latency(Service, Latency),
    /// The share of requests answered `503`.
    Errors(Service, f64),
    /// The link between the two services is cut; both edges stay up.
    Partition,
    /// The event stream refuses every publish and every read (async only).
    StreamDown,
    /// The event stream stops answering: every publish and every read waits
    /// for an answer that does not come until the hang ends (async only).
    StreamHang,
    /// Payments' consumer dies: it loses its memory and uncommitted progress,
    /// and restarts when the fault ends (async only).
    ConsumerCrash,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Crash(s) => write!(f, "{s} crash"),
            Fault::Hang(s) => write!(f, "{s} hang"),
            Fault::Latency(s, l) => write!(f, "{s} latency {:?} ± {:?}", l.mean, l.jitter),
            Fault::Errors(s, rate) => write!(f, "{s} errors {:.0} %", rate * 100.0),
            Fault::Partition => f.write_str("partition between the services"),
            Fault::StreamDown => f.write_str("stream down"),
            Fault::StreamHang => f.write_str("stream hang"),
            Fault::ConsumerCrash => f.write_str("consumer crash"),
        }
    }
}

/// A fault that makes no sense for a variant: reported, never silently ignored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{fault} does not apply to the {variant} variant: {reason}")]
pub struct NotApplicable {
    pub fault: String,
    pub variant: Variant,
    pub reason: &'static str,
}

/// Counters a variant exposes without HTTP. Fields a variant does not have stay 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub incentives: EdgeCounts,
    pub payments: EdgeCounts,
    /// Sync: worker threads busy, over both services' pools.
    pub busy_workers: u64,
    /// Sync: calls to the other service waiting for an answer.
    pub in_flight_calls: u64,
    /// Sync-buffered: bonuses accepted and waiting in Incentives' buffer.
    pub buffered: u64,
    /// Async: events waiting in Incentives' outbox (not yet on the stream).
    pub outbox: u64,
    /// Async: events on the stream that Payments has not processed yet.
    pub stream_lag: u64,
    /// Payouts the ledger has made.
    pub payouts: u64,
    /// Repeats the ledger refused (redeliveries, resends, client retries).
    pub duplicates_refused: u64,
    /// Sync: jobs waiting in the pools' queues for a worker.
    #[serde(default)]
    pub queued_jobs: u64,
    /// Sync: calls one service made to the other, every attempt counted
    /// (retries, resends and the bonus → payment → performance cycle show
    /// here); the numerator of the harness's amplification.
    #[serde(default)]
    pub peer_calls: u64,
    /// Sync-resilient: of `peer_calls`, retries.
    #[serde(default)]
    pub retries: u64,
    /// Sync-resilient: calls an open circuit breaker refused without trying.
    #[serde(default)]
    pub short_circuited: u64,
    /// Sync-resilient: times a circuit breaker opened.
    #[serde(default)]
    pub breaker_opened: u64,
    /// Sync: requests a pool refused because its queue was full, or pushed
    /// out of a full LIFO queue (load shedding).
    #[serde(default)]
    pub shed: u64,
    /// Sync-resilient: queued requests dropped unrun, their deadline passed.
    #[serde(default)]
    pub expired: u64,
    /// Failures of the variant's own machinery in background work, over both
    /// services (`internal.rs`); a failed control is returned to its caller
    /// instead. Any at all, and the run is not evidence about the design.
    #[serde(default)]
    pub internal_errors: u64,
    /// Async: events Incentives' relay has put on the stream.
    #[serde(default)]
    pub published: u64,
    /// Async: the consumer's position — events Payments has processed. With
    /// `published`, the lag while Payments cannot answer (it was killed, or
    /// hangs, in its own process).
    #[serde(default)]
    pub consumed: u64,
}

impl Stats {
    /// Work accepted at the edge and not yet done: what a fault leaves behind.
    pub fn backlog(&self) -> u64 {
        self.buffered + self.outbox + self.stream_lag
    }

    /// Nothing under way anywhere: no backlog, no queued or running job, no
    /// call between the services, no request inside either edge. Only then
    /// can every payout the run will ever make have been made.
    pub fn is_settled(&self) -> bool {
        self.backlog() == 0
            && self.busy_workers == 0
            && self.in_flight_calls == 0
            && self.queued_jobs == 0
            && self.incentives.in_flight == 0
            && self.payments.in_flight == 0
    }
}

/// Field by field, the sum of two services' counters: what the whole
/// system counts when each service reports its own (`GET /_stats`). Each
/// field of [`Stats::is_settled`] is a count of work under way, so the
/// sum is settled exactly when both parts are.
/// (`Stats::add(a, b)` with `std::ops::Add` in scope, or `a + b`.)
impl std::ops::Add for Stats {
    type Output = Stats;
    fn add(self, other: Stats) -> Stats {
        Stats {
            incentives: self.incentives + other.incentives,
            payments: self.payments + other.payments,
            busy_workers: self.busy_workers + other.busy_workers,
            in_flight_calls: self.in_flight_calls + other.in_flight_calls,
            buffered: self.buffered + other.buffered,
            outbox: self.outbox + other.outbox,
            stream_lag: self.stream_lag + other.stream_lag,
            payouts: self.payouts + other.payouts,
            duplicates_refused: self.duplicates_refused + other.duplicates_refused,
            queued_jobs: self.queued_jobs + other.queued_jobs,
            peer_calls: self.peer_calls + other.peer_calls,
            retries: self.retries + other.retries,
            short_circuited: self.short_circuited + other.short_circuited,
            breaker_opened: self.breaker_opened + other.breaker_opened,
            shed: self.shed + other.shed,
            expired: self.expired + other.expired,
            internal_errors: self.internal_errors + other.internal_errors,
            published: self.published + other.published,
            consumed: self.consumed + other.consumed,
        }
    }
}

/// What one service answers on `GET /_stats`: the counters it owns (the
/// other service's fields are 0) and its first internal errors. The harness
/// adds the two services' reports up ([`Stats::add`]) when each runs in its
/// own process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceReport {
    pub service: Service,
    pub stats: Stats,
    pub internal_errors: Vec<String>,
}

/// One service of a variant, running on its own (`commlab service`): its
/// address, its report, and a clean stop. Both variants implement it.
pub trait RunningService: Send {
    fn service(&self) -> Service;
    fn addr(&self) -> SocketAddr;
    fn report(&self) -> ServiceReport;
    /// Stops it and frees its port. Call from a plain thread.
    fn shutdown(self: Box<Self>);
}

/// A running variant.
pub trait System: Send {
    fn variant(&self) -> Variant;
    fn incentives_addr(&self) -> SocketAddr;
    fn payments_addr(&self) -> SocketAddr;
    fn inject(&self, fault: &Fault) -> Result<(), NotApplicable>;
    /// Ends a fault. Healing a fault that `inject` refused does nothing. An
    /// error is the variant's own failure (a consumer that cannot restart),
    /// never the design's.
    fn heal(&self, fault: &Fault) -> Result<(), InternalError>;
    fn stats(&self) -> Stats;
    /// The first few background internal errors, as text (their count is in
    /// [`Stats::internal_errors`]).
    fn internal_errors(&self) -> Vec<String>;
    /// Stops everything and frees the ports. Call from a plain thread, not
    /// from inside an async runtime.
    fn shutdown(self: Box<Self>);
}

/// So that one test body or one scenario can hold any variant.
impl System for Box<dyn System> {
    fn variant(&self) -> Variant {
        (**self).variant()
    }
    fn incentives_addr(&self) -> SocketAddr {
        (**self).incentives_addr()
    }
    fn payments_addr(&self) -> SocketAddr {
        (**self).payments_addr()
    }
    fn inject(&self, fault: &Fault) -> Result<(), NotApplicable> {
        (**self).inject(fault)
    }
    fn heal(&self, fault: &Fault) -> Result<(), InternalError> {
        (**self).heal(fault)
    }
    fn stats(&self) -> Stats {
        (**self).stats()
    }
    fn internal_errors(&self) -> Vec<String> {
        (**self).internal_errors()
    }
    fn shutdown(self: Box<Self>) {
        (*self).shutdown()
    }
}

/// Switches an edge fault (crash, hang, latency, errors) on a service's
/// controls. Returns `false` for the faults that are not edge faults, which each
/// variant handles in its own terms.
pub fn switch_edge_fault(faults: &ServiceFaults, fault: &Fault, on: bool) -> bool {
    match *fault {
        Fault::Crash(_) => faults.set_crashed(on),
        Fault::Hang(_) => faults.set_hung(on),
        Fault::Latency(_, latency) => faults.set_latency(on.then_some(latency)),
        Fault::Errors(_, rate) => faults.set_error_rate(on.then_some(rate)),
        Fault::Partition | Fault::StreamDown | Fault::StreamHang | Fault::ConsumerCrash => {
            return false;
        }
    }
    true
}
