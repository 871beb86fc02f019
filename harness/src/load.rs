//! The open-loop load generator: every request leaves at its scheduled time,
//! whether or not the earlier ones have been answered.
//!
//! A closed-loop client (send, wait, send the next) slows down when the system
//! slows down and so hides exactly what we want to see — the "coordinated
//! omission" wrk2 was written to avoid. Here a dispatcher walks the schedule
//! and sends each request at its time; latency is measured from the
//! *scheduled* time, so a request that left late because the machine was busy
//! is charged for it.
//!
//! One generator serves the harness and the benches (`benches/src/driver.rs`),
//! with one definition of latency and of lateness, one client timeout and one
//! histogram range. Its parts:
//! - `load/engine.rs`: the open-loop engine — records, outcomes, the bounds;
//! - `load/clock.rs`: the precise wait, split between the dispatcher thread
//!   and the request's task (tokio's timer rounds to the millisecond, which
//!   the old generator reported as latency);
//! - `load/pool.rs`: connections on hyper's low-level HTTP/1.1 client.
//!
//! This file turns a scenario's schedule into the engine's requests, and
//! holds the setup helpers (`set_performances`), which run before t = 0 and
//! are not measured, on an ordinary `reqwest` client ([`client`]).
//!
//! The requests run on the harness's own tokio runtime ([`runtime`], one
//! worker thread in the harness), separate from the variants' runtimes and threads, so
//! they do not share their queues; the dispatcher has a thread of its own.
//! Bounded two ways, so that every run ends: at most [`MAX_IN_FLIGHT`]
//! requests outstanding (one more is not sent and counts as `no_answer`), and
//! every request ends by its scheduled time plus [`CLIENT_TIMEOUT`].
//!
//! Next: `measure.rs` turns the records into availability and latency.

mod clock;
pub mod engine;
mod pool;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use common::api::{BonusRequest, PaymentRequest, PerformanceRequest, Reference};
use common::{BASE_DELIVERY_PAY, CourierId, Performance};
use reqwest::Client;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use engine::{CLIENT_TIMEOUT, Limits, NoAnswer, Outcome, Post, Record, Shot, micros_since};

use crate::host;
use crate::schedule::{Action, Fingerprint, Request};

/// Most requests outstanding at once, and most connections per edge. Each
/// connection holds a socket at both ends — in this one process, since the
/// variants run inside the harness — so this keeps the process well under its
/// file-descriptor limit. It is more than a hung service collects in a suite
/// scenario (≈ 450 requests/s for a few seconds); a request beyond it is not
/// sent and counts as `no_answer`.
pub const MAX_IN_FLIGHT: usize = 4_000;

/// Setup: attempts per courier, and the pause between them.
const SETUP_ATTEMPTS: usize = 5;
const SETUP_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Setup: requests in flight at once. Enough to finish a few hundred couriers
/// in a fraction of a second, few enough not to trip a variant's queue.
const SETUP_CONCURRENCY: usize = 8;

/// The two edges the load is aimed at.
#[derive(Clone, Copy, Debug)]
pub struct Edges {
    pub incentives: SocketAddr,
    pub payments: SocketAddr,
}

/// What the generator did: a record per request (`None` if never dispatched,
/// because the run was interrupted), and the fingerprint of what it dispatched.
#[derive(Debug)]
pub struct Played {
    pub records: Vec<Option<Record>>,
    pub fingerprint: Fingerprint,
    /// The share of the machine's CPU time the hypervisor took while the
    /// requests were played (`host.rs`); `None` where it cannot be read.
    pub host_steal: Option<f64>,
}

/// The runtime the generator's requests run on, with `threads` workers (the
/// harness uses one; the benches' throughput search as many as the machine
/// has cores). Nothing else runs on it.
pub fn runtime(threads: usize) -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("commlab-load")
        .enable_all()
        .build()
}

/// The client of the unmeasured helpers: setup, and reading the payouts back.
pub fn client() -> reqwest::Result<Client> {
    Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .tcp_nodelay(true)
        .no_proxy()
        .build()
}

