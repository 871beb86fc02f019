//! Sync-buffered's resend buffer: the article's client-side workaround for a
//! Payments that is down. Incentives accepts the bonus anyway (`202`), keeps it
//! here, and a resender thread sends it again until Payments takes it.
//!
//! This is the synchronous design growing, by hand, a small piece of what the
//! asynchronous design gets from its event stream: a bounded FIFO of work
//! accepted but not done, retried in order. Compare `async_variant`'s outbox.
//!
//! Two things make it safe, and both are worth seeing:
//! - **Idempotency, not bookkeeping, prevents paying twice.** A call that timed
//!   out may have paid: Payments can act on a request whose answer never came
//!   back. The resender cannot know, so it sends again, with the same bonus id,
//!   and Payments' ledger refuses the repeat. Without the bonus id this
//!   workaround would pay some bonuses twice.
//! - **Bounded.** The buffer has a capacity; when it is full Incentives answers
//!   `503 overloaded` instead of accepting what it could only lose.
//!
//! Where the buffer lives is the workaround's hidden cost, and a choice
//! ([`BufferStore`], `buffer = "memory" | "sqlite"` in a variant table):
//! - **memory**, as the article describes it: a queue in Incentives' process.
//!   When Incentives crashes, every bonus it holds is lost — the clients were
//!   told `202` and nobody will pay them ([`ResendBuffer::lose`]).
//! - **sqlite**: a table in Incentives' database (`buffer/sqlite.rs`). It
//!   survives the crash, and the resender resends its bonuses after the
//!   restart. The resender simply pauses while Incentives is down.
//!
//! Next: `buffer/sqlite.rs`, the durable queue.

mod sqlite;

pub use sqlite::SqliteQueue;

use std::collections::VecDeque;
use std::fmt::Debug;
use std::io;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::api::{ApiError, Reference};
use common::domain::lock;
use common::faults::ServiceFaults;
use common::internal::InternalError;
use common::{CourierId, Money};
use crossbeam_channel::{RecvTimeoutError, Sender, TryRecvError, bounded};
use serde::{Deserialize, Serialize};

use crate::calls::{CallError, Calls};
use crate::pool::Process;

/// A bonus Incentives granted and Payments has not confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpaidBonus {
    pub courier: CourierId,
    pub amount: Money,
    pub bonus_id: Reference,
}

/// Where sync-buffered keeps its unpaid bonuses. Default memory, as the
/// article describes the workaround.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BufferStore {
    /// In Incentives' memory: lost when Incentives crashes.
    #[default]
    Memory,
    /// In Incentives' SQLite database: kept across a crash.
    Sqlite,
}

/// Why a bonus could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    #[error("the resend buffer is full ({capacity} unpaid bonuses)")]
    Full { capacity: usize },
    #[error("the resend buffer's database failed: {0}")]
    Store(String),
}

/// A bounded FIFO of unpaid bonuses, in memory or in a table. Only the
/// resender removes, from the front; workers push at the back.
pub trait Queue: Send + Sync + Debug {
    /// Appends at the back, unless `capacity` bonuses wait already.
    fn push(&self, bonus: UnpaidBonus, capacity: usize) -> Result<(), KeepError>;
    fn len(&self) -> usize;
    /// The oldest bonus (`Err`: the store could not be read).
    fn front(&self) -> Result<Option<UnpaidBonus>, String>;
    /// Removes the oldest bonus.
    fn pop_front(&self) -> Result<(), String>;
    /// Incentives' process died: what lived in its memory is gone. Returns
    /// how many bonuses were lost.
    fn lose(&self) -> usize;
}

/// The article's buffer: a queue in the process's memory.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    queue: Mutex<VecDeque<UnpaidBonus>>,
}

impl Queue for MemoryQueue {
    fn push(&self, bonus: UnpaidBonus, capacity: usize) -> Result<(), KeepError> {
        let mut queue = lock(&self.queue);
        if queue.len() >= capacity {
            return Err(KeepError::Full { capacity });
        }
        queue.push_back(bonus);
        Ok(())
    }

    fn len(&self) -> usize {
        lock(&self.queue).len()
    }

    fn front(&self) -> Result<Option<UnpaidBonus>, String> {
        Ok(lock(&self.queue).front().cloned())
    }

    fn pop_front(&self) -> Result<(), String> {
        lock(&self.queue).pop_front();
        Ok(())
    }

    fn lose(&self) -> usize {
        let mut queue = lock(&self.queue);
        let lost = queue.len();
        queue.clear();
        lost
    }
}

/// Sync-buffered's buffer: a [`Queue`] with its capacity.
#[derive(Debug)]
pub struct ResendBuffer {
    queue: Box<dyn Queue>,
    capacity: usize,
    /// Incentives' own: where a failure of the durable queue is recorded.
    faults: Arc<ServiceFaults>,
}

