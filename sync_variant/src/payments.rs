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
//! Compare `async_variant/src/payments.rs`, which reads performance from a local
//! copy built from events and makes no call at all. Next: `buffer.rs`.

use std::sync::Arc;

use common::api::{ApiError, PaymentRef, PaymentsApi, PayoutsView};
use common::ledger::{AppliedPerformance, Ledger};
use common::{CourierId, Money};

use crate::FailurePolicy;
use crate::calls::Calls;
use crate::pool::{Pool, Process};

/// Payments' behaviour behind the edge; cheap to clone (the router holds one).
#[derive(Clone, Debug)]
pub struct Payments {
    pool: Arc<Pool>,
    state: Arc<State>,
}

/// What a job on a worker needs (kept apart from the pool, as in `incentives.rs`).
#[derive(Debug)]
struct State {
    ledger: Arc<Ledger>,
    /// The client for Incentives.
    calls: Arc<Calls>,
    policy: FailurePolicy,
    process: Arc<Process>,
}

impl Payments {
    pub fn new(
        pool: Arc<Pool>,
        calls: Arc<Calls>,
        ledger: Arc<Ledger>,
        policy: FailurePolicy,
        process: Arc<Process>,
    ) -> Payments {
        let state = State {
            ledger,
            calls,
            policy,
            process,
        };
        Payments {
            pool,
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
        self.pool
            .run(move || state.pay(courier, amount, &reference))
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
        let applied = match self.calls.performance(courier) {
            Ok(performance) => AppliedPerformance::live(performance),
            Err(error) => match self.policy {
                // The reference system: no performance, no incentive, no error.
                // The courier is under-paid and nobody is told.
                FailurePolicy::Fallback => AppliedPerformance::fallback(),
                FailurePolicy::Fail => return Err(error.into()),
            },
        };
        // The call blocked for a while; a process that crashed meanwhile
        // writes nothing, and a hung one waits here.
        self.process.checkpoint()?;
        self.ledger
            .pay(courier, amount, reference, applied)
            .answer(amount)
    }
}
