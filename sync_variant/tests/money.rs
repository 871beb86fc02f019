//! The reference system's arithmetic, end to end over HTTP: bonus and delivery pay, adjusted by performance.

mod support;

use common::Money;
use common::Performance;
use common::api::{PayoutKind, PerformanceSource};
use support::{config, start};
use sync_variant::FailurePolicy;

/// A BIG bonus (20) for a HIGH courier (+10 %) pays 22.00, recorded under its bonus id.
#[test]
fn big_bonus_for_high_courier_pays_22() {
    let sys = start(config(false, FailurePolicy::Fallback));
    assert_eq!(sys.set_performance(7, "HIGH").status, 202);

    let answer = sys.grant_bonus(7, "BIG", "bonus-7-1");
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.body["reference"], "bonus-7-1");

    let view = sys.payouts(7);
    assert_eq!(view.courier_id, 7);
    assert_eq!(view.payouts.len(), 1, "{view:?}");
    let payout = &view.payouts[0];
    assert_eq!(payout.kind, PayoutKind::Bonus);
    assert_eq!(payout.reference, "bonus-7-1");
    assert_eq!(payout.amount_asked, Money::from_units(20));
    assert_eq!(payout.performance, Performance::High);
    assert_eq!(payout.incentive_percent, 10);
    assert_eq!(payout.amount_paid, Money::from_cents(2200));
    assert_eq!(payout.performance_source, PerformanceSource::Live);
    assert_eq!(view.total, Money::from_cents(2200));

    // And on the wire, the exact numbers the reference's clients read.
    let raw = sys.get(&sys.payments_url("/payments/7"));
    assert_eq!(raw.status, 200);
    assert_eq!(raw.body["total"], serde_json::json!(22));
    assert_eq!(raw.body["payouts"][0]["amountAsked"], serde_json::json!(20));
    assert_eq!(raw.body["payouts"][0]["amountPaid"], serde_json::json!(22));
}

/// A delivery pays 4.50 raised by the courier's live performance; an unrated courier is NORMAL.
#[test]
fn delivery_pay_follows_live_performance() {
    let sys = start(config(false, FailurePolicy::Fallback));
    assert_eq!(sys.set_performance(1, "OUTSTANDING").status, 202);

    assert_eq!(sys.pay_delivery(1, "4.5", "d-1").status, 202);
    assert_eq!(sys.pay_delivery(2, "4.5", "d-2").status, 202);

    assert_eq!(sys.payouts(1).total, Money::from_cents(540));
    let unrated = sys.payouts(2);
    assert_eq!(unrated.total, Money::from_cents(450));
    assert_eq!(unrated.payouts[0].kind, PayoutKind::Delivery);
    assert_eq!(
        unrated.payouts[0].performance_source,
        PerformanceSource::Live
    );

    let performance = sys.get(&sys.incentives_url("/incentives/performance/1"));
    assert_eq!(performance.status, 200);
    assert_eq!(performance.body["incentive"], serde_json::json!(0.2));
    assert_eq!(sys.stats().payouts, 2);
}
