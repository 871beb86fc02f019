//! Payments' copy of every courier's performance: the data the asynchronous
//! design moves *ahead of time* so that paying a delivery calls nobody.
//!
//! In the synchronous variant this file has no counterpart: Payments asks
//! Incentives on every payment. Here the consumer (`consumer.rs`) writes the
//! copy from `PerformanceChanged` events, deliveries read it (`payments.rs`),
//! and the copy records how far behind the stream it may be, so that every
//! payout can say how stale the performance it used was.
//!
//! Next: `consumer.rs`, its only writer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use common::api::PerformanceSource;
use common::domain::lock;
use common::ledger::AppliedPerformance;
use common::{CourierId, Performance};

/// Payments' own copy of every courier's performance, built from events.
///
/// It is memory, not a database: a consumer crash loses it, and the consumer
/// rebuilds it by replaying the log (`consumer.rs`). The consumer is its only
/// writer; deliveries read it.
#[derive(Debug)]
pub struct PerformanceCopy {
    state: Mutex<CopyState>,
}

#[derive(Debug)]
struct CopyState {
    /// `None` while lost and not yet rebuilt.
    couriers: Option<HashMap<CourierId, Performance>>,
    /// The next offset the consumer will process: the copy reflects every
    /// event before it.
    position: u64,
    /// Since when the copy has been missing events: the publish time of the
    /// first event not yet applied, or — when the consumer cannot see the
    /// stream — the last moment it knew it had everything. `None`: complete.
    stale_since: Option<Instant>,
    /// The last moment the consumer saw that it had applied everything.
    confirmed_at: Instant,
}

impl Default for PerformanceCopy {
    fn default() -> Self {
        PerformanceCopy::new()
    }
}

impl PerformanceCopy {
    /// An empty copy that is complete: before any event, every courier is
    /// `Normal`, and that is known, not a fallback.
    pub fn new() -> PerformanceCopy {
        PerformanceCopy {
            state: Mutex::new(CopyState {
                couriers: Some(HashMap::new()),
                position: 0,
                stale_since: None,
                confirmed_at: Instant::now(),
            }),
        }
    }

    /// The performance a delivery is paid with, and how old it is. A courier
    /// nobody rated is `Normal` (cached); a lost copy gives the fallback.
    ///
    /// `head` is the stream's head when Payments can see it. Events published
    /// after the consumer last looked (it may be waking up, or slowed down)
    /// make the copy behind even if the consumer does not know yet; it is
    /// then complete at best as of the consumer's last confirmation.
    pub fn for_delivery(&self, courier: CourierId, head: Option<u64>) -> AppliedPerformance {
        let state = lock(&self.state);
        let Some(couriers) = &state.couriers else {
            return AppliedPerformance::fallback();
        };
        let behind_unseen = head.is_some_and(|head| head > state.position);
        let stale_since = match state.stale_since {
            None if behind_unseen => Some(state.confirmed_at),
            known => known,
        };
        // Rounded up: a copy that is behind at all is never reported as 0 ms old.
        let age_ms =
            stale_since.map_or(0, |since| since.elapsed().as_micros().div_ceil(1000) as u64);
        AppliedPerformance {
            performance: couriers.get(&courier).copied().unwrap_or_default(),
            source: PerformanceSource::Cached,
            age_ms: Some(age_ms),
        }
    }

    /// The performance a bonus is paid with: the copy's value at the bonus's
    /// place in the log. `None` while the copy is lost.
    pub(crate) fn performance(&self, courier: CourierId) -> Option<Performance> {
        let state = lock(&self.state);
        let couriers = state.couriers.as_ref()?;
        Some(couriers.get(&courier).copied().unwrap_or_default())
    }

    pub fn is_ready(&self) -> bool {
        lock(&self.state).couriers.is_some()
    }

    /// The next offset the consumer will process.
    pub fn position(&self) -> u64 {
        lock(&self.state).position
    }

    /// Applies a `PerformanceChanged` event.
    pub(crate) fn set(&self, courier: CourierId, performance: Performance) {
        if let Some(couriers) = &mut lock(&self.state).couriers {
            couriers.insert(courier, performance);
        }
    }

    /// The consumer has applied every event before `position`.
    pub(crate) fn advance_to(&self, position: u64) {
        lock(&self.state).position = position;
    }

    /// The consumer saw that it has applied everything published.
    pub(crate) fn mark_complete(&self) {
        let mut state = lock(&self.state);
        state.stale_since = None;
        state.confirmed_at = Instant::now();
    }

    /// The consumer saw an event it has not applied, published at `since`.
    pub(crate) fn mark_stale_since(&self, since: Instant) {
        lock(&self.state).stale_since = Some(since);
    }

    /// The consumer cannot see the stream (down, unreachable, its process
    /// paused): the copy is complete at best as of the last confirmation.
    pub(crate) fn mark_unconfirmed(&self) {
        let mut state = lock(&self.state);
        state.stale_since = Some(state.stale_since.unwrap_or(state.confirmed_at));
    }

    /// The consumer crashed: its memory is gone. Deliveries fall back to +0 %
    /// until [`PerformanceCopy::install`].
    pub(crate) fn lose(&self) {
        lock(&self.state).couriers = None;
    }

    /// A rebuilt copy, complete up to `position`, replaces the lost one in one
    /// step, so no delivery ever reads a half-replayed copy.
    pub(crate) fn install(&self, couriers: HashMap<CourierId, Performance>, position: u64) {
        let mut state = lock(&self.state);
        state.couriers = Some(couriers);
        state.position = position;
        // Complete up to `position`; whether anything was published after it
        // is known only at the consumer's next read. Until then, stale at
        // least since the last confirmation.
        state.stale_since = Some(state.stale_since.unwrap_or(state.confirmed_at));
    }
}
