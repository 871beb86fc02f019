//! The blocking service-to-service client: how one synchronous service asks the
//! other for something and *waits* for the answer.
//!
//! Incentives uses [`Calls::pay_bonus`] (`POST /payments`), Payments uses
//! [`Calls::performance`] (`GET /incentives/performance/{id}`) — together they
//! form the reference system's cycle: a bonus enters Incentives, which calls
//! Payments, which calls back into Incentives. Every call runs on a worker of
//! the caller's pool (`pool.rs`) and holds that worker until it returns: a
//! success takes a loopback round trip, a hung peer takes the whole
//! `call_timeout`.
//!
//! `reqwest::blocking` runs a small tokio runtime of its own on an internal
//! thread; the calling thread parks until the answer arrives. Because of that
//! runtime, a blocking client must be built and dropped outside any async
//! context — see [`Calls::new`] and the `Drop` impl.
//!
//! The plain variants make each call once, with the fixed `call_timeout`: the
//! design the article describes. sync-resilient adds, here and only here,
//! what production would: the call's timeout is what is left of the request's
//! deadline (`deadline.rs`), a breaker in front of the peer (`breaker.rs`),
//! and budgeted retries with jitter (`retry.rs`). Every attempt that leaves
//! for the peer is counted: the harness's *amplification*.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use std::{io, thread};

use crate::breaker::Breaker;
use crate::deadline::{self, BUDGET_HEADER};
use crate::retry::Retry;

use common::api::{ApiError, PaymentRequest, Reference, internal};
use common::faults::Link;
use common::system::Service;
use common::{CourierId, Money, Performance};
use reqwest::blocking::{Client, RequestBuilder};
use serde::Deserialize;
use serde_json::value::RawValue;

/// How much of a peer's error body an error message keeps: enough to read the
/// peer's `{"error", "message"}`, never a whole page in a log line.
const MAX_BODY_IN_ERROR: usize = 200;

/// Why a call to the other service failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Connected (or tried to), but no answer within the call timeout: the
    /// peer is hung or slow. The peer may still act on the request later.
    #[error("{peer} did not answer within {timeout:?}")]
    TimedOut { peer: Service, timeout: Duration },
    /// The connection was refused or broke: the peer is crashed or restarting.
    #[error("{peer} is unreachable: {detail}")]
    Unreachable { peer: Service, detail: String },
    /// The peer answered, with an error status.
    #[error("{peer} answered {status}: {body}")]
    Status {
        peer: Service,
        status: u16,
        body: String,
    },
    /// The peer answered 2xx with a body that is not what it should be.
    #[error("{peer} gave an answer that cannot be read: {detail}")]
    BadAnswer { peer: Service, detail: String },
    /// The link between the services is cut: the call fails after the call
    /// timeout, without reaching the peer.
    #[error("{peer} is cut off by a network partition: no answer within {timeout:?}")]
    Partitioned { peer: Service, timeout: Duration },
    /// The breaker in front of the peer is open: not even tried.
    #[error("the circuit breaker for {peer} is open: not called")]
    Open { peer: Service },
    /// The request's deadline left no time for the call: not even tried.
    #[error("no time left of the request's deadline to call {peer}")]
    DeadlineExceeded { peer: Service },
}

impl CallError {
    /// Whether asking again later can succeed. A `4xx` from the peer says the
    /// request itself is wrong; resending it would fail forever.
    /// An open breaker or a spent deadline will say the same again at once.
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Status { status, .. } => !(400..500).contains(status),
            CallError::Open { .. } | CallError::DeadlineExceeded { .. } => false,
            _ => true,
        }
    }

    /// Whether the peer is to blame (what a breaker counts as a failure): not
    /// a request it rightly refused, not a call we never made.
    fn is_peer_fault(&self) -> bool {
        match self {
            CallError::Status { status, .. } => *status >= 500,
            CallError::Open { .. } | CallError::DeadlineExceeded { .. } => false,
            _ => true,
        }
    }
}

/// What the edge answers when a call failed: `504` when the peer did not
/// answer in time, `503` for everything else, the message naming the peer.
impl From<CallError> for ApiError {
    fn from(error: CallError) -> ApiError {
        match error {
            CallError::TimedOut { .. } | CallError::DeadlineExceeded { .. } => {
                ApiError::timeout(error.to_string())
            }
            _ => ApiError::unavailable(error.to_string()),
        }
    }
}

