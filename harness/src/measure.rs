//! Measurements: from per-request records to what the users of a variant saw —
//! availability within the SLO, latency percentiles, availability per second
//! and per phase of the timeline, and the backlog the variant built up.
//!
//! Every figure is computed from the *schedule*, not from what happened to be
//! sent: a request counts in the second it was scheduled for, and its latency
//! runs from its scheduled time (see `load.rs`). Percentiles are stated only
//! when there are enough samples to state them honestly.
//!
//! Money is `reconcile.rs`'s business.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::load::{Outcome, Record};
use common::system::Stats;

use crate::results::{
    Backlog, BacklogPoint, OperationResults, Operations, Percentiles, Phase, Recovery, SecondPoint,
};
use crate::scenario::TimedFault;
use crate::schedule::{Operation, Request};

/// Fewest samples for each percentile. With fewer, a "p99" is just one of the
/// last few values; `null` says so instead (p99 needs 100 samples, p99.9 1,000).
const MIN_SAMPLES_P50: u64 = 1;
const MIN_SAMPLES_P90: u64 = 10;
const MIN_SAMPLES_P99: u64 = 100;
const MIN_SAMPLES_P999: u64 = 1_000;

/// Latencies are recorded in µs, from 1 µs to 60 s at 3 significant digits
/// (0.1 % resolution). The client timeout (5 s, from the scheduled time)
/// stays far below 60 s; anything above would be clamped. The benches record
/// into the same histograms ([`new_histogram`]).
pub const HISTOGRAM_MAX_US: u64 = 60_000_000;
pub const HISTOGRAM_SIGFIG: u8 = 3;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, HISTOGRAM_SIGFIG).expect("valid bounds")
}

/// Per-operation results, and the latency histograms behind them (µs), in
/// the order of [`Operation::ALL`].
pub fn operations(
    requests: &[Request],
    records: &[Option<Record>],
    slo: Duration,
    duration: Duration,
) -> (Operations, [Histogram<u64>; 3]) {
    let seconds = duration.as_secs_f64().ceil().max(1.0) as usize;
    let slo_us = slo.as_micros() as u64;
    let mut results: [OperationResults; 3] = Default::default();
    let mut histograms = [new_histogram(), new_histogram(), new_histogram()];
    for result in &mut results {
        result.series = (0..seconds as u64)
            .map(|t_s| SecondPoint {
                t_s,
                sent: 0,
                ok: 0,
                accepted: Some(0),
            })
            .collect();
    }
    for (request, record) in requests.iter().zip(records) {
        let Some(record) = record else { continue };
        let i = index(request.operation());
        let result = &mut results[i];
        let latency_us = record.done_us.saturating_sub(request.at_us);
        let second = ((request.at_us / 1_000_000) as usize).min(seconds - 1);
        result.sent += 1;
        result.series[second].sent += 1;
        if record.is_success() {
            *result.series[second].accepted.get_or_insert(0) += 1;
        }
        match record.outcome {
            Outcome::Status(_) if record.is_success() && latency_us <= slo_us => {
                result.ok += 1;
                result.series[second].ok += 1;
            }
            Outcome::Status(_) if record.is_success() => result.late += 1,
            Outcome::Status(_) => result.failed += 1,
            Outcome::NoAnswer(_) => result.no_answer += 1,
        }
        if let Outcome::Status(_) = record.outcome {
            histograms[i].saturating_record(latency_us.max(1));
        }
    }
    for (result, histogram) in results.iter_mut().zip(&histograms) {
        result.availability = share(result.ok, result.sent);
        result.latency_ms = percentiles_ms(histogram);
    }
    let [bonus, delivery, performance] = results;
    (
        Operations {
            bonus,
            delivery,
            performance,
        },
        histograms,
    )
}

/// Recovery is judged over windows of this length: "back for a whole second".
const RECOVERY_WINDOW_US: u64 = 1_000_000;
/// ... sliding in steps of this: the figure's resolution (a tenth of the
/// window, so a 1 s target is judged to ±0.1 s).
const RECOVERY_STEP_US: u64 = 100_000;
/// Availability that counts as recovered (the 99 %): at a hundred
/// requests a second, one failure a second is allowed.
const RECOVERED: f64 = 0.99;

