//! The three figures of a scenario report, one function each.
//!
//! Each reads the results, lays out its panels on a canvas from
//! [`super::charts`] (which owns the colours, the legend and the shaded fault
//! windows) and writes one SVG file. Each returns `false`, and writes
//! nothing, when the run has no data for it — an empty chart teaches nothing.

use std::path::Path;

use plotters::prelude::*;

use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::charts::{self, FONT, Frame, PANEL_HEIGHT, WIDTH, look};
use super::facts::{self, Op};
use crate::results::{Percentiles, ScenarioResults};

/// How opaque a variant's band over the runs is: light enough that the lines
/// and the other variants' bands show through.
const BAND_ALPHA: f64 = 0.18;

/// With repetitions, a variant's lowest and highest share of each second over
/// the runs (seconds some run sent nothing in are left out); empty for one run.
pub fn band(results: &ScenarioResults, variant: &str, op: &str) -> Vec<(u64, f64, f64)> {
    let Some(r) = super::spread::repeated(results) else {
        return Vec::new();
    };
    let series: Vec<&Vec<Option<f64>>> = r
        .runs
        .iter()
        .filter_map(|run| run.variants.iter().find(|v| v.variant == variant))
        .filter_map(|v| v.availability_series.get(op))
        .collect();
    let seconds = series.iter().map(|s| s.len()).max().unwrap_or(0);
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
        for variant in facts::ordered(results) {
            let colour = look(&variant.variant).colour.mix(BAND_ALPHA).filled();
            let rects =
                band(results, &variant.variant, op.noun())
                    .into_iter()
                    .map(|(t, lo, hi)| {
                        Rectangle::new(
                            [(t as f64, 100.0 * lo), (t as f64 + 1.0, 100.0 * hi)],
                            colour,
                        )
                    });
            chart.draw_series(rects)?;
        }
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
    let x_max = charts::time_extent(results);

    let peak = variants
        .iter()
        .flat_map(|v| v.backlog.series.iter().map(|p| p.backlog))
        .max()
        .unwrap_or(0);
    let top = headroom(peak as f64);
    let frame = Frame {
        caption: "Backlog: accepted, not yet paid (buffered bonuses; outbox + stream events)",
        x_max,
        y_max: top,
        y_desc: "backlog (items)",
        y_labelled_to: f64::INFINITY,
        whole: false,
    };
    let mut chart = charts::time_panel(&areas[0], frame, &windows, results)?;
    for variant in &variants {
        let look = look(&variant.variant);
        let points: Vec<_> = variant
            .backlog
            .series
            .iter()
            .map(|p| Some((p.t_s, p.backlog as f64)))
            .collect();
        charts::draw_broken_line(&mut chart, &points, look.colour.stroke_width(look.width))?;
    }
    if x_max > results.duration_s + 0.5 {
        // After this line no new requests arrive: what is left is drained.
        let line = RGBColor(60, 60, 60).stroke_width(1);
        let right = TextStyle::from((FONT, charts::NOTE_SIZE).into_font())
            .pos(Pos::new(HPos::Right, VPos::Top));
        chart.draw_series(DashedLineSeries::new(
            [(results.duration_s, 0.0), (results.duration_s, top)],
            6,
            4,
            line,
        ))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((results.duration_s, top)) + Text::new("load stops", (-4, 24), right),
        ))?;
    }

    if threads {
        let peak = variants
            .iter()
            .flat_map(|v| v.backlog.series.iter())
            .map(|p| p.busy_workers.max(p.in_flight_calls))
            .max()
            .unwrap_or(0);
        let frame = Frame {
            caption: "Threads held: busy workers (solid), calls waiting on the other service (dashed)",
            x_max,
            y_max: headroom(peak as f64),
            y_desc: "threads / calls",
            y_labelled_to: f64::INFINITY,
            whole: false,
        };
        let mut chart = charts::time_panel(&areas[1], frame, &windows, results)?;
        for variant in &variants {
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
    }
    root.present()?;
    Ok(true)
}

/// The percentile ladder; its x axis is categorical.
const LADDER: [&str; 5] = ["p50", "p90", "p99", "p99.9", "max"];

/// Latency percentiles per variant: bonus answers, delivery answers, and the
/// wait from a bonus's `202` to its payout.
pub fn latency(path: &Path, results: &ScenarioResults) -> anyhow::Result<bool> {
    let variants = facts::ordered(results);
    type Pick = fn(&crate::results::VariantResults) -> &Percentiles;
    let panels: [(&str, Pick); 3] = [
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
    let any = panels.iter().any(|(_, pick)| {
        variants
            .iter()
            .any(|v| !ladder(pick(v)).iter().all(Option::is_none))
    });
    if !any {
        return Ok(false);
    }
    let height = charts::legend_height(results, false) + PANEL_HEIGHT * panels.len() as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    let body = charts::canvas(&root, results, false)?;
    for (area, (caption, pick)) in body.split_evenly((panels.len(), 1)).iter().zip(panels) {
        // Log scale: a zero cannot be drawn, so zeros sit on a floor row
        // below the lowest value, labelled "0" — visible, and never read as
        // a small positive figure.
        let all: Vec<f64> = variants
            .iter()
            .flat_map(|v| ladder(pick(v)))
            .flatten()
            .collect();
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
        let bottom = if has_zero { floor / 1.6 } else { lo };
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT, charts::CAPTION_SIZE))
            .margin(8)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.3f64..4.3f64, (bottom..hi).log_scale())?;
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
            .x_label_formatter(&|x| {
                let rung = x.round();
                if (x - rung).abs() > 1e-6 || rung < 0.0 {
                    return String::new();
                }
                LADDER
                    .get(rung as usize)
                    .map_or(String::new(), |s| s.to_string())
            })
            .draw()?;
        // Our own ticks: decades, or 1-2-5 steps when the panel spans less
        // than two decades — never two labels for one value.
        let tick_style = TextStyle::from((FONT, charts::TICK_SIZE).into_font())
            .pos(Pos::new(HPos::Right, VPos::Center));
        let mut rows: Vec<(f64, String)> = ticks.iter().map(|t| (*t, tick_text(*t))).collect();
        if has_zero {
            rows.push((floor, "0".to_string()));
        }
        for (y, text) in rows {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(-0.3, y), (4.3, y)],
                RGBColor(225, 225, 225).stroke_width(1),
            )))?;
            chart.draw_series(std::iter::once(
                EmptyElement::at((-0.3, y)) + Text::new(text, (-6, 0), tick_style.clone()),
            ))?;
        }
        if values.is_empty() && !has_zero {
            chart.draw_series(std::iter::once(Text::new(
                "no samples",
                (1.6, (lo * hi).sqrt()),
                (FONT, charts::NOTE_SIZE),
            )))?;
        }
        for variant in &variants {
            let look = look(&variant.variant);
            let points: Vec<Option<(f64, f64)>> = ladder(pick(variant))
                .iter()
                .enumerate()
                .map(|(i, v)| v.map(|v| (i as f64, if v > 0.0 { v } else { floor })))
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
    }
    root.present()?;
    Ok(true)
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

/// A y range with room above the highest value; at least 1 so an all-zero
/// series still gets an axis.
pub fn headroom(peak: f64) -> f64 {
    (peak * 1.12).max(1.0)
}
