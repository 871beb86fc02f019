//! The open-loop engine both the harness and the benches drive: a list of
//! requests, each with the time it is due, sent at those times whatever
//! happened to the earlier ones, each ending in a [`Record`].
//!
//! Where time goes, and what is counted as what:
//!
//! ```text
//! due ──(clock.rs: hand-off, then the task's wait)──▶ sent ──(pool.rs: a connection)──▶ answer read
//!  └──────────── lateness ───────────┘
//!  └────────────────────────────────── latency ─────────────────────────────┘
//! ```
//!
//! - **latency** runs from the *scheduled* time to the last byte of the answer.
//!   A request the generator sent late is charged for it, so a stall anywhere —
//!   the server, the machine, the generator — cannot hide ("coordinated
//!   omission"). There is no slack: oha's `--latency-correction` measures the
//!   same way.
//! - **lateness** runs from the scheduled time to the moment the request's
//!   task, awake on the client runtime, found its time had come and started
//!   the exchange. It is the generator's own error, reported with every run
//!   so that a reader can see it was small beside the latencies.
//!
//! A dedicated dispatcher thread (the caller's) walks the list and hands each
//! request to the caller's tokio runtime shortly before its due time; the
//! request's task waits out the rest (`clock.rs`). Bounded two ways, so that
//! every run ends: at most `max_in_flight` requests outstanding (one more is
//! not sent: [`NoAnswer::OverCap`]),
//! and every request ends by its scheduled time plus [`CLIENT_TIMEOUT`].
//!
//! Next: `load.rs` (the harness's schedules) and `benches/src/driver.rs`
//! (constant-rate steps) build the lists this engine plays.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Uri;
use tokio::runtime::Handle;

use super::clock::{arrive, sleep_until_lead};
use super::pool::{Failure, Pool};

/// How long the generator waits for an answer, counted from the request's
/// scheduled time, before it gives up and counts `no_answer`. Five times the
/// longest SLO in the suite and five times the sync variant's call timeout: a
/// request that a recovering system answers late is still seen (and counted
/// late), while a request to a hung service cannot hold a run open for long.
/// The benches use the same: a step whose requests take seconds fails its
/// latency bound long before this matters.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// After a stop (Ctrl-C), how long requests already sent may still finish.
const INTERRUPT_GRACE: Duration = Duration::from_secs(1);

/// How often the dispatcher looks whether the last requests have finished.
const FINISH_POLL: Duration = Duration::from_millis(1);

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
    /// No answer within [`CLIENT_TIMEOUT`] of the scheduled time.
    TimedOut,
    /// The connection broke mid-request.
    Broken,
    /// Not sent: the in-flight bound was reached.
    OverCap,
    /// Still waiting when a stop (Ctrl-C) ended the run.
    Interrupted,
}

/// What happened to one request. Times are µs after the run's t = 0.
#[derive(Clone, Copy, Debug)]
pub struct Record {
    /// When it was sent: its task, awake, found its due time had come (see the
    /// module doc: lateness is this minus the scheduled time).
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

/// One request a run can send: `POST path` to `addr` with a JSON body,
/// built before the run so that nothing is serialised while measuring.
#[derive(Clone, Debug)]
pub struct Post {
    pub addr: SocketAddr,
    pub path: Uri,
    pub body: Bytes,
}

impl Post {
    /// `path` is origin-form: `/incentives/bonuses/7`.
    pub fn new(addr: SocketAddr, path: &str, body: impl Into<Bytes>) -> Post {
        Post {
            addr,
            path: path.parse().expect("paths built here are valid"),
            body: body.into(),
        }
    }

    /// The request's URL, for tools that want one (oha).
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }
}

/// One scheduled send: `at_us` after t = 0, the `post`-th request.
#[derive(Clone, Copy, Debug)]
pub struct Shot {
    pub at_us: u64,
    pub post: usize,
}

/// The generator's bounds.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections per address, opened as needed (`pool.rs`).
    pub connections: usize,
    /// Requests outstanding at once; one more is not sent ([`NoAnswer::OverCap`]).
    pub max_in_flight: usize,
}

