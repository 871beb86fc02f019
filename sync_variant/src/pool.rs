//! The bounded worker pool: the thread-per-request model of the reference
//! system (a Spring Boot service on Tomcat), where every request occupies one
//! worker thread from the moment a worker picks it up until it has answered.
//!
//! The edge (axum on a small tokio runtime, `common::server`) only parses the
//! request; the handler then hands the work to this pool and awaits the answer.
//! The work itself — including every blocking call to the other service — runs
//! on a plain `std` thread. **That is where time goes in the synchronous
//! design: a worker blocked in a call to the other service is held for the
//! whole call**, up to the call timeout, and can serve nobody else meanwhile.
//! When all workers are held, requests wait in a bounded queue; when the queue
//! is full, they are refused with `503 overloaded` at once.
//!
//! Tomcat's defaults are 200 threads and a queue (`acceptCount`) of 100; this
//! pool is smaller (see `Config::workers` in `lib.rs`) so that two laptop cores
//! can drive it into starvation.
//!
//! The same object also answers "may this process do work now?"
//! ([`Process::checkpoint`]): a crashed process does nothing, a hung one
//! pauses.
//!
//! In sync-resilient, two mechanisms act here: a request's deadline
//! (`deadline.rs`) bounds how long the edge waits and drops a queued job
//! whose caller is gone, and shedding (`shedding.rs`) makes the queue a
//! bounded LIFO. Next: `calls.rs`, the blocking calls a worker makes.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use common::api::ApiError;
use common::domain::lock;
use common::faults::ServiceFaults;
use tokio::sync::oneshot;

use crate::deadline::{self, Deadline};
use crate::shedding::{Discipline, JobQueue, Pushed};

/// How often a worker paused by a hang looks again. A hang lasts seconds, so
/// noticing its end 20 ms late is invisible to the harness, and the check costs
/// nothing while it waits.
const HANG_POLL: Duration = Duration::from_millis(20);

/// Whether a queued job gets a worker, or is pushed out of a full LIFO queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Turn {
    Run,
    Shed,
}

/// A unit of work as a worker sees it: run it (or refuse it), answer is sent
/// inside.
type Job = Box<dyn FnOnce(Turn) + Send>;

/// One service's view of its own process, shared by its workers (and, in
/// sync-buffered, by the resender): the fault switches, plus whether the
/// service is being shut down.
#[derive(Debug)]
pub struct Process {
    faults: Arc<ServiceFaults>,
    stopping: AtomicBool,
}

impl Process {
    pub fn new(faults: Arc<ServiceFaults>) -> Arc<Process> {
        Arc::new(Process {
            faults,
            stopping: AtomicBool::new(false),
        })
    }

    /// Where a worker checks that its process may still act: before it starts a
    /// job, and after a blocking call returns but before it changes anything.
    /// A crashed (or stopping) process refuses; a hung one blocks here until
    /// the hang ends — the worker stays held, as a thread in a paused JVM does.
    pub fn checkpoint(&self) -> Result<(), ApiError> {
        // Bounded: each round waits at most HANG_POLL, and the loop ends when
        // the hang ends, the process crashes, or the service shuts down.
        loop {
            let state = self.faults.state();
            if state.crashed || self.stopping.load(Ordering::Relaxed) {
                return Err(ApiError::unavailable(format!(
                    "{} is down: the request was dropped",
                    self.faults.name
                )));
            }
            if !state.hung {
                return Ok(());
            }
            self.faults.wait_until_up_blocking(HANG_POLL);
        }
    }

    /// Marks the process as stopping: checkpoints refuse from now on, so a
    /// worker paused by a hang lets go and the pool can be joined.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }
}

/// What a pool counts beyond busy workers (`Stats.shed`, `Stats.expired`).
#[derive(Debug, Default)]
pub struct PoolCounters {
    /// Requests refused by a full queue, or pushed out of a full LIFO one.
    pub shed: AtomicU64,
    /// Queued jobs dropped because their deadline had passed.
    pub expired: AtomicU64,
}

