//! Payments' ledger: every payout ever made, keyed so that nothing pays twice.
//!
//! One trait, [`Ledger`], two implementations chosen at start
//! (`common::store::Storage`): [`MemoryLedger`] here, which stands for Payments'
//! database and survives every fault the in-process harness injects (a crash of
//! the Payments *process* there loses connections, not money already paid), and
//! [`SqliteLedger`] (`ledger/sqlite.rs`), a real table that survives `kill -9`.
//! Both variants use this one trait; what differs is how the performance that
//! adjusts each payout reaches it (a live call, or a local copy built from
//! events).
//!
//! Idempotency lives here, in the same critical section as the write: checking
//! "already paid?" and recording the payout happen under one lock in memory, in
//! one transaction against a unique key in SQLite. That is what makes at-least-once delivery (async) and
//! client retries (sync-buffered) safe. Each key keeps the fingerprint of the
//! request that first used it — courier and amount asked — so that the same
//! key with another request is refused as a conflict (`409`) and pays nothing,
//! instead of being answered as if it were a repeat.
//!
//! [`Ledger::without_idempotency`] switches the check off, for the lesson only:
//! a repeated reference is paid again, so a scenario can show what at-least-once
//! delivery costs without it (`idempotency = false` in a scenario file). In
//! SQLite the same switch means a table without the unique key.
//!
//! Next: `ledger/sqlite.rs`.

mod sqlite;

pub use sqlite::SqliteLedger;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::api::{ApiError, PaymentRef, Payout, PayoutsView, PerformanceSource};
use crate::domain::{CourierId, Performance, adjusted_amount, lock};
use crate::faults::ServiceFaults;
use crate::money::Money;
use crate::store::Storage;

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
    /// The ledger's database failed (recorded as an internal error of the
    /// run); nothing was paid, and the caller may try again.
    Failed(String),
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
            PayOutcome::Failed(reason) => Err(ApiError::unavailable(format!(
                "payments could not record the payout: {reason}"
            ))),
        }
    }
}

/// Payments' ledger where `storage` says: in memory, or in
/// `DIR/payments.sqlite` — where what a previous process committed is there.
/// One opening for both variants.
pub fn open(
    storage: &Storage,
    idempotent: bool,
    faults: &Arc<ServiceFaults>,
) -> std::io::Result<Arc<dyn Ledger>> {
    Ok(match storage {
        Storage::Memory => Arc::new(MemoryLedger::new(idempotent)),
        Storage::Sqlite { dir } => {
            std::fs::create_dir_all(dir)?;
            Arc::new(SqliteLedger::open(dir, idempotent, faults.clone())?)
        }
    })
}

/// Payments' record of every payout, keyed so that nothing pays twice. Shared
/// by Payments' edge and (async) its consumer, so `Send + Sync`.
pub trait Ledger: Send + Sync + Debug {
    /// Pays `amount` raised by `applied.performance`, once per `reference`
    /// (every time, without idempotency).
    fn pay(
        &self,
        courier: CourierId,
        amount: Money,
        reference: &PaymentRef,
        applied: AppliedPerformance,
    ) -> PayOutcome;

    /// What `GET /payments/{courierId}` answers: the courier's payouts in the
    /// order they were made, and their total.
    fn payouts(&self, courier: CourierId) -> PayoutsView;

    /// How many payouts were made, and how many repeats were refused.
    fn counts(&self) -> (u64, u64);
}

/// A payout record from its parts (shared by both implementations).
fn payout(
    reference: &PaymentRef,
    amount: Money,
    applied: AppliedPerformance,
    paid: Money,
) -> Payout {
    Payout {
        kind: reference.kind,
        reference: reference.id.as_str().to_string(),
        amount_asked: amount,
        performance: applied.performance,
        incentive_percent: applied.performance.incentive_percent(),
        amount_paid: paid,
        performance_source: applied.source,
        performance_age_ms: applied.age_ms,
        paid_at_us: now_unix_us(),
    }
}

/// A courier's view: the payouts and their sum.
fn view(courier: CourierId, payouts: Vec<Payout>) -> PayoutsView {
    let total = payouts.iter().fold(Money::ZERO, |sum, p| {
        sum.checked_add(p.amount_paid).unwrap_or(sum)
    });
    PayoutsView {
        courier_id: courier,
        payouts,
        total,
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

/// The ledger in the process's memory.
#[derive(Debug)]
pub struct MemoryLedger {
    books: Mutex<Books>,
    /// Whether a repeated reference is refused (always, but for the lesson).
    idempotent: bool,
}

impl Default for MemoryLedger {
    fn default() -> MemoryLedger {
        MemoryLedger {
            books: Mutex::default(),
            idempotent: true,
        }
    }
}

impl MemoryLedger {
    /// A ledger that pays a repeated reference again: the failure the
    /// `paid_twice` checker exists for. Never the default.
    pub fn without_idempotency() -> MemoryLedger {
        MemoryLedger {
            idempotent: false,
            ..MemoryLedger::default()
        }
    }

    /// `MemoryLedger::default()` when `idempotent`, else
    /// [`MemoryLedger::without_idempotency`].
    pub fn new(idempotent: bool) -> MemoryLedger {
        if idempotent {
            MemoryLedger::default()
        } else {
            MemoryLedger::without_idempotency()
        }
    }
}

impl Ledger for MemoryLedger {
    fn pay(
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
        let record = payout(reference, amount, applied, paid);
        books.by_courier.entry(courier).or_default().push(record);
        books.made += 1;
        PayOutcome::Paid(paid)
    }

    fn payouts(&self, courier: CourierId) -> PayoutsView {
        let books = lock(&self.books);
        view(
            courier,
            books.by_courier.get(&courier).cloned().unwrap_or_default(),
        )
    }

    fn counts(&self) -> (u64, u64) {
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
mod tests;
