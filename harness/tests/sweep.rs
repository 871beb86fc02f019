//! `commlab sweep`: one run per value of a parameter, a page with its chart,
//! table and cliff; bad parameters and values refused before anything runs.

mod support;

use std::path::Path;

use assert_cmd::Command;

/// Payments slowed for most of a short run: the synchronous pools starve as
/// the added latency grows, the asynchronous design does not.
const SLOW: &str = "\n[[fault]]\ntarget = \"payments\"\nkind = \"latency\"\nstart = \"0.2s\"\nduration = \"1.2s\"\nmean = \"5ms\"\n";

fn sweep(file: &Path, out: &Path, vary: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("commlab")
        .unwrap()
        .args(["sweep", file.to_str().unwrap(), "--vary", vary, "--out"])
        .arg(out)
        .args(extra)
        .assert()
}

/// Two values: a run each, a page naming both, its chart, and a sentence per variant.
#[test]
fn a_sweep_over_two_values() {
    let dir = support::scratch_dir("sweep");
    let file = support::write(&dir, "s.toml", &support::tiny_scenario("s", "1.5s", SLOW));
    let out = dir.join("out");
    sweep(&file, &out, "fault[1].mean=5ms,900ms", &[]).success();
    let page = std::fs::read_to_string(out.join("sweeps/s-fault1-mean.md")).unwrap();
    assert!(out.join("sweeps/s-fault1-mean.svg").exists());
    for run in ["1", "2"] {
        assert!(
            out.join(format!("sweeps/s-fault1-mean/{run}/s.json"))
                .exists()
        );
    }
    let rows: Vec<&str> = page.lines().filter(|l| l.starts_with("| 5ms |")).collect();
    assert_eq!(rows.len(), 4, "one row per variant: {page}");
    assert_eq!(
        page.lines().filter(|l| l.starts_with("| 900ms |")).count(),
        4
    );
    // 900 ms per call is past the SLO: sync cannot grant a bonus within it.
    let sync = page.lines().find(|l| l.starts_with("- `sync`:")).unwrap();
    assert!(
        sync.contains("the cliff") && sync.contains("900ms"),
        "{sync}"
    );
    assert!(page.contains("--vary 'fault[1].mean=5ms,900ms'"), "{page}");
    // The index written into the same directory links the sweep.
    Command::cargo_bin("commlab")
        .unwrap()
        .arg("report")
        .arg(out.join("sweeps/s-fault1-mean/1/s.json"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let index = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(index.contains("(sweeps/s-fault1-mean.md)"), "{index}");
}

/// Unknown parameter, empty range, a value that makes the scenario invalid,
/// a fault the scenario does not have: exit 2, a message, nothing written.
#[test]
fn bad_sweeps_are_refused() {
    let dir = support::scratch_dir("sweep-bad");
    let file = support::write(&dir, "s.toml", &support::tiny_scenario("s", "1.5s", SLOW));
    let out = dir.join("out");
    let cases: [(&str, &[&str], &str); 10] = [
        ("workload.colour=1,2", &[], "unknown parameter"),
        ("sync.threads=1,2", &[], "unknown parameter"),
        ("sync.workers=0,4", &[], "sync.workers"),
        ("sync.workers=4,2.5", &[], "sync.workers"),
        ("sync.call_timeout=0ms,50ms", &[], "sync.call_timeout"),
        ("fault[1].mean=-5ms,5ms", &[], "not a number or duration"),
        ("fault[1].mean=5ms..50ms", &[], "--steps"),
        ("fault[1].mean=", &[], "no values"),
        ("fault[1].start=0.2s,9s", &[], "fault[1]"),
        ("fault[2].mean=5ms,6ms", &[], "has 1 fault\n"),
    ];
    for (vary, extra, message) in cases {
        let refused = sweep(&file, &out, vary, extra).code(2);
        let stderr = String::from_utf8(refused.get_output().stderr.clone()).unwrap();
        assert!(stderr.contains(message), "{vary}: {stderr}");
        assert!(!out.exists(), "{vary}: nothing may be written");
    }
}

/// SIGINT during a sweep's first value: it stops there (exit 130, not 1, and
/// not on to the next value), names where, and writes no sweep page.
#[test]
fn an_interrupted_sweep_stops_and_writes_no_page() {
    use std::process::Stdio;
    use std::time::Duration;

    let dir = support::scratch_dir("sweep-sigint");
    let file = support::write(&dir, "s.toml", &support::tiny_scenario("s", "30s", ""));
    let out = dir.join("out");
    let harness = std::process::Command::new(env!("CARGO_BIN_EXE_commlab"))
        .args(["sweep", file.to_str().unwrap(), "--vary"])
        .args(["workload.bonus_rate=40,50", "--quick", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first value's results directory appears once its run has begun.
    let first = out.join("sweeps/s-workload-bonus_rate/1");
    support::wait_for(Duration::from_secs(30), || first.exists().then_some(()))
        .expect("the first value starts");
    std::thread::sleep(Duration::from_millis(300));
    let pid = rustix::process::Pid::from_raw(harness.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let output = harness.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted by Ctrl-C at workload.bonus_rate = 40"),
        "{stderr}"
    );
    assert!(!out.join("sweeps/s-workload-bonus_rate.md").exists());
    assert!(!out.join("sweeps/s-workload-bonus_rate/2").exists());
}
