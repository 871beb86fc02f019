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

mod buffer;
mod calls;
mod incentives;
mod payments;
mod pool;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::api::{incentives_router, payments_router};
use common::edges::Edges;
use common::internal::InternalError;
use common::ledger::Ledger;
use common::system::{Fault, NotApplicable, Service, Stats, System, Variant};

use crate::buffer::{ResendBuffer, Resender};
use crate::calls::Calls;
use crate::incentives::Incentives;
use crate::payments::Payments;
use crate::pool::{Pool, Process};

/// What Payments does when it cannot learn a courier's performance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
/// documented here, once, and set in [`Config::default`].
#[derive(Clone, Debug)]
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
    pub resend_interval: Duration,
    /// Seeds the fault randomness (which requests a flaky service fails, how
    /// long a slow one waits). Default 1; the harness passes its run's seed.
    pub seed: u64,
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
        }
    }
}

impl Config {
    /// The variant this configuration runs.
    pub fn variant(&self) -> Variant {
        if self.buffered {
            Variant::SyncBuffered
        } else {
            Variant::Sync
        }
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
        Ok(())
    }
}

/// Starts both services. Binds both sockets first, so that each service knows
/// the other's address (port 0 included), then serves.
pub fn start(config: Config) -> io::Result<SyncSystem> {
    config.validate()?;
    let mut edges = Edges::bind(config.incentives_addr, config.payments_addr, config.seed)?;
    let incentives_process = Process::new(edges.incentives_faults.clone());
    let payments_process = Process::new(edges.payments_faults.clone());

    let to_payments = Arc::new(Calls::new(
        Service::Payments,
        edges.payments_addr(),
        config.call_timeout,
        edges.link.clone(),
    )?);
    let to_incentives = Arc::new(Calls::new(
        Service::Incentives,
        edges.incentives_addr(),
        config.call_timeout,
        edges.link.clone(),
    )?);
    let incentives_pool = Arc::new(Pool::start(
        "incentives",
        config.workers,
        config.queue,
        incentives_process.clone(),
    )?);
    let payments_pool = Arc::new(Pool::start(
        "payments",
        config.workers,
        config.queue,
        payments_process.clone(),
    )?);
    let buffer = config
        .buffered
        .then(|| Arc::new(ResendBuffer::new(config.buffer_capacity)));
    let ledger = Arc::new(Ledger::default());

    let incentives = Incentives::new(
        incentives_pool.clone(),
        to_payments.clone(),
        buffer.clone(),
        incentives_process,
    );
    let payments = Payments::new(
        payments_pool.clone(),
        to_incentives.clone(),
        ledger.clone(),
        config.policy,
        payments_process,
    );

    edges.serve(incentives_router(incentives), payments_router(payments));
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
        incentives_pool,
        payments_pool,
        to_payments,
        to_incentives,
        buffer,
        ledger,
        resender,
    })
}

/// A running synchronous (or sync-buffered) system.
#[derive(Debug)]
pub struct SyncSystem {
    config: Config,
    edges: Edges,
    incentives_pool: Arc<Pool>,
    payments_pool: Arc<Pool>,
    /// Held here as well as by the services, so that the last reference — and
    /// with it the blocking client — is dropped by `shutdown`, on a plain thread.
    to_payments: Arc<Calls>,
    to_incentives: Arc<Calls>,
    buffer: Option<Arc<ResendBuffer>>,
    ledger: Arc<Ledger>,
    resender: Option<Resender>,
}

impl SyncSystem {
    /// The configuration it runs with (the harness writes it into reports).
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn switch(&self, fault: &Fault, on: bool) -> Result<(), NotApplicable> {
        // Every fault but these two is one both designs share.
        let reason = match *fault {
            Fault::StreamDown => "the synchronous variant has no event stream",
            Fault::ConsumerCrash => {
                "the synchronous variant has no consumer: Payments asks Incentives on every payment"
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
        Stats {
            busy_workers: self.incentives_pool.busy() + self.payments_pool.busy(),
            in_flight_calls: self.to_payments.in_flight() + self.to_incentives.in_flight(),
            buffered: self.buffer.as_ref().map_or(0, |b| b.len() as u64),
            payouts,
            duplicates_refused,
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
            incentives_pool,
            payments_pool,
            ..
        } = *self;
        edges.stop();
        if let Some(resender) = resender {
            resender.stop();
        }
        incentives_pool.stop();
        payments_pool.stop();
        // The remaining fields, the `Calls` among them, drop here.
    }
}
