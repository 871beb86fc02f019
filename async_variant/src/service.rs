//! One service of the asynchronous variant, started on its own: its edge, and
//! what only one of the two has (Incentives: the outbox and its relay to the
//! stream; Payments: the ledger, the performance copy, the consumer and, on
//! SQLite storage, its checkpoint).
//!
//! This is the only place an asynchronous service is wired. [`crate::start`]
//! starts both in one process around one backend; `commlab service` starts one
//! per process ([`start_one`]), each with its own connection to the same
//! stream on a broker. The in-process log cannot cross processes, so a service
//! alone needs NATS JetStream.
//!
//! Next: `incentives.rs` and `payments.rs`, what each service does.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use common::api::{incentives_router, payments_router};
use common::domain::lock;
use common::edges::{Edge, StatsSource, edge_counts};
use common::faults::Link;
use common::internal::InternalError;
use common::system::{RunningService, Service, ServiceReport, Stats};

use crate::backend::Backend;
use crate::checkpoint::Checkpoint;
use crate::consumer::{Consumer, ConsumerParts};
use crate::copy::PerformanceCopy;
use crate::head::HeadWatch;
use crate::incentives::Incentives;
use crate::outbox::Relay;
use crate::payments::Payments;
use crate::stream::EventStream;
use crate::{Config, stores};

/// A running asynchronous service.
pub struct AsyncService {
    edge: Edge,
    role: Role,
    stats: StatsSource,
}

/// The background work each service owns.
#[derive(Debug)]
enum Role {
    Incentives {
        relay: Relay,
    },
    Payments {
        /// `None` while crashed ([`common::system::Fault::ConsumerCrash`]).
        consumer: Mutex<Option<Consumer>>,
        /// What a restarted consumer is built from (with a new connection
        /// to the stream: [`stores::consumer_stream`]).
        parts: ConsumerParts,
        /// Where the consumer commits on SQLite storage (`checkpoint.rs`).
        checkpoint: Option<Arc<Checkpoint>>,
        /// Alone in its process: asks the broker for the head (`head.rs`).
        head: Option<HeadWatch>,
    },
}

impl std::fmt::Debug for AsyncService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncService")
            .field("edge", &self.edge)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// How Payments learns the stream's head for its lag. In one process the
/// relay publishes on Payments' own connection, which sees every publish; in
/// its own process a thread asks the broker (`head.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Head {
    Seen,
    Asked,
}

/// Wires one service behind its bound `edge`, on `backend`, and serves it.
pub(crate) fn start_service(
    config: &Config,
    mut edge: Edge,
    backend: &Backend,
    link: Arc<Link>,
    head: Head,
) -> io::Result<AsyncService> {
    let (router, role, stats) = match edge.service {
        Service::Incentives => incentives(config, &edge, backend)?,
        Service::Payments => payments(config, &edge, backend, link, head)?,
    };
    edge.serve(router, stats.clone());
    Ok(AsyncService { edge, role, stats })
}

fn incentives(
    config: &Config,
    edge: &Edge,
    backend: &Backend,
) -> io::Result<(Router, Role, StatsSource)> {
    let (outbox, records) = stores::open_outbox(config, &edge.faults)?;
    let relay = Relay::start(
        outbox.clone(),
        backend.shared(),
        edge.faults.clone(),
        config.batch_size,
    )?;
    let faults = edge.faults.clone();
    let waiting = outbox.clone();
    let stream = backend.shared();
    let stats: StatsSource = Arc::new(move || Stats {
        outbox: waiting.len() as u64,
        published: stream.counters().published,
        ..edge_counts(Service::Incentives, &faults)
    });
    let router = incentives_router(Incentives::new(outbox, records));
    Ok((router, Role::Incentives { relay }, stats))
}

fn payments(
    config: &Config,
    edge: &Edge,
    backend: &Backend,
    link: Arc<Link>,
    head: Head,
) -> io::Result<(Router, Role, StatsSource)> {
    let stream = backend.shared();
    let ledger = stores::open_ledger(config, &edge.faults)?;
    let checkpoint = stores::open_checkpoint(config, backend, &edge.faults)?;
    let copy = Arc::new(PerformanceCopy::new());
    let payments = Payments::new(ledger.clone(), copy.clone(), stream.clone(), link.clone());
    let parts = ConsumerParts {
        stream: stores::consumer_stream(backend, checkpoint.as_ref())?,
        ledger: ledger.clone(),
        copy: copy.clone(),
        faults: edge.faults.clone(),
        link,
        batch_size: config.batch_size,
        commit_interval: config.commit_interval,
    };
    let consumer = Consumer::start(parts.clone())?;
    let head = match head {
        Head::Asked => Some(HeadWatch::start(stream.clone())?),
        Head::Seen => None,
    };
    let faults = edge.faults.clone();
    let stats: StatsSource = Arc::new(move || {
        let (payouts, duplicates_refused) = ledger.counts();
        Stats {
            stream_lag: lag(&*stream, &copy),
            consumed: copy.position(),
            payouts,
            duplicates_refused,
            ..edge_counts(Service::Payments, &faults)
        }
    });
    let role = Role::Payments {
        consumer: Mutex::new(Some(consumer)),
        parts,
        checkpoint,
        head,
    };
    Ok((payments_router(payments), role, stats))
}

