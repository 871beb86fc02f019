//! A circuit breaker per dependency: defends against spending a worker (and
//! a call timeout) on a peer that is known to be failing.
//!
//! The classic three states (Nygard, *Release It!*):
//!
//! ```text
//!            failure rate ≥ threshold over the window
//!   CLOSED ───────────────────────────────────────────▶ OPEN ──┐
//!     ▲                                                  ▲     │ after `open_for`
//!     │ `probes` probes in a row succeed     a probe fails│     ▼
//!     └────────────────────────────────────────────── HALF-OPEN
//! ```
//!
//! - **Closed**: calls go through; each outcome enters a sliding window of the
//!   last `window` calls. Once the window holds at least `min_calls` outcomes
//!   and the share of failures reaches `failure_rate`, the breaker opens.
//! - **Open**: calls fail at once (`CallError::Open`), costing no worker time;
//!   a bonus gets its `503` (or goes to the resend buffer where that is on), a
//!   delivery is priced from the cache, or by the failure policy.
//! - **Half-open**, after `open_for`: at most `probes` calls are let through
//!   at a time; when `probes` of them have succeeded the breaker closes, the
//!   first failure opens it again.
//!
//! Failures are what a peer can be blamed for: timeouts, refused connections,
//! `5xx`. A `4xx` (our request was wrong) and a spent deadline (our own
//! budget) do not count.
//!
//! Why not the `failsafe` crate: its half-open state lets a single call
//! decide, with no configurable probe count, and its success-rate policy is
//! time-windowed with no minimum of calls; the state machine with both knobs
//! is the hundred lines below, and it can be read in one go.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::domain::lock;
use serde::{Deserialize, Serialize};

/// The breaker's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BreakerConfig {
    /// Calls the sliding window remembers. Default 20: at the built-in
    /// scenarios' rates (a hundred calls a second or more) the window covers
    /// the last fraction of a second, so the breaker reacts within it.
    pub window: usize,
    /// Fewest outcomes in the window before it may open. Default 10, so that
    /// two unlucky calls after a quiet spell do not open it.
    pub min_calls: usize,
    /// Share of failures that opens it. Default 0.5.
    pub failure_rate: f64,
    /// How long it stays open before probing. Default 250 ms: short against a
    /// fault of seconds (recovery is noticed quickly), long against a call.
    #[serde(rename = "open_for_ms", with = "common::millis")]
    pub open_for: Duration,
    /// Probe calls let through at once while half-open, and successes needed
    /// to close. Default 3.
    pub probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig {
            window: 20,
            min_calls: 10,
            failure_rate: 0.5,
            open_for: Duration::from_millis(250),
            probes: 3,
        }
    }
}

impl BreakerConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.window == 0 || self.min_calls == 0 || self.min_calls > self.window {
            return Err("breaker: need 1 ≤ min_calls ≤ window".into());
        }
        if !(self.failure_rate > 0.0 && self.failure_rate <= 1.0) {
            return Err("breaker.failure_rate must be in (0, 1]".into());
        }
        if self.probes == 0 {
            return Err("breaker.probes must be at least 1".into());
        }
        Ok(())
    }
}

/// Where the breaker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, succeeded: u32 },
}

/// The breaker refused the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused;

