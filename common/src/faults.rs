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
//!
//! Which requests a flaky service fails is decided *per request*, not per
//! arrival: [`ServiceFaults::fails`] is a pure function of the seed, the
//! service, the request's key (its payment reference where it has one — see
//! [`fault_key`]) and how many times that key has been tried at this service.
//! Concurrent requests may reach a service in any order, and each variant sends
//! a different mix of them; keyed this way, every variant fails exactly the
//! same first attempts of the same schedule, and a retry is a new, equally
//! seeded draw. (How long a *slow* service waits is still drawn per arrival
//! from a seeded generator: the order of draws, and so each request's delay,
//! is not fixed by the seed; their distribution is.)

use std::collections::HashMap;
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
use serde::Deserialize;
use sha2::{Digest, Sha256};
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
    /// Requests inside the edge right now (received, not yet answered or
    /// dropped): the harness waits for 0 before it reads the payouts.
    pub in_flight: AtomicU64,
}

/// A plain copy of [`EdgeCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EdgeCounts {
    pub ok: u64,
    pub bad_request: u64,
    pub failed: u64,
    pub injected: u64,
    /// Requests inside the edge when the counters were read.
    #[serde(default)]
    pub in_flight: u64,
}

/// Field by field: two edges' counts as one.
impl std::ops::Add for EdgeCounts {
    type Output = EdgeCounts;
    fn add(self, other: EdgeCounts) -> EdgeCounts {
        EdgeCounts {
            ok: self.ok + other.ok,
            bad_request: self.bad_request + other.bad_request,
            failed: self.failed + other.failed,
            injected: self.injected + other.injected,
            in_flight: self.in_flight + other.in_flight,
        }
    }
}

impl EdgeCounters {
    pub fn snapshot(&self) -> EdgeCounts {
        EdgeCounts {
            ok: self.ok.load(Ordering::Relaxed),
            bad_request: self.bad_request.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            injected: self.injected.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }
}

/// One service's fault switches and edge counters.
#[derive(Debug)]
pub struct ServiceFaults {
    pub name: &'static str,
    state: watch::Sender<FaultState>,
    /// Seeded: how long a slow service waits (drawn per arrival).
    rng: Mutex<StdRng>,
    /// Which requests a flaky service fails: see [`ServiceFaults::fails`].
    seed: u64,
    /// Attempts seen per request key while the service was flaky, so that a
    /// retry gets its own draw. Only touched while an error rate is set; one
    /// entry per distinct key (a run's requests: well under a megabyte).
    attempts: Mutex<HashMap<String, u32>>,
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
            seed,
            attempts: Mutex::new(HashMap::new()),
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

