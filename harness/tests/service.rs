//! `commlab service`: each service of a variant in a process of its own. Two
//! processes pointed at each other pay the right money and report their own
//! counters on `GET /_stats`; a taken port is exit 2 naming the service; a
//! service outlives no parent; the async variant's two processes meet on a
//! private nats-server.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use support::{alive, children_named};

use common::api::internal::TOKEN_ENV;
use common::system::{Service, ServiceReport, Stats, Variant};
use serde_json::{Value, json};
use variants::VariantSpec;

/// A `commlab service` child, killed when dropped.
struct ServiceProcess {
    child: Child,
    addr: SocketAddr,
    /// Held open: a closed stdout would end the child on its next write.
    _stdout: BufReader<ChildStdout>,
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spec_json(variant: Variant) -> String {
    serde_json::to_string(&VariantSpec::preset(variant)).expect("a spec is JSON")
}

/// The internal token both processes of a test share.
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn command(service: Service, spec: &str, listen: &str, peer: SocketAddr) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_commlab"));
    command
        .args([
            "service",
            service.name(),
            "--spec",
            spec,
            "--listen",
            listen,
        ])
        .args(["--peer", &peer.to_string(), "--seed", "7"])
        .env(TOKEN_ENV, TOKEN);
    command
}

/// Starts a service and reads its one stdout line, `listening ADDR`.
fn spawn(mut command: Command) -> ServiceProcess {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("commlab starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("its stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("its first line");
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("not a listening line: {line:?}"))
        .parse()
        .expect("an address");
    ServiceProcess {
        child,
        addr,
        _stdout: stdout,
    }
}

/// A loopback port free now (the OS picked it; nobody holds it after this).
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("its address")
}

/// Both services of `variant`, each in its process, pointed at each other.
fn start_pair(variant: Variant, extra: &[&str]) -> (ServiceProcess, ServiceProcess) {
    let spec = spec_json(variant);
    let incentives_addr = free_port();
    let mut payments = command(Service::Payments, &spec, "127.0.0.1:0", incentives_addr);
    payments.args(extra);
    let payments = spawn(payments);
    let listen = incentives_addr.to_string();
    let mut incentives = command(Service::Incentives, &spec, &listen, payments.addr);
    incentives.args(extra);
    let incentives = spawn(incentives);
    assert_eq!(incentives.addr, incentives_addr);
    (incentives, payments)
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client")
}

fn post(addr: SocketAddr, path: &str, body: Value) -> u16 {
    let url = format!("http://{addr}{path}");
    let answer = client().post(url).json(&body).send().expect("an answer");
    answer.status().as_u16()
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let url = format!("http://{addr}{path}");
    client()
        .get(url)
        .send()
        .and_then(|answer| answer.json())
        .expect("a JSON answer")
}

fn report(addr: SocketAddr) -> ServiceReport {
    serde_json::from_value(get(addr, "/_stats")).expect("a service report")
}

fn total(payments: SocketAddr, courier: u64) -> f64 {
    get(payments, &format!("/payments/{courier}"))["total"]
        .as_f64()
        .expect("a total")
}

/// Polls `done` every 20 ms for at most 10 s; panics naming `what`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let held = support::wait_for(Duration::from_secs(10), || done().then_some(()));
    assert!(held.is_some(), "timed out: {what}");
}

/// A HIGH courier's BIG bonus (22) and a delivery (4.95), through the edges
/// of two processes; then each service's own report.
fn pay_and_check(incentives: SocketAddr, payments: SocketAddr) {
    let high = json!({"performance": "HIGH"});
    assert_eq!(post(incentives, "/incentives/performance/42", high), 202);
    let bonus = json!({"bonusType": "BIG", "bonusId": "b-1"});
    assert_eq!(post(incentives, "/incentives/bonuses/42", bonus), 202);
    // Async: the delivery after the bonus is paid, so that the performance
    // event before it has reached Payments' copy.
    wait_until("the bonus is paid", || total(payments, 42) == 22.0);
    let delivery = json!({"courierId": 42, "amount": 4.5, "deliveryId": "d-1"});
    assert_eq!(post(payments, "/payments", delivery), 202);
    assert_eq!(total(payments, 42), 26.95);
    wait_until("both settled", || {
        report(incentives).stats.is_settled() && report(payments).stats.is_settled()
    });

    let paying = report(payments);
    assert_eq!(paying.service, Service::Payments);
    assert_eq!(paying.stats.payouts, 2);
    assert_eq!(paying.stats.incentives, Stats::default().incentives);
    assert!(
        paying.internal_errors.is_empty(),
        "{:?}",
        paying.internal_errors
    );
    let granting = report(incentives);
    assert_eq!(granting.service, Service::Incentives);
    assert_eq!(granting.stats.payouts, 0);
    assert_eq!(granting.stats.payments, Stats::default().payments);
    assert!(granting.stats.incentives.ok >= 2);
    // Reading /_stats is not counted: nothing else reached the edges in between.
    assert_eq!(
        report(incentives).stats.incentives,
        granting.stats.incentives
    );
    assert_eq!(report(payments).stats.payments, paying.stats.payments);
}

