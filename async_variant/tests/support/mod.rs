//! What the async variant's integration tests need beyond the shared `testkit`:
//! how to start *this* variant, and a look at its event stream, which only the
//! async variant has. The running system, its HTTP client and the polling
//! helpers (`wait_until`, `wait_until_drained`, `times_paid`) live once in
//! `testkit`, where the sync variant's tests and the parity tests use them too.

// Each test file is its own crate and uses only some of these helpers and
// re-exports.
#![allow(dead_code, unused_imports)]

pub mod bodies;

use std::sync::Arc;

use async_variant::nats_server::NatsServer;
use async_variant::stream::StreamCounters;
use async_variant::{AsyncSystem, Config, StreamChoice};

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

/// A private `nats-server` (installed by `.ci/run`): the test fails, naming
/// the install command, without one.
pub fn nats_server() -> Arc<NatsServer> {
    Arc::new(NatsServer::start().unwrap_or_else(|error| panic!("{error}")))
}

/// The stream on a fresh private server, which the stream faults act on.
pub fn private_nats() -> StreamChoice {
    let server = nats_server();
    StreamChoice::Nats {
        url: server.url(),
        server: Some(server),
    }
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
