//! `commlab`: the command line. It parses flags into plain values and calls the
//! library (`harness/src/lib.rs`); everything else lives there.
//!
//! Exit codes: 0 done, 1 a run failed (or `compare --fail-on` found a figure
//! worse beyond the spread), 2 a scenario, results file or the command line is
//! wrong (nothing ran), 130 stopped by Ctrl-C (results so far were written).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use commlab::bad_input::BadInput;
use commlab::broker::{Broker, StreamOption};
use commlab::results::Mode;
use commlab::scenario::ScenarioError;
use commlab::suite::{Interrupted, RunOptions, load, run_suite};
use commlab::{builtin, explain};
use common::system::Variant;

#[derive(Parser)]
#[command(
    name = "commlab",
    version,
    about = "Plays fault scenarios against a synchronous and an asynchronous design of the same two services, \
             and measures what their users see."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `commlab run`'s arguments.
#[derive(clap::Args)]
struct RunArgs {
    /// Built-in names or scenario files; none runs the whole built-in suite.
    scenarios: Vec<String>,
    /// Run only this variant (repeatable): sync, sync-buffered,
    /// sync-resilient, async, or a scenario's own `[variant.NAME]`.
    #[arg(long = "variant", value_name = "V")]
    variants: Vec<String>,
    /// Also run this variant once with each of its defences off, and add
    /// the ablation table to the report (e.g. sync-resilient).
    #[arg(long, value_name = "V")]
    ablate: Option<String>,
    /// Seed every scenario with N instead of its own seed.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Where results and reports go.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Scale every duration and fault time by 0.2 (a smoke run, not evidence).
    #[arg(long)]
    quick: bool,
    /// The async variant's stream: memory, nats (a private nats-server the
    /// harness starts and stops) or nats://HOST:PORT (your server).
    #[arg(long, value_name = "S", default_value = "memory")]
    stream: StreamOption,
    /// Play each scenario N times, with seeds derived from its seed; the
    /// report gives each figure as median (min–max). Default: the
    /// scenario's `repeat`, else 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=commlab::repeat::MAX_REPEAT as i64))]
    repeat: Option<u32>,
    /// Run each service as its own process (`commlab service`), its
    /// state in SQLite, every crash a SIGKILL; the async variant's events
    /// then go through NATS (a private nats-server unless --stream names
    /// yours). Default: both services inside this process.
    #[arg(long)]
    processes: bool,
    /// With --processes: keep each run's SQLite files (the path is
    /// printed) instead of removing them, to open with `sqlite3`.
    #[arg(long, requires = "processes")]
    keep_data: bool,
    /// With --processes: keep each service's state in its memory, not
    /// in SQLite — to see what a `kill -9` loses.
    #[arg(long, requires = "processes")]
    memory_state: bool,
}

#[derive(Subcommand)]
enum Command {
    /// List the built-in scenarios.
    List,
    /// Print a scenario's title, lesson, workload and timeline.
    Explain {
        /// A built-in scenario's name, or a scenario file (`*.toml`).
        scenario: String,
    },
    /// Play scenarios against the variants; write JSON results and reports.
    Run(RunArgs),
    /// Rewrite the reports and the index from recorded results (`*.json`), without running anything.
    Report {
        /// Results files written by `commlab run` (e.g. `reports/*.json`).
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Where the reports go.
        #[arg(long, value_name = "DIR", default_value = "reports")]
        out: PathBuf,
    },
    /// Run a scenario once per value of one parameter and chart where each
    /// variant's availability tips over.
    Sweep(commlab::sweep::SweepOptions),
    /// Compare two recorded results (files or directories): each headline
    /// figure in A and B, the difference, and whether it exceeds the runs' spread.
    Compare {
        a: PathBuf,
        b: PathBuf,
        /// Compare even when the schedules (the work) differ.
        #[arg(long)]
        allow_different_work: bool,
        /// Exit 1 when one of these figures got worse beyond the spread
        /// (comma-separated: availability, lost, paid_twice, under_paid,
        /// backlog, p99, drain, recovery, or a figure's full name).
        #[arg(long, value_name = "FIGURES", value_delimiter = ',')]
        fail_on: Vec<String>,
    },
    /// Start both services of one variant and serve until Ctrl-C.
    Serve {
        /// sync, sync-buffered, sync-resilient or async (at its defaults).
        variant: Variant,
        #[arg(long, value_name = "A", default_value_t = loopback())]
        incentives_addr: SocketAddr,
        #[arg(long, value_name = "A", default_value_t = loopback())]
        payments_addr: SocketAddr,
        /// Seeds the services' fault randomness.
        #[arg(long, value_name = "N", default_value_t = 1)]
        seed: u64,
        /// The async variant's stream: memory, nats or nats://HOST:PORT.
        #[arg(long, value_name = "S", default_value = "memory")]
        stream: StreamOption,
    },
    /// Run ONE service of a variant in this process, until SIGTERM or SIGINT
    /// (what `--processes` spawns; prints `listening ADDR` when it serves).
    Service(commlab::service::ServiceOptions),
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match execute(cli.command) {
        Err(error)
            if error.downcast_ref::<ScenarioError>().is_some()
                || error.downcast_ref::<BadInput>().is_some() =>
        {
            eprintln!("commlab: {error}");
            Ok(ExitCode::from(2))
        }
        Err(error) if error.downcast_ref::<Interrupted>().is_some() => {
            eprintln!("commlab: {error}");
            Ok(ExitCode::from(130))
        }
        other => other,
    }
}

fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::List => {
            print!("{}", explain::list(&builtin::all()?));
        }
        Command::Explain { scenario } => {
            let scenarios = load(&[scenario])?;
            print!("{}", explain::explain(&scenarios[0]));
        }
        Command::Run(args) => return run(args),
        Command::Report { results, out } => {
            commlab::report::rewrite(&results, &out)?;
            println!("reports: {}", out.display());
        }
        Command::Sweep(options) => {
            let page = commlab::sweep::sweep(&options)?;
            println!("sweep: {}", page.display());
        }
        Command::Compare {
            a,
            b,
            allow_different_work,
            fail_on,
        } => {
            let options = commlab::compare::CompareOptions {
                allow_different_work,
                fail_on,
            };
            let comparison = commlab::compare::compare(&a, &b, &options)?;
            print!("{}", comparison.markdown);
            if !comparison.worse.is_empty() {
                eprintln!(
                    "commlab: worse beyond the spread: {}",
                    comparison.worse.join("; ")
                );
                return Ok(ExitCode::from(1));
            }
        }
        Command::Serve {
            variant,
            incentives_addr,
            payments_addr,
            seed,
            stream,
        } => serve(variant, incentives_addr, payments_addr, seed, &stream)?,
        Command::Service(options) => commlab::service::run(&options)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `commlab run`: exit 130 when Ctrl-C cut it short.
fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenarios = load(&args.scenarios)?;
    let options = RunOptions {
        out: args.out.clone(),
        quick: args.quick,
        variants: (!args.variants.is_empty()).then_some(args.variants),
        ablate: args.ablate,
        seed: args.seed,
        stream: args.stream,
        repeat: args.repeat,
        mode: if args.processes {
            Mode::Processes
        } else {
            Mode::InProcess
        },
        keep_data: args.keep_data,
        memory_state: args.memory_state,
    };
    let outcome = run_suite(&scenarios, &options)?;
    println!("results and reports: {}", args.out.display());
    Ok(match outcome.interrupted {
        true => ExitCode::from(130),
        false => ExitCode::SUCCESS,
    })
}

/// Runs one variant for a person with curl, until Ctrl-C.
fn serve(
    variant: Variant,
    incentives: SocketAddr,
    payments: SocketAddr,
    seed: u64,
    stream: &StreamOption,
) -> anyhow::Result<()> {
    if variant != Variant::Async && *stream != StreamOption::Memory {
        // A command-line mistake: clap's usage error, exit code 2.
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--stream applies to the async variant only",
            )
            .exit();
    }
    // Stopped when dropped: at the end, and on every error below.
    let broker = Broker::start(stream)?;
    let spec = variants::VariantSpec::preset(variant).with_stream(broker.choice().clone());
    let system = variants::start(&spec, incentives, payments, seed)?;
    if let Some(url) = broker.url() {
        println!("events on NATS JetStream at {url} ({})", broker.describe());
    }
    let (i, p) = (system.incentives_addr(), system.payments_addr());
    println!(
        "commlab serve {variant}: Incentives on http://{i}, Payments on http://{p}  (Ctrl-C stops)\n"
    );
    println!("I={i} P={p}");
    println!(
        "curl -i -X POST $I/incentives/performance/42 -H 'content-type: application/json' -d '{{\"performance\":\"HIGH\"}}'"
    );
    println!(
        "curl -i -X POST $I/incentives/bonuses/42     -H 'content-type: application/json' -d '{{\"bonusType\":\"BIG\",\"bonusId\":\"b-1\"}}'"
    );
    println!("curl    $I/incentives/performance/42");
    println!(
        "curl -i -X POST $P/payments                 -H 'content-type: application/json' -d '{{\"courierId\":42,\"amount\":4.5,\"deliveryId\":\"d-1\"}}'"
    );
    println!("curl    $P/payments/42");
    // A runtime only to wait for the signal; the services run on their own.
    let waiter = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    waiter.block_on(tokio::signal::ctrl_c())?;
    drop(waiter);
    println!("\nstopping");
    system.shutdown();
    drop(broker);
    Ok(())
}
