//! Incentives crashed: Payments cannot learn performance, and its failure policy decides what a delivery pays.

mod support;

use common::api::PerformanceSource;
use common::system::{Fault, Service};
use common::{Money, Performance};
use support::{config, start};
use sync_variant::FailurePolicy;

/// Policy Fail: a delivery payment is refused with 503 naming Incentives, and nothing is paid.
#[test]
fn fail_policy_refuses_and_pays_nothing() {
    let sys = start(config(false, FailurePolicy::Fail));
    assert_eq!(sys.set_performance(3, "HIGH").status, 202);
    sys.inject(Fault::Crash(Service::Incentives));

    let answer = sys.pay_delivery(3, "4.5", "d-1");
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.message().contains("incentives"), "{answer:?}");
    assert!(sys.payouts(3).payouts.is_empty());

    // Once Incentives is back, the same delivery can be paid, at the right rate.
    sys.heal(Fault::Crash(Service::Incentives));
    sys.wait_until_serving();
    assert_eq!(sys.pay_delivery(3, "4.5", "d-1").status, 202);
    assert_eq!(sys.payouts(3).total, Money::from_cents(495));
}

/// Policy Fallback (the reference's): the delivery is paid at +0 % and marked fallback — 4.50 instead of 4.95.
#[test]
fn fallback_policy_underpays_silently() {
    let sys = start(config(false, FailurePolicy::Fallback));
    assert_eq!(sys.set_performance(3, "HIGH").status, 202);
    sys.inject(Fault::Crash(Service::Incentives));

    let answer = sys.pay_delivery(3, "4.5", "d-1");
    assert_eq!(answer.status, 202, "{answer:?}");

    let view = sys.payouts(3);
    assert_eq!(view.payouts.len(), 1, "{view:?}");
    let payout = &view.payouts[0];
    assert_eq!(payout.performance_source, PerformanceSource::Fallback);
    assert_eq!(payout.performance, Performance::Normal);
    assert_eq!(payout.incentive_percent, 0);
    assert_eq!(payout.amount_paid, Money::from_cents(450));
    assert_eq!(payout.performance_age_ms, None);

    // After recovery the next delivery is paid live, at +10 %.
    sys.heal(Fault::Crash(Service::Incentives));
    sys.wait_until_serving();
    assert_eq!(sys.pay_delivery(3, "4.5", "d-2").status, 202);
    assert_eq!(sys.payouts(3).total, Money::from_cents(450 + 495));
}
