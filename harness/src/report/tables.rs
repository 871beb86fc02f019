//! The side-by-side tables of a scenario report: one row per variant, the
//! same columns for all, `n/a` where a figure could not be stated honestly.
//!
//! The first table proves the comparison is fair — every variant was given the
//! same schedule (its fingerprint) and sent the same requests — as ripgrep's
//! benchmark tables show every tool did the same work. Availability carries a
//! ratio against the baseline, the reference system (`sync`).

use std::fmt::Write as _;

use super::facts::{self, Op};
use super::format::{self, count, ms, share_of};
use super::markdown::{Table, bullets, code, heading};
use crate::results::{MoneyOutcome, Percentiles, ScenarioResults};

/// All the tables, each under its own heading.
pub fn section(results: &ScenarioResults) -> String {
    let mut out = String::new();
    heading(&mut out, 2, "Side by side");
    same_work(&mut out, results);
    availability(&mut out, results);
    phases(&mut out, results);
    latency(&mut out, results);
    backlog(&mut out, results);
    money(&mut out, results);
    counters(&mut out, results);
    super::resilience::section(&mut out, results);
    not_applicable(&mut out, results);
    out
}

fn same_work(out: &mut String, results: &ScenarioResults) {
    heading(out, 3, "Same work for every variant");
    out.push_str(
        "Each variant replays the same seeded schedule; the fingerprint (SHA-256 of the \
         requests and the fault times, first 12 digits) proves it.\n\n",
    );
    let mut table = Table::figures(
        &["variant", "schedule", "run"],
        &["bonus sent", "deliveries sent", "performance sent"],
    );
    let s = results.workload.scheduled;
    table.row(&[
        "*scheduled*".to_string(),
        code(&format::short_fingerprint(&results.schedule_fingerprint)),
        String::new(),
        count(s.bonus),
        count(s.delivery),
        count(s.performance),
    ]);
    for v in facts::ordered(results) {
        let same = v.schedule_fingerprint == results.schedule_fingerprint;
        table.row(&[
            code(&v.variant),
            format!(
                "{} {}",
                code(&format::short_fingerprint(&v.schedule_fingerprint)),
                if same { "same" } else { "**DIFFERENT**" }
            ),
            if v.interrupted {
                "interrupted"
            } else {
                "complete"
            }
            .to_string(),
            count(v.operations.bonus.sent),
            count(v.operations.delivery.sent),
            count(v.operations.performance.sent),
        ]);
    }
    out.push_str(&table.render());
}

fn availability(out: &mut String, results: &ScenarioResults) {
    heading(out, 3, "Availability over the whole run");
    let variants = facts::ordered(results);
    let baseline = variants
        .first()
        .map(|v| v.variant.clone())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Served = answered 2xx within the {} ms SLO, as a share of requests sent (served / sent).\n",
        results.slo_ms
    );
    let vs = format!("bonus vs {baseline}");
    let mut table = Table::figures(
        &["variant"],
        &["bonus", vs.as_str(), "deliveries", "performance"],
    );
    let base = variants
        .first()
        .and_then(|v| v.operations.bonus.availability);
    for v in &variants {
        let o = &v.operations;
        let ratio = match (o.bonus.availability, base) {
            (Some(a), Some(b)) if b > 0.0 => format!("×{:.2}", a / b),
            _ => format::NA.to_string(),
        };
        table.row(&[
            code(&v.variant),
            share_of(o.bonus.ok, o.bonus.sent),
            ratio,
            share_of(o.delivery.ok, o.delivery.sent),
            share_of(o.performance.ok, o.performance.sent),
        ]);
    }
    out.push_str(&table.render());
    out.push_str("\nWhy requests were not served:\n\n");
    let mut why = Table::figures(
        &["variant", "operation"],
        &["served", "late", "error status", "no answer"],
    );
    for v in &variants {
        for op in Op::ALL {
            let o = op.of(&v.operations);
            if o.sent == 0 {
                continue;
            }
            why.row(&[
                code(&v.variant),
                op.noun().to_string(),
                count(o.ok),
                count(o.late),
                count(o.failed),
                count(o.no_answer),
            ]);
        }
    }
    out.push_str(&why.render());
}

