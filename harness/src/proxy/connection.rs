//! One proxied connection: the client's socket, a socket to the upstream, and
//! two directions between them, each with its own toxics.
//!
//! - **requests** (client → upstream) forward each chunk as it comes; the
//!   first chunk after an answer starts a new request, which draws whether it
//!   is reset instead of forwarded (`reset_rate`).
//! - **answers** (upstream → client) stamp each chunk with the time it is due
//!   (now + a latency draw) as it is read, and a writer delivers the chunks in
//!   order, each no earlier than its stamp. Reading goes on while the writer
//!   waits, so a chunk's delay is its own draw, not the sum of the draws
//!   before it (Toxiproxy's latency toxic does the same).
//!
//! Both directions wait before every write while the link is in `timeout`,
//! and the whole connection ends, with a reset to the client, when the link
//! goes `down`.
//!
//! Next: back to `proxy.rs` for the toxics' table.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::faults::Latency;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{Link, Toxics, reset};

/// Bytes read at once from either side: larger than any request or answer of
/// the services, so one HTTP message is usually one chunk.
const CHUNK: usize = 16 * 1024;

/// Answer chunks read from the upstream and not yet delivered (held by
/// latency or a timeout). When full, the proxy stops reading and TCP's own
/// flow control holds the upstream back, as a slow network would.
const HELD_CHUNKS: usize = 64;

/// Why a connection ends.
#[derive(Debug)]
enum End {
    /// A side closed or failed: the other is closed in order.
    Closed,
    /// A request drew a reset: RST to the client, the upstream closed.
    Reset,
    /// The link went down: the same as a reset.
    Cut,
}

/// Serves one accepted connection until a side closes, a request is reset or
/// the link goes down. `seed` is this connection's.
pub(super) async fn serve(mut client: TcpStream, link: Link, seed: u64) {
    let mut toxics = link.toxics;
    // A connection opened during a timeout is held before anything happens.
    if flowing(&mut toxics).await.is_err() {
        return reset(client);
    }
    let upstream = *link.upstream.borrow();
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        // Nobody listens upstream (a crashed service): the client must not
        // think it reached it.
        return reset(client);
    };
    // Small messages, answered at once: Nagle would hold them for up to 40 ms.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let end = tokio::select! {
        end = relay(&mut client, &mut server, &toxics, seed) => end,
        () = down(toxics.clone()) => End::Cut,
    };
    match end {
        End::Closed => {}
        End::Reset | End::Cut => reset(client),
    }
    // `server` is dropped here: an orderly close towards the upstream.
}

/// Runs both directions until both are done or one ends the connection.
async fn relay(
    client: &mut TcpStream,
    server: &mut TcpStream,
    toxics: &watch::Receiver<Toxics>,
    seed: u64,
) -> End {
    let (client_read, client_write) = client.split();
    let (server_read, server_write) = server.split();
    // True when the next chunk from the client starts a new request.
    let answered = AtomicBool::new(true);
    let requests = forward_requests(
        client_read,
        server_write,
        toxics.clone(),
        StdRng::seed_from_u64(seed),
        &answered,
    );
    let answers = forward_answers(
        server_read,
        client_write,
        toxics.clone(),
        StdRng::seed_from_u64(seed.wrapping_add(1)),
        &answered,
    );
    match tokio::try_join!(requests, answers) {
        Ok(_) => End::Closed,
        Err(end) => end,
    }
}

/// Client → upstream. Ends when the client closes its side (the upstream's is
/// then closed too), or with `Reset` when a request draws one.
async fn forward_requests(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    mut toxics: watch::Receiver<Toxics>,
    mut rng: StdRng,
    answered: &AtomicBool,
) -> Result<(), End> {
    let mut buf = vec![0; CHUNK];
    // Bounded by the client: one pass per chunk it sends.
    loop {
        let n = from.read(&mut buf).await.map_err(|_| End::Closed)?;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        if answered.swap(false, Ordering::Relaxed) {
            // Drawn for every request, reset or not, so that the draws of a
            // connection do not depend on when the toxic was switched on.
            let draw: f64 = rng.random();
            if toxics.borrow().reset_rate.is_some_and(|p| draw < p) {
                return Err(End::Reset);
            }
        }
        flowing(&mut toxics).await?;
        to.write_all(&buf[..n]).await.map_err(|_| End::Closed)?;
    }
}

/// Upstream → client, each chunk delayed by its own latency draw, in order.
/// Ends when the upstream closes its side and every held chunk is delivered
/// (the client's side is then closed too).
async fn forward_answers(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    toxics: watch::Receiver<Toxics>,
    mut rng: StdRng,
    answered: &AtomicBool,
) -> Result<(), End> {
    let (held, mut due) = mpsc::channel::<(Instant, Vec<u8>)>(HELD_CHUNKS);
    let mut gate = toxics.clone();
    let read = async move {
        let mut buf = vec![0; CHUNK];
        // Bounded by the upstream: one pass per chunk it sends.
        loop {
            let n = from.read(&mut buf).await.map_err(|_| End::Closed)?;
            if n == 0 {
                // The writer delivers what is held, then sees the end.
                drop(held);
                return Ok(());
            }
            let at = Instant::now() + delay(&mut rng, toxics.borrow().latency);
            let chunk = buf[..n].to_vec();
            held.send((at, chunk)).await.map_err(|_| End::Closed)?;
        }
    };
    let write = async {
        // Bounded: one pass per chunk read, and the reader ends.
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            flowing(&mut gate).await?;
            to.write_all(&chunk).await.map_err(|_| End::Closed)?;
            answered.store(true, Ordering::Relaxed);
        }
        let _ = to.shutdown().await;
        Ok(())
    };
    tokio::try_join!(read, write).map(|_| ())
}

/// A draw in `mean ± jitter`, never below zero; zero without latency. One
/// number is drawn either way, so that the draws of a connection do not
/// depend on when the toxic was switched on.
fn delay(rng: &mut StdRng, latency: Option<Latency>) -> Duration {
    let unit: f64 = rng.random();
    let Some(Latency { mean, jitter }) = latency else {
        return Duration::ZERO;
    };
    let secs = mean.as_secs_f64() + jitter.as_secs_f64() * (2.0 * unit - 1.0);
    Duration::from_secs_f64(secs.max(0.0))
}

/// Waits while the link is in `timeout`; `Cut` if it is, or goes, down.
async fn flowing(toxics: &mut watch::Receiver<Toxics>) -> Result<(), End> {
    match toxics.wait_for(|t| !t.timeout || t.down).await {
        Ok(toxics) if !toxics.down => Ok(()),
        _ => Err(End::Cut),
    }
}

/// Returns when the link goes down (or the proxy is gone).
async fn down(mut toxics: watch::Receiver<Toxics>) {
    let _ = toxics.wait_for(|t| t.down).await;
}
