//! Drives steps of load from a plain thread: owns the client runtime, plays
//! one constant-rate step at a time with the harness's generator
//! (`commlab::load::engine`, the one the scenarios are measured with), and
//! checks what a running system did with the load — its payouts, and how long
//! it took to finish the work it accepted.
//!
//! The "work done" check is what makes two maxima comparable: a `202` from
//! the asynchronous variant means "will be paid", from the synchronous one
//! "was paid". Counting payouts per accepted request, and timing how long the
//! last accepted bonus takes to be paid, puts both on the same footing.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use commlab::load::engine::{self, Limits, NoAnswer, Outcome, Record, Shot};
use commlab::measure::new_histogram;
use common::system::System;
use hdrhistogram::Histogram;
use tokio::runtime::Runtime;

use crate::edge::Target;
use crate::floor::client_runtime;

/// 256 connections, the figure oha is run with here (`-c 256`), so the two
/// generators hold the server to the same number of sockets. At loopback
/// latencies 256 connections carry far more than 2 cores can serve; a request
/// due while all are busy waits for one, and its wait is charged to it.
pub const DEFAULT_CONNECTIONS: usize = 256;

/// 2048 requests in flight: a step that passes a 50 ms p99 at even 40,000
/// requests/s has ~2,000 in flight only if nearly every request took 50 ms;
/// a healthy loopback step has a few dozen. Past this the server is stalled
/// and the step fails anyway — shedding keeps the stall from costing memory
/// and sockets without limit.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 2048;

/// A step's first request is due this long after the step is set up, so that
/// building the list of sends is not charged to the first requests.
const START_DELAY: Duration = Duration::from_millis(20);

/// Longest wait for a system to finish its backlog between steps. An
/// overloaded step can leave seconds of work queued (the async consumer
/// catching up); the next step must not start on top of it.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

/// Pause between steps even when nothing is queued: lets sockets of the
/// previous step close and the scheduler calm down.
const PAUSE: Duration = Duration::from_millis(200);

/// How often the backlog is looked at: finer than any bound it is compared
/// against (50 ms), coarse enough to cost nothing.
const POLL: Duration = Duration::from_millis(1);

/// What one step saw.
#[derive(Clone, Debug)]
pub struct StepResult {
    pub rate: f64,
    /// Requests the schedule called for.
    pub scheduled: u64,
    /// `2xx` answers; their latencies are in `latency_us`.
    pub ok: u64,
    /// Non-`2xx` answers and broken or refused connections.
    pub failed: u64,
    /// `failed` by status; status 0 is a transport error (no HTTP answer).
    pub failed_by_status: BTreeMap<u16, u64>,
    /// Due while `DEFAULT_MAX_IN_FLIGHT` were outstanding: never sent.
    pub shed: u64,
    /// Sent, and unanswered within the client timeout.
    pub unfinished: u64,
    /// Latency of every `2xx`, from its scheduled time to its last body byte.
    pub latency_us: Histogram<u64>,
    /// How late every request left (the generator's own error).
    pub lateness_us: Histogram<u64>,
    /// From the first scheduled time to the last answer.
    pub wall: Duration,
}

impl StepResult {
    /// Tallies the engine's records of a step.
    pub fn from_records(rate: f64, shots: &[Shot], records: &[Option<Record>]) -> StepResult {
        let mut step = StepResult {
            rate,
            scheduled: shots.len() as u64,
            ok: 0,
            failed: 0,
            failed_by_status: BTreeMap::new(),
            shed: 0,
            unfinished: 0,
            latency_us: new_histogram(),
            lateness_us: new_histogram(),
            wall: Duration::ZERO,
        };
        let mut last_us = 0;
        for (shot, record) in shots.iter().zip(records) {
            // Never dispatched: only after a stop, which a step never sets.
            let Some(record) = record else {
                step.unfinished += 1;
                continue;
            };
            last_us = last_us.max(record.done_us);
            let latency = record.done_us.saturating_sub(shot.at_us).max(1);
            let lateness = record.sent_us.saturating_sub(shot.at_us).max(1);
            match record.outcome {
                _ if record.is_success() => {
                    step.ok += 1;
                    step.latency_us.saturating_record(latency);
                }
                Outcome::Status(status) => step.fail(status),
                Outcome::NoAnswer(NoAnswer::OverCap) => step.shed += 1,
                Outcome::NoAnswer(NoAnswer::TimedOut | NoAnswer::Interrupted) => {
                    step.unfinished += 1
                }
                Outcome::NoAnswer(NoAnswer::Refused | NoAnswer::Broken) => step.fail(0),
            }
            if record.outcome != Outcome::NoAnswer(NoAnswer::OverCap) {
                step.lateness_us.saturating_record(lateness);
            }
        }
        step.wall = Duration::from_micros(last_us);
        step
    }

