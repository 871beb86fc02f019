//! Payments crashed: sync loses the bonus (the caller sees an error), sync-buffered keeps it and pays it once later.

mod support;

use common::Money;
use common::system::{Fault, Service};
use support::{config, start, wait_until};
use sync_variant::FailurePolicy;

/// Sync: a bonus granted while Payments is crashed fails with 503 and is never paid.
#[test]
fn sync_bonus_fails_and_nothing_is_paid() {
    let sys = start(config(false, FailurePolicy::Fallback));
    sys.inject(Fault::Crash(Service::Payments));

    let answer = sys.grant_bonus(1, "SMALL", "b-1");
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.body["error"], "unavailable");
    assert!(answer.message().contains("payments"), "{answer:?}");
    assert_eq!(sys.stats().buffered, 0);

    sys.heal(Fault::Crash(Service::Payments));
    sys.wait_until_serving();
    let view = sys.payouts(1);
    assert!(view.payouts.is_empty(), "{view:?}");
    assert_eq!(sys.stats().payouts, 0);
}

/// Sync-buffered: bonuses are accepted and buffered while Payments is crashed, then each is paid exactly once after recovery.
#[test]
fn buffered_bonuses_are_paid_once_after_recovery() {
    let sys = start(config(true, FailurePolicy::Fallback));
    assert_eq!(sys.set_performance(2, "OUTSTANDING").status, 202);
    sys.inject(Fault::Crash(Service::Payments));

    for (bonus_type, id) in [("SMALL", "b-1"), ("AVERAGE", "b-2"), ("BIG", "b-3")] {
        let answer = sys.grant_bonus(2, bonus_type, id);
        assert_eq!(answer.status, 202, "{answer:?}");
    }
    // Payments refuses every connection, so nothing can leave the buffer.
    assert_eq!(sys.stats().buffered, 3);
    assert_eq!(sys.stats().payouts, 0);

    sys.heal(Fault::Crash(Service::Payments));
    wait_until("the buffer is empty", || sys.stats().buffered == 0);

    let view = sys.payouts(2);
    let mut references: Vec<&str> = view.payouts.iter().map(|p| p.reference.as_str()).collect();
    references.sort_unstable();
    assert_eq!(references, ["b-1", "b-2", "b-3"], "{view:?}");
    // 5, 10 and 20, each +20 %: paid with the live performance once Payments is back.
    assert_eq!(view.total, Money::from_units(42));
    assert_eq!(sys.stats().payouts, 3);
}
