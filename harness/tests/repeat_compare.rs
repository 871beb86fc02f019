//! Repetitions (`run --repeat`) and `compare`: figures over runs, a run
//! compared with itself and with a run under a fault, and bad input refused.

mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// A short payments crash: the sync variant cannot grant a bonus while it lasts.
const CRASH: &str =
    "\n[[fault]]\ntarget = \"payments\"\nkind = \"crash\"\nstart = \"0.3s\"\nduration = \"1s\"\n";

const CLAIM: &str = "\n[[expect]]\nvariant = \"async\"\nthat = \"bonuses.paid_twice == 0\"\n";

/// Runs `file` on sync and async, `repeat` times, into `<dir>/<out>`.
fn run(dir: &Path, file: &Path, out: &str, repeat: &str) -> PathBuf {
    let out = dir.join(out);
    Command::cargo_bin("commlab")
        .unwrap()
        .args(["run", file.to_str().unwrap(), "--variant", "sync"])
        .args(["--variant", "async", "--repeat", repeat, "--out"])
        .arg(&out)
        .assert()
        .success();
    out
}

fn compare(a: &Path, b: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("commlab")
        .unwrap()
        .arg("compare")
        .args([a, b])
        .args(extra)
        .assert()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `--repeat 2` records two runs with derived seeds (run 1 the scenario's
/// own), a median per figure, each claim's count of runs, and the report
/// prints the spread.
#[test]
fn repeat_records_every_run_and_a_median() {
    let dir = support::scratch_dir("repeat");
    let text = support::tiny_scenario("twice", "1.5s", CLAIM);
    let file = support::write(&dir, "twice.toml", &text);
    let out = run(&dir, &file, "out", "2");
    let results = json(&out.join("twice.json"));
    let r = &results["repetitions"];
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["seed"], 11);
    assert_ne!(runs[1]["seed"], 11);
    assert_ne!(
        runs[0]["schedule_fingerprint"],
        runs[1]["schedule_fingerprint"]
    );
    assert_eq!(results["schema_version"], 2);
    for spread in r["spread"].as_array().unwrap() {
        let availability = &spread["figures"]["availability.bonus"];
        assert_eq!(availability["of"], 2);
        let (min, median, max) = (
            availability["min"].as_f64().unwrap(),
            availability["median"].as_f64().unwrap(),
            availability["max"].as_f64().unwrap(),
        );
        assert!(min <= median && median <= max, "{availability}");
        // The median of two runs is their mean, from each run's own figure.
        let per_run: Vec<f64> = runs
            .iter()
            .map(|run| {
                let v = run["variants"].as_array().unwrap().iter();
                let mine = v
                    .clone()
                    .find(|v| v["variant"] == spread["variant"])
                    .unwrap();
                mine["figures"]["availability.bonus"].as_f64().unwrap()
            })
            .collect();
        assert!((median - (per_run[0] + per_run[1]) / 2.0).abs() < 1e-12);
    }
    let held = &r["expectations"][0];
    assert_eq!(
        (held["runs"].as_u64(), held["held"].as_u64()),
        (Some(2), Some(2))
    );
    let page = std::fs::read_to_string(out.join("twice.md")).unwrap();
    assert!(page.contains("## Across 2 runs"), "{page}");
    assert!(page.contains("held in 2 of 2 runs"), "{page}");
    assert!(
        page.contains("--repeat 2"),
        "the replay command repeats too"
    );
}

/// A run compared with itself differs nowhere beyond its spread; the same
/// scenario with Payments crashed is refused as different work unless
/// allowed, and then shows sync's bonus availability worse beyond the spread,
/// which `--fail-on availability` turns into exit code 1.
#[test]
fn compare_finds_a_fault_and_nothing_in_a_run_against_itself() {
    let dir = support::scratch_dir("compare");
    let calm = support::write(&dir, "c.toml", &support::tiny_scenario("c", "1.5s", ""));
    let crashed = support::write(&dir, "x.toml", &support::tiny_scenario("c", "1.5s", CRASH));
    let a = run(&dir, &calm, "a", "2");
    let b = run(&dir, &crashed, "b", "2");

    let same = compare(&a, &a, &["--fail-on", "availability,lost,paid_twice"]).success();
    let same = String::from_utf8(same.get_output().stdout.clone()).unwrap();
    assert!(same.contains("within spread"), "{same}");
    assert!(!same.contains("beyond spread"), "{same}");

    let refused = compare(&a, &b, &[]).code(2);
    let stderr = String::from_utf8(refused.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("--allow-different-work"), "{stderr}");

    let allowed = compare(&a, &b, &["--allow-different-work"]).success();
    let page = String::from_utf8(allowed.get_output().stdout.clone()).unwrap();
    assert!(page.contains("**Different work.**"), "{page}");
    let sync_bonus = page
        .lines()
        .find(|l| l.starts_with("| `sync` | bonus availability"))
        .unwrap();
    assert!(sync_bonus.contains("worse, beyond spread"), "{sync_bonus}");
    compare(
        &a,
        &b,
        &["--allow-different-work", "--fail-on", "availability"],
    )
    .code(1);
}

/// A single run on either side is printed, never judged.
#[test]
fn one_run_is_not_judged() {
    let dir = support::scratch_dir("compare-one");
    let file = support::write(&dir, "o.toml", &support::tiny_scenario("o", "1s", ""));
    let a = run(&dir, &file, "a", "1");
    let page = compare(&a.join("o.json"), &a, &["--fail-on", "availability"]).success();
    let page = String::from_utf8(page.get_output().stdout.clone()).unwrap();
    assert!(page.contains("one run: not judged"), "{page}");
    assert!(!page.contains("spread**"), "{page}");
}

/// Bad input exits 2 with a message naming what is wrong, and writes nothing.
#[test]
fn bad_input_is_refused() {
    let dir = support::scratch_dir("compare-bad");
    let future = support::write(&dir, "future.json", r#"{"schema_version": 99}"#);
    let refused = compare(&future, &future, &[]).code(2);
    let stderr = String::from_utf8(refused.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("schema_version 99"), "{stderr}");

    let empty = support::scratch_dir("compare-empty");
    compare(&empty, &empty, &[]).code(2);
    compare(&future, &future, &["--fail-on", "colour"]).code(2);

    let text = support::tiny_scenario("r", "1s", "").replace("seed = 11", "seed = 11\nrepeat = 0");
    let (stderr, file) = support::refused_run("repeat-zero", &text);
    assert!(
        stderr.contains(&format!("{file}:6: field `repeat`")),
        "{stderr}"
    );
}

/// `--quick` is a smoke test: one run whatever the file's `repeat`, and the
/// file's own ablation left out (the suite's minute); `--repeat` still counts.
#[test]
fn quick_plays_one_run_without_the_files_ablation() {
    let dir = support::scratch_dir("repeat-quick");
    let text = support::tiny_scenario("quick", "1.5s", CLAIM).replace(
        "seed = 11",
        "seed = 11\nrepeat = 3\nablate = \"sync-resilient\"",
    );
    let file = support::write(&dir, "quick.toml", &text);
    let quick = |out: &str, extra: &[&str]| {
        let out = dir.join(out);
        Command::cargo_bin("commlab")
            .unwrap()
            .args(["run", file.to_str().unwrap(), "--quick", "--out"])
            .arg(&out)
            .args(extra)
            .assert()
            .success();
        json(&out.join("quick.json"))
    };
    let once = quick("once", &[]);
    assert!(
        once["repetitions"].is_null(),
        "one run: {}",
        once["repetitions"]
    );
    let names: Vec<&str> = once["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["variant"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "no ablation: {names:?}");
    let twice = quick("twice", &["--repeat", "2", "--variant", "async"]);
    assert_eq!(twice["repetitions"]["runs"].as_array().unwrap().len(), 2);
}

/// The host's steal, set by hand in a recorded repeated run (overload: three
/// runs of three variants), reaches the report's "Across 3 runs" section and
/// `compare`'s page: the noisy loads are named, and the rows of the variant
/// the host stole from carry the caveat, the other variant's do not.
#[test]
fn host_steal_over_runs_is_named_in_the_report_and_the_comparison() {
    let dir = support::scratch_dir("steal");
    let recorded = concat!(env!("CARGO_MANIFEST_DIR"), "/../reports/overload.json");
    let mut quiet: Value =
        serde_json::from_str(&std::fs::read_to_string(recorded).unwrap()).unwrap();
    let set = |results: &mut Value, steal: &dyn Fn(u64, &str) -> f64| {
        for run in results["repetitions"]["runs"].as_array_mut().unwrap() {
            let n = run["run"].as_u64().unwrap();
            for v in run["variants"].as_array_mut().unwrap() {
                let name = v["variant"].as_str().unwrap().to_string();
                v["host_steal"] = steal(n, &name).into();
            }
        }
    };
    set(&mut quiet, &|_, _| 0.001);
    let mut noisy = quiet.clone();
    set(&mut noisy, &|run, variant| {
        if run == 2 && variant == "sync" {
            0.05
        } else {
            0.002
        }
    });
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    std::fs::write(&a, quiet.to_string()).unwrap();
    std::fs::write(&b, noisy.to_string()).unwrap();

    let page = compare(&a, &b, &[]).success();
    let page = String::from_utf8(page.get_output().stdout.clone()).unwrap();
    assert!(
        page.contains("A: host steal below 1 % in every variant load (highest 0.10 %)."),
        "{page}"
    );
    assert!(
        page.contains("B: host steal ≥ 1 % in 1 of 9 variant loads: `sync` in run 2 (5.00 %)."),
        "{page}"
    );
    let row = |variant: &str, figure: &str| {
        page.lines()
            .find(|l| l.starts_with(&format!("| `{variant}` | {figure} |")))
            .unwrap_or_else(|| panic!("no {variant} {figure} row in {page}"))
            .to_string()
    };
    assert!(row("sync", "bonus p99 (ms)").ends_with("; host steal ≥ 1 % in B run 2 |"));
    assert!(row("sync", "bonus availability").ends_with("; host steal ≥ 1 % in B run 2 |"));
    assert!(!row("async", "bonus p99 (ms)").contains("host steal"));
    assert!(!row("async", "bonus availability").contains("host steal"));

    let out = dir.join("reports");
    let report = |results: &Path| {
        Command::cargo_bin("commlab")
            .unwrap()
            .arg("report")
            .arg(results)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        std::fs::read_to_string(out.join("overload.md")).unwrap()
    };
    let noisy_page = report(&b);
    assert!(
        noisy_page.contains("The host stole 1 % or more of the CPU time during 1 of 9 variant loads: `sync` in run 2 (5.00 %)."),
        "{noisy_page}"
    );
    let quiet_page = report(&a);
    assert!(
        quiet_page.contains(
            "The host's steal stayed below 1 % in every variant load of every run (highest 0.10 %)"
        ),
        "{quiet_page}"
    );
}
