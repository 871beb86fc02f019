//! A sweep's chart: each variant's bonus availability (median over its runs)
//! against the swept parameter, with the SLO target as a dashed line — where
//! a line crosses it is the cliff the sweep page names.

use std::path::Path;

use plotters::prelude::*;

use super::charts::{AXIS_SIZE, CAPTION_SIZE, FONT, NOTE_SIZE, WIDTH, look};

/// Tall enough for the percentage scale and the axis label.
const HEIGHT: u32 = 420;

/// One variant's points: the parameter's value and the availability (0–1).
pub type Line = (String, Vec<(f64, Option<f64>)>);

/// Draws the chart to `path`; `x_label` names the parameter and its unit.
pub fn draw(path: &Path, x_label: &str, target: f64, lines: &[Line]) -> anyhow::Result<()> {
    let xs = lines
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.0));
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Bonus availability against {x_label} (median of the runs)"),
            (FONT, CAPTION_SIZE).into_font(),
        )
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(lo..hi, 0f64..100.0)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("bonuses served (% of sent)")
        .axis_desc_style((FONT, AXIS_SIZE))
        .label_style((FONT, NOTE_SIZE))
        .draw()?;
    chart.draw_series(DashedLineSeries::new(
        [(lo, target * 100.0), (hi, target * 100.0)],
        6,
        4,
        BLACK.stroke_width(1),
    ))?;
    for (variant, points) in lines {
        let colour = look(variant).colour;
        let present: Vec<(f64, f64)> = points
            .iter()
            .filter_map(|(x, y)| y.map(|y| (*x, y * 100.0)))
            .collect();
        chart
            .draw_series(LineSeries::new(present.clone(), colour.stroke_width(3)))?
            .label(variant.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(3)));
        chart.draw_series(present.iter().map(|p| Circle::new(*p, 4, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, NOTE_SIZE))
        .draw()?;
    root.present()?;
    Ok(())
}
