//! The private broker's lifetime: no `nats-server` outlives the harness that
//! started it, even a harness killed with SIGKILL, which runs no destructor.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{alive, children_named};

/// `commlab serve async --stream nats`, SIGKILLed: the kernel kills its
/// server with it (the parent-death signal, `async_variant/src/nats_server.rs`).
#[test]
fn a_harness_killed_with_sigkill_leaves_no_server() {
    let mut harness = Command::new(env!("CARGO_BIN_EXE_commlab"))
        .args(["serve", "async", "--stream", "nats"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("commlab starts");
    let stdout = harness.stdout.take().expect("its stdout");
    // Serve prints a dozen lines, then waits for Ctrl-C; it exits (and the
    // lines end) if it cannot start. The reader stays open until the kill: a
    // closed pipe would end commlab by itself, through its destructors.
    let mut lines = BufReader::new(stdout).lines();
    let serving = lines
        .by_ref()
        .take(20)
        .map_while(Result::ok)
        .any(|line| line.starts_with("I="));
    assert!(serving, "commlab serve did not start");
    let server = children_named(harness.id(), "nats-server");
    assert_eq!(server.len(), 1, "one private server: {server:?}");

    harness.kill().expect("SIGKILL");
    harness.wait().expect("reaped");
    drop(lines);
    // No destructor ran: the store (`nats_server.rs` names it by the
    // harness's pid) is left behind, and removed here.
    let store = std::env::temp_dir().join(format!("commlab-nats-{}-0", harness.id()));
    let _ = std::fs::remove_dir_all(store);

    let started = Instant::now();
    // Bounded: 5 s in 20 ms steps.
    while alive(server[0]) && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive(server[0]) {
        let _ = Command::new("kill")
            .args(["-9", &server[0].to_string()])
            .status();
        panic!("nats-server {} outlived its harness", server[0]);
    }
}