fn phases(out: &mut String, results: &ScenarioResults) {
    let variants = facts::ordered(results);
    if variants.iter().all(|v| v.phases.is_empty()) {
        return;
    }
    heading(out, 3, "Availability before, during and after each fault");
    let mut table = Table::figures(
        &["phase", "t (s)", "variant"],
        &["bonus", "deliveries", "performance"],
    );
    // Phases in time order; each variant reports the same windows.
    let mut names: Vec<(f64, f64, String)> = Vec::new();
    for v in &variants {
        for p in &v.phases {
            if !names.iter().any(|(_, _, n)| *n == p.name) {
                names.push((p.start_s, p.end_s, p.name.clone()));
            }
        }
    }
    names.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    for (start, end, name) in &names {
        for v in &variants {
            let Some(p) = v.phases.iter().find(|p| p.name == *name) else {
                continue;
            };
            // Counted from the per-second series, as the narrative counts
            // them, so a sentence and this row state the same figures.
            let cell = |op: Op| {
                let t = facts::tally(&op.of(&v.operations).series, p.start_s, p.end_s);
                share_of(t.ok, t.sent)
            };
            table.row(&[
                name.clone(),
                format!("{}–{}", format::number(*start), format::number(*end)),
                code(&v.variant),
                cell(Op::Bonus),
                cell(Op::Delivery),
                cell(Op::Performance),
            ]);
        }
    }
    out.push_str(&table.render());
}

fn latency(out: &mut String, results: &ScenarioResults) {
    heading(out, 3, "Latency (ms)");
    out.push_str(
        "Answers are timed from the *scheduled* send time, so a request that waited for a \
         free connection is not flattered (no coordinated omission). Bonus → paid is the \
         wait for the money: from the bonus request's scheduled send time — a moment both \
         designs share — to the ledger's payout. A percentile shows `n/a` \
         below its honest sample size (p99 needs 100 samples, p99.9 needs 1,000).\n\n",
    );
    let mut table = Table::figures(
        &["variant", "measure"],
        &["samples", "p50", "p90", "p99", "p99.9", "max"],
    );
    let row = |table: &mut Table, variant: &str, what: &str, p: &Percentiles| {
        table.row(&[
            code(variant),
            what.to_string(),
            count(p.samples),
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.p999),
            ms(p.max),
        ]);
    };
    for v in facts::ordered(results) {
        for op in Op::ALL {
            let o = op.of(&v.operations);
            if o.sent > 0 {
                row(
                    &mut table,
                    &v.variant,
                    &format!("{} answer", op.noun()),
                    &o.latency_ms,
                );
            }
        }
        row(&mut table, &v.variant, "bonus → paid", &v.bonus_to_paid_ms);
    }
    out.push_str(&table.render());
}

fn backlog(out: &mut String, results: &ScenarioResults) {
    heading(out, 3, "Backlog and drain");
    out.push_str(
        "Backlog = accepted but not yet paid: `sync-buffered`'s buffer; `async`'s outbox plus \
         the events on the stream that Payments has not processed (bonuses *and* performance \
         changes). `sync` keeps none; its waiting requests hold worker threads instead.\n\n",
    );
    let mut table = Table::figures(
        &["variant"],
        &[
            "peak backlog",
            "peak at t",
            "drain after last fault",
            "drain after load stopped",
            "peak busy workers",
            "peak in-flight calls",
        ],
    );
    for v in facts::ordered(results) {
        let b = &v.backlog;
        let peak = facts::peak(v);
        let drain = |d: Option<f64>| match d {
            _ if peak.value == 0 => "—".to_string(),
            Some(d) => format::secs(Some(d)),
            None => "did not empty".to_string(),
        };
        table.row(&[
            code(&v.variant),
            count(peak.value),
            match peak.t {
                Some(t) if peak.value > 0 => match facts::when(results, t) {
                    facts::When::During(_) => format!("{} (during)", format::secs(Some(t))),
                    facts::When::After(_, by) => format!(
                        "{} ({} after)",
                        format::secs(Some(t)),
                        format::secs(Some(by))
                    ),
                    facts::When::Before => format::secs(Some(t)),
                },
                _ => "—".to_string(),
            },
            if results.timeline.is_empty() {
                "—".to_string()
            } else {
                drain(b.drain_s)
            },
            drain(b.drain_phase_s),
            count(b.peak_busy_workers),
            count(b.peak_in_flight_calls),
        ]);
    }
    out.push_str(&table.render());
}

