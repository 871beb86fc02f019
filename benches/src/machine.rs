//! What every report records about where it ran: the machine (cores, CPU
//! model), the toolchain, the commit — and this process's resident memory,
//! which the backlog measurement reads.
//!
//! Everything is read from `/proc` and from the tools on `PATH`; what cannot be
//! read is reported as "unknown", never guessed.

use std::fmt;
use std::process::Command;

/// Where a measurement ran.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub rustc: String,
    pub commit: String,
}

impl Machine {
    pub fn describe() -> Machine {
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpu_model().unwrap_or_else(|| "unknown".to_string()),
            rustc: command_line("rustc", &["-V"]).unwrap_or_else(|| "unknown".to_string()),
            commit: commit().unwrap_or_else(|| "unknown".to_string()),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cores, {}; {}; commit {}",
            self.cores, self.cpu_model, self.rustc, self.commit
        )
    }
}

fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
}

/// The current commit, with `-dirty` when the work tree has changes.
fn commit() -> Option<String> {
    let hash = command_line("git", &["rev-parse", "--short", "HEAD"])?;
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|out| !out.stdout.is_empty());
    Some(if dirty { format!("{hash}-dirty") } else { hash })
}

/// The first line a command prints, if it runs and succeeds.
fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().next().map(|line| line.trim().to_string())
}

/// This process's resident set size, in bytes (`VmRSS` in
/// `/proc/self/status`, which the kernel reports in kB).
pub fn vm_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The command line this process was started with, for the report header.
pub fn invocation() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}
