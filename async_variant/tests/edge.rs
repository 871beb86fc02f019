//! The edge API over real loopback HTTP: the reference's figures, validation,
//! and references that make repeats pay once.

mod support;

use common::Money;
use common::api::PerformanceSource;
use support::{StreamView, start_default, wait_until};

/// Incentives answers the performance it recorded, as the reference does.
#[test]
fn performance_is_served_by_incentives() {
    let running = start_default();
    let unrated = running.get(&running.incentives_url("/incentives/performance/3"));
    assert_eq!(unrated.status, 200);
    assert_eq!(unrated.body["incentive"], 0.0);
    assert_eq!(running.set_performance(3, "OUTSTANDING").status, 202);
    let rated = running.get(&running.incentives_url("/incentives/performance/3"));
    assert_eq!(rated.body["performance"], "OUTSTANDING");
    assert_eq!(rated.body["incentive"], 0.2);
}

/// A delivery is paid from Payments' copy: cached, adjusted, and a courier
/// nobody rated is Normal, not a fallback.
#[test]
fn deliveries_are_paid_from_the_copy() {
    let running = start_default();
    assert_eq!(running.set_performance(1, "HIGH").status, 202);
    running.wait_until_drained();
    assert_eq!(running.pay_delivery(1, "4.50", "d-1").status, 202);
    assert_eq!(running.pay_delivery(2, "4.50", "d-2").status, 202);

    let high = &running.payouts(1).payouts[0];
    assert_eq!(high.amount_paid, Money::from_cents(495));
    assert_eq!(high.performance_source, PerformanceSource::Cached);
    assert!(high.performance_age_ms.is_some());
    let unrated = &running.payouts(2).payouts[0];
    assert_eq!(unrated.amount_paid, Money::from_cents(450));
    assert_eq!(unrated.performance_source, PerformanceSource::Cached);
}

/// Bad inputs are refused with 400 and a message; the services keep serving.
#[test]
fn bad_inputs_get_400_and_the_service_keeps_serving() {
    let running = start_default();
    let bonuses = running.incentives_url("/incentives/bonuses/7");
    let cases = [
        (bonuses.clone(), r#"{"bonusType": "HUGE"}"#),
        (
            bonuses.clone(),
            r#"{"bonusType": "BIG", "bonusId": "has space"}"#,
        ),
        (bonuses.clone(), "not json"),
        (
            running.incentives_url("/incentives/bonuses/-1"),
            r#"{"bonusType": "BIG"}"#,
        ),
        (
            running.incentives_url("/incentives/performance/7"),
            r#"{"performance": "GREAT"}"#,
        ),
        (
            running.payments_url("/payments"),
            r#"{"courierId": 7, "amount": -1}"#,
        ),
        (
            running.payments_url("/payments"),
            r#"{"courierId": 7, "amount": 5.555}"#,
        ),
        (
            running.payments_url("/payments"),
            r#"{"courierId": 7, "amount": 2000000}"#,
        ),
        (
            running.payments_url("/payments"),
            r#"{"courierId": 7, "amount": 5, "deliveryId": "d", "bonusId": "b"}"#,
        ),
    ];
    for (url, body) in &cases {
        let answer = running.post_json(url, body);
        assert_eq!(answer.status, 400, "{url} {body}: {answer:?}");
        assert!(!answer.message().is_empty(), "{url} {body}: no message");
    }
    let stats = running.stats();
    assert_eq!(stats.incentives.bad_request + stats.payments.bad_request, 9);
    assert_eq!(
        running.stream_counters().published,
        0,
        "nothing was published"
    );

    assert_eq!(running.grant_bonus(7, "SMALL", "b-ok").status, 202);
    assert_eq!(running.pay_delivery(7, "4.50", "d-ok").status, 202);
    wait_until("the bonus is paid", || {
        running.payouts(7).payouts.len() == 2
    });
}

/// A repeated bonusId publishes once and pays once; a repeated deliveryId pays
/// once. Both repeats are still answered 202.
#[test]
fn repeated_bonus_id_and_delivery_id_pay_once() {
    let running = start_default();
    for _ in 0..3 {
        assert_eq!(running.grant_bonus(5, "AVERAGE", "b-once").status, 202);
        assert_eq!(running.pay_delivery(5, "4.50", "d-once").status, 202);
    }
    running.wait_until_drained();
    assert_eq!(
        running.stream_counters().published,
        1,
        "one event for one bonus"
    );
    let view = running.payouts(5);
    assert_eq!(view.payouts.len(), 2);
    assert_eq!(view.total, Money::from_cents(1000 + 450));
    let stats = running.stats();
    assert_eq!(stats.payouts, 2);
    assert_eq!(stats.duplicates_refused, 2, "the two repeated deliveries");
}
