//! The results of a run: what `<out>/<scenario>.json` holds.
//!
//! These types *are* the schema documented in the README ("Results"); other tools
//! rely on their names, so rename nothing without updating both. The harness fills
//! them (`run.rs`, `measure.rs`, `reconcile.rs`), the report writer reads them
//! (`report/`), and `commlab report` can read them back from disk.

mod repetitions;

use common::Money;

pub use crate::scenario::expect::Checked;
use common::system::Stats;
pub use repetitions::{HeldIn, Repetitions, RunFigures, Spread, VariantFigures, VariantSpread};
use serde::{Deserialize, Serialize};

/// The version of this schema `commlab run` writes. Files without the field
/// were written before it existed (version 1) and read with defaults; `commlab
/// compare` refuses any version it does not know.
pub const SCHEMA_VERSION: u32 = 2;

/// One scenario, every variant it ran against.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioResults {
    /// [`SCHEMA_VERSION`] when written; 1 in older files.
    #[serde(default = "one")]
    pub schema_version: u32,
    /// The scenario's name (`payments-outage`).
    pub scenario: String,
    pub title: String,
    /// The lesson the scenario teaches, a paragraph.
    pub lesson: String,
    /// The seed every random source of the run was derived from.
    pub seed: u64,
    /// The command that replays this run exactly.
    pub command: String,
    /// `git rev-parse --short HEAD` of the tree that ran (`unknown` outside git),
    /// with `-dirty` when it had uncommitted changes.
    pub commit: String,
    pub environment: Environment,
    /// Whether `--quick` shortened the scenario.
    pub quick: bool,
    pub duration_s: f64,
    /// A request answered later than this counts as not served.
    pub slo_ms: u64,
    pub workload: Workload,
    pub timeline: Vec<TimelineEntry>,
    /// Whether Payments' ledger refused repeated references (the scenario's
    /// `idempotency`; `false` only to show what it prevents).
    #[serde(default = "yes")]
    pub idempotency: bool,
    /// SHA-256 of the request schedule and the fault times. Every variant
    /// reports the fingerprint of what it was actually given; they must match this.
    pub schedule_fingerprint: String,
    /// The variant that was also run once per defence switched off (its
    /// runs are named `<it>-without-<mechanism>`); the report then has an
    /// ablation table.
    #[serde(default)]
    pub ablate: Option<String>,
    /// The log that carried the asynchronous variant's events (`--stream`).
    /// Results written before the option existed read as `memory`.
    #[serde(default)]
    pub stream: StreamBackend,
    /// How the services ran (`--processes`). Results written before process
    /// mode existed read as `in-process`.
    #[serde(default)]
    pub mode: Mode,
    /// Where each service kept its state. Older results read as `memory`.
    #[serde(default)]
    pub storage: StorageRecord,
    pub variants: Vec<VariantResults>,
    /// The scenario's `[[expect]]` claims, each checked against this run
    /// (`scenario/expect.rs`); claims about a variant that did not run are left out.
    #[serde(default)]
    pub expectations: Vec<Checked>,
    /// `--repeat N` (N > 1): every run's headline figures and their spread;
    /// everything above is run 1's. Absent for a single run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetitions: Option<Repetitions>,
}

/// The asynchronous variant's stream backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamBackend {
    /// `memory` (in-process) or `nats` (NATS JetStream).
    pub backend: String,
    /// The broker's version (`nats` only).
    pub server_version: Option<String>,
}

impl Default for StreamBackend {
    fn default() -> StreamBackend {
        StreamBackend {
            backend: "memory".to_string(),
            server_version: None,
        }
    }
}

impl std::fmt::Display for StreamBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.server_version {
            Some(version) => write!(f, "{} {version}", self.backend),
            None => f.write_str(&self.backend),
        }
    }
}

/// How the services of a variant ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Both services in the harness's process, their state in memory; a
    /// crash closes a listener (`common/src/server.rs`).
    #[default]
    InProcess,
    /// Each service its own process (`commlab service`), its state in
    /// SQLite; a crash is SIGKILL (`harness/src/processes/`).
    Processes,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::InProcess => "in-process",
            Mode::Processes => "processes",
        }
    }
}

