//! `commlab list` and `commlab explain`: the scenarios, in words, before any
//! number. A student should be able to read what a scenario will do — its
//! lesson, its load, its timeline — without opening the TOML.

use std::fmt::Write as _;
use std::time::Duration;

use crate::scenario::{Scenario, show};

/// Width the lesson is wrapped to.
const WIDTH: usize = 80;

/// One line per scenario: name and title.
pub fn list(scenarios: &[Scenario]) -> String {
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    scenarios
        .iter()
        .map(|s| format!("{:<width$}  {}\n", s.name, s.title))
        .collect()
}

/// Title, lesson, workload and timeline of one scenario.
pub fn explain(scenario: &Scenario) -> String {
    let mut out = String::new();
    let w = &scenario.workload;
    let _ = writeln!(out, "{} — {}", scenario.name, scenario.title);
    let variants: Vec<&str> = scenario.variants.iter().map(|v| v.name.as_str()).collect();
    let _ = writeln!(
        out,
        "{} · seed {} · {} · SLO {} · variants: {}\n",
        scenario.file,
        scenario.seed,
        show(scenario.duration),
        show(scenario.slo),
        variants.join(", ")
    );
    out.push_str(&wrap(&scenario.lesson, WIDTH));
    let mix = w.bonus_mix.map(|s| (s * 100.0).round());
    let workload = format!(
        "Workload: {} couriers, {} arrivals; per second {} bonuses (SMALL {} %, AVERAGE {} %, \
         BIG {} %), {} deliveries, {} performance updates.",
        w.couriers,
        w.arrival,
        w.bonus_rate,
        mix[0],
        mix[1],
        mix[2],
        w.delivery_rate,
        w.performance_rate
    );
    out.push('\n');
    out.push_str(&wrap(&workload, WIDTH));
    let _ = writeln!(out, "\nTimeline:");
    let mut cursor = Duration::ZERO;
    for fault in &scenario.faults {
        if fault.start > cursor {
            let _ = writeln!(
                out,
                "  {:>7} – {:<7} no fault",
                show(cursor),
                show(fault.start)
            );
        }
        let _ = writeln!(
            out,
            "  {:>7} – {:<7} {}",
            show(fault.start),
            show(fault.end()),
            fault.fault
        );
        cursor = cursor.max(fault.end());
    }
    if cursor < scenario.duration {
        let _ = writeln!(
            out,
            "  {:>7} – {:<7} no fault",
            show(cursor),
            show(scenario.duration)
        );
    }
    out
}

fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
