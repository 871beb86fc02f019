//! Bad input at the edge: a 400 with a JSON body naming the problem, nothing paid, and the service keeps serving.

mod support;

use common::Money;
use support::{Answer, config, start};
use sync_variant::FailurePolicy;

fn assert_bad_request(answer: &Answer, mentions: &str) {
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.body["error"], "bad_request", "{answer:?}");
    assert!(
        answer.message().contains(mentions),
        "the message should name {mentions:?}: {answer:?}"
    );
}

/// Incentives: malformed JSON, an unknown bonus type or performance, and a bad courier id are refused.
#[test]
fn incentives_refuses_bad_input_and_keeps_serving() {
    let sys = start(config(false, FailurePolicy::Fallback));
    let bonuses = sys.incentives_url("/incentives/bonuses/1");

    let malformed = sys.post_json(&bonuses, r#"{"bonusType": "#);
    assert_eq!(malformed.status, 400, "{malformed:?}");
    assert_eq!(malformed.body["error"], "bad_request");
    assert!(!malformed.message().is_empty());

    assert_bad_request(&sys.post_json(&bonuses, r#"{"bonusType": "HUGE"}"#), "HUGE");
    assert_bad_request(&sys.set_performance(1, "SUPERB"), "SUPERB");
    assert_bad_request(
        &sys.post_json(
            &sys.incentives_url("/incentives/bonuses/abc"),
            r#"{"bonusType": "BIG"}"#,
        ),
        "abc",
    );
    assert_bad_request(
        &sys.get(&sys.incentives_url("/incentives/performance/abc")),
        "abc",
    );
    assert_eq!(sys.stats().incentives.bad_request, 5);
    assert_eq!(sys.stats().payouts, 0);

    // Still serving.
    assert_eq!(sys.grant_bonus(1, "SMALL", "b-ok").status, 202);
    assert_eq!(sys.payouts(1).total, Money::from_units(5));
}

/// Payments: amounts with three decimals or a sign, malformed JSON and a bad id are refused.
#[test]
fn payments_refuses_bad_input_and_keeps_serving() {
    let sys = start(config(false, FailurePolicy::Fallback));

    assert_bad_request(&sys.pay_delivery(1, "5.555", "d-1"), "5.555");
    assert_bad_request(&sys.pay_delivery(1, "-1", "d-2"), "-1");
    let malformed = sys.post_json(&sys.payments_url("/payments"), r#"{"courierId": 1,"#);
    assert_eq!(malformed.status, 400, "{malformed:?}");
    assert_eq!(malformed.body["error"], "bad_request");
    assert_bad_request(&sys.get(&sys.payments_url("/payments/abc")), "abc");
    assert_eq!(sys.stats().payments.bad_request, 4);
    assert!(sys.payouts(1).payouts.is_empty());

    // Still serving, and the refused delivery ids were not used up.
    assert_eq!(sys.pay_delivery(1, "5.55", "d-1").status, 202);
    assert_eq!(sys.payouts(1).total, Money::from_cents(555));
}
