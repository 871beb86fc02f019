//! `commlab compare A B`: two recorded results (files or directories of
//! them) side by side — two commits, two machines, two configurations.
//!
//! For each scenario and variant in both, every headline figure
//! (`headline.rs`) in A and in B, the difference, and whether it is larger
//! than the runs' own spread. That judgement needs repetitions on both sides
//! (`--repeat`): the difference is *beyond the spread* when the two ranges
//! (min–max over the runs) do not overlap. From one run a difference is
//! printed but marked "one run: not judged" — noise between two runs of the
//! same build can be as large as a real change.
//!
//! Comparing different work says nothing about a change, so results whose
//! schedule fingerprints differ are refused unless `--allow-different-work`
//! (then the page says so at the top). `--fail-on` turns "worse beyond the
//! spread" into a non-zero exit, for CI.
//!
//! Next: `headline.rs` (the figures), `repeat.rs` (the spread).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::bad_input::BadInput;
use crate::headline::{self, Better, Headline, Unit};
use crate::host;
use crate::repeat::{self, HostSteal};
use crate::report::format::plural;
use crate::report::spread::value;
use crate::results::{SCHEMA_VERSION, ScenarioResults, Spread};

/// What to compare and how strictly.
#[derive(Clone, Debug, Default)]
pub struct CompareOptions {
    pub allow_different_work: bool,
    /// Figure names or groups (`availability`, `lost`, `paid_twice`, …)
    /// whose getting worse beyond the spread fails the command.
    pub fail_on: Vec<String>,
}

/// The page, and each chosen figure that got worse beyond the spread.
#[derive(Debug)]
pub struct Comparison {
    pub markdown: String,
    pub worse: Vec<String>,
}

/// How a difference between A and B is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// A side has a single run.
    NotJudged,
    /// A side has no value for this figure.
    Missing,
    /// The ranges overlap.
    WithinSpread,
    Better,
    Worse,
}

impl Judgement {
    fn text(self) -> &'static str {
        match self {
            Judgement::NotJudged => "one run: not judged",
            Judgement::Missing => "n/a",
            Judgement::WithinSpread => "within spread",
            Judgement::Better => "better, beyond spread",
            Judgement::Worse => "**worse, beyond spread**",
        }
    }
}

/// Reads both sides and compares them.
pub fn compare(a: &Path, b: &Path, options: &CompareOptions) -> Result<Comparison, BadInput> {
    for name in &options.fail_on {
        if !headline::ALL
            .iter()
            .any(|h| h.group == name || h.name == name)
        {
            return Err(BadInput(format!(
                "--fail-on: unknown figure {name:?}; use one of {}",
                headline::groups().join(", ")
            )));
        }
    }
    let (left, right) = (load(a)?, load(b)?);
    let mut markdown = format!(
        "# commlab compare\n\nA: `{}` · B: `{}`\n\n",
        a.display(),
        b.display()
    );
    let different = different_work(&left, &right);
    if !different.is_empty() {
        if !options.allow_different_work {
            return Err(BadInput(format!(
                "the schedules differ ({}): A and B did not do the same work; pass \
                 --allow-different-work to compare them anyway",
                different.join(", ")
            )));
        }
        let _ = writeln!(
            markdown,
            "> **Different work.** The schedule fingerprints differ for {}: these figures \
             come from different requests or fault times, so a difference may be the work's, \
             not the system's.\n",
            different.join(", ")
        );
    }
    let mut worse = Vec::new();
    for l in &left {
        match right.iter().find(|r| r.scenario == l.scenario) {
            Some(r) => scenario_table(&mut markdown, l, r, options, &mut worse),
            None => {
                let _ = writeln!(markdown, "## {}\n\nOnly in A.\n", l.scenario);
            }
        }
    }
    for r in right
        .iter()
        .filter(|r| !left.iter().any(|l| l.scenario == r.scenario))
    {
        let _ = writeln!(markdown, "## {}\n\nOnly in B.\n", r.scenario);
    }
    Ok(Comparison { markdown, worse })
}

