//! The reference load generator: `oha`, run as a subprocess against the same
//! endpoint, judged by the same [`Criteria`] as our own generator.
//!
//! Why a second generator at all: a load generator that cannot keep up reports
//! its own limits as the server's. Running an established one against the
//! bare endpoint in the same run, with the same schedule (a fixed rate, `-q`)
//! and the same latency rule (`--latency-correction`: measured from the
//! scheduled send time), says how far our figures can be trusted.
//!
//! oha is not a dependency: install it with `cargo install oha --locked`. When
//! it is not on `PATH`, the throughput binary says so and skips the comparison.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::driver::DEFAULT_CONNECTIONS;
use crate::edge::Request;
use crate::search::{Criteria, Probe};

/// How oha is run.
#[derive(Clone, Debug)]
pub struct Oha {
    pub program: PathBuf,
    /// Connections (`-c`). oha sends at most one request per connection at a
    /// time; default [`DEFAULT_CONNECTIONS`], the cap our generator uses.
    pub connections: usize,
    /// Its runtime's worker threads (`--worker-threads`), set to our client's
    /// so the two compete for the same cores on equal terms.
    pub threads: usize,
}

/// What one oha run reported.
#[derive(Clone, Debug)]
pub struct OhaResult {
    pub rate: f64,
    /// Requests the schedule called for (rate × duration).
    pub scheduled: u64,
    /// Requests oha reports an outcome for (answers plus errors).
    pub total: u64,
    pub ok: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests_per_sec: f64,
}

impl Oha {
    /// `oha` from `PATH` (or `~/.cargo/bin`, where `cargo install` puts it).
    pub fn find(threads: usize) -> Option<Oha> {
        let candidates = [
            Some(PathBuf::from("oha")),
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin/oha")),
        ];
        let program = candidates.into_iter().flatten().find(|program| {
            Command::new(program)
                .arg("--version")
                .output()
                .is_ok_and(|out| out.status.success())
        })?;
        Some(Oha {
            program,
            connections: DEFAULT_CONNECTIONS,
            threads,
        })
    }

    /// The command line of one run, for the report and for a reader to repeat.
    pub fn args(&self, request: &Request, rate: f64, duration: Duration) -> Vec<String> {
        vec![
            "-z".to_string(),
            format!("{}ms", duration.as_millis()),
            // Wait for requests in flight at the deadline instead of counting
            // them as aborted: our generator drains too.
            "-w".to_string(),
            "-q".to_string(),
            format!("{rate:.0}"),
            "--latency-correction".to_string(),
            "-c".to_string(),
            self.connections.to_string(),
            "--worker-threads".to_string(),
            self.threads.to_string(),
            "--no-tui".to_string(),
            "--output-format".to_string(),
            "json".to_string(),
            "-m".to_string(),
            "POST".to_string(),
            "-T".to_string(),
            "application/json".to_string(),
            "-d".to_string(),
            String::from_utf8_lossy(&request.body).into_owned(),
            request.url.to_string(),
        ]
    }

    /// One run at a fixed rate.
    pub fn run(
        &self,
        request: &Request,
        rate: f64,
        duration: Duration,
    ) -> anyhow::Result<OhaResult> {
        let output = Command::new(&self.program)
            .args(self.args(request, rate, duration))
            .output()
            .with_context(|| format!("running {}", self.program.display()))?;
        if !output.status.success() {
            bail!(
                "oha failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let json: Value = serde_json::from_slice(&output.stdout).context("reading oha's JSON")?;
        parse(&json, rate, duration)
    }
}

/// Reads the fields used here from oha's `--output-format json`.
fn parse(json: &Value, rate: f64, duration: Duration) -> anyhow::Result<OhaResult> {
    let number = |path: &[&str]| -> anyhow::Result<f64> {
        let mut value = json;
        for key in path {
            value = value
                .get(key)
                .with_context(|| format!("oha JSON has no {path:?}"))?;
        }
        value
            .as_f64()
            .with_context(|| format!("oha JSON {path:?} is not a number"))
    };
    let count = |key: &str, accept: &dyn Fn(&str) -> bool| -> u64 {
        json.get(key).and_then(Value::as_object).map_or(0, |map| {
            map.iter()
                .filter(|(k, _)| accept(k))
                .filter_map(|(_, v)| v.as_u64())
                .sum()
        })
    };
    let ok = count("statusCodeDistribution", &|status| status.starts_with('2'));
    let answered = count("statusCodeDistribution", &|_| true);
    let errors = count("errorDistribution", &|_| true);
    Ok(OhaResult {
        rate,
        scheduled: (rate * duration.as_secs_f64()).round() as u64,
        total: answered + errors,
        ok,
        p50_ms: number(&["metrics", "latency_ms", "p50"])?,
        p99_ms: number(&["metrics", "latency_ms", "p99"])?,
        requests_per_sec: number(&["metrics", "requests_per_sec"])?,
    })
}

impl Criteria {
    /// Judges one oha run by the rule that judges our own steps.
    pub fn judge_oha(&self, run: &OhaResult) -> Probe {
        let bound_ms = self.p99_bound.as_secs_f64() * 1000.0;
        // A request oha never sent counts as failed, as a shed one of ours does.
        let error_share = 1.0 - run.ok as f64 / run.total.max(run.scheduled).max(1) as f64;
        let verdict = if error_share > self.max_error_share {
            format!("{:.2} % failed", error_share * 100.0)
        } else if run.ok < self.min_samples {
            format!("only {} samples, fewer than {}", run.ok, self.min_samples)
        } else if run.p99_ms > bound_ms {
            format!("p99 {:.1} ms > {bound_ms:.0} ms", run.p99_ms)
        } else {
            "ok".to_string()
        };
        Probe {
            rate: run.rate,
            passed: verdict == "ok",
            verdict,
            p50_ms: Some(run.p50_ms),
            p99_ms: Some(run.p99_ms),
            ok: run.ok,
            error_share,
            lateness_us: None,
            steal: None,
            note: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields oha 1.16 writes with `--output-format json`, trimmed.
    const SAMPLE: &str = r#"{
        "summary": {"successRate": 1.0, "requestsPerSec": 1999.2},
        "metrics": {"success_rate": 1.0, "requests_per_sec": 1999.2,
                    "latency_ms": {"min": 0.1, "mean": 0.3, "p50": 0.22, "p95": 0.9, "p99": 4.31, "max": 9.0}},
        "statusCodeDistribution": {"202": 9990, "503": 5},
        "errorDistribution": {"connection closed": 5}
    }"#;

    #[test]
    fn reads_oha_json_and_judges_it_like_our_steps() {
        let json: Value = serde_json::from_str(SAMPLE).unwrap();
        let run = parse(&json, 2000.0, Duration::from_secs(5)).unwrap();
        assert_eq!((run.scheduled, run.total, run.ok), (10_000, 10_000, 9_990));
        assert_eq!((run.p50_ms, run.p99_ms), (0.22, 4.31));

        let criteria = Criteria::default();
        let probe = criteria.judge_oha(&run);
        assert!(
            !probe.passed,
            "10 of 10,000 failed is above 0.1 %: {}",
            probe.verdict
        );
        let strict = Criteria {
            max_error_share: 0.01,
            ..criteria
        };
        assert!(strict.judge_oha(&run).passed);
    }
}
