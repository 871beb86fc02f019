//! Payments' ledger: every payout ever made, keyed so that nothing pays twice.
//!
//! It stands for Payments' database, so it survives every fault the harness can
//! inject — a crash of the Payments *process* loses connections and memory, not
//! money already paid. Both variants use this one type; what differs is how the
//! performance that adjusts each payout reaches it (a live call, or a local copy
//! built from events).
//!
//! Idempotency lives here, in the same critical section as the write: checking
//! "already paid?" and recording the payout happen under one lock, as one database
//! transaction would. That is what makes at-least-once delivery (async) and
//! client retries (sync-buffered) safe. Each key keeps the fingerprint of the
//! request that first used it — courier and amount asked — so that the same
//! key with another request is refused as a conflict (`409`) and pays nothing,
//! instead of being answered as if it were a repeat.
//!
//! [`Ledger::without_idempotency`] switches the check off, for the lesson only:
//! a repeated reference is paid again, so a scenario can show what at-least-once
//! delivery costs without it (`idempotency = false` in a scenario file).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::api::{ApiError, PaymentRef, Payout, PayoutsView, PerformanceSource};
use crate::domain::{CourierId, Performance, adjusted_amount, lock};
use crate::money::Money;

/// The performance a payout was adjusted by, and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedPerformance {
    pub performance: Performance,
    pub source: PerformanceSource,
    /// Age of the information in ms (`None` for a fallback: there was none).
    pub age_ms: Option<u64>,
}

impl AppliedPerformance {
    pub fn live(performance: Performance) -> AppliedPerformance {
        AppliedPerformance {
            performance,
            source: PerformanceSource::Live,
            age_ms: Some(0),
        }
    }

    /// The reference system's silent fallback: no performance, pay +0 %.
    pub fn fallback() -> AppliedPerformance {
        AppliedPerformance {
            performance: Performance::Normal,
            source: PerformanceSource::Fallback,
            age_ms: None,
        }
    }
}

/// What [`Ledger::pay`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayOutcome {
    Paid(Money),
    /// This reference was paid before; nothing was paid now.
    AlreadyPaid,
    /// This reference was paid before for another courier or amount, the
    /// first one recorded; nothing was paid now.
    Conflict {
        reference: PaymentRef,
        courier: CourierId,
        amount: Money,
    },
    /// The adjusted amount does not fit in `u64` cents; nothing was paid.
    Overflow,
}

impl PayOutcome {
    /// The answer an edge gives for this outcome. A repeat is answered like the
    /// first time, so that a client that retries after a lost answer learns the
    /// payment is done.
    pub fn answer(self, amount: Money) -> Result<(), ApiError> {
        match self {
            PayOutcome::Paid(_) | PayOutcome::AlreadyPaid => Ok(()),
            PayOutcome::Conflict {
                reference,
                courier,
                amount,
            } => Err(ApiError::conflict(format!(
                "{} was used before for courier {courier} and amount {amount}; \
                 a reused key must repeat its first request exactly",
                reference.describe()
            ))),
            PayOutcome::Overflow => Err(ApiError::bad_request(format!(
                "amount {amount} raised by the courier's incentive does not fit"
            ))),
        }
    }
}

#[derive(Debug, Default)]
struct Books {
    by_courier: HashMap<CourierId, Vec<Payout>>,
    /// Every key paid, with the courier and amount it was paid for.
    paid: HashMap<PaymentRef, (CourierId, Money)>,
    duplicates_refused: u64,
    /// Payouts made (without idempotency, more than `paid.len()`).
    made: u64,
}

#[derive(Debug)]
pub struct Ledger {
    books: Mutex<Books>,
    /// Whether a repeated reference is refused (always, but for the lesson).
    idempotent: bool,
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger {
            books: Mutex::default(),
            idempotent: true,
        }
    }
}

impl Ledger {
    /// A ledger that pays a repeated reference again: the failure the
    /// `paid_twice` checker exists for. Never the default.
    pub fn without_idempotency() -> Ledger {
        Ledger {
            idempotent: false,
            ..Ledger::default()
        }
    }

    /// `Ledger::default()` when `idempotent`, else [`Ledger::without_idempotency`].
    pub fn new(idempotent: bool) -> Ledger {
        if idempotent {
            Ledger::default()
        } else {
            Ledger::without_idempotency()
        }
    }

    /// Pays `amount` raised by `applied.performance`, once per `reference`.
    pub fn pay(
        &self,
        courier: CourierId,
        amount: Money,
        reference: &PaymentRef,
        applied: AppliedPerformance,
    ) -> PayOutcome {
        // The edge caps amounts (api::MAX_AMOUNT), so this cannot overflow; if a
        // caller bypasses the edge, refuse to pay rather than wrap.
        let Some(paid) = adjusted_amount(amount, applied.performance) else {
            return PayOutcome::Overflow;
        };
        let mut books = lock(&self.books);
        let first = books.paid.get(reference).copied();
        if let (Some((first_courier, first_amount)), true) = (first, self.idempotent) {
            if (first_courier, first_amount) != (courier, amount) {
                return PayOutcome::Conflict {
                    reference: reference.clone(),
                    courier: first_courier,
                    amount: first_amount,
                };
            }
            books.duplicates_refused += 1;
            return PayOutcome::AlreadyPaid;
        }
        books
            .paid
            .entry(reference.clone())
            .or_insert((courier, amount));
        books.by_courier.entry(courier).or_default().push(Payout {
            kind: reference.kind,
            reference: reference.id.as_str().to_string(),
            amount_asked: amount,
            performance: applied.performance,
            incentive_percent: applied.performance.incentive_percent(),
            amount_paid: paid,
            performance_source: applied.source,
            performance_age_ms: applied.age_ms,
            paid_at_us: now_unix_us(),
        });
        books.made += 1;
        PayOutcome::Paid(paid)
    }

