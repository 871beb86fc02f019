//! `commlab run`: load every scenario first (nothing runs half-configured),
//! then play each against its variants one after another and write
//! `<out>/<scenario>.json`, the `.hgrm` latency files and the reports.
//!
//! One harness runtime serves the whole suite (the load generator, setup and
//! reconciliation all run on it); Ctrl-C sets a flag that every loop of a run
//! watches, and the results measured so far are still written, marked
//! `interrupted`. A setup step that fails because of it (a variant that had
//! not absorbed the couriers' performances yet, a child that took the signal
//! too) ends the suite the same way: interrupted (exit 130), not failed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use tokio::runtime::Runtime;

use crate::broker::{Broker, StreamOption, kill_private_servers};
use crate::results::{
    Mode, ScenarioResults, StorageRecord, TimelineEntry, VariantResults, Workload,
};
use crate::run::{Launch, VariantRun, run_variant};
use crate::scenario::{Scenario, ScenarioError, kind_name, target_name};
use crate::schedule::{Operation, Schedule};
use crate::{builtin, hgrm, provenance, repeat, report};

/// What `commlab run` was asked to do, as plain values.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub out: PathBuf,
    pub quick: bool,
    /// Replaces every scenario's own list of variants: presets or the
    /// scenario's own `[variant.NAME]`s, by name.
    pub variants: Option<Vec<String>>,
    /// Runs this variant once per defence switched off, and adds the
    /// ablation table to the report (`--ablate`).
    pub ablate: Option<String>,
    /// Replaces every scenario's own seed.
    pub seed: Option<u64>,
    /// The async variant's stream (`--stream`): `memory`, or NATS JetStream.
    pub stream: StreamOption,
    /// Replaces every scenario's own `repeat`: runs per scenario, each with a
    /// seed derived from the scenario's (`repeat.rs`).
    pub repeat: Option<u32>,
    /// Each service its own process (`--processes`), or both in this one.
    pub mode: Mode,
    /// Process mode: keep each run's SQLite files (`--keep-data`).
    pub keep_data: bool,
    /// Process mode: each service's state in its memory, not SQLite
    /// (`--memory-state`), to see what a `kill -9` loses.
    pub memory_state: bool,
}

/// A command that plays several suites (a sweep) stopped by Ctrl-C: `main`
/// exits 130 on it, as `commlab run` does when its outcome is `interrupted`.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by Ctrl-C {0}")]
pub struct Interrupted(pub String);

/// Every scenario's results, and whether Ctrl-C cut the suite short.
#[derive(Debug)]
pub struct SuiteOutcome {
    pub results: Vec<ScenarioResults>,
    pub interrupted: bool,
}

/// Loads scenarios by built-in name or file path (`*.toml`, or anything with a
/// `/`); none means the whole built-in suite. Every one is validated before
/// any runs.
pub fn load(arguments: &[String]) -> Result<Vec<Scenario>, ScenarioError> {
    if arguments.is_empty() {
        return builtin::all();
    }
    arguments
        .iter()
        .map(|argument| {
            if argument.ends_with(".toml") || argument.contains('/') {
                let text =
                    std::fs::read_to_string(argument).map_err(|source| ScenarioError::Read {
                        file: argument.clone(),
                        source,
                    })?;
                Scenario::parse(argument, argument, &text)
            } else {
                builtin::find(argument)
            }
        })
        .collect()
}

/// Runs every scenario, writing results as each one finishes.
pub fn run_suite(scenarios: &[Scenario], options: &RunOptions) -> anyhow::Result<SuiteOutcome> {
    let planned = plan(scenarios, options)?;
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("creating {}", options.out.display()))?;
    let runtime = harness_runtime()?;
    let stop = Arc::new(AtomicBool::new(false));
    watch_ctrl_c(&runtime, stop.clone());
    let mut all = Vec::new();
    let played = play_all(&runtime, &stop, &planned, options, &mut all);
    let interrupted = stop.load(Ordering::Relaxed);
    match played {
        // Ctrl-C during a setup (a broker's start, a variant's, the
        // couriers' performances) makes that step fail: the run was
        // interrupted, not broken, and what finished before is kept.
        Err(error) if interrupted => eprintln!("commlab: interrupted: {error:#}"),
        Err(error) => return Err(error),
        Ok(()) => {}
    }
    report::write_index(&options.out, &all).context("writing the index")?;
    Ok(SuiteOutcome {
        results: all,
        interrupted,
    })
}

