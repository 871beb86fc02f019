//! One run: one scenario against one variant, from a fresh start to shutdown.
//!
//! ```text
//! start ─ setup ─ settle ─┬─ t=0 ── load (open loop, its own runtime) ──────┬─ settle ─ read + reconcile ─ shutdown
//!                         └─ timeline: faults on/off, stats every 100 ms ───┘
//! ```
//!
//! - **start**: a new system on `127.0.0.1:0`, nothing carried over.
//! - **setup**: every courier gets its seeded performance; then the harness
//!   waits (bounded) until the variant has absorbed it — nothing under way
//!   ([`Stats::is_settled`]); for the async variant the events have reached
//!   Payments' copy.
//! - **load and timeline**: the load generator plays the schedule on the
//!   harness's runtime while this thread — a plain thread, which owns the
//!   system — injects and heals faults at their times and samples
//!   `System::stats()` for the backlog series.
//! - **settle** (the drain): every fault is healed; the harness waits
//!   (bounded) until the load has finished *and* backlog, queued and busy
//!   workers, calls between the services and requests inside the edges have
//!   all been 0 together, twice in a row with no payout in between, and
//!   records how long that took. A run that does not settle is marked *not
//!   evidence* (`evidence.reasons`): work still under way would be counted
//!   as lost.
//! - **read and reconcile**: the payouts are read; `reconcile.rs` matches
//!   every one to its request; the ledger's own payout count must equal the
//!   payouts read and reconciled, and must not move while they are read, or
//!   the run is marked not evidence.
//!
//! Next: `measure.rs` and `reconcile.rs`; `suite.rs` runs many of these.

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_variant::StreamChoice;
use common::ledger::unix_us_at;
use common::system::{Stats, System};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Client;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::load::{self, Edges, Record};
use crate::measure;
use crate::processes::ProcessSystem;
use crate::reconcile::{Reconciled, fetch_payouts, reconcile};
use crate::results::{BacklogPoint, Evidence, InternalErrors, Mode, VariantResults};
use crate::scenario::Scenario;
use crate::schedule::{Fingerprint, Schedule};
use variants::VariantSpec;

mod timeline;

use timeline::Timeline;

/// How often the backlog is sampled: ten points a second draws a smooth curve
/// and costs a variant ten counter reads a second.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The load starts this long after it is spawned, so that t = 0 is not
/// already past when its first request is due.
const START_DELAY: Duration = Duration::from_millis(100);

/// How often settling looks at the variant's counters: often enough that the
/// wait adds little to a run, rare enough to cost nothing.
const SETTLE_POLL: Duration = Duration::from_millis(10);

/// Longest wait for a variant to absorb the setup (async: the performance
/// events reach Payments' copy in milliseconds; this only bounds a bug).
const SETTLE_BOUND: Duration = Duration::from_secs(10);

/// Longest wait to settle after the timeline, full and `--quick`. Every suite
/// scenario settles in well under a second once its fault is healed and the
/// load's last answers are in; a request the variant holds may take the
/// client timeout (5 s) to end, so the quick bound is that plus a second. The
/// bound keeps a variant that never settles from holding the suite: its
/// `drain_phase_s` is then `null` and its results are marked not evidence.
const DRAIN_BOUND: Duration = Duration::from_secs(10);
const DRAIN_BOUND_QUICK: Duration = Duration::from_secs(6);

/// The drain after Ctrl-C: short, because the user wants out, but long enough
/// for a resend round or a consumer pass, so that work merely in transit is not
/// reported as lost.
const DRAIN_BOUND_INTERRUPTED: Duration = Duration::from_secs(1);

/// What one run produced: its results, the latency histograms (µs) per
/// operation behind them (for the `.hgrm` files), and the record of every
/// request, in schedule order (`None`: never sent).
#[derive(Debug)]
pub struct VariantRun {
    pub results: VariantResults,
    pub histograms: [Histogram<u64>; 3],
    pub records: Vec<Option<Record>>,
}

