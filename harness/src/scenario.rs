//! Scenarios: a seeded workload and a timeline of faults, read from TOML.
//!
//! A scenario file says *what happens* — how many couriers, how many bonuses,
//! deliveries and performance updates per second, which fault strikes when —
//! and nothing about how to measure it. The built-in ones live in `scenarios/`
//! (embedded by `builtin.rs`); `commlab run FILE.toml` reads any other.
//!
//! Reading is strict, because a half-understood scenario measures something
//! nobody asked for: unknown fields are refused (`deny_unknown_fields`), every
//! duration is checked, every fault must fit inside the run and make sense for
//! its target. Every error names the file, the line and the field
//! ([`ScenarioError`]); the CLI exits with code 2 on any of them, before it runs
//! anything. A fault that is valid but does not apply to one variant (a stream
//! outage for the synchronous design) is *not* an error here: the run reports it
//! as not applicable for that variant.
//!
//! This file holds the validated types; `scenario/raw.rs` the file as written
//! and its checks; `scenario/locate.rs` how an error finds its line and field.
//! Next: `schedule.rs` turns a scenario into the exact list of requests.

pub mod expect;
mod locate;
mod raw;
mod variant_table;

use std::fmt;
use std::time::Duration;

use common::system::Fault;
use serde::Deserialize;
use variants::VariantSpec;

use locate::{field_at, field_from_message, invalid, qualify};
use raw::RawScenario;

pub use raw::parse_duration;
pub use variant_table::SyncPool;

/// `--quick` multiplies the run's duration and every fault's start and length by
/// this. A tenth keeps each scenario's shape (a fault still sits in the middle
/// of the run, with a before and an after) and brings the twelve-scenario
/// suite under a minute on two cores: the
/// suite is about 450 variant-seconds of load at full length (measured: 0.2
/// took 103 s, nearly all of it load). `--quick` also plays one run per
/// scenario whatever its `repeat`, and no ablation unless `--ablate` asks
/// (`suite.rs`): 0.1 alone took 64 s, a third of it partition's ten variants. Rates, the SLO and injected latencies are
/// *not* scaled: they are properties of the system and its users, not of the
/// timeline. So a quick run is a smoke test, not evidence: a 3 s hang becomes
/// 0.3 s, shorter than the sync variant's 1 s call timeout.
pub const QUICK_SCALE: f64 = 0.1;

/// A scenario file is wrong. Each message names the file, the line and the field.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read the scenario: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: field `{field}`: {message}")]
    Invalid {
        file: String,
        line: usize,
        field: String,
        message: String,
    },
    #[error(
        "unknown scenario {name:?}: the built-in scenarios are {known}; a file must end in .toml"
    )]
    Unknown { name: String, known: String },
    /// `--variant` or `--ablate` names no variant of this scenario.
    #[error("scenario {scenario}: {message}")]
    Variant { scenario: String, message: String },
}

/// Where a fault strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    Incentives,
    Payments,
    Link,
    Stream,
    Consumer,
}

/// What the fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Crash,
    Hang,
    Latency,
    Errors,
    Partition,
    StreamDown,
    ConsumerCrash,
}

/// How requests arrive: independently at random (`poisson`, what many
/// independent users produce) or evenly spaced (`constant`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    Poisson,
    Constant,
}

/// A validated scenario, durations and faults in their final form.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    pub lesson: String,
    /// The file it came from, as errors and reports name it.
    pub file: String,
    /// What `commlab run` was given to find it: a built-in name or a path.
    pub argument: String,
    pub duration: Duration,
    pub seed: u64,
    /// A request answered later than this counts as not served.
    pub slo: Duration,
    pub workload: Workload,
    /// Whether Payments' ledger refuses a repeated reference (`idempotency`
    /// in the file, default `true`). `false` is for the lesson only: it shows
    /// what at-least-once delivery and retries cost without idempotency, the
    /// failure the `paid_twice` checker exists to catch.
    pub idempotency: bool,
    /// What runs, in order: presets and the file's own `[variant.NAME]`s,
    /// each fully configured (the SLO is the default deadline budget).
    pub variants: Vec<VariantSpec>,
    /// The file's own variants, runnable by name with `--variant`.
    pub defined: Vec<VariantSpec>,
    /// The variant to ablate (`ablate = "sync-resilient"` or `--ablate`).
    pub ablate: Option<String>,
    /// The `[sync]` table: workers and call timeout of every synchronous
    /// variant, already applied to `variants` and `defined`.
    pub pool: SyncPool,
    /// Runs per `commlab run` unless `--repeat` says otherwise (`repeat = N`
    /// in the file, default 1; `repeat.rs`).
    pub repeat: u32,
    pub faults: Vec<TimedFault>,
    /// The lesson's claims, checked after the run (`scenario/expect.rs`).
    pub expectations: Vec<expect::Expectation>,
    /// Whether `--quick` scaled it down.
    pub quick: bool,
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub couriers: u64,
    /// Requests per second, per operation.
    pub bonus_rate: f64,
    pub delivery_rate: f64,
    pub performance_rate: f64,
    pub arrival: Arrival,
    /// Shares of SMALL, AVERAGE, BIG, normalised to sum to 1.
    pub bonus_mix: [f64; 3],
}

