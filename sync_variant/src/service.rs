//! One service of the synchronous variant, started on its own: its edge, its
//! worker pools, its blocking client for its peer, and what only one of the two
//! has (Incentives: its records, sync-buffered's buffer and resender;
//! Payments: the ledger and sync-resilient's cache).
//!
//! This is the only place a synchronous service is wired. [`crate::start`]
//! starts both in one process, each with the other's address; `commlab
//! service` starts one per process ([`start_one`]) with its peer's address —
//! which may be a proxy's. The peer is only ever an address: nothing here
//! knows whether it is in this process or another.
//!
//! Next: `incentives.rs` and `payments.rs`, what each service does.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use common::api::{incentives_router, payments_router};
use common::edges::{Edge, StatsSource, edge_counts};
use common::faults::Link;
use common::ledger::Ledger;
use common::records::{Records, RecordsTable};
use common::system::{RunningService, Service, ServiceReport, Stats};

use crate::breaker::Breaker;
use crate::buffer::{ResendBuffer, Resender};
use crate::bulkhead::Pools;
use crate::cache::PerformanceCache;
use crate::calls::Calls;
use crate::incentives::Incentives;
use crate::payments::Payments;
use crate::pool::Process;
use crate::retry::Retry;
use crate::{Config, deadline, stores};

/// Mixed into the seed for Payments' retry jitter, so that the two services'
/// jitter is independent and both replay with the run's seed.
const RETRY_SEED_MIX: u64 = 0x2545_F491_4F6C_DD1D;

/// A running synchronous service.
pub struct SyncService {
    edge: Edge,
    pools: Pools,
    /// Held here as well as by the service, so that the last reference — and
    /// with it the blocking client — is dropped by `shutdown`, on a plain thread.
    calls: Arc<Calls>,
    resender: Option<Resender>,
    /// Incentives in sync-buffered: the bonuses waiting to be resent.
    buffer: Option<Arc<ResendBuffer>>,
    /// A durable buffer's temporary directory (`stores.rs`), removed last.
    temp_dir: Option<tempfile::TempDir>,
    stats: StatsSource,
}

impl std::fmt::Debug for SyncService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncService")
            .field("edge", &self.edge)
            .field("pools", &self.pools)
            .field("calls", &self.calls)
            .field("resender", &self.resender)
            .finish_non_exhaustive()
    }
}

/// Starts `service` alone, listening on `listen`, calling its peer at `peer`.
/// The link is its own: in another process, a partition is cut on the wire
/// (the harness's proxies), not with a switch.
pub fn start_one(
    config: &Config,
    service: Service,
    listen: SocketAddr,
    peer: SocketAddr,
) -> io::Result<SyncService> {
    config.validate()?;
    let edge = Edge::bind(service, listen, config.seed)?;
    start_service(config, edge, peer, Arc::new(Link::default()))
}

/// Wires one service behind its bound `edge` and serves it.
pub(crate) fn start_service(
    config: &Config,
    mut edge: Edge,
    peer: SocketAddr,
    link: Arc<Link>,
) -> io::Result<SyncService> {
    let service = edge.service;
    let defences = config.defences();
    let process = Process::new(edge.faults.clone());
    let seed = match service {
        Service::Incentives => config.seed,
        Service::Payments => config.seed ^ RETRY_SEED_MIX,
    };
    let calls = Calls::new(service.peer(), peer, config.call_timeout, link)?
        .with_retry(defences.retry.map(|r| Retry::new(r, seed)))
        .with_breaker(defences.breaker.map(Breaker::new));
    let calls = Arc::new(calls);
    let (main, side) = config.pool_shapes();
    let names = match service {
        Service::Incentives => ["incentives", "incentives-performance"],
        Service::Payments => ["payments", "payments-bonuses"],
    };
    let pools = Pools::start(names, main, side, &process)?;
    let parts = Parts {
        pools: pools.clone(),
        calls: calls.clone(),
        buffer: None,
        ledger: None,
    };
    let (buffer, temp_dir) = match service {
        Service::Incentives => stores::buffer(config, &edge.faults)?,
        Service::Payments => (None, None),
    };
    let (router, parts) = match service {
        Service::Incentives => incentives(
            parts,
            buffer,
            process,
            stores::records(config, &edge.faults)?,
        ),
        Service::Payments => payments(
            config,
            parts,
            stores::ledger(config, &edge.faults)?,
            process,
        ),
    };
    let mut router = router;
    if let Some(deadlines) = defences.deadline {
        router = router.layer(axum::middleware::from_fn_with_state(
            deadlines,
            deadline::stamp,
        ));
    }
    let buffer = parts.buffer.clone();
    let stats = parts.stats_source(service, &edge);
    edge.serve(router, stats.clone());
    let resender = match &buffer {
        Some(buffer) => Some(Resender::start(
            buffer.clone(),
            calls.clone(),
            edge.faults.clone(),
            config.resend_interval,
        )?),
        None => None,
    };
    Ok(SyncService {
        edge,
        pools,
        calls,
        resender,
        buffer,
        temp_dir,
        stats,
    })
}

