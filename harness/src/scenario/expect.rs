//! Expectations: what a scenario claims its run will show, checked after the
//! run instead of written into the lesson as fixed text.
//!
//! A lesson that says "the synchronous design loses most bonuses" goes stale
//! the day the code changes; an expectation cannot, because every run checks
//! it and the report shows whether it held:
//!
//! ```toml
//! [[expect]]
//! variant = "async"
//! that = "bonuses.lost == 0"
//!
//! [[expect]]
//! variant = "sync"
//! that = "availability.bonus < 0.5 during fault 1"
//! ```
//!
//! `that` reads `MEASURE OP NUMBER [before|during|after fault N]`. The
//! measures are names from the results schema (`harness/src/results.rs`):
//! [`MEASURES`] lists them; `OP` is one of `== != < <= > >=`; a window (faults
//! numbered from 1, as the report numbers them) applies to `availability.*`
//! only, the one measure kept per phase. A measure with no value in a run (no
//! request of that kind; a backlog that never drained) did not hold.
//!
//! Next: `suite.rs` checks them after each scenario; `report/` shows them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::results::{MoneyOutcome, ScenarioResults, VariantResults};

/// Every measure an expectation may name.
pub const MEASURES: &[&str] = &[
    "availability.bonus",
    "availability.delivery",
    "availability.performance",
    "bonuses.accepted",
    "bonuses.rejected",
    "bonuses.paid",
    "bonuses.lost",
    "bonuses.paid_twice",
    "bonuses.under_paid",
    "bonuses.stale",
    "bonuses.repriced",
    "bonuses.paid_though_rejected",
    "deliveries.accepted",
    "deliveries.rejected",
    "deliveries.paid",
    "deliveries.lost",
    "deliveries.paid_twice",
    "deliveries.under_paid",
    "deliveries.stale",
    "deliveries.repriced",
    "deliveries.paid_though_rejected",
    "backlog.peak",
    "backlog.drain_s",
    "bonus_to_paid_ms.p99",
    "latency_ms.bonus.p99",
    "latency_ms.delivery.p99",
];

/// How a measured value is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    const ALL: [(&'static str, Op); 6] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Eq => left == right,
            Op::Ne => left != right,
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
        }
    }
}

/// Which part of the run an availability is taken over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Whole,
    /// Phases of the fault with this index (0-based) in the timeline: 0 before,
    /// 1 during, 2 after (the order `measure::phases` writes them in).
    Fault {
        index: usize,
        phase: usize,
    },
}

/// One checked claim.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub variant: String,
    pub measure: &'static str,
    pub op: Op,
    pub value: f64,
    pub window: Window,
    /// As written, for the report.
    pub that: String,
}

/// An expectation and what the run showed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checked {
    pub variant: String,
    pub that: String,
    /// The measured value; `null` when the run has none.
    pub observed: Option<f64>,
    pub held: bool,
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.held { "held" } else { "did not hold" };
        write!(f, "{}: {} — {verdict}", self.variant, self.that)
    }
}

/// Parses `that`; `faults` is how many faults the scenario has. The error says
/// what is wrong, for `raw.rs` to place at a line.
pub fn parse(variant: &str, that: &str, faults: usize) -> Result<Expectation, String> {
    let words: Vec<&str> = that.split_whitespace().collect();
    let (measure, op, value, rest) = match words.as_slice() {
        [measure, op, value, rest @ ..] => (*measure, *op, *value, rest),
        _ => {
            return Err(format!(
                "{that:?} is not `MEASURE OP NUMBER [during fault N]`"
            ));
        }
    };
    let measure = MEASURES
        .iter()
        .copied()
        .find(|m| *m == measure)
        .ok_or_else(|| {
            format!(
                "unknown measure {measure:?}; known: {}",
                MEASURES.join(", ")
            )
        })?;
    let op = Op::ALL
        .iter()
        .find(|(text, _)| *text == op)
        .map(|(_, op)| *op)
        .ok_or_else(|| format!("unknown comparison {op:?}: use == != < <= > >="))?;
    let value: f64 = value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("{value:?} is not a number"))?;
    let window = match rest {
        [] => Window::Whole,
        [phase, "fault", n] => {
            let phase = ["before", "during", "after"]
                .iter()
                .position(|p| p == phase)
                .ok_or_else(|| format!("{phase:?}: use before, during or after"))?;
            let n: usize = n
                .parse()
                .ok()
                .filter(|n| (1..=faults).contains(n))
                .ok_or_else(|| format!("fault {n:?}: this scenario has faults 1 to {faults}"))?;
            if !measure.starts_with("availability.") {
                return Err(format!(
                    "{measure} is measured over the whole run; only availability.* has a window"
                ));
            }
            Window::Fault {
                index: n - 1,
                phase,
            }
        }
        _ => return Err(format!("{:?}: expected `during fault N`", rest.join(" "))),
    };
    Ok(Expectation {
        variant: variant.to_string(),
        measure,
        op,
        value,
        window,
        that: words.join(" "),
    })
}

