//! What `commlab run --repeat N` adds to a results file: every run's
//! headline figures (`headline.rs`), their median, min and max per variant,
//! and how many runs each `[[expect]]` claim held in.
//!
//! The rest of the results file — every table, chart and sentence of the
//! report — is run 1's, which plays the scenario's own seed, so a results
//! file with repetitions reads exactly like a single run plus this summary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The repetitions of one scenario (`repetitions` in the results file; absent
/// for a single run).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Repetitions {
    /// How each run's seed was derived from the scenario's, in words.
    pub derivation: String,
    /// Every run, in order; run 1 is the one the rest of the file describes.
    pub runs: Vec<RunFigures>,
    /// Per variant, per headline figure: median, min and max over the runs.
    pub spread: Vec<VariantSpread>,
    /// Per `[[expect]]` claim: in how many runs it held.
    pub expectations: Vec<HeldIn>,
}

/// One run of the repetitions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunFigures {
    /// 1-based.
    pub run: u32,
    pub seed: u64,
    /// The schedule this run played (every variant of the run played it).
    pub schedule_fingerprint: String,
    pub variants: Vec<VariantFigures>,
}

/// A variant's headline figures in one run (`null`: the run has none, e.g. a
/// p99 from too few samples, or a recovery that never came).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariantFigures {
    pub variant: String,
    /// Whether the harness vouched for this run's figures (`evidence.ok`).
    pub evidence: bool,
    pub figures: BTreeMap<String, Option<f64>>,
    /// Per operation (`bonus`, `delivery`, `performance`), each second's share
    /// served within the SLO, indexed by second (`null`: nothing sent that
    /// second): the band the availability chart draws around run 1's line.
    /// Absent in files written before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub availability_series: BTreeMap<String, Vec<Option<f64>>>,
    /// Each second's highest backlog sample (`null`: no sample that second),
    /// the settle phase included: the band the backlog chart draws around
    /// run 1's line. Absent in files written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backlog_series: Vec<Option<u64>>,
    /// The share of CPU time the host stole during this run's load of the
    /// variant (`VariantResults::host_steal`): not a figure of the design,
    /// but what its latency tails may carry. Absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_steal: Option<f64>,
}

/// A variant's spread over the runs, per headline figure.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariantSpread {
    pub variant: String,
    pub figures: BTreeMap<String, Spread>,
}

/// A figure over the runs that have it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Runs that had a value (the others had `null`).
    pub runs: u32,
    /// Runs in all.
    pub of: u32,
}

/// An `[[expect]]` claim over the runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldIn {
    pub variant: String,
    pub that: String,
    pub held: u32,
    pub runs: u32,
}
