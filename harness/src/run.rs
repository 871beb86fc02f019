//! One run: one scenario against one variant, from a fresh start to shutdown.
//!
//! ```text
//! start ─ setup ─ settle ─┬─ t=0 ── load (open loop, its own runtime) ──────┬─ drain ─ reconcile ─ shutdown
//!                         └─ timeline: faults on/off, stats every 100 ms ───┘
//! ```
//!
//! - **start**: a new system on `127.0.0.1:0`, nothing carried over.
//! - **setup**: every courier gets its seeded performance; then the harness
//!   waits (bounded) until the variant has absorbed it — `backlog() == 0`, for
//!   the async variant the events have reached Payments' copy.
//! - **load and timeline**: the load generator plays the schedule on the
//!   harness's runtime while this thread — a plain thread, which owns the
//!   system — injects and heals faults at their times and samples
//!   `System::stats()` for the backlog series.
//! - **drain**: load has stopped, every fault is healed; the harness waits
//!   (bounded) until every backlog is empty and every request has its answer,
//!   and records how long that took.
//! - **reconcile**: `reconcile.rs` matches every payout to its request.
//!
//! Next: `measure.rs` and `reconcile.rs`; `suite.rs` runs many of these.

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use common::ledger::now_unix_us;
use common::system::{System, Variant};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::runtime::Runtime;

use crate::load::{self, Edges};
use crate::measure;
use crate::reconcile::{fetch_payouts, reconcile};
use crate::results::{BacklogPoint, InternalErrors, NotApplicable, Percentiles, VariantResults};
use crate::scenario::Scenario;
use crate::schedule::{Fingerprint, Schedule};

/// How often the backlog is sampled: ten points a second draws a smooth curve
/// and costs a variant ten counter reads a second.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The load starts this long after it is spawned, so that t = 0 is not
/// already past when its first request is due.
const START_DELAY: Duration = Duration::from_millis(100);

/// Longest wait for a variant to absorb the setup (async: the performance
/// events reach Payments' copy in milliseconds; this only bounds a bug).
const SETTLE_BOUND: Duration = Duration::from_secs(10);

/// Longest drain after the timeline, full and `--quick`. Every suite scenario
/// drains in well under a second once its fault is healed; the bound keeps a
/// variant that never drains from holding the suite, and its `drain_s` is
/// then `null`.
const DRAIN_BOUND: Duration = Duration::from_secs(10);
const DRAIN_BOUND_QUICK: Duration = Duration::from_secs(3);

/// The drain after Ctrl-C: short, because the user wants out, but long enough
/// for a resend round or a consumer pass, so that work merely in transit is not
/// reported as lost.
const DRAIN_BOUND_INTERRUPTED: Duration = Duration::from_secs(1);

/// What one run produced: its results, the latency histograms (µs) per
/// operation behind them (for the `.hgrm` files), and how late the load
/// generator sent its requests — the evidence that the generator, not the
/// variant, was never the bottleneck (printed with each run's summary).
#[derive(Debug)]
pub struct VariantRun {
    pub results: VariantResults,
    pub histograms: [Histogram<u64>; 3],
    pub load_lateness_ms: Percentiles,
}

