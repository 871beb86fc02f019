//! The throughput suite: the highest rate each endpoint sustains under one
//! latency rule, each as a ratio to the bare HTTP hop measured in the same
//! run — plus the load generator checked against `oha` on that bare hop.
//!
//! Order of a run: the floor with our generator; the floor with oha (maximum
//! rate, then a fixed moderate rate, alternating the two generators so drift
//! in the machine hits both); then each variant, each operation. For bonuses
//! the asynchronous variant is searched twice: once for its edge answer, once
//! for "bonus → paid" — a rate passes only if the last accepted bonus is paid
//! within the p99 bound of the last answer, i.e. the consumer keeps up.
//!
//! With `--streams memory,nats` the asynchronous variant is searched once per
//! stream in the same run (a private `nats-server` started for it), its lines
//! named `async on nats: …`: the real broker's cost as ratios measured side
//! by side.
//!
//! `src/bin/throughput.rs` turns flags into [`Settings`]; [`Report::render`]
//! is what it prints.

use std::time::Duration;

use commlab::broker::{Broker, StreamOption};
use commlab::host;
use common::system::{System, Variant};

use crate::driver::{Driver, await_payouts, settle};
use crate::edge::{EdgeOp, Target, start_variant_with};
use crate::floor::FloorServer;
use crate::oha::Oha;
use crate::search::{Criteria, Outcome, Plan, Probe, search};

/// How long accepted work may take to show up as payouts when the check is
/// only bookkeeping (the edge searches), not a pass criterion.
const WORK_LIMIT: Duration = Duration::from_secs(10);

/// Everything a throughput run is shaped by; defaults in [`Settings::default`].
#[derive(Clone, Debug)]
pub struct Settings {
    pub criteria: Criteria,
    pub plan: Plan,
    /// Length of each step. Default 3 s: ≥ 1,500 samples at the first rate,
    /// and long enough that a one-off scheduling hiccup is ≤ 1 % of a step.
    pub step: Duration,
    /// Client runtime threads (and oha's). Default: the machine's cores.
    pub client_threads: usize,
    pub variants: Vec<Variant>,
    pub ops: Vec<EdgeOp>,
    /// Compare with oha on the floor, if oha is installed. Default on.
    pub oha: bool,
    /// The fixed "moderate" rate of the latency comparison. Default 2,000/s:
    /// a tenth or less of the floor's maximum on 2 cores, so neither
    /// generator is near its limit and the comparison is of measurement.
    pub fixed_rate: f64,
    /// Default 10 s: 20,000 samples at 2,000/s, so the p99 rests on 200.
    pub fixed_duration: Duration,
    /// Alternating ours/oha runs at the fixed rate. Default 3.
    pub fixed_repeats: usize,
    /// Which generator drives the variants. Default ours; oha (which needs
    /// `oha` installed) gives the server-bound figures where ours is the
    /// bottleneck — see the README.
    pub generator: Generator,
    /// Worker threads per synchronous service; `None`: the variant's default.
    pub sync_workers: Option<usize>,
    /// The asynchronous variant's streams, each searched in the same run so
    /// that their ratios compare (`--streams memory,nats`). Default memory.
    pub streams: Vec<StreamOption>,
}

/// The load generator that drives the variant searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generator {
    Ours,
    Oha,
}

impl Generator {
    pub fn name(self) -> &'static str {
        match self {
            Generator::Ours => "ours",
            Generator::Oha => "oha",
        }
    }
}