/// A fixed set of worker threads behind a bounded queue.
#[derive(Debug)]
pub struct Pool {
    name: &'static str,
    workers: usize,
    queue_size: usize,
    queue: Arc<JobQueue<Job>>,
    busy: Arc<AtomicU64>,
    counters: Arc<PoolCounters>,
    process: Arc<Process>,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    /// Starts `workers` threads fed by a queue of `queue` requests, taken in
    /// the `discipline`'s order.
    pub fn start(
        name: &'static str,
        workers: usize,
        queue: usize,
        discipline: Discipline,
        process: Arc<Process>,
    ) -> io::Result<Pool> {
        let jobs = Arc::new(JobQueue::<Job>::new(queue, discipline));
        let busy = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let (jobs_rx, busy) = (jobs.clone(), busy.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-worker-{i}"))
                .spawn(move || work(&jobs_rx, &busy));
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    // The threads already started see the queue closed and exit.
                    jobs.close();
                    return Err(error);
                }
            }
        }
        Ok(Pool {
            name,
            workers,
            queue_size: queue,
            queue: jobs,
            busy,
            counters: Arc::default(),
            process,
            handles: Mutex::new(handles),
        })
    }

    /// Runs `job` on a worker and awaits its answer, without ever blocking the
    /// async runtime that calls it. A full queue answers `503 overloaded` at
    /// once: the wait is bounded, the queue never grows past its size. With
    /// deadlines on, the wait ends at the request's deadline (`504`).
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let deadline = deadline::of_request();
        let (answer, answered) = oneshot::channel();
        let process = self.process.clone();
        let counters = self.counters.clone();
        let name = self.name;
        let task: Job = Box::new(move |turn| {
            if turn == Turn::Shed {
                let _ = answer.send(Err(ApiError::overloaded(format!(
                    "{name}: pushed out of the queue by newer requests (load shedding)"
                ))));
                return;
            }
            // The edge stopped waiting while the job sat in the queue (its
            // connection closed, its deadline passed, or the process crashed):
            // skip it. Tomcat would run it anyway, so this pool is, if
            // anything, kind to the sync variant. Once started, a job runs to
            // its end.
            if answer.is_closed() || process.checkpoint().is_err() {
                return;
            }
            if deadline.is_some_and(Deadline::has_passed) {
                counters.expired.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let _entered = deadline::enter(deadline);
            let _ = answer.send(job());
        });
        match self.queue.push(task) {
            Pushed::Queued => {}
            Pushed::Evicted(oldest) => {
                self.counters.shed.fetch_add(1, Ordering::Relaxed);
                oldest(Turn::Shed);
            }
            Pushed::Refused(_) => {
                self.counters.shed.fetch_add(1, Ordering::Relaxed);
                return Err(ApiError::overloaded(format!(
                    "{}: all {} workers busy and {} requests queued",
                    self.name, self.workers, self.queue_size
                )));
            }
            Pushed::Closed(_) => {
                return Err(ApiError::unavailable(format!(
                    "{} is shutting down",
                    self.name
                )));
            }
        }
        let answer = match deadline {
            None => answered.await,
            Some(deadline) => match tokio::time::timeout_at(deadline.0.into(), answered).await {
                Ok(answer) => answer,
                Err(_) => {
                    return Err(ApiError::timeout(format!(
                        "{}: the request's deadline passed before it was done",
                        self.name
                    )));
                }
            },
        };
        // A dropped answer means the worker dropped the job: the process was
        // down when the job's turn came, or the job panicked.
        answer.unwrap_or_else(|_| {
            Err(ApiError::unavailable(format!(
                "{} dropped the request: the process is down",
                self.name
            )))
        })
    }

    /// Jobs accepted into the queue and not yet taken by a worker.
    pub fn queued(&self) -> u64 {
        self.queue.len() as u64
    }

    /// Workers running a job right now (held by a call or paused by a hang
    /// included).
    pub fn busy(&self) -> u64 {
        self.busy.load(Ordering::Relaxed)
    }

    pub fn counters(&self) -> &PoolCounters {
        &self.counters
    }

    /// Stops the workers and waits for them. A worker in the middle of a call
    /// finishes it first (at most the call timeout). Jobs still queued are
    /// dropped, so their callers get `503`. Call from a plain thread.
    pub fn stop(&self) {
        self.process.stop();
        drop(self.queue.close());
        let handles = std::mem::take(&mut *lock(&self.handles));
        for handle in handles {
            let _ = handle.join();
        }
    }
}

impl Drop for Pool {
    /// A pool dropped without `stop` still lets its workers go.
    fn drop(&mut self) {
        drop(self.queue.close());
    }
}

/// A worker's life: take the next job, run it, repeat until the pool stops.
fn work(jobs: &JobQueue<Job>, busy: &AtomicU64) {
    while let Some(job) = jobs.pop() {
        busy.fetch_add(1, Ordering::Relaxed);
        // A panicking job is a bug, but it must not shrink the pool: the
        // worker survives, and the caller sees a dropped answer (503).
        let _ = catch_unwind(AssertUnwindSafe(|| job(Turn::Run)));
        busy.fetch_sub(1, Ordering::Relaxed);
    }
}
