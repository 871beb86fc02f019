//! What the sync variant's integration tests need beyond the shared `testkit`:
//! how to start *this* variant (a configuration with a short call timeout, and
//! the buffering and failure policy each test chooses). The running system,
//! its HTTP client and the polling helpers live once in `testkit`, where the
//! async variant's tests and the parity tests use them too.

// Each test file is its own crate and uses only some of these helpers and
// re-exports.
#![allow(dead_code, unused_imports)]

use std::time::Duration;

use sync_variant::{Config, FailurePolicy, SyncSystem};

pub use testkit::{Answer, wait_until};

/// A running sync system and a client for it; shut down when dropped.
pub type Running = testkit::Running<SyncSystem>;

/// Short, so that tests with a hung or partitioned peer stay quick; long
/// against a loopback round trip, so that a healthy call never hits it even on
/// a busy machine.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(300);

/// The test configuration: defaults, with a short call timeout.
pub fn config(buffered: bool, policy: FailurePolicy) -> Config {
    Config {
        call_timeout: CALL_TIMEOUT,
        buffered,
        policy,
        ..Config::default()
    }
}

/// Starts a sync system on port 0 with `config`.
pub fn start(config: Config) -> Running {
    Running::new(sync_variant::start(config).expect("the system starts"))
}
