//! `commlab sweep SCENARIO --vary PARAM=FROM..TO --steps K` (or
//! `--vary PARAM=v1,v2,v3`): the scenario once per value of one parameter
//! (`--repeat` runs per value), to find where a design tips over.
//!
//! A value is applied to the scenario *file* — the TOML is read, the one
//! field set, and the result validated like any scenario — so a value that
//! makes the scenario invalid is refused with the scenario's own message,
//! before anything runs. Each value's results and report are written under
//! `<out>/sweeps/<name>/<k>/` as `commlab run` writes them; the sweep's page
//! `<out>/sweeps/<name>.md` reads their headline figures (`headline.rs`, via
//! `compare::spreads`) and names the cliff: the first value at which a
//! variant's bonus availability (median) drops below [`TARGET`].
//!
//! Parameters: `workload.<couriers|bonus_rate|delivery_rate|performance_rate>`
//! and `fault[N].<start|duration|mean|jitter|rate>` (1-based, as in `[[expect]]`),
//! and `sync.<workers|call_timeout>`: the `[sync]` table, the pool of every
//! synchronous variant (`scenario/variant_table.rs`).
//!
//! Next: `report/sweep_chart.rs` (the chart), `repeat.rs` (runs per value).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use toml::{Table, Value};

use crate::bad_input::BadInput;
use crate::broker::StreamOption;
use crate::headline::Unit;
use crate::report::spread::spread;
use crate::scenario::{Scenario, parse_duration};
use crate::suite::{Interrupted, RunOptions, run_suite};

/// The availability a variant must keep to be "before the cliff": the 99 %
/// the recovery figure also uses (`measure.rs`), a common SLO target.
pub const TARGET: f64 = 0.99;

/// Most values one sweep may run.
const MAX_VALUES: usize = 20;

/// What `commlab sweep` was asked to do: its command line.
#[derive(Clone, Debug, clap::Args)]
pub struct SweepOptions {
    /// A built-in scenario's name, or a scenario file.
    pub scenario: String,
    /// PARAM=FROM..TO (with --steps) or PARAM=v1,v2,…: workload.<field>,
    /// fault[N].<start|duration|mean|jitter|rate> or sync.<workers|call_timeout>.
    #[arg(long, value_name = "PARAM=VALUES")]
    pub vary: String,
    /// How many evenly spaced values a FROM..TO range holds.
    #[arg(long, value_name = "K")]
    pub steps: Option<u32>,
    /// Runs per value.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=crate::repeat::MAX_REPEAT as i64))]
    pub repeat: u32,
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out: PathBuf,
    /// Shorter timelines, as `commlab run --quick`: a smoke run.
    #[arg(long)]
    pub quick: bool,
}

/// One value of the parameter: as written into the file, and as a number
/// for the chart (durations in ms).
#[derive(Clone, Debug)]
struct Point {
    text: String,
    toml: Value,
    x: f64,
}

/// Runs the sweep; returns the page's path.
pub fn sweep(options: &SweepOptions) -> anyhow::Result<PathBuf> {
    let (file, text) = source(&options.scenario)?;
    let (param, spec) = options.vary.split_once('=').ok_or_else(|| {
        BadInput(format!(
            "--vary {:?}: write PARAM=FROM..TO or PARAM=v1,v2",
            options.vary
        ))
    })?;
    let points = values(param, spec, options.steps)?;
    let mut scenarios = Vec::new();
    for point in &points {
        let changed = set(&text, param, point.toml.clone())?;
        let scenario = Scenario::parse(&file, &options.scenario, &changed)
            .map_err(|e| BadInput(format!("--vary {param}={}: {e}", point.text)))?;
        scenarios.push(scenario);
    }
    let name = format!("{}-{}", scenarios[0].name, slug(param));
    let dir = options.out.join("sweeps");
    let mut results = Vec::new();
    for (k, scenario) in scenarios.iter().enumerate() {
        println!("sweep {name}: {param} = {}", points[k].text);
        let run = RunOptions {
            out: dir.join(&name).join(format!("{}", k + 1)),
            quick: options.quick,
            variants: None,
            ablate: None,
            seed: None,
            stream: StreamOption::Memory,
            repeat: Some(options.repeat),
            mode: Default::default(),
            keep_data: false,
            memory_state: false,
        };
        let outcome = run_suite(std::slice::from_ref(scenario), &run)?;
        match outcome.results.into_iter().next() {
            Some(played) if !outcome.interrupted => results.push(played),
            _ => {
                return Err(Interrupted(format!(
                    "at {param} = {}: the values before it are in {}; no sweep page was written",
                    points[k].text,
                    dir.join(&name).display()
                ))
                .into());
            }
        }
    }
    let chart = format!("{name}.svg");
    let lines = lines(&results, &points);
    let label = if points[0].text.ends_with('s') {
        format!("{param} (ms)")
    } else {
        param.to_string()
    };
    crate::report::sweep_chart::draw(&dir.join(&chart), &label, TARGET, &lines)
        .context("drawing the sweep chart")?;
    let page = dir.join(format!("{name}.md"));
    std::fs::write(
        &page,
        render(&name, options, param, &points, &results, &chart),
    )
    .with_context(|| format!("writing {}", page.display()))?;
    Ok(page)
}