/// Where each service kept its state: `memory`, or `sqlite` (one database
/// file per service, in a directory per run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageRecord {
    pub incentives: String,
    pub payments: String,
}

impl StorageRecord {
    /// Where each service keeps its state: in memory in process; in its own
    /// SQLite file as a process (`commlab service --data-dir`), unless
    /// `memory_state` (`--memory-state`). (sync-buffered's buffer is in
    /// memory unless its variant table says `buffer = "sqlite"`, in either
    /// mode: its configuration says so.)
    pub fn of(mode: Mode, memory_state: bool) -> StorageRecord {
        let kind = match (mode, memory_state) {
            (Mode::Processes, false) => "sqlite",
            _ => "memory",
        };
        StorageRecord {
            incentives: kind.to_string(),
            payments: kind.to_string(),
        }
    }
}

impl Default for StorageRecord {
    fn default() -> StorageRecord {
        StorageRecord::of(Mode::InProcess, true)
    }
}

/// Where the numbers were measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Environment {
    /// `rustc --version` of the toolchain that built the binary.
    pub toolchain: String,
    pub cpus: usize,
    pub cpu_model: String,
    pub os: String,
}

/// The load, as the scenario asked for it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workload {
    pub couriers: u64,
    pub bonus_rate: f64,
    pub delivery_rate: f64,
    pub performance_rate: f64,
    /// `poisson` or `constant`.
    pub arrival: String,
    /// Share of SMALL, AVERAGE, BIG bonuses.
    pub bonus_mix: [f64; 3],
    /// Requests scheduled, per operation.
    pub scheduled: OperationCounts,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct OperationCounts {
    pub bonus: u64,
    pub delivery: u64,
    pub performance: u64,
}

/// One fault on the timeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// `incentives`, `payments`, `link`, `stream` or `consumer`.
    pub target: String,
    /// `crash`, `hang`, `latency`, `errors`, `partition`, `stream-down`, `consumer-crash`.
    pub kind: String,
    /// Human-readable, e.g. "payments latency 200ms ± 50ms".
    pub label: String,
    pub start_s: f64,
    pub duration_s: f64,
}

/// What one variant's users saw.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariantResults {
    /// `sync`, `sync-buffered`, `sync-resilient`, `async`, or a name the
    /// scenario (or `--ablate`) gave a configuration of its own.
    pub variant: String,
    /// The design it is a configuration of (one of the four presets' names).
    #[serde(default)]
    pub base: String,
    /// The complete configuration it ran with: pool sizes, queues, timeouts,
    /// every mechanism's parameters (durations in ms).
    #[serde(default)]
    pub configuration: serde_json::Value,
    /// Per fault of the timeline: seconds from its end until each
    /// operation's availability is ≥ 99 % over a whole second and stays so.
    #[serde(default)]
    pub recovery: Vec<Recovery>,
    /// Calls between the services per edge request, from the variant's own
    /// counters (`final_stats.peer_calls`); `null` with no request sent.
    #[serde(default)]
    pub amplification: Option<f64>,
    /// Fingerprint of the schedule this variant was given (equals the scenario's).
    pub schedule_fingerprint: String,
    /// Faults of the timeline that do not apply to this variant, with why.
    /// Matched to the timeline by index, never by wording.
    pub not_applicable: Vec<NotApplicable>,
    /// True when Ctrl-C stopped the run early: the figures cover what ran.
    pub interrupted: bool,
    /// Whether the harness itself can vouch for these figures. Absent in
    /// older results files (read as vouched for).
    #[serde(default)]
    pub evidence: Evidence,
    /// Failures of the variant's machinery (a listener that could not bind
    /// again, a consumer that could not restart, a dropped resend) or of a
    /// control the harness used during this run. Any at all, and the run's
    /// figures are not evidence about the design; the report says so.
    #[serde(default)]
    pub internal_errors: InternalErrors,
    pub operations: Operations,
    pub bonuses: MoneyOutcome,
    pub deliveries: MoneyOutcome,
    /// Bonus sent → paid: from the request's send time to the ledger's payout
    /// time, on one clock (`common::ledger::now_unix_us`), for every accepted
    /// bonus that was paid. Sync pays before it answers, async after; both are
    /// measured from the same point.
    pub bonus_to_paid_ms: Percentiles,
    pub backlog: Backlog,
    pub money: MoneyTotals,
    /// Requests paid wrong, per second of the run, bonuses and deliveries
    /// together: each counted in the second it was *scheduled* (the time of
    /// the request that caused it, as in the availability series), not when
    /// its payout happened (`reconcile.rs`). Absent in older results files.
    #[serde(default)]
    pub money_series: Vec<MoneySecond>,
    /// Availability before, during and after each fault.
    pub phases: Vec<Phase>,
    /// The variant's own counters at the end of the run.
    pub final_stats: Stats,
    /// How late the load generator sent this variant's requests: scheduled
    /// time to sent (`load/engine.rs`). Every latency here counts from the
    /// scheduled time, so this bounds what the generator charged to the
    /// variant. Absent in older results files.
    #[serde(default)]
    pub load_lateness_ms: Percentiles,
    /// The share of the machine's CPU time the hypervisor took while this
    /// variant's load played (`host.rs`), 0 to 1: at 1 % or more, its
    /// latency tails carry the host's stalls, and so can any figure that
    /// hangs on timing. Absent where it could not be read, and in older
    /// results files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_steal: Option<f64>,
}