/// sync: two processes calling each other pay a bonus and a delivery right.
#[test]
fn two_sync_processes_pay_through_each_other() {
    let (incentives, payments) = start_pair(Variant::Sync, &[]);
    pay_and_check(incentives.addr, payments.addr);
}

/// async: two processes meet on a private nats-server's stream.
#[test]
fn two_async_processes_pay_through_the_stream() {
    let server = match async_variant::nats_server::NatsServer::start() {
        Ok(server) => server,
        Err(async_variant::nats_server::ServerError::NotInstalled) => {
            eprintln!("skipped: no nats-server on PATH");
            return;
        }
        Err(error) => panic!("the private nats-server: {error}"),
    };
    let (incentives, payments) = start_pair(Variant::Async, &["--nats", &server.url()]);
    pay_and_check(incentives.addr, payments.addr);
    drop((incentives, payments));
    server.kill();
}

/// A taken port: exit 2, and the message names the service and the address.
#[test]
fn a_taken_port_is_exit_2_naming_the_service() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("its address").to_string();
    let spec = spec_json(Variant::Sync);
    let output = command(Service::Payments, &spec, &addr, free_port())
        .output()
        .expect("commlab runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Payments cannot listen on"), "{stderr}");
    assert!(stderr.contains(&addr), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing served");
}

/// A corrupt database file: exit 2, naming the service and what SQLite said,
/// and the file is left as it was (nothing written over it).
#[test]
fn a_corrupt_database_is_exit_2_naming_the_service() {
    let dir = support::scratch_dir("corrupt-db");
    let file = dir.join("payments.sqlite");
    let garbage =
        b"this is not a SQLite database, and it is long enough to have a header".repeat(20);
    std::fs::write(&file, &garbage).expect("write the corrupt file");
    let spec = spec_json(Variant::Sync);
    let output = command(Service::Payments, &spec, "127.0.0.1:0", free_port())
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .expect("commlab runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("commlab service payments"), "{stderr}");
    assert!(stderr.contains("not a database"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing served");
    assert_eq!(std::fs::read(&file).expect("still there"), garbage);
}

/// Bad arguments: exit 2 naming what is wrong.
#[test]
fn bad_arguments_are_exit_2() {
    let sync = spec_json(Variant::Sync);
    let cases = [
        (
            "{\"name\":1}".to_string(),
            "127.0.0.1:0",
            None,
            "--spec is not a variant",
        ),
        (sync.clone(), "0.0.0.0:0", None, "loopback"),
        (
            sync,
            "127.0.0.1:0",
            Some("nats://127.0.0.1:4222"),
            "async variant only",
        ),
        (
            spec_json(Variant::Async),
            "127.0.0.1:0",
            None,
            "pass --nats",
        ),
    ];
    let mut no_token = command(
        Service::Payments,
        &spec_json(Variant::Sync),
        "127.0.0.1:0",
        free_port(),
    );
    let output = no_token
        .env_remove(TOKEN_ENV)
        .output()
        .expect("commlab runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains(TOKEN_ENV));
    for (spec, listen, nats, expected) in cases {
        let mut command = command(Service::Incentives, &spec, listen, free_port());
        if let Some(url) = nats {
            command.args(["--nats", url]);
        }
        let output = command.output().expect("commlab runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("commlab service incentives"), "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

/// A parent SIGKILLed (no destructor runs) takes its service with it.
#[test]
fn a_killed_parent_leaves_no_service() {
    let spec = spec_json(Variant::Sync);
    let peer = free_port().to_string();
    let script = r#""$0" service payments --spec "$1" --listen 127.0.0.1:0 --peer "$2" & wait"#;
    let mut parent = Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_commlab"), &spec, &peer])
        .env(TOKEN_ENV, TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh starts");
    let mut stdout = BufReader::new(parent.stdout.take().expect("its stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a line");
    assert!(line.starts_with("listening "), "{line:?}");
    let service = children_named(parent.id(), "commlab");
    assert_eq!(service.len(), 1, "one service under sh: {service:?}");

    parent.kill().expect("SIGKILL");
    parent.wait().expect("reaped");
    let started = Instant::now();
    while alive(service[0]) && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive(service[0]) {
        let _ = Command::new("kill")
            .args(["-9", &service[0].to_string()])
            .status();
        panic!("commlab service {} outlived its parent", service[0]);
    }
}