/// The scenario's file name and text: a built-in by name, or a file.
fn source(argument: &str) -> anyhow::Result<(String, String)> {
    if let Some((path, text)) = crate::builtin::source(argument) {
        return Ok((path.to_string(), text.to_string()));
    }
    let text = std::fs::read_to_string(argument).map_err(|e| {
        BadInput(format!(
            "{argument}: not a built-in scenario, and cannot read it: {e}"
        ))
    })?;
    Ok((argument.to_string(), text))
}

/// The values `spec` names: `FROM..TO` in `steps` even steps, or a list.
fn values(param: &str, spec: &str, steps: Option<u32>) -> Result<Vec<Point>, BadInput> {
    let bad = |why: &str| BadInput(format!("--vary {param}={spec}: {why}"));
    let texts: Vec<String> = match spec.split_once("..") {
        Some((from, to)) => {
            let steps = steps.ok_or_else(|| bad("a range needs --steps K (K ≥ 2)"))?;
            if steps < 2 {
                return Err(bad("--steps must be at least 2"));
            }
            let (a, b) = (
                point(from).ok_or_else(|| bad("FROM is not a number or duration"))?,
                point(to).ok_or_else(|| bad("TO is not a number or duration"))?,
            );
            let duration = from.trim().ends_with('s');
            (0..steps)
                .map(|i| {
                    let x = a.x + (b.x - a.x) * f64::from(i) / f64::from(steps - 1);
                    if duration {
                        format!("{}ms", x.round())
                    } else {
                        format!("{x}")
                    }
                })
                .collect()
        }
        None => spec.split(',').map(|v| v.trim().to_string()).collect(),
    };
    if texts.iter().any(String::is_empty) || texts.is_empty() {
        return Err(bad("the range holds no values"));
    }
    if texts.len() > MAX_VALUES {
        return Err(bad(&format!("at most {MAX_VALUES} values")));
    }
    texts
        .iter()
        .map(|t| point(t).ok_or_else(|| bad(&format!("{t:?} is not a number or duration"))))
        .collect()
}

/// A value as written: a duration (`200ms`) or a number.
fn point(text: &str) -> Option<Point> {
    let text = text.trim();
    if let Ok(d) = parse_duration(text) {
        let ms = d.as_secs_f64() * 1000.0;
        return Some(Point {
            text: text.to_string(),
            toml: Value::String(text.to_string()),
            x: ms,
        });
    }
    let x: f64 = text.parse().ok().filter(|x: &f64| x.is_finite())?;
    let toml = if x.fract() == 0.0 && !text.contains('.') {
        Value::Integer(x as i64)
    } else {
        Value::Float(x)
    };
    Some(Point {
        text: text.to_string(),
        toml,
        x,
    })
}

/// The scenario's text with `param` set to `value`.
fn set(text: &str, param: &str, value: Value) -> Result<String, BadInput> {
    let unknown = || {
        BadInput(format!(
            "--vary: unknown parameter {param:?}; use workload.<couriers|bonus_rate|delivery_rate|\
             performance_rate>, fault[N].<start|duration|mean|jitter|rate> or \
             sync.<workers|call_timeout>"
        ))
    };
    let mut table: Table =
        toml::from_str(text).map_err(|e| BadInput(format!("the scenario: {e}")))?;
    let slot = if let Some(field) = param.strip_prefix("sync.") {
        if !["workers", "call_timeout"].contains(&field) {
            return Err(unknown());
        }
        let sync = table
            .entry("sync")
            .or_insert_with(|| Value::Table(Table::new()))
            .as_table_mut()
            .ok_or_else(unknown)?;
        (sync, field)
    } else if let Some(field) = param.strip_prefix("workload.") {
        if ![
            "couriers",
            "bonus_rate",
            "delivery_rate",
            "performance_rate",
        ]
        .contains(&field)
        {
            return Err(unknown());
        }
        let workload = table
            .get_mut("workload")
            .and_then(Value::as_table_mut)
            .ok_or_else(unknown)?;
        (workload, field)
    } else {
        let rest = param.strip_prefix("fault[").ok_or_else(unknown)?;
        let (n, field) = rest.split_once("].").ok_or_else(unknown)?;
        let n: usize = n.parse().map_err(|_| unknown())?;
        if !["start", "duration", "mean", "jitter", "rate"].contains(&field) {
            return Err(unknown());
        }
        let faults = table.get_mut("fault").and_then(Value::as_array_mut);
        let count = faults.as_ref().map_or(0, |f| f.len());
        let fault = faults
            .and_then(|f| f.get_mut(n.wrapping_sub(1)))
            .and_then(Value::as_table_mut)
            .ok_or_else(|| {
                BadInput(format!(
                    "--vary {param}: the scenario has {}",
                    crate::report::format::plural(count as u64, "fault", "faults")
                ))
            })?;
        (fault, field)
    };
    // A rate is a float in the file even where the value was written whole.
    let value = match (&value, slot.1) {
        (Value::Integer(i), f) if f.ends_with("rate") => Value::Float(*i as f64),
        _ => value,
    };
    slot.0.insert(slot.1.to_string(), value);
    toml::to_string(&table).map_err(|e| BadInput(format!("--vary {param}: {e}")))
}

