//! Parity tests: one test body, run against every variant (as ripgrep's `rgtest!`
//! runs each test against both regex engines). Each body asserts where the
//! variants must agree — money on the happy path, `400` for bad input, a
//! repeated reference paying once — and, with a `match` on the variant, where
//! they must differ: what a Payments or an Incentives outage does to each design.

use common::Money;
use common::api::{PayoutKind, PerformanceSource};
use common::system::{Fault, Service, Variant};
use testkit::{bonus_ids, wait_until};

#[macro_use]
mod support;

use support::AnySystem;

/// Gives `courier` a performance and waits until Payments can know it (async:
/// the event has been consumed; sync: at once).
fn rate(system: &AnySystem, courier: u64, performance: &str) {
    assert_eq!(system.set_performance(courier, performance).status, 202);
    system.wait_until_drained();
}

parity!(
    /// A BIG bonus and a delivery for a HIGH courier pay 22 + 4.95 in every
    /// variant, recorded under their references, with the same numbers on the
    /// wire. Where the performance came from differs: sync asks Incentives
    /// (live), async reads its own copy (cached).
    happy_path_money,
    |system: AnySystem, variant| {
        rate(&system, 7, "HIGH");
        assert_eq!(system.grant_bonus(7, "BIG", "b-1").status, 202);
        assert_eq!(system.pay_delivery(7, "4.5", "d-1").status, 202);
        wait_until("both are paid", || system.payouts(7).payouts.len() == 2);
        let view = system.payouts(7);
        let payout = |kind| view.payouts.iter().find(|p| p.kind == kind).expect("paid");
        let (bonus, delivery) = (payout(PayoutKind::Bonus), payout(PayoutKind::Delivery));
        assert_eq!((bonus.reference.as_str(), delivery.reference.as_str()), ("b-1", "d-1"));
        assert_eq!((bonus.amount_asked, bonus.amount_paid), (Money::from_units(20), Money::from_units(22)));
        assert_eq!((delivery.amount_asked, delivery.amount_paid), (Money::from_cents(450), Money::from_cents(495)));
        assert_eq!(bonus.incentive_percent, 10);
        assert_eq!(view.total, Money::from_cents(2695));
        let source = match variant {
            Variant::Sync | Variant::SyncBuffered | Variant::SyncResilient => PerformanceSource::Live,
            Variant::Async => PerformanceSource::Cached,
        };
        assert_eq!((bonus.performance_source, delivery.performance_source), (source, source));

        // The exact numbers the reference's clients read.
        let raw = system.get(&system.payments_url("/payments/7"));
        assert_eq!(raw.status, 200);
        assert_eq!(raw.body["total"], serde_json::json!(26.95));
        let bonus_json = raw.body["payouts"].as_array().unwrap().iter().find(|p| p["reference"] == "b-1").unwrap().clone();
        assert_eq!((&bonus_json["amountAsked"], &bonus_json["amountPaid"]), (&serde_json::json!(20), &serde_json::json!(22)));
    }
);

