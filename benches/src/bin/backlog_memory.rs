//! What a backlog costs in resident memory: publish one million events into
//! the asynchronous variant's stream with no consumer, and read this
//! process's `VmRSS` before and after.
//!
//! The baseline is what the events themselves hold (`Record` plus the bonus
//! id's text, the stream's own accounting): RSS per event over payload per
//! event says how much the container (the log's `Vec`, doubling as it grows)
//! and the allocator add on top.
//!
//! `cargo run --release -p commlab-benches --bin backlog_memory [-- --events N]`

use anyhow::Context;
use async_variant::stream::{EventStream, InMemoryStream};
use clap::Parser;
use commlab_benches::machine::{Machine, invocation, vm_rss_bytes};
use commlab_benches::pipeline::bonus_event;

/// The target the README states: a backlog of a million events costs at most
/// this much resident memory per event.
const TARGET_BYTES_PER_EVENT: f64 = 200.0;

/// Publish batch size: the relay's batches are of this order, and the figure
/// does not depend on it (the log holds records, not batches).
const BATCH: u64 = 1024;

#[derive(Debug, Parser)]
struct Args {
    /// Events to publish.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.events > 0, "--events must be above 0");
    let capacity = usize::try_from(args.events).context("--events does not fit in memory")?;
    let stream = InMemoryStream::new(capacity);
    let before = vm_rss_bytes().context("reading VmRSS from /proc/self/status")?;

    let mut next = 0;
    while next < args.events {
        let batch: Vec<_> = (next..(next + BATCH).min(args.events))
            .map(bonus_event)
            .collect();
        let offsets = stream.publish(&batch).context("publishing")?;
        next = offsets.end;
    }
    let after = vm_rss_bytes().context("reading VmRSS from /proc/self/status")?;

    let events = args.events as f64;
    let rss_per_event = after.saturating_sub(before) as f64 / events;
    let payload_per_event = stream.counters().retained_bytes as f64 / events;
    println!("Command: `{}`\n", invocation());
    println!("Machine: {}\n", Machine::describe());
    println!(
        "| events retained | RSS before | RSS after | RSS per event | payload per event (baseline) | ratio | target ≤ {TARGET_BYTES_PER_EVENT:.0} B/event |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {} | {:.1} MiB | {:.1} MiB | {rss_per_event:.0} B | {payload_per_event:.0} B | {:.2}× | {} |",
        stream.head().context("reading the head")?,
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        rss_per_event / payload_per_event,
        if rss_per_event <= TARGET_BYTES_PER_EVENT {
            "met"
        } else {
            "**missed**"
        },
    );
    Ok(())
}
