//! Payments, asynchronous: it pays from information it already holds.
//!
//! Put this file next to `sync_variant/src/payments.rs`. There, paying a
//! delivery means a blocking `GET /incentives/performance/{id}` first; when
//! Incentives is down the payment fails or falls back to +0 %. Here Payments
//! keeps its own [`PerformanceCopy`], built by its consumer (`consumer.rs`)
//! from the events Incentives published, and `POST /payments` reads that copy:
//! no call to anyone, so nothing Incentives does can fail or slow a delivery.
//! (The article: "we even achieved better performance removing unnecessary
//! network call".)
//!
//! The cost is freshness. The copy is as current as the consumer: every
//! delivery payout records `performanceSource: "cached"` and
//! `performanceAgeMs`, how long the copy has been missing events (0 when it
//! has everything published). (A bonus payout records age 0: the consumer
//! pays it with the copy exactly as of the bonus's place in the log.) And when
//! the consumer crashes its copy is gone until it has replayed the log: a
//! delivery paid in that window gets `AppliedPerformance::fallback` — +0 %,
//! source `fallback`. That under-payment is this design's own, and the harness
//! counts it as honestly as the synchronous design's.
//!
//! Next: `copy.rs`, the copy itself.

use std::sync::Arc;

use common::api::{ApiError, PaymentRef, PaymentsApi, PayoutsView};
use common::faults::Link;
use common::ledger::Ledger;
use common::{CourierId, Money};

use crate::copy::PerformanceCopy;
use crate::stream::EventStream;

/// Payments' behaviour behind the edge; cheap to clone (the router holds one).
///
/// No worker pool, unlike the synchronous Payments: a payment reads a map and
/// writes the ledger, waits on nothing, and runs right on the edge's runtime.
#[derive(Clone, Debug)]
pub struct Payments {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    ledger: Arc<dyn Ledger>,
    /// Every courier's performance as the events told it; written by the
    /// consumer (`consumer.rs`), read here.
    copy: Arc<PerformanceCopy>,
    /// Asked only for its head (how many events exist), to tell whether the
    /// copy is behind — as last seen, so that a broker costs no call per
    /// payment ([`EventStream::known_head`]).
    stream: Arc<dyn EventStream>,
    /// Across a partition Payments cannot ask the stream anything.
    link: Arc<Link>,
}

impl Payments {
    pub fn new(
        ledger: Arc<dyn Ledger>,
        copy: Arc<PerformanceCopy>,
        stream: Arc<dyn EventStream>,
        link: Arc<Link>,
    ) -> Payments {
        let state = State {
            ledger,
            copy,
            stream,
            link,
        };
        Payments {
            state: Arc::new(state),
        }
    }
}

impl PaymentsApi for Payments {
    /// Bonuses reach this Payments as events, never over HTTP: it has no
    /// internal bonus route (`common::api::internal`).
    const PAYS_BONUSES_OVER_HTTP: bool = false;

    async fn pay(
        &self,
        courier: CourierId,
        amount: Money,
        reference: PaymentRef,
    ) -> Result<(), ApiError> {
        self.state.pay(courier, amount, &reference)
    }

    async fn payouts(&self, courier: CourierId) -> PayoutsView {
        self.state.ledger.payouts(courier)
    }
}

impl State {
    /// Reads the courier's performance from the local copy — no call to
    /// Incentives, so nothing Incentives does can fail or delay it — then pays
    /// once per reference.
    fn pay(
        &self,
        courier: CourierId,
        amount: Money,
        reference: &PaymentRef,
    ) -> Result<(), ApiError> {
        let head = match self.link.is_cut() {
            true => None,
            false => self.stream.known_head(),
        };
        let applied = self.copy.for_delivery(courier, head);
        self.ledger
            .pay(courier, amount, reference, applied)
            .answer(amount)
    }
}
