//! Retries with a budget: defends against a transient failure of one call
//! becoming a failed request — without letting retries multiply a brown-out.
//!
//! Only idempotent calls are retried, and both of this variant's calls are:
//! a bonus payment is keyed by its `bonusId` (Payments' ledger pays a
//! reference once), a performance lookup is a read. `calls.rs` decides which
//! errors are worth another attempt (not a `4xx`, not an open breaker, not a
//! spent deadline); this file decides *whether* and *when*:
//!
//! - **a cap on attempts** (first attempt included);
//! - **exponential backoff with full jitter** (the AWS architecture blog's
//!   "Exponential Backoff and Jitter"): before retry *n* sleep a uniformly
//!   random time in `[0, min(cap, base × 2ⁿ))`, so that callers who failed
//!   together do not retry together. Without jitter the sleep is the whole
//!   interval: the synchronised "naive" retries of the retry-storm scenario;
//! - **a retry budget**, as Finagle's `RetryBudget` (and Envoy's and gRPC's
//!   throttling): every first attempt deposits `budget` tokens (0.1: retries
//!   may add at most 10 % to the calls made), every retry withdraws one, and
//!   a small reserve lets a quiet service still retry. When the peer is down
//!   for everyone the budget runs dry within a few calls, and each failure
//!   costs one call, not `attempts`;
//! - the sleep never outlasts the request's deadline (`deadline.rs`).
//!
//! Why not the `backon` crate: its jitter draws from an unseeded source of its
//! own, and the budget — the part that matters here — is shared state across
//! calls that `backon` does not model. The loop is a dozen lines (`calls.rs`).

use std::sync::Mutex;
use std::time::Duration;

use common::domain::lock;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// The retry mechanism's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryConfig {
    /// Attempts per call, the first one included. Default 3: the common
    /// production setting (gRPC's default `maxAttempts` is capped at 5).
    pub attempts: u32,
    /// The backoff before the first retry, doubled for each next one.
    /// Default 5 ms: a few loopback round trips, so a retry can still land
    /// inside a 500 ms SLO.
    #[serde(rename = "base_ms", with = "common::millis")]
    pub base: Duration,
    /// The longest backoff. Default 100 ms: a fifth of the usual SLO.
    #[serde(rename = "cap_ms", with = "common::millis")]
    pub cap: Duration,
    /// Full jitter on (default) or off (every caller sleeps the same time).
    pub jitter: bool,
    /// Retries allowed per first attempt; `None` is no budget at all (the
    /// naive setting). Default 0.1, Finagle's default percentage.
    pub budget: Option<f64>,
    /// Retries allowed before any deposit, and the most the budget can hold.
    /// Default 10, Finagle's `minRetriesPerSec` order of magnitude.
    pub reserve: u32,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            attempts: 3,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(100),
            jitter: true,
            budget: Some(0.1),
            reserve: 10,
        }
    }
}

impl RetryConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.attempts == 0 {
            return Err("retry.attempts must be at least 1".into());
        }
        if self.budget.is_some_and(|b| !(0.0..=10.0).contains(&b)) {
            return Err("retry.budget must be between 0 and 10 retries per first attempt".into());
        }
        Ok(())
    }
}

/// One service's retry policy and its budget, shared by all its workers.
#[derive(Debug)]
pub struct Retry {
    config: RetryConfig,
    /// Tokens: one per retry. Starts full (at `reserve`).
    balance: Mutex<f64>,
    rng: Mutex<StdRng>,
}

impl Retry {
    pub fn new(config: RetryConfig, seed: u64) -> Retry {
        Retry {
            config,
            balance: Mutex::new(f64::from(config.reserve)),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// A first attempt is being made: it earns the budget a fraction of a retry.
    pub fn deposit(&self) {
        if let Some(ratio) = self.config.budget {
            let mut balance = lock(&self.balance);
            *balance = (*balance + ratio).min(f64::from(self.config.reserve).max(1.0));
        }
    }

    /// May retry number `retry` (1 = the first retry) go ahead? If so, takes
    /// its token and says how long to sleep first.
    pub fn permit(&self, retry: u32) -> Option<Duration> {
        if retry >= self.config.attempts {
            return None;
        }
        if self.config.budget.is_some() {
            let mut balance = lock(&self.balance);
            if *balance < 1.0 {
                return None;
            }
            *balance -= 1.0;
        }
        Some(self.backoff(retry))
    }

    /// `min(cap, base × 2^(retry−1))`, fully jittered when jitter is on.
    fn backoff(&self, retry: u32) -> Duration {
        let exp = self.config.base.saturating_mul(1 << (retry - 1).min(16));
        let ceiling = exp.min(self.config.cap);
        if !self.config.jitter || ceiling.is_zero() {
            return ceiling;
        }
        let us = lock(&self.rng).random_range(0..ceiling.as_micros() as u64);
        Duration::from_micros(us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_lets_through_its_reserve_then_a_tenth_of_first_attempts() {
        let retry = Retry::new(RetryConfig::default(), 1);
        let granted = (0..20).filter(|_| retry.permit(1).is_some()).count();
        assert_eq!(granted, 10, "the reserve");
        for _ in 0..35 {
            retry.deposit();
        }
        let granted = (0..20).filter(|_| retry.permit(1).is_some()).count();
        assert_eq!(granted, 3, "0.1 per first attempt: 3.5 tokens");
    }

    #[test]
    fn without_a_budget_every_attempt_up_to_the_cap_is_allowed() {
        let config = RetryConfig {
            budget: None,
            jitter: false,
            attempts: 4,
            ..RetryConfig::default()
        };
        let retry = Retry::new(config, 1);
        assert!((0..1000).all(|_| retry.permit(3).is_some()));
        assert_eq!(retry.permit(4), None, "the fourth attempt was the last");
        assert_eq!(retry.permit(1), Some(Duration::from_millis(5)));
        assert_eq!(
            retry.permit(3),
            Some(Duration::from_millis(20)),
            "no jitter: the full interval"
        );
    }

    #[test]
    fn full_jitter_stays_below_the_interval_and_replays_with_the_seed() {
        let draws = |seed| {
            let retry = Retry::new(
                RetryConfig {
                    budget: None,
                    ..RetryConfig::default()
                },
                seed,
            );
            (0..50)
                .map(|_| retry.permit(2).unwrap())
                .collect::<Vec<_>>()
        };
        let a = draws(7);
        assert!(a.iter().all(|d| *d < Duration::from_millis(10)));
        assert!(a.iter().any(|d| *d != a[0]), "jittered");
        assert_eq!(a, draws(7));
    }
}
