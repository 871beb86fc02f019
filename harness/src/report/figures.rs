//! The figures over time of a scenario report, one function each:
//! availability and backlog. (The latency figure is `latency_chart.rs`, the
//! money figures `money_chart.rs`.)
//!
//! Each reads the results, lays out its panels on a canvas from
//! [`super::charts`] (which owns the colours, the legend and the shaded fault
//! windows) and writes one SVG file. Each returns `false`, and writes
//! nothing, when the run has no data for it — an empty chart teaches nothing.
//! With repetitions, each draws a variant's lowest-to-highest value of every
//! second over the runs as a light band of its colour around run 1's line.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;

use super::charts::{self, FONT, Frame, PANEL_HEIGHT, WIDTH, look};
use super::facts::{self, Op, Window};
use crate::results::{ScenarioResults, VariantFigures, VariantResults};

/// How opaque a variant's band over the runs is: light enough that the lines
/// and the other variants' bands show through.
const BAND_ALPHA: f64 = 0.18;

/// With repetitions, a variant's lowest and highest share of each second over
/// the runs (seconds some run sent nothing in are left out); empty for one run.
pub fn band(results: &ScenarioResults, variant: &str, op: &str) -> Band {
    over_runs(results, variant, |v| v.availability_series.get(op).cloned())
}

/// With repetitions, a variant's lowest and highest backlog peak of each
/// second over the runs (`VariantFigures::backlog_series`); empty for one run,
/// and for results written before runs recorded it.
pub fn backlog_band(results: &ScenarioResults, variant: &str) -> Band {
    over_runs(results, variant, |v| {
        (!v.backlog_series.is_empty()).then(|| {
            v.backlog_series
                .iter()
                .map(|b| b.map(|b| b as f64))
                .collect()
        })
    })
}

/// The lowest and highest value of each second over the runs that recorded
/// `series` for the variant, for the seconds every one of them has a value
/// in; nothing unless at least two runs have one.
fn over_runs(
    results: &ScenarioResults,
    variant: &str,
    series: impl Fn(&VariantFigures) -> Option<Vec<Option<f64>>>,
) -> Band {
    let Some(r) = super::spread::repeated(results) else {
        return Vec::new();
    };
    let series: Vec<Vec<Option<f64>>> = r
        .runs
        .iter()
        .filter_map(|run| run.variants.iter().find(|v| v.variant == variant))
        .filter_map(series)
        .collect();
    let seconds = series.iter().map(Vec::len).max().unwrap_or(0);
    (0..seconds)
        .filter_map(|t| {
            let values: Option<Vec<f64>> =
                series.iter().map(|s| s.get(t).copied().flatten()).collect();
            let values = values.filter(|v| v.len() > 1)?;
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some((t as u64, lo, hi))
        })
        .collect()
}

/// Per second with a value in every run: (second, lowest, highest).
type Band = Vec<(u64, f64, f64)>;

/// A panel over the run's time axis, as [`charts::time_panel`] returns it.
type TimeChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws each band as one translucent rectangle per second, in its variant's
/// colour; `scale` turns a value into the chart's unit (a share into %).
fn draw_bands(
    chart: &mut TimeChart<'_, '_>,
    bands: Vec<(&VariantResults, Band)>,
    scale: f64,
) -> anyhow::Result<()> {
    for (variant, band) in bands {
        let colour = look(&variant.variant).colour.mix(BAND_ALPHA).filled();
        chart.draw_series(band.into_iter().map(|(t, lo, hi)| {
            Rectangle::new(
                [(t as f64, scale * lo), (t as f64 + 1.0, scale * hi)],
                colour,
            )
        }))?;
    }
    Ok(())
}

/// Availability per second, one stacked panel per operation that was sent.
pub fn availability(path: &Path, results: &ScenarioResults) -> anyhow::Result<bool> {
    let ops: Vec<Op> = Op::ALL
        .into_iter()
        .filter(|op| {
            results
                .variants
                .iter()
                .any(|v| op.of(&v.operations).sent > 0)
        })
        .collect();
    if ops.is_empty() {
        return Ok(false);
    }
    let windows = facts::windows(results);
    let height =
        charts::legend_height(results, !windows.is_empty()) + PANEL_HEIGHT * ops.len() as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    let body = charts::canvas(&root, results, !windows.is_empty())?;
    let x_max = results.duration_s.max(1.0);
    for (area, op) in body.split_evenly((ops.len(), 1)).iter().zip(ops) {
        let caption = format!(
            "{} requests served within the {} ms SLO ({})",
            super::format::capitalise(op.noun()),
            results.slo_ms,
            op.endpoint()
        );
        // The scale runs past 100 % so a line at 100 % stays clear of the
        // frame, and the fault labels sit above it.
        let frame = Frame {
            caption: &caption,
            x_max,
            y_max: 118.0,
            y_desc: "served (% of sent)",
            y_labelled_to: 100.0,
            whole: false,
        };
        let mut chart = charts::time_panel(area, frame, &windows, results)?;
        let bands = facts::ordered(results)
            .into_iter()
            .map(|v| (v, band(results, &v.variant, op.noun())))
            .collect();
        draw_bands(&mut chart, bands, 100.0)?;
        for variant in facts::ordered(results) {
            let look = look(&variant.variant);
            let points = charts::steps(op.of(&variant.operations).series.iter().map(|p| {
                let served = (p.sent > 0).then(|| 100.0 * p.ok as f64 / p.sent as f64);
                (p.t_s, served)
            }));
            charts::draw_broken_line(&mut chart, &points, look.colour.stroke_width(look.width))?;
        }
    }
    root.present()?;
    Ok(true)
}