/// A results file, or every `*.json` of a directory, sorted by name.
pub fn load(path: &Path) -> Result<Vec<ScenarioResults>, BadInput> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| {
            BadInput(format!(
                "{}: cannot read the directory: {e}",
                path.display()
            ))
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    if files.is_empty() {
        return Err(BadInput(format!(
            "{}: no results files (*.json)",
            path.display()
        )));
    }
    let mut all: Vec<ScenarioResults> = Vec::new();
    for file in files {
        let results = read(&file)?;
        if all.iter().any(|r| r.scenario == results.scenario) {
            return Err(BadInput(format!(
                "{}: scenario {} appears twice",
                path.display(),
                results.scenario
            )));
        }
        all.push(results);
    }
    Ok(all)
}

/// One results file, refused when its schema version is not one this build reads.
fn read(file: &Path) -> Result<ScenarioResults, BadInput> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| BadInput(format!("{}: cannot read: {e}", file.display())))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| BadInput(format!("{}: not JSON: {e}", file.display())))?;
    let version = json.get("schema_version").map_or(Some(1), |v| v.as_u64());
    match version {
        Some(v) if (1..=u64::from(SCHEMA_VERSION)).contains(&v) => {}
        _ => {
            return Err(BadInput(format!(
                "{}: schema_version {} is not one this commlab reads (1 to {SCHEMA_VERSION})",
                file.display(),
                json["schema_version"]
            )));
        }
    }
    serde_json::from_value(json).map_err(|e| {
        BadInput(format!(
            "{}: not a commlab results file: {e}",
            file.display()
        ))
    })
}

/// Every schedule a results file's runs played, in run order.
fn fingerprints(results: &ScenarioResults) -> Vec<&str> {
    match &results.repetitions {
        Some(r) => r
            .runs
            .iter()
            .map(|run| run.schedule_fingerprint.as_str())
            .collect(),
        None => vec![results.schedule_fingerprint.as_str()],
    }
}

/// The scenarios in both whose schedules differ.
fn different_work(left: &[ScenarioResults], right: &[ScenarioResults]) -> Vec<String> {
    left.iter()
        .filter_map(|l| {
            let r = right.iter().find(|r| r.scenario == l.scenario)?;
            (fingerprints(l) != fingerprints(r)).then(|| l.scenario.clone())
        })
        .collect()
}

/// Per variant, per headline figure: the spread over the runs (one run: its value).
pub fn spreads(results: &ScenarioResults) -> Vec<(String, BTreeMap<String, Spread>)> {
    if let Some(r) = &results.repetitions {
        return r
            .spread
            .iter()
            .map(|v| (v.variant.clone(), v.figures.clone()))
            .collect();
    }
    crate::repeat::figures(results)
        .into_iter()
        .map(|v| {
            let figures = v
                .figures
                .into_iter()
                .map(|(name, x)| (name, crate::repeat::spread_of(&[x])))
                .collect();
            (v.variant, figures)
        })
        .collect()
}

/// Whether B's figure differs from A's beyond both sides' spread, and which way.
pub fn judge(h: &Headline, a: &Spread, b: &Spread) -> Judgement {
    let (Some(a_min), Some(a_max), Some(b_min), Some(b_max)) = (a.min, a.max, b.min, b.max) else {
        return Judgement::Missing;
    };
    if a.of < 2 || b.of < 2 {
        return Judgement::NotJudged;
    }
    if b_min <= a_max && a_min <= b_max {
        return Judgement::WithinSpread;
    }
    let b_higher = b_min > a_max;
    match (h.better, b_higher) {
        (Better::Higher, true) | (Better::Lower, false) => Judgement::Better,
        _ => Judgement::Worse,
    }
}

/// `+1.2 pp`, `-3`, `+12.5 ms`, `+0.40 s`.
fn difference(unit: Unit, a: Option<f64>, b: Option<f64>) -> String {
    let (Some(a), Some(b)) = (a, b) else {
        return "n/a".to_string();
    };
    let d = b - a;
    match unit {
        Unit::Share => format!("{:+.1} pp", d * 100.0),
        Unit::Count => format!("{d:+.0}"),
        Unit::Ms => format!("{d:+.1} ms"),
        Unit::Seconds => format!("{d:+.2} s"),
    }
}

