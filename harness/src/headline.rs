//! The headline figures: the few numbers of a variant's run that repetitions
//! summarise (`repeat.rs`), that `commlab compare` sets side by side
//! (`compare.rs`), and that a sweep draws against its parameter.
//!
//! Each one is *read* from the results a single run already holds — the
//! availability `measure.rs` computed, the money classes `reconcile.rs`
//! counted, the backlog peak and drain the sampler recorded, the recovery
//! `measure.rs` found — never computed a second way, so a figure in a
//! repetition table, a comparison and a single-run report is the same figure.
//!
//! Next: `repeat.rs` (many runs of one scenario), `compare.rs` (two results).

use crate::results::{MoneyOutcome, VariantResults};

/// Which way is better for a figure: what `compare --fail-on` calls worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One headline figure: its name in results and on the command line, how a
/// report labels it, which way is better, and where it is read from.
#[derive(Clone, Copy, Debug)]
pub struct Headline {
    /// The key in `repetitions.runs[].variants[].figures`, e.g. `availability.bonus`.
    pub name: &'static str,
    /// The group `--fail-on` names it by (`availability` covers all three).
    pub group: &'static str,
    /// How a table labels it.
    pub label: &'static str,
    /// `share` (0–1, printed as a percentage), `count`, `ms` or `s`.
    pub unit: Unit,
    pub better: Better,
    pub read: fn(&VariantResults) -> Option<f64>,
}

/// How a figure prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Share,
    Count,
    Ms,
    Seconds,
}

/// Both money outcomes' counts of one class (bonuses + deliveries).
fn money(v: &VariantResults, class: fn(&MoneyOutcome) -> u64) -> Option<f64> {
    Some((class(&v.bonuses) + class(&v.deliveries)) as f64)
}

/// The slowest recovery over the faults; `None` when any operation was not
/// back after some fault, or the run had no fault to recover from.
fn recovery(v: &VariantResults) -> Option<f64> {
    if v.recovery.is_empty() {
        return None;
    }
    v.recovery
        .iter()
        .map(|r| r.all_s)
        .try_fold(0.0_f64, |slowest, s| s.map(|s| slowest.max(s)))
}

/// Every headline figure, in table order.
pub const ALL: &[Headline] = &[
    Headline {
        name: "availability.bonus",
        group: "availability",
        label: "bonus availability",
        unit: Unit::Share,
        better: Better::Higher,
        read: |v| v.operations.bonus.availability,
    },
    Headline {
        name: "availability.delivery",
        group: "availability",
        label: "delivery availability",
        unit: Unit::Share,
        better: Better::Higher,
        read: |v| v.operations.delivery.availability,
    },
    Headline {
        name: "availability.performance",
        group: "availability",
        label: "performance availability",
        unit: Unit::Share,
        better: Better::Higher,
        read: |v| v.operations.performance.availability,
    },
    Headline {
        name: "lost",
        group: "lost",
        label: "lost",
        unit: Unit::Count,
        better: Better::Lower,
        read: |v| money(v, |m| m.lost),
    },
    Headline {
        name: "paid_twice",
        group: "paid_twice",
        label: "paid twice",
        unit: Unit::Count,
        better: Better::Lower,
        read: |v| money(v, |m| m.paid_twice),
    },
    Headline {
        name: "under_paid",
        group: "under_paid",
        label: "under-paid",
        unit: Unit::Count,
        better: Better::Lower,
        read: |v| money(v, |m| m.under_paid),
    },
    Headline {
        name: "backlog.peak",
        group: "backlog",
        label: "peak backlog",
        unit: Unit::Count,
        better: Better::Lower,
        read: |v| Some(v.backlog.peak as f64),
    },
    Headline {
        name: "p99.bonus",
        group: "p99",
        label: "bonus p99 (ms)",
        unit: Unit::Ms,
        better: Better::Lower,
        read: |v| v.operations.bonus.latency_ms.p99,
    },
    Headline {
        name: "p99.delivery",
        group: "p99",
        label: "delivery p99 (ms)",
        unit: Unit::Ms,
        better: Better::Lower,
        read: |v| v.operations.delivery.latency_ms.p99,
    },
    Headline {
        name: "drain_s",
        group: "drain",
        label: "backlog drain (s)",
        unit: Unit::Seconds,
        better: Better::Lower,
        read: |v| v.backlog.drain_s,
    },
    Headline {
        name: "recovery_s",
        group: "recovery",
        label: "recovery (s)",
        unit: Unit::Seconds,
        better: Better::Lower,
        read: recovery,
    },
];

/// The headline figure called `name`.
pub fn named(name: &str) -> Option<&'static Headline> {
    ALL.iter().find(|h| h.name == name)
}

/// Every group name, for error messages.
pub fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&str> = ALL.iter().map(|h| h.group).collect();
    groups.dedup();
    groups
}
