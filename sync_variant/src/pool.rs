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
//! pauses. Next: `calls.rs`, the blocking calls a worker makes.

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
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, select};
use tokio::sync::oneshot;

/// How often a worker paused by a hang looks again. A hang lasts seconds, so
/// noticing its end 20 ms late is invisible to the harness, and the check costs
/// nothing while it waits.
const HANG_POLL: Duration = Duration::from_millis(20);

/// A unit of work as a worker sees it: run it, answer is sent inside.
type Job = Box<dyn FnOnce() + Send>;

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

/// A fixed set of worker threads behind a bounded queue.
#[derive(Debug)]
pub struct Pool {
    name: &'static str,
    workers: usize,
    queue: usize,
    jobs: Sender<Job>,
    busy: Arc<AtomicU64>,
    process: Arc<Process>,
    /// Dropping this sender tells every worker to finish (see [`Pool::stop`]).
    stop: Mutex<Option<Sender<()>>>,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    /// Starts `workers` threads fed by a queue of `queue` requests.
    pub fn start(
        name: &'static str,
        workers: usize,
        queue: usize,
        process: Arc<Process>,
    ) -> io::Result<Pool> {
        let (jobs, jobs_rx) = bounded::<Job>(queue);
        // Nothing is ever sent on this channel: it closes when the pool stops
        // (or is dropped), and every worker waits on it beside the job queue.
        let (stop, stop_rx) = bounded::<()>(0);
        let busy = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let (jobs_rx, stop_rx, busy) = (jobs_rx.clone(), stop_rx.clone(), busy.clone());
            // On an error here the threads already started see `stop` dropped
            // and exit on their own.
            let handle = std::thread::Builder::new()
                .name(format!("{name}-worker-{i}"))
                .spawn(move || work(&jobs_rx, &stop_rx, &busy))?;
            handles.push(handle);
        }
        Ok(Pool {
            name,
            workers,
            queue,
            jobs,
            busy,
            process,
            stop: Mutex::new(Some(stop)),
            handles: Mutex::new(handles),
        })
    }

    /// Runs `job` on a worker and awaits its answer, without ever blocking the
    /// async runtime that calls it. A full queue answers `503 overloaded` at
    /// once: the wait is bounded, the queue never grows past its size.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (answer, answered) = oneshot::channel();
        let process = self.process.clone();
        let task: Job = Box::new(move || {
            // The edge stopped waiting while the job sat in the queue (its
            // connection closed or the process crashed): skip it. Tomcat would
            // run it anyway, so this pool is, if anything, kind to the sync
            // variant. Once started, though, a job runs to its end.
            if answer.is_closed() || process.checkpoint().is_err() {
                return;
            }
            let _ = answer.send(job());
        });
        match self.jobs.try_send(task) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ApiError::overloaded(format!(
                    "{}: all {} workers busy and {} requests queued",
                    self.name, self.workers, self.queue
                )));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::unavailable(format!(
                    "{} is shutting down",
                    self.name
                )));
            }
        }
        // A dropped answer means the worker dropped the job: the process was
        // down when the job's turn came, or the job panicked.
        answered.await.unwrap_or_else(|_| {
            Err(ApiError::unavailable(format!(
                "{} dropped the request: the process is down",
                self.name
            )))
        })
    }

    /// Jobs accepted into the queue and not yet taken by a worker.
    pub fn queued(&self) -> u64 {
        self.jobs.len() as u64
    }

    /// Workers running a job right now (held by a call or paused by a hang
    /// included).
    pub fn busy(&self) -> u64 {
        self.busy.load(Ordering::Relaxed)
    }

    /// Stops the workers and waits for them. A worker in the middle of a call
    /// finishes it first (at most the call timeout). Call from a plain thread.
    pub fn stop(&self) {
        self.process.stop();
        lock(&self.stop).take();
        let handles = std::mem::take(&mut *lock(&self.handles));
        for handle in handles {
            let _ = handle.join();
        }
    }
}

/// A worker's life: take the next job, run it, repeat until the pool stops.
fn work(jobs: &Receiver<Job>, stop: &Receiver<()>, busy: &AtomicU64) {
    loop {
        select! {
            recv(jobs) -> job => {
                let Ok(job) = job else { return };
                busy.fetch_add(1, Ordering::Relaxed);
                // A panicking job is a bug, but it must not shrink the pool: the
                // worker survives, and the caller sees a dropped answer (503).
                let _ = catch_unwind(AssertUnwindSafe(job));
                busy.fetch_sub(1, Ordering::Relaxed);
            }
            recv(stop) -> _ => return,
        }
    }
}
