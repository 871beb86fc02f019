//! The synchronous variant: Incentives and Payments as two HTTP services that
//! call each other with **blocking** HTTP requests, as the reference system
//! (Spring Boot on Tomcat, `RestTemplate`) does.
//!
//! # The design
//!
//! Each service has its own listener and its own small tokio runtime (the edge,
//! shared with the async variant: `common::api`, `common::server`), and its own
//! **bounded pool of worker threads** (`pool.rs`) — thread-per-request. Every
//! request is handed to a worker; a worker that calls the other service
//! (`calls.rs`) parks until the answer comes back.
//!
//! ```text
//! POST /incentives/bonuses/7 ──▶ Incentives worker ──POST /payments──▶ Payments worker
//!                                   (held)                                (held)
//!                                                                            │
//!               Incentives worker ◀──GET /incentives/performance/7───────────┘
//! ```
//!
//! A bonus therefore holds one Incentives worker *and* one Payments worker, and
//! needs a second Incentives worker to finish: the reference system's cycle.
//!
//! # Where time goes
//!
//! In waiting. A healthy call is a loopback round trip (well under a
//! millisecond); a call to a hung or partitioned peer holds its worker for the
//! whole [`Config::call_timeout`]. With [`Config::workers`] workers, a service
//! can then finish at most `workers / call_timeout` requests per second —
//! 16 per second with the defaults — and everything beyond waits in the bounded
//! queue or is refused `503 overloaded`. The harness shows this as starvation.
//!
//! # Faults
//!
//! When Payments is down, a bonus fails (sync) or is buffered and resent
//! (sync-buffered, `buffer.rs`). When Incentives is down, Payments cannot learn
//! performance and follows its [`FailurePolicy`]. A partition cuts the calls
//! between the services; both edges keep answering.
//!
//! # Where to look next
//!
//! `incentives.rs` and `payments.rs` are the behaviour; read them beside
//! `async_variant/src/incentives.rs` and `async_variant/src/payments.rs`.
//! `pool.rs` is thread-per-request, `calls.rs` the blocking client.
//!
//! # sync-resilient
//!
//! The same services with a careful team's defences, each in its own file and
//! each switchable (`resilience.rs`): `deadline.rs`, `retry.rs`, `breaker.rs`,
//! `bulkhead.rs`, `cache.rs`, `shedding.rs`. They act in three places only:
//! the pools (deadlines, shedding, bulkheads), the calls (deadlines, retries,
//! the breaker) and Payments' pricing (the cache).

mod breaker;
mod buffer;
mod bulkhead;
mod cache;
mod calls;
mod deadline;
mod incentives;
mod payments;
mod pool;
mod resilience;
mod retry;
mod shedding;
mod stores;

pub use breaker::BreakerConfig;
pub use buffer::BufferStore;
pub use bulkhead::BulkheadConfig;
pub use cache::CacheConfig;
pub use deadline::{BUDGET_HEADER, DeadlineConfig};
pub use resilience::{MECHANISMS, Resilience};
pub use retry::RetryConfig;
pub use shedding::SheddingConfig;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::api::{incentives_router, payments_router};
use common::edges::Edges;
use common::internal::InternalError;
use common::ledger::Ledger;
use common::store::Storage;
use common::system::{Fault, NotApplicable, Service, Stats, System, Variant};
use serde::Serialize;

use crate::breaker::Breaker;
use crate::buffer::{ResendBuffer, Resender};
use crate::bulkhead::{PoolShape, Pools};
use crate::cache::PerformanceCache;
use crate::calls::Calls;
use crate::incentives::Incentives;
use crate::payments::Payments;
use crate::pool::Process;
use crate::resilience::as_ms;
use crate::retry::Retry;
use crate::shedding::Discipline;
use crate::stores::Stores;

/// Mixed into the seed for Payments' retry jitter, so that the two services'
/// jitter is independent and both replay with the run's seed.
const RETRY_SEED_MIX: u64 = 0x2545_F491_4F6C_DD1D;

/// What Payments does when it cannot learn a courier's performance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// The reference system's silent fallback: pay at +0 %. An under-payment
    /// for a HIGH or OUTSTANDING courier, recorded with
    /// `PerformanceSource::Fallback` so that it can be counted.
    #[default]
    Fallback,
    /// Refuse: answer `503` (or `504` after a timeout) and pay nothing.
    Fail,
}

