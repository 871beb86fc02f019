//! What the async variant's integration tests need beyond the shared `testkit`:
//! how to start *this* variant, and a look at its event stream, which only the
//! async variant has. The running system, its HTTP client and the polling
//! helpers (`wait_until`, `wait_until_drained`, `times_paid`) live once in
//! `testkit`, where the sync variant's tests and the parity tests use them too.

// Each test file is its own crate and uses only some of these helpers and
// re-exports.
#![allow(dead_code, unused_imports)]

use async_variant::stream::StreamCounters;
use async_variant::{AsyncSystem, Config};

pub use testkit::{DEADLINE, bonus_ids, wait_until};

/// A running async system and a client for it; shut down when dropped.
pub type Running = testkit::Running<AsyncSystem>;

/// Starts an async system on port 0 with `config`.
pub fn start(config: Config) -> Running {
    Running::new(async_variant::start(config).expect("the system starts"))
}

/// Starts an async system with the default configuration.
pub fn start_default() -> Running {
    start(Config::default())
}

/// What only a running *async* system can tell: the event stream's counters.
/// A trait rather than a free function so that tests read
/// `running.stream_counters()` like every other accessor on `Running`.
pub trait StreamView {
    fn stream_counters(&self) -> StreamCounters;
}

impl StreamView for Running {
    fn stream_counters(&self) -> StreamCounters {
        self.system().stream().counters()
    }
}
