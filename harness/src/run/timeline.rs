//! The timeline of a run: each fault switched on and off at its time, and
//! the faults a variant refused, recorded by their index. Part of `run.rs`.

use std::time::Duration;

use common::system::System;

use crate::results::NotApplicable;
use crate::schedule::{Fingerprint, Schedule};

/// The faults' on and off switches, in time order.
pub(super) struct Timeline<'a> {
    schedule: &'a Schedule,
    /// `(time, fault index, inject?)`, sorted; heals before injects at a tie.
    actions: Vec<(Duration, usize, bool)>,
    next: usize,
    active: Vec<bool>,
    /// Faults the variant refused, by their index in `schedule.faults` — which
    /// is also their index in `ScenarioResults::timeline`, since `suite.rs`
    /// builds the timeline from the same list in the same order.
    pub(super) not_applicable: Vec<NotApplicable>,
    /// Heals that failed (the variant's own error, returned by `heal`), and
    /// why, naming the fault: internal errors of the run.
    pub(super) heal_failed: u64,
    pub(super) heal_failures: Vec<String>,
}

impl<'a> Timeline<'a> {
    pub(super) fn new(schedule: &'a Schedule) -> Timeline<'a> {
        let mut actions: Vec<_> = schedule
            .faults
            .iter()
            .enumerate()
            .flat_map(|(i, f)| [(f.start, i, true), (f.end(), i, false)])
            .collect();
        actions.sort_by_key(|&(at, i, inject)| (at, inject, i));
        Timeline {
            schedule,
            actions,
            next: 0,
            active: vec![false; schedule.faults.len()],
            not_applicable: Vec::new(),
            heal_failed: 0,
            heal_failures: Vec::new(),
        }
    }

    pub(super) fn next_due(&self) -> Duration {
        self.actions.get(self.next).map_or(Duration::MAX, |a| a.0)
    }

    pub(super) fn apply_due(
        &mut self,
        system: &dyn System,
        now: Duration,
        fingerprint: &mut Fingerprint,
    ) {
        while let Some(&(at, i, inject)) = self.actions.get(self.next) {
            if at > now {
                break;
            }
            self.next += 1;
            let timed = &self.schedule.faults[i];
            if inject {
                fingerprint.add_fault(timed);
                match system.inject(&timed.fault) {
                    Ok(()) => self.active[i] = true,
                    Err(refused) => self.not_applicable.push(NotApplicable {
                        fault: i,
                        label: timed.fault.to_string(),
                        reason: refused.reason.to_string(),
                    }),
                }
            } else if self.active[i] {
                self.heal(system, i);
            }
        }
    }

    /// Ends every fault still on (the timeline ended, or Ctrl-C).
    pub(super) fn heal_all(&mut self, system: &dyn System) {
        for i in 0..self.active.len() {
            if self.active[i] {
                self.heal(system, i);
            }
        }
    }

    /// Ends fault `i`; a failure is recorded as an internal error of the run.
    fn heal(&mut self, system: &dyn System, i: usize) {
        let fault = &self.schedule.faults[i].fault;
        if let Err(error) = system.heal(fault) {
            self.heal_failed += 1;
            self.heal_failures
                .push(format!("healing fault {i} ({fault}) failed: {error}"));
        }
        self.active[i] = false;
    }
}
