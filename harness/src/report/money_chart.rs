//! The money and correctness figure: for each way a request can be paid
//! wrong, one bar per variant with its count printed on it — a zero included,
//! so "none" is visible rather than a missing bar.
//!
//! The results record these defects per run, not per second, so the figure
//! compares totals; the scenarios whose lesson is money or staleness
//! (`incentives-outage`, `consumer-crash`, `stream-outage`) lead with it.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::charts::{self, AXIS_SIZE, CAPTION_SIZE, FONT, LEGEND_HEIGHT, NOTE_SIZE, WIDTH, look};
use super::facts;
use crate::results::{MoneyOutcome, ScenarioResults};

/// Height of the one panel: as tall as a time panel and a half, so six
/// groups of bars and their labels stay readable.
const PANEL: u32 = 400;

/// Reads one defect's count from a money outcome.
type Count = fn(&MoneyOutcome) -> u64;

/// The defects, as the money table names them.
const CLASSES: [(&str, Count); 6] = [
    ("lost", |m| m.lost),
    ("paid twice", |m| m.paid_twice),
    ("under-paid", |m| m.under_paid),
    ("stale", |m| m.stale),
    ("repriced", |m| m.repriced),
    ("paid though rejected", |m| m.paid_though_rejected),
];

/// Draws the figure; `false` (and no file) when the run has no variant.
pub fn draw(path: &Path, results: &ScenarioResults) -> anyhow::Result<bool> {
    let variants = facts::ordered(results);
    let sent = |v: &&crate::results::VariantResults| {
        let o = &v.operations;
        o.bonus.sent + o.delivery.sent + o.performance.sent
    };
    if variants.iter().map(sent).sum::<u64>() == 0 {
        return Ok(false);
    }
    let counts: Vec<Vec<u64>> = CLASSES
        .iter()
        .map(|(_, f)| {
            variants
                .iter()
                .map(|v| f(&v.bonuses) + f(&v.deliveries))
                .collect()
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64 * 1.18;
    let root = SVGBackend::new(path, (WIDTH, LEGEND_HEIGHT + PANEL)).into_drawing_area();
    let body = charts::canvas(&root, results, false)?;
    let mut chart = ChartBuilder::on(&body)
        .caption(
            "Requests paid wrong, bonuses and deliveries together (count on each bar)",
            (FONT, CAPTION_SIZE).into_font(),
        )
        .margin(8)
        .margin_right(24)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..CLASSES.len() as f64, 0f64..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .max_light_lines(0)
        .bold_line_style(RGBColor(225, 225, 225))
        .y_desc("requests")
        .axis_desc_style((FONT, AXIS_SIZE))
        .label_style((FONT, NOTE_SIZE))
        .y_label_formatter(&|v| super::format::number(*v))
        .draw()?;
    let slot = 0.8 / variants.len() as f64;
    let label = |anchor: VPos| {
        TextStyle::from((FONT, NOTE_SIZE).into_font()).pos(Pos::new(HPos::Center, anchor))
    };
    for (i, ((name, _), row)) in CLASSES.iter().zip(&counts).enumerate() {
        for (j, (v, n)) in variants.iter().zip(row).enumerate() {
            let x0 = i as f64 + 0.1 + j as f64 * slot;
            let colour = look(&v.variant).colour;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x0 + slot * 0.9, *n as f64)],
                colour.filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                super::format::count(*n),
                (x0 + slot * 0.45, *n as f64 + top * 0.01),
                label(VPos::Bottom),
            )))?;
        }
        chart.draw_series(std::iter::once(Text::new(
            name.to_string(),
            (i as f64 + 0.5, 0.0),
            label(VPos::Top).transform(FontTransform::None),
        )))?;
    }
    root.present()?;
    Ok(true)
}
