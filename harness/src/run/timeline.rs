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
                system.heal(&timed.fault);
                self.active[i] = false;
            }
        }
    }

    /// Ends every fault still on (the timeline ended, or Ctrl-C).
    pub(super) fn heal_all(&mut self, system: &dyn System) {
        for (i, active) in self.active.iter_mut().enumerate() {
            if *active {
                system.heal(&self.schedule.faults[i].fault);
                *active = false;
            }
        }
    }
}
