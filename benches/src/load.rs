//! A compact open-loop load generator: requests leave on a schedule, not when
//! the previous one returns, and each latency is measured from the time the
//! request was *scheduled* to leave.
//!
//! A closed-loop client (send, wait, send) slows down with the server it
//! measures and so hides its stalls — "coordinated omission". Measuring from
//! the scheduled time charges a stall to every request it delayed, which is
//! what a user would see. `oha --latency-correction` does the same; the
//! throughput binary checks this generator against it on the same endpoint.
//!
//! Where time goes on the client side: one task per request on the client
//! runtime, reqwest's connection pool (a connection per request in flight),
//! and tokio's timer, which wakes the scheduler at millisecond granularity —
//! requests due within the same millisecond leave together (see
//! [`TIMER_SLACK`] for how their latency is counted).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use common::domain::lock;
use hdrhistogram::Histogram;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::edge::Target;

/// How much of the timer's lateness is forgiven. tokio's timer fires on 1 ms
/// ticks, so a request due between two ticks leaves at the next one: up to
/// 1 ms late through no fault of the server. Latency is measured from the
/// scheduled time plus at most this slack — lateness beyond it (a generator
/// that fell behind, a starved machine) is charged, as it must be. oha's
/// `--latency-correction` forgives all of it: it measures from the moment its
/// timer actually fired.
pub const TIMER_SLACK: Duration = Duration::from_millis(1);

/// The histogram's range, in microseconds: 1 µs to 60 s at three significant
/// digits. A loopback round trip is tens of µs; anything past the client's
/// 2 s timeout is an error, not a latency, so 60 s is only headroom.
const HISTOGRAM_MAX_US: u64 = 60_000_000;

/// One constant-rate step.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    /// Requests per second, evenly spaced.
    pub rate: f64,
    /// How long requests keep being scheduled.
    pub duration: Duration,
    /// The most requests the generator keeps in flight. A request due while
    /// this many are outstanding is *shed* (counted, never sent): the
    /// generator's own queue is bounded too. See [`DEFAULT_MAX_IN_FLIGHT`].
    pub max_in_flight: usize,
    /// How long to wait for stragglers once scheduling ends. Whatever has not
    /// answered by then counts as unfinished.
    pub drain: Duration,
    /// Requests *sent* at once, hence connections open at once: a request due
    /// while this many are out waits for one to come back (its wait is
    /// charged to its latency). See [`DEFAULT_CONNECTIONS`].
    pub connections: usize,
}

/// 256 connections, the figure oha is run with here (`-c 256`), so the two
/// generators hold the server to the same number of sockets. Without a cap,
/// a generator answers a slow server by opening more connections, and the
/// server spends its time accepting them — load the generator made up. At
/// loopback latencies 256 connections carry far more than 2 cores can serve.
pub const DEFAULT_CONNECTIONS: usize = 256;

/// 2048 requests in flight: a step that passes a 50 ms p99 at even 40,000
/// requests/s has ~2,000 in flight only if nearly every request took 50 ms;
/// a healthy loopback step has a few dozen. Past this the server is stalled
/// and the step fails anyway — shedding keeps the stall from costing file
/// descriptors (one connection each) without limit.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 2048;

/// What one step saw.
#[derive(Clone, Debug)]
pub struct StepResult {
    pub rate: f64,
    /// Requests the schedule called for.
    pub scheduled: u64,
    /// `2xx` answers; their latencies are in `latency_us`.
    pub ok: u64,
    /// Non-`2xx` answers and transport errors (refused, reset, timed out).
    pub failed: u64,
    /// `failed` by status; status 0 is a transport error (no HTTP answer).
    pub failed_by_status: BTreeMap<u16, u64>,
    /// Due while `max_in_flight` were outstanding: never sent.
    pub shed: u64,
    /// Sent, and still unanswered after the drain.
    pub unfinished: u64,
    /// Latency of every `2xx`, from its scheduled time (see [`TIMER_SLACK`]) to
    /// its last body byte.
    pub latency_us: Histogram<u64>,
    /// From the first scheduled time to the last answer (or the drain's end).
    pub wall: Duration,
}

