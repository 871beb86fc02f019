//! Drives steps of load from a plain thread: owns the client runtime and the
//! client, runs one [`crate::load`] step at a time on it, and checks what a
//! running system did with the load — its payouts, and how long it took to
//! finish the work it accepted.
//!
//! The "work done" check is what makes two maxima comparable: a `202` from
//! the asynchronous variant means "will be paid", from the synchronous one
//! "was paid". Counting payouts per accepted request, and timing how long the
//! last accepted bonus takes to be paid, puts both on the same footing.

use std::io;
use std::time::{Duration, Instant};

use common::system::System;
use tokio::runtime::Runtime;

use crate::edge::Target;
use crate::floor::{async_client, client_runtime};
use crate::load::{DEFAULT_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT, Step, StepResult, run_step};

/// How long a step waits for its last answers. Twice the client timeout: a
/// request still unanswered by then has failed anyway.
const DRAIN: Duration = Duration::from_secs(4);

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

/// A client runtime plus its client.
#[derive(Debug)]
pub struct Driver {
    runtime: Runtime,
    client: reqwest::Client,
    pub threads: usize,
}

impl Driver {
    pub fn new(threads: usize) -> io::Result<Driver> {
        let runtime = client_runtime(threads)?;
        let client = async_client().map_err(io::Error::other)?;
        Ok(Driver {
            runtime,
            client,
            threads,
        })
    }

    /// One open-loop step at `rate` for `duration`.
    pub fn step(&self, target: &Target, rate: f64, duration: Duration) -> StepResult {
        let step = Step {
            rate,
            duration,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            drain: DRAIN,
            connections: DEFAULT_CONNECTIONS,
        };
        let task = run_step(self.client.clone(), target.clone(), step);
        // Spawned, not run by `block_on` on this thread: the scheduler runs on
        // the runtime's workers like every request task.
        self.runtime
            .block_on(self.runtime.spawn(task))
            .expect("the load task does not panic")
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
