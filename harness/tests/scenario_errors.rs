//! A bad scenario file is refused with its file, line and field, exit code 2,
//! before anything runs.

mod support;

use assert_cmd::Command;

/// Runs `commlab run` on a file holding `text`; returns stderr after checking
/// the exit code is 2 and nothing was written.
fn refused(text: &str) -> (String, String) {
    support::refused_run("errors", text)
}

/// An unknown field names itself, with its line.
#[test]
fn unknown_field() {
    let text = support::tiny_scenario("bad", "2s", "")
        .replace("seed = 11", "seed = 11\ncolour = \"blue\"");
    let (stderr, file) = refused(&text);
    assert!(
        stderr.contains(&format!("{file}:6: field `colour`")),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field"), "{stderr}");
}

/// A duration without a unit is refused where it is written.
#[test]
fn bad_duration() {
    let (stderr, file) = refused(&support::tiny_scenario("bad", "3x", ""));
    assert!(
        stderr.contains(&format!("{file}:4: field `duration`")),
        "{stderr}"
    );
    assert!(stderr.contains("bad duration \"3x\""), "{stderr}");
}

/// A fault that would end after the run is refused, naming the fault.
#[test]
fn fault_past_the_end() {
    let fault =
        "\n[[fault]]\ntarget = \"payments\"\nkind = \"crash\"\nstart = \"1s\"\nduration = \"5s\"\n";
    let (stderr, file) = refused(&support::tiny_scenario("bad", "2s", fault));
    assert!(
        stderr.contains(&format!("{file}:20: field `fault[1].duration`")),
        "{stderr}"
    );
    assert!(stderr.contains("past the end"), "{stderr}");
}

/// A target that does not exist is refused with the targets that do.
#[test]
fn unknown_target() {
    let fault =
        "\n[[fault]]\ntarget = \"database\"\nkind = \"crash\"\nstart = \"1s\"\nduration = \"1s\"\n";
    let (stderr, file) = refused(&support::tiny_scenario("bad", "2s", fault));
    assert!(
        stderr.contains(&format!("{file}:17: field `fault[1].target`")),
        "{stderr}"
    );
    assert!(stderr.contains("unknown variant `database`"), "{stderr}");
}

/// A fault kind that makes no sense on its target (a crash of the link) is refused.
#[test]
fn kind_that_makes_no_sense_for_its_target() {
    let fault =
        "\n[[fault]]\ntarget = \"link\"\nkind = \"crash\"\nstart = \"1s\"\nduration = \"1s\"\n";
    let (stderr, file) = refused(&support::tiny_scenario("bad", "2s", fault));
    assert!(
        stderr.contains(&format!("{file}:18: field `fault[1].kind`")),
        "{stderr}"
    );
    assert!(stderr.contains("makes no sense on link"), "{stderr}");
}

/// One bad file among good ones stops the whole command before any runs.
#[test]
fn one_bad_file_stops_everything() {
    let dir = support::scratch_dir("errors-many");
    let good = support::write(&dir, "good.toml", &support::tiny_scenario("good", "1s", ""));
    let bad = support::write(&dir, "bad.toml", &support::tiny_scenario("bad", "1.s", ""));
    let out = dir.join("out");
    Command::cargo_bin("commlab")
        .unwrap()
        .args([
            "run",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(2);
    assert!(!out.exists());
}

/// An unknown built-in name is a scenario error too, listing the real ones.
#[test]
fn unknown_builtin_name() {
    let assert = Command::cargo_bin("commlab")
        .unwrap()
        .args(["explain", "nosuch"])
        .assert()
        .code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("unknown scenario \"nosuch\""), "{stderr}");
    assert!(stderr.contains("payments-outage"), "{stderr}");
}

/// A bonus mix whose shares do not sum to 1 is refused where it is written,
/// with its sum: shares, not weights.
#[test]
fn bonus_mix_not_summing_to_one() {
    let text = support::tiny_scenario("bad", "2s", "").replace("big = 0.2", "big = 0.9");
    let (stderr, file) = refused(&text);
    assert!(
        stderr.contains(&format!("{file}:14: field `workload.bonus_mix`")),
        "{stderr}"
    );
    assert!(
        stderr.contains("shares must sum to 1, these sum to 1.7"),
        "{stderr}"
    );
}

/// An expectation the harness cannot check is refused at its line, naming
/// what is wrong.
#[test]
fn malformed_expectation() {
    let expect = "\n[[expect]]\nvariant = \"async\"\nthat = \"bonuses.lots == 0\"\n";
    let (stderr, file) = refused(&support::tiny_scenario("bad", "2s", expect));
    assert!(
        stderr.contains(&format!("{file}:18: field `expect[1].that`")),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown measure \"bonuses.lots\""),
        "{stderr}"
    );
}
