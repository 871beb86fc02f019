//! Process mode (`commlab run --processes`): each service of a variant its
//! own process (`commlab service NAME`), so that a crash is `kill -9`: what
//! the service held only in memory dies with it, and a restart given its
//! data directory (unless [`Options::memory_state`]) reads what was
//! committed to disk.
//!
//! ```text
//!             harness (load, timeline, /_stats)
//!              │ edge proxy               │ edge proxy
//!              ▼                          ▼
//!   Incentives process ──link proxy──▶ Payments process        (sync)
//!                      ◀──link proxy──
//!   Incentives ──link proxy──▶ nats-server ◀──link proxy── Payments   (async)
//! ```
//!
//! [`ProcessSystem`] is the same [`System`] the in-process variants are: the
//! harness does not know which mode it drives. Its faults are the real
//! thing (`child.rs` for the signals, `harness/src/proxy.rs` for the wire):
//!
//! - **crash**: SIGKILL; at heal, the same program on the same port (and the
//!   same data directory). What lived only in memory is gone.
//! - **hang**: SIGSTOP, then SIGCONT: the kernel still accepts connections,
//!   nothing answers them.
//! - **latency** and **errors**: on every proxy into that service (the
//!   harness's edge proxy and, sync, the link from the other service).
//!   Errors are a seeded share of connections reset (Toxiproxy's `reset`),
//!   not `503` answers as in process: the caller sees a broken connection.
//! - **partition**: the link proxies down; both edges stay up. Async: each
//!   service's link to the broker, as on JetStream in process.
//! - **stream down / hang**: the harness's private nats-server killed and
//!   restarted / stopped and continued (`harness/src/broker.rs`).
//! - **consumer crash**: SIGKILL of Payments, whose process the consumer
//!   lives in, and a restart at heal: the edge is down meanwhile too, unlike
//!   in process, where the consumer dies alone.
//!
//! A child that exits when no fault asked for it is an internal error of the
//! run (`common/src/internal.rs`), named with its stderr: the run is not
//! evidence. Counters are the sum of both services' `GET /_stats`
//! (`service.rs`). Every child is killed when the system is dropped, on
//! error and on Ctrl-C (`child.rs`).
//!
//! Next: `child.rs` (one supervised process), `service.rs` (one service).

pub mod child;
mod data_dir;
mod service;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_variant::StreamChoice;
use async_variant::nats_server::NatsServer;
use common::domain::lock;
use common::faults::Latency;
use common::internal::InternalError;
use common::system::{Fault, NotApplicable, Service, Stats, System, Variant};
use tokio::runtime::Runtime;
use variants::VariantSpec;

use crate::proxy::{Proxy, Toxics};
pub use data_dir::DataDir;
use service::{Launch, ServiceProcess};

/// Reasons kept (as `common::internal::InternalErrors` keeps them).
const KEPT_REASONS: usize = 16;

/// Where a placeholder proxy forwards until its service has a port: the
/// discard port, never reached (the upstream is set before any traffic).
const NOWHERE: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9);

/// What a [`ProcessSystem`] is started with besides the variant.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `commlab` binary (`std::env::current_exe()`; in tests
    /// `env!("CARGO_BIN_EXE_commlab")`).
    pub program: PathBuf,
    /// Each service's state in its memory, lost with the process
    /// (`--memory-state`); `false`: in SQLite files (`--data-dir`), which a
    /// restart reads.
    pub memory_state: bool,
    /// Keep the SQLite files after the run (their directory is printed).
    pub keep_data: bool,
}

/// The faults on the wire into one service.
#[derive(Clone, Copy, Debug, Default)]
struct Wire {
    latency: Option<Latency>,
    reset_rate: Option<f64>,
}

/// Both services as processes, their proxies, their data.
#[derive(Debug)]
pub struct ProcessSystem {
    variant: Variant,
    /// Incentives, Payments. Dropped first: the children die before the
    /// proxies and the data directory go.
    services: Mutex<[ServiceProcess; 2]>,
    /// The harness's traffic into each service.
    edges: [Proxy; 2],
    /// Sync: into each service from the other. Async: from each service to
    /// the broker.
    links: [Proxy; 2],
    wires: Mutex<([Wire; 2], bool)>,
    nats: Option<Arc<NatsServer>>,
    http: reqwest::blocking::Client,
    errors: Mutex<(u64, Vec<String>)>,
    /// The proxies' runtime, kept alive while they run: one worker, the
    /// proxies only copy bytes.
    _runtime: Runtime,
    data: DataDir,
}

