//! The `commlab` binary end to end.

mod support;

use assert_cmd::Command;
use serde_json::Value;

/// A quick run of a scenario file writes `<out>/<scenario>.json` with the
/// schema's names, a `.hgrm` per variant and operation, and the replay command.
#[test]
fn quick_run_writes_results_with_the_required_names() {
    let dir = support::scratch_dir("cli");
    let fault = concat!(
        "\n[[fault]]\ntarget = \"stream\"\nkind = \"stream-down\"\nstart = \"0.5s\"\nduration = \"0.5s\"\n",
        "\n[[expect]]\nvariant = \"async\"\nthat = \"bonuses.paid_twice == 0\"\n",
        "\n[[expect]]\nvariant = \"async\"\nthat = \"bonuses.accepted < 0\"\n",
    );
    let file = support::write(
        &dir,
        "tiny.toml",
        &support::tiny_scenario("tiny", "2s", fault),
    );
    let out = dir.join("out");
    Command::cargo_bin("commlab")
        .unwrap()
        .args([
            "run",
            file.to_str().unwrap(),
            "--quick",
            "--seed",
            "5",
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();

    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tiny.json")).unwrap()).unwrap();
    for key in [
        "scenario",
        "title",
        "lesson",
        "seed",
        "command",
        "commit",
        "environment",
        "quick",
        "duration_s",
        "slo_ms",
        "workload",
        "timeline",
        "schedule_fingerprint",
        "variants",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["seed"], 5);
    // Each expectation checked against the run: one that must hold, one that cannot.
    let expectations = json["expectations"].as_array().unwrap();
    assert_eq!(expectations.len(), 2);
    assert_eq!(expectations[0]["that"], "bonuses.paid_twice == 0");
    assert_eq!(expectations[0]["held"], true);
    assert_eq!(expectations[1]["held"], false);
    assert_eq!(json["quick"], true);
    assert!(json["command"].as_str().unwrap().contains("--seed 5"));
    assert!(json["command"].as_str().unwrap().contains("--quick"));
    let variants = json["variants"].as_array().unwrap();
    let names: Vec<&str> = variants
        .iter()
        .map(|v| v["variant"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sync", "sync-buffered", "sync-resilient", "async"]);
    for variant in variants {
        variant_has_the_schema(variant, &json, &out);
    }
    // A stream outage makes no sense for the synchronous design: reported, not ignored.
    // Each record names the fault by its index in the timeline.
    let timeline = json["timeline"].as_array().unwrap();
    for sync in &variants[..3] {
        let records = sync["not_applicable"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{records:?}");
        let fault = records[0]["fault"].as_u64().unwrap() as usize;
        assert_eq!(timeline[fault]["kind"], "stream-down");
        assert_eq!(records[0]["label"], timeline[fault]["label"]);
        assert!(!records[0]["reason"].as_str().unwrap().is_empty());
    }
    assert!(variants[3]["not_applicable"].as_array().unwrap().is_empty());
}

/// One variant's results: every required name, a money series that adds up
/// to the totals, three phases, a histogram per operation.
fn variant_has_the_schema(variant: &Value, json: &Value, out: &std::path::Path) {
    for key in [
        "schedule_fingerprint",
        "not_applicable",
        "interrupted",
        "operations",
        "bonuses",
        "deliveries",
        "bonus_to_paid_ms",
        "backlog",
        "money",
        "phases",
        "base",
        "configuration",
        "recovery",
        "amplification",
        "final_stats",
        "money_series",
    ] {
        assert!(variant.get(key).is_some(), "missing variants[].{key}");
    }
    // The per-second money series adds up to the run's totals.
    for class in ["lost", "paid_twice", "under_paid", "stale", "repriced"] {
        let seconds: u64 = variant["money_series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[class].as_u64().unwrap())
            .sum();
        let total = variant["bonuses"][class].as_u64().unwrap()
            + variant["deliveries"][class].as_u64().unwrap();
        assert_eq!(seconds, total, "money_series.{class}");
    }
    assert_eq!(
        variant["schedule_fingerprint"],
        json["schedule_fingerprint"]
    );
    assert_eq!(variant["phases"].as_array().unwrap().len(), 3);
    for operation in ["bonus", "delivery", "performance"] {
        let hgrm = out.join("tiny").join(format!(
            "{}-{operation}.hgrm",
            variant["variant"].as_str().unwrap()
        ));
        assert!(
            std::fs::read_to_string(hgrm)
                .unwrap()
                .contains("#[Mean    =")
        );
    }
}

/// `list` names every built-in scenario; `explain` prints a lesson and a timeline.
#[test]
fn list_and_explain_describe_the_suite() {
    let listed = Command::cargo_bin("commlab")
        .unwrap()
        .arg("list")
        .assert()
        .success();
    let listed = String::from_utf8(listed.get_output().stdout.clone()).unwrap();
    for name in commlab::builtin::names() {
        assert!(listed.contains(name), "{name} not listed");
    }
    let explained = Command::cargo_bin("commlab")
        .unwrap()
        .args(["explain", "payments-outage"])
        .assert()
        .success();
    let explained = String::from_utf8(explained.get_output().stdout.clone()).unwrap();
    assert!(explained.contains("Timeline:"));
    assert!(explained.contains("payments crash"));
}

/// `serve` on a port that is taken fails at once, naming the service and the
/// address.
#[test]
fn serve_on_a_taken_port_names_the_service_and_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::cargo_bin("commlab")
        .unwrap()
        .args(["serve", "async", "--payments-addr", &addr])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("Payments cannot listen on {addr}")),
        "{stderr}"
    );
}
