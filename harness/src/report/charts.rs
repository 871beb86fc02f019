//! The report's charts, drawn with plotters' SVG backend.
//!
//! Up to five figures per scenario, each written as an SVG file beside the
//! report: availability over time (one panel per operation), backlog over time
//! (plus, for the synchronous design, the worker threads its waiting requests
//! hold), money and correctness over time and in total (`money_chart.rs`), and
//! the latency distribution per variant. Every figure shades the fault
//! windows, labels its axes with units, and draws a variant in the same colour
//! and line width as every other figure ([`look`]), with one legend strip on
//! top.
//!
//! Text needs no font: with no `ttf`/`ab_glyph` feature plotters lays text out
//! with a built-in estimate of glyph widths and the SVG backend writes `<text>`
//! elements with `font-family="sans-serif"`, which the viewer renders with its
//! own fonts. Nothing here reads a system font.
//!
//! The drawing of each figure lives in [`super::figures`] (over time),
//! [`super::latency_chart`] and `money_chart.rs`; this file holds what they
//! share.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::facts::{self, Window};
use crate::results::ScenarioResults;

/// Pixels across every figure: wide enough for a 60 s timeline at one point
/// per second, narrow enough that GitHub's ~900 px column barely scales it.
pub const WIDTH: u32 = 960;
/// The legend strip above the panels.
pub const LEGEND_HEIGHT: u32 = 40;
/// One panel of a stacked figure.
pub const PANEL_HEIGHT: u32 = 270;

pub const FONT: &str = "sans-serif";

/// Font sizes, in plotters' units: its SVG backend writes `size / 1.24` px,
/// so a caption of 20 renders at about 16 px — readable when GitHub scales a
/// 960 px figure down to its column.
pub const CAPTION_SIZE: u32 = 20;
pub const LEGEND_SIZE: u32 = 19;
pub const AXIS_SIZE: u32 = 17;
pub const TICK_SIZE: u32 = 16;
pub const NOTE_SIZE: u32 = 16;

/// Fault windows: a light grey band behind the lines.
const FAULT_GREY: RGBColor = RGBColor(110, 110, 110);
const FAULT_ALPHA: f64 = 0.16;
const TEXT: RGBColor = RGBColor(40, 40, 40);

/// How a variant is drawn, in every figure alike.
#[derive(Clone, Copy, Debug)]
pub struct Look {
    pub colour: RGBColor,
    /// Lines are drawn in variant order with shrinking widths, so a later
    /// variant's line lying on an earlier one (both at 100 %) leaves the
    /// earlier one visible as a border.
    pub width: u32,
    /// The colour's name, for captions.
    pub colour_name: &'static str,
}

/// The colours come from the Okabe–Ito palette, which stays distinguishable
/// for the common kinds of colour blindness.
pub fn look(variant: &str) -> Look {
    match variant {
        "sync" => Look {
            colour: RGBColor(213, 94, 0),
            width: 7,
            colour_name: "vermillion",
        },
        "sync-buffered" => Look {
            colour: RGBColor(204, 121, 167),
            width: 4,
            colour_name: "pink",
        },
        "sync-resilient" => Look {
            colour: RGBColor(0, 158, 115),
            width: 3,
            colour_name: "green",
        },
        "async" => Look {
            colour: RGBColor(0, 114, 178),
            width: 2,
            colour_name: "blue",
        },
        other => {
            // An ablation (`…-without-<mechanism>`) takes its mechanism's
            // colour, so an ablation's six differ; any other variant a stable
            // colour chosen by its name. Okabe–Ito's remaining three, then
            // three of Paul Tol's.
            let extra = [
                (RGBColor(0, 0, 0), "black"),
                (RGBColor(230, 159, 0), "orange"),
                (RGBColor(86, 180, 233), "sky blue"),
                (RGBColor(136, 34, 85), "wine"),
                (RGBColor(153, 153, 51), "olive"),
                (RGBColor(119, 119, 119), "grey"),
            ];
            let mechanism = other.rsplit_once("-without-").and_then(|(_, m)| {
                sync_variant::MECHANISMS
                    .iter()
                    .position(|known| *known == m)
            });
            let index = mechanism.unwrap_or_else(|| other.bytes().map(usize::from).sum::<usize>())
                % extra.len();
            Look {
                colour: extra[index].0,
                width: 2,
                colour_name: extra[index].1,
            }
        }
    }
}

/// One SVG file written beside the report.
#[derive(Clone, Debug)]
pub struct Figure {
    /// The link from the report's markdown, e.g. `payments-outage/backlog.svg`.
    pub link: String,
    pub title: String,
    /// What to look for, one or two sentences.
    pub caption: String,
}

