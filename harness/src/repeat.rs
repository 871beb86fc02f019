//! Repetitions (`commlab run --repeat N`): one scenario played N times, each
//! time with another seed — other arrival times, couriers, bonus types and
//! flaky requests, the same rates and fault timeline — and every variant on
//! each seed's same schedule.
//!
//! Why: some outcomes are chance. A synchronous pool that tips over under a
//! slowdown may recover a second after it or not at all, depending on where
//! the arrivals bunch up; one run prints one of those outcomes as if it were
//! the answer. N runs give each headline figure (`headline.rs`) a median and
//! a range, and each `[[expect]]` claim a count of the runs it held in, so a
//! report says "in 3 of 5 runs" instead of a verdict from one.
//!
//! Seeds: run 1 plays the scenario's own seed (so its figures equal a single
//! run's); run k > 1 plays the (k−1)-th `u64` of a `StdRng` seeded with the
//! scenario's seed — deterministic, recorded in the results, and replayable.
//!
//! Next: `results/repetitions.rs` (what is written), `report/spread.rs` (how
//! a report shows it), `compare.rs` (judging a difference against it).

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::headline;
use crate::host;
use crate::results::{
    BacklogPoint, HeldIn, OperationResults, Repetitions, RunFigures, ScenarioResults, Spread,
    VariantFigures, VariantSpread,
};

/// Most repetitions a run or a scenario file may ask for: each one replays
/// the whole scenario on every variant, so 50 of the suite's longest would
/// already take hours on two cores.
pub const MAX_REPEAT: u32 = 50;

/// The words the results record for how seeds were derived.
pub const DERIVATION: &str = "run 1: the scenario's seed; run k > 1: the (k-1)-th u64 drawn \
                              from rand's StdRng seeded with the scenario's seed";

/// The seeds of `n` runs of a scenario whose seed is `seed`.
pub fn seeds(seed: u64, n: u32) -> Vec<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seeds = vec![seed];
    while seeds.len() < n as usize {
        let next: u64 = rng.random();
        // A repeat of an earlier seed would count one schedule twice.
        if !seeds.contains(&next) {
            seeds.push(next);
        }
    }
    seeds
}

/// A variant's headline figures in one run.
pub fn figures(results: &ScenarioResults) -> Vec<VariantFigures> {
    results
        .variants
        .iter()
        .map(|v| VariantFigures {
            variant: v.variant.clone(),
            evidence: v.evidence.ok,
            figures: headline::ALL
                .iter()
                .map(|h| (h.name.to_string(), (h.read)(v)))
                .collect(),
            availability_series: [
                ("bonus", &v.operations.bonus),
                ("delivery", &v.operations.delivery),
                ("performance", &v.operations.performance),
            ]
            .into_iter()
            .map(|(name, op)| (name.to_string(), per_second(op)))
            .collect(),
            backlog_series: backlog_per_second(&v.backlog.series),
            host_steal: v.host_steal,
        })
        .collect()
}

/// One variant's load in one run that the host stole CPU time from
/// (`host::is_noisy`): its latency tails may carry the host's stalls.
#[derive(Clone, Debug, PartialEq)]
pub struct NoisyLoad {
    pub run: u32,
    pub variant: String,
    pub steal: f64,
}

/// The host's steal over every variant load of a results file, all runs.
#[derive(Clone, Debug, PartialEq)]
pub struct HostSteal {
    /// The loads with steal ≥ `host::NOISY_STEAL`, in run order.
    pub noisy: Vec<NoisyLoad>,
    /// The highest steal recorded; `None` when no load recorded one (older
    /// files, or a machine without `/proc/stat`).
    pub highest: Option<f64>,
    /// Variant loads in all (runs × variants).
    pub loads: usize,
}

