//! The event stream: **a log, not a queue**.
//!
//! A queue hands each message to one receiver and forgets it. A log keeps every
//! event at an *offset* (0, 1, 2, …) and lets each reader say where it is. Three
//! things in this variant depend on that:
//!
//! - **Buffering.** While Payments is down, events simply stay in the log; when
//!   it is back it reads on from where it was. Nothing in Incentives has to
//!   retry a payment — the article's "the stream naturally buffers the bonuses".
//! - **A durable position.** The consumer *commits* the offset it has processed
//!   up to; the stream keeps it, so a consumer that dies resumes from there.
//!   (On SQLite storage Payments keeps it as well, in its own database, with
//!   its copy: `checkpoint.rs`; the stream's is then brought up to it.)
//!   What it processed after its last commit is delivered again — delivery is
//!   **at least once**, and Payments' ledger refuses the repeats.
//! - **Replay.** Any reader may read from any offset. A Payments consumer that
//!   lost its memory rebuilds its copy of every courier's performance by reading
//!   the log again from offset 0. (A broker that trims what was acknowledged
//!   cannot: there the copy is rebuilt from a compacted source instead,
//!   [`EventStream::save_copy`], `jetstream/copy.rs`.)
//!
//! The log sits behind one small trait, [`EventStream`], with two backends:
//! [`InMemoryStream`] here, a `Vec` under a mutex plus a crossbeam "doorbell"
//! that wakes a waiting reader (the default), and NATS JetStream, a real
//! broker in its own process (`jetstream/`, `--stream nats`). The trait's
//! doc says how each method maps to JetStream.
//!
//! Next: `outbox.rs` publishes into it, `consumer.rs` reads it,
//! `jetstream/` is the broker.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use thiserror::Error;

use crate::events::Event;
use crate::pause::Pause;
use common::domain::lock;
use common::{CourierId, Performance};

/// One event in the log, as a reader receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its place in the log: consecutive from 0, never reused.
    pub offset: u64,
    /// When the stream accepted it. Payments measures how stale its copy is
    /// from the publish time of the first event it has not processed yet.
    pub published_at: Instant,
    pub event: Event,
}

/// What one retained event costs in memory: `size_of::<Record>()` on 64-bit
/// Linux — offset 8 + `Instant` 16 + [`Event`] 40 — plus the bonus id's text
/// ([`Record::retained_bytes`]). `tests/stream.rs` checks this figure against
/// `std::mem::size_of`. The `Vec` that holds the log grows by doubling, so its
/// spare capacity can add up to one more record per record at worst. A broker
/// keeps its log in files; memory is this model's stand-in for disk.
pub const RECORD_BYTES: usize = 64;

impl Record {
    /// The memory this record occupies while retained: itself plus its heap text.
    pub fn retained_bytes(&self) -> usize {
        std::mem::size_of::<Record>() + self.event.heap_bytes()
    }
}

/// Why the stream refused a request. Small and named, so that the relay, the
/// consumer and the tests can tell a full stream from a down one.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StreamError {
    /// The stream does not answer (it is down, or the caller cannot reach it).
    #[error("the event stream is unavailable")]
    Unavailable,
    /// The log holds `capacity` events and takes no more. The publisher keeps
    /// the event (in its outbox) and tries again: nothing is dropped.
    #[error("the event stream is full ({capacity} events retained)")]
    Full { capacity: usize },
    /// A commit named an offset past the end of the log.
    #[error("offset {offset} is beyond the head of the log ({head})")]
    BeyondHead { offset: u64, head: u64 },
    /// A broker delivered later events but not yet `offset`: it was delivered
    /// to a consumer that died without acknowledging it, and comes back when
    /// its ack-wait expires (`jetstream/`). The reader waits, in order.
    #[error("offset {offset} awaits redelivery after its ack-wait")]
    AwaitingRedelivery { offset: u64 },
    /// A stored message is not an event this program wrote.
    #[error("the message at offset {offset} is not a commlab event")]
    Undecodable { offset: u64 },
}