/// Plays each planned scenario into `all`, until the end or Ctrl-C.
fn play_all(
    runtime: &Runtime,
    stop: &Arc<AtomicBool>,
    planned: &[(Scenario, Vec<variants::VariantSpec>)],
    options: &RunOptions,
    all: &mut Vec<ScenarioResults>,
) -> anyhow::Result<()> {
    // A broker only when the async variant runs; dropped (stopped) on return,
    // error included.
    let runs_async = planned
        .iter()
        .flat_map(|(_, runs)| runs)
        .any(|spec| spec.base() == common::system::Variant::Async);
    let broker = Broker::start(&stream_for(runs_async, options))?;
    if let Some(url) = broker.url() {
        println!("stream: NATS JetStream at {url} ({})", broker.describe());
    }
    let shared = Shared {
        runtime,
        stop,
        broker: &broker,
        options,
        environment: provenance::environment(),
        commit: provenance::commit(),
    };
    for (scenario, runs) in planned {
        all.push(play_repeated(&shared, scenario, runs)?);
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(())
}

/// Each scenario with the variants and ablation the options ask for, and
/// its runs. Every name resolves before anything runs (a wrong one exits 2).
fn plan(
    scenarios: &[Scenario],
    options: &RunOptions,
) -> anyhow::Result<Vec<(Scenario, Vec<variants::VariantSpec>)>> {
    let mut planned = Vec::new();
    for scenario in scenarios {
        let mut scenario = scenario.clone();
        if let Some(names) = &options.variants {
            scenario.variants = names
                .iter()
                .map(|name| scenario.variant_named(name))
                .collect::<Result<_, _>>()?;
        }
        // `--quick` is a smoke test: a file's own ablation (six more runs of
        // partition) only where `--ablate` asks for it.
        match &options.ablate {
            Some(ablate) => scenario.ablate = Some(ablate.clone()),
            None if options.quick => scenario.ablate = None,
            None => {}
        }
        let runs = scenario.runs()?;
        planned.push((scenario, runs));
    }
    Ok(planned)
}

/// Plays `scenario` as many times as asked (`repeat`), combines the runs
/// and writes its results and report.
fn play_repeated(
    shared: &Shared,
    scenario: &Scenario,
    runs: &[variants::VariantSpec],
) -> anyhow::Result<ScenarioResults> {
    let (options, stop) = (shared.options, shared.stop);
    let mut scenario = if options.quick {
        scenario.quick()
    } else {
        scenario.clone()
    };
    if let Some(seed) = options.seed {
        scenario.seed = seed;
    }
    // `--quick` is a smoke test: one run, unless `--repeat` asks for more.
    let repeat = options
        .repeat
        .unwrap_or(if options.quick { 1 } else { scenario.repeat });
    let mut played = Vec::new();
    for (i, seed) in repeat::seeds(scenario.seed, repeat).into_iter().enumerate() {
        if repeat > 1 {
            println!("{} run {} of {repeat} · seed {seed}", scenario.name, i + 1);
        }
        let mut once = scenario.clone();
        once.seed = seed;
        played.push(play(shared, &once, runs, i == 0)?);
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    let mut results = match repeat {
        1 => played.remove(0),
        _ => repeat::combine(played),
    };
    results.command += &repeat_argument(options.repeat);
    let path = options.out.join(format!("{}.json", scenario.name));
    let json = serde_json::to_string_pretty(&results)?;
    std::fs::write(&path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    report::write_scenario_report(&options.out, &results)
        .with_context(|| format!("writing the report of {}", scenario.name))?;
    Ok(results)
}

/// What every run of the suite shares.
struct Shared<'a> {
    runtime: &'a Runtime,
    stop: &'a Arc<AtomicBool>,
    broker: &'a Broker,
    options: &'a RunOptions,
    environment: crate::results::Environment,
    commit: String,
}

/// Plays one scenario, with its seed, on each of its variants; checks its
/// claims. Writes the latency histograms when `histograms` (run 1 only).
fn play(
    shared: &Shared,
    scenario: &Scenario,
    runs: &[variants::VariantSpec],
    histograms: bool,
) -> anyhow::Result<ScenarioResults> {
    let options = shared.options;
    let schedule = Schedule::generate(scenario);
    println!(
        "{}: {} · seed {} · {} requests over {} · schedule {}",
        scenario.name,
        scenario.title,
        scenario.seed,
        schedule.requests.len(),
        crate::scenario::show(scenario.duration),
        &schedule.fingerprint[..12]
    );
    let mut variants = Vec::new();
    for spec in runs {
        let choice = shared.broker.choice();
        let launch = Launch {
            mode: options.mode,
            stream: choice.clone(),
            keep_data: options.keep_data,
            memory_state: options.memory_state,
        };
        let run = run_variant(
            shared.runtime,
            scenario,
            &schedule,
            spec,
            shared.stop,
            &launch,
        )
        .with_context(|| format!("scenario {} on {}", scenario.name, spec.name))?;
        println!("  {}", summary(&run));
        if histograms {
            write_histograms(&options.out, &scenario.name, &run)?;
        }
        variants.push(run.results);
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
    }
    let results = scenario_results(shared, scenario, &schedule, variants);
    let expectations = scenario
        .expectations
        .iter()
        .filter_map(|e| e.check(&results))
        .collect();
    let results = ScenarioResults {
        expectations,
        ..results
    };
    for checked in results.expectations.iter().filter(|c| !c.held) {
        println!("  expectation did not hold: {checked}");
    }
    Ok(results)
}

/// The results of one run of `scenario`, before its claims are checked.
fn scenario_results(
    shared: &Shared,
    scenario: &Scenario,
    schedule: &Schedule,
    variants: Vec<VariantResults>,
) -> ScenarioResults {
    let options = shared.options;
    ScenarioResults {
        schema_version: crate::results::SCHEMA_VERSION,
        scenario: scenario.name.clone(),
        title: scenario.title.clone(),
        lesson: scenario.lesson.clone(),
        seed: scenario.seed,
        command: provenance::replay_command(
            scenario,
            options.variants.as_deref(),
            options.ablate.as_deref(),
            &options.out,
        ) + &stream_argument(&options.stream)
            + &processes_argument(options),
        ablate: scenario.ablate.clone(),
        commit: shared.commit.clone(),
        environment: shared.environment.clone(),
        quick: scenario.quick,
        duration_s: scenario.duration.as_secs_f64(),
        slo_ms: scenario.slo.as_millis() as u64,
        workload: workload(scenario, schedule),
        timeline: timeline(schedule),
        idempotency: scenario.idempotency,
        schedule_fingerprint: schedule.fingerprint.clone(),
        stream: shared.broker.describe(),
        mode: options.mode,
        storage: StorageRecord::of(options.mode, options.memory_state),
        variants,
        expectations: Vec::new(),
        repetitions: None,
    }
}

/// The stream the run needs: none without the async variant; in process
/// mode, NATS (a private server unless the user named one), because the
/// in-process log cannot cross processes.
fn stream_for(runs_async: bool, options: &RunOptions) -> StreamOption {
    match (runs_async, options.mode, &options.stream) {
        (false, _, _) => StreamOption::Memory,
        (true, Mode::Processes, StreamOption::Memory) => StreamOption::PrivateNats,
        (true, _, stream) => stream.clone(),
    }
}

/// ` --repeat N` for the replay command when the command line gave it.
fn repeat_argument(repeat: Option<u32>) -> String {
    repeat.map_or_else(String::new, |n| format!(" --repeat {n}"))
}

/// The load generator's runtime: one worker thread, apart from the variants'
/// runtimes and pools (see `load.rs` for why one is enough).
fn harness_runtime() -> anyhow::Result<Runtime> {
    crate::load::runtime(1).context("starting the harness runtime")
}

/// First Ctrl-C: stop cleanly and write what was measured. Second: leave now.
fn watch_ctrl_c(runtime: &Runtime, stop: Arc<AtomicBool>) {
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\ncommlab: stopping; writing what was measured (Ctrl-C again to quit at once)"
            );
            stop.store(true, Ordering::Relaxed);
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            // No destructor runs past `exit`: stop a private broker and
            // the services' processes first.
            kill_private_servers();
            crate::processes::child::kill_all();
            std::process::exit(130);
        }
    });
}