impl ProcessSystem {
    /// Starts both services of `spec` as children of `options.program` and
    /// waits until both answer. Call from a thread that lives as long as the
    /// system (`child.rs`: the children's parent-death signal), not inside
    /// an async runtime.
    pub fn start(
        spec: &VariantSpec,
        stream: &StreamChoice,
        seed: u64,
        options: &Options,
    ) -> anyhow::Result<ProcessSystem> {
        let variant = spec.base();
        let nats = match (variant, stream) {
            (Variant::Async, StreamChoice::Nats { url, server }) => {
                Some((url.clone(), server.clone()))
            }
            (Variant::Async, StreamChoice::Memory) => anyhow::bail!(
                "process mode: the async variant's services share their stream through NATS \
                 (--stream nats); the in-process log cannot cross processes"
            ),
            _ => None,
        };
        let runtime = crate::load::runtime(1).context("starting the proxies' runtime")?;
        let upstream = match &nats {
            Some((url, _)) => nats_addr(url)?,
            None => NOWHERE,
        };
        let proxy = |n: u64| Proxy::start(runtime.handle(), upstream, seed.wrapping_add(n));
        let links = [proxy(1)?, proxy(2)?];
        let data = DataDir::create(options.keep_data)?;
        let http = reqwest::blocking::Client::builder().no_proxy().build()?;
        let spec_json = serde_json::to_string(spec).context("the variant's spec as JSON")?;
        let token = common::api::internal::new_token();
        // One stream per system, named after its data directory (unique in
        // this process): systems of one suite share the broker, not events.
        let stream_name = stream_name(data.path());
        let launch = |service: Service| Launch {
            service,
            spec_json: spec_json.clone(),
            // Sync: the link into the other service. Async: unused by the
            // services' code, but `service` takes one.
            peer: links[index(peer(service))].addr(),
            data_dir: (!options.memory_state).then(|| data.path().to_path_buf()),
            nats: nats
                .as_ref()
                .map(|_| format!("nats://{}", links[index(service)].addr())),
            stream_name: stream_name.clone(),
            seed,
            token: token.clone(),
        };
        let incentives =
            ServiceProcess::start(&options.program, launch(Service::Incentives), &http)?;
        let payments = ServiceProcess::start(&options.program, launch(Service::Payments), &http)?;
        if nats.is_none() {
            links[0].set_upstream(incentives.addr());
            links[1].set_upstream(payments.addr());
        }
        let edges = [
            Proxy::start(runtime.handle(), incentives.addr(), seed.wrapping_add(3))?,
            Proxy::start(runtime.handle(), payments.addr(), seed.wrapping_add(4))?,
        ];
        Ok(ProcessSystem {
            variant,
            services: Mutex::new([incentives, payments]),
            edges,
            links,
            wires: Mutex::default(),
            nats: nats.and_then(|(_, server)| server),
            http,
            errors: Mutex::default(),
            _runtime: runtime,
            data,
        })
    }

    /// Each service's process id while it runs (Incentives, Payments).
    pub fn pids(&self) -> [Option<u32>; 2] {
        let services = lock(&self.services);
        [services[0].pid(), services[1].pid()]
    }

    /// Where the services keep their SQLite files.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    fn record(&self, reason: String) {
        let mut errors = lock(&self.errors);
        errors.0 += 1;
        if errors.1.len() < KEPT_REASONS {
            errors.1.push(reason);
        }
    }

    /// The toxics of the moment on every proxy.
    fn apply_wires(&self) {
        let (wires, partition) = *lock(&self.wires);
        for (i, wire) in wires.iter().enumerate() {
            let into = Toxics {
                latency: wire.latency,
                reset_rate: wire.reset_rate,
                ..Toxics::default()
            };
            self.edges[i].set(into);
            // Async: the links lead to the broker; only the partition cuts them.
            let link = if self.variant == Variant::Async {
                Toxics::default()
            } else {
                into
            };
            self.links[i].set(Toxics {
                down: partition,
                ..link
            });
        }
    }

    fn switch(&self, fault: &Fault, on: bool) -> Result<(), InternalError> {
        let mut services = lock(&self.services);
        match *fault {
            Fault::Crash(s) if on => services[index(s)].kill(),
            Fault::ConsumerCrash if on => services[1].kill(),
            Fault::Crash(s) => restart(&mut services[index(s)], &self.http)?,
            Fault::ConsumerCrash => restart(&mut services[1], &self.http)?,
            Fault::Hang(s) if on => services[index(s)].pause(),
            Fault::Hang(s) => services[index(s)].resume(),
            Fault::Latency(s, latency) => {
                lock(&self.wires).0[index(s)].latency = on.then_some(latency);
                self.apply_wires();
            }
            Fault::Errors(s, rate) => {
                lock(&self.wires).0[index(s)].reset_rate = on.then_some(rate);
                self.apply_wires();
            }
            Fault::Partition => {
                lock(&self.wires).1 = on;
                self.apply_wires();
            }
            Fault::StreamHang => self.broker(|server| {
                if on {
                    server.pause();
                } else {
                    server.resume();
                }
                Ok(())
            })?,
            Fault::StreamDown => self.broker(|server| match on {
                true => {
                    server.kill();
                    Ok(())
                }
                false => server
                    .restart()
                    .map_err(|error| InternalError::StreamSwitch {
                        direction: "back",
                        reason: error.to_string(),
                    }),
            })?,
        }
        Ok(())
    }

    fn broker(
        &self,
        act: impl FnOnce(&NatsServer) -> Result<(), InternalError>,
    ) -> Result<(), InternalError> {
        self.nats.as_deref().map_or(Ok(()), act)
    }

    /// Why `fault` cannot be played here, if it cannot.
    fn not_applicable(&self, fault: &Fault) -> Option<&'static str> {
        match (fault, self.variant) {
            (Fault::StreamDown | Fault::StreamHang, Variant::Async) if self.nats.is_none() => Some(
                "in process mode the stream faults act on the harness's private nats-server (--stream nats)",
            ),
            (Fault::StreamDown | Fault::StreamHang | Fault::ConsumerCrash, Variant::Async) => None,
            (Fault::StreamDown | Fault::StreamHang, _) => {
                Some("the synchronous variant has no event stream")
            }
            (Fault::ConsumerCrash, _) => Some(
                "the synchronous variant has no consumer: Payments asks Incentives on every payment",
            ),
            _ => None,
        }
    }
}

