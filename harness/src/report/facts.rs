//! Figures the report derives from the results, beyond single fields: the
//! edge operations by name, the fault windows, what each variant did inside a
//! window (requests served, backlog peak, drain), and what a variant's backlog
//! is made of.
//!
//! The narrative ([`super::narrative`]), the predictions ([`super::theory`]) and
//! the charts ([`super::charts`]) all read windows the same way through this
//! file, so a sentence, a prediction and a shaded band never disagree about
//! when a fault was on.

use crate::results::{
    BacklogPoint, OperationResults, Operations, Phase, ScenarioResults, SecondPoint, TimelineEntry,
    VariantResults,
};

/// One of the three edge operations the workload sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Bonus,
    Delivery,
    Performance,
}

impl Op {
    pub const ALL: [Op; 3] = [Op::Bonus, Op::Delivery, Op::Performance];

    /// The request's noun, singular: "bonus request".
    pub fn noun(self) -> &'static str {
        match self {
            Op::Bonus => "bonus",
            Op::Delivery => "delivery",
            Op::Performance => "performance",
        }
    }

    /// The edge call that carries it, for captions.
    pub fn endpoint(self) -> &'static str {
        match self {
            Op::Bonus => "POST /incentives/bonuses/{id}",
            Op::Delivery => "POST /payments",
            Op::Performance => "POST /incentives/performance/{id}",
        }
    }

    pub fn of(self, operations: &Operations) -> &OperationResults {
        match self {
            Op::Bonus => &operations.bonus,
            Op::Delivery => &operations.delivery,
            Op::Performance => &operations.performance,
        }
    }

    pub fn in_phase(self, phase: &Phase) -> Option<f64> {
        match self {
            Op::Bonus => phase.bonus,
            Op::Delivery => phase.delivery,
            Op::Performance => phase.performance,
        }
    }

    /// The scenario's arrival rate for this operation, per second.
    pub fn rate(self, results: &ScenarioResults) -> f64 {
        match self {
            Op::Bonus => results.workload.bonus_rate,
            Op::Delivery => results.workload.delivery_rate,
            Op::Performance => results.workload.performance_rate,
        }
    }
}

/// A fault on the timeline, with its span in seconds since the run started.
#[derive(Clone, Copy, Debug)]
pub struct Window<'a> {
    /// The fault's index in `ScenarioResults::timeline`: what a variant's
    /// `not_applicable[].fault` refers to.
    pub index: usize,
    pub entry: &'a TimelineEntry,
    pub start: f64,
    pub end: f64,
    /// Where the figures attributed to this window stop: a little after the
    /// fault ends (a backlog peaks as its consumer restarts), but never into
    /// the next fault or past the run.
    pub settle: f64,
}

/// How long after a fault a backlog may still be counted as that fault's: a
/// consumer restarts with a backoff of up to 200 ms and the sampler looks every
/// 100 ms, so 2 s is ample, yet short next to any scenario's quiet phase.
const SETTLE_S: f64 = 2.0;

impl Window<'_> {
    pub fn length(&self) -> f64 {
        self.end - self.start
    }

    /// "the 10 s payments crash (t = 10–20 s)".
    pub fn describe(&self) -> String {
        format!(
            "the {} {} (t = {}–{} s)",
            super::format::secs(Some(self.length())),
            self.entry.label,
            super::format::number(self.start),
            super::format::number(self.end)
        )
    }
}

/// The timeline's faults in start order.
pub fn windows(results: &ScenarioResults) -> Vec<Window<'_>> {
    // Sorted with their timeline index, which applicability is decided by.
    let mut entries: Vec<(usize, &TimelineEntry)> = results.timeline.iter().enumerate().collect();
    entries.sort_by(|a, b| a.1.start_s.total_cmp(&b.1.start_s));
    (0..entries.len())
        .map(|i| {
            let (index, entry) = entries[i];
            let end = entry.start_s + entry.duration_s;
            let next = entries
                .get(i + 1)
                .map_or(f64::INFINITY, |next| next.1.start_s);
            // Not capped at the run's end: the backlog is sampled on through
            // the drain phase, and a fault that ends with the load still peaks.
            let settle = (end + SETTLE_S).min(next.max(end));
            Window {
                index,
                entry,
                start: entry.start_s,
                end,
                settle,
            }
        })
        .collect()
}

