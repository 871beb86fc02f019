//! The built-in scenario suite: the files in `scenarios/`, compiled into the
//! binary so that `commlab run` needs nothing but itself. Each one teaches one
//! lesson; read them in this order.

use crate::scenario::{Scenario, ScenarioError};

/// One suite entry, its text embedded at compile time.
macro_rules! entry {
    ($name:literal) => {
        (
            $name,
            concat!("scenarios/", $name, ".toml"),
            include_str!(concat!("../../scenarios/", $name, ".toml")),
        )
    };
}

/// `(name, path in the repository, text)`, in the order the suite runs them
/// and the index lists them.
const SUITE: [(&str, &str, &str); 13] = [
    entry!("baseline"),
    entry!("payments-outage"),
    entry!("buffer-crash"),
    entry!("incentives-outage"),
    entry!("partition"),
    entry!("slow-payments"),
    entry!("flaky-payments"),
    entry!("hung-payments"),
    entry!("overload"),
    entry!("retry-storm"),
    entry!("stream-outage"),
    entry!("consumer-crash"),
    entry!("consumer-crash-no-idempotency"),
];

/// The names of the built-in scenarios, in suite order.
pub fn names() -> Vec<&'static str> {
    SUITE.iter().map(|(name, _, _)| *name).collect()
}

/// A built-in scenario by name.
pub fn find(name: &str) -> Result<Scenario, ScenarioError> {
    let Some((_, path, text)) = SUITE.iter().find(|(n, _, _)| *n == name) else {
        return Err(ScenarioError::Unknown {
            name: name.to_string(),
            known: names().join(", "),
        });
    };
    Scenario::parse(path, name, text)
}

/// A built-in scenario's path in the repository and its text, by name.
pub fn source(name: &str) -> Option<(&'static str, &'static str)> {
    SUITE
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, path, text)| (*path, *text))
}

/// Every built-in scenario, validated.
pub fn all() -> Result<Vec<Scenario>, ScenarioError> {
    names().into_iter().map(find).collect()
}

#[cfg(test)]
mod tests {
    use super::SUITE;

    #[test]
    fn every_builtin_scenario_is_valid_and_named_after_its_file() {
        for scenario in super::all().unwrap() {
            assert!(scenario.file.ends_with(&format!("{}.toml", scenario.name)));
            assert!(
                scenario.lesson.len() > 200,
                "{} needs a real lesson",
                scenario.name
            );
        }
    }

    /// The most words a lesson may have: what the first screen of a report
    /// shows and a reader takes in before scrolling (issue #12).
    const LESSON_WORDS: usize = 120;

    /// Status codes a lesson may name: "answers 202" describes the API.
    const STATUSES: [&str; 3] = ["202", "409", "503"];

    /// A lesson explains the mechanism and what to look for; it states no
    /// measured outcome, because a run checks those (`[[expect]]`) and fixed
    /// text goes stale. The rule, mechanically:
    /// - at most [`LESSON_WORDS`] words;
    /// - no share (`41 %`, "a few per cent") and no ratio (`559×`) — the one
    ///   share allowed is a performance's incentive, written with its sign
    ///   (`+0 %`, `+10 %`), a rule of the domain;
    /// - every other figure is an *input* of the scenario: it occurs in the
    ///   scenario file outside the lesson (a rate, a fault's start or length,
    ///   the SLO, a variant's call timeout), so "150 bonuses a second" and "a
    ///   100 ms slowdown" pass and "under-pays 468 deliveries" does not;
    ///   the edge's status codes ([`STATUSES`]) are the API's, not outcomes.
    #[test]
    fn every_builtin_lesson_is_short_and_states_no_measured_outcome() {
        for (name, _, text) in SUITE {
            let scenario = super::find(name).unwrap();
            let faults = lesson_faults(&scenario.lesson, text);
            assert!(faults.is_empty(), "{name}: {}", faults.join("; "));
        }
    }

    /// The rule fires: on a long lesson, a share, a ratio, and a count that
    /// is no input of the scenario; and not on the inputs it names.
    #[test]
    fn the_lesson_rule_catches_measured_outcomes() {
        let file = "bonus_rate = 150\n[[fault]]\nmean = \"100ms\"\n";
        let fine = "At 150 bonuses a second a 100 ms slowdown pays at +0 % and answers 202.";
        assert!(lesson_faults(fine, file).is_empty());
        let bad = "Availability collapses to 41 % (a few per cent), 559× slower; it \
                   under-pays 468 deliveries.";
        assert_eq!(
            lesson_faults(bad, file).len(),
            5,
            "{:?}",
            lesson_faults(bad, file)
        );
        let long = "word ".repeat(LESSON_WORDS + 1);
        assert_eq!(lesson_faults(&long, file).len(), 1);
    }

    /// What breaks the rule in `lesson`, given the scenario file's text.
    fn lesson_faults(lesson: &str, file: &str) -> Vec<String> {
        let mut faults = Vec::new();
        let words = lesson.split_whitespace().count();
        if words > LESSON_WORDS {
            faults.push(format!("{words} words"));
        }
        let lower = lesson.to_lowercase();
        for banned in ["per cent", "percent", "×"] {
            if lower.contains(banned) {
                faults.push(format!("\"{banned}\""));
            }
        }
        let mut inputs: toml::Table = toml::from_str(file).unwrap();
        inputs.remove("lesson");
        let inputs: Vec<String> = figures(&inputs.to_string())
            .into_iter()
            .map(|f| f.text)
            .collect();
        for figure in figures(lesson) {
            if figure.then.starts_with('%') {
                if !figure.signed {
                    faults.push(format!("a share \"{} %\"", figure.text));
                }
            } else if !inputs.contains(&figure.text) && !STATUSES.contains(&figure.text.as_str()) {
                faults.push(format!(
                    "\"{}\" is not an input of the scenario",
                    figure.text
                ));
            }
        }
        faults
    }

    /// A number in a text: its digits, whether a `+` came before it, and the
    /// text after it (spaces skipped).
    struct Figure {
        text: String,
        signed: bool,
        then: String,
    }

    fn figures(text: &str) -> Vec<Figure> {
        let chars: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let starts = chars[i].is_ascii_digit()
                && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
            if !starts {
                i += 1;
                continue;
            }
            let begin = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], '.' | ',')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            let text: String = chars[begin..i].iter().filter(|c| **c != ',').collect();
            let then: String = chars[i..]
                .iter()
                .skip_while(|c| **c == ' ')
                .take(2)
                .collect();
            let signed = begin > 0 && chars[begin - 1] == '+';
            out.push(Figure { text, signed, then });
        }
        out
    }
}
