//! The `--stream` option: which log carries the asynchronous variant's events,
//! and the broker process behind it when the harness owns one.
//!
//! - `memory` (the default): the in-process log; nothing to install.
//! - `nats`: a private `nats-server -js` that the harness starts on 127.0.0.1
//!   (a free port, its store in a temporary directory), waits for, and stops
//!   at the end — also on error (the [`Broker`] is dropped) and on Ctrl-C (the
//!   first stops the run cleanly; the second kills the server before exiting,
//!   [`kill_private_servers`]). The stream faults act on this process.
//! - `nats://HOST:PORT`: a server the user runs, their own or a cluster. The
//!   harness signals nothing there; `stream-down` and the stream `hang` are
//!   simulated on the client side.
//!
//! Next: `async_variant/src/nats_server.rs` (the process),
//! `async_variant/src/jetstream/` (the client).

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_variant::StreamChoice;
use async_variant::nats_server::NatsServer;
use common::domain::lock;

use crate::results::StreamBackend;

/// `--stream`, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StreamOption {
    #[default]
    Memory,
    /// A private server the harness starts.
    PrivateNats,
    /// The user's server at this URL.
    Nats(String),
}

impl FromStr for StreamOption {
    type Err = String;
    fn from_str(s: &str) -> Result<StreamOption, String> {
        match s {
            "memory" => Ok(StreamOption::Memory),
            "nats" => Ok(StreamOption::PrivateNats),
            url if url.starts_with("nats://") && url.len() > "nats://".len() => {
                Ok(StreamOption::Nats(url.to_string()))
            }
            other => Err(format!(
                "unknown stream {other:?}: expected memory, nats (a private server) or nats://HOST:PORT"
            )),
        }
    }
}

impl fmt::Display for StreamOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamOption::Memory => f.write_str("memory"),
            StreamOption::PrivateNats => f.write_str("nats"),
            StreamOption::Nats(url) => f.write_str(url),
        }
    }
}

/// Private servers alive now, so that a second Ctrl-C (which exits at once,
/// without destructors) can still kill them.
static PRIVATE: Mutex<Vec<Arc<NatsServer>>> = Mutex::new(Vec::new());

/// Kills every private server this process started (SIGKILL, waited for).
pub fn kill_private_servers() {
    for server in lock(&PRIVATE).drain(..) {
        server.kill();
    }
}

/// The broker of a run; dropping it stops a private server.
#[derive(Debug)]
pub struct Broker {
    choice: StreamChoice,
    server: Option<Arc<NatsServer>>,
    version: Option<String>,
}

impl Broker {
    /// Starts a private server if the option asks for one and waits until it
    /// accepts clients. A missing binary is an error naming the install command.
    pub fn start(option: &StreamOption) -> anyhow::Result<Broker> {
        Ok(match option {
            StreamOption::Memory => Broker {
                choice: StreamChoice::Memory,
                server: None,
                version: None,
            },
            StreamOption::PrivateNats => {
                let server = Arc::new(NatsServer::start().context("starting nats-server")?);
                lock(&PRIVATE).push(server.clone());
                Broker {
                    choice: StreamChoice::Nats {
                        url: server.url(),
                        server: Some(server.clone()),
                    },
                    version: Some(server.version().to_string()),
                    server: Some(server),
                }
            }
            StreamOption::Nats(url) => Broker {
                version: Some(async_variant::jetstream::probe(url)?),
                choice: StreamChoice::Nats {
                    url: url.clone(),
                    server: None,
                },
                server: None,
            },
        })
    }

    /// What the asynchronous variant is configured with.
    pub fn choice(&self) -> &StreamChoice {
        &self.choice
    }

    /// The URL of a private server, for `serve` to print.
    pub fn url(&self) -> Option<String> {
        match &self.choice {
            StreamChoice::Nats { url, .. } => Some(url.clone()),
            StreamChoice::Memory => None,
        }
    }

    /// What the results say about the backend.
    pub fn describe(&self) -> StreamBackend {
        StreamBackend {
            backend: match self.choice {
                StreamChoice::Memory => "memory",
                StreamChoice::Nats { .. } => "nats",
            }
            .to_string(),
            server_version: self.version.clone(),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            lock(&PRIVATE).retain(|s| !Arc::ptr_eq(s, &server));
            server.kill();
        }
    }
}
