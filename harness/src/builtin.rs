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
const SUITE: [(&str, &str, &str); 12] = [
    entry!("baseline"),
    entry!("payments-outage"),
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
}
