//! The ledger's rules, run on both implementations (one body, two ledgers),
//! and what only the SQLite ledger can show: a crash keeps what it paid.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::api::Reference;
use crate::faults::ServiceFaults;

fn faults() -> Arc<ServiceFaults> {
    ServiceFaults::new("payments", 1)
}

/// Both ledgers, with the directory that holds the SQLite one.
fn ledgers(idempotent: bool) -> (tempfile::TempDir, Vec<Box<dyn Ledger>>) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteLedger::open(dir.path(), idempotent, faults()).unwrap();
    let memory = MemoryLedger::new(idempotent);
    (dir, vec![Box::new(memory), Box::new(sqlite)])
}

/// What `kill -9` leaves: the ledger is never dropped, so its connection is
/// never closed and nothing is checkpointed — the reopen reads the log.
fn crash(ledger: SqliteLedger) {
    std::mem::forget(ledger);
}

fn reopen(dir: &Path, idempotent: bool) -> SqliteLedger {
    SqliteLedger::open(dir, idempotent, faults()).unwrap()
}

fn bonus(id: &str) -> PaymentRef {
    PaymentRef::bonus(Reference::parse(id).unwrap())
}

#[test]
fn a_reference_pays_once() {
    let (_dir, ledgers) = ledgers(true);
    for ledger in ledgers {
        let reference = bonus("b-1");
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
        assert_eq!(view.payouts.len(), 1, "{ledger:?}");
        assert_eq!(view.payouts[0].performance, Performance::High);
        assert_eq!(view.total, Money::from_units(22));
        assert_eq!(ledger.counts(), (1, 1), "{ledger:?}");
    }
}

#[test]
fn a_reused_reference_with_another_request_is_a_conflict() {
    let (_dir, ledgers) = ledgers(true);
    for ledger in ledgers {
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
        assert_eq!(ledger.counts(), (1, 0), "{ledger:?}");
    }
}

#[test]
fn same_id_for_a_bonus_and_a_delivery_are_two_payouts() {
    let (_dir, ledgers) = ledgers(true);
    for ledger in ledgers {
        let id = Reference::parse("x-1").unwrap();
        let normal = AppliedPerformance::live(Performance::Normal);
        let five = Money::from_units(5);
        ledger.pay(1, five, &PaymentRef::bonus(id.clone()), normal);
        ledger.pay(1, five, &PaymentRef::delivery(id), normal);
        assert_eq!(ledger.payouts(1).total, Money::from_units(10), "{ledger:?}");
    }
}

#[test]
fn without_idempotency_a_repeat_pays_again() {
    let (_dir, ledgers) = ledgers(false);
    for ledger in ledgers {
        let reference = bonus("b-1");
        let high = AppliedPerformance::live(Performance::High);
        for _ in 0..2 {
            assert_eq!(
                ledger.pay(7, Money::from_units(20), &reference, high),
                PayOutcome::Paid(Money::from_units(22))
            );
        }
        assert_eq!(ledger.payouts(7).payouts.len(), 2, "{ledger:?}");
        assert_eq!(ledger.counts(), (2, 0), "{ledger:?}");
    }
}

#[test]
fn both_ledgers_answer_the_same_payouts() {
    let (_dir, ledgers) = ledgers(true);
    let normal = AppliedPerformance::live(Performance::Outstanding);
    let views: Vec<String> = ledgers
        .iter()
        .map(|ledger| {
            ledger.pay(3, Money::from_cents(1234), &bonus("b-9"), normal);
            let mut view = ledger.payouts(3);
            // The only field that differs: when each was paid.
            view.payouts.iter_mut().for_each(|p| p.paid_at_us = 0);
            serde_json::to_string(&view).unwrap()
        })
        .collect();
    assert_eq!(views[0], views[1]);
}

#[test]
fn what_was_paid_survives_a_crash_and_is_not_paid_again() {
    let dir = tempfile::tempdir().unwrap();
    let high = AppliedPerformance::live(Performance::High);
    let ledger = reopen(dir.path(), true);
    assert!(matches!(
        ledger.pay(7, Money::from_units(20), &bonus("b-1"), high),
        PayOutcome::Paid(_)
    ));
    ledger.pay(7, Money::from_units(10), &bonus("b-1"), high);
    crash(ledger);

    let ledger = reopen(dir.path(), true);
    assert_eq!(ledger.payouts(7).total, Money::from_units(22));
    assert_eq!(ledger.counts(), (1, 0), "the conflict counted nothing");
    assert_eq!(
        ledger.pay(7, Money::from_units(20), &bonus("b-1"), high),
        PayOutcome::AlreadyPaid
    );
    assert_eq!(ledger.counts(), (1, 1));
}

#[test]
fn the_lesson_without_idempotency_refuses_a_file_with_the_unique_key() {
    let dir = tempfile::tempdir().unwrap();
    drop(reopen(dir.path(), true));
    let error = SqliteLedger::open(dir.path(), false, faults()).unwrap_err();
    assert!(error.to_string().contains("unique key"), "{error}");
    // And a lesson file stays without it: a repeat after a crash pays again.
    let lesson = tempfile::tempdir().unwrap();
    let ledger = reopen(lesson.path(), false);
    let normal = AppliedPerformance::live(Performance::Normal);
    ledger.pay(1, Money::from_units(5), &bonus("b-2"), normal);
    crash(ledger);
    let ledger = reopen(lesson.path(), false);
    ledger.pay(1, Money::from_units(5), &bonus("b-2"), normal);
    assert_eq!(ledger.counts(), (2, 0));
}

/// Another connection writing to the same file (the async consumer's
/// checkpoint beside the ledger in `payments.sqlite`) never fails a payout:
/// the ledger's transaction takes the write lock at BEGIN and waits its turn
/// (`store::immediate`), where a deferred one that read first would be
/// refused "database is locked".
#[test]
fn a_second_writer_on_the_file_fails_no_payout() {
    let dir = tempfile::tempdir().unwrap();
    let faults = faults();
    let ledger = SqliteLedger::open(dir.path(), true, faults.clone()).unwrap();
    let mut other = crate::store::open(dir.path(), "payments").unwrap();
    other
        .execute_batch("CREATE TABLE beside (n INTEGER)")
        .unwrap();
    const PAYOUTS: u64 = 2_000;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for n in 0..PAYOUTS {
                let tx = crate::store::immediate(&mut other).unwrap();
                tx.execute("INSERT INTO beside VALUES (?1)", [n as i64])
                    .unwrap();
                tx.commit().unwrap();
            }
        });
        for n in 0..PAYOUTS {
            let reference = bonus(&format!("b-{n}"));
            let applied = AppliedPerformance::fallback();
            ledger.pay(1, Money::from_units(1), &reference, applied);
        }
    });
    assert_eq!(faults.internal_errors.reasons(), Vec::<String>::new());
    assert_eq!(ledger.counts(), (PAYOUTS, 0));
}