/// A generator ready to run steps.
#[derive(Clone, Copy, Debug)]
enum Runner<'a> {
    Ours(&'a Driver),
    Oha(&'a Oha),
}

impl Runner<'_> {
    fn name(&self) -> &'static str {
        match self {
            Runner::Ours(_) => "ours",
            Runner::Oha(_) => "oha",
        }
    }

    /// One step, judged. oha sends the target's first request only (one
    /// courier): it has no notion of a set of bodies.
    fn probe(
        &self,
        criteria: &Criteria,
        target: &Target,
        rate: f64,
        step: Duration,
    ) -> anyhow::Result<Probe> {
        let (probe, steal) = host::steal_during(|| {
            anyhow::Ok(match self {
                Runner::Ours(driver) => criteria.judge(&driver.step(target, rate, step)),
                Runner::Oha(oha) => criteria.judge_oha(&oha.run(target.get(0), rate, step)?),
            })
        });
        Ok(Probe { steal, ..probe? })
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            criteria: Criteria::default(),
            plan: Plan::default(),
            step: Duration::from_secs(3),
            client_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            variants: vec![Variant::Sync, Variant::Async],
            ops: EdgeOp::ALL.to_vec(),
            oha: true,
            fixed_rate: 2000.0,
            fixed_duration: Duration::from_secs(10),
            fixed_repeats: 3,
            generator: Generator::Ours,
            sync_workers: None,
            streams: vec![StreamOption::Memory],
        }
    }
}

/// One searched endpoint.
#[derive(Clone, Debug)]
pub struct Line {
    pub endpoint: String,
    pub generator: &'static str,
    pub outcome: Outcome,
}

/// One run at the fixed rate.
#[derive(Clone, Debug)]
pub struct Fixed {
    pub generator: &'static str,
    pub probe: Probe,
}

/// What a run found.
#[derive(Clone, Debug)]
pub struct Report {
    pub settings: Settings,
    pub floor: Line,
    pub oha_floor: Option<Line>,
    pub fixed: Vec<Fixed>,
    /// Why there is no oha comparison, when there is none.
    pub oha_missing: Option<String>,
    /// The variants' lines, driven by `settings.generator`.
    pub lines: Vec<Line>,
}

/// Runs the suite. Call from a plain thread (it starts and stops variants).
pub fn run(settings: &Settings) -> anyhow::Result<Report> {
    let criteria = settings.criteria;
    let driver = Driver::new(settings.client_threads)?;
    let wants_oha = settings.oha || settings.generator == Generator::Oha;
    let oha = wants_oha.then(|| Oha::find(driver.threads)).flatten();
    let ours = Runner::Ours(&driver);
    let runner = match (settings.generator, &oha) {
        (Generator::Ours, _) => ours,
        (Generator::Oha, Some(oha)) => Runner::Oha(oha),
        (Generator::Oha, None) => {
            anyhow::bail!("--generator oha needs oha: `cargo install oha --locked`")
        }
    };

    let floor_server = FloorServer::start()?;
    let target = floor_server.target();
    let floor_name = "floor (bare hop)";
    let floor = search_endpoint(settings, ours, floor_name, &target, None, None)?;

    let mut fixed = Vec::new();
    let (oha_floor, oha_missing) = match (wants_oha, &oha) {
        (false, _) => (None, Some("skipped (--no-oha)".to_string())),
        (true, None) => (
            None,
            Some("oha not found: `cargo install oha --locked`".to_string()),
        ),
        (true, Some(oha)) => {
            let line =
                search_endpoint(settings, Runner::Oha(oha), floor_name, &target, None, None)?;
            // Alternating, so that a change in the machine's load hits both.
            for _ in 0..settings.fixed_repeats {
                for runner in [ours, Runner::Oha(oha)] {
                    let (rate, duration) = (settings.fixed_rate, settings.fixed_duration);
                    let probe = runner.probe(&criteria, &target, rate, duration)?;
                    log("fixed rate", runner.name(), &probe);
                    fixed.push(Fixed {
                        generator: runner.name(),
                        probe,
                    });
                    settle(None);
                }
            }
            (Some(line), None)
        }
    };
    floor_server.stop();

    let mut lines = Vec::new();
    for &variant in &settings.variants {
        let streams = match variant {
            Variant::Async => settings.streams.as_slice(),
            _ => &[StreamOption::Memory],
        };
        for stream in streams {
            lines.extend(search_variant(settings, runner, variant, stream)?);
        }
    }

    Ok(Report {
        settings: settings.clone(),
        floor,
        oha_floor,
        fixed,
        oha_missing,
        lines,
    })
}