/// Everything that shapes a run of the synchronous variant. Defaults are
/// documented here, once, and set in [`Config::default`]. Serialised whole
/// into the harness's results, durations in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// Where Incentives listens. Default `127.0.0.1:0`: the OS picks a port.
    pub incentives_addr: SocketAddr,
    /// Where Payments listens. Default `127.0.0.1:0`.
    pub payments_addr: SocketAddr,
    /// Worker threads per service. Default 16: a real Tomcat has 200, but
    /// commlab runs on 2 cores, and 16 is small enough that the harness's
    /// overload scenario (a few hundred requests/s, with a slow dependency)
    /// can hold every worker — which is the behaviour to show — while still
    /// being a realistic *shape* (many more threads than cores, most of them
    /// waiting).
    pub workers: usize,
    /// Requests that may wait for a worker, per service. Default 64 (4 ×
    /// workers, Tomcat's `acceptCount` is 100): absorbs a burst, and bounds the
    /// wait — a request further back than this would wait several call
    /// timeouts, so it is refused `503 overloaded` at once instead. Never
    /// unbounded. 0 means no queue: a request needs an idle worker.
    pub queue: usize,
    /// The longest a call to the other service may take, connect to last byte.
    /// Default 1 s: Spring's `RestTemplate` has no timeout at all by default (a
    /// hung peer holds a thread forever); 1 s is a common production setting,
    /// thousands of times a loopback round trip, and short enough that a fault
    /// phase of a few seconds shows several timed-out generations of calls.
    #[serde(rename = "call_timeout_ms", serialize_with = "as_ms")]
    pub call_timeout: Duration,
    /// What Payments does when Incentives cannot be asked. Default
    /// [`FailurePolicy::Fallback`], because that is what the reference code does.
    pub policy: FailurePolicy,
    /// `false`: the plain synchronous variant ("sync"). `true`: Incentives
    /// buffers bonuses Payments did not take and resends them
    /// ("sync-buffered", the article's workaround). Default `false`.
    pub buffered: bool,
    /// Unpaid bonuses sync-buffered keeps. Default 100 000: far more than a
    /// scenario sends during a fault (a few hundred per second for tens of
    /// seconds), so the harness measures the workaround rather than its limit
    /// — but bounded: when full, a bonus is refused `503 overloaded`.
    pub buffer_capacity: usize,
    /// How often sync-buffered's resender retries. Default 100 ms: a recovered
    /// Payments gets its backlog within a tenth of a second (part of the
    /// time-to-pay the harness measures), while a down Payments sees at most
    /// ten failed attempts per second from it.
    #[serde(rename = "resend_interval_ms", serialize_with = "as_ms")]
    pub resend_interval: Duration,
    /// Seeds the fault randomness (which requests a flaky service fails, how
    /// long a slow one waits) and the retry jitter. Default 1; the harness
    /// passes its run's seed.
    pub seed: u64,
    /// Whether Payments' ledger refuses a repeated reference. Default `true`;
    /// `false` only for the lesson of a scenario with `idempotency = false`
    /// (see `common::ledger`).
    pub idempotent: bool,
    /// sync-resilient's defences; `None` (default) is the plain design.
    /// `Some(Resilience::all())` is the `sync-resilient` preset, which also
    /// sets `policy` to [`FailurePolicy::Fail`]: a careful team refuses
    /// rather than silently under-pays (the cache serves what it can first).
    pub resilience: Option<Resilience>,
    /// Where the services keep their state (`common::store`). Default
    /// memory: the in-process harness needs no disk.
    pub storage: Storage,
    /// Where sync-buffered keeps its unpaid bonuses (`buffer.rs`). Default
    /// memory, as the article describes it: lost when Incentives crashes.
    #[serde(rename = "buffer")]
    pub buffer_store: BufferStore,
}

impl Default for Config {
    fn default() -> Config {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Config {
            incentives_addr: loopback,
            payments_addr: loopback,
            workers: 16,
            queue: 64,
            call_timeout: Duration::from_secs(1),
            policy: FailurePolicy::Fallback,
            buffered: false,
            buffer_capacity: 100_000,
            resend_interval: Duration::from_millis(100),
            seed: 1,
            idempotent: true,
            resilience: None,
            storage: Storage::Memory,
            buffer_store: BufferStore::Memory,
        }
    }
}

impl Config {
    /// The `sync-resilient` preset: every defence on, refusing rather than
    /// under-paying.
    pub fn resilient() -> Config {
        Config {
            resilience: Some(Resilience::all()),
            policy: FailurePolicy::Fail,
            ..Config::default()
        }
    }

