//! The ratio table: every criterion estimate divided by the floor it should be
//! read against, both measured in the same `cargo bench` run.
//!
//! Criterion writes each benchmark's estimates to
//! `<criterion dir>/<group>/<bench>/new/estimates.json`; this module reads the
//! headline figure criterion itself prints (the regression slope when it has
//! one, the mean otherwise), with its 95 % confidence interval, and divides.
//! Absolute times on a shared 2-core machine move by tens of percent from one
//! run to the next; the ratio of two figures taken minutes apart moves much
//! less, and it is the ratio that answers "what does this design cost".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// One criterion benchmark, by its directory under the criterion dir.
pub type BenchId = &'static str;

/// The part of criterion's `estimates.json` read here (times in ns).
#[derive(Debug, Deserialize)]
struct Estimates {
    mean: Estimate,
    slope: Option<Estimate>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Estimate {
    pub point_estimate: f64,
    pub confidence_interval: Interval,
}

#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Interval {
    pub lower_bound: f64,
    pub upper_bound: f64,
}

/// Where criterion writes: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else the workspace's `target/criterion` (criterion's own order).
pub fn default_criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion")
}

/// The headline estimate of one benchmark, in ns per iteration.
pub fn load(dir: &Path, bench: BenchId) -> anyhow::Result<Estimate> {
    let path = dir.join(bench).join("new/estimates.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (has `cargo bench` run?)", path.display()))?;
    let estimates: Estimates =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(estimates.slope.unwrap_or(estimates.mean))
}

/// One row: a measurement over its baseline. The baseline is a sum, so that a
/// row can be read against a model ("one edge hop plus two blocking hops").
#[derive(Clone, Debug)]
pub struct Row {
    pub what: &'static str,
    pub bench: BenchId,
    pub baseline: &'static [(f64, BenchId)],
    /// Iterations are single events: also show events per second.
    pub per_event: bool,
}

const HTTP_FLOOR: &[(f64, BenchId)] = &[(1.0, "floor/http_async_client")];
const CHANNEL_FLOOR: &[(f64, BenchId)] = &[(1.0, "floor/channel_handoff")];

/// The table the README shows, in its order.
pub fn rows() -> Vec<Row> {
    let http = |what, bench| Row {
        what,
        bench,
        baseline: HTTP_FLOOR,
        per_event: false,
    };
    let stream = |what, bench| Row {
        what,
        bench,
        baseline: CHANNEL_FLOOR,
        per_event: true,
    };
    vec![
        http(
            "bare HTTP hop, async reqwest (the floor)",
            "floor/http_async_client",
        ),
        http(
            "bare HTTP hop, reqwest::blocking",
            "floor/http_blocking_client",
        ),
        http("sync: bonus (3 hops)", "edge_sync/bonus"),
        http(
            "sync: delivery payment (2 hops)",
            "edge_sync/delivery_payment",
        ),
        http(
            "sync: performance update (1 hop)",
            "edge_sync/performance_update",
        ),
        http("async: bonus, edge answer", "edge_async/bonus"),
        http("async: delivery payment", "edge_async/delivery_payment"),
        http("async: performance update", "edge_async/performance_update"),
        Row {
            what: "sync: bonus over 1 async hop + 2 blocking hops",
            bench: "edge_sync/bonus",
            baseline: &[
                (1.0, "floor/http_async_client"),
                (2.0, "floor/http_blocking_client"),
            ],
            per_event: false,
        },
        stream(
            "bare channel hand-off, per event (the floor)",
            "floor/channel_handoff",
        ),
        stream("stream publish → consume, batches of 1", "stream/batch_1"),
        stream("stream publish → consume, batches of 64", "stream/batch_64"),
        stream(
            "stream publish → consume, batches of 1024",
            "stream/batch_1024",
        ),
        Row {
            what: "stream round trip (publish, consumer wakes, acks)",
            bench: "stream/round_trip",
            baseline: &[(1.0, "floor/channel_round_trip")],
            per_event: false,
        },
    ]
}

/// Formats nanoseconds with a unit a reader takes in at a glance.
pub fn human_ns(ns: f64) -> String {
    match ns {
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.1} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}

/// The table, in Markdown. A row whose estimates are missing says so instead
/// of failing the whole table: a partial `cargo bench` run still reports.
pub fn render(dir: &Path) -> String {
    let mut out = String::new();
    out.push_str(
        "| measurement | bench | time [95 % CI] | baseline | baseline time | ratio | events/s |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
    for row in rows() {
        let measured = load(dir, row.bench);
        let baseline: anyhow::Result<f64> = row
            .baseline
            .iter()
            .map(|(k, id)| load(dir, id).map(|e| k * e.point_estimate))
            .sum();
        let baseline_name = row
            .baseline
            .iter()
            .map(|(k, id)| {
                if *k == 1.0 {
                    id.to_string()
                } else {
                    format!("{k} × {id}")
                }
            })
            .collect::<Vec<_>>()
            .join(" + ");
        let (time, base, ratio, rate) = match (&measured, &baseline) {
            (Ok(m), Ok(b)) => (
                format!(
                    "{} [{} – {}]",
                    human_ns(m.point_estimate),
                    human_ns(m.confidence_interval.lower_bound),
                    human_ns(m.confidence_interval.upper_bound)
                ),
                human_ns(*b),
                format!("{:.2}×", m.point_estimate / b),
                if row.per_event {
                    format!("{:.2} M", 1e3 / m.point_estimate)
                } else {
                    String::new()
                },
            ),
            _ => {
                let missing = "not measured".to_string();
                (missing.clone(), missing, "–".to_string(), String::new())
            }
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {time} | `{baseline_name}` | {base} | {ratio} | {rate} |",
            row.what, row.bench
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, bench: &str, ns: f64) {
        let path = dir.join(bench).join("new");
        std::fs::create_dir_all(&path).unwrap();
        let estimate = format!(
            r#"{{"point_estimate": {ns}, "standard_error": 1.0,
                "confidence_interval": {{"confidence_level": 0.95, "lower_bound": {ns}, "upper_bound": {ns}}}}}"#
        );
        let json = format!(
            r#"{{"mean": {estimate}, "median": {estimate}, "median_abs_dev": {estimate}, "slope": null, "std_dev": {estimate}}}"#
        );
        std::fs::write(path.join("estimates.json"), json).unwrap();
    }

    #[test]
    fn divides_by_the_floor_and_says_what_is_missing() {
        let dir = std::env::temp_dir().join(format!("commlab-ratios-{}", std::process::id()));
        write(&dir, "floor/http_async_client", 100_000.0);
        write(&dir, "floor/http_blocking_client", 200_000.0);
        write(&dir, "edge_sync/bonus", 550_000.0);
        let table = render(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(table.contains("| sync: bonus (3 hops) | `edge_sync/bonus` | 550.0 µs"));
        assert!(table.contains("| 5.50× |"), "{table}");
        // 550 / (100 + 2 × 200) = 1.10
        assert!(table.contains("| 1.10× |"), "{table}");
        assert!(table.contains("not measured"), "{table}");
    }
}