impl HostSteal {
    /// "`sync` in run 2 (3.39 %), `async` in run 3 (1.20 %)".
    pub fn list(&self) -> String {
        self.noisy
            .iter()
            .map(|n| {
                format!(
                    "`{}` in run {} ({})",
                    n.variant,
                    n.run,
                    host::percent(n.steal)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The host's steal over every variant load of a results file (one run:
/// run 1's loads).
pub fn host_steal(results: &ScenarioResults) -> HostSteal {
    let loads: Vec<(u32, &str, Option<f64>)> = match &results.repetitions {
        Some(r) if !r.runs.is_empty() => r
            .runs
            .iter()
            .flat_map(|run| {
                run.variants
                    .iter()
                    .map(move |v| (run.run, v.variant.as_str(), v.host_steal))
            })
            .collect(),
        _ => results
            .variants
            .iter()
            .map(|v| (1, v.variant.as_str(), v.host_steal))
            .collect(),
    };
    let highest = loads
        .iter()
        .filter_map(|(_, _, steal)| *steal)
        .reduce(f64::max);
    let count = loads.len();
    let noisy = loads
        .into_iter()
        .filter(|(_, _, steal)| host::is_noisy(*steal))
        .map(|(run, variant, steal)| NoisyLoad {
            run,
            variant: variant.to_string(),
            steal: steal.unwrap_or_default(),
        })
        .collect();
    HostSteal {
        noisy,
        highest,
        loads: count,
    }
}

/// Each second's share served within the SLO (`None`: nothing sent).
fn per_second(op: &OperationResults) -> Vec<Option<f64>> {
    let seconds = op.series.iter().map(|p| p.t_s + 1).max().unwrap_or(0);
    let mut shares = vec![None; seconds as usize];
    for p in &op.series {
        shares[p.t_s as usize] = (p.sent > 0).then(|| p.ok as f64 / p.sent as f64);
    }
    shares
}

/// Each second's highest backlog sample (`None`: no sample in that second).
fn backlog_per_second(series: &[BacklogPoint]) -> Vec<Option<u64>> {
    let second = |p: &BacklogPoint| p.t_s.max(0.0) as usize;
    let seconds = series.iter().map(|p| second(p) + 1).max().unwrap_or(0);
    let mut peaks: Vec<Option<u64>> = vec![None; seconds];
    for p in series {
        let peak = &mut peaks[second(p)];
        *peak = Some(peak.map_or(p.backlog, |b| b.max(p.backlog)));
    }
    peaks
}

/// Run 1's results (everything a report reads), with the repetitions of all
/// `runs` (run 1 first) added.
pub fn combine(runs: Vec<ScenarioResults>) -> ScenarioResults {
    let recorded: Vec<RunFigures> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| RunFigures {
            run: i as u32 + 1,
            seed: r.seed,
            schedule_fingerprint: r.schedule_fingerprint.clone(),
            variants: figures(r),
        })
        .collect();
    let expectations = held_in(&runs);
    let spread = spread(&recorded);
    let mut first = runs.into_iter().next().expect("at least one run");
    first.repetitions = Some(Repetitions {
        derivation: DERIVATION.to_string(),
        runs: recorded,
        spread,
        expectations,
    });
    first
}

/// Per variant of run 1, per figure: the spread over every run that has the variant.
fn spread(runs: &[RunFigures]) -> Vec<VariantSpread> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    first
        .variants
        .iter()
        .map(|v| {
            let of_variant: Vec<&VariantFigures> = runs
                .iter()
                .filter_map(|r| r.variants.iter().find(|o| o.variant == v.variant))
                .collect();
            let figures: BTreeMap<String, Spread> = v
                .figures
                .keys()
                .map(|name| {
                    let values: Vec<Option<f64>> = of_variant
                        .iter()
                        .map(|o| o.figures.get(name).copied().flatten())
                        .collect();
                    (name.clone(), spread_of(&values))
                })
                .collect();
            VariantSpread {
                variant: v.variant.clone(),
                figures,
            }
        })
        .collect()
}

/// Median, min and max of the values present.
pub fn spread_of(values: &[Option<f64>]) -> Spread {
    let mut present: Vec<f64> = values.iter().flatten().copied().collect();
    present.sort_by(f64::total_cmp);
    let n = present.len();
    let median = match n {
        0 => None,
        _ if n % 2 == 1 => Some(present[n / 2]),
        _ => Some((present[n / 2 - 1] + present[n / 2]) / 2.0),
    };
    Spread {
        median,
        min: present.first().copied(),
        max: present.last().copied(),
        runs: n as u32,
        of: values.len() as u32,
    }
}

/// In how many runs each of run 1's checked claims held.
fn held_in(runs: &[ScenarioResults]) -> Vec<HeldIn> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    first
        .expectations
        .iter()
        .map(|claim| {
            let verdicts: Vec<bool> = runs
                .iter()
                .filter_map(|r| {
                    r.expectations
                        .iter()
                        .find(|c| c.variant == claim.variant && c.that == claim.that)
                        .map(|c| c.held)
                })
                .collect();
            HeldIn {
                variant: claim.variant.clone(),
                that: claim.that.clone(),
                held: verdicts.iter().filter(|held| **held).count() as u32,
                runs: verdicts.len() as u32,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_start_with_the_scenarios_own_and_are_reproducible() {
        let a = seeds(11, 4);
        assert_eq!(a[0], 11);
        assert_eq!(a.len(), 4);
        assert_eq!(a, seeds(11, 4));
        assert_ne!(a[1], seeds(12, 4)[1]);
        assert_eq!(seeds(11, 1), vec![11]);
    }

    #[test]
    fn backlog_per_second_keeps_each_seconds_peak() {
        let point = |t_s, backlog| BacklogPoint {
            t_s,
            backlog,
            busy_workers: 0,
            in_flight_calls: 0,
        };
        let series = [point(0.0, 3), point(0.5, 7), point(0.9, 2), point(2.2, 4)];
        assert_eq!(backlog_per_second(&series), vec![Some(7), None, Some(4)]);
        assert!(backlog_per_second(&[]).is_empty());
    }

    #[test]
    fn spread_takes_the_middle_and_skips_missing_values() {
        let s = spread_of(&[Some(3.0), None, Some(1.0), Some(2.0)]);
        assert_eq!(
            (s.median, s.min, s.max, s.runs, s.of),
            (Some(2.0), Some(1.0), Some(3.0), 3, 4)
        );
        assert_eq!(spread_of(&[Some(1.0), Some(4.0)]).median, Some(2.5));
        assert_eq!(spread_of(&[None]).median, None);
    }
}