impl StepResult {
    /// Requests that did not get a `2xx`, over those scheduled.
    pub fn error_share(&self) -> f64 {
        let bad = self.failed + self.shed + self.unfinished;
        bad as f64 / self.scheduled.max(1) as f64
    }

    /// `2xx` answers per second of wall time.
    pub fn achieved_rate(&self) -> f64 {
        self.ok as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// A percentile in milliseconds, or `None` when fewer than `min_samples`
    /// latencies back it (a p99 of 50 samples is one sample's whim).
    pub fn percentile_ms(&self, percentile: f64, min_samples: u64) -> Option<f64> {
        (self.latency_us.len() >= min_samples)
            .then(|| self.latency_us.value_at_quantile(percentile / 100.0) as f64 / 1000.0)
    }
}

#[derive(Debug)]
struct Tally {
    ok: u64,
    failed: u64,
    failed_by_status: BTreeMap<u16, u64>,
    latency_us: Histogram<u64>,
}

/// Runs one step. Call on the client runtime (`floor::client_runtime`).
pub async fn run_step(client: reqwest::Client, target: Target, step: Step) -> StepResult {
    let scheduled = (step.rate * step.duration.as_secs_f64()).round().max(1.0) as u64;
    let interval = 1.0 / step.rate;
    let tally = Arc::new(Mutex::new(Tally {
        ok: 0,
        failed: 0,
        failed_by_status: BTreeMap::new(),
        latency_us: Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, 3)
            .expect("valid histogram bounds"),
    }));
    let connections = Arc::new(Semaphore::new(step.connections.max(1)));
    let mut in_flight = JoinSet::new();
    let mut shed = 0;
    let first = Instant::now();
    for n in 0..scheduled {
        let due = first + Duration::from_secs_f64(n as f64 * interval);
        if due > Instant::now() {
            tokio::time::sleep_until(due).await;
        }
        while in_flight.try_join_next().is_some() {}
        if in_flight.len() >= step.max_in_flight {
            shed += 1;
            continue;
        }
        // Measured from here: the scheduled time, or the timer tick after it.
        let start = Instant::now().min(due + TIMER_SLACK);
        let request = target.get(n);
        let pending = client
            .post(request.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(request.body.clone())
            .send();
        let tally = tally.clone();
        let connections = connections.clone();
        in_flight.spawn(async move {
            let _connection = connections.acquire_owned().await;
            // The status, or 0 when no complete answer came.
            let status = match pending.await {
                // Read the whole body: the answer is not complete before it,
                // and an unread body keeps the connection from being reused.
                Ok(response) => {
                    let status = response.status().as_u16();
                    if response.bytes().await.is_ok() {
                        status
                    } else {
                        0
                    }
                }
                Err(_) => 0,
            };
            let ok = (200..300).contains(&status);
            let latency = start.elapsed();
            let mut tally = lock(&tally);
            if ok {
                tally.ok += 1;
                // Saturates at the histogram's top instead of failing.
                tally
                    .latency_us
                    .saturating_record(latency.as_micros() as u64);
            } else {
                tally.failed += 1;
                *tally.failed_by_status.entry(status).or_default() += 1;
            }
        });
    }
    let drained = tokio::time::timeout(step.drain, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    let unfinished = if drained.is_err() {
        in_flight.len() as u64
    } else {
        0
    };
    in_flight.abort_all();
    let wall = first.elapsed();
    let tally = lock(&tally);
    StepResult {
        rate: step.rate,
        scheduled,
        ok: tally.ok,
        failed: tally.failed,
        failed_by_status: tally.failed_by_status.clone(),
        shed,
        unfinished,
        latency_us: tally.latency_us.clone(),
        wall,
    }
}
