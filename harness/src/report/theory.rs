//! Theory beside measurement: textbook predictions next to the measured
//! figures, with the formula and every input stated.
//!
//! Three rules are checked, each where it applies:
//!
//! - **A chain is as available as the product of its links.** A synchronous
//!   bonus needs Incentives *and* Payments: `A = A_I × A_P`. The parts are
//!   measured separately in the same window — Incentives alone by the
//!   performance requests, Payments by the deliveries — so the product is a
//!   prediction from independent figures. A buffered or asynchronous bonus needs
//!   Incentives only, and the prediction says so.
//! - **A stalled queue grows at its arrival rate**: for a fault that stops the
//!   draining side for `T` seconds, the backlog peaks at `λ × A × T` (arrivals
//!   accepted per second, times the length).
//! - **Rate arithmetic and Little's law** for the drain and the wait
//!   ([`super::drain`]).
//!
//! A prediction agrees only when it is within *both* an absolute tolerance
//! (what noise and the sampler can move) and a relative one: 0.7 % predicted
//! against 1.7 % measured is one point apart but 2.4× off, and differs.
//! Otherwise the report says "differs" and lists the reasons the numbers make
//! plausible — never a reason they do not support.

use super::facts::{self, Op, Window};
use super::format::{self, number, share};
use super::markdown::{Table, heading, numbered};
use crate::results::{ScenarioResults, TimelineEntry, VariantResults};

/// The tolerance beyond which a disagreement is reported. A scenario's fault
/// window holds hundreds to thousands of arrivals, whose Poisson spread is a
/// few per cent, and the 100 ms sampler blurs a 5–10 s window by 1–2 %; a gap
/// beyond 10 % is therefore a finding to explain, not noise to shrug off.
pub const TOLERANCE: f64 = 0.10;

/// The relative tolerance every check also needs: measured and predicted
/// within 25 % of the larger of the two. Looser than [`TOLERANCE`] because a
/// small figure (a few per cent, a few dozen items) carries a larger relative
/// spread, yet tight enough that a 2× gap is never called agreement.
pub const RELATIVE: f64 = 0.25;

/// Whether `measured` agrees with `predicted`: within `absolute` *and*
/// within [`RELATIVE`] of the larger.
pub fn agrees(measured: f64, predicted: f64, absolute: f64) -> bool {
    let gap = (measured - predicted).abs();
    gap <= absolute && gap <= RELATIVE * measured.abs().max(predicted.abs())
}

/// Why a check differs, in numbers, for its note.
pub fn gap_words(measured: f64, predicted: f64, absolute: f64, unit: &str) -> String {
    let gap = (measured - predicted).abs();
    let (lo, hi) = if measured < predicted {
        (measured, predicted)
    } else {
        (predicted, measured)
    };
    let mut parts = Vec::new();
    if gap > absolute {
        parts.push(format!(
            "{}{unit} apart, beyond the {}{unit} absolute tolerance",
            number(gap),
            number(absolute)
        ));
    }
    if gap > RELATIVE * hi {
        parts.push(if lo > 0.0 {
            format!(
                "{}× apart, beyond the {} % relative tolerance",
                number((hi / lo * 10.0).round() / 10.0),
                number(RELATIVE * 100.0)
            )
        } else {
            "one is zero and the other is not".to_string()
        });
    }
    parts.join(" and ")
}

/// One prediction, checked.
#[derive(Debug)]
pub struct Check {
    pub window: String,
    pub variant: String,
    pub rule: String,
    pub inputs: String,
    pub predicted: String,
    pub measured: String,
    /// Empty when measurement and prediction agree; otherwise the gap in
    /// numbers first, then the likely causes.
    pub reasons: Vec<String>,
}

