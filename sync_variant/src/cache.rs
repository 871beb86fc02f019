//! Payments' cache of performance: defends against an Incentives outage
//! turning into silent under-payment.
//!
//! Every performance Payments learns from Incentives is kept per courier with
//! the time it was learnt. When asking Incentives fails (it is down, hung, cut
//! off, or its breaker is open), Payments pays with the cached performance
//! instead of the +0 % fallback — *stale-if-error*, as HTTP's RFC 5861 names
//! it — and the payout records `performanceSource: "cached"` and the
//! information's age, so an outage shows up as staleness the harness can
//! count, not as a wrong amount nobody sees. Past `ttl` an entry is gone:
//! information that old is not served at all (the failure policy decides).
//!
//! The cache is only read when the live answer fails: a healthy Incentives is
//! always asked, so the cache adds no staleness on the happy path. (Serving
//! fresh entries without asking — `max-age` — would save calls and pay for it
//! with staleness on every update; the ablation table shows what it saves.)
//!
//! Built on `moka`'s synchronous cache: bounded in entries, expiring by
//! time-to-live, safe to share between workers without a global lock.

use std::time::{Duration, Instant};

use common::api::PerformanceSource;
use common::ledger::AppliedPerformance;
use common::{CourierId, Performance};
use moka::sync::Cache;
use serde::{Deserialize, Serialize};

/// The cache's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    /// The oldest information served. Default 60 s: an outage of Incentives
    /// in the built-in scenarios lasts seconds, and a courier's performance
    /// changes on the scale of minutes to hours in the reference domain.
    #[serde(rename = "ttl_ms", with = "common::millis")]
    pub ttl: Duration,
    /// Couriers kept. Default 100 000: every courier of every scenario.
    pub capacity: u64,
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            ttl: Duration::from_secs(60),
            capacity: 100_000,
        }
    }
}

impl CacheConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.ttl.is_zero() || self.capacity == 0 {
            return Err("cache: ttl and capacity must be above zero".into());
        }
        Ok(())
    }
}

/// Each courier's last known performance and when it was learnt.
#[derive(Debug)]
pub struct PerformanceCache {
    entries: Cache<CourierId, (Performance, Instant)>,
}

impl PerformanceCache {
    pub fn new(config: CacheConfig) -> PerformanceCache {
        PerformanceCache {
            entries: Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(config.ttl)
                .build(),
        }
    }

    /// Incentives answered: remember it.
    pub fn learn(&self, courier: CourierId, performance: Performance) {
        self.entries.insert(courier, (performance, Instant::now()));
    }

    /// Incentives failed: what was known, with its age, if anything within `ttl`.
    pub fn stale(&self, courier: CourierId) -> Option<AppliedPerformance> {
        let (performance, learnt) = self.entries.get(&courier)?;
        Some(AppliedPerformance {
            performance,
            source: PerformanceSource::Cached,
            age_ms: Some(learnt.elapsed().as_micros().div_ceil(1000) as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_what_it_learnt_with_its_age_and_nothing_else() {
        let cache = PerformanceCache::new(CacheConfig::default());
        assert_eq!(cache.stale(7), None);
        cache.learn(7, Performance::High);
        let applied = cache.stale(7).expect("cached");
        assert_eq!(applied.performance, Performance::High);
        assert_eq!(applied.source, PerformanceSource::Cached);
        assert!(applied.age_ms.is_some());
        assert_eq!(cache.stale(8), None);
    }
}