/// What a service's counters are read from.
struct Parts {
    pools: Pools,
    calls: Arc<Calls>,
    /// Incentives in sync-buffered: the bonuses waiting to be resent.
    buffer: Option<Arc<ResendBuffer>>,
    /// Payments: what it paid.
    ledger: Option<Arc<dyn Ledger>>,
}

fn incentives(
    mut parts: Parts,
    buffer: Option<Arc<ResendBuffer>>,
    process: Arc<Process>,
    records: (Records, Option<RecordsTable>),
) -> (Router, Parts) {
    parts.buffer = buffer;
    let incentives = Incentives::new(
        parts.pools.clone(),
        parts.calls.clone(),
        parts.buffer.clone(),
        process,
        records,
    );
    (incentives_router(incentives), parts)
}

fn payments(
    config: &Config,
    mut parts: Parts,
    ledger: Arc<dyn Ledger>,
    process: Arc<Process>,
) -> (Router, Parts) {
    let cache = config
        .defences()
        .cache
        .map(|c| Arc::new(PerformanceCache::new(c)));
    let payments = Payments::new(
        parts.pools.clone(),
        parts.calls.clone(),
        ledger.clone(),
        config.policy,
        cache,
        process,
    );
    parts.ledger = Some(ledger);
    (payments_router(payments), parts)
}

impl Parts {
    /// This service's own counters: its pools, its calls to its peer, its
    /// buffer or its ledger, and its edge.
    fn stats_source(self, service: Service, edge: &Edge) -> StatsSource {
        let faults = edge.faults.clone();
        Arc::new(move || {
            let (payouts, duplicates_refused) = self.ledger.as_ref().map_or((0, 0), |l| l.counts());
            let counters = self.calls.counters();
            let (shed, expired) = self.pools.shed_and_expired();
            Stats {
                busy_workers: self.pools.busy(),
                in_flight_calls: self.calls.in_flight(),
                queued_jobs: self.pools.queued(),
                buffered: self.buffer.as_ref().map_or(0, |b| b.len() as u64),
                payouts,
                duplicates_refused,
                peer_calls: counters.attempts.load(Ordering::Relaxed),
                retries: counters.retries.load(Ordering::Relaxed),
                short_circuited: counters.short_circuited.load(Ordering::Relaxed),
                breaker_opened: self.calls.breaker_opened(),
                shed,
                expired,
                ..edge_counts(service, &faults)
            }
        })
    }
}

impl SyncService {
    pub(crate) fn edge(&self) -> &Edge {
        &self.edge
    }

    /// sync-buffered's buffer, when this is its Incentives.
    pub(crate) fn buffer(&self) -> Option<&Arc<ResendBuffer>> {
        self.buffer.as_ref()
    }

    pub fn stats(&self) -> Stats {
        (self.stats)()
    }

    /// Stops in an order that lets nothing new start: the listener, then the
    /// runtime (dropping every handler waiting on a worker), then the resender
    /// and the pools (joining their threads; a worker mid-call finishes it,
    /// at most `call_timeout`), and last the HTTP client, here.
    pub fn stop(self) {
        let SyncService {
            edge,
            pools,
            resender,
            buffer,
            temp_dir,
            ..
        } = self;
        edge.stop();
        if let Some(resender) = resender {
            resender.stop();
        }
        pools.stop();
        // The buffer closes, then its temporary directory goes; the remaining
        // fields, the `Calls` among them, drop here.
        drop(buffer);
        drop(temp_dir);
    }
}

impl RunningService for SyncService {
    fn service(&self) -> Service {
        self.edge.service
    }

    fn addr(&self) -> SocketAddr {
        self.edge.addr()
    }

    fn report(&self) -> ServiceReport {
        ServiceReport {
            service: self.edge.service,
            stats: self.stats(),
            internal_errors: self.edge.internal_errors(),
        }
    }

    fn shutdown(self: Box<Self>) {
        self.stop();
    }
}