/// Draws every figure of a scenario into `dir`; links are `link_prefix/<file>`.
pub fn draw_all(
    dir: &Path,
    link_prefix: &str,
    results: &ScenarioResults,
) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let mut add = |file: &str, title: &str, caption: String, drawn: bool| {
        if drawn {
            figures.push(Figure {
                link: format!("{link_prefix}/{file}"),
                title: title.to_string(),
                caption,
            });
        }
    };
    let drawn = super::figures::availability(&dir.join("availability.svg"), results)?;
    let runs = results.repetitions.as_ref().map_or(1, |r| r.runs.len());
    let band = repeated(
        runs,
        "around it spans the lowest to the highest share of that second",
        "",
    );
    add(
        "availability.svg",
        "Availability over time",
        format!(
            "The share of each second's requests answered 2xx within the SLO, per variant. \
             Grey bands are the fault windows.{band}"
        ),
        drawn,
    );
    let drawn = super::figures::backlog(&dir.join("backlog.svg"), results)?;
    let band = repeated(
        runs,
        "spans the lowest to the highest backlog peak of that second",
        " (worker threads: run 1 only)",
    );
    add(
        "backlog.svg",
        "Backlog over time",
        format!(
            "Work accepted but not yet done. The synchronous design keeps none: what it cannot \
             do it refuses, while its waiting requests hold worker threads (lower panel, if \
             any).{band}"
        ),
        drawn,
    );
    let drawn = super::money_chart::over_time(&dir.join("money-over-time.svg"), results)?;
    add(
        "money-over-time.svg",
        "Money and correctness over time",
        "Requests paid wrong per second, one panel per kind of defect that occurred, each \
         request counted in the second it was sent (not when its payout happened). Grey \
         bands are the fault windows."
            .to_string(),
        drawn,
    );
    let drawn = super::money_chart::draw(&dir.join("money.svg"), results)?;
    add(
        "money.svg",
        "Money and correctness",
        "Every way a request was paid wrong, per variant, over the whole run; a bar \
         labelled 0 means none. The money table below has the split by bonuses and \
         deliveries."
            .to_string(),
        drawn,
    );
    let drawn = super::latency_chart::latency(&dir.join("latency.svg"), results)?;
    add(
        "latency.svg",
        "Latency distribution",
        "Percentiles on a log scale; a missing point means too few samples to state it. \
         The last panel is the asynchronous design's price: the wait between `202` and the payout."
            .to_string(),
        drawn,
    );
    Ok(figures)
}

/// What a chart of `runs` > 1 repetitions adds to its caption: the band's
/// meaning (`spans`), and what it leaves out (`aside`).
fn repeated(runs: usize, spans: &str, aside: &str) -> String {
    if runs <= 1 {
        return String::new();
    }
    format!(
        " Each line is run 1; the light band of its colour {spans} over the {runs} runs{aside}."
    )
}

/// One entry of the legend: a variant (`None`: the fault window), and where
/// it goes (x, row).
type Entry = (Option<String>, i32, i32);

/// Lays the legend out left to right, starting a new row of
/// [`LEGEND_HEIGHT`] where the next entry would cross the figure's right edge
/// (an ablation's ten variants take three rows).
fn legend(results: &ScenarioResults, faults: bool) -> Vec<Entry> {
    let names = facts::ordered(results)
        .into_iter()
        .map(|v| Some(v.variant.clone()));
    let names: Vec<Option<String>> = names.chain(faults.then_some(None)).collect();
    let (mut x, mut row) = (80, 0);
    let mut entries = Vec::new();
    for name in names {
        let text = name.as_deref().unwrap_or("fault window");
        let width = 38 + text_width(text, LEGEND_SIZE);
        if x > 80 && x + width > WIDTH as i32 - 10 {
            (x, row) = (80, row + 1);
        }
        entries.push((name, x, row));
        x += width + 30;
    }
    entries
}

/// The legend's height: [`LEGEND_HEIGHT`] per row. Figures add it to their panels.
pub fn legend_height(results: &ScenarioResults, faults: bool) -> u32 {
    let rows = legend(results, faults).last().map_or(0, |e| e.2) + 1;
    LEGEND_HEIGHT * rows as u32
}

/// A white canvas with the legend drawn ([`legend_height`] tall); returns the
/// area below it.
pub fn canvas<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    results: &ScenarioResults,
    faults: bool,
) -> anyhow::Result<DrawingArea<SVGBackend<'a>, Shift>> {
    root.fill(&WHITE)?;
    let (strip, body) = root.split_vertically(legend_height(results, faults));
    let style = TextStyle::from((FONT, LEGEND_SIZE).into_font()).color(&TEXT);
    for (name, x, row) in legend(results, faults) {
        let y = row * LEGEND_HEIGHT as i32;
        let (text, swatch) = match &name {
            Some(variant) => (variant.as_str(), look(variant).colour.filled()),
            None => ("fault window", FAULT_GREY.mix(FAULT_ALPHA * 2.0).filled()),
        };
        let (top, bottom) = if name.is_some() { (16, 22) } else { (10, 28) };
        strip.draw(&Rectangle::new(
            [(x, y + top), (x + 30, y + bottom)],
            swatch,
        ))?;
        strip.draw(&Text::new(
            text.to_string(),
            (x + 38, y + 10),
            style.clone(),
        ))?;
    }
    Ok(body)
}

