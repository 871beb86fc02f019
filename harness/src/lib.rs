//! The commlab harness: plays a scenario — a seeded open-loop workload and a
//! timeline of faults — against each variant in turn, measures what their users
//! saw, and writes results and reports.
//!
//! The path of a run, file by file:
//! - [`scenario`]: a TOML file, validated (`scenarios/*.toml`, embedded by [`builtin`]);
//! - [`schedule`]: every request of the run, generated once from the seed;
//! - [`run`]: one variant from a fresh start — setup, load ([`load`]), the
//!   fault timeline, the drain — then [`measure`] and [`reconcile`];
//! - [`suite`]: many scenarios, results written as [`results`] (JSON),
//!   [`hgrm`] latency files and the [`report`]s, with their [`provenance`].
//!
//! [`service`] is `commlab service`: one service of a variant in its own process.
//!
//! The binary (`src/main.rs`) only parses flags and calls into this library.

pub mod bad_input;
pub mod broker;
pub mod builtin;
pub mod compare;
pub mod explain;
pub mod headline;
pub mod hgrm;
pub mod host;
pub mod load;
pub mod measure;
pub mod processes;
pub mod provenance;
pub mod proxy;
pub mod reconcile;
pub mod repeat;
pub mod report;
pub mod results;
pub mod run;
pub mod scenario;
pub mod schedule;
pub mod service;
pub mod suite;
pub mod sweep;
