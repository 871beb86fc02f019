//! The reconciler can fail: each kind of wrong payout injected into its input
//! is counted, and the run's evidence check catches a ledger whose own count
//! disagrees with what was read.

use commlab::load::{Outcome, Record};
use commlab::reconcile::{Reconciled, reconcile};
use commlab::schedule::{Action, Request};
use common::api::{Payout, PayoutKind, PayoutsView, PerformanceSource};
use common::{BASE_DELIVERY_PAY, BonusType, CourierId, Money, Performance};

const T0: u64 = 1_000_000_000;

/// Setup, requests and their records.
type Run = (
    Vec<(CourierId, Performance)>,
    Vec<Request>,
    Vec<Option<Record>>,
);

/// One bonus (courier 7, BIG = 20.00) and one delivery (courier 8),
/// both accepted; setup gives both couriers NORMAL (+0 %).
fn run() -> Run {
    let setup = vec![(7, Performance::Normal), (8, Performance::Normal)];
    let requests = vec![
        Request {
            at_us: 1_000,
            courier: 7,
            action: Action::Bonus {
                bonus: BonusType::Big,
                id: "b-1".to_string(),
            },
        },
        Request {
            at_us: 2_000,
            courier: 8,
            action: Action::Delivery {
                id: "d-1".to_string(),
            },
        },
    ];
    let ok = |at| {
        Some(Record {
            sent_us: at,
            done_us: at + 100,
            outcome: Outcome::Status(202),
        })
    };
    (setup, requests, vec![ok(1_000), ok(2_000)])
}

fn payout(kind: PayoutKind, reference: &str, asked: Money) -> Payout {
    Payout {
        kind,
        reference: reference.to_string(),
        amount_asked: asked,
        performance: Performance::Normal,
        incentive_percent: 0,
        amount_paid: asked,
        performance_source: PerformanceSource::Live,
        performance_age_ms: Some(0),
        paid_at_us: T0 + 5_000,
    }
}

fn view(courier: CourierId, payouts: Vec<Payout>) -> PayoutsView {
    let total = payouts
        .iter()
        .fold(Money::ZERO, |t, p| t.checked_add(p.amount_paid).unwrap());
    PayoutsView {
        courier_id: courier,
        payouts,
        total,
    }
}

fn reconciled(views: Vec<PayoutsView>) -> Reconciled {
    let (setup, requests, records) = run();
    reconcile(&setup, &requests, &records, &views, T0)
}

fn bonus(asked: Money) -> Payout {
    payout(PayoutKind::Bonus, "b-1", asked)
}

fn delivery() -> Payout {
    payout(PayoutKind::Delivery, "d-1", BASE_DELIVERY_PAY)
}

#[test]
fn the_right_payouts_are_right() {
    let r = reconciled(vec![
        view(7, vec![bonus(Money::from_units(20))]),
        view(8, vec![delivery()]),
    ]);
    assert_eq!((r.bonuses.paid, r.bonuses.wrong_payout), (1, 0));
    assert_eq!((r.deliveries.paid, r.deliveries.wrong_payout), (1, 0));
    assert_eq!(r.money.paid, r.money.owed);
    assert_eq!(r.money.owed, r.money.owed_at_send);
    assert_eq!(
        (r.rows, r.matched_rows, r.money.unmatched_payouts),
        (2, 2, 0)
    );
}

#[test]
fn a_payout_to_the_wrong_courier_is_counted() {
    // The delivery for courier 8 paid to courier 7.
    let r = reconciled(vec![
        view(7, vec![bonus(Money::from_units(20)), delivery()]),
        view(8, vec![]),
    ]);
    assert_eq!(r.deliveries.wrong_payout, 1);
    assert_eq!(r.bonuses.wrong_payout, 0);
    assert_eq!(r.deliveries.stale + r.deliveries.under_paid, 0);
}

#[test]
fn a_payout_of_the_wrong_amount_is_counted() {
    let r = reconciled(vec![
        view(7, vec![bonus(Money::from_units(10))]),
        view(8, vec![delivery()]),
    ]);
    assert_eq!(r.bonuses.wrong_payout, 1);
    assert_eq!(r.deliveries.wrong_payout, 0);
    // Owed is still the 20.00 asked; 10.00 went out.
    assert_eq!(r.money.owed.cents() - r.money.paid.cents(), 1_000);
}