/// How a run starts its variant: in this process or as processes, and the
/// stream that carries the async variant's events.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    pub mode: Mode,
    pub stream: StreamChoice,
    /// Process mode: keep the run's SQLite files rather than remove them.
    pub keep_data: bool,
    /// Process mode: the services' state in their memory, not SQLite.
    pub memory_state: bool,
}

impl From<&StreamChoice> for Launch {
    /// In process, on `stream`.
    fn from(stream: &StreamChoice) -> Launch {
        Launch {
            mode: Mode::InProcess,
            stream: stream.clone(),
            keep_data: false,
            memory_state: false,
        }
    }
}

/// The one place a run starts its variant, in either mode: fresh, on
/// `127.0.0.1:0`, seeded with `seed`. Call from the thread that will drop
/// it (`processes/child.rs`: the children's parent-death signal).
pub fn start_system(
    spec: &VariantSpec,
    launch: &Launch,
    seed: u64,
) -> anyhow::Result<Box<dyn System>> {
    let spec = spec.clone().with_stream(launch.stream.clone());
    let started: Box<dyn System> = match launch.mode {
        Mode::InProcess => {
            let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            variants::start(&spec, loopback, loopback, seed)?
        }
        Mode::Processes => {
            let options = crate::processes::Options {
                program: std::env::current_exe().context("finding the commlab binary")?,
                memory_state: launch.memory_state,
                keep_data: launch.keep_data,
            };
            Box::new(ProcessSystem::start(&spec, &launch.stream, seed, &options)?)
        }
    };
    Ok(started)
}

/// Plays `schedule` against a fresh `spec`. `runtime` is the harness's own
/// (the load generator's); `stop` is set by Ctrl-C; `launch` says how the
/// variant runs and which stream carries the async variant's events.
pub fn run_variant(
    runtime: &Runtime,
    scenario: &Scenario,
    schedule: &Schedule,
    spec: &VariantSpec,
    stop: &Arc<AtomicBool>,
    launch: &Launch,
) -> anyhow::Result<VariantRun> {
    let spec = spec
        .clone()
        .with_idempotency(scenario.idempotency)
        .with_stream(launch.stream.clone());
    let system = start_system(&spec, launch, scenario.seed).with_context(|| {
        format!(
            "starting the {} variant ({})",
            spec.name,
            launch.mode.name()
        )
    })?;
    let outcome = drive(runtime, scenario, schedule, &spec, &*system, stop);
    system.shutdown();
    outcome
}

/// What every phase needs: the run's inputs and the system under test.
struct Ctx<'a> {
    runtime: &'a Runtime,
    scenario: &'a Scenario,
    schedule: &'a Schedule,
    spec: &'a VariantSpec,
    system: &'a dyn System,
    stop: &'a Arc<AtomicBool>,
    client: Client,
    edges: Edges,
}

/// The phases of the module doc, in order.
fn drive(
    runtime: &Runtime,
    scenario: &Scenario,
    schedule: &Schedule,
    spec: &VariantSpec,
    system: &dyn System,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<VariantRun> {
    let ctx = Ctx {
        runtime,
        scenario,
        schedule,
        spec,
        system,
        stop,
        client: load::client().context("building the load generator's HTTP client")?,
        edges: Edges {
            incentives: system.incentives_addr(),
            payments: system.payments_addr(),
        },
    };
    let mut fingerprint = Fingerprint::default();
    setup(&ctx, &mut fingerprint)?;
    let loaded = load_and_timeline(&ctx, &mut fingerprint);
    let settled = settle(&ctx, loaded)?;
    read_and_reconcile(&ctx, settled, fingerprint)
}

/// Setup: every courier gets its seeded performance; then wait (bounded)
/// until the variant has absorbed it.
fn setup(ctx: &Ctx, fingerprint: &mut Fingerprint) -> anyhow::Result<()> {
    let setup = &ctx.schedule.setup;
    ctx.runtime
        .block_on(load::set_performances(
            &ctx.client,
            ctx.edges.incentives,
            setup,
        ))
        .map_err(anyhow::Error::msg)
        .context("setup")?;
    setup.iter().for_each(|&(c, p)| fingerprint.add_setup(c, p));
    if wait_until_settled(ctx.system, SETTLE_BOUND, ctx.stop).is_none() {
        anyhow::ensure!(
            !ctx.stop.load(Ordering::Relaxed),
            "setup: Ctrl-C came before the {} variant had absorbed the couriers' performances",
            ctx.system.variant()
        );
        anyhow::bail!(
            "setup: the {} variant did not absorb the couriers' performances within {SETTLE_BOUND:?}",
            ctx.system.variant()
        );
    }
    Ok(())
}

/// What the load phase leaves for the next.
struct Loaded<'a> {
    t0: Instant,
    /// t = 0 on the ledger's clock.
    t0_wall_us: u64,
    load: JoinHandle<load::Played>,
    timeline: Timeline<'a>,
    samples: Vec<BacklogPoint>,
}

