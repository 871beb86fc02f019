//! One supervised child process: a service the harness started, and the
//! only place process mode touches processes.
//!
//! A child is started with its stdout and stderr piped. It is ready when it
//! prints `listening ADDR` as its first line on stdout (bounded wait,
//! [`READY_BOUND`]); anything it prints after is read and dropped, so that a
//! full pipe never blocks it. Its stderr is read all along and its last few
//! KB kept ([`STDERR_KEPT`]): a start that fails, or an exit nobody asked for,
//! is reported with the service's name and those lines.
//!
//! The faults are signals: [`Child::kill`] is SIGKILL (no flush, no goodbye),
//! [`Child::pause`] SIGSTOP and [`Child::resume`] SIGCONT (through `rustix`:
//! the workspace forbids `unsafe`). [`Child::restart`] starts the same
//! program with the same arguments — the caller passes the port it had, so a
//! restarted service is where it was.
//!
//! **No child outlives the harness.** Each child runs in a process group of
//! its own, so a terminal's Ctrl-C reaches only the harness, which stops the
//! run and drops its children; dropping a [`Child`] kills it (SIGKILL, which
//! also ends a stopped one) and waits for it — at the end, on error, on a
//! panic that unwinds. A second Ctrl-C exits at once, without destructors, so
//! every live child is also in a process-wide list that [`kill_all`] empties
//! first. What none of that covers (the harness SIGKILLed) the child covers
//! itself: `commlab service` asks the kernel for SIGKILL when its parent
//! dies (`set_parent_process_death_signal`). Linux sends that when the
//! *thread* that spawned the child ends, so spawn from a thread that lives
//! as long as the child (the harness spawns from its main thread).
//!
//! Next: `processes/mod.rs`, the two services as a `System`.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::domain::lock;
use rustix::process::{Pid, Signal, kill_process};

/// How long a child may take to print `listening`. A service opens its
/// SQLite files and binds a port in milliseconds; 20 s only bounds a broken
/// start (a debug build on a busy 2-core machine is slow to exec).
pub const READY_BOUND: Duration = Duration::from_secs(20);

/// How much of a child's stderr is kept: the last lines of a panic or of a
/// clap error fit, a chatty log does not crowd the report.
pub const STDERR_KEPT: usize = 4096;

/// Every live child's pid, for [`kill_all`].
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// SIGKILLs every child this process started and has not reaped: what a
/// second Ctrl-C calls before `exit`, which runs no destructor.
pub fn kill_all() {
    for pid in lock(&LIVE).drain(..) {
        signal_pid(pid, Signal::KILL);
    }
}

/// Why a child did not become ready.
#[derive(Debug, thiserror::Error)]
#[error("{name} did not start: {reason}{}", stderr_suffix(.stderr))]
pub struct StartError {
    /// The service's name (`incentives`).
    pub name: String,
    pub reason: String,
    /// The last lines it wrote to stderr.
    pub stderr: String,
}

fn stderr_suffix(stderr: &str) -> String {
    match stderr.trim() {
        "" => " (nothing on stderr)".to_string(),
        text => format!("; its stderr:\n{text}"),
    }
}

/// The last [`STDERR_KEPT`] bytes a child wrote to stderr, over restarts.
#[derive(Clone, Debug, Default)]
struct StderrTail(Arc<Mutex<VecDeque<u8>>>);

impl StderrTail {
    fn push(&self, bytes: &[u8]) {
        let mut tail = lock(&self.0);
        tail.extend(bytes);
        let excess = tail.len().saturating_sub(STDERR_KEPT);
        tail.drain(..excess);
    }

    fn text(&self) -> String {
        let tail = lock(&self.0);
        String::from_utf8_lossy(&tail.iter().copied().collect::<Vec<u8>>()).into_owned()
    }
}

/// A running child; `process` is `None` once killed.
#[derive(Debug)]
pub struct Child {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    /// Variables set in its environment (a secret both services share).
    env: Vec<(OsString, OsString)>,
    addr: SocketAddr,
    process: Option<std::process::Child>,
    stderr: StderrTail,
    /// The thread reading its stderr: done once the process and its heirs closed it.
    stderr_reader: JoinHandle<()>,
}

impl Child {
    /// Starts `program args…` and waits (bounded) for its `listening ADDR`.
    pub fn start(name: &str, program: PathBuf, args: Vec<OsString>) -> Result<Child, StartError> {
        Child::start_with_env(name, program, args, Vec::new())
    }