    /// The variant this configuration runs: any defence makes it resilient.
    pub fn variant(&self) -> Variant {
        if self.resilience.is_some() {
            Variant::SyncResilient
        } else if self.buffered {
            Variant::SyncBuffered
        } else {
            Variant::Sync
        }
    }

    fn defences(&self) -> Resilience {
        self.resilience.unwrap_or_default()
    }

    /// The shape of each service's main pool and, with bulkheads, its second.
    fn pool_shapes(&self) -> (PoolShape, Option<PoolShape>) {
        let defences = self.defences();
        let (discipline, bound) = match defences.shedding {
            Some(shedding) => (Discipline::Lifo, Some(shedding.queue)),
            None => (Discipline::Fifo, None),
        };
        let main = PoolShape {
            workers: self.workers,
            queue: bound.unwrap_or(self.queue),
            discipline,
        };
        let side = defences.bulkhead.map(|b| PoolShape {
            workers: b.workers,
            queue: bound.unwrap_or(b.queue),
            discipline,
        });
        (main, side)
    }

    fn validate(&self) -> io::Result<()> {
        let invalid = |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what));
        if self.workers == 0 {
            return invalid("workers must be at least 1");
        }
        if self.call_timeout.is_zero() {
            return invalid("call_timeout must be more than zero");
        }
        if self.buffered && (self.buffer_capacity == 0 || self.resend_interval.is_zero()) {
            return invalid(
                "sync-buffered needs a buffer_capacity and a resend_interval above zero",
            );
        }
        if let Err(message) = self.defences().validate() {
            return invalid(&message);
        }
        Ok(())
    }
}

/// Starts both services. Binds both sockets first, so that each service knows
/// the other's address (port 0 included), then serves.
pub fn start(config: Config) -> io::Result<SyncSystem> {
    config.validate()?;
    let defences = config.defences();
    let mut edges = Edges::bind(config.incentives_addr, config.payments_addr, config.seed)?;
    let incentives_process = Process::new(edges.incentives_faults.clone());
    let payments_process = Process::new(edges.payments_faults.clone());

    // Each service's client for its peer, with its own breaker and budget.
    let client = |peer, addr, seed| -> io::Result<Arc<Calls>> {
        let calls = Calls::new(peer, addr, config.call_timeout, edges.link.clone())?
            .with_retry(defences.retry.map(|r| Retry::new(r, seed)))
            .with_breaker(defences.breaker.map(Breaker::new));
        Ok(Arc::new(calls))
    };
    let to_payments = client(Service::Payments, edges.payments_addr(), config.seed)?;
    let to_incentives = client(
        Service::Incentives,
        edges.incentives_addr(),
        config.seed ^ RETRY_SEED_MIX,
    )?;
    let (main, side) = config.pool_shapes();
    let incentives_pools = Pools::start(
        ["incentives", "incentives-performance"],
        main,
        side,
        &incentives_process,
    )?;
    let payments_pools = Pools::start(
        ["payments", "payments-bonuses"],
        main,
        side,
        &payments_process,
    )?;
    let Stores {
        ledger,
        buffer,
        temp_dir,
    } = stores::open(&config, &edges)?;
    let cache = defences.cache.map(|c| Arc::new(PerformanceCache::new(c)));

    let incentives = Incentives::new(
        incentives_pools.clone(),
        to_payments.clone(),
        buffer.clone(),
        incentives_process,
    );
    let payments = Payments::new(
        payments_pools.clone(),
        to_incentives.clone(),
        ledger.clone(),
        config.policy,
        cache,
        payments_process,
    );

    let (mut incentives_router, mut payments_router) =
        (incentives_router(incentives), payments_router(payments));
    if let Some(deadlines) = defences.deadline {
        let stamp = || axum::middleware::from_fn_with_state(deadlines, deadline::stamp);
        incentives_router = incentives_router.layer(stamp());
        payments_router = payments_router.layer(stamp());
    }
    edges.serve(incentives_router, payments_router);
    let resender = match &buffer {
        Some(buffer) => Some(Resender::start(
            buffer.clone(),
            to_payments.clone(),
            edges.incentives_faults.clone(),
            config.resend_interval,
        )?),
        None => None,
    };

    Ok(SyncSystem {
        config,
        edges,
        incentives_pools,
        payments_pools,
        to_payments,
        to_incentives,
        buffer,
        ledger,
        resender,
        temp_dir,
    })
}