/// Restarts a killed service; a failure is the harness's, not the design's.
fn restart(
    service: &mut ServiceProcess,
    http: &reqwest::blocking::Client,
) -> Result<(), InternalError> {
    service
        .restart(http)
        .map_err(|error| InternalError::Rebind {
            service: name(service.service()),
            addr: service.addr(),
            reason: error.to_string(),
        })
}

impl System for ProcessSystem {
    fn variant(&self) -> Variant {
        self.variant
    }

    fn incentives_addr(&self) -> SocketAddr {
        self.edges[0].addr()
    }

    fn payments_addr(&self) -> SocketAddr {
        self.edges[1].addr()
    }

    fn inject(&self, fault: &Fault) -> Result<(), NotApplicable> {
        if let Some(reason) = self.not_applicable(fault) {
            return Err(NotApplicable {
                fault: fault.to_string(),
                variant: self.variant,
                reason,
            });
        }
        // Injecting only signals or switches proxies: it cannot fail.
        let _ = self.switch(fault, true);
        Ok(())
    }

    fn heal(&self, fault: &Fault) -> Result<(), InternalError> {
        match self.not_applicable(fault) {
            Some(_) => Ok(()),
            None => self.switch(fault, false),
        }
    }

    /// Both services' `GET /_stats`, summed; an exit nobody asked for is
    /// recorded here (the harness reads these ten times a second).
    fn stats(&self) -> Stats {
        let mut services = lock(&self.services);
        let mut total = Stats::default();
        let mut payments_answered = false;
        for service in services.iter_mut() {
            if let Some(exit) = service.unexpected_exit() {
                self.record(exit);
            }
            let report = service.report(&self.http);
            if service.service() == Service::Payments {
                payments_answered = report.fresh;
            }
            total = total + report.stats;
        }
        if !payments_answered {
            // Killed or stopped, Payments cannot say how far behind it is:
            // what Incentives has put on the stream since Payments' last
            // position is waiting there (async; both 0 in sync).
            let waiting = total.published.saturating_sub(total.consumed);
            total.stream_lag = total.stream_lag.max(waiting);
        }
        total.internal_errors += lock(&self.errors).0;
        total
    }

    fn internal_errors(&self) -> Vec<String> {
        let mut reasons = lock(&self.errors).1.clone();
        let mut services = lock(&self.services);
        for service in services.iter_mut() {
            reasons.extend(service.report(&self.http).internal_errors);
        }
        reasons
    }

    fn shutdown(self: Box<Self>) {
        drop(self);
    }
}

fn index(service: Service) -> usize {
    match service {
        Service::Incentives => 0,
        Service::Payments => 1,
    }
}

fn peer(service: Service) -> Service {
    match service {
        Service::Incentives => Service::Payments,
        Service::Payments => Service::Incentives,
    }
}

fn name(service: Service) -> &'static str {
    match service {
        Service::Incentives => "Incentives",
        Service::Payments => "Payments",
    }
}

/// `nats://127.0.0.1:PORT` → the address its link proxies forward to.
fn nats_addr(url: &str) -> anyhow::Result<SocketAddr> {
    url.trim_start_matches("nats://").parse().with_context(|| {
        format!("process mode needs the broker's address as nats://IP:PORT, not {url}")
    })
}

/// `commlab-PID-N` → `RUN_PID_N`: a JetStream stream name (no `-`, `.`).
fn stream_name(data_dir: &Path) -> String {
    let base = data_dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let unique: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("RUN_{unique}")
}
