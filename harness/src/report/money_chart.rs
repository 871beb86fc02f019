//! The money and correctness figures. Two views of the same defects:
//!
//! - [`over_time`]: per second of the run, how many requests were paid wrong,
//!   one panel per kind of defect that occurred, one line per variant — where
//!   the lesson is money or staleness (`incentives-outage`, `consumer-crash`,
//!   `stream-outage`) this is the chart that shows it: the defects gather in
//!   and after the fault window, not across the run;
//! - [`draw`]: the totals, one bar per variant for each defect with its count
//!   printed on it — a zero included, so "none" is visible.
//!
//! Both read the one count of each defect `reconcile.rs` makes: the totals
//! from `bonuses` + `deliveries`, the seconds from `money_series`, each
//! request counted in the second it was scheduled.

use std::path::Path;

use plotters::prelude::*;

use super::bars::{self, BarFrame, Slot};
use super::charts::{self, Frame, NOTE_SIZE, PANEL_HEIGHT, WIDTH, look};
use super::facts;
use crate::results::{MoneyOutcome, MoneySecond, ScenarioResults, VariantResults};

/// Height of the totals panel: as tall as a time panel and a half, so six
/// groups of bars and their labels stay readable.
const PANEL: u32 = 400;

/// The defects, as the money table names them, and what each one is.
const CLASSES: [(&str, &str); 6] = [
    ("lost", "Lost: accepted, never paid"),
    ("paid twice", "Paid twice"),
    (
        "under-paid",
        "Under-paid: paid at the +0 % fallback while the incentive was higher",
    ),
    (
        "stale",
        "Stale: paid with a performance the courier no longer had",
    ),
    (
        "repriced",
        "Repriced: resent, paid at a performance set after the request",
    ),
    (
        "paid though rejected",
        "Paid though rejected: refused to the client, paid all the same",
    ),
];

/// One money outcome's defects, in the order of [`CLASSES`].
fn of_outcome(m: &MoneyOutcome) -> [u64; 6] {
    [
        m.lost,
        m.paid_twice,
        m.under_paid,
        m.stale,
        m.repriced,
        m.paid_though_rejected,
    ]
}

/// One second's defects, in the order of [`CLASSES`].
fn of_second(s: &MoneySecond) -> [u64; 6] {
    [
        s.lost,
        s.paid_twice,
        s.under_paid,
        s.stale,
        s.repriced,
        s.paid_though_rejected,
    ]
}

fn sent(v: &VariantResults) -> u64 {
    let o = &v.operations;
    o.bonus.sent + o.delivery.sent + o.performance.sent
}

/// Draws the totals; `false` (and no file) when the run sent nothing.
pub fn draw(path: &Path, results: &ScenarioResults) -> anyhow::Result<bool> {
    let variants = facts::ordered(results);
    if variants.iter().map(|v| sent(v)).sum::<u64>() == 0 {
        return Ok(false);
    }
    let counts: Vec<[u64; 6]> = variants
        .iter()
        .map(|v| {
            let (b, d) = (of_outcome(&v.bonuses), of_outcome(&v.deliveries));
            std::array::from_fn(|i| b[i] + d[i])
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64 * 1.18;
    let height = charts::legend_height(results, false) + PANEL;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    let body = charts::canvas(&root, results, false)?;
    let frame = BarFrame {
        caption: "Requests paid wrong, bonuses and deliveries together (count on each bar)",
        groups: CLASSES.len(),
        y_max: top,
        y_desc: "requests",
        y_labelled_to: f64::INFINITY,
        names_height: 36,
    };
    let mut chart = bars::panel(&body, frame)?;
    for (group, (name, _)) in CLASSES.iter().enumerate() {
        for (slot, (v, n)) in variants.iter().zip(&counts).enumerate() {
            let at = Slot {
                group,
                slot,
                slots: variants.len(),
            };
            let (value, figure) = (n[group] as f64, super::format::count(n[group]));
            bars::bar(
                &mut chart,
                at,
                value,
                look(&v.variant).colour,
                figure,
                NOTE_SIZE,
            )?;
        }
        bars::group_name(&mut chart, group, name.to_string(), NOTE_SIZE)?;
    }
    root.present()?;
    Ok(true)
}

/// Draws the defects per second: one panel per defect that occurred in any
/// variant. `false` (and no file) when the run sent nothing, none occurred,
/// or the results predate the per-second series.
pub fn over_time(path: &Path, results: &ScenarioResults) -> anyhow::Result<bool> {
    let variants = facts::ordered(results);
    if variants.iter().map(|v| sent(v)).sum::<u64>() == 0 {
        return Ok(false);
    }
    let peak = |class: usize| {
        variants
            .iter()
            .flat_map(|v| &v.money_series)
            .map(|s| of_second(s)[class])
            .max()
            .unwrap_or(0)
    };
    let shown: Vec<usize> = (0..CLASSES.len()).filter(|&c| peak(c) > 0).collect();
    if shown.is_empty() {
        return Ok(false);
    }
    let windows = facts::windows(results);
    let height =
        charts::legend_height(results, !windows.is_empty()) + PANEL_HEIGHT * shown.len() as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    let body = charts::canvas(&root, results, !windows.is_empty())?;
    for (area, &class) in body.split_evenly((shown.len(), 1)).iter().zip(&shown) {
        let frame = Frame {
            caption: CLASSES[class].1,
            x_max: results.duration_s.max(1.0),
            // Room above the peak for the fault labels.
            y_max: super::figures::headroom(peak(class) as f64) * 1.1,
            y_desc: "requests, by second sent",
            y_labelled_to: peak(class) as f64,
            whole: true,
        };
        let mut chart = charts::time_panel(area, frame, &windows, results)?;
        for v in variants.iter().filter(|v| !v.money_series.is_empty()) {
            let look = look(&v.variant);
            let points = charts::steps(
                v.money_series
                    .iter()
                    .map(|s| (s.t_s, Some(of_second(s)[class] as f64))),
            );
            charts::draw_broken_line(&mut chart, &points, look.colour.stroke_width(look.width))?;
        }
    }
    root.present()?;
    Ok(true)
}
