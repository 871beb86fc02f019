//! What the defences of the synchronous design buy and cost: every report's
//! recovery and amplification table (for every variant), the configuration
//! each variant ran with, and — when the scenario (or `--ablate`) asks — the
//! ablation table: the ablated variant with everything on, then once with
//! each mechanism off.
//!
//! Recovery is `measure::recovery` (seconds from a fault's end until every
//! operation is back at ≥ 99 % for a whole second and stays there: the figure
//! that exposes a metastable failure); amplification is the variants' own
//! count of calls between the services per edge request.

use super::facts;
use super::format::{count, number, opt_share, secs};
use super::markdown::{Table, code, heading};
use crate::results::{ScenarioResults, VariantResults};

/// The recovery/amplification table, the configurations, and the ablation.
pub fn section(out: &mut String, results: &ScenarioResults) {
    recovery_and_amplification(out, results);
    ablation(out, results);
    configurations(out, results);
}

fn recovery_and_amplification(out: &mut String, results: &ScenarioResults) {
    heading(out, 3, "Recovery and amplification");
    out.push_str(
        "*Recovery*: seconds from a fault's end until bonuses, deliveries and performance \
         updates are all back at ≥ 99 % within the SLO over a whole second, and stay there \
         until the next fault or the end of the run (steps of 0.1 s; *not back* when that \
         never happened, or less than a second was left). *Amplification*: calls one service \
         made to the other per edge request, every attempt counted, from the services' own \
         counters (the async services make none: they exchange events). *Shed* and *expired* \
         are requests refused by a full queue and queued requests dropped unrun after their \
         deadline.\n\n",
    );
    let mut labels: Vec<String> = results
        .timeline
        .iter()
        .enumerate()
        .map(|(i, e)| format!("recovery after fault {} ({})", i + 1, e.kind))
        .collect();
    labels.extend(
        [
            "amplification",
            "retries",
            "short-circuited",
            "breaker opened",
            "shed",
            "expired",
        ]
        .map(String::from),
    );
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let mut table = Table::figures(&["variant"], &label_refs);
    for v in facts::ordered(results) {
        let mut row = vec![code(&v.variant)];
        for i in 0..results.timeline.len() {
            row.push(recovery_of(v, i));
        }
        let s = &v.final_stats;
        row.push(v.amplification.map_or("–".to_string(), number));
        for n in [
            s.retries,
            s.short_circuited,
            s.breaker_opened,
            s.shed,
            s.expired,
        ] {
            row.push(count(n));
        }
        table.row(&row);
    }
    out.push_str(&table.render());
}

/// A fault's recovery as a cell: seconds, `not back`, or `n/a`.
fn recovery_of(v: &VariantResults, fault: usize) -> String {
    if v.not_applicable_to(fault).is_some() {
        return "n/a".to_string();
    }
    match v.recovery.iter().find(|r| r.fault == fault) {
        Some(r) => r.all_s.map_or("not back".to_string(), |s| secs(Some(s))),
        None => "–".to_string(),
    }
}

/// Availability of bonuses in the `during` or `after` phase of fault `i`.
fn phase_bonus(v: &VariantResults, fault: usize, after: bool) -> Option<f64> {
    v.phases.get(3 * fault + if after { 2 } else { 1 })?.bonus
}

fn ablation(out: &mut String, results: &ScenarioResults) {
    let Some(name) = &results.ablate else {
        return;
    };
    let prefix = format!("{name}-without-");
    let rows: Vec<&VariantResults> = results
        .variants
        .iter()
        .filter(|v| &v.variant == name || v.variant.starts_with(&prefix))
        .collect();
    if rows.is_empty() {
        return;
    }
    heading(
        out,
        3,
        &format!("Ablation: what each defence of {name} buys"),
    );
    out.push_str(&format!(
        "`{name}` with every defence on, then once with each switched off (the same \
         schedule). A defence *bought* what its row loses against the first row — \
         availability during and after the first fault, recovery, money errors — and \
         *cost* what its row saves: calls between the services, stale payouts, latency. \
         *Money errors* are lost + paid twice + under-paid + paid though rejected, bonuses \
         and deliveries together.\n\n"
    ));
    let mut table = Table::figures(
        &["variant"],
        &[
            "bonus during",
            "bonus after",
            "recovery",
            "money errors",
            "amplification",
            "stale payouts",
            "bonus p99",
            "delivery p99",
        ],
    );
    for v in rows {
        let money = |m: &crate::results::MoneyOutcome| {
            m.lost + m.paid_twice + m.under_paid + m.paid_though_rejected
        };
        let p99 = |p: Option<f64>| p.map_or("n/a".to_string(), |ms| format!("{} ms", number(ms)));
        let has_fault = !results.timeline.is_empty();
        table.row(&[
            code(&v.variant),
            if has_fault {
                opt_share(phase_bonus(v, 0, false))
            } else {
                "–".into()
            },
            if has_fault {
                opt_share(phase_bonus(v, 0, true))
            } else {
                "–".into()
            },
            if has_fault {
                recovery_of(v, 0)
            } else {
                "–".into()
            },
            count(money(&v.bonuses) + money(&v.deliveries)),
            v.amplification.map_or("–".to_string(), number),
            count(v.bonuses.stale + v.deliveries.stale),
            p99(v.operations.bonus.latency_ms.p99),
            p99(v.operations.delivery.latency_ms.p99),
        ]);
    }
    out.push_str(&table.render());
}

fn configurations(out: &mut String, results: &ScenarioResults) {
    heading(out, 3, "Configurations");
    out.push_str(
        "Every variant's complete configuration as it ran (durations in ms; `null` is a \
         defence switched off). The results JSON has the same under `configuration`.\n\n",
    );
    let mut table = Table::new(&[
        ("variant", super::markdown::Align::Left),
        ("configuration", super::markdown::Align::Left),
    ]);
    for v in facts::ordered(results) {
        table.row(&[code(&v.variant), code(&v.configuration.to_string())]);
    }
    out.push_str(&table.render());
}
