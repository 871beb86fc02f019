//! A stream that stops answering: the `hang` fault of the stream, on the
//! backends where commlab cannot pause a real process.
//!
//! On a private `nats-server` the hang is real: the process is stopped
//! (SIGSTOP) and continued when the fault heals (SIGCONT, `nats_server.rs`).
//! Its sockets stay open, so a client's request is sent and simply never
//! answered; the client gives up after its request timeout
//! (`jetstream::REQUEST_TIMEOUT`, 1 s) and the caller sees `Unavailable`. A
//! request still waiting when the process continues gets its answer late.
//!
//! [`Pause`] is the same thing for the in-process log and for a broker the
//! user runs: while paused, every call waits — up to the same bound — for the
//! pause to end. Healed within it, the call goes on as if it had merely been
//! slow; otherwise it fails `Unavailable`, as the real client's timeout does.
//! That is the difference from *stream down*, where every call fails at once:
//! a hung stream costs its callers time, a down one only errors.
//!
//! Next: `stream.rs` (the in-process log that uses it), `jetstream/`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use common::domain::lock;

use crate::stream::StreamError;

/// How long a call to a hung stream waits before it fails: the JetStream
/// client's request timeout, so both backends cost a caller the same.
pub const HANG_BOUND: Duration = crate::jetstream::REQUEST_TIMEOUT;

/// Paused or not, and a way to wait until it is not.
#[derive(Debug, Default)]
pub struct Pause {
    /// The fast path: a call on a stream that is not paused takes no lock.
    paused: AtomicBool,
    state: Mutex<bool>,
    resumed: Condvar,
}

impl Pause {
    /// Pauses (`true`) or resumes; a resume wakes every waiting call.
    pub fn set(&self, paused: bool) {
        *lock(&self.state) = paused;
        self.paused.store(paused, Ordering::SeqCst);
        self.resumed.notify_all();
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Returns at once when not paused; otherwise waits up to [`HANG_BOUND`]
    /// for the pause to end and fails `Unavailable` if it does not.
    pub fn wait_out(&self) -> Result<(), StreamError> {
        if !self.is_paused() {
            return Ok(());
        }
        let state = lock(&self.state);
        let (state, _) = self
            .resumed
            .wait_timeout_while(state, HANG_BOUND, |paused| *paused)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match *state {
            true => Err(StreamError::Unavailable),
            false => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_call_waits_for_the_resume() {
        let pause = Arc::new(Pause::default());
        pause.set(true);
        let waiter = {
            let pause = pause.clone();
            std::thread::spawn(move || pause.wait_out())
        };
        std::thread::sleep(Duration::from_millis(20));
        pause.set(false);
        assert_eq!(waiter.join().expect("the waiter"), Ok(()));
    }

    #[test]
    fn a_call_gives_up_while_paused() {
        let pause = Pause::default();
        pause.set(true);
        assert_eq!(pause.wait_out(), Err(StreamError::Unavailable));
        pause.set(false);
        assert_eq!(pause.wait_out(), Ok(()));
    }
}
