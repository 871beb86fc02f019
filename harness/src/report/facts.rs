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
    BacklogPoint, OperationResults, Operations, ScenarioResults, SecondPoint, TimelineEntry,
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

/// Requests sent, served within the SLO, and accepted (2xx at any time),
/// counted over a span of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub sent: u64,
    pub ok: u64,
    /// `None` when the results predate the per-second `accepted` count.
    pub accepted: Option<u64>,
}

impl Tally {
    pub fn availability(self) -> Option<f64> {
        (self.sent > 0).then(|| self.ok as f64 / self.sent as f64)
    }

    /// The share the service took on (answered 2xx, late or not).
    pub fn acceptance(self) -> Option<f64> {
        let accepted = self.accepted?;
        (self.sent > 0).then(|| accepted as f64 / self.sent as f64)
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
        .fold(
            Tally {
                accepted: Some(0),
                ..Tally::default()
            },
            |acc, p| Tally {
                sent: acc.sent + p.sent,
                ok: acc.ok + p.ok,
                accepted: acc.accepted.zip(p.accepted).map(|(a, b)| a + b),
            },
        )
}

/// An operation's requests during a window, counted from the per-second
/// series: the one figure the narrative, the phase table and the theory read.
pub fn tally_during(variant: &VariantResults, window: &Window, op: Op) -> Tally {
    tally(&op.of(&variant.operations).series, window.start, window.end)
}

/// An operation's availability during a window, from [`tally_during`].
pub fn availability_during(variant: &VariantResults, window: &Window, op: Op) -> Option<f64> {
    tally_during(variant, window, op).availability()
}

/// A variant's backlog peak and the moment it was sampled: the one figure the
/// narrative, the backlog table, the charts' captions, the index and the
/// theory all state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeakAt {
    pub value: u64,
    /// When the peak was first sampled; `None` when the harness recorded a
    /// peak higher than any sample of the series (it was between two looks).
    pub t: Option<f64>,
}

/// The highest backlog of the run, with its time.
pub fn peak(variant: &VariantResults) -> PeakAt {
    let b = &variant.backlog;
    let sampled = b
        .series
        .iter()
        .fold(None::<&BacklogPoint>, |best, p| match best {
            Some(best) if best.backlog >= p.backlog => Some(best),
            _ => Some(p),
        });
    match sampled {
        Some(p) if p.backlog >= b.peak => PeakAt {
            value: p.backlog,
            t: Some(p.t_s),
        },
        _ => PeakAt {
            value: b.peak,
            t: None,
        },
    }
}

/// Where a moment of the run lies relative to the faults.
#[derive(Clone, Copy, Debug)]
pub enum When<'a> {
    /// Inside this fault's window.
    During(Window<'a>),
    /// After this fault (the latest one that ended before), by so many seconds.
    After(Window<'a>, f64),
    /// Before any fault, or in a run without faults.
    Before,
}

/// Decides "during" or "after" from the time alone — the time as the report
/// prints it, so a reader checking "t = 5 s" against "t = 2–5 s" agrees.
pub fn when(results: &ScenarioResults, t: f64) -> When<'_> {
    let t = super::format::printed_value(&super::format::number(t)).unwrap_or(t);
    let windows = windows(results);
    if let Some(w) = windows.iter().find(|w| t >= w.start && t <= w.end) {
        return When::During(*w);
    }
    windows
        .iter()
        .filter(|w| w.end < t)
        .max_by(|a, b| a.end.total_cmp(&b.end))
        .map_or(When::Before, |w| When::After(*w, t - w.end))
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

/// The backlog peak this window is answerable for: the run's peak when it
/// fell during the window or after it (before the next fault began), else
/// the highest sample from the window's start to its settle time.
pub fn window_peak(results: &ScenarioResults, v: &VariantResults, w: &Window) -> Option<PeakAt> {
    let run = peak(v);
    if let Some(t) = run.t {
        let next = windows(results)
            .iter()
            .filter(|other| other.start > w.start)
            .map(|other| other.start)
            .fold(f64::INFINITY, f64::min);
        if t >= w.start && t < next {
            return Some(run);
        }
    }
    v.backlog
        .series
        .iter()
        .filter(|p| p.t_s >= w.start && p.t_s <= w.settle)
        .fold(None::<&BacklogPoint>, |best, p| match best {
            Some(best) if best.backlog >= p.backlog => Some(best),
            _ => Some(p),
        })
        .map(|p| PeakAt {
            value: p.backlog,
            t: Some(p.t_s),
        })
}

/// "402 bonuses in Incentives' buffer", "1 event on the stream", by the
/// variant's base design.
pub fn backlog_items(base: &str, n: u64) -> String {
    let (one, many) = match base {
        "sync-buffered" => ("bonus", "bonuses"),
        "async" => ("event", "events"),
        _ => ("item", "items"),
    };
    let place = match base {
        "sync-buffered" => " in Incentives' buffer",
        "async" => " in the outbox and on the stream",
        _ => " accepted and unfinished",
    };
    format!("{}{place}", super::format::plural(n, one, many))
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
