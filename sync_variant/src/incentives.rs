//! Incentives, synchronous: granting a bonus *is* a blocking call to Payments.
//!
//! `POST /incentives/bonuses/{id}` answers only after Payments has answered
//! (the reference system's `202` means "paid", not "accepted"). So Incentives'
//! availability for bonuses is at most Payments' availability, and every bonus
//! in flight holds one of Incentives' workers for as long as Payments takes —
//! while Payments, to pay it, calls back into Incentives for the courier's
//! performance, which needs *another* Incentives worker. Under load or with a
//! slow Payments this cycle starves the pool: the bonus requests hold all the
//! workers, and the performance lookups that would let them finish wait in the
//! queue behind them until the calls time out.
//!
//! In sync-buffered, a bonus Payments did not take is kept in the resend buffer
//! (`buffer.rs`) and answered `202` anyway.
//!
//! A repeated bonus id is recognised here, before any call, by the same
//! record as in the async Incentives (`common::idempotency`): a grant that is
//! done is answered `202` again without calling Payments; the same id with
//! another courier or bonus type is `409`.
//!
//! Compare `async_variant/src/incentives.rs`, where granting a bonus is
//! recording an event. Next: `payments.rs`, the other end of the call.

use std::sync::Arc;

use common::api::{ApiError, IncentivesApi, Reference};
use common::domain::PerformanceBook;
use common::idempotency::{Claim, Grants};
use common::{BonusType, CourierId, Performance};

use crate::buffer::{ResendBuffer, UnpaidBonus};
use crate::calls::Calls;
use crate::pool::{Pool, Process};

/// Incentives' behaviour behind the edge; cheap to clone (the router holds one).
#[derive(Clone, Debug)]
pub struct Incentives {
    pool: Arc<Pool>,
    state: Arc<State>,
}

/// What a job on a worker needs. Kept apart from the pool so that a queued job
/// never holds the queue it sits in.
#[derive(Debug)]
struct State {
    book: PerformanceBook,
    /// Bonus ids seen, with the request that first used each.
    grants: Arc<Grants>,
    /// The client for Payments.
    calls: Arc<Calls>,
    /// `Some` in sync-buffered only.
    buffer: Option<Arc<ResendBuffer>>,
    process: Arc<Process>,
}

impl Incentives {
    pub fn new(
        pool: Arc<Pool>,
        calls: Arc<Calls>,
        buffer: Option<Arc<ResendBuffer>>,
        process: Arc<Process>,
    ) -> Incentives {
        let state = State {
            book: PerformanceBook::default(),
            grants: Arc::default(),
            calls,
            buffer,
            process,
        };
        Incentives {
            pool,
            state: Arc::new(state),
        }
    }
}

impl IncentivesApi for Incentives {
    async fn grant_bonus(
        &self,
        courier: CourierId,
        bonus: BonusType,
        bonus_id: Reference,
    ) -> Result<(), ApiError> {
        let claimed = match self.state.grants.claim(&bonus_id, courier, bonus)? {
            Claim::Repeat => return Ok(()),
            Claim::ToDo(claimed) => claimed,
        };
        let state = self.state.clone();
        self.pool
            .run(move || {
                state.grant_bonus(courier, bonus, bonus_id)?;
                claimed.done();
                Ok(())
            })
            .await
    }

    async fn set_performance(
        &self,
        courier: CourierId,
        performance: Performance,
    ) -> Result<(), ApiError> {
        // Even a map write holds a worker: in thread-per-request every request
        // does, which is why a pool full of blocked bonus calls also stops
        // performance updates.
        let state = self.state.clone();
        self.pool
            .run(move || {
                state.book.set(courier, performance);
                Ok(())
            })
            .await
    }

    async fn performance(&self, courier: CourierId) -> Result<Performance, ApiError> {
        let state = self.state.clone();
        self.pool.run(move || Ok(state.book.get(courier))).await
    }
}

impl State {
    /// Runs on a worker: looks up the amount and pays it through Payments,
    /// holding this worker until Payments answers or the call times out.
    fn grant_bonus(
        &self,
        courier: CourierId,
        bonus: BonusType,
        bonus_id: Reference,
    ) -> Result<(), ApiError> {
        let amount = bonus.amount();
        let error = match self.calls.pay_bonus(courier, amount, &bonus_id) {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        // Sync: the caller learns that the bonus was not paid — or, after a
        // timeout, that nobody knows (Payments may have paid it).
        let Some(buffer) = &self.buffer else {
            return Err(error.into());
        };
        if !error.is_retryable() {
            return Err(error.into());
        }
        // Sync-buffered: keep it and resend later. The call blocked for a
        // while; if Incentives crashed meanwhile, it keeps nothing.
        self.process.checkpoint()?;
        let unpaid = UnpaidBonus {
            courier,
            amount,
            bonus_id,
        };
        buffer.push(unpaid).map_err(|full| {
            ApiError::overloaded(format!("incentives cannot pay now ({error}) and {full}"))
        })
    }
}
