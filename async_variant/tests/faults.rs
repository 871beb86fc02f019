//! Each service's faults, and the partition, over real loopback HTTP: what the
//! asynchronous design keeps doing while one side is away — or the stream
//! stops answering.

mod support;

use async_variant::StreamChoice;
use common::Money;
use common::Performance;
use common::api::PerformanceSource;
use common::faults::Latency;
use common::system::{Fault, Service};
use std::time::Duration;
use support::{bodies, bonus_ids, start_default, wait_until};

/// Payments crashed: Incentives still accepts every bonus, the stream buffers
/// them (stream_lag grows), and after recovery each is paid exactly once.
#[test]
fn payments_crash_is_buffered_by_the_stream() {
    let running = start_default();
    assert_eq!(running.set_performance(61, "HIGH").status, 202);
    running.wait_until_drained();
    running.inject(Fault::Crash(Service::Payments));

    let ids = bonus_ids("buffered", 25);
    for id in &ids {
        assert_eq!(running.grant_bonus(61, "BIG", id).status, 202);
    }
    wait_until("the stream holds every bonus", || {
        running.stats().stream_lag == 25
    });
    assert_eq!(running.stats().payouts, 0);
    assert_eq!(running.stats().incentives.failed, 0);

    running.heal(Fault::Crash(Service::Payments));
    running.wait_until_serving();
    wait_until("every bonus is paid", || running.stats().payouts == 25);
    running.wait_until_drained();
    assert!(running.times_paid(61, &ids).iter().all(|&n| n == 1));
    assert_eq!(running.payouts(61).total, Money::from_units(22 * 25));
}

/// Incentives crashed: deliveries are still paid, with the cached performance
/// (HIGH: 4.95 for 4.50), without any call to Incentives.
#[test]
fn incentives_crash_does_not_stop_deliveries() {
    let running = start_default();
    assert_eq!(running.set_performance(62, "HIGH").status, 202);
    running.wait_until_drained();
    running.inject(Fault::Crash(Service::Incentives));

    for i in 0..5 {
        let answer = running.pay_delivery(62, "4.50", &format!("d-{i}"));
        assert_eq!(answer.status, 202);
    }
    let view = running.payouts(62);
    assert_eq!(view.payouts.len(), 5);
    for payout in &view.payouts {
        assert_eq!(payout.amount_paid, Money::from_cents(495));
        assert_eq!(payout.performance_source, PerformanceSource::Cached);
        // Nothing new was published: the copy is complete.
        assert_eq!(payout.performance_age_ms, Some(0));
    }
    assert_eq!(running.stats().payments.failed, 0);
}

/// Partition: the consumer cannot reach the stream, both edges stay up;
/// deliveries are paid from a copy that ages, and the bonuses published
/// meanwhile are paid once the link is back (the body runs on the broker
/// too, where the cut is real: `tests/nats.rs`).
#[test]
fn partition_stops_the_consumer_not_the_edges() {
    bodies::partition_stops_the_consumer_not_the_edges(StreamChoice::Memory);
}

/// A slow Payments still pays everything, once; only later.
#[test]
fn slow_payments_pays_everything() {
    let running = start_default();
    let latency = Latency {
        mean: Duration::from_millis(20),
        jitter: Duration::from_millis(10),
    };
    running.inject(Fault::Latency(Service::Payments, latency));
    let ids = bonus_ids("slow", 20);
    for id in &ids {
        assert_eq!(running.grant_bonus(64, "SMALL", id).status, 202);
    }
    wait_until("every bonus is paid", || running.stats().payouts == 20);
    running.heal(Fault::Latency(Service::Payments, latency));
    assert!(running.times_paid(64, &ids).iter().all(|&n| n == 1));
}

/// A hung Incentives holds its requests; when it is back the held grant is
/// answered 202 and paid.
#[test]
fn hung_incentives_resumes_and_pays() {
    let running = start_default();
    assert_eq!(running.grant_bonus(65, "SMALL", "before").status, 202);
    wait_until("the first bonus is paid", || running.stats().payouts == 1);
    running.inject(Fault::Hang(Service::Incentives));
    let held = {
        let incentives = running.incentives_url("/incentives/bonuses/65");
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .no_proxy()
                .timeout(support::DEADLINE)
                .build()
                .unwrap();
            client
                .post(incentives)
                .header("content-type", "application/json")
                .body(r#"{"bonusType": "SMALL", "bonusId": "held"}"#)
                .send()
                .map(|r| r.status().as_u16())
        })
    };
    // Deliveries do not depend on Incentives at all.
    assert_eq!(running.pay_delivery(65, "4.50", "d-hung").status, 202);
    running.heal(Fault::Hang(Service::Incentives));
    assert_eq!(held.join().unwrap().ok(), Some(202));
    wait_until("the held bonus is paid", || running.stats().payouts == 3);
}

/// The in-process log stops answering (the hang a SIGSTOPped broker is on
/// `--stream nats`, `tests/nats.rs`): bonuses around it are paid once.
#[test]
fn bonuses_around_a_stream_hang_are_paid_once() {
    bodies::bonuses_around_a_stream_hang_are_paid_once(StreamChoice::Memory);
}

/// Shutdown returns, and frees everything, even with every fault switched on.
#[test]
fn shutdown_returns_with_every_fault_on() {
    let running = start_default();
    assert_eq!(running.grant_bonus(66, "SMALL", "last").status, 202);
    for fault in [
        Fault::Hang(Service::Payments),
        Fault::Crash(Service::Incentives),
        Fault::StreamDown,
        Fault::StreamHang,
        Fault::ConsumerCrash,
        Fault::Partition,
    ] {
        running.inject(fault);
    }
    drop(running);
}

/// A slow Payments' consumer sees new events only at its next, delayed read: a
/// delivery paid meanwhile from the out-of-date copy must say the copy is
/// behind (age > 0), never claim to be fresh.
#[test]
fn a_lagging_copy_never_claims_to_be_fresh() {
    let running = start_default();
    let copy = running.system().performance_copy();
    let slow = Fault::Latency(
        Service::Payments,
        Latency {
            mean: Duration::from_millis(300),
            jitter: Duration::ZERO,
        },
    );
    running.inject(slow);
    let mut seen_behind = 0;
    for (name, performance) in [
        ("HIGH", Performance::High),
        ("OUTSTANDING", Performance::Outstanding),
    ]
    .into_iter()
    .cycle()
    .take(6)
    {
        assert_eq!(running.set_performance(71, name).status, 202);
        // From here the event is on the stream: Payments can tell it is behind.
        wait_until("the event leaves the outbox", || {
            running.stats().outbox == 0
        });
        wait_until("the copy catches up", || {
            let head = running.system().stream().head().ok();
            let applied = copy.for_delivery(71, head);
            if applied.performance == performance {
                return true;
            }
            seen_behind += 1;
            assert!(
                applied.age_ms.is_some_and(|age| age > 0),
                "an out-of-date copy reported {applied:?}"
            );
            false
        });
    }
    // The consumer sleeps 300 ms before each read, so right after each 202 the
    // copy is behind: the check above did run.
    assert!(seen_behind > 0);
}