impl Expectation {
    /// Checks this expectation against a scenario's results. An expectation
    /// for a variant that did not run is not checked (`None`): `--variant`
    /// chose not to run it.
    pub fn check(&self, results: &ScenarioResults) -> Option<Checked> {
        let v = results
            .variants
            .iter()
            .find(|v| v.variant == self.variant)?;
        let observed = self.read(v);
        Some(Checked {
            variant: self.variant.clone(),
            that: self.that.clone(),
            observed,
            held: observed.is_some_and(|o| self.op.holds(o, self.value)),
        })
    }

    fn read(&self, v: &VariantResults) -> Option<f64> {
        let (group, name) = self.measure.split_once('.')?;
        let count = |m: &MoneyOutcome| -> Option<f64> {
            Some(match name {
                "accepted" => m.accepted,
                "rejected" => m.rejected,
                "paid" => m.paid,
                "lost" => m.lost,
                "paid_twice" => m.paid_twice,
                "under_paid" => m.under_paid,
                "stale" => m.stale,
                "repriced" => m.repriced,
                "paid_though_rejected" => m.paid_though_rejected,
                _ => return None,
            } as f64)
        };
        match (group, name) {
            ("availability", op) => match self.window {
                Window::Whole => match op {
                    "bonus" => v.operations.bonus.availability,
                    "delivery" => v.operations.delivery.availability,
                    _ => v.operations.performance.availability,
                },
                Window::Fault { index, phase } => {
                    let phase = v.phases.get(index * 3 + phase)?;
                    match op {
                        "bonus" => phase.bonus,
                        "delivery" => phase.delivery,
                        _ => phase.performance,
                    }
                }
            },
            ("bonuses", _) => count(&v.bonuses),
            ("deliveries", _) => count(&v.deliveries),
            ("backlog", "peak") => Some(v.backlog.peak as f64),
            ("backlog", _) => v.backlog.drain_s,
            ("bonus_to_paid_ms", _) => v.bonus_to_paid_ms.p99,
            ("latency_ms", rest) => match rest {
                "bonus.p99" => v.operations.bonus.latency_ms.p99,
                _ => v.operations.delivery.latency_ms.p99,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_whole_run_and_a_windowed_claim() {
        let e = parse("async", "bonuses.lost == 0", 1).unwrap();
        assert_eq!(
            (e.measure, e.op, e.value, e.window),
            ("bonuses.lost", Op::Eq, 0.0, Window::Whole)
        );
        let e = parse("sync", "availability.bonus <  0.5 during fault 1", 1).unwrap();
        assert_eq!(e.window, Window::Fault { index: 0, phase: 1 });
        assert_eq!(e.that, "availability.bonus < 0.5 during fault 1");
    }

    #[test]
    fn refuses_what_it_cannot_check() {
        let error = |that| parse("sync", that, 1).unwrap_err();
        assert!(error("bonuses.lots == 0").contains("unknown measure"));
        assert!(error("bonuses.lost = 0").contains("unknown comparison"));
        assert!(error("bonuses.lost == none").contains("not a number"));
        assert!(error("availability.bonus > 0.9 during fault 2").contains("faults 1 to 1"));
        assert!(error("bonuses.lost == 0 during fault 1").contains("only availability"));
        assert!(error("bonuses.lost").contains("MEASURE OP NUMBER"));
    }
}
