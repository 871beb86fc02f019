//! Finding the highest rate an endpoint sustains: step the offered rate up
//! geometrically until a step fails the latency bound, then narrow the gap
//! between the last pass and the first failure by bisection.
//!
//! "Sustains" is a statement about a bound, never "as fast as it goes": a
//! server pushed past its capacity still answers, only later and later, and its
//! raw throughput there says little about what a user gets. Here a rate passes
//! when, over a whole step, at most a sliver of requests fail and the p99
//! latency (from scheduled send time, see `commlab::load`) stays under the
//! bound. The same rule judges every endpoint and both load generators, so
//! their maxima can be divided by one another.

use std::time::Duration;

use crate::driver::StepResult;

/// What a step must satisfy to pass.
#[derive(Clone, Copy, Debug)]
pub struct Criteria {
    /// p99 latency bound. Default 50 ms: two orders of magnitude above a
    /// loopback round trip, so it trips on queueing (a saturated server), not
    /// on the scheduling noise of a shared 2-core machine.
    pub p99_bound: Duration,
    /// Share of requests allowed to fail (errors, shed, unfinished). Default
    /// 0.1 %: a saturated synchronous service refuses `503 overloaded` long
    /// before its latency grows, and that must count as failing.
    pub max_error_share: f64,
    /// Fewest latencies a p99 is read from. Default 1,000: ten samples above
    /// the p99, so one slow request cannot decide it alone.
    pub min_samples: u64,
}

impl Default for Criteria {
    fn default() -> Criteria {
        Criteria {
            p99_bound: Duration::from_millis(50),
            max_error_share: 0.001,
            min_samples: 1000,
        }
    }
}

/// One probed rate and what was seen there.
#[derive(Clone, Debug)]
pub struct Probe {
    pub rate: f64,
    pub passed: bool,
    /// Why it failed, or "ok".
    pub verdict: String,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub ok: u64,
    pub error_share: f64,
    /// Our generator's own lateness (scheduled time to the request's task
    /// starting), p50 and p99 in µs; `None` for oha, which does not report it.
    pub lateness_us: Option<(u64, u64)>,
    /// The share of the step's CPU time the hypervisor took from this
    /// machine (`commlab::host`), 0 to 1; `None` where unreadable.
    pub steal: Option<f64>,
    /// Anything else the prober saw (work done, drain time), for the report.
    pub note: String,
}

impl Criteria {
    /// Judges one step of our generator.
    pub fn judge(&self, step: &StepResult) -> Probe {
        let p50_ms = step.percentile_ms(50.0, self.min_samples);
        let p99_ms = step.percentile_ms(99.0, self.min_samples);
        let bound_ms = self.p99_bound.as_secs_f64() * 1000.0;
        let error_share = step.error_share();
        let verdict = if error_share > self.max_error_share {
            let statuses: Vec<String> = step
                .failed_by_status
                .iter()
                .map(|(status, n)| match status {
                    0 => format!("{n} × no answer"),
                    s => format!("{n} × {s}"),
                })
                .collect();
            format!(
                "{:.2} % failed ({} errors [{}], {} shed, {} unfinished)",
                error_share * 100.0,
                step.failed,
                statuses.join(", "),
                step.shed,
                step.unfinished
            )
        } else {
            match p99_ms {
                None => format!("only {} samples, fewer than {}", step.ok, self.min_samples),
                Some(p99) if p99 > bound_ms => format!("p99 {p99:.1} ms > {bound_ms:.0} ms"),
                Some(_) => "ok".to_string(),
            }
        };
        Probe {
            rate: step.rate,
            passed: verdict == "ok",
            verdict,
            p50_ms,
            p99_ms,
            ok: step.ok,
            error_share,
            lateness_us: Some((step.lateness_us(50.0), step.lateness_us(99.0))),
            steal: None,
            note: String::new(),
        }
    }
}