parity!(
    /// Bad input gets `400` naming the problem, and the service keeps serving.
    bad_input_is_refused_and_service_keeps_serving,
    |system: AnySystem, _variant| {
        let bonus_url = system.incentives_url("/incentives/bonuses/7");
        let cases = [
            (bonus_url.clone(), r#"{"bonusType": "BIG""#, "EOF"),
            (bonus_url.clone(), r#"{"bonusType": "HUGE"}"#, "HUGE"),
            (system.incentives_url("/incentives/bonuses/abc"), r#"{"bonusType": "BIG"}"#, "abc"),
            (system.payments_url("/payments"), r#"{"courierId": 7, "amount": 5.555}"#, "two decimals"),
            (system.payments_url("/payments"), r#"{"courierId": 7, "amount": -1}"#, "negative"),
            (system.incentives_url("/incentives/performance/7"), r#"{"performance": "GREAT"}"#, "GREAT"),
        ];
        for (url, body, named) in cases {
            let answer = system.post_json(&url, body);
            assert_eq!(answer.status, 400, "{body} at {url}");
            assert!(answer.message().contains(named), "{:?} should name {named:?}", answer.message());
        }
        assert_eq!(system.get(&system.incentives_url("/incentives/performance/x")).status, 400);
        assert_eq!(system.stats().incentives.bad_request, 5);
        assert_eq!(system.stats().payments.bad_request, 2);
        // Still serving, and nothing was paid for the bad requests.
        assert_eq!(system.grant_bonus(7, "SMALL", "b-ok").status, 202);
        wait_until("the good bonus is paid", || system.payouts(7).payouts.len() == 1);
        assert_eq!(system.payouts(7).total, Money::from_units(5));
    }
);

parity!(
    /// A request repeated with the same reference pays once.
    repeated_reference_pays_once,
    |system: AnySystem, _variant| {
        for _ in 0..3 {
            assert_eq!(system.grant_bonus(3, "AVERAGE", "b-same").status, 202);
            assert_eq!(system.pay_delivery(3, "4.5", "d-same").status, 202);
        }
        system.wait_until_drained();
        wait_until("both are paid", || system.payouts(3).payouts.len() == 2);
        let view = system.payouts(3);
        assert_eq!(view.payouts.len(), 2);
        assert_eq!(view.total, Money::from_cents(1450));
        assert_eq!(system.stats().payouts, 2);
        assert!(system.stats().duplicates_refused >= 2);
    }
);

parity!(
    /// Payments down: sync rejects (sync-resilient too, its breaker only makes
    /// it fail faster), sync-buffered buffers, async accepts with a growing
    /// backlog; after recovery the last two pay everything exactly once.
    payments_outage,
    |system: AnySystem, variant| {
        rate(&system, 5, "OUTSTANDING");
        let crash = Fault::Crash(Service::Payments);
        system.inject(crash);
        let ids = bonus_ids("outage", 10);
        let statuses: Vec<u16> = ids.iter().map(|id| system.grant_bonus(5, "SMALL", id).status).collect();
        let backlog = system.stats();
        match variant {
            Variant::Sync | Variant::SyncResilient => {
                assert!(statuses.iter().all(|&s| s >= 500), "sync rejects: {statuses:?}");
                assert_eq!(backlog.backlog(), 0);
            }
            Variant::SyncBuffered => {
                assert!(statuses.iter().all(|&s| s == 202), "buffered accepts: {statuses:?}");
                assert_eq!(backlog.buffered, 10);
            }
            Variant::Async => {
                assert!(statuses.iter().all(|&s| s == 202), "async accepts: {statuses:?}");
                wait_until("the events reach the stream", || system.stats().stream_lag == 10);
                assert_eq!(system.stats().backlog(), 10);
            }
        }
        system.heal(crash);
        system.wait_until_serving();
        system.wait_until_drained();
        let times = system.times_paid(5, &ids);
        match variant {
            Variant::Sync | Variant::SyncResilient => {
                assert_eq!(times, vec![0; 10], "a rejected bonus is not paid")
            }
            Variant::SyncBuffered | Variant::Async => {
                assert_eq!(times, vec![1; 10], "every accepted bonus paid exactly once");
                assert_eq!(system.payouts(5).total, Money::from_units(60));
            }
        }
    }
);

parity!(
    /// Incentives down: async still pays deliveries from its copy, and
    /// sync-resilient from its cache of what Incentives said before; sync
    /// cannot ask and, by the reference's fallback policy, under-pays at +0 %.
    incentives_outage,
    |system: AnySystem, variant| {
        rate(&system, 9, "HIGH");
        assert_eq!(system.pay_delivery(9, "4.5", "d-before").status, 202);
        let crash = Fault::Crash(Service::Incentives);
        system.inject(crash);
        assert_eq!(system.pay_delivery(9, "4.5", "d-during").status, 202);
        let payout = system.payouts(9).payouts.pop().expect("paid");
        match variant {
            Variant::Sync | Variant::SyncBuffered => {
                assert_eq!(payout.performance_source, PerformanceSource::Fallback);
                assert_eq!(payout.amount_paid, Money::from_cents(450), "under-paid");
            }
            Variant::SyncResilient | Variant::Async => {
                assert_eq!(payout.performance_source, PerformanceSource::Cached);
                assert_eq!(payout.amount_paid, Money::from_cents(495), "paid from the copy");
                assert!(payout.performance_age_ms.is_some(), "with its age");
            }
        }
        system.heal(crash);
        system.wait_until_serving();
        assert_eq!(system.pay_delivery(9, "4.5", "d-after").status, 202);
        let after = system.payouts(9).payouts.pop().expect("paid");
        assert_eq!(after.amount_paid, Money::from_cents(495), "{variant} recovers");
    }
);
