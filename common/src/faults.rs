//! Fault controls: put a running service into a failure state and take it out,
//! without restarting anything.
//!
//! Each service owns one [`ServiceFaults`]. Its edge honours it in two places:
//! the listener ([`crate::server`]) closes its socket while the service is
//! *crashed* (clients get "connection refused"), and the middleware below holds
//! requests while it is *hung*, delays them while it is *slow*, and answers a
//! share of them `503` while it is *flaky*. A variant's background threads (the
//! async consumer and relay, the sync-buffered resender) ask the same object
//! whether their process is down, so a crashed service stops *all* its work.
//!
//! States are independent flags, so the harness can overlap two faults on one
//! service (slow *and* flaky). Data is never touched: ledgers and books stand for
//! databases and survive every state.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::watch;

use crate::api::ApiError;
use crate::domain::lock;
use crate::internal::InternalErrors;

/// Added latency: uniformly distributed in `mean ± jitter` (never below zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    pub mean: Duration,
    pub jitter: Duration,
}

/// The fault state of one service.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultState {
    /// Connections refused; nothing in the process runs.
    pub crashed: bool,
    /// Connections accepted, nothing answered; nothing in the process runs.
    /// Requests held while hung are served when the hang ends, like a process
    /// that comes out of a long pause — unless their client gave up first.
    pub hung: bool,
    pub latency: Option<Latency>,
    /// Share of requests answered `503`, in `0.0..=1.0`.
    pub error_rate: Option<f64>,
}

impl FaultState {
    /// True when the process does no work at all.
    pub fn is_down(&self) -> bool {
        self.crashed || self.hung
    }
}

/// Requests by outcome at one service's edge, readable without HTTP.
#[derive(Debug, Default)]
pub struct EdgeCounters {
    pub ok: AtomicU64,
    pub bad_request: AtomicU64,
    /// 5xx answers: dependency failures, overload, injected errors.
    pub failed: AtomicU64,
    /// Of `failed`, those the flaky fault injected.
    pub injected: AtomicU64,
}

/// A plain copy of [`EdgeCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EdgeCounts {
    pub ok: u64,
    pub bad_request: u64,
    pub failed: u64,
    pub injected: u64,
}

impl EdgeCounters {
    pub fn snapshot(&self) -> EdgeCounts {
        EdgeCounts {
            ok: self.ok.load(Ordering::Relaxed),
            bad_request: self.bad_request.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            injected: self.injected.load(Ordering::Relaxed),
        }
    }
}

/// One service's fault switches and edge counters.
#[derive(Debug)]
pub struct ServiceFaults {
    pub name: &'static str,
    state: watch::Sender<FaultState>,
    /// Seeded, so that which requests a flaky service fails, and how long a slow
    /// one waits, replays with the seed.
    rng: Mutex<StdRng>,
    pub counters: EdgeCounters,
    /// Failures of this service's own machinery (`internal.rs`).
    pub internal_errors: InternalErrors,
}

impl ServiceFaults {
    pub fn new(name: &'static str, seed: u64) -> Arc<ServiceFaults> {
        Arc::new(ServiceFaults {
            name,
            state: watch::Sender::new(FaultState::default()),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            counters: EdgeCounters::default(),
            internal_errors: InternalErrors::default(),
        })
    }

    pub fn state(&self) -> FaultState {
        *self.state.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<FaultState> {
        self.state.subscribe()
    }

    /// Changes the state; listeners and held requests see it at once.
    pub fn update(&self, change: impl FnOnce(&mut FaultState)) {
        self.state.send_modify(change);
    }

    pub fn set_crashed(&self, on: bool) {
        self.update(|s| s.crashed = on);
    }

    pub fn set_hung(&self, on: bool) {
        self.update(|s| s.hung = on);
    }

    pub fn set_latency(&self, latency: Option<Latency>) {
        self.update(|s| s.latency = latency);
    }

    pub fn set_error_rate(&self, rate: Option<f64>) {
        self.update(|s| s.error_rate = rate.map(|r| r.clamp(0.0, 1.0)));
    }

    pub fn is_down(&self) -> bool {
        self.state().is_down()
    }

    /// The delay a slow service adds to this piece of work, if it is slow.
    pub fn sample_delay(&self) -> Option<Duration> {
        let latency = self.state().latency?;
        let mean = latency.mean.as_secs_f64();
        let jitter = latency.jitter.as_secs_f64();
        let secs = if jitter > 0.0 {
            lock(&self.rng).random_range(mean - jitter..=mean + jitter)
        } else {
            mean
        };
        Some(Duration::from_secs_f64(secs.max(0.0)))
    }

    /// Whether a flaky service fails this piece of work.
    pub fn sample_failure(&self) -> bool {
        match self.state().error_rate {
            Some(rate) if rate > 0.0 => lock(&self.rng).random_bool(rate),
            _ => false,
        }
    }

    /// For a background thread: sleeps until the process is up again, or
    /// `timeout` passes. Returns whether it is up.
    pub fn wait_until_up_blocking(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        // Polling at 5 ms keeps a plain thread free of a runtime; a fault lasts
        // seconds, so 5 ms late is well inside what the harness resolves.
        while self.is_down() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

/// The link between the two services. Cut, each side's calls to the other fail
/// as in a network partition, while both edges stay reachable from outside.
///
/// The cut is applied where a service dials its peer (the sync variant's HTTP
/// client; the async variant's consumer reading the stream), not in the kernel:
/// a simulation shortcut, kept because loopback cannot be partitioned without
/// privileges a test machine may not have.
#[derive(Debug, Default)]
pub struct Link {
    cut: AtomicBool,
}

impl Link {
    pub fn set_cut(&self, on: bool) {
        self.cut.store(on, Ordering::Relaxed);
    }

    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }
}

/// Edge middleware: applies hang, latency and injected errors, then counts the
/// answer. (Crash is the listener's business: a crashed service has no socket.)
pub async fn edge_faults(
    State(faults): State<Arc<ServiceFaults>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if faults.state().hung {
        let mut state = faults.subscribe();
        // An error here means the sender is gone: the service is shutting down.
        let _ = state.wait_for(|s| !s.hung).await;
    }
    if let Some(delay) = faults.sample_delay() {
        tokio::time::sleep(delay).await;
    }
    let response = if faults.sample_failure() {
        faults.counters.injected.fetch_add(1, Ordering::Relaxed);
        ApiError::unavailable(format!("{} is failing (injected fault)", faults.name))
            .into_response()
    } else {
        next.run(request).await
    };
    let status = response.status();
    let counter = if status.is_success() {
        &faults.counters.ok
    } else if status.is_client_error() {
        &faults.counters.bad_request
    } else {
        &faults.counters.failed
    };
    counter.fetch_add(1, Ordering::Relaxed);
    response
}
