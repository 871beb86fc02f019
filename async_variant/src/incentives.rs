//! Incentives, asynchronous: it records facts, publishes them, and answers.
//!
//! Put this file next to `sync_variant/src/incentives.rs`. There, granting a
//! bonus is a blocking call to Payments, and the request succeeds only if
//! Payments answers in time. Here it is a local write: the bonus is recorded
//! with its event in the outbox (`outbox.rs`) and the client gets `202`
//! at once. Incentives does not know Payments exists — it never calls it, and
//! nothing it does waits for it. If Payments is down, slow or partitioned away,
//! Incentives' edge does not notice.
//!
//! The cost moves elsewhere: a `202` here means "recorded", not "paid". The
//! payment happens later, when Payments' consumer reaches the event.
//!
//! Next: `payments.rs`, the other side of the stream.

use std::sync::Arc;

use common::api::{ApiError, IncentivesApi, Reference};
use common::domain::PerformanceBook;
use common::idempotency::Grants;
use common::records::Records;
use common::{BonusType, CourierId, Performance};

use crate::events::Event;
use crate::outbox::{NotRecorded, Outbox};

/// Incentives' behaviour behind the edge; cheap to clone (the router holds one).
///
/// No worker pool, unlike the synchronous Incentives: every request here is a
/// few map and queue operations that wait on nothing, so it runs right on the
/// edge's runtime thread and finishes in microseconds.
#[derive(Clone, Debug)]
pub struct Incentives {
    state: Arc<State>,
}

/// Incentives' records. They stand for its database: they survive every fault.
#[derive(Debug)]
struct State {
    /// Every courier's performance, served by `GET /incentives/performance/{id}`.
    book: PerformanceBook,
    /// Bonus ids already granted, with the request that first used each, so
    /// that a client retrying a grant does not publish it twice, and a reused
    /// id with another request is refused (`common::idempotency`).
    grants: Grants,
    /// Facts recorded and not yet on the stream (a table in the same database).
    outbox: Arc<Outbox>,
}

impl Incentives {
    /// Incentives with its `records` (empty in memory; what its tables hold
    /// on SQLite storage, `common::records`).
    pub fn new(outbox: Arc<Outbox>, records: Records) -> Incentives {
        let (book, grants) = records.into_memory();
        let state = State {
            book,
            grants,
            outbox,
        };
        Incentives {
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
        self.state.grant_bonus(courier, bonus, bonus_id)
    }

    async fn set_performance(
        &self,
        courier: CourierId,
        performance: Performance,
    ) -> Result<(), ApiError> {
        // The book and the event change in one transaction, so the stream
        // carries performance changes in exactly the book's order.
        // Published even when the value did not change: the event says what
        // Incentives recorded, and applying it twice is harmless.
        self.state
            .outbox
            .record(|| {
                self.state.book.set(courier, performance);
                Some(Event::PerformanceChanged {
                    courier,
                    performance,
                })
            })
            .map_err(overloaded)
    }

    async fn performance(&self, courier: CourierId) -> Result<Performance, ApiError> {
        Ok(self.state.book.get(courier))
    }
}

impl State {
    /// Records the grant and its `BonusGranted` event in one transaction and
    /// returns: Payments will pay it when its consumer reaches the event. A
    /// repeated `bonus_id` is answered `202` again, with no second event; the
    /// same id with another request is `409`, with none either.
    fn grant_bonus(
        &self,
        courier: CourierId,
        bonus: BonusType,
        bonus_id: Reference,
    ) -> Result<(), ApiError> {
        let mut refused = Ok(());
        self.outbox
            .record(|| match self.grants.record(&bonus_id, courier, bonus) {
                Ok(true) => Some(Event::BonusGranted {
                    courier,
                    bonus_type: bonus,
                    bonus_id,
                }),
                Ok(false) => None,
                Err(conflict) => {
                    refused = Err(conflict);
                    None
                }
            })
            .map_err(overloaded)?;
        refused
    }
}

/// A full outbox is back-pressure, not a lost fact: nothing was recorded, and
/// the client may retry (with the same bonus id) once the stream takes events.
/// A failed table is an outage of Incentives' database.
fn overloaded(refused: NotRecorded) -> ApiError {
    match refused {
        NotRecorded::Full { .. } => ApiError::overloaded(format!(
            "incentives cannot record more facts now: {refused}"
        )),
        NotRecorded::Store(_) => ApiError::unavailable(format!("incentives: {refused}")),
    }
}