/// The event log as its users see it.
///
/// How each method maps to NATS JetStream (the intended second backend). One
/// JetStream *stream* holds the log; its sequence numbers start at 1, so
/// `offset = sequence - 1`.
///
/// - [`publish`](EventStream::publish): one JetStream publish per event, each
///   awaiting its `PubAck`, whose `seq` is the event's offset. The log's size
///   limit is the stream's `max_msgs` with `DiscardPolicy::New`, which refuses
///   new messages instead of deleting old ones — the [`StreamError::Full`] here.
///   "No responders"/timeouts are [`StreamError::Unavailable`].
/// - [`read`](EventStream::read): a pull consumer's `fetch(max, expires: wait)`.
///   Reading from an arbitrary offset (replay) is a consumer created with
///   `DeliverPolicy::ByStartSequence { start_sequence: from + 1 }`, or
///   `DeliverPolicy::All` for offset 0.
/// - [`commit`](EventStream::commit): acknowledging messages on the *durable*
///   consumer named `consumer` (with `AckPolicy::All`, acking one acks every
///   message before it). Its *ack floor* is the committed position, and it only
///   rises, as here.
/// - [`committed`](EventStream::committed): the durable consumer's info,
///   `ack_floor.stream_sequence` (the last acked sequence = the next offset).
/// - [`head`](EventStream::head): the stream's info, `state.last_seq` (= the
///   next offset to be assigned).
///
/// One difference a JetStream backend must respect: JetStream redelivers
/// unacked messages by itself after `ack_wait`. The consumer here instead
/// re-reads from its own position; both are at-least-once and both rely on the
/// ledger's idempotency.
pub trait EventStream: Send + Sync + std::fmt::Debug {
    /// Appends `events` in order, as many as fit, and returns the offsets they
    /// were given (a prefix of `events`; the caller keeps the rest). Fails with
    /// `Full` when none fit, `Unavailable` when the stream is down.
    fn publish(&self, events: &[Event]) -> Result<Range<u64>, StreamError>;

