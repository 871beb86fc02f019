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
use super::format::{self, count, join_and, plural, secs, share};
use super::theory;
use crate::host;
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
                "**Not evidence:** {}'s run had {} — a failure of the \
                 variant's machinery or of the harness, not of the design — so its figures \
                 say nothing about the design: {}.",
                bold(&v.variant),
                plural(v.internal_errors.count, "internal error", "internal errors"),
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
            let counts = if max - min < 0.01 {
                // Every design fared the same: say so once, not three times.
                let counts = alike(&tallies, min);
                format!(
                    "every variant alike served its {} requests within the {} ms SLO: {counts}",
                    op.noun(),
                    results.slo_ms
                )
            } else {
                let clauses: Vec<String> = tallies.iter().map(|(v, t)| clause(v, t, &w)).collect();
                format!(
                    "{} requests served within the {} ms SLO: {}",
                    op.noun(),
                    results.slo_ms,
                    clauses.join("; ")
                )
            };
            out.push(format!("During {}, {counts}.", w.describe()));
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

/// What every variant served when all fared the same: each variant's own
/// figures (no average of them), once if they are equal.
fn alike(tallies: &[(&VariantResults, Tally)], min: f64) -> String {
    let first = tallies[0].1;
    if tallies.iter().all(|(_, t)| *t == first) {
        return format!(
            "{} ({} of {} each)",
            share(min),
            count(first.ok),
            count(first.sent)
        );
    }
    tallies
        .iter()
        .map(|(v, t)| {
            format!(
                "{} {} of {} ({})",
                bold(&v.variant),
                count(t.ok),
                count(t.sent),
                share(t.ok as f64 / t.sent as f64)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One variant's share served during window `w`.
fn clause(v: &VariantResults, t: &Tally, w: &facts::Window) -> String {
    let mut clause = match (t.ok, t.sent - t.ok) {
        (ok, 0) => format!("{} all {}", bold(&v.variant), count(ok)),
        (0, _) => format!("{} none of {}", bold(&v.variant), count(t.sent)),
        (ok, _) => format!(
            "{} {} of {} ({})",
            bold(&v.variant),
            count(ok),
            count(t.sent),
            share(ok as f64 / t.sent as f64),
        ),
    };
    if theory::not_applicable(v, w) {
        clause.push_str(" (the fault does not apply to it)");
    }
    clause
}

/// Backlogs, drains and the wait for a payout; the threads sync holds instead.
///
/// The peak is [`facts::peak`], the drain the table's `drain_s`: the sentence
/// states the very figures of the backlog table, and says "during" or "after"
/// the fault from the peak's time alone.
fn backlogs(results: &ScenarioResults) -> Vec<String> {
    let mut out = Vec::new();
    let faulted = !results.timeline.is_empty();
    let mut drains = Vec::new();
    let mut waits = Vec::new();
    for v in facts::ordered(results) {
        if facts::peak(v).value > 0 {
            if !faulted {
                out.push(in_flight(v));
                continue;
            }
            let (sentence, drain) = backlog_peak(results, v);
            out.push(sentence);
            drains.extend(drain);
            if let Some(max) = v.bonus_to_paid_ms.max {
                waits.push(format!(
                    "{} {} ms (median {} ms)",
                    bold(&v.variant),
                    format::ms(Some(max)),
                    format::ms(v.bonus_to_paid_ms.p50)
                ));
            }
        } else if v.backlog.peak_busy_workers > 0 && faulted {
            out.push(threads_held(v));
        }
    }
    if !waits.is_empty() {
        out.push(format!(
            "The price of accepting work before it can be done: the slowest accepted bonus \
             waited this long for its payout (bonus → paid in the latency table): {}.",
            waits.join(", ")
        ));
    }
    out.extend(drain_comparison(drains));
    out
}

/// A variant's peak, with its time: " at t = 3.2 s", or nothing.
fn peak_at(v: &VariantResults) -> (String, String) {
    let peak = facts::peak(v);
    let at = peak
        .t
        .map_or(String::new(), |t| format!(" at t = {}", secs(Some(t))));
    (facts::backlog_items(&v.base, peak.value), at)
}

/// A backlog in a run without faults: work in flight.
fn in_flight(v: &VariantResults) -> String {
    let (items, at) = peak_at(v);
    format!(
        "{} had at most {items} waiting at any sample{at}: work in flight between acceptance \
         and payout, not a backlog a fault built.",
        bold(&v.variant)
    )
}

/// When a variant's backlog peaked, relative to the faults, and how long it
/// took to drain; with the drain as printed, when the sampler resolved it.
fn backlog_peak<'v>(
    results: &ScenarioResults,
    v: &'v VariantResults,
) -> (String, Option<(&'v str, String)>) {
    let (items, at) = peak_at(v);
    let when = match facts::peak(v).t.map(|t| facts::when(results, t)) {
        Some(facts::When::During(w)) => format!(", during {}", w.describe()),
        Some(facts::When::After(w, by)) => format!(
            ", {} after {} ended: it kept growing after the fault was over",
            secs(Some(by)),
            w.describe()
        ),
        Some(facts::When::Before) => ", before any fault".to_string(),
        None => String::new(),
    };
    // A drain shorter than one sampler interval is not resolved:
    // say "within", and leave it out of any comparison.
    let interval = facts::sample_interval(&v.backlog.series).unwrap_or(0.0);
    let (drained, drain) = match v.backlog.drain_s {
        Some(d) if d <= interval => (
            format!(
                "it was empty again {} after the last fault ended, as soon as the sampler \
                 could tell",
                secs(Some(d))
            ),
            None,
        ),
        Some(d) => (
            format!(
                "it was empty again {} after the last fault ended",
                secs(Some(d))
            ),
            Some((v.variant.as_str(), secs(Some(d)))),
        ),
        None => ("it had not emptied by the end of the run".to_string(), None),
    };
    // Emptied is not paid: a backlog that lost work (a buffer that died with
    // its process) empties without paying it, and is no fast drain.
    let lost = v.bonuses.lost + v.deliveries.lost;
    let (drained, drain) = match (lost, v.backlog.drain_s) {
        (0, _) | (_, None) => (drained, drain),
        (_, Some(_)) => (
            format!("{drained} — but not by paying it all: some of it was lost (below)"),
            None,
        ),
    };
    let sentence = format!(
        "{}'s backlog peaked at {items}{at}{when}; {drained}.",
        bold(&v.variant)
    );
    (sentence, drain)
}

/// A synchronous variant that kept no backlog: the threads it held instead.
fn threads_held(v: &VariantResults) -> String {
    let b = &v.backlog;
    let calls = if b.peak_in_flight_calls > 0 {
        format!(
            ", with up to {} waiting on the other service",
            format::plural(b.peak_in_flight_calls, "call", "calls")
        )
    } else {
        String::new()
    };
    format!(
        "{} kept no backlog — what it could not do, it refused — but held up to {} busy at \
         once{calls}.",
        bold(&v.variant),
        format::plural(b.peak_busy_workers, "worker thread", "worker threads")
    )
}

/// The fastest drain against the slowest, when they differ by 1.5× or more;
/// compared by the printed drains, so the ratio is the one a reader gets.
fn drain_comparison(mut drains: Vec<(&str, String)>) -> Option<String> {
    if drains.len() < 2 {
        return None;
    }
    let by_value = |d: &(&str, String)| format::printed_value(&d.1).unwrap_or(0.0);
    drains.sort_by(|a, b| by_value(a).total_cmp(&by_value(b)));
    let (fast, slow) = (&drains[0], &drains[drains.len() - 1]);
    let ratio = format::printed_ratio(&slow.1, &fast.1).filter(|r| *r >= 1.5)?;
    Some(format!(
        "{} drained in {}, {} in {}: {}× faster.",
        bold(fast.0),
        fast.1,
        bold(slow.0),
        slow.1,
        format::number(ratio),
    ))
}

/// The bonus answer's tail, when two variants differ by 2× or more. Only
/// variants that met at least one of the scenario's faults are compared: a
/// difference in one the faults passed by is noise, not a lesson.
fn latency(results: &ScenarioResults) -> Vec<String> {
    let windows = facts::windows(results);
    let variants: Vec<&VariantResults> = facts::ordered(results)
        .into_iter()
        .filter(|v| windows.is_empty() || windows.iter().any(|w| !theory::not_applicable(v, w)))
        .collect();
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
        if let (Some(slow), Some(fast)) = (slow, fast) {
            let (slow_text, fast_text) = (format::ms(Some(slow.1)), format::ms(Some(fast.1)));
            if let Some(ratio) = format::printed_ratio(&slow_text, &fast_text)
                && ratio >= 2.0
            {
                let sentence = format!(
                    "{}'s {name}-percentile bonus answer took {slow_text} ms, {}× {}'s \
                     {fast_text} ms.",
                    bold(slow.0),
                    format::number(ratio),
                    bold(fast.0),
                );
                let caveat = steal_caveat(results, &variants, &[slow, fast]);
                return vec![sentence + &caveat];
            }
        }
        return Vec::new();
    }
    Vec::new()
}

/// A warning for a latency comparison when a compared variant ran under
/// host steal (`host::NOISY_STEAL` or more) and the time the host stole
/// during its load — the share × the run's length × its cores — is at least
/// the figure compared: only then could the host's stalls alone have made
/// it. A 2 s tail under 7 % steal of a 5 s run on 2 cores (0.7 s stolen in
/// all) is the design's, whatever the host did.
fn steal_caveat(
    results: &ScenarioResults,
    variants: &[&VariantResults],
    compared: &[(&str, f64)],
) -> String {
    let cores = results.environment.cpus.max(1) as f64;
    let noisy: Vec<String> = compared
        .iter()
        .filter_map(|&(name, figure_ms)| {
            let v = variants.iter().find(|v| v.variant == name)?;
            let steal = v.host_steal.filter(|&s| host::is_noisy(Some(s)))?;
            let stolen_ms = steal * results.duration_s * cores * 1000.0;
            (stolen_ms >= figure_ms).then(|| format!("{} {}", bold(name), host::percent(steal)))
        })
        .collect();
    if noisy.is_empty() {
        return String::new();
    }
    format!(
        " But the host stole CPU time during that load ({}): the tails carry its \
         stalls, so read this one against another run (see Configuration).",
        join_and(&noisy)
    )
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
