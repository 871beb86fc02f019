//! sync-resilient's configuration: which of the six defences are on, and each
//! one's parameters. `None` switches a mechanism off; the plain `sync` variant
//! is `Config { resilience: None, .. }`, and `sync-resilient` is
//! [`Resilience::all`]. A scenario can define any combination in between
//! (`[variant.NAME]`, read by the harness), and `--ablate` runs
//! [`Resilience::without`] each mechanism in turn.
//!
//! Each mechanism's parameters and defaults live beside its code: `deadline.rs`,
//! `retry.rs`, `breaker.rs`, `bulkhead.rs`, `cache.rs`, `shedding.rs`.

use serde::{Deserialize, Serialize};

use crate::breaker::BreakerConfig;
use crate::bulkhead::BulkheadConfig;
use crate::cache::CacheConfig;
use crate::deadline::DeadlineConfig;
use crate::retry::RetryConfig;
use crate::shedding::SheddingConfig;

/// The defences, each `Some(parameters)` when on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resilience {
    pub deadline: Option<DeadlineConfig>,
    pub retry: Option<RetryConfig>,
    pub breaker: Option<BreakerConfig>,
    pub bulkhead: Option<BulkheadConfig>,
    pub cache: Option<CacheConfig>,
    pub shedding: Option<SheddingConfig>,
}

/// The mechanisms by the names scenarios and `--ablate` use, in reading order.
pub const MECHANISMS: [&str; 6] = [
    "deadline", "retry", "breaker", "bulkhead", "cache", "shedding",
];

impl Resilience {
    /// Every defence on, at its defaults: the `sync-resilient` preset.
    pub fn all() -> Resilience {
        Resilience {
            deadline: Some(DeadlineConfig::default()),
            retry: Some(RetryConfig::default()),
            breaker: Some(BreakerConfig::default()),
            bulkhead: Some(BulkheadConfig::default()),
            cache: Some(CacheConfig::default()),
            shedding: Some(SheddingConfig::default()),
        }
    }

    /// The same with one mechanism off; `None` for a name that is none of
    /// [`MECHANISMS`].
    pub fn without(mut self, mechanism: &str) -> Option<Resilience> {
        match mechanism {
            "deadline" => self.deadline = None,
            "retry" => self.retry = None,
            "breaker" => self.breaker = None,
            "bulkhead" => self.bulkhead = None,
            "cache" => self.cache = None,
            "shedding" => self.shedding = None,
            _ => return None,
        }
        Some(self)
    }

    /// Whether a mechanism is on.
    pub fn has(&self, mechanism: &str) -> bool {
        match mechanism {
            "deadline" => self.deadline.is_some(),
            "retry" => self.retry.is_some(),
            "breaker" => self.breaker.is_some(),
            "bulkhead" => self.bulkhead.is_some(),
            "cache" => self.cache.is_some(),
            "shedding" => self.shedding.is_some(),
            _ => false,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if let Some(retry) = &self.retry {
            retry.validate()?;
        }
        if let Some(breaker) = &self.breaker {
            breaker.validate()?;
        }
        if let Some(cache) = &self.cache {
            cache.validate()?;
        }
        if self.bulkhead.is_some_and(|b| b.workers == 0) {
            return Err("bulkhead.workers must be at least 1".into());
        }
        if self.deadline.is_some_and(|d| d.default_budget.is_zero()) {
            return Err("deadline.default_budget must be above zero".into());
        }
        Ok(())
    }
}
