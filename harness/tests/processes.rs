//! Process mode (`commlab run --processes`): each service its own process,
//! every crash a real SIGKILL — money survives it, a death nobody asked for
//! is named, a failed start names its service, and no child outlives an
//! interrupted harness.

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use commlab::processes::child::Child;
use commlab::processes::{Options, ProcessSystem};
use commlab::results::{Mode, ScenarioResults, VariantResults};
use common::system::{System, Variant};
use rustix::process::{Pid, Signal, kill_process};
use variants::VariantSpec;

const COMMLAB: &str = env!("CARGO_BIN_EXE_commlab");

/// Payments killed with SIGKILL from 0.5 s to 1.2 s of a 2 s run (a few
/// hundred requests), restarted on its SQLite files at heal.
fn payments_killed() -> String {
    let fault = "\n[[fault]]\ntarget = \"payments\"\nkind = \"crash\"\nstart = \"0.5s\"\nduration = \"0.7s\"\n";
    support::tiny_scenario("payments-killed", "2s", fault)
}

/// `commlab run --processes [ARGS] --out DIR` on `text` (a scenario named
/// `name`; `None`: the built-in `name`), its results.
fn run_processes(name: &str, text: Option<&str>, args: &[&str]) -> ScenarioResults {
    let dir = support::scratch_dir(&format!("{name}{}", args.join("")));
    let scenario = match text {
        Some(text) => support::write(&dir, "scenario.toml", text)
            .display()
            .to_string(),
        None => name.to_string(),
    };
    let out = dir.join("out");
    let output = Command::new(COMMLAB)
        .args(["run", "--processes", "--out"])
        .arg(&out)
        .arg(&scenario)
        .args(args)
        .output()
        .expect("commlab runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = std::fs::read_to_string(out.join(format!("{name}.json"))).expect("results");
    serde_json::from_str(&json).expect("results parse")
}

/// The variant named `name` in `results`.
fn variant<'a>(results: &'a ScenarioResults, name: &str) -> &'a VariantResults {
    let found = results.variants.iter().find(|v| v.variant == name);
    found.unwrap_or_else(|| panic!("{name} ran"))
}

/// Kill -9 of Payments mid-run: after the restart on the same database, no
/// accepted payout is lost and none is paid twice, and the results say
/// which mode ran.
#[test]
fn kill_9_of_payments_loses_and_doubles_nothing() {
    let text = payments_killed();
    let results = run_processes("payments-killed", Some(&text), &["--variant", "sync"]);
    assert_eq!(results.mode, Mode::Processes);
    assert_eq!(results.storage.payments, "sqlite");
    let run = &results.variants[0];
    assert!(run.evidence.ok, "{:?}", run.evidence.reasons);
    assert_eq!(
        run.internal_errors.count, 0,
        "{:?}",
        run.internal_errors.reasons
    );
    let paid = run.deliveries.paid + run.bonuses.paid;
    assert!(paid > 50, "the run paid something: {paid}");
    assert!(
        run.deliveries.rejected > 0,
        "the kill refused some deliveries"
    );
    assert_eq!(run.deliveries.lost + run.bonuses.lost, 0);
    assert_eq!(run.deliveries.paid_twice + run.bonuses.paid_twice, 0);
}

/// Kill -9 of Payments with its state in memory: the restart has an empty
/// ledger, so what it had paid before the kill is gone — counted as lost —
/// and the ledger's own count no longer matches: not evidence. What the
/// in-process crash, which keeps memory, can never show.
#[test]
fn kill_9_of_payments_in_memory_loses_what_it_had_paid() {
    let text = payments_killed();
    let args = ["--variant", "sync", "--memory-state"];
    let results = run_processes("payments-killed", Some(&text), &args);
    assert_eq!(results.mode, Mode::Processes);
    assert_eq!(results.storage.payments, "memory");
    let run = &results.variants[0];
    assert_eq!(
        run.internal_errors.count, 0,
        "{:?}",
        run.internal_errors.reasons
    );
    assert!(
        run.deliveries.rejected > 0,
        "the kill refused some deliveries"
    );
    assert!(
        run.deliveries.lost > 0,
        "paid before the kill, gone after it"
    );
    assert_eq!(run.deliveries.paid_twice + run.bonuses.paid_twice, 0);
}

/// The built-in `buffer-crash` as processes: Incentives is SIGKILLed while
/// Payments is down. sync-buffered's buffer in Incentives' memory dies with
/// it — every bonus it held is lost — while the same buffer in SQLite keeps
/// them and resends them after the restart; async loses none.
#[test]
fn kill_9_of_incentives_loses_the_memory_buffer_only() {
    let results = run_processes("buffer-crash", None, &[]);
    assert_eq!(results.storage.incentives, "sqlite");
    for run in &results.variants {
        let errors = &run.internal_errors;
        assert_eq!(errors.count, 0, "{}: {:?}", run.variant, errors.reasons);
        assert_eq!(run.bonuses.paid_twice, 0, "{}", run.variant);
    }
    let memory = variant(&results, "sync-buffered");
    assert_eq!(memory.configuration["buffer"], "memory");
    assert!(memory.bonuses.lost > 0, "the buffer died with Incentives");
    let durable = variant(&results, "sync-buffered-durable");
    assert_eq!(durable.configuration["buffer"], "sqlite");
    assert_eq!(durable.bonuses.lost, 0);
    assert!(durable.bonuses.paid > 0);
    let async_run = variant(&results, "async");
    assert_eq!(async_run.bonuses.lost, 0);
    // Payments was killed too, and restarted with an empty memory: it rebuilt
    // its copy of performance, so every bonus was paid at the performance of
    // its place in the log.
    assert_eq!(async_run.bonuses.stale + async_run.bonuses.repriced, 0);
}

