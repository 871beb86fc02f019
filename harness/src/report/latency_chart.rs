//! The latency figure: each variant's percentile ladder (p50, p90, p99,
//! p99.9, max) on a log scale, one panel per latency a report measures —
//! the bonus answer, the delivery answer, and the asynchronous design's own
//! price, the wait from a bonus's `202` to its payout.
//!
//! A log axis cannot show a zero, and plotters' own ticks on one come 1 px
//! apart; so the axis ([`LogAxis`]) is laid out here: its ticks, and a floor
//! row labelled "0" below the lowest value where a variant measured zero.
//! Colours and the legend come from [`super::charts`]. Next: `figures.rs`,
//! the figures over time.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::charts::{self, FONT, PANEL_HEIGHT, WIDTH, look};
use super::facts;
use crate::results::ScenarioResults;
use crate::results::{Percentiles, VariantResults};

/// The percentile ladder; its x axis is categorical.
const LADDER: [&str; 5] = ["p50", "p90", "p99", "p99.9", "max"];

/// The x range: the ladder's rungs 0..=4 with a margin either side.
const X_FROM: f64 = -0.3;
const X_TO: f64 = 4.3;

/// Which latency a panel shows.
type Pick = fn(&VariantResults) -> &Percentiles;

/// The panels, top to bottom.
const PANELS: [(&str, Pick); 3] = [
    ("Bonus requests: scheduled send → answer", |v| {
        &v.operations.bonus.latency_ms
    }),
    ("Deliveries: scheduled send → answer", |v| {
        &v.operations.delivery.latency_ms
    }),
    ("Bonuses: scheduled send → paid by the ledger", |v| {
        &v.bonus_to_paid_ms
    }),
];

/// Latency percentiles per variant, one panel per entry of [`PANELS`].
pub fn latency(path: &Path, results: &ScenarioResults) -> anyhow::Result<bool> {
    let variants = facts::ordered(results);
    let any = PANELS.iter().any(|(_, pick)| {
        variants
            .iter()
            .any(|v| !ladder(pick(v)).iter().all(Option::is_none))
    });
    if !any {
        return Ok(false);
    }
    let height = charts::legend_height(results, false) + PANEL_HEIGHT * PANELS.len() as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    let body = charts::canvas(&root, results, false)?;
    for (area, (caption, pick)) in body.split_evenly((PANELS.len(), 1)).iter().zip(PANELS) {
        panel(area, caption, &variants, pick)?;
    }
    root.present()?;
    Ok(true)
}

/// One panel: the axis, its ticks, and each variant's ladder.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    caption: &str,
    variants: &[&VariantResults],
    pick: Pick,
) -> anyhow::Result<()> {
    let all: Vec<f64> = variants
        .iter()
        .flat_map(|v| ladder(pick(v)))
        .flatten()
        .collect();
    let axis = LogAxis::of(&all);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, charts::CAPTION_SIZE))
        .margin(8)
        .margin_right(24)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(X_FROM..X_TO, (axis.bottom..axis.hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        // One tick per rung of the ladder; the formatter names them.
        .x_labels(LADDER.len())
        .x_max_light_lines(0)
        // No minor lines, and no grid: on a log axis they come 1 px
        // apart and form a grey block. The chosen ticks get lines below.
        .y_max_light_lines(0)
        .disable_y_mesh()
        .y_label_formatter(&|_| String::new())
        .y_desc("latency (ms, log scale)")
        .axis_desc_style((FONT, charts::AXIS_SIZE))
        .label_style((FONT, charts::TICK_SIZE))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_label_formatter(&|x| rung_name(*x))
        .draw()?;
    for (y, text) in axis.rows() {
        let tick_style = TextStyle::from((FONT, charts::TICK_SIZE).into_font())
            .pos(Pos::new(HPos::Right, VPos::Center));
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(X_FROM, y), (X_TO, y)],
            RGBColor(225, 225, 225).stroke_width(1),
        )))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((X_FROM, y)) + Text::new(text, (-6, 0), tick_style),
        ))?;
    }
    if axis.empty {
        chart.draw_series(std::iter::once(Text::new(
            "no samples",
            (1.6, (axis.lo * axis.hi).sqrt()),
            (FONT, charts::NOTE_SIZE),
        )))?;
    }
    for variant in variants {
        let look = look(&variant.variant);
        let points: Vec<Option<(f64, f64)>> = ladder(pick(variant))
            .iter()
            .enumerate()
            .map(|(i, v)| v.map(|v| (i as f64, if v > 0.0 { v } else { axis.floor })))
            .collect();
        charts::draw_broken_line(&mut chart, &points, look.colour.stroke_width(look.width))?;
        chart.draw_series(
            points
                .iter()
                .flatten()
                // Markers shrink with the line width, so a marker on
                // top of another variant's leaves its rim visible.
                .map(|p| Circle::new(*p, look.width + 2, look.colour.filled())),
        )?;
    }
    Ok(())
}