/// ` --processes` for the replay command; nothing for the default.
fn processes_argument(options: &RunOptions) -> String {
    match (options.mode, options.memory_state) {
        (Mode::InProcess, _) => String::new(),
        (Mode::Processes, false) => " --processes".into(),
        (Mode::Processes, true) => " --processes --memory-state".into(),
    }
}

/// ` --stream …` for the replay command; nothing for the default.
fn stream_argument(stream: &StreamOption) -> String {
    match stream {
        StreamOption::Memory => String::new(),
        other => format!(" --stream {other}"),
    }
}

fn write_histograms(out: &Path, scenario: &str, run: &VariantRun) -> anyhow::Result<()> {
    let dir = out.join(scenario);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (operation, histogram) in Operation::ALL.iter().zip(&run.histograms) {
        let path = dir.join(format!("{}-{}.hgrm", run.results.variant, operation.name()));
        hgrm::write(&path, histogram).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// One line per run: what a reader wants first.
fn summary(run: &VariantRun) -> String {
    let r = &run.results;
    let pct = |a: Option<f64>| a.map_or("–".to_string(), |a| format!("{:.1} %", a * 100.0));
    let mut line = format!(
        "{:<14} ok: bonus {}, delivery {}, performance {} · lost {} · under-paid {} · stale {} · repriced {} · backlog peak {}",
        r.variant,
        pct(r.operations.bonus.availability),
        pct(r.operations.delivery.availability),
        pct(r.operations.performance.availability),
        r.bonuses.lost + r.deliveries.lost,
        r.bonuses.under_paid + r.deliveries.under_paid,
        r.bonuses.stale + r.deliveries.stale,
        r.bonuses.repriced + r.deliveries.repriced,
        r.backlog.peak,
    );
    if let Some(p99) = r.load_lateness_ms.p99 {
        line.push_str(&format!(" · sent ≤ {p99:.1} ms late (p99)"));
    }
    if let Some(steal) = r.host_steal {
        line.push_str(&format!(" · host steal {}", crate::host::percent(steal)));
    }
    if !r.not_applicable.is_empty() {
        line.push_str(" · a fault does not apply");
    }
    if r.interrupted {
        line.push_str(" · INTERRUPTED");
    }
    let twice = r.bonuses.paid_twice + r.deliveries.paid_twice;
    let wrong = r.bonuses.wrong_payout + r.deliveries.wrong_payout;
    if twice + wrong > 0 {
        line.push_str(&format!(" · paid twice {twice} · wrong payouts {wrong}"));
    }
    if !r.evidence.ok {
        line.push_str(&format!(
            " · NOT EVIDENCE: {}",
            r.evidence.reasons.join("; ")
        ));
    }
    line
}

fn workload(scenario: &Scenario, schedule: &Schedule) -> Workload {
    let w = &scenario.workload;
    Workload {
        couriers: w.couriers,
        bonus_rate: w.bonus_rate,
        delivery_rate: w.delivery_rate,
        performance_rate: w.performance_rate,
        arrival: w.arrival.to_string(),
        bonus_mix: w.bonus_mix,
        scheduled: schedule.counts(),
    }
}

/// The results' timeline, built from the very list the runs played, in its
/// order: a variant's `not_applicable[].fault` is an index into `schedule.faults`
/// (`run.rs`), so it is an index into this timeline too.
fn timeline(schedule: &Schedule) -> Vec<TimelineEntry> {
    schedule
        .faults
        .iter()
        .map(|f| TimelineEntry {
            target: target_name(f.target).to_string(),
            kind: kind_name(f.kind).to_string(),
            label: f.fault.to_string(),
            start_s: f.start.as_secs_f64(),
            duration_s: f.duration.as_secs_f64(),
        })
        .collect()
}