/// Internal errors of one run: how many, and the first few reasons.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternalErrors {
    pub count: u64,
    pub reasons: Vec<String>,
}

impl VariantResults {
    /// Why the timeline's fault number `fault` did not apply to this variant,
    /// or `None` when it did.
    pub fn not_applicable_to(&self, fault: usize) -> Option<&NotApplicable> {
        self.not_applicable.iter().find(|na| na.fault == fault)
    }
}

/// How long each operation took to recover from one fault.
///
/// Seconds from the fault's end until the operation's availability (answered
/// 2xx within the SLO, by scheduled time) is at least 99 % over every whole
/// second from then until the next fault or the end of the run, measured in
/// steps of 100 ms. `0` when it never dipped after the fault; `null` when it
/// was not back by the end of the window (or the window is under a second,
/// as in `--quick` runs).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Recovery {
    /// Index into `ScenarioResults::timeline`.
    pub fault: usize,
    pub bonus_s: Option<f64>,
    pub delivery_s: Option<f64>,
    pub performance_s: Option<f64>,
    /// The slowest of the three; `null` if any is.
    pub all_s: Option<f64>,
}

/// A fault of the timeline that does not apply to this variant, and why.
///
/// The report decides applicability by `fault` alone: the label and the reason
/// are for readers, and their wording may change without breaking anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotApplicable {
    /// Index into `ScenarioResults::timeline`.
    pub fault: usize,
    /// The fault's label, as in the timeline.
    pub label: String,
    /// Why it does not apply (from the variant).
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Operations {
    pub bonus: OperationResults,
    pub delivery: OperationResults,
    pub performance: OperationResults,
}

/// One edge operation.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OperationResults {
    pub sent: u64,
    /// Answered 2xx within the SLO.
    pub ok: u64,
    /// Answered 2xx, but later than the SLO.
    pub late: u64,
    /// Answered with an error status.
    pub failed: u64,
    /// No answer: connection refused or reset, or the client gave up.
    pub no_answer: u64,
    /// `ok / sent`; `null` when nothing was sent.
    pub availability: Option<f64>,
    /// From the *scheduled* send time to the answer (no coordinated omission),
    /// over every request that got an answer.
    pub latency_ms: Percentiles,
    /// One point per second of the run, by scheduled time.
    pub series: Vec<SecondPoint>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct SecondPoint {
    pub t_s: u64,
    pub sent: u64,
    pub ok: u64,
    /// Answered 2xx at any time (within the SLO or late): what the service
    /// *accepted*, the input a backlog grows by. Absent in older results files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<u64>,
}

/// Percentiles in milliseconds. A percentile is `null` when there were too few
/// samples to state it honestly (p99 needs 100, p99.9 needs 1,000).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub samples: u64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

