//! A repeated reference pays once: the ledger refuses the repeat and the edge answers it like the first time.

mod support;

use common::Money;
use support::{config, start};
use sync_variant::FailurePolicy;

/// The same bonusId granted twice is paid once.
#[test]
fn repeated_bonus_id_pays_once() {
    let sys = start(config(false, FailurePolicy::Fallback));
    assert_eq!(sys.grant_bonus(4, "AVERAGE", "b-same").status, 202);
    assert_eq!(sys.grant_bonus(4, "AVERAGE", "b-same").status, 202);

    let view = sys.payouts(4);
    assert_eq!(view.payouts.len(), 1, "{view:?}");
    assert_eq!(view.total, Money::from_units(10));
    let stats = sys.stats();
    // The repeat is recognised at Incentives, before any call to Payments, as
    // in the async variant (`common::idempotency`): the ledger never sees it.
    assert_eq!((stats.payouts, stats.duplicates_refused), (1, 0));
}

/// The same deliveryId paid twice is paid once.
#[test]
fn repeated_delivery_id_pays_once() {
    let sys = start(config(false, FailurePolicy::Fallback));
    assert_eq!(sys.pay_delivery(5, "4.5", "d-same").status, 202);
    assert_eq!(sys.pay_delivery(5, "4.5", "d-same").status, 202);

    let view = sys.payouts(5);
    assert_eq!(view.payouts.len(), 1, "{view:?}");
    assert_eq!(view.total, Money::from_cents(450));
    let stats = sys.stats();
    assert_eq!((stats.payouts, stats.duplicates_refused), (1, 1));
}