/// One service's client for its peer.
#[derive(Debug)]
pub struct Calls {
    peer: Service,
    base_url: String,
    timeout: Duration,
    link: Arc<Link>,
    in_flight: AtomicU64,
    /// sync-resilient: retries with a budget (`None`: one attempt per call).
    retry: Option<Retry>,
    /// sync-resilient: the breaker in front of this peer.
    breaker: Option<Breaker>,
    counters: CallCounters,
    /// `Option` only so that `Drop` can move it to a plain thread.
    client: Option<Client>,
}

/// What a client counts, read into `Stats`.
#[derive(Debug, Default)]
pub struct CallCounters {
    /// Attempts that left for the peer, retries included (a partitioned one
    /// too: it was sent into the cut).
    pub attempts: AtomicU64,
    /// Of those, retries.
    pub retries: AtomicU64,
    /// Calls an open breaker refused without trying.
    pub short_circuited: AtomicU64,
}

impl Calls {
    /// A client for `peer` at `addr`. Built on a plain thread, so this can be
    /// called from anywhere, even inside an async runtime.
    pub fn new(
        peer: Service,
        addr: SocketAddr,
        timeout: Duration,
        link: Arc<Link>,
    ) -> io::Result<Calls> {
        let build = move || {
            Client::builder()
                // The whole call, connect to last byte: the one number that
                // decides how long a worker can be held.
                .timeout(timeout)
                .connect_timeout(timeout)
                // Loopback only: never route through a proxy from the environment.
                .no_proxy()
                .tcp_nodelay(true)
                // Let go of idle connections before the peer's server does.
                .pool_idle_timeout(common::server::limits::CLIENT_IDLE_TIMEOUT)
                .build()
        };
        let client = thread::spawn(build)
            .join()
            .map_err(|_| io::Error::other("building the HTTP client panicked"))?
            .map_err(io::Error::other)?;
        Ok(Calls {
            peer,
            base_url: format!("http://{addr}"),
            timeout,
            link,
            in_flight: AtomicU64::new(0),
            retry: None,
            breaker: None,
            counters: CallCounters::default(),
            client: Some(client),
        })
    }

    /// Retries failed calls by `retry`'s policy and budget.
    pub fn with_retry(mut self, retry: Option<Retry>) -> Calls {
        self.retry = retry;
        self
    }

    /// Puts `breaker` in front of the peer.
    pub fn with_breaker(mut self, breaker: Option<Breaker>) -> Calls {
        self.breaker = breaker;
        self
    }

    pub fn counters(&self) -> &CallCounters {
        &self.counters
    }

    /// Times this peer's breaker opened (0 without a breaker).
    pub fn breaker_opened(&self) -> u64 {
        self.breaker.as_ref().map_or(0, Breaker::opened)
    }

    /// `POST /internal/bonus-payouts` with `{"courierId", "amount", "bonusId"}`
    /// and the internal token (`common::api::internal`). The bonus id makes
    /// the call safe to repeat: Payments pays a bonus id once.
    pub fn pay_bonus(
        &self,
        courier: CourierId,
        amount: Money,
        bonus_id: &Reference,
    ) -> Result<(), CallError> {
        let body = PaymentRequest {
            courier_id: courier,
            amount,
            delivery_id: None,
            bonus_id: Some(bonus_id.clone()),
        };
        let url = format!("{}{}", self.base_url, internal::BONUS_PAYOUT_PATH);
        let token = (internal::TOKEN_HEADER, internal::token());
        self.send(|client| client.post(url).header(token.0, token.1).json(&body))?;
        Ok(())
    }