/// One fault on the timeline.
#[derive(Clone, Debug)]
pub struct TimedFault {
    pub target: Target,
    pub kind: Kind,
    pub fault: Fault,
    pub start: Duration,
    pub duration: Duration,
}

impl TimedFault {
    pub fn end(&self) -> Duration {
        self.start + self.duration
    }
}

impl Scenario {
    /// Reads and validates a scenario. `file` is how errors name it; `argument`
    /// is what the user typed to select it (kept for the replay command).
    pub fn parse(file: &str, argument: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let field = field_from_message(e.message())
                .map(|key| qualify(text, span.start, &key))
                .unwrap_or_else(|| field_at(text, span.start));
            invalid(file, text, span.start, field, e.message().trim())
        })?;
        raw.validate(file, argument, text)
    }

    /// The same scenario with its timeline scaled by [`QUICK_SCALE`].
    pub fn quick(&self) -> Scenario {
        let scale = |d: Duration| d.mul_f64(QUICK_SCALE);
        let mut quick = self.clone();
        quick.duration = scale(self.duration);
        quick.quick = true;
        for fault in &mut quick.faults {
            fault.start = scale(fault.start);
            fault.duration = scale(fault.duration);
        }
        quick
    }

    /// A variant by name: one of the file's own, or a preset (with this
    /// scenario's SLO as its deadline budget).
    pub fn variant_named(&self, name: &str) -> Result<VariantSpec, ScenarioError> {
        self.defined
            .iter()
            .find(|d| d.name == name)
            .cloned()
            .or_else(|| {
                VariantSpec::preset_named(name)
                    .map(|p| self.pool.apply(p.with_slo(self.slo, false)))
            })
            .ok_or_else(|| ScenarioError::Variant {
                scenario: self.name.clone(),
                message: format!(
                    "unknown variant {name:?}: expected sync, sync-buffered, sync-resilient, \
                     async{}",
                    self.defined
                        .iter()
                        .map(|d| format!(", {}", d.name))
                        .collect::<String>()
                ),
            })
    }

    /// What runs: the variants, and after the ablated one (added if it is
    /// not among them) one run per mechanism switched off.
    pub fn runs(&self) -> Result<Vec<VariantSpec>, ScenarioError> {
        let mut runs = self.variants.clone();
        let Some(name) = &self.ablate else {
            return Ok(runs);
        };
        let spec = self.variant_named(name)?;
        let ablations = spec.ablations();
        if ablations.is_empty() {
            return Err(ScenarioError::Variant {
                scenario: self.name.clone(),
                message: format!("{name} has no defence to switch off: nothing to ablate"),
            });
        }
        let at = match runs.iter().position(|r| &r.name == name) {
            Some(i) => i + 1,
            None => {
                runs.push(spec);
                runs.len()
            }
        };
        runs.splice(at..at, ablations);
        Ok(runs)
    }

    /// When the last fault ends (zero when there is none).
    pub fn last_fault_end(&self) -> Option<Duration> {
        self.faults.iter().map(TimedFault::end).max()
    }
}

/// The file as written. Durations stay text until `validate` has their span.
pub fn target_name(target: Target) -> &'static str {
    match target {
        Target::Incentives => "incentives",
        Target::Payments => "payments",
        Target::Link => "link",
        Target::Stream => "stream",
        Target::Consumer => "consumer",
    }
}

pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Crash => "crash",
        Kind::Hang => "hang",
        Kind::Latency => "latency",
        Kind::Errors => "errors",
        Kind::Partition => "partition",
        Kind::StreamDown => "stream-down",
        Kind::ConsumerCrash => "consumer-crash",
    }
}

