//! The first screen of a report: the lesson (at most ~120 words; a test in
//! `builtin.rs` holds every built-in one to it), the one chart that shows
//! it, and a "what to take away" table — one row per variant, the figures
//! that prove the lesson.
//!
//! Every figure here is one the tables further down state too (the test
//! `harness/tests/report.rs` checks it): the first screen summarises, it never
//! computes a figure of its own.

use super::charts::Figure;
use super::facts::{self, Op, Tally};
use super::format::{self, count};
use super::markdown::{Table, code};
use crate::results::{MoneyOutcome, ScenarioResults, VariantResults};

/// The figure that carries the lesson: money (over time where the results
/// have the per-second series, else the totals) when the money differs and
/// availability does not; the backlog when only the backlog does; else
/// availability.
pub fn key_figure<'a>(results: &ScenarioResults, figures: &'a [Figure]) -> Option<&'a Figure> {
    let variants = facts::ordered(results);
    let shares: Vec<f64> = variants
        .iter()
        .filter_map(|v| v.operations.bonus.availability)
        .collect();
    let flat = shares.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - shares.iter().copied().fold(f64::INFINITY, f64::min)
        < 0.01;
    let money = variants.iter().any(|v| money_errors(v) > 0);
    let backlog = variants.iter().any(|v| facts::peak(v).value > 0);
    let pick = |file: &str| figures.iter().find(|f| f.link.ends_with(file));
    let choice = if flat && money {
        pick("/money-over-time.svg").or_else(|| pick("/money.svg"))
    } else if flat && backlog {
        pick("/backlog.svg")
    } else {
        None
    };
    choice
        .or_else(|| pick("/availability.svg"))
        .or(figures.first())
}

/// Requests paid wrong, of every kind, bonuses and deliveries together.
pub fn money_errors(v: &VariantResults) -> u64 {
    let wrong = |m: &MoneyOutcome| {
        m.lost + m.paid_twice + m.under_paid + m.stale + m.repriced + m.paid_though_rejected
    };
    wrong(&v.bonuses) + wrong(&v.deliveries)
}

/// The bonus requests sent during any fault, and how many were served.
fn during_faults(results: &ScenarioResults, v: &VariantResults) -> Option<Tally> {
    let windows = facts::windows(results);
    if windows.is_empty() {
        return None;
    }
    Some(
        windows
            .iter()
            .map(|w| facts::tally_during(v, w, Op::Bonus))
            .fold(Tally::default(), |a, t| Tally {
                sent: a.sent + t.sent,
                ok: a.ok + t.ok,
                accepted: None,
            }),
    )
}

/// The "what to take away" table. With repetitions its figures are run 1's,
/// and a last column gives the whole run's bonus availability over every run
/// as `median (min–max)`.
pub fn table(results: &ScenarioResults) -> String {
    let served = if results.timeline.len() == 1 {
        "bonuses served during the fault"
    } else if results.timeline.is_empty() {
        "bonuses served"
    } else {
        "bonuses served during the faults"
    };
    let repeated = super::spread::repeated(results);
    let across = repeated.map(|r| format!("bonuses served, {} runs", r.runs.len()));
    let run_1 = |h: &str| match repeated {
        Some(_) => format!("{h} (run 1)"),
        None => h.to_string(),
    };
    let headers: Vec<String> = [
        served,
        "requests paid wrong",
        "peak backlog",
        "longest wait for a payout",
    ]
    .iter()
    .map(|h| run_1(h))
    .chain(across)
    .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut table = Table::figures(&["variant"], &headers);
    for v in facts::ordered(results) {
        let tally = during_faults(results, v).unwrap_or(Tally {
            sent: v.operations.bonus.sent,
            ok: v.operations.bonus.ok,
            accepted: None,
        });
        let mut cells = vec![
            code(&v.variant),
            format::share_of(tally.ok, tally.sent),
            count(money_errors(v)),
            count(facts::peak(v).value),
            v.bonus_to_paid_ms.max.map_or(format::NA.to_string(), |m| {
                format!("{} ms", format::ms(Some(m)))
            }),
        ];
        if let Some(r) = repeated {
            let spread = r
                .spread
                .iter()
                .find(|s| s.variant == v.variant)
                .and_then(|s| s.figures.get("availability.bonus"));
            cells.push(spread.map_or(format::NA.to_string(), |s| {
                super::spread::spread(crate::headline::Unit::Share, s)
            }));
        }
        table.row(&cells);
    }
    table.render()
}
