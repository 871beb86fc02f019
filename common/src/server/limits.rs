//! Every bound the services put on a client's connection, in one place, with
//! why each has its value.
//!
//! A legitimate client of these services — the harness, the benches, the
//! sync variant's calls, curl — sends a request of a few hundred bytes in one
//! go, over loopback, and reads the answer at once. The bounds are set far
//! above what such a client needs and far below what lets a hostile or broken
//! client hold resources without end: a connection that trickles its head or
//! its body, never finishes it, or announces more than it sends, is cut off
//! within seconds, and the number and memory of connections are capped.

use std::time::Duration;

/// The longest a request's head (request line and headers) may take to
/// arrive, counted from when the server starts waiting for it — which is also
/// how long an idle keep-alive connection is kept. hyper closes the connection
/// when it passes. 5 s: thousands of times what a request takes on loopback,
/// even on a starved 2-core machine; short enough that a held connection
/// frees its slot quickly (Tomcat's `connectionTimeout` is 20 s, nginx's
/// `client_header_timeout` 60 s — both for the open internet). Clients that
/// keep connections in a pool should let idle ones go sooner:
/// [`CLIENT_IDLE_TIMEOUT`].
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a request's body may take to arrive once its head has. Past
/// it the answer is `408` and the connection closes. 5 s, for the same
/// reasons as [`HEADER_READ_TIMEOUT`].
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a client of these services should keep an idle pooled
/// connection: half the server's [`HEADER_READ_TIMEOUT`], so that the client
/// drops it before the server closes it, and a request never races the
/// server's close.
pub const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_millis(2_500);

/// Open connections per service; one more is answered `503` and closed.
/// 4,096: above the harness's own bound on requests in flight (4,000, each
/// at most one connection), so a run is never cut by it; what it bounds is
/// everyone else. With two services and the harness's client ends in one
/// process that is about 12,200 file descriptors, within this machine's
/// limit of 20,000 (`ulimit -n`). Tomcat's `maxConnections` is 8,192.
pub const MAX_CONNECTIONS: usize = 4_096;

/// Connections being refused at once (written the `503` and drained). Past
/// this, a connection over the cap is closed without an answer: refusing must
/// not cost more than serving.
pub const MAX_REFUSING: usize = 64;

/// How long refusing a connection may take: write the `503`, then read and
/// drop what the client sent, so that closing does not reset the connection
/// before the client has read the answer.
pub const REFUSAL_LINGER: Duration = Duration::from_millis(500);

/// The largest request body. The largest valid body is about 150 bytes (a
/// courier id, an amount of at most 13 characters, a 64-character
/// reference); 8 KiB leaves room for any whitespace a client adds, and
/// bounds the buffer a body is read into: 4,096 connections × 8 KiB = 32 MiB
/// at most, allocated once per request, never grown (`common::api` body.rs).
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// The longest URI (path and query). The longest valid one is
/// `/incentives/performance/` and 20 digits, 44 bytes; 2 KiB is what
/// browsers and proxies have long guaranteed. Longer: `414`.
pub const MAX_URI_BYTES: usize = 2 * 1024;

/// Headers per request. Real clients send fewer than 20; hyper's own
/// default is 100. More: `431`.
pub const MAX_HEADERS: usize = 64;

/// hyper's read buffer per connection, which bounds a request head: 16 KiB
/// (hyper's smallest allowed is 8 KiB, its default about 400 KiB). A head
/// that does not fit is answered `431`.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
