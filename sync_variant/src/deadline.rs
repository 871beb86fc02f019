//! Deadlines: defends against work done for a caller who has already given up.
//!
//! Every request that enters a service carries the instant by which its caller
//! stops waiting. The edge takes it from the `x-commlab-budget-ms` header (a
//! *relative* budget, as gRPC's `grpc-timeout` is: the two services share no
//! clock in production) or, without the header, from the configured default —
//! the harness sets that to the scenario's SLO, the time after which the user
//! counts a request as failed anyway.
//!
//! The deadline then travels with the request:
//! - the edge stops waiting at the deadline and answers `504` (`pool.rs`);
//! - a queued job whose deadline has passed is dropped, never run (`pool.rs`);
//! - on the worker it is a thread-local ([`enter`]), so that every blocking
//!   call the job makes (`calls.rs`) times out at what is left of it, never
//!   later, and passes what is left — minus [`PROPAGATION_MARGIN`] — to the peer;
//! - Payments checks it once more just before it writes to the ledger
//!   (`payments.rs`), so a payment whose caller has been told "failed" is not
//!   made: the sync variant's "paid though rejected".
//!
//! Without deadlines (plain `sync`) none of this happens: a request queued
//! behind a hung peer waits for a worker however long its client has gone.

use std::cell::Cell;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use common::api::ApiError;
use serde::{Deserialize, Serialize};

/// The header a caller states its remaining budget in, in whole milliseconds.
pub const BUDGET_HEADER: &str = "x-commlab-budget-ms";

/// What a service passes on is its own remaining budget minus this, so that
/// the callee gives up (and refuses to pay) a little *before* its caller
/// does: the answer must still travel back. 10 ms is many loopback round
/// trips, and small against the 500 ms SLOs of the built-in scenarios.
pub const PROPAGATION_MARGIN: Duration = Duration::from_millis(10);

/// The deadline mechanism's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeadlineConfig {
    /// The budget of a request that arrives without the header. Default
    /// 500 ms, the SLO of most built-in scenarios; the harness passes each
    /// scenario's SLO.
    #[serde(rename = "default_budget_ms", with = "common::millis")]
    pub default_budget: Duration,
}

impl Default for DeadlineConfig {
    fn default() -> DeadlineConfig {
        DeadlineConfig {
            default_budget: Duration::from_millis(500),
        }
    }
}

/// The instant a request's caller stops waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(pub Instant);

impl Deadline {
    pub fn after(budget: Duration) -> Deadline {
        Deadline(Instant::now() + budget)
    }

    /// Time left; zero once passed.
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn has_passed(self) -> bool {
        self.remaining().is_zero()
    }

    /// The budget to pass to a peer: what is left, minus the margin.
    pub fn budget_for_peer(self) -> Duration {
        self.remaining().saturating_sub(PROPAGATION_MARGIN)
    }
}

tokio::task_local! {
    /// The deadline of the request an edge handler is serving.
    static EDGE_DEADLINE: Deadline;
}

thread_local! {
    /// The deadline of the job a worker is running.
    static JOB_DEADLINE: Cell<Option<Deadline>> = const { Cell::new(None) };
}

/// Axum middleware: stamps each request with its deadline for the handler
/// (and so for the pool) to read. A malformed header is a bad request.
pub async fn stamp(State(config): State<DeadlineConfig>, request: Request, next: Next) -> Response {
    let budget = match request.headers().get(BUDGET_HEADER).map(parse_budget) {
        None => config.default_budget,
        Some(Ok(budget)) => budget,
        Some(Err(message)) => return ApiError::bad_request(message).into_response(),
    };
    EDGE_DEADLINE
        .scope(Deadline::after(budget), next.run(request))
        .await
}

fn parse_budget(value: &HeaderValue) -> Result<Duration, String> {
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .ok_or_else(|| format!("header {BUDGET_HEADER} must be a whole number of milliseconds"))
}

/// In an edge handler: the deadline the middleware stamped, if deadlines are on.
pub fn of_request() -> Option<Deadline> {
    EDGE_DEADLINE.try_with(|d| *d).ok()
}

/// On a worker: the running job's deadline, if it has one.
pub fn current() -> Option<Deadline> {
    JOB_DEADLINE.with(Cell::get)
}

/// Makes `deadline` the worker's current one until the guard drops.
pub fn enter(deadline: Option<Deadline>) -> Entered {
    JOB_DEADLINE.with(|d| d.set(deadline));
    Entered
}

/// Clears the worker's deadline when the job ends, even if it unwinds.
#[derive(Debug)]
pub struct Entered;

impl Drop for Entered {
    fn drop(&mut self) {
        JOB_DEADLINE.with(|d| d.set(None));
    }
}

/// On a worker, before an action the caller must not see done after it was
/// told "failed" (a payment): `504` once the deadline has passed.
pub fn check() -> Result<(), ApiError> {
    match current() {
        Some(deadline) if deadline.has_passed() => Err(ApiError::timeout(
            "the caller's deadline passed before the payment was made: nothing was paid",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_sees_its_jobs_deadline_only_while_it_runs() {
        assert_eq!(current(), None);
        let deadline = Deadline::after(Duration::from_secs(5));
        {
            let _entered = enter(Some(deadline));
            assert_eq!(current(), Some(deadline));
            assert!(check().is_ok());
        }
        assert_eq!(current(), None);
        let _entered = enter(Some(Deadline(Instant::now())));
        assert_eq!(check().unwrap_err().status.as_u16(), 504);
    }

    #[test]
    fn the_budget_header_must_be_whole_milliseconds() {
        assert_eq!(
            parse_budget(&HeaderValue::from_static("250")),
            Ok(Duration::from_millis(250))
        );
        assert!(parse_budget(&HeaderValue::from_static("0.5s")).is_err());
    }
}