    /// [`Child::start`] with `env` added to its environment (kept for restarts).
    pub fn start_with_env(
        name: &str,
        program: PathBuf,
        args: Vec<OsString>,
        env: Vec<(OsString, OsString)>,
    ) -> Result<Child, StartError> {
        let stderr = StderrTail::default();
        let how = (program.as_path(), args.as_slice(), env.as_slice());
        let (process, addr, stderr_reader) = spawn(name, how, &stderr)?;
        Ok(Child {
            name: name.to_string(),
            program,
            args,
            env,
            addr,
            process: Some(process),
            stderr,
            stderr_reader,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it said it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(std::process::Child::id)
    }

    /// The last lines it wrote to stderr.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// SIGKILL, and waits for it to be gone. Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
            lock(&LIVE).retain(|&pid| pid != process.id());
        }
    }

    /// SIGSTOP: it keeps its sockets and answers nothing.
    pub fn pause(&self) {
        if let Some(pid) = self.pid() {
            signal_pid(pid, Signal::STOP);
        }
    }

    /// SIGCONT.
    pub fn resume(&self) {
        if let Some(pid) = self.pid() {
            signal_pid(pid, Signal::CONT);
        }
    }

    /// Kills it if it runs, then starts it again with `args` (the caller
    /// passes the address it listened on) and waits for `listening`.
    pub fn restart(&mut self, args: Vec<OsString>) -> Result<(), StartError> {
        self.kill();
        let how = (self.program.as_path(), args.as_slice(), self.env.as_slice());
        let (process, addr, reader) = spawn(&self.name, how, &self.stderr)?;
        self.stderr_reader = reader;
        self.args = args;
        self.addr = addr;
        self.process = Some(process);
        Ok(())
    }

    /// `Some(description)` if it exited since it was started (and was not
    /// killed here): how it ended and its stderr. Reaps it; asks once.
    pub fn exited(&mut self) -> Option<String> {
        let status = self.process.as_mut()?.try_wait().ok()??;
        self.kill();
        wait_finished(&self.stderr_reader);
        Some(format!(
            "{} exited when no fault asked for it ({status}){}",
            self.name,
            stderr_suffix(&self.stderr())
        ))
    }

    /// The arguments it was last started with.
    pub fn args(&self) -> &[OsString] {
        &self.args
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal_pid(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        // Fails only if the process is gone, which `kill` reaps anyway.
        let _ = kill_process(pid, signal);
    }
}

/// Waits up to a second for a reader to reach the end of its pipe (a
/// grandchild may hold it open: bounded).
fn wait_finished(reader: &JoinHandle<()>) {
    let started = Instant::now();
    while !reader.is_finished() && started.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Spawns, records the pid in [`LIVE`], starts the readers, waits for ready.
fn spawn(
    name: &str,
    (program, args, env): (&Path, &[OsString], &[(OsString, OsString)]),
    stderr: &StderrTail,
) -> Result<(std::process::Child, SocketAddr, JoinHandle<()>), StartError> {
    let failed = |reason: String| StartError {
        name: name.to_string(),
        reason,
        stderr: stderr.text(),
    };
    let mut process = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group: a terminal's Ctrl-C goes to the harness only.
        .process_group(0)
        .spawn()
        .map_err(|e| failed(format!("could not run {}: {e}", program.display())))?;
    lock(&LIVE).push(process.id());
    let stderr_done = read_stderr(process.stderr.take(), stderr.clone());
    let ready = wait_listening(process.stdout.take());
    match ready {
        Ok(addr) => Ok((process, addr, stderr_done)),
        Err(reason) => {
            let _ = process.kill();
            let status = process.wait().map(|s| s.to_string()).unwrap_or_default();
            lock(&LIVE).retain(|&pid| pid != process.id());
            wait_finished(&stderr_done);
            Err(failed(format!("{reason} ({status})")))
        }
    }
}

/// Reads stderr into the tail until the pipe closes.
fn read_stderr(pipe: Option<std::process::ChildStderr>, tail: StderrTail) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let Some(mut pipe) = pipe else { return };
        let mut buffer = [0u8; 1024];
        // Bounded by the pipe: ends when the child (and its heirs) close it.
        while let Ok(n @ 1..) = pipe.read(&mut buffer) {
            tail.push(&buffer[..n]);
        }
    })
}