/// Requests sent and served within the SLO, counted over a span of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub sent: u64,
    pub ok: u64,
}

impl Tally {
    pub fn availability(self) -> Option<f64> {
        (self.sent > 0).then(|| self.ok as f64 / self.sent as f64)
    }
}

/// Sums the per-second points whose second's midpoint lies in `[start, end)`.
/// The series is by *scheduled* time, so a request sent just before a fault
/// and answered during it counts before it: the tally's edges are accurate to
/// one second.
pub fn tally(series: &[SecondPoint], start: f64, end: f64) -> Tally {
    series
        .iter()
        .filter(|p| {
            let mid = p.t_s as f64 + 0.5;
            mid >= start && mid < end
        })
        .fold(Tally::default(), |acc, p| Tally {
            sent: acc.sent + p.sent,
            ok: acc.ok + p.ok,
        })
}

/// The phase the harness measured for this window, if one covers it: the
/// phase that overlaps the window for at least 80 % of both their lengths
/// (phase boundaries may be rounded to the sampler's tick).
pub fn phase_during<'a>(variant: &'a VariantResults, window: &Window) -> Option<&'a Phase> {
    variant.phases.iter().find(|phase| {
        let overlap = phase.end_s.min(window.end) - phase.start_s.max(window.start);
        let longer = (phase.end_s - phase.start_s).max(window.length());
        longer > 0.0 && overlap >= 0.8 * longer
    })
}

/// An operation's availability during a window: the harness's phase figure
/// when there is one, else counted from the per-second series.
pub fn availability_during(variant: &VariantResults, window: &Window, op: Op) -> Option<f64> {
    match phase_during(variant, window) {
        Some(phase) => op.in_phase(phase),
        None => tally(&op.of(&variant.operations).series, window.start, window.end).availability(),
    }
}

/// The highest backlog sampled from a window's start to its settle time.
pub fn backlog_peak(series: &[BacklogPoint], window: &Window) -> Option<u64> {
    series
        .iter()
        .filter(|p| p.t_s >= window.start && p.t_s <= window.settle)
        .map(|p| p.backlog)
        .max()
}

/// Seconds from the window's end until the backlog was first sampled at 0,
/// looking no further than the next fault. `None` when it never emptied there.
pub fn backlog_drain(series: &[BacklogPoint], window: &Window, until: f64) -> Option<f64> {
    series
        .iter()
        .find(|p| p.t_s >= window.end && p.t_s <= until && p.backlog == 0)
        .map(|p| p.t_s - window.end)
}

/// The sampler's interval, read from the series itself (the median spacing).
pub fn sample_interval(series: &[BacklogPoint]) -> Option<f64> {
    let mut gaps: Vec<f64> = series
        .windows(2)
        .map(|pair| pair[1].t_s - pair[0].t_s)
        .filter(|gap| *gap > 0.0)
        .collect();
    gaps.sort_by(f64::total_cmp);
    gaps.get(gaps.len() / 2).copied()
}

/// What a variant's backlog counts, for sentences and axis labels.
pub fn backlog_unit(variant: &str) -> &'static str {
    match variant {
        "sync-buffered" => "bonuses in Incentives' buffer",
        "async" => "events in the outbox and on the stream",
        _ => "accepted, unfinished items",
    }
}

/// The variants a scenario ran, in the canonical order (sync, sync-buffered,
/// async, then any other by name), so every table and chart lists them alike.
pub fn ordered(results: &ScenarioResults) -> Vec<&VariantResults> {
    let mut variants: Vec<&VariantResults> = results.variants.iter().collect();
    variants.sort_by_key(|v| (variant_rank(&v.variant), v.variant.clone()));
    variants
}

/// Rank of a variant name in the canonical order.
pub fn variant_rank(name: &str) -> usize {
    common::system::Variant::ALL
        .iter()
        .position(|v| v.name() == name)
        .unwrap_or(common::system::Variant::ALL.len())
}
