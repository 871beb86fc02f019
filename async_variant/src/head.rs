//! How Payments in a process of its own learns the stream's head, for its lag.
//!
//! In one process the relay publishes on Payments' own connection, which sees
//! every publish. Alone, Payments must ask the broker — and a broker that does
//! not answer holds the question for up to its request timeout. Asking inside
//! `GET /_stats` would then stall the harness's sampler for that long, and
//! the backlog chart would miss exactly the seconds of a stream outage. So a
//! thread of its own asks every [`INTERVAL`], and the counters read what it
//! last learned.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::stream::EventStream;

/// How often the head is asked for: twice per sample of the harness (100 ms).
const INTERVAL: Duration = Duration::from_millis(50);

/// The running thread.
#[derive(Debug)]
pub(crate) struct HeadWatch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl HeadWatch {
    /// Asks `stream` for its head until stopped; what it learns shows in
    /// `stream.counters().published`.
    pub(crate) fn start(stream: Arc<dyn EventStream>) -> io::Result<HeadWatch> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("payments-head".to_string())
            .spawn(move || {
                // Bounded by the stop flag; each question by the broker's
                // request timeout.
                while !flag.load(Ordering::Relaxed) {
                    // A broker that does not answer leaves the head as last seen.
                    let _ = stream.head();
                    std::thread::sleep(INTERVAL);
                }
            })?;
        Ok(HeadWatch { stop, thread })
    }

    /// Stops the thread and waits for it (at most one request timeout).
    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
