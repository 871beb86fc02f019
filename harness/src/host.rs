//! The host under the measurement: how much of the machine's CPU time the
//! hypervisor gave to someone else while a run was playing.
//!
//! On a shared virtual machine a core this machine wanted can be taken for
//! milliseconds at a time ("steal"). No generator sends on time then, and no
//! server answers: the stall lands in the latencies and the lateness alike.
//! So the harness records the steal over each variant's load, and the
//! benches over each step, beside the lateness: a figure read under steal
//! measures the host, not the design or the generator.

/// The steal above which a run's latency tails are read as the host's: 1 %
/// of a step's CPU time is tens of milliseconds in which a core stood still,
/// enough to put stalled requests above a p99. Below it, the runs here had
/// lateness p99s of tens of µs; above it, of milliseconds (benches/README.md).
pub const NOISY_STEAL: f64 = 0.01;

/// Whether a run's steal puts its latency tails on the host: at or above
/// [`NOISY_STEAL`]. An unknown steal (no `/proc/stat`) is not noisy, so
/// where it cannot be read every figure is read as the design's.
pub fn is_noisy(steal: Option<f64>) -> bool {
    steal.is_some_and(|s| s >= NOISY_STEAL)
}

/// A steal share as the reports print it: two decimals, so that a share
/// just under [`NOISY_STEAL`] does not read as 1.0 %.
pub fn percent(steal: f64) -> String {
    format!("{:.2} %", steal * 100.0)
}

/// The machine's CPU time so far, from the first line of `/proc/stat` (all
/// cores, in clock ticks): how much of it the hypervisor gave to someone else
/// ("steal") and the total. Two readings give the share of an interval that
/// this virtual machine wanted a core and did not get one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuTimes {
    pub steal: u64,
    pub total: u64,
}

impl CpuTimes {
    /// `None` where `/proc/stat` cannot be read (not Linux).
    pub fn now() -> Option<CpuTimes> {
        CpuTimes::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// Parses the aggregate `cpu` line: user nice system idle iowait irq
    /// softirq steal [guest guest_nice]. Guest time is already inside user
    /// and nice, so it is not added again.
    pub fn parse(stat: &str) -> Option<CpuTimes> {
        let line = stat.lines().find(|line| line.starts_with("cpu "))?;
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|field| field.parse().ok())
            .collect::<Option<_>>()?;
        (fields.len() == 8).then(|| CpuTimes {
            steal: fields[7],
            total: fields.iter().sum(),
        })
    }

    /// The share of the time between `earlier` and `self` that was stolen,
    /// 0 to 1; `None` when no tick passed between them.
    pub fn steal_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let steal = self.steal.checked_sub(earlier.steal)?;
        (total > 0).then(|| steal as f64 / total as f64)
    }
}

/// Runs `work` and returns what it returned with the share of CPU time
/// stolen meanwhile (`None` where `/proc/stat` cannot be read, or when the
/// work took less than a clock tick).
pub fn steal_during<T>(work: impl FnOnce() -> T) -> (T, Option<f64>) {
    let before = CpuTimes::now();
    let value = work();
    let steal = before
        .zip(CpuTimes::now())
        .and_then(|(before, after)| after.steal_since(&before));
    (value, steal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_steal_from_the_aggregate_line() {
        let before = "cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 50 0 25 400 5 0 2 18 0 0\n";
        let after = "cpu  150 0 70 900 10 0 5 85 0 0\ncpu0 75 0 35 450 5 0 2 43 0 0\n";
        let (before, after) = (
            CpuTimes::parse(before).unwrap(),
            CpuTimes::parse(after).unwrap(),
        );
        assert_eq!(
            before,
            CpuTimes {
                steal: 35,
                total: 1000
            }
        );
        // 220 ticks passed, 50 of them stolen.
        let share = after.steal_since(&before).unwrap();
        assert!((share - 50.0 / 220.0).abs() < 1e-9, "{share}");
        assert_eq!(before.steal_since(&before), None, "no tick passed");
        assert_eq!(CpuTimes::parse("intr 1 2 3\n"), None);
        assert_eq!(CpuTimes::parse("cpu  1 2 3\n"), None, "too few fields");
    }
}
