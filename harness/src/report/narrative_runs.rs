//! The narrative's claims over repetitions (`commlab run --repeat N`, N > 1):
//! each one says in how many of the runs it held ("in 2 of 3 runs") and
//! prints its figures as `median (min–max)`.
//!
//! A claim is only as strong as the runs support. The other sentences of the
//! narrative describe run 1 in detail (its fault windows, its backlog peak),
//! and with repetitions each says so ("In run 1, …": [`of_run_one`]); these
//! say which of those differences between the variants held in the others
//! too. Every figure is a headline figure `repeat.rs` recorded per run
//! (`headline.rs`), printed by [`super::spread::spread`] exactly as the table
//! *Across N runs* prints it; only the counts of runs are counted here.

use super::format::join_and;
use super::narrative::bold;
use super::spread::spread;
use crate::headline::Unit;
use crate::results::{Repetitions, ScenarioResults, Spread};

/// A gap between two medians smaller than this is no difference to claim.
const SAME: f64 = 0.01;

/// The claims, in order: bonus availability, money, recovery. Empty for a
/// single run.
pub fn sentences(results: &ScenarioResults) -> Vec<String> {
    let Some(r) = super::spread::repeated(results) else {
        return Vec::new();
    };
    let mut out: Vec<String> = availability(r).into_iter().collect();
    out.extend(money(r));
    // A variant with no recovery to measure (no fault applied to it) is left out.
    let faulted: Vec<&str> = results
        .variants
        .iter()
        .filter(|v| !v.recovery.is_empty())
        .map(|v| v.variant.as_str())
        .collect();
    out.extend(recovery(r, &faulted));
    out
}

/// With repetitions, each of run 1's sentences says whose it is: "In run 1,
/// …", or after a bold label ("**Warning:** in run 1, …"). Unchanged for a
/// single run, where there is no other run to tell it from.
pub fn of_run_one(results: &ScenarioResults, sentences: Vec<String>) -> Vec<String> {
    if super::spread::repeated(results).is_none() {
        return sentences;
    }
    sentences.iter().map(|s| in_run_one(s)).collect()
}

/// Bold labels that open a sentence; "in run 1" goes after them.
const LABELS: [&str; 2] = ["**Warning:** ", "**Not evidence:** "];

fn in_run_one(sentence: &str) -> String {
    if let Some((label, rest)) = LABELS
        .iter()
        .find_map(|l| sentence.strip_prefix(l).map(|rest| (l, rest)))
    {
        return format!("{label}in run 1, {rest}");
    }
    // "During the …" reads "In run 1, during the …"; a variant's name (bold)
    // or an initialism keeps its case.
    let mut chars = sentence.chars();
    let lower = match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => {
            format!("{}{}", first.to_lowercase(), &sentence[first.len_utf8()..])
        }
        _ => sentence.to_string(),
    };
    format!("In run 1, {lower}")
}

/// `in k of n runs`.
pub fn runs(k: usize, n: usize) -> String {
    format!("in {k} of {n} runs")
}

/// A variant's value of `figure` in each run (`None` where a run lacks it).
fn per_run(r: &Repetitions, variant: &str, figure: &str) -> Vec<Option<f64>> {
    r.runs
        .iter()
        .map(|run| {
            run.variants
                .iter()
                .find(|v| v.variant == variant)
                .and_then(|v| v.figures.get(figure).copied().flatten())
        })
        .collect()
}

fn spread_of<'a>(r: &'a Repetitions, variant: &str, figure: &str) -> Option<&'a Spread> {
    r.spread
        .iter()
        .find(|v| v.variant == variant)
        .and_then(|v| v.figures.get(figure))
}