/// Waits up to [`READY_BOUND`] for `listening ADDR` as the first stdout line,
/// then leaves a thread draining the rest.
fn wait_listening(pipe: Option<std::process::ChildStdout>) -> Result<SocketAddr, String> {
    let pipe = pipe.ok_or("no stdout")?;
    let (first, line) = channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut text = String::new();
        if matches!(reader.read_line(&mut text), Ok(1..)) {
            let _ = first.send(text);
        }
        // Drained until the pipe closes, so the child never blocks on it.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    match line.recv_timeout(READY_BOUND) {
        Ok(text) => parse_listening(&text),
        Err(RecvTimeoutError::Timeout) => {
            Err(format!("no `listening` line within {READY_BOUND:?}"))
        }
        Err(RecvTimeoutError::Disconnected) => {
            Err("it exited before printing `listening`".to_string())
        }
    }
}

/// `listening 127.0.0.1:PORT` → the address.
fn parse_listening(line: &str) -> Result<SocketAddr, String> {
    line.strip_prefix("listening ")
        .and_then(|addr| addr.trim().parse().ok())
        .ok_or_else(|| format!("its first line was {line:?}, not `listening ADDR`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in service: `sh -c SCRIPT` (the real one needs the binary).
    fn sh(script: &str) -> (PathBuf, Vec<OsString>) {
        ("/bin/sh".into(), vec!["-c".into(), script.into()])
    }

    /// The state letter in /proc/PID/stat (`S` sleeping, `T` stopped), or
    /// `None` when there is no such process.
    fn state(pid: u32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit(") ").next()?.chars().next()
    }

    const SERVES: &str = "echo 'listening 127.0.0.1:4321'; echo chatter; exec sleep 30";

    #[test]
    fn waits_for_listening_and_kills_on_drop() {
        let (program, args) = sh(SERVES);
        let child = Child::start("payments", program, args).expect("it starts");
        assert_eq!(child.addr(), "127.0.0.1:4321".parse().unwrap());
        let pid = child.pid().expect("running");
        assert!(state(pid).is_some());
        assert!(lock(&LIVE).contains(&pid));
        drop(child);
        assert_eq!(state(pid), None, "dropped, the child is gone and reaped");
        assert!(!lock(&LIVE).contains(&pid));
    }

    #[test]
    fn a_child_that_exits_before_listening_is_named_with_its_stderr() {
        let (program, args) = sh("echo 'port 4321 is taken' >&2; exit 2");
        let error = Child::start("incentives", program, args).expect_err("it fails");
        let text = error.to_string();
        assert!(text.starts_with("incentives did not start"), "{text}");
        assert!(text.contains("port 4321 is taken"), "{text}");
        assert!(text.contains("exit status: 2"), "{text}");
    }

    #[test]
    fn a_first_line_that_is_not_listening_is_a_start_error() {
        let (program, args) = sh("echo hello; exec sleep 30");
        let error = Child::start("payments", program, args).expect_err("not ready");
        assert!(error.reason.contains("\"hello\\n\""), "{}", error.reason);
    }

    #[test]
    fn pause_resume_kill_and_restart_are_signals_to_the_process() {
        let (program, args) = sh(SERVES);
        let mut child = Child::start("payments", program, args.clone()).expect("it starts");
        let pid = child.pid().unwrap();
        child.pause();
        assert!(wait_for(|| state(pid) == Some('T')), "SIGSTOP stops it");
        child.resume();
        assert!(wait_for(|| state(pid) == Some('S')), "SIGCONT continues it");
        child.kill();
        assert_eq!((child.pid(), state(pid)), (None, None));
        assert_eq!(
            child.exited(),
            None,
            "a kill the harness made is not an exit"
        );
        child.restart(args).expect("it starts again");
        let again = child.pid().unwrap();
        assert_ne!(again, pid);
        assert!(
            matches!(state(again), Some('R' | 'S')),
            "{:?}",
            state(again)
        );
    }

    #[test]
    fn an_exit_nobody_asked_for_is_reported_once_with_stderr() {
        let (program, args) =
            sh("echo 'listening 127.0.0.1:4321'; echo 'panicked at ledger' >&2; exit 101");
        let mut child = Child::start("payments", program, args).expect("it starts");
        let seen = wait_until(|| child.exited());
        let text = seen.expect("the exit is noticed");
        assert!(
            text.contains("payments exited when no fault asked for it"),
            "{text}"
        );
        assert!(text.contains("101"), "{text}");
        assert!(text.contains("panicked at ledger"), "{text}");
        assert_eq!(child.exited(), None, "reported once");
    }

    fn wait_for(mut check: impl FnMut() -> bool) -> bool {
        wait_until(|| check().then_some(())).is_some()
    }

    /// Polls up to 5 s.
    fn wait_until<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Some(value) = check() {
                return Some(value);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}
