//! `<out>/README.md`: every scenario in one table, each variant's headline
//! figures, a link to each report, and how to read them.
//!
//! One row per scenario keeps the whole suite on one screen; each cell lists
//! the variants in one fixed order (sync / sync-buffered / async), so a column
//! reads as a comparison. The glossary lives here once and every report links
//! back to it.

use std::fmt::Write as _;

use super::facts;
use super::format::{self, count, secs};
use super::markdown::{Table, bullets, code, heading};
use crate::results::{ScenarioResults, VariantResults};

/// The index page as markdown.
pub fn render(all: &[ScenarioResults]) -> String {
    let mut out = String::from("# commlab results\n\n");
    out.push_str(
        "Each scenario plays one seeded workload and one timeline of faults against every \
         variant — `sync` (blocking HTTP calls), `sync-buffered` (the same, plus a buffer that \
         resends unpaid bonuses), `sync-resilient` (the same calls with deadlines, budgeted \
         retries, circuit breakers, bulkheads, a stale-if-error cache and load shedding) and \
         `async` (events through a stream), plus any variant a scenario defines — and \
         measures what their users saw. Each scenario's report explains its lesson, shows its charts and \
         checks the figures against theory.\n",
    );
    if all.is_empty() {
        out.push_str("\nNo scenario has been run yet.\n");
        return out;
    }
    out.push_str(
        "\n[The model and glossary](MODEL.md): the variants, who calls whom, the \
         configuration every run used, and what the reports' words mean.\n",
    );
    run_line(&mut out, all);
    let names = variant_names(all);
    tradeoff(&mut out, all, &names);

    // The table's cells hold the four presets only: a scenario's own variants
    // and its ablation runs are in the trade-off table above and in its report.
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| n.parse::<common::system::Variant>().is_ok())
        .collect();
    scenarios(&mut out, all, &names);
    how_to_read(&mut out);
    super::markdown::tidy(&out)
}