#[test]
fn a_repeat_is_counted_as_paid_twice() {
    let r = reconciled(vec![
        view(
            7,
            vec![bonus(Money::from_units(20)), bonus(Money::from_units(20))],
        ),
        view(8, vec![delivery()]),
    ]);
    assert_eq!(r.bonuses.paid_twice, 1);
    assert_eq!(r.bonuses.paid, 1, "one request, paid");
    assert_eq!(r.money.paid.cents() - r.money.owed.cents(), 2_000);
    assert_eq!((r.rows, r.matched_rows), (3, 3));
}

#[test]
fn a_payout_no_request_asked_for_is_counted() {
    let r = reconciled(vec![
        view(7, vec![bonus(Money::from_units(20))]),
        view(
            8,
            vec![
                delivery(),
                payout(PayoutKind::Delivery, "d-99", BASE_DELIVERY_PAY),
            ],
        ),
    ]);
    assert_eq!(r.money.unmatched_payouts, 1);
    assert_eq!((r.rows, r.matched_rows), (3, 2));
}

/// The run's evidence check: the ledger's own count against what was
/// read; and a ledger that paid during the read.
#[test]
fn the_evidence_check_fails_when_counts_disagree() {
    let r = reconciled(vec![
        view(7, vec![bonus(Money::from_units(20))]),
        view(8, vec![delivery()]),
    ]);
    let stats = |payouts| common::system::Stats {
        payouts,
        ..Default::default()
    };
    assert!(commlab::run::evidence_reasons(&stats(2), &stats(2), &r).is_empty());
    // The ledger made a payout the read did not see (e.g. to a courier
    // the harness does not read).
    let reasons = commlab::run::evidence_reasons(&stats(3), &stats(3), &r);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("counts 3 payouts, 2 were read"));
    // It paid while the payouts were read.
    let reasons = commlab::run::evidence_reasons(&stats(2), &stats(3), &r);
    assert_eq!(reasons.len(), 2, "{reasons:?}");
}

/// Time to paid runs from the request's send time.
#[test]
fn bonus_to_paid_runs_from_the_send_time() {
    let r = reconciled(vec![
        view(7, vec![bonus(Money::from_units(20))]),
        view(8, vec![delivery()]),
    ]);
    // Sent at t0 + 1 ms, paid at t0 + 5 ms.
    assert_eq!(r.bonus_to_paid_ms.samples, 1);
    let p50 = r.bonus_to_paid_ms.p50.unwrap();
    assert!((p50 - 4.0).abs() < 0.01, "{p50}");
}

/// The per-second series counts each defect in the second its request was
/// scheduled, however late the payout came, and adds up to the totals.
#[test]
fn the_money_series_counts_a_defect_in_the_second_its_request_was_scheduled() {
    let (setup, mut requests, _) = run();
    requests[0].at_us = 2_500_000;
    requests[1].at_us = 3_100_000;
    let records: Vec<Option<Record>> = requests
        .iter()
        .map(|r| {
            Some(Record {
                sent_us: r.at_us,
                done_us: r.at_us + 100,
                outcome: Outcome::Status(202),
            })
        })
        .collect();
    // The bonus paid twice, both long after it was sent; the delivery never.
    let late = Payout {
        paid_at_us: T0 + 9_000_000,
        ..bonus(Money::from_units(20))
    };
    let views = vec![view(7, vec![late.clone(), late]), view(8, vec![])];
    let r = reconcile(&setup, &requests, &records, &views, T0);
    assert_eq!((r.bonuses.paid_twice, r.deliveries.lost), (1, 1));
    let seconds: Vec<u64> = r.series.iter().map(|s| s.t_s).collect();
    assert_eq!(seconds, [0, 1, 2, 3]);
    assert_eq!(r.series[2].paid_twice, 1);
    assert_eq!(r.series[3].lost, 1);
    let defects = |s: &commlab::results::MoneySecond| {
        s.lost + s.paid_twice + s.under_paid + s.stale + s.repriced + s.paid_though_rejected
    };
    assert_eq!(r.series.iter().map(defects).sum::<u64>(), 2);
}