    /// `GET /incentives/performance/{courierId}`, read exactly: the `incentive`
    /// number's text is matched against `0.0`, `0.1`, `0.2`, never as a float.
    pub fn performance(&self, courier: CourierId) -> Result<Performance, CallError> {
        #[derive(Deserialize)]
        struct Answer<'a> {
            #[serde(borrow)]
            incentive: &'a RawValue,
        }
        let url = format!("{}/incentives/performance/{courier}", self.base_url);
        let text = self.send(|client| client.get(url))?;
        let bad = |detail: String| CallError::BadAnswer {
            peer: self.peer,
            detail,
        };
        let answer: Answer<'_> = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let incentive = answer.incentive.get();
        Performance::from_incentive_text(incentive)
            .ok_or_else(|| bad(format!("incentive {incentive} is none of 0.0, 0.1, 0.2")))
    }

    /// Calls waiting for an answer right now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Sends a request and returns the body of a `2xx` answer, retrying by
    /// the retry policy when there is one. The calling thread is parked for
    /// the whole call, backoffs included.
    fn send(&self, request: impl FnOnce(&Client) -> RequestBuilder) -> Result<String, CallError> {
        let client = self.client.as_ref().expect("present until drop");
        if let Some(retry) = &self.retry {
            retry.deposit();
        }
        let mut next = Some(request(client));
        // Bounded: each round is one attempt, and `permit` refuses once
        // `attempts` have been made.
        let mut retries = 0;
        loop {
            retries += 1;
            let builder = next.take().expect("a request for each attempt");
            // A JSON body is bytes, so this clone always succeeds.
            next = builder.try_clone();
            let error = match self.attempt(builder) {
                Ok(text) => return Ok(text),
                Err(error) => error,
            };
            let backoff = match (&self.retry, &next) {
                (Some(retry), Some(_)) if error.is_retryable() => retry.permit(retries),
                _ => None,
            };
            let Some(backoff) = backoff else {
                return Err(error);
            };
            if deadline::current().is_some_and(|d| d.budget_for_peer() <= backoff) {
                return Err(error);
            }
            thread::sleep(backoff);
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One attempt: the deadline sets its timeout, the breaker may refuse it.
    fn attempt(&self, builder: RequestBuilder) -> Result<String, CallError> {
        let deadline = deadline::current();
        let timeout = match deadline {
            None => self.timeout,
            Some(deadline) => match deadline.budget_for_peer() {
                budget if budget.is_zero() => {
                    return Err(CallError::DeadlineExceeded { peer: self.peer });
                }
                budget => budget.min(self.timeout),
            },
        };
        if let Some(breaker) = &self.breaker
            && breaker.permit().is_err()
        {
            self.counters
                .short_circuited
                .fetch_add(1, Ordering::Relaxed);
            return Err(CallError::Open { peer: self.peer });
        }
        let builder = match deadline {
            // The peer learns how long we will wait: our own timeout.
            Some(_) => builder.header(BUDGET_HEADER, timeout.as_millis().to_string()),
            None => builder,
        };
        let result = self.exchange(builder, timeout);
        if let Some(breaker) = &self.breaker {
            breaker.record(result.as_ref().is_err_and(CallError::is_peer_fault));
        }
        result
    }

    /// The request on the wire, or into the partition.
    fn exchange(&self, builder: RequestBuilder, timeout: Duration) -> Result<String, CallError> {
        self.counters.attempts.fetch_add(1, Ordering::Relaxed);
        let _counted = InFlight::enter(&self.in_flight);
        if self.link.is_cut() {
            // Simulation shortcut: a real partition drops packets and the call
            // times out; here the worker waits out the same timeout without
            // touching the network (loopback cannot be partitioned without
            // privileges). What matters for the harness is the same: the
            // worker is held for `timeout` and the peer never hears of it.
            thread::sleep(timeout);
            return Err(CallError::Partitioned {
                peer: self.peer,
                timeout,
            });
        }
        let response = builder
            .timeout(timeout)
            .send()
            .map_err(|e| self.transport_error(&e, timeout))?;
        let status = response.status();
        let text = response
            .text()
            .map_err(|e| self.transport_error(&e, timeout))?;
        if !status.is_success() {
            return Err(CallError::Status {
                peer: self.peer,
                status: status.as_u16(),
                body: text.chars().take(MAX_BODY_IN_ERROR).collect(),
            });
        }
        Ok(text)
    }

    fn transport_error(&self, error: &reqwest::Error, timeout: Duration) -> CallError {
        if error.is_timeout() {
            return CallError::TimedOut {
                peer: self.peer,
                timeout,
            };
        }
        // reqwest's own message is terse ("error sending request"); the cause
        // ("Connection refused") is further down the chain.
        let mut detail = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        CallError::Unreachable {
            peer: self.peer,
            detail,
        }
    }
}

impl Drop for Calls {
    /// Dropping a blocking client joins its internal runtime thread. Inside an
    /// async runtime that would block a runtime thread, so there the client is
    /// handed to a plain thread to drop. `SyncSystem::shutdown` arranges for
    /// the last drop to happen on its own (plain) thread anyway; this is the
    /// safety net for the other paths.
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = thread::Builder::new()
                .name("drop-http-client".to_string())
                .spawn(move || drop(client));
        }
    }
}

/// Counts a call as in flight for as long as it lives, even if it unwinds.
struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicU64) -> InFlight<'a> {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
