//! Incentives' transactional outbox and the relay thread that empties it.
//!
//! Incentives must never record a fact without publishing it, nor publish a
//! fact it did not record. Writing to its database and then publishing to the
//! broker are two systems, and a crash between the two breaks one of those
//! rules. The *outbox pattern* makes the event part of the database write: the
//! fact and its event are stored in one transaction, and a separate relay
//! copies the outbox to the stream afterwards. Here the "transaction" is one
//! critical section ([`Outbox::record`]), so the outbox's order is exactly the
//! order in which facts entered Incentives' records.
//!
//! The relay deletes an event from the outbox only *after* the stream
//! acknowledged it. If it died in between, the event would be published again:
//! the outbox, like the stream, delivers at least once.
//!
//! The outbox is bounded (`outbox_capacity`). When the stream is down or full
//! the outbox fills; when the outbox is full too, Incentives refuses new facts
//! with `503` ([`OutboxFull`]) instead of queueing without limit. A down
//! stream comes back and the outbox drains; a full one stays full (its log is
//! never trimmed), so what waits in the outbox then is not paid within the
//! run — a state the default capacities put beyond any run's length.
//!
//! Next: `incentives.rs` writes through it; `stream.rs` is where
//! the relay publishes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use common::domain::lock;
use common::faults::ServiceFaults;
use crossbeam_channel::{Receiver, Sender};
use thiserror::Error;

use crate::events::Event;
use crate::retry::{FIRST_BACKOFF, MAX_BACKOFF, next_backoff};
use crate::stream::{EventStream, StreamError};

/// How long the relay waits for new events (or for Incentives to come back)
/// before it looks at its stop flag again. Short enough that shutdown and the
/// end of a fault are noticed at once; an appended event rings the doorbell, so
/// this does not delay publishing.
const IDLE_WAIT: Duration = Duration::from_millis(50);

/// The outbox is full: the fact was not recorded. Incentives answers `503`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("the outbox holds {capacity} unpublished events; try again later")]
pub struct OutboxFull {
    pub capacity: usize,
}

/// Events recorded by Incentives and not yet on the stream. It stands for a
/// table in Incentives' database, so it survives a crash of Incentives.
///
/// Memory: a `VecDeque` slot per event (`size_of::<Event>()`, 40 bytes) plus
/// the bonus id's text.
#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    events: Mutex<VecDeque<Event>>,
    /// Rung on every append, so that an idle relay publishes at once.
    bell_tx: Sender<()>,
    bell_rx: Receiver<()>,
    /// Events removed after the stream acknowledged them (only the relay
    /// removes).
    removed: AtomicU64,
}

impl Outbox {
    pub fn new(capacity: usize) -> Outbox {
        let (bell_tx, bell_rx) = crossbeam_channel::bounded(1);
        Outbox {
            capacity,
            events: Mutex::new(VecDeque::new()),
            bell_tx,
            bell_rx,
            removed: AtomicU64::new(0),
        }
    }

    /// One transaction: runs `write` — the fact's own change to Incentives'
    /// records — and appends the event it returns, both under the outbox lock.
    /// Two facts recorded concurrently therefore reach the outbox in the order
    /// they reached the records. `write` returns `None` when there is nothing to
    /// publish (a repeated bonus id). When the outbox is full nothing runs.
    pub fn record(&self, write: impl FnOnce() -> Option<Event>) -> Result<(), OutboxFull> {
        let mut events = lock(&self.events);
        if events.len() >= self.capacity {
            return Err(OutboxFull {
                capacity: self.capacity,
            });
        }
        if let Some(event) = write() {
            events.push_back(event);
            drop(events);
            let _ = self.bell_tx.try_send(());
        }
        Ok(())
    }

    /// Events waiting to be published.
    pub fn len(&self) -> usize {
        lock(&self.events).len()
    }

    /// Copies of the oldest `max` events. Copies, not removals: they leave the
    /// outbox only once the stream has them ([`Outbox::remove_oldest`]).
    fn oldest(&self, max: usize) -> Vec<Event> {
        lock(&self.events).iter().take(max).cloned().collect()
    }

    /// Removes the oldest `count` events, which the stream has acknowledged.
    /// Only the relay removes, and appends go to the other end, so these are
    /// the events it published.
    fn remove_oldest(&self, count: usize) {
        let mut events = lock(&self.events);
        let count = count.min(events.len());
        events.drain(..count);
        self.removed.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// The id of the oldest event: events get consecutive ids as they are
    /// recorded, so it is the number removed so far. A retried batch carries
    /// the same ids, which lets a broker deduplicate it.
    fn oldest_id(&self) -> u64 {
        self.removed.load(Ordering::Relaxed)
    }
}

/// The relay thread: outbox → stream, in order, in batches.
#[derive(Debug)]
pub struct Relay {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Relay {
    /// Starts relaying. It pauses while Incentives is crashed or hung (the relay
    /// is part of the Incentives process), and backs off while the stream
    /// refuses.
    pub fn start(
        outbox: Arc<Outbox>,
        stream: Arc<dyn EventStream>,
        faults: Arc<ServiceFaults>,
        batch_size: usize,
    ) -> std::io::Result<Relay> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("incentives-relay".to_string())
            .spawn(move || relay(&outbox, &*stream, &faults, batch_size, &flag))?;
        Ok(Relay { stop, thread })
    }

    /// Stops the thread and waits for it; the outbox keeps what it holds.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

fn relay(
    outbox: &Outbox,
    stream: &dyn EventStream,
    faults: &ServiceFaults,
    batch_size: usize,
    stop: &AtomicBool,
) {
    let mut backoff = FIRST_BACKOFF;
    // Bounded by the stop flag; every pass below waits at most MAX_BACKOFF.
    while !stop.load(Ordering::Relaxed) {
        if faults.is_down() {
            faults.wait_until_up_blocking(IDLE_WAIT);
            continue;
        }
        let batch = outbox.oldest(batch_size);
        if batch.is_empty() {
            let _ = outbox.bell_rx.recv_timeout(IDLE_WAIT);
            continue;
        }
        match stream.publish_identified(outbox.oldest_id(), &batch) {
            Ok(offsets) => {
                outbox.remove_oldest(offsets.count());
                backoff = FIRST_BACKOFF;
            }
            // Down or full: the events stay in the outbox, nothing is lost;
            // try again a little later.
            Err(StreamError::Unavailable | StreamError::Full { .. }) => {
                std::thread::sleep(backoff);
                backoff = next_backoff(backoff);
            }
            // Publishing never names an offset; listed so a new error is a
            // compile error here, not a silent spin.
            Err(
                StreamError::BeyondHead { .. }
                | StreamError::AwaitingRedelivery { .. }
                | StreamError::Undecodable { .. },
            ) => std::thread::sleep(MAX_BACKOFF),
        }
    }
}
