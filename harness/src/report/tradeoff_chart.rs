//! The index's one chart: per scenario, each variant's bonus availability as
//! a bar, with the number of requests it paid wrong printed above it — the
//! trade-off between refusing work and doing it wrong, on one slide.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::charts::{self, AXIS_SIZE, CAPTION_SIZE, FONT, LEGEND_HEIGHT, NOTE_SIZE, WIDTH, look};
use super::facts;
use crate::results::ScenarioResults;

/// Tall enough for the percentage scale and the two label rows under it.
const PANEL: u32 = 460;

/// Draws `tradeoff.svg`; `false` (and no file) when nothing was run.
pub fn draw(path: &Path, all: &[ScenarioResults]) -> anyhow::Result<bool> {
    let Some(first) = all.first() else {
        return Ok(false);
    };
    let root = SVGBackend::new(path, (WIDTH, LEGEND_HEIGHT + PANEL)).into_drawing_area();
    let body = charts::canvas(&root, first, false)?;
    let mut chart = ChartBuilder::on(&body)
        .caption(
            "Bonus availability per scenario (bar) and requests paid wrong (number above)",
            (FONT, CAPTION_SIZE).into_font(),
        )
        .margin(8)
        .margin_right(24)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..all.len() as f64, 0f64..118.0)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .max_light_lines(0)
        .bold_line_style(RGBColor(225, 225, 225))
        .y_desc("bonuses served (% of sent)")
        .axis_desc_style((FONT, AXIS_SIZE))
        .label_style((FONT, NOTE_SIZE))
        .y_label_formatter(&|v| {
            if *v > 100.0 {
                String::new()
            } else {
                super::format::number(*v)
            }
        })
        .draw()?;
    let small = |anchor: VPos| {
        TextStyle::from((FONT, NOTE_SIZE - 4).into_font()).pos(Pos::new(HPos::Center, anchor))
    };
    for (i, results) in all.iter().enumerate() {
        let variants = facts::ordered(results);
        let slot = 0.8 / variants.len().max(1) as f64;
        for (j, v) in variants.iter().enumerate() {
            let x0 = i as f64 + 0.1 + j as f64 * slot;
            let served = v.operations.bonus.availability.unwrap_or(0.0) * 100.0;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x0 + slot * 0.9, served)],
                look(&v.variant).colour.filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                super::format::count(super::takeaway::money_errors(v)),
                (x0 + slot * 0.45, served + 1.5),
                small(VPos::Bottom),
            )))?;
        }
        chart.draw_series(std::iter::once(Text::new(
            results.scenario.clone(),
            (i as f64 + 0.5, 0.0),
            small(VPos::Top),
        )))?;
    }
    root.present()?;
    Ok(true)
}
