//! The partition on a real broker: the relay's and the consumer's
//! connections go through a TCP proxy on 127.0.0.1 that the partition cuts.
//!
//! Cutting closes every proxied socket at once — the broker sees its clients
//! vanish, as it would behind a failed switch, and redelivers what the
//! consumer held unacknowledged after the ack-wait — and while cut, a new
//! connection is accepted and closed at once, so the clients' reconnect
//! attempts fail until the heal. Chosen over dropping and re-creating the
//! clients because it is the network that fails, not the programs: the relay
//! and the consumer run on unchanged, reconnecting as a JetStream client
//! does. Only their connections pass through it; creating and deleting the
//! stream go straight to the broker.
//!
//! The price: one more loopback hop (and a copy) for every message in every
//! `nats` run, on the client's runtime; the cost ratios of
//! `benches/README.md` include it.
//!
//! Part of `jetstream/`.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};

use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A cuttable proxy to one broker.
#[derive(Debug)]
pub(super) struct Cuttable {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

impl Cuttable {
    /// Listens on a free loopback port and forwards each connection to the
    /// broker at `url` (`nats://HOST:PORT`).
    pub(super) fn start(runtime: &Runtime, url: &str) -> std::io::Result<Cuttable> {
        let broker = broker_addr(url)?;
        let listener = runtime.block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))?;
        let addr = listener.local_addr()?;
        let cut = watch::Sender::new(false);
        let accepting = runtime.spawn(accept(listener, broker, cut.clone()));
        Ok(Cuttable {
            addr,
            cut,
            accepting,
        })
    }

    /// Where the clients connect: `nats://127.0.0.1:PORT`.
    pub(super) fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Cuts (`true`: every proxied connection is closed, new ones refused)
    /// or heals.
    pub(super) fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

impl Drop for Cuttable {
    fn drop(&mut self) {
        // Ends every forwarding task, then the accept loop.
        self.cut.send_replace(true);
        self.accepting.abort();
    }
}

/// `nats://HOST:PORT` → the broker's first address.
fn broker_addr(url: &str) -> std::io::Result<SocketAddr> {
    let host_port = url.trim_start_matches("nats://");
    host_port
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))
}

/// Accepts until aborted (when the [`Cuttable`] is dropped).
async fn accept(listener: TcpListener, broker: SocketAddr, cut: watch::Sender<bool>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors, say: try again shortly, without spinning.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        if *cut.borrow() {
            // Cut: accepted and closed, as a dead link's connect fails.
            drop(client);
            continue;
        }
        tokio::spawn(forward(client, broker, cut.subscribe()));
    }
}

/// Copies both ways until either side closes or the link is cut.
async fn forward(mut client: TcpStream, broker: SocketAddr, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(broker).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        // Dropping both sockets is the cut.
        _ = cut.wait_for(|cut| *cut) => {}
    }
}
