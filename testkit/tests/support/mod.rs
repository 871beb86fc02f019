//! What every test that runs one body against every variant shares: starting
//! a variant by name, and the `parity!` macro (as ripgrep's `rgtest!` runs each
//! test against both regex engines). Used by `parity.rs`, `edge_contract.rs`
//! and `fuzz.rs`.

#![allow(dead_code)]

use std::time::Duration;

use common::system::{System, Variant};
use testkit::Running;

pub type AnySystem = Running<Box<dyn System>>;

/// Short, so a test with a dead peer stays quick; long against a loopback round trip.
const CALL_TIMEOUT: Duration = Duration::from_millis(300);

/// Starts a preset through the one variant factory (`variants`), the
/// synchronous ones with a short call timeout.
pub fn start(variant: Variant) -> AnySystem {
    let mut spec = variants::VariantSpec::preset(variant);
    if let Some(config) = spec.sync_mut() {
        config.call_timeout = CALL_TIMEOUT;
    }
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let system = variants::start(&spec, loopback, loopback, 1).expect("the variant starts");
    assert_eq!(system.variant(), variant);
    Running::new(system)
}

/// The async variant on a private NATS JetStream server (stopped with the
/// system); the test fails, naming the install command, without the binary.
pub fn start_on_nats() -> AnySystem {
    let server =
        async_variant::nats_server::NatsServer::start().unwrap_or_else(|error| panic!("{error}"));
    let server = std::sync::Arc::new(server);
    let stream = async_variant::StreamChoice::Nats {
        url: server.url(),
        server: Some(server),
    };
    let spec = variants::VariantSpec::preset(Variant::Async).with_stream(stream);
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let system = variants::start(&spec, loopback, loopback, 1).expect("async on NATS starts");
    Running::new(system)
}

/// Defines a test module whose body runs once per variant.
macro_rules! parity {
    ($(#[doc = $doc:literal])* $name:ident, $body:expr) => {
        $(#[doc = $doc])*
        mod $name {
            use super::*;

            #[test]
            fn sync() {
                ($body)(crate::support::start(Variant::Sync), Variant::Sync);
            }

            #[test]
            fn sync_buffered() {
                ($body)(crate::support::start(Variant::SyncBuffered), Variant::SyncBuffered);
            }

            #[test]
            fn sync_resilient() {
                ($body)(crate::support::start(Variant::SyncResilient), Variant::SyncResilient);
            }

            #[test]
            fn r#async() {
                ($body)(crate::support::start(Variant::Async), Variant::Async);
            }

            /// The same body, the events on NATS JetStream.
            #[test]
            fn async_nats() {
                ($body)(crate::support::start_on_nats(), Variant::Async);
            }
        }
    };
}