/// The stream is down, so Incentives' outbox fills; Incentives is SIGKILLed
/// with it full and restarted on its database: every event the outbox held
/// is published after the restart, and every accepted bonus is paid once.
#[test]
fn kill_9_of_incentives_with_a_full_outbox_publishes_every_event() {
    let faults = "
[[fault]]
target = \"stream\"
kind = \"stream-down\"
start = \"0.4s\"
duration = \"1.2s\"

[[fault]]
target = \"incentives\"
kind = \"crash\"
start = \"1s\"
duration = \"0.3s\"
";
    let text = support::tiny_scenario("outbox-killed", "2.5s", faults);
    let results = run_processes("outbox-killed", Some(&text), &["--variant", "async"]);
    let run = &results.variants[0];
    assert_eq!(
        run.internal_errors.count, 0,
        "{:?}",
        run.internal_errors.reasons
    );
    // The stream is down from 0.4 s: what the backlog holds just before the
    // kill at 1 s is in the outbox (the consumer had read all it could).
    let before_kill = run
        .backlog
        .series
        .iter()
        .filter(|p| (0.7..1.0).contains(&p.t_s));
    let held = before_kill.map(|p| p.backlog).max().unwrap_or(0);
    assert!(
        held > 0,
        "the outbox held events when Incentives was killed"
    );
    assert!(run.bonuses.paid > 0);
    assert_eq!(
        run.bonuses.lost, 0,
        "every accepted bonus was published and paid"
    );
    assert_eq!(run.bonuses.paid_twice, 0);
}

fn start_sync() -> ProcessSystem {
    let options = Options {
        program: PathBuf::from(COMMLAB),
        memory_state: true,
        keep_data: false,
    };
    let spec = VariantSpec::preset(Variant::Sync);
    ProcessSystem::start(&spec, &Default::default(), 1, &options).expect("both services start")
}

/// A service that dies when no fault asked for it is an internal error of
/// the run, named with the service; one that a fault kills is not.
#[test]
fn a_death_nobody_asked_for_is_an_internal_error() {
    let system = start_sync();
    let [_, payments] = system.pids();
    signal(payments.expect("Payments runs"), Signal::KILL);
    let stats = wait_for(|| Some(system.stats()).filter(|s| s.internal_errors > 0));
    assert_eq!(stats.map(|s| s.internal_errors), Some(1));
    let reasons = system.internal_errors();
    assert!(
        reasons[0].contains("payments exited when no fault asked for it"),
        "{reasons:?}"
    );
    Box::new(system).shutdown();
}

/// A service whose port is taken does not start: the error names the
/// service and carries what it wrote on stderr.
#[test]
fn a_start_failure_names_the_service_and_its_stderr() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let spec = serde_json::to_string(&VariantSpec::preset(Variant::Sync)).unwrap();
    let args = [
        "service",
        "payments",
        "--spec",
        &spec,
        "--listen",
        &addr,
        "--peer",
        "127.0.0.1:9",
    ];
    let error = Child::start("payments", COMMLAB.into(), args.map(Into::into).to_vec())
        .expect_err("the port is taken");
    let text = error.to_string();
    assert!(text.starts_with("payments did not start"), "{text}");
    assert!(text.contains(&addr), "its stderr names the address: {text}");
}

/// SIGINT to `commlab run --processes` mid-run: it stops with 130, and none
/// of the services it started is left running.
#[test]
fn no_child_outlives_an_interrupted_harness() {
    interrupt_after("sync", Duration::from_millis(500), "sigint");
}

/// SIGINT as soon as async's services exist, most likely while its stream
/// carries the couriers' performances to Payments (the setup waits for
/// that): an interrupted run too (130, not a failure's 1), and no child left.
#[test]
fn an_interrupt_during_the_setup_is_an_interrupt() {
    interrupt_after("async", Duration::ZERO, "sigint-setup");
}

/// Starts a 30 s run of `variant` in process mode, sends SIGINT `after` its
/// two services appear, and checks the exit code and that no service remains.
fn interrupt_after(variant: &str, after: Duration, label: &str) {
    let dir = support::scratch_dir(label);
    let text = support::tiny_scenario("long", "30s", "");
    let file = support::write(&dir, "long.toml", &text);
    let mut harness = Command::new(COMMLAB)
        .args(["run", "--processes", "--variant", variant, "--out"])
        .arg(dir.join("out"))
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let children = wait_for(|| Some(services_of(harness.id())).filter(|c| c.len() == 2))
        .expect("two services start");
    std::thread::sleep(after);
    signal(harness.id(), Signal::INT);
    let status = wait_for(|| harness.try_wait().ok().flatten()).expect("the harness stops");
    assert_eq!(
        status.code(),
        Some(130),
        "it handled the signal as an interrupt: {status}"
    );
    for pid in children {
        assert!(!support::alive(pid), "service {pid} outlived the harness");
    }
}

/// Processes whose parent is `parent` and whose command is `commlab service`.
fn services_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            support::stat(pid).is_some_and(|(_, _, ppid)| ppid == parent) && is_service(pid)
        })
        .collect()
}

fn is_service(pid: u32) -> bool {
    let path = format!("/proc/{pid}/cmdline");
    std::fs::read(Path::new(&path)).is_ok_and(|c| c.split(|&b| b == 0).nth(1) == Some(b"service"))
}

fn signal(pid: u32, signal: Signal) {
    let pid = Pid::from_raw(pid as i32).unwrap();
    kill_process(pid, signal).unwrap();
}

/// Polls up to 30 s (a debug build's services start slowly on 2 busy cores).
fn wait_for<T>(check: impl FnMut() -> Option<T>) -> Option<T> {
    support::wait_for(Duration::from_secs(30), check)
}