/// The report's "Theory beside measurement" section.
pub fn section(results: &ScenarioResults) -> String {
    let mut out = String::new();
    heading(&mut out, 2, "Theory beside measurement");
    let windows = facts::windows(results);
    if windows.is_empty() {
        out.push_str(
            "No fault was injected, so there is no outage to predict: every variant should \
             serve everything, and the tables above show whether it did.\n",
        );
        return out;
    }
    out.push_str(
        "Each row states a textbook rule, the inputs taken from this run, and what the rule \
         predicts next to what was measured. A row *agrees* only when the two are within an \
         absolute tolerance (10 percentage points for availabilities; for counts, what \
         arrival noise and the sampler can move) **and** within 25 % of each other; \
         otherwise it *differs*, with the likely reasons.\n",
    );
    let mut notes = Vec::new();

    heading(
        &mut out,
        3,
        "Bonus availability during each fault: a chain multiplies",
    );
    out.push_str(
        "A request that must pass through several services in series succeeds only if each \
         does: `A = A₁ × A₂ × …`. `A_I` is Incentives alone, measured by the performance \
         requests in the same window; `A_P` is Payments, measured by the deliveries.\n\n",
    );
    let checks: Vec<Check> = windows
        .iter()
        .flat_map(|w| facts::ordered(results).into_iter().map(move |v| (w, v)))
        .filter_map(|(w, v)| chain_check(results, w, v))
        .collect();
    out.push_str(&render(&checks, &mut notes));

    heading(
        &mut out,
        3,
        "Backlog peak: a stalled queue grows at its arrival rate",
    );
    out.push_str(
        "When a fault stops the side that drains a backlog for `T` seconds, the backlog grows \
         by what is accepted meanwhile: `peak ≈ Σ λ × A × T` over the kinds of work that \
         queue (bonuses; in `async` also performance events, which travel on the same \
         stream). `sync` has nowhere to keep work, so its prediction is 0.\n\n",
    );
    let checks: Vec<Check> = windows
        .iter()
        .flat_map(|w| facts::ordered(results).into_iter().map(move |v| (w, v)))
        .filter_map(|(w, v)| peak_check(results, w, v))
        .collect();
    if checks.is_empty() {
        out.push_str("No variant built a backlog during a fault of this scenario.\n");
    } else {
        out.push_str(&render(&checks, &mut notes));
    }

    out.push_str(&super::drain::section(results, &windows, &mut notes));

    if !notes.is_empty() {
        heading(&mut out, 3, "Where measurement and theory differ");
        numbered(&mut out, &notes);
    }
    out
}

/// Renders checks as a table; each disagreement becomes a numbered note.
pub fn render(checks: &[Check], notes: &mut Vec<String>) -> String {
    if checks.is_empty() {
        return "No row: no fault window of this run has the inputs this rule needs.\n".to_string();
    }
    let mut table = Table::figures(
        &["fault", "variant", "rule", "inputs"],
        &["predicted", "measured", "verdict"],
    );
    for check in checks {
        let verdict = if check.reasons.is_empty() {
            "agrees".to_string()
        } else {
            // The first reason is the gap itself, in numbers; the rest are
            // the causes the numbers make plausible.
            let (gap, causes) = check.reasons.split_first().expect("non-empty");
            notes.push(format!(
                "**{}**, {}: measured {}, predicted {} — {gap}.{}",
                check.variant,
                check.window,
                check.measured,
                check.predicted,
                if causes.is_empty() {
                    String::new()
                } else {
                    format!(" Likely: {}.", causes.join("; "))
                }
            ));
            format!("differs (note {})", notes.len())
        };
        table.row(&[
            check.window.as_str(),
            check.variant.as_str(),
            check.rule.as_str(),
            check.inputs.as_str(),
            check.predicted.as_str(),
            check.measured.as_str(),
            verdict.as_str(),
        ]);
    }
    table.render()
}

fn chain_check(results: &ScenarioResults, w: &Window, v: &VariantResults) -> Option<Check> {
    if not_applicable(v, w) {
        return None;
    }
    let a_i = facts::availability_during(v, w, Op::Performance)?;
    let measured = facts::availability_during(v, w, Op::Bonus)?;
    let link_cut = w.entry.target == "link";
    let (rule, inputs, predicted) = match v.variant.as_str() {
        "sync" => {
            let a_p = facts::availability_during(v, w, Op::Delivery)?;
            let link = if link_cut { 0.0 } else { 1.0 };
            let rule = if link_cut {
                "A_I × A_link × A_P"
            } else {
                "A_I × A_P"
            };
            let mut inputs = format!("A_I = {}, A_P = {}", share(a_i), share(a_p));
            if link_cut {
                inputs.push_str(", A_link = 0 (cut)");
            }
            (rule, inputs, a_i * a_p * link)
        }
        "sync-buffered" | "async" => (
            "A_I (Payments is off the bonus's path)",
            format!("A_I = {}", share(a_i)),
            a_i,
        ),
        _ => return None,
    };
    let mut reasons = Vec::new();
    let predicted = predicted.clamp(0.0, 1.0);
    if !agrees(measured, predicted, TOLERANCE) {
        let sent = facts::tally(&v.operations.bonus.series, w.start, w.end).sent;
        reasons.push(gap_words(
            measured * 100.0,
            predicted * 100.0,
            TOLERANCE * 100.0,
            " points",
        ));
        reasons.extend(availability_reasons(
            results,
            w,
            v,
            sent,
            (measured - predicted).abs(),
        ));
    }
    Some(Check {
        window: w.entry.label.clone(),
        variant: v.variant.clone(),
        rule: rule.to_string(),
        inputs,
        predicted: share(predicted.clamp(0.0, 1.0)),
        measured: share(measured),
        reasons,
    })
}