/// One dependency's breaker.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    /// The last `window` outcomes while closed: `true` is a failure.
    outcomes: VecDeque<bool>,
    failures: usize,
    /// Times it opened: a counter the variant reports.
    opened: u64,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                outcomes: VecDeque::with_capacity(config.window),
                failures: 0,
                opened: 0,
            }),
        }
    }

    /// Before a call: may it go? Every permitted call must be followed by
    /// exactly one [`Breaker::record`].
    pub fn permit(&self) -> Result<(), Refused> {
        let mut inner = lock(&self.inner);
        match inner.state {
            BreakerState::Closed => Ok(()),
            BreakerState::Open { until } if Instant::now() < until => Err(Refused),
            BreakerState::Open { .. } => {
                inner.state = BreakerState::HalfOpen {
                    in_flight: 1,
                    succeeded: 0,
                };
                Ok(())
            }
            BreakerState::HalfOpen {
                in_flight,
                succeeded,
            } if in_flight + succeeded < self.config.probes => {
                inner.state = BreakerState::HalfOpen {
                    in_flight: in_flight + 1,
                    succeeded,
                };
                Ok(())
            }
            BreakerState::HalfOpen { .. } => Err(Refused),
        }
    }

    /// After a permitted call: was the peer at fault?
    pub fn record(&self, failed: bool) {
        let mut inner = lock(&self.inner);
        match inner.state {
            BreakerState::Closed => {
                inner.outcomes.push_back(failed);
                inner.failures += usize::from(failed);
                if inner.outcomes.len() > self.config.window {
                    let oldest = inner.outcomes.pop_front().unwrap_or(false);
                    inner.failures -= usize::from(oldest);
                }
                let seen = inner.outcomes.len();
                if seen >= self.config.min_calls
                    && inner.failures as f64 >= self.config.failure_rate * seen as f64
                {
                    self.open(&mut inner);
                }
            }
            BreakerState::HalfOpen { .. } if failed => self.open(&mut inner),
            BreakerState::HalfOpen {
                in_flight,
                succeeded,
            } => {
                let succeeded = succeeded + 1;
                inner.state = if succeeded >= self.config.probes {
                    BreakerState::Closed
                } else {
                    BreakerState::HalfOpen {
                        in_flight: in_flight.saturating_sub(1),
                        succeeded,
                    }
                };
            }
            // A call permitted before the breaker opened ends while it is
            // open: its outcome is old news.
            BreakerState::Open { .. } => {}
        }
    }

    #[cfg(test)]
    pub fn state(&self) -> BreakerState {
        lock(&self.inner).state
    }

    /// How many times it has opened.
    pub fn opened(&self) -> u64 {
        lock(&self.inner).opened
    }

    fn open(&self, inner: &mut Inner) {
        inner.state = BreakerState::Open {
            until: Instant::now() + self.config.open_for,
        };
        inner.outcomes.clear();
        inner.failures = 0;
        inner.opened += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(open_for: Duration) -> Breaker {
        Breaker::new(BreakerConfig {
            window: 4,
            min_calls: 4,
            failure_rate: 0.5,
            open_for,
            probes: 2,
        })
    }

    fn call(b: &Breaker, failed: bool) -> Result<(), Refused> {
        b.permit()?;
        b.record(failed);
        Ok(())
    }

    #[test]
    fn opens_on_the_failure_rate_over_the_window_only() {
        let b = breaker(Duration::from_secs(60));
        for failed in [true, false, false] {
            call(&b, failed).unwrap();
        }
        assert_eq!(b.state(), BreakerState::Closed, "1 of 3: below min_calls");
        call(&b, false).unwrap();
        assert_eq!(b.state(), BreakerState::Closed, "1 of 4");
        call(&b, true).unwrap();
        assert_eq!(
            b.state(),
            BreakerState::Closed,
            "the first failure slid out: 1 of 4"
        );
        call(&b, true).unwrap();
        assert!(
            matches!(b.state(), BreakerState::Open { .. }),
            "2 of the last 4"
        );
        assert_eq!(call(&b, false), Err(Refused), "open: refused at once");
        assert_eq!(b.opened(), 1);
    }

    #[test]
    fn half_open_lets_probes_through_and_closes_after_enough_successes() {
        let b = breaker(Duration::ZERO);
        for _ in 0..4 {
            call(&b, true).unwrap();
        }
        // open_for is zero: the next permit is the first probe.
        b.permit().unwrap();
        b.permit().unwrap();
        assert_eq!(b.permit(), Err(Refused), "only `probes` at once");
        b.record(false);
        b.record(false);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_failed_probe_opens_it_again() {
        let b = breaker(Duration::ZERO);
        for _ in 0..4 {
            call(&b, true).unwrap();
        }
        call(&b, true).unwrap();
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        assert_eq!(b.opened(), 2);
    }
}
