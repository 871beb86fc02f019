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
//! `service.rs` wires one service — the same whether its peer runs in this
//! process ([`start`]) or in another (`commlab service`, [`start_one`]).
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
mod service;
mod shedding;
mod stores;

pub use breaker::BreakerConfig;
pub use buffer::BufferStore;
pub use bulkhead::BulkheadConfig;
pub use cache::CacheConfig;
pub use deadline::{BUDGET_HEADER, DeadlineConfig};
pub use resilience::{MECHANISMS, Resilience};
pub use retry::RetryConfig;
pub use service::{SyncService, start_one};
pub use shedding::SheddingConfig;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::edges::{Edge, switch_shared};
use common::faults::Link;
use common::internal::InternalError;
use common::store::Storage;
use common::system::{Fault, NotApplicable, RunningService, Service, Stats, System, Variant};
use serde::{Deserialize, Serialize};

use crate::bulkhead::PoolShape;
use crate::shedding::Discipline;

/// What Payments does when it cannot learn a courier's performance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
/// into the harness's results, durations in milliseconds; read back the same
/// way (`commlab service --spec`), a missing field at its default.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
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
    #[serde(rename = "call_timeout_ms", with = "common::millis")]
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
    #[serde(rename = "resend_interval_ms", with = "common::millis")]
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
    /// memory: the in-process harness needs no disk. Not written: it is a
    /// place on the machine the run is on, not part of the variant
    /// (`commlab service --data-dir DIR`; results record it as `storage`).
    #[serde(skip)]
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

/// Starts both services in this process. Binds both sockets first, so that
/// each service knows the other's address (port 0 included), then starts each
/// as `commlab service` would (`service.rs`), sharing one link.
pub fn start(config: Config) -> io::Result<SyncSystem> {
    config.validate()?;
    let incentives = Edge::bind(Service::Incentives, config.incentives_addr, config.seed)?;
    let payments = Edge::bind(Service::Payments, config.payments_addr, config.seed)?;
    let link = Arc::new(Link::default());
    let (incentives_addr, payments_addr) = (incentives.addr(), payments.addr());
    let incentives = service::start_service(&config, incentives, payments_addr, link.clone())?;
    let payments = match service::start_service(&config, payments, incentives_addr, link.clone()) {
        Ok(payments) => payments,
        Err(error) => {
            incentives.stop();
            return Err(error);
        }
    };
    Ok(SyncSystem {
        config,
        link,
        incentives,
        payments,
    })
}

/// A running synchronous (sync-buffered, sync-resilient) system: both
/// services in one process.
#[derive(Debug)]
pub struct SyncSystem {
    config: Config,
    /// The partition's switch, which both services' clients obey.
    link: Arc<Link>,
    incentives: SyncService,
    payments: SyncService,
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
                let edges = [self.incentives.edge(), self.payments.edge()];
                switch_shared(fault, on, edges, &self.link);
                // The process died: a buffer in its memory died with it
                // (the durable one keeps its rows). The bonuses it held were
                // answered `202` and will never be paid: the reconciliation
                // counts them lost. (In process mode, `kill -9` does this.)
                if let (true, Some(buffer)) = (on, self.incentives.buffer()) {
                    buffer.lose();
                }
                return Ok(());
            }
            _ => {
                let edges = [self.incentives.edge(), self.payments.edge()];
                switch_shared(fault, on, edges, &self.link);
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
        self.incentives.addr()
    }

    fn payments_addr(&self) -> SocketAddr {
        self.payments.addr()
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
        let mut reasons = self.incentives.edge().internal_errors();
        reasons.extend(self.payments.edge().internal_errors());
        reasons
    }

    /// Each service's own counters, added up.
    fn stats(&self) -> Stats {
        self.incentives.stats() + self.payments.stats()
    }

    /// Stops each service in turn (`SyncService::stop`).
    fn shutdown(self: Box<Self>) {
        let SyncSystem {
            incentives,
            payments,
            ..
        } = *self;
        incentives.stop();
        payments.stop();
    }
}
