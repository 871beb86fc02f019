//! Payments' consumer: the thread that turns Incentives' events into payouts
//! and into Payments' copy of every courier's performance.
//!
//! It is the asynchronous design's replacement for both of the synchronous
//! design's calls. What used to arrive as `POST /payments` from Incentives
//! arrives as a `BonusGranted` event; what used to be fetched with
//! `GET /incentives/performance/{id}` on every payment arrives ahead of time as
//! `PerformanceChanged` events and waits in [`PerformanceCopy`].
//!
//! Its life, and where each guarantee comes from:
//!
//! 1. **Start**: ask the stream for the committed position (durable, see
//!    `stream.rs`). If the copy is lost or behind it — fresh memory after a
//!    crash, or a Payments process restarted after a `kill -9` —
//!    replay the log from offset 0 up to that position, applying only
//!    `PerformanceChanged` (bonuses before it were paid already), and install
//!    the rebuilt copy in one step. (On a broker that trims what was
//!    acknowledged, the copy comes from the compacted source the consumer
//!    saves before each commit instead: `EventStream::save_copy`.)
//!    Where the position and the saved copy live depends on the storage: in
//!    memory, in the stream (the in-process log's map; a JetStream consumer's
//!    ack floor and its compacted copy stream); on SQLite, in Payments' own
//!    `payments.sqlite`, the two in one transaction (`checkpoint.rs` wraps
//!    the stream the consumer is given, so this file is the same for both).
//! 2. **Process** from the committed position on, in order: a
//!    `PerformanceChanged` updates the copy; a `BonusGranted` is paid through
//!    the ledger with the copy's performance *at that point in the log*.
//! 3. **Commit** the position every `commit_interval`. A crash loses what was
//!    processed since: it is read again after the restart (at least once), and
//!    the ledger refuses each bonus it already paid (`duplicates_refused`).
//!
//! The consumer runs inside the Payments process, so Payments' faults reach
//! it: crashed or hung, it stops; slow, every round trip to the stream takes
//! the sampled delay; flaky, processing an event fails as decided by
//! `ServiceFaults::fails` for the event's key — a bonus's is `bonus:<id>`, as
//! at the synchronous Payments' edge, so both designs fail the same bonuses
//! (the batch stops, what was done is committed, the rest is retried). A
//! partition cuts it off the stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::api::{PaymentRef, PerformanceSource};
use common::faults::{Link, ServiceFaults};
use common::ledger::{AppliedPerformance, Ledger};
use common::{CourierId, Performance};

use crate::copy::PerformanceCopy;
use crate::events::Event;
use crate::retry::{FIRST_BACKOFF, next_backoff};
use crate::stream::{EventStream, Record, StreamError};

/// The durable consumer's name: the key of its committed position.
pub const CONSUMER_NAME: &str = "payments";

/// How long one read waits for new events before the loop looks at its stop
/// flag, its faults and its commit timer again. Publishing rings a doorbell,
/// so this does not delay processing; it bounds how late a shutdown or an
/// idle commit is, at ~20 idle wake-ups a second.
const READ_WAIT: Duration = Duration::from_millis(50);

/// The pause after a flaky Payments failed an event. Without it an error rate
/// of 100 % would spin on one event; 10 ms keeps the retry rate at ≤ 100/s.
const FAILURE_BACKOFF: Duration = Duration::from_millis(10);

/// Everything a consumer needs; kept by the system so that a crashed consumer
/// can be started again.
#[derive(Clone, Debug)]
pub struct ConsumerParts {
    pub stream: Arc<dyn EventStream>,
    pub ledger: Arc<dyn Ledger>,
    pub copy: Arc<PerformanceCopy>,
    pub faults: Arc<ServiceFaults>,
    /// Cut by [`common::system::Fault::Partition`]: the consumer cannot reach the stream.
    pub link: Arc<Link>,
    pub batch_size: usize,
    pub commit_interval: Duration,
}

/// A running consumer thread.
#[derive(Debug)]
pub struct Consumer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
    copy: Arc<PerformanceCopy>,
}

impl Consumer {
    pub fn start(parts: ConsumerParts) -> std::io::Result<Consumer> {
        let stop = Arc::new(AtomicBool::new(false));
        let copy = parts.copy.clone();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("payments-consumer".to_string())
            .spawn(move || {
                let mut run = Run {
                    parts: &parts,
                    stop: &flag,
                    backoff: FIRST_BACKOFF,
                    changed: HashMap::new(),
                };
                run.run();
            })?;
        Ok(Consumer { stop, thread, copy })
    }

