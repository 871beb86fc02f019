//! Payments, synchronous: every payment first asks Incentives for the courier's
//! performance, with a blocking call, then pays.
//!
//! That call is the reference system's second dependency: Payments cannot pay
//! correctly without Incentives. When the call fails, the [`FailurePolicy`]
//! decides — the reference code silently pays at +0 % (an under-payment, which
//! the ledger records with `performanceSource: "fallback"` so the harness can
//! count it); the alternative is to refuse and pay nothing.
//!
//! A payment's reference (bonus id or delivery id) makes it safe to repeat: the
//! ledger (`common::ledger`) pays each reference once, in the same critical
//! section as the write. That is what lets sync-buffered resend a bonus whose
//! first attempt timed out.
//!
//! In sync-resilient, a performance Incentives cannot give is taken from the
//! cache (`cache.rs`), recorded as cached with its age; and a payment whose
//! caller's deadline has passed is not made (`deadline.rs`).
//!
//! Compare `async_variant/src/payments.rs`, which reads performance from a local
//! copy built from events and makes no call at all. Next: `buffer.rs`.

use std::sync::Arc;

use common::api::{ApiError, PaymentRef, PaymentsApi, PayoutKind, PayoutsView};
use common::ledger::{AppliedPerformance, Ledger};
use common::{CourierId, Money};

use crate::FailurePolicy;
use crate::bulkhead::Pools;
use crate::cache::PerformanceCache;
use crate::calls::Calls;
use crate::deadline;
use crate::pool::Process;

/// Payments' behaviour behind the edge; cheap to clone (the router holds one).
#[derive(Clone, Debug)]
pub struct Payments {
    /// `main` pays deliveries; `side` pays bonuses, the calls Incentives'
    /// bonuses wait on (the same pool without bulkheads).
    pools: Pools,
    state: Arc<State>,
}

/// What a job on a worker needs (kept apart from the pool, as in `incentives.rs`).
#[derive(Debug)]
struct State {
    ledger: Arc<dyn Ledger>,
    /// The client for Incentives.
    calls: Arc<Calls>,
    policy: FailurePolicy,
    /// sync-resilient: what Incentives said before, for when it cannot say.
    cache: Option<Arc<PerformanceCache>>,
    process: Arc<Process>,
}

impl Payments {
    pub fn new(
        pools: Pools,
        calls: Arc<Calls>,
        ledger: Arc<dyn Ledger>,
        policy: FailurePolicy,
        cache: Option<Arc<PerformanceCache>>,
        process: Arc<Process>,
    ) -> Payments {
        let state = State {
            ledger,
            calls,
            policy,
            cache,
            process,
        };
        Payments {
            pools,
            state: Arc::new(state),
        }
    }
}

impl PaymentsApi for Payments {
    async fn pay(
        &self,
        courier: CourierId,
        amount: Money,
        reference: PaymentRef,
    ) -> Result<(), ApiError> {
        let state = self.state.clone();
        let pool = match reference.kind {
            PayoutKind::Delivery => &self.pools.main,
            PayoutKind::Bonus => &self.pools.side,
        };
        pool.run(move || state.pay(courier, amount, &reference))
            .await
    }

    /// Reads the ledger directly, without a worker: it makes no call and takes
    /// microseconds, and keeping it off the pool lets the harness reconcile
    /// money even while the pool is starved. (On Tomcat it would need a thread
    /// like everything else.)
    async fn payouts(&self, courier: CourierId) -> PayoutsView {
        self.state.ledger.payouts(courier)
    }
}

impl State {
    /// Runs on a worker: asks Incentives, holding this worker until it answers
    /// or the call times out, then pays once per reference.
    fn pay(
        &self,
        courier: CourierId,
        amount: Money,
        reference: &PaymentRef,
    ) -> Result<(), ApiError> {
        let cache = self.cache.as_deref();
        let applied = match self.calls.performance(courier) {
            Ok(performance) => {
                cache.inspect(|c| c.learn(courier, performance));
                AppliedPerformance::live(performance)
            }
            Err(error) => match (cache.and_then(|c| c.stale(courier)), self.policy) {
                // sync-resilient: stale-if-error, recorded as cached.
                (Some(cached), _) => cached,
                // The reference system: no performance, no incentive, no error.
                // The courier is under-paid and nobody is told.
                (None, FailurePolicy::Fallback) => AppliedPerformance::fallback(),
                (None, FailurePolicy::Fail) => return Err(error.into()),
            },
        };
        // The call blocked for a while; a process that crashed meanwhile
        // writes nothing, and a hung one waits here. A caller who has given
        // up has been told "failed": do not pay behind its back.
        self.process.checkpoint()?;
        deadline::check()?;
        self.ledger
            .pay(courier, amount, reference, applied)
            .answer(amount)
    }
}
