//! Scenario-defined variants: `[variant.NAME]` tables become complete
//! configurations, wrong ones are refused with file, line and field, and
//! `ablate` runs a variant once per defence switched off.

mod support;

use commlab::scenario::Scenario;

fn parse(extra: &str) -> Result<Scenario, String> {
    let text = support::tiny_scenario("tables", "2s", "")
        .replace("slo = \"500ms\"\n", &format!("slo = \"300ms\"\n{extra}\n"));
    Scenario::parse("tables.toml", "tables.toml", &text).map_err(|e| e.to_string())
}

/// A table starts from its base and turns on exactly the mechanisms it names,
/// with the parameters it gives; the presets get the SLO as their deadline.
#[test]
fn a_table_configures_its_mechanisms() {
    let scenario = parse(
        r#"variants = ["sync-resilient", "breaker-only"]
[variant.breaker-only]
base = "sync"
workers = 8
breaker = { open_for = "400ms", probes = 1 }
"#,
    )
    .unwrap();
    let names: Vec<&str> = scenario.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["sync-resilient", "breaker-only"]);
    let own = scenario.variants[1].configuration();
    assert_eq!(own["workers"], 8);
    assert_eq!(own["policy"], "fallback", "the base's policy is kept");
    assert_eq!(own["resilience"]["breaker"]["open_for_ms"], 400.0);
    assert_eq!(own["resilience"]["breaker"]["probes"], 1);
    assert_eq!(
        own["resilience"]["breaker"]["window"], 20,
        "the rest at defaults"
    );
    assert!(own["resilience"]["retry"].is_null() && own["resilience"]["cache"].is_null());
    let preset = scenario.variants[0].configuration();
    assert_eq!(preset["resilience"]["deadline"]["default_budget_ms"], 300.0);
    assert_eq!(preset["policy"], "fail");
}

/// `false` switches a mechanism of the base off; `ablate` adds one run per
/// mechanism the ablated variant has on, right after it.
#[test]
fn ablation_switches_each_defence_off_in_turn() {
    let scenario = parse(
        r#"variants = ["sync", "lean"]
ablate = "lean"
[variant.lean]
base = "sync-resilient"
cache = false
shedding = false
"#,
    )
    .unwrap();
    let runs: Vec<String> = scenario
        .runs()
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(
        runs,
        [
            "sync",
            "lean",
            "lean-without-deadline",
            "lean-without-retry",
            "lean-without-breaker",
            "lean-without-bulkhead",
        ]
    );
}

/// A wrong table names its file, line and field, and why.
#[test]
fn wrong_tables_are_refused_where_they_are_written() {
    let error = parse("[variant.x]\nbase = \"sync\"\nbreaker = { colour = 1 }\n").unwrap_err();
    assert!(error.starts_with("tables.toml:"), "{error}");
    assert!(error.contains("variant"), "{error}");
    let error = parse("[variant.x]\nbase = \"quick\"\n").unwrap_err();
    assert!(
        error.contains("tables.toml:8: field `variant.x.base`"),
        "{error}"
    );
    assert!(error.contains("unknown base \"quick\""), "{error}");
    let error = parse("[variant.sync]\nbase = \"sync\"\n").unwrap_err();
    assert!(error.contains("a preset's name"), "{error}");
    let error = parse("[variant.x]\nbase = \"sync\"\nretry = { attempts = 0 }\n").unwrap_err();
    assert!(error.contains("field `variant.x.retry`"), "{error}");
    assert!(
        error.contains("retry.attempts must be at least 1"),
        "{error}"
    );
    let error = parse("variants = [\"nope\"]\n").unwrap_err();
    assert!(error.contains("unknown variant \"nope\""), "{error}");
    let error = parse("ablate = \"sync\"\n").unwrap_err();
    assert!(error.contains("no defence to switch off"), "{error}");
}

/// `buffer` chooses where sync-buffered keeps its unpaid bonuses, and the
/// variant's configuration records it; a base without a buffer refuses it.
#[test]
fn the_buffer_key_is_recorded_and_needs_a_buffer() {
    let scenario = parse(
        r#"variants = ["sync-buffered", "durable"]
[variant.durable]
base = "sync-buffered"
buffer = "sqlite"
"#,
    )
    .unwrap();
    assert_eq!(scenario.variants[0].configuration()["buffer"], "memory");
    assert_eq!(scenario.variants[1].configuration()["buffer"], "sqlite");
    let error = parse("[variant.x]\nbase = \"sync\"\nbuffer = \"sqlite\"\n").unwrap_err();
    assert!(error.contains("field `variant.x.buffer`"), "{error}");
    assert!(error.contains("needs a buffered base"), "{error}");
    let error = parse("[variant.x]\nbase = \"sync-buffered\"\nbuffer = \"disk\"\n").unwrap_err();
    assert!(error.contains("tables.toml:"), "{error}");
}