fn money(out: &mut String, results: &ScenarioResults) {
    heading(out, 3, "Money");
    out.push_str(
        "Reconciled request by request against the ledger. *Lost*: accepted, never paid. \
         *Under-paid*: paid with the +0 % fallback while the courier's incentive was higher. \
         *Stale*: paid with a performance the courier no longer had. *Repriced*: paid late, at \
         a performance the courier only got after the request was answered. *Paid though \
         rejected*: the client was told no, the money went out anyway. *Wrong payout*: paid \
         to another courier, or for another amount, than the request asked.\n\n",
    );
    let mut table = Table::figures(
        &["variant", "kind"],
        &[
            "accepted",
            "paid",
            "rejected",
            "lost",
            "paid twice",
            "under-paid",
            "stale",
            "repriced",
            "paid though rejected",
            "wrong payout",
        ],
    );
    for v in facts::ordered(results) {
        let kinds: [(&str, &MoneyOutcome); 2] =
            [("bonuses", &v.bonuses), ("deliveries", &v.deliveries)];
        for (kind, m) in kinds {
            table.row(&[
                code(&v.variant),
                kind.to_string(),
                count(m.accepted),
                count(m.paid),
                count(m.rejected),
                count(m.lost),
                count(m.paid_twice),
                count(m.under_paid),
                count(m.stale),
                count(m.repriced),
                count(m.paid_though_rejected),
                count(m.wrong_payout),
            ]);
        }
    }
    out.push_str(&table.render());
    money_totals(out, results);
}

/// What was owed and paid in total, and every request paid wrong.
fn money_totals(out: &mut String, results: &ScenarioResults) {
    out.push_str(
        "\nTotals. *Owed*: what each *accepted* request was owed at a performance it could \
         rightly have been paid at (the one it was paid with where that was acceptable, else \
         its true performance when sent); where several were acceptable, variants may differ \
         by cents for the same work. *Owed at send*: each accepted request at its courier's \
         true performance when it was sent, one rule for every variant — compare variants on \
         this one. *Paid*: what the ledger paid.\n\n",
    );
    let mut totals = Table::figures(
        &["variant"],
        &[
            "owed",
            "paid",
            "paid − owed",
            "owed at send",
            "unmatched payouts",
        ],
    );
    for v in facts::ordered(results) {
        totals.row(&[
            code(&v.variant),
            format::money(v.money.owed),
            format::money(v.money.paid),
            format::money_difference(v.money.paid, v.money.owed),
            format::money(v.money.owed_at_send),
            count(v.money.unmatched_payouts),
        ]);
    }
    out.push_str(&totals.render());
    out.push_str(
        "\nEvery request paid wrong, all kinds, bonuses and deliveries together (the \
         \"what to take away\" table's figure):\n\n",
    );
    let mut wrong = Table::figures(&["variant"], &["requests paid wrong"]);
    for v in facts::ordered(results) {
        wrong.row(&[code(&v.variant), count(super::takeaway::money_errors(v))]);
    }
    out.push_str(&wrong.render());
}

fn counters(out: &mut String, results: &ScenarioResults) {
    heading(out, 3, "The variants' own counters at the end");
    out.push_str(
        "From the services themselves, not from the harness: a cross-check of the tables \
         above. `ok/failed/injected` are edge answers; *injected* are the faults' own.\n\n",
    );
    let mut table = Table::figures(
        &["variant"],
        &[
            "Incentives ok/failed/injected",
            "Payments ok/failed/injected",
            "payouts",
            "duplicates refused",
        ],
    );
    for v in facts::ordered(results) {
        let s = &v.final_stats;
        let edge = |e: &common::faults::EdgeCounts| {
            format!(
                "{} / {} / {}",
                count(e.ok),
                count(e.failed),
                count(e.injected)
            )
        };
        table.row(&[
            code(&v.variant),
            edge(&s.incentives),
            edge(&s.payments),
            count(s.payouts),
            count(s.duplicates_refused),
        ]);
    }
    out.push_str(&table.render());
}

fn not_applicable(out: &mut String, results: &ScenarioResults) {
    let lines: Vec<String> = facts::ordered(results)
        .iter()
        .flat_map(|v| {
            v.not_applicable.iter().map(move |na| {
                // When the fault is on: the timeline entry its index names.
                let when = results.timeline.get(na.fault).map_or(String::new(), |e| {
                    format!(
                        " (t = {}–{} s)",
                        format::number(e.start_s),
                        format::number(e.start_s + e.duration_s)
                    )
                });
                format!(
                    "{}: {}{when} does not apply — {}",
                    code(&v.variant),
                    na.label,
                    na.reason
                )
            })
        })
        .collect();
    if lines.is_empty() {
        return;
    }
    heading(out, 3, "Faults that do not apply");
    out.push_str(
        "These faults were on the timeline but have no counterpart in the variant; it ran \
         the same load without them.\n\n",
    );
    bullets(out, &lines);
}
