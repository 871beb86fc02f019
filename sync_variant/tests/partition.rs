//! The link between the services cut: calls between them fail, both edges keep answering.

mod support;

use common::Money;
use common::api::PerformanceSource;
use common::system::Fault;
use support::{config, start, wait_until};
use sync_variant::FailurePolicy;

/// Sync: a bonus fails with the partition named, while both edges still answer GET.
#[test]
fn sync_bonus_fails_while_edges_answer() {
    let sys = start(config(false, FailurePolicy::Fallback));
    assert_eq!(sys.set_performance(6, "HIGH").status, 202);
    sys.inject(Fault::Partition);

    let answer = sys.grant_bonus(6, "BIG", "b-cut");
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.message().contains("partition"), "{answer:?}");

    let performance = sys.get(&sys.incentives_url("/incentives/performance/6"));
    assert_eq!(performance.status, 200, "{performance:?}");
    assert_eq!(performance.body["performance"], "HIGH");
    assert!(sys.payouts(6).payouts.is_empty());

    // Payments cannot reach Incentives either: with the fallback policy a
    // delivery is paid, at +0 %.
    assert_eq!(sys.pay_delivery(6, "4.5", "d-cut").status, 202);
    let view = sys.payouts(6);
    assert_eq!(
        view.payouts[0].performance_source,
        PerformanceSource::Fallback
    );

    sys.heal(Fault::Partition);
    assert_eq!(sys.grant_bonus(6, "BIG", "b-healed").status, 202);
    assert_eq!(sys.payouts(6).total, Money::from_cents(450 + 2200));
}

/// Sync-buffered: a bonus granted during the partition is accepted, and paid once it heals.
#[test]
fn buffered_bonus_is_paid_after_the_partition_heals() {
    let sys = start(config(true, FailurePolicy::Fallback));
    sys.inject(Fault::Partition);

    assert_eq!(sys.grant_bonus(8, "SMALL", "b-cut").status, 202);
    assert_eq!(sys.stats().buffered, 1);

    sys.heal(Fault::Partition);
    wait_until("the buffered bonus is paid", || {
        sys.stats().buffered == 0 && sys.payouts(8).payouts.len() == 1
    });
    assert_eq!(sys.payouts(8).total, Money::from_units(5));
}
