//! The first screen of a report: the lesson cut to what fits above the fold,
//! the one chart that shows it, and a "what to take away" table — one row per
//! variant, the figures that prove the lesson.
//!
//! Every figure here is one the tables further down state too (the test
//! `harness/tests/report.rs` checks it): the first screen summarises, it never
//! computes a figure of its own.

use super::charts::Figure;
use super::facts::{self, Op, Tally};
use super::format::{self, count};
use super::markdown::{Table, code};
use crate::results::{MoneyOutcome, ScenarioResults, VariantResults};

/// The most words of lesson the first screen shows; the rest follows under
/// "The lesson in full". About what a reader takes in before scrolling.
pub const LESSON_WORDS: usize = 120;

/// Whole sentences of the lesson, as many as fit in [`LESSON_WORDS`] (at
/// least one), and whether anything was left out.
pub fn short_lesson(lesson: &str) -> (String, bool) {
    let text = lesson.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    let mut words = 0;
    let mut rest = text.as_str();
    while !rest.is_empty() {
        // A sentence ends at ". ", "! " or "? " followed by a capital or a quote.
        let end = rest
            .char_indices()
            .zip(rest.chars().skip(1).zip(rest.chars().skip(2)))
            .find(|((_, c), (space, next))| {
                matches!(c, '.' | '!' | '?')
                    && *space == ' '
                    && (next.is_uppercase() || matches!(next, '`' | '"' | '*'))
            })
            .map_or(rest.len(), |((i, _), _)| i + 1);
        let sentence = &rest[..end];
        let n = sentence.split_whitespace().count();
        if words > 0 && words + n > LESSON_WORDS {
            return (out, true);
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(sentence);
        words += n;
        rest = rest[end..].trim_start();
    }
    (out, false)
}

/// The figure that carries the lesson: money when the money differs and
/// availability does not; the backlog when only the backlog does; else
/// availability.
pub fn key_figure<'a>(results: &ScenarioResults, figures: &'a [Figure]) -> Option<&'a Figure> {
    let variants = facts::ordered(results);
    let shares: Vec<f64> = variants
        .iter()
        .filter_map(|v| v.operations.bonus.availability)
        .collect();
    let flat = shares.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - shares.iter().copied().fold(f64::INFINITY, f64::min)
        < 0.01;
    let money = variants.iter().any(|v| money_errors(v) > 0);
    let backlog = variants.iter().any(|v| facts::peak(v).value > 0);
    let pick = |file: &str| figures.iter().find(|f| f.link.ends_with(file));
    let choice = if flat && money {
        pick("/money.svg")
    } else if flat && backlog {
        pick("/backlog.svg")
    } else {
        None
    };
    choice
        .or_else(|| pick("/availability.svg"))
        .or(figures.first())
}

/// Requests paid wrong, of every kind, bonuses and deliveries together.
pub fn money_errors(v: &VariantResults) -> u64 {
    let wrong = |m: &MoneyOutcome| {
        m.lost + m.paid_twice + m.under_paid + m.stale + m.repriced + m.paid_though_rejected
    };
    wrong(&v.bonuses) + wrong(&v.deliveries)
}

/// The bonus requests sent during any fault, and how many were served.
fn during_faults(results: &ScenarioResults, v: &VariantResults) -> Option<Tally> {
    let windows = facts::windows(results);
    if windows.is_empty() {
        return None;
    }
    Some(
        windows
            .iter()
            .map(|w| facts::tally_during(v, w, Op::Bonus))
            .fold(Tally::default(), |a, t| Tally {
                sent: a.sent + t.sent,
                ok: a.ok + t.ok,
                accepted: None,
            }),
    )
}

/// The "what to take away" table.
pub fn table(results: &ScenarioResults) -> String {
    let served = if results.timeline.len() == 1 {
        "bonuses served during the fault"
    } else if results.timeline.is_empty() {
        "bonuses served"
    } else {
        "bonuses served during the faults"
    };
    let mut table = Table::figures(
        &["variant"],
        &[
            served,
            "requests paid wrong",
            "peak backlog",
            "longest wait for a payout",
        ],
    );
    for v in facts::ordered(results) {
        let tally = during_faults(results, v).unwrap_or(Tally {
            sent: v.operations.bonus.sent,
            ok: v.operations.bonus.ok,
            accepted: None,
        });
        table.row(&[
            code(&v.variant),
            format::share_of(tally.ok, tally.sent),
            count(money_errors(v)),
            count(facts::peak(v).value),
            v.bonus_to_paid_ms.max.map_or(format::NA.to_string(), |m| {
                format!("{} ms", format::ms(Some(m)))
            }),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lesson is cut at a sentence end, never mid-sentence, and says so.
    #[test]
    fn the_short_lesson_keeps_whole_sentences() {
        let long = "One two three. ".repeat(60);
        let (short, cut) = short_lesson(&long);
        assert!(cut);
        assert!(short.ends_with("three."));
        assert!(short.split_whitespace().count() <= LESSON_WORDS);
        assert_eq!(
            short_lesson("Short. Lesson."),
            ("Short. Lesson.".to_string(), false)
        );
    }
}
