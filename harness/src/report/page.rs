//! One scenario's report page, top to bottom.
//!
//! The first screen teaches: the title, the lesson in at most ~120 words, the
//! one chart that shows it and a "what to take away" table of the figures
//! that prove it. Everything else follows in the fixed order of [`SECTIONS`]:
//! the lesson's claims as checked by the run, the scenario as a timeline,
//! the configuration it ran with, what happened (the narrative), the tables,
//! the charts, theory beside measurement, and how to reproduce the run.
//! Adding a section is one line in [`SECTIONS`].

use std::fmt::Write as _;

use super::charts::{Figure, look};
use super::facts;
use super::format::{count, number, secs};
use super::markdown::{Table, bullets, code, code_block, heading};
use super::takeaway;
use crate::results::ScenarioResults;

/// Columns of the text timeline: one per 0.5 s of a 30 s run, and still
/// readable in a terminal beside the fault names.
const TIMELINE_COLUMNS: usize = 60;

/// A section of the page after the first screen.
type Section = fn(&mut String, &ScenarioResults, &[Figure]);

/// The sections after the first screen, in page order.
const SECTIONS: &[Section] = &[
    |out, r, _| expectations(out, r),
    |out, r, _| super::spread::section(out, r),
    |out, r, _| scenario(out, r),
    |out, r, _| out.push_str(&super::configuration::section(r)),
    |out, r, _| {
        heading(out, 2, "What happened");
        out.push_str(&super::spread::narrative_note(r).unwrap_or_default());
        let mut sentences = super::narrative_runs::sentences(r);
        sentences.extend(super::narrative_runs::of_run_one(
            r,
            super::narrative::sentences(r),
        ));
        bullets(out, &sentences);
    },
    |out, r, _| out.push_str(&super::tables::section(r)),
    charts,
    |out, r, _| out.push_str(&super::theory::section(r)),
    |out, r, _| reproduce(out, r),
];

/// The whole page as markdown.
pub fn render(results: &ScenarioResults, figures: &[Figure]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", results.title);
    let _ = writeln!(
        out,
        "[All scenarios](README.md) · [the model and glossary](MODEL.md) · scenario {} · seed \
         {} · commit {} · stream {}{}",
        code(&results.scenario),
        code(&results.seed.to_string()),
        code(&results.commit),
        code(&results.stream.to_string()),
        if results.quick {
            " · **quick run** (shortened with `--quick`: fewer samples, wider error bars)"
        } else {
            ""
        }
    );
    not_evidence(&mut out, results);
    heading(&mut out, 2, "The lesson");
    let _ = writeln!(out, "{}", results.lesson.trim());
    if let Some(figure) = takeaway::key_figure(results, figures) {
        let _ = writeln!(out, "\n![{}]({})\n", figure.title, figure.link);
    }
    heading(&mut out, 3, "What to take away");
    out.push_str(&takeaway::table(results));
    for section in SECTIONS {
        section(&mut out, results, figures);
    }
    super::markdown::tidy(&out)
}

/// A warning above everything for each variant whose run the harness cannot
/// vouch for (`evidence.ok == false`), with the harness's reasons.
fn not_evidence(out: &mut String, results: &ScenarioResults) {
    let doubtful: Vec<String> = results
        .variants
        .iter()
        .filter(|v| !v.evidence.ok)
        .map(|v| format!("{}: {}", code(&v.variant), v.evidence.reasons.join("; ")))
        .collect();
    if doubtful.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n> **Not evidence.** The harness could not vouch for these runs, so their figures \
         say nothing about the design:\n"
    );
    for line in doubtful {
        let _ = writeln!(out, "> - {line}");
    }
}

/// The lesson's claims, as the scenario file states them (`[[expect]]`), each
/// with what this run measured and whether it held.
fn expectations(out: &mut String, results: &ScenarioResults) {
    if results.expectations.is_empty() {
        return;
    }
    let runs = results
        .repetitions
        .as_ref()
        .map_or(1, |r| r.runs.len())
        .max(1);
    let (title, measured) = match runs {
        1 => (
            "The lesson's claims, checked by this run".to_string(),
            "measured",
        ),
        n => (
            format!("The lesson's claims, checked by {n} runs"),
            "measured (run 1)",
        ),
    };
    heading(out, 3, &title);
    let mut table = Table::figures(&["variant", "claim", "verdict"], &[measured]);
    for checked in &results.expectations {
        table.row(&[
            code(&checked.variant),
            code(&checked.that),
            if let Some(verdict) = super::spread::claim_verdict(results, checked) {
                verdict
            } else if checked.held {
                "held".to_string()
            } else {
                "**did not hold**".to_string()
            },
            checked
                .observed
                .map_or_else(|| "n/a".to_string(), claim_value),
        ]);
    }
    out.push_str(&table.render());
}