/// Every operation of one variant on one stream; the broker a `nats` stream
/// needs is started first and stopped after.
fn search_variant(
    settings: &Settings,
    runner: Runner<'_>,
    variant: Variant,
    stream: &StreamOption,
) -> anyhow::Result<Vec<Line>> {
    let criteria = settings.criteria;
    let broker = Broker::start(stream)?;
    let system = start_variant_with(variant, settings.sync_workers, broker.choice())?;
    // Named as before on the default stream, so that summaries find them.
    let variant = match stream {
        StreamOption::Memory => variant.to_string(),
        other => format!("{variant} on {other}"),
    };
    let mut lines = Vec::new();
    for &op in &settings.ops {
        let target = op.target(&*system);
        let name = format!("{variant}: {}", op.name());
        let pays = (op != EdgeOp::PerformanceUpdate).then_some(&*system);
        lines.push(search_endpoint(
            settings, runner, &name, &target, pays, None,
        )?);
        if op == EdgeOp::Bonus && system.variant() == Variant::Async {
            let name = format!("{variant}: bonus → paid");
            let paid = Some(&*system);
            let bound = Some(criteria.p99_bound);
            lines.push(search_endpoint(
                settings, runner, &name, &target, paid, bound,
            )?);
        }
    }
    system.shutdown();
    drop(broker);
    Ok(lines)
}

/// Searches one endpoint with one generator. With a `system`, counts the
/// payouts the accepted requests made; with a `paid_within` bound too, a step
/// passes only if they were all paid within it of the last answer.
fn search_endpoint(
    settings: &Settings,
    runner: Runner<'_>,
    endpoint: &str,
    target: &Target,
    system: Option<&dyn System>,
    paid_within: Option<Duration>,
) -> anyhow::Result<Line> {
    let criteria = &settings.criteria;
    // Warm-up: connections, allocator, caches. Not judged.
    runner.probe(
        criteria,
        target,
        settings.plan.start_rate,
        Duration::from_secs(1),
    )?;
    settle(system);
    let outcome = search(&settings.plan, |rate| {
        let before = system.map(|s| s.stats().payouts);
        let mut probe = runner.probe(criteria, target, rate, settings.step)?;
        if let (Some(system), Some(before)) = (system, before) {
            let work = await_payouts(system, before, probe.ok, paid_within.unwrap_or(WORK_LIMIT));
            probe.note = format!("paid {}/{}", work.paid, probe.ok);
            match (work.drained_in, paid_within) {
                (Some(took), _) => {
                    probe.note += &format!(", last paid {:.1} ms after the last answer", ms(took));
                }
                (None, Some(bound)) if probe.passed => {
                    probe.passed = false;
                    probe.verdict = format!("not all paid within {:.0} ms", ms(bound));
                }
                (None, _) => {}
            }
        }
        log(endpoint, runner.name(), &probe);
        if !settle(system) {
            eprintln!("  warning: {endpoint} did not settle within the limit");
        }
        Ok(probe)
    })?;
    Ok(Line {
        endpoint: endpoint.to_string(),
        generator: runner.name(),
        outcome,
    })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn log(endpoint: &str, generator: &str, probe: &Probe) {
    let lateness = probe.lateness_us.map_or(String::new(), |(p50, p99)| {
        format!(", lateness p50 {p50} µs, p99 {p99} µs")
    });
    let steal = fmt_steal(probe.steal);
    eprintln!(
        "  {endpoint} [{generator}] {:>8.0}/s: {} (p50 {}, p99 {}{lateness}; host steal {steal}) {}",
        probe.rate,
        probe.verdict,
        fmt_ms(probe.p50_ms),
        fmt_ms(probe.p99_ms),
        probe.note
    );
}

pub(crate) fn fmt_steal(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), host::percent)
}

pub(crate) fn fmt_ms(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.2} ms"))
}
