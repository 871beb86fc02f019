//! Shared by the harness's integration tests: tiny scenarios (a second or two
//! of load, so the tests stay short on two cores) and scratch directories.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh, empty directory under Cargo's scratch space for integration
/// tests (`target/tmp`, so `cargo clean` takes it and `/tmp` is left as it
/// was), unique per call.
pub fn scratch_dir(label: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "commlab-test-{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// A valid scenario of `duration` with modest rates and no fault; `extra` is
/// appended (more fields of `[workload]` must not be given twice, so tests that
/// change the workload write their own text).
pub fn tiny_scenario(name: &str, duration: &str, extra: &str) -> String {
    format!(
        r#"name = "{name}"
title = "A tiny scenario for a test"
lesson = "Tests need a lesson too."
duration = "{duration}"
seed = 11
slo = "500ms"

[workload]
couriers = 20
bonus_rate = 40
delivery_rate = 80
performance_rate = 0
arrival = "poisson"
bonus_mix = {{ small = 0.5, average = 0.3, big = 0.2 }}
{extra}"#
    )
}

/// Writes `text` to `<dir>/<file>` and returns the path.
pub fn write(dir: &std::path::Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).expect("write a scenario file");
    path
}

/// Runs `commlab run` on a file holding `text` in a fresh scratch directory
/// named after `label`; checks the exit code is 2 and that nothing was
/// written. Returns stderr and the file's path as printed.
pub fn refused_run(label: &str, text: &str) -> (String, String) {
    let dir = scratch_dir(label);
    let file = write(&dir, "bad.toml", text);
    let out = dir.join("out");
    let assert = assert_cmd::Command::cargo_bin("commlab")
        .unwrap()
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(2);
    assert!(!out.exists(), "nothing may be written");
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    (stderr, file.display().to_string())
}

/// The pids of `parent`'s children whose command is `name`, from `/proc`.
pub fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| stat(pid).is_some_and(|(comm, _, ppid)| comm == name && ppid == parent))
        .collect()
}

/// Whether `pid` is a process that has not exited (running or stopped; a
/// zombie has exited).
pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(_, state, _)| !matches!(state, 'Z' | 'X'))
}

/// `/proc/PID/stat`: the command, the state letter and the parent's pid.
pub fn stat(pid: u32) -> Option<(String, char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, tail) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let mut fields = tail.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((comm, state, ppid))
}

/// Polls `check` every 20 ms until it gives a value, for at most `bound`.
pub fn wait_for<T>(bound: std::time::Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let started = std::time::Instant::now();
    while started.elapsed() < bound {
        if let Some(value) = check() {
            return Some(value);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    None
}
