//! Latency histograms as HdrHistogram "percentile distribution" text (`.hgrm`),
//! the format HdrHistogram's own tools print and its plotters read
//! (`HistogramLogProcessor`, the online plotter): a table of
//! `Value Percentile TotalCount 1/(1-Percentile)` and a `#[Mean ...]` footer.
//! Values are in milliseconds (recorded in µs, scaled by 1000), like wrk2's.

use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;

use crate::measure::HISTOGRAM_SIGFIG;

/// Recorded unit per printed unit: µs per ms.
const SCALE: f64 = 1000.0;

/// Steps per halving of the distance to 100 %: the density HdrHistogram's
/// `outputPercentileDistribution` uses by default.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

pub fn write(path: &Path, histogram: &Histogram<u64>) -> std::io::Result<()> {
    std::fs::write(path, percentile_distribution(histogram))
}

/// The text of the table, formatted as HdrHistogram's Java original does.
pub fn percentile_distribution(histogram: &Histogram<u64>) -> String {
    let mut out = String::new();
    let digits = usize::from(HISTOGRAM_SIGFIG);
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !histogram.is_empty() {
        for step in histogram.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += step.count_since_last_iteration();
            let value = step.value_iterated_to() as f64 / SCALE;
            let quantile = step.quantile_iterated_to();
            if quantile < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:>12.digits$} {quantile:>2.12} {total:>10} {:>14.2}",
                    1.0 / (1.0 - quantile)
                );
            } else {
                let _ = writeln!(out, "{value:>12.digits$} {quantile:>2.12} {total:>10}");
            }
        }
    }
    let (mean, stdev, max) = if histogram.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            histogram.mean() / SCALE,
            histogram.stdev() / SCALE,
            histogram.max() as f64 / SCALE,
        )
    };
    let _ = writeln!(
        out,
        "#[Mean    = {mean:>12.digits$}, StdDeviation   = {stdev:>12.digits$}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:>12.digits$}, Total count    = {:>12}]",
        histogram.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        histogram.buckets(),
        sub_buckets()
    );
    out
}

/// HdrHistogram's sub-bucket count for our precision: the power of two at or
/// above 2 × 10^sigfig (2048 for 3 digits). The crate keeps it private.
fn sub_buckets() -> u64 {
    (2 * 10u64.pow(u32::from(HISTOGRAM_SIGFIG))).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::new_histogram;

    #[test]
    fn reads_like_hdrhistogram_output() {
        let mut histogram = new_histogram();
        for ms in 1..=1000u64 {
            histogram.record(ms * 1000).unwrap();
        }
        let text = percentile_distribution(&histogram);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(' ') && !l.contains("Value"))
            .collect();
        let last: Vec<&str> = rows.last().unwrap().split_whitespace().collect();
        assert_eq!(last[1], "1.000000000000");
        assert_eq!(last[2], "1000");
        assert!(text.contains("#[Mean    = "));
        assert!(text.contains("Total count    =         1000]"));
    }
}
