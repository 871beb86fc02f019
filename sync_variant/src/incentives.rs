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
//! (`buffer.rs`) and answered `202` anyway. In sync-resilient with bulkheads
//! (`bulkhead.rs`), the performance book has a pool of its own, so the bonuses
//! cannot hold the workers that Payments' lookups need.
//!
//! A repeated bonus id is recognised here, before any call, by the same
//! record as in the async Incentives (`common::idempotency`): a grant that is
//! done is answered `202` again without calling Payments; the same id with
//! another courier or bonus type is `409`.
//!
//! On SQLite storage the records — a grant once it is done, every
//! performance — are also rows of `DIR/incentives.sqlite`, each committed
//! alone before the answer (`common::records`), so a restarted Incentives
//! still knows them. There is no event to write with them: the call to
//! Payments *is* the announcement.
//!
//! Compare `async_variant/src/incentives.rs`, where granting a bonus is
//! recording an event. Next: `payments.rs`, the other end of the call.

use std::sync::Arc;

use common::api::{ApiError, IncentivesApi, Reference};
use common::domain::PerformanceBook;
use common::idempotency::{Claim, Grants};
use common::records::{Records, RecordsTable};
use common::{BonusType, CourierId, Performance};

use crate::buffer::{ResendBuffer, UnpaidBonus};
use crate::bulkhead::Pools;
use crate::calls::Calls;
use crate::pool::Process;

/// Incentives' behaviour behind the edge; cheap to clone (the router holds one).
#[derive(Clone, Debug)]
pub struct Incentives {
    /// `main` grants bonuses; `side` serves the performance book (the same
    /// pool without bulkheads).
    pools: Pools,
    state: Arc<State>,
}

/// What a job on a worker needs. Kept apart from the pool so that a queued job
/// never holds the queue it sits in.
#[derive(Debug)]
struct State {
    book: PerformanceBook,
    /// Bonus ids seen, with the request that first used each.
    grants: Arc<Grants>,
    /// The records' tables on SQLite storage; `None` in memory.
    table: Option<RecordsTable>,
    /// The client for Payments.
    calls: Arc<Calls>,
    /// `Some` in sync-buffered only.
    buffer: Option<Arc<ResendBuffer>>,
    process: Arc<Process>,
}

impl Incentives {
    /// Incentives with its `records` (empty in memory; what `table` held at
    /// start on SQLite storage).
    pub fn new(
        pools: Pools,
        calls: Arc<Calls>,
        buffer: Option<Arc<ResendBuffer>>,
        process: Arc<Process>,
        (records, table): (Records, Option<RecordsTable>),
    ) -> Incentives {
        let (book, grants) = records.into_memory();
        let state = State {
            book,
            grants: Arc::new(grants),
            table,
            calls,
            buffer,
            process,
        };
        Incentives {
            pools,
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
        self.pools
            .main
            .run(move || {
                state.grant_bonus(courier, bonus, bonus_id.clone())?;
                if let Some(table) = &state.table {
                    table.grant(&bonus_id, courier, bonus)?;
                }
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
        self.pools
            .side
            .run(move || state.set_performance(courier, performance))
            .await
    }

    async fn performance(&self, courier: CourierId) -> Result<Performance, ApiError> {
        let state = self.state.clone();
        self.pools
            .side
            .run(move || Ok(state.book.get(courier)))
            .await
    }
}

impl State {
    /// The table first, then the book (under the table's lock).
    fn set_performance(
        &self,
        courier: CourierId,
        performance: Performance,
    ) -> Result<(), ApiError> {
        let set = || self.book.set(courier, performance);
        match &self.table {
            None => {
                set();
                Ok(())
            }
            Some(table) => table.set_performance(courier, performance, set),
        }
    }

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
        // Sync-buffered: the buffer keeps it for resending (`buffer.rs`).
        match &self.buffer {
            None => Err(error.into()),
            Some(buffer) => {
                let unpaid = UnpaidBonus {
                    courier,
                    amount,
                    bonus_id,
                };
                buffer.keep(unpaid, error, &self.process)
            }
        }
    }
}
