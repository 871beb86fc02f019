//! Test bodies written once and run on both backends of the stream:
//! `tests/consumer.rs` and `tests/faults.rs` run them on the in-process log,
//! `tests/nats.rs` on a private `nats-server`. Where the backends must
//! differ, the body says so with a `match` on the backend.

use async_variant::stream::StreamError;
use async_variant::{CONSUMER_NAME, Config, StreamChoice};
use common::Money;
use common::api::PerformanceSource;
use common::system::Fault;
use std::time::Duration;

use super::{bonus_ids, start, wait_until};

/// A consumer that dies before it commits: what it processed is delivered
/// again (the in-process log re-reads from the committed offset; the broker
/// redelivers after the ack-wait), and the ledger refuses each repeat.
pub fn redelivery_after_a_consumer_crash_never_pays_twice(stream: StreamChoice) {
    let memory = matches!(stream, StreamChoice::Memory);
    // Commits never come due: every event processed is uncommitted.
    let running = start(Config {
        commit_interval: Duration::from_secs(3600),
        stream,
        ..Config::default()
    });
    let ids = bonus_ids("redelivered", 20);
    for id in &ids {
        assert_eq!(running.grant_bonus(21, "AVERAGE", id).status, 202);
    }
    wait_until("every bonus is paid", || running.stats().payouts == 20);
    assert_eq!(running.system().stream().committed(CONSUMER_NAME), Ok(0));

    running.inject(Fault::ConsumerCrash);
    running.heal(Fault::ConsumerCrash);
    wait_until("every bonus is redelivered", || {
        running.stats().duplicates_refused >= 20
    });
    running.wait_until_drained();
    let stats = running.stats();
    if memory {
        // The log re-reads each once; a broker may redeliver an event again
        // if its second ack-wait runs out too.
        assert_eq!(stats.duplicates_refused, 20);
    }
    assert_eq!(stats.payouts, 20);
    assert!(running.times_paid(21, &ids).iter().all(|&n| n == 1));
    assert_eq!(running.payouts(21).total, Money::from_units(200));
}

/// The stream stops answering (a SIGSTOPped broker; the in-process log's
/// pause): Incentives keeps accepting bonuses into its outbox and Payments
/// keeps paying deliveries; every bonus granted before, during and after the
/// hang is paid once when it ends — none lost, none twice, also for a publish
/// the broker received and could not acknowledge.
pub fn bonuses_around_a_stream_hang_are_paid_once(stream: StreamChoice) {
    let running = start(Config {
        stream,
        ..Config::default()
    });
    let ids = bonus_ids("hang", 30);
    for id in &ids[..10] {
        assert_eq!(running.grant_bonus(41, "AVERAGE", id).status, 202);
    }
    running.inject(Fault::StreamHang);
    for id in &ids[10..20] {
        assert_eq!(running.grant_bonus(41, "AVERAGE", id).status, 202);
    }
    assert_eq!(running.pay_delivery(42, "4.50", "during-hang").status, 202);
    // A call waits out its timeout and fails: the stream does not answer.
    assert_eq!(
        running.system().stream().head(),
        Err(StreamError::Unavailable)
    );
    assert!(running.stats().outbox >= 10, "the outbox holds the bonuses");
    running.heal(Fault::StreamHang);
    for id in &ids[20..] {
        assert_eq!(running.grant_bonus(41, "AVERAGE", id).status, 202);
    }
    wait_until("every bonus is paid", || running.stats().payouts == 31);
    running.wait_until_drained();
    assert_eq!(running.system().stream().head(), Ok(30), "each stored once");
    assert!(running.times_paid(41, &ids).iter().all(|&n| n == 1));
    assert_eq!(running.payouts(41).total, Money::from_units(300));
}

/// Partition: Payments' consumer cannot reach the stream, both edges stay
/// up, deliveries are paid from the copy, and the bonuses granted meanwhile
/// are paid once the link is back. Where the backends differ: the in-process
/// log has no connection to cut, so only the consumer is cut off and the
/// relay still publishes; on a broker the relay's and the consumer's TCP
/// connections are cut, and the bonuses wait in Incentives' outbox.
pub fn partition_stops_the_consumer_not_the_edges(stream: StreamChoice) {
    let memory = matches!(stream, StreamChoice::Memory);
    let running = start(Config {
        stream,
        ..Config::default()
    });
    assert_eq!(running.set_performance(63, "HIGH").status, 202);
    running.wait_until_drained();
    running.inject(Fault::Partition);

    let ids = bonus_ids("cut", 10);
    for id in &ids {
        assert_eq!(running.grant_bonus(63, "SMALL", id).status, 202);
    }
    if memory {
        wait_until("the bonuses wait on the stream", || {
            running.stats().stream_lag == 10
        });
    } else {
        // The relay's own connection is cut: it cannot publish, and a call
        // on it fails.
        assert_eq!(
            running.system().stream().head(),
            Err(StreamError::Unavailable)
        );
        assert_eq!(running.stats().outbox, 10, "the bonuses wait in the outbox");
    }
    // Let the copy's age reach whole milliseconds before it is read.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(running.pay_delivery(63, "4.50", "d-cut").status, 202);
    let delivery = &running.payouts(63).payouts[0];
    assert_eq!(delivery.amount_paid, Money::from_cents(495));
    assert_eq!(delivery.performance_source, PerformanceSource::Cached);
    if memory {
        assert!(
            delivery.performance_age_ms.is_some_and(|age| age > 0),
            "the copy is known to be behind: {delivery:?}"
        );
    }

    running.heal(Fault::Partition);
    wait_until("every bonus is paid", || running.stats().payouts == 11);
    running.wait_until_drained();
    assert!(running.times_paid(63, &ids).iter().all(|&n| n == 1));
}
