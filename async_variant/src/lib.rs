//! The asynchronous variant: Incentives and Payments never call each other.
//! Incentives publishes facts to an event stream; Payments consumes them.
//!
//! # The design
//!
//! ```text
//! POST /incentives/bonuses/7 ──▶ Incentives ──(one transaction)──▶ outbox ──relay──▶ stream
//!   ◀── 202 at once                                                                     │
//!                                                                                       ▼
//! POST /payments ──▶ Payments ◀── performance copy ◀──────────── consumer (bonus → ledger)
//! ```
//!
//! Each service has its own listener and its own small tokio runtime (the edge,
//! shared with the sync variant: `common::api`, `common::server`). Neither has
//! a worker pool: no request waits on the other service, so every request is a
//! few microseconds of local work. The stream is shared memory standing in for
//! a broker (`stream.rs`, with the mapping to NATS JetStream in its doc).
//!
//! # Where time goes
//!
//! Not in requests: a bonus is answered when it is *recorded*, and paid when
//! the consumer reaches its event — normally within a millisecond, after a
//! Payments outage as soon as Payments is back. The backlog in between is
//! visible as `Stats::outbox` (facts not yet on the stream) and
//! `Stats::stream_lag` (events Payments has not processed).
//!
//! # Faults
//!
//! When Payments is down, the stream buffers the bonuses and Incentives does
//! not notice. When Incentives is down, Payments pays deliveries from its copy.
//! What this design pays for it: a copy that can be stale (every payout
//! records how stale), and, while a crashed consumer rebuilds it, deliveries
//! paid at +0 %. See [`AsyncSystem`].
//!
//! # Where to look next
//!
//! `incentives.rs` and `payments.rs` are the behaviour; read them beside
//! `sync_variant/src/incentives.rs` and `sync_variant/src/payments.rs`.
//! `events.rs` holds the two facts, `stream.rs` the log, `outbox.rs` how an
//! event leaves Incentives exactly when its fact is recorded, and
//! `consumer.rs` how Payments applies events, at least once. `service.rs`
//! wires one service — both in this process ([`start`]), or one per process
//! on a broker's stream (`commlab service`, [`start_one`]).

mod backend;
mod checkpoint;
mod consumer;
mod copy;
pub mod events;
mod head;
mod incentives;
pub mod jetstream;
pub mod nats_server;
mod outbox;
mod pause;
mod payments;
mod retry;
mod service;
mod stores;
pub mod stream;

pub use backend::{BackendInfo, StreamChoice};
pub use checkpoint::Checkpoint;
pub use consumer::CONSUMER_NAME;
pub use copy::PerformanceCopy;
pub use service::{AsyncOne, AsyncService, start_one};

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::edges::{Edge, switch_shared};
use common::faults::Link;
use common::internal::InternalError;
use common::store::Storage;
use common::system::{Fault, NotApplicable, Service, Stats, System, Variant};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::service::{Head, start_service};
use crate::stream::EventStream;