/// The variant with the highest median bonus availability, and in how many
/// runs it served a larger share than each variant clearly below it.
fn availability(r: &Repetitions) -> Option<String> {
    const FIGURE: &str = "availability.bonus";
    let median = |v: &str| spread_of(r, v, FIGURE).and_then(|s| s.median);
    let names: Vec<&str> = r.spread.iter().map(|v| v.variant.as_str()).collect();
    let best = names
        .iter()
        .copied()
        .filter(|v| median(v).is_some())
        .max_by(|a, b| {
            median(a)
                .unwrap_or(0.0)
                .total_cmp(&median(b).unwrap_or(0.0))
        })?;
    let top = median(best)?;
    let ours = per_run(r, best, FIGURE);
    let clauses: Vec<String> = names
        .iter()
        .copied()
        .filter(|v| median(v).is_some_and(|m| top - m >= SAME))
        .map(|v| {
            let theirs = per_run(r, v, FIGURE);
            let held = ours
                .iter()
                .zip(&theirs)
                .filter(|(a, b)| matches!((a, b), (Some(a), Some(b)) if a > b))
                .count();
            let figure = spread_of(r, v, FIGURE).map_or(String::new(), |s| spread(Unit::Share, s));
            format!(
                "than {}, at {figure}, {}",
                bold(v),
                runs(held, r.runs.len())
            )
        })
        .collect();
    if clauses.is_empty() {
        return None;
    }
    let own = spread_of(r, best, FIGURE).map_or(String::new(), |s| spread(Unit::Share, s));
    Some(format!(
        "Over the runs, {}, at {own}, served a larger share of its bonus requests within the \
         SLO {}.",
        bold(best),
        join_and(&clauses)
    ))
}

/// Per variant, in how many runs it lost, paid twice or under-paid anything.
fn money(r: &Repetitions) -> Vec<String> {
    let kinds = [
        ("lost", "lost requests"),
        ("paid_twice", "paid requests twice"),
        ("under_paid", "under-paid requests"),
    ];
    let n = r.runs.len();
    let mut out = Vec::new();
    let mut clean = Vec::new();
    for v in r.spread.iter().map(|v| v.variant.as_str()) {
        let clauses: Vec<String> = kinds
            .iter()
            .filter_map(|(figure, words)| {
                let held = per_run(r, v, figure)
                    .iter()
                    .flatten()
                    .filter(|x| **x > 0.0)
                    .count();
                let s = spread_of(r, v, figure)?;
                (held > 0).then(|| {
                    format!(
                        "{words} {}, median {}",
                        runs(held, n),
                        spread(Unit::Count, s)
                    )
                })
            })
            .collect();
        if clauses.is_empty() {
            clean.push(bold(v));
        } else {
            out.push(format!("{} {}.", bold(v), join_and(&clauses)));
        }
    }
    if !out.is_empty() && !clean.is_empty() {
        out.push(format!(
            "{} lost, paid twice and under-paid nothing {}.",
            join_and(&clean),
            runs(n, n)
        ));
    }
    out
}

/// Per variant, in how many runs it was not back to normal before the end.
fn recovery(r: &Repetitions, faulted: &[&str]) -> Vec<String> {
    let n = r.runs.len();
    r.spread
        .iter()
        .filter(|v| faulted.contains(&v.variant.as_str()))
        .filter_map(|v| {
            let back = per_run(r, &v.variant, "recovery_s")
                .iter()
                .flatten()
                .count();
            (back < n).then(|| {
                format!(
                    "{} had not recovered from the faults by the end of the run {}.",
                    bold(&v.variant),
                    runs(n - back, n)
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::in_run_one;

    #[test]
    fn a_run_one_sentence_says_so_in_its_own_case() {
        assert_eq!(
            in_run_one("During the 2 s payments crash (t = 1–3 s), …"),
            "In run 1, during the 2 s payments crash (t = 1–3 s), …"
        );
        assert_eq!(
            in_run_one("**sync**'s backlog peaked at 3."),
            "In run 1, **sync**'s backlog peaked at 3."
        );
        assert_eq!(
            in_run_one("**Warning:** **sync**'s run was interrupted."),
            "**Warning:** in run 1, **sync**'s run was interrupted."
        );
    }
}