    /// Stops the thread without a final commit and waits for it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }

    /// Kills the consumer as a crash would: no final commit (what it processed
    /// since its last commit will be delivered again) and its memory — the
    /// performance copy — is gone.
    pub fn crash(self) {
        let copy = self.copy.clone();
        self.stop();
        copy.lose();
    }
}

/// One life of the consumer thread.
struct Run<'a> {
    parts: &'a ConsumerParts,
    stop: &'a AtomicBool,
    backoff: Duration,
    /// Performance changes applied since the last commit: saved to the
    /// stream's compacted source before the commit ([`EventStream::save_copy`]).
    changed: HashMap<CourierId, Performance>,
}

impl Run<'_> {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn run(&mut self) {
        let Some(mut position) = self.committed_position() else {
            return;
        };
        let copy = &self.parts.copy;
        // A copy that already holds everything before the committed position
        // is kept. A fresh one (position 0) is complete only on a fresh
        // stream: a Payments process restarted after a `kill -9` starts with
        // an empty copy and a committed position past 0, and must rebuild —
        // else every courier rated before the crash would read as unrated.
        if copy.is_ready() && copy.position() >= position {
            copy.advance_to(position);
        } else {
            let Some(couriers) = self.rebuild(position) else {
                return;
            };
            copy.install(couriers, position);
        }
        let batch = self.parts.batch_size;
        let mut committed = position;
        let mut last_commit = Instant::now();
        // Bounded by the stop flag; each pass waits at most READ_WAIT (plus a
        // slow Payments' delay or a backoff).
        while !self.stopped() {
            let Some(records) = self.call(|s| s.read(position, batch, READ_WAIT)) else {
                continue;
            };
            let failed = self.process(&records, &mut position);
            if self.stopped() {
                // Stopped mid-batch, as by a crash: no last commit.
                return;
            }
            let due = failed || last_commit.elapsed() >= self.parts.commit_interval;
            if due && position > committed && self.commit(position) {
                committed = position;
                last_commit = Instant::now();
            }
            if failed {
                std::thread::sleep(FAILURE_BACKOFF);
            }
        }
    }

    /// Applies `records` in order, advancing `position`. Returns `true` when a
    /// flaky Payments failed one (the rest of the batch is left for the retry).
    fn process(&mut self, records: &[Record], position: &mut u64) -> bool {
        let copy = &self.parts.copy;
        let Some(first) = records.first() else {
            // The stream had nothing after `position`: the copy is complete.
            copy.mark_complete();
            return false;
        };
        copy.mark_stale_since(first.published_at);
        for record in records {
            // Stopped, or the process went down while this batch was read:
            // what it had read dies with it and is read again later.
            if self.stopped() || self.parts.faults.is_down() {
                return false;
            }
            if self
                .parts
                .faults
                .fails(&fault_key(&record.event, record.offset))
            {
                copy.mark_stale_since(record.published_at);
                return true;
            }
            self.apply(record);
            *position = record.offset + 1;
            copy.advance_to(*position);
        }
        // A short batch reached the head as it was at the read.
        if records.len() < self.parts.batch_size {
            copy.mark_complete();
        }
        false
    }

    fn apply(&mut self, record: &Record) {
        let copy = &self.parts.copy;
        match &record.event {
            Event::PerformanceChanged {
                courier,
                performance,
            } => {
                copy.set(*courier, *performance);
                self.changed.insert(*courier, *performance);
            }
            Event::BonusGranted {
                courier,
                bonus_type,
                bonus_id,
            } => {
                // The ordered log at work: the copy now holds exactly the
                // events published before this bonus, so this is the courier's
                // performance *when the bonus was granted*, however late it is
                // paid. Its age is therefore 0.
                let applied = match copy.performance(*courier) {
                    Some(performance) => AppliedPerformance {
                        performance,
                        source: PerformanceSource::Cached,
                        age_ms: Some(0),
                    },
                    // Not reached: the copy is lost only after this thread
                    // stopped. Were it, the payout would say so.
                    None => AppliedPerformance::fallback(),
                };
                // A redelivered bonus comes back `AlreadyPaid`, counted by the
                // ledger; bonus amounts (≤ 20) cannot overflow.
                self.parts.ledger.pay(
                    *courier,
                    bonus_type.amount(),
                    &PaymentRef::bonus(bonus_id.clone()),
                    applied,
                );
            }
        }
    }

    /// Saves what changed in the copy, then commits `position`: the saved
    /// copy is never behind the committed position. `false` (nothing
    /// committed, the changes kept for the next try) when either failed.
    fn commit(&mut self, position: u64) -> bool {
        let changed: Vec<_> = self.changed.iter().map(|(&c, &p)| (c, p)).collect();
        if self.call(|s| s.save_copy(&changed)).is_none()
            || self.call(|s| s.commit(CONSUMER_NAME, position)).is_none()
        {
            return false;
        }
        self.changed.clear();
        true
    }

    /// The copy as of the committed position `upto`: from the stream's
    /// compacted source where it keeps one, else by replaying the log.
    /// `None` when stopped first.
    fn rebuild(&mut self, upto: u64) -> Option<HashMap<CourierId, Performance>> {
        // Bounded by the stop flag: each failed call backs off.
        let saved = loop {
            if self.stopped() {
                return None;
            }
            if let Some(saved) = self.call(|s| s.saved_copy()) {
                break saved;
            }
        };
        match saved {
            Some(couriers) => Some(couriers.into_iter().collect()),
            None => self.replay(upto),
        }
    }

    /// Replays offsets `0..upto`, keeping the last performance per courier.
    /// `None` when stopped first.
    fn replay(&mut self, upto: u64) -> Option<HashMap<CourierId, Performance>> {
        let mut couriers = HashMap::new();
        let mut at = 0;
        // Bounded: every successful read advances `at`; failures back off and
        // the stop flag ends it.
        while at < upto {
            if self.stopped() {
                return None;
            }
            let batch = self.parts.batch_size;
            let max = usize::try_from(upto - at).map_or(batch, |left| left.min(batch));
            let Some(records) = self.call(|s| s.replay(at, max, READ_WAIT)) else {
                continue;
            };
            for record in records.iter().take_while(|r| r.offset < upto) {
                if let Event::PerformanceChanged {
                    courier,
                    performance,
                } = record.event
                {
                    couriers.insert(courier, performance);
                }
                at = record.offset + 1;
            }
        }
        Some(couriers)
    }

    /// The committed position, asking until the stream answers or the
    /// consumer is stopped.
    fn committed_position(&mut self) -> Option<u64> {
        while !self.stopped() {
            if let Some(position) = self.call(|s| s.committed(CONSUMER_NAME)) {
                return Some(position);
            }
        }
        None
    }

    /// One round trip to the stream, as the Payments process makes it: none
    /// while the process is down, none across a partition, the sampled delay
    /// when slow. `None` when it failed (after a pause).
    fn call<T>(
        &mut self,
        request: impl FnOnce(&dyn EventStream) -> Result<T, StreamError>,
    ) -> Option<T> {
        let parts = self.parts;
        if parts.faults.is_down() {
            parts.copy.mark_unconfirmed();
            parts.faults.wait_until_up_blocking(READ_WAIT);
            return None;
        }
        if let Some(delay) = parts.faults.sample_delay() {
            // While it waits, the consumer sees nothing new: whatever is
            // published meanwhile is missing from the copy, which is complete
            // at best as of its last confirmation.
            parts.copy.mark_unconfirmed();
            std::thread::sleep(delay);
        }
        let result = if parts.link.is_cut() {
            Err(StreamError::Unavailable)
        } else {
            request(&*parts.stream)
        };
        // A partition that began during the call loses its answer as well.
        let result = result.and_then(|value| match parts.link.is_cut() {
            true => Err(StreamError::Unavailable),
            false => Ok(value),
        });
        match result {
            Ok(value) => {
                self.backoff = FIRST_BACKOFF;
                Some(value)
            }
            Err(_) => {
                parts.copy.mark_unconfirmed();
                std::thread::sleep(self.backoff);
                self.backoff = next_backoff(self.backoff);
                None
            }
        }
    }
}

/// What decides whether a flaky Payments fails this event: the bonus's
/// reference (`bonus:b-17`, the key its payment call has in the synchronous
/// design), or the offset for a performance change, which has no reference.
fn fault_key(event: &Event, offset: u64) -> String {
    match event {
        Event::BonusGranted { bonus_id, .. } => format!("bonus:{}", bonus_id.as_str()),
        Event::PerformanceChanged { .. } => format!("performance-event:{offset}"),
    }
}
