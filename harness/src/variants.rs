//! Starting a variant by name: the one place the harness knows that `sync` and
//! `sync-buffered` are the same crate with one switch, and `async` another.
//! Everything after start goes through `common::system::System`.

use std::io;
use std::net::SocketAddr;

use async_variant::StreamChoice;
use common::system::{System, Variant};

/// Starts both services of `variant` on the given addresses (port 0: the OS
/// picks), their fault randomness seeded with `seed`, the async variant's
/// events on `stream`, everything else at the variant's documented defaults.
pub fn start(
    variant: Variant,
    incentives_addr: SocketAddr,
    payments_addr: SocketAddr,
    seed: u64,
    stream: &StreamChoice,
) -> io::Result<Box<dyn System>> {
    Ok(match variant {
        Variant::Sync | Variant::SyncBuffered => {
            Box::new(sync_variant::start(sync_variant::Config {
                incentives_addr,
                payments_addr,
                seed,
                buffered: variant == Variant::SyncBuffered,
                ..Default::default()
            })?)
        }
        Variant::Async => Box::new(async_variant::start(async_variant::Config {
            incentives_addr,
            payments_addr,
            seed,
            stream: stream.clone(),
            ..Default::default()
        })?),
    })
}