    /// Whether a flaky service fails this attempt at the work named `key`
    /// (for a payment `bonus:b-17`, `delivery:d-3`; see [`fault_key`]). The
    /// answer depends only on the seed, the service's name, `key` and the
    /// attempt's number for that key, never on what else arrived meanwhile.
    pub fn fails(&self, key: &str) -> bool {
        let rate = match self.state().error_rate {
            Some(rate) if rate > 0.0 => rate,
            _ => return false,
        };
        let attempt = {
            let mut attempts = lock(&self.attempts);
            let n = attempts.entry(key.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        unit_draw(self.seed, self.name, key, attempt) < rate
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

/// A draw in `[0, 1)`: the first 53 bits of SHA-256 over the seed, the
/// service, the key and the attempt. SHA-256 rather than `std`'s hasher, whose
/// algorithm may change between Rust releases and with it every scenario's
/// faults.
fn unit_draw(seed: u64, service: &str, key: &str, attempt: u32) -> f64 {
    let mut hash = Sha256::new();
    hash.update(seed.to_le_bytes());
    hash.update(service.as_bytes());
    hash.update([0]);
    hash.update(key.as_bytes());
    hash.update([0]);
    hash.update(attempt.to_le_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// The largest body the flaky fault reads to find a request's key; axum's
/// own JSON limit is the same 2 MB, so no request the handler would take is
/// refused here.
const KEY_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The ids a body may carry, in the edge API's spelling.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ids {
    delivery_id: Option<String>,
    bonus_id: Option<String>,
}

/// The key that decides whether a flaky service fails a request: its
/// payment reference (`bonus:b-17`, `delivery:d-3`) when the body names one —
/// the same key the asynchronous consumer uses for a bonus's event, so a
/// bonus fails alike whether it reaches Payments as a call or as an event —
/// else the method, path and body.
pub fn fault_key(method: &str, path: &str, body: &[u8]) -> String {
    match serde_json::from_slice::<Ids>(body) {
        Ok(Ids {
            bonus_id: Some(id), ..
        }) => format!("bonus:{id}"),
        Ok(Ids {
            delivery_id: Some(id),
            ..
        }) => format!("delivery:{id}"),
        _ => format!("{method} {path} {}", String::from_utf8_lossy(body)),
    }
}

/// Decrements the edge's in-flight count however the request ends (answered,
/// or its future dropped when the client went away).
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether a flaky service fails `request`; reads its body to find its key
/// (only while the service is flaky) and hands the request back whole.
async fn flaky_failure(
    faults: &ServiceFaults,
    request: Request<Body>,
) -> Result<Request<Body>, Response> {
    if !matches!(faults.state().error_rate, Some(rate) if rate > 0.0) {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, KEY_BODY_LIMIT).await else {
        return Err(ApiError::bad_request("the request body could not be read").into_response());
    };
    let key = fault_key(parts.method.as_str(), parts.uri.path(), &bytes);
    if faults.fails(&key) {
        faults.counters.injected.fetch_add(1, Ordering::Relaxed);
        return Err(
            ApiError::unavailable(format!("{} is failing (injected fault)", faults.name))
                .into_response(),
        );
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Edge middleware: applies hang, latency and injected errors, then counts the
/// answer. (Crash is the listener's business: a crashed service has no socket.)
pub async fn edge_faults(
    State(faults): State<Arc<ServiceFaults>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    faults.counters.in_flight.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight(&faults.counters.in_flight);
    if faults.state().hung {
        let mut state = faults.subscribe();
        // An error here means the sender is gone: the service is shutting down.
        let _ = state.wait_for(|s| !s.hung).await;
    }
    if let Some(delay) = faults.sample_delay() {
        tokio::time::sleep(delay).await;
    }
    let response = match flaky_failure(&faults, request).await {
        Ok(request) => next.run(request).await,
        Err(refused) => refused,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn flaky(seed: u64, rate: f64) -> Arc<ServiceFaults> {
        let faults = ServiceFaults::new("payments", seed);
        faults.set_error_rate(Some(rate));
        faults
    }

    /// Two services with one seed, asked in opposite orders, fail the same
    /// keys: arrival order does not matter.
    #[test]
    fn failures_depend_on_the_key_not_on_the_order_of_arrival() {
        let keys: Vec<String> = (0..500).map(|i| format!("delivery:d-{i}")).collect();
        let (a, b) = (flaky(5, 0.3), flaky(5, 0.3));
        let forward: Vec<bool> = keys.iter().map(|k| a.fails(k)).collect();
        let mut backward: Vec<bool> = keys.iter().rev().map(|k| b.fails(k)).collect();
        backward.reverse();
        assert_eq!(forward, backward);
        let failed = forward.iter().filter(|&&f| f).count();
        assert!((100..200).contains(&failed), "about 30 % of 500: {failed}");
        // Another seed fails other keys.
        let c = flaky(6, 0.3);
        let other: Vec<bool> = keys.iter().map(|k| c.fails(k)).collect();
        assert_ne!(forward, other);
    }

    /// A retry is a new draw: at 50 % some key that failed once succeeds on
    /// a later attempt, and a healthy service fails nothing.
    #[test]
    fn a_retry_draws_again_and_a_healthy_service_never_fails() {
        let faults = flaky(1, 0.5);
        let recovers = (0..100).any(|i| {
            let key = format!("bonus:b-{i}");
            faults.fails(&key) && (0..10).any(|_| !faults.fails(&key))
        });
        assert!(recovers);
        let healthy = ServiceFaults::new("payments", 1);
        assert!((0..100).all(|i| !healthy.fails(&format!("bonus:b-{i}"))));
    }

    #[test]
    fn the_key_is_the_payment_reference_where_there_is_one() {
        let body = br#"{"courierId":7,"amount":5,"deliveryId":"d-3"}"#;
        assert_eq!(fault_key("POST", "/payments", body), "delivery:d-3");
        let body = br#"{"bonusType":"BIG","bonusId":"b-17"}"#;
        assert_eq!(
            fault_key("POST", "/incentives/bonuses/7", body),
            "bonus:b-17"
        );
        assert_eq!(
            fault_key("GET", "/incentives/performance/7", b""),
            "GET /incentives/performance/7 "
        );
    }
}
