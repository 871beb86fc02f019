//! The stream on its own: a log with offsets, durable positions, replay, a
//! documented memory cost and a visible limit.

use std::mem::size_of;
use std::sync::Arc;
use std::time::Duration;

use async_variant::events::Event;
use async_variant::stream::{EventStream, InMemoryStream, RECORD_BYTES, Record, StreamError};
use common::api::Reference;
use common::{BonusType, Performance};

fn bonus(courier: u64, id: &str) -> Event {
    Event::BonusGranted {
        courier,
        bonus_type: BonusType::Small,
        bonus_id: Reference::parse(id).unwrap(),
    }
}

fn rated(courier: u64, performance: Performance) -> Event {
    Event::PerformanceChanged {
        courier,
        performance,
    }
}

fn offsets(records: &[Record]) -> Vec<u64> {
    records.iter().map(|r| r.offset).collect()
}

/// Offsets are consecutive from 0, across publish calls, and never reused.
#[test]
fn offsets_are_consecutive_from_zero() {
    let stream = InMemoryStream::new(100);
    assert_eq!(stream.publish(&[bonus(1, "a"), bonus(1, "b")]), Ok(0..2));
    assert_eq!(stream.publish(&[rated(1, Performance::High)]), Ok(2..3));
    assert_eq!(stream.publish(&[]), Ok(3..3));
    let records = stream.read(0, 10, Duration::ZERO).unwrap();
    assert_eq!(offsets(&records), [0, 1, 2]);
    assert_eq!(records[1].event, bonus(1, "b"));
    assert_eq!(stream.head(), Ok(3));
}

/// A reader resumes from the position it committed; the position lives in the
/// stream, so a new reader (a restarted consumer) finds it, and it never moves
/// back.
#[test]
fn a_consumer_resumes_from_its_committed_position() {
    let stream = InMemoryStream::new(100);
    let events: Vec<Event> = (0..5).map(|i| bonus(1, &format!("b-{i}"))).collect();
    stream.publish(&events).unwrap();
    assert_eq!(
        stream.committed("payments"),
        Ok(0),
        "never committed: start at 0"
    );

    let first = stream.read(0, 3, Duration::ZERO).unwrap();
    stream
        .commit("payments", first.last().unwrap().offset + 1)
        .unwrap();

    // "Restart": nothing but the stream remembers where the reader was.
    let resume_at = stream.committed("payments").unwrap();
    assert_eq!(resume_at, 3);
    let rest = stream.read(resume_at, 10, Duration::ZERO).unwrap();
    assert_eq!(offsets(&rest), [3, 4]);

    stream.commit("payments", 1).unwrap();
    assert_eq!(
        stream.committed("payments"),
        Ok(3),
        "a commit never moves back"
    );
    assert_eq!(stream.committed("someone-else"), Ok(0));
    assert_eq!(
        stream.commit("payments", 6),
        Err(StreamError::BeyondHead { offset: 6, head: 5 })
    );
}

/// Any reader can read from any offset, again and again, whatever was
/// committed: what a replay needs from the stream. (The replay itself, the
/// consumer's rebuild of its copy, is `consumer.rs`'s own code, tested in
/// `tests/consumer.rs`.)
#[test]
fn any_offset_can_be_read_again_whatever_was_committed() {
    let stream = InMemoryStream::new(100);
    let events = [
        rated(1, Performance::High),
        bonus(1, "b-1"),
        rated(2, Performance::Outstanding),
        rated(1, Performance::Normal),
        rated(1, Performance::Outstanding),
    ];
    stream.publish(&events).unwrap();
    stream.commit("payments", 5).unwrap();

    let first = stream.read(0, 100, Duration::ZERO).unwrap();
    let again = stream.read(0, 100, Duration::ZERO).unwrap();
    assert_eq!(first, again);
    assert_eq!(offsets(&first), [0, 1, 2, 3, 4]);
    let read: Vec<Event> = first.into_iter().map(|r| r.event).collect();
    assert_eq!(read, events);
    assert_eq!(
        offsets(&stream.read(3, 100, Duration::ZERO).unwrap()),
        [3, 4]
    );
}

/// At capacity, publishing takes what fits and reports `Full` for the rest:
/// counted, never a silent drop.
#[test]
fn full_is_reported_not_dropped() {
    let stream = InMemoryStream::new(3);
    let events: Vec<Event> = (0..5).map(|i| bonus(1, &format!("b-{i}"))).collect();
    let taken = stream.publish(&events).unwrap();
    assert_eq!(taken, 0..3, "a prefix is taken; the caller keeps the rest");
    assert_eq!(
        stream.publish(&events[3..]),
        Err(StreamError::Full { capacity: 3 })
    );
    let counters = stream.counters();
    assert_eq!(counters.published, 3);
    assert_eq!(counters.full_refusals, 2);
    assert_eq!(
        offsets(&stream.read(0, 10, Duration::ZERO).unwrap()),
        [0, 1, 2]
    );
}

/// A down stream refuses publish and read, and forgets nothing.
#[test]
fn a_down_stream_refuses_and_forgets_nothing() {
    let stream = InMemoryStream::new(10);
    stream.publish(&[bonus(1, "a")]).unwrap();
    stream.commit("payments", 1).unwrap();
    stream.set_down(true);
    assert_eq!(
        stream.publish(&[bonus(1, "b")]),
        Err(StreamError::Unavailable)
    );
    assert_eq!(
        stream.read(0, 10, Duration::ZERO),
        Err(StreamError::Unavailable)
    );
    assert_eq!(stream.counters().published, 1, "counters stay readable");
    stream.set_down(false);
    assert_eq!(stream.read(0, 10, Duration::ZERO).unwrap().len(), 1);
    assert_eq!(stream.committed("payments"), Ok(1));
}

/// A reader waiting on an empty log is woken by a publish (the doorbell).
#[test]
fn a_waiting_reader_gets_what_is_published() {
    let stream = Arc::new(InMemoryStream::new(10));
    let reader = {
        let stream = stream.clone();
        std::thread::spawn(move || {
            // Bounded: at most 100 waits of 100 ms.
            for _ in 0..100 {
                let records = stream.read(0, 10, Duration::from_millis(100)).unwrap();
                if !records.is_empty() {
                    return records;
                }
            }
            Vec::new()
        })
    };
    stream.publish(&[rated(7, Performance::High)]).unwrap();
    let records = reader.join().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].event, rated(7, Performance::High));
}

/// The memory figures the docs give are the real ones.
#[test]
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn memory_per_event_is_as_documented() {
    assert_eq!(size_of::<Event>(), 40);
    assert_eq!(size_of::<Record>(), RECORD_BYTES);
    let stream = InMemoryStream::new(10);
    stream
        .publish(&[bonus(1, "bonus-17"), rated(1, Performance::High)])
        .unwrap();
    let records = stream.read(0, 10, Duration::ZERO).unwrap();
    assert_eq!(records[0].retained_bytes(), RECORD_BYTES + "bonus-17".len());
    assert_eq!(records[1].retained_bytes(), RECORD_BYTES);
    assert_eq!(
        stream.counters().retained_bytes,
        (2 * RECORD_BYTES + "bonus-17".len()) as u64
    );
}
