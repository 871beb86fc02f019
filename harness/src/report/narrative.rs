//! The report's "What happened" section: sentences chosen by comparing the
//! numbers, never canned.
//!
//! Every sentence here is guarded by the figures it states. A variant is said
//! to have lost bonuses only if its `lost` count is above zero, to have
//! drained only if a drain time was measured, to have served more only if its
//! count was higher. The asynchronous design's costs (a backlog, a drain, a wait
//! between `202` and the payout, stale payments, the stream as a dependency) get
//! sentences by the same rules as the synchronous design's failures.

use super::facts::{self, Op, Tally};
use super::format::{self, count, join_and, secs, share};
use super::theory;
use crate::results::{ScenarioResults, VariantResults};

/// The narrative, one markdown bullet's text per finding.
pub fn sentences(results: &ScenarioResults) -> Vec<String> {
    let mut out = integrity(results);
    out.extend(outages(results));
    out.extend(backlogs(results));
    out.extend(super::narrative_money::sentences(results));
    out.extend(latency(results));
    out.extend(new_dependencies(results));
    out
}

pub fn bold(name: &str) -> String {
    format!("**{name}**")
}

/// Runs that cannot be compared, said first.
fn integrity(results: &ScenarioResults) -> Vec<String> {
    let mut out = Vec::new();
    for v in facts::ordered(results) {
        if v.schedule_fingerprint != results.schedule_fingerprint {
            out.push(format!(
                "**Warning:** {} was given a different schedule ({}) from the scenario's ({}): \
                 its figures are not comparable with the others'.",
                bold(&v.variant),
                format::short_fingerprint(&v.schedule_fingerprint),
                format::short_fingerprint(&results.schedule_fingerprint)
            ));
        }
        if v.interrupted {
            out.push(format!(
                "**Warning:** {}'s run was interrupted: its figures cover only what ran.",
                bold(&v.variant)
            ));
        }
        if v.internal_errors.count > 0 {
            out.push(format!(
                "**Not evidence:** {}'s run had {} internal error(s) — a failure of the \
                 variant's machinery or of the harness, not of the design — so its figures \
                 say nothing about the design: {}.",
                bold(&v.variant),
                v.internal_errors.count,
                v.internal_errors.reasons.join("; ")
            ));
        }
    }
    out
}