/// Plays `schedule` against a fresh `variant`. `runtime` is the harness's own
/// (the load generator's); `stop` is set by Ctrl-C.
pub fn run_variant(
    runtime: &Runtime,
    scenario: &Scenario,
    schedule: &Schedule,
    variant: Variant,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<VariantRun> {
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let system = crate::variants::start(variant, loopback, loopback, scenario.seed)
        .with_context(|| format!("starting the {variant} variant"))?;
    let outcome = drive(runtime, scenario, schedule, &*system, stop);
    system.shutdown();
    outcome
}

fn drive(
    runtime: &Runtime,
    scenario: &Scenario,
    schedule: &Schedule,
    system: &dyn System,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<VariantRun> {
    let edges = Edges {
        incentives: system.incentives_addr(),
        payments: system.payments_addr(),
    };
    let client = load::client().context("building the load generator's HTTP client")?;
    let mut fingerprint = Fingerprint::default();

    // Setup, then wait until the variant has absorbed it.
    runtime
        .block_on(load::set_performances(
            &client,
            edges.incentives,
            &schedule.setup,
        ))
        .map_err(anyhow::Error::msg)
        .context("setup")?;
    schedule
        .setup
        .iter()
        .for_each(|&(c, p)| fingerprint.add_setup(c, p));
    if wait_for_empty_backlog(system, SETTLE_BOUND, stop).is_none() {
        anyhow::bail!(
            "setup: the {} variant did not absorb the couriers' performances within {SETTLE_BOUND:?}",
            system.variant()
        );
    }

    // Load on the harness runtime; timeline and sampler here.
    let t0 = Instant::now() + START_DELAY;
    let t0_wall_us = now_unix_us() + START_DELAY.as_micros() as u64;
    let sent = Arc::new(AtomicU64::new(0));
    let load = runtime.spawn(load::play(
        schedule.requests.clone().into(),
        edges,
        tokio::time::Instant::from_std(t0),
        stop.clone(),
        sent.clone(),
    ));
    let progress = progress_bar(scenario, system.variant(), schedule.requests.len());
    let mut timeline = Timeline::new(schedule);
    let mut samples = Vec::new();
    let mut next_sample = Duration::ZERO;
    // Bounded: ends at the scenario's duration (or at Ctrl-C).
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now().saturating_duration_since(t0);
        if now >= scenario.duration {
            break;
        }
        timeline.apply_due(system, now, &mut fingerprint);
        if now >= next_sample {
            samples.push(sample(system, now));
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

    // Drain: every fault healed, load finishing; wait for empty backlogs.
    timeline.heal_all(system);
    let drain_started = Instant::now();
    let full_bound = if scenario.quick {
        DRAIN_BOUND_QUICK
    } else {
        DRAIN_BOUND
    };
    let mut drain_phase_s = None;
    // Bounded by `bound` (shortened if Ctrl-C comes, even mid-drain).
    loop {
        let bound = if stop.load(Ordering::Relaxed) {
            full_bound.min(DRAIN_BOUND_INTERRUPTED)
        } else {
            full_bound
        };
        let point = sample(system, Instant::now().saturating_duration_since(t0));
        samples.push(point);
        if point.backlog == 0 && drain_phase_s.is_none() {
            drain_phase_s = Some(drain_started.elapsed().as_secs_f64());
        }
        if (drain_phase_s.is_some() && load.is_finished()) || drain_started.elapsed() >= bound {
            break;
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
    // Bounded by the client timeout (or the interrupt grace) inside `play`.
    let played = runtime
        .block_on(load)
        .context("the load generator failed")?;
    let fingerprint = fingerprint.with_requests(played.fingerprint);

    let payouts = runtime
        .block_on(fetch_payouts(
            &client,
            edges.payments,
            scenario.workload.couriers,
        ))
        .map_err(anyhow::Error::msg)
        .context("reconciliation")?;
    let money = reconcile(
        &schedule.setup,
        &schedule.requests,
        &played.records,
        &payouts,
        t0_wall_us,
    );
    let (operations, histograms) = measure::operations(
        &schedule.requests,
        &played.records,
        scenario.slo,
        scenario.duration,
    );
    let drain_from_s = scenario.last_fault_end().unwrap_or_default().as_secs_f64();
    let final_stats = system.stats();
    let mut internal_reasons = timeline.heal_failures;
    internal_reasons.extend(system.internal_errors());
    let results = VariantResults {
        variant: system.variant().name().to_string(),
        schedule_fingerprint: fingerprint.finish(),
        not_applicable: timeline.not_applicable,
        interrupted: stop.load(Ordering::Relaxed),
        internal_errors: InternalErrors {
            count: final_stats.internal_errors + timeline.heal_failed,
            reasons: internal_reasons,
        },
        operations,
        bonuses: money.bonuses,
        deliveries: money.deliveries,
        bonus_to_paid_ms: money.bonus_to_paid_ms,
        backlog: measure::backlog(&samples, drain_from_s, drain_phase_s.map(round_ms)),
        money: money.money,
        phases: measure::phases(
            &schedule.requests,
            &played.records,
            scenario.slo,
            scenario.duration,
            &schedule.faults,
        ),
        final_stats,
    };
    let load_lateness_ms = measure::lateness(&schedule.requests, &played.records);
    Ok(VariantRun {
        results,
        histograms,
        load_lateness_ms,
    })
}

/// The faults' on and off switches, in time order.
struct Timeline<'a> {
    schedule: &'a Schedule,
    /// `(time, fault index, inject?)`, sorted; heals before injects at a tie.
    actions: Vec<(Duration, usize, bool)>,
    next: usize,
    active: Vec<bool>,
    /// Faults the variant refused, by their index in `schedule.faults` — which
    /// is also their index in `ScenarioResults::timeline`, since `suite.rs`
    /// builds the timeline from the same list in the same order.
    not_applicable: Vec<NotApplicable>,
    /// Heals that failed (the variant's own error, returned by `heal`), and
    /// why, naming the fault: internal errors of the run.
    heal_failed: u64,
    heal_failures: Vec<String>,
}

impl<'a> Timeline<'a> {
    fn new(schedule: &'a Schedule) -> Timeline<'a> {
        let mut actions: Vec<_> = schedule
            .faults
            .iter()
            .enumerate()
            .flat_map(|(i, f)| [(f.start, i, true), (f.end(), i, false)])
            .collect();
        actions.sort_by_key(|&(at, i, inject)| (at, inject, i));
        Timeline {
            schedule,
            actions,
            next: 0,
            active: vec![false; schedule.faults.len()],
            not_applicable: Vec::new(),
            heal_failed: 0,
            heal_failures: Vec::new(),
        }
    }

    fn next_due(&self) -> Duration {
        self.actions.get(self.next).map_or(Duration::MAX, |a| a.0)
    }

    fn apply_due(&mut self, system: &dyn System, now: Duration, fingerprint: &mut Fingerprint) {
        while let Some(&(at, i, inject)) = self.actions.get(self.next) {
            if at > now {
                break;
            }
            self.next += 1;
            let timed = &self.schedule.faults[i];
            if inject {
                fingerprint.add_fault(timed);
                match system.inject(&timed.fault) {
                    Ok(()) => self.active[i] = true,
                    Err(refused) => self.not_applicable.push(NotApplicable {
                        fault: i,
                        label: timed.fault.to_string(),
                        reason: refused.reason.to_string(),
                    }),
                }
            } else if self.active[i] {
                self.heal(system, i);
            }
        }
    }

    /// Ends every fault still on (the timeline ended, or Ctrl-C).
    fn heal_all(&mut self, system: &dyn System) {
        for i in 0..self.active.len() {
            if self.active[i] {
                self.heal(system, i);
            }
        }
    }

    /// Ends fault `i`; a failure is recorded as an internal error of the run.
    fn heal(&mut self, system: &dyn System, i: usize) {
        let fault = &self.schedule.faults[i].fault;
        if let Err(error) = system.heal(fault) {
            self.heal_failed += 1;
            self.heal_failures
                .push(format!("healing fault {i} ({fault}) failed: {error}"));
        }
        self.active[i] = false;
    }
}

fn sample(system: &dyn System, at: Duration) -> BacklogPoint {
    let stats = system.stats();
    BacklogPoint {
        t_s: round_ms(at.as_secs_f64()),
        backlog: stats.backlog(),
        busy_workers: stats.busy_workers,
        in_flight_calls: stats.in_flight_calls,
    }
}

/// Polls until the backlog is empty; returns how long it took, or `None` if
/// `bound` passed first or Ctrl-C came.
fn wait_for_empty_backlog(
    system: &dyn System,
    bound: Duration,
    stop: &AtomicBool,
) -> Option<Duration> {
    let started = Instant::now();
    // Bounded by `bound`: 10 ms steps.
    while started.elapsed() < bound && !stop.load(Ordering::Relaxed) {
        if system.stats().backlog() == 0 {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A bar per run on a terminal; nothing when stderr is a file or a pipe.
fn progress_bar(scenario: &Scenario, variant: Variant, requests: usize) -> ProgressBar {
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
