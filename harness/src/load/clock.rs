//! The dispatcher's clock: waits until an instant with microsecond precision,
//! without burning a core between requests.
//!
//! tokio's timer rounds every sleep up to its next millisecond tick, so a
//! request due at 0.3 ms leaves at 1 ms — and since latency is counted from the
//! scheduled time (as it must be), the generator then reports its own
//! timer as the server's latency. A plain `std::thread::sleep` is closer
//! (Linux hrtimers, plus the thread's default 50 µs timer slack, plus the
//! scheduler's wake-up), but still tens of µs late and sometimes more on a
//! busy machine. So the dispatcher thread sleeps until [`SPIN_MARGIN`] before
//! the due time and then yields in a loop until it arrives: precise, and
//! the yield lets the variants' threads run on a 2-core machine meanwhile.
//!
//! What production load generators do: wrk2 and oha also sleep on their
//! runtime's timer; neither spins. They are usually run on a machine of their
//! own, where a millisecond of lateness per request is forgiven by
//! `--latency-correction`. Here the generator shares 2 cores with the
//! system under test, and every microsecond it adds shows up in a report.
//!
//! Next: `pool.rs`, where a dispatched request finds a connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long before the due time the dispatcher stops sleeping and starts
/// yielding. Linux wakes a sleeping thread up to its timer slack (50 µs by
/// default) late, plus the scheduler's own wake-up; 200 µs covers both on a
/// busy machine in most wake-ups. Larger costs CPU: at 1,000 requests/s the
/// yield loop takes up to 20 % of one core's time slices (yielding, so the
/// variants' threads get them first when they need them); smaller lets the
/// sleep's overshoot through as lateness.
pub const SPIN_MARGIN: Duration = Duration::from_micros(200);

/// The longest single sleep, so that a stop request (Ctrl-C) is seen within it
/// even when the next request is seconds away.
pub const STOP_POLL: Duration = Duration::from_millis(50);

/// Waits until `due`. Returns `false` as soon as `stop` is set instead.
/// Returns at once when `due` has passed: a late request leaves at once and
/// its lateness is charged to it.
pub fn wait_until(due: Instant, stop: &AtomicBool) -> bool {
    // Bounded: every pass sleeps or yields, and `due` comes.
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        let Some(left) = due.checked_duration_since(now).filter(|d| !d.is_zero()) else {
            return true;
        };
        if left > SPIN_MARGIN {
            std::thread::sleep((left - SPIN_MARGIN).min(STOP_POLL));
        } else {
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_returns_before_the_due_time() {
        let stop = AtomicBool::new(false);
        for offset_us in [0, 50, 300, 2_000] {
            let due = Instant::now() + Duration::from_micros(offset_us);
            assert!(wait_until(due, &stop));
            assert!(Instant::now() >= due);
        }
    }

    #[test]
    fn a_stop_ends_the_wait() {
        let stop = AtomicBool::new(true);
        let due = Instant::now() + Duration::from_secs(3600);
        assert!(!wait_until(due, &stop));
    }
}
