//! The open-loop load generator: every request leaves at its scheduled time,
//! whether or not the earlier ones have been answered.
//!
//! A closed-loop client (send, wait, send the next) slows down when the system
//! slows down and so hides exactly what we want to see — the "coordinated
//! omission" wrk2 was written to avoid. Here a dispatcher walks the schedule
//! and spawns each request at its time; latency is measured from the
//! *scheduled* time, so a request that left late because the machine was busy
//! is charged for it.
//!
//! The generator runs on its own tokio runtime (`run.rs` builds it, one worker
//! thread: a few hundred requests per second of loopback HTTP cost it a few per
//! cent of a core) with an async `reqwest::Client`, separate from the variants'
//! runtimes and threads, so it does not share their queues. It is bounded two
//! ways, so that every run ends: at most [`MAX_IN_FLIGHT`] requests outstanding
//! (one more is not sent and counts as `no_answer`), and a client timeout of
//! [`CLIENT_TIMEOUT`] per request.
//!
//! Next: `measure.rs` turns the records into availability and latency.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::api::{BonusRequest, PaymentRequest, PerformanceRequest, Reference};
use common::{BASE_DELIVERY_PAY, CourierId, Performance};
use reqwest::Client;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::schedule::{Action, Fingerprint, Request};

/// How long the generator waits for one answer before it gives up and counts
/// `no_answer`. Five times the longest SLO in the suite and five times the sync
/// variant's call timeout: a request that a recovering system answers late is
/// still seen (and counted late), while a request to a hung service cannot hold
/// the run open for long.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Most requests outstanding at once. Each one holds a socket at both ends —
/// in this one process, since the variants run inside the harness — so this
/// keeps the process well under its file-descriptor limit. It is more than a
/// hung service collects in a suite scenario (≈ 450 requests/s for a few
/// seconds); a request beyond it is not sent and counts as `no_answer`.
pub const MAX_IN_FLIGHT: usize = 4_000;

/// After Ctrl-C, how long requests already sent may still finish.
const INTERRUPT_GRACE: Duration = Duration::from_secs(1);

/// How often a waiting dispatcher looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Setup: attempts per courier, and the pause between them.
const SETUP_ATTEMPTS: usize = 5;
const SETUP_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Setup: requests in flight at once. Enough to finish a few hundred couriers
/// in a fraction of a second, few enough not to trip a variant's queue.
const SETUP_CONCURRENCY: usize = 8;

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP answer with this status.
    Status(u16),
    NoAnswer(NoAnswer),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAnswer {
    /// Connection refused: the service is down.
    Refused,
    /// No answer within [`CLIENT_TIMEOUT`].
    TimedOut,
    /// The connection broke mid-request.
    Broken,
    /// Not sent: [`MAX_IN_FLIGHT`] requests were already waiting.
    OverCap,
    /// Still waiting when Ctrl-C stopped the run.
    Interrupted,
}

/// What happened to one request. Times are µs after the run's t = 0.
#[derive(Clone, Copy, Debug)]
pub struct Record {
    pub sent_us: u64,
    /// When the answer (or the failure) arrived.
    pub done_us: u64,
    pub outcome: Outcome,
}

impl Record {
    pub fn is_success(&self) -> bool {
        matches!(self.outcome, Outcome::Status(s) if (200..300).contains(&s))
    }
}

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
}

/// The generator's HTTP client.
pub fn client() -> reqwest::Result<Client> {
    Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .tcp_nodelay(true)
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .no_proxy()
        .build()
}