/// How the rate is stepped.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// The first rate tried, requests/s. Default 500: enough samples for a
    /// p99 in a 3 s step, and far below what any endpoint here fails at.
    pub start_rate: f64,
    /// Each rate is the previous × this while steps pass. Default 1.5:
    /// from 500/s, ten steps reach 29,000/s, past what 2 cores can serve.
    pub factor: f64,
    /// The most geometric steps. Default 14 (500 × 1.5¹³ ≈ 97,000/s): the
    /// bound that keeps a search finite whatever the endpoint does.
    pub max_steps: usize,
    /// Bisection steps between the last pass and the first failure, each
    /// halving the gap on a log scale. Default 2: the answer is then within
    /// ×1.5^(1/4) ≈ 11 % of the true edge, finer than the run-to-run noise.
    pub refinements: usize,
    /// A failed step is tried once more before it counts. On a shared
    /// machine one neighbour's burst should not end a search. Default on.
    pub retry_failures: bool,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            start_rate: 500.0,
            factor: 1.5,
            max_steps: 14,
            refinements: 2,
            retry_failures: true,
        }
    }
}

/// Every probe of a search, and the best passing one.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub best: Option<Probe>,
    pub probes: Vec<Probe>,
}

impl Outcome {
    /// The highest rate that passed, 0 if none did.
    pub fn max_rate(&self) -> f64 {
        self.best.as_ref().map_or(0.0, |p| p.rate)
    }
}

/// Searches with `probe`, which runs one step at the rate it is given.
pub fn search(
    plan: &Plan,
    mut probe: impl FnMut(f64) -> anyhow::Result<Probe>,
) -> anyhow::Result<Outcome> {
    let mut probes = Vec::new();
    let mut run = |rate: f64, probes: &mut Vec<Probe>| -> anyhow::Result<Probe> {
        let mut result = probe(rate)?;
        if !result.passed && plan.retry_failures {
            probes.push(result);
            result = probe(rate)?;
        }
        probes.push(result.clone());
        Ok(result)
    };

    let mut best: Option<Probe> = None;
    let mut failed_at = None;
    let mut rate = plan.start_rate;
    for _ in 0..plan.max_steps {
        let result = run(rate, &mut probes)?;
        if !result.passed {
            failed_at = Some(rate);
            break;
        }
        best = Some(result);
        rate *= plan.factor;
    }
    if let (Some(mut low), Some(mut high)) = (best.as_ref().map(|p| p.rate), failed_at) {
        for _ in 0..plan.refinements {
            let middle = (low * high).sqrt();
            let result = run(middle, &mut probes)?;
            if result.passed {
                low = middle;
                best = Some(result);
            } else {
                high = middle;
            }
        }
    }
    Ok(Outcome { best, probes })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe for an endpoint that passes every rate up to `limit`.
    fn endpoint(limit: f64) -> impl FnMut(f64) -> anyhow::Result<Probe> {
        move |rate| {
            Ok(Probe {
                rate,
                passed: rate <= limit,
                verdict: if rate <= limit { "ok" } else { "too fast" }.to_string(),
                p50_ms: None,
                p99_ms: None,
                ok: 0,
                error_share: 0.0,
                lateness_us: None,
                steal: None,
                note: String::new(),
            })
        }
    }

    #[test]
    fn finds_the_edge_within_the_refinement() {
        let plan = Plan::default();
        let outcome = search(&plan, endpoint(10_000.0)).unwrap();
        let best = outcome.max_rate();
        assert!(best <= 10_000.0, "never reports a failing rate: {best}");
        // Two bisections of a ×1.5 gap leave at most ×1.5^(1/4) below the edge.
        assert!(best >= 10_000.0 / 1.5_f64.powf(0.25), "too coarse: {best}");
    }

    #[test]
    fn retries_a_failure_once_and_stays_bounded() {
        let plan = Plan::default();
        let outcome = search(&plan, endpoint(0.0)).unwrap();
        assert!(outcome.best.is_none());
        assert_eq!(outcome.probes.len(), 2, "the first step, and its retry");

        let outcome = search(&plan, endpoint(f64::INFINITY)).unwrap();
        assert_eq!(outcome.probes.len(), plan.max_steps);
    }
}