impl ResendBuffer {
    pub fn new(queue: Box<dyn Queue>, capacity: usize, faults: Arc<ServiceFaults>) -> ResendBuffer {
        ResendBuffer {
            queue,
            capacity,
            faults,
        }
    }

    /// Incentives' answer for a bonus whose call to Payments failed with
    /// `error`: kept for resending (`202`) when a resend can succeed, refused
    /// otherwise. The call blocked for a while; if Incentives crashed
    /// meanwhile, it keeps nothing.
    pub fn keep(
        &self,
        bonus: UnpaidBonus,
        error: CallError,
        process: &Process,
    ) -> Result<(), ApiError> {
        if !error.is_retryable() {
            return Err(error.into());
        }
        process.checkpoint()?;
        self.push(bonus).map_err(|refused| {
            ApiError::overloaded(format!("incentives cannot pay now ({error}) and {refused}"))
        })
    }

    /// Keeps a bonus for resending, at the back of the line.
    pub fn push(&self, bonus: UnpaidBonus) -> Result<(), KeepError> {
        self.queue.push(bonus, self.capacity)
    }

    /// Bonuses waiting: what `Stats.buffered` reports.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Incentives crashed: the memory queue loses what it holds (the durable
    /// one keeps it). Returns how many bonuses were lost.
    pub fn lose(&self) -> usize {
        self.queue.lose()
    }

    fn front(&self) -> Option<UnpaidBonus> {
        self.queue.front().unwrap_or_else(|reason| {
            self.store_failed(reason);
            None
        })
    }

    /// Removes the front bonus. Only the resender removes, so the front is
    /// still the bonus it just sent.
    fn pop_front(&self) {
        if let Err(reason) = self.queue.pop_front() {
            self.store_failed(reason);
        }
    }

    fn store_failed(&self, reason: String) {
        let store = "Incentives' resend buffer (SQLite)";
        self.faults
            .internal_errors
            .record(InternalError::Store { store, reason });
    }
}

/// The thread that empties the buffer.
#[derive(Debug)]
pub struct Resender {
    /// Dropping it wakes the thread and tells it to finish.
    stop: Sender<()>,
    handle: JoinHandle<()>,
}

impl Resender {
    /// Starts resending every `interval`, in Incentives' name (`faults` is
    /// Incentives' own: the resender is part of that process).
    pub fn start(
        buffer: Arc<ResendBuffer>,
        calls: Arc<Calls>,
        faults: Arc<ServiceFaults>,
        interval: Duration,
    ) -> io::Result<Resender> {
        let (stop, stopped) = bounded::<()>(0);
        let handle = std::thread::Builder::new()
            .name("incentives-resender".to_string())
            .spawn(move || {
                // Bounded: one round per interval, until the stop sender is
                // dropped (shutdown). `recv_timeout` doubles as the sleep.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let stopping = || matches!(stopped.try_recv(), Err(TryRecvError::Disconnected));
                    resend_round(&buffer, &calls, &faults, stopping);
                }
            })?;
        Ok(Resender { stop, handle })
    }

    /// Stops the thread and waits for it (at most one call timeout, if it is in
    /// the middle of a call). Call from a plain thread.
    pub fn stop(self) {
        drop(self.stop);
        let _ = self.handle.join();
    }
}

/// One round: sends the buffered bonuses in order, removing each that
/// Payments accepts, and stops at the first that fails — Payments is still
/// down, and the next round comes soon enough. At most one pass over what was
/// buffered when the round began.
fn resend_round(
    buffer: &ResendBuffer,
    calls: &Calls,
    faults: &ServiceFaults,
    stopping: impl Fn() -> bool,
) {
    for _ in 0..buffer.len() {
        // Paused while Incentives itself is crashed or hung: a dead process
        // sends nothing.
        if faults.is_down() || stopping() {
            return;
        }
        let Some(bonus) = buffer.front() else { return };
        match calls.pay_bonus(bonus.courier, bonus.amount, &bonus.bonus_id) {
            // Paid now, or paid before (a call that timed out but went through):
            // the ledger answers `202` for a repeat and pays nothing.
            Ok(()) => buffer.pop_front(),
            // Payments says the request itself is wrong: resending cannot fix
            // it and would block the line forever. Production would move it to
            // a dead-letter table for a human; here it is dropped and counted
            // as an internal error: the run that met it is not evidence.
            Err(error) if !error.is_retryable() => {
                faults.internal_errors.record(InternalError::BonusDropped {
                    bonus_id: bonus.bonus_id.as_str().to_string(),
                    reason: error.to_string(),
                });
                buffer.pop_front();
            }
            Err(_) => return,
        }
    }
}
