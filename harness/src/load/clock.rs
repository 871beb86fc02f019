//! The generator's clock: each request leaves at its due time with
//! microsecond precision, without burning a core between requests.
//!
//! tokio's timer rounds every sleep up to its next millisecond tick, so a
//! request due at 0.3 ms leaves at 1 ms — and since latency is counted from the
//! scheduled time (as it must be), the generator then reports its own
//! timer as the server's latency. A plain `std::thread::sleep` is closer
//! (Linux hrtimers, plus the thread's default 50 µs timer slack, plus the
//! scheduler's wake-up), but still tens of µs late and sometimes more on a
//! busy machine. And a request handed to a tokio worker that is parked waits
//! for the worker to wake (~35 µs on an idle core here) before it can leave.
//!
//! So the wait has two halves:
//!
//! 1. the dispatcher thread sleeps until [`LEAD`] before the due time (or
//!    until the previous request's, if later: [`sleep_until_lead`]) and hands
//!    the request to the runtime then, early;
//! 2. the request's task waits out the rest on the runtime ([`arrive`]),
//!    polling the clock and yielding the core between looks, and sends the
//!    moment the due time comes. The worker is awake when it does.
//!
//! The yield lets the variants' threads run meanwhile on a 2-core machine.
//! The cost is the lead: up to [`LEAD`] of yielding per request while the
//! machine is otherwise idle.
//!
//! What production load generators do: wrk2 and oha sleep on their
//! runtime's timer; neither waits finer. They are usually run on a machine of
//! their own, where a millisecond of lateness per request is forgiven by
//! `--latency-correction`. Here the generator shares 2 cores with the
//! system under test, and every microsecond it adds shows up in a report.
//!
//! Next: `pool.rs`, where a request finds a connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long before the due time the dispatcher hands a request to the
/// runtime. Linux wakes a sleeping thread up to its timer slack (50 µs by
/// default) late, plus the scheduler's own wake-up, plus the parked worker's;
/// 200 µs covers all three on a busy machine in most wake-ups. Larger costs
/// CPU (yields while waiting); smaller lets the overshoot through as lateness.
pub const LEAD: Duration = Duration::from_micros(200);

/// The longest single sleep, so that a stop request (Ctrl-C) is seen within it
/// even when the next request is seconds away.
pub const STOP_POLL: Duration = Duration::from_millis(50);

/// The dispatcher's half: sleeps until [`LEAD`] before `due`, but not before
/// `previous` (the due time of the request before): at high rates the runtime
/// is awake anyway, and a longer lead would only keep more tasks waiting at
/// once. Returns at once if that time has passed; `false` as soon as `stop`
/// is set instead.
pub fn sleep_until_lead(due: Instant, previous: Instant, stop: &AtomicBool) -> bool {
    let handoff = due.checked_sub(LEAD).unwrap_or(due).max(previous);
    // Bounded: every pass sleeps, and the hand-off time comes.
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let Some(left) = handoff
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            return true;
        };
        std::thread::sleep(left.min(STOP_POLL));
    }
}

/// The task's half: returns at `due` (at once if it has passed), looking at
/// the clock between yields. Bounded by `due`, at most [`LEAD`] after the
/// dispatcher's hand-off (more only if the hand-off itself was late).
pub async fn arrive(due: Instant) {
    while Instant::now() < due {
        // Gives the core to a ready thread of the system under test, then
        // lets this runtime's other tasks and its I/O run.
        std::thread::yield_now();
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_off_before_the_due_time_and_arrives_at_it() {
        let stop = AtomicBool::new(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        for offset_us in [0, 50, 300, 2_000] {
            let due = Instant::now() + Duration::from_micros(offset_us);
            assert!(sleep_until_lead(due, Instant::now(), &stop));
            // The hand-off never waits past the due time by design: only a
            // wake-up late by more than the lead could put it there.
            runtime.block_on(arrive(due));
            assert!(Instant::now() >= due);
        }
    }

    #[test]
    fn a_stop_ends_the_wait() {
        let stop = AtomicBool::new(true);
        let due = Instant::now() + Duration::from_secs(3600);
        assert!(!sleep_until_lead(due, due, &stop));
    }
}