    pub fn is_paid(&self, reference: &PaymentRef) -> bool {
        lock(&self.books).paid.contains_key(reference)
    }

    pub fn payouts(&self, courier: CourierId) -> PayoutsView {
        let books = lock(&self.books);
        let payouts = books.by_courier.get(&courier).cloned().unwrap_or_default();
        let total = payouts.iter().fold(Money::ZERO, |sum, p| {
            sum.checked_add(p.amount_paid).unwrap_or(sum)
        });
        PayoutsView {
            courier_id: courier,
            payouts,
            total,
        }
    }

    /// How many payouts were made, and how many repeats were refused.
    pub fn counts(&self) -> (u64, u64) {
        let books = lock(&self.books);
        (books.made, books.duplicates_refused)
    }
}

/// Microseconds since the Unix epoch on one monotonic clock: the wall clock is
/// read once, at the first call in the process, and everything after is that
/// reading plus `Instant` time. Payout times and the harness's send times (see
/// [`unix_us_at`]) are on this one clock, so a step of the wall clock during a
/// run cannot shift the time from a bonus sent to it being paid.
pub fn now_unix_us() -> u64 {
    unix_us_at(Instant::now())
}

/// [`now_unix_us`]'s clock at `instant` (saturating at the process's anchor
/// for an instant before it).
pub fn unix_us_at(instant: Instant) -> u64 {
    static ANCHOR: OnceLock<(Instant, u64)> = OnceLock::new();
    let &(anchor, anchor_us) = ANCHOR.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        (Instant::now(), wall)
    });
    anchor_us + instant.saturating_duration_since(anchor).as_micros() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Reference;

    #[test]
    fn a_reference_pays_once() {
        let ledger = Ledger::default();
        let reference = PaymentRef::bonus(Reference::parse("b-1").unwrap());
        let high = AppliedPerformance::live(Performance::High);
        assert_eq!(
            ledger.pay(7, Money::from_units(20), &reference, high),
            PayOutcome::Paid(Money::from_units(22))
        );
        assert_eq!(
            ledger.pay(7, Money::from_units(20), &reference, high),
            PayOutcome::AlreadyPaid
        );
        let view = ledger.payouts(7);
        assert_eq!(view.payouts.len(), 1);
        assert_eq!(view.total, Money::from_units(22));
        assert_eq!(ledger.counts(), (1, 1));
    }

    #[test]
    fn a_reused_reference_with_another_request_is_a_conflict() {
        let ledger = Ledger::default();
        let reference = PaymentRef::delivery(Reference::parse("d-1").unwrap());
        let normal = AppliedPerformance::live(Performance::Normal);
        let first = Money::from_cents(450);
        assert_eq!(
            ledger.pay(7, first, &reference, normal),
            PayOutcome::Paid(first)
        );
        let conflict = PayOutcome::Conflict {
            reference: reference.clone(),
            courier: 7,
            amount: first,
        };
        let big = Money::from_units(1_000_000);
        assert_eq!(ledger.pay(7, big, &reference, normal), conflict);
        assert_eq!(ledger.pay(8, first, &reference, normal), conflict);
        let error = conflict.answer(big).unwrap_err();
        assert_eq!(error.status, axum::http::StatusCode::CONFLICT);
        assert!(error.message.contains("deliveryId \"d-1\""), "{error}");
        assert_eq!(ledger.payouts(7).total, first);
        assert!(ledger.payouts(8).payouts.is_empty());
        assert_eq!(ledger.counts(), (1, 0));
    }

    #[test]
    fn same_id_for_a_bonus_and_a_delivery_are_two_payouts() {
        let ledger = Ledger::default();
        let id = Reference::parse("x-1").unwrap();
        let normal = AppliedPerformance::live(Performance::Normal);
        ledger.pay(
            1,
            Money::from_units(5),
            &PaymentRef::bonus(id.clone()),
            normal,
        );
        ledger.pay(1, Money::from_units(5), &PaymentRef::delivery(id), normal);
        assert_eq!(ledger.payouts(1).total, Money::from_units(10));
    }

    #[test]
    fn without_idempotency_a_repeat_pays_again() {
        let ledger = Ledger::without_idempotency();
        let reference = PaymentRef::bonus(Reference::parse("b-1").unwrap());
        let high = AppliedPerformance::live(Performance::High);
        for _ in 0..2 {
            assert_eq!(
                ledger.pay(7, Money::from_units(20), &reference, high),
                PayOutcome::Paid(Money::from_units(22))
            );
        }
        assert_eq!(ledger.payouts(7).payouts.len(), 2);
        assert_eq!(ledger.counts(), (2, 0));
    }
}