fn availability_reasons(
    results: &ScenarioResults,
    w: &Window,
    v: &VariantResults,
    sent: u64,
    gap: f64,
) -> Vec<String> {
    // Each reason is offered only if it could account for a gap this size.
    let mut reasons = Vec::new();
    if sent > 0 {
        // Worst-case binomial spread, p = ½: two standard deviations.
        let noise = 2.0 * (0.25 / sent as f64).sqrt();
        if noise >= gap {
            reasons.push(format!(
                "few samples — {} bonus requests in the window give a spread of up to ±{} \
                 points by chance alone",
                format::count(sent),
                number(noise * 100.0)
            ));
        }
    }
    if matches!(w.entry.kind.as_str(), "hang" | "latency") {
        reasons.push(format!(
            "a {} service answers late rather than not at all: whether a request counts \
             depends on the {} ms SLO and the caller's timeout, which a product of up/down \
             availabilities does not model",
            if w.entry.kind == "hang" {
                "hung"
            } else {
                "slow"
            },
            results.slo_ms
        ));
    }
    if v.variant == "sync-buffered" && w.entry.target == "payments" {
        reasons.push(
            "Incentives first waits for its call to Payments to fail (or time out) before it \
             buffers the bonus, so the answer itself can miss the SLO"
                .to_string(),
        );
    }
    if v.variant == "sync" && w.entry.target == "incentives" {
        reasons.push(
            "in `sync` a delivery also waits on Incentives' performance lookup, so the \
             deliveries do not measure Payments alone"
                .to_string(),
        );
    }
    // Counting by scheduled second blurs each edge by up to a second: at most
    // 1 / T of the window's requests can land on the wrong side.
    if gap <= 1.0 / w.length().max(1.0) {
        reasons.push(
            "requests are counted by their scheduled second, so calls that straddle the \
             window's edges (a timeout begun before the fault, an answer after it) blur it"
                .to_string(),
        );
    }
    if reasons.is_empty() {
        reasons.push("no reason is visible in these numbers".to_string());
    }
    reasons
}

/// The kinds of work that pile up when this fault stops a variant's drain, or
/// `None` when the fault does not stop it (or the rule does not apply).
pub fn stalled_work(variant: &str, entry: &TimelineEntry) -> Option<&'static [Op]> {
    let payments_down =
        entry.target == "payments" && matches!(entry.kind.as_str(), "crash" | "hang");
    let link_cut = entry.target == "link";
    let stream = matches!(entry.target.as_str(), "stream" | "consumer");
    match variant {
        "sync" => Some(&[]),
        "sync-buffered" if payments_down || link_cut => Some(&[Op::Bonus]),
        "async" if payments_down || link_cut || stream => Some(&[Op::Bonus, Op::Performance]),
        _ => None,
    }
}

fn peak_check(results: &ScenarioResults, w: &Window, v: &VariantResults) -> Option<Check> {
    if not_applicable(v, w) {
        return None;
    }
    let measured = facts::window_peak(results, v, w).map_or(0, |p| p.value);
    // A fault that stops the drain: the rule predicts the peak. One that only
    // slows it (latency, errors) yet left a backlog: the rule is an upper
    // bound, and every variant that built a backlog gets its row.
    let (ops, bound): (&[Op], bool) = match stalled_work(&v.variant, w.entry) {
        Some(ops) => (ops, false),
        None if measured > 0 => (queued_work(&v.variant), true),
        None => return None,
    };
    let (mut inputs, inflow) = inflow(results, w, v, ops);
    let predicted = inflow * w.length();
    let rule = if ops.is_empty() {
        "no buffer: 0".to_string()
    } else if bound {
        "drain slowed, not stopped: peak ≤ Σ λ × A × T".to_string()
    } else {
        "Σ λ × A × T".to_string()
    };
    inputs.push(format!("T = {}", format::secs(Some(w.length()))));
    // Absolute tolerance for a count: the arrivals' Poisson spread (2σ) plus
    // what the backlog moves between two of the sampler's looks.
    let interval = facts::sample_interval(&v.backlog.series).unwrap_or(0.0);
    let absolute = 2.0 * predicted.sqrt() + inflow * interval;
    let fine = if bound {
        (measured as f64) <= predicted + absolute
    } else {
        agrees(measured as f64, predicted, absolute)
    };
    let reasons = if fine {
        Vec::new()
    } else {
        let mut reasons = vec![if bound {
            format!(
                "the peak is above the bound by {}",
                number((measured as f64 - predicted).round())
            )
        } else {
            gap_words(measured as f64, predicted, absolute, "")
        }];
        reasons.extend(peak_reasons(results, w, v, inflow, predicted, measured));
        reasons
    };
    Some(Check {
        window: w.entry.label.clone(),
        variant: v.variant.clone(),
        rule,
        inputs: inputs.join(", "),
        predicted: if bound {
            format!("≤ {}", number(predicted.round()))
        } else {
            number(predicted.round())
        },
        measured: format::count(measured),
        reasons,
    })
}