/// The backlog per variant; below it, when the synchronous design had any,
/// busy worker threads (solid) and calls waiting on the other service (dashed).
pub fn backlog(path: &Path, results: &ScenarioResults) -> anyhow::Result<bool> {
    let variants = facts::ordered(results);
    if variants.iter().all(|v| v.backlog.series.is_empty()) {
        return Ok(false);
    }
    let threads = variants.iter().any(|v| {
        v.backlog
            .series
            .iter()
            .any(|p| p.busy_workers > 0 || p.in_flight_calls > 0)
    });
    let panels = if threads { 2 } else { 1 };
    let windows = facts::windows(results);
    let height = charts::legend_height(results, !windows.is_empty()) + PANEL_HEIGHT * panels;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    let body = charts::canvas(&root, results, !windows.is_empty())?;
    let areas = body.split_evenly((panels as usize, 1));
    let on = Timeline {
        results,
        variants: &variants,
        windows: &windows,
        x_max: charts::time_extent(results),
    };
    backlog_panel(&areas[0], &on)?;
    if threads {
        threads_panel(&areas[1], &on)?;
    }
    root.present()?;
    Ok(true)
}

/// What the panels of a figure over time share.
struct Timeline<'r> {
    results: &'r ScenarioResults,
    variants: &'r [&'r VariantResults],
    windows: &'r [Window<'r>],
    x_max: f64,
}

/// Each variant's backlog (run 1's line; with repetitions, its band over the
/// runs), and where the load stopped when the drain was sampled after it.
fn backlog_panel(area: &DrawingArea<SVGBackend<'_>, Shift>, on: &Timeline) -> anyhow::Result<()> {
    let bands: Vec<_> = on
        .variants
        .iter()
        .map(|v| (*v, backlog_band(on.results, &v.variant)))
        .collect();
    let peak = on
        .variants
        .iter()
        .flat_map(|v| v.backlog.series.iter().map(|p| p.backlog as f64))
        .chain(
            bands
                .iter()
                .flat_map(|(_, b)| b.iter().map(|(_, _, hi)| *hi)),
        )
        .fold(0.0, f64::max);
    let top = headroom(peak);
    let frame = Frame {
        caption: "Backlog: accepted, not yet paid (buffered bonuses; outbox + stream events)",
        x_max: on.x_max,
        y_max: top,
        y_desc: "backlog (items)",
        y_labelled_to: f64::INFINITY,
        whole: false,
    };
    let mut chart = charts::time_panel(area, frame, on.windows, on.results)?;
    draw_bands(&mut chart, bands, 1.0)?;
    for variant in on.variants {
        let look = look(&variant.variant);
        let points: Vec<_> = variant
            .backlog
            .series
            .iter()
            .map(|p| Some((p.t_s, p.backlog as f64)))
            .collect();
        charts::draw_broken_line(&mut chart, &points, look.colour.stroke_width(look.width))?;
    }
    let end = on.results.duration_s;
    if on.x_max > end + 0.5 {
        // After this line no new requests arrive: what is left is drained.
        let line = RGBColor(60, 60, 60).stroke_width(1);
        let right = TextStyle::from((FONT, charts::NOTE_SIZE).into_font())
            .pos(Pos::new(HPos::Right, VPos::Top));
        chart.draw_series(DashedLineSeries::new([(end, 0.0), (end, top)], 6, 4, line))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((end, top)) + Text::new("load stops", (-4, 24), right),
        ))?;
    }
    Ok(())
}

/// Busy worker threads (solid) and calls waiting on the other service
/// (dashed), run 1's.
fn threads_panel(area: &DrawingArea<SVGBackend<'_>, Shift>, on: &Timeline) -> anyhow::Result<()> {
    let peak = on
        .variants
        .iter()
        .flat_map(|v| v.backlog.series.iter())
        .map(|p| p.busy_workers.max(p.in_flight_calls))
        .max()
        .unwrap_or(0);
    let frame = Frame {
        caption: "Threads held: busy workers (solid), calls waiting on the other service (dashed)",
        x_max: on.x_max,
        y_max: headroom(peak as f64),
        y_desc: "threads / calls",
        y_labelled_to: f64::INFINITY,
        whole: false,
    };
    let mut chart = charts::time_panel(area, frame, on.windows, on.results)?;
    for variant in on.variants {
        let look = look(&variant.variant);
        let series = &variant.backlog.series;
        let style = look.colour.stroke_width(look.width);
        chart.draw_series(LineSeries::new(
            series.iter().map(|p| (p.t_s, p.busy_workers as f64)),
            style,
        ))?;
        chart.draw_series(DashedLineSeries::new(
            series.iter().map(|p| (p.t_s, p.in_flight_calls as f64)),
            8,
            5,
            style,
        ))?;
    }
    Ok(())
}

/// A y range with room above the highest value; at least 1 so an all-zero
/// series still gets an axis.
pub fn headroom(peak: f64) -> f64 {
    (peak * 1.12).max(1.0)
}
