//! The reference system's arithmetic, end to end over HTTP, where only the
//! synchronous variant shows it: a delivery paid at the live performance.
//! (A bonus's pay is a parity case: `testkit/tests/parity.rs`.)

mod support;

use common::Money;
use common::api::{PayoutKind, PerformanceSource};
use support::{config, start};
use sync_variant::FailurePolicy;

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
