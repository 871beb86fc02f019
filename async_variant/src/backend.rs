//! Which log carries the events — the in-process one or NATS JetStream — and
//! the few things only the owner of a backend can do to it: open a connection
//! for a (re)started consumer, take the broker down and bring it back, and
//! clean up.
//!
//! The stream faults are real on a broker the harness started: *down* kills
//! the `nats-server` process (SIGKILL) and heals by starting it again on the
//! same store; *hang* stops it (SIGSTOP) and continues it (SIGCONT). On a
//! broker the user runs, commlab does not signal anything: both are simulated
//! on this side, as for the in-process log (`pause.rs` for the hang).
//!
//! Next: `jetstream/`, `nats_server.rs`.

use std::io;
use std::sync::Arc;

use crate::jetstream::{JetStreamBackend, JetStreamLog, NatsSettings};
use crate::nats_server::NatsServer;
use crate::stream::{EventStream, InMemoryStream};

/// The events' log, as [`crate::Config::stream`] chooses it.
#[derive(Clone, Debug, Default)]
pub enum StreamChoice {
    /// The in-process log (`stream.rs`). The default: no broker to install.
    #[default]
    Memory,
    /// NATS JetStream at `url` (`nats://HOST:PORT`). `server` is the private
    /// server the caller started, which the stream faults kill and restart;
    /// `None` for a server the user runs.
    Nats {
        url: String,
        server: Option<Arc<NatsServer>>,
    },
}

/// What a report says about the backend a run measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendInfo {
    /// `memory` or `nats`.
    pub name: &'static str,
    /// The broker's version (`nats` only).
    pub server_version: Option<String>,
}

#[derive(Debug)]
pub(crate) enum Backend {
    Memory(Arc<InMemoryStream>),
    Nats {
        /// Boxed: it is large beside the in-process variant's one pointer.
        backend: Box<JetStreamBackend>,
        /// The relay's and Payments' connection.
        shared: Arc<JetStreamLog>,
        server: Option<Arc<NatsServer>>,
    },
}

impl Backend {
    pub(crate) fn open(choice: &StreamChoice, capacity: usize) -> io::Result<Backend> {
        match choice {
            StreamChoice::Memory => Ok(Backend::Memory(Arc::new(InMemoryStream::new(capacity)))),
            StreamChoice::Nats { url, server } => {
                Backend::nats(NatsSettings::new(url.clone(), capacity), server)
            }
        }
    }

    /// The stream called `name` on a broker, shared by every process that
    /// opens it by that name (`commlab service`: one service per process).
    /// The in-process log cannot be shared: an error that says what to pass.
    pub(crate) fn open_named(
        choice: &StreamChoice,
        capacity: usize,
        name: &str,
    ) -> io::Result<Backend> {
        match choice {
            StreamChoice::Memory => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the in-process event log cannot cross processes: \
                 a service of the async variant on its own needs NATS (--nats URL)",
            )),
            StreamChoice::Nats { url, server } => {
                let settings = NatsSettings::new(url.clone(), capacity).named(name);
                Backend::nats(settings, server)
            }
        }
    }

    fn nats(settings: NatsSettings, server: &Option<Arc<NatsServer>>) -> io::Result<Backend> {
        let backend = JetStreamBackend::create(settings).map_err(io::Error::other)?;
        let shared = Arc::new(backend.connect().map_err(io::Error::other)?);
        Ok(Backend::Nats {
            backend: Box::new(backend),
            shared,
            server: server.clone(),
        })
    }

    /// The connection the relay and Payments use.
    pub(crate) fn shared(&self) -> Arc<dyn EventStream> {
        match self {
            Backend::Memory(stream) => stream.clone(),
            Backend::Nats { shared, .. } => shared.clone(),
        }
    }

    /// The log's name: a JetStream stream's, or the in-process log's own.
    pub(crate) fn log_name(&self) -> &str {
        match self {
            Backend::Memory(stream) => stream.name(),
            Backend::Nats { shared, .. } => shared.stream_name(),
        }
    }

    /// A connection for a consumer that (re)starts: the broker sees a new
    /// client, and whatever the previous one held unacknowledged is
    /// redelivered after its ack-wait.
    pub(crate) fn consumer_stream(&self) -> io::Result<Arc<dyn EventStream>> {
        Ok(match self {
            Backend::Memory(stream) => stream.clone(),
            Backend::Nats { backend, .. } => Arc::new(backend.connect().map_err(io::Error::other)?),
        })
    }

    /// The stream goes down (`true`) or comes back. Err when a killed
    /// private broker could not be started again.
    pub(crate) fn set_down(&self, down: bool) -> io::Result<()> {
        match self {
            Backend::Memory(stream) => stream.set_down(down),
            Backend::Nats {
                server: Some(server),
                ..
            } => match down {
                true => server.kill(),
                false => server.restart().map_err(io::Error::other)?,
            },
            Backend::Nats { backend, .. } => backend.set_down(down),
        }
        Ok(())
    }

    /// The stream stops answering (`true`) or answers again: the private
    /// broker's process is stopped (SIGSTOP) and continued (SIGCONT); the
    /// in-process log and a user's broker wait out the hang on this side
    /// (`pause.rs`).
    pub(crate) fn set_hung(&self, hung: bool) {
        match self {
            Backend::Memory(stream) => stream.set_hung(hung),
            Backend::Nats {
                server: Some(server),
                ..
            } => match hung {
                true => server.pause(),
                false => server.resume(),
            },
            Backend::Nats { backend, .. } => backend.set_hung(hung),
        }
    }

    /// The partition, where it is real: on JetStream the relay's and the
    /// consumer's connections to the broker are cut (`jetstream/partition.rs`).
    /// The in-process log has no connection to cut: there the partition is
    /// the link switch alone, which the consumer obeys.
    pub(crate) fn set_partitioned(&self, cut: bool) {
        if let Backend::Nats { backend, .. } = self {
            backend.set_partitioned(cut);
        }
    }

    pub(crate) fn info(&self) -> BackendInfo {
        match self {
            Backend::Memory(_) => BackendInfo {
                name: "memory",
                server_version: None,
            },
            Backend::Nats { backend, .. } => BackendInfo {
                name: "nats",
                server_version: Some(backend.server_version().to_string()),
            },
        }
    }

    /// After the run: a user's broker keeps no stream of ours.
    pub(crate) fn close(&self) {
        if let Backend::Nats { backend, .. } = self {
            backend.delete();
        }
    }
}
