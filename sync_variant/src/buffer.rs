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
//! The buffer stands for a table in Incentives' database (as the performance
//! book does): it survives a crash of the Incentives process, and the resender
//! simply pauses while Incentives is down.

use std::collections::VecDeque;
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

use crate::calls::{CallError, Calls};
use crate::pool::Process;

/// A bonus Incentives granted and Payments has not confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpaidBonus {
    pub courier: CourierId,
    pub amount: Money,
    pub bonus_id: Reference,
}

/// The buffer is at capacity.
#[derive(Debug, thiserror::Error)]
#[error("the resend buffer is full ({capacity} unpaid bonuses)")]
pub struct BufferFull {
    pub capacity: usize,
}

/// A bounded FIFO of unpaid bonuses.
#[derive(Debug)]
pub struct ResendBuffer {
    queue: Mutex<VecDeque<UnpaidBonus>>,
    capacity: usize,
}

impl ResendBuffer {
    pub fn new(capacity: usize) -> ResendBuffer {
        ResendBuffer {
            queue: Mutex::new(VecDeque::new()),
            capacity,
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
        self.push(bonus).map_err(|full| {
            ApiError::overloaded(format!("incentives cannot pay now ({error}) and {full}"))
        })
    }

    /// Keeps a bonus for resending, at the back of the line.
    pub fn push(&self, bonus: UnpaidBonus) -> Result<(), BufferFull> {
        let mut queue = lock(&self.queue);
        if queue.len() >= self.capacity {
            return Err(BufferFull {
                capacity: self.capacity,
            });
        }
        queue.push_back(bonus);
        Ok(())
    }

    /// Bonuses waiting: what `Stats.buffered` reports.
    pub fn len(&self) -> usize {
        lock(&self.queue).len()
    }

    fn front(&self) -> Option<UnpaidBonus> {
        lock(&self.queue).front().cloned()
    }

    /// Removes the front bonus. Only the resender removes, so the front is
    /// still the bonus it just sent.
    fn pop_front(&self) {
        lock(&self.queue).pop_front();
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