/// `fault[1].mean` → `fault1-mean`: a file name.
fn slug(param: &str) -> String {
    param
        .chars()
        .filter_map(|c| match c {
            '[' | ']' => None,
            '.' => Some('-'),
            c => Some(c),
        })
        .collect()
}

/// Each variant's bonus availability (median) per value.
fn lines(
    results: &[crate::results::ScenarioResults],
    points: &[Point],
) -> Vec<crate::report::sweep_chart::Line> {
    let mut lines: Vec<crate::report::sweep_chart::Line> = Vec::new();
    for (r, p) in results.iter().zip(points) {
        for (variant, figures) in crate::compare::spreads(r) {
            let y = figures.get("availability.bonus").and_then(|s| s.median);
            match lines.iter_mut().find(|(v, _)| *v == variant) {
                Some((_, pts)) => pts.push((p.x, y)),
                None => lines.push((variant, vec![(p.x, y)])),
            }
        }
    }
    lines
}

/// The page: the command, the cliff per variant, the chart, the table.
fn render(
    name: &str,
    options: &SweepOptions,
    param: &str,
    points: &[Point],
    results: &[crate::results::ScenarioResults],
    chart: &str,
) -> String {
    let mut out = format!("# Sweep: {} against `{param}`\n\n", results[0].title);
    let steps = options
        .steps
        .map_or(String::new(), |k| format!(" --steps {k}"));
    let quick = if options.quick { " --quick" } else { "" };
    let _ = writeln!(
        out,
        "Each value ran {} on every variant; each figure is the median over those runs \
         with the lowest and highest in brackets. The target is {} % of bonuses served within the \
         SLO. Replay:\n\n```sh\ncargo run --release -p commlab -- sweep {} --vary '{}'{steps} --repeat {} --out {}{quick}\n```\n",
        crate::report::format::plural(u64::from(options.repeat), "time", "times"),
        TARGET * 100.0,
        options.scenario,
        options.vary,
        options.repeat,
        options.out.display()
    );
    for (variant, _) in crate::compare::spreads(&results[0]) {
        let _ = writeln!(out, "- {}", cliff(&variant, param, points, results));
    }
    let _ = writeln!(out, "\n![bonus availability against {param}]({chart})\n");
    out.push_str(&table(name, param, points, results));
    out
}

/// "`sync` first drops below 99 % at fault[1].mean = 50ms: 41.2 % (30.1 %–52.0 %)."
fn cliff(
    variant: &str,
    param: &str,
    points: &[Point],
    results: &[crate::results::ScenarioResults],
) -> String {
    for (r, p) in results.iter().zip(points) {
        let spreads = crate::compare::spreads(r);
        let Some((_, figures)) = spreads.iter().find(|(v, _)| v == variant) else {
            continue;
        };
        let Some(s) = figures.get("availability.bonus") else {
            continue;
        };
        if s.median.is_some_and(|m| m < TARGET) {
            return format!(
                "`{variant}`: the cliff — bonus availability first drops below {} % at `{param}` = {}: {}.",
                TARGET * 100.0,
                p.text,
                spread(Unit::Share, s)
            );
        }
    }
    format!(
        "`{variant}`: no cliff — bonus availability stays at or above {} % over the whole range.",
        TARGET * 100.0
    )
}

/// One row per value and variant: availability, money errors, backlog, recovery.
fn table(
    name: &str,
    param: &str,
    points: &[Point],
    results: &[crate::results::ScenarioResults],
) -> String {
    let mut out = format!(
        "| `{param}` | variant | bonus availability | lost | paid twice | under-paid | peak backlog | recovery (s) | results |\n\
         | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
    );
    for (k, (r, p)) in results.iter().zip(points).enumerate() {
        for (variant, figures) in crate::compare::spreads(r) {
            let cell = |name: &str| {
                let h = crate::headline::named(name).expect("a headline figure");
                figures
                    .get(name)
                    .map_or("n/a".to_string(), |s| spread(h.unit, s))
            };
            let _ = writeln!(
                out,
                "| {} | `{variant}` | {} | {} | {} | {} | {} | {} | [{}]({name}/{}/{}.md) |",
                p.text,
                cell("availability.bonus"),
                cell("lost"),
                cell("paid_twice"),
                cell("under_paid"),
                cell("backlog.peak"),
                cell("recovery_s"),
                k + 1,
                k + 1,
                r.scenario,
            );
        }
    }
    out
}