/// Plays `shots` against `posts`, t = 0 being `t0`: dispatches from this thread,
/// runs the requests on `runtime`, and returns once every dispatched request
/// has ended. A record per shot, `None` for those never dispatched because
/// `stop` was set. `dispatched` counts them as they go (a progress bar).
/// Call from a plain thread, not from inside the runtime.
pub fn play(
    runtime: &Handle,
    posts: Arc<[Post]>,
    shots: &[Shot],
    t0: Instant,
    limits: Limits,
    stop: &AtomicBool,
    dispatched: &AtomicU64,
) -> Vec<Option<Record>> {
    let pools = pools(&posts, limits.connections);
    let slots: Arc<[OnceLock<Record>]> = (0..shots.len()).map(|_| OnceLock::new()).collect();
    let outstanding = Arc::new(AtomicUsize::new(0));
    let mut sent = 0;
    let mut previous = t0;
    for (index, shot) in shots.iter().enumerate() {
        let due = t0 + Duration::from_micros(shot.at_us);
        if !sleep_until_lead(due, previous, stop) {
            break;
        }
        previous = due;
        sent = index + 1;
        dispatched.fetch_add(1, Ordering::Relaxed);
        if outstanding.load(Ordering::Acquire) >= limits.max_in_flight {
            let now = micros_since(t0);
            let _ = slots[index].set(Record {
                sent_us: now,
                done_us: now,
                outcome: Outcome::NoAnswer(NoAnswer::OverCap),
            });
            continue;
        }
        outstanding.fetch_add(1, Ordering::AcqRel);
        let (posts, pools, slots, outstanding) = (
            posts.clone(),
            pools.clone(),
            slots.clone(),
            outstanding.clone(),
        );
        let at_us = shot.at_us;
        let post = shot.post;
        runtime.spawn(async move {
            arrive(due).await;
            let record = exchange(&posts[post], &pools[post], t0, at_us).await;
            let _ = slots[index].set(record);
            outstanding.fetch_sub(1, Ordering::AcqRel);
        });
    }
    wait_for_answers(&outstanding, stop);
    // Whatever has no record now was dispatched and cut off by a stop: sent,
    // never answered. (Dispatch is in list order, so those are a prefix.)
    let now = micros_since(t0);
    shots
        .iter()
        .zip(slots.iter())
        .enumerate()
        .map(|(index, (shot, slot))| {
            let cut_off = Record {
                sent_us: shot.at_us,
                done_us: now,
                outcome: Outcome::NoAnswer(NoAnswer::Interrupted),
            };
            (index < sent).then(|| slot.get().copied().unwrap_or(cut_off))
        })
        .collect()
}

/// One pool per address, indexed like `posts`.
fn pools(posts: &[Post], connections: usize) -> Arc<[Arc<Pool>]> {
    let mut by_addr: HashMap<SocketAddr, Arc<Pool>> = HashMap::new();
    posts
        .iter()
        .map(|post| {
            by_addr
                .entry(post.addr)
                .or_insert_with(|| Arc::new(Pool::new(post.addr, connections)))
                .clone()
        })
        .collect()
}

/// Sends one request and waits for its whole answer, at most until its
/// scheduled time plus [`CLIENT_TIMEOUT`].
async fn exchange(post: &Post, pool: &Pool, t0: Instant, at_us: u64) -> Record {
    let sent_us = micros_since(t0);
    let deadline = t0 + Duration::from_micros(at_us) + CLIENT_TIMEOUT;
    let answer = tokio::time::timeout_at(deadline.into(), pool.post(&post.path, &post.body)).await;
    let outcome = match answer {
        Ok(Ok(status)) => Outcome::Status(status),
        Ok(Err(Failure::Refused)) => Outcome::NoAnswer(NoAnswer::Refused),
        Ok(Err(Failure::Broken)) => Outcome::NoAnswer(NoAnswer::Broken),
        Err(_elapsed) => Outcome::NoAnswer(NoAnswer::TimedOut),
    };
    Record {
        sent_us,
        done_us: micros_since(t0),
        outcome,
    }
}

/// Waits until every dispatched request has ended. Bounded: each ends by its
/// deadline (at most [`CLIENT_TIMEOUT`] after the last due time, which has
/// passed); after a stop, by [`INTERRUPT_GRACE`]. The extra second covers a
/// runtime too busy to run a timed-out task at once.
fn wait_for_answers(outstanding: &AtomicUsize, stop: &AtomicBool) {
    let started = Instant::now();
    let mut bound = CLIENT_TIMEOUT + Duration::from_secs(1);
    while outstanding.load(Ordering::Acquire) > 0 && started.elapsed() < bound {
        if stop.load(Ordering::Relaxed) {
            bound = bound.min(started.elapsed() + INTERRUPT_GRACE);
        }
        std::thread::sleep(FINISH_POLL);
    }
}

/// µs from `t0` to now; 0 before `t0`.
pub fn micros_since(t0: Instant) -> u64 {
    Instant::now().saturating_duration_since(t0).as_micros() as u64
}