/// A measured value beside its claim: whole numbers as they are, shares to
/// four decimals — enough that a value just under a threshold (0.9896 against
/// `>= 0.99`) never prints as the threshold itself.
fn claim_value(value: f64) -> String {
    if value.fract() == 0.0 {
        return format!("{value:.0}");
    }
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn scenario(out: &mut String, results: &ScenarioResults) {
    heading(out, 2, "The scenario");
    let w = &results.workload;
    let mix = w.bonus_mix.map(|share| number(share * 100.0));
    let _ = writeln!(
        out,
        "- **Load**: {} couriers; per second {} bonus requests, {} deliveries and {} \
         performance updates, with {} arrivals, for {}. Bonus mix SMALL / AVERAGE / BIG = \
         {} / {} / {} %. Scheduled in all: {} bonus requests, {} deliveries, {} performance \
         updates.",
        count(w.couriers),
        number(w.bonus_rate),
        number(w.delivery_rate),
        number(w.performance_rate),
        w.arrival,
        secs(Some(results.duration_s)),
        mix[0],
        mix[1],
        mix[2],
        count(w.scheduled.bonus),
        count(w.scheduled.delivery),
        count(w.scheduled.performance),
    );
    let _ = writeln!(
        out,
        "- **SLO**: a request answered later than {} ms counts as not served, even if it \
         succeeded.",
        results.slo_ms
    );
    if !results.idempotency {
        out.push_str(
            "- **Idempotency off**: Payments' ledger pays a repeated reference again \
             (`idempotency = false`), to show what *paid twice* counts when nothing refuses \
             a repeat.\n",
        );
    }
    if results.timeline.is_empty() {
        out.push_str("- **Faults**: none — this run is the baseline.\n");
        return;
    }
    out.push_str("- **Faults**, on the same clock for every variant:\n\n");
    let mut table = Table::figures(&["fault", "target", "kind"], &["from", "to", "length"]);
    let windows = facts::windows(results);
    for w in &windows {
        table.row(&[
            w.entry.label.clone(),
            w.entry.target.clone(),
            w.entry.kind.clone(),
            secs(Some(w.start)),
            secs(Some(w.end)),
            secs(Some(w.length())),
        ]);
    }
    out.push_str(&table.render());
    out.push('\n');
    code_block(out, "text", &timeline_art(results));
}

/// The timeline as text: one row per fault, `█` while it is on.
fn timeline_art(results: &ScenarioResults) -> String {
    let windows = facts::windows(results);
    let duration = results.duration_s.max(1e-9);
    let label_width = windows
        .iter()
        .map(|w| w.entry.label.chars().count())
        .max()
        .unwrap_or(0)
        .max("t".len());
    let mut ruler = vec![' '; TIMELINE_COLUMNS + 8];
    for quarter in 0..=4 {
        let t = duration * quarter as f64 / 4.0;
        let text = format!("{} s", number(t));
        let at = (TIMELINE_COLUMNS * quarter / 4).min(ruler.len() - text.len());
        let at = if quarter == 4 {
            at.saturating_sub(text.len() - 1)
        } else {
            at
        };
        for (i, c) in text.chars().enumerate() {
            ruler[at + i] = c;
        }
    }
    let mut out = format!(
        "{:label_width$}  {}\n",
        "t",
        ruler.iter().collect::<String>().trim_end()
    );
    for w in &windows {
        let bar: String = (0..TIMELINE_COLUMNS)
            .map(|i| {
                let t = (i as f64 + 0.5) * duration / TIMELINE_COLUMNS as f64;
                if t >= w.start && t < w.end {
                    '█'
                } else {
                    '·'
                }
            })
            .collect();
        let _ = writeln!(out, "{:label_width$}  {bar}", w.entry.label);
    }
    out
}

fn charts(out: &mut String, results: &ScenarioResults, figures: &[Figure]) {
    heading(out, 2, "Charts");
    if figures.is_empty() {
        out.push_str("The run recorded no series to chart.\n");
        return;
    }
    let colours: Vec<String> = facts::ordered(results)
        .iter()
        .map(|v| format!("{} {}", code(&v.variant), look(&v.variant).colour_name))
        .collect();
    let _ = writeln!(
        out,
        "In every chart: {}; grey bands are the fault windows. The SVG files sit beside this \
         report.",
        colours.join(", ")
    );
    for figure in figures {
        heading(out, 3, &figure.title);
        let _ = writeln!(out, "{}\n", figure.caption);
        let _ = writeln!(out, "![{}]({})", figure.title, figure.link);
    }
}

fn reproduce(out: &mut String, results: &ScenarioResults) {
    heading(out, 2, "How to reproduce");
    out.push_str(
        "The seed fixes every random choice (arrivals, couriers, bonus types, which requests \
         a flaky service fails, the same requests in every variant), so this command replays the \
         same schedule:\n\n",
    );
    code_block(out, "sh", &results.command);
    out.push('\n');
    let e = &results.environment;
    let mut table = Table::new(&[
        ("run detail", super::markdown::Align::Left),
        ("value", super::markdown::Align::Left),
    ]);
    table.row(&["commit".to_string(), code(&results.commit)]);
    table.row(&["seed".to_string(), code(&results.seed.to_string())]);
    table.row(&["stream".to_string(), code(&results.stream.to_string())]);
    table.row(&["toolchain".to_string(), e.toolchain.clone()]);
    table.row(&[
        "machine".to_string(),
        format!("{} CPUs, {}", count(e.cpus as u64), e.cpu_model),
    ]);
    table.row(&["os".to_string(), e.os.clone()]);
    table.row(&[
        "run".to_string(),
        format!(
            "{}{}",
            secs(Some(results.duration_s)),
            if results.quick { ", quick" } else { "" }
        ),
    ]);
    out.push_str(&table.render());
    out.push_str(
        "\nThe schedule fingerprint must match exactly on any machine. Timings depend on the \
         machine, and so do the counts that hinge on a timeout or the SLO; expect them to \
         move a little elsewhere.\n",
    );
}