/// Events on the stream that Payments has not processed: the head minus the
/// consumer's position. After a consumer crash it restarts from the committed
/// position, so what it will redeliver counts as lag again. (In one process,
/// an event the relay has published and not yet removed from the outbox
/// counts in both, for the microseconds in between.)
fn lag(stream: &dyn EventStream, copy: &PerformanceCopy) -> u64 {
    let published = stream.counters().published;
    published.saturating_sub(copy.position())
}

impl AsyncService {
    pub(crate) fn edge(&self) -> &Edge {
        &self.edge
    }

    pub fn stats(&self) -> Stats {
        (self.stats)()
    }

    /// Payments' performance copy (`None` for Incentives).
    pub(crate) fn copy(&self) -> Option<Arc<PerformanceCopy>> {
        match &self.role {
            Role::Payments { parts, .. } => Some(parts.copy.clone()),
            Role::Incentives { .. } => None,
        }
    }

    /// Payments' consumer dies (`on`) — its copy and uncommitted position
    /// lost — or restarts on a new connection from `backend`. Crashing a
    /// crashed consumer, healing a running one, or either on Incentives does
    /// nothing.
    pub(crate) fn crash_consumer(&self, on: bool, backend: &Backend) -> Result<(), InternalError> {
        let Role::Payments {
            consumer,
            parts,
            checkpoint,
            ..
        } = &self.role
        else {
            return Ok(());
        };
        let mut consumer = lock(consumer);
        match (on, consumer.take()) {
            // Its connection goes with it: on a broker, what it held
            // unacknowledged is redelivered after the ack-wait.
            (true, Some(running)) => running.crash(),
            (false, None) => {
                let restarted = stores::consumer_stream(backend, checkpoint.as_ref())
                    .and_then(|stream| {
                        Consumer::start(ConsumerParts {
                            stream,
                            ..parts.clone()
                        })
                    })
                    .map_err(|error| InternalError::ConsumerRestart(error.to_string()))?;
                *consumer = Some(restarted);
            }
            (_, unchanged) => *consumer = unchanged,
        }
        Ok(())
    }

    /// Stops in an order that lets nothing new start: the listener, then the
    /// runtime (dropping any request a hung service holds), then the relay or
    /// the consumer (joining its thread; it notices within one read wait or
    /// backoff, well under a second).
    pub fn stop(self) {
        self.edge.stop();
        match self.role {
            Role::Incentives { relay } => relay.stop(),
            Role::Payments { consumer, head, .. } => {
                if let Some(head) = head {
                    head.stop();
                }
                let consumer = consumer
                    .into_inner()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(consumer) = consumer {
                    consumer.stop();
                }
            }
        }
    }
}

/// One service alone in its process, with its own connection to the stream.
#[derive(Debug)]
pub struct AsyncOne {
    service: AsyncService,
    backend: Backend,
}

/// Starts `service` alone, listening on `listen`, on the stream called
/// `stream_name` on the broker the configuration names — which both
/// processes reach. Both services are given the same name, so that the two
/// processes, and a service restarted after a crash, meet on it; one name per
/// running system, or two systems would share events. It is not deleted when
/// the service stops (its partner may still run).
pub fn start_one(
    config: &Config,
    service: Service,
    listen: SocketAddr,
    stream_name: &str,
) -> io::Result<AsyncOne> {
    config.validate()?;
    let backend = Backend::open_named(&config.stream, config.stream_capacity, stream_name)?;
    let edge = Edge::bind(service, listen, config.seed)?;
    let link = Arc::new(Link::default());
    let service = start_service(config, edge, &backend, link, Head::Asked)?;
    Ok(AsyncOne { service, backend })
}

impl RunningService for AsyncOne {
    fn service(&self) -> Service {
        self.service.edge.service
    }

    fn addr(&self) -> SocketAddr {
        self.service.edge.addr()
    }

    fn report(&self) -> ServiceReport {
        ServiceReport {
            service: self.service.edge.service,
            stats: self.service.stats(),
            internal_errors: self.service.edge.internal_errors(),
        }
    }

    fn shutdown(self: Box<Self>) {
        let AsyncOne { service, backend } = *self;
        service.stop();
        drop(backend);
    }
}
