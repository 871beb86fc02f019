//! Markdown reports with SVG charts, written from [`crate::results`].
//!
//! A run's results are numbers; a report turns them into a lesson a student
//! can follow without running the tool: what the scenario broke and when, what
//! each variant's users saw (in sentences chosen from the numbers, then in
//! side-by-side tables), charts, textbook predictions beside the measurements,
//! and the exact command that replays the run. Reports are plain markdown
//! (GitHub renders them; so does any viewer) with SVG charts beside them.
//!
//! Where each part lives:
//!
//! | part | file |
//! | --- | --- |
//! | the page's order (`SECTIONS`) and the scenario's timeline | `page.rs` |
//! | the first screen: short lesson, key chart, what to take away | `takeaway.rs` |
//! | the model page `MODEL.md` (diagrams, configuration, glossary) / each report's configuration | `model.rs` / `configuration.rs` |
//! | the money charts (over time, totals) / the index's trade-off chart; their bars | `money_chart.rs` / `tradeoff_chart.rs`; `bars.rs` |
//! | the sentences, chosen from the numbers | `narrative.rs`, `narrative_money.rs` |
//! | the side-by-side tables | `tables.rs` |
//! | predictions beside measurements | `theory.rs`, `drain.rs` |
//! | charts: colours, legend, fault bands / availability and backlog over time / latency | `charts.rs` / `figures.rs` / `latency_chart.rs` |
//! | fault windows and what happened inside them | `facts.rs` |
//! | repetitions: `median (min–max)`, claims "held in k of N runs" | `spread.rs` |
//! | the index (`README.md`) | `index.rs` |
//! | number formatting, markdown tables | `format.rs`, `markdown.rs` |
//!
//! Production reporting would more likely export the raw series to a
//! dashboard; a committed markdown report is chosen here because it is
//! reviewable in a diff and readable years later without any service.

mod bars;
mod charts;
/// How a variant is drawn (its colour in every chart).
pub use charts::{Look, look};
mod configuration;
mod drain;
mod facts;
mod figures;
pub(crate) mod format;
mod index;
mod latency_chart;
mod markdown;
mod model;
mod money_chart;
mod narrative;
mod narrative_money;
mod narrative_runs;
mod page;
mod resilience;
pub(crate) mod spread;
pub(crate) mod sweep_chart;
mod tables;
mod takeaway;
mod theory;
mod tradeoff_chart;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::results::ScenarioResults;

/// Writes `<out>/<scenario>.md` and its charts under `<out>/<scenario>/`.
pub fn write_scenario_report(out: &Path, results: &ScenarioResults) -> anyhow::Result<()> {
    check_name(&results.scenario)?;
    let chart_dir = out.join(&results.scenario);
    fs::create_dir_all(&chart_dir)
        .with_context(|| format!("creating the chart directory {}", chart_dir.display()))?;
    let figures = charts::draw_all(&chart_dir, &results.scenario, results)
        .with_context(|| format!("drawing the charts of {}", results.scenario))?;
    let path = out.join(format!("{}.md", results.scenario));
    fs::write(&path, page::render(results, &figures))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes `<out>/README.md` (one row per scenario, linking each report) and
/// `<out>/MODEL.md` (the variants, their configuration, the glossary).
pub fn write_index(out: &Path, all: &[ScenarioResults]) -> anyhow::Result<()> {
    for results in all {
        check_name(&results.scenario)?;
    }
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join("README.md");
    let index = index::render(all) + &sweeps_section(out);
    fs::write(&path, index).with_context(|| format!("writing {}", path.display()))?;
    tradeoff_chart::draw(&out.join("tradeoff.svg"), all).context("drawing tradeoff.svg")?;
    let model = out.join("MODEL.md");
    fs::write(&model, model::render()).with_context(|| format!("writing {}", model.display()))?;
    Ok(())
}

/// The index's links to the sweep pages under `<out>/sweeps/` (`commlab
/// sweep`), if any: they are written apart from the suite, and kept.
fn sweeps_section(out: &Path) -> String {
    let Ok(entries) = fs::read_dir(out.join("sweeps")) else {
        return String::new();
    };
    let mut pages: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".md"))
        .collect();
    if pages.is_empty() {
        return String::new();
    }
    pages.sort();
    let links: Vec<String> = pages
        .iter()
        .map(|p| format!("- [{}](sweeps/{p})", p.trim_end_matches(".md")))
        .collect();
    format!(
        "\n## Sweeps\n\nOne parameter varied, every variant run at each value, and the first \
         value at which each variant's availability drops below 99 % (`commlab sweep`):\n\n{}\n",
        links.join("\n")
    )
}

/// Reads recorded results (`<scenario>.json`, as `commlab run` writes them)
/// and writes their reports, the index and the model page into `out`: the
/// way to see a change to the reports without running anything again.
pub fn rewrite(files: &[PathBuf], out: &Path) -> anyhow::Result<()> {
    let mut all = Vec::new();
    for file in files {
        let text =
            fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let results: ScenarioResults = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a commlab results file", file.display()))?;
        all.push(results);
    }
    // The suite's order, whatever order the shell's glob gave.
    let names = crate::builtin::names();
    all.sort_by_key(|r| {
        (
            names
                .iter()
                .position(|n| *n == r.scenario)
                .unwrap_or(names.len()),
            r.scenario.clone(),
        )
    });
    for results in &all {
        write_scenario_report(out, results)?;
    }
    write_index(out, &all)
}

/// A scenario's name becomes a file and a directory name and a relative link:
/// only characters that are safe in all three, and never a path.
fn check_name(name: &str) -> anyhow::Result<()> {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.starts_with('.') || !name.chars().all(safe) {
        bail!(
            "scenario name {name:?} cannot name a report file: use letters, digits, '-', '_' \
             and '.', not starting with '.'"
        );
    }
    Ok(())
}
