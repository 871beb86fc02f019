//! The in-process stream measured on its own — publish on one thread, consume
//! on another — beside its floor, a bare crossbeam-channel hand-off (the
//! channel type the stream rings its doorbell with).
//!
//! Two shapes, each in a stream form and a channel form:
//!
//! - **Throughput** ([`stream_throughput`], [`channel_throughput`]): `events`
//!   events from a publisher to a consumer, in batches. The stream form is the
//!   relay → stream → consumer path of the asynchronous variant with the
//!   services taken away: `publish` clones each event into the log under its
//!   lock, `read` clones it out again. The channel form moves each event once.
//! - **Round trip** ([`stream_round_trip`], [`channel_round_trip`]): one event
//!   published, the consumer woken and answering on a channel, `rounds` times.
//!   What a single bonus waits for on an idle system: the doorbell.
//!
//! Each returns the elapsed time of the measured part only (set-up — thread
//! start, the stream's allocation — happens before a barrier), so criterion's
//! `iter_custom` can divide it by the iteration count.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use async_variant::events::Event;
use async_variant::stream::{EventStream, InMemoryStream};
use common::BonusType;
use common::api::Reference;
use crossbeam_channel::bounded;

/// How long a waiting reader blocks before looking again. The doorbell wakes it
/// at once in the normal case; the wait only bounds a missed ring.
const READ_WAIT: Duration = Duration::from_millis(50);

/// The channel floor's capacity: the largest batch the stream benches use, so
/// a publisher never waits on a bounded channel where it would not wait on
/// the stream, and the queue stays bounded.
pub const CHANNEL_CAPACITY: usize = 1024;

/// The longest any pipeline run may take before it is declared stalled: far
/// above the ~1 s the largest criterion sample takes, so only a bug trips it.
const STALL_LIMIT: Duration = Duration::from_secs(120);

/// The event the benchmarks move: a bonus, the event the design is about, with
/// an id as long as the edge generates (`bonus-1234567`).
pub fn bonus_event(n: u64) -> Event {
    Event::BonusGranted {
        courier: n % 64,
        bonus_type: BonusType::Big,
        bonus_id: Reference::parse(&format!("bonus-{:07}", n % 10_000_000)).expect("valid id"),
    }
}

/// `events` events through a fresh [`InMemoryStream`], published `batch` at a
/// time and read up to `batch` at a time.
pub fn stream_throughput(events: u64, batch: usize) -> Duration {
    let batch = batch.max(1);
    let template: Vec<Event> = (0..batch as u64).map(bonus_event).collect();
    let stream = Arc::new(InMemoryStream::new(events as usize));
    let ready = Arc::new(Barrier::new(2));
    let consumer = {
        let stream = stream.clone();
        let ready = ready.clone();
        thread::spawn(move || {
            ready.wait();
            let deadline = Instant::now() + STALL_LIMIT;
            let mut next = 0;
            while next < events {
                assert!(Instant::now() < deadline, "stream pipeline stalled");
                let records = stream.read(next, batch, READ_WAIT).expect("stream is up");
                next += records.len() as u64;
                black_box(records);
            }
        })
    };
    ready.wait();
    let start = Instant::now();
    let mut published = 0;
    while published < events {
        let count = batch.min((events - published) as usize);
        let offsets = stream.publish(&template[..count]).expect("capacity fits");
        published += offsets.end - offsets.start;
    }
    consumer.join().expect("consumer thread");
    start.elapsed()
}

/// `events` events through a bounded crossbeam channel, one `send` each (the
/// channel has no batch send), each a clone of a prepared event.
pub fn channel_throughput(events: u64) -> Duration {
    let template = bonus_event(1);
    let (tx, rx) = bounded::<Event>(CHANNEL_CAPACITY);
    let ready = Arc::new(Barrier::new(2));
    let consumer = {
        let ready = ready.clone();
        thread::spawn(move || {
            ready.wait();
            for _ in 0..events {
                black_box(
                    rx.recv_timeout(STALL_LIMIT)
                        .expect("channel pipeline stalled"),
                );
            }
        })
    };
    ready.wait();
    let start = Instant::now();
    for _ in 0..events {
        tx.send(template.clone()).expect("consumer alive");
    }
    consumer.join().expect("consumer thread");
    start.elapsed()
}

/// `rounds` times: publish one event, wait for the consumer to have read it
/// (it answers on a `bounded(1)` channel).
pub fn stream_round_trip(rounds: u64) -> Duration {
    let event = [bonus_event(1)];
    let stream = Arc::new(InMemoryStream::new(rounds as usize));
    let (ack_tx, ack_rx) = bounded::<()>(1);
    let ready = Arc::new(Barrier::new(2));
    let consumer = {
        let stream = stream.clone();
        let ready = ready.clone();
        thread::spawn(move || {
            ready.wait();
            let deadline = Instant::now() + STALL_LIMIT;
            let mut next = 0;
            while next < rounds {
                assert!(Instant::now() < deadline, "stream round trip stalled");
                let records = stream.read(next, 1, READ_WAIT).expect("stream is up");
                if !records.is_empty() {
                    next += records.len() as u64;
                    ack_tx.send(()).expect("publisher alive");
                }
            }
        })
    };
    ready.wait();
    let start = Instant::now();
    for _ in 0..rounds {
        stream.publish(&event).expect("capacity fits");
        ack_rx.recv_timeout(STALL_LIMIT).expect("consumer answers");
    }
    let elapsed = start.elapsed();
    consumer.join().expect("consumer thread");
    elapsed
}

/// `rounds` times: send one event on a channel, wait for the consumer to
/// answer on another — two bare hand-offs per round.
pub fn channel_round_trip(rounds: u64) -> Duration {
    let template = bonus_event(1);
    let (tx, rx) = bounded::<Event>(1);
    let (ack_tx, ack_rx) = bounded::<()>(1);
    let ready = Arc::new(Barrier::new(2));
    let consumer = {
        let ready = ready.clone();
        thread::spawn(move || {
            ready.wait();
            for _ in 0..rounds {
                black_box(rx.recv_timeout(STALL_LIMIT).expect("publisher alive"));
                ack_tx.send(()).expect("publisher alive");
            }
        })
    };
    ready.wait();
    let start = Instant::now();
    for _ in 0..rounds {
        tx.send(template.clone()).expect("consumer alive");
        ack_rx.recv_timeout(STALL_LIMIT).expect("consumer answers");
    }
    let elapsed = start.elapsed();
    consumer.join().expect("consumer thread");
    elapsed
}