    /// Up to `max` records from offset `from` on. When there are none yet, waits
    /// up to `wait` for one to be published; may return an empty batch.
    fn read(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>, StreamError>;

    /// Records that `consumer` has processed every event before `next_offset`.
    /// Durable: it survives the consumer. Never moves backwards.
    fn commit(&self, consumer: &str, next_offset: u64) -> Result<(), StreamError>;

    /// The position `consumer` last committed (0 if it never did: start at the
    /// beginning).
    fn committed(&self, consumer: &str) -> Result<u64, StreamError>;

    /// The offset the next published event will get (= events published so far).
    fn head(&self) -> Result<u64, StreamError>;

    /// [`publish`](EventStream::publish), with the events' ids in the outbox:
    /// `first_id`, `first_id + 1`, …. A broker uses them to store an event
    /// published twice (a retry after a lost acknowledgement) once. The
    /// in-process log cannot lose an acknowledgement, so it ignores them.
    fn publish_identified(
        &self,
        first_id: u64,
        events: &[Event],
    ) -> Result<Range<u64>, StreamError> {
        let _ = first_id;
        self.publish(events)
    }

    /// Reads for a replay, from any offset, without touching a consumer's
    /// position (the copy's rebuild). In the in-process log every read is one.
    fn replay(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>, StreamError> {
        self.read(from, max, wait)
    }

    /// Keeps Payments' copy where a replay cannot rebuild it: on a broker
    /// that trims what was acknowledged, the latest performance of each
    /// courier in `changed` goes to a compacted source (one value per
    /// courier). The consumer calls it before each commit with what changed
    /// since the last, so the source is never behind the committed position.
    /// The in-process log keeps every event and keeps nothing more.
    fn save_copy(&self, changed: &[(CourierId, Performance)]) -> Result<(), StreamError> {
        let _ = changed;
        Ok(())
    }

    /// What [`save_copy`](EventStream::save_copy) kept, for the rebuild of a
    /// lost copy; `None` where the copy is rebuilt by replaying the log from
    /// offset 0 (the in-process log).
    fn saved_copy(&self) -> Result<Option<Vec<(CourierId, Performance)>>, StreamError> {
        Ok(None)
    }

    /// The head as last seen, without a round trip: what Payments asks on
    /// every delivery, which a broker must not cost a call. `None` when unknown
    /// (the stream is down).
    fn known_head(&self) -> Option<u64> {
        self.head().ok()
    }

    /// Counters kept on this side, readable even while the stream is down.
    fn counters(&self) -> StreamCounters;
}

/// Counters of an [`InMemoryStream`], readable even while it is down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamCounters {
    /// Events published (= retained: this log is never trimmed) = the head.
    pub published: u64,
    /// Bytes the retained records occupy ([`Record::retained_bytes`] summed).
    pub retained_bytes: u64,
    /// Publish calls refused, in whole or in part, because the log was full.
    pub full_refusals: u64,
}

/// The in-process log.
///
/// Retention: every event is kept, because a consumer that lost its copy
/// rebuilds it by replaying from offset 0. Production would bound the log by
/// age or size and keep the rebuild possible with a compacted topic (the last
/// performance per courier) or a snapshot of the copy. Here the bound is
/// `capacity` events, after which publishing fails with [`StreamError::Full`] —
/// visibly, counted in [`StreamCounters::full_refusals`], never a silent drop.
#[derive(Debug)]
pub struct InMemoryStream {
    /// Unique to this log: see [`InMemoryStream::name`].
    name: String,
    capacity: usize,
    log: Mutex<Vec<Record>>,
    /// Committed positions by consumer name: the "durable" state.
    positions: Mutex<HashMap<String, u64>>,
    /// The doorbell: `publish` drops a token in (a `bounded(1)` channel with
    /// `try_send`, so ringing a bell that already rings costs nothing and never
    /// blocks); a reader with nothing to read waits on `recv_timeout`. It wakes
    /// one waiting reader; any other finds its records at its next read, at most
    /// `wait` later.
    bell_tx: Sender<()>,
    bell_rx: Receiver<()>,
    down: AtomicBool,
    /// The stream *hang* (`pause.rs`): calls wait, then fail.
    hang: Pause,
    published: AtomicU64,
    retained_bytes: AtomicU64,
    full_refusals: AtomicU64,
}

impl InMemoryStream {
    pub fn new(capacity: usize) -> InMemoryStream {
        let (bell_tx, bell_rx) = crossbeam_channel::bounded(1);
        InMemoryStream {
            name: unique_name(),
            capacity,
            log: Mutex::new(Vec::new()),
            positions: Mutex::new(HashMap::new()),
            bell_tx,
            bell_rx,
            down: AtomicBool::new(false),
            hang: Pause::default(),
            published: AtomicU64::new(0),
            retained_bytes: AtomicU64::new(0),
            full_refusals: AtomicU64::new(0),
        }
    }

    /// Takes the stream down (every call fails `Unavailable`) or brings it back.
    /// Nothing retained or committed is lost: a broker cluster that loses its
    /// quorum stops answering, it does not forget.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Stops answering (`true`) or answers again: every call waits for the
    /// hang to end, up to `pause::HANG_BOUND`, then fails `Unavailable` —
    /// what a client of a stopped broker process sees (`pause.rs`).
    pub fn set_hung(&self, hung: bool) {
        self.hang.set(hung);
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// This log's name, which no other log has — not another in this
    /// process, nor one in a later process: the log dies with its process,
    /// and a position committed in it means nothing in the next one
    /// (`checkpoint.rs` keys what it keeps by this name).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn counters(&self) -> StreamCounters {
        StreamCounters {
            published: self.published.load(Ordering::Relaxed),
            retained_bytes: self.retained_bytes.load(Ordering::Relaxed),
            full_refusals: self.full_refusals.load(Ordering::Relaxed),
        }
    }