/// Load and timeline: the generator plays the schedule on the harness runtime
/// while this thread switches faults and samples the backlog, until the
/// scenario's duration (or Ctrl-C).
fn load_and_timeline<'a>(ctx: &Ctx<'a>, fingerprint: &mut Fingerprint) -> Loaded<'a> {
    let (scenario, system) = (ctx.scenario, ctx.system);
    let t0 = Instant::now() + START_DELAY;
    let t0_wall_us = unix_us_at(t0);
    let sent = Arc::new(AtomicU64::new(0));
    let load = ctx.runtime.spawn(load::play(
        ctx.schedule.requests.clone().into(),
        ctx.edges,
        tokio::time::Instant::from_std(t0),
        ctx.stop.clone(),
        sent.clone(),
    ));
    let progress = progress_bar(scenario, &ctx.spec.name, ctx.schedule.requests.len());
    let mut timeline = Timeline::new(ctx.schedule);
    let mut samples = Vec::new();
    let mut next_sample = Duration::ZERO;
    // Bounded: ends at the scenario's duration (or at Ctrl-C).
    while !ctx.stop.load(Ordering::Relaxed) {
        let now = Instant::now().saturating_duration_since(t0);
        if now >= scenario.duration {
            break;
        }
        timeline.apply_due(system, now, fingerprint);
        if now >= next_sample {
            samples.push(sample(&system.stats(), now));
            next_sample += SAMPLE_EVERY;
            progress.set_position(now.as_millis() as u64);
            progress.set_message(format!(
                "sent {} · backlog {}",
                sent.load(Ordering::Relaxed),
                samples.last().map_or(0, |p: &BacklogPoint| p.backlog)
            ));
        }
        let wake = next_sample.min(timeline.next_due()).min(scenario.duration);
        std::thread::sleep(wake.saturating_sub(Instant::now().saturating_duration_since(t0)));
    }
    progress.finish_and_clear();
    Loaded {
        t0,
        t0_wall_us,
        load,
        timeline,
        samples,
    }
}

/// What the settle phase leaves for the last.
struct Settled<'a> {
    t0_wall_us: u64,
    played: load::Played,
    timeline: Timeline<'a>,
    samples: Vec<BacklogPoint>,
    /// Seconds from the end of the timeline to settled; `None`: never settled.
    drain_phase_s: Option<f64>,
    /// Why the figures are not evidence, so far.
    reasons: Vec<String>,
}

