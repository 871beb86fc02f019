//! The index's one chart: per scenario, each variant's bonus availability as
//! a bar, with the number of requests it paid wrong printed above it — the
//! trade-off between refusing work and doing it wrong, on one slide.

use std::path::Path;

use plotters::prelude::*;

use super::bars::{self, BarFrame, Slot};
use super::charts::{self, NOTE_SIZE, WIDTH, look};
use super::facts;
use crate::results::ScenarioResults;

/// Tall enough for the percentage scale and the two label rows under it.
const PANEL: u32 = 460;

/// Draws `tradeoff.svg`; `false` (and no file) when nothing was run.
pub fn draw(path: &Path, all: &[ScenarioResults]) -> anyhow::Result<bool> {
    let Some(first) = all.first() else {
        return Ok(false);
    };
    let height = charts::legend_height(first, false) + PANEL;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    let body = charts::canvas(&root, first, false)?;
    let frame = BarFrame {
        caption: "Bonus availability per scenario (bar) and requests paid wrong (number above)",
        groups: all.len(),
        // Past 100 % so the figures above a full bar stay inside the panel.
        y_max: 118.0,
        y_desc: "bonuses served (% of sent)",
        y_labelled_to: 100.0,
        names_height: 60,
    };
    let mut chart = bars::panel(&body, frame)?;
    for (group, results) in all.iter().enumerate() {
        let variants = facts::ordered(results);
        for (slot, v) in variants.iter().enumerate() {
            let served = v.operations.bonus.availability.unwrap_or(0.0) * 100.0;
            let at = Slot {
                group,
                slot,
                slots: variants.len(),
            };
            let errors = super::format::count(super::takeaway::money_errors(v));
            let colour = look(&v.variant).colour;
            bars::bar(&mut chart, at, served, colour, errors, NOTE_SIZE - 4)?;
        }
        bars::group_name(&mut chart, group, results.scenario.clone(), NOTE_SIZE - 4)?;
    }
    root.present()?;
    Ok(true)
}