/// Plays `requests` against `edges`, t = 0 being `t0`. `sent` counts dispatched
/// requests (for the progress bar); `stop` ends the run early (Ctrl-C).
pub async fn play(
    client: Client,
    requests: Arc<[Request]>,
    edges: Edges,
    t0: Instant,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> Played {
    let mut records: Vec<Option<Record>> = vec![None; requests.len()];
    let mut fingerprint = Fingerprint::default();
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut in_flight = JoinSet::new();
    let mut dispatched = 0;
    for (index, request) in requests.iter().enumerate() {
        let due = t0 + Duration::from_micros(request.at_us);
        // Bounded: each wait is at most STOP_POLL, and `due` is at most the
        // scenario's duration away.
        while Instant::now() < due && !stop.load(Ordering::Relaxed) {
            tokio::time::sleep_until(due.min(Instant::now() + STOP_POLL)).await;
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        fingerprint.add_request(request);
        sent.fetch_add(1, Ordering::Relaxed);
        dispatched = index + 1;
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            let now = micros_since(t0);
            records[index] = Some(Record {
                sent_us: now,
                done_us: now,
                outcome: Outcome::NoAnswer(NoAnswer::OverCap),
            });
            continue;
        };
        let (client, requests) = (client.clone(), requests.clone());
        in_flight.spawn(async move {
            let record = send(&client, &requests[index], edges, t0).await;
            drop(permit);
            (index, record)
        });
        while let Some(Ok((i, record))) = in_flight.try_join_next() {
            records[i] = Some(record);
        }
    }
    // Every request left; wait for the answers. Bounded by CLIENT_TIMEOUT,
    // or by INTERRUPT_GRACE after Ctrl-C.
    let mut grace_ends: Option<Instant> = None;
    while !in_flight.is_empty() {
        if stop.load(Ordering::Relaxed) && grace_ends.is_none() {
            grace_ends = Some(Instant::now() + INTERRUPT_GRACE);
        }
        if grace_ends.is_some_and(|end| Instant::now() >= end) {
            in_flight.abort_all();
            break;
        }
        if let Ok(Some(Ok((i, record)))) =
            tokio::time::timeout(STOP_POLL, in_flight.join_next()).await
        {
            records[i] = Some(record);
        }
    }
    // Requests sent but cut off by Ctrl-C: sent, never answered. (Dispatch is
    // in schedule order, so the dispatched ones are a prefix.)
    let now = micros_since(t0);
    for (record, request) in records.iter_mut().zip(requests.iter()).take(dispatched) {
        if record.is_none() {
            *record = Some(Record {
                sent_us: request.at_us,
                done_us: now,
                outcome: Outcome::NoAnswer(NoAnswer::Interrupted),
            });
        }
    }
    Played {
        records,
        fingerprint,
    }
}

/// Sends one request and waits for its whole answer.
async fn send(client: &Client, request: &Request, edges: Edges, t0: Instant) -> Record {
    let sent_us = micros_since(t0);
    let courier = request.courier;
    let builder = match &request.action {
        Action::Bonus { bonus, id } => client
            .post(format!(
                "http://{}/incentives/bonuses/{courier}",
                edges.incentives
            ))
            .json(&BonusRequest {
                bonus_type: *bonus,
                bonus_id: Some(reference(id)),
            }),
        Action::Delivery { id } => client
            .post(format!("http://{}/payments", edges.payments))
            .json(&PaymentRequest {
                courier_id: courier,
                amount: BASE_DELIVERY_PAY,
                delivery_id: Some(reference(id)),
                bonus_id: None,
            }),
        Action::Performance { performance } => {
            performance_request(client, edges.incentives, courier, *performance)
        }
    };
    let outcome = match builder.send().await {
        // Read the whole body: the answer is only complete then, and the
        // connection can go back to the pool.
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(_) => Outcome::Status(status),
                Err(error) => Outcome::NoAnswer(classify(&error)),
            }
        }
        Err(error) => Outcome::NoAnswer(classify(&error)),
    };
    Record {
        sent_us,
        done_us: micros_since(t0),
        outcome,
    }
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

fn classify(error: &reqwest::Error) -> NoAnswer {
    if error.is_timeout() {
        NoAnswer::TimedOut
    } else if error.is_connect() {
        NoAnswer::Refused
    } else {
        NoAnswer::Broken
    }
}

/// µs from `t0` to now; 0 before `t0`.
pub fn micros_since(t0: Instant) -> u64 {
    Instant::now().saturating_duration_since(t0).as_micros() as u64
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
