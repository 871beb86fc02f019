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
//! Production would add what the reference system lacks: retries with backoff
//! for idempotent calls, a circuit breaker so that a dead peer costs a worker
//! nothing, and a connection limit per peer. Leaving them out is the point: the
//! harness measures the design the article describes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use std::{io, thread};

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
}

impl CallError {
    /// Whether asking again later can succeed. A `4xx` from the peer says the
    /// request itself is wrong; resending it would fail forever.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, CallError::Status { status, .. } if (400..500).contains(status))
    }
}

/// What the edge answers when a call failed: `504` when the peer did not
/// answer in time, `503` for everything else, the message naming the peer.
impl From<CallError> for ApiError {
    fn from(error: CallError) -> ApiError {
        match error {
            CallError::TimedOut { .. } => ApiError::timeout(error.to_string()),
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
    /// `Option` only so that `Drop` can move it to a plain thread.
    client: Option<Client>,
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
            client: Some(client),
        })
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

    /// Sends a request and returns the body of a `2xx` answer. The calling
    /// thread is parked for the whole call.
    fn send(&self, request: impl FnOnce(&Client) -> RequestBuilder) -> Result<String, CallError> {
        let _counted = InFlight::enter(&self.in_flight);
        if self.link.is_cut() {
            // Simulation shortcut: a real partition drops packets and the call
            // times out; here the worker waits out the same timeout without
            // touching the network (loopback cannot be partitioned without
            // privileges). What matters for the harness is the same: the
            // worker is held for `timeout` and the peer never hears of it.
            thread::sleep(self.timeout);
            return Err(CallError::Partitioned {
                peer: self.peer,
                timeout: self.timeout,
            });
        }
        let client = self.client.as_ref().expect("present until drop");
        let response = request(client)
            .send()
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let text = response.text().map_err(|e| self.transport_error(&e))?;
        if !status.is_success() {
            return Err(CallError::Status {
                peer: self.peer,
                status: status.as_u16(),
                body: text.chars().take(MAX_BODY_IN_ERROR).collect(),
            });
        }
        Ok(text)
    }

    fn transport_error(&self, error: &reqwest::Error) -> CallError {
        if error.is_timeout() {
            return CallError::TimedOut {
                peer: self.peer,
                timeout: self.timeout,
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
