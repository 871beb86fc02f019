//! The cost of each design, as ratios to what the machine allows.
//!
//! Absolute times on a shared 2-core machine mean little: they move by tens
//! of percent with the neighbours. So every figure here is divided by a
//! *floor* measured in the same run — the cheapest version of the same thing
//! on the same stacks:
//!
//! - an edge operation by one bare HTTP round trip ([`floor`]);
//! - a highest sustained rate by the bare endpoint's ([`throughput`], with the
//!   open-loop generator the harness measures with, `commlab::load`, driven
//!   step by step by [`driver`], and the rate search in [`search`]);
//! - the in-process stream by a bare crossbeam-channel hand-off ([`pipeline`]);
//! - a backlog's memory by the bytes its events hold (`src/bin/backlog_memory.rs`).
//!
//! The criterion benches (`benches/*.rs`) use [`floor`], [`edge`],
//! [`sequential`] and [`pipeline`]; `src/bin/ratios.rs` turns their estimates into the ratio table
//! ([`ratios`]). `src/bin/throughput.rs` runs [`throughput`] (steps driven
//! by [`driver`], reported by [`summary`]) and checks the load generator
//! against `oha` ([`oha`]). `README.md` beside `src/` says how
//! to run each and shows the figures measured on this machine.

pub mod driver;
pub mod edge;
pub mod floor;
pub mod machine;
pub mod oha;
pub mod pipeline;
pub mod ratios;
pub mod search;
pub mod sequential;
pub mod summary;
pub mod throughput;