/// Per fault, how long each operation took to be back (see `Recovery`): the
/// first step from which every whole-second window up to the next fault (or
/// the end of the run) has availability ≥ 99 %.
pub fn recovery(
    requests: &[Request],
    records: &[Option<Record>],
    slo: Duration,
    duration: Duration,
    faults: &[TimedFault],
) -> Vec<Recovery> {
    let slo_us = slo.as_micros() as u64;
    faults
        .iter()
        .enumerate()
        .map(|(i, fault)| {
            let from = fault.end().as_micros() as u64;
            let until = faults
                .iter()
                .map(|f| f.start.as_micros() as u64)
                .filter(|&start| start >= from)
                .chain([duration.as_micros() as u64])
                .min()
                .unwrap_or(from);
            let [bonus_s, delivery_s, performance_s] = [0, 1, 2].map(|op| {
                let outcomes = requests
                    .iter()
                    .zip(records)
                    .filter_map(|(request, record)| {
                        let record = record.as_ref()?;
                        let at = request.at_us;
                        let ok = record.is_success() && record.done_us.saturating_sub(at) <= slo_us;
                        (index(request.operation()) == op).then_some((at, ok))
                    });
                recovered_after(outcomes, from, until)
            });
            let all_s = match (bonus_s, delivery_s, performance_s) {
                (Some(b), Some(d), Some(p)) => Some(b.max(d).max(p)),
                _ => None,
            };
            Recovery {
                fault: i,
                bonus_s,
                delivery_s,
                performance_s,
                all_s,
            }
        })
        .collect()
}

/// Seconds after `from` until availability stays ≥ 99 % over every whole
/// window up to `until`; `None` if it never does, or no whole window fits.
/// `outcomes` are `(scheduled µs, served in time)`.
fn recovered_after(
    outcomes: impl Iterator<Item = (u64, bool)>,
    from: u64,
    until: u64,
) -> Option<f64> {
    let span = until.saturating_sub(from);
    if span < RECOVERY_WINDOW_US {
        return None;
    }
    let slots = span.div_ceil(RECOVERY_STEP_US) as usize;
    let (mut sent, mut ok) = (vec![0u64; slots], vec![0u64; slots]);
    for (at, served) in outcomes.filter(|&(at, _)| at >= from && at < until) {
        let slot = ((at - from) / RECOVERY_STEP_US) as usize;
        sent[slot] += 1;
        ok[slot] += u64::from(served);
    }
    let per_window = (RECOVERY_WINDOW_US / RECOVERY_STEP_US) as usize;
    let windows = (span - RECOVERY_WINDOW_US) / RECOVERY_STEP_US + 1;
    let bad = |k: usize| {
        let (s, o) = (k..k + per_window).fold((0, 0), |(s, o), i| (s + sent[i], o + ok[i]));
        s > 0 && (o as f64) < RECOVERED * s as f64
    };
    match (0..windows as usize).rev().find(|&k| bad(k)) {
        None => Some(0.0),
        Some(k) if k + 1 < windows as usize => {
            Some(round_ms(((k + 1) as u64 * RECOVERY_STEP_US) as f64 / 1e6))
        }
        Some(_) => None,
    }
}

/// Calls between the services per edge request: the variant's own count of
/// calls (every attempt) over the requests the harness sent.
pub fn amplification(stats: &Stats, operations: &Operations) -> Option<f64> {
    let sent = operations.bonus.sent + operations.delivery.sent + operations.performance.sent;
    (sent > 0).then(|| (stats.peer_calls as f64 / sent as f64 * 1000.0).round() / 1000.0)
}

/// Availability before, during and after each fault.
pub fn phases(
    requests: &[Request],
    records: &[Option<Record>],
    slo: Duration,
    duration: Duration,
    faults: &[TimedFault],
) -> Vec<Phase> {
    let mut phases = Vec::new();
    for fault in faults {
        let label = fault.fault.to_string();
        for (name, start, end) in [
            (format!("before {label}"), Duration::ZERO, fault.start),
            (format!("during {label}"), fault.start, fault.end()),
            (format!("after {label}"), fault.end(), duration),
        ] {
            let [bonus, delivery, performance] =
                availability_between(requests, records, slo, start, end);
            phases.push(Phase {
                name,
                start_s: start.as_secs_f64(),
                end_s: end.as_secs_f64(),
                bonus,
                delivery,
                performance,
            });
        }
    }
    phases
}

/// Share of requests scheduled in `[start, end)` answered 2xx within the SLO.
fn availability_between(
    requests: &[Request],
    records: &[Option<Record>],
    slo: Duration,
    start: Duration,
    end: Duration,
) -> [Option<f64>; 3] {
    let (start_us, end_us, slo_us) = (
        start.as_micros() as u64,
        end.as_micros() as u64,
        slo.as_micros() as u64,
    );
    let mut sent = [0u64; 3];
    let mut ok = [0u64; 3];
    for (request, record) in requests.iter().zip(records) {
        let Some(record) = record else { continue };
        if request.at_us < start_us || request.at_us >= end_us {
            continue;
        }
        let i = index(request.operation());
        sent[i] += 1;
        if record.is_success() && record.done_us.saturating_sub(request.at_us) <= slo_us {
            ok[i] += 1;
        }
    }
    [0, 1, 2].map(|i| share(ok[i], sent[i]))
}

