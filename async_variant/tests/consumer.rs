//! Payments' consumer: at-least-once delivery made safe by the ledger, the
//! copy rebuilt by replay, and bonuses paid with the performance of their
//! place in the log.

mod support;

use std::time::Duration;

use async_variant::{CONSUMER_NAME, Config, StreamChoice};
use common::Money;
use common::api::PerformanceSource;
use common::system::{Fault, Service};
use support::{bodies, bonus_ids, start, start_default, wait_until};

/// A crash before the commit redelivers everything processed; the ledger
/// refuses every repeat, so each bonus is paid exactly once (the body runs on
/// the broker too: `tests/nats.rs`).
#[test]
fn redelivery_after_a_consumer_crash_never_pays_twice() {
    bodies::redelivery_after_a_consumer_crash_never_pays_twice(StreamChoice::Memory);
}

/// The same redelivery with the ledger's idempotency switched off: every
/// bonus is paid a second time — the failure `paid_twice` exists to catch.
#[test]
fn without_idempotency_a_redelivery_pays_again() {
    let running = start(Config {
        commit_interval: Duration::from_secs(3600),
        idempotent: false,
        ..Config::default()
    });
    let ids = bonus_ids("twice", 20);
    for id in &ids {
        assert_eq!(running.grant_bonus(23, "AVERAGE", id).status, 202);
    }
    wait_until("every bonus is paid", || running.stats().payouts == 20);
    running.inject(Fault::ConsumerCrash);
    running.heal(Fault::ConsumerCrash);
    wait_until("every bonus is paid again", || {
        running.stats().payouts == 40
    });
    running.wait_until_drained();
    assert_eq!(running.stats().duplicates_refused, 0);
    assert!(running.times_paid(23, &ids).iter().all(|&n| n == 2));
    assert_eq!(running.payouts(23).total, Money::from_units(400));
}

/// With the default commit interval, a crash at any moment still pays each
/// bonus once, however much is redelivered.
#[test]
fn a_crash_mid_stream_pays_each_bonus_once() {
    let running = start_default();
    let ids = bonus_ids("mid", 300);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(running.grant_bonus(22, "SMALL", id).status, 202);
        if i == 150 {
            running.inject(Fault::ConsumerCrash);
        }
    }
    running.heal(Fault::ConsumerCrash);
    wait_until("every bonus is paid", || running.stats().payouts == 300);
    running.wait_until_drained();
    assert!(running.times_paid(22, &ids).iter().all(|&n| n == 1));
    assert_eq!(running.payouts(22).total, Money::from_units(5 * 300));
}

/// While the copy is lost a delivery is paid at +0 % (fallback: the async
/// design's own under-payment); after the replay it is paid from the rebuilt
/// copy again.
#[test]
fn replay_from_zero_rebuilds_the_performance_copy() {
    let running = start_default();
    // Courier 31 changes twice: the rebuild must keep the last value.
    assert_eq!(running.set_performance(31, "OUTSTANDING").status, 202);
    assert_eq!(running.set_performance(31, "HIGH").status, 202);
    assert_eq!(running.set_performance(32, "OUTSTANDING").status, 202);
    running.wait_until_drained();
    wait_until("the position is committed", || {
        running.system().stream().committed(CONSUMER_NAME) == Ok(3)
    });

    running.inject(Fault::ConsumerCrash);
    assert!(!running.system().performance_copy().is_ready());
    assert_eq!(running.pay_delivery(31, "4.50", "lost-1").status, 202);
    let lost = &running.payouts(31).payouts[0];
    assert_eq!(lost.performance_source, PerformanceSource::Fallback);
    assert_eq!(
        lost.amount_paid,
        Money::from_cents(450),
        "under-paid by 0.45"
    );

    running.heal(Fault::ConsumerCrash);
    wait_until("the copy is rebuilt", || {
        running.system().performance_copy().is_ready()
    });
    assert_eq!(running.pay_delivery(31, "4.50", "rebuilt-1").status, 202);
    assert_eq!(running.pay_delivery(32, "4.50", "rebuilt-2").status, 202);
    let high = &running.payouts(31).payouts[1];
    assert_eq!(high.performance_source, PerformanceSource::Cached);
    assert_eq!(high.amount_paid, Money::from_cents(495));
    let outstanding = &running.payouts(32).payouts[0];
    assert_eq!(outstanding.amount_paid, Money::from_cents(540));
}

/// One ordered log: a bonus is paid with the performance the courier had when
/// it was granted, even when Payments reads both events long after.
#[test]
fn a_bonus_is_paid_with_the_performance_of_its_grant() {
    let running = start_default();
    running.inject(Fault::Crash(Service::Payments));
    assert_eq!(running.set_performance(41, "HIGH").status, 202);
    assert_eq!(running.grant_bonus(41, "BIG", "while-high").status, 202);
    assert_eq!(running.set_performance(41, "OUTSTANDING").status, 202);
    assert_eq!(
        running.grant_bonus(41, "BIG", "while-outstanding").status,
        202
    );
    wait_until("all four events wait on the stream", || {
        running.stats().stream_lag == 4
    });

    running.heal(Fault::Crash(Service::Payments));
    running.wait_until_serving();
    wait_until("both bonuses are paid", || running.stats().payouts == 2);
    let view = running.payouts(41);
    let paid = |id: &str| {
        view.payouts
            .iter()
            .find(|p| p.reference == id)
            .map(|p| p.amount_paid)
    };
    assert_eq!(paid("while-high"), Some(Money::from_cents(2200)));
    assert_eq!(paid("while-outstanding"), Some(Money::from_cents(2400)));
}

/// A flaky Payments fails some events; they are retried until every bonus is
/// paid, once.
#[test]
fn a_flaky_consumer_retries_until_everything_is_paid() {
    let running = start_default();
    running.inject(Fault::Errors(Service::Payments, 0.3));
    let ids = bonus_ids("flaky", 30);
    for id in &ids {
        assert_eq!(running.grant_bonus(51, "SMALL", id).status, 202);
    }
    wait_until("every bonus is paid", || running.stats().payouts == 30);
    running.heal(Fault::Errors(Service::Payments, 0.3));
    running.wait_until_drained();
    assert!(running.times_paid(51, &ids).iter().all(|&n| n == 1));
}