/// A side's figure: the value, or `median (min–max)` over its runs.
fn side(unit: Unit, s: &Spread) -> String {
    match s.of {
        0 | 1 => value(unit, s.median),
        _ => crate::report::spread::spread(unit, s),
    }
}

fn scenario_table(
    out: &mut String,
    a: &ScenarioResults,
    b: &ScenarioResults,
    options: &CompareOptions,
    worse: &mut Vec<String>,
) {
    let runs = |r: &ScenarioResults| r.repetitions.as_ref().map_or(1, |x| x.runs.len());
    let _ = writeln!(
        out,
        "## {}\n\nA: commit `{}`, {} · B: commit `{}`, {}\n",
        a.scenario,
        a.commit,
        plural(runs(a) as u64, "run", "runs"),
        b.commit,
        plural(runs(b) as u64, "run", "runs")
    );
    let _ = writeln!(out, "| variant | figure | A | B | B − A | judged |");
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | --- |");
    let right = spreads(b);
    let steal = [repeat::host_steal(a), repeat::host_steal(b)];
    for (variant, left) in spreads(a) {
        let Some((_, right)) = right.iter().find(|(v, _)| *v == variant) else {
            let _ = writeln!(out, "| `{variant}` | (only in A) | | | | |");
            continue;
        };
        // Latencies carry the host's stalls, and so can any figure that
        // hangs on timing (whether a saturated pool recovers): every row.
        let stolen = stolen_runs(&steal, &variant);
        for h in headline::ALL {
            let (Some(sa), Some(sb)) = (left.get(h.name), right.get(h.name)) else {
                continue;
            };
            let judged = judge(h, sa, sb);
            let chosen = options.fail_on.iter().any(|f| f == h.group || f == h.name);
            if judged == Judgement::Worse && chosen {
                let under = stolen.as_ref().map_or(String::new(), |s| format!(" ({s})"));
                worse.push(format!("{} on {}: {}{under}", a.scenario, variant, h.name));
            }
            let judged = match &stolen {
                Some(s) => format!("{}; {s}", judged.text()),
                None => judged.text().to_string(),
            };
            let _ = writeln!(
                out,
                "| `{variant}` | {} | {} | {} | {} | {judged} |",
                h.label,
                side(h.unit, sa),
                side(h.unit, sb),
                difference(h.unit, sa.median, sb.median),
            );
        }
    }
    for (name, s) in ["A", "B"].into_iter().zip(&steal) {
        let _ = match s.highest {
            None => writeln!(out, "\n{name}: no host steal recorded."),
            Some(highest) if s.noisy.is_empty() => writeln!(
                out,
                "\n{name}: host steal below {:.0} % in every variant load (highest {}).",
                host::NOISY_STEAL * 100.0,
                host::percent(highest)
            ),
            Some(_) => writeln!(
                out,
                "\n{name}: host steal ≥ {:.0} % in {} of {} variant loads: {}. Their figures \
                 carry the host's stalls: the latencies, and any that hangs on timing.",
                host::NOISY_STEAL * 100.0,
                s.noisy.len(),
                s.loads,
                s.list()
            ),
        };
    }
    out.push('\n');
}

/// "host steal ≥ 1 % in A run 1, B runs 2, 3" when `variant` ran under host
/// steal on either side; `None` when it did not.
fn stolen_runs(steal: &[HostSteal; 2], variant: &str) -> Option<String> {
    let sides: Vec<String> = ["A", "B"]
        .into_iter()
        .zip(steal)
        .filter_map(|(name, s)| {
            let runs: Vec<String> = s
                .noisy
                .iter()
                .filter(|n| n.variant == variant)
                .map(|n| n.run.to_string())
                .collect();
            match runs.len() {
                0 => None,
                1 => Some(format!("{name} run {}", runs[0])),
                _ => Some(format!("{name} runs {}", runs.join(", "))),
            }
        })
        .collect();
    (!sides.is_empty()).then(|| {
        format!(
            "host steal ≥ {:.0} % in {}",
            host::NOISY_STEAL * 100.0,
            sides.join(", ")
        )
    })
}
