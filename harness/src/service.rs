//! `commlab service incentives|payments`: one service of one variant, alone in
//! its process — the unit the harness's process mode spawns twice, so that a
//! crash is a real `kill -9` and a hang a real SIGSTOP.
//!
//! The process's life, in order:
//!
//! 1. It asks the kernel to SIGKILL it when its parent dies, then checks the
//!    parent is still there (it may have died before the request): a harness
//!    that is itself killed leaves no service behind.
//! 2. It reads the variant (`--spec`, a `variants::VariantSpec` as JSON) and
//!    starts its service with `variants::start_service` — the same wiring as
//!    both services in one process.
//! 3. It prints `listening 127.0.0.1:PORT`, once, the only line it writes to
//!    stdout: the parent reads the port from it (`--listen 127.0.0.1:0`).
//! 4. It serves until SIGTERM or SIGINT, then stops cleanly.
//!
//! The synchronous variant's two processes must share the internal token
//! (`common/src/api/internal.rs`): the parent sets `COMMLAB_INTERNAL_TOKEN`
//! for both. The parent-death signal fires when the parent's *thread* that
//! spawned the child exits: spawn from a thread that lives as long as the child.
//!
//! Anything wrong before it serves (a bad argument, a taken port, a broker
//! that is not there) is [`BadInput`] naming the service and the address:
//! exit code 2, nothing served.
//!
//! Next: `common/src/edges.rs` (the `GET /_stats` every service answers).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use common::api::internal::{MIN_TOKEN_LEN, TOKEN_ENV};
use common::store::Storage;
use common::system::Service;
use rustix::process::{Pid, Signal, getppid, set_parent_process_death_signal};
use variants::VariantSpec;

use crate::bad_input::BadInput;

/// What `commlab service` is asked to run (its command line).
#[derive(Clone, Debug, clap::Args)]
pub struct ServiceOptions {
    /// incentives or payments.
    pub service: Service,
    /// The variant as JSON (a `variants::VariantSpec`).
    #[arg(long, value_name = "JSON")]
    pub spec: String,
    /// Where this service listens (loopback; port 0: the OS picks).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Where it reaches the other service (sync; unused by async).
    #[arg(long, value_name = "ADDR")]
    pub peer: SocketAddr,
    /// Where its state is kept: `DIR/incentives.sqlite` or
    /// `DIR/payments.sqlite` (SQLite, WAL), opened again after a restart.
    /// Absent: in memory, lost with the process.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The async variant's stream: a NATS server both services reach.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// The stream's name on the NATS server (async): give both services of
    /// one system the same, and each system its own.
    #[arg(long, value_name = "NAME", default_value = "SERVICES")]
    pub stream_name: String,
    /// Seeds its fault randomness; give both services the same.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
}

/// Runs one service until SIGTERM or SIGINT.
pub fn run(options: &ServiceOptions) -> anyhow::Result<()> {
    die_with_parent()?;
    let service = options.service;
    let bad = |what: String| {
        BadInput(format!(
            "commlab service {service} on {}: {what}",
            options.listen
        ))
    };
    let spec: VariantSpec = serde_json::from_str(&options.spec)
        .map_err(|error| bad(format!("--spec is not a variant: {error}")))?;
    check(options, &spec).map_err(bad)?;
    let nats = options.nats.as_ref().map(|url| variants::NatsStream {
        url: url.clone(),
        stream: options.stream_name.clone(),
    });
    let running = variants::start_service(
        &spec,
        service,
        options.listen,
        options.peer,
        nats.as_ref(),
        storage(options),
        options.seed,
    )
    .map_err(|error| bad(error.to_string()))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening {}", running.addr())?;
    stdout.flush()?;
    drop(stdout);
    let waited = wait_for_stop();
    running.shutdown();
    waited
}

/// Where the service keeps its state: `--data-dir`, else memory.
fn storage(options: &ServiceOptions) -> Storage {
    match &options.data_dir {
        Some(dir) => Storage::Sqlite { dir: dir.clone() },
        None => Storage::Memory,
    }
}

/// Arguments that are wrong whatever the variant does with them.
fn check(options: &ServiceOptions, spec: &VariantSpec) -> Result<(), String> {
    if !options.listen.ip().is_loopback() {
        return Err("--listen must be a loopback address (127.0.0.1)".into());
    }
    let is_async = spec.base() == common::system::Variant::Async;
    let token = std::env::var(TOKEN_ENV).unwrap_or_default();
    if !is_async && token.len() < MIN_TOKEN_LEN {
        return Err(format!(
            "Incentives pays bonuses on Payments' internal route: set {TOKEN_ENV} to the same \
             secret (at least {MIN_TOKEN_LEN} characters) for both services"
        ));
    }
    let name = &options.stream_name;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "--stream-name {name:?}: letters, digits and `_` only (it names a JetStream stream and its subjects)"
        ));
    }
    match (&options.nats, is_async) {
        (Some(_), false) => Err("--nats applies to the async variant only".into()),
        (None, true) => Err(
            "the async variant's services meet on a stream in NATS: pass --nats nats://HOST:PORT"
                .into(),
        ),
        _ => Ok(()),
    }
}

/// The kernel SIGKILLs this process when its parent thread exits. A parent
/// that died before the request leaves this process adopted (by init or a
/// subreaper): it exits at once rather than serve nobody.
fn die_with_parent() -> anyhow::Result<()> {
    let parent = getppid();
    set_parent_process_death_signal(Some(Signal::KILL))?;
    // 0: a parent outside this pid namespace; 1: init, the adopter.
    if Pid::as_raw(parent) <= 1 || getppid() != parent {
        anyhow::bail!("commlab service: its parent is gone; not starting");
    }
    Ok(())
}

/// Blocks until SIGTERM or SIGINT, on a runtime of its own: the service runs
/// on its own threads.
fn wait_for_stop() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let waiter = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    waiter.block_on(async {
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        anyhow::Ok(())
    })
}