/// For each fault, what each variant served of its bonus and delivery requests.
fn outages(results: &ScenarioResults) -> Vec<String> {
    let mut out = Vec::new();
    for w in facts::windows(results) {
        let mut unharmed = Vec::new();
        for op in [Op::Bonus, Op::Delivery] {
            let tallies: Vec<(&VariantResults, Tally)> = facts::ordered(results)
                .into_iter()
                .map(|v| {
                    (
                        v,
                        facts::tally(&op.of(&v.operations).series, w.start, w.end),
                    )
                })
                .filter(|(_, t)| t.sent > 0)
                .collect();
            let shares: Vec<f64> = tallies.iter().flat_map(|(_, t)| t.availability()).collect();
            let Some(min) = shares.iter().copied().reduce(f64::min) else {
                continue;
            };
            let max = shares.iter().copied().fold(0.0, f64::max);
            if max - min < 0.01 && min >= 0.99 {
                unharmed.push(op.noun());
                continue;
            }
            if max - min < 0.01 {
                // Every design fared the same: say so once, not three times.
                let first = tallies[0].1;
                let counts = if tallies.iter().all(|(_, t)| *t == first) {
                    format!("{} of {} each", count(first.ok), count(first.sent))
                } else {
                    tallies
                        .iter()
                        .map(|(v, t)| {
                            format!("{} {} of {}", bold(&v.variant), count(t.ok), count(t.sent))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                out.push(format!(
                    "During {}, every variant alike served {} of its {} requests within the {} ms \
                     SLO ({counts}).",
                    w.describe(),
                    share((min + max) / 2.0),
                    op.noun(),
                    results.slo_ms
                ));
                continue;
            }
            let clauses: Vec<String> = tallies
                .iter()
                .map(|(v, t)| {
                    let mut clause = match (t.ok, t.sent - t.ok) {
                        (ok, 0) => format!("{} all {}", bold(&v.variant), count(ok)),
                        (0, _) => format!("{} none of {}", bold(&v.variant), count(t.sent)),
                        (ok, missed) => format!(
                            "{} {} of {} ({}) — {} rejected, unanswered or late",
                            bold(&v.variant),
                            count(ok),
                            count(t.sent),
                            share(ok as f64 / t.sent as f64),
                            count(missed)
                        ),
                    };
                    if theory::not_applicable(v, &w) {
                        clause.push_str(" (the fault does not apply to it)");
                    }
                    clause
                })
                .collect();
            out.push(format!(
                "During {}, {} requests served within the {} ms SLO: {}.",
                w.describe(),
                op.noun(),
                results.slo_ms,
                clauses.join("; ")
            ));
        }
        if !unharmed.is_empty() {
            out.push(format!(
                "During {}, every variant served at least 99 % of its {} requests within the \
                 SLO.",
                w.describe(),
                unharmed.join(" and ")
            ));
        }
    }
    out
}

/// Backlogs, drains and the wait for a payout; the threads sync holds instead.
fn backlogs(results: &ScenarioResults) -> Vec<String> {
    let mut out = Vec::new();
    let variants = facts::ordered(results);
    let mut drains = Vec::new();
    let mut waits = Vec::new();
    for v in &variants {
        let b = &v.backlog;
        if b.peak > 0 {
            // A drain shorter than one sampler interval is not resolved:
            // say "within", and leave it out of any comparison.
            let interval = facts::sample_interval(&b.series).unwrap_or(0.0);
            let mut drained = |d: Option<f64>, after: &str, end: &str| match d {
                Some(d) if d <= interval => format!(
                    "was empty again within {} of {end} (the sampler's resolution)",
                    secs(Some(interval))
                ),
                Some(d) => {
                    drains.push((v.variant.as_str(), d));
                    format!("drained {} after {after}", secs(Some(d)))
                }
                None => format!("had not drained after {after} within the run"),
            };
            // Tell the peak by the fault that caused it, when one window holds
            // it; the run-wide figures otherwise.
            let windows = facts::windows(results);
            let by_window = windows
                .iter()
                .enumerate()
                .filter_map(|(i, w)| facts::backlog_peak(&b.series, w).map(|peak| (i, w, peak)))
                .max_by_key(|(_, _, peak)| *peak)
                .filter(|(_, _, peak)| *peak > 0 && *peak as f64 >= 0.9 * b.peak as f64);
            let sentence = match by_window {
                Some((i, w, peak)) => {
                    let until = windows.get(i + 1).map_or(f64::INFINITY, |next| next.start);
                    format!(
                        "{}'s backlog peaked at {} {} during {} and {}.",
                        bold(&v.variant),
                        count(peak),
                        facts::backlog_unit(&v.variant),
                        w.describe(),
                        drained(
                            facts::backlog_drain(&b.series, w, until),
                            "it ended",
                            "its end"
                        )
                    )
                }
                None => format!(
                    "{}'s backlog peaked at {} {} and {}.",
                    bold(&v.variant),
                    count(b.peak),
                    facts::backlog_unit(&v.variant),
                    drained(b.drain_s, "the last fault ended", "the last fault's end")
                ),
            };
            out.push(sentence);
            if let Some(max) = v.bonus_to_paid_ms.max {
                waits.push(format!(
                    "{} {} (median {} ms)",
                    bold(&v.variant),
                    secs(Some(max / 1000.0)),
                    format::ms(v.bonus_to_paid_ms.p50)
                ));
            }
        } else if b.peak_busy_workers > 0 && !results.timeline.is_empty() {
            let calls = if b.peak_in_flight_calls > 0 {
                format!(
                    ", with up to {} calls waiting on the other service",
                    count(b.peak_in_flight_calls)
                )
            } else {
                String::new()
            };
            out.push(format!(
                "{} kept no backlog — what it could not do, it refused — but held up to {} \
                 worker threads busy at once{calls}.",
                bold(&v.variant),
                count(b.peak_busy_workers)
            ));
        }
    }
    if !waits.is_empty() {
        out.push(format!(
            "The price of accepting work before it can be done: the slowest accepted bonus \
             was paid this long after the client heard `202`: {}.",
            waits.join(", ")
        ));
    }
    drains.sort_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some(fast), Some(slow)) = (drains.first(), drains.last())
        && fast.1 > 0.0
        && slow.1 >= 1.5 * fast.1
    {
        out.push(format!(
            "{} drained {}× faster than {}.",
            bold(fast.0),
            format::number((slow.1 / fast.1 * 10.0).round() / 10.0),
            bold(slow.0)
        ));
    }
    out
}

/// The bonus answer's tail, when two variants differ by 2× or more.
fn latency(results: &ScenarioResults) -> Vec<String> {
    let variants = facts::ordered(results);
    type Pick = fn(&crate::results::Percentiles) -> Option<f64>;
    let picks: [(&str, Pick); 3] = [
        ("99th", |p| p.p99),
        ("90th", |p| p.p90),
        ("50th", |p| p.p50),
    ];
    for (name, pick) in picks {
        let known: Vec<(&str, f64)> = variants
            .iter()
            .filter_map(|v| pick(&v.operations.bonus.latency_ms).map(|x| (v.variant.as_str(), x)))
            .collect();
        if known.len() < 2 {
            continue;
        }
        let slow = known.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
        let fast = known.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(slow), Some(fast)) = (slow, fast)
            && fast.1 > 0.0
            && slow.1 >= 2.0 * fast.1
        {
            return vec![format!(
                "{}'s {name}-percentile bonus answer took {} ms, {}× {}'s {} ms.",
                bold(slow.0),
                format::ms(Some(slow.1)),
                format::number((slow.1 / fast.1).round()),
                bold(fast.0),
                format::ms(Some(fast.1))
            )];
        }
        return Vec::new();
    }
    Vec::new()
}

/// Faults that exist only in one design: the dependencies it adds.
fn new_dependencies(results: &ScenarioResults) -> Vec<String> {
    let mut out = Vec::new();
    for w in facts::windows(results) {
        let (exempt, exposed): (Vec<&VariantResults>, Vec<&VariantResults>) =
            facts::ordered(results)
                .into_iter()
                .partition(|v| theory::not_applicable(v, &w));
        if exempt.is_empty() || exposed.is_empty() {
            continue;
        }
        let names = |vs: &[&VariantResults]| -> String {
            join_and(&vs.iter().map(|v| bold(&v.variant)).collect::<Vec<_>>())
        };
        out.push(format!(
            "{} exists only for {}: {} do not have that part at all. A design that adds a \
             component adds its failures too.",
            format::capitalise(&w.describe()),
            names(&exposed),
            names(&exempt)
        ));
    }
    out
}