/// Everything that shapes a run of the asynchronous variant. Defaults are
/// documented here, once, and set in [`Config::default`]. Written and read as
/// JSON (`commlab service --spec`) with durations in milliseconds, a missing
/// field at its default.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where Incentives listens. Default `127.0.0.1:0`: the OS picks a port.
    pub incentives_addr: SocketAddr,
    /// Where Payments listens. Default `127.0.0.1:0`.
    pub payments_addr: SocketAddr,
    /// Seeds the fault randomness (which events a flaky Payments fails, how
    /// long a slow one waits). Default 1, as in the sync variant, and derived
    /// per service the same way, so that one seed drives both variants alike;
    /// the harness passes its run's seed.
    pub seed: u64,
    /// Events the stream retains; beyond, publishing fails with `Full` (the
    /// events wait in the outbox). Default 4 000 000 ≈ 256 MB of records
    /// ([`stream::RECORD_BYTES`] each) plus the bonus ids: more than a
    /// 10-minute run at 5 000 events/s publishes, so only a test that sets it
    /// small meets `Full` — but a bound, because the log is never trimmed.
    pub stream_capacity: usize,
    /// Events Incentives' outbox holds; beyond, Incentives answers `503
    /// overloaded`. Default 1 000 000 ≈ 40 MB plus ids: a stream outage of
    /// more than three minutes at 5 000 facts/s, and still a bound.
    pub outbox_capacity: usize,
    /// Events per relay publish and per consumer read. Default 256: one lock,
    /// one wake-up and one commit check serve many events, while a batch's
    /// copies stay small (~16 KB); JetStream pull batches are of this order.
    pub batch_size: usize,
    /// How often the consumer commits its position. Default 50 ms. Delivery is
    /// at least once: a consumer crash redelivers what was processed and not
    /// committed, so this bounds the redelivered work to ~50 ms of events
    /// without one broker round trip per event.
    #[serde(rename = "commit_interval_ms", with = "common::millis")]
    pub commit_interval: Duration,
    /// Whether Payments' ledger refuses a repeated reference. Default `true`;
    /// `false` only for the lesson of a scenario with `idempotency = false`
    /// (see `common::ledger`).
    pub idempotent: bool,
    /// Which log carries the events. Default [`StreamChoice::Memory`], the
    /// in-process log; `Nats` puts them on NATS JetStream (`jetstream/`).
    /// Not written: a broker's address belongs to the machine the run is on,
    /// not to the variant (`commlab service --nats URL`).
    #[serde(skip)]
    pub stream: StreamChoice,
    /// Where the services keep their state (`common::store`). Default
    /// memory: the in-process harness needs no disk. Not written: it is a
    /// place on the machine the run is on, not part of the variant
    /// (`commlab service --data-dir DIR`; results record it as `storage`).
    #[serde(skip)]
    pub storage: Storage,
}

impl Default for Config {
    fn default() -> Config {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Config {
            incentives_addr: loopback,
            payments_addr: loopback,
            seed: 1,
            stream_capacity: 4_000_000,
            outbox_capacity: 1_000_000,
            batch_size: 256,
            commit_interval: Duration::from_millis(50),
            idempotent: true,
            stream: StreamChoice::Memory,
            storage: Storage::Memory,
        }
    }
}

impl Config {
    fn validate(&self) -> io::Result<()> {
        let invalid = |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what));
        if self.stream_capacity == 0 || self.outbox_capacity == 0 {
            return invalid("stream_capacity and outbox_capacity must be at least 1");
        }
        if self.batch_size == 0 {
            return invalid("batch_size must be at least 1");
        }
        Ok(())
    }
}

/// Starts both services in this process around one backend, each as
/// `commlab service` would (`service.rs`), sharing one link. Call from a plain
/// thread, not inside an async runtime.
pub fn start(config: Config) -> io::Result<AsyncSystem> {
    config.validate()?;
    let incentives = Edge::bind(Service::Incentives, config.incentives_addr, config.seed)?;
    let payments = Edge::bind(Service::Payments, config.payments_addr, config.seed)?;
    let backend = Backend::open(&config.stream, config.stream_capacity)?;
    let link = Arc::new(Link::default());
    let incentives = match start_service(&config, incentives, &backend, link.clone(), Head::Seen) {
        Ok(incentives) => incentives,
        Err(error) => {
            backend.close();
            return Err(error);
        }
    };
    let payments = match start_service(&config, payments, &backend, link.clone(), Head::Seen) {
        Ok(payments) => payments,
        Err(error) => {
            incentives.stop();
            backend.close();
            return Err(error);
        }
    };
    Ok(AsyncSystem {
        stream: backend.shared(),
        config,
        backend,
        link,
        incentives,
        payments,
    })
}

