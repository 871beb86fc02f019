//! The JetStream backend on a real `nats-server` (installed by `.ci/run`; a
//! missing binary fails these tests with the install command): events survive
//! a broker kill, an unacknowledged event is redelivered and paid once,
//! bonuses around a broker hang (SIGSTOP/SIGCONT) and across a real partition
//! are paid once, a stopped
//! server is not left behind, a repeated publish is stored once, the copy is
//! rebuilt after a consumer crash, a SQLite position ahead of the broker's
//! acknowledgements wins.

mod support;

use std::time::Duration;

use async_variant::events::Event;
use async_variant::jetstream::{JetStreamBackend, NatsSettings};
use async_variant::stream::{EventStream, StreamError};
use async_variant::{CONSUMER_NAME, Checkpoint, Config};
use common::api::{PerformanceSource, Reference};
use common::system::{Fault, Service};
use common::{BonusType, Money};
use support::{
    Running, StreamView, bodies, bonus_ids, nats_server, private_nats, start, wait_until,
};

/// An async system on a private JetStream server.
fn start_on_nats(config: Config) -> Running {
    start(Config {
        stream: private_nats(),
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
/// refuses each repeat (the body is `tests/consumer.rs`'s, on the broker).
#[test]
fn an_unacknowledged_event_is_redelivered_and_paid_once() {
    bodies::redelivery_after_a_consumer_crash_never_pays_twice(private_nats());
}

/// The broker is stopped (SIGSTOP) and continued (SIGCONT): bonuses granted
/// around the hang are paid once, none lost.
#[test]
fn bonuses_around_a_broker_hang_are_paid_once() {
    bodies::bonuses_around_a_stream_hang_are_paid_once(private_nats());
}

/// A partition between the services and the broker cuts the relay's and the
/// consumer's real connections (`jetstream/partition.rs`): the bonuses wait
/// in the outbox and each is paid once after the heal.
#[test]
fn a_partition_cuts_the_connections_to_the_broker() {
    bodies::partition_stops_the_consumer_not_the_edges(private_nats());
}

/// A server stopped by a hang is not left behind stopped: dropping it kills
/// the process (SIGKILL ends a stopped process too) and reaps it.
#[test]
fn a_paused_server_is_gone_when_dropped() {
    let server = nats_server();
    let pid = server.pid().expect("it runs");
    server.pause();
    // The signal is delivered asynchronously.
    wait_until("the server is stopped", || process_state(pid) == Some('T'));
    drop(server);
    assert_eq!(process_state(pid), None, "no process left");
}

/// The state letter of process `pid` in `/proc` (`R`, `S`, `T` stopped, `Z`
/// zombie), `None` when there is no such process.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the state follows the last parenthesis.
    stat.rsplit(')').next()?.trim_start().chars().next()
}

/// The relay's retry after a lost acknowledgement carries the same outbox
/// ids: within the dedup window the broker stores each event once.
#[test]
fn a_repeated_publish_is_stored_once() {
    let server = nats_server();
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
/// rebuilds it from the compacted source (the events themselves were trimmed
/// once acknowledged) and pays from it again.
#[test]
fn the_copy_is_rebuilt_after_a_consumer_crash() {
    let running = start_on_nats(Config::default());
    assert_eq!(running.set_performance(31, "HIGH").status, 202);
    assert_eq!(running.set_performance(32, "OUTSTANDING").status, 202);
    running.wait_until_drained();
    wait_until("the position is committed", || {
        running.system().stream().committed(CONSUMER_NAME) == Ok(2)
    });

    // Interest retention: what the consumer acknowledged is gone from the
    // stream, so the rebuild below cannot be a replay of it.
    wait_until("the acknowledged events are trimmed", || {
        running
            .system()
            .stream()
            .replay(0, 10, Duration::from_millis(50))
            .is_ok_and(|records| records.is_empty())
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

/// A target, measured by hand (minutes, in release):
/// `cargo test --release -p async_variant --test nats -- --ignored --nocapture million`.
/// A backlog of 1,000,000 bonus events, published while Payments is down,
/// survives a broker kill and restart on the same store; when Payments is
/// back it drains with none lost and none paid twice. Prints the drain rate.
#[test]
#[ignore = "a measurement: about a minute in release, run by hand"]
fn a_million_event_backlog_survives_a_broker_restart_and_drains() {
    const EVENTS: u64 = 1_000_000;
    let running = start_on_nats(Config::default());
    running.inject(Fault::Crash(Service::Payments));
    let stream = running.system().stream();
    let started = std::time::Instant::now();
    // Straight onto the stream, as the relay publishes: 1,000,000 requests
    // through the edge would measure the edge, not the broker.
    let mut next = 0;
    // Bounded: every pass publishes at least one event or fails the test.
    while next < EVENTS {
        let batch: Vec<Event> = (next..(next + 256).min(EVENTS))
            .map(|i| Event::BonusGranted {
                courier: 1 + i % 1000,
                bonus_type: BonusType::Small,
                bonus_id: Reference::parse(&format!("m-{i}")).expect("an id"),
            })
            .collect();
        let stored = stream
            .publish_identified(next, &batch)
            .expect("the broker stores the batch");
        next = stored.end;
    }
    println!("published {EVENTS} events in {:?}", started.elapsed());

    running.inject(Fault::StreamDown);
    running.heal(Fault::StreamDown);
    wait_until("the restarted broker holds the backlog", || {
        stream.head() == Ok(EVENTS)
    });

    let drain = std::time::Instant::now();
    running.heal(Fault::Crash(Service::Payments));
    let bound = std::time::Duration::from_secs(600);
    // Bounded by `bound`, in 100 ms steps.
    while running.stats().payouts < EVENTS && drain.elapsed() < bound {
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = drain.elapsed();
    let stats = running.stats();
    assert_eq!(stats.payouts, EVENTS, "lost: {}", EVENTS - stats.payouts);
    println!(
        "drained {EVENTS} events in {elapsed:?}: {:.0} events/s; refused repeats {}",
        EVENTS as f64 / elapsed.as_secs_f64(),
        stats.duplicates_refused
    );
}

/// Payments died after its SQLite checkpoint committed and before the broker
/// had the acknowledgement. The restart resumes from SQLite's position; the
/// broker redelivers what it never saw acknowledged, and the consumer
/// acknowledges those at once instead of handing them out again.
#[test]
fn a_sqlite_position_ahead_of_the_ack_floor_is_not_redelivered() {
    let server = nats_server();
    let settings = NatsSettings {
        ack_wait: Duration::from_millis(500),
        ..NatsSettings::new(server.url(), 100)
    };
    let backend = JetStreamBackend::create(settings).unwrap();
    let publisher = backend.connect().unwrap();
    let events: Vec<Event> = (0..10)
        .map(|n| Event::BonusGranted {
            courier: 1,
            bonus_type: BonusType::Small,
            bonus_id: Reference::parse(&format!("b-{n}")).unwrap(),
        })
        .collect();
    assert_eq!(publisher.publish(&events), Ok(0..10));
    let dir = tempfile::tempdir().unwrap();
    let faults = common::faults::ServiceFaults::new("payments", 1);
    let checkpoint = Checkpoint::open(dir.path(), publisher.stream_name(), faults).unwrap();
    let checkpoint = std::sync::Arc::new(checkpoint);

    let first = checkpoint.over(std::sync::Arc::new(backend.connect().unwrap()));
    assert_eq!(first.committed(CONSUMER_NAME), Ok(0));
    let mut read = Vec::new();
    wait_until("the first life reads all ten", || {
        read.extend(
            first
                .read(read.len() as u64, 10, Duration::from_millis(50))
                .unwrap_or_default(),
        );
        read.len() == 10
    });
    backend.set_down(true);
    assert!(first.commit(CONSUMER_NAME, 6).is_err(), "the ack is lost");
    backend.set_down(false);
    drop(first); // killed: its ten deliveries come back after the ack-wait

    let second = checkpoint.over(std::sync::Arc::new(backend.connect().unwrap()));
    assert_eq!(second.committed(CONSUMER_NAME), Ok(6), "SQLite's position");
    let mut offsets = Vec::new();
    wait_until("the events after the position are redelivered", || {
        let batch = second.read(6 + offsets.len() as u64, 10, Duration::from_millis(50));
        offsets.extend(batch.unwrap_or_default().iter().map(|r| r.offset));
        offsets.len() >= 4
    });
    assert_eq!(offsets, vec![6, 7, 8, 9], "nothing before the position");
    second.commit(CONSUMER_NAME, 10).unwrap();
    let floor = backend.connect().unwrap();
    wait_until("the broker's ack floor reaches the end", || {
        floor.committed(CONSUMER_NAME) == Ok(10)
    });
    backend.delete();
}
