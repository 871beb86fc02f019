//! The drain and the wait: rate arithmetic and Little's law applied to a
//! variant's backlog — the asynchronous design's costs, in the same terms as
//! the synchronous design's failures.
//!
//! - A backlog `B` drains at the service rate minus the arrival rate:
//!   `T_drain = B / (μ − λ)`. The consumer's (or the buffer's) service rate `μ`
//!   is not measured on its own, so the report reads it backwards from the
//!   measured drain, `μ ≈ λ + B / T_drain`: a figure a reader can compare with
//!   the arrival rate to see how much headroom the drain had.
//! - The first item accepted when the drain stops waits the whole stall: the
//!   longest accepted-to-paid wait is predicted to be about `T`, the longest
//!   stall.
//! - Little's law, `L = λ W`, turns the area under the backlog curve into the
//!   mean wait of an accepted item: `W = ∫ backlog dt / N`.
//!
//! Part of [`super::theory`]'s section; the checks use its table and notes.

use std::fmt::Write as _;

use super::facts::{self, Op, Window};
use super::format::{self, number};
use super::markdown::{Table, heading};
use super::theory::{self, Check};
use crate::results::{BacklogPoint, ScenarioResults, VariantResults};

/// The drain table, the longest-wait checks and the Little's-law lines.
pub fn section(results: &ScenarioResults, windows: &[Window], notes: &mut Vec<String>) -> String {
    let mut out = String::new();
    heading(&mut out, 3, "Drain: how fast the backlog emptied");
    out.push_str(
        "After the fault a backlog `B` shrinks at the service rate minus the arrival rate: \
         `T_drain = B / (μ − λ)`. The service rate `μ` is not measured on its own, so it is \
         read backwards from the measured drain: `μ ≈ λ + B / T_drain`. A drain shorter than \
         the sampler's interval only bounds `μ` from below.\n\n",
    );
    let table = drain_table(results, windows);
    if table.is_empty() {
        out.push_str("No variant built a backlog during a fault of this scenario.\n");
        return out;
    }
    out.push_str(&table.render());

    heading(&mut out, 3, "The longest wait for a payout");
    out.push_str(
        "The first bonus accepted when the drain stops waits out the whole stall, so the \
         longest accepted-to-paid wait should be about the longest stall `T` (plus the few \
         hundred milliseconds a consumer or buffer takes to resume).\n\n",
    );
    let checks: Vec<Check> = facts::ordered(results)
        .into_iter()
        .filter_map(|v| wait_check(windows, v))
        .collect();
    out.push_str(&theory::render(&checks, notes));

    heading(&mut out, 3, "Little's law: the mean wait from the backlog");
    out.push_str(
        "`L = λ W`: the time-averaged backlog equals the arrival rate times the mean time in \
         the backlog. Equivalently `W = ∫ backlog dt / N`, the area under the backlog curve \
         over the number of items accepted. The results record percentiles of the wait, not \
         its mean, so this is an inference to read beside the median, not a check.\n\n",
    );
    for v in facts::ordered(results) {
        if let Some(line) = little(v) {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}

/// Per fault and variant that built a backlog: `B`, `λ`, `T_drain`, `μ`.
fn drain_table(results: &ScenarioResults, windows: &[Window]) -> Table {
    let mut table = Table::figures(
        &["fault", "variant"],
        &["backlog B", "arrivals λ", "drain T_drain", "implied μ"],
    );
    for (i, w) in windows.iter().enumerate() {
        let until = windows.get(i + 1).map_or(f64::INFINITY, |next| next.start);
        for v in facts::ordered(results) {
            if theory::not_applicable(v, w) {
                continue;
            }
            // Every variant that built a backlog in this window, whether the
            // fault stopped its drain or only slowed it.
            let ops = theory::queued_work(&v.variant);
            let peak = facts::window_peak(results, v, w).map_or(0, |p| p.value);
            if ops.is_empty() || peak == 0 {
                continue;
            }
            let lambda: f64 = ops.iter().map(|op| op.rate(results)).sum();
            // The last fault's drain is the backlog table's figure, stated once.
            let drain = if i + 1 == windows.len() {
                v.backlog.drain_s
            } else {
                facts::backlog_drain(&v.backlog.series, w, until)
            };
            let interval = facts::sample_interval(&v.backlog.series).unwrap_or(0.0);
            let (drain_text, mu_text) = drain_and_rate(drain, interval, lambda, peak);
            table.row(&[
                w.entry.label.clone(),
                v.variant.clone(),
                format::count(peak),
                format!("{}/s", number(lambda)),
                drain_text,
                mu_text,
            ]);
        }
    }
    table
}

/// The drain's length and the service rate it implies, as table cells.
fn drain_and_rate(drain: Option<f64>, interval: f64, lambda: f64, peak: u64) -> (String, String) {
    match drain {
        None => (
            "did not empty before the next fault or the end".to_string(),
            "—".to_string(),
        ),
        Some(t) if t <= interval => (
            format!("≤ {}", format::secs(Some(interval))),
            format!(
                "≥ {}/s",
                number((lambda + peak as f64 / interval.max(1e-3)).round())
            ),
        ),
        Some(t) => (
            format::secs(Some(t)),
            format!(
                "≈ {}/s ({}× λ)",
                number((lambda + peak as f64 / t).round()),
                number(((lambda + peak as f64 / t) / lambda.max(1e-9) * 10.0).round() / 10.0)
            ),
        ),
    }
}

fn wait_check(windows: &[Window], v: &VariantResults) -> Option<Check> {
    let stall = windows
        .iter()
        .filter(|w| !theory::not_applicable(v, w))
        .filter(|w| {
            theory::stalled_work(&v.variant, w.entry).is_some_and(|ops| ops.contains(&Op::Bonus))
        })
        .max_by(|a, b| a.length().total_cmp(&b.length()))?;
    let measured_ms = v.bonus_to_paid_ms.max?;
    let (rule, inputs, predicted_ms) = predicted_wait(&v.variant, stall);
    // Absolute tolerance: a consumer's or relay's backoff (up to 200 ms) and
    // one sampler look (100 ms) on either side of the stall.
    let absolute = 300.0;
    let mut reasons = Vec::new();
    if !theory::agrees(measured_ms, predicted_ms, absolute) {
        reasons.push(theory::gap_words(
            measured_ms,
            predicted_ms,
            absolute,
            " ms",
        ));
        if measured_ms > predicted_ms {
            reasons.push(
                "after the fault the oldest bonus also waits for the drain to resume (a \
                 consumer's backoff, a buffer's resend interval) and for the items ahead of it"
                    .to_string(),
            );
        } else {
            reasons.push(
                "no bonus was accepted right at the stall's start, or the drain was not \
                 completely stopped during it"
                    .to_string(),
            );
        }
    }
    Some(Check {
        window: stall.entry.label.clone(),
        variant: v.variant.clone(),
        rule: rule.to_string(),
        inputs,
        predicted: format!("{} ms", format::ms(Some(predicted_ms))),
        measured: format!("{} ms", format::ms(Some(measured_ms))),
        reasons,
    })
}

/// The rule, its inputs and the predicted longest wait (ms) of `variant`
/// over the stall `stall`.
fn predicted_wait(variant: &str, stall: &Window) -> (&'static str, String, f64) {
    let sync = sync_variant::Config::default();
    // The wait is timed from the bonus's scheduled send time. In
    // sync-buffered a bonus sent into a hung Payments is answered only when
    // its call times out, then buffered; it is paid at the first resend after
    // Payments is back. Whichever is longer, the stall or the timeout, sets
    // the wait — plus one resend interval.
    match variant {
        "sync-buffered" => {
            let timeout = if stall.entry.kind == "hang" {
                sync.call_timeout.as_secs_f64()
            } else {
                0.0
            };
            let resend = sync.resend_interval.as_secs_f64();
            (
                if timeout > 0.0 {
                    "max wait ≈ max(T, call timeout) + resend interval"
                } else {
                    "max wait ≈ T + resend interval"
                },
                format!(
                    "T = {}{}, resend interval = {}",
                    format::secs(Some(stall.length())),
                    if timeout > 0.0 {
                        format!(", call timeout = {}", format::secs(Some(timeout)))
                    } else {
                        String::new()
                    },
                    format::secs(Some(resend))
                ),
                (stall.length().max(timeout) + resend) * 1000.0,
            )
        }
        _ => (
            "max wait ≈ T",
            format!("T = {}", format::secs(Some(stall.length()))),
            stall.length() * 1000.0,
        ),
    }
}

fn little(v: &VariantResults) -> Option<String> {
    let series = &v.backlog.series;
    let area = area_under(series);
    if area <= 0.0 {
        return None;
    }
    let ops: &[Op] = match v.variant.as_str() {
        "async" => &[Op::Bonus, Op::Performance],
        _ => &[Op::Bonus],
    };
    let accepted: u64 = ops
        .iter()
        .map(|op| {
            let o = op.of(&v.operations);
            o.ok + o.late
        })
        .sum();
    if accepted == 0 {
        return None;
    }
    let span = series.last().map_or(0.0, |p| p.t_s) - series.first().map_or(0.0, |p| p.t_s);
    let mean_backlog = area / span.max(1e-9);
    let wait = area / accepted as f64;
    let what = ops
        .iter()
        .map(|op| op.noun())
        .collect::<Vec<_>>()
        .join(" + ");
    // A mean far above the median is a skewed wait: most items waited
    // little, a minority (those caught by a fault) waited long.
    let skew = match v.bonus_to_paid_ms.p50 {
        Some(p50) if wait * 1000.0 > 10.0 * p50.max(0.001) => {
            " — a mean far above the median: a minority of items waited long and dominate it"
        }
        _ => "",
    };
    Some(format!(
        "**{}**: ∫ backlog dt = {} item-seconds over {} accepted ({what}) → mean wait \
         W ≈ {} (mean backlog L ≈ {} over {}); the measured median bonus wait was {} ms{skew}.",
        v.variant,
        number(area.round()),
        format::count(accepted),
        format::secs(Some(wait)),
        number(mean_backlog),
        format::secs(Some(span)),
        format::ms(v.bonus_to_paid_ms.p50),
    ))
}

/// The area under the backlog curve in item-seconds, by trapezoids between
/// samples.
fn area_under(series: &[BacklogPoint]) -> f64 {
    series
        .windows(2)
        .map(|pair| (pair[1].t_s - pair[0].t_s) * (pair[0].backlog + pair[1].backlog) as f64 / 2.0)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Little's-law area: trapezoids give a triangle's exact area; one sample gives none.
    #[test]
    fn the_area_under_a_triangle_is_half_base_times_height() {
        let series: Vec<BacklogPoint> = [(0.0, 0), (1.0, 100), (2.0, 0)]
            .into_iter()
            .map(|(t_s, backlog)| BacklogPoint {
                t_s,
                backlog,
                ..BacklogPoint::default()
            })
            .collect();
        assert_eq!(area_under(&series), 100.0);
        assert_eq!(area_under(&series[..1]), 0.0);
    }
}
