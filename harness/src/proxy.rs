//! A TCP proxy per link, so that in process mode the network between two
//! services can misbehave while both run their ordinary code: the caller
//! connects to the proxy's address instead of its peer's, and the proxy
//! forwards every byte to the peer (its *upstream*) — or delays, holds, drops
//! or resets them, as the fault of the moment (the [`Toxics`]) asks.
//!
//! The vocabulary is [Toxiproxy]'s ("toxics"), which many teams already use for
//! this; each of ours maps to one of its toxics, with a difference or two
//! because the harness counts *requests* and must replay from a seed:
//!
//! | here | Toxiproxy | what the client sees |
//! |------|-----------|----------------------|
//! | `latency` {mean, jitter} | `latency` {latency, jitter}, downstream | each answer later, by a seeded draw in `mean ± jitter` (never below 0); requests go at once |
//! | `reset_rate` p | `reset_peer` with toxicity p, upstream | a seeded share p of *requests* get their connection reset (RST) instead of being forwarded |
//! | `timeout` | `timeout` with timeout 0 | nothing flows either way until healed; connections stay open |
//! | `down` | the proxy disabled (`enabled: false`) | new connections closed at once, open ones cut |
//!
//! The differences, and why:
//! - **reset is per request, not per connection.** Toxiproxy's toxicity picks
//!   connections; a keep-alive client sends many requests on one, so a share of
//!   connections is not a share of requests. Here a *request* is what the
//!   client sends between two answers (the first bytes after an answer are a
//!   new request), and each one draws. The client's HTTP library sees
//!   "connection reset" — an error without a status. An injected `503` (the
//!   in-process `errors` fault) is an answer: the service ran, chose to fail,
//!   and the client may read the body and decide to retry; a reset leaves the
//!   client not knowing whether its request ran. (Here it did not: the request
//!   is never forwarded.)
//! - **timeout holds, it does not drop.** Toxiproxy's `timeout 0` discards the
//!   data; ours keeps it and delivers it when the fault heals, like a hung peer
//!   that comes back — unless the client gave up and closed first. New
//!   connections are accepted and held too.
//! - **down keeps the port.** Toxiproxy closes its listener (the client gets
//!   "connection refused"); ours accepts and resets at once, so the port stays
//!   ours and nothing else can take it while the link is down. The client sees
//!   "connection reset" on its first read or write.
//!
//! Toxics switch at runtime ([`Proxy::set`], a [`watch`] channel that every
//! connection follows) and act on open connections at once: a keep-alive
//! connection open when a partition starts is cut, exactly what a partition
//! does to it. Every random draw is seeded: connection *i* draws from a
//! `StdRng` seeded with the proxy's seed and *i*, so the same clients making
//! the same requests in the same order meet the same resets and the same
//! delays. Under concurrent load the order in which connections are accepted
//! varies, and the shares replay only statistically.
//!
//! Every socket is on 127.0.0.1. The accept loop and the copy loops run until
//! [`Proxy::stop`] (or the proxy is dropped), or until their sockets close.
//!
//! [Toxiproxy]: https://github.com/Shopify/toxiproxy#toxics
//!
//! Next: `proxy/connection.rs`, one proxied connection and its two directions.

mod connection;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::faults::Latency;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The faults on one link, as Toxiproxy names them. The default is none: the
/// proxy forwards everything at once.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Toxics {
    /// Each chunk of an answer is held `mean ± jitter` (never below 0), order
    /// kept.
    pub latency: Option<Latency>,
    /// Share of requests, in `0.0..=1.0`, answered by a connection reset.
    /// Outside that range it is clamped; `NaN` resets none.
    pub reset_rate: Option<f64>,
    /// Nothing flows in either direction until this is false again.
    pub timeout: bool,
    /// New connections closed at once; open ones cut.
    pub down: bool,
}

/// What every connection task reads: the toxics of the moment and where to
/// forward to.
#[derive(Clone)]
struct Link {
    toxics: watch::Receiver<Toxics>,
    upstream: watch::Receiver<SocketAddr>,
    seed: u64,
}

/// One listener on 127.0.0.1 forwarding to one upstream, with switchable
/// toxics. Dropping it stops it.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    toxics: watch::Sender<Toxics>,
    upstream: watch::Sender<SocketAddr>,
    /// The accept loop; it owns every connection's task, so aborting it ends
    /// them all.
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Binds a free port on 127.0.0.1 and forwards each connection to
    /// `upstream`, on the runtime of `handle`. Callable from outside the
    /// runtime. `seed` decides every reset and every delay.
    pub fn start(handle: &Handle, upstream: SocketAddr, seed: u64) -> io::Result<Proxy> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = {
            let _runtime = handle.enter();
            TcpListener::from_std(listener)?
        };
        let (toxics, _) = watch::channel(Toxics::default());
        let (upstream, _) = watch::channel(upstream);
        let link = Link {
            toxics: toxics.subscribe(),
            upstream: upstream.subscribe(),
            seed,
        };
        let accept = handle.spawn(accept_loop(listener, link));
        Ok(Proxy {
            addr,
            toxics,
            upstream,
            accept,
        })
    }

    /// Where clients connect instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches the toxics; open connections follow at once.
    pub fn set(&self, toxics: Toxics) {
        self.toxics.send_replace(toxics);
    }

    /// The toxics in force.
    pub fn toxics(&self) -> Toxics {
        *self.toxics.borrow()
    }

    /// Forwards new connections to `addr` (open ones keep their upstream).
    pub fn set_upstream(&self, addr: SocketAddr) {
        self.upstream.send_replace(addr);
    }

    /// Closes the listener and every open connection. Idempotent; dropping the
    /// proxy does the same.
    pub fn stop(&self) {
        self.accept.abort();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long the accept loop pauses after a failed `accept` (out of file
/// descriptors, a connection aborted before it was taken) so that a lasting
/// failure does not spin a core; short, because a link that accepts nothing
/// is a fault of its own that the harness did not ask for.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// Accepts connections until the proxy is stopped (the task is aborted, which
/// drops `connections` and with it every connection's task).
async fn accept_loop(listener: TcpListener, link: Link) {
    let mut connections = JoinSet::new();
    let mut index: u64 = 0;
    loop {
        // Forget the connections that ended, so the set holds open ones only.
        while connections.try_join_next().is_some() {}
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(_) => {
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        if link.toxics.borrow().down {
            reset(client);
            continue;
        }
        let seed = connection_seed(link.seed, index);
        index += 1;
        connections.spawn(connection::serve(client, link.clone(), seed));
    }
}

/// The seed of connection `index`: the proxy's seed and the index mixed by
/// multiplying with the golden ratio's odd constant (as `SplitMix64` does), so
/// neighbouring connections do not get neighbouring seeds.
fn connection_seed(seed: u64, index: u64) -> u64 {
    seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Closes `stream` with a TCP reset (RST) rather than an orderly close (FIN):
/// with a zero linger time the kernel drops what is unsent and resets. The
/// peer sees "connection reset by peer" — an error, not an end of stream.
fn reset(stream: TcpStream) {
    // If the option cannot be set, the close is orderly: still a failure for
    // a client waiting for an answer.
    let _ = stream.set_zero_linger();
    drop(stream);
}