/// A running asynchronous system.
///
/// Faults, in this design's terms:
///
/// - **Crash, hang, latency, errors** of a service reach its edge through
///   [`Edges::switch`], and its background thread follows: a crashed or
///   hung Incentives stops relaying (its outbox, a database table, is kept); a
///   crashed or hung Payments stops consuming, a slow one is slow on every
///   round trip to the stream, a flaky one fails events it processes. A
///   Payments crash stops the consumer but keeps its memory: the fault that
///   costs the copy is [`Fault::ConsumerCrash`], kept separate so that the
///   harness measures that cost on its own.
/// - **StreamDown**: the stream refuses every publish and read. Incentives
///   still answers `202` (its outbox fills), Payments still pays deliveries
///   (from a copy that ages).
/// - **StreamHang**: the stream stops answering. Every publish and read waits
///   for an answer, up to one request timeout (1 s), then fails; what the
///   hang delays, the relay and the consumer retry. On the private broker
///   the process is stopped (SIGSTOP) and continued (SIGCONT); elsewhere the
///   wait is made on this side (`pause.rs`).
/// - **ConsumerCrash**: on inject the consumer dies — its copy and its
///   uncommitted position are lost, deliveries are paid at +0 % (fallback); on
///   heal it restarts, replays the log to rebuild the copy and resumes from
///   the committed position, redelivering what it had not committed.
/// - **Partition** (a choice: the only link between the services is the
///   stream): Payments' consumer cannot reach the stream — its reads and
///   commits fail — while, on the in-process log, Incentives still
///   publishes. Both edges stay up. On JetStream the partition is a real one
///   between the services and the broker: the relay's and the consumer's TCP
///   connections are cut (`jetstream/partition.rs`), so the relay cannot
///   publish either and the broker redelivers what the consumer held.
#[derive(Debug)]
pub struct AsyncSystem {
    config: Config,
    backend: Backend,
    /// The relay's and Payments' connection to it.
    stream: Arc<dyn EventStream>,
    /// The partition's switch, which the consumer obeys.
    link: Arc<Link>,
    incentives: AsyncService,
    payments: AsyncService,
}

impl AsyncSystem {
    /// The configuration it runs with (the harness writes it into reports).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The stream, for tests and the harness: its counters, and reads of it.
    pub fn stream(&self) -> Arc<dyn EventStream> {
        self.stream.clone()
    }

    /// Which backend carries the events (`memory`, or `nats` and its version).
    pub fn backend(&self) -> BackendInfo {
        self.backend.info()
    }

    /// Payments' performance copy: whether it is rebuilt, how far it got.
    pub fn performance_copy(&self) -> Arc<PerformanceCopy> {
        self.payments
            .copy()
            .expect("Payments keeps the performance copy")
    }

    fn switch(&self, fault: &Fault, on: bool) -> Result<(), InternalError> {
        // Every fault but the stream's and the consumer's is one both
        // designs share; the partition is also real on a broker.
        match *fault {
            Fault::StreamDown => {
                self.backend
                    .set_down(on)
                    .map_err(|error| InternalError::StreamSwitch {
                        direction: if on { "down" } else { "back" },
                        reason: error.to_string(),
                    })?;
            }
            Fault::StreamHang => self.backend.set_hung(on),
            Fault::ConsumerCrash => self.payments.crash_consumer(on, &self.backend)?,
            Fault::Partition => {
                self.shared_switch(fault, on);
                self.backend.set_partitioned(on);
            }
            _ => {
                self.shared_switch(fault, on);
            }
        }
        Ok(())
    }
}

impl AsyncSystem {
    fn shared_switch(&self, fault: &Fault, on: bool) -> bool {
        let edges = [self.incentives.edge(), self.payments.edge()];
        switch_shared(fault, on, edges, &self.link)
    }
}

impl System for AsyncSystem {
    fn variant(&self) -> Variant {
        Variant::Async
    }

    fn incentives_addr(&self) -> SocketAddr {
        self.incentives.edge().addr()
    }

    fn payments_addr(&self) -> SocketAddr {
        self.payments.edge().addr()
    }

    /// Every fault applies to this variant, and injecting one cannot fail
    /// (crashing the consumer only stops a thread).
    fn inject(&self, fault: &Fault) -> Result<(), NotApplicable> {
        self.switch(fault, true)
            .expect("injecting a fault starts nothing, so it cannot fail");
        Ok(())
    }

    fn heal(&self, fault: &Fault) -> Result<(), InternalError> {
        self.switch(fault, false)
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

    /// Stops each service in turn (`AsyncService::stop`), then the backend.
    fn shutdown(self: Box<Self>) {
        let AsyncSystem {
            incentives,
            payments,
            backend,
            stream,
            ..
        } = *self;
        incentives.stop();
        payments.stop();
        drop(stream);
        backend.close();
    }
}