/// A roughly estimated text width in pixels (the same estimate plotters uses).
fn text_width(text: &str, size: u32) -> i32 {
    (f64::from(size) * 0.6 * text.chars().count() as f64).round() as i32
}

/// What a panel over the run's time axis shows.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'s> {
    pub caption: &'s str,
    pub x_max: f64,
    pub y_max: f64,
    pub y_desc: &'s str,
    /// Ticks above this value stay unlabelled: the band above it holds the
    /// fault labels, clear of lines that sit at the top of the scale.
    pub y_labelled_to: f64,
    /// Label only whole values: the axis counts things (requests), and a
    /// small count's scale would otherwise read "0.2 requests".
    pub whole: bool,
}

/// A chart over the run's time axis, with the mesh, axis titles and the fault
/// windows (shaded and labelled) already drawn.
pub fn time_panel<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    frame: Frame,
    windows: &[Window],
    results: &ScenarioResults,
) -> anyhow::Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>> {
    let Frame {
        caption,
        x_max,
        y_max,
        y_desc,
        y_labelled_to,
        whole,
    } = frame;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, CAPTION_SIZE).into_font().color(&TEXT))
        .margin(8)
        .margin_right(24)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    let y_label = |v: &f64| {
        if *v > y_labelled_to || (whole && v.fract() != 0.0) {
            String::new()
        } else {
            super::format::number(*v)
        }
    };
    chart
        .configure_mesh()
        .x_desc("time since the run started (s)")
        .y_desc(y_desc)
        .axis_desc_style((FONT, AXIS_SIZE))
        .label_style((FONT, TICK_SIZE))
        .max_light_lines(1)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_label_formatter(&|v| super::format::number(*v))
        .y_label_formatter(&y_label)
        .draw()?;
    chart.draw_series(windows.iter().map(|w| {
        Rectangle::new(
            [(w.start, 0.0), (w.end.min(x_max), y_max)],
            FAULT_GREY.mix(FAULT_ALPHA).filled(),
        )
    }))?;
    let label = TextStyle::from((FONT, NOTE_SIZE).into_font()).color(&TEXT);
    chart.draw_series(windows.iter().map(|w| {
        EmptyElement::at((w.start, y_max))
            + Text::new(band_label(results, w), (4, 3), label.clone())
    }))?;
    Ok(chart)
}

/// A fault band's label; when the fault does not apply to every variant, it
/// names the ones it applies to — the band is no fault for the others.
pub fn band_label(results: &ScenarioResults, w: &Window) -> String {
    let all = facts::ordered(results);
    let hit: Vec<&str> = all
        .iter()
        .filter(|v| v.not_applicable_to(w.index).is_none())
        .map(|v| v.variant.as_str())
        .collect();
    if hit.len() == all.len() {
        w.entry.label.clone()
    } else {
        format!("{} ({} only)", w.entry.label, hit.join(", "))
    }
}

/// Draws one variant's line, broken where it has no value (`None`), with a dot
/// for a value that stands alone.
pub fn draw_broken_line<DB: DrawingBackend, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: &[Option<(f64, f64)>],
    style: ShapeStyle,
) -> anyhow::Result<()>
where
    CT: CoordTranslate<From = (f64, f64)>,
    DB::ErrorType: 'static,
{
    for run in points.split(Option::is_none) {
        let run: Vec<(f64, f64)> = run.iter().flatten().copied().collect();
        match run.len() {
            0 => {}
            1 => {
                chart
                    .plotting_area()
                    .draw(&Circle::new(run[0], 3, style.color.filled()))
                    .map_err(|e| anyhow::anyhow!("drawing a point: {e}"))?;
            }
            _ => {
                chart
                    .plotting_area()
                    .draw(&PathElement::new(run, style))
                    .map_err(|e| anyhow::anyhow!("drawing a line: {e}"))?;
            }
        }
    }
    Ok(())
}

/// A per-second series as steps: each value holds from `t` to `t + 1`, so a
/// change lines up with a fault band's edge. A second missing from the series,
/// or one with no value, breaks the line rather than bridging it.
pub fn steps(series: impl IntoIterator<Item = (u64, Option<f64>)>) -> Vec<Option<(f64, f64)>> {
    let mut points = Vec::new();
    let mut last_t: Option<u64> = None;
    for (t_s, value) in series {
        if last_t.is_some_and(|t| t_s > t + 1) {
            points.push(None);
        }
        last_t = Some(t_s);
        points.push(value.map(|v| (t_s as f64, v)));
        points.push(value.map(|v| (t_s as f64 + 1.0, v)));
    }
    points
}

/// The time axis: the run, or longer when the backlog was sampled through the
/// drain phase after the load stopped.
pub fn time_extent(results: &ScenarioResults) -> f64 {
    let sampled = results
        .variants
        .iter()
        .flat_map(|v| v.backlog.series.last())
        .map(|p| p.t_s)
        .fold(0.0, f64::max);
    results.duration_s.max(sampled).max(1.0)
}