/// Plays `requests` against `edges`, t = 0 being `t0`. `sent` counts dispatched
/// requests (for the progress bar); `stop` ends the run early (Ctrl-C).
///
/// Spawn it on the generator's runtime: the requests run there, while the
/// dispatcher gets a thread of its own (`load/clock.rs` says why).
pub async fn play(
    requests: Arc<[Request]>,
    edges: Edges,
    t0: Instant,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> Played {
    let runtime = Handle::current();
    let (done, records) = oneshot::channel();
    let dispatcher = std::thread::Builder::new()
        .name("load-dispatcher".to_string())
        .spawn(move || {
            let (posts, shots) = posts(&requests, edges);
            let limits = Limits {
                connections: MAX_IN_FLIGHT,
                max_in_flight: MAX_IN_FLIGHT,
            };
            let (records, steal) = host::steal_during(|| {
                engine::play(&runtime, posts, &shots, t0.into_std(), limits, &stop, &sent)
            });
            let _ = done.send((requests, records, steal));
        });
    let (requests, records, host_steal) = match dispatcher {
        Ok(_) => records.await.expect("the dispatcher does not panic"),
        Err(error) => panic!("cannot start the load dispatcher thread: {error}"),
    };
    // Dispatch is in schedule order, so the dispatched requests are a prefix.
    let mut fingerprint = Fingerprint::default();
    for (request, _) in requests.iter().zip(&records).filter(|(_, r)| r.is_some()) {
        fingerprint.add_request(request);
    }
    Played {
        records,
        fingerprint,
        host_steal,
    }
}

/// The schedule as the engine's requests: one body per request, serialised
/// before t = 0.
fn posts(requests: &[Request], edges: Edges) -> (Arc<[Post]>, Vec<Shot>) {
    let posts = requests
        .iter()
        .map(|request| {
            let courier = request.courier;
            match &request.action {
                Action::Bonus { bonus, id } => Post::new(
                    edges.incentives,
                    &format!("/incentives/bonuses/{courier}"),
                    json(&BonusRequest {
                        bonus_type: *bonus,
                        bonus_id: Some(reference(id)),
                    }),
                ),
                Action::Delivery { id } => Post::new(
                    edges.payments,
                    "/payments",
                    json(&PaymentRequest {
                        courier_id: courier,
                        amount: BASE_DELIVERY_PAY,
                        delivery_id: Some(reference(id)),
                        bonus_id: None,
                    }),
                ),
                Action::Performance { performance } => Post::new(
                    edges.incentives,
                    &format!("/incentives/performance/{courier}"),
                    json(&PerformanceRequest {
                        performance: *performance,
                    }),
                ),
            }
        })
        .collect();
    let shots = requests
        .iter()
        .enumerate()
        .map(|(post, request)| Shot {
            at_us: request.at_us,
            post,
        })
        .collect();
    (posts, shots)
}

fn json(body: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(body).expect("request types serialise")
}

fn performance_request(
    client: &Client,
    incentives: SocketAddr,
    courier: CourierId,
    performance: Performance,
) -> reqwest::RequestBuilder {
    client
        .post(format!(
            "http://{incentives}/incentives/performance/{courier}"
        ))
        .json(&PerformanceRequest { performance })
}

/// The schedule only holds ids it generated (`b-17`), which are valid references.
fn reference(id: &str) -> Reference {
    Reference::parse(id).expect("schedule ids are valid references")
}

/// The setup phase: gives every courier its starting performance, retrying a
/// few times, and fails if any courier could not be set — a run whose starting
/// state is unknown cannot be reconciled.
pub async fn set_performances(
    client: &Client,
    incentives: SocketAddr,
    setup: &[(CourierId, Performance)],
) -> Result<(), String> {
    let permits = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for &(courier, performance) in setup {
        let (client, permits) = (client.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let mut last = String::new();
            for _ in 0..SETUP_ATTEMPTS {
                match performance_request(&client, incentives, courier, performance)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => return Ok(()),
                    Ok(r) => last = format!("answered {}", r.status()),
                    Err(e) => last = e.to_string(),
                }
                tokio::time::sleep(SETUP_RETRY_PAUSE).await;
            }
            Err(format!(
                "setting courier {courier}'s performance failed: {last}"
            ))
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|e| e.to_string())??;
    }
    Ok(())
}