/// Money, request by request, reconciled against what the harness asked for.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct MoneyOutcome {
    /// Answered 2xx.
    pub accepted: u64,
    /// Paid at least once (whatever the answer was).
    pub paid: u64,
    /// Answered with an error or not at all.
    pub rejected: u64,
    /// Accepted but never paid.
    pub lost: u64,
    /// Paid more than once.
    pub paid_twice: u64,
    /// Paid with the +0 % fallback while the courier's incentive was higher.
    pub under_paid: u64,
    /// Paid with a performance the courier no longer had.
    pub stale: u64,
    /// Paid after it was answered, with a performance the courier got only
    /// after the request (a resend that looked performance up again).
    /// Added by the harness author; absent in older results files.
    #[serde(default)]
    pub repriced: u64,
    /// Rejected to the client, yet paid (a timeout is not a "no").
    pub paid_though_rejected: u64,
    /// Paid to another courier than the request's, or for another amount than
    /// it asked (counted whatever its answer was, and in no other class).
    #[serde(default)]
    pub wrong_payout: u64,
}

/// One second of [`VariantResults::money_series`]: the requests scheduled in
/// it that were paid wrong, per class of [`MoneyOutcome`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneySecond {
    pub t_s: u64,
    pub lost: u64,
    pub paid_twice: u64,
    pub under_paid: u64,
    pub stale: u64,
    pub repriced: u64,
    pub paid_though_rejected: u64,
}

/// Whether a run's figures are evidence about the design, or the instrument
/// cannot vouch for them. `ok` is `reasons.is_empty()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub ok: bool,
    /// Each thing the harness found wrong with its own measurement: the run
    /// did not settle before its payouts were read, the ledger's payout count
    /// differs from the payouts reconciled, Ctrl-C stopped it.
    pub reasons: Vec<String>,
}

impl Default for Evidence {
    fn default() -> Evidence {
        Evidence::from_reasons(Vec::new())
    }
}

impl Evidence {
    pub fn from_reasons(reasons: Vec<String>) -> Evidence {
        Evidence {
            ok: reasons.is_empty(),
            reasons,
        }
    }
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Backlog {
    /// Highest accepted-but-unpaid count seen (sync buffer, outbox, stream lag).
    pub peak: u64,
    /// Seconds from the end of the last fault until the backlog was empty;
    /// `null` if it never emptied within the drain bound.
    pub drain_s: Option<f64>,
    /// Seconds from the end of the timeline until the run settled: the load
    /// finished, and backlog, queued and busy workers, calls between the
    /// services and requests inside the edges all 0 together. `null` if it did
    /// not settle within the drain bound (then `evidence` says so).
    pub drain_phase_s: Option<f64>,
    pub peak_busy_workers: u64,
    pub peak_in_flight_calls: u64,
    /// Sampled over the run: `[t_s, backlog, busy_workers, in_flight_calls]`.
    pub series: Vec<BacklogPoint>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct BacklogPoint {
    pub t_s: f64,
    pub backlog: u64,
    pub busy_workers: u64,
    pub in_flight_calls: u64,
}

/// Money over the run (see `reconcile.rs` for the rules).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct MoneyTotals {
    /// What each *accepted* request was owed at a performance it could rightly
    /// have been paid at: the one it was paid with where that one was
    /// acceptable, else its true performance when sent. Equals `paid` when
    /// nothing went wrong; for the same work, variants may differ by cents
    /// where more than one performance was acceptable. (Called `expected` in
    /// older results files.)
    #[serde(alias = "expected")]
    pub owed: Money,
    /// Every accepted request at its courier's true performance when it was
    /// sent (the latest acknowledged update), whatever it was paid with: one
    /// rule for every variant.
    #[serde(default)]
    pub owed_at_send: Money,
    /// What the ledger paid.
    pub paid: Money,
    /// Payouts whose reference no request of the run sent.
    #[serde(default)]
    pub unmatched_payouts: u64,
}

/// Availability per operation in one window of the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Phase {
    /// e.g. "before payments crash", "during payments crash", "after payments crash".
    pub name: String,
    pub start_s: f64,
    pub end_s: f64,
    pub bonus: Option<f64>,
    pub delivery: Option<f64>,
    pub performance: Option<f64>,
}