/// Settle: every fault healed; wait until the load has finished and the
/// variant has nothing under way anywhere ([`Stats::is_settled`]) twice in a
/// row with no payout in between, bounded by the drain bound. Only then can
/// the payouts be read.
fn settle<'a>(ctx: &Ctx, loaded: Loaded<'a>) -> anyhow::Result<Settled<'a>> {
    let Loaded {
        t0,
        t0_wall_us,
        load,
        mut timeline,
        mut samples,
    } = loaded;
    timeline.heal_all(ctx.system);
    let started = Instant::now();
    let full_bound = if ctx.scenario.quick {
        DRAIN_BOUND_QUICK
    } else {
        DRAIN_BOUND
    };
    let mut next_sample = Instant::now();
    let mut last: Option<Stats> = None;
    let mut drain_phase_s = None;
    // Bounded by `bound` (shortened if Ctrl-C comes, even mid-drain).
    loop {
        let bound = if ctx.stop.load(Ordering::Relaxed) {
            full_bound.min(DRAIN_BOUND_INTERRUPTED)
        } else {
            full_bound
        };
        let stats = ctx.system.stats();
        if Instant::now() >= next_sample {
            samples.push(sample(&stats, Instant::now().saturating_duration_since(t0)));
            next_sample += SAMPLE_EVERY;
        }
        let quiet = load.is_finished() && stats.is_settled();
        if quiet && last.is_some_and(|l| l.payouts == stats.payouts) {
            drain_phase_s = Some(round_ms(started.elapsed().as_secs_f64()));
            break;
        }
        last = quiet.then_some(stats);
        if started.elapsed() >= bound {
            break;
        }
        std::thread::sleep(SETTLE_POLL);
    }
    let mut reasons = Vec::new();
    if drain_phase_s.is_none() {
        let s = ctx.system.stats();
        reasons.push(format!(
            "did not settle within {:?} after the timeline (load finished: {}; backlog {}, \
             queued jobs {}, busy workers {}, calls in flight {}, requests in the edges {}): \
             work still under way may be counted as lost",
            started.elapsed(),
            load.is_finished(),
            s.backlog(),
            s.queued_jobs,
            s.busy_workers,
            s.in_flight_calls,
            s.incentives.in_flight + s.payments.in_flight,
        ));
    }
    // Bounded by the client timeout (or the interrupt grace) inside `play`.
    let played = ctx
        .runtime
        .block_on(load)
        .context("the load generator failed")?;
    Ok(Settled {
        t0_wall_us,
        played,
        timeline,
        samples,
        drain_phase_s,
        reasons,
    })
}

/// Read and reconcile: the payouts, matched request by request; the ledger's
/// own count must equal the payouts reconciled, or the run is not evidence.
fn read_and_reconcile(
    ctx: &Ctx,
    settled: Settled,
    fingerprint: Fingerprint,
) -> anyhow::Result<VariantRun> {
    let (scenario, schedule) = (ctx.scenario, ctx.schedule);
    let Settled {
        t0_wall_us,
        played,
        timeline,
        samples,
        drain_phase_s,
        mut reasons,
    } = settled;
    let before = ctx.system.stats();
    let payouts = ctx
        .runtime
        .block_on(fetch_payouts(
            &ctx.client,
            ctx.edges.payments,
            scenario.workload.couriers,
        ))
        .map_err(anyhow::Error::msg)
        .context("reconciliation")?;
    let final_stats = ctx.system.stats();
    let money = reconcile(
        &schedule.setup,
        &schedule.requests,
        &played.records,
        &payouts,
        t0_wall_us,
    );
    reasons.extend(evidence_reasons(&before, &final_stats, &money));
    let internal_errors = internal_errors(ctx, &final_stats, &timeline);
    reasons.extend(harness_reasons(ctx, &internal_errors));
    let (operations, histograms) = measure::operations(
        &schedule.requests,
        &played.records,
        scenario.slo,
        scenario.duration,
    );
    let drain_from_s = scenario.last_fault_end().unwrap_or_default().as_secs_f64();
    let (slo, length, faults) = (scenario.slo, scenario.duration, &schedule.faults);
    let results = VariantResults {
        variant: ctx.spec.name.clone(),
        base: ctx.spec.base().name().to_string(),
        configuration: ctx.spec.configuration(),
        recovery: measure::recovery(&schedule.requests, &played.records, slo, length, faults),
        amplification: measure::amplification(&final_stats, &operations),
        schedule_fingerprint: fingerprint.with_requests(played.fingerprint).finish(),
        not_applicable: timeline.not_applicable,
        interrupted: ctx.stop.load(Ordering::Relaxed),
        evidence: Evidence::from_reasons(reasons),
        internal_errors,
        operations,
        bonuses: money.bonuses,
        deliveries: money.deliveries,
        bonus_to_paid_ms: money.bonus_to_paid_ms,
        backlog: measure::backlog(&samples, drain_from_s, drain_phase_s),
        money: money.money,
        money_series: money.series,
        phases: measure::phases(&schedule.requests, &played.records, slo, length, faults),
        final_stats,
        load_lateness_ms: measure::lateness(&schedule.requests, &played.records),
        host_steal: played.host_steal,
    };
    Ok(VariantRun {
        results,
        histograms,
        records: played.records,
    })
}