/// The rate at which `ops` filled the backlog during `w`, `Σ λ × A`, and
/// each term as text.
fn inflow(
    results: &ScenarioResults,
    w: &Window,
    v: &VariantResults,
    ops: &[Op],
) -> (Vec<String>, f64) {
    let mut inputs = Vec::new();
    let mut inflow = 0.0;
    for &op in ops {
        let rate = op.rate(results);
        let tally = facts::tally_during(v, w, op);
        // What the queue grows by is what the service *accepted*, late or
        // not — not what it served within the SLO.
        let (accepted, what) = match tally.acceptance() {
            Some(a) => (a, "accepted"),
            None => (
                tally.availability().unwrap_or(0.0),
                "served (accepted not recorded)",
            ),
        };
        inflow += rate * accepted;
        inputs.push(format!(
            "λ_{} = {}/s, A = {} {what}",
            op.noun(),
            number(rate),
            share(accepted)
        ));
    }
    (inputs, inflow)
}

/// The kinds of work a variant's backlog holds, whatever the fault.
pub fn queued_work(variant: &str) -> &'static [Op] {
    match variant {
        "sync-buffered" => &[Op::Bonus],
        "async" => &[Op::Bonus, Op::Performance],
        _ => &[],
    }
}

fn peak_reasons(
    results: &ScenarioResults,
    w: &Window,
    v: &VariantResults,
    inflow: f64,
    predicted: f64,
    measured: u64,
) -> Vec<String> {
    let series = &v.backlog.series;
    // Each reason is offered only if it could account for a gap this size.
    let gap = (measured as f64 - predicted).abs();
    let mut reasons = Vec::new();
    if results.workload.arrival == "poisson" && predicted >= 1.0 {
        let spread = 2.0 / predicted.sqrt();
        if spread * predicted >= gap {
            reasons.push(format!(
                "Poisson noise — about {} arrivals expected, and ±2σ is ±{} % of that",
                number(predicted.round()),
                number((spread * 100.0).round())
            ));
        }
    }
    if let Some(interval) = facts::sample_interval(series)
        && inflow * interval >= gap
    {
        reasons.push(format!(
            "the sampler's resolution — it looks every {}, and between two looks the backlog \
             moves by up to λ × interval ≈ {}",
            format::secs(Some(interval)),
            number((inflow * interval).round())
        ));
    }
    let at_start = series
        .iter()
        .rfind(|p| p.t_s <= w.start)
        .map_or(0, |p| p.backlog);
    let peak_at = facts::window_peak(results, v, w).and_then(|p| p.t);
    if (measured as f64) < predicted {
        if let Some(t) = peak_at.filter(|t| measured > 0 && *t < w.end - 1.0) {
            reasons.push(format!(
                "the backlog stopped growing {} before the fault ended — a bounded buffer or \
                 outbox was full, and Incentives refused or dropped work after that",
                format::secs(Some(w.end - t))
            ));
        }
        reasons.push(
            "the fault did not stop the draining side completely: some work was still \
             processed (or resent) during the window"
                .to_string(),
        );
    } else {
        if at_start > 0 {
            reasons.push(format!(
                "{} items were already waiting when the fault began",
                format::count(at_start)
            ));
        }
        if peak_at.is_some_and(|t| t > w.end) {
            reasons.push(format!(
                "the backlog kept growing after the fault ended — it peaked {} later — so \
                 work accepted after the fault joined it{}",
                format::secs(peak_at.map(|t| t - w.end)),
                if v.variant == "sync-buffered" {
                    ": the resends compete with new bonuses for the same worker pools, and \
                     calls that had timed out are still being answered (the metastable part)"
                } else {
                    ""
                }
            ));
        }
        if reasons.is_empty() {
            reasons.push("no reason is visible in these numbers".to_string());
        }
    }
    reasons
}

/// Whether the variant reported this window's fault as not applicable to it.
/// Decided by the fault's timeline index, never by the wording of a message.
pub fn not_applicable(v: &VariantResults, w: &Window) -> bool {
    v.not_applicable_to(w.index).is_some()
}
