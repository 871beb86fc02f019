//! Incentives' transactional outbox and the relay thread that empties it.
//!
//! Incentives must never record a fact without publishing it, nor publish a
//! fact it did not record. Writing to its database and then publishing to the
//! broker are two systems, and a crash between the two breaks one of those
//! rules. The *outbox pattern* makes the event part of the database write: the
//! fact and its event are stored in one transaction, and a separate relay
//! copies the outbox to the stream afterwards. In memory the "transaction" is
//! one critical section ([`Outbox::record`]), so the outbox's order is exactly
//! the order in which facts entered Incentives' records — transactional by
//! construction, which demonstrates nothing. With SQLite storage it is a real
//! one: the fact's row and the event's row are committed together
//! (`outbox/table.rs`), so a `kill -9` keeps both or neither.
//!
//! The relay deletes an event from the outbox only *after* the stream
//! acknowledged it. If it died in between, the event would be published again:
//! the outbox, like the stream, delivers at least once.
//!
//! The outbox is bounded (`outbox_capacity`). When the stream is down or full
//! the outbox fills; when the outbox is full too, Incentives refuses new facts
//! with `503` ([`NotRecorded`]) instead of queueing without limit. A down
//! stream comes back and the outbox drains; a full one stays full (its log is
//! never trimmed), so what waits in the outbox then is not paid within the
//! run — a state the default capacities put beyond any run's length.
//!
//! Next: `outbox/table.rs`, the outbox in SQLite; `incentives.rs` writes
//! through it; `stream.rs` is where
//! the relay publishes.

mod table;

pub use table::OutboxTable;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use common::domain::lock;
use common::faults::ServiceFaults;
use common::store;
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

/// The fact was not recorded. Incentives answers `503`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum NotRecorded {
    #[error("the outbox holds {capacity} unpublished events; try again later")]
    Full { capacity: usize },
    /// The table's transaction failed (an internal error of the run).
    #[error("the outbox's table failed: {0}")]
    Store(String),
}

/// Where the unpublished events are.
#[derive(Debug)]
enum Pending {
    Memory(VecDeque<Event>),
    Table(OutboxTable),
}

impl Pending {
    fn len(&self) -> usize {
        match self {
            Pending::Memory(events) => events.len(),
            Pending::Table(table) => table.len(),
        }
    }
}

/// Events recorded by Incentives and not yet on the stream. It stands for a
/// table in Incentives' database, so it survives a crash of Incentives.
///
/// Memory: a `VecDeque` slot per event (`size_of::<Event>()`, 40 bytes) plus
/// the bonus id's text.
#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    events: Mutex<Pending>,
    /// Rung on every append, so that an idle relay publishes at once.
    bell_tx: Sender<()>,
    bell_rx: Receiver<()>,
    /// Events removed after the stream acknowledged them (only the relay
    /// removes; the table keeps its own ids).
    removed: AtomicU64,
    /// Incentives' own, where a failure of the table is recorded.
    faults: Option<Arc<ServiceFaults>>,
}

impl Outbox {
    pub fn new(capacity: usize) -> Outbox {
        Outbox::holding(capacity, Pending::Memory(VecDeque::new()), None)
    }

    /// The outbox in SQLite, with the events a previous process left.
    pub fn on_table(capacity: usize, table: OutboxTable, faults: Arc<ServiceFaults>) -> Outbox {
        Outbox::holding(capacity, Pending::Table(table), Some(faults))
    }

    fn holding(capacity: usize, pending: Pending, faults: Option<Arc<ServiceFaults>>) -> Outbox {
        let (bell_tx, bell_rx) = crossbeam_channel::bounded(1);
        // Rung once at start: a reopened table may hold events to publish.
        let _ = bell_tx.try_send(());
        Outbox {
            capacity,
            events: Mutex::new(pending),
            bell_tx,
            bell_rx,
            removed: AtomicU64::new(0),
            faults,
        }
    }

    fn store_failed(&self, error: &rusqlite::Error) -> String {
        match &self.faults {
            Some(faults) => store::record_failure(faults, "Incentives' outbox (SQLite)", error),
            None => error.to_string(),
        }
    }

    /// One transaction: runs `write` — the fact's own change to Incentives'
    /// records — and appends the event it returns, both under the outbox lock.
    /// Two facts recorded concurrently therefore reach the outbox in the order
    /// they reached the records. `write` returns `None` when there is nothing to
    /// publish (a repeated bonus id). When the outbox is full nothing runs.
    ///
    /// On a table, `write` changes Incentives' records in memory and the
    /// event's transaction writes the fact's row with it; if that transaction
    /// fails (a disk error, recorded as an internal error of the run), the
    /// memory holds a fact the table does not: the run is not evidence.
    pub fn record(&self, write: impl FnOnce() -> Option<Event>) -> Result<(), NotRecorded> {
        let mut pending = lock(&self.events);
        if pending.len() >= self.capacity {
            return Err(NotRecorded::Full {
                capacity: self.capacity,
            });
        }
        let Some(event) = write() else {
            return Ok(());
        };
        match &mut *pending {
            Pending::Memory(events) => events.push_back(event),
            Pending::Table(table) => table
                .append(&event)
                .map_err(|error| NotRecorded::Store(self.store_failed(&error)))?,
        }
        drop(pending);
        let _ = self.bell_tx.try_send(());
        Ok(())
    }

    /// Events waiting to be published.
    pub fn len(&self) -> usize {
        lock(&self.events).len()
    }

    /// The id of the oldest event and copies of the oldest `max` events.
    /// Copies, not removals: they leave the outbox only once the stream has
    /// them ([`Outbox::remove_oldest`]). Events get consecutive ids as they
    /// are recorded (in memory the oldest's is the number removed so far), so
    /// a retried batch carries the same ids, which lets a broker deduplicate
    /// it. A table that cannot be read gives nothing (recorded).
    fn oldest(&self, max: usize) -> (u64, Vec<Event>) {
        match &*lock(&self.events) {
            Pending::Memory(events) => {
                let first = self.removed.load(Ordering::Relaxed);
                (first, events.iter().take(max).cloned().collect())
            }
            Pending::Table(table) => match table
                .oldest_id()
                .and_then(|first| table.oldest(max).map(|events| (first, events)))
            {
                Ok(oldest) => oldest,
                Err(error) => {
                    self.store_failed(&error);
                    (0, Vec::new())
                }
            },
        }
    }

    /// Removes the oldest `count` events, which the stream has acknowledged.
    /// Only the relay removes, and appends go to the other end, so these are
    /// the events it published.
    fn remove_oldest(&self, count: usize) {
        match &mut *lock(&self.events) {
            Pending::Memory(events) => {
                let count = count.min(events.len());
                events.drain(..count);
                self.removed.fetch_add(count as u64, Ordering::Relaxed);
            }
            Pending::Table(table) => {
                if let Err(error) = table.remove_oldest(count) {
                    self.store_failed(&error);
                }
            }
        }
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
        let (first_id, batch) = outbox.oldest(batch_size);
        if batch.is_empty() {
            let _ = outbox.bell_rx.recv_timeout(IDLE_WAIT);
            continue;
        }
        match stream.publish_identified(first_id, &batch) {
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
