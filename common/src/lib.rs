//! What the two variants of commlab share, so that they differ only in how
//! Incentives and Payments talk to each other.
//!
//! - [`money`] and [`domain`]: amounts in cents, bonus types, performance, the
//!   one rule that adjusts an amount.
//! - [`api`]: the edge HTTP API, routes and validation, identical in both variants.
//! - [`ledger`]: Payments' record of what it paid, and why nothing pays twice.
//! - [`store`]: where a service keeps its state — memory, or its own SQLite
//!   database — and what a `kill -9` keeps of it.
//! - [`idempotency`]: Incentives' record of bonus ids, where a repeated or a
//!   conflicting grant is recognised in every variant.
//! - [`records`]: Incentives' records of bonuses and performance in SQLite,
//!   one schema and one loader for both variants.
//! - [`faults`] and [`server`]: the switches that crash, hang, slow down or break
//!   a running service, and the listener that honours them.
//! - [`edges`]: a service's socket, runtime, fault switches and `GET /_stats`,
//!   as both variants start and stop it.
//! - [`system`]: the interface the harness drives both variants through.
//! - [`millis`]: durations in configurations and results, as milliseconds.
//!
//! Next: `sync_variant/src/lib.rs` and `async_variant/src/lib.rs`.

pub mod api;
pub mod domain;
pub mod edges;
pub mod faults;
pub mod idempotency;
pub mod internal;
pub mod ledger;
pub mod millis;
pub mod money;
pub mod records;
pub mod server;
pub mod store;
pub mod system;

pub use domain::{BASE_DELIVERY_PAY, BonusType, CourierId, Performance};
pub use money::Money;