/// Why the figures are not evidence beyond the design's own: internal
/// errors of the variant or the harness, and an interrupted run.
fn harness_reasons(ctx: &Ctx, internal_errors: &InternalErrors) -> Vec<String> {
    let mut reasons = Vec::new();
    if internal_errors.count > 0 {
        reasons.push(format!(
            "{} of the variant or the harness: {}",
            crate::report::format::plural(
                internal_errors.count,
                "internal error",
                "internal errors"
            ),
            internal_errors.reasons.join("; ")
        ));
    }
    if ctx.stop.load(Ordering::Relaxed) {
        reasons.push("interrupted by Ctrl-C: the figures cover what ran".to_string());
    }
    reasons
}

/// The variant's own machinery failed (a heal, a rebind, a consumer restart,
/// a dropped resend): its counter and the harness's failed heals, with the
/// reasons kept. Any at all, and the figures are not evidence either.
fn internal_errors(ctx: &Ctx, final_stats: &Stats, timeline: &Timeline<'_>) -> InternalErrors {
    let mut reasons = timeline.heal_failures.clone();
    reasons.extend(ctx.system.internal_errors());
    InternalErrors {
        count: final_stats.internal_errors + timeline.heal_failed,
        reasons,
    }
}

/// What the ledger's own counter says against what was read and reconciled.
/// `before` and `after` are the variant's counters around the read.
pub fn evidence_reasons(before: &Stats, after: &Stats, money: &Reconciled) -> Vec<String> {
    let mut reasons = Vec::new();
    if before.payouts != after.payouts {
        reasons.push(format!(
            "the ledger paid while its payouts were read ({} → {} payouts)",
            before.payouts, after.payouts
        ));
    }
    let reconciled = money.matched_rows + money.money.unmatched_payouts;
    if after.payouts != money.rows || money.rows != reconciled {
        reasons.push(format!(
            "the ledger counts {} payouts, {} were read and {} reconciled",
            after.payouts, money.rows, reconciled
        ));
    }
    reasons
}

fn sample(stats: &Stats, at: Duration) -> BacklogPoint {
    BacklogPoint {
        t_s: round_ms(at.as_secs_f64()),
        backlog: stats.backlog(),
        busy_workers: stats.busy_workers,
        in_flight_calls: stats.in_flight_calls,
    }
}

/// Polls until nothing is under way ([`Stats::is_settled`]); returns how long
/// it took, or `None` if `bound` passed first or Ctrl-C came.
fn wait_until_settled(system: &dyn System, bound: Duration, stop: &AtomicBool) -> Option<Duration> {
    let started = Instant::now();
    // Bounded by `bound`: SETTLE_POLL steps.
    while started.elapsed() < bound && !stop.load(Ordering::Relaxed) {
        if system.stats().is_settled() {
            return Some(started.elapsed());
        }
        std::thread::sleep(SETTLE_POLL);
    }
    None
}

/// A bar per run on a terminal; nothing when stderr is a file or a pipe.
fn progress_bar(scenario: &Scenario, variant: &str, requests: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(scenario.duration.as_millis() as u64);
    let style = ProgressStyle::with_template("{prefix:<32} [{bar:30}] {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!(
        "{} · {variant} ({requests} requests)",
        scenario.name
    ));
    bar
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}
