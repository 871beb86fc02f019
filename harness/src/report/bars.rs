//! What the two bar charts share (the money totals in `money_chart.rs`, the
//! index's trade-off in `tradeoff_chart.rs`): a panel of groups along an
//! unlabelled x axis, each group a bar per variant with its figure printed
//! above it and the group's name below.
//!
//! The x axis runs from 0 to the number of groups; group `i` spans `i..i+1`,
//! its bars share the middle 80 % of it, so neighbouring groups stay apart.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::charts::{AXIS_SIZE, CAPTION_SIZE, FONT, NOTE_SIZE};

/// The chart a bar panel draws on.
pub type BarChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// What a bar panel shows.
#[derive(Clone, Copy, Debug)]
pub struct BarFrame<'s> {
    pub caption: &'s str,
    pub groups: usize,
    pub y_max: f64,
    pub y_desc: &'s str,
    /// Ticks above this stay unlabelled: the room above the scale holds the
    /// figures printed on the tallest bars.
    pub y_labelled_to: f64,
    /// Pixels under the axis for the groups' names.
    pub names_height: u32,
}

/// The panel: caption, horizontal grid lines and the labelled y axis.
pub fn panel<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    frame: BarFrame,
) -> anyhow::Result<BarChart<'a, 'b>> {
    let mut chart = ChartBuilder::on(area)
        .caption(frame.caption, (FONT, CAPTION_SIZE).into_font())
        .margin(8)
        .margin_right(24)
        .x_label_area_size(frame.names_height)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..frame.groups.max(1) as f64, 0f64..frame.y_max)?;
    let y_label = |v: &f64| {
        if *v > frame.y_labelled_to {
            String::new()
        } else {
            super::format::number(*v)
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .max_light_lines(0)
        .bold_line_style(RGBColor(225, 225, 225))
        .y_desc(frame.y_desc)
        .axis_desc_style((FONT, AXIS_SIZE))
        .label_style((FONT, NOTE_SIZE))
        .y_label_formatter(&y_label)
        .draw()?;
    Ok(chart)
}

/// Where one bar stands: the `slot`-th of `slots` bars in group `group`.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub group: usize,
    pub slot: usize,
    pub slots: usize,
}

/// One bar of height `value`, with `figure` printed just above it in `size`.
pub fn bar(
    chart: &mut BarChart,
    at: Slot,
    value: f64,
    colour: RGBColor,
    figure: String,
    size: u32,
) -> anyhow::Result<()> {
    let width = 0.8 / at.slots.max(1) as f64;
    let x0 = at.group as f64 + 0.1 + at.slot as f64 * width;
    let y_max = chart.y_range().end;
    chart.draw_series(std::iter::once(Rectangle::new(
        [(x0, 0.0), (x0 + width * 0.9, value)],
        colour.filled(),
    )))?;
    chart.draw_series(std::iter::once(Text::new(
        figure,
        (x0 + width * 0.45, value + y_max * 0.01),
        anchored(size, VPos::Bottom),
    )))?;
    Ok(())
}

/// A group's name, centred under its bars.
pub fn group_name(
    chart: &mut BarChart,
    group: usize,
    name: String,
    size: u32,
) -> anyhow::Result<()> {
    chart.draw_series(std::iter::once(Text::new(
        name,
        (group as f64 + 0.5, 0.0),
        anchored(size, VPos::Top),
    )))?;
    Ok(())
}

fn anchored(size: u32, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Center, v))
}