/// A duration as scenarios write it: `"30s"`, `"250ms"`, `"1.5s"`.
pub fn show(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms == 0.0 {
        "0s".to_string()
    } else if ms < 1000.0 {
        format!("{}ms", (ms * 10.0).round() / 10.0)
    } else {
        format!("{}s", (ms / 10.0).round() / 100.0)
    }
}

impl fmt::Display for Arrival {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arrival::Poisson => "poisson",
            Arrival::Constant => "constant",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_durations_back() {
        assert_eq!(show(Duration::from_millis(250)), "250ms");
        assert_eq!(show(Duration::from_millis(1500)), "1.5s");
        assert_eq!(show(Duration::from_secs(8)), "8s");
        assert_eq!(show(Duration::ZERO), "0s");
    }

    /// A scenario slowing Payments by `mean ± jitter`.
    fn slowed(mean: &str, jitter: &str) -> Result<Scenario, ScenarioError> {
        let text = format!(
            "name = \"s\"\ntitle = \"t\"\nlesson = \"l\"\nduration = \"4s\"\nseed = 1\n\
             slo = \"500ms\"\n[workload]\ncouriers = 5\nbonus_rate = 1\ndelivery_rate = 1\n\
             performance_rate = 0\narrival = \"constant\"\n\
             bonus_mix = {{ small = 1.0, average = 0.0, big = 0.0 }}\n[[fault]]\n\
             target = \"payments\"\nkind = \"latency\"\nstart = \"1s\"\nduration = \"1s\"\n\
             mean = \"{mean}\"\njitter = \"{jitter}\"\n"
        );
        Scenario::parse("s.toml", "s.toml", &text)
    }

    fn latency(scenario: &Scenario) -> common::faults::Latency {
        match scenario.faults[0].fault {
            Fault::Latency(_, latency) => latency,
            ref other => panic!("not a latency fault: {other}"),
        }
    }

    /// `[sync]` reaches every synchronous variant — presets, the file's own,
    /// ablations — and is what their configuration records; async has no pool.
    #[test]
    fn the_sync_pool_applies_to_every_sync_variant() {
        let base = "name = \"s\"\ntitle = \"t\"\nlesson = \"l\"\nduration = \"4s\"\nseed = 1\n\
                    slo = \"500ms\"\nablate = \"mine\"\n\
                    variants = [\"sync\", \"sync-buffered\", \"sync-resilient\", \"mine\", \"async\"]\n\
                    [sync]\nworkers = 4\ncall_timeout = \"250ms\"\n\
                    [variant.mine]\nbase = \"sync-resilient\"\nworkers = 30\n\
                    [workload]\ncouriers = 5\nbonus_rate = 1\ndelivery_rate = 1\n\
                    performance_rate = 0\narrival = \"constant\"\n\
                    bonus_mix = { small = 1.0, average = 0.0, big = 0.0 }\n";
        let scenario = Scenario::parse("s.toml", "s.toml", base).unwrap();
        let runs = scenario.runs().unwrap();
        assert_eq!(runs.len(), 5 + 6, "five variants and mine's six ablations");
        for spec in &runs {
            let config = spec.configuration();
            let pool = (
                config["workers"].as_u64(),
                config["call_timeout_ms"].as_f64(),
            );
            let expected = if spec.name == "async" {
                (None, None)
            } else {
                (Some(4), Some(250.0))
            };
            assert_eq!(pool, expected, "{}", spec.name);
        }
        let zero = base.replace("workers = 4", "workers = 0");
        let refused = Scenario::parse("s.toml", "s.toml", &zero)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("sync.workers"), "{refused}");
    }

    /// A mean of 0 (a sweep's start) adds nothing; the jitter is capped at the
    /// mean; a negative duration is refused, naming the field.
    #[test]
    fn latency_from_zero() {
        let zero = latency(&slowed("0ms", "20ms").unwrap());
        assert_eq!((zero.mean, zero.jitter), (Duration::ZERO, Duration::ZERO));
        let capped = latency(&slowed("10ms", "20ms").unwrap());
        assert_eq!(capped.jitter, Duration::from_millis(10));
        let kept = latency(&slowed("100ms", "20ms").unwrap());
        assert_eq!(kept.jitter, Duration::from_millis(20));
        let refused = slowed("-5ms", "0ms").unwrap_err().to_string();
        assert!(refused.contains("fault[1].mean"), "{refused}");
    }
}
