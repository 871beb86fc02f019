//! The highest rate each variant sustains for each operation, as a ratio to
//! the bare hop's, and our load generator checked against oha.
//!
//! `cargo run --release -p commlab-benches --bin throughput [-- --help]`
//! (a full run takes several minutes; `--quick` one or two).

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use commlab::broker::StreamOption;
use commlab_benches::edge::{EdgeOp, parse_variant};
use commlab_benches::machine::{Machine, invocation};
use commlab_benches::search::{Criteria, Plan};
use commlab_benches::throughput::{Generator, Settings, run};

/// Flags; every default is documented on `Settings`, `Criteria` and `Plan`.
#[derive(Debug, Parser)]
struct Args {
    /// p99 bound, in ms, a rate must stay under.
    #[arg(long, default_value_t = 50)]
    p99_ms: u64,
    /// Seconds per step.
    #[arg(long, default_value_t = 3.0)]
    step_secs: f64,
    /// First rate tried, requests/s.
    #[arg(long, default_value_t = 500.0)]
    start_rate: f64,
    /// Rate multiplier between steps.
    #[arg(long, default_value_t = 1.5)]
    factor: f64,
    /// Bisection steps after the first failure.
    #[arg(long, default_value_t = 2)]
    refinements: usize,
    /// Client runtime threads (also oha's); default: the machine's cores.
    #[arg(long)]
    client_threads: Option<usize>,
    /// Variants to measure, comma-separated: sync, sync-buffered, async.
    #[arg(long, value_delimiter = ',', default_value = "sync,async")]
    variants: Vec<String>,
    /// Operations, comma-separated: bonus, delivery_payment, performance_update.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "bonus,delivery_payment,performance_update"
    )]
    ops: Vec<String>,
    /// Only the bare hop and the comparison with oha: no variant.
    #[arg(long)]
    floor_only: bool,
    /// The generator that drives the variants: ours or oha.
    #[arg(long, default_value = "ours")]
    generator: String,
    /// Worker threads per synchronous service (default: the variant's, 16).
    #[arg(long)]
    sync_workers: Option<usize>,
    /// Skip the comparison with oha.
    #[arg(long)]
    no_oha: bool,
    /// The fixed rate of the latency comparison with oha, requests/s.
    #[arg(long, default_value_t = 2000.0)]
    fixed_rate: f64,
    /// Seconds per fixed-rate run.
    #[arg(long, default_value_t = 10.0)]
    fixed_secs: f64,
    /// Fixed-rate runs per generator.
    #[arg(long, default_value_t = 3)]
    fixed_repeats: usize,
    /// Shorter everything: 1.5 s steps, one refinement, one 5 s fixed run.
    #[arg(long)]
    quick: bool,
    /// The async variant's streams, comma-separated, each searched in this
    /// run: memory, nats (a private nats-server) or nats://HOST:PORT.
    #[arg(long, value_delimiter = ',', default_value = "memory")]
    streams: Vec<StreamOption>,
}

fn settings(args: &Args) -> anyhow::Result<Settings> {
    let defaults = Settings::default();
    let positive = |name: &str, value: f64| {
        anyhow::ensure!(
            value.is_finite() && value > 0.0,
            "--{name} must be above 0, got {value}"
        );
        Ok(value)
    };
    let mut settings = Settings {
        criteria: Criteria {
            p99_bound: Duration::from_millis(args.p99_ms),
            ..Criteria::default()
        },
        plan: Plan {
            start_rate: positive("start-rate", args.start_rate)?,
            factor: positive("factor", args.factor)?,
            refinements: args.refinements,
            ..Plan::default()
        },
        step: Duration::from_secs_f64(positive("step-secs", args.step_secs)?),
        client_threads: args.client_threads.unwrap_or(defaults.client_threads),
        variants: args
            .variants
            .iter()
            .map(|v| parse_variant(v))
            .collect::<anyhow::Result<_>>()?,
        ops: args
            .ops
            .iter()
            .map(|op| EdgeOp::parse(op).with_context(|| format!("unknown operation {op:?}")))
            .collect::<anyhow::Result<_>>()?,
        oha: !args.no_oha,
        fixed_rate: positive("fixed-rate", args.fixed_rate)?,
        fixed_duration: Duration::from_secs_f64(positive("fixed-secs", args.fixed_secs)?),
        fixed_repeats: args.fixed_repeats.max(1),
        sync_workers: args.sync_workers,
        streams: args.streams.clone(),
        generator: match args.generator.as_str() {
            "ours" => Generator::Ours,
            "oha" => Generator::Oha,
            other => anyhow::bail!("--generator is ours or oha, not {other:?}"),
        },
    };
    anyhow::ensure!(settings.plan.factor > 1.0, "--factor must be above 1");
    if args.floor_only {
        settings.variants.clear();
    }
    if args.quick {
        settings.step = Duration::from_millis(1500);
        settings.plan.refinements = 1;
        settings.fixed_duration = Duration::from_secs(5);
        settings.fixed_repeats = 1;
    }
    // The first step must yield enough latencies for a p99 (with 10 % to
    // spare for the odd failed request), or no step could ever pass.
    let least = settings.criteria.min_samples as f64 / settings.step.as_secs_f64() * 1.1;
    if settings.plan.start_rate < least {
        eprintln!("start rate raised to {least:.0}/s: a step must yield a p99's samples");
        settings.plan.start_rate = least;
    }
    Ok(settings)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = settings(&args)?;
    let machine = Machine::describe();
    eprintln!("commlab throughput on {machine}");
    let report = run(&settings)?;
    println!("Command: `{}`\n", invocation());
    println!("Machine: {machine}\n");
    print!("{}", report.render());
    Ok(())
}
