//! What a report says about repetitions (`commlab run --repeat N`): each
//! headline figure as `median (min–max)` over the runs, each claim as "held in
//! k of N runs", and a note that the page's narrative, tables and charts
//! describe run 1.
//!
//! The figures are those `repeat.rs` recorded from each run's results
//! (`headline.rs`): nothing here computes a figure, it only prints them.

use std::fmt::Write as _;

use super::format::{NA, count, ms, secs, share};
use super::markdown::{Table, code, heading};
use crate::headline::{self, Unit};
use crate::results::{Checked, Repetitions, ScenarioResults, Spread};
use crate::{host, repeat};

/// The repetitions, when there is more than one run.
/// The repetitions of a scenario played more than once; `None` for one run.
pub fn repeated(results: &ScenarioResults) -> Option<&Repetitions> {
    results.repetitions.as_ref().filter(|r| r.runs.len() > 1)
}

/// One value of a figure, as the report prints that kind of figure.
pub fn value(unit: Unit, value: Option<f64>) -> String {
    match (unit, value) {
        (_, None) => NA.to_string(),
        (Unit::Share, Some(v)) => share(v),
        (Unit::Count, Some(v)) => count(v.round() as u64),
        (Unit::Ms, v) => ms(v),
        (Unit::Seconds, v) => secs(v),
    }
}

/// `median (min–max)`, and how many runs had no value.
pub fn spread(unit: Unit, s: &Spread) -> String {
    if s.of <= 1 {
        return value(unit, s.median);
    }
    // "every run" only where every run had the value; one value from some
    // of the runs is printed alone, its missing runs said after it.
    // Equal as printed: 98.21 % and 98.24 % both read 98.2 %.
    let same = value(unit, s.min) == value(unit, s.max);
    let mut text = if same && s.runs == s.of {
        format!("{} (every run)", value(unit, s.median))
    } else if same {
        value(unit, s.median)
    } else {
        format!(
            "{} ({}–{})",
            value(unit, s.median),
            value(unit, s.min),
            value(unit, s.max)
        )
    };
    if s.runs == 0 {
        text = NA.to_string();
    }
    if s.runs > 0 && s.runs < s.of {
        let _ = write!(text, ", {NA} in {} of {}", s.of - s.runs, s.of);
    }
    text
}

/// The verdict cell of a claim: "held in 3 of 5 runs" with repetitions (bold
/// unless it held in every run), `None` for a single run.
pub fn claim_verdict(results: &ScenarioResults, checked: &Checked) -> Option<String> {
    let held = repeated(results)?
        .expectations
        .iter()
        .find(|h| h.variant == checked.variant && h.that == checked.that)?;
    let text = format!("held in {} of {} runs", held.held, held.runs);
    Some(if held.held == held.runs {
        text
    } else {
        format!("**{text}**")
    })
}

/// The note above the narrative: whose run its sentences describe.
pub fn narrative_note(results: &ScenarioResults) -> Option<String> {
    let r = repeated(results)?;
    Some(format!(
        "The sentences that say in how many runs they held are over all {} runs; the others \
         say \"In run 1\" and, like the tables and the charts' lines, describe run 1 (seed {}); \
         [across {} runs](#across-{}-runs) gives each figure over all of them.\n",
        r.runs.len(),
        code(&results.seed.to_string()),
        r.runs.len(),
        r.runs.len()
    ))
}

/// The section `Across N runs`: one row per headline figure, one column per variant.
pub fn section(out: &mut String, results: &ScenarioResults) {
    let Some(r) = repeated(results) else {
        return;
    };
    let n = r.runs.len();
    heading(out, 2, &format!("Across {n} runs"));
    let seeds: Vec<String> = r
        .runs
        .iter()
        .map(|run| code(&run.seed.to_string()))
        .collect();
    let _ = writeln!(
        out,
        "The scenario was played {n} times: the same rates and fault timeline, each time with \
         another seed ({}: {}), every variant on each seed's same schedule. Each figure is the \
         median over the runs, with the lowest and the highest in brackets.\n",
        r.derivation,
        seeds.join(", ")
    );
    let names: Vec<String> = r.spread.iter().map(|v| code(&v.variant)).collect();
    let columns: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut table = Table::figures(&["figure"], &columns);
    for h in headline::ALL {
        let cells: Vec<String> = std::iter::once(h.label.to_string())
            .chain(r.spread.iter().map(|v| {
                v.figures
                    .get(h.name)
                    .map_or_else(|| NA.to_string(), |s| spread(h.unit, s))
            }))
            .collect();
        table.row(&cells);
    }
    out.push_str(&table.render());
    steal_note(out, results);
    let doubtful = r
        .runs
        .iter()
        .flat_map(|run| run.variants.iter().map(move |v| (run.run, v)))
        .filter(|(_, v)| !v.evidence)
        .map(|(run, v)| format!("{} in run {run}", code(&v.variant)))
        .collect::<Vec<_>>();
    if !doubtful.is_empty() {
        let _ = writeln!(
            out,
            "\nNot evidence (the harness could not vouch for the run): {}.",
            doubtful.join(", ")
        );
    }
}

/// Under the table: how many of the runs' variant loads the host stole CPU
/// time from, and which: their latencies carry those stalls, and so can any
/// figure that hangs on timing (a metastable pool's recovery, and so its
/// availability).
fn steal_note(out: &mut String, results: &ScenarioResults) {
    let steal = repeat::host_steal(results);
    let Some(highest) = steal.highest else {
        return;
    };
    let threshold = host::NOISY_STEAL * 100.0;
    if steal.noisy.is_empty() {
        let _ = writeln!(
            out,
            "\nThe host's steal stayed below {threshold:.0} % in every variant load of every \
             run (highest {}): the ranges are this machine's own.",
            host::percent(highest)
        );
    } else {
        let _ = writeln!(
            out,
            "\nThe host stole {threshold:.0} % or more of the CPU time during {} of {} variant \
             loads: {}. Those runs carry its stalls: in their latencies, and in any figure \
             that hangs on timing, such as whether a saturated pool recovers.",
            steal.noisy.len(),
            steal.loads,
            steal.list()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(min: f64, max: f64, runs: u32) -> Spread {
        Spread {
            median: Some(min),
            min: Some(min),
            max: Some(max),
            runs,
            of: 2,
        }
    }

    #[test]
    fn every_run_only_when_every_run_had_it() {
        assert_eq!(spread(Unit::Seconds, &of(0.1, 0.1, 2)), "0.1 s (every run)");
        assert_eq!(
            spread(Unit::Seconds, &of(0.1, 0.1, 1)),
            "0.1 s, n/a in 1 of 2"
        );
        assert_eq!(spread(Unit::Count, &of(1.0, 3.0, 2)), "1 (1–3)");
        assert_eq!(
            spread(Unit::Share, &of(0.9821, 0.9824, 2)),
            "98.2 % (every run)"
        );
    }
}