    fn check_up(&self) -> Result<(), StreamError> {
        if self.is_down() {
            return Err(StreamError::Unavailable);
        }
        self.hang.wait_out()
    }

    /// The records from `from` on, at most `max`, copied out under the lock.
    fn copy_out(&self, from: u64, max: usize) -> Vec<Record> {
        let log = lock(&self.log);
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(log.len());
        let end = start.saturating_add(max).min(log.len());
        log[start..end].to_vec()
    }
}

/// `memory-<process id>-<start of the process's clock, ns>-<count>`: the
/// count tells apart the logs of one process, the rest the processes (a
/// process id can be reused, not together with the same start time).
fn unique_name() -> String {
    static MADE: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    let start = START.get_or_init(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.map_or(0, |since| since.as_nanos())
    });
    let count = MADE.fetch_add(1, Ordering::Relaxed);
    format!("memory-{}-{start}-{count}", std::process::id())
}

impl EventStream for InMemoryStream {
    fn publish(&self, events: &[Event]) -> Result<Range<u64>, StreamError> {
        self.check_up()?;
        let mut log = lock(&self.log);
        let first = log.len() as u64;
        let room = self.capacity.saturating_sub(log.len());
        let fits = events.len().min(room);
        if fits < events.len() {
            self.full_refusals.fetch_add(1, Ordering::Relaxed);
            if fits == 0 {
                return Err(StreamError::Full {
                    capacity: self.capacity,
                });
            }
        }
        let now = Instant::now();
        let mut bytes = 0;
        for (i, event) in events[..fits].iter().enumerate() {
            let record = Record {
                offset: first + i as u64,
                published_at: now,
                event: event.clone(),
            };
            bytes += record.retained_bytes() as u64;
            log.push(record);
        }
        let head = log.len() as u64;
        // Stored under the lock, so that two publishers cannot store heads out
        // of order.
        self.published.store(head, Ordering::Relaxed);
        drop(log);
        self.retained_bytes.fetch_add(bytes, Ordering::Relaxed);
        // Full means a token is already there: the reader will wake anyway.
        let _ = self.bell_tx.try_send(());
        Ok(first..head)
    }

    fn read(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>, StreamError> {
        self.check_up()?;
        let records = self.copy_out(from, max);
        if !records.is_empty() || wait.is_zero() {
            return Ok(records);
        }
        // Nothing yet: wait for the doorbell, then look once more. A stale
        // token (rung for records already read) only makes this look early.
        let _ = self.bell_rx.recv_timeout(wait);
        self.check_up()?;
        Ok(self.copy_out(from, max))
    }

    fn commit(&self, consumer: &str, next_offset: u64) -> Result<(), StreamError> {
        self.check_up()?;
        let head = self.published.load(Ordering::Relaxed);
        if next_offset > head {
            return Err(StreamError::BeyondHead {
                offset: next_offset,
                head,
            });
        }
        let mut positions = lock(&self.positions);
        let position = positions.entry(consumer.to_string()).or_insert(0);
        *position = (*position).max(next_offset);
        Ok(())
    }

    fn committed(&self, consumer: &str) -> Result<u64, StreamError> {
        self.check_up()?;
        Ok(lock(&self.positions).get(consumer).copied().unwrap_or(0))
    }

    fn head(&self) -> Result<u64, StreamError> {
        self.check_up()?;
        Ok(self.published.load(Ordering::Relaxed))
    }

    /// Local knowledge, as a broker client's is: a hung log does not make
    /// Payments' every delivery wait.
    fn known_head(&self) -> Option<u64> {
        match self.is_down() {
            true => None,
            false => Some(self.published.load(Ordering::Relaxed)),
        }
    }

    fn counters(&self) -> StreamCounters {
        InMemoryStream::counters(self)
    }
}