/// The backlog over the run, from the sampler's points. `drain_from_s` is where
/// `drain_s` starts counting: the end of the last fault (0 with no fault).
pub fn backlog(samples: &[BacklogPoint], drain_from_s: f64, drain_phase_s: Option<f64>) -> Backlog {
    let drain_s = samples
        .iter()
        .find(|p| p.t_s >= drain_from_s && p.backlog == 0)
        .map(|p| round_ms(p.t_s - drain_from_s));
    Backlog {
        peak: samples.iter().map(|p| p.backlog).max().unwrap_or(0),
        drain_s,
        drain_phase_s,
        peak_busy_workers: samples.iter().map(|p| p.busy_workers).max().unwrap_or(0),
        peak_in_flight_calls: samples.iter().map(|p| p.in_flight_calls).max().unwrap_or(0),
        series: samples.to_vec(),
    }
}

/// How late each dispatched request left, against its scheduled time. A
/// request refused for the in-flight cap left "now" too, so it counts.
pub fn lateness(requests: &[Request], records: &[Option<Record>]) -> Percentiles {
    let mut histogram = new_histogram();
    for (request, record) in requests.iter().zip(records) {
        if let Some(record) = record {
            histogram.saturating_record(record.sent_us.saturating_sub(request.at_us).max(1));
        }
    }
    percentiles_ms(&histogram)
}

/// Percentiles of a µs histogram, in ms, `null` where samples are too few.
pub fn percentiles_ms(histogram: &Histogram<u64>) -> Percentiles {
    let samples = histogram.len();
    let at = |quantile: f64, min: u64| {
        (samples >= min).then(|| round_us_to_ms(histogram.value_at_quantile(quantile)))
    };
    Percentiles {
        samples,
        p50: at(0.5, MIN_SAMPLES_P50),
        p90: at(0.9, MIN_SAMPLES_P90),
        p99: at(0.99, MIN_SAMPLES_P99),
        p999: at(0.999, MIN_SAMPLES_P999),
        max: (samples > 0).then(|| round_us_to_ms(histogram.max())),
    }
}

fn index(operation: Operation) -> usize {
    match operation {
        Operation::Bonus => 0,
        Operation::Delivery => 1,
        Operation::Performance => 2,
    }
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// µs to ms, to the µs: enough for any latency, short enough to read.
fn round_us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_need_enough_samples() {
        let mut histogram = new_histogram();
        for us in 1..=50 {
            histogram.record(us * 1000).unwrap();
        }
        let p = percentiles_ms(&histogram);
        assert_eq!(p.samples, 50);
        assert!(p.p50.is_some() && p.p90.is_some());
        assert!(p.p99.is_none() && p.p999.is_none());
        assert!((p.max.unwrap() - 50.0).abs() < 0.1);
    }

    #[test]
    fn recovery_is_the_start_of_the_good_windows_that_last() {
        // 100 requests a second from t = 0 to 5 s; failures until 1.45 s, then
        // one stray failure at 2.0 s (1 of 100: still 99 %).
        let outcomes = (0..500u64).map(|i| {
            let at = i * 10_000;
            (at, at >= 1_450_000 && at != 2_000_000)
        });
        let recovered = recovered_after(outcomes.clone(), 0, 5_000_000);
        assert_eq!(
            recovered,
            Some(1.5),
            "first 1 s window with no failure starts at 1.5 s"
        );
        let never = (0..500u64).map(|i| (i * 10_000, i < 400));
        assert_eq!(
            recovered_after(never, 0, 5_000_000),
            None,
            "down at the end"
        );
        let always = (0..500u64).map(|i| (i * 10_000, true));
        assert_eq!(recovered_after(always, 0, 5_000_000), Some(0.0));
        assert_eq!(
            recovered_after(outcomes, 0, 900_000),
            None,
            "under a whole window"
        );
    }

    #[test]
    fn drain_counts_from_the_end_of_the_last_fault() {
        let point = |t_s, backlog| BacklogPoint {
            t_s,
            backlog,
            busy_workers: 0,
            in_flight_calls: 0,
        };
        let samples = [point(1.0, 0), point(2.0, 40), point(3.0, 10), point(3.5, 0)];
        let backlog = backlog(&samples, 2.5, Some(0.2));
        assert_eq!(backlog.peak, 40);
        assert_eq!(backlog.drain_s, Some(1.0));
    }
}