/// One row per scenario; each cell lists the presets' figures in order.
fn scenarios(out: &mut String, all: &[ScenarioResults], names: &[String]) {
    heading(out, 2, "Scenarios");
    let _ = writeln!(
        out,
        "Each cell lists the preset variants in the order **{}**; `–` where a scenario did \
         not run one. A scenario's own variants and its ablation runs are in the trade-off \
         table above and in its report. A scenario played several times shows its first run \
         here; its report gives every figure over all of them.\n",
        names.join(" / ")
    );
    let mut table = Table::figures(
        &["scenario", "what breaks"],
        &[
            "bonuses served",
            "deliveries served",
            "lost",
            "paid twice",
            "under-paid",
            "stale",
            "repriced",
            "paid though rejected",
            "peak backlog",
            "drain",
        ],
    );
    for results in all {
        let faults: Vec<&str> = results.timeline.iter().map(|e| e.label.as_str()).collect();
        let cell = |f: &dyn Fn(&VariantResults) -> String| -> String {
            names
                .iter()
                .map(|name| {
                    results
                        .variants
                        .iter()
                        .find(|v| v.variant == *name)
                        .map_or("–".to_string(), f)
                })
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let doubtful: Vec<&str> = results
            .variants
            .iter()
            .filter(|v| !v.evidence.ok)
            .map(|v| v.variant.as_str())
            .collect();
        let warning = match doubtful.is_empty() {
            true => String::new(),
            false => format!(" — **not evidence** for {}", doubtful.join(", ")),
        };
        table.row(&[
            format!(
                "[{}]({}.md){}{warning}",
                results.title,
                results.scenario,
                run_one_of(results)
            ),
            if faults.is_empty() {
                "nothing".to_string()
            } else {
                faults.join("; ")
            },
            cell(&|v| format::opt_share(v.operations.bonus.availability)),
            cell(&|v| format::opt_share(v.operations.delivery.availability)),
            cell(&|v| count(v.bonuses.lost + v.deliveries.lost)),
            cell(&|v| count(v.bonuses.paid_twice + v.deliveries.paid_twice)),
            cell(&|v| count(v.bonuses.under_paid + v.deliveries.under_paid)),
            cell(&|v| count(v.bonuses.stale + v.deliveries.stale)),
            cell(&|v| count(v.bonuses.repriced + v.deliveries.repriced)),
            cell(&|v| count(v.bonuses.paid_though_rejected + v.deliveries.paid_though_rejected)),
            cell(&|v| count(facts::peak(v).value)),
            cell(&|v| match (v.backlog.peak, v.backlog.drain_s) {
                (0, _) => "—".to_string(),
                (_, Some(d)) => secs(Some(d)),
                (_, None) => "never".to_string(),
            }),
        ]);
    }
    out.push_str(&table.render());
}

/// The trade-off at a glance — what a reader would put on a slide: per
/// scenario and variant, how much was served, how many requests were paid
/// wrong, and the longest wait for a payout.
fn tradeoff(out: &mut String, all: &[ScenarioResults], names: &[String]) {
    heading(out, 2, "The trade-off at a glance");
    out.push_str(
        "Availability is the share of bonus requests served within the SLO over the whole \
         run; *paid wrong* counts every request lost, paid twice, under-paid, stale, \
         repriced or paid though rejected; the wait is the longest from a bonus's scheduled \
         send to its payout.\n\n![The trade-off](tradeoff.svg)\n\n",
    );
    let mut table = Table::figures(
        &["scenario", "variant"],
        &[
            "bonus availability",
            "paid wrong",
            "longest wait for a payout",
        ],
    );
    for results in all {
        for name in names {
            let Some(v) = results.variants.iter().find(|v| v.variant == *name) else {
                continue;
            };
            table.row(&[
                format!(
                    "[{}]({}.md){}",
                    results.scenario,
                    results.scenario,
                    run_one_of(results)
                ),
                code(&v.variant),
                format::opt_share(v.operations.bonus.availability),
                count(super::takeaway::money_errors(v)),
                v.bonus_to_paid_ms.max.map_or(format::NA.to_string(), |m| {
                    format!("{} ms", format::ms(Some(m)))
                }),
            ]);
        }
    }
    out.push_str(&table.render());
}

/// For a scenario played more than once, which run its row shows and where
/// the others are: the index's figures are run 1's, its report gives each
/// figure over every run. Empty for a single run.
fn run_one_of(results: &ScenarioResults) -> String {
    match super::spread::repeated(results).map(|r| r.runs.len()) {
        Some(n) => format!(
            " (run 1 of {n}; [all {n}]({}.md#across-{n}-runs))",
            results.scenario
        ),
        None => String::new(),
    }
}

/// The canonical variant order, over every scenario.
fn variant_names(all: &[ScenarioResults]) -> Vec<String> {
    let mut names: Vec<String> = all
        .iter()
        .flat_map(|r| r.variants.iter().map(|v| v.variant.clone()))
        .collect();
    names.sort_by_key(|n| (facts::variant_rank(n), n.clone()));
    names.dedup();
    names
}

/// Seed, commit and machine: once if every scenario shares them.
fn run_line(out: &mut String, all: &[ScenarioResults]) {
    let first = &all[0];
    let same = |f: &dyn Fn(&ScenarioResults) -> String| all.iter().all(|r| f(r) == f(first));
    let seed = if same(&|r| r.seed.to_string()) {
        code(&first.seed.to_string())
    } else {
        "per scenario (see each report)".to_string()
    };
    let commit = if same(&|r| r.commit.clone()) {
        code(&first.commit)
    } else {
        "per scenario (see each report)".to_string()
    };
    let stream = if same(&|r| r.stream.to_string()) {
        code(&first.stream.to_string())
    } else {
        "per scenario (see each report)".to_string()
    };
    let e = &first.environment;
    let quick = if all.iter().any(|r| r.quick) {
        " Some runs were shortened with `--quick`: fewer samples, wider error bars."
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "\nSeed {seed}, commit {commit}, the async variant's stream {stream}, on {} CPUs ({}), \
         {}, built with {}.{quick} Each report ends with the command that replays it.",
        count(e.cpus as u64),
        e.cpu_model,
        e.os,
        e.toolchain
    );
}

fn how_to_read(out: &mut String) {
    heading(out, 2, "How to read the figures");
    bullets(
        out,
        &[
            "**Served** — answered 2xx within the scenario's SLO, as a share of the requests \
             sent. A success after the SLO counts as not served."
                .to_string(),
            "**Lost** — accepted (answered 2xx) but never paid: the worst outcome, because \
             the client believes it worked."
                .to_string(),
            "**Paid twice** — one request paid more than once. Payments' ledger refuses a \
             repeated reference, so this stays 0 unless a scenario switches that off \
             (`idempotency = false`) to show what the check prevents."
                .to_string(),
            "**Not evidence** — the harness could not vouch for that run (it did not settle \
             before its payouts were read, or the ledger's own count disagreed with what was \
             reconciled); the report says why."
                .to_string(),
            "**Under-paid** — paid with the +0 % fallback while the courier's performance \
             earned more: the reference code's silent default when Payments cannot reach \
             Incentives."
                .to_string(),
            "**Peak backlog** — the most work accepted and not yet done (the sync-buffered \
             buffer; the async outbox and stream). `sync` has none: it refuses what it cannot \
             do. **Drain** — seconds from the end of the last fault until the backlog was \
             empty."
                .to_string(),
            "Each report also shows money paid from a stale performance, repriced \
             (paid late, at a performance the courier only got later), and paid though \
             rejected, or to the wrong courier or amount; latency percentiles (`n/a` where there were too few samples); \
             and predictions from theory beside each measured figure."
                .to_string(),
            "Every variant of a scenario gets the same seeded schedule; each report's first \
             table proves it with the schedule's fingerprint."
                .to_string(),
        ],
    );
}
