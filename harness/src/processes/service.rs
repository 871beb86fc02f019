//! One service of a variant as a child process: `commlab service NAME …`,
//! its state (running, stopped, killed) and its counters.
//!
//! The counters come from the service's own `GET /_stats`, read directly on
//! its port (not through a proxy, so that a fault on the wire never hides
//! them). While the service is stopped (SIGSTOP) or killed, nothing answers:
//! its last report stands in, with the work it had under way set to 0 —
//! requests in its edge, busy and queued workers, calls to the other service.
//! That work is not coming back from a killed process, and a stopped one's
//! is frozen; counting it would hold the harness's settling until the fault
//! heals, which it does before the harness settles anyway. Its backlog
//! (buffer, outbox, stream lag) stays as last reported: unknown while the
//! process is down, and read again as soon as it is back.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::api::internal::TOKEN_ENV;
use common::faults::EdgeCounts;
use common::system::{Service, Stats};
use serde::Deserialize;

use super::child::{Child, READY_BOUND, StartError};

/// How long one `GET /_stats` may take: the harness reads ten a second, and a
/// service that takes longer is treated as not answering this once.
const STATS_TIMEOUT: Duration = Duration::from_secs(1);

/// What `commlab service` needs besides its listen address.
#[derive(Clone, Debug)]
pub struct Launch {
    pub service: Service,
    /// The `variants::VariantSpec`, as JSON.
    pub spec_json: String,
    /// Where it reaches the other service (a proxy's address).
    pub peer: SocketAddr,
    /// Its SQLite files' directory (`--data-dir`); `None`: its state in memory.
    pub data_dir: Option<PathBuf>,
    /// The stream's URL (async), through its proxy.
    pub nats: Option<String>,
    /// The stream's name on it: one per system (`--stream-name`).
    pub stream_name: String,
    pub seed: u64,
    /// The internal token both services share (sync: Incentives presents it
    /// to Payments), handed over in the environment, not on the command line.
    pub token: String,
}

impl Launch {
    /// `service NAME --spec … --listen ADDR --peer … --seed N [--data-dir …] [--nats …]`.
    fn args(&self, listen: SocketAddr) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "service".into(),
            self.service.to_string().into(),
            "--spec".into(),
            self.spec_json.clone().into(),
            "--listen".into(),
            listen.to_string().into(),
            "--peer".into(),
            self.peer.to_string().into(),
            "--seed".into(),
            self.seed.to_string().into(),
        ];
        if let Some(dir) = &self.data_dir {
            args.extend(["--data-dir".into(), dir.into()]);
        }
        if let Some(url) = &self.nats {
            args.extend(["--nats".into(), url.into()]);
            args.extend(["--stream-name".into(), self.stream_name.clone().into()]);
        }
        args
    }
}

/// What `GET /_stats` answers (`common::system::ServiceReport`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Report {
    pub stats: Stats,
    #[serde(default)]
    pub internal_errors: Vec<String>,
    /// Answered now; `false`: the last answer, from before the service was
    /// killed or stopped.
    #[serde(skip)]
    pub fresh: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    Stopped,
    Killed,
}

/// A service's process, its state and its last report.
#[derive(Debug)]
pub struct ServiceProcess {
    launch: Launch,
    child: Child,
    state: State,
    last: Report,
}

impl ServiceProcess {
    /// Starts it on a port of its choosing (kept across restarts) and waits
    /// until it prints `listening` and answers `GET /_stats`.
    pub fn start(
        program: &Path,
        launch: Launch,
        http: &reqwest::blocking::Client,
    ) -> Result<ServiceProcess, StartError> {
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let name = launch.service.to_string();
        let env = vec![(TOKEN_ENV.into(), launch.token.clone().into())];
        let child =
            Child::start_with_env(&name, program.to_path_buf(), launch.args(any_port), env)?;
        let mut process = ServiceProcess {
            launch,
            child,
            state: State::Running,
            last: Report::default(),
        };
        process.wait_stats(http)?;
        Ok(process)
    }

    pub fn service(&self) -> Service {
        self.launch.service
    }

    pub fn addr(&self) -> SocketAddr {
        self.child.addr()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.pid()
    }

    /// SIGKILL: the crash.
    pub fn kill(&mut self) {
        self.child.kill();
        self.state = State::Killed;
    }

    /// SIGSTOP: the hang. Nothing to stop while killed.
    pub fn pause(&mut self) {
        if self.state == State::Running {
            self.child.pause();
            self.state = State::Stopped;
        }
    }

    /// SIGCONT.
    pub fn resume(&mut self) {
        if self.state == State::Stopped {
            self.child.resume();
            self.state = State::Running;
        }
    }

    /// After a kill: the same program on the same port and data directory,
    /// ready when it answers `GET /_stats`. Does nothing if it runs.
    pub fn restart(&mut self, http: &reqwest::blocking::Client) -> Result<(), StartError> {
        if self.state != State::Killed {
            return Ok(());
        }
        let args = self.launch.args(self.addr());
        self.child.restart(args)?;
        self.state = State::Running;
        self.wait_stats(http)
    }

    /// An exit no fault asked for, described once (with its stderr).
    pub fn unexpected_exit(&mut self) -> Option<String> {
        if self.state == State::Killed {
            return None;
        }
        let exit = self.child.exited()?;
        self.state = State::Killed;
        Some(exit)
    }

    /// Its counters: read now while it runs, else the last report with its
    /// work under way set to 0 (module doc).
    pub fn report(&mut self, http: &reqwest::blocking::Client) -> Report {
        if self.state == State::Running
            && let Ok(report) = fetch(http, self.addr())
        {
            self.last = report;
            return Report {
                fresh: true,
                ..self.last.clone()
            };
        }
        let mut report = self.last.clone();
        report.stats = without_work_under_way(report.stats);
        report
    }

    /// Polls `GET /_stats` until it answers, bounded by [`READY_BOUND`].
    fn wait_stats(&mut self, http: &reqwest::blocking::Client) -> Result<(), StartError> {
        let started = Instant::now();
        let mut last_error = String::new();
        // Bounded by READY_BOUND: 20 ms steps.
        while started.elapsed() < READY_BOUND {
            match fetch(http, self.addr()) {
                Ok(report) => {
                    self.last = report;
                    return Ok(());
                }
                Err(error) => last_error = error,
            }
            if let Some(exit) = self.child.exited() {
                last_error = exit;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let error = StartError {
            name: self.launch.service.to_string(),
            reason: format!(
                "GET /_stats on {} did not answer: {last_error}",
                self.addr()
            ),
            stderr: self.child.stderr(),
        };
        self.kill();
        Err(error)
    }
}

fn fetch(http: &reqwest::blocking::Client, addr: SocketAddr) -> Result<Report, String> {
    http.get(format!("http://{addr}/_stats"))
        .timeout(STATS_TIMEOUT)
        .send()
        .and_then(reqwest::blocking::Response::error_for_status)
        .and_then(reqwest::blocking::Response::json)
        .map_err(|error| error.to_string())
}

fn without_work_under_way(stats: Stats) -> Stats {
    let idle = |edge: EdgeCounts| EdgeCounts {
        in_flight: 0,
        ..edge
    };
    Stats {
        incentives: idle(stats.incentives),
        payments: idle(stats.payments),
        busy_workers: 0,
        queued_jobs: 0,
        in_flight_calls: 0,
        ..stats
    }
}