/// A rung's name at a whole x, nothing between rungs.
fn rung_name(x: f64) -> String {
    let rung = x.round();
    if (x - rung).abs() > 1e-6 || rung < 0.0 {
        return String::new();
    }
    LADDER
        .get(rung as usize)
        .map_or(String::new(), |s| s.to_string())
}

/// A panel's log axis. A zero cannot be drawn on it, so zeros sit on a floor
/// row below the lowest value, labelled "0" — visible, and never read as a
/// small positive figure.
struct LogAxis {
    lo: f64,
    hi: f64,
    /// The axis' lower end: `lo`, or below the floor row when there is one.
    bottom: f64,
    /// Where a zero is drawn.
    floor: f64,
    has_zero: bool,
    /// No value at all, zero or positive: the panel says "no samples".
    empty: bool,
    ticks: Vec<f64>,
}

impl LogAxis {
    fn of(all: &[f64]) -> LogAxis {
        let values: Vec<f64> = all.iter().copied().filter(|v| *v > 0.0).collect();
        let has_zero = all.iter().any(|v| *v <= 0.0);
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(0.0, f64::max);
        let (lo, hi) = if values.is_empty() {
            (0.1, 10.0)
        } else {
            ((lo / 2.0).max(0.001), (hi * 2.0).max(lo * 10.0))
        };
        let ticks = log_ticks(lo, hi);
        // A quarter below the lowest tick: far enough that "0" and that
        // tick's label never overlap.
        let floor = ticks.first().copied().unwrap_or(lo).min(lo) / 4.0;
        LogAxis {
            lo,
            hi,
            bottom: if has_zero { floor / 1.6 } else { lo },
            floor,
            has_zero,
            empty: values.is_empty() && !has_zero,
            ticks,
        }
    }

    /// Our own ticks, each with its label: decades, or 1-2-5 steps when the
    /// panel spans less than two decades — never two labels for one value —
    /// and the floor row "0".
    fn rows(&self) -> Vec<(f64, String)> {
        let mut rows: Vec<(f64, String)> = self.ticks.iter().map(|t| (*t, tick_text(*t))).collect();
        if self.has_zero {
            rows.push((self.floor, "0".to_string()));
        }
        rows
    }
}

/// Tick values for a log axis from `lo` to `hi`: the decades inside it, or,
/// when fewer than three decades fall inside, also the 2× and 5× steps.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades: Vec<f64> = (-4..=7)
        .map(|k| 10f64.powi(k))
        .filter(|t| *t >= lo && *t <= hi)
        .collect();
    if decades.len() >= 3 {
        return decades;
    }
    (-4..=7)
        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
        .filter(|t| *t >= lo && *t <= hi)
        .collect()
}

/// A tick's label: `0.001` stays `0.001` (the report's two-decimal
/// [`super::format::number`] would print it as `0`).
fn tick_text(t: f64) -> String {
    if t >= 1.0 {
        super::format::number(t)
    } else {
        format!("{t}")
    }
}

fn ladder(p: &Percentiles) -> [Option<f64>; 5] {
    [p.p50, p.p90, p.p99, p.p999, p.max]
}
