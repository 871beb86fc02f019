//! The JetStream backend on a real `nats-server` (installed by `.ci/run`; a
//! missing binary fails these tests with the install command): events survive
//! a broker kill, an unacknowledged event is redelivered and paid once, a
//! repeated publish is stored once, the copy is rebuilt after a consumer crash.

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_variant::events::Event;
use async_variant::jetstream::{JetStreamBackend, NatsSettings};
use async_variant::nats_server::NatsServer;
use async_variant::stream::{EventStream, StreamError};
use async_variant::{CONSUMER_NAME, Config, StreamChoice};
use common::api::{PerformanceSource, Reference};
use common::system::{Fault, Service};
use common::{BonusType, Money};
use support::{Running, StreamView, bonus_ids, start, wait_until};

/// A private server; the test fails, naming the install command, without one.
fn server() -> Arc<NatsServer> {
    Arc::new(NatsServer::start().unwrap_or_else(|error| panic!("{error}")))
}

/// An async system on a private JetStream server.
fn start_on_nats(config: Config) -> Running {
    let server = server();
    start(Config {
        stream: StreamChoice::Nats {
            url: server.url(),
            server: Some(server),
        },
        ..config
    })
}

/// Events on the stream when the broker is SIGKILLed are on disk when it
/// restarts on the same store: every bonus is paid, once.
#[test]
fn events_survive_a_broker_kill_and_restart() {
    let running = start_on_nats(Config::default());
    running.inject(Fault::Crash(Service::Payments));
    let ids = bonus_ids("durable", 40);
    for id in &ids {
        assert_eq!(running.grant_bonus(11, "AVERAGE", id).status, 202);
    }
    wait_until("the relay has published all 40", || {
        running.stats().outbox == 0 && running.stream_counters().published == 40
    });

    running.inject(Fault::StreamDown);
    assert_eq!(
        running.system().stream().head(),
        Err(StreamError::Unavailable)
    );
    running.heal(Fault::StreamDown);
    wait_until("the restarted broker still holds all 40", || {
        running.system().stream().head() == Ok(40)
    });

    running.heal(Fault::Crash(Service::Payments));
    running.wait_until_serving();
    wait_until("every bonus is paid", || running.stats().payouts == 40);
    running.wait_until_drained();
    assert!(running.times_paid(11, &ids).iter().all(|&n| n == 1));
    assert_eq!(running.payouts(11).total, Money::from_units(10 * 40));
}

/// A consumer that dies holding delivered, unacknowledged events: the broker
/// redelivers them to its successor after the ack-wait, and the ledger
/// refuses each repeat.
#[test]
fn an_unacknowledged_event_is_redelivered_and_paid_once() {
    // Commits never come due: nothing processed is acknowledged.
    let running = start_on_nats(Config {
        commit_interval: Duration::from_secs(3600),
        ..Config::default()
    });
    let ids = bonus_ids("unacked", 20);
    for id in &ids {
        assert_eq!(running.grant_bonus(21, "AVERAGE", id).status, 202);
    }
    wait_until("every bonus is paid", || running.stats().payouts == 20);
    assert_eq!(running.system().stream().committed(CONSUMER_NAME), Ok(0));

    running.inject(Fault::ConsumerCrash);
    running.heal(Fault::ConsumerCrash);
    wait_until("the broker redelivers all 20", || {
        running.stats().duplicates_refused >= 20
    });
    assert_eq!(running.stats().payouts, 20);
    assert!(running.times_paid(21, &ids).iter().all(|&n| n == 1));
    assert_eq!(running.payouts(21).total, Money::from_units(200));
}

/// The relay's retry after a lost acknowledgement carries the same outbox
/// ids: within the dedup window the broker stores each event once.
#[test]
fn a_repeated_publish_is_stored_once() {
    let server = server();
    let backend =
        JetStreamBackend::create(NatsSettings::new(server.url(), 1000)).expect("the stream");
    let log = backend.connect().expect("a connection");
    let bonus = |id: &str| Event::BonusGranted {
        courier: 1,
        bonus_type: BonusType::Small,
        bonus_id: Reference::parse(id).expect("an id"),
    };
    let batch = [bonus("a"), bonus("b")];
    assert_eq!(log.publish_identified(0, &batch), Ok(0..2));
    assert_eq!(
        log.publish_identified(0, &batch),
        Ok(0..2),
        "the same offsets"
    );
    assert_eq!(log.head(), Ok(2), "stored once");
    assert_eq!(log.publish_identified(2, &[bonus("c")]), Ok(2..3));
    let records = log
        .replay(0, 10, Duration::from_millis(200))
        .expect("a replay");
    let offsets: Vec<u64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [0, 1, 2]);
    assert_eq!(records[2].event, bonus("c"));
    backend.delete();
}

/// A consumer crash loses the copy; the new consumer, on a new connection,
/// rebuilds it by replaying the subject and pays from it again.
#[test]
fn the_copy_is_rebuilt_after_a_consumer_crash() {
    let running = start_on_nats(Config::default());
    assert_eq!(running.set_performance(31, "HIGH").status, 202);
    assert_eq!(running.set_performance(32, "OUTSTANDING").status, 202);
    running.wait_until_drained();
    wait_until("the position is committed", || {
        running.system().stream().committed(CONSUMER_NAME) == Ok(2)
    });

    running.inject(Fault::ConsumerCrash);
    assert!(!running.system().performance_copy().is_ready());
    assert_eq!(running.pay_delivery(31, "4.50", "lost-1").status, 202);
    let lost = &running.payouts(31).payouts[0];
    assert_eq!(lost.performance_source, PerformanceSource::Fallback);

    running.heal(Fault::ConsumerCrash);
    wait_until("the copy is rebuilt", || {
        running.system().performance_copy().is_ready()
    });
    assert_eq!(running.pay_delivery(31, "4.50", "rebuilt-1").status, 202);
    assert_eq!(running.pay_delivery(32, "4.50", "rebuilt-2").status, 202);
    assert_eq!(
        running.payouts(31).payouts[1].amount_paid,
        Money::from_cents(495)
    );
    assert_eq!(
        running.payouts(32).payouts[0].amount_paid,
        Money::from_cents(540)
    );
    assert_eq!(running.system().backend().name, "nats");
}
