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
use crate::results::{
    Backlog, BacklogPoint, OperationResults, Operations, Percentiles, Phase, SecondPoint,
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