    fn fail(&mut self, status: u16) {
        self.failed += 1;
        *self.failed_by_status.entry(status).or_default() += 1;
    }

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

    /// The generator's lateness at a percentile, in µs.
    pub fn lateness_us(&self, percentile: f64) -> u64 {
        self.lateness_us.value_at_quantile(percentile / 100.0)
    }
}

/// The client runtime; steps are dispatched from the caller's thread.
#[derive(Debug)]
pub struct Driver {
    runtime: Runtime,
    pub threads: usize,
}

impl Driver {
    pub fn new(threads: usize) -> io::Result<Driver> {
        let runtime = client_runtime(threads)?;
        Ok(Driver { runtime, threads })
    }

    /// One open-loop step at `rate` for `duration`: requests evenly spaced,
    /// sent round-robin from the target's set. Call from a plain thread: it
    /// is the step's dispatcher.
    pub fn step(&self, target: &Target, rate: f64, duration: Duration) -> StepResult {
        let scheduled = (rate * duration.as_secs_f64()).round().max(1.0) as usize;
        let posts = target.posts();
        let shots: Vec<Shot> = (0..scheduled)
            .map(|n| Shot {
                at_us: (n as f64 * 1e6 / rate) as u64,
                post: n % posts.len(),
            })
            .collect();
        let limits = Limits {
            connections: DEFAULT_CONNECTIONS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        };
        let t0 = Instant::now() + START_DELAY;
        let (never, dispatched) = (AtomicBool::new(false), AtomicU64::new(0));
        let records = engine::play(
            self.runtime.handle(),
            posts,
            &shots,
            t0,
            limits,
            &never,
            &dispatched,
        );
        StepResult::from_records(rate, &shots, &records)
    }
}

/// What a system did with one step's accepted requests.
#[derive(Clone, Copy, Debug)]
pub struct Work {
    /// Payouts the ledger made during the step and its drain.
    pub paid: u64,
    /// From the last answer to the moment payouts reached the accepted
    /// count; `None` if they did not within the limit given.
    pub drained_in: Option<Duration>,
}

/// Waits until `system` has made `expected` payouts more than `before`, for
/// at most `limit`.
pub fn await_payouts(system: &dyn System, before: u64, expected: u64, limit: Duration) -> Work {
    let start = Instant::now();
    loop {
        let paid = system.stats().payouts.saturating_sub(before);
        if paid >= expected {
            return Work {
                paid,
                drained_in: Some(start.elapsed()),
            };
        }
        if start.elapsed() >= limit {
            return Work {
                paid,
                drained_in: None,
            };
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until a system has no work queued (no busy workers, no backlog), so
/// that the next step starts from rest. Returns whether it got there.
pub fn settle(system: Option<&dyn System>) -> bool {
    std::thread::sleep(PAUSE);
    let Some(system) = system else {
        return true;
    };
    let start = Instant::now();
    while start.elapsed() < SETTLE_LIMIT {
        let stats = system.stats();
        if stats.busy_workers == 0 && stats.in_flight_calls == 0 && stats.backlog() == 0 {
            return true;
        }
        std::thread::sleep(PAUSE);
    }
    false
}