/// A running synchronous (sync-buffered, sync-resilient) system.
#[derive(Debug)]
pub struct SyncSystem {
    config: Config,
    edges: Edges,
    incentives_pools: Pools,
    payments_pools: Pools,
    /// Held here as well as by the services, so that the last reference — and
    /// with it the blocking client — is dropped by `shutdown`, on a plain thread.
    to_payments: Arc<Calls>,
    to_incentives: Arc<Calls>,
    buffer: Option<Arc<ResendBuffer>>,
    ledger: Arc<dyn Ledger>,
    resender: Option<Resender>,
    /// The durable buffer's temporary directory (`stores.rs`), removed last.
    temp_dir: Option<tempfile::TempDir>,
}

impl SyncSystem {
    /// The configuration it runs with (the harness writes it into reports).
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn switch(&self, fault: &Fault, on: bool) -> Result<(), NotApplicable> {
        // Every fault but these (the stream's and the consumer's) is one both designs share.
        let reason = match *fault {
            Fault::StreamDown | Fault::StreamHang => "the synchronous variant has no event stream",
            Fault::ConsumerCrash => {
                "the synchronous variant has no consumer: Payments asks Incentives on every payment"
            }
            Fault::Crash(Service::Incentives) => {
                self.edges.switch(fault, on);
                // The process died: a buffer in its memory died with it
                // (the durable one keeps its rows). The bonuses it held were
                // answered `202` and will never be paid: the reconciliation
                // counts them lost.
                if let (true, Some(buffer)) = (on, &self.buffer) {
                    buffer.lose();
                }
                return Ok(());
            }
            _ => {
                self.edges.switch(fault, on);
                return Ok(());
            }
        };
        Err(NotApplicable {
            fault: fault.to_string(),
            variant: self.variant(),
            reason,
        })
    }
}

impl System for SyncSystem {
    fn variant(&self) -> Variant {
        self.config.variant()
    }

    fn incentives_addr(&self) -> SocketAddr {
        self.edges.incentives_addr()
    }

    fn payments_addr(&self) -> SocketAddr {
        self.edges.payments_addr()
    }

    fn inject(&self, fault: &Fault) -> Result<(), NotApplicable> {
        self.switch(fault, true)
    }

    /// Nothing this variant heals can fail: every fault is a switch.
    fn heal(&self, fault: &Fault) -> Result<(), InternalError> {
        // A fault that does not apply was refused by `inject`; nothing to undo.
        let _ = self.switch(fault, false);
        Ok(())
    }

    fn internal_errors(&self) -> Vec<String> {
        self.edges.internal_errors()
    }

    fn stats(&self) -> Stats {
        let (payouts, duplicates_refused) = self.ledger.counts();
        let calls = [&self.to_payments, &self.to_incentives];
        let sum = |count: fn(&Calls) -> u64| calls.iter().map(|c| count(c)).sum::<u64>();
        let pools = [&self.incentives_pools, &self.payments_pools].map(Pools::shed_and_expired);
        Stats {
            busy_workers: self.incentives_pools.busy() + self.payments_pools.busy(),
            in_flight_calls: sum(Calls::in_flight),
            queued_jobs: self.incentives_pools.queued() + self.payments_pools.queued(),
            buffered: self.buffer.as_ref().map_or(0, |b| b.len() as u64),
            payouts,
            duplicates_refused,
            peer_calls: sum(|c| c.counters().attempts.load(Ordering::Relaxed)),
            retries: sum(|c| c.counters().retries.load(Ordering::Relaxed)),
            short_circuited: sum(|c| c.counters().short_circuited.load(Ordering::Relaxed)),
            breaker_opened: sum(Calls::breaker_opened),
            shed: pools[0].0 + pools[1].0,
            expired: pools[0].1 + pools[1].1,
            ..self.edges.stats()
        }
    }

    /// Stops in an order that lets nothing new start: the listeners, then the
    /// runtimes (dropping every handler waiting on a worker), then the
    /// resender and the pools (joining their threads; a worker mid-call
    /// finishes it, at most `call_timeout`), and last the HTTP clients, here.
    fn shutdown(self: Box<Self>) {
        let SyncSystem {
            edges,
            resender,
            incentives_pools,
            payments_pools,
            buffer,
            ledger,
            temp_dir,
            ..
        } = *self;
        edges.stop();
        if let Some(resender) = resender {
            resender.stop();
        }
        incentives_pools.stop();
        payments_pools.stop();
        // The stores close, then the durable buffer's temporary directory
        // goes; the remaining fields, the `Calls` among them, drop here.
        drop((buffer, ledger));
        drop(temp_dir);
    }
}
